#!/usr/bin/env bash
# bench-compare.sh - eventflow against its peers, measured in one run on this
# machine: Redis 7 streams with appendfsync always, a three-member etcd
# cluster, eventflow on one node and eventflow on three nodes.
#
# Uses the peer scripts in ../shared/bench (SHARED_BENCH to override) with
# the same redis-benchmark workload for Redis and for eventflow (profiles
# redis-streams.sh and event-store.sh: same keys, same payload), then
# eventflow-bench for 200-byte events and 100-event GET pages, then
# scripts/failover-bench.sh. Everything binds 127.0.0.1 and is stopped by PID.
#
# Step size200 repeats the write comparison with 200-byte events (the size
# the targets name; scripts/bench-profiles/): Redis, then one eventflow node,
# then Redis again, all through redis-benchmark, so a drift of the machine
# during the step shows as two different Redis numbers.
#
# Env: BUILD (default ./build), REPS (default 1), STEPS (default
# "redis etcd single cluster size200 failover"), RESULTS_DIR.
set -uo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
build="${BUILD:-$root/build}"
shared="${SHARED_BENCH:-$root/../shared/bench}"
export REPS="${REPS:-1}"
steps="${STEPS:-redis etcd single cluster size200 failover}"
out="${RESULTS_DIR:-/tmp/eventflow-bench-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$out"
bin="$build/src/daemon/eventflowd"
bench="$build/src/bench/eventflow-bench"
[ -x "$bin" ] && [ -x "$bench" ] || { echo "build first: meson setup build --buildtype=release && ninja -C build" >&2; exit 2; }

pids=()
dirs=()
cleanup() {
    for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null; done
    for d in "${dirs[@]:-}"; do [ -n "$d" ] && rm -rf "$d"; done
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

{
    echo "# eventflow comparison run $(date -Is)"
    echo "host: $(uname -srm), $(nproc) vCPU, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
    echo "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "disk: $(df -PT /tmp | awk 'NR == 2 {print $2 " (" $1 ")"}') for every data directory"
    echo "eventflow: $($bin --version), raft $(dpkg-query -W -f='${Version}' libraft-dev 2>/dev/null)"
    echo "reps: $REPS"
} | tee "$out/header.md"

# start_nodes N : N eventflowd nodes in one cluster; sets ports[] and node_pids[].
start_nodes() {
    local n="$1" i members=""
    ports=(); rports=(); node_pids=()
    for i in $(seq 1 "$n"); do ports[$i]=$(free_port); rports[$i]=$(free_port); done
    for i in $(seq 1 "$n"); do
        members="${members:+$members,}$i@127.0.0.1:${rports[$i]}@127.0.0.1:${ports[$i]}"
    done
    local d; d="$(mktemp -d /tmp/eventflow-bench.XXXXXX)"; dirs+=("$d")
    for i in $(seq 1 "$n"); do
        HTTP_PORT=0 "$bin" --id "$i" --port "${ports[$i]}" --raft-address "127.0.0.1:${rports[$i]}" \
            --data "$d/n$i" --cluster "$members" >"$d/n$i.log" 2>&1 &
        node_pids[$i]=$!; pids+=($!)
    done
    for _ in $(seq 1 300); do
        for i in $(seq 1 "$n"); do
            if redis-cli -p "${ports[$i]}" STATUS 2>/dev/null | grep -q '"state":"leader","stale":false,"last_contact_ms":0,"ready":true'; then
                leader=$i; return 0
            fi
        done
        sleep 0.1
    done
    echo "no leader" >&2; return 1
}

stop_nodes() {
    local p
    for p in "${node_pids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
}

ours() { # ours TAG PORT PIDS
    local tag="$1" port="$2" spids="$3"
    SERVER_PIDS="$spids" CONCS=50 PIPELINE=16 "$shared/resp_target.sh" "$port" "$tag" \
        "$shared/profiles/event-store.sh" >"$out/$tag-rb.md" 2>"$out/$tag-rb.log"
    cat "$out/$tag-rb.md"
    "$bench" --port "$port" --workload add -c 50 -d 10 --event-size 200 >"$out/$tag-add.txt" 2>&1
    "$bench" --port "$port" --workload add -c 50 -P 16 -d 10 --event-size 200 >"$out/$tag-add-p16.txt" 2>&1
    grep -E "^\| (add|get|getall) " "$out/$tag-add.txt" "$out/$tag-add-p16.txt"
}

for s in $steps; do
    echo "== $s $(date +%T), load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/header.md"
    case "$s" in
    redis)
        REDIS_MODES=always CONCS=50 PIPELINE=16 "$shared/redis_baseline.sh" >"$out/redis.md" 2>"$out/redis.log"
        cat "$out/redis.md" ;;
    etcd)
        GW_CONCS=50 PERF_LOADS="" "$shared/etcd_baseline.sh" >"$out/etcd.md" 2>"$out/etcd.log"
        cat "$out/etcd.md" ;;
    single)
        start_nodes 1 || exit 1
        ours single "${ports[1]}" "${node_pids[*]}"
        stop_nodes ;;
    cluster)
        start_nodes 3 || exit 1
        ours cluster "${ports[$leader]}" "${node_pids[*]}"
        f=$(( leader % 3 + 1 ))
        # Fill 10 streams with 100 events each through the leader, then read
        # 100-event pages from a follower's own store.
        "$bench" --port "${ports[$leader]}" --workload get --prefill 100 --prefill-streams 10 --streams 10 \
            -c 1 -n 1 >/dev/null 2>&1
        "$bench" --port "${ports[$f]}" --workload get --streams 10 -c 50 -d 10 >"$out/cluster-follower-get.txt" 2>&1
        # The same 100-event page of stream:hot that Redis serves with XRANGE,
        # through redis-benchmark, from the follower.
        redis-benchmark -h 127.0.0.1 -p "${ports[$f]}" -c 50 -n 100000 --csv \
            GET '{"stream":"stream:hot","version":0,"limit":100}' 2>/dev/null | tail -1 \
            | sed 's/^/follower RANGE100 c=50 (redis-benchmark csv): /' | tee "$out/cluster-follower-range100.txt"
        grep -E "^\| get " "$out/cluster-follower-get.txt"
        grep -h "term" "${dirs[-1]}"/n*.log | grep -c "candidate -> leader" | sed 's/^/elections during the cluster run (all nodes): /'
        stop_nodes ;;
    size200)
        profiles="$root/scripts/bench-profiles"
        for round in 1 2; do
            PROFILE="$profiles/redis-streams-200.sh" REDIS_MODES=always CONCS=50 PIPELINE=16 \
                "$shared/redis_baseline.sh" >"$out/redis200-$round.md" 2>"$out/redis200-$round.log"
            cat "$out/redis200-$round.md"
            [ "$round" = 2 ] && break
            start_nodes 1 || exit 1
            SERVER_PIDS="${node_pids[*]}" CONCS=50 PIPELINE=16 SKIP_READS=1 "$shared/resp_target.sh" \
                "${ports[1]}" single200 "$profiles/event-store-200.sh" >"$out/single200-rb.md" 2>"$out/single200-rb.log"
            cat "$out/single200-rb.md"
            stop_nodes
        done ;;
    failover)
        EVENTFLOWD="$bin" KILLS="${KILLS:-10}" scripts/failover-bench.sh 2>"$out/failover.log" | tee "$out/failover.txt" ;;
    esac
done
echo "results in $out"
