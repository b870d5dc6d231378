#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang + ASan + UBSan) in build/fuzz
# and runs each of them, after replaying its saved crash inputs.
#   bash ci/fuzz.sh            60 s per target
#   bash ci/fuzz.sh 1800       30 minutes per target
#   LOCKSTEP_FUZZ_ONLY="golden shard" bash ci/fuzz.sh 300    some targets only
#   LOCKSTEP_FUZZ_SKIP="log_regex_user" bash ci/fuzz.sh 10   all but these
#   LOCKSTEP_FUZZ_TIMEOUT=60 bash ci/fuzz.sh 1800   a longer per-input limit (default 10 s),
#     for long runs beside other work: libFuzzer's limit is wall time, and a
#     starved process reports a timeout on an input that takes milliseconds
# ONLY picks the targets, then SKIP leaves some of them out of fuzzing; the
# saved crash inputs of every target ONLY picks are replayed all the same.
# log_regex_user fuzzes the regex itself: a pathological user regex can take
# seconds per input in std::regex, so short CI passes leave it out.
# Each target starts from a copy of tests/fuzz/corpus/<target> (the committed
# seeds are never written) in build/fuzz/fuzz-work/<target>; crash inputs land
# in build/fuzz/fuzz-artifacts/<target>/, logs in build/fuzz/fuzz-logs/.
# Exits non-zero when a regression input or a fuzzing run crashes, times out
# (10 s per input by default) or runs out of memory; says which input and how
# to rerun it.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
jobs=${LOCKSTEP_JOBS:-1}
build=build/fuzz

# Most inputs are a few hundred bytes; the caps keep each execution cheap
# while leaving room for the largest seed of each target.
declare -A max_len=(
  [train_config]=16384 [smoke_case]=8192 [manifest]=16384 [schedule]=4096
  [shard]=4096 [golden]=16384 [step_row]=4096 [record_stream]=16384
  [log_jsonl]=16384 [log_torchtitan]=16384 [log_megatron]=16384 [log_regex]=16384
  [log_regex_user]=4096 [checkpoint]=8192 [trace]=8192
)
targets=(train_config smoke_case manifest schedule shard golden step_row record_stream
         log_jsonl log_torchtitan log_megatron log_regex log_regex_user checkpoint trace)
if [ -n "${LOCKSTEP_FUZZ_ONLY:-}" ]; then
  read -r -a targets <<<"$LOCKSTEP_FUZZ_ONLY"
fi
read -r -a skip <<<"${LOCKSTEP_FUZZ_SKIP:-}"
for t in "${targets[@]}" ${skip[@]+"${skip[@]}"}; do
  if [ -z "${max_len[$t]:-}" ]; then echo "ci/fuzz.sh: no fuzz target $t" >&2; exit 2; fi
done
# A skipped target is not fuzzed, but its saved crash inputs are still
# replayed: they take milliseconds, and a fixed bug must stay fixed.
replayed=("${targets[@]}")
if [ ${#skip[@]} -ne 0 ]; then
  kept=()
  for t in "${targets[@]}"; do
    case " ${skip[*]} " in *" $t "*) ;; *) kept+=("$t") ;; esac
  done
  targets=(${kept[@]+"${kept[@]}"})
  echo "== Leaving out (LOCKSTEP_FUZZ_SKIP): ${skip[*]}"
fi
if [ ${#targets[@]} -eq 0 ]; then echo "ci/fuzz.sh: no target left to run" >&2; exit 2; fi

echo "== Fuzz build (clang, libFuzzer + ASan + UBSan) in $build"
start=$(date +%s)
CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOCKSTEP_FUZZ=ON \
  -DLOCKSTEP_BENCH=OFF -DLOCKSTEP_SANITIZE=OFF -DLOCKSTEP_WERROR=ON >/dev/null
cmake --build "$build" -j"$jobs" --target lockstep_fuzz
echo "== built in $(( $(date +%s) - start )) s"

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

work="$build/fuzz-work" artifacts="$build/fuzz-artifacts" logs="$build/fuzz-logs"
mkdir -p "$logs"
failed=()
summaries=()

fuzz_flags() { # TARGET: the flags of every run of that target
  echo -timeout="${LOCKSTEP_FUZZ_TIMEOUT:-10}" -max_len="${max_len[$1]}" -rss_limit_mb=4096
}

# 1. Every saved crash input must now pass.
for t in "${replayed[@]}"; do
  bin="$build/tests/fuzz/${t}_fuzz"
  read -r -a flags <<<"$(fuzz_flags "$t")"
  regressions=()
  if [ -d "tests/fuzz/regressions/$t" ]; then
    while IFS= read -r -d '' f; do regressions+=("$f"); done \
      < <(find "tests/fuzz/regressions/$t" -type f ! -name '*.md' -print0 | sort -z)
  fi
  for f in "${regressions[@]}"; do
    if ! "$bin" "${flags[@]}" "$f" >"$logs/$t.regression.log" 2>&1; then
      echo "FUZZ FAILURE: $t: regression input $f crashes again"
      grep -m1 -E 'ERROR: |runtime error|PROPERTY VIOLATED|terminate called' "$logs/$t.regression.log" || true
      echo "  reproduce: $bin $f   (log: $logs/$t.regression.log)"
      failed+=("$t")
    fi
  done
done

# 2. Fuzz each target from a scratch copy of the seeds.
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/${t}_fuzz"
  read -r -a flags <<<"$(fuzz_flags "$t")"
  rm -rf "${work:?}/$t" "${artifacts:?}/$t"
  mkdir -p "$work/$t" "$artifacts/$t"
  cp -R "tests/fuzz/corpus/$t/." "$work/$t/"
  rc=0
  t0=$(date +%s)
  "$bin" "${flags[@]}" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$artifacts/$t/" "$work/$t" >"$logs/$t.log" 2>&1 || rc=$?

  elapsed=$(( $(date +%s) - t0 ))
  last=$(grep -E '^#[0-9]+' "$logs/$t.log" | tail -1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -1)
  [ -n "$execs" ] || execs=$(sed -E -n 's/^#([0-9]+).*/\1/p' <<<"$last")
  cov=$(sed -E -n 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -E -n 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  crashes=$(find "$artifacts/$t" -type f | wc -l)
  summary=$(printf '%-15s ran %4ss  execs %-10s cov %-6s ft %-7s corpus %-5s crashes %s' "$t" "$elapsed" \
    "${execs:-?}" "${cov:-?}" "${ft:-?}" "$(find "$work/$t" -type f | wc -l)" "$crashes")
  echo "$summary"
  summaries+=("$summary")
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    failed+=("$t")
    echo "FUZZ FAILURE: $t (exit $rc)"
    grep -m3 -E 'ERROR: |runtime error|PROPERTY VIOLATED|terminate called|what\(\)' "$logs/$t.log" || true
    for f in "$artifacts/$t"/*; do
      [ -e "$f" ] || continue
      echo "  input:     $f"
      echo "  reproduce: $bin $f"
      echo "  minimise:  $bin -minimize_crash=1 -runs=100000 -max_len=${max_len[$t]} $f"
      echo "  keep it:   cp $f tests/fuzz/regressions/$t/crash-<short-description>"
    done
    echo "  log:       $logs/$t.log"
  fi
done

echo "== Fuzz summary ($seconds s per target)"
printf '%s\n' "${summaries[@]}"
if [ ${#failed[@]} -ne 0 ]; then
  echo "ci/fuzz.sh: FAILED: $(printf '%s\n' "${failed[@]}" | sort -u | tr '\n' ' ')"
  exit 1
fi
echo "ci/fuzz.sh: ${#targets[@]} targets, no crash"
