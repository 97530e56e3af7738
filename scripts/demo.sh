#!/usr/bin/env bash
#! `make demo`: installs what is missing, builds pkg/, the demo page, the Angular example and
#! the gateway with its demo backend, and serves them on http://localhost:3333 (the Angular
#! example at /angular/). Flags after `--` go to livestate-demo (see `--help`). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
LIVESTATE_SETUP_BROWSER=0 bash scripts/setup.sh
. scripts/env.sh
bash scripts/build-demo.sh
cargo build -q --release -p livestate-server --bin livestate-demo
echo "demo: open http://localhost:${WEBSOCKET_PORT:-3333}/ in two tabs, and http://localhost:${WEBSOCKET_PORT:-3333}/angular/"
exec target/release/livestate-demo --static-dir www --pkg-dir pkg --angular-dir www/angular/dist/browser "$@"
