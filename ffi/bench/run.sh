#!/usr/bin/env bash
# The C side of `make bench`: imagor_process vs libvips' C API doing the
# same 512x512 thumbnail + save, in one C program (ffi/bench/bench.c),
# alternating, per format. A benchmark, not a test: it prints a table (also
# written to TARGET/bench/c.md) and fails only when something breaks.
#
# usage: ffi/bench/run.sh PYTHON_VENV CORPUS_DIR
#   PYTHON_VENV  a venv with pyvips, used to make the corpus when missing
#   CORPUS_DIR   jpeg/ png/ webp/ avif/ folders of 2-12 MP images
#                (core/benches/make_corpus.py)
# Environment: CC (cc), BENCH_SECONDS (3 per side per round), BENCH_ROUNDS (5),
# BENCH_FORMATS (jpeg,png,webp,avif).
set -euo pipefail

venv=${1:?usage: ffi/bench/run.sh PYTHON_VENV CORPUS_DIR}
corpus=${2:?usage: ffi/bench/run.sh PYTHON_VENV CORPUS_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cargo=${CARGO:-cargo}
cc=${CC:-cc}
seconds=${BENCH_SECONDS:-3}
rounds=${BENCH_ROUNDS:-5}
IFS=, read -r -a formats <<<"${BENCH_FORMATS:-jpeg,png,webp,avif}"

if [ ! -d "$corpus/jpeg" ]; then
  "$venv/bin/python" core/benches/make_corpus.py "$corpus"
fi

target=$("$cargo" metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
prefix="$target/bench-c-prefix"
./ffi/install.sh "$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
mkdir -p "$target/bench"
# shellcheck disable=SC2046 # pkg-config output is a list of flags
"$cc" -std=c11 -O2 -Wall -Wextra -Werror ffi/bench/bench.c -o "$target/bench/c-bench" \
  $(pkg-config --cflags --libs imagor vips) -Wl,-rpath,"$prefix/lib"

results=()
for fmt in "${formats[@]}"; do
  line=$("$target/bench/c-bench" "$corpus" "$fmt" "$seconds" "$rounds")
  echo "$line"
  results+=("$line")
done

printf '%s\n' "${results[@]}" | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
out = ["| format | imagor_process ops/s | libvips C API ops/s | ratio (imagor / libvips) |",
       "|---|---|---|---|"]
for r in rows:
    out.append("| %s | %.2f | %.2f | %.3fx |" % (r["format"], r["imagor_ops_per_s"], r["vips_ops_per_s"], r["ratio"]))
text = "\n".join(out) + "\n"
print()
print("C ABI vs libvips (1 thread, 512x512 centre crop, median of rounds):")
print(text, end="")
open(sys.argv[1], "w").write(text)
' "$target/bench/c.md"
