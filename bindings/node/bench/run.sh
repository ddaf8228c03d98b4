#!/usr/bin/env bash
# `make bench` hook: run.sh <python-venv-with-pyvips> <corpus-dir>
# Builds the addon (release), then compares imagor (Node) with sharp and
# pyvips, and imagor.sign with crypto.createHmac (bench/compare.mjs).
set -euo pipefail
venv="${1:?usage: run.sh <python-venv-with-pyvips> <corpus-dir>}"
corpus="${2:?usage: run.sh <python-venv-with-pyvips> <corpus-dir>}"
cd "$(dirname "$0")/.."
[ -d node_modules/sharp ] && [ -d node_modules/@napi-rs/cli ] || npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
npx --no-install napi build --platform --no-js --release --output-dir "$out"
cp "$out"/imagor.*.node .
# The core's own driver, when `make bench` built it: a reference for the binding's overhead.
rust=()
for d in "${CARGO_TARGET_DIR:-../../target}" ../../target; do
  if [ -x "$d/release/examples/bench_process" ]; then rust=(--rust "$(cd "$d" && pwd)/release/examples/bench_process"); break; fi
done
node bench/compare.mjs --python "$venv/bin/python" --corpus "$corpus" "${rust[@]}" "${@:3}"
