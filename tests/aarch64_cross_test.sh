#!/usr/bin/env bash
# The portable profile's promise on AArch64: lockstep cross-built for aarch64
# (cmake/aarch64-linux-gnu.cmake: NEON micro-kernel, no MPI, no tests) and run
# under qemu-aarch64 replays the shipped golden `tiny`, bit for bit in every
# field but the OS's resident set, through the gate itself: a smoke case whose
# command is the emulated trainer writing its record stream. (blend-shift
# passes too: `bash tests/aarch64_cross_test.sh SRC LOCKSTEP WORK all`; one
# case keeps CI within its budget, 2 minutes under emulation.) Exits 77 (ctest: skipped), naming what is missing, when the cross
# toolchain, qemu or the arm64 libraries are not installed (ci/setup.sh
# installs them).
#   usage: aarch64_cross_test.sh SOURCE_DIR LOCKSTEP_BINARY WORK_DIR [all]
set -euo pipefail
src=$1 lockstep=$2 work=$3
cases="tiny"
[ "${4:-}" = all ] && cases="tiny blend-shift"
sysroot=/usr/aarch64-linux-gnu
missing=()
command -v aarch64-linux-gnu-g++ >/dev/null || missing+=("aarch64-linux-gnu-g++ (crossbuild-essential-arm64)")
command -v qemu-aarch64 >/dev/null || missing+=("qemu-aarch64 (qemu-user)")
for lib in openblas-pthread/libopenblas.so libxxhash.so libfmt.so; do
  [ -e "/usr/lib/aarch64-linux-gnu/$lib" ] || missing+=("/usr/lib/aarch64-linux-gnu/$lib (the arm64 -dev packages)")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "SKIPPED: the AArch64 cross build was not checked; missing:"
  printf '  %s\n' "${missing[@]}"
  echo "ci/setup.sh installs them."
  exit 77
fi

mkdir -p "$work/cases"
echo "cross-building lockstep for aarch64 in $work/build"
cmake -S "$src" -B "$work/build" -DCMAKE_TOOLCHAIN_FILE="$src/cmake/aarch64-linux-gnu.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DLOCKSTEP_TESTS=OFF -DLOCKSTEP_MPI=OFF -DLOCKSTEP_BENCH=OFF \
  -DLOCKSTEP_PYTHON=OFF >"$work/configure.log" 2>&1 || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" --target lockstep -j2 >"$work/build.log" 2>&1 ||
  { tail -50 "$work/build.log"; exit 1; }
binary="$work/build/cli/lockstep"
file "$binary" | grep -q "ARM aarch64" || { file "$binary"; echo "not an aarch64 binary"; exit 1; }

# Debian's arm64 OpenBLAS spins at load time under qemu 7.2 unless
# single-threaded (the portable profile does not call it anyway).
for case in $cases; do
  config=$(sed -n 's/^config = "\(.*\)"/\1/p' "$src/smoke/cases/$case.toml")
  cat >"$work/cases/$case.toml" <<TOML
description = "$case, cross-built for aarch64, run under qemu-aarch64"
command = ["env", "OPENBLAS_NUM_THREADS=1", "qemu-aarch64", "-L", "$sysroot", "$binary", "train",
           "--config", "$src/smoke/cases/$config", "--record", "/dev/stdout", "-q"]
parser = "jsonl"
steps = 50
golden = "$src/golden/cases/$case.toml"
[policy]
rss_peak_bytes = "ignore"   # qemu's own memory is in the emulated process's RSS
TOML
done
"$lockstep" smoke -q --timeout 600 --cases "$work/cases" $cases
env OPENBLAS_NUM_THREADS=1 qemu-aarch64 -L "$sysroot" "$binary" env | grep "portable_isa *neon" ||
  { echo "the emulated lockstep did not run the NEON path"; exit 1; }
