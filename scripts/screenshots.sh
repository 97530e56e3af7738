#!/usr/bin/env bash
#! `make screenshots`: builds the demo as `make demo` does, then saves the README's screenshots.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/env.sh
bash scripts/build-demo.sh
cargo build -q --release -p livestate-server --bin livestate-demo
RUST_LOG=warn node scripts/screenshots.mjs
