#!/usr/bin/env bash
# The server's user-space cost of a connection (connect, hello with the JWT
# check, join of one lounge) in instructions, counted by callgrind: unlike
# CPU seconds it does not move when other work shares the machine, so it
# compares commits on a busy machine. The kernel's part (TCP on loopback) is
# not counted. icebreaker only (the peer runs in V8).
#
#   LT_REVS="<commit> <commit>..." loadtest/scenarios/joincost.sh [COUNT]
#
# COUNT clients (default 1000) join one lounge, at most 64 in flight, with
# the default crowd of 200, so most joins answer with a 200-member page.
# For each commit: callgrind's total instructions over the server's whole
# life, divided by COUNT, next to the same server started and stopped with
# no client (the baseline, subtracted). Output: loadtest/out/joincost.md.
source "$(dirname "$0")/lib.sh"
n=${1:-1000}
revs=${LT_REVS:-HEAD}
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }
md="$LT_OUT/joincost.md"
{
  echo "| commit | clients | instructions, whole run | idle start+stop | per connection (hello + join) |"
  echo "|---|---|---|---|---|"
} >"$md.tmp"

# cg_run OUT CLIENTS: one server under callgrind, CLIENTS joining, stopped.
cg_run() {
  local out=$1 clients=$2 log="$LT_OUT/joincost-server.log" i port=
  : >"$log"
  taskset -c "$LT_SERVER_CPU" valgrind --tool=callgrind --callgrind-out-file="$out" \
    "$LT_BIN/icebreaker" serve --host 127.0.0.1 --port 0 --jwt-secret "$LT_SECRET" >"$log" 2>&1 &
  LT_PID=$!
  LT_PIDS+=("$LT_PID")
  for i in $(seq 1 600); do
    port=$(sed -n 's/.* ready on [0-9.]*:\([0-9]*\) .*/\1/p' "$log" | head -1)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$log" >&2; return 1; }
  LT_PORT=$port
  if [ "$clients" -gt 0 ]; then
    taskset -c "$LT_GEN_CPU" "$LT_BIN/ib_loadgen" --host 127.0.0.1 --port "$LT_PORT" \
      --secret "$LT_SECRET" --scenario storm --label icebreaker --conns "$clients" --window 64 \
      --timeout-s 600 --quiet >"$out.gen.txt" 2>&1 || lt_log "generator status $? (see $out.gen.txt)"
  fi
  kill -TERM "$LT_PID"
  # callgrind writes its file at exit; a drain with clients still connected
  # takes up to --drain-ms
  for i in $(seq 1 600); do
    kill -0 "$LT_PID" 2>/dev/null || break
    sleep 0.1
  done
  lt_stop "$LT_PID"
}

total_ir() { sed -n 's/^summary: \([0-9]*\).*/\1/p;s/^totals: \([0-9]*\).*/\1/p' "$1" | head -1; }

for rev in $revs; do
  LT_REV=$rev
  lt_build
  sha=$(git -C "$LT_ROOT" rev-parse --short "$rev")
  lt_log "joincost: commit $sha, $n clients (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  cg_run "$LT_OUT/joincost-$sha-0.cg" 0
  cg_run "$LT_OUT/joincost-$sha-$n.cg" "$n"
  base=$(total_ir "$LT_OUT/joincost-$sha-0.cg")
  all=$(total_ir "$LT_OUT/joincost-$sha-$n.cg")
  per=$(((all - base) / n))
  lt_log "joincost: $sha: $all instructions with $n clients, $base idle: $per per connection"
  echo "| $sha | $n | $all | $base | $per |" >>"$md.tmp"
done
mv "$md.tmp" "$md"
cat "$md"
