#!/usr/bin/env bash
# lockstep bisect steps, end to end: two "builds" that differ in one kernel
# detail (LOCKSTEP_TEST_REVERSE_BIAS_GRAD sums the bias gradient's rows in
# reverse, behind a wrapper that stands for a second binary):
#   1. the first divergent tensor is that kernel's output, h.1.fcprojb.grad[0],
#      in the first micro-batch's backward pass, and everything before it agrees
#   2. the same against a golden file instead of a record stream
#   3. side B on 2 MPI ranks (its trace split over two rank files): same answer
#   4. runs that differ only in thread count agree: exit 1, nothing to localise
#   5. traces are the same bits with 1 and 2 threads
#   6. a side whose two re-runs trace different bits is named as not
#      deterministic (a wrapper that reverses the sum on its first call only)
#   7. from a failing gate: the command `lockstep smoke` prints for the
#      diverged run names the kernel too
#   usage: bisect_steps_test.sh SOURCE_DIR LOCKSTEP_BINARY WORK_DIR
set -euo pipefail
src=$1 lockstep=$2 work=$3
config="$src/trainer/configs/smoke.toml"
rm -rf "$work" && mkdir -p "$work" && cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
printf '#!/bin/sh\nLOCKSTEP_TEST_REVERSE_BIAS_GRAD=1 exec %s "$@"\n' "$lockstep" > variant.sh
chmod +x variant.sh

"$lockstep" train --config "$config" --set train.steps=8 -q --record a.jsonl
./variant.sh train --config "$config" --set train.steps=8 -q --record b.jsonl

expect_kernel() {  # expect_kernel OUTPUT: names the reversed kernel's output first
  grep -q "first divergent step: 1 " <<< "$1" || fail "first divergent step is not 1"
  grep -q "first divergent tensor: step 1, backward (micro-batch 0): h.1.fcprojb.grad\[0\]," <<< "$1" \
    || fail "the first divergent tensor is not h.1.fcprojb.grad"
  grep -qE "the [0-9]+ tensors before it, in the order the step computes them, are bit-identical" <<< "$1" \
    || fail "no count of identical tensors"
}

# 1. record vs record
out=$("$lockstep" bisect steps a.jsonl b.jsonl --binary-b ./variant.sh --work-dir w1 --json w1.json) || { echo "$out"; fail "exit $?"; }
echo "$out"
expect_kernel "$out"
# The first re-run kept digests only; the second, the values of the shown tensors.
[ "$(stat -c %s w1/a/trace-digests/rank0.bin)" = 0 ] || fail "the digests-only trace kept values"
[ "$(wc -l < w1/a/trace-digests/rank0.jsonl)" = "$(wc -l < w1/a/trace/rank0.jsonl)" ] \
  || fail "the two traces of A list different tensors"
grep -q '"name":"h.1.fcprojb.grad\[0\]","count":64,"offset"' w1/b/trace/rank0.jsonl \
  || fail "the values trace did not keep h.1.fcprojb.grad"
if grep -q '"name":"h.0.qkv","count":[0-9]*,"offset"' w1/b/trace/rank0.jsonl; then
  fail "the values trace kept a tensor the report does not show"
fi
grep -q '"name": "h.1.fcprojb.grad\[0\]"' w1.json || { cat w1.json; fail "--json does not name the tensor"; }
grep -q '"step": 1,' w1.json || fail "--json does not give the step"
echo "1. ok"

# 2. golden vs record
cat > case.toml <<EOT
config = "$config"
steps = 8
golden = "a.golden.toml"
EOT
"$lockstep" smoke -q --update case.toml >/dev/null || fail "recording a golden"
out=$("$lockstep" bisect steps a.golden.toml b.jsonl --binary-b ./variant.sh --work-dir w2) || { echo "$out"; fail "golden: exit $?"; }
expect_kernel "$out"
echo "2. ok: from a golden file"

# 3. B on 2 ranks
if command -v mpirun >/dev/null; then
  as_root=""; [ "$(id -u)" = 0 ] && as_root="--allow-run-as-root"
  mpirun -np 2 --oversubscribe $as_root "$work/variant.sh" train --config "$config" --set train.steps=8 -q \
    --record b2.jsonl < /dev/null
  out=$("$lockstep" bisect steps a.jsonl b2.jsonl --binary-b ./variant.sh --work-dir w3) || { echo "$out"; fail "2 ranks: exit $?"; }
  expect_kernel "$out"
  [ -f w3/b/trace/rank1.jsonl ] || fail "side B's re-run did not run on 2 ranks"
  echo "3. ok: side B on 2 ranks"
fi

# 4. thread count alone changes nothing
"$lockstep" train --config "$config" --set train.steps=8 --set numerics.threads=2 -q --record a2.jsonl
set +e; out=$("$lockstep" bisect steps a.jsonl a2.jsonl 2>&1); code=$?; set -e
[ "$code" = 1 ] || { echo "$out"; fail "1 vs 2 threads exited $code, want 1"; }
grep -q "agree on all common steps" <<< "$out" || fail "no agreement message"
echo "4. ok: 1 and 2 threads agree"

# 5. the trace itself is deterministic
"$lockstep" train --config "$config" --set train.steps=2 -q --trace-step 2 --trace t1
"$lockstep" train --config "$config" --set train.steps=2 --set numerics.threads=2 -q --trace-step 2 --trace t2
cmp t1/rank0.jsonl t2/rank0.jsonl || fail "traces differ between 1 and 2 threads"
cmp t1/rank0.bin t2/rank0.bin || fail "traced values differ between 1 and 2 threads"
echo "5. ok: $(wc -l < t1/rank0.jsonl) traced tensors, same bits with 1 and 2 threads"
# 6. B reverses the sum on its first call only: its two re-runs disagree
printf '#!/bin/sh\nif [ -e %s/called ]; then exec %s "$@"; fi\ntouch %s/called\nLOCKSTEP_TEST_REVERSE_BIAS_GRAD=1 exec %s "$@"\n' \
  "$work" "$lockstep" "$work" "$lockstep" > flaky.sh
chmod +x flaky.sh
rm -f called
set +e; out=$("$lockstep" bisect steps a.jsonl b.jsonl --binary-b ./flaky.sh --work-dir w6 2>&1); code=$?; set -e
[ "$code" = 1 ] || { echo "$out"; fail "a nondeterministic side exited $code, want 1"; }
grep -q "warning: B is not deterministic: its two re-runs to step 1 traced different bits, first in backward (micro-batch 0) h.1.fcprojb.grad\[0\]" <<< "$out" \
  || { echo "$out"; fail "side B not named as nondeterministic"; }
echo "6. ok: a nondeterministic side is named"
# 7. the gate fails under the variant and says what to run
set +e; out=$(./variant.sh smoke -q case.toml 2>&1); code=$?; set -e
[ "$code" = 1 ] || { echo "$out"; fail "the variant's gate exited $code, want 1"; }
cmd=$(grep -o "Localise it: lockstep bisect steps .*" <<< "$out") || { echo "$out"; fail "no bisect steps command"; }
read -r -a args <<< "${cmd#Localise it: lockstep }"
out=$("$lockstep" "${args[@]}" --binary-b ./variant.sh --work-dir w7) || { echo "$out"; fail "the printed command: exit $?"; }
expect_kernel "$out"
rm -f "${args[3]}"
echo "7. ok: the gate's printed command names the kernel"
echo "bisect steps: all ok"
