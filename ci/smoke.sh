#!/usr/bin/env bash
# The main job: build lockstep and run the smoke gate (every case in
# smoke/cases against its golden in golden/cases), writing JSON and JUnit
# reports to out/ (override with OUT=DIR), and the record of any case that
# diverged to out/runs/ (for lockstep bisect steps). Exit code: the gate's.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
out=${OUT:-out}

cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"${LOCKSTEP_JOBS:-2}" --target lockstep
mkdir -p "$out"
build/release/cli/lockstep smoke --json "$out/smoke.json" --junit "$out/junit.xml" --report "$out/report" \
  --runs "$out/runs" "$@"
