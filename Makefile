# The commands a newcomer looks for. `make ci` is exactly what CI runs (.ci/run).
CARGO ?= cargo

.PHONY: build test ci demo bench fmt lint soak fuzz

build:
	$(CARGO) build --release

test:
	$(CARGO) test --all-targets

fmt:
	$(CARGO) fmt --check

lint:
	$(CARGO) clippy --all-targets -- -D warnings

ci: fmt lint test demo

demo:
	$(CARGO) build --quiet
	bash scripts/demo.sh target/debug/context

bench:
	$(CARGO) bench --bench store

# The model-based convergence test at 10,000 cases (CI runs 300).
soak:
	PROPTEST_CASES=10000 $(CARGO) test --test integration convergence -- --nocapture
