#!/usr/bin/env bash
# test_pubsub_clients.sh - eventflow subscriptions through the pub/sub APIs
# of stock Redis client libraries, unchanged: Debian's python3-redis
# (RESP2) and go-redis v9 (RESP3 by default, and RESP2), against one real
# eventflowd on a free 127.0.0.1 port. Each client subscribes from version
# 0 of a stream that already has an event, must receive it (catch-up) and
# then one ADDed afterwards (live).
#
# Env: EVENTFLOWD (set by meson). Needs python3-redis and Go
# (/usr/local/go or PATH) with the Go module proxy; scripts/setup.sh
# installs python3-redis.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${EVENTFLOWD:?set EVENTFLOWD to the eventflowd binary}"
[ -x /usr/local/go/bin/go ] && export PATH="/usr/local/go/bin:$PATH"
py=/usr/bin/python3
fail() { echo "FAIL: $*" >&2; exit 1; }
"$py" -c 'import redis' 2>/dev/null || fail "python3-redis is not installed (scripts/setup.sh installs it)"
command -v go >/dev/null || fail "go is not installed"

# shellcheck source=one_node.sh
source "$(dirname "$0")/one_node.sh"
one_node_start pubsub

"$py" - "$port" <<'PY' || fail "python3-redis pubsub"
import json, sys, redis
r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]))
def add(stream, typ):
    r.execute_command("ADD", json.dumps({"stream": stream, "version": "any", "events": [{"type": typ}]}))
add("py", "Before")
p = r.pubsub()
spec = json.dumps({"stream": "py", "version": 0})
p.subscribe(spec)
def next_message():
    for _ in range(200):
        m = p.get_message(timeout=0.05)
        if m is not None and m["type"] == "message":
            assert m["channel"].decode() == spec, m
            return json.loads(m["data"])
    raise SystemExit("no message")
first = next_message()
assert first["stream"] == "py" and first["version"] == 0 and first["type"] == "Before", first
add("py", "Live")
live = next_message()
assert live["version"] == 1 and live["type"] == "Live", live
p.unsubscribe(spec)
print("python3-redis %s: caught up and live" % redis.__version__)
PY

( cd "$here/pubsub_go" && GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod" go build -o "$dir/pubsub_go" . ) || fail "building the go-redis client"
"$dir/pubsub_go" "127.0.0.1:$port" 3 || fail "go-redis over RESP3"
"$dir/pubsub_go" "127.0.0.1:$port" 2 || fail "go-redis over RESP2"
echo "PASS: pub/sub clients"
