#!/usr/bin/env bash
# Fuzz imagor with cargo-fuzz (libFuzzer) on the stable toolchain.
#
#   core/fuzz/run.sh TARGET [SECONDS] [-- LIBFUZZER ARGS...]
#
# TARGET is path_parse, filter_args or process. The seed corpus comes from
# testdata (images for `process`, vector paths for the parsers) and lives
# in target/fuzz-corpus/TARGET; findings go to core/fuzz/artifacts/TARGET.
# cargo-fuzz needs nightly flags (-Z sanitizer); RUSTC_BOOTSTRAP=1 lets the
# stable compiler accept them. `make test` runs each target for a few
# seconds (`make fuzz-smoke`); longer runs are recorded in README.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${1:?usage: run.sh TARGET [SECONDS] [-- ARGS]}
seconds=${2:-20}
shift $(( $# >= 2 ? 2 : 1 ))
[ "${1:-}" = "--" ] && shift
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2

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
for i, name in enumerate(sorted(os.listdir(src))):
    p = os.path.join(src, name)
    if not os.path.isfile(p) or os.path.getsize(p) > 200_000 or name.endswith((".md", ".imagor")):
        continue
    data = open(p, "rb").read()
    for j, path in enumerate(paths):
        open(os.path.join(out, f"{i:03}-{j}"), "wb").write(bytes([len(path)]) + path + data)
PY
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
cd "$root/core"
# FUZZ_CODEGEN_UNITS: cargo fuzz builds release fuzzers with one codegen
# unit per crate (faster fuzzing, much slower builds); `make fuzz-smoke`,
# which fuzzes for seconds, asks for 16.
cargo fuzz run --sanitizer none -O ${FUZZ_CODEGEN_UNITS:+--codegen-units "$FUZZ_CODEGEN_UNITS"} "$target" "$corpus" -- \
  -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 "$@"
