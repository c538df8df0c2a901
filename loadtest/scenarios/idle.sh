#!/usr/bin/env bash
# Scenario 1, idle: server RSS and kernel memory per connected,
# authenticated client sitting in one lounge, for icebreaker and the peer
# side by side, at each client count (default 1000 5000 10000 19000).
#
#   loadtest/scenarios/idle.sh [COUNT...]
#
# Each count gets a fresh server of each kind on core 0; the generator (core
# 1, two worker processes above 15000 clients) measures the server's VmRSS,
# /proc/meminfo Slab, /proc/net/sockstat and `ss -m` before connecting and
# 3 s after the last join, then disconnects. Bounded: every generator run
# has a 180 s timeout (LT_IDLE_TIMEOUT_S sets another, for a busy machine).
# Output: loadtest/out/idle-*.json and idle.md.
source "$(dirname "$0")/lib.sh"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 5000 10000 19000)
lt_build
lt_log "machine: $(lt_machine)"
files=()
for n in "${sizes[@]}"; do
  for kind in icebreaker peer; do
    lt_start "$kind"
    lt_log "idle: $kind with $n clients (pid $LT_PID, port $LT_PORT)"
    lt_gen --scenario idle --label "$kind" --conns "$n" --settle-ms 3000 --timeout-s "${LT_IDLE_TIMEOUT_S:-180}" \
      --json "$LT_OUT/idle-$kind-$n.json" --quiet ||
      lt_log "the generator stopped with status $? (recorded in its report)"
    files+=("$LT_OUT/idle-$kind-$n.json")
    lt_stop "$LT_PID"
  done
done
node "$(dirname "$0")/compare.mjs" idle "${files[@]}" | tee "$LT_OUT/idle.md"
