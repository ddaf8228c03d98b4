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

export IMAGOR_NODE_BUILD_FLAGS="--release --features test-hooks"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# shellcheck disable=SC2086
npx --no-install napi build --platform --no-js $IMAGOR_NODE_BUILD_FLAGS --output-dir "$out"
cp "$out"/imagor.*.node .

node --test test/*.test.mjs
