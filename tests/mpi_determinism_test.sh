#!/usr/bin/env bash
# Any layout keeps the bits: the smoke config trained with the global batch
# cut over any number of MPI ranks (oversubscribed) and into micro-batches of
# any size, with 1 or 3 threads, in both profiles, gives record streams
# identical in every field but the per-rank memory and the timing:
#   global_batch 12 on 1, 2, 3, 4, 5, 6 and 8 ranks, micro_batch 1, 2, 3, 4
#   global_batch 8 on 1..8 ranks
# plus a model whose parameters do not split evenly over the ranks, a single
# process with 3 micro-batches (global_batch 6, micro_batch 2), and the one
# refusal left: more ranks than sequences in the batch.
# `quick` (the sanitizer build, where a run takes 5 times longer): the
# portable profile only, and fewer layouts of each batch.
#   usage: mpi_determinism_test.sh SOURCE_DIR LOCKSTEP_BINARY WORK_DIR [quick]
set -euo pipefail
src=$1 lockstep=$2 work=$3 mode=${4:-full}
profiles="portable openblas" ranks12="1 2 3 4 5 6 8" micro12="1 2 3 4" ranks8="1 2 3 4 5 6 7 8"
if [ "$mode" = quick ]; then
  profiles="portable" ranks12="1 3 5 8" micro12="1 3" ranks8="1 3 7"
fi
python=${LOCKSTEP_PYTHON:-/usr/bin/python3}
rm -rf "$work" && mkdir -p "$work"
as_root=""
[ "$(id -u)" = 0 ] && as_root="--allow-run-as-root"
config="$src/trainer/configs/smoke.toml"

train() {  # train RANKS RECORD [--set ...]
  local ranks=$1 record=$2; shift 2
  mpirun -np "$ranks" --oversubscribe $as_root "$lockstep" train --config "$config" \
    --set train.steps=3 --set eval.every=3 --set eval.tokens=256 --set eval.prompts=4 -q \
    --record "$record" "$@"
}

same_as() {  # same_as REFERENCE RECORD...: every record equals the reference
  "$python" - "$@" <<'PY'
import json, re, sys
ignored = {"mem_peak_bytes", "rss_peak_bytes", "step_ms"}
def load(path):
    lines = [json.loads(l) for l in open(path)]
    return lines[0], [{k: v for k, v in r.items() if k not in ignored} for r in lines[1:]]
_, reference = load(sys.argv[1])
assert len(reference) == 3 and "eval_loss" in reference[-1], "the reference run is incomplete"
for path in sys.argv[2:]:
    header, steps = load(path)
    ranks = int(re.search(r"-n(\d+)", path).group(1))
    if header["env"]["world_size"] != ranks:
        sys.exit(f"{path}: ran on {header['env']['world_size']} ranks, not {ranks}")
    for a, b in zip(reference, steps):
        differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        if differ:
            sys.exit(f"{path} differs from {sys.argv[1]} at step {a['step']} in {', '.join(differ)}")
    if len(steps) != len(reference):
        sys.exit(f"{path}: {len(steps)} steps, not {len(reference)}")
print(f"{len(sys.argv) - 2} layouts bit-identical to {sys.argv[1].rsplit('/', 1)[1]} "
      f"(final loss {reference[-1]['loss_dec']})")
PY
}

for profile in $profiles; do
  runs=()
  for n in $ranks12; do
    for mb in $micro12; do
      threads=1
      [ $(( (n + mb) % 3 )) = 0 ] && threads=3
      run="$work/$profile-b12-n$n-mb$mb-t$threads.jsonl"
      train "$n" "$run" --set numerics.profile=$profile --set train.global_batch=12 \
        --set train.micro_batch=$mb --set numerics.threads=$threads
      runs+=("$run")
    done
  done
  same_as "${runs[@]}"
  runs=()
  for n in $ranks8; do
    run="$work/$profile-b8-n$n-mb2.jsonl"
    train "$n" "$run" --set numerics.profile=$profile
    runs+=("$run")
  done
  same_as "${runs[@]}"
done

# One process, 3 micro-batches of 2: the config the old power-of-two rule refused.
train 1 "$work/b6-n1-mb2.jsonl" --set train.global_batch=6 --set train.micro_batch=2
train 3 "$work/b6-n3-mb1.jsonl" --set train.global_batch=6 --set train.micro_batch=1
same_as "$work/b6-n1-mb2.jsonl" "$work/b6-n3-mb1.jsonl"

# Slices of unequal length: each rank sums its slice of the gradient, and a
# width-34 model has 39610 parameters, which 3 ranks cannot split evenly.
for n in 1 3; do
  train "$n" "$work/uneven-n$n.jsonl" --set model.n_embd=34 --set model.n_head=2
done
"$python" -c "import json, sys; p = json.loads(open(sys.argv[1]).readline())['params']; \
  sys.exit(0 if p % 3 else f'{p} parameters split evenly: not the case under test')" "$work/uneven-n1.jsonl"
same_as "$work/uneven-n1.jsonl" "$work/uneven-n3.jsonl"

# More ranks than sequences: no layout exists; refused up front, naming the limit.
set +e
out=$(mpirun -np 9 --oversubscribe $as_root "$lockstep" train --config "$config" -q 2>&1)
code=$?
set -e
[ "$code" = 2 ] || { echo "$out"; echo "9 ranks over 8 sequences: expected exit 2, got $code"; exit 1; }
grep -q "9 ranks for train.global_batch = 8 sequences" <<< "$out" || { echo "$out"; exit 1; }
grep -q "Run on at most 8 ranks" <<< "$out" || { echo "$out"; exit 1; }
echo "9 ranks refused: $(echo "$out" | grep -m1 'ranks for train.global_batch')"
