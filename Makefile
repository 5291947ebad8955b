# The commands a newcomer looks for. `make ci` is exactly what CI runs (.ci/run).
CARGO ?= cargo

.PHONY: build test test-deps ci demo bench bench-scale fmt lint soak fuzz man install install-check

build:
	$(CARGO) build --release

# The S3 tests start moto (a real S3 server), the SSH tests sshd, each on a free loopback
# port, and the transit tests two Syncthing instances in a network namespace: installed here if
# missing.
test: test-deps
	$(CARGO) test --all-targets

test-deps:
	@bash scripts/test-deps.sh

fmt:
	$(CARGO) fmt --check

# The man pages, from the same definitions as --help, into target/man (installed by nothing:
# `man -l target/man/context-sync.1`, or copy them to ~/.local/share/man/man1).
man:
	$(CARGO) run --quiet -- __man target/man
	@ls target/man

lint:
	$(CARGO) clippy --all-targets -- -D warnings

# Installs the binary, the man pages and the bash, zsh and fish completions under
# $(DESTDIR)$(PREFIX), where shells and `man` look: `make install` (into /usr/local, as root),
# `make install PREFIX=~/.local` (one user, no root: put ~/.local/bin on PATH), or
# `make install DESTDIR=pkg PREFIX=/usr` for a package. BIN picks another build to install.
PREFIX ?= /usr/local
DESTDIR ?=
BIN ?= target/release/context
install: $(if $(filter target/release/context,$(BIN)),build)
	bash scripts/install.sh "$(BIN)" "$(DESTDIR)$(PREFIX)"

# What CI checks of `make install`: the layout, from the debug build the tests made.
install-check:
	$(CARGO) build
	rm -rf target/install-check
	$(MAKE) --no-print-directory install BIN=target/debug/context DESTDIR=target/install-check PREFIX=/usr
	bash scripts/install.sh --check target/install-check/usr

ci: fmt lint test demo install-check

# The first build on a fresh machine takes minutes (SQLite, zstd, rustls): say so, and let
# cargo show its progress.
demo:
	@echo "building context: the first build compiles about 250 crates, 4 to 6 minutes on a quiet 2-core machine (longer on a busy one); later builds take seconds"
	$(CARGO) build
	bash scripts/demo.sh target/debug/context

# Sync against its anchors (benches/sync.rs), then the store's write path (benches/store.rs).
# The session-extension comparison needs libclang-dev for bindgen: installed here if missing.
bench: test-deps
	@(dpkg -s libclang-dev && test -x /usr/bin/time) >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq libclang-dev time)
	$(CARGO) bench --features bench-session --bench sync
	$(CARGO) bench --bench remotes
	$(CARGO) bench --bench store
	$(CARGO) bench --bench watch
	$(CARGO) bench --bench search
	$(CARGO) bench --bench deltas

# Sync at 20k, 200k and 2M versions, every figure a whole process, medians of 3 (not in CI:
# about half an hour here, and 6 GB of disk at the largest size). `SCALE_SIZES=20000,200000`
# picks sizes. Writes target/bench/scale.json.
bench-scale:
	@test -x /usr/bin/time || (apt-get update -qq && apt-get install -y -qq time)
	$(CARGO) bench --bench scale

# The model-based property tests at 10,000 cases each (CI runs 300 and 64): convergence, then
# prune and bootstrap.
soak:
	PROPTEST_CASES=10000 $(CARGO) test --test integration convergence -- --nocapture
	PROPTEST_CASES=10000 $(CARGO) test --test integration prune::prune_keeps -- --nocapture

# The changeset decoder, then the manifest and key record decoders (what else a hostile remote
# holds), under libFuzzer for FUZZ_SECONDS each (cargo-fuzz needs nightly features:
# RUSTC_BOOTSTRAP=1 lets the stable toolchain build it). Seeds: the golden and broken fixtures.
# A crash is saved under fuzz/artifacts/decode/: copy it to fixtures/changesets/fuzz/, where
# tests/golden.rs decodes every file forever after.
FUZZ_SECONDS ?= 120
fuzz:
	command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	mkdir -p fuzz/corpus/decode
	cp fixtures/changesets/v1/*/*.cset fixtures/changesets/v1/broken/*.cset fixtures/changesets/v1.2/*/*.cset fixtures/changesets/v1.3/*/*.cset fixtures/changesets/v1.4/*/*.cset fixtures/changesets/v3/*/*.cset fixtures/changesets/v2/*/*.cset fixtures/changesets/v4/*/*.cset fixtures/changesets/fuzz/*.cset fuzz/corpus/decode/ 2>/dev/null || true
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run decode corpus/decode -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048
	mkdir -p fuzz/corpus/remote_files
	cp fixtures/remote_files/* fuzz/corpus/remote_files/ 2>/dev/null || true
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run remote_files corpus/remote_files -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048
