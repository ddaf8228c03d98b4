#!/usr/bin/env bash
# Fetch npm's @img/sharp-libvips-linux-x64 (the version packaging/libvips.env
# pins) into target/packaging/ once, check it against its pinned integrity,
# and print the directory that holds its one library. Used by
# packaging/build.sh (the packages) and .ci/bench.sh (the 8.18 flavour).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# shellcheck source=libvips.env
. packaging/libvips.env
lv="$root/target/packaging/sharp-libvips-$SHARP_LIBVIPS_VERSION"
libdir="$lv/package/lib"
if [ ! -f "$libdir/$LIBVIPS_SONAME" ]; then
  echo "packages: fetching @img/sharp-libvips-linux-x64@$SHARP_LIBVIPS_VERSION" >&2
  rm -rf "$lv" && mkdir -p "$lv"
  (cd "$lv" && npm pack --silent --json "@img/sharp-libvips-linux-x64@$SHARP_LIBVIPS_VERSION" >pack.json)
  got="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["integrity"])' "$lv/pack.json")"
  [ "$got" = "$SHARP_LIBVIPS_INTEGRITY" ] || {
    echo "packages: integrity mismatch for the libvips tarball: $got" >&2
    exit 1
  }
  tar -xzf "$lv"/img-sharp-libvips-linux-x64-*.tgz -C "$lv"
  [ -f "$libdir/$LIBVIPS_SONAME" ] || { echo "packages: $LIBVIPS_SONAME not in the tarball" >&2; exit 1; }
fi
echo "$libdir"
