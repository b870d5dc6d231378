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

# interrupt_and_check WHAT SIG SMOKE_PID CHILD_PID OUTPUT GOLDEN: sends SIG
# to smoke and checks it exits 128 + SIG saying so, with the case's process
# CHILD gone and no GOLDEN written.
interrupt_and_check() {
  local what=$1 sig=$2 smoke=$3 child=$4 out=$5 golden=$6 code=0
  kill -s "$sig" "$smoke"
  wait "$smoke" || code=$?
  local want=$((128 + $(kill -l "$sig")))
  if [ "$code" != "$want" ]; then cat "$out"; echo "$what: exit $code, expected $want"; exit 1; fi
  grep -q "interrupted by SIG$sig" "$out" || { cat "$out"; echo "$what: no 'interrupted by SIG$sig'"; exit 1; }
  # The sleep was in the case's process group: gone, or a zombie for init to reap.
  if [ -e "/proc/$child/stat" ] && [ "$(awk '{print $3}' "/proc/$child/stat")" != Z ]; then
    echo "$what: the case's process $child outlived lockstep smoke"; exit 1
  fi
  [ ! -e "$golden" ] || { echo "$what: an interrupted --update wrote a golden"; exit 1; }
  echo "$what: exit $code, the case's processes ended, no golden written"
}

for sig in TERM HUP INT; do
  # Job control off: a background job of a non-interactive shell ignores
  # SIGINT; lockstep's handler must still see it, so start it in its own way.
  ( trap - INT; exec "$lockstep" smoke --update -q --timeout 600 "$work/hang.toml" > "out-$sig.txt" 2>&1 ) &
  smoke=$!
  if ! read -t 60 -r child <> ready; then cat "out-$sig.txt"; echo "the case never started"; exit 1; fi
  interrupt_and_check "SIG$sig" "$sig" "$smoke" "$child" "out-$sig.txt" hang.golden.toml
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
interrupt_and_check "stuck regex, SIGTERM" TERM "$smoke" "$child" out-stuck.txt stuck.golden.toml
