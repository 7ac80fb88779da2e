#!/usr/bin/env bash
# bench-tls.sh - what TLS on the client port costs, measured in one run on
# this machine: one eventflow node, ADD of one 200-byte event at c=50 through
# its plaintext port and through its TLS port (--tls-port), and Redis 7 XADD
# of the same event over TLS (--tls-port, appendfsync always: acknowledged
# once on disk, the same promise), all with redis-benchmark (--tls
# --cacert for the TLS runs; profiles event-store-200.sh and
# redis-streams-200.sh, the same keys and payload).
#
# Every round starts each system fresh (new processes, new directories
# under /tmp), and runs eventflow first in odd rounds, Redis first in even
# ones; within eventflow's turn, plaintext and TLS alternate the same way.
# The certificates (a CA and a 127.0.0.1 server certificate, EC P-256) are
# made at the start by tests/integration/tls_certs.sh. Each run opens its
# c connections once (one handshake each) and then sends N requests.
# Results: the median of ROUNDS rounds, min..max; the ratios TLS/plaintext
# and eventflow-TLS/Redis-TLS within each round (their median is the
# figure to quote on a shared machine, where rounds drift), and the same
# ratios of the medians.
#
# Env: BUILD (default ./build), ROUNDS (default 3), N (requests per run,
# default 100000), C (connections, default 50), SHARED_BENCH
# (../shared/bench), RB_TIMEOUT (s per run, default 120). Everything binds
# 127.0.0.1 and is stopped by PID.
set -uo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
build="${BUILD:-$root/build}"
shared="${SHARED_BENCH:-$root/../shared/bench}"
efd="$build/src/daemon/eventflowd"
[ -x "$efd" ] || { echo "build first: meson setup build --buildtype=release && ninja -C build (or BUILD=dir)" >&2; exit 2; }
[ -f "$shared/lib.sh" ] || { echo "no $shared/lib.sh (SHARED_BENCH)" >&2; exit 2; }
export REPS="${ROUNDS:-3}"
N="${N:-100000}"
C="${C:-50}"
export LC_ALL=C
# shellcheck source=/dev/null
source "$shared/lib.sh"
# shellcheck source=/dev/null
source "$shared/resp_workload.sh"
need_cmd redis-server redis-server
need_cmd redis-benchmark redis-tools
need_cmd openssl openssl

bench_tmpdir /tmp
certs="$BENCH_TMP"
sh "$root/tests/integration/tls_certs.sh" "$certs" || exit 1
tls_opts=(--tls --cacert "$certs/ca.crt")

# One fresh eventflow node: plaintext and TLS runs, in the round's order.
ef_round() {
    local round="$1" first second
    bench_tmpdir /tmp
    local dir="$BENCH_TMP" port tport
    port="$(pick_port 16543)"
    tport="$(pick_port $((port + 1)))"
    bench_start "$dir/eventflowd.log" "$efd" --port "$port" --tls-port "$tport" --http-port 0 \
        --raft-address "127.0.0.1:$(pick_port $((port + 1000)))" --data "$dir/data" \
        --tls-cert "$certs/server.crt" --tls-key "$certs/server.key"
    local pid=$BENCH_LAST_PID
    wait_tcp "$tport" 20 || exit 1
    local i
    for i in $(seq 200); do
        redis-cli -p "$port" STATUS 2>/dev/null | grep -q '"ready":true' && break
        [ "$i" = 200 ] && { log "eventflowd not ready in 20 s"; exit 1; }
        sleep 0.1
    done
    SERVER_PIDS="$pid"
    load_profile "$root/scripts/bench-profiles/event-store-200.sh"
    if [ $((round % 2)) = 1 ]; then first=plain; second=tls; else first=tls; second=plain; fi
    for mode in $first $second; do
        if [ "$mode" = tls ]; then
            resp_run eventflow "eventflow ADD TLS c=$C" "$round" "$tport" "$C" "$N" "${tls_opts[@]}" -- "${WRITE_RAND[@]}"
        else
            resp_run eventflow "eventflow ADD plaintext c=$C" "$round" "$port" "$C" "$N" -- "${WRITE_RAND[@]}"
        fi
    done
    bench_stop "$pid"
    rm -rf "$dir"
}

# One fresh redis-server with TLS only, appendfsync always.
redis_round() {
    local round="$1"
    bench_tmpdir /tmp
    local dir="$BENCH_TMP" tport
    tport="$(pick_port 16479)"
    bench_start "$dir/redis.log" redis-server --port 0 --tls-port "$tport" --bind 127.0.0.1 \
        --tls-cert-file "$certs/server.crt" --tls-key-file "$certs/server.key" \
        --tls-ca-cert-file "$certs/ca.crt" --tls-auth-clients no \
        --protected-mode yes --dir "$dir" --daemonize no --save '' \
        --appendonly yes --appendfsync always --auto-aof-rewrite-percentage 0
    local pid=$BENCH_LAST_PID
    wait_tcp "$tport" 20 || exit 1
    SERVER_PIDS="$pid"
    load_profile "$root/scripts/bench-profiles/redis-streams-200.sh"
    resp_run redis "redis XADD TLS c=$C (appendfsync always)" "$round" "$tport" "$C" "$N" "${tls_opts[@]}" -- "${WRITE_RAND[@]}"
    bench_stop "$pid"
    rm -rf "$dir"
}

median_of() { stats "${BENCH_VALS[$1]}" | cut -d' ' -f1; }

echo "# bench-tls $(date -Is)"
echo "machine: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(nproc) vCPUs," \
    "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(uname -sr)"
echo "versions: eventflow ($(git -C "$root" rev-parse --short HEAD 2>/dev/null)), $(redis-server --version | awk '{print $3}'), $(openssl version)"
echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg); N=$N per run, c=$C, $REPS rounds"
# last_rps METRIC : the latest round's figure of METRIC's rps.
last_rps() { printf '%s\n' ${BENCH_VALS["$1: rps"]} | tail -1; }
for round in $(seq 1 "$REPS"); do
    if [ $((round % 2)) = 1 ]; then ef_round "$round"; redis_round "$round"
    else redis_round "$round"; ef_round "$round"; fi
    p="$(last_rps "eventflow ADD plaintext c=$C")"
    t="$(last_rps "eventflow ADD TLS c=$C")"
    r="$(last_rps "redis XADD TLS c=$C (appendfsync always)")"
    record ratio "round ratio: eventflow TLS / eventflow plaintext" "$round" \
        "$(awk -v a="$t" -v b="$p" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "NA" }')"
    record ratio "round ratio: eventflow TLS / Redis TLS" "$round" \
        "$(awk -v a="$t" -v b="$r" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "NA" }')"
done
echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)"
print_table "ADD over TLS against plaintext and Redis XADD over TLS (redis-benchmark, 200-byte events)"
plain="$(median_of "eventflow ADD plaintext c=$C: rps")"
tls="$(median_of "eventflow ADD TLS c=$C: rps")"
rtls="$(median_of "redis XADD TLS c=$C (appendfsync always): rps")"
echo "median of the rounds' ratios: eventflow TLS / plaintext $(median_of "round ratio: eventflow TLS / eventflow plaintext")," \
    "eventflow TLS / Redis TLS $(median_of "round ratio: eventflow TLS / Redis TLS")"
awk -v p="$plain" -v t="$tls" -v r="$rtls" 'BEGIN {
    printf "ratios of the medians: eventflow TLS / plaintext %.2f (%s / %s rps), eventflow TLS / Redis TLS %.2f (%s rps)\n", t / p, t, p, t / r, r
}'
