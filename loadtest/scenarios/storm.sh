#!/usr/bin/env bash
# Scenario 3, connect storm: N clients (default 10000) connect as fast as
# the server takes them, at most 256 between TCP connect and join ok; each
# says hello (the server checks its HS256 token) and joins one lounge.
# Reports connections per second (to the last join ok), time from connect
# to hello ok and to join ok (p50/p99), and server CPU per connection, for
# icebreaker and the peer side by side.
#
#   loadtest/scenarios/storm.sh [COUNT...]
#
# Output: loadtest/out/storm-*.json and storm.md.
source "$(dirname "$0")/lib.sh"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000)
lt_build
lt_log "machine: $(lt_machine)"
files=()
for n in "${sizes[@]}"; do
  for kind in icebreaker peer; do
    lt_start "$kind"
    lt_log "storm: $kind with $n clients (pid $LT_PID, port $LT_PORT)"
    lt_gen --scenario storm --label "$kind" --conns "$n" --window 256 --timeout-s 180 \
      --json "$LT_OUT/storm-$kind-$n.json" --quiet
    files+=("$LT_OUT/storm-$kind-$n.json")
    lt_stop "$LT_PID"
  done
done
node "$(dirname "$0")/compare.mjs" storm "${files[@]}" | tee "$LT_OUT/storm.md"
