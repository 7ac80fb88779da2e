# single_node.sh - sourced by the shell tests that need one real eventflowd:
# start_single_node DIR starts $EVENTFLOWD on two free 127.0.0.1 ports
# (client and raft, both held while picked, so neither is another's),
# with its data and log under DIR, and waits until it is ready for writes.
# It sets PORT and PID, and stops the node (by PID) at exit; the caller's
# own cleanup runs first if it set SINGLE_NODE_CLEANUP. Needs fail().

PORT=""
PID=""
single_node_stop() {
    [ -n "${SINGLE_NODE_CLEANUP:-}" ] && "$SINGLE_NODE_CLEANUP"
    [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    [ -n "${SINGLE_NODE_DIR:-}" ] && rm -rf "$SINGLE_NODE_DIR"
}

start_single_node() {
    SINGLE_NODE_DIR="$1"
    trap single_node_stop EXIT
    local ports
    ports=$(python3 -c '
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
    PORT=${ports% *}
    local raft=${ports#* }
    "$EVENTFLOWD" --port "$PORT" --raft-address "127.0.0.1:$raft" --data "$SINGLE_NODE_DIR/data" \
        >"$SINGLE_NODE_DIR/log" 2>&1 &
    PID=$!
    for _ in $(seq 1 200); do
        grep -q "ready for writes" "$SINGLE_NODE_DIR/log" 2>/dev/null && return 0
        kill -0 "$PID" 2>/dev/null || { cat "$SINGLE_NODE_DIR/log"; fail "eventflowd exited"; }
        sleep 0.05 # poll interval of a condition wait (the log line)
    done
    cat "$SINGLE_NODE_DIR/log"
    fail "eventflowd did not become ready"
}
