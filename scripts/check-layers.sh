#!/usr/bin/env bash
# check-layers.sh - the source tree's layering, checked from its #include
# lines. Every folder under src/ is a room on a floor; a file may include
# headers of its own room and of rooms on lower floors only:
#
#   4  server                    the client-facing layer: RESP connections,
#                                commands, reads, cluster commands
#   3  node                      replication: the only owner of raft
#   2  store  raftio  client     the LMDB state machine; raft's I/O; the
#      acl                       client library (public headers eventflow/);
#                                users' rules, password hashes, the nodes'
#                                credential
#   1  protocol                  RESP and the JSON codec
#   0  common  proto             buffers, logs, ids; the protobuf records
#   5  http                      the HTTP listener, on top of server's
#                                connections and commands
#   5  cli  bench                programs on top of the client library
#   6  daemon                    eventflowd's main: config, node, server, http
#
# Rooms on one floor do not include each other, so no circle can cross
# rooms. And raft's own headers (<raft.h>, <raft/uv.h>) are included only
# by node and raftio: above them, raft is reached through node.h.
#
# Usage: scripts/check-layers.sh [SOURCE_ROOT]. Prints every violation as
# file:line: what, and exits 1 if there is any; 0 and one summary line
# otherwise. Run by tests/run as the "layers" test.
set -uo pipefail
root="${1:-$(dirname "$0")/..}"
cd "$root" || exit 2

floor_of() {
    case "$1" in
        common|proto) echo 0 ;;
        protocol) echo 1 ;;
        store|raftio|client|eventflow|acl) echo 2 ;;
        node) echo 3 ;;
        server) echo 4 ;;
        http|cli|bench) echo 5 ;;
        daemon) echo 6 ;;
        *) echo "" ;;
    esac
}

violations=0
files=0
while IFS= read -r file; do
    files=$((files + 1))
    room=${file#src/}
    room=${room%%/*}
    mine=$(floor_of "$room")
    if [ -z "$mine" ]; then
        echo "$file: the room src/$room/ has no floor in scripts/check-layers.sh"
        violations=$((violations + 1))
        continue
    fi
    while IFS=: read -r line text; do
        inc=$(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' <<<"$text")
        sys=$(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*<\([^>]*\)>.*/\1/p' <<<"$text")
        if [ -n "$sys" ]; then
            case "$sys" in
                raft.h|raft/*)
                    if [ "$room" != node ] && [ "$room" != raftio ]; then
                        echo "$file:$line: includes <$sys>: only node/ and raftio/ use raft (server code goes through node/node.h)"
                        violations=$((violations + 1))
                    fi ;;
            esac
            continue
        fi
        case "$inc" in
            */*) ;;
            *) continue ;; # a generated header (version.h, eventflow.pb-c.h) or one of its own folder
        esac
        theirs=${inc%%/*}
        [ "$theirs" = "$room" ] && continue
        [ "$theirs" = eventflow ] && [ "$room" = client ] && continue
        floor=$(floor_of "$theirs")
        if [ -z "$floor" ]; then
            echo "$file:$line: includes \"$inc\" from a room with no floor"
            violations=$((violations + 1))
        elif [ "$floor" -ge "$mine" ]; then
            echo "$file:$line: $room (floor $mine) includes \"$inc\" ($theirs, floor $floor): only lower floors may be included"
            violations=$((violations + 1))
        fi
    done < <(grep -n '^[[:space:]]*#[[:space:]]*include' "$file")
done < <(git ls-files --cached --others --exclude-standard 'src/*.c' 'src/*.h' 2>/dev/null || find src -name '*.[ch]')

if [ "$violations" -ne 0 ]; then
    echo "check-layers: $violations include(s) against the layering, in $files files"
    exit 1
fi
echo "check-layers: $files files, every include goes down a floor or stays in its room"
