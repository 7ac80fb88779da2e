#!/usr/bin/env bash
# bench-groups.sh - consumer groups against Redis 7 streams' (XREADGROUP +
# XACK), in one run on this machine: eventflow's GROUP READ + GROUP ACK
# measured by `eventflow-bench groups` (src/bench/groups.c), Redis by
# ../shared/bench/redis_delivery.c's group mode with the arguments
# redis_delivery_baseline.sh's step 4 gives it (same definitions, same
# 200-byte event, appendfsync always), alternated so that a drift of the
# machine shows in both.
#
# Each round (ROUNDS), each step of STEPS in turn, Redis first in odd
# rounds and eventflow first in even ones, every system fresh:
#   drain   PREFILL_N events (not timed); group g1 from the start:
#           CG_CONSUMERS connections each loop READ (XREADGROUP) COUNT 10
#           BLOCK 100, then ACK (XACK) of what it got, until PREFILL_N are
#           acked or CG_SECS; then a new group g2 over the same backlog
#           while a writer adds CG_WRATE/s (open loop, one connection).
#           eventflow also drains a group g3 with each ACK sent together
#           with the next READ (--pipeline, as libeventflow's
#           eventflow_group_consume does), compared with Redis's loop.
#   writes  eventflow only (redis_delivery.c has no such mode): WR_PREFILL
#           events (not timed), the closed-loop ADD writer on WR_WCONNS
#           connections for WR_SECS alone, then again while WR_GROUPS
#           groups of WR_CONSUMERS consumers each drain the stream from
#           its start as fast as they go: the ADD rate they leave, as a
#           % of the rate alone (the project's target: >= 80 %). Their
#           READs take up to WR_COUNT events; WR_PIPELINE=1 sends each ACK
#           with the next READ (as libeventflow's consume loop does).
# eventflow runs NODES nodes (3); every GROUP request and every ADD goes
# to the leader (the only node that answers them).
#
# Prints every run (lib.sh's table: median, min..max, spread) and then one
# table of medians with eventflow/Redis ratios (the median of the per-round
# ratios), naming the machine. Everything binds and targets 127.0.0.1 on
# free ports; servers are stopped by PID and their directories removed;
# every client run is bounded by RUN_TIMEOUT.
#
# Env: BUILD (./build), SHARED_BENCH (../shared/bench), NODES (3), ROUNDS
#      (3), STEPS ("drain writes"), PREFILL_N (1000000), CG_CONSUMERS (50),
#      CG_SECS (60), CG_WRATE (5000), WR_PREFILL (200000), WR_GROUPS (10),
#      WR_CONSUMERS (5 per group), WR_WCONNS (50), WR_SECS (5), WR_COUNT
#      (10), WR_PIPELINE (0), RUN_TIMEOUT
#      (s per client run, 180), RESULTS_DIR (also write the output and a
#      TSV of every run there), BENCH_TSV.
# Wall time at the defaults: about 1.5 minutes a round (ROUNDS=3: ~5 min).
set -uo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

NODES="${NODES:-3}"
ROUNDS="${ROUNDS:-3}"
STEPS="${STEPS:-drain writes}"
PREFILL_N="${PREFILL_N:-1000000}"
CG_CONSUMERS="${CG_CONSUMERS:-50}"
CG_SECS="${CG_SECS:-60}"
CG_WRATE="${CG_WRATE:-5000}"
WR_PREFILL="${WR_PREFILL:-200000}"
WR_GROUPS="${WR_GROUPS:-10}"
WR_CONSUMERS="${WR_CONSUMERS:-5}"
WR_WCONNS="${WR_WCONNS:-50}"
WR_SECS="${WR_SECS:-5}"
WR_COUNT="${WR_COUNT:-10}"
WR_PIPELINE="${WR_PIPELINE:-0}"
RUN_TIMEOUT="${RUN_TIMEOUT:-180}"
TARGETS="leader"

# bench-redis-lib.sh: ../shared/bench/lib.sh, vs_prepare, vs_header,
# vs_rounds, run, redis_start/redis_stop, ef_start/ef_stop, ratio, row.
# shellcheck source=bench-redis-lib.sh
source "$root/scripts/bench-redis-lib.sh"

main() {
    vs_prepare
    vs_header bench-groups "rounds=$ROUNDS steps: $STEPS; nodes=$NODES; drain: $PREFILL_N events, $CG_CONSUMERS consumers, COUNT 10 BLOCK 100, at most ${CG_SECS}s, then with a writer at $CG_WRATE/s; writes: closed loop c=$WR_WCONNS ${WR_SECS}s alone and with $WR_GROUPS groups x $WR_CONSUMERS consumers over $WR_PREFILL events"
    vs_rounds "$STEPS"
    print_table "every run: Redis $RVER (redis_delivery.c group) and eventflow $NODES node(s) (eventflow-bench groups); ms latencies"
    summary
}

# The fields kept of each kind of run: both systems' lines have these,
DRAIN_FIELDS="acked_per_s srv_us_per_entry srv_cores consumer_cpu_s empty_reads"
# eventflow's these too.
EF_DRAIN_FIELDS="$DRAIN_FIELDS cycle_p50_ms cycle_p90_ms cycle_p99_ms read_p50_ms ack_p50_ms redelivered"
WRITES_FIELDS="w_rate w_rate_alone w_rate_vs_alone_pct add_p50_ms add_p99_ms add_p50_ms_alone add_p99_ms_alone acked_per_s cycle_p50_ms cycle_p99_ms srv_us_per_write srv_us_per_write_alone srv_us_per_op"

BACKLOG="group, $CG_CONSUMERS consumers, $PREFILL_N backlog"
WRITER="$BACKLOG + writer ${CG_WRATE}/s"
PIPELINED="$BACKLOG, ACK sent with the next READ"
WRITES="ADD c=$WR_WCONNS closed loop + $WR_GROUPS groups x $WR_CONSUMERS consumers"
[ "$WR_COUNT" = 10 ] || WRITES="$WRITES, READ count $WR_COUNT"
[ "$WR_PIPELINE" = 0 ] || WRITES="$WRITES, ACK sent with the next READ"

redis_drain() {
    local round="$1"
    redis_start
    FIELDS="" run redis "$round" "prefill $PREFILL_N (not timed)" "$RD" prefill "$RPORT" s "$PREFILL_N"
    FIELDS="$DRAIN_FIELDS" run redis "$round" "$BACKLOG" "$RD" group "$RPORT" "$RPID" s "$CG_CONSUMERS" g1 "$CG_SECS" \
        "$PREFILL_N" 0
    FIELDS="$DRAIN_FIELDS w_rate" run redis "$round" "$WRITER" "$RD" group "$RPORT" "$RPID" s "$CG_CONSUMERS" g2 "$CG_SECS" \
        "$PREFILL_N" "$CG_WRATE"
    redis_stop
}

# redis_delivery.c cannot add while groups consume closed loop: nothing to
# alternate with.
redis_writes() { :; }

ef_pids() { (IFS=,; echo "${EPID[*]}"); }

ef_drain() {
    local round="$1"
    ef_start
    FIELDS="$EF_DRAIN_FIELDS" run "$EF" "$round" "$BACKLOG" "$efb" groups drain --port "${EPORT[$LEADER]}" \
        --pids "$(ef_pids)" --prefill "$PREFILL_N" --group g1 --consumers "$CG_CONSUMERS" --secs "$CG_SECS"
    FIELDS="$EF_DRAIN_FIELDS w_rate" run "$EF" "$round" "$WRITER" "$efb" groups drain --port "${EPORT[$LEADER]}" \
        --pids "$(ef_pids)" --group g2 --consumers "$CG_CONSUMERS" --secs "$CG_SECS" --wrate "$CG_WRATE"
    FIELDS="$EF_DRAIN_FIELDS" run "$EF" "$round" "$PIPELINED" "$efb" groups drain --port "${EPORT[$LEADER]}" \
        --pids "$(ef_pids)" --group g3 --consumers "$CG_CONSUMERS" --secs "$CG_SECS" --pipeline
    ef_stop
}

ef_writes() {
    local round="$1"
    ef_start
    FIELDS="$WRITES_FIELDS" run "$EF" "$round" "$WRITES" "$efb" groups writes --port "${EPORT[$LEADER]}" \
        --pids "$(ef_pids)" --prefill "$WR_PREFILL" --groups "$WR_GROUPS" --consumers "$WR_CONSUMERS" \
        --wconns "$WR_WCONNS" --secs "$WR_SECS" --count "$WR_COUNT" $([ "$WR_PIPELINE" = 0 ] || echo --pipeline)
    ef_stop
}

summary() {
    echo "### eventflow / Redis consumer groups: medians of $ROUNDS rounds, ratio = median of the per-round ratios"
    echo
    vs_machine
    echo
    echo "acked entries/s: events acked over the consumers' time (the first READ to the last reply)."
    echo "Server CPU: eventflow's $NODES nodes summed, Redis its one process, per acked event (per ADD for"
    echo "the writer alone). cycle: a consumer's READ sent -> its ACK answered (eventflow only). A ratio > 1"
    echo "means eventflow's figure is higher (faster for rates, costlier for CPU); NA where Redis has none."
    echo
    echo "| case | metric | $EF | Redis | $EF/Redis |"
    echo "|---|---|---:|---:|---:|"
    local c f
    for c in "$BACKLOG" "$WRITER"; do
        row "$c" "acked entries/s" acked_per_s
        row "$c" "srv cpu us/entry" srv_us_per_entry
        row "$c" "srv cores busy" srv_cores
        row "$c" "consumer process cpu s" consumer_cpu_s
        for f in empty_reads cycle_p50_ms cycle_p90_ms cycle_p99_ms read_p50_ms ack_p50_ms redelivered; do row "$c" "$f" "$f"; done
    done
    row "$WRITER" "writer entries/s (target $CG_WRATE)" w_rate
    row_against "$PIPELINED" "$BACKLOG" "acked entries/s (vs Redis's loop)" acked_per_s
    row_against "$PIPELINED" "$BACKLOG" "srv cpu us/entry" srv_us_per_entry
    for f in cycle_p50_ms cycle_p99_ms; do row "$PIPELINED" "$f" "$f"; done
    row "$WRITES" "ADDs/s alone" w_rate_alone
    row "$WRITES" "ADDs/s with the groups" w_rate
    row "$WRITES" "with groups / alone % (target >= 80)" w_rate_vs_alone_pct
    for f in add_p50_ms_alone add_p99_ms_alone add_p50_ms add_p99_ms; do row "$WRITES" "$f" "$f"; done
    row "$WRITES" "groups' acked entries/s (all)" acked_per_s
    row "$WRITES" "cycle_p50_ms" cycle_p50_ms
    row "$WRITES" "cycle_p99_ms" cycle_p99_ms
    row "$WRITES" "srv cpu us/ADD alone" srv_us_per_write_alone
    row "$WRITES" "srv cpu us per ADD or acked event" srv_us_per_op
    echo
}

vs_main bench-groups
