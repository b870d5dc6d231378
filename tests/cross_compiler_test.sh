#!/usr/bin/env bash
# The portable profile's promise across compilers: build lockstep a second time
# with the other compiler (Clang if this build is GCC, GCC if it is Clang), run
# the smoke config with both binaries and compare every deterministic field of
# the record streams: this binary on its widest code path against the other
# binary on every path this CPU runs (LOCKSTEP_PORTABLE_ISA), so each of the
# other compiler's micro-kernels is checked. Exits 77 (ctest: skipped) when the other compiler is
# missing, and says so.
#   usage: cross_compiler_test.sh SOURCE_DIR LOCKSTEP_BINARY WORK_DIR THIS_COMPILER_ID
set -euo pipefail
src=$1 this_binary=$2 work=$3 this_compiler=$4

if [ "$this_compiler" = "GNU" ]; then other=clang++; else other=g++; fi
if ! command -v "$other" >/dev/null 2>&1; then
  echo "SKIPPED: $other is not installed, so the portable profile was not checked across"
  echo "compilers (ci/setup.sh installs clang)."
  exit 77
fi

mkdir -p "$work"
echo "building lockstep with $other in $work/build"
cmake -S "$src" -B "$work/build" -DCMAKE_CXX_COMPILER="$other" -DCMAKE_BUILD_TYPE=Release \
  -DLOCKSTEP_BENCH=OFF >"$work/configure.log" 2>&1 || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" --target lockstep -j2 >"$work/build.log" 2>&1 || { tail -50 "$work/build.log"; exit 1; }
other_binary="$work/build/cli/lockstep"

train() {  # train BINARY RECORD: 20 steps of the smoke config
  "$1" train --config "$src/trainer/configs/smoke.toml" --set train.steps=20 -q --record "$2"
}
train "$this_binary" "$work/this.jsonl"
others=()
for isa in avx512 avx2 neon scalar; do
  if ! LOCKSTEP_PORTABLE_ISA=$isa train "$other_binary" "$work/other-$isa.jsonl" 2>"$work/err"; then
    grep -q "is not a code path this build and CPU can run" "$work/err" || { cat "$work/err"; exit 1; }
    continue
  fi
  others+=("$work/other-$isa.jsonl")
done
[ ${#others[@]} -ge 1 ] || { echo "the other binary ran on no code path"; exit 1; }

for other in "${others[@]}"; do
"${LOCKSTEP_PYTHON:-/usr/bin/python3}" - "$work/this.jsonl" "$other" <<'PY'
import json, sys
fields = ["step", "loss", "grad_norm", "lr", "tokens", "batch_digest", "param_digest", "mem_peak_bytes"]
a, b = ([json.loads(l) for l in open(p)] for p in sys.argv[1:3])
print("compilers:", a[0]["env"]["compiler"], a[0]["env"]["portable_isa"], "vs",
      b[0]["env"]["compiler"], b[0]["env"]["portable_isa"])
if a[0]["env"]["compiler"] == b[0]["env"]["compiler"]:
    sys.exit("both binaries report the same compiler: the second build did not switch compilers")
if len(a) != len(b):
    sys.exit(f"record lengths differ: {len(a)} vs {len(b)}")
for x, y in zip(a[1:], b[1:]):
    for f in fields:
        if x[f] != y[f]:
            sys.exit(f"step {x['step']}: {f} differs: {x[f]} vs {y[f]}")
print(f"identical: {len(a) - 1} steps, every deterministic field, final loss {a[-1]['loss']}")
PY
done
