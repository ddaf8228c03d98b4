#!/usr/bin/env bash
# A real S3 server on 127.0.0.1 for tests: s3s-fs, the s3s project's
# file-system S3 server (Apache-2.0), which checks SigV4 signatures.
#
#   s3.sh install      build s3s-fs once (a debug build without debug info,
#                      cached in ~/.cargo/bin; ~1.5 min on 2 cores) unless
#                      it is on PATH or $S3S_FS_BIN names it
#   s3.sh start DIR    start a fresh server in DIR (free loopback port, one
#                      random key, bucket `imagor`); write DIR/env (shell
#                      `export` lines: S3_ENDPOINT, AWS_ACCESS_KEY_ID,
#                      AWS_SECRET_ACCESS_KEY, AWS_REGION, S3_BUCKET, S3_PID)
#                      and print it
#   s3.sh stop DIR     stop that server and remove DIR
#
# Buckets are directories under DIR/data; addressing is path-style
# (http://127.0.0.1:PORT/bucket/key); any region is accepted.
set -euo pipefail

# The last s3s-fs release that builds with the toolchain we require.
VERSION=0.14.1

server_bin() {
  if [ -n "${S3S_FS_BIN:-}" ]; then echo "$S3S_FS_BIN"; return; fi
  if command -v s3s-fs >/dev/null 2>&1; then command -v s3s-fs; return; fi
  echo "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs"
}

install() {
  local bin; bin=$(server_bin)
  if [ -x "$bin" ]; then return; fi
  echo "s3.sh: building s3s-fs $VERSION once (cargo install, debug, no debug info)" >&2
  CARGO_PROFILE_DEV_DEBUG=0 cargo install s3s-fs --version "$VERSION" --features binary \
    --locked --quiet --debug
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start() {
  local dir=$1 bin; bin=$(server_bin)
  [ -x "$bin" ] || { echo "s3.sh: no s3s-fs binary ($bin); run: $0 install" >&2; exit 1; }
  rm -rf "$dir"; mkdir -p "$dir/data/imagor"
  local port key secret
  port=$(free_port)
  key="AK$(head -c 10 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  secret=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
  RUST_LOG=warn setsid "$bin" --host 127.0.0.1 --port "$port" --access-key "$key" \
    --secret-key "$secret" "$dir/data" >"$dir/s3.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$dir/pid"
  local i
  for i in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    kill -0 "$pid" 2>/dev/null || { cat "$dir/s3.log" >&2; exit 1; }
    sleep 0.05
  done
  cat >"$dir/env" <<ENV
export S3_ENDPOINT=http://127.0.0.1:$port
export AWS_ACCESS_KEY_ID=$key
export AWS_SECRET_ACCESS_KEY=$secret
export AWS_REGION=us-east-1
export S3_BUCKET=imagor
export S3_PID=$pid
ENV
  cat "$dir/env"
}

stop() {
  local dir=$1
  if [ -f "$dir/pid" ]; then
    local pid; pid=$(cat "$dir/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  install) install ;;
  start) start "${2:?DIR}" ;;
  stop) stop "${2:?DIR}" ;;
  *) echo "usage: $0 install | start DIR | stop DIR" >&2; exit 2 ;;
esac
