#!/usr/bin/env bash
# bench.sh - benchmark one eventflowd on this machine with eventflow-bench.
#
# Starts a single-node eventflowd on a free 127.0.0.1 port with a fresh
# data dir, runs eventflow-bench against it, stops it (by PID) and removes
# the data dir (also on error or Ctrl-C), then prints a Markdown table:
#
#   ping   c=50 P=1                  raw RESP round trip through our server
#   add    c=50 P=1 and c=50 P=16    one 200-byte event per ADD, random streams
#   get    c=50 P=1                  100-event pages of prefilled streams
#   getall c=50 P=1                  100-event pages of the global log
#
# Optional, in the same run (the machine has few CPUs: never in parallel):
#   RB=1        also drive our server with redis-benchmark through the shared
#               resp_target.sh (same client and workload as the Redis numbers)
#   BASELINE=1  then run the shared redis_baseline.sh (Redis 7 streams, AOF
#               appendfsync always, c=50) and print our ADD rps / Redis XADD rps
#
# Env:
#   EVENTFLOWD       server binary (default build/src/daemon/eventflowd)
#   EVENTFLOW_BENCH  bench binary (default: src/bench/eventflow-bench next to it)
#   DATA_PARENT      where the temp data dir is made (default /tmp). fsync
#                    cost depends on this filesystem: on tmpfs it is free and
#                    the numbers say nothing about durable writes.
#   DURATION (10), WARMUP (1)  seconds per run
#   CONNS (50), THREADS (2), EVENT_SIZE (200), GET_LIMIT (100)
#   PREFILL (100) events x PREFILL_STREAMS (100) streams before get/getall
#   REPS (1)         repeat each run
#   PORT_BASE (16543)
#   SHARED_BENCH     the peer-baseline scripts (default ../shared/bench from
#                    the repo root)
#   RB_N (50000)     requests per redis-benchmark run (RB=1, BASELINE=1)
set -euo pipefail
export LC_ALL=C  # decimal points in printf and awk

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EVENTFLOWD="${EVENTFLOWD:-$repo/build/src/daemon/eventflowd}"
EVENTFLOW_BENCH="${EVENTFLOW_BENCH:-$(dirname "$EVENTFLOWD")/../bench/eventflow-bench}"
SHARED_BENCH="${SHARED_BENCH:-$repo/../shared/bench}"
DATA_PARENT="${DATA_PARENT:-/tmp}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-1}"
CONNS="${CONNS:-50}"
THREADS="${THREADS:-2}"
EVENT_SIZE="${EVENT_SIZE:-200}"
GET_LIMIT="${GET_LIMIT:-100}"
PREFILL="${PREFILL:-100}"
PREFILL_STREAMS="${PREFILL_STREAMS:-100}"
REPS="${REPS:-1}"
RB_N="${RB_N:-50000}"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

for bin in "$EVENTFLOWD" "$EVENTFLOW_BENCH"; do
    [ -x "$bin" ] || die "$bin not found or not executable (build first: ninja -C build)"
done

# ---- the one server this script starts, and its cleanup --------------------

server_pid=""
tmp=""

# alive PID: true while PID runs (a zombie awaiting wait is not alive).
alive() {
    local st
    st="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    st="${st##*) }"
    [ "${st%% *}" != Z ]
}

stop_server() {
    local pid="$server_pid" i
    [ -n "$pid" ] || return 0
    server_pid=""
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 1 100); do
            alive "$pid" || break
            sleep 0.1
        done
        if alive "$pid"; then
            log "eventflowd $pid ignored SIGTERM for 10 s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    stop_server
    [ -z "$tmp" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! ss -ltnH "sport = :$1" 2>/dev/null | grep -q .; }

# A client port whose raft port (+1000, eventflowd's default) is free too.
pick_port() {
    local p="$1"
    while ! port_free "$p" || ! port_free $((p + 1000)); do p=$((p + 1)); done
    printf '%s\n' "$p"
}

server_cpu_ticks() {
    local f
    f="$(cat "/proc/$server_pid/stat" 2>/dev/null)" || { echo 0; return; }
    f="${f##*) }"
    awk '{ print $12 + $13 }' <<<"$f"
}

tmp="$(mktemp -d "$DATA_PARENT/eventflow-bench.XXXXXX")"
fstype="$(stat -f -c %T "$tmp")"
[ "$fstype" != tmpfs ] || log "warning: $tmp is on tmpfs: fsync costs nothing there"
port="$(pick_port "${PORT_BASE:-16543}")"

"$EVENTFLOWD" --bind 127.0.0.1 --port "$port" --data "$tmp/data" --log-level warn \
    >"$tmp/eventflowd.log" 2>&1 &
server_pid=$!
log "eventflowd pid $server_pid on 127.0.0.1:$port, data $tmp/data ($fstype)"

# Ready when a write succeeds: the single node has elected itself and
# committed its first barrier. Bounded: 30 s.
ready=""
for _ in $(seq 1 150); do
    alive "$server_pid" || { cat "$tmp/eventflowd.log" >&2; die "eventflowd exited"; }
    if "$EVENTFLOW_BENCH" --port "$port" --workload add -n 1 -c 1 -t 1 --streams 1 \
        --timeout 2 --json >/dev/null 2>&1; then
        ready=1
        break
    fi
    sleep 0.2
done
[ -n "$ready" ] || { tail -20 "$tmp/eventflowd.log" >&2; die "eventflowd not writable after 30 s"; }

# ---- our runs -----------------------------------------------------------------

# jfield JSON KEY: the first value of "KEY" in eventflow-bench's compact JSON.
# Its order is fixed (the totals and top-level latency_ms come before "ops"),
# so the first match is the overall figure.
jfield() {
    grep -o "\"$2\":[^,}]*" <<<"$1" | head -1 | cut -d: -f2
}

rows=()
run() {
    local name="$1" rep out rc cpu0 cpu1 us
    shift
    for rep in $(seq 1 "$REPS"); do
        cpu0="$(server_cpu_ticks)"
        rc=0
        out="$("$EVENTFLOW_BENCH" --port "$port" --json -c "$CONNS" -t "$THREADS" \
            -d "$DURATION" --warmup "$WARMUP" --event-size "$EVENT_SIZE" \
            --get-limit "$GET_LIMIT" "$@" 2>"$tmp/bench.err")" || rc=$?
        cpu1="$(server_cpu_ticks)"
        if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
            cat "$tmp/bench.err" >&2
            die "eventflow-bench $name failed (exit $rc)"
        fi
        local ok rps eps rx errors
        ok="$(jfield "$out" requests_ok)"
        rps="$(jfield "$out" requests_per_s)"
        eps="$(jfield "$out" events_per_s)"
        rx="$(jfield "$out" rx_bytes_per_s)"
        errors="$(grep -o '"errors":{[^}]*}' <<<"$out" | sed 's/^"errors"://; s/[{}"]//g')"
        us="$(awk -v a="$cpu0" -v b="$cpu1" -v n="$ok" -v hz="$(getconf CLK_TCK)" \
            'BEGIN { if (n > 0) printf "%.1f", (b - a) * 1e6 / hz / n; else print "NA" }')"
        rows+=("$(printf '| %s | %.0f | %.0f | %.3f | %.3f | %.3f | %.3f | %.3f | %s | %.1f | %s | %s |' \
            "$name" "$rps" "$eps" "$(jfield "$out" p50)" "$(jfield "$out" p90)" \
            "$(jfield "$out" p99)" "$(jfield "$out" p99.9)" "$(jfield "$out" max)" \
            "$(jfield "$out" requests_failed)" "$(awk -v r="$rx" 'BEGIN { print r / 1e6 }')" \
            "$us" "${errors:--}")")
        [ "$name" != "add c=$CONNS P=1" ] || ours_add_p1="$rps"
        [ "$name" != "add c=$CONNS P=16" ] || ours_add_p16="$rps"
        log "$name rep $rep: $rps requests/s, failed $(jfield "$out" requests_failed)"
    done
}

ours_add_p1=""
ours_add_p16=""
machine="$(uname -srm), nproc $(nproc), cpu $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
run "ping c=$CONNS P=1" --workload ping
run "add c=$CONNS P=1" --workload add
run "add c=$CONNS P=16" --workload add -P 16
run "get c=$CONNS P=1" --workload get --prefill "$PREFILL" --prefill-streams "$PREFILL_STREAMS"
run "getall c=$CONNS P=1" --workload getall --prefill "$PREFILL" --prefill-streams "$PREFILL_STREAMS"

printf '\n### eventflowd single node, eventflow-bench (%s s per run after %s s warmup)\n\n' \
    "$DURATION" "$WARMUP"
printf 'machine: %s; data dir on %s\n\n' "$machine" "$fstype"
printf '| run | requests/s | events/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | failed | rx MB/s | srv cpu us/req | errors |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n'
printf '%s\n' "${rows[@]}"
printf '\nevents: %s bytes each as sent; get/getall read %s-event pages after a prefill of %s events x %s streams\n' \
    "$EVENT_SIZE" "$GET_LIMIT" "$PREFILL" "$PREFILL_STREAMS"

# ---- optional: the same redis-benchmark workload as the Redis baseline -------

tsv="$tmp/runs.tsv"
if [ -n "${RB:-}" ]; then
    [ -x "$SHARED_BENCH/resp_target.sh" ] || die "no $SHARED_BENCH/resp_target.sh (set SHARED_BENCH)"
    log "redis-benchmark against eventflowd (resp_target.sh)"
    BENCH_TSV="$tsv" SERVER_PIDS="$server_pid" REPS="$REPS" CONCS=50 PIPELINE=16 \
        WRITE_N_50="$RB_N" READ_N_50="$RB_N" \
        "$SHARED_BENCH/resp_target.sh" "$port" ours
fi
stop_server

if [ -n "${BASELINE:-}" ]; then
    [ -x "$SHARED_BENCH/redis_baseline.sh" ] || die "no $SHARED_BENCH/redis_baseline.sh (set SHARED_BENCH)"
    log "Redis baseline (redis_baseline.sh, appendfsync always, c=50)"
    BENCH_TSV="$tsv" REDIS_MODES=always CONCS=50 PIPELINE=16 REPS="$REPS" \
        WRITE_N_50="$RB_N" READ_N_50="$RB_N" \
        "$SHARED_BENCH/redis_baseline.sh"

    # median METRIC: median over reps of METRIC in the TSV.
    median() {
        awk -F'\t' -v m="$1" '$2 == m && $4 != "NA" { print $4 }' "$tsv" | sort -g |
            awk '{ v[NR] = $1 } END { if (NR == 0) print "";
                 else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
    }
    ratio() {
        if [ -n "$1" ] && [ -n "$2" ]; then
            awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "NA" }'
        else
            echo NA
        fi
    }
    redis_p1="$(median "aof-always write-rand c=50: rps")"
    redis_p16="$(median "aof-always write-rand c=50 P=16: rps")"
    printf '\n### eventflowd ADD vs Redis XADD (appendfsync always, c=50)\n\n'
    printf '| ours measured by | ours c | P | ours rps | redis rps | ours / redis |\n'
    printf '|---|---:|---:|---:|---:|---:|\n'
    printf '| eventflow-bench | %s | 1 | %.0f | %.0f | %s |\n' "$CONNS" \
        "${ours_add_p1:-0}" "${redis_p1:-0}" "$(ratio "$ours_add_p1" "$redis_p1")"
    printf '| eventflow-bench | %s | 16 | %.0f | %.0f | %s |\n' "$CONNS" \
        "${ours_add_p16:-0}" "${redis_p16:-0}" "$(ratio "$ours_add_p16" "$redis_p16")"
    if [ -n "${RB:-}" ]; then
        rb_p1="$(median "ours write-rand c=50: rps")"
        rb_p16="$(median "ours write-rand c=50 P=16: rps")"
        printf '| redis-benchmark | 50 | 1 | %.0f | %.0f | %s |\n' \
            "${rb_p1:-0}" "${redis_p1:-0}" "$(ratio "$rb_p1" "$redis_p1")"
        printf '| redis-benchmark | 50 | 16 | %.0f | %.0f | %s |\n' \
            "${rb_p16:-0}" "${redis_p16:-0}" "$(ratio "$rb_p16" "$redis_p16")"
    fi
    printf '\nRedis is always measured by redis-benchmark. The redis-benchmark rows use\n'
    printf 'one client and one workload for both servers (1:1), but redis-benchmark does\n'
    printf 'not check replies; eventflow-bench does (its events are %s bytes, the\n' "$EVENT_SIZE"
    printf 'profile'"'"'s 58).\n'
fi
