#!/usr/bin/env bash
# bench-retention.sh - ADD latency while a three-node cluster removes expired
# events (docs/benchmarks.md, "Retention").
#
# Starts three eventflowd nodes on free 127.0.0.1 ports (a temporary
# directory, removed on exit after every node is stopped by PID), then REPS
# rounds of, each with the writer at half the cluster's closed-loop ADD
# rate (eventflow-bench add, c=50, 5 s) measured first (eventflow-bench
# delivery live: open loop, one 200-byte event per ADD, one $all
# subscriber; the closed-loop rate is measured again before each round,
# the machine's load moving it):
#   without  SECS seconds of writes, nothing removed;
#   with     REMOVE_N events prefilled into stream bench:0 (left to age a
#            second), then SECS seconds of writes, STREAM SETMETA bench:0
#            max_age 1 sent 2 s in: the leader expires and reclaims them
#            during the writes.
# Prints per round the ADD p50/p99/max without and with, the ratio of the
# p99s, how long the removal took (setmeta to reclaim_pending 0 on every
# node) and SIZE (bytes of the store in use) before the prefill, after it,
# after the removal. The rounds alternate, so a load change on the machine
# hits both sides alike.
#
# Env: EVENTFLOWD (build/src/daemon/eventflowd), EVENTFLOW_BENCH (next to
# it), REMOVE_N (1000000), SECS (20), REPS (3), RATE (ADDs/s; 0: half the
# closed-loop rate measured before each round).
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
bin="${EVENTFLOWD:-build/src/daemon/eventflowd}"
bench="${EVENTFLOW_BENCH:-$(dirname "$bin")/../bench/eventflow-bench}"
REMOVE_N="${REMOVE_N:-1000000}"
SECS="${SECS:-20}"
REPS="${REPS:-3}"
RATE="${RATE:-0}"
for b in "$bin" "$bench"; do
    [ -x "$b" ] || { echo "no $b: build first" >&2; exit 2; }
done
command -v redis-cli >/dev/null || { echo "redis-cli missing (apt-get install redis-tools)" >&2; exit 2; }

. scripts/three-nodes-lib.sh retention

for i in 1 2 3; do
    "$bin" --id "$i" --port "${cport[$i]}" --raft-address "127.0.0.1:${rport[$i]}" --http-port 0 \
        --data "$dir/n$i" --cluster "$members" "${extra[@]}" >>"$dir/n$i.log" 2>&1 &
    pids[$i]=$!
done

now_ms() { date +%s%3N; }
status_field() { redis-cli -p "$1" STATUS | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"; }

leader=""
deadline=$(( $(now_ms) + 30000 ))
while [ -z "$leader" ] && [ "$(now_ms)" -lt "$deadline" ]; do
    for i in 1 2 3; do
        if redis-cli -p "${cport[$i]}" STATUS 2>/dev/null | grep -q '"state":"leader","stale":false,"last_contact_ms":0,"ready":true'; then
            leader=$i
        fi
    done
    [ -n "$leader" ] || sleep 0.05 # poll interval while waiting for a leader
done
[ -n "$leader" ] || { echo "no leader within 30 s" >&2; exit 1; }
lp="${cport[$leader]}"
allpids="${pids[1]},${pids[2]},${pids[3]}"

# Wait until every node has applied the removal: nothing hidden left stored.
wait_reclaimed() {
    local want="$1" i
    for i in 1 2 3; do
        until [ "$(status_field "${cport[$i]}" removed_events)" -ge "$want" ] &&
              [ "$(status_field "${cport[$i]}" reclaim_pending)" -eq 0 ]; do
            sleep 0.1 # poll interval of a condition wait
        done
    done
}

size() { redis-cli -p "$lp" SIZE | head -1; }

# The closed-loop ADD rate right now (the machine's load moves it).
max_rate() {
    "$bench" --port "$lp" --workload add -c 50 -d 5 --warmup 1 --json |
        python3 -c 'import json,sys; print(int(json.load(sys.stdin)["events_per_s"]))'
}

writer() {
    "$bench" delivery live --port "$lp" --pids "$allpids" --readers 1 --rate "$rate" --wconns 8 \
        --secs "$SECS" --stream "w-$1" --drain 10 | tr ' ' '\n' | grep -E '^add_(p50|p99|max)_ms='
}

echo "| round | max rate | writer rate | p50 without | p99 without | max without | p50 with | p99 with | max with | p99 ratio | removal s | SIZE before | after prefill | after removal |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
removed=0
for rep in $(seq 1 "$REPS"); do
    max="-"
    rate="$RATE"
    if [ "$rate" = 0 ]; then
        max=$(max_rate)
        rate=$(( max / 2 ))
    fi
    without=$(writer "a$rep" | cut -d= -f2 | paste -sd' ')
    s0=$(size)
    "$bench" --port "$lp" --workload ping -c 4 -n 1 --streams 1 --prefill "$REMOVE_N" --prefill-streams 1 >/dev/null
    s1=$(size)
    sleep 1.1 # the prefilled events must be over max_age (1 s) old: this is the condition itself
    writer "b$rep" > "$dir/with" &
    wpid=$!
    sleep 2 # let the writer reach its rate before the removal starts
    t0=$(now_ms)
    redis-cli -p "$lp" STREAM SETMETA '{"stream":"bench:0","max_age":1}' >/dev/null
    removed=$(( removed + REMOVE_N ))
    wait_reclaimed "$removed"
    t1=$(now_ms)
    wait "$wpid"
    with=$(cut -d= -f2 < "$dir/with" | paste -sd' ')
    redis-cli -p "$lp" STREAM SETMETA '{"stream":"bench:0","max_age":null}' >/dev/null
    s2=$(size)
    read -r p50a p99a maxa <<<"$without"
    read -r p50b p99b maxb <<<"$with"
    ratio=$(awk -v a="$p99a" -v b="$p99b" 'BEGIN { printf "%.2f", b / a }')
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
    echo "| $rep | $max | $rate | $p50a | $p99a | $maxa | $p50b | $p99b | $maxb | $ratio | $secs | $s0 | $s1 | $s2 |"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
