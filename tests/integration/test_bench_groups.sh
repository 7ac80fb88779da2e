#!/usr/bin/env bash
# test_bench_groups.sh - `eventflow-bench groups` against one real
# eventflowd on a free 127.0.0.1 port, small and short: drain (a prefilled
# backlog consumed and acked by 5 consumers), drain again with a new group
# while a writer adds, and writes (the ADD rate alone, then with 2 groups
# consuming). Each run must exit 0 and report every event of the backlog
# acked, and the server's own GROUP INFO must agree: every acked event
# counted there, none left pending.
#
# Env: EVENTFLOWD, EVENTFLOW_BENCH (set by meson).
set -uo pipefail
: "${EVENTFLOWD:?set EVENTFLOWD to the eventflowd binary}"
: "${EVENTFLOW_BENCH:?set EVENTFLOW_BENCH to the eventflow-bench binary}"
fail() { echo "FAIL: $*" >&2; exit 1; }

# shellcheck source=one_node.sh
source "$(dirname "$0")/one_node.sh"
one_node_start bench-groups

kv() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p" | head -1; }

# info GROUP FIELD : FIELD of the server's GROUP INFO GROUP (asked here,
# not through the benchmark, so a benchmark that miscounts is caught).
info() {
    python3 - "$port" "$1" "$2" <<'EOF'
import json, socket, sys
port, group, field = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(b"*3\r\n$5\r\nGROUP\r\n$4\r\nINFO\r\n$%d\r\n%s\r\n" % (len(group), group.encode()))
buf = b""
while b"\r\n" not in buf or len(buf) < buf.index(b"\r\n") + 2 + int(buf[1:buf.index(b"\r\n")]) + 2:
    chunk = s.recv(65536)
    if not chunk:
        sys.exit("connection closed")
    buf += chunk
    if buf[:1] != b"$":
        sys.exit(buf.decode(errors="replace"))
head = buf.index(b"\r\n")
print(json.loads(buf[head + 2:head + 2 + int(buf[1:head])])[field])
EOF
}

# run NAME ARGS... : one groups run; its last mode= line is left in LINE.
run() {
    local name="$1"; shift
    timeout 120 "$EVENTFLOW_BENCH" groups "$@" --port "$port" --pids "$pid" >"$dir/out" 2>"$dir/err" ||
        fail "$name: exit $?: $(cat "$dir/out" "$dir/err")"
    LINE=$(grep '^mode=' "$dir/out" | tail -1)
    echo "$name: $LINE"
}

N=3000
run drain drain --prefill "$N" --consumers 5 --secs 60
[ "$(kv target "$LINE")" -eq "$N" ] || fail "drain: the target is the backlog"
[ "$(kv acked "$LINE")" -eq "$N" ] || fail "drain: every event acked"
[ "$(kv consumed "$LINE")" -eq "$N" ] || fail "drain: every event read once"
[ "$(kv redelivered "$LINE")" -eq 0 ] || fail "drain: no redelivery"
[ "$(info g1 acked)" -eq "$N" ] || fail "drain: GROUP INFO g1 says $(info g1 acked) acked"
[ "$(info g1 pending)" -eq 0 ] || fail "drain: GROUP INFO g1 says $(info g1 pending) pending"
[ "$(info g1 lag)" -eq 0 ] || fail "drain: GROUP INFO g1 says $(info g1 lag) events left"
for k in acked_per_s cycle_p50_ms cycle_p99_ms srv_us_per_entry; do
    v=$(kv "$k" "$LINE")
    [ -n "$v" ] && [ "$v" != nan ] && [ "$v" != 0.000 ] || fail "drain: $k is \"$v\""
done

# Each ACK sent with the next READ: the same events, each once.
run pipelined drain --group gp --consumers 5 --pipeline --secs 60
[ "$(kv pipeline "$LINE")" -eq 1 ] || fail "pipelined: pipeline=1"
[ "$(kv acked "$LINE")" -eq "$N" ] || fail "pipelined: every event acked"
[ "$(kv consumed "$LINE")" -eq "$N" ] || fail "pipelined: every event read once"
[ "$(info gp acked)" -eq "$N" ] || fail "pipelined: GROUP INFO gp says $(info gp acked) acked"
[ "$(info gp pending)" -eq 0 ] || fail "pipelined: GROUP INFO gp says $(info gp pending) pending"

# A new group over the same backlog while the writer adds.
run "drain + writer" drain --group g2 --consumers 5 --wrate 1000 --secs 60
[ "$(kv target "$LINE")" -eq "$N" ] || fail "drain + writer: the target is the backlog"
[ "$(kv acked "$LINE")" -ge "$N" ] || fail "drain + writer: the backlog acked"
[ "$(kv written "$LINE")" -ge 1 ] || fail "drain + writer: the writer wrote"
[ "$(kv werrs "$LINE")" -eq 0 ] || fail "drain + writer: ADDs failed"
[ "$(info g2 acked)" -eq "$(kv acked "$LINE")" ] || fail "drain + writer: GROUP INFO g2 says $(info g2 acked) acked"
[ "$(info g2 pending)" -eq 0 ] || fail "drain + writer: events left pending"

run writes writes --groups 2 --consumers 2 --wconns 4 --secs 1
[ "$(kv groups "$LINE")" -eq 2 ] || fail "writes: the groups' line"
[ "$(kv written "$LINE")" -ge 1 ] && [ "$(kv errs "$LINE")" -eq 0 ] || fail "writes: the writer with groups"
[ "$(kv acked "$LINE")" -ge 1 ] || fail "writes: the groups acked nothing"
[ "$(info wg1 acked)" -ge 1 ] && [ "$(info wg2 acked)" -ge 1 ] || fail "writes: each group consumed"
[ $(($(info wg1 acked) + $(info wg2 acked))) -eq "$(kv acked "$LINE")" ] || fail "writes: GROUP INFO disagrees"
pct=$(kv w_rate_vs_alone_pct "$LINE")
awk -v p="$pct" 'BEGIN { exit !(p > 0) }' || fail "writes: w_rate_vs_alone_pct is \"$pct\""
echo "PASS: eventflow-bench groups"
