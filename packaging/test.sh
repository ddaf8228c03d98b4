#!/usr/bin/env bash
# `make test-packages`: the packages of `make packages` as a user gets them.
#
# 1. Builds them (packaging/build.sh; a rerun rebuilds only what changed) and
#    checks their sizes against the budget below.
# 2. Installs the wheel into a fresh venv and the two npm tarballs into a fresh
#    app (with the test suites' own dev dependencies, sharp among them).
# 3. Hides the system libvips (a private mount namespace in which /dev/null is
#    bound over every libvips*.so* file; needs root) and there runs the whole
#    Python suite (pytest + Django) and the whole Node suite against the
#    installed packages. Tests that need a codec this libvips lacks ask
#    formats() and check the 406 instead. The Node panic test needs an addon
#    built with the `test-hooks` feature, which a shipped package is not: it
#    reports itself skipped; `make test-node` runs it.
# 4. Runs the hostile corpus in process through the installed wheel, on the
#    codecs of its libvips (tests/hostile_in_process.py).
# 5. Checks /proc/PID/maps: only the bundled libvips is mapped (with the system
#    one visible too), and one Node process with sharp and imagor maps exactly
#    one libvips, shared, and both work.
#
# `packaging/test.sh prepare` makes the fresh environments of step 2 without the
# packages (the test tools in the venv, the suites' dev dependencies in the
# app) and stops; `packaging/test.sh --prepared` then uses them. `make test`
# prepares while the packages are still building in the background.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# shellcheck source=libvips.env
. packaging/libvips.env

# Size budget (bytes): today's sizes with room for growth; a jump past them
# means something unintended got in (debug info, a second library).
WHEEL_MAX=$((18 * 1024 * 1024))   # the library (~7.5 MB compressed) and the extension (~7 MB)
ADDON_TGZ_MAX=$((9 * 1024 * 1024))  # the stripped addon (~7 MB); libvips is a dependency
JS_TGZ_MAX=$((256 * 1024))         # JavaScript and type declarations

[ "$(id -u)" = 0 ] || { echo "test-packages: needs root (mount namespace)" >&2; exit 1; }

work="$root/target/packaging"
out="$root/target/packages"
pyenv="$work/test-venv"
app="$work/test-app"

# Step 2's environments, as far as they go without the packages: a fresh venv
# with the test tools, a fresh app with the suites' dev dependencies at the
# versions bindings/node/package-lock.json pins.
prepare() {
  rm -rf "$pyenv" "$app"
  python3 -m venv "$pyenv"
  "$pyenv/bin/pip" install -q --disable-pip-version-check \
    pytest django libthumbor django-thumbor mypy typing_extensions numpy
  mkdir -p "$app"
  cp -r bindings/node/test "$app/test"
  app_manifest
  (cd "$app" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error)
}
# The app's package.json: the dev dependencies, and the packages when given.
app_manifest() {
  python3 - "$app/package.json" "$@" <<'PY'
import json, sys
path, packages = sys.argv[1], sys.argv[2:]
lock = json.load(open("bindings/node/package-lock.json"))["packages"]
dev = json.load(open("bindings/node/package.json"))["devDependencies"]
deps = {name: lock[f"node_modules/{name}"]["version"] for name in dev if name != "@napi-rs/cli"}
if packages:
    addon, js = packages
    deps["imagor"] = f"file:{js}"
    deps["imagor-linux-x64-gnu"] = f"file:{addon}"
json.dump({"name": "imagor-package-test", "private": True, "dependencies": deps}, open(path, "w"), indent=2)
PY
}
# A prepared pair serves one run only: a second would install the packages
# over the first run's.
fresh="$work/test-environments-fresh"
case "${1:-}" in
  prepare) prepare; touch "$fresh"; echo "test-packages: environments prepared"; exit 0 ;;
  --prepared) rm "$fresh" 2>/dev/null ||
    { echo "test-packages: run packaging/test.sh prepare first" >&2; exit 1; } ;;
  "") prepare ;;
  *) echo "usage: packaging/test.sh [prepare | --prepared]" >&2; exit 2 ;;
esac

./packaging/build.sh

whl="$(ls "$out"/imagor_rs-*.whl)"
addon_tgz="$(ls "$out"/imagor-linux-x64-gnu-*.tgz)"
js_tgz="$(ls "$out"/imagor-[0-9]*.tgz)"

size_ok() {
  local file="$1" max="$2" size
  size="$(stat -c %s "$file")"
  printf 'test-packages: %-60s %9d bytes (budget %d)\n' "$(basename "$file")" "$size" "$max"
  [ "$size" -le "$max" ] || { echo "test-packages: $(basename "$file") is over its size budget" >&2; return 1; }
}
size_ok "$whl" "$WHEEL_MAX"
size_ok "$addon_tgz" "$ADDON_TGZ_MAX"
size_ok "$js_tgz" "$JS_TGZ_MAX"

# The wheel's and the platform package's contents: licences, notices, one
# library, stripped binaries.
python3 - "$whl" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
for want in ("LGPL-3.0.txt", "GPL-3.0.txt", "THIRD-PARTY-NOTICES.md", "RUST-CRATES-NOTICES.md"):
    assert any(n.endswith(".dist-info/licenses/" + want) for n in names), f"wheel lacks {want}"
wheel = zipfile.ZipFile(sys.argv[1])
crates = wheel.read(next(n for n in names if n.endswith("/RUST-CRATES-NOTICES.md"))).decode()
for crate in ("pyo3", "reqwest", "ring", "resvg"):
    assert f"\n| {crate} |" in crates, f"the wheel's crate notices lack {crate}"
assert "\n| napi |" not in crates, "the wheel's crate notices list the Node addon's crates"
libs = [n for n in names if n.startswith("imagor_rs.libs/")]
assert len(libs) == 1 and "libvips-cpp" in libs[0], libs
PY
addon_files="$(tar -tzf "$addon_tgz")"
for want in THIRD-PARTY-NOTICES.md RUST-CRATES-NOTICES.md LGPL-3.0.txt GPL-3.0.txt imagor.linux-x64-gnu.node; do
  grep -qx "package/$want" <<<"$addon_files" || { echo "test-packages: the addon tarball lacks $want" >&2; exit 1; }
done
addon_crates="$(tar -xzOf "$addon_tgz" package/RUST-CRATES-NOTICES.md)"
for crate in napi reqwest ring resvg; do
  grep -q "^| $crate |" <<<"$addon_crates" || { echo "test-packages: the addon's crate notices lack $crate" >&2; exit 1; }
done
if tar -tzf "$js_tgz" | grep '\.node$'; then
  echo "test-packages: the imagor tarball carries an addon" >&2
  exit 1
fi

# The object-storage tests start a local S3 server (s3s-fs); `make test` has built it
# by now (tests/services/s3.sh install is a no-op then).
./tests/services/s3.sh install

# --- the packages into the fresh environments ------------------------------
"$pyenv/bin/pip" install -q --disable-pip-version-check "$whl"
app_manifest "$addon_tgz" "$js_tgz"
(cd "$app" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error)
libvips_dir="$app/node_modules/@img/sharp-libvips-linux-x64/lib"
[ -f "$libvips_dir/$LIBVIPS_SONAME" ] || { echo "test-packages: npm did not install the libvips package" >&2; exit 1; }

# --- which libvips is mapped --------------------------------------------------
maps_py='
import imagor, pathlib, sys
assert imagor.process(open(sys.argv[1], "rb").read(), "fit-in/40x40/filters:format(webp)")
libs = {l.split()[-1] for l in open("/proc/self/maps") if "libvips" in l}
want = pathlib.Path(imagor.__file__).parent.parent / "imagor_rs.libs"
assert len(libs) == 1 and pathlib.Path(next(iter(libs))).parent == want, libs
print("test-packages: python maps only", *libs)
'
maps_js='
const imagor = require("imagor"), sharp = require("sharp"), fs = require("node:fs")
const input = fs.readFileSync(process.argv[1])
;(async () => {
  const a = await imagor.process(input, "fit-in/40x40/filters:format(webp)")
  const b = await sharp(input).resize(40, 40, { fit: "inside" }).webp().toBuffer()
  const [ma, mb] = [await imagor.meta(a), await sharp(b).metadata()]
  if (ma.width !== mb.width || ma.height !== mb.height) throw new Error(`sizes differ: ${ma.width}x${ma.height} ${mb.width}x${mb.height}`)
  const libs = new Set(fs.readFileSync("/proc/self/maps", "utf8").split("\n").filter((l) => l.includes("libvips")).map((l) => l.split(/\s+/).pop()))
  const want = fs.realpathSync(require.resolve("@img/sharp-libvips-linux-x64/binary"))
  if (libs.size !== 1 || !libs.has(want)) throw new Error(`mapped: ${[...libs]}`)
  console.log("test-packages: node (imagor and sharp) maps only", want, "libvips", imagor.versions().vips)
})().catch((e) => { console.error(e); process.exit(1) })
'
gopher="$root/testdata/gopher.png"
# With the system libvips in plain sight: the rpaths win.
"$pyenv/bin/python" -c "$maps_py" "$gopher"
(cd "$app" && node -e "$maps_js" "$gopher")

# --- the hostile corpus, on the codecs of the bundled libvips -----------------
# Its writer is the Rust tests' (under `make test`, the build test-rust made; it
# links the system libvips, so this runs before that is hidden: the rpath alone
# makes the wheel load its own libvips, as the maps check above shows).
if [ "${IMAGOR_PRUNE_TESTS:-0}" = 1 ]; then
  # CI: test-rust built it and deleted the test executables it ran, which
  # `cargo test --no-run` would link all again (.ci/prune-tests.sh).
  [ -x "$root/target/debug/hostile-corpus" ]
elif [ -n "${RUST_TEST_ARGS:-}" ]; then
  # shellcheck disable=SC2086 # a list of arguments
  cargo test --no-run -q $RUST_TEST_ARGS
else
  cargo build -q -p imagor-tests --bin hostile-corpus
fi
"$pyenv/bin/python" tests/hostile_in_process.py "$root/target/debug/hostile-corpus"

# --- the suites, with the system libvips hidden ------------------------------
hidden="$(find /usr/lib /usr/local/lib -name 'libvips*.so*' -type f 2>/dev/null || true)"
echo "test-packages: hiding $(echo "$hidden" | grep -c . || true) system libvips file(s)"
export IMAGOR_REPO_ROOT="$root" PYENV="$pyenv" APP="$app" GOPHER="$gopher" MAPS_PY="$maps_py" MAPS_JS="$maps_js"
export HIDDEN="$hidden"
unshare -m --propagation private bash -euo pipefail -c '
  for f in $HIDDEN; do mount --bind /dev/null "$f"; done
  if [ -n "$HIDDEN" ]; then
    if python3 -c "import ctypes; ctypes.CDLL(\"libvips.so.42\")" 2>/dev/null; then
      echo "test-packages: the system libvips is still loadable" >&2; exit 1
    fi
  fi
  "$PYENV/bin/python" -c "$MAPS_PY" "$GOPHER"
  (cd "$APP" && node -e "$MAPS_JS" "$GOPHER")
  # The two suites side by side (each mostly on one core), each into its own
  # log, shown whole when it ends.
  # (`&&`: errexit does not hold in a function whose status is tested.)
  python_suite() {
    cd "$IMAGOR_REPO_ROOT/bindings/python" &&
      "$PYENV/bin/python" -m pytest -q -p no:cacheprovider tests &&
      cd tests &&
      DJANGO_SETTINGS_MODULE=django_project.settings "$PYENV/bin/python" -m django test django_project
  }
  node_suite() {
    cd "$APP" && node --test test/*.test.mjs
  }
  logs=$(mktemp -d)
  trap "rm -rf $logs" EXIT
  (python_suite) >"$logs/python" 2>&1 &
  py=$!
  node_status=0
  (node_suite) >"$logs/node" 2>&1 || node_status=$?
  py_status=0
  wait $py || py_status=$?
  echo "test-packages: Python suite against the wheel (exit $py_status)"
  cat "$logs/python"
  echo "test-packages: Node suite against the npm tarballs (exit $node_status)"
  cat "$logs/node"
  [ $py_status = 0 ] && [ $node_status = 0 ]
'
echo "test-packages: ok"
