#!/usr/bin/env bash
# Build and run every test. Installs what it needs; safe to run twice.
#   1. normal build: unit tests (cmocka, ctest), integration tests (the real
#      binary driven by WebSocket clients), browser end-to-end tests
#   2. ASan+UBSan build: unit and integration tests again
#   3. libFuzzer targets, FUZZ_SECONDS each (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh test
npm ci --no-audit --no-fund --loglevel=error

jobs=$(nproc)
has_tests() { compgen -G "$1/*.test.mjs" >/dev/null; }

for preset in default asan; do
  echo "== build ($preset)"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j"$jobs"
  echo "== unit tests ($preset)"
  ctest --preset "$preset" -j"$jobs"
  dir=build; [ "$preset" = asan ] && dir=build-asan
  export ICEBREAKER_BIN="$PWD/$dir/icebreaker"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  if has_tests tests/integration; then
    echo "== integration tests ($preset)"
    node --test --test-concurrency=2 tests/integration/
  fi
  if [ "$preset" = default ] && has_tests tests/e2e; then
    echo "== browser tests ($preset)"
    node --test --test-concurrency=1 tests/e2e/
  fi
done
echo "== fuzzing (${FUZZ_SECONDS:-30}s per target)"
scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
echo "== all tests passed"
