#!/usr/bin/python3
"""eventflow through redis-py's RedisCluster, unchanged (docs/clients.md).

    cluster.py HOST PORT [LEADER_PID]

Seeded with one node only (any member; the test gives a follower): appends
events, reads them back from replicas (read_from_replicas=True), and, given
the leader's PID, kills it with SIGKILL and keeps appending until the
client has found the new leader by itself, then checks that every
acknowledged event is in the stream. Prints "failover_ms=N".
"""
import copy
import json
import os
import signal
import sys
import time
import types

from redis.cluster import RedisCluster
from redis.exceptions import RedisError

STREAM = "py-cluster"


def add(rc, typ):
    """Append one event; its id. ADD's JSON argument is its key for
    RedisCluster (COMMAND declares it so), so the client sends it to the
    primary, the raft leader, and follows MOVED."""
    req = json.dumps({"stream": STREAM, "version": "any", "events": [{"type": typ}]})
    reply = rc.execute_command("ADD", req)
    return json.loads(reply[0])["id"]


def get(rc, consistency=None):
    req = {"stream": STREAM, "version": 0, "limit": 10000}
    if consistency:
        req["consistency"] = consistency
    # GET is one of redis-py's read commands: with read_from_replicas it
    # goes to the replicas (and the primary) in turn.
    return [json.loads(e) for e in rc.execute_command("GET", json.dumps(req))]


# redis-py 4.3.4 (Debian 12) re-reads the topology after a node stops
# answering by deep-copying its connection arguments, which hold a bound
# method of the client (and so its lock): the copy fails with "cannot
# pickle '_thread.lock' object". Copying bound methods by reference, as
# the client means to, lets it rebuild its map.
copy._deepcopy_dispatch[types.MethodType] = lambda method, memo: method


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    leader_pid = int(sys.argv[3]) if len(sys.argv) > 3 else None
    rc = RedisCluster(host=host, port=port, read_from_replicas=True)
    acked = [add(rc, "Before") for _ in range(20)]
    deadline = time.monotonic() + 5
    while len(get(rc)) != len(acked):  # a replica may trail the leader
        if time.monotonic() > deadline:
            raise SystemExit("FAIL: the replicas did not catch up")
        time.sleep(0.01)
    print("appended and read %d events" % len(acked))
    if leader_pid is None:
        return
    os.kill(leader_pid, signal.SIGKILL)
    killed = time.monotonic()
    failover_ms, errors = None, 0
    while len(acked) < 40:
        try:
            acked.append(add(rc, "After"))
        except RedisError:
            # Outcome unknown: only acknowledged events are checked.
            errors += 1
            if time.monotonic() - killed > 30:
                raise
            continue
        if failover_ms is None:
            failover_ms = int((time.monotonic() - killed) * 1000)
    have = {e["id"] for e in get(rc, "linearizable")}
    missing = [i for i in acked if i not in have]
    if missing:
        raise SystemExit("FAIL: acknowledged events missing after the failover: %s" % missing)
    print("redis-py RedisCluster: %d acknowledged events all present; failover_ms=%d (errors seen: %d)"
          % (len(acked), failover_ms, errors))


if __name__ == "__main__":
    main()
