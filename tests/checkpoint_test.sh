#!/usr/bin/env bash
# Checkpoint and resume keep the bits, and a broken checkpoint is refused:
#   1. 50 steps straight == 20 steps, stop, resume, 30 steps (every field)
#   2. saved on 8 ranks, resumed on 5, on 1, and on 3 with another micro-batch: the same bits
#   3. resumed with a blend change from step 30: steps 21..29 unchanged
#   4. another model config, a corrupted file, a missing rank shard, an edited
#      checkpoint.json, a bad `latest`, --checkpoint without --checkpoint-every: exit 2
#   5. SIGKILL while a checkpoint is being written: resume uses the previous one
#   usage: checkpoint_test.sh SOURCE_DIR LOCKSTEP_BINARY WORK_DIR
set -euo pipefail
src=$1 lockstep=$2 work=$3
python=${LOCKSTEP_PYTHON:-/usr/bin/python3}
config="$src/trainer/configs/smoke.toml"
as_root=""
[ "$(id -u)" = 0 ] && as_root="--allow-run-as-root"
rm -rf "$work" && mkdir -p "$work" && cd "$work"
# Test 1 keeps the held-out evaluation (its steps survive a resume); the rest
# turn it off: it changes no training bit and costs time under the sanitizers.
noeval="$work/smoke-noeval.toml"
sed 's/^every = 10 /every = 0  /' "$config" > "$noeval"
grep -q '^every = 0 ' "$noeval" || { echo "could not turn eval off in a copy of $config"; exit 1; }

same() {  # same A B FIRST LAST [fields...]: A's steps FIRST..LAST equal B's
  "$python" - "$@" <<'PY'
import json, sys
a, b, first, last = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
fields = sys.argv[5:] or ["loss", "grad_norm", "lr", "tokens", "batch_digest", "param_digest", "mem_peak_bytes"]
ra = {r["step"]: r for r in map(json.loads, open(a)) if "step" in r}
rb = {r["step"]: r for r in map(json.loads, open(b)) if "step" in r}
for s in range(first, last + 1):
    for f in fields:
        if ra[s][f] != rb[s][f]:
            sys.exit(f"{a} vs {b}: step {s} {f} differs: {ra[s][f]} vs {rb[s][f]}")
print(f"{b}: steps {first}..{last} identical to {a}")
PY
}
expect_bad() {  # expect_bad FRAGMENT command...: exit 2 and FRAGMENT in the output
  local fragment=$1; shift
  set +e; out=$("$@" 2>&1); code=$?; set -e
  [ "$code" = 2 ] || { echo "$out"; echo "expected exit 2, got $code: $*"; exit 1; }
  grep -q -- "$fragment" <<< "$out" || { echo "$out"; echo "missing: $fragment"; exit 1; }
  echo "refused as expected: $(echo "$out" | grep -m1 -- "$fragment")"
}

"$lockstep" train --config "$config" -q --record straight.jsonl

# 1. stop at 20, resume.
"$lockstep" train --config "$config" -q --checkpoint ck --checkpoint-every 10 --keep 1 --stop-at 20 --record a.jsonl
[ "$(cat ck/latest)" = step-000020 ] && [ ! -d ck/step-000010 ]  # --keep 1 pruned step 10 after 20 completed
"$lockstep" train --config "$config" -q --resume ck --record b.jsonl
config="$noeval"
same straight.jsonl a.jsonl 1 20
same straight.jsonl b.jsonl 21 50

# 2. saved on 8 ranks at step 10, resumed on 5 and on 1, and on 3 ranks with
#    one sequence per micro-batch: the AdamW state is re-sliced, the tree is
#    the same (tracked memory is per rank: not compared).
mpirun -np 8 --oversubscribe $as_root "$lockstep" train --config "$config" -q --checkpoint ck8 --checkpoint-every 10 --stop-at 10
ls ck8/step-000010/optim-r7-of-8.bin >/dev/null
mpirun -np 5 --oversubscribe $as_root "$lockstep" train --config "$config" -q --resume ck8 --record c5.jsonl
"$lockstep" train --config "$config" -q --resume ck8 --record c1.jsonl
mpirun -np 3 --oversubscribe $as_root "$lockstep" train --config "$config" -q --resume ck8 --set train.micro_batch=1 --record c3.jsonl
for resumed in c5.jsonl c1.jsonl c3.jsonl; do
  same straight.jsonl $resumed 11 50 loss grad_norm lr tokens batch_digest param_digest
done

# 3. a blend change from step 30, decided after the checkpoint.
shift_schedule='data.schedule=[{from_step = 0, weights = {prose = 0.5, arith = 0.25, code = 0.25}}, {from_step = 30, weights = {code = 1.0}}]'
"$lockstep" train --config "$config" -q --resume ck --set "$shift_schedule" --record d.jsonl
same straight.jsonl d.jsonl 21 29
if same straight.jsonl d.jsonl 30 30 batch_digest >/dev/null 2>&1; then echo "step 30 should see other data"; exit 1; fi
echo "d.jsonl: step 30 changed its batch, as the new schedule says"

# 4. broken checkpoints.
expect_bad "model.n_layer: 2 -> 3" "$lockstep" train --config "$config" -q --resume ck --set model.n_layer=3
cp -r ck8 ck8-missing && rm ck8-missing/step-000010/optim-r1-of-8.bin
expect_bad "optim-r1-of-8.bin: missing" "$lockstep" train --config "$config" -q --resume ck8-missing
cp -r ck ck-corrupt && printf 'X' | dd of=ck-corrupt/step-000020/params.bin bs=1 seek=100 conv=notrunc 2>/dev/null
expect_bad "params.bin: corrupted" "$lockstep" train --config "$config" -q --resume ck-corrupt
# checkpoint.json edited (its step), or moved under another name: refused.
cp -r ck ck-edited && sed -i 's/"step": 20,/"step": 10,/' ck-edited/step-000020/checkpoint.json
grep -q '"step": 10,' ck-edited/step-000020/checkpoint.json || { echo "could not edit the step"; exit 1; }
expect_bad "checkpoint.json: its digest does not match its contents" "$lockstep" train --config "$config" -q --resume ck-edited
cp -r ck ck-moved && mv ck-moved/step-000020 ck-moved/step-000030 && echo step-000030 > ck-moved/latest
expect_bad "says step 20 but lies in step-000030" "$lockstep" train --config "$config" -q --resume ck-moved
echo '../../etc' > ck-moved/latest
expect_bad "is not a checkpoint name" "$lockstep" train --config "$config" -q --resume ck-moved
expect_bad "requires --checkpoint-every" "$lockstep" train --config "$config" -q --checkpoint ck-x
expect_bad "checkpoint-every" "$lockstep" train --config "$config" -q --checkpoint ck-x --checkpoint-every 0

# 5. killed while writing the checkpoint of step 20: step 10's is the latest.
LOCKSTEP_TEST_CHECKPOINT_DELAY_MS=2000 "$lockstep" train --config "$config" -q --checkpoint ckk \
  --checkpoint-every 10 --record killed.jsonl &
pid=$!
for _ in $(seq 1 2400); do  # up to 2 minutes: sanitizer builds are slow
  [ -d ckk/.step-000020.partial ] && [ "$(cat ckk/latest 2>/dev/null)" = step-000010 ] && break
  sleep 0.05  # polling a directory another process writes: nothing to await
done
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
[ -d ckk/.step-000020.partial ] && [ ! -d ckk/step-000020 ] || { ls -la ckk; echo "expected a partial step 20 only"; exit 1; }
out=$("$lockstep" train --config "$config" --resume ckk --record e.jsonl)
grep -q "resuming from ckk/step-000010 at step 11" <<< "$out" || { echo "$out" | head -3; exit 1; }
same straight.jsonl e.jsonl 11 50
echo "killed mid-write: resumed from step 10, steps 11..50 identical"
