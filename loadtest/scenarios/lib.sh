# Shared by the scenario scripts (sourced, not run): build, start and stop
# the two servers, run the generator, describe the machine.
#
# Servers run on core 0 and the generator on core 1 (taskset), both on
# 127.0.0.1 with a port the kernel picks; a server is stopped by its pid
# (SIGTERM, then SIGKILL after 10 s), never by name. Every server a
# scenario starts is stopped by the EXIT trap, whatever happens.
set -euo pipefail

LT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LT_BUILD=${LT_BUILD:-$LT_ROOT/build-load}
# LT_REV=<commit>: build the server and the generator from exactly that
# commit (git archive into $LT_BUILD/src-<sha>), not from the work tree,
# which other engineers may be editing; the figures then belong to a commit.
LT_REV=${LT_REV:-}
LT_BIN=$LT_BUILD
LT_OUT=${LT_OUT:-$LT_ROOT/loadtest/out}
LT_SECRET=${LT_SECRET:-loadtest-secret-$$}
# LT_SERVER_CPU: the cores the server may use (taskset -c: "0", "0-1");
# LT_SERVER_ARGS: extra `icebreaker serve` options (e.g. "--send-threads 0").
LT_SERVER_CPU=${LT_SERVER_CPU:-0}
LT_GEN_CPU=${LT_GEN_CPU:-1}
mkdir -p "$LT_OUT"
LT_PIDS=()
LT_COMMIT=

lt_log() { printf '== %s\n' "$*" >&2; }

lt_cleanup() {
  local pid
  for pid in "${LT_PIDS[@]}"; do lt_stop "$pid"; done
}
trap lt_cleanup EXIT

# Builds the server and the generator (RelWithDebInfo, in $LT_BUILD) and
# installs the peer's npm packages from its lock file when they are missing.
lt_build() {
  local src=$LT_ROOT sha
  if [ -n "$LT_REV" ]; then
    sha=$(git -C "$LT_ROOT" rev-parse --short "$LT_REV")
    src=$LT_BUILD/src-$sha
    LT_BIN=$LT_BUILD/bin-$sha
    if [ ! -f "$src/CMakeLists.txt" ]; then
      rm -rf "$src"
      mkdir -p "$src"
      git -C "$LT_ROOT" archive "$sha" | tar -x -C "$src"
    fi
    LT_COMMIT=$sha
    lt_log "building icebreaker and ib_loadgen of commit $sha in $LT_BIN"
  else
    LT_COMMIT="work tree at $(git -C "$LT_ROOT" rev-parse --short HEAD)$(git -C "$LT_ROOT" diff --quiet HEAD -- server protocol include || echo ' + local changes')"
    lt_log "building icebreaker and ib_loadgen from the work tree (HEAD $(git -C "$LT_ROOT" rev-parse --short HEAD)$(git -C "$LT_ROOT" diff --quiet HEAD -- server protocol include || echo ', with local changes')) in $LT_BIN"
  fi
  cmake -S "$src" -B "$LT_BIN" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$LT_BIN" -j2 --target icebreaker ib_loadgen >/dev/null
  if [ ! -d "$LT_ROOT/loadtest/peer/node_modules/ws" ]; then
    lt_log "installing the peer's packages (npm ci)"
    (cd "$LT_ROOT/loadtest/peer" && npm ci --no-audit --no-fund >/dev/null)
  fi
}

# lt_wait_ready FILE PID: waits (10 s at most) for the ready line in FILE and
# prints the port from it.
lt_wait_ready() {
  local file=$1 pid=$2 i
  for i in $(seq 1 100); do
    if grep -q ' ready on ' "$file" 2>/dev/null; then
      sed -n 's/.* ready on [0-9.]*:\([0-9]*\) .*/\1/p' "$file" | head -1
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "server did not get ready; its output:" >&2
  cat "$file" >&2
  return 1
}

# lt_start KIND [extra server args...]: starts icebreaker or the peer on
# core $LT_SERVER_CPU; sets LT_PID and LT_PORT.
lt_start() {
  local kind=$1
  shift
  local log="$LT_OUT/$kind.log"
  : >"$log"
  case $kind in
  icebreaker)
    # shellcheck disable=SC2086 # LT_SERVER_ARGS: extra options, split on spaces
    taskset -c "$LT_SERVER_CPU" "$LT_BIN/icebreaker" serve --host 127.0.0.1 --port 0 \
      --jwt-secret "$LT_SECRET" ${LT_SERVER_ARGS:-} "$@" >"$log" 2>&1 &
    ;;
  peer)
    taskset -c "$LT_SERVER_CPU" node "$LT_ROOT/loadtest/peer/server.js" --host 127.0.0.1 \
      --port 0 --jwt-secret "$LT_SECRET" "$@" >"$log" 2>&1 &
    ;;
  *)
    echo "unknown server kind $kind" >&2
    return 1
    ;;
  esac
  LT_PID=$!
  LT_PIDS+=("$LT_PID")
  LT_PORT=$(lt_wait_ready "$log" "$LT_PID")
}

# lt_stop PID: SIGTERM, up to 10 s to exit, then SIGKILL.
lt_stop() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Busy jiffies of cores 0 and 1, "b0 b1".
lt_core_busy() {
  awk '/^cpu[01] / {printf "%d ", $2+$3+$4+$7+$8+$9}' /proc/stat
}

# The machine is shared (other engineers' builds and tests run on it):
# before a measurement, wait until neither core is more than 20% busy over a
# second, for at most $LT_QUIET_MAX_S seconds (default 60), then measure
# anyway and say so. Either way the load is recorded next to the figure.
LT_QUIET_MAX_S=${LT_QUIET_MAX_S:-60}
LT_QUIET_WAITED=0
lt_wait_quiet() {
  local waited=0 a b hz
  hz=$(getconf CLK_TCK)
  while :; do
    read -r -a a <<<"$(lt_core_busy)"
    sleep 1
    read -r -a b <<<"$(lt_core_busy)"
    if [ $(((b[0] - a[0]) * 100 / hz)) -le 20 ] && [ $(((b[1] - a[1]) * 100 / hz)) -le 20 ]; then
      [ "$waited" = 0 ] || lt_log "waited ${waited}s for the machine to be quiet"
      LT_QUIET_WAITED=$waited
      return 0
    fi
    if [ "$waited" -ge "$LT_QUIET_MAX_S" ]; then
      lt_log "WARNING: the machine is still busy after ${waited}s (core0 $(((b[0] - a[0]) * 100 / hz))%, core1 $(((b[1] - a[1]) * 100 / hz))%, loadavg $(cut -d' ' -f1-3 /proc/loadavg)); measuring anyway"
      LT_QUIET_WAITED=-$waited
      return 0
    fi
    sleep 2
    waited=$((waited + 3))
  done
}

# lt_gen ARGS...: the generator on core $LT_GEN_CPU against the server
# started last, once the machine is quiet (or the wait ran out). The load
# average before and after, and whether the machine was quiet, are added to
# the --json report as "load" (compare.mjs prints them with the table).
lt_gen() {
  local json="" prev="" a rc=0 before after
  for a in "$@"; do
    [ "$prev" = --json ] && json=$a
    prev=$a
  done
  lt_wait_quiet
  before=$(cut -d' ' -f1-3 /proc/loadavg)
  taskset -c "$LT_GEN_CPU" "$LT_BIN/ib_loadgen" --host 127.0.0.1 --port "$LT_PORT" \
    --secret "$LT_SECRET" --server-pid "$LT_PID" "$@" || rc=$?
  after=$(cut -d' ' -f1-3 /proc/loadavg)
  lt_log "load average before: $before, after: $after"
  if [ -n "$json" ] && [ -f "$json" ]; then
    LT_J=$json LT_C=$LT_COMMIT LT_B=$before LT_A=$after LT_W=$LT_QUIET_WAITED node -e '
      const fs = require("fs"), e = process.env, j = JSON.parse(fs.readFileSync(e.LT_J, "utf8"));
      const w = Number(e.LT_W);
      j.commit = e.LT_C;
      j.load = { loadavg_before: e.LT_B, loadavg_after: e.LT_A, quiet: w >= 0, quiet_wait_s: Math.abs(w) };
      fs.writeFileSync(e.LT_J, JSON.stringify(j, null, 2) + "\n");'
  fi
  return $rc
}

# One line that says what the figures were measured on.
lt_machine() {
  local cpu ws
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
  ws=$(node -p "require('$LT_ROOT/loadtest/peer/node_modules/ws/package.json').version" 2>/dev/null || echo '?')
  printf '%s, %s cores, %s GiB RAM, Linux %s, open files %s; libwebsockets %s, libuv %s; node %s, ws %s\n' \
    "$cpu" "$(nproc)" "$(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)" \
    "$(uname -r)" "$(ulimit -n)" "$(pkg-config --modversion libwebsockets)" \
    "$(pkg-config --modversion libuv)" "$(node --version)" "$ws"
}
