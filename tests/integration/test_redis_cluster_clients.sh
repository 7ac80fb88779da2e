#!/usr/bin/env bash
# test_redis_cluster_clients.sh - eventflow as a Redis Cluster, through
# stock client libraries and tools, unchanged: redis-cli (--cluster check,
# -c), Debian's python3-redis (RedisCluster, and the plain Redis client's
# handshake) and go-redis v9 (ClusterClient, and the plain Client's
# handshake), against three real eventflowd nodes on free 127.0.0.1 ports.
# The cluster clients run the examples in examples/redis-cluster/: seeded
# with a follower only, they append, read from replicas (the followers'
# own counters must show the reads), survive a kill -9 of the leader by
# finding the new one themselves, and lose no acknowledged event.
#
# Env: EVENTFLOWD (set by meson). Needs redis-tools, python3-redis and Go
# with the Go module proxy (scripts/setup.sh).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${EVENTFLOWD:?set EVENTFLOWD to the eventflowd binary}"
[ -x /usr/local/go/bin/go ] && export PATH="/usr/local/go/bin:$PATH"
py=/usr/bin/python3
fail() { echo "FAIL: $*" >&2; exit 1; }
"$py" -c 'import redis' 2>/dev/null || fail "python3-redis is not installed (scripts/setup.sh installs it)"
command -v go >/dev/null || fail "go is not installed"
command -v redis-cli >/dev/null || fail "redis-cli is not installed"

# shellcheck source=three_nodes.sh
source "$here/three_nodes.sh"

# GET commands a node answered "ok" (its METRICS).
gets() { redis-cli -p "$1" METRICS | sed -n 's/^eventflow_commands_total{command="get",outcome="ok"} //p'; }

# The Redis view, from a follower.
three_start rcluster
L=$(leader_index)
F=$((L % 3 + 1))
fp=${ports[$F]}
myid=$(redis-cli -p "$fp" CLUSTER MYID)
[[ $myid =~ ^[0-9a-f]{32}0000000$F$ ]] || fail "CLUSTER MYID: $myid"
redis-cli -p "$fp" CLUSTER NODES | grep -q "^$myid 127.0.0.1:$fp@[0-9]* myself,slave [0-9a-f]\{40\} 0 0 [0-9]* connected$" ||
    fail "CLUSTER NODES: $(redis-cli -p "$fp" CLUSTER NODES)"
redis-cli -p "$fp" CLUSTER NODES | grep -q " master - 0 0 [0-9]* connected 0-16383$" || fail "no master line"
redis-cli -p "$fp" INFO replication | grep -q "^master_port:${ports[$L]}" || fail "INFO replication"
redis-cli -p "${ports[$L]}" INFO replication | grep -q "^role:master" || fail "INFO role on the leader"
[ "$(redis-cli -p "$fp" SELECT 1)" = "ERR SELECT is not allowed in cluster mode" ] || fail "SELECT 1"
check=$(redis-cli --cluster check "127.0.0.1:$fp" 2>&1) || fail "redis-cli --cluster check: $check"
grep -q "All 16384 slots covered" <<<"$check" || fail "redis-cli --cluster check: $check"
out=$(redis-cli -c -p "$fp" ADD '{"stream":"cli","version":0,"events":[{"type":"ViaMoved"}]}')
grep -q '"type":"ViaMoved"' <<<"$out" || fail "redis-cli -c ADD on a follower: $out"

# Plain clients: the handshake, and a write on a follower is -MOVED with
# the slot of its JSON argument.
"$py" - "$fp" <<'PY' || fail "python3-redis plain client"
import json, sys, redis
r = redis.Redis(port=int(sys.argv[1]), client_name="plain-py")
name = r.client_getname()
assert r.ping() and name in (b"plain-py", "plain-py"), name
assert r.info("replication")["role"] == "slave" and r.info("cluster")["cluster_enabled"] == 1
req = json.dumps({"stream": "plain", "version": "any", "events": [{"type": "T"}]})
try:
    r.execute_command("ADD", req)
    raise SystemExit("ADD on a follower succeeded")
except redis.ResponseError as e:
    word, slot, _ = str(e).split(" ")
    assert word == "MOVED" and int(slot) == r.execute_command("CLUSTER KEYSLOT", req), e
print("python3-redis Redis: handshake, INFO, MOVED with the key's slot")
PY
( cd "$root/examples/redis-cluster/go" && GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod" go build -o "$dir/rcluster_go" . ) ||
    fail "building the go-redis example"
"$dir/rcluster_go" plain "127.0.0.1:$fp" || fail "go-redis plain Client"

# redis-py RedisCluster through a failover.
before=$(($(gets "${ports[1]}") + $(gets "${ports[2]}") + $(gets "${ports[3]}")))
leader_gets=$(gets "${ports[$L]}")
"$py" "$root/examples/redis-cluster/python/cluster.py" 127.0.0.1 "$fp" "${pids[$L]}" 2>"$dir/py.err" ||
    { tail -20 "$dir/py.err"; fail "redis-py RedisCluster"; }
wait "${pids[$L]}" 2>/dev/null
pids[$L]=""
after=0
for i in 1 2 3; do [ "$i" != "$L" ] && after=$((after + $(gets "${ports[$i]}"))); done
[ $((after - (before - leader_gets))) -ge 1 ] || fail "no read reached a follower through redis-py"
three_cleanup

# go-redis ClusterClient through a failover, on a new cluster.
three_start rcluster-go
L=$(leader_index)
F=$((L % 3 + 1))
( cd "$root/examples/redis-cluster/go" && GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod" go build -o "$dir/rcluster_go" . ) ||
    fail "building the go-redis example"
"$dir/rcluster_go" failover "127.0.0.1:${ports[$F]}" "${pids[$L]}" 2>"$dir/go.err" ||
    { tail -20 "$dir/go.err"; fail "go-redis ClusterClient"; }
wait "${pids[$L]}" 2>/dev/null
pids[$L]=""
after=0
for i in 1 2 3; do [ "$i" != "$L" ] && after=$((after + $(gets "${ports[$i]}"))); done
[ "$after" -ge 1 ] || fail "no read reached a follower through go-redis"
echo "PASS: Redis Cluster clients"
