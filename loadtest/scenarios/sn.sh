#!/usr/bin/env bash
# Scenario 4, round start storm: N participants (default 10000) in one
# lounge opt in to a speed-networking session (sn.create by a host, sn.join
# by everyone); the host sends sn.start and we time every participant's
# first sn.match: the time to the last one, and p50/p99. icebreaker only:
# the peer has no speed networking.
#
#   loadtest/scenarios/sn.sh [COUNT] [STRATEGY]
#
# Exits 3, saying so, when the server refuses sn.create (speed networking
# not there yet). Output: loadtest/out/sn-*.json and sn.md.
source "$(dirname "$0")/lib.sh"
n=${1:-10000}
strategy=${2:-random}
lt_build
lt_log "machine: $(lt_machine)"
lt_start icebreaker
lt_log "sn: icebreaker with $n participants, strategy $strategy (pid $LT_PID, port $LT_PORT)"
rc=0
lt_gen --scenario sn --label icebreaker --conns "$n" --sn-strategy "$strategy" --sn-round-s 300 \
  --timeout-s 300 --json "$LT_OUT/sn-icebreaker-$n.json" --quiet || rc=$?
lt_stop "$LT_PID"
if [ "$rc" = 3 ]; then
  lt_log "the server refused sn.create: speed networking is not available yet"
  exit 3
fi
node "$(dirname "$0")/compare.mjs" sn "$LT_OUT/sn-icebreaker-$n.json" | tee "$LT_OUT/sn.md"
exit "$rc"
