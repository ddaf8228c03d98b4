# imagor-rs: `make run` and `make test` do all set-up themselves.
SHELL := /bin/bash
CARGO ?= cargo
PREFIX ?= /usr/local
export CARGO_TERM_COLOR ?= never

.PHONY: all deps build run test test-rust test-c test-python test-node test-hostile fuzz-smoke lint bench install clean

all: build

deps:
	@./.ci/deps.sh

build: deps
	$(CARGO) build --release -p imagor

## The main job on an embedded default: process a testdata image with the CLI.
run: deps
	$(CARGO) build --release -p imagor
	./target/release/imagor process testdata/gopher.png "fit-in/300x300/filters:format(webp)" -o target/gopher-300.webp
	./target/release/imagor meta target/gopher-300.webp

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-rust: deps
	$(CARGO) test --workspace --exclude imagor-python --exclude imagor-node
	$(CARGO) test -p imagor --features leak-hook --test leak

## C ABI: header drift, C programs against the installed library, ASan, valgrind.
test-c: deps
	./ffi/tests/run.sh

## Python package: build with maturin into a venv, run pytest and Django tests.
test-python: deps
	./bindings/python/run-tests.sh

## Node package: npm install, napi build, node --test.
test-node: deps
	./bindings/node/run-tests.sh

## Hostile corpus, one case per process through the CLI, C, Python and Node.
test-hostile: deps test-c test-python test-node
	./tests/hostile.sh

## Each cargo-fuzz target for a few seconds (core/fuzz/README.md has the long runs).
fuzz-smoke: deps
	for t in path_parse filter_args process; do ./core/fuzz/run.sh $$t 15 || exit 1; done

## Every test, all languages.
test: lint test-rust test-c test-python test-node test-hostile fuzz-smoke

## Benchmarks with ratios against peers run side by side (pyvips, sharp).
bench: deps
	./.ci/bench.sh

## Install libimagor (.so/.a), include/imagor.h and imagor.pc under PREFIX.
install: deps
	./ffi/install.sh "$(PREFIX)"

clean:
	$(CARGO) clean
