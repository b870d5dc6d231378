#!/usr/bin/env bash
# lockstep against an independent implementation: the same model in PyTorch
# (bench/torch_reference.py), from the same initial weights and batches, must
# give the same loss for the first 10 steps within 1e-3 relative. Exits 77
# (ctest: skipped) when Debian's python3-torch is missing, and says so.
#   usage: torch_reference_test.sh SOURCE_DIR LOCKSTEP_BINARY WORK_DIR
set -euo pipefail
src=$1 lockstep=$2 work=$3
python=${LOCKSTEP_PYTHON:-/usr/bin/python3}

if ! "$python" -c "import torch" >/dev/null 2>&1; then
  echo "SKIPPED: $python cannot import torch, so lockstep was not checked against PyTorch"
  echo "(ci/setup.sh installs Debian's python3-torch)."
  exit 77
fi

rm -rf "$work" && mkdir -p "$work"
for norm in layernorm rmsnorm; do
  "$lockstep" train --config "$src/trainer/configs/smoke.toml" --set train.steps=10 \
    --set model.norm=$norm -q --export "$work/$norm" --record "$work/$norm/run.jsonl"
  "$python" "$src/bench/torch_reference.py" check --export "$work/$norm" --steps 10 >"$work/$norm/torch.json"
  "$python" - "$work/$norm/run.jsonl" "$work/$norm/torch.json" "$norm" <<'PY'
import json, sys
ours = [json.loads(l)["loss_dec"] for l in open(sys.argv[1]).readlines()[1:]]
ref = json.load(open(sys.argv[2]))
theirs = ref["losses"]
assert len(ours) == len(theirs) == 10, (len(ours), len(theirs))
worst = 0.0
for step, (a, b) in enumerate(zip(ours, theirs), 1):
    rel = abs(a - b) / abs(b)
    worst = max(worst, rel)
    print(f"{sys.argv[3]} step {step:2d}  lockstep {a:.7f}  torch {b:.7f}  rel {rel:.1e}")
    if rel > 1e-3:
        sys.exit(f"step {step}: relative difference {rel:.3e} exceeds 1e-3")
print(f"{sys.argv[3]}: 10 steps agree with PyTorch {ref['torch']}, worst relative difference {worst:.1e}")
PY
done
