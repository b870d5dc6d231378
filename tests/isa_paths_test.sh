#!/usr/bin/env bash
# The portable profile gives the same bits on every code path of its matrix
# product (trainer/gemm.h): the smoke config trained with each path this
# build and CPU can run forced by LOCKSTEP_PORTABLE_ISA, on 1 and 2 threads,
# gives record streams identical in every field but the timing and the OS's
# resident set (the tracked peak memory included: the packing workspace is
# sized alike for every path). A path this machine cannot run is listed as
# not checked. The header must name the path that ran.
#   usage: isa_paths_test.sh SOURCE_DIR LOCKSTEP_BINARY WORK_DIR
set -euo pipefail
src=$1 lockstep=$2 work=$3
python=${LOCKSTEP_PYTHON:-/usr/bin/python3}
rm -rf "$work" && mkdir -p "$work"

runs=()
for isa in avx512 avx2 neon scalar; do
  for threads in 1 2; do
    run="$work/$isa-t$threads.jsonl"
    if ! LOCKSTEP_PORTABLE_ISA=$isa "$lockstep" train --config "$src/trainer/configs/smoke.toml" \
        --set train.steps=3 --set eval.every=3 --set eval.tokens=256 --set eval.prompts=4 \
        --set numerics.threads=$threads -q --record "$run" 2>"$work/err"; then
      if grep -q "is not a code path this build and CPU can run" "$work/err"; then
        echo "not checked: $isa (this build or CPU cannot run it)"
        continue 2
      fi
      cat "$work/err"
      exit 1
    fi
    runs+=("$isa:$run")
  done
done

"$python" - "${runs[@]}" <<'PY'
import json, sys
ignored = {"rss_peak_bytes", "step_ms"}
def load(arg):
    isa, path = arg.split(":", 1)
    lines = [json.loads(l) for l in open(path)]
    if lines[0]["env"]["portable_isa"] != isa:
        sys.exit(f"{path}: forced {isa}, but the header says {lines[0]['env']['portable_isa']} ran")
    return path, [{k: v for k, v in r.items() if k not in ignored} for r in lines[1:]]
ref_path, reference = load(sys.argv[1])
assert len(reference) == 3 and "eval_loss" in reference[-1], "the reference run is incomplete"
isas = sorted({a.split(":")[0] for a in sys.argv[1:]})
if len(isas) < 2:
    sys.exit(f"only {isas} ran: nothing to compare (the scalar path runs everywhere)")
for arg in sys.argv[2:]:
    path, steps = load(arg)
    if len(steps) != len(reference):
        sys.exit(f"{path}: {len(steps)} steps, not {len(reference)}")
    for a, b in zip(reference, steps):
        differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        if differ:
            sys.exit(f"{path} differs from {ref_path} at step {a['step']} in {', '.join(differ)}")
print(f"{len(sys.argv) - 1} runs on {', '.join(isas)} x 1, 2 threads: bit-identical "
      f"(final loss {reference[-1]['loss_dec']})")
PY
