#!/usr/bin/env bash
# transfer-bench.sh - how a follower that fell behind a snapshot catches up:
# time to copy the leader's store, and the peak memory (VmHWM) of the
# follower and of the node serving the copy, for a store of a given size.
#
#   scripts/transfer-bench.sh [MB]        (default 200 MB of events)
#
# Starts three eventflowd on 127.0.0.1 (ports 17543-17545, raft 18543-18545)
# in a temporary directory, loads MB megabytes of 1000-byte events, stops
# node 3, writes 40,000 more (past the threshold + trailing), restarts node 3 and
# waits until it reports the leader's event count, sampling every node's
# anonymous memory (RssAnon: heap and stacks; LMDB's mapped file pages are
# page cache, not counted) every 20 ms meanwhile. Stops everything it
# started and removes its directory. Needs a release build in build/.
set -euo pipefail

mb="${1:-200}"
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/build/src/daemon/eventflowd"
bench="$root/build/src/bench/eventflow-bench"
[ -x "$bin" ] && [ -x "$bench" ] || { echo "build first: meson setup build --buildtype=release && ninja -C build" >&2; exit 2; }
tmp="$(mktemp -d /tmp/eventflow-transfer.XXXXXX)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

cluster="1@127.0.0.1:18543@127.0.0.1:17543,2@127.0.0.1:18544@127.0.0.1:17544,3@127.0.0.1:18545@127.0.0.1:17545"
start() {
    local i="$1"
    HTTP_PORT=0 "$bin" --id "$i" --bind 127.0.0.1 --port $((17542 + i)) --raft-address "127.0.0.1:$((18542 + i))" \
        --data "$tmp/node$i" --cluster "$cluster" --snapshot-threshold 8192 --snapshot-trailing 16384 \
        2>>"$tmp/node$i.log" &
    pids[$i]=$!
}
status() { redis-cli -p "$1" STATUS 2>/dev/null || true; }
field() { sed -n "s/.*\"$2\":\\([0-9]*\\).*/\\1/p" <<<"$1"; }
leader_port() {
    for _ in $(seq 1 200); do
        for p in 17543 17544 17545; do
            if status "$p" | grep -q '"state":"leader","stale":false,"last_contact_ms":[0-9]*,"ready":true'; then
                echo "$p"; return; fi
        done
        sleep 0.1
    done
    echo "no leader within 20 s; node logs:" >&2; tail -n 8 "$tmp"/node*.log >&2; exit 1
}

for i in 1 2 3; do start "$i"; done
lp="$(leader_port)"
events=$((mb * 1000))
echo "loading $events events of 1000 bytes through 127.0.0.1:$lp"
"$bench" --port "$lp" -c 50 -P 16 -n "$events" --event-size 1000 --streams 1000 >"$tmp/load.txt" ||
    { echo "the load failed:" >&2; tail -5 "$tmp/load.txt" >&2; exit 1; }
kill "${pids[3]}"; wait "${pids[3]}" 2>/dev/null || true
lp="$(leader_port)"
"$bench" --port "$lp" -c 50 -P 16 -n 40000 --event-size 1000 --streams 1000 >"$tmp/load.txt" ||
    { echo "the load failed:" >&2; tail -5 "$tmp/load.txt" >&2; exit 1; }
want="$(field "$(status "$lp")" events)"
anon() { awk '/RssAnon/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
declare -A peak
t0=$(date +%s.%N)
start 3
for _ in $(seq 1 30000); do
    for i in 1 2 3; do
        a="$(anon "${pids[$i]}")"
        [ "${a:-0}" -gt "${peak[$i]:-0}" ] && peak[$i]="$a"
    done
    got="$(field "$(status 17545)" events)"
    [ "$got" = "$want" ] && break
    sleep 0.02
done
t1=$(date +%s.%N)
[ "$got" = "$want" ] || { echo "node 3 did not catch up ($got of $want events)" >&2; tail -5 "$tmp/node3.log" >&2; exit 1; }
db="$(field "$(status "$lp")" db_bytes)"
echo "store: $want events, $((db / 1048576)) MiB in LMDB"
grep -h "fetch: copied" "$tmp/node3.log" | sed 's/.*fetch: /node 3: /'
printf 'node 3 caught up in %.1f s (start to equal event count)\n' "$(echo "$t1 - $t0" | bc)"
grep -h "snapshot at raft index" "$tmp"/node*.log |
    sed -n 's/.*header, \([0-9]*\) ms/\1/p' | sort -n |
    awk '{ a[NR] = $1 } END { if (NR) printf "snapshots taken: %d, loop time each: median %d ms, max %d ms\n", NR, a[int((NR + 1) / 2)], a[NR] }'
for i in 1 2 3; do echo "node $i peak anonymous memory during catch-up: $(( ${peak[$i]:-0} / 1024 )) MiB"; done
