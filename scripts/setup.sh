#!/usr/bin/env bash
#! Installs what the build and the tests need. Idempotent: seconds when everything is there.
# Works on a laptop with rustup (wasm32 target via `rustup target add`) and on machines that
# cannot download a rustup target (Debian's rustc-web plus a wasm32 std built from source).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
log() { printf 'setup: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=0
apt_need() { # installs the Debian packages that are missing
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || { log "please install: ${missing[*]}"; exit 1; }
  if [ $apt_updated = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  log "apt-get install ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

wasm_std_ok() { _ls_has_wasm_std "$(command -v rustc)"; }

# 1. A Rust toolchain with a wasm32 standard library.
if ! wasm_std_ok; then
  if command -v rustup >/dev/null && timeout 30 rustup target add wasm32-unknown-unknown >/dev/null 2>&1 && wasm_std_ok; then
    log "wasm32 target from rustup"
    # The standard library's source lets the release package build std with
    # panic=immediate-abort (scripts/build-pkg.sh); without it the package is a few KB larger.
    timeout 60 rustup component add rust-src >/dev/null 2>&1 || log "no rust-src: the package keeps the prebuilt std"
  else
    log "rustup cannot fetch wasm32: using Debian's rustc-web and building its wasm32 std"
    apt_need rustc-web cargo-web rust-web-src lld-22
    libdir=/usr/lib/rustlib/wasm32-unknown-unknown/lib
    if ! compgen -G "$libdir/libstd-*.rlib" >/dev/null; then
      tmp=$(mktemp -d)
      (cd "$tmp" && /usr/bin/cargo init -q --lib --name stdbuild \
        && RUSTFLAGS="-Cembed-bitcode=yes" RUSTC_BOOTSTRAP=1 PATH="/usr/bin:$PATH" /usr/bin/cargo build -q --release \
           -Zbuild-std=std,panic_abort,proc_macro,test --target wasm32-unknown-unknown)
      as_root mkdir -p "$libdir"
      as_root cp "$tmp"/target/wasm32-unknown-unknown/release/deps/*.rlib "$libdir/"
      rm -rf "$tmp"
    fi
    as_root mkdir -p /usr/lib/rustlib/x86_64-unknown-linux-gnu/bin
    [ -e /usr/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld ] \
      || as_root ln -sf /usr/lib/llvm-22/bin/lld /usr/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld
    . scripts/env.sh
    wasm_std_ok || { log "no wasm32 std after set-up"; exit 1; }
  fi
fi

# 2. wasm-bindgen CLI at exactly the version in Cargo.lock, and wasm-pack.
bindgen_version=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$bindgen_version" ]; then
  log "cargo install wasm-bindgen-cli $bindgen_version (a few minutes, once)"
  cargo install -q --force wasm-bindgen-cli --version "$bindgen_version"
fi
if ! command -v wasm-pack >/dev/null; then
  log "cargo install wasm-pack (a few minutes, once)"
  cargo install -q wasm-pack --version 0.15.1
fi

# 3. Headless Chromium and its driver for the browser tests; Node packages (wasm-opt, tsc).
if [ "${LIVESTATE_SETUP_BROWSER:-1}" = 1 ]; then
  command -v chromedriver >/dev/null && command -v chromium >/dev/null || apt_need chromium chromium-driver
fi
command -v node >/dev/null && command -v npm >/dev/null || apt_need nodejs npm
# Redis for the scale-out tests (the test scripts start and stop their own servers).
command -v redis-server >/dev/null || apt_need redis-server
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
log "ready ($(rustc --version), wasm-bindgen $bindgen_version, $(wasm-pack --version))"
