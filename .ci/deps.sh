#!/usr/bin/env bash
# Install what imagor-rs needs on a fresh Debian/Ubuntu machine, skipping
# what is already there. Called by `make run` / `make test`.
set -euo pipefail

packages=(libvips-dev libvips-tools pkg-config fonts-dejavu-core build-essential python3-venv valgrind clang nasm meson ninja-build)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "deps: a Rust toolchain (cargo) is required: https://rustup.rs" >&2; exit 1; }
pkg-config --atleast-version=8.12 vips || { echo "deps: libvips >= 8.12 is required" >&2; exit 1; }
