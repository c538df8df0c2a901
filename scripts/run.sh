#!/usr/bin/env bash
# Build and run a development node on 127.0.0.1:8080 (state in memory,
# --dev: the public development secret and POST /dev/token for the web
# client's sign-in form). Extra arguments go to `icebreaker serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh run
cmake --preset default >/dev/null
cmake --build --preset default -j"$(nproc)" --target icebreaker
exec ./build/icebreaker serve --dev --web-root web "$@"
