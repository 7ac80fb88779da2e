#!/usr/bin/env bash
# bench-acl.sh - the cost of ACL checks on the hot path: one node with a
# password, eventflow-bench ADD and GET alternated between
#   A: the default user without rules (no check at all, as before users),
#   B: the default user restricted to prefixes (ACL SETUSER default ...):
#      every ADD and GET compares the stream name with its write or read
#      prefixes, the matching one last of four;
# in the same run, PAIRS times each, and prints each run and the median
# ratio B/A per workload. The node binds 127.0.0.1 on free ports, is
# stopped by PID and its directory removed.
#
# Env: BUILD (default ./build), PAIRS (5), SECONDS_EACH (10), CONNS (50).
set -uo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
root="$PWD"
build="${BUILD:-$root/build}"
bin="$build/src/daemon/eventflowd" bench="$build/src/bench/eventflow-bench"
[ -x "$bin" ] && [ -x "$bench" ] || { echo "build first: meson setup build --buildtype=release && ninja -C build" >&2; exit 2; }
command -v redis-cli >/dev/null || { echo "bench-acl: redis-cli not found (apt-get install redis-tools)" >&2; exit 2; }
pairs="${PAIRS:-5}" secs="${SECONDS_EACH:-10}" conns="${CONNS:-50}"
pw="bench-acl-pw"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port) raft=$(free_port) http=$(free_port)
dir=$(mktemp -d /tmp/bench-acl.XXXXXX)
"$bin" --bind 127.0.0.1 --port "$port" --raft-address "127.0.0.1:$raft" --http-port "$http" --data "$dir/data" \
    --password "$pw" > "$dir/log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
cli() { redis-cli -p "$port" --no-auth-warning -a "$pw" "$@"; }
for _ in $(seq 100); do [ "$(cli PING 2>/dev/null)" = PONG ] && break; sleep 0.1; done
# GET reads streams that exist: bench:0..99, 100 events each.
"$bench" --port "$port" --password "$pw" --workload add --streams 100 --prefill 100 -n 1 -c 1 > /dev/null
restrict() { cli ACL SETUSER default "$pw" write:aa write:ab write:ac write:bench: read:aa read:ab read:ac read:bench: > /dev/null; }
open() { cli ACL DELUSER default > /dev/null; }
# Requests per second, from eventflow-bench's summary; a run with a failed
# request (a -NOPERM would be one) stops the script.
run() {
    local out
    out=$("$bench" --port "$port" --password "$pw" --workload "$1" --streams 100 -c "$conns" --warmup 1 -d "$secs")
    echo "$out" | grep -q ' 0 failed, 0 connections lost' || { echo "bench-acl: failures in $1:" >&2; echo "$out" >&2; exit 1; }
    echo "$out" | awk '/^throughput/ { print $2; exit }'
}
declare -A ratios
for w in add get; do
    for p in $(seq "$pairs"); do
        open; a=$(run "$w") || exit 1
        restrict; b=$(run "$w") || exit 1
        r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", (a > 0 ? b / a : 0) }')
        echo "$w pair $p: A (no rules) $a/s, B (prefix rules) $b/s, B/A $r"
        ratios[$w]+="$r "
    done
done
open
for w in add get; do
    m=$(echo "${ratios[$w]}" | tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
    echo "$w: median B/A $m over $pairs pairs"
done
