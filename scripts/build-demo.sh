#!/usr/bin/env bash
#! Builds what the demo serves: pkg/ (release; `--dev` for a quick debug build), the demo page's
#! bundle (www/dist, esbuild) and the Angular example (www/angular/dist, after its npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
bash scripts/build-pkg.sh "$@" >/dev/null
tsc -p www
esbuild www/src/main.ts --bundle --format=esm --target=es2022 --outfile=www/dist/app.js --log-level=warning
# The bundle holds the package's JS glue, so it ships with the .wasm of the same build.
cp pkg/livestate_bg.wasm www/dist/
cd www/angular
# The example installs pkg/ the way an app would (`"livestate-client": "file:../../pkg"`, a link), so
# a rebuilt pkg/ needs no reinstall; angular.json sets preserveSymlinks so that the package's peers
# (@angular/core, rxjs, @ngrx/signals) resolve from the example's node_modules, not from pkg/.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
NG_CLI_ANALYTICS=false npx ng build --base-href /angular/ --progress=false >/dev/null
echo "demo: www/dist/app.js and www/angular/dist/browser built"
