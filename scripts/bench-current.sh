#!/usr/bin/env bash
# bench-current.sh - reruns every comparison of docs/benchmarks.md's
# "Current results" table, one after another on this machine, and writes the
# table again from what the runs printed:
#
#   BUILD=<release build> scripts/bench-current.sh [STEP ...]
#
# Each step runs the command its row names (the same script, the same
# settings; QUICK=1 divides rounds and durations to get a first look in
# about half an hour instead of about two), keeps the whole output in
# OUT/<step>.log, and takes from it the lines that script prints as its
# verdict (its medians and ratios). OUT/current.md then holds the machine
# (CPU, memory, kernel, disk, load average), the commit, one row per step:
# comparison | what the run printed | start time | command, and below it the
# per-round tables the scripts print, so a figure can be checked against
# its rounds. A step that fails says so in its row and the others still run.
#
# Steps (default: all, in this order):
#   single     1 node vs Redis XADD, alternated pairs (bench-pairs.sh)
#   peers      3 nodes vs NATS JetStream R3 and Redis primary + 2 replicas,
#              and 3-node pairs with and without 16 in flight
#              (../shared/bench/eventflow_vs_peers.sh)
#   failover   kill -9 of the leader, 20 kills (failover-bench.sh)
#   reads      GET 100 vs XRANGE 100, 1 node (bench-compare.sh)
#   killload   kill -9 of the leader under write load, nothing lost
#              (rolling-restart-bench.py with KILLS)
#   rolling    a rolling restart under write load (rolling-restart-bench.py)
#   elections  spurious elections under full write load (election-watch.sh;
#              SECS=600 as the target asks, 120 with QUICK=1)
#   http       HTTP appends vs RESP and vs etcd's gateway (bench-http.sh)
#   tls        ADD over TLS vs plaintext and vs Redis over TLS (bench-tls.sh)
#   rafttls    3 nodes with raft inside TLS vs plaintext (bench-raft-tls.sh)
#   delivery   subscriptions vs Redis XREAD BLOCK (bench-delivery.sh)
#   sse        SSE vs RESP subscriptions on a follower (bench-delivery.sh)
#   groups     consumer groups vs XREADGROUP + XACK (bench-groups.sh)
#   acl        the cost of ACL checks (bench-acl.sh)
#   metrics    a METRICS scrape's loop time (bench-metrics.py)
#   backup     backup and restore of a 1.5 GB store (backup-bench.sh)
#   retention  ADD p99 while a million expired events are removed
#              (bench-retention.sh)
#   cluster    go-redis ClusterClient vs redis-benchmark (bench-redis-cluster.sh)
#
# Env: BUILD (default ./build), OUT (default /tmp/eventflow-current-<time>),
#      QUICK (0). Everything the scripts start binds 127.0.0.1 on free ports
#      and is stopped by them; see each script's header.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
BUILD="$(realpath "${BUILD:-build}")"
[ -x "$BUILD/src/daemon/eventflowd" ] || { echo "no $BUILD/src/daemon/eventflowd: build first (BUILD=...)" >&2; exit 2; }
OUT="${OUT:-/tmp/eventflow-current-$(date -u +%Y%m%dT%H%M%S)}"
mkdir -p "$OUT"
QUICK="${QUICK:-0}"
q() { if [ "$QUICK" = 1 ]; then echo "$2"; else echo "$1"; fi; }
export EVENTFLOWD="$BUILD/src/daemon/eventflowd"

all_steps="single peers reads failover killload rolling elections http tls rafttls delivery sse groups acl metrics backup retention cluster"
steps="${*:-$all_steps}"

# step NAME -> "comparison", "command" and the grep -E of its verdict lines.
describe() {
    case "$1" in
    single) title="1 node vs Redis 7 XADD (appendfsync always), alternated pairs, default settings"
        cmd="BUILD=$BUILD NODES=1 PAIRS=$(q 5 3) N=$(q 200000 100000) scripts/bench-pairs.sh"
        verdict='^median ratio' ;;
    peers) title="3 nodes vs NATS JetStream R3 (sync always) and Redis primary + 2 replicas (WAIT 1); 3-node pairs, P1 and P16"
        cmd="EVENTFLOW_BIN=$EVENTFLOWD ROUNDS=$(q 3 1) PAIRS=$(q 3 1) ../shared/bench/eventflow_vs_peers.sh"
        verdict='^\| (ops|cpu|throughput)|^median ratio' ;;
    failover) title="failover: kill -9 of the leader to the first write acknowledged by another node"
        cmd="EVENTFLOWD=$EVENTFLOWD KILLS=$(q 20 5) scripts/failover-bench.sh"
        verdict='^failover after' ;;
    killload) title="failover under write load (8 writers following MOVED), nothing lost"
        cmd="EVENTFLOWD=$EVENTFLOWD KILLS=$(q 20 5) /usr/bin/python3 scripts/rolling-restart-bench.py"
        verdict='^kill -9' ;;
    rolling) title="rolling restart of 3 nodes under load: the longest write pause, nothing lost"
        cmd="EVENTFLOWD=$EVENTFLOWD ROUNDS=$(q 3 1) /usr/bin/python3 scripts/rolling-restart-bench.py"
        verdict='^rolling restart' ;;
    reads) title="GET of 100 events vs Redis XRANGE 100, 1 node"
        cmd="BUILD=$BUILD RESULTS_DIR=\$OUT/reads STEPS='redis single' scripts/bench-compare.sh && cat \$OUT/reads/*.md"
        verdict='GET|XRANGE' ;;
    elections) title="spurious elections under full write load, 3 nodes"
        cmd="BUILD=$BUILD SECS=$(q 600 120) scripts/election-watch.sh"
        verdict='^node [0-9]:|spurious|SPURIOUS' ;;
    http) title="HTTP appends vs RESP ADD (1 and 3 nodes) and vs etcd's HTTP gateway (3 nodes)"
        cmd="BUILD=$BUILD PEERS=etcd ROUNDS=$(q 3 1) SECS=10 scripts/bench-http.sh"
        verdict='per round' ;;
    tls) title="ADD over TLS vs plaintext and vs Redis 7 over TLS, 1 node"
        cmd="BUILD=$BUILD ROUNDS=$(q 5 2) N=50000 scripts/bench-tls.sh"
        verdict='^(median of the rounds|ratios of the medians)' ;;
    delivery) title="subscriptions vs Redis XREAD BLOCK (latency, catch-up, fan-out)"
        cmd="BUILD=$BUILD ROUNDS=$(q 3 1) scripts/bench-delivery.sh"
        verdict='^\| ' ;;
    rafttls) title="3 nodes: raft inside mutual TLS, and every connection over TLS, vs plaintext"
        cmd="BUILD=$BUILD ROUNDS=$(q 3 1) N=50000 scripts/bench-raft-tls.sh"
        verdict='^median of the rounds' ;;
    retention) title="ADD p99 while 1,000,000 expired events are removed, over p99 without, 3 nodes"
        cmd="EVENTFLOWD=$EVENTFLOWD REMOVE_N=1000000 SECS=40 REPS=$(q 3 1) scripts/bench-retention.sh"
        verdict='^\| [0-9]' ;;
    sse) title="subscriptions over HTTP (SSE) vs RESP SUBSCRIBE, same follower"
        cmd="BUILD=$BUILD STEPS=sse TARGETS=follower ROUNDS=$(q 3 1) scripts/bench-delivery.sh"
        verdict='^\| ' ;;
    groups) title="consumer groups vs XREADGROUP + XACK; the ADD rate while 10 groups drain"
        cmd="BUILD=$BUILD ROUNDS=$(q 3 1) scripts/bench-groups.sh"
        verdict='^\| ' ;;
    acl) title="ACL checks on the hot path, A/B"
        cmd="BUILD=$BUILD PAIRS=$(q 6 3) SECONDS_EACH=$(q 8 4) scripts/bench-acl.sh"
        verdict=': median B/A' ;;
    metrics) title="METRICS scrape: the loop's time per render"
        cmd="BUILD=$BUILD GROUP_COUNT=1000 SCRAPES=$(q 1000 200) /usr/bin/python3 scripts/bench-metrics.py"
        verdict='^(render|round trip|groups)' ;;
    backup) title="backup and restore of a 1.5 GB store; the ADD rate during backups"
        cmd="BUILD=$BUILD SECONDS_EACH=$(q 20 10) ROUNDS=$(q 3 1) scripts/backup-bench.sh $(q 1500 500)"
        verdict='^(backup|ADD rate during|restore)' ;;
    cluster) title="go-redis ClusterClient vs redis-benchmark; failover seen by ClusterClient vs libeventflow"
        cmd="EVENTFLOWD=$EVENTFLOWD BUILD=$BUILD ROUNDS=$(q 3 1) SECONDS_EACH=10 REQUESTS=150000 KILLS=$(q 5 2) scripts/bench-redis-cluster.sh"
        verdict='median|ratio' ;;
    *) return 1 ;;
    esac
}

for s in $steps; do
    describe "$s" || { echo "unknown step '$s' (steps: $all_steps)" >&2; exit 2; }
done

md="$OUT/current.md"
{
    echo "# Current results, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "* machine: $(nproc) CPU ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo))," \
        "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(uname -sr)," \
        "/tmp on $(df -P /tmp | awk 'NR == 2 {print $1}')"
    echo "* eventflow $("$EVENTFLOWD" --version 2>/dev/null | head -1), commit $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
    echo "* load average at start: $(cut -d' ' -f1-3 /proc/loadavg)$([ "$QUICK" = 1 ] && echo '; QUICK=1 (fewer rounds)')"
    echo
    echo "| comparison | what the run printed | started (UTC) | command |"
    echo "|---|---|---|---|"
} >"$md"

details="$OUT/details.md"
: >"$details"
for s in $steps; do
    describe "$s"
    start=$(date -u +%H:%M)
    echo "== $s ($start UTC, load $(cut -d' ' -f1-3 /proc/loadavg)): $cmd" >&2
    if (cd "$root" && env OUT="$OUT" RESULTS_DIR="$OUT/$s" bash -c "$cmd") >"$OUT/$s.log" 2>&1; then
        figure=$(grep -E "$verdict" "$OUT/$s.log" | grep -vE '^\|[-: |]+\|$' | head -12 |
            sed 's/|/\\|/g; s/  */ /g' | paste -sd ';' - | sed 's/;/; /g')
        [ -n "$figure" ] || figure="(the run printed no verdict line: see $s.log)"
    else
        figure="**failed** (exit $?): see $OUT/$s.log"
    fi
    echo "| $title | $figure | $start | \`$cmd\` |" >>"$md"
    if grep -qE '^\|' "$OUT/$s.log"; then
        {
            echo "## $s"
            echo
            grep -E '^\|' "$OUT/$s.log"
            echo
        } >>"$details"
    fi
    echo "   $figure" >&2
done
{
    echo
    echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    cat "$details"
} >>"$md"
echo "the table: $md" >&2
