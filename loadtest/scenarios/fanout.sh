#!/usr/bin/env bash
# Scenario 2, fan-out: one lounge of N members (default 1000 5000 10000),
# a chat message every 100 ms from 4 senders taking turns; delivery latency
# (send time written in the text -> arrival at each member, p50/p90/p99/max)
# and the server's CPU per delivered message, for icebreaker and the peer
# side by side. 2 s warm-up, a 10 s measured window, then the drain until
# every message of the window has reached every member (60 s at most).
#
#   loadtest/scenarios/fanout.sh [COUNT...]
#
# Output: loadtest/out/fanout-*.json, fanout.md, fanout.dat, and the plot
# loadtest/fanout-latency.png (when gnuplot is installed).
source "$(dirname "$0")/lib.sh"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 5000 10000)
lt_build
lt_log "machine: $(lt_machine)"
files=()
for n in "${sizes[@]}"; do
  for kind in icebreaker peer; do
    lt_start "$kind"
    lt_log "fanout: $kind with $n members (pid $LT_PID, port $LT_PORT)"
    lt_gen --scenario fanout --label "$kind" --conns "$n" --senders 4 --interval-ms 100 \
      --warmup-s 2 --measure-s 10 --timeout-s 240 --json "$LT_OUT/fanout-$kind-$n.json" --quiet ||
      lt_log "the generator stopped with status $? (recorded in its report)"
    files+=("$LT_OUT/fanout-$kind-$n.json")
    lt_stop "$LT_PID"
  done
done
node "$(dirname "$0")/compare.mjs" fanout "${files[@]}" --dat "$LT_ROOT/loadtest/fanout.dat" |
  tee "$LT_OUT/fanout.md"
if command -v gnuplot >/dev/null; then
  (cd "$LT_ROOT/loadtest" && gnuplot plot.gp) && lt_log "plot: loadtest/fanout-latency.png"
else
  lt_log "gnuplot is not installed (apt-get install gnuplot-nox): no plot"
fi
