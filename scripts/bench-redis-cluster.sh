#!/usr/bin/env bash
# bench-redis-cluster.sh - eventflow through go-redis v9's ClusterClient
# against the figures of eventflow's own tools, in one run on one machine
# (docs/benchmarks.md, "Redis Cluster clients"):
#
#   appends  ROUNDS x (redis-benchmark ADD to the leader directly, c=50;
#            then examples/redis-cluster/go bench: ClusterClient seeded with
#            a follower, 50 goroutines, one event per ADD, SECONDS long)
#   failover KILLS x (kill -9 of the leader, seen by a ClusterClient seeded
#            with a follower; then by libeventflow seeded with a follower,
#            scripts/failover-client.c), each on a new three-node cluster
#
# Env: EVENTFLOWD (default build/src/daemon/eventflowd), BUILD (default
# build: for libeventflow), ROUNDS (2), SECONDS_EACH (10), REQUESTS (200000,
# redis-benchmark's -n), KILLS (5). Needs redis-tools, Go, a C compiler.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
EVENTFLOWD="${EVENTFLOWD:-build/src/daemon/eventflowd}"
build="${BUILD:-build}"
rounds="${ROUNDS:-2}"
seconds="${SECONDS_EACH:-10}"
requests="${REQUESTS:-200000}"
kills="${KILLS:-5}"
[ -x /usr/local/go/bin/go ] && export PATH="/usr/local/go/bin:$PATH"
fail() { echo "bench-redis-cluster: $*" >&2; exit 1; }
[ -x "$EVENTFLOWD" ] || fail "no $EVENTFLOWD: build first"
work=$(mktemp -d /tmp/eventflow-rcbench.XXXXXX)
( cd examples/redis-cluster/go && GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod" go build -o "$work/rcluster_go" . ) ||
    fail "building the go-redis program"
cc -std=c17 -D_GNU_SOURCE -O2 -I include -o "$work/failover-client" scripts/failover-client.c \
    -L "$build/src/client" -leventflow -Wl,-rpath,"$(cd "$build/src/client" && pwd)" || fail "building failover-client"

# shellcheck source=../tests/integration/three_nodes.sh
source tests/integration/three_nodes.sh

echo "machine: $(nproc) CPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
three_start rcbench
L=$(leader_index)
F=$((L % 3 + 1))
req='{"stream":"rb-__rand_int__","version":"any","events":[{"type":"Bench","data":{"n":1}}]}'
for r in $(seq 1 "$rounds"); do
    rb=$(redis-benchmark -h 127.0.0.1 -p "${ports[$L]}" -c 50 -n "$requests" -r 50 --csv ADD "$req" | tail -1)
    echo "round $r redis-benchmark ADD c=50 to the leader: $rb"
    gb=$("$work/rcluster_go" bench "127.0.0.1:${ports[$F]}" 50 "$seconds" 2>/dev/null)
    echo "round $r go-redis ClusterClient ADD c=50 seeded with a follower: $gb"
done
three_cleanup
trap - EXIT

for k in $(seq 1 "$kills"); do
    for client in go-redis libeventflow; do
        three_start "rcfail"
        L=$(leader_index)
        F=$((L % 3 + 1))
        if [ "$client" = go-redis ]; then
            out=$("$work/rcluster_go" failover "127.0.0.1:${ports[$F]}" "${pids[$L]}" 2>/dev/null)
        else
            out=$("$work/failover-client" "127.0.0.1:${ports[$F]}" "${pids[$L]}")
        fi
        echo "kill $k $client: $out"
        wait "${pids[$L]}" 2>/dev/null
        pids[$L]=""
        three_cleanup
        trap - EXIT
    done
done
rm -rf "$work"
