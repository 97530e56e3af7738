#!/usr/bin/env bash
#! `make demo`: installs what is missing, builds pkg/ and the gateway, and serves the demo on
#! http://localhost:3333 (WebSocket at /ws). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
LIVESTATE_SETUP_BROWSER=0 bash scripts/setup.sh
. scripts/env.sh
bash scripts/build-pkg.sh
cargo build -q --release -p livestate-server
echo "demo: open http://localhost:${WEBSOCKET_PORT:-3333} in two tabs"
exec target/release/livestate-server --static-dir www --pkg-dir pkg --client-publish "$@"
