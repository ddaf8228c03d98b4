#!/usr/bin/env bash
# `make fuzz-smoke`: each fuzz target for SECONDS (default 15) in the smoke
# build (core/fuzz/run.sh), two at a time: libFuzzer runs one thread, and
# one after another the four left a core idle for a minute. Each run's
# output goes to target/fuzz-smoke/TARGET.log and is printed when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-15}
logs=target/fuzz-smoke
mkdir -p "$logs"
export FUZZ_PROFILE=smoke
./core/fuzz/run.sh build
status=0
run_pair() {
	local pids=() t
	for t in "$@"; do
		./core/fuzz/run.sh "$t" "$seconds" >"$logs/$t.log" 2>&1 &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		t=${*:i+1:1}
		if wait "${pids[$i]}"; then
			echo "### fuzz $t: ok"
		else
			echo "### fuzz $t: FAILED (core/fuzz/artifacts/$t has the input)"
			status=1
		fi
		cat "$logs/$t.log"
	done
}
run_pair path_parse filter_args
run_pair process avif_still
exit "$status"
