#!/usr/bin/env bash
# Health checks on lockstep's own trainer, each triggered on purpose through
# the smoke gate (the fake-log cases, loss scale included, are in
# health_e2e_test.cc):
#   1. bf16 master weights with RMSNorm freeze the norm weights of the smoke
#      model at its own learning rate (lnfw from step 1, the others once the
#      few elements that could step down to the next bf16 value below 1.0
#      have): the frozen check names all five, with their scale and bf16 ULP;
#      fp32 master weights pass
#   2. an injected learning-rate spike (x 300 at step 25) trips the spike
#      check at the step after it, with the batch's corpus mix
#   3. learning rate 0 fails the "is it learning" margin
#   usage: health_checks_test.sh SOURCE_DIR LOCKSTEP_BINARY WORK_DIR
set -euo pipefail
src=$1 lockstep=$2 work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$work"
fail() { echo "FAIL: $*"; exit 1; }

case_file() {  # case_file NAME STEPS SET...: a smoke case of the smoke config
  local name=$1 steps=$2; shift 2
  local sets=""
  for s in "$@"; do sets+="\"$s\", "; done
  cat > "$name.toml" <<EOT
config = "$src/trainer/configs/smoke.toml"
steps = $steps
set = [${sets%, }]
golden = "$name.golden.toml"
[policy]
rss_peak_bytes = "ignore"
EOT
}
gate() {  # gate CASE: record its golden; prints the output, sets $code
  set +e
  out=$("$lockstep" smoke --update "$1.toml" --json "$1.json" 2>&1)
  code=$?
  set -e
}

# 1. frozen
case_file frozen 20 model.norm=rmsnorm numerics.master=bf16 eval.every=0
gate frozen
echo "$out"
[ "$code" = 1 ] || fail "bf16 master: exit $code, want 1"
grep -q "check frozen: FAIL" <<< "$out" || fail "the frozen check did not fail"
for t in h.0.ln1w h.0.ln2w h.1.ln1w h.1.ln2w lnfw; do
  grep -q "$t" <<< "$out" || fail "$t not named"
done
grep -q "bf16 ULP 7.8e-3" <<< "$out" || fail "no bf16 ULP at scale 1.0"
[ -f frozen.golden.toml ] || fail "--update did not record the golden"
case_file frozen-fp32 20 model.norm=rmsnorm eval.every=0
gate frozen-fp32
[ "$code" = 0 ] || { echo "$out"; fail "fp32 master: exit $code, want 0"; }
echo "1. ok: bf16 master freezes the norm weights and the check names them; fp32 passes"

# 2. spike
case_file spike 40 eval.every=0
LOCKSTEP_TEST_LR_SPIKE=25:300 gate spike
echo "$out"
[ "$code" = 1 ] || fail "lr spike: exit $code, want 1"
grep -q "check spike: FAIL" <<< "$out" || fail "the spike check did not fail"
grep -qE "step 26.*(prose|arith|code):[0-9]" <<< "$out" || fail "the spike is not reported at step 26 with its batch mix"
case_file calm 40 eval.every=0
gate calm
[ "$code" = 0 ] || { echo "$out"; fail "the same case without the spike: exit $code"; }
echo "2. ok: the injected spike is flagged"

# 3. learning
case_file still 20 train.lr=0 train.min_lr=0
gate still
echo "$out"
[ "$code" = 1 ] || fail "lr 0: exit $code, want 1"
grep -q "check learning: FAIL" <<< "$out" || fail "the learning check did not fail"
echo "3. ok: a model that does not learn fails the margin"
echo "health checks: all ok"
