#!/usr/bin/env bash
# SIGTERM and SIGHUP to `lockstep smoke` (a CI job's cancel, a closed
# terminal) get the care of Ctrl-C: the running case's process group is
# ended, no golden is written by an interrupted --update, and lockstep exits
# 128 + the signal.
#   usage: interrupt_test.sh SOURCE_DIR LOCKSTEP_BINARY WORK_DIR
set -euo pipefail
lockstep=$2
work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$work"

# The case's command starts a long sleep, tells the test its pid through a
# FIFO (the test awaits it there, no polling), then waits for it: a hang.
mkfifo ready
cat > hang.sh <<'SH'
sleep 300 &
echo $! > ready
wait
SH
cat > hang.toml <<TOML
command = ["sh", "$work/hang.sh"]
parser = "jsonl"
golden = "hang.golden.toml"
TOML

for sig in TERM HUP INT; do
  # Job control off: a background job of a non-interactive shell ignores
  # SIGINT; lockstep's handler must still see it, so start it in its own way.
  ( trap - INT; exec "$lockstep" smoke --update -q --timeout 600 "$work/hang.toml" > "out-$sig.txt" 2>&1 ) &
  smoke=$!
  if ! read -t 60 -r child <> ready; then cat "out-$sig.txt"; echo "the case never started"; exit 1; fi
  kill -s "$sig" "$smoke"
  code=0
  wait "$smoke" || code=$?
  want=$((128 + $(kill -l "$sig")))
  if [ "$code" != "$want" ]; then cat "out-$sig.txt"; echo "SIG$sig: exit $code, expected $want"; exit 1; fi
  grep -q "interrupted by SIG$sig" "out-$sig.txt" || { cat "out-$sig.txt"; echo "no 'interrupted by SIG$sig'"; exit 1; }
  # The sleep was in the case's process group: gone, or a zombie for init to reap.
  if [ -e "/proc/$child/stat" ] && [ "$(awk '{print $3}' "/proc/$child/stat")" != Z ]; then
    echo "SIG$sig: the case's process $child outlived lockstep smoke"; exit 1
  fi
  [ ! -e hang.golden.toml ] || { echo "SIG$sig: an interrupted --update wrote a golden"; exit 1; }
  echo "SIG$sig: exit $code, the case's processes ended, no golden written"
done
