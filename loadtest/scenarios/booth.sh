#!/usr/bin/env bash
# Booth queue benchmark (issue 6): one booth's queue on one node (in
# memory) against the same queue shared by two nodes through Redis, same
# driver (loadtest/scenarios/booth.mjs), same run. V visitors queue (20 in
# flight), then two staff drain the queue at once (one on each node in the
# two-node run): queue and booth.next latency, visitors taken per second,
# booth.position messages delivered.
#
#   loadtest/scenarios/booth.sh            (LT_BOOTH_VISITORS=400; LT_REV=<commit>)
#
# Redis and the nodes share core $LT_SERVER_CPU (0), the driver runs on
# core $LT_GEN_CPU (1). Writes loadtest/out/booth-{one,two}.json and prints
# a Markdown table.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

V=${LT_BOOTH_VISITORS:-400}
lt_log "building icebreaker"
if [ -n "$LT_REV" ]; then
  lt_build
else
  cmake -S "$LT_ROOT" -B "$LT_BIN" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$LT_BIN" -j2 --target icebreaker >/dev/null
  LT_COMMIT="work tree at $(git -C "$LT_ROOT" rev-parse --short HEAD)"
fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_node ID [args...]: sets NPORT.
start_node() {
  local id=$1 log="$LT_OUT/booth-$1.log" pid
  shift
  taskset -c "$LT_SERVER_CPU" "$LT_BIN/icebreaker" serve --host 127.0.0.1 --port 0 \
    --jwt-secret "$LT_SECRET" --rate 100000 --burst 100000 \
    --abuse-refusals 1000000 "$@" >"$log" 2>&1 &
  pid=$!
  LT_PIDS+=("$pid")
  NPORT=$(lt_wait_ready "$log" "$pid")
}

measure() {
  local name=$1 json="$LT_OUT/booth-$1.json" before after
  shift
  lt_wait_quiet
  before=$(cut -d' ' -f1-3 /proc/loadavg)
  taskset -c "$LT_GEN_CPU" node "$LT_ROOT/loadtest/scenarios/booth.mjs" --secret "$LT_SECRET" \
    --visitors "$V" "$@" >"$json"
  after=$(cut -d' ' -f1-3 /proc/loadavg)
  LT_J=$json LT_C=$LT_COMMIT LT_B=$before LT_A=$after node -e '
    const fs = require("fs"), e = process.env, j = JSON.parse(fs.readFileSync(e.LT_J, "utf8"));
    j.commit = e.LT_C; j.load = { loadavg_before: e.LT_B, loadavg_after: e.LT_A };
    fs.writeFileSync(e.LT_J, JSON.stringify(j, null, 2) + "\n");'
  for pid in "${LT_PIDS[@]}"; do lt_stop "$pid"; done
  LT_PIDS=()
}

lt_log "machine: $(lt_machine)"
start_node one
measure one --a "$NPORT"

RPORT=$(free_port)
taskset -c "$LT_SERVER_CPU" redis-server --port "$RPORT" --bind 127.0.0.1 --save '' \
  --appendonly no --logfile "$LT_OUT/booth-redis.log" &
LT_PIDS+=("$!")
for _ in $(seq 1 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
start_node two-a --redis "redis://127.0.0.1:$RPORT/0" --node-id booth-a; A=$NPORT
start_node two-b --redis "redis://127.0.0.1:$RPORT/0" --node-id booth-b; B=$NPORT
for p in $A $B; do
  for _ in $(seq 1 100); do
    curl -s "http://127.0.0.1:$p/healthz" | grep -q '"redis":"ok"' && break
    sleep 0.1
  done
done
measure two --a "$A" --b "$B"

node -e '
  const fs = require("fs"), out = process.argv[1];
  const r = (k) => JSON.parse(fs.readFileSync(`${out}/booth-${k}.json`, "utf8"));
  const rows = [["one node (memory)", r("one")], ["two nodes (Redis)", r("two")]];
  console.log("| setup | visitors | booth.queue p50 / p99 ms | booth.next p50 / p99 ms | taken/s | taken twice | booth.position received | last position after drain ms |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const [n, j] of rows)
    console.log(`| ${n} | ${j.visitors} | ${j.queue_ms.p50} / ${j.queue_ms.p99} | ${j.next_ms.p50} / ${j.next_ms.p99} | ${j.drain_per_s} | ${j.taken_twice} | ${j.positions_received} | ${j.last_position_after_drain_ms} |`);
  console.log(`\nload average before/after: one ${rows[0][1].load.loadavg_before} / ${rows[0][1].load.loadavg_after}; two ${rows[1][1].load.loadavg_before} / ${rows[1][1].load.loadavg_after}; ${rows[0][1].commit}`);
' "$LT_OUT"
