#!/usr/bin/env bash
# backup-bench.sh - what a backup costs: its time on a store of a given size,
# the cluster's ADD rate while backups run back to back (served by a
# follower, then by the leader) against the same load with none, and the time
# a restore takes to serve the backup's events.
#
#   scripts/backup-bench.sh [MB]        (default 1000 MB of events)
#
# Starts three eventflowd on free 127.0.0.1 ports in a temporary directory,
# loads MB megabytes of 4000-byte events (ten per ADD), takes one backup from a
# follower (eventflowctl backup, timed), then ROUNDS rounds of three ADD
# loads of SECONDS_EACH seconds against the leader (eventflow-bench, 200-byte
# events, 50 connections): none, with follower-served backups back to back,
# with leader-served backups back to back; each round's ratios are against
# its own load without backups. Then restores the first backup into a fourth node, timed from the
# process's start until it is a ready leader, and checks that its CHECKSUM is
# the one the backup recorded. Prints the peak memory of the first backup's
# client (max RSS) and of the node serving it (RssAnon, sampled). Removes everything on exit.
#
# Env: BUILD (default build: eventflowd, eventflowctl and eventflow-bench in
# it), SECONDS_EACH (default 15), ROUNDS (default 3).
set -euo pipefail

mb="${1:-1000}"
build="${BUILD:-build}"
secs="${SECONDS_EACH:-15}"
rounds="${ROUNDS:-3}"
bin="$build/src/daemon/eventflowd"
ctl="$build/src/cli/eventflowctl"
bench="$build/src/bench/eventflow-bench"
for b in "$bin" "$ctl" "$bench"; do
    [ -x "$b" ] || { echo "no $b: build first (meson setup build --buildtype=release && ninja -C build)" >&2; exit 2; }
done
. "$(dirname "$0")/three-nodes-lib.sh" backup

for i in 1 2 3; do
    "$bin" --id "$i" --port "${cport[$i]}" --raft-address "127.0.0.1:${rport[$i]}" --http-port 0 \
        --cluster "$members" --data "$dir/node$i" 2>>"$dir/node$i.log" &
    pids+=($!)
done
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
ready_leader() {
    redis-cli -p "$1" STATUS 2>/dev/null | grep -q '"state":"leader","stale":false,"last_contact_ms":[0-9]*,"ready":true'
}
leader=""
for _ in $(seq 1 200); do
    for i in 1 2 3; do if ready_leader "${cport[$i]}"; then leader=$i; fi; done
    [ -n "$leader" ] && break
    sleep 0.1
done
[ -n "$leader" ] || { echo "no leader within 20 s" >&2; tail -n 5 "$dir"/node*.log >&2; exit 1; }
follower=$((leader % 3 + 1))
lp="${cport[$leader]}"
fp="${cport[$follower]}"

events=$((mb * 250))
echo "loading $events events of 4000 bytes through 127.0.0.1:$lp"
"$bench" --port "$lp" -c 20 -P 4 -n $((events / 10)) --events-per-add 10 --event-size 4000 --streams 1000 \
    >"$dir/load.txt" || { echo "the load failed:" >&2; tail -5 "$dir/load.txt" >&2; exit 1; }
for _ in $(seq 1 600); do
    [ "$(field "$(redis-cli -p "$fp" STATUS)" events)" = "$(field "$(redis-cli -p "$lp" STATUS)" events)" ] && break
    sleep 0.1
done
st="$(redis-cli -p "$lp" STATUS)"
echo "store: $(field "$st" events) events, LMDB file $(field "$st" db_bytes) bytes"

# The peak of a process's anonymous memory (RssAnon: heap and stacks; the
# store's mapped file pages are page cache, not counted), sampled every
# 20 ms into $2 until $dir/sampled appears.
anon() { sed -n 's/^RssAnon:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }
sample_anon() {
    local peak=0 v
    while [ ! -e "$dir/sampled" ]; do
        v="$(anon "$1")"
        [ -n "$v" ] && [ "$v" -gt "$peak" ] && peak="$v"
        sleep 0.02
    done
    echo "$peak" >"$2"
}
fpid="${pids[$((follower - 1))]}"
before="$(anon "$fpid")"
sample_anon "$fpid" "$dir/serving.anon" &
sampler=$!
start=$(date +%s.%N)
/usr/bin/time -f %M -o "$dir/ctl.rss" "$ctl" -e "127.0.0.1:$fp" -o json backup "$dir/first.efb" >"$dir/first.json"
end=$(date +%s.%N)
touch "$dir/sampled"
wait "$sampler"
echo "backup from the follower: $(cat "$dir/first.json")"
echo "backup time: $(echo "$end - $start" | bc) s, file $(stat -c %s "$dir/first.efb") bytes"
echo "peak memory: eventflowctl max RSS $(cat "$dir/ctl.rss") kB; serving node's RssAnon $before kB before, peak $(cat "$dir/serving.anon") kB during"

# Backups back to back from `node` until the file `stop` appears.
backups_loop() {
    local node="$1" n=0
    while [ ! -e "$dir/stop" ]; do
        rm -f "$dir/loop.efb"
        "$ctl" -e "127.0.0.1:$node" backup --node "127.0.0.1:$node" "$dir/loop.efb" >/dev/null
        n=$((n + 1))
    done
    echo "$n" >"$dir/loop.count"
}
load() {
    "$bench" --port "$lp" -c 50 -d "$secs" --event-size 200 --streams 1000 --json >"$dir/$1.json" ||
        { echo "the load failed:" >&2; cat "$dir/$1.json" >&2; exit 1; }
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%.0f" % r["events_per_s"])' "$dir/$1.json"
}
run_with_backups() {
    rm -f "$dir/stop"
    backups_loop "$1" &
    local loop=$!
    local rate
    rate="$(load "$2")"
    touch "$dir/stop"
    wait "$loop"
    echo "$rate $(cat "$dir/loop.count")"
}
# Rounds of three loads, alternated so that the machine's drift falls on
# every kind alike; ratios are within a round.
ratios=()
for r in $(seq 1 "$rounds"); do
    base="$(load "base$r")"
    read -r fol fol_n <<<"$(run_with_backups "$fp" "follower$r")"
    read -r lead lead_n <<<"$(run_with_backups "$lp" "leader$r")"
    echo "round $r, ADD events/s over ${secs} s: no backup $base; during $fol_n follower-served backups $fol; during $lead_n leader-served backups $lead"
    ratios+=("$(python3 -c 'import sys; b=float(sys.argv[1]); print("%.3f %.3f" % (float(sys.argv[2])/b, float(sys.argv[3])/b))' "$base" "$fol" "$lead")")
done
python3 -c '
import statistics, sys
pairs = [tuple(map(float, a.split())) for a in sys.argv[1:]]
f = [p[0] for p in pairs]; l = [p[1] for p in pairs]
print("ADD rate during backups over the rate without, per round: follower-served %s (median %.2f), leader-served %s (median %.2f)" %
      (", ".join("%.2f" % x for x in f), statistics.median(f), ", ".join("%.2f" % x for x in l), statistics.median(l)))
' "${ratios[@]}"

rport4=$(free_port)
cport4=$(free_port)
start=$(date +%s.%N)
"$bin" --id 1 --port "$cport4" --raft-address "127.0.0.1:$rport4" --http-port 0 --data "$dir/restored" \
    --restore "$dir/first.efb" 2>>"$dir/restored.log" &
pids+=($!)
for _ in $(seq 1 6000); do ready_leader "$cport4" && break; sleep 0.05; done
end=$(date +%s.%N)
ready_leader "$cport4" || { echo "the restored node is not ready" >&2; tail -5 "$dir/restored.log" >&2; exit 1; }
want="$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["last_id"], r["checksum"])' "$dir/first.json")"
got="$(redis-cli -p "$cport4" CHECKSUM | tr '\n' ' ' | sed 's/ $//')"
[ "$got" = "$want" ] || { echo "restored CHECKSUM $got, the backup recorded $want" >&2; exit 1; }
echo "restore: ready leader after $(echo "$end - $start" | bc) s, CHECKSUM $got as recorded"
