# three_nodes.sh - sourced by the shell integration tests and scripts: a
# three-node eventflowd cluster (EVENTFLOWD) on free 127.0.0.1 ports with
# a temporary data directory, stopped by PID and the directory removed on
# exit.
#
# three_start NAME [ARGS...]: start the nodes (extra ARGS go to each) and
# wait until one of them leads and every node has applied the cluster's
# identity (the first leader's first entry; until then a node's Redis node
# ids start with zeros, redis_cluster.h); sets dir, ports[1..3] (client ports),
# pids[1..3]. leader_index: the index of the leader (polls INFO
# replication), or nothing. The caller defines fail MESSAGE.

# Stop the nodes and remove the directory; a sanitizer's report in a
# node's log (an ASan build) fails the test.
three_cleanup() {
    for p in "${pids[@]:-}"; do
        [ -n "$p" ] && kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    pids=()
    local bad
    bad=$(grep -l -E "AddressSanitizer|LeakSanitizer|runtime error:" "$dir"/log* 2>/dev/null)
    [ -n "$bad" ] && cat $bad >&2
    rm -rf "$dir"
    [ -z "$bad" ] || { echo "FAIL: a sanitizer reported an error (above)" >&2; exit 1; }
}

leader_index() {
    local i
    for i in 1 2 3; do
        [ -n "${pids[$i]:-}" ] && kill -0 "${pids[$i]}" 2>/dev/null || continue
        redis-cli -p "${ports[$i]}" INFO replication 2>/dev/null | grep -q '^role:master' && { echo "$i"; return; }
    done
}

three_start() {
    local name=$1
    shift
    dir=$(mktemp -d "${TMPDIR:-/tmp}/eventflow-$name-XXXXXX")
    declare -g -a ports pids rports hports
    trap three_cleanup EXIT
    read -r -a all < <(python3 -c 'import socket
s = [socket.socket() for _ in range(9)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
    local i members=""
    for i in 1 2 3; do
        ports[$i]=${all[$((i - 1))]}
        rports[$i]=${all[$((i + 2))]}
        hports[$i]=${all[$((i + 5))]}
        members+="${members:+,}$i@127.0.0.1:${rports[$i]}@127.0.0.1:${ports[$i]}"
    done
    for i in 1 2 3; do
        "$EVENTFLOWD" --id "$i" --port "${ports[$i]}" --raft-address "127.0.0.1:${rports[$i]}" \
            --http-port "${hports[$i]}" --cluster "$members" --data "$dir/n$i" "$@" >"$dir/log$i" 2>&1 &
        pids[$i]=$!
    done
    for _ in $(seq 1 200); do
        if [ -n "$(leader_index)" ]; then
            local ready=0
            for i in 1 2 3; do
                [[ $(redis-cli -p "${ports[$i]}" CLUSTER MYID 2>/dev/null) == 00000000000000000000000000000000* ]] ||
                    ready=$((ready + 1))
            done
            [ "$ready" = 3 ] && return 0
        fi
        sleep 0.05 # poll interval of a condition wait (a leader, the identity)
    done
    cat "$dir"/log*
    fail "no leader"
}
