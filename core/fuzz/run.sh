#!/usr/bin/env bash
# Fuzz imagor with libFuzzer (libfuzzer-sys), built straight with cargo.
#
#   core/fuzz/run.sh build                        build every target
#   core/fuzz/run.sh TARGET [SECONDS] [-- LIBFUZZER ARGS...]
#
# TARGET is path_parse, filter_args, process or avif_still. The seed corpus
# comes from testdata (images for `process`, AVIFs for `avif_still`, vector
# paths for the parsers) and lives
# in target/fuzz-corpus/TARGET; findings go to core/fuzz/artifacts/TARGET.
#
# The build passes rustc the flags cargo-fuzz 0.13 passes for
# `cargo fuzz run --sanitizer none` (SanitizerCoverage with inline 8-bit
# counters, PC table, compare tracing and stack depth, no branch folding,
# `--cfg fuzzing`), all stable, so neither cargo-fuzz nor a nightly
# toolchain is needed. FUZZ_PROFILE picks the build:
#   smoke    what `make fuzz-smoke` runs: cargo's dev profile in the
#            workspace's target folder, with only the core (opt-level 1) and
#            the targets instrumented, by rustc-coverage.sh; every other
#            crate is `make test-rust`'s own build, so this links in about a
#            minute instead of compiling 300 crates again.
#   release  (default) for long runs: every crate instrumented and
#            optimised, one codegen unit each, as cargo-fuzz builds, in
#            core/fuzz/target.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${1:?usage: run.sh build | run.sh TARGET [SECONDS] [-- ARGS]}
seconds=${2:-20}
shift $(( $# >= 2 ? 2 : 1 ))
[ "${1:-}" = "--" ] && shift
profile=${FUZZ_PROFILE:-release}
flags="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
flags+=" -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table"
flags+=" -Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-sanitizer-coverage-stack-depth"
flags+=" -Cllvm-args=-simplifycfg-branch-fold-threshold=0"
case "$profile" in
  smoke)
    bindir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/debug
    # The Rust tests' core features (Makefile IMAGOR_FEATURES): they decide
    # the features of the crates under the core (hyper's server, rustface's
    # num-traits/i128), which then are the test build's own artefacts.
    build() {
      FUZZ_COVERAGE_FLAGS="$flags" RUSTC_WRAPPER="$root/core/fuzz/rustc-coverage.sh" \
        cargo build --manifest-path "$root/Cargo.toml" -p imagor-fuzz --bins \
        --features "${IMAGOR_FEATURES:-imagor/server,imagor/face,imagor/leak-hook,imagor/own-av1,imagor/own-jpeg}"
    }
    ;;
  release)
    # --target keeps RUSTFLAGS off build scripts and proc macros.
    triple=$(rustc -vV | sed -n 's/^host: //p')
    bindir="$root/core/fuzz/target/$triple/release"
    build() {
      RUSTFLAGS="$flags --cfg fuzzing ${RUSTFLAGS:-}" CARGO_TARGET_DIR="$root/core/fuzz/target" \
        cargo build --manifest-path "$root/Cargo.toml" -p imagor-fuzz --bins --target "$triple" \
        --release --config 'profile.release.codegen-units=1' --features imagor/own-av1,imagor/own-jpeg
    }
    ;;
  *) echo "run.sh: FUZZ_PROFILE is smoke or release, not $profile" >&2; exit 2 ;;
esac

if [ "$target" = build ]; then
  build
  exit
fi
case "$target" in
  path_parse | filter_args | process | avif_still) ;;
  *) echo "run.sh: unknown target $target (path_parse, filter_args, process, avif_still)" >&2; exit 2 ;;
esac

corpus="$root/target/fuzz-corpus/$target"
mkdir -p "$corpus"
if [ -z "$(ls -A "$corpus")" ]; then
  case "$target" in
    process)
      # Small testdata images with a few paths: [path length][path][image].
      python3 - "$root/testdata" "$corpus" <<'PY'
import os, sys
src, out = sys.argv[1], sys.argv[2]
paths = [b"fit-in/64x64/filters:format(png)", b"32x32/smart", b"meta/", b"fit-in/40x40/filters:blur(2):rotate(90)"]
names = sorted(os.listdir(src)) + ["avif-decoder/" + n for n in sorted(os.listdir(src + "/avif-decoder"))]
for i, name in enumerate(names):
    p = os.path.join(src, name)
    if not os.path.isfile(p) or os.path.getsize(p) > 200_000 or name.endswith((".md", ".imagor")):
        continue
    data = open(p, "rb").read()
    for j, path in enumerate(paths):
        open(os.path.join(out, f"{i:03}-{j}"), "wb").write(bytes([len(path)]) + path + data)
PY
      ;;
    avif_still)
      i=0
      while IFS= read -r f; do
        i=$((i + 1))
        cp "$f" "$corpus/$i.avif"
      done < <(find "$root/testdata" -name '*.avif' -size -200k | sort)
      ;;
    *)
      python3 - "$root/testdata/vectors/path_parse.json" "$corpus" <<'PY'
import json, os, sys
v = json.load(open(sys.argv[1]))
for i, case in enumerate(v["parse"]):
    open(os.path.join(sys.argv[2], f"{i:04}"), "w").write(case["path"])
PY
      ;;
  esac
fi
build
artifacts="$root/core/fuzz/artifacts/$target"
mkdir -p "$artifacts"
"$bindir/$target" -artifact_prefix="$artifacts/" -max_total_time="$seconds" -rss_limit_mb=2048 \
  -timeout=10 -print_final_stats=1 "$corpus" "$@"
