#!/usr/bin/env bash
# start.sh - install what is missing, build, and start a single eventflowd
# node in the foreground on 127.0.0.1:${PORT:-6543} with data in ./data.
# Ctrl-C stops it cleanly. (cluster/local.sh starts three nodes.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ -f build/build.ninja ] || meson setup build --buildtype=release >/dev/null
ninja -C build >/dev/null
port="${PORT:-6543}"
echo "eventflowd on 127.0.0.1:$port, data in ${DATA:-./data}"
echo "connect with:  redis-cli -p $port PING"
exec ./build/src/daemon/eventflowd --port "$port" --data "${DATA:-./data}" "$@"
