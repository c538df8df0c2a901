#!/usr/bin/env bash
# Cluster benchmark (issue 5): two nodes on one redis-server, clients on
# both; cross-node presence and chat propagation latency (p50/p99) and chats
# per second through Redis. Icebreaker (two nodes, --redis) and the peer,
# socket.io with @socket.io/redis-adapter (loadtest/peer-sio, two nodes),
# measured in the same run by the same driver (loadtest/peer-sio/bench.mjs).
#
#   loadtest/scenarios/cluster.sh            (LT_REV=<commit> to build one commit)
#
# Redis and both nodes share core $LT_SERVER_CPU (0), the driver runs on
# core $LT_GEN_CPU (1). Writes loadtest/out/cluster-{icebreaker,peer}.json
# and prints a Markdown table.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lt_log "building icebreaker"
if [ -n "$LT_REV" ]; then
  lt_build
else
  cmake -S "$LT_ROOT" -B "$LT_BIN" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$LT_BIN" -j2 --target icebreaker >/dev/null
  LT_COMMIT="work tree at $(git -C "$LT_ROOT" rev-parse --short HEAD)"
fi
SIO=$LT_ROOT/loadtest/peer-sio
if [ ! -d "$SIO/node_modules/socket.io" ]; then
  lt_log "installing the peer's packages (npm ci)"
  (cd "$SIO" && npm ci --no-audit --no-fund >/dev/null)
fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_redis: sets RPORT, adds the pid to LT_PIDS.
start_redis() {
  RPORT=$(free_port)
  taskset -c "$LT_SERVER_CPU" redis-server --port "$RPORT" --bind 127.0.0.1 --save '' \
    --appendonly no --logfile "$LT_OUT/cluster-redis.log" &
  RPID=$!
  LT_PIDS+=("$RPID")
  for _ in $(seq 1 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  lt_log "redis-server did not start"; return 1
}

# start_node KIND ID: sets NPORT.
start_node() {
  local kind=$1 id=$2 log="$LT_OUT/cluster-$1-$2.log" pid
  if [ "$kind" = icebreaker ]; then
    taskset -c "$LT_SERVER_CPU" "$LT_BIN/icebreaker" serve --host 127.0.0.1 --port 0 \
      --jwt-secret "$LT_SECRET" --redis "redis://127.0.0.1:$RPORT/0" --node-id "$id" \
      --rate 100000 --burst 100000 --abuse-refusals 1000000 >"$log" 2>&1 &
  else
    taskset -c "$LT_SERVER_CPU" node "$SIO/server.js" --port 0 \
      --redis "redis://127.0.0.1:$RPORT" --node-id "$id" >"$log" 2>&1 &
  fi
  pid=$!
  LT_PIDS+=("$pid")
  NPORT=$(lt_wait_ready "$log" "$pid")
}

run() {
  local kind=$1 a b json="$LT_OUT/cluster-$1.json"
  start_redis
  start_node "$kind" "$kind-a"; a=$NPORT
  start_node "$kind" "$kind-b"; b=$NPORT
  # Icebreaker's nodes are ready once Redis answers them (/healthz).
  if [ "$kind" = icebreaker ]; then
    for p in $a $b; do
      for _ in $(seq 1 100); do
        curl -s "http://127.0.0.1:$p/healthz" | grep -q '"redis":"ok"' && break
        sleep 0.1
      done
    done
  fi
  lt_wait_quiet
  local before after
  before=$(cut -d' ' -f1-3 /proc/loadavg)
  taskset -c "$LT_GEN_CPU" node "$SIO/bench.mjs" --kind "$kind" --a "$a" --b "$b" \
    --secret "$LT_SECRET" >"$json"
  after=$(cut -d' ' -f1-3 /proc/loadavg)
  LT_J=$json LT_C=$LT_COMMIT LT_B=$before LT_A=$after node -e '
    const fs = require("fs"), e = process.env, j = JSON.parse(fs.readFileSync(e.LT_J, "utf8"));
    j.commit = e.LT_C; j.load = { loadavg_before: e.LT_B, loadavg_after: e.LT_A };
    fs.writeFileSync(e.LT_J, JSON.stringify(j, null, 2) + "\n");'
  for pid in "${LT_PIDS[@]}"; do lt_stop "$pid"; done
  LT_PIDS=()
}

lt_log "machine: $(lt_machine)"
run icebreaker
run sio
node -e '
  const fs = require("fs"), out = process.argv[1];
  const r = (k) => JSON.parse(fs.readFileSync(`${out}/cluster-${k}.json`, "utf8"));
  const f = (x) => x.toFixed(2);
  const rows = [["icebreaker", r("icebreaker")], ["socket.io + redis-adapter", r("sio")]];
  console.log("| server | presence joined p50 / p99 ms | presence left p50 / p99 ms | chat p50 / p99 ms | chats/s through Redis | deliveries/s on B |");
  console.log("|---|---|---|---|---|---|");
  for (const [n, j] of rows)
    console.log(`| ${n} | ${f(j.presence.joined.p50)} / ${f(j.presence.joined.p99)} | ${f(j.presence.left.p50)} / ${f(j.presence.left.p99)} | ${f(j.chat.p50)} / ${f(j.chat.p99)} | ${j.throughput.numbered_per_s} | ${j.throughput.delivered_per_s_on_b} |`);
  console.log(`\nload average before/after: icebreaker ${rows[0][1].load.loadavg_before} / ${rows[0][1].load.loadavg_after}; peer ${rows[1][1].load.loadavg_before} / ${rows[1][1].load.loadavg_after}; commit ${rows[0][1].commit}`);
' "$LT_OUT"
