#!/usr/bin/env bash
#! Builds the npm package into pkg/ with wasm-pack, size-tuned (the gateway keeps its own
#! speed-tuned release profile, so the wasm-only settings are passed here, not in Cargo.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
export CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_LTO=true CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
       CARGO_PROFILE_RELEASE_PANIC=abort
profile=--release
[ "${1:-}" = --dev ] && { profile=--dev; shift; }
wasm-pack --log-level warn build --target web "$profile" --out-dir pkg --out-name livestate "$@"
wasm=$(wc -c < pkg/livestate_bg.wasm); gz=$(gzip -9 -c pkg/livestate_bg.wasm | wc -c)
js=$(wc -c < pkg/livestate.js); jsgz=$(gzip -9 -c pkg/livestate.js | wc -c)
echo "pkg/: livestate_bg.wasm $wasm B ($gz B gzip), livestate.js $js B ($jsgz B gzip)"
