#!/bin/sh
# test_quickstart.sh - the README's quick start as a new user types it:
# cluster/local.sh start, writes with redis-cli -c, a read from another node,
# status, stop, and a restart that still holds the events.
#
# local.sh uses the fixed ports 6543-6545 and 7543-7545 (cluster/node*.env),
# so the test runs it in a network namespace of its own: a loopback nothing
# outside it can collide with or reach. The nodes are the build's eventflowd
# (EVENTFLOWD, set by meson); their data goes to a temporary directory.
set -eu
PATH="$PATH:/usr/sbin:/sbin" # ip(8), for users whose PATH lacks them

fail() {
    echo "test_quickstart: $*" >&2
    exit 1
}

if [ -z "${EF_QUICKSTART_NETNS:-}" ]; then
    [ -n "${EVENTFLOWD:-}" ] && [ -x "$EVENTFLOWD" ] || fail "EVENTFLOWD is not set to an executable"
    # root (CI): a network namespace; otherwise a user namespace maps us to
    # root inside it first.
    flags="-n"
    [ "$(id -u)" -eq 0 ] || flags="-r -n"
    # shellcheck disable=SC2086
    exec env EF_QUICKSTART_NETNS=1 unshare $flags sh "$0" "$@"
fi

root=$(cd "$(dirname "$0")/../.." && pwd)
local_sh="$root/cluster/local.sh"
tmp=$(mktemp -d /tmp/ef-quickstart.XXXXXX)
export EVENTFLOW_DATA="$tmp/data"
cleanup() {
    # Whatever local.sh left running is stopped by the PIDs it recorded.
    for f in "$EVENTFLOW_DATA"/node*.pid; do
        [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
ip link set lo up || fail "cannot bring up the namespace's loopback"

# An ADD answers with the stored event; its id is what a client waits for.
event_id() {
    echo "$1" | sed -n 's/^{"id":"\([0-9A-HJKMNP-TV-Z]\{26\}\)".*/\1/p'
}

out=$("$local_sh" start) || fail "local.sh start failed: $out"
echo "$out" | grep -q "cluster up" || fail "local.sh start did not report the cluster up: $out"
pids=$(cat "$EVENTFLOW_DATA"/node*.pid)
[ "$(echo "$pids" | wc -w)" -eq 3 ] || fail "expected three node PIDs, got: $pids"

r=$(redis-cli -c -p 6543 ADD '{"stream":"account-1","version":0,"events":[{"type":"AccountOpened","data":{"id":1}}]}')
id1=$(event_id "$r")
[ -n "$id1" ] || fail "first ADD: $r"
# From a node the write may not have reached yet: min_id waits for it.
got=$(redis-cli -p 6544 GET "{\"stream\":\"account-1\",\"min_id\":\"$id1\"}")
echo "$got" | grep -q "\"id\":\"$id1\"" || fail "GET on 6544 does not hold the event: $got"
echo "$got" | grep -q '"type":"AccountOpened"' || fail "GET on 6544: $got"
r=$(redis-cli -c -p 6545 ADD '{"stream":"account-1","version":1,"events":[{"type":"Deposited","data":{"amount":10}}]}')
id2=$(event_id "$r")
[ -n "$id2" ] || fail "second ADD: $r"
# The version check holds across nodes: version 1 is taken now.
dup=$(redis-cli -c -p 6544 ADD '{"stream":"account-1","version":1,"events":[{"type":"Deposited","data":{"amount":10}}]}')
echo "$dup" | grep -q "concurrent stream modification" || fail "a second version 1 was not refused: $dup"

status=$("$local_sh" status)
[ "$(echo "$status" | grep -c '"role":"voter"')" -eq 3 ] || fail "status does not show three voters: $status"
[ "$(echo "$status" | grep -c '"state":"leader"')" -eq 1 ] || fail "status does not show one leader: $status"
for port in 6543 6544 6545; do
    redis-cli -p "$port" STATUS | grep -q '"raft_cluster_secret":true' ||
        fail "node on $port runs without the cluster secret local.sh made"
done
[ "$(stat -c %a "$EVENTFLOW_DATA/cluster-secret")" = 600 ] || fail "the cluster secret file is not private"

out=$("$local_sh" stop)
[ "$(echo "$out" | grep -c stopped)" -eq 3 ] || fail "local.sh stop: $out"
for p in $pids; do
    kill -0 "$p" 2>/dev/null && fail "node pid $p still runs after stop"
done

# Started again on the same data, every node holds both events.
out=$("$local_sh" start) || fail "second local.sh start failed: $out"
for port in 6543 6544 6545; do
    got=$(redis-cli -p "$port" GET "{\"stream\":\"account-1\",\"min_id\":\"$id2\"}")
    [ "$(echo "$got" | grep -c '"stream":"account-1"')" -eq 2 ] || fail "after restart, GET on $port: $got"
done
"$local_sh" stop >/dev/null
echo "test_quickstart: ok"
