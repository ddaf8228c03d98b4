#!/usr/bin/env bash
# After `make test-rust` in CI (IMAGOR_PRUNE_TESTS=1, set by .ci/run): delete
# the integration-test executables it ran, which no later stage uses (test-c
# runs only imagor-ffi's, kept). They are about 3 GB of the 8 GB a clean
# `make test` leaves under target/; the stages after them add 2.5 GB, so the
# run's peak stays where test-rust ends. A later `make test` links them again.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC2086 # RUST_TEST_ARGS is a list of arguments
cargo test --no-run -q $RUST_TEST_ARGS --message-format=json 2>/dev/null |
	python3 -c '
import json, os, sys
freed = 0
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    exe = m.get("executable")
    if m.get("reason") != "compiler-artifact" or not exe or m["target"]["kind"] != ["test"]:
        continue
    if os.sep + "ffi" + os.sep in m["manifest_path"]:
        continue
    if os.path.isfile(exe):
        freed += os.path.getsize(exe)
        os.remove(exe)
print(f"### pruned the integration-test executables: {freed / 2**30:.1f} GB")
'
