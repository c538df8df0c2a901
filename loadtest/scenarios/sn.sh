#!/usr/bin/env bash
# Scenario 4, round start storm: N participants (default: 1000, 2000, then
# 10000) in one lounge opt in to a speed-networking session (sn.create by a
# host, sn.join by everyone, at most 256 outstanding); the host sends
# sn.start and we time every participant's first sn.match: the time to the
# last one, and p50/p99. icebreaker only: the peer has no speed networking.
#
#   loadtest/scenarios/sn.sh [COUNT...]      (SN_STRATEGY=random|rotate|interests)
#
# Each count is bounded by 300 s; a run that does not finish in time is
# recorded as such, with how far it got. Exits 3, saying so, when the server
# refuses sn.create (speed networking not there). The server's own figure
# (its icebreaker_sn_round_start_seconds: sn.start to the last sn.match
# written) is added to the JSON and the table. LT_SERVER_CPU=0-1 lets the
# server's send threads use the generator's core too. Output:
# loadtest/out/sn-*.json and sn.md.
source "$(dirname "$0")/lib.sh"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 2000 10000)
strategy=${SN_STRATEGY:-random}
lt_build
lt_log "machine: $(lt_machine)"
files=()
rc=0
for n in "${sizes[@]}"; do
  lt_start icebreaker
  lt_log "sn: icebreaker with $n participants, strategy $strategy (pid $LT_PID, port $LT_PORT)"
  r=0
  lt_gen --scenario sn --label icebreaker --conns "$n" --sn-strategy "$strategy" \
    --sn-round-s 300 --timeout-s 300 --json "$LT_OUT/sn-icebreaker-$n.json" --quiet || r=$?
  # The server's own time for the round start, from its /metrics (one round
  # started: the histogram's sum): sn.start to the last sn.match written.
  rs=$(curl -s --max-time 5 "http://127.0.0.1:$LT_PORT/metrics" |
    sed -n 's/^icebreaker_sn_round_start_seconds_sum //p' || true)
  if [ -n "$rs" ] && [ -f "$LT_OUT/sn-icebreaker-$n.json" ]; then
    LT_J="$LT_OUT/sn-icebreaker-$n.json" LT_RS=$rs node -e '
      const fs = require("fs"), j = JSON.parse(fs.readFileSync(process.env.LT_J, "utf8"));
      if (j.sn) j.sn.server_round_start_ms = Number(process.env.LT_RS) * 1000;
      fs.writeFileSync(process.env.LT_J, JSON.stringify(j, null, 2) + "\n");'
  fi
  lt_stop "$LT_PID"
  files+=("$LT_OUT/sn-icebreaker-$n.json")
  if [ "$r" = 3 ]; then
    lt_log "the server refused sn.create: speed networking is not available"
    exit 3
  fi
  [ "$r" = 0 ] || rc=$r
done
node "$(dirname "$0")/compare.mjs" sn "${files[@]}" | tee "$LT_OUT/sn.md"
exit "$rc"
