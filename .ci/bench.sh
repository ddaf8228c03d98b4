#!/usr/bin/env bash
# `make bench`: build the release bench drivers, set up pyvips (and the
# bindings' peers when they exist) and run core/benches/compare.py.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/bench-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check pyvips
cargo build --release -p imagor --features server,face --bin imagor --example bench_process \
  --example bench_http --example face_bench --example bench_stream
"$venv/bin/python" core/benches/make_corpus.py target/bench-corpus
cargo bench -p imagor --bench path_sign -- --warm-up-time 1 --measurement-time 3
# The same driver linked to the libvips 8.18 the packages bundle (its own
# target dir: the flavour is fixed when the core is compiled), and sharp
# (bindings/node's dev dependency) on its own copy of that libvips. With the
# packages' own decoders (features own-av1 and own-jpeg, as packaging/build.sh builds them).
libdir="$(packaging/fetch-libvips.sh)"
IMAGOR_VIPS_LIB_DIR="$libdir" CARGO_TARGET_DIR=target/bench-bundled \
  cargo build --release -p imagor --example bench_process --features own-av1,own-jpeg
(cd bindings/node && { [ -d node_modules/sharp ] || npm ci --ignore-scripts --no-audit --no-fund --loglevel=error; })
node bindings/node/bench/make_avif10.mjs target/bench-corpus
"$venv/bin/python" core/benches/compare.py --corpus target/bench-corpus --python "$venv/bin/python" \
  --bundled "$PWD/target/bench-bundled/release/examples/bench_process:$libdir" --sharp "$@"
# The face detector's added CPU per request on a 12 MP photo (#16).
mkdir -p target/bench && target/release/examples/face_bench | tee target/bench/face.txt
# Decoding while the origin still sends against fetch-then-process (#12).
target/release/examples/bench_stream --corpus target/bench-corpus | tee target/bench/stream.txt
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
