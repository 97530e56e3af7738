# The two commands a newcomer needs are `make demo` and `make test`; everything else is a step of those.
.PHONY: demo test setup pkg size bench fuzz screenshots clean

demo: ## build everything and serve the demo on http://localhost:3333
	bash scripts/demo.sh

test: ## install what is missing, then run every test suite
	bash scripts/test.sh

setup: ## install toolchains and packages only (idempotent)
	bash scripts/setup.sh

pkg: ## install what is missing, then build the npm package into pkg/ (then `cd pkg && npm pack` for a tarball)
	bash scripts/setup.sh
	bash scripts/build-pkg.sh

size: ## build the release package and print its size beside centrifuge, socket.io-client and phoenix
	bash scripts/size.sh

bench: ## measure size, store throughput, latency and fan-out against the peers; writes docs/benchmarks.md
	bash scripts/bench.sh

fuzz: ## run each fuzz target for FUZZ_SECONDS (default 60); not part of `make test`
	bash scripts/fuzz.sh

screenshots: ## save docs/screenshots/{demo,angular}.png from the running demo
	bash scripts/screenshots.sh

clean:
	cargo clean
	rm -rf pkg
