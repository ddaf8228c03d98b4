#!/usr/bin/env bash
# RUSTC_WRAPPER of the smoke fuzz build (core/fuzz/run.sh): the coverage
# flags in FUZZ_COVERAGE_FLAGS, opt-level 1 and `--cfg fuzzing` go to the
# core built with its `fuzzing` feature and to the fuzz targets only. Every
# other crate compiles exactly as in `make test-rust`'s dev build, whose
# artifacts it therefore reuses (cargo does not fingerprint the wrapper;
# the feature gives the instrumented core its own artifact).
set -euo pipefail
rustc=$1
shift
args=" $* "
case "$args" in
  *" --crate-name imagor "*'feature="fuzzing"'* | *" --crate-name path_parse "* | \
    *" --crate-name filter_args "* | *" --crate-name process "*)
    # shellcheck disable=SC2086 # FUZZ_COVERAGE_FLAGS is a list of flags
    exec "$rustc" "$@" $FUZZ_COVERAGE_FLAGS -Copt-level=1 --cfg fuzzing
    ;;
esac
exec "$rustc" "$@"
