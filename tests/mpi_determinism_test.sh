#!/usr/bin/env bash
# Data parallelism keeps the bits: the smoke config (4 micro-batches) trained
# on 1, 2 and 4 MPI ranks (oversubscribed), in both profiles, gives record
# streams identical in every deterministic field but the per-rank memory;
# so does a model whose parameters do not split evenly over 4 ranks.
#   usage: mpi_determinism_test.sh SOURCE_DIR LOCKSTEP_BINARY WORK_DIR
set -euo pipefail
src=$1 lockstep=$2 work=$3
python=${LOCKSTEP_PYTHON:-/usr/bin/python3}
rm -rf "$work" && mkdir -p "$work"
as_root=""
[ "$(id -u)" = 0 ] && as_root="--allow-run-as-root"
for profile in portable openblas; do
  for n in 1 2 4; do
    mpirun -np "$n" --oversubscribe $as_root "$lockstep" train --config "$src/trainer/configs/smoke.toml" \
      --set train.steps=12 --set numerics.profile=$profile -q --record "$work/$profile-$n.jsonl"
  done
  "$python" - "$work/$profile" <<'PY'
import json, sys
base = sys.argv[1]
runs = {n: [json.loads(l) for l in open(f"{base}-{n}.jsonl")] for n in (1, 2, 4)}
fields = ["step", "loss", "grad_norm", "lr", "tokens", "batch_digest", "param_digest"]
for n in (2, 4):
    assert runs[n][0]["env"]["world_size"] == n, "the run did not use the ranks it was given"
    assert len(runs[n]) == len(runs[1]) == 13
    for a, b in zip(runs[1][1:], runs[n][1:]):
        for f in fields:
            if a[f] != b[f]:
                sys.exit(f"{base}: {n} ranks differ from 1 at step {a['step']} in {f}: {a[f]} vs {b[f]}")
print(f"{base.rsplit('/', 1)[1]}: 1, 2 and 4 ranks bit-identical over 12 steps, final loss {runs[1][-1]['loss']}")
PY
done
# Slices of unequal length: each rank sums its slice of the gradient, and a
# width-34 model has 39610 parameters, which 4 ranks cannot split evenly.
for n in 1 4; do
  mpirun -np "$n" --oversubscribe $as_root "$lockstep" train --config "$src/trainer/configs/smoke.toml" \
    --set model.n_embd=34 --set model.n_head=2 --set train.steps=6 --set eval.every=0 -q \
    --record "$work/uneven-$n.jsonl"
done
"$python" - "$work/uneven" <<'PY'
import json, sys
base = sys.argv[1]
one, four = ([json.loads(l) for l in open(f"{base}-{n}.jsonl")] for n in (1, 4))
assert one[0]["params"] % 4 != 0, f"{one[0]['params']} parameters split evenly: not the case under test"
assert len(one) == len(four) == 7 and four[0]["env"]["world_size"] == 4
for a, b in zip(one[1:], four[1:]):
    for f in ["loss", "grad_norm", "batch_digest", "param_digest"]:
        if a[f] != b[f]:
            sys.exit(f"uneven slices: 4 ranks differ from 1 at step {a['step']} in {f}: {a[f]} vs {b[f]}")
print("uneven slices: 1 and 4 ranks bit-identical over 6 steps")
PY
# A world size that cannot keep one rank's reduction tree is refused up front.
set +e
out=$(mpirun -np 3 --oversubscribe $as_root "$lockstep" train --config "$src/trainer/configs/smoke.toml" -q 2>&1)
code=$?
set -e
[ "$code" != 0 ] || { echo "3 ranks over 4 micro-batches should be refused"; exit 1; }
grep -q "cannot be split over 3 ranks" <<< "$out" || { echo "$out"; exit 1; }
echo "3 ranks refused: $(echo "$out" | grep -m1 'cannot be split')"
