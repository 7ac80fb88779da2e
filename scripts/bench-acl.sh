#!/usr/bin/env bash
# bench-acl.sh - the cost of ACL checks on the hot path: one node with a
# password, eventflow-bench ADD and GET alternated between
#   A: the default user without rules (no check at all, as before users),
#   B: the default user restricted to prefixes (ACL SETUSER default ...):
#      every ADD and GET compares the stream name with its write or read
#      prefixes, the matching one last of four;
# in the same run, PAIRS times each (after one uncounted run; A first in
# odd pairs, B first in even ones), and prints each pair and the median
# ratios B/A per workload: throughput, and the loop thread's CPU time per
# request. The node binds 127.0.0.1 on free ports, is
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
# The server's loop thread's CPU time so far, in clock ticks (utime +
# stime): where commands and their ACL checks run. Not the worker threads,
# where B's logins (PBKDF2, before the measurement) would count.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/task/$pid/stat"; }
# "<requests/s> <loop thread CPU µs per request>", from eventflow-bench's
# summary and /proc; a run with a failed request (a -NOPERM would be one) stops
# the script. The CPU figure counts the warmup second too, alike on both
# sides: it is less disturbed by other work on a shared machine than
# throughput is.
run() {
    local out t0 t1
    t0=$(cpu_ticks)
    out=$("$bench" --port "$port" --password "$pw" --workload "$1" --streams 100 -c "$conns" --warmup 1 -d "$secs")
    t1=$(cpu_ticks)
    echo "$out" | grep -q ' 0 failed, 0 connections lost' || { echo "bench-acl: failures in $1:" >&2; echo "$out" >&2; exit 1; }
    echo "$out" | awk -v ticks=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v secs="$secs" '
        /^throughput/ { printf "%s %.1f\n", $2, ticks / hz * 1e6 / ($2 * (secs + 1)); exit }'
}
declare -A ratios cpu_ratios
median() {
    tr ' ' '\n' | grep . | sort -n |
        awk '{ v[NR] = $1 } END { printf "%.3f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
for w in add get; do
    # One run first, not counted: the first after a start or a switch of
    # workload is slower whatever its side. Then A and B alternate which
    # goes first, so a drift of the machine does not favour one side.
    open; run "$w" > /dev/null || exit 1
    for p in $(seq "$pairs"); do
        if [ $((p % 2)) = 1 ]; then
            open; out=$(run "$w") || exit 1; read -r a acpu <<< "$out"
            restrict; out=$(run "$w") || exit 1; read -r b bcpu <<< "$out"
        else
            restrict; out=$(run "$w") || exit 1; read -r b bcpu <<< "$out"
            open; out=$(run "$w") || exit 1; read -r a acpu <<< "$out"
        fi
        r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", (a > 0 ? b / a : 0) }')
        rc=$(awk -v a="$acpu" -v b="$bcpu" 'BEGIN { printf "%.3f", (a > 0 ? b / a : 0) }')
        echo "$w pair $p: A (no rules) $a/s, $acpu µs loop CPU/request; B (prefix rules) $b/s, $bcpu µs; B/A throughput $r, CPU $rc"
        ratios[$w]+="$r " cpu_ratios[$w]+="$rc "
    done
done
open
for w in add get; do
    echo "$w: median B/A throughput $(echo "${ratios[$w]}" | median), loop CPU per request $(echo "${cpu_ratios[$w]}" | median) over $pairs pairs"
done
