#!/usr/bin/env bash
# Build the libFuzzer targets (clang, ASan+UBSan) and run each for SECONDS
# (default 60) from its committed seed corpus. A finding fails the run and
# leaves its reproducer (crash-*, leak-*, oom-*) in build-fuzz/findings/.
#   scripts/fuzz.sh            60 s each
#   scripts/fuzz.sh 600        the 10-minute runs recorded in docs/HOSTILE.md
#   scripts/fuzz.sh 60 fuzz_jwt   one target
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
only=${2:-}
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j"$(nproc)" 2>&1 | grep -E "error|warning" && exit 1
mkdir -p build-fuzz/findings
status=0
for bin in build-fuzz/fuzz/fuzz_*; do
  name=$(basename "$bin")
  [ -n "$only" ] && [ "$name" != "$only" ] && continue
  corpus=tests/fuzz/corpus/$name
  work=build-fuzz/corpus/$name
  mkdir -p "$work"
  dict=(); [ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
  echo "== $name: ${seconds}s"
  # A sanitizer report is a finding even if it did not stop the run (a
  # recoverable UBSan check in a library built without -fno-sanitize-recover).
  if ! "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix=build-fuzz/findings/"$name"- "${dict[@]}" "$work" "$corpus" \
      > "build-fuzz/$name.log" 2>&1 ||
      grep -qE "runtime error:|ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)" "build-fuzz/$name.log"; then
    echo "FINDING in $name: see build-fuzz/$name.log and build-fuzz/findings/"
    grep -m5 -E "runtime error:|ERROR: " "build-fuzz/$name.log" || true
    tail -30 "build-fuzz/$name.log"
    status=1
  fi
  grep -E "^stat::number_of_executed_units|^Done" "build-fuzz/$name.log" | tr '\n' ' '; echo
done
exit $status
