#!/usr/bin/env bash
# The gate from any shell or CI system, after a dependency update or an
# upstream sync: build, run the smoke suite, keep the reports.
#   bash ci/gate.sh                 the whole suite
#   bash ci/gate.sh tiny            one case
#   OUT=reports bash ci/gate.sh     reports elsewhere (default: out/)
# Exit code: 0 pass, 1 regression, 2 bad case/golden/config, 3 crash, 124 hang.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-out}
OUT="$out" bash ci/smoke.sh --timeout "${LOCKSTEP_TIMEOUT:-120}" --retries "${LOCKSTEP_RETRIES:-1}" "$@"
code=$?
echo "lockstep gate: exit $code; reports in $out/smoke.json, $out/junit.xml and $out/report/index.html"
[ "$code" = 1 ] && echo "lockstep gate: the records of diverged runs are in $out/runs/ (lockstep bisect steps)"
exit $code
