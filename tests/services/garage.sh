#!/usr/bin/env bash
# A single-node Garage (S3-compatible object store) on 127.0.0.1 for tests.
#
#   garage.sh install      build garage once (a debug build with only the
#                          sqlite metadata engine, cached in ~/.cargo/bin)
#                          unless it is on PATH or $GARAGE_BIN names it
#   garage.sh start DIR    start a fresh node in DIR (sqlite metadata, free
#                          loopback ports), create bucket `imagor` and a key
#                          allowed on it; write DIR/env (shell `export` lines:
#                          S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
#                          AWS_REGION, S3_BUCKET, GARAGE_PID) and print it
#   garage.sh stop DIR     stop that node and remove DIR
#
# Region is `garage`; addressing is path-style (http://127.0.0.1:PORT/bucket/key).
set -euo pipefail

garage_bin() {
  if [ -n "${GARAGE_BIN:-}" ]; then echo "$GARAGE_BIN"; return; fi
  if command -v garage >/dev/null 2>&1; then command -v garage; return; fi
  echo "${CARGO_HOME:-$HOME/.cargo}/bin/garage"
}

install() {
  local bin; bin=$(garage_bin)
  if [ -x "$bin" ]; then return; fi
  echo "garage.sh: building Garage once (cargo install garage, debug, sqlite only; several minutes)" >&2
  # Tests need S3 on one node: a debug build without LMDB, K2V and metrics
  # builds in a fraction of the release build's time (measured in README).
  cargo install garage --locked --quiet --debug --no-default-features --features bundled-libs,sqlite
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start() {
  local dir=$1 bin; bin=$(garage_bin)
  [ -x "$bin" ] || { echo "garage.sh: no garage binary ($bin); run: $0 install" >&2; exit 1; }
  rm -rf "$dir"; mkdir -p "$dir/meta" "$dir/data"
  local s3 rpc admin
  s3=$(free_port); rpc=$(free_port); admin=$(free_port)
  cat > "$dir/garage.toml" <<TOML
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$s3"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$admin"
TOML
  local g="$bin -c $dir/garage.toml"
  RUST_LOG=warn setsid "$bin" -c "$dir/garage.toml" server >"$dir/garage.log" 2>&1 < /dev/null &
  local pid=$!
  echo "$pid" > "$dir/pid"
  local i
  for i in $(seq 1 300); do
    if $g status >/dev/null 2>&1; then break; fi
    kill -0 "$pid" 2>/dev/null || { cat "$dir/garage.log" >&2; exit 1; }
    sleep 0.1
  done
  local node; node=$($g node id -q | cut -c1-64)
  $g layout assign -z dc1 -c 1G "$node" >/dev/null
  $g layout apply --version 1 >/dev/null
  local key="GK$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  local secret; secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  $g key import --yes -n imagor "$key" "$secret" >/dev/null
  $g bucket create imagor >/dev/null
  $g bucket allow --read --write --owner imagor --key "$key" >/dev/null
  # The S3 API answers once the layout is live.
  for i in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$s3/" && break
    sleep 0.1
  done
  cat > "$dir/env" <<ENV
export S3_ENDPOINT=http://127.0.0.1:$s3
export AWS_ACCESS_KEY_ID=$key
export AWS_SECRET_ACCESS_KEY=$secret
export AWS_REGION=garage
export S3_BUCKET=imagor
export GARAGE_PID=$pid
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
