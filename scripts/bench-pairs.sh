#!/usr/bin/env bash
# bench-pairs.sh - eventflow against Redis in alternating pairs, for machines
# whose speed drifts between minutes (a shared VM's disk and CPU do: Redis
# alone moved 18k -> 38k/s between runs of one session). One long run of
# each side compares two different machines; alternating short runs and
# taking the median of the per-pair ratios compares like with like.
#
# Each pair: a fresh redis-server (appendfsync always) driven by
# redis-benchmark with XADD of a 200-byte event, then a fresh eventflow
# (NODES=1 or 3, writes to the leader) driven by the same redis-benchmark
# with ADD of the same 200-byte event (scripts/bench-profiles/*-200.sh),
# c=50, random streams (-r 100000) and then the hot stream. Prints one
# line per run and the median ratio per workload. Everything binds
# 127.0.0.1 on free ports, is stopped by PID and its directory removed.
#
# AGAINST=/path/to/another/eventflowd puts that build where Redis was (same
# NODES, same ADD workload): an A/B of two builds, alternated the same way,
# reported as this build's throughput over the other's.
#
# ARGS adds eventflowd flags to this build's nodes only (e.g.
# "--cluster-secret 0123456789abcdef0123": A/B of a setting with AGAINST
# naming the same binary, or of a build whose other side lacks the flag).
#
# Env: BUILD (default ./build), NODES (1), PAIRS (5), N (requests per run,
#      200000), CONNS (50), PIPELINE (empty: none; e.g. 16), AGAINST, ARGS.
set -uo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
root="$PWD"
bin="${BUILD:-$root/build}/src/daemon/eventflowd"
[ -x "$bin" ] || { echo "build first: meson setup build --buildtype=release && ninja -C build" >&2; exit 2; }
against="${AGAINST:-}"
[ -z "$against" ] || [ -x "$against" ] || { echo "bench-pairs: AGAINST=$against is not an executable" >&2; exit 2; }
# An A/B of two builds runs no Redis server.
for c in ${against:+-}redis-server redis-benchmark redis-cli python3; do
    [ "$c" = -redis-server ] && continue
    command -v "$c" >/dev/null || { echo "bench-pairs: $c not found (apt-get install redis-server redis-tools python3)" >&2; exit 2; }
done
nodes="${NODES:-1}" pairs="${PAIRS:-5}" n="${N:-200000}" conns="${CONNS:-50}"
# shellcheck source=bench-profiles/redis-streams-200.sh
source "$root/scripts/bench-profiles/redis-streams-200.sh"
redis_rand=("${WRITE_RAND[@]}") redis_hot=("${WRITE_HOT[@]}")
# shellcheck source=bench-profiles/event-store-200.sh
source "$root/scripts/bench-profiles/event-store-200.sh"
ours_rand=("${WRITE_RAND[@]}") ours_hot=("${WRITE_HOT[@]}")

pids=() dirs=()
cleanup() {
    local p d
    for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    for d in "${dirs[@]:-}"; do [ -n "$d" ] && rm -rf "$d"; done
    pids=() dirs=()
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# rb PORT CMD... : one redis-benchmark run; prints "ops/s p99_ms".
rb() {
    local port="$1"; shift
    redis-benchmark -h 127.0.0.1 -p "$port" -c "$conns" -n "$n" -r 100000 ${PIPELINE:+-P "$PIPELINE"} \
        --csv "$@" 2>/dev/null | tail -1 | awk -F, '{gsub(/"/, ""); print $(NF-6), $(NF-1)}'
}

start_redis() {
    local d; d="$(mktemp -d /tmp/eventflow-pairs.XXXXXX)"; dirs+=("$d")
    port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --dir "$d" --daemonize no --save '' \
        --appendonly yes --appendfsync always --auto-aof-rewrite-percentage 0 >"$d/redis.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 100); do redis-cli -p "$port" PING >/dev/null 2>&1 && return 0; sleep 0.1; done
    echo "redis-server did not start" >&2; return 1
}

# start_ours [BIN]: NODES nodes of BIN (default this build, with ARGS) in
# one cluster; sets port to the leader's.
start_ours() {
    local exe="${1:-$bin}" d i members="" cports=() rports=() extra=()
    # shellcheck disable=SC2206 # ARGS is split into flags on purpose
    [ $# -eq 0 ] && extra=(${ARGS:-})
    d="$(mktemp -d /tmp/eventflow-pairs.XXXXXX)"; dirs+=("$d")
    for i in $(seq 1 "$nodes"); do cports[$i]=$(free_port); rports[$i]=$(free_port); done
    for i in $(seq 1 "$nodes"); do members="${members:+$members,}$i@127.0.0.1:${rports[$i]}@127.0.0.1:${cports[$i]}"; done
    for i in $(seq 1 "$nodes"); do
        HTTP_PORT=0 "$exe" --id "$i" --port "${cports[$i]}" --raft-address "127.0.0.1:${rports[$i]}" \
            --data "$d/n$i" --cluster "$members" "${extra[@]}" >"$d/n$i.log" 2>&1 &
        pids+=($!)
    done
    for _ in $(seq 1 300); do
        for i in $(seq 1 "$nodes"); do
            if redis-cli -p "${cports[$i]}" STATUS 2>/dev/null | grep -q '"state":"leader","stale":false,"last_contact_ms":0,"ready":true'; then
                port=${cports[$i]}; return 0
            fi
        done
        sleep 0.1
    done
    echo "no leader" >&2; return 1
}

echo "# bench-pairs $(date -Is): $(nproc) vCPU $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), nodes=$nodes pairs=$pairs n=$n c=$conns${PIPELINE:+ P=$PIPELINE}, 200-byte events"
base=Redis
[ -n "$against" ] && base="AGAINST" && echo "# AGAINST: $against"
[ -n "${ARGS:-}" ] && echo "# ARGS (this build only): $ARGS"
echo "| pair | $base rand | eventflow rand | ratio | $base hot | eventflow hot | ratio |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
ratios_rand=() ratios_hot=()
for pair in $(seq 1 "$pairs"); do
    if [ -n "$against" ]; then
        start_ours "$against" || exit 1
        read -r r_rand r_rand99 < <(rb "$port" "${ours_rand[@]}")
        read -r r_hot r_hot99 < <(rb "$port" "${ours_hot[@]}")
    else
        start_redis || exit 1
        read -r r_rand r_rand99 < <(rb "$port" "${redis_rand[@]}")
        read -r r_hot r_hot99 < <(rb "$port" "${redis_hot[@]}")
    fi
    cleanup
    start_ours || exit 1
    read -r o_rand o_rand99 < <(rb "$port" "${ours_rand[@]}")
    read -r o_hot o_hot99 < <(rb "$port" "${ours_hot[@]}")
    cleanup
    q_rand=$(awk -v a="$o_rand" -v b="$r_rand" 'BEGIN {printf "%.2f", a / b}')
    q_hot=$(awk -v a="$o_hot" -v b="$r_hot" 'BEGIN {printf "%.2f", a / b}')
    ratios_rand+=("$q_rand") ratios_hot+=("$q_hot")
    printf '| %d | %.0f (p99 %s) | %.0f (p99 %s) | %s | %.0f (p99 %s) | %.0f (p99 %s) | %s |\n' "$pair" \
        "$r_rand" "$r_rand99" "$o_rand" "$o_rand99" "$q_rand" "$r_hot" "$r_hot99" "$o_hot" "$o_hot99" "$q_hot"
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo "median ratio eventflow/$base: rand $(median "${ratios_rand[@]}"), hot $(median "${ratios_hot[@]}")"
