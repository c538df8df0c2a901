#!/usr/bin/env bash
# The one place that installs Debian packages for Icebreaker.
#   deploy/install-deps.sh run      what building and running a node needs
#   deploy/install-deps.sh cluster  + a local cluster behind TLS (docs/OPERATIONS.md,
#                                   deploy/cluster.sh): redis-server, haproxy, and
#                                   node + npm for deploy/smoke.mjs
#   deploy/install-deps.sh test     + test tools (cmocka, redis, clang, node, chromium,
#                                   and what tests/integration/deploy.test.mjs checks the
#                                   deploy/ files with: systemd-analyze, haproxy, nginx,
#                                   PyYAML for /usr/bin/python3)
#   deploy/install-deps.sh MODE --list   print the packages of MODE, install nothing
# Safe to run twice: apt-get skips what is installed; apt lists are refreshed
# only when a package is missing.
set -euo pipefail

what=${1:-run}
pkgs=(build-essential cmake pkg-config
      libwebsockets-dev libwebsockets-evlib-uv libuv1-dev libjansson-dev
      libhiredis-dev libssl-dev openssl curl ca-certificates)
case "$what" in
  run) ;;
  cluster) pkgs+=(redis-server haproxy nodejs npm) ;;
  test)
    pkgs+=(libcmocka-dev redis-server clang llvm libclang-rt-14-dev
           nodejs npm valgrind clang-format haproxy chromium fonts-dejavu-core
           systemd nginx-light python3-yaml) ;;
  *) echo "install-deps.sh: run, cluster or test, not '$what'" >&2; exit 2 ;;
esac
if [ "${2:-}" = --list ]; then
  printf '%s\n' "${pkgs[@]}"
  exit 0
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node and npm may come from elsewhere than Debian (as on the dev machines):
# do not replace a working node with Debian's.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  filtered=()
  for p in "${missing[@]}"; do
    case "$p" in nodejs|npm) ;; *) filtered+=("$p") ;; esac
  done
  missing=("${filtered[@]}")
fi
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # nginx is a test tool here (the tests start their own on loopback): when
  # this run installed it on a machine booted with systemd, do not leave
  # Debian's default site running on port 80.
  case " ${missing[*]} " in
    *" nginx-light "*)
      if [ -d /run/systemd/system ]; then $SUDO systemctl disable --now nginx.service >/dev/null 2>&1 || true; fi ;;
  esac
fi
