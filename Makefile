# imagor-rs: `make run` and `make test` do all set-up themselves.
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: all deps build run test test-rust lint bench clean

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

## Every test, all languages.
test: lint test-rust

bench: deps
	$(CARGO) bench -p imagor

clean:
	$(CARGO) clean
