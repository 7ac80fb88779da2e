#!/usr/bin/env bash
# bench-http.sh - appends through the HTTP API against the same appends
# over RESP, in one run: fresh eventflow nodes each time, RESP
# (eventflow-bench) and HTTP (wrk with scripts/bench-http.lua) alternated
# per round, RESP first in odd rounds. One event of EVENT_SIZE bytes per
# ADD to a random stream of STREAMS, version "any", CONNS connections
# with one request in flight each (HTTP keep-alive), for SECS seconds,
# against the leader. Prints every run and the median of the per-round
# HTTP/RESP ratios.
#
#   scripts/bench-http.sh                 NODES=1, then NODES=3
#   NODES=3 ROUNDS=5 scripts/bench-http.sh
#
# Settings (environment): BUILD (./build), NODES (1 3), ROUNDS (3), SECS
# (10), CONNS (50), EVENT_SIZE (200), STREAMS (1000), THREADS (2).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD:-$root/build}"
efd="$build/src/daemon/eventflowd"
efb="$build/src/bench/eventflow-bench"
[ -x "$efd" ] && [ -x "$efb" ] || { echo "build first: meson setup build --buildtype=release && ninja -C build (or BUILD=dir)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 2; }
export LC_ALL=C EVENT_SIZE="${EVENT_SIZE:-200}" STREAMS="${STREAMS:-1000}"
ROUNDS="${ROUNDS:-3}" SECS="${SECS:-10}" CONNS="${CONNS:-50}" THREADS="${THREADS:-2}"

tmp="$(mktemp -d /tmp/ef-bench-http.XXXXXX)"
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT

# Three free ports per node (client, raft, HTTP), held together.
free_ports() {
    python3 -c 'import socket, sys
s = [socket.socket() for _ in range(int(sys.argv[1]))]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])' "$1"
}

# start N : a fresh cluster of N nodes; sets port[i], http[i], leader.
start() {
    local n="$1" i members="" p
    read -r -a p <<<"$(free_ports $((3 * n)))"
    port=() raft=() http=()
    for i in $(seq 1 "$n"); do
        port[$i]=${p[$((3 * i - 3))]} raft[$i]=${p[$((3 * i - 2))]} http[$i]=${p[$((3 * i - 1))]}
        members="${members:+$members,}$i@127.0.0.1:${raft[$i]}@127.0.0.1:${port[$i]}"
    done
    pids=()
    for i in $(seq 1 "$n"); do
        "$efd" --id "$i" --port "${port[$i]}" --raft-address "127.0.0.1:${raft[$i]}" \
            --http-port "${http[$i]}" --data "$tmp/d$i" --cluster "$members" >"$tmp/n$i.log" 2>&1 &
        pids+=($!)
    done
    leader=""
    for _ in $(seq 1 300); do
        for i in $(seq 1 "$n"); do
            if curl -s "127.0.0.1:${http[$i]}/status" 2>/dev/null | grep -q '"state":"leader","stale":false,"last_contact_ms":0,"ready":true'; then
                leader=$i; break 2
            fi
        done
        sleep 0.1 # poll interval of a condition wait (the leader's STATUS)
    done
    [ -n "$leader" ] || { echo "no leader" >&2; cat "$tmp"/n*.log >&2; exit 1; }
}

stop() {
    local p
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
    pids=()
    rm -rf "$tmp"/d* "$tmp"/n*.log
}

resp_run() {
    start "$1"
    "$efb" --port "${port[$leader]}" -c "$CONNS" -t "$THREADS" -d "$SECS" --event-size "$EVENT_SIZE" \
        --streams "$STREAMS" --workload add >"$tmp/resp.out" 2>&1 || true
    # eventflow-bench's report as one line of the same fields as wrk's.
    awk -F'|' '/^throughput:/ { rps = $0; sub(/^throughput: /, "", rps); sub(/ requests.*/, "", rps) }
        $2 ~ /^ add / { gsub(/ /, ""); ok = $3; failed = $4; p50 = $7; p99 = $9 }
        END { printf "mode=resp requests=%s rps=%s p50_ms=%s p99_ms=%s errors=%s\n", ok, rps, p50, p99, failed }' "$tmp/resp.out"
    stop
}

http_run() {
    start "$1"
    wrk -t "$THREADS" -c "$CONNS" -d "${SECS}s" -s "$root/scripts/bench-http.lua" \
        "http://127.0.0.1:${http[$leader]}" 2>&1 | grep '^mode='
    stop
}

field() { sed -n "s/.*[ ^]$1=\([^ ]*\).*/\1/p" <<<" $2"; }

echo "# bench-http $(date -Is)"
echo "machine: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(grep -c '^processor' /proc/cpuinfo) processors; $(uname -srm)"
echo "eventflow $("$efd" --version | head -1) ($(git -C "$root" rev-parse --short HEAD 2>/dev/null)); $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "c=$CONNS, one request in flight each, ${EVENT_SIZE}-byte events, $STREAMS streams, ${SECS} s per run"
for nodes in ${NODES:-1 3}; do
    ratios=()
    for round in $(seq 1 "$ROUNDS"); do
        if [ $((round % 2)) = 1 ]; then r="$(resp_run "$nodes")"; h="$(http_run "$nodes")"
        else h="$(http_run "$nodes")"; r="$(resp_run "$nodes")"; fi
        rr="$(field rps "$r")"; hr="$(field rps "$h")"
        echo "nodes=$nodes round=$round resp: $r"
        echo "nodes=$nodes round=$round http: $h"
        ratios+=("$(awk -v a="$hr" -v b="$rr" 'BEGIN { if (a > 0 && b > 0) printf "%.3f", a / b; else print "NA" }')")
    done
    echo "nodes=$nodes http/resp per round: ${ratios[*]}; median $(printf '%s\n' "${ratios[@]}" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')"
done
