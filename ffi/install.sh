#!/usr/bin/env bash
# Build and install libimagor: `./ffi/install.sh PREFIX` (what `make install`
# runs). Installs
#   LIBDIR/libimagor.so.X.Y.Z, its SONAME link and libimagor.so,
#   LIBDIR/libimagor.a,
#   INCLUDEDIR/imagor.h,
#   LIBDIR/pkgconfig/imagor.pc.
# LIBDIR defaults to PREFIX/lib and INCLUDEDIR to PREFIX/include; DESTDIR
# is honoured for staged installs. The library is built with
# `cargo build --release -p imagor-ffi` into cargo's target directory
# (IMAGOR_PROFILE=dev: the debug build `make test` uses; IMAGOR_FEATURES: more
# cargo features, `make test` passes the Rust tests' ones).
set -euo pipefail

prefix=${1:-/usr/local}
case "$prefix" in /*) ;; *) prefix="$PWD/$prefix" ;; esac
libdir=${LIBDIR:-$prefix/lib}
includedir=${INCLUDEDIR:-$prefix/include}
destdir=${DESTDIR:-}
cargo=${CARGO:-cargo}

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

profile=${IMAGOR_PROFILE:-release}
features=${IMAGOR_FEATURES:-}
"$cargo" build --profile "$profile" -p imagor-ffi ${features:+--features "$features"}
target=$("$cargo" metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
dir="$target/$([ "$profile" = dev ] && echo debug || echo "$profile")"
so="$dir/libimagor.so"
a="$dir/libimagor.a"

# The version is the one the header was generated from (ffi/tests/header.rs
# keeps it equal to the crate version); the SONAME is read back from the
# library that build.rs gave it to.
version=$(sed -n 's/^#define IMAGOR_VERSION "\(.*\)"$/\1/p' include/imagor.h)
soname=$(objdump -p "$so" | awk '$1 == "SONAME" { print $2 }')
[ -n "$version" ] || { echo "install: no IMAGOR_VERSION in include/imagor.h" >&2; exit 1; }
case "$soname" in libimagor.so.*) ;; *) echo "install: $so has no libimagor SONAME" >&2; exit 1 ;; esac
real="libimagor.so.$version"

install -d "$destdir$libdir/pkgconfig" "$destdir$includedir"
install -m 0755 "$so" "$destdir$libdir/$real"
[ "$soname" = "$real" ] || ln -sfn "$real" "$destdir$libdir/$soname"
ln -sfn "$soname" "$destdir$libdir/libimagor.so"
install -m 0644 "$a" "$destdir$libdir/libimagor.a"
install -m 0644 include/imagor.h "$destdir$includedir/imagor.h"
sed -e "s|@PREFIX@|$prefix|" -e "s|@LIBDIR@|$libdir|" -e "s|@INCLUDEDIR@|$includedir|" \
  -e "s|@VERSION@|$version|" ffi/imagor.pc.in >"$destdir$libdir/pkgconfig/imagor.pc"
chmod 0644 "$destdir$libdir/pkgconfig/imagor.pc"

echo "installed libimagor $version ($soname) under $destdir$prefix"
# Refresh the loader cache for a real system install.
if [ -z "$destdir" ] && [ "$(id -u)" -eq 0 ] && command -v ldconfig >/dev/null; then
  case "$libdir" in /usr/lib | /usr/local/lib | /usr/lib64 | /usr/local/lib64) ldconfig ;; esac
fi
