#!/usr/bin/env bash
# `make test-c`: the C ABI end to end, from a clean clone.
#
#  1. Rust side of the ABI: unit tests, the header drift check
#     (ffi/tests/header.rs) and the panic-strategy check.
#  2. `ffi/install.sh` into a temporary prefix (TARGET/c-prefix): the
#     IMAGOR_PROFILE build (release; `dev` under `make test`), libimagor.so +
#     SONAME links, libimagor.a, imagor.h, imagor.pc.
#  3. The C tests in tests/c/ compiled with `-std=c11 -Wall -Wextra -Werror`
#     against the *installed* header and library, through
#     `pkg-config --cflags --libs imagor`; one also linked statically from
#     libimagor.a with `pkg-config --static`.
#  4. Each test run plainly, under AddressSanitizer (+ LeakSanitizer), and
#     under valgrind memcheck (fewer iterations: IMAGOR_TEST_ITERATIONS).
#
# Environment: CC (default cc), ASAN_CC (default gcc), CARGO, VALGRIND_ITERATIONS (10).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cargo=${CARGO:-cargo}
cc=${CC:-cc}
asan_cc=${ASAN_CC:-gcc}
valgrind_iterations=${VALGRIND_ITERATIONS:-10}
tests=(vectors process errors threads http_loader detectors)
start=$SECONDS
runs_passed=0
runs_failed=0
failures=()

step() { printf '\n== %s (%ds)\n' "$*" $((SECONDS - start)); }

# Run one test program; record the outcome instead of stopping at the first failure.
run() {
  local name=$1
  shift
  if "$@"; then
    runs_passed=$((runs_passed + 1))
  else
    runs_failed=$((runs_failed + 1))
    failures+=("$name")
    echo "FAILED: $name" >&2
  fi
}

step "Rust side: unit tests, header drift, panic strategy"
# The package selection and features of `make test-rust` (Makefile
# RUST_TEST_ARGS), so that after it this step reuses its build.
# shellcheck disable=SC2086 # a list of arguments
"$cargo" test ${RUST_TEST_ARGS:---workspace --exclude imagor-python --exclude imagor-node --exclude imagor-fuzz --features imagor/server,imagor/face,imagor/leak-hook,imagor/own-av1,imagor/own-jpeg} \
  --lib --test header --test panic_strategy

step "install into a temporary prefix"
target=$("$cargo" metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
prefix="$target/c-prefix"
bin="$target/c-tests"
rm -rf "$prefix" "$bin"
mkdir -p "$bin"
./ffi/install.sh "$prefix"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
pkg-config --exists imagor || { echo "imagor.pc not found under $prefix" >&2; exit 1; }
cflags=$(pkg-config --cflags imagor)
libs=$(pkg-config --libs imagor)
echo "pkg-config --libs imagor: $libs"
[ "$(objdump -p "$prefix/lib/libimagor.so" | awk '$1 == "SONAME" { print $2 }')" = "$(readlink "$prefix/lib/libimagor.so")" ] ||
  { echo "libimagor.so does not point at its SONAME" >&2; exit 1; }
# The library's dynamic symbols are exactly the header's functions: no
# dependency's own C exports (crc-fast's `crc_fast_*` were there) or data,
# none missing. Declarations are read outside the header's comments.
exported=$(nm -D --defined-only "$prefix/lib/libimagor.so" | awk '{ print $3 }' | sort)
declared=$(grep -vE '^[[:space:]]*(\*|/\*|//)' "$prefix/include/imagor.h" |
  grep -oE '\bimagor_[a-z0-9_]+\(' | tr -d '(' | sort -u)
[ "$exported" = "$declared" ] ||
  { echo "libimagor.so exports other functions than imagor.h declares:" >&2; diff <(echo "$declared") <(echo "$exported") >&2; exit 1; }

step "compile the C tests against the installed header ($cc, $asan_cc -fsanitize=address)"
warn=(-std=c11 -Wall -Wextra -Werror -O1 -g -pthread)
rpath="-Wl,-rpath,$prefix/lib"
for t in "${tests[@]}"; do
  # shellcheck disable=SC2086 # pkg-config output is a list of flags
  "$cc" "${warn[@]}" "tests/c/$t.c" -o "$bin/$t" $cflags $libs "$rpath"
  # shellcheck disable=SC2086
  "$asan_cc" "${warn[@]}" -fsanitize=address -fno-omit-frame-pointer "tests/c/$t.c" -o "$bin/$t-asan" \
    $cflags $libs "$rpath"
  nm "$bin/$t-asan" | grep -q __asan_init || { echo "$t-asan is not instrumented" >&2; exit 1; }
done
# The static library: libimagor.a plus what `pkg-config --static` lists.
# With gold where the toolchain has it: GNU ld takes 35 s over the debug
# build's 280 MB archive, gold 3 s.
static_libs=$(pkg-config --static --libs imagor)
static_libs=${static_libs/-limagor/-Wl,-Bstatic -limagor -Wl,-Bdynamic}
linker=()
"$cc" -fuse-ld=gold -Wl,--version >/dev/null 2>&1 && linker=(-fuse-ld=gold)
# shellcheck disable=SC2086
"$cc" "${warn[@]}" tests/c/process.c -o "$bin/process-static" $cflags $static_libs "${linker[@]}"
if objdump -p "$bin/process-static" | grep -q 'NEEDED.*libimagor'; then
  echo "process-static still needs libimagor.so" >&2
  exit 1
fi
if command -v clang >/dev/null && [ "$cc" != clang ]; then
  for t in "${tests[@]}"; do
    # shellcheck disable=SC2086
    clang "${warn[@]}" -fsyntax-only "tests/c/$t.c" $cflags
  done
  echo "clang -Werror: clean"
fi

export IMAGOR_TESTDATA="$root/testdata"

step "run"
for t in "${tests[@]}"; do
  run "$t" "$bin/$t"
done
run process-static "$bin/process-static"

step "run under AddressSanitizer and LeakSanitizer"
for t in "${tests[@]}"; do
  ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1" \
    LSAN_OPTIONS="suppressions=$root/tests/c/lsan.supp:print_suppressions=0" \
    run "$t (asan)" "$bin/$t-asan"
done

step "run under valgrind memcheck (IMAGOR_TEST_ITERATIONS=$valgrind_iterations)"
command -v valgrind >/dev/null || { echo "valgrind is required (make deps installs it)" >&2; exit 1; }
for t in "${tests[@]}"; do
  log="$bin/$t.valgrind.log"
  # Definite leaks count as errors; errors exit with 99.
  if IMAGOR_TEST_ITERATIONS=$valgrind_iterations IMAGOR_TEST_OPTIONS='"process_timeout":"0s"' valgrind --log-file="$log" \
    --error-exitcode=99 --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
    --suppressions="$root/tests/c/valgrind.supp" --num-callers=40 "$bin/$t"; then
    runs_passed=$((runs_passed + 1))
    errors=$(grep -ho 'ERROR SUMMARY: [0-9,]* errors' "$log" | cut -d' ' -f3-)
    lost=$(grep -ho 'definitely lost: [0-9,]* bytes' "$log" | cut -d' ' -f3-)
    echo "valgrind $t: $errors, ${lost:-0 bytes} definitely lost"
  else
    runs_failed=$((runs_failed + 1))
    failures+=("$t (valgrind)")
    echo "FAILED: $t under valgrind; log: $log" >&2
    cat "$log" >&2
  fi
done

step "S3 through the C API against s3s-fs (plain and AddressSanitizer runs)"
s3_dir="$target/c-s3"
./tests/services/s3.sh install
# shellcheck disable=SC1090 # the env file s3.sh writes
source <(./tests/services/s3.sh start "$s3_dir")
trap './tests/services/s3.sh stop "$s3_dir"' EXIT
# shellcheck disable=SC2086
"$cc" "${warn[@]}" tests/c/object_storage.c -o "$bin/object_storage" $cflags $libs "$rpath"
# shellcheck disable=SC2086
"$asan_cc" "${warn[@]}" -fsanitize=address -fno-omit-frame-pointer tests/c/object_storage.c \
  -o "$bin/object_storage-asan" $cflags $libs "$rpath"
run object_storage "$bin/object_storage"
# The network runtime's threads live until exit: no leak check there.
ASAN_OPTIONS="detect_leaks=0:halt_on_error=1" run "object_storage (asan)" "$bin/object_storage-asan"
./tests/services/s3.sh stop "$s3_dir"
trap - EXIT

step "done"
if [ ${#failures[@]} -gt 0 ]; then
  printf 'failed: %s\n' "${failures[@]}" >&2
fi
echo "test-c: $runs_passed passed, $runs_failed failed"
[ "$runs_failed" -eq 0 ]
