#!/usr/bin/env bash
#! The 20 largest items of the release wasm, by name (twiggy top), for docs/benchmarks.md.
#! Builds the release package's wasm once more with its function names kept (wasm-opt -g), so
#! the items are readable; the sizes are those of the shipped build. Writes target/bench/twiggy.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
command -v twiggy >/dev/null || cargo install -q twiggy --version 0.8.0 --locked
export CARGO_TARGET_DIR=target/names CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_LTO=true \
       CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_PANIC=abort
std_src="$(rustc --print sysroot)/lib/rustlib/src/rust/library/std"
if [ -d "$std_src" ] && RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort" \
     cargo build -q --release --target wasm32-unknown-unknown --lib -Zbuild-std=std,panic_abort; then :; else
  cargo build -q --release --target wasm32-unknown-unknown --lib
fi
out=target/names/pkg
wasm-bindgen --target web --keep-debug --out-dir "$out" target/names/wasm32-unknown-unknown/release/livestate.wasm
wasm-opt -Oz -g --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
  --enable-reference-types "$out/livestate_bg.wasm" -o "$out/named.wasm"
mkdir -p target/bench
# The name section itself is not shipped: left out of the listing and of the percentages' base.
twiggy top -n 21 "$out/named.wasm" | grep -v '"function names" subsection' | sed 's/\[[0-9a-f]\{16\}\]//g' > target/bench/twiggy.txt
cat target/bench/twiggy.txt
