#!/usr/bin/env bash
# local.sh - run a three-node eventflow cluster on 127.0.0.1.
#
#   cluster/local.sh start    install, build, start nodes 1-3 in the background
#   cluster/local.sh stop     stop them (SIGTERM, by the PIDs recorded at start)
#   cluster/local.sh status   cluster status as the nodes see it
#
# Node settings are in cluster/node{1,2,3}.env; the cluster secret is made
# once in ${EVENTFLOW_DATA:-./data}/cluster-secret; data goes to
# ${EVENTFLOW_DATA:-./data}/node{1,2,3}, logs to ${EVENTFLOW_DATA:-./data}/node{1,2,3}.log.
# Clients: 127.0.0.1:6543, :6544, :6545 (any node; writes redirect with -MOVED).
# EVENTFLOWD=/path/to/eventflowd starts that binary instead of installing
# and building ./build (tests/integration/test_quickstart.sh does).
set -euo pipefail
cd "$(dirname "$0")/.."
data="${EVENTFLOW_DATA:-./data}"
bin="${EVENTFLOWD:-./build/src/daemon/eventflowd}"

start() {
    if [ -z "${EVENTFLOWD:-}" ]; then
        bash scripts/setup.sh
        [ -f build/build.ninja ] || meson setup build --buildtype=release >/dev/null
        ninja -C build >/dev/null
    fi
    mkdir -p "$data"
    # Every raft connection proves this secret (docs/operations.md, "The
    # raft port"): made once, readable by this user only, read by the
    # nodes from the file so that it stays out of ps.
    if [ ! -s "$data/cluster-secret" ]; then
        (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$data/cluster-secret")
    fi
    export CLUSTER_SECRET_FILE="$data/cluster-secret"
    for i in 1 2 3; do
        pidf="$data/node$i.pid"
        if [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then
            echo "node $i already running (pid $(cat "$pidf"))"
            continue
        fi
        (
            set -a
            # shellcheck disable=SC1090
            EVENTFLOW_DATA="$data" source "cluster/node$i.env"
            set +a
            exec "$bin" >>"$data/node$i.log" 2>&1
        ) &
        echo $! >"$pidf"
        echo "node $i: pid $!, clients 127.0.0.1:$((6542 + i)), log $data/node$i.log"
    done
    # Up means a leader that takes writes: elected, and its first entry of
    # its term applied (before that it answers -TRYAGAIN).
    for _ in $(seq 1 100); do
        if redis-cli -p 6543 CLUSTER STATUS 2>/dev/null | grep -q '"state":"leader"[^}]*"ready":true'; then
            echo "cluster up. try (-c follows a write's -MOVED redirect to the leader):"
            echo "  redis-cli -c -p 6543 ADD '{\"stream\":\"accounts-1\",\"version\":0,\"events\":[{\"type\":\"AccountOpened\",\"data\":{\"id\":1}}]}'"
            echo "  redis-cli -p 6544 GET '{\"stream\":\"accounts-1\"}'"
            return 0
        fi
        sleep 0.1
    done
    echo "no leader after 10 s; see $data/node*.log" >&2
    return 1
}

stop() {
    for i in 1 2 3; do
        pidf="$data/node$i.pid"
        [ -f "$pidf" ] || continue
        pid="$(cat "$pidf")"
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid"
            for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
            echo "node $i stopped"
        fi
        rm -f "$pidf"
    done
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    status) redis-cli -p 6543 CLUSTER STATUS ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
