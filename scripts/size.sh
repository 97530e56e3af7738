#!/usr/bin/env bash
#! `make size`: builds the release package and prints its size beside the peers' (bench/size.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
LIVESTATE_SETUP_BROWSER=0 bash scripts/setup.sh
. scripts/env.sh
bash scripts/build-pkg.sh >/dev/null
node bench/size.mjs
