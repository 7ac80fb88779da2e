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
# PEERS=etcd adds, in every round on three nodes, puts to a fresh 3-member
# etcd cluster through its HTTP/JSON gateway: ../shared/bench/
# etcd_baseline.sh itself, run for one rep at c=CONNS for SECS with no
# `check perf` (so its etcd_put_gw.c, keys, 64-byte values and connections
# spread over the members, as it drives them), and the medians of the
# per-round HTTP/etcd and RESP/etcd ratios (issue 26: HTTP >= 5x etcd's
# gateway on three nodes). The order of the three alternates: RESP, HTTP,
# etcd in odd rounds, the reverse in even ones.
#
#   scripts/bench-http.sh                 NODES=1, then NODES=3
#   NODES=3 ROUNDS=5 scripts/bench-http.sh
#   PEERS=etcd scripts/bench-http.sh      and etcd's gateway on three nodes
#
# Settings (environment): BUILD (./build), NODES (1 3), ROUNDS (3), SECS
# (10), CONNS (50), EVENT_SIZE (200), STREAMS (1000), THREADS (2), PEERS
# (none, or etcd), SHARED_BENCH (../shared/bench).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD:-$root/build}"
efd="$build/src/daemon/eventflowd"
efb="$build/src/bench/eventflow-bench"
[ -x "$efd" ] && [ -x "$efb" ] || { echo "build first: meson setup build --buildtype=release && ninja -C build (or BUILD=dir)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 2; }
PEERS="${PEERS:-}" shared="${SHARED_BENCH:-$root/../shared/bench}"
case "$PEERS" in
'') ;;
etcd) [ -f "$shared/etcd_baseline.sh" ] || { echo "no $shared/etcd_baseline.sh (SHARED_BENCH)" >&2; exit 2; }
      # Installed here, not inside a measured round.
      command -v etcd >/dev/null && command -v etcdctl >/dev/null ||
          { echo "etcd is needed (apt-get install etcd-server etcd-client)" >&2; exit 2; } ;;
*) echo "PEERS is etcd or empty, not \"$PEERS\"" >&2; exit 2 ;;
esac
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

# etcd's puts through its gateway, as etcd_baseline.sh makes them (its
# random keys, then its hot key), one line of the same fields: the random
# keys' rps, p50, p99, and the hot key's rps.
etcd_run() {
    local tsv="$tmp/etcd.tsv" c="$CONNS"
    rm -f "$tsv"
    # Bounded by SECS, as wrk and eventflow-bench are, not by a put count.
    if ! env REPS=1 PERF_LOADS= GW_CONCS="$c" GW_SECS="$SECS" "GW_N_$c=10000000" BENCH_TSV="$tsv" \
        bash "$shared/etcd_baseline.sh" >"$tmp/etcd.out" 2>"$tmp/etcd.err"; then
        echo "etcd_baseline.sh failed: $(tail -3 "$tmp/etcd.err" | tr '\n' ' ')" >&2
    fi
    [ -s "$tsv" ] || { echo "mode=etcd-gw rps=NA"; return; }
    awk -F'\t' -v c="$c" '$2 == "gw put rand c=" c ": rps" { rps = $4 } $2 == "gw put rand c=" c ": p50 ms" { p50 = $4 }
        $2 == "gw put rand c=" c ": p99 ms" { p99 = $4 } $2 == "gw put hot c=" c ": rps" { hot = $4 }
        END { printf "mode=etcd-gw rps=%s p50_ms=%s p99_ms=%s hot_rps=%s\n", rps ? rps : "NA", p50 ? p50 : "NA",
              p99 ? p99 : "NA", hot ? hot : "NA" }' "$tsv"
}

field() { sed -n "s/.*[ ^]$1=\([^ ]*\).*/\1/p" <<<" $2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.3f", a / b; else print "NA" }'; }
# median V... : of the values that are not NA (lower middle of an even count).
median() { printf '%s\n' "$@" | grep -v '^NA$' | sort -g | awk '{v[NR] = $1} END {print NR ? v[int((NR + 1) / 2)] : "NA"}'; }

echo "# bench-http $(date -Is)"
echo "machine: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(grep -c '^processor' /proc/cpuinfo) processors," \
    "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo); $(uname -srm)"
echo "eventflow $("$efd" --version | head -1) ($(git -C "$root" rev-parse --short HEAD 2>/dev/null)); $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)${PEERS:+; etcd $(etcd --version | awk '/etcd Version/ {print $3}')}"
echo "c=$CONNS, one request in flight each, ${EVENT_SIZE}-byte events, $STREAMS streams, ${SECS} s per run"
echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for nodes in ${NODES:-1 3}; do
    ratios=() vs_etcd=() resp_etcd=()
    peers=""; [ "$nodes" = 3 ] && peers="$PEERS"
    for round in $(seq 1 "$ROUNDS"); do
        e=""
        if [ $((round % 2)) = 1 ]; then
            r="$(resp_run "$nodes")"; h="$(http_run "$nodes")"; [ -n "$peers" ] && e="$(etcd_run)"
        else
            [ -n "$peers" ] && e="$(etcd_run)"; h="$(http_run "$nodes")"; r="$(resp_run "$nodes")"
        fi
        rr="$(field rps "$r")"; hr="$(field rps "$h")"
        echo "nodes=$nodes round=$round resp: $r"
        echo "nodes=$nodes round=$round http: $h"
        ratios+=("$(ratio "$hr" "$rr")")
        if [ -n "$peers" ]; then
            echo "nodes=$nodes round=$round etcd: $e"
            vs_etcd+=("$(ratio "$hr" "$(field rps "$e")")")
            resp_etcd+=("$(ratio "$rr" "$(field rps "$e")")")
        fi
    done
    echo "nodes=$nodes http/resp per round: ${ratios[*]}; median $(median "${ratios[@]}") (target >= 0.7)"
    if [ -n "$peers" ]; then
        echo "nodes=$nodes http/etcd-gw per round: ${vs_etcd[*]}; median $(median "${vs_etcd[@]}") (target >= 5)"
        echo "nodes=$nodes resp/etcd-gw per round: ${resp_etcd[*]}; median $(median "${resp_etcd[@]}")"
    fi
done
echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)"
