#!/usr/bin/env bash
# The main job on the embedded default: build lockstep, write the synthetic
# corpora, verify every shard against its pin, preview the first steps, and
# train the smoke config, writing its record stream.
# Output goes to out/ (override with OUT=DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
out=${OUT:-out}

cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"${LOCKSTEP_JOBS:-2}" --target lockstep
lockstep=build/release/cli/lockstep

rm -rf "$out/data"
"$lockstep" data synth --out "$out/data"
"$lockstep" data verify --manifest "$out/data/manifest.toml"
"$lockstep" data preview --manifest "$out/data/manifest.toml" --steps 1:4
"$lockstep" train --config trainer/configs/smoke.toml --record "$out/run.jsonl"
echo "record stream: $out/run.jsonl"
