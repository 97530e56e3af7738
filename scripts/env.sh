# shellcheck shell=bash
#! Sourced by every script: puts the toolchain that can build wasm32 first on PATH.
# A rustup toolchain with the wasm32 target wins; otherwise Debian's rustc-web in /usr/bin
# (see scripts/setup.sh for why). Sourcing is cheap and changes nothing on disk.
_ls_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$_ls_root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
_ls_has_wasm_std() { # $1 = rustc
  local libdir
  libdir=$("$1" --print target-libdir --target wasm32-unknown-unknown 2>/dev/null) || return 1
  compgen -G "$libdir/libstd-*.rlib" >/dev/null
}
if ! _ls_has_wasm_std rustc && [ -x /usr/bin/rustc ] && _ls_has_wasm_std /usr/bin/rustc; then
  export PATH="/usr/bin:$PATH"
fi
export LIVESTATE_ROOT="$_ls_root"
unset _ls_root
