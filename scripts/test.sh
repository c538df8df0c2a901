#!/usr/bin/env bash
# Build and run every test: unit tests (cmocka via ctest) and integration
# tests (the real binary driven by WebSocket clients), first in the normal
# build, then again in the ASan+UBSan build. Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh test
npm ci --no-audit --no-fund --loglevel=error

jobs=$(nproc)
for preset in default asan; do
  echo "== build ($preset)"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j"$jobs"
  echo "== unit tests ($preset)"
  ctest --preset "$preset" -j"$jobs"
  dir=build; [ "$preset" = asan ] && dir=build-asan
  echo "== integration tests ($preset)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ICEBREAKER_BIN="$PWD/$dir/icebreaker" \
    node --test --test-concurrency=2 tests/integration/
done
echo "== all tests passed"
