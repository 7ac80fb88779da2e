# one_node.sh - sourced by the shell integration tests: one eventflowd
# (EVENTFLOWD) on a free 127.0.0.1 port with a temporary data directory,
# stopped by its PID and the directory removed when the test exits.
#
# one_node_start NAME : start it and wait until it is ready for writes;
# sets dir (the temporary directory), port, http_port (its HTTP listener's)
# and pid. The caller defines fail MESSAGE.

one_node_cleanup() {
    [ -n "${pid:-}" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$dir"
}

one_node_start() {
    dir=$(mktemp -d "${TMPDIR:-/tmp}/eventflow-$1-XXXXXX")
    pid=""
    trap one_node_cleanup EXIT
    # Three ports the kernel says are free, held together so they differ
    # (the port after a free one may be any connection's).
    local rport
    read -r port rport http_port < <(python3 -c 'import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
    "$EVENTFLOWD" --port "$port" --raft-address "127.0.0.1:$rport" --http-port "$http_port" --data "$dir/data" \
        >"$dir/log" 2>&1 &
    pid=$!
    for _ in $(seq 1 200); do
        grep -q "ready for writes" "$dir/log" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || { cat "$dir/log"; fail "eventflowd exited"; }
        sleep 0.05 # poll interval of a condition wait (the log line)
    done
    grep -q "ready for writes" "$dir/log" || { cat "$dir/log"; fail "eventflowd did not become ready"; }
}
