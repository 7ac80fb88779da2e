#!/usr/bin/env bash
# failover-bench.sh - how long a three-node cluster takes to accept writes
# again after kill -9 of its leader.
#
# Starts three eventflowd nodes on free 127.0.0.1 ports (temp data dirs),
# then KILLS times: kill -9 the leader, poll the two survivors every 10 ms
# with an ADD until one acknowledges it, record the time from the kill to
# that acknowledgement, restart the killed node and wait until it has caught
# up. Prints every sample, the median and the max, and stops everything it
# started (by PID) on exit.
#
# Env: EVENTFLOWD (default build/src/daemon/eventflowd), KILLS (default 10),
#      ELECTION_TIMEOUT / HEARTBEAT_TIMEOUT (passed to the nodes if set).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${EVENTFLOWD:-build/src/daemon/eventflowd}"
kills="${KILLS:-10}"
[ -x "$bin" ] || { echo "no $bin: build first (meson setup build && ninja -C build)" >&2; exit 2; }
command -v redis-cli >/dev/null || { echo "redis-cli missing (apt-get install redis-tools)" >&2; exit 2; }

. scripts/three-nodes-lib.sh failover

start_node() {
    local i="$1"
    "$bin" --id "$i" --port "${cport[$i]}" --raft-address "127.0.0.1:${rport[$i]}" \
        --http-port 0 --data "$dir/n$i" --cluster "$members" "${extra[@]}" >>"$dir/n$i.log" 2>&1 &
    pids[$i]=$!
}

now_ms() { date +%s%3N; }

add() { redis-cli -p "$1" ADD '{"stream":"failover","version":"any","events":[{"type":"Probe"}]}' 2>/dev/null; }

leader() {
    for i in 1 2 3; do
        [ -n "${pids[$i]:-}" ] || continue
        if redis-cli -p "${cport[$i]}" STATUS 2>/dev/null | grep -q '"state":"leader","stale":false,"last_contact_ms":0,"ready":true'; then
            echo "$i"; return 0
        fi
    done
    return 1
}

wait_leader() {
    local deadline=$(( $(now_ms) + 30000 ))
    while [ "$(now_ms)" -lt "$deadline" ]; do
        leader && return 0
        sleep 0.01
    done
    echo "no leader within 30 s" >&2
    return 1
}

for i in 1 2 3; do start_node "$i"; done
l=$(wait_leader)
echo "cluster up, leader node $l; $kills kills" >&2

samples=()
for k in $(seq 1 "$kills"); do
    l=$(wait_leader)
    for _ in $(seq 1 20); do add "${cport[$l]}" >/dev/null; done
    t0=$(now_ms)
    kill -9 "${pids[$l]}"
    wait "${pids[$l]}" 2>/dev/null || true
    pids[$l]=""
    ok=""
    deadline=$(( t0 + 60000 ))
    while [ -z "$ok" ] && [ "$(now_ms)" -lt "$deadline" ]; do
        for i in 1 2 3; do
            [ -n "${pids[$i]:-}" ] || continue
            if add "${cport[$i]}" | grep -q '"id"'; then ok=$i; break; fi
        done
        [ -n "$ok" ] || sleep 0.01
    done
    t1=$(now_ms)
    [ -n "$ok" ] || { echo "kill $k: no write accepted within 60 s" >&2; exit 1; }
    samples+=($((t1 - t0)))
    echo "kill $k: leader $l killed, node $ok accepted a write after $((t1 - t0)) ms" >&2
    start_node "$l"
    # Caught up: the restarted node reports the same checksum as the leader.
    deadline=$(( $(now_ms) + 30000 ))
    while [ "$(now_ms)" -lt "$deadline" ]; do
        a=$(redis-cli -p "${cport[$ok]}" CHECKSUM 2>/dev/null | tr "\n" " " || true)
        b=$(redis-cli -p "${cport[$l]}" CHECKSUM 2>/dev/null | tr "\n" " " || true)
        [ -n "$a" ] && [ "$a" = "$b" ] && break
        sleep 0.05
    done
done

sorted=$(printf '%s\n' "${samples[@]}" | sort -n)
n=${#samples[@]}
median=$(printf '%s\n' "$sorted" | awk -v n="$n" 'NR == int((n + 1) / 2) { print }')
max=$(printf '%s\n' "$sorted" | tail -1)
min=$(printf '%s\n' "$sorted" | head -1)
terms=$(redis-cli -p "${cport[$ok]}" STATUS | sed -n 's/.*"term":\([0-9]*\).*/\1/p')
echo "failover after kill -9 of the leader ($n kills): median ${median} ms, min ${min} ms, max ${max} ms; final term $terms"
