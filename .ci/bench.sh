#!/usr/bin/env bash
# `make bench`: build the release bench drivers, set up pyvips (and the
# bindings' peers when they exist) and run core/benches/compare.py.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/bench-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check pyvips
cargo build --release -p imagor --features server --bin imagor --example bench_process --example bench_http
"$venv/bin/python" core/benches/make_corpus.py target/bench-corpus
cargo bench -p imagor --bench path_sign -- --warm-up-time 1 --measurement-time 3
"$venv/bin/python" core/benches/compare.py --corpus target/bench-corpus --python "$venv/bin/python" "$@"
# The HTTP server against the same work as a library call and against
# thumbor (pip, its own venv: thumbor pins its own Pillow).
thumbor=target/thumbor-venv
[ -x "$thumbor/bin/python" ] || python3 -m venv "$thumbor"
"$thumbor/bin/pip" install -q --disable-pip-version-check thumbor pillow-avif-plugin
"$venv/bin/python" core/benches/server_compare.py --corpus target/bench-corpus --thumbor "$thumbor/bin/python"
# Each binding adds its own comparisons (C driver vs libvips, Python vs
# pyvips/hmac/libthumbor, Node vs sharp/crypto) in <binding>/bench/run.sh,
# called with the venv path and the corpus folder.
for hook in ffi/bench/run.sh bindings/python/bench/run.sh bindings/node/bench/run.sh; do
  if [ -x "$hook" ]; then "$hook" "$PWD/$venv" "$PWD/target/bench-corpus"; fi
done
