#!/usr/bin/env bash
# bench-raft-tls.sh - what TLS between nodes costs a three-node cluster,
# measured in one run on this machine: ADD of one 200-byte event at c=50
# with redis-benchmark (profile event-store-200.sh) against the leader of
# three eventflowd nodes on 127.0.0.1, in three configurations:
#
#   plain      client plaintext, raft plaintext (--raft-tls no)
#   raft-tls   client plaintext, raft inside mutual TLS (--raft-tls yes)
#   all-tls    client over the TLS port, raft inside mutual TLS: every
#              byte between processes encrypted
#
# Every configuration of every round starts a fresh cluster (new
# processes and directories under /tmp); the order of the configurations
# rotates from round to round. Each run opens its c connections once and
# sends N requests. Results: the median of ROUNDS rounds, min..max, and
# the ratios against plain within each round (their median is the figure
# to quote on a shared machine, where rounds drift).
#
# Certificates: tests/integration/tls_certs.sh (a CA and a 127.0.0.1
# certificate without usage restrictions, shown by every node as server
# and as client).
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
need_cmd redis-benchmark redis-tools
need_cmd openssl openssl

bench_tmpdir /tmp
certs="$BENCH_TMP"
sh "$root/tests/integration/tls_certs.sh" "$certs" || exit 1
tls_opts=(--tls --cacert "$certs/ca.crt")

# leader_port PORTS... : the client port of the node that says it is the
# ready leader, within 20 s.
leader_port() {
    local i p
    for i in $(seq 200); do
        for p in "$@"; do
            redis-cli -p "$p" STATUS 2>/dev/null | grep -q '"state":"leader","stale":false.*"ready":true' &&
                { echo "$p"; return 0; }
        done
        sleep 0.1
    done
    return 1
}

# cluster_round MODE ROUND : a fresh three-node cluster, one run.
cluster_round() {
    local mode="$1" round="$2" i
    bench_tmpdir /tmp
    local dir="$BENCH_TMP"
    local -a cp tp rp
    for i in 1 2 3; do
        cp[$i]="$(pick_port $((16600 + i * 3)))"
        tp[$i]="$(pick_port $((cp[i] + 1)))"
        rp[$i]="$(pick_port $((cp[i] + 1000)))"
    done
    local members="1@127.0.0.1:${rp[1]}@127.0.0.1:${cp[1]},2@127.0.0.1:${rp[2]}@127.0.0.1:${cp[2]},3@127.0.0.1:${rp[3]}@127.0.0.1:${cp[3]}"
    local raft_tls=no
    [ "$mode" != plain ] && raft_tls=yes
    local pids=()
    for i in 1 2 3; do
        bench_start "$dir/node$i.log" "$efd" --id "$i" --port "${cp[i]}" --tls-port "${tp[i]}" --http-port 0 \
            --raft-address "127.0.0.1:${rp[i]}" --cluster "$members" --data "$dir/d$i" \
            --tls-cert "$certs/server.crt" --tls-key "$certs/server.key" --tls-ca "$certs/ca.crt" \
            --raft-tls "$raft_tls"
        pids+=("$BENCH_LAST_PID")
    done
    SERVER_PIDS="${pids[*]}"
    local lp
    lp="$(leader_port "${cp[1]}" "${cp[2]}" "${cp[3]}")" || { log "no ready leader in 20 s"; exit 1; }
    local port="$lp" opts=()
    if [ "$mode" = all-tls ]; then
        for i in 1 2 3; do [ "${cp[i]}" = "$lp" ] && port="${tp[i]}"; done
        opts=("${tls_opts[@]}")
    fi
    load_profile "$root/scripts/bench-profiles/event-store-200.sh"
    resp_run eventflow "3 nodes ADD $mode c=$C" "$round" "$port" "$C" "$N" "${opts[@]}" -- "${WRITE_RAND[@]}"
    for i in "${pids[@]}"; do bench_stop "$i"; done
    rm -rf "$dir"
}

median_of() { stats "${BENCH_VALS[$1]}" | cut -d' ' -f1; }
last_rps() { printf '%s\n' ${BENCH_VALS["$1: rps"]} | tail -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "NA" }'; }

echo "# bench-raft-tls $(date -Is)"
echo "machine: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(nproc) vCPUs," \
    "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(uname -sr)"
echo "versions: eventflow ($(git -C "$root" rev-parse --short HEAD 2>/dev/null)), $(openssl version)"
echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg); N=$N per run, c=$C, $REPS rounds"
modes=(plain raft-tls all-tls)
for round in $(seq 1 "$REPS"); do
    for k in 0 1 2; do cluster_round "${modes[$(((round - 1 + k) % 3))]}" "$round"; done
    p="$(last_rps "3 nodes ADD plain c=$C")"
    record ratio "round ratio: raft-tls / plain" "$round" "$(ratio "$(last_rps "3 nodes ADD raft-tls c=$C")" "$p")"
    record ratio "round ratio: all-tls / plain" "$round" "$(ratio "$(last_rps "3 nodes ADD all-tls c=$C")" "$p")"
done
echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)"
print_table "three nodes: ADD with raft and client traffic encrypted or not (redis-benchmark, 200-byte events)"
echo "median of the rounds' ratios: raft-tls / plain $(median_of "round ratio: raft-tls / plain")," \
    "all-tls / plain $(median_of "round ratio: all-tls / plain")"
