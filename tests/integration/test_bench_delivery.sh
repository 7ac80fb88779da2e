#!/usr/bin/env bash
# test_bench_delivery.sh - `eventflow-bench delivery` against one real
# eventflowd on a free 127.0.0.1 port, small and short: live (2
# subscribers, the writer open loop, then closed loop), fanout (20
# subscribers) and catchup (after a prefill), and live and catchup again
# with the subscribers on HTTP (--sse-port). Each run must exit 0 (every
# ADD acknowledged, every event delivered to every subscriber and matched
# to its ADD) and report what it delivered.
#
# Env: EVENTFLOWD, EVENTFLOW_BENCH (set by meson).
set -uo pipefail
: "${EVENTFLOWD:?set EVENTFLOWD to the eventflowd binary}"
: "${EVENTFLOW_BENCH:?set EVENTFLOW_BENCH to the eventflow-bench binary}"
fail() { echo "FAIL: $*" >&2; exit 1; }

# shellcheck source=one_node.sh
source "$(dirname "$0")/one_node.sh"
one_node_start bench-delivery

kv() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p" | head -1; }

# run NAME ARGS... : one delivery run; its line is left in LINE.
run() {
    local name="$1"; shift
    LINE=$(timeout 60 "$EVENTFLOW_BENCH" delivery "$@" --port "$port" --pids "$pid" --sub-pid "$pid" 2>"$dir/err") ||
        fail "$name: exit $?: $LINE $(cat "$dir/err")"
    echo "$name: $LINE"
}

run live live --readers 2 --rate 500 --secs 1 --drain 5
[ "$(kv written "$LINE")" -ge 400 ] || fail "live: written"
[ "$(kv delivered "$LINE")" -eq $((2 * $(kv written "$LINE"))) ] || fail "live: every subscriber gets every event"
[ "$(kv keepup "$LINE")" -eq 2 ] || fail "live: keepup"
for k in ack_p50_ms ack_p99_ms send_p50_ms send_max_ms srv_us_per_delivery node_us_per_delivery; do
    [ -n "$(kv "$k" "$LINE")" ] && [ "$(kv "$k" "$LINE")" != nan ] || fail "live: no $k"
done

# The same over HTTP: GET /all/subscribe read as server-sent events.
run sse live --readers 2 --rate 500 --secs 1 --drain 5 --sse-port "$http_port"
[ "$(kv cmd "$LINE")" = sse ] || fail "sse: not over HTTP"
[ "$(kv written "$LINE")" -ge 400 ] || fail "sse: written"
[ "$(kv delivered "$LINE")" -eq $((2 * $(kv written "$LINE"))) ] || fail "sse: every subscriber gets every event"
[ -n "$(kv ack_p99_ms "$LINE")" ] && [ "$(kv ack_p99_ms "$LINE")" != nan ] || fail "sse: no ack_p99_ms"

run closed live --readers 1 --rate 0 --wconns 8 --secs 1 --drain 5
[ "$(kv delivered "$LINE")" -eq "$(kv written "$LINE")" ] || fail "closed loop: delivered"

run fanout fanout --readers 20 --rate 1000 --secs 1 --drain 5 --spec '{"stream":"delivery"}'
[ "$(kv delivered "$LINE")" -eq $((20 * $(kv written "$LINE"))) ] || fail "fanout: delivered"

"$EVENTFLOW_BENCH" --port "$port" --workload ping --streams 1 --prefill 5000 --prefill-streams 1 -c 2 -n 1 \
    >"$dir/prefill" 2>&1 || fail "prefill: $(cat "$dir/prefill")"
run catchup catchup --readers 3 --max-secs 30
events=$(redis-cli -p "$port" STATUS 2>/dev/null | sed -n 's/.*"events":\([0-9]*\).*/\1/p')
[ -z "$events" ] || [ "$(kv expect "$LINE")" -eq "$events" ] || fail "catchup: expects $(kv expect "$LINE"), the node holds $events"
[ "$(kv entries "$LINE")" -eq $((3 * $(kv expect "$LINE"))) ] || fail "catchup: entries"
[ "$(kv finished "$LINE")" -eq 3 ] || fail "catchup: finished"
run sse-catchup catchup --readers 1 --max-secs 30 --sse-port "$http_port"
[ "$(kv entries "$LINE")" -eq "$(kv expect "$LINE")" ] || fail "sse catchup: entries"
echo "PASS: eventflow-bench delivery"
