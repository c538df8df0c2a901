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
# A second pass runs both servers with --crowd 10, so that a join's answer
# lists 10 members instead of 200: the difference is what encoding the
# member list costs per connection (a diagnostic, not the scenario).
#
# Output: loadtest/out/storm-*.json, storm.md and storm-crowd10.md.
source "$(dirname "$0")/lib.sh"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000)
lt_build
lt_log "machine: $(lt_machine)"
for pass in default crowd10; do
  files=()
  extra=()
  [ "$pass" = default ] || extra=(--crowd 10)
  for n in "${sizes[@]}"; do
    for kind in icebreaker peer; do
      lt_start "$kind" "${extra[@]}"
      lt_log "storm ($pass): $kind with $n clients (pid $LT_PID, port $LT_PORT)"
      f="$LT_OUT/storm-$kind-$n.json"
      [ "$pass" = default ] || f="$LT_OUT/storm-$pass-$kind-$n.json"
      lt_gen --scenario storm --label "$kind" --conns "$n" --window 256 --timeout-s 180 \
        --json "$f" --quiet ||
      lt_log "the generator stopped with status $? (recorded in its report)"
      files+=("$f")
      lt_stop "$LT_PID"
    done
  done
  md="$LT_OUT/storm.md"
  [ "$pass" = default ] || md="$LT_OUT/storm-$pass.md"
  lt_log "storm ($pass):"
  node "$(dirname "$0")/compare.mjs" storm "${files[@]}" | tee "$md"
done
