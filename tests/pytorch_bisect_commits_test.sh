#!/usr/bin/env bash
# lockstep bisect commits on a PyTorch trainer's repository, end to end, on a
# toy repository this test creates from examples/pytorch/train.py:
#   commit 0  the trainer and its smoke case (the golden is recorded here)
#   commit 4  a syntax error: the trainer does not run (commit 5 repairs it)
#   commit 7  ln2's LayerNorm eps from 1e-5 to 1e-6: the loss changes
#   others    comment-only changes
# bisect commits --build none --case names commit 7, skips 4, and prints a
# bisect steps command over the parent's and the culprit's trees; run as
# printed, it names layers.0.ln2 as the first tensor that differs.
#   usage: pytorch_bisect_commits_test.sh SOURCE_DIR LOCKSTEP_BINARY WORK_DIR
#   (PYTHONPATH: build/<type>/python)
set -euo pipefail
src=$1 lockstep=$2 work=$3
command -v git >/dev/null || { echo "git is not installed: skipping"; exit 77; }
/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "python3-torch is not installed: skipping"; exit 77; }
rm -rf "$work" && mkdir -p "$work" && cd "$work"
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME="Ada Example" GIT_AUTHOR_EMAIL=ada@example.com
export GIT_COMMITTER_NAME="Ada Example" GIT_COMMITTER_EMAIL=ada@example.com

fail() { echo "FAIL: $*"; exit 1; }

git init -q -b main repo
cd repo
cp "$src/examples/pytorch/train.py" train.py
grep -q 'self.ln2 = nn.LayerNorm(C)$' train.py || fail "train.py no longer has the line commit 7 changes"
cat > smoke.toml <<'EOF'
description = "the toy PyTorch trainer, 3 steps"
command = ["/usr/bin/python3", "train.py", "--steps", "3", "--record", "/dev/stdout"]
parser = "jsonl"
golden = "golden.toml"
EOF
printf 'golden.toml\n__pycache__/\n' > .gitignore
git add -A && git commit -q -m "commit 0: the trainer and its case"
"$lockstep" smoke -q --update smoke.toml > /dev/null || fail "recording the golden at commit 0"
for i in $(seq 1 8); do
  case $i in
    4) printf 'def broken(:\n' >> train.py ;;
    5) sed -i '$d' train.py ;;
    7) sed -i 's/self.ln2 = nn.LayerNorm(C)$/self.ln2 = nn.LayerNorm(C, eps=1e-6)/' train.py ;;
    *) printf '# note %d\n' "$i" >> train.py ;;
  esac
  git commit -q -am "commit $i"
done
c() { git rev-parse "main~$((8 - $1))"; }
good=$(c 0) culprit=$(c 7) broken=$(c 4)
"$lockstep" smoke -q smoke.toml > /dev/null && fail "the gate passes at commit 8"

out=$("$lockstep" bisect commits --good "$good" --bad main --build none --hang-is skip \
        --case smoke.toml --cache "$work/cache" --log "$work/bisect.log" 2>&1) \
  || { echo "$out"; fail "bisect commits exits non-zero"; }
echo "$out"
grep -q "first bad commit: $culprit" <<< "$out" || fail "the culprit is not commit 7"
# Commit 4 is the midpoint of the 8: git bisect tries it first.
grep -A1 "^  ${broken:0:10} commit 4" <<< "$out" | grep -q -- "-> skip" \
  || fail "commit 4 (does not run) was not judged and skipped"
steps=$(grep -A1 "where in the step" <<< "$out" | tail -1 | sed 's/^ *//')
[[ "$steps" == "lockstep bisect steps "* ]] || fail "no bisect steps command"
[[ "$steps" == *"--case $work/repo/smoke.toml"* ]] || fail "the command does not re-run the case: $steps"
read -r -a argv <<< "${steps#lockstep }"
parent_dir=${argv[$((${#argv[@]} - 3))]} culprit_dir=${argv[$((${#argv[@]} - 1))]}
grep -q "eps=1e-6" "$culprit_dir/train.py" || fail "the culprit's tree is not kept in $culprit_dir"
grep -q "eps=1e-6" "$parent_dir/train.py" && fail "the parent's tree has the culprit's change"
[ -z "$(git worktree list | sed 1d)" ] || fail "worktrees left registered: $(git worktree list)"
[ -z "$(git status --porcelain)" ] || fail "the checkout changed: $(git status --porcelain)"

cd "$work"
steps_out=$("$lockstep" "${argv[@]}" --work-dir "$work/steps" 2>&1) || { echo "$steps_out"; fail "bisect steps, run as printed, fails"; }
echo "$steps_out"
grep -q "first divergent tensor: step 1, forward (micro-batch 0): layers.0.ln2," <<< "$steps_out" \
  || fail "bisect steps does not name layers.0.ln2"
echo "PASS"
