#!/usr/bin/env bash
#! `make fuzz`: runs each cargo-fuzz target for FUZZ_SECONDS (default 60) and prints its
#! executions and crashes. Needs rustup's nightly toolchain (libFuzzer's sanitizer flags).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo-fuzz >/dev/null || cargo install -q cargo-fuzz --version 0.13.2
rustup run nightly rustc --version >/dev/null 2>&1 || timeout 120 rustup toolchain install nightly --profile minimal
seconds=${FUZZ_SECONDS:-60}
mkdir -p target
status=0
rustup run nightly cargo fuzz build -O >target/fuzz-build.log 2>&1 || { echo "fuzz targets do not build:"; grep -E '^error' -A5 target/fuzz-build.log | head -20; exit 1; }
for t in gateway_frame client_core; do
  log=target/fuzz-$t.log
  if rustup run nightly cargo fuzz run "$t" -- -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
    runs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
    echo "fuzz $t: ${runs:-?} executions in ${seconds}s, 0 crashes"
  else
    status=1
    echo "fuzz $t: CRASH (see $log and fuzz/artifacts/$t/)"
    grep -E 'panicked|ERROR|SUMMARY' "$log" | head -5
  fi
done
exit $status
