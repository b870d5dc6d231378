#!/usr/bin/env bash
# The repository's .clang-format, checked (default) or applied (--fix) on
# every C++ file git tracks.
#   bash ci/format.sh          exit 1 and list the files that differ
#   bash ci/format.sh --fix    format them in place
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cc' '*.h' '*.cpp')
if [ "${1:-}" = --fix ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
differ=()
for f in "${files[@]}"; do
  if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then differ+=("$f"); fi
done
if [ ${#differ[@]} -gt 0 ]; then
  echo "ci/format.sh: ${#differ[@]} file(s) differ from .clang-format; run bash ci/format.sh --fix:"
  printf '  %s\n' "${differ[@]}"
  exit 1
fi
echo "ci/format.sh: ${#files[@]} files follow .clang-format"
