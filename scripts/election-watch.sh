#!/usr/bin/env bash
# election-watch.sh - spurious elections under full write load: three
# eventflowd nodes on free 127.0.0.1 ports, eventflow-bench writing to the
# leader (c=50, 200-byte events, random streams) for SECS seconds, and each
# node's campaigns (eventflow_raft_elections_total, pre-votes included),
# leader changes and raft term read before and after. A healthy run has
# every count unchanged: nothing was killed, so any campaign is spurious.
#
# Env: BUILD (default build), SECS (default 600), CONNS (default 50),
#      ELECTION_TIMEOUT / HEARTBEAT_TIMEOUT (passed to the nodes if set).
# Exit status 1 if any node campaigned or the leader changed.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${BUILD:-build}"
bin="$build/src/daemon/eventflowd"
bench="$build/src/bench/eventflow-bench"
secs="${SECS:-600}"
[ -x "$bin" ] && [ -x "$bench" ] || { echo "no $bin or $bench: build first" >&2; exit 2; }
command -v redis-cli >/dev/null || { echo "redis-cli missing (apt-get install redis-tools)" >&2; exit 2; }

. scripts/three-nodes-lib.sh elections
for i in 1 2 3; do
    "$bin" --id "$i" --port "${cport[$i]}" --raft-address "127.0.0.1:${rport[$i]}" --http-port 0 \
        --data "$dir/n$i" --cluster "$members" "${extra[@]}" >"$dir/n$i.log" 2>&1 &
    pids[$i]=$!
done

leader=""
for _ in $(seq 1 300); do
    for i in 1 2 3; do
        if redis-cli -p "${cport[$i]}" STATUS 2>/dev/null | grep -q '"state":"leader","stale":false,"last_contact_ms":0,"ready":true'; then
            leader=$i
        fi
    done
    [ -n "$leader" ] && break
    sleep 0.1
done
[ -n "$leader" ] || { echo "no leader within 30 s" >&2; exit 1; }

# "campaigns leader_changes term" of node i.
counts() {
    local m t
    m=$(redis-cli -p "${cport[$1]}" METRICS 2>/dev/null)
    t=$(redis-cli -p "${cport[$1]}" STATUS 2>/dev/null | sed -n 's/.*"term":\([0-9]*\).*/\1/p')
    echo "$(echo "$m" | awk '/^eventflow_raft_elections_total /{print $2}')" \
         "$(echo "$m" | awk '/^eventflow_raft_leader_changes_total /{print $2}')" "$t"
}
declare -a before after
for i in 1 2 3; do before[$i]="$(counts "$i")"; done
echo "leader node $leader; writing for $secs s" >&2
"$bench" --port "${cport[$leader]}" -c "${CONNS:-50}" -d "$secs" --streams 100000 --event-size 200 >"$dir/bench.txt" 2>&1 || true
for i in 1 2 3; do after[$i]="$(counts "$i")"; done

bad=0
for i in 1 2 3; do
    read -r c0 l0 t0 <<<"${before[$i]}"
    read -r c1 l1 t1 <<<"${after[$i]}"
    echo "node $i: campaigns $((c1 - c0)), leader changes $((l1 - l0)), term $t0 -> $t1"
    [ "$((c1 - c0))" -eq 0 ] && [ "$((l1 - l0))" -eq 0 ] && [ "$t0" = "$t1" ] || bad=1
done
grep -E "events/s|requests/s|p99" "$dir/bench.txt" | head -3
[ "$bad" -eq 0 ] && echo "no spurious election in $secs s of writes" || echo "SPURIOUS ELECTIONS (node logs in $dir are removed on exit)"
exit "$bad"
