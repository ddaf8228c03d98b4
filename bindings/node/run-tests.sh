#!/usr/bin/env bash
# `make test-node`: from a clean clone, install the dev dependencies
# (package-lock.json), build the addon in release with the test hooks, and
# run the node:test suites. index.d.ts is not rewritten here: a test
# regenerates it elsewhere and fails when the committed one drifted.
set -euo pipefail
cd "$(dirname "$0")"

command -v node >/dev/null && command -v npm >/dev/null || {
  echo "test-node: Node.js >= 20 and npm are required" >&2
  exit 1
}
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || {
  echo "test-node: Node.js >= 20 is required (found $(node --version))" >&2
  exit 1
}

# --ignore-scripts: the dev dependencies need no install scripts (sharp's
# binaries come as prebuilt npm packages).
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

# Plain cargo rather than `napi build`, which passes `--target` and so
# compiles every dependency again in target/<triple>/ instead of reusing the
# build (of the same profile) that `make test-c` and `make test-python` made
# (the core's dependency graph is the same for all three: core/Cargo.toml).
# IMAGOR_PROFILE and IMAGOR_FEATURES (Makefile): under `make test`, `dev` and
# the Rust tests' features, whose build of the core this one then links;
# release and default features otherwise.
profile=${IMAGOR_PROFILE:-release}
export IMAGOR_NODE_BUILD_FLAGS="--profile $profile --features test-hooks${IMAGOR_FEATURES:+,$IMAGOR_FEATURES}"
# shellcheck disable=SC2086 # a list of flags (test/types.test.mjs uses the same)
cargo build -p imagor-node $IMAGOR_NODE_BUILD_FLAGS
target=$(cargo metadata --format-version 1 --no-deps |
  node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).target_directory))')
platform=$(node -p '`${process.platform}-${process.arch}-${process.report.getReport().header.glibcVersionRuntime ? "gnu" : "musl"}`')
cp "$target/$([ "$profile" = dev ] && echo debug || echo "$profile")/libimagor_node.so" "imagor.$platform.node"

node --test test/*.test.mjs
