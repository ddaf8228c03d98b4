#!/usr/bin/env bash
# `make test-hostile`: every case of the hostile corpus in its own process,
# through the CLI, the C ABI, Python and Node, each within 2 s and 512 MB
# of peak RSS, ending in an image or a typed error, with a clean stderr;
# a loopback canary must see no connection (tests/hostile_processes.py).
#
# Needs what `make test-c`, `make test-python` and `make test-node` build:
# the installed libimagor (target/c-prefix), the wheel in
# bindings/python/.venv and the addon in bindings/node.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo=${CARGO:-cargo}
target=$("$cargo" metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

# IMAGOR_PROFILE (Makefile): `dev` under `make test` (what test-rust built),
# release by default.
profile=${IMAGOR_PROFILE:-release}
bindir="$target/$([ "$profile" = dev ] && echo debug || echo "$profile")"
if [ "$profile" = dev ] && [ -n "${RUST_TEST_ARGS:-}" ]; then
  # Under make test: the CLI and the corpus writer that `make test-rust`'s
  # build made (the same packages and features), instead of compiling the
  # core once more for another feature set.
  # shellcheck disable=SC2086 # a list of arguments
  "$cargo" test --no-run -q $RUST_TEST_ARGS
else
  "$cargo" build --profile "$profile" -q -p imagor --features server --bin imagor
  "$cargo" build --profile "$profile" -q -p imagor-tests --bin hostile-corpus
fi

prefix="$target/c-prefix"
./ffi/install.sh "$prefix" >/dev/null
mkdir -p "$target/c-tests"
${CC:-cc} -std=c11 -Wall -Wextra -Werror -O1 tests/c/hostile_runner.c -o "$target/c-tests/hostile_runner" \
  -I"$prefix/include" -L"$prefix/lib" -limagor "-Wl,-rpath,$prefix/lib"

python="$root/bindings/python/.venv/bin/python"
"$python" -c 'import imagor' || { echo "test-hostile: run make test-python first" >&2; exit 1; }
ls bindings/node/imagor.*.node >/dev/null || { echo "test-hostile: run make test-node first" >&2; exit 1; }

# A loopback listener that records connections: SVG references point at it.
canary_log="$target/hostile-canary.log"
: >"$canary_log"
python3 - "$canary_log" <<'PY' &
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
open(sys.argv[1] + ".port", "w").write(str(s.getsockname()[1]))
while True:
    c, _ = s.accept()
    open(sys.argv[1], "a").write("hit\n")
    c.close()
PY
canary_pid=$!
trap 'kill $canary_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$canary_log.port" ] && break; sleep 0.1; done
port=$(cat "$canary_log.port")

corpus="$target/hostile-corpus"
rm -rf "$corpus"
"$bindir/hostile-corpus" "$corpus" "$port"

py_runner='import sys, imagor
data = open(sys.argv[1], "rb").read()
try:
    out = imagor.process(data, sys.argv[2])
    print("ok", len(out))
except imagor.ImagorError as e:
    print("error", e.status, e.code)'
node_runner="const { process: run } = require('$root/bindings/node');
const data = require('fs').readFileSync(process.argv[1]);
run(data, process.argv[2]).then(
  (out) => console.log('ok', out.length),
  (e) => { if (e && e.status) console.log('error', e.status, e.code); else { console.error(e); process.exit(3) } })"

sep=$'\x1f'
status=0
python3 tests/hostile_processes.py "$corpus" \
  "cli=$bindir/imagor" \
  "c=$target/c-tests/hostile_runner" \
  "python=$python${sep}-c${sep}$py_runner" \
  "node=node${sep}-e${sep}$node_runner${sep}--" || status=1

hits=$(wc -l <"$canary_log")
if [ "$hits" -ne 0 ]; then
  echo "test-hostile: the loopback canary saw $hits connection(s)" >&2
  status=1
fi
exit $status
