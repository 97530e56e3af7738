#!/usr/bin/env bash
#! Runs every test: native unit tests, the gateway's integration tests, the browser tests in
#! headless Chromium against a real gateway (started and stopped here), the package's size
#! budget, the packed tarball installed as an app would, a strict TypeScript
#! check of the generated typings, the cross-tab Hub in Node, and the end-to-end tests of the demo and the Angular example
#! (playwright-core; the test file starts and stops the demo binary). Exits non-zero as soon as a runner fails; ends with a total.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/env.sh

# Below Linux's ephemeral range (32768-60999): a port in it can be taken by any outgoing
# connection of the machine, and then the harness cannot listen on it.
WS_PORT=${LIVESTATE_TEST_PORT:-23331}
CTL_PORT=${LIVESTATE_TEST_CTL_PORT:-23332}
SECURE_PORT=${LIVESTATE_TEST_SECURE_PORT:-23333}
PROXY_PORT=${LIVESTATE_TEST_PROXY_PORT:-23334}
mkdir -p target
log=target/test-run.log
: > "$log"
harness_pid=
cleanup() { [ -n "$harness_pid" ] && kill "$harness_pid" 2>/dev/null && wait "$harness_pid" 2>/dev/null; true; }
trap cleanup EXIT

step() { printf '\n=== %s\n' "$*"; }
# Shows a runner's output without blank lines and keeps it for the total at the end.
# With pipefail, a failing runner fails the pipeline and set -e stops the script.
run() { "$@" 2>&1 | tee -a "$log" | { grep -vE '^\s*$|^\[INFO\]' || true; }; }

step "native: pure core and protocol (cargo test)"
run cargo test -q -p livestate

step "gateway: integration tests over real sockets (cargo test -p livestate-server)"
run cargo test -q -p livestate-server

step "browser: wasm-bindgen-test in headless Chromium against a live gateway"
cargo build -q -p livestate-server
SECURE_PORT=$SECURE_PORT PROXY_PORT=$PROXY_PORT node tests/support/gateway-harness.mjs target/debug/livestate-server "$WS_PORT" "$CTL_PORT" \
  --heartbeat-interval 500 --client-publish --test-relay-raw --cors-origin "http://127.0.0.1:*" \
  --features-file tests/support/features.json &
harness_pid=$!
for _ in $(seq 1 300); do
  (exec 3<>/dev/tcp/127.0.0.1/"$CTL_PORT") 2>/dev/null && break
  kill -0 "$harness_pid" 2>/dev/null || { echo "gateway harness died"; exit 1; }
  sleep 0.1
done
export LIVESTATE_TEST_WS_URL="ws://127.0.0.1:$WS_PORT/ws" LIVESTATE_TEST_CTL_URL="http://127.0.0.1:$CTL_PORT" \
  LIVESTATE_TEST_SECURE_WS_URL="ws://127.0.0.1:$SECURE_PORT/ws" LIVESTATE_TEST_PROXY_WS_URL="ws://127.0.0.1:$PROXY_PORT/ws"
run wasm-pack --log-level warn test --headless --chrome --test browser --test store --test recovery
cleanup; harness_pid=

step "size: the release package (wasm + JS glue, gzip -9) within size-budget.json"
bash scripts/build-pkg.sh >/dev/null
run node bench/size.mjs --check

step "package: npm pack, installed from the tarball into an empty app and resolved as a bundler would"
run node tests/pkg/pack.mjs

step "typings: tsc --strict on a consumer of pkg/"
bash scripts/build-pkg.sh --dev >/dev/null
tsc -p tests/ts
echo "tsc --strict: 1 passed, 0 failed" | tee -a "$log"
run node tests/ts/api.mjs

step "js: the cross-tab Hub alone, in Node (node --test tests/js/)"
mkdir -p target/js
run node --test --test-reporter=spec --test-reporter-destination=stdout --test-reporter=tap --test-reporter-destination=target/js/tap.txt tests/js/
echo "js: $(grep -oP '^# pass \K[0-9]+' target/js/tap.txt) passed, $(grep -oP '^# fail \K[0-9]+' target/js/tap.txt) failed" | tee -a "$log"

step "end-to-end: the demo page, the Angular example and a fresh Vite app on the packed tarball, in headless Chromium (playwright-core)"
bash scripts/build-demo.sh --dev
cargo build -q -p livestate-server --bin livestate-demo
mkdir -p target/e2e
RUST_LOG=warn DEMO_BIN=target/debug/livestate-demo DEMO_PORT=${LIVESTATE_TEST_DEMO_PORT:-23335} \
  run node --test --test-reporter=spec --test-reporter-destination=stdout --test-reporter=tap --test-reporter-destination=target/e2e/tap.txt tests/e2e/
echo "e2e: $(grep -oP '^# pass \K[0-9]+' target/e2e/tap.txt) passed, $(grep -oP '^# fail \K[0-9]+' target/e2e/tap.txt) failed" | tee -a "$log"

passed=$(grep -oE '[0-9]+ passed' "$log" | awk '{s += $1} END {print s + 0}')
failed=$(grep -oE '[0-9]+ failed' "$log" | awk '{s += $1} END {print s + 0}')
echo
echo "total: $passed passed, $failed failed"
[ "$failed" = 0 ]
