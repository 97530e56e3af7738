#!/usr/bin/env bash
#! `make bench`: builds the release package, gateway and load generator, installs the peers
#! (bench/package.json), runs every benchmark against them on this machine, and writes
#! docs/benchmarks.md with its charts. Figures are records, not pass/fail gates.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/env.sh
bash scripts/build-pkg.sh
cargo build -q --release -p livestate-server -p livestate-loadgen
if [ ! -f bench/node_modules/.package-lock.json ] || [ bench/package-lock.json -nt bench/node_modules/.package-lock.json ]; then
  (cd bench && npm ci --no-audit --no-fund --loglevel=error)
fi
export NODE_PATH=$PWD/bench/node_modules
# What was measured, for the report (which may be regenerated later, from a later commit).
mkdir -p target/bench
printf '{"commit":"%s","dirty":%s,"at":"%s"}\n' "$(git rev-parse --short HEAD)" "$([ -n "$(git status --porcelain --untracked-files=no)" ] && echo true || echo false)" "$(date -u '+%Y-%m-%d %H:%M')" > target/bench/run.json
node bench/size.mjs
bash scripts/twiggy-top.sh >/dev/null
node bench/store.mjs
node bench/latency.mjs
node bench/fanout.mjs
node bench/tabs.mjs
node bench/presence.mjs
node bench/report.mjs
