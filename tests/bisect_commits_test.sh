#!/usr/bin/env bash
# lockstep bisect commits, end to end, on a toy project this test creates:
# 30 commits of a tiny C "trainer"; commit 11 does not build (12 repairs it),
# commit 19 changes the learning rate, which changes the loss.
#   1. bisect names commit 19, skips 11, in at most 7 oracle runs; the gate's
#      verdicts at the culprit and its parent are shown; the log replays
#   2. a second bisect takes every build from the cache (keyed by tree)
#   3. the -- CMD oracle finds the same commit
#   4. a range without a bad commit, and a good end that already fails: exit 1
#   5. bad revisions and a reversed range: exit 2
#   6. Ctrl-C mid-bisect: exit 130, and the user's checkout (status, branch,
#      stash, worktrees) is exactly as it was
#   7. a case of lockstep's own trainer: 4 commits whose build writes a
#      wrapper around lockstep, the third adding a test switch that reverses
#      one reduction; the bisection names it and prints the bisect steps
#      command (both builds from the cache), which names that kernel's tensor
#   usage: bisect_commits_test.sh SOURCE_DIR LOCKSTEP_BINARY WORK_DIR
set -euo pipefail
src=$1 lockstep=$2 work=$3
command -v git >/dev/null || { echo "git is not installed: skipping"; exit 77; }
command -v cc >/dev/null || { echo "no C compiler (cc): skipping"; exit 77; }
rm -rf "$work" && mkdir -p "$work" && cd "$work"
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME="Ada Example" GIT_AUTHOR_EMAIL=ada@example.com
export GIT_COMMITTER_NAME="Ada Example" GIT_COMMITTER_EMAIL=ada@example.com

fail() { echo "FAIL: $*"; exit 1; }

# --- the toy project --------------------------------------------------------
git init -q -b main repo
cd repo
write_trainer() {  # write_trainer LR [broken]
  cat > train.c <<EOF
#include <stdio.h>
#define LR $1
int main(void) {
  double w = 1.0;
  for (int step = 1; step <= 5; ++step) {
    printf("{\"step\": %d, \"loss\": %.17g}\n", step, w * w);
    w -= LR * 2.0 * w;
  }
  return 0${2:-;}
}
EOF
}
cat > build.sh <<'EOF'
#!/bin/sh
cc -O0 -o train train.c
EOF
printf 'train\n' > .gitignore
for i in $(seq 1 30); do
  lr=0.1
  [ "$i" -ge 19 ] && lr=0.125
  if [ "$i" = 11 ]; then write_trainer "$lr" "  /* missing semicolon */"; else write_trainer "$lr"; fi
  echo "change $i" >> NOTES
  git add -A && git commit -q -m "commit $i"
done
c() { git -C "$work/repo" rev-parse "main~$((30 - $1))"; }  # the hash of commit N
good=$(c 1) culprit=$(c 19) unbuildable=$(c 11)

# The user's state that must survive: a branch, a stash, uncommitted work.
git checkout -q -b feature
echo "stashed" >> NOTES && git stash -q
echo "work in progress" >> NOTES && echo "new file" > untracked.txt
snapshot() {
  { git status --porcelain; git rev-parse --abbrev-ref HEAD; git stash list; git worktree list --porcelain | grep -c '^worktree';
    git for-each-ref --format='%(refname)'; } 
}
before=$(snapshot)
cd ..

# --- the case and its golden, recorded from the good commit -----------------
mkdir cases
cat > cases/toy.toml <<'EOF'
description = "the toy trainer's loss"
command = ["./train"]
parser = "jsonl"
steps = 5
golden = "toy.golden.toml"
EOF
git -C repo show "$good:train.c" > cases/train.c && cc -O0 -o cases/train cases/train.c
"$lockstep" smoke -q --update cases/toy.toml >/dev/null || fail "recording the golden"
rm cases/train cases/train.c

# --- 1. the culprit ---------------------------------------------------------
set +e
out=$("$lockstep" bisect commits --repo repo --good "$good" --bad "$(c 30)" --build "sh build.sh" \
      --artifact train --case cases/toy.toml --cache "$work/cache" --log "$work/bisect.log" 2>&1)
code=$?
set -e
echo "$out"
[ "$code" = 0 ] || fail "bisect commits exited $code"
grep -q "first bad commit: $culprit" <<< "$out" || fail "the culprit is not commit 19"
grep -q "commit 19" <<< "$out" || fail "no subject"
grep -q "author Ada Example <ada@example.com>" <<< "$out" || fail "no author"
grep -q "M	train.c" <<< "$out" || fail "no files changed"
echo "$out" | grep -E "^  parent +[0-9a-f]{10} +good: pass" || fail "no gate verdict at the parent"
echo "$out" | grep -E "^  culprit +[0-9a-f]{10} +bad: regression" || fail "no gate verdict at the culprit"
runs=$(echo "$out" | sed -n 's/.* \([0-9]*\) oracle runs$/\1/p')
[ -n "$runs" ] && [ "$runs" -le 7 ] || fail "took '$runs' oracle runs, want at most 7"
grep -q "# first bad commit: \[$culprit\]" "$work/bisect.log" || fail "the saved log does not name the culprit"
echo "1. ok: commit 19 in $runs oracle runs"

# Git's midpoints over the whole range never land on commit 11; over commits
# 1..21 the first one does: the unbuildable commit is skipped, and the answer
# is the same.
out=$("$lockstep" bisect commits --repo repo --good "$good" --bad "$(c 21)" --build "sh build.sh" \
      --artifact train --case cases/toy.toml --cache "$work/cache" --log "$work/bisect-skip.log" 2>&1) \
  || { echo "$out"; fail "bisect over 1..21"; }
grep -q "first bad commit: $culprit" <<< "$out" || { echo "$out"; fail "1..21: the culprit is not commit 19"; }
grep -q "git bisect skip $unbuildable" "$work/bisect-skip.log" || { echo "$out"; fail "commit 11 was not skipped"; }
at_11=$(grep -A2 "${unbuildable:0:10} commit 11" <<< "$out")
grep -q "build failed" <<< "$at_11" || { echo "$out"; fail "no build failure shown for commit 11"; }
runs=$(echo "$out" | sed -n 's/.* \([0-9]*\) oracle runs$/\1/p')
[ -n "$runs" ] && [ "$runs" -le 7 ] || fail "1..21 took '$runs' oracle runs, want at most 7"
echo "1b. ok: commit 11 skipped, commit 19 found in $runs oracle runs"

# The saved log replays to the same answer in a scratch clone.
git clone -q repo replay && git -C replay bisect start >/dev/null 2>&1
replayed=$(git -C replay bisect replay "$work/bisect.log")
grep -q "$culprit is the first bad commit" <<< "$replayed" || fail "the saved log does not replay"
rm -rf replay

# --- 2. the cache -----------------------------------------------------------
out=$("$lockstep" bisect commits --repo repo --good "$good" --bad "$(c 30)" --build "sh build.sh" \
      --artifact train --case cases/toy.toml --cache "$work/cache" --log "$work/bisect2.log" 2>&1) \
  || fail "second bisect: $out"
grep -q "first bad commit: $culprit" <<< "$out" || fail "second bisect: wrong culprit"
grep -qE " 0 built, [0-9]+ from the cache" <<< "$out" || { echo "$out"; fail "the second bisect rebuilt"; }
echo "2. ok: $(echo "$out" | grep 'commits judged')"

# --- 3. any command as the oracle -------------------------------------------
out=$("$lockstep" bisect commits --repo repo --good "$good" --bad "$(c 30)" --build "sh build.sh" \
      --artifact train --cache "$work/cache" -- sh -c './train | grep -q "\"step\": 2, \"loss\": 0.64000000000000012"' 2>&1) \
  || { echo "$out"; fail "command oracle"; }
grep -q "first bad commit: $culprit" <<< "$out" || { echo "$out"; fail "command oracle: wrong culprit"; }
echo "3. ok: the command oracle agrees"

# --- 4. no culprit in the range --------------------------------------------
set +e
out=$("$lockstep" bisect commits --repo repo --good "$good" --bad "$(c 18)" --build "sh build.sh" \
      --artifact train --case cases/toy.toml --cache "$work/cache" 2>&1)
code=$?
set -e
[ "$code" = 1 ] || { echo "$out"; fail "a good range exited $code, want 1"; }
grep -q "no bad commit in" <<< "$out" || { echo "$out"; fail "no 'no bad commit' message"; }
set +e
out=$("$lockstep" bisect commits --repo repo --good "$(c 20)" --bad "$(c 25)" --build "sh build.sh" \
      --artifact train --case cases/toy.toml --cache "$work/cache" 2>&1)
code=$?
set -e
[ "$code" = 1 ] || { echo "$out"; fail "an already-bad good end exited $code, want 1"; }
grep -q "already fails the gate" <<< "$out" || { echo "$out"; fail "no 'already fails' message"; }
echo "4. ok: no culprit -> exit 1, saying which end"

# --- 5. bad input -----------------------------------------------------------
expect_2() {
  local fragment=$1; shift
  set +e; out=$("$@" 2>&1); code=$?; set -e
  [ "$code" = 2 ] || { echo "$out"; fail "expected exit 2, got $code: $*"; }
  grep -q -- "$fragment" <<< "$out" || { echo "$out"; fail "missing: $fragment"; }
}
expect_2 "--good nosuchrev: not a commit" "$lockstep" bisect commits --repo repo --good nosuchrev --bad main --case cases/toy.toml
expect_2 "is not an ancestor of --bad" "$lockstep" bisect commits --repo repo --good "$(c 30)" --bad "$good" --case cases/toy.toml
expect_2 "give the oracle" "$lockstep" bisect commits --repo repo --good "$good" --bad "$(c 30)"
# An oracle that does not exist is a mistake in the command line, not a
# commit to skip (every commit was skipped before).
expect_2 "the oracle \`./no-such-oracle\` cannot be run at" "$lockstep" bisect commits --repo repo \
  --good "$good" --bad "$(c 30)" --build "sh build.sh" --artifact train --cache "$work/cache" -- ./no-such-oracle
expect_2 "exit 127 (the shell could not run it)" "$lockstep" bisect commits --repo repo \
  --good "$good" --bad "$(c 30)" --build "sh build.sh" --artifact train --cache "$work/cache" -- sh -c ./no-such-oracle
echo "5. ok: bad revisions and a reversed range -> exit 2"

# --- 6. Ctrl-C in the middle ------------------------------------------------
mkfifo "$work/started"
cat > "$work/slow-build.sh" <<EOF
#!/bin/sh
echo started > "$work/started"
exec sleep 600
EOF
"$lockstep" bisect commits --repo repo --good "$good" --bad "$(c 30)" --build "sh $work/slow-build.sh" \
  --artifact train --case cases/toy.toml --cache "$work/cache-slow" > "$work/interrupted.out" 2>&1 &
pid=$!
read -r _ < "$work/started"  # blocks until a build is running inside the bisection
kill -INT "$pid"
set +e; wait "$pid"; code=$?; set -e
cat "$work/interrupted.out"
[ "$code" = 130 ] || fail "interrupted bisect exited $code, want 130"
after=$(cd repo && snapshot)
[ "$before" = "$after" ] || { diff <(echo "$before") <(echo "$after"); fail "the user's repository changed"; }
pgrep -f "$work/slow-build.sh" >/dev/null && { ps -ef | grep -v grep | grep slow-build; fail "the build is still running"; }
echo "6. ok: Ctrl-C leaves the repository as it was"

# --- 7. from the culprit to its first tensor ---------------------------------
git init -q -b main repo2
cat > repo2/build.sh <<EOF
#!/bin/sh
# "builds" lockstep: a wrapper with this commit's environment
mkdir -p bin
printf '#!/bin/sh\\n%sexec %s "\$@"\\n' "\$(cat env.txt)" "$lockstep" > bin/lockstep
chmod +x bin/lockstep
EOF
printf 'bin\n' > repo2/.gitignore
: > repo2/env.txt
for i in 1 2 3 4; do
  [ "$i" = 3 ] && printf 'LOCKSTEP_TEST_REVERSE_BIAS_GRAD=1 ' > repo2/env.txt
  echo "change $i" >> repo2/NOTES
  git -C repo2 add -A && git -C repo2 commit -q -m "lockstep commit $i"
done
cat > cases/tiny.toml <<EOF
config = "$src/trainer/configs/smoke.toml"
set = ["eval.every=0"]
steps = 3
golden = "tiny.golden.toml"
EOF
"$lockstep" smoke -q --update cases/tiny.toml >/dev/null || fail "recording the lockstep golden"
set +e
out=$("$lockstep" bisect commits --repo repo2 --good main~3 --bad main --build "sh build.sh" \
      --artifact bin/lockstep --trainer bin/lockstep --case cases/tiny.toml --cache "$work/cache2" \
      --log "$work/bisect-lockstep.log" 2>&1)
code=$?
set -e
echo "$out"
[ "$code" = 0 ] || fail "bisect commits on lockstep commits exited $code"
grep -q "first bad commit: $(git -C repo2 rev-parse main~1)" <<< "$out" || fail "the culprit is not commit 3"
cmd=$(grep -A1 "where in the math" <<< "$out" | tail -1) || fail "no bisect steps command"
read -r -a args <<< "${cmd#  lockstep }"
[ -f "${args[3]}" ] || fail "the culprit's record ${args[3]} was not kept"
out=$("$lockstep" "${args[@]}" --work-dir "$work/steps") || { echo "$out"; fail "the printed command: exit $?"; }
echo "$out" | tail -4
grep -q "first divergent tensor: step 1, backward (micro-batch 0): h.1.fcprojb.grad\[0\]," <<< "$out" \
  || { echo "$out"; fail "the printed command does not name h.1.fcprojb.grad"; }
echo "7. ok: the culprit's printed bisect steps command names the kernel's tensor"
echo "bisect commits: all ok"
