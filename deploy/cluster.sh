#!/usr/bin/env bash
# A local Icebreaker cluster on loopback: one redis-server, N nodes sharing
# it (--redis), and haproxy (Debian's) as the WebSocket load balancer in
# front of them, every port picked free. Stops everything it started on
# Ctrl-C or SIGTERM (by pid) and exits 0.
#
#   deploy/cluster.sh [-n NODES] [--bin PATH] [--lb-port PORT] [-- extra serve options]
#
# Tokens: with ICEBREAKER_JWT_SECRET set the nodes use it; otherwise they run
# with --dev (the public development secret and POST /dev/token: never for
# production). When ready it prints one line:
#   cluster ready on 127.0.0.1:PORT nodes N redis 127.0.0.1:PORT
# followed by one line per node: `node ID 127.0.0.1:PORT pid PID`. A node
# that dies (try `kill -9 PID`: its clients reconnect through haproxy and
# resume on a survivor) is reported and the rest keeps running; the cluster
# stops when redis-server or haproxy dies. Logs are in a temporary folder
# named on stderr (kept when IB_CLUSTER_KEEP=1).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
nodes=3
bin="${ICEBREAKER_BIN:-$repo/build/icebreaker}"
lb_port=0
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    -n|--nodes) nodes="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    --lb-port) lb_port="$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "cluster.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$nodes" in ''|*[!0-9]*) echo "cluster.sh: -n needs a number" >&2; exit 2 ;; esac
[ "$nodes" -ge 1 ] && [ "$nodes" -le 32 ] || { echo "cluster.sh: 1 to 32 nodes" >&2; exit 2; }
[ -x "$bin" ] || { echo "cluster.sh: no binary at $bin (build first, or --bin)" >&2; exit 2; }
for tool in redis-server redis-cli haproxy curl; do
  command -v "$tool" >/dev/null || { echo "cluster.sh: $tool not found (apt-get install redis-server haproxy)" >&2; exit 2; }
done

# A port nobody listens on (the nodes pick their own with --port 0).
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

work="$(mktemp -d "${TMPDIR:-/tmp}/icebreaker-cluster.XXXXXX")"
echo "cluster.sh: logs in $work" >&2
pids=()
stopping=0
cleanup() {
  [ "$stopping" = 1 ] && return
  stopping=1
  # Load balancer first, then the nodes (they drain: SIGTERM), Redis last.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    for _ in $(seq 1 150); do
      kill -0 "${pids[$i]}" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
  [ "${IB_CLUSTER_KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap 'cleanup; exit 0' INT TERM
trap cleanup EXIT

# Wait until `cmd` succeeds (deadline in tenths of a second).
wait_for() {
  local tenths="$1"; shift
  for _ in $(seq 1 "$tenths"); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

redis_port="$(free_port)"
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  --logfile "$work/redis.log" &
pids+=($!)
vital=($!)
wait_for 100 redis-cli -h 127.0.0.1 -p "$redis_port" ping ||
  { echo "cluster.sh: redis-server did not start (see $work/redis.log)" >&2; exit 1; }

auth=(--dev)
[ -n "${ICEBREAKER_JWT_SECRET:-}" ] && auth=()
servers=""
node_lines=""
for i in $(seq 1 "$nodes"); do
  id="node-$i"
  "$bin" serve --host 127.0.0.1 --port 0 --redis "redis://127.0.0.1:$redis_port/0" \
    --node-id "$id" "${auth[@]}" "${extra[@]}" >"$work/$id.out" 2>"$work/$id.err" &
  pids+=($!)
  wait_for 150 grep -q "^icebreaker ready on" "$work/$id.out" ||
    { echo "cluster.sh: $id did not start (see $work/$id.err)" >&2; exit 1; }
  port="$(sed -n 's/^icebreaker ready on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$work/$id.out")"
  servers+="    server $id 127.0.0.1:$port check"$'\n'
  node_lines+="node $id 127.0.0.1:$port pid ${pids[-1]}"$'\n'
done

[ "$lb_port" = 0 ] && lb_port="$(free_port)"
{ cat "$here/haproxy/cluster.cfg"; printf '%s' "$servers"; } >"$work/haproxy.cfg"
IB_LB_PORT="$lb_port" haproxy -c -q -f "$work/haproxy.cfg" ||
  { echo "cluster.sh: haproxy rejects $work/haproxy.cfg" >&2; exit 1; }
IB_LB_PORT="$lb_port" haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
pids+=($!)
vital+=($!)
# Ready once haproxy answers /healthz through a node.
wait_for 100 curl -sf -m 1 "http://127.0.0.1:$lb_port/healthz" ||
  { echo "cluster.sh: haproxy did not come up (see $work/haproxy.log)" >&2; exit 1; }

echo "cluster ready on 127.0.0.1:$lb_port nodes $nodes redis 127.0.0.1:$redis_port"
printf '%s' "$node_lines"
# Until Ctrl-C / SIGTERM, or until redis-server or haproxy dies; a node's
# death is reported once and the others go on.
reported=" "
while :; do
  for p in "${vital[@]}"; do
    if ! kill -0 "$p" 2>/dev/null; then
      echo "cluster.sh: process $p (redis-server or haproxy) exited; stopping the cluster" >&2
      cleanup
      exit 1
    fi
  done
  for p in "${pids[@]}"; do
    if ! kill -0 "$p" 2>/dev/null && [[ "$reported" != *" $p "* ]]; then
      echo "cluster.sh: node pid $p exited" >&2
      reported+="$p "
    fi
  done
  sleep 1 &
  wait $! || true
done
