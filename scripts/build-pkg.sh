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
# Source paths that end up in the wasm (panic locations of std and dependencies) name the build
# machine's folders: shortened, they say the same and weigh less.
REMAP="--remap-path-prefix=$(rustc --print sysroot)=/rustc --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo --remap-path-prefix=$PWD=."
build() { wasm-pack --log-level warn build --target web "$profile" --out-dir pkg --out-name livestate "$@"; }
# wasm-pack writes its glue as livestate.js: it becomes glue.js, and the package's entry is
# the hand-written src/js/livestate.js (the classes, in JS over the wasm's numeric API).
assemble() {
  mv pkg/livestate.js pkg/glue.js
  mv pkg/livestate.d.ts pkg/glue.d.ts
  cp src/js/livestate.js src/js/livestate.d.ts src/js/client.js src/js/store.js src/js/wire.js src/js/share.js src/js/envelope.js src/js/boundary.js pkg/
  # The package's own README (wasm-pack copied the repository's, which is for contributors).
  cp src/js/README.md pkg/README.md
  # livestate-client/inline: the same API with the wasm inside the JS, for builds that do not
  # copy a .wasm beside the bundle (Angular's builder, dev servers that pre-bundle packages);
  # its bytes are hashed with the JS, so a cache cannot pair new JS with an old wasm.
  cp src/js/inline.d.ts pkg/
  # livestate-client/angular and livestate-client/ngrx-signals: plain JS over the inline entry,
  # with @angular/*, rxjs and @ngrx/signals as optional peers (only apps that import them need them).
  cp src/js/angular.js src/js/angular.d.ts src/js/ngrx-signals.js src/js/ngrx-signals.d.ts pkg/
  { sed -n '1,/^\/\/ WASM$/p' src/js/inline.js | sed '$d'
    printf "const WASM = '%s';\n" "$(base64 -w0 pkg/livestate_bg.wasm)"
    sed -n '/^\/\/ WASM$/,$p' src/js/inline.js | sed '1d'; } > pkg/inline.js
  node -e '
    const fs = require("fs");
    const p = JSON.parse(fs.readFileSync("pkg/package.json", "utf8"));
    // "livestate" on the registry is an unrelated package; "livestate-client" is free (npm view).
    p.name = "livestate-client";
    p.keywords = ["websocket", "realtime", "state", "store", "wasm", "angular", "optimistic-updates"];
    delete p.repository; // no public repository yet: better none than a placeholder
    p.files = ["livestate_bg.wasm", "glue.js", "glue.d.ts", "livestate.js", "livestate.d.ts", "client.js", "store.js", "wire.js", "share.js", "envelope.js", "boundary.js", "inline.js", "inline.d.ts", "angular.js", "angular.d.ts", "ngrx-signals.js", "ngrx-signals.d.ts", "README.md"];
    p.main = "livestate.js";
    p.module = "livestate.js";
    p.types = "livestate.d.ts";
    p.exports = {
      ".": { types: "./livestate.d.ts", import: "./livestate.js", default: "./livestate.js" },
      "./inline": { types: "./inline.d.ts", import: "./inline.js", default: "./inline.js" },
      "./angular": { types: "./angular.d.ts", import: "./angular.js", default: "./angular.js" },
      "./ngrx-signals": { types: "./ngrx-signals.d.ts", import: "./ngrx-signals.js", default: "./ngrx-signals.js" },
      "./livestate_bg.wasm": "./livestate_bg.wasm",
      "./package.json": "./package.json",
    };
    p.peerDependencies = { "@angular/common": ">=19.0.0", "@angular/core": ">=19.0.0", "@ngrx/signals": ">=19.1.0", rxjs: "^7.4.0" };
    p.peerDependenciesMeta = Object.fromEntries(Object.keys(p.peerDependencies).map((k) => [k, { optional: true }]));
    p.sideEffects = false;
    fs.writeFileSync("pkg/package.json", JSON.stringify(p, null, 2) + "\n");'
}
# A release build compiles std itself with panic=immediate-abort where the standard library's
# source is there (rustup's rust-src, or Debian's rust-web-src): no panic machinery in the wasm
# (about 5 KB gzip). A panic is still an abort, as with panic=abort, only without a message.
std_src="$(rustc --print sysroot)/lib/rustlib/src/rust/library/std"
if [ "$profile" = --release ] && [ -d "$std_src" ] && [ "${LIVESTATE_PLAIN_STD:-0}" != 1 ]; then
  if ! RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_BUILD_STD=std,panic_abort RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort $REMAP" build "$@"; then
    echo "build-pkg: building std with panic=immediate-abort failed; building with the prebuilt std" >&2
    build "$@"
  fi
else
  build "$@"
fi
assemble
wasm=$(wc -c < pkg/livestate_bg.wasm); gz=$(gzip -9 -c pkg/livestate_bg.wasm | wc -c)
js=$(wc -c < pkg/livestate.js); jsgz=$(gzip -9 -c pkg/livestate.js | wc -c)
echo "pkg/: livestate_bg.wasm $wasm B ($gz B gzip), livestate.js $js B ($jsgz B gzip)"
