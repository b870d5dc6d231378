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

# The same care when lockstep itself is stuck: a case regex that backtracks
# without end on the line the command printed before it started its sleep.
# The match cannot be interrupted, so the watching thread ends the group and
# lockstep; before it did, SIGTERM was never acted on.
cat > stuck.sh <<SH
echo "step 1 loss $(printf 'a%.0s' $(seq 40))"
sleep 300 &
echo \$! > ready
wait
SH
cat > stuck.toml <<TOML
command = ["sh", "$work/stuck.sh"]
parser = "regex"
regex = 'step (?<step>\d+) loss (?<loss>([^ ]+)*)!'
golden = "stuck.golden.toml"
TOML
"$lockstep" smoke --update -q --timeout 600 "$work/stuck.toml" > out-stuck.txt 2>&1 &
smoke=$!
if ! read -t 60 -r child <> ready; then cat out-stuck.txt; echo "the stuck case never started"; exit 1; fi
kill -s TERM "$smoke"
code=0
wait "$smoke" || code=$?
if [ "$code" != 143 ]; then cat out-stuck.txt; echo "stuck regex, SIGTERM: exit $code, expected 143"; exit 1; fi
grep -q "interrupted by SIGTERM" out-stuck.txt || { cat out-stuck.txt; echo "no 'interrupted by SIGTERM'"; exit 1; }
if [ -e "/proc/$child/stat" ] && [ "$(awk '{print $3}' "/proc/$child/stat")" != Z ]; then
  echo "stuck regex: the case's process $child outlived lockstep smoke"; exit 1
fi
[ ! -e stuck.golden.toml ] || { echo "stuck regex: an interrupted --update wrote a golden"; exit 1; }
echo "stuck regex, SIGTERM: exit $code, the case's processes ended, no golden written"
