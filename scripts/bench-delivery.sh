#!/usr/bin/env bash
# bench-delivery.sh - subscriptions' delivery against Redis 7 streams, in
# one run on this machine: eventflow's SUBSCRIBE measured by
# `eventflow-bench delivery` (src/bench/delivery.c), Redis's XREAD by
# ../shared/bench/redis_delivery.c with the arguments
# redis_delivery_baseline.sh gives it (same definitions, same 200-byte
# event, appendfsync always), alternated step by step so that a drift of
# the machine shows in both.
#
# Each round (ROUNDS), each step of STEPS in turn, Redis first in odd
# rounds and eventflow first in even ones, every system fresh (new
# processes, new directories under /tmp):
#   live     writer ADD/XADD at LIVE_RATE/s for LIVE_SECS with R subscribers
#            (R in LIVE_READERS); the writer alone closed loop on
#            MAX_WCONNS connections for MAX_SECS; then with R subscribers.
#   fanout   the writer alone at FAN_RATE/s for FAN_SECS, then with
#            FAN_READERS subscribers.
#   catchup  PREFILL_N events (not timed), then 1 and CATCHUP_READERS
#            subscribers replaying them from the start: eventflow
#            SUBSCRIBE {"all":true,"offset":""}, Redis XREAD COUNT 1000.
#   sse      (not by default; eventflow only) live's cases at LIVE_RATE/s
#            with R subscribers over RESP (SUBSCRIBE $all) and over HTTP
#            (GET /all/subscribe read as server-sent events, --sse-port)
#            of the same node, RESP first in odd rounds; its own table of
#            SSE/RESP ratios. STEPS=sse TARGETS=follower: issue 26's SSE
#            delivery latency against the RESP subscription's.
# eventflow runs NODES nodes (3), the writer on the leader; its subscribers
# on a follower and, separately, on the leader (TARGETS). The subscription
# is EF_SPEC ($all: the global log from its live end; Redis's readers read
# their one stream, which holds only what the writer adds).
#
# Prints every run (lib.sh's table: median, min..max, spread) and then one
# table of medians with eventflow/Redis ratios (the median of the per-round
# ratios). Everything binds and targets 127.0.0.1 on free ports; servers
# are stopped by PID and their directories removed; every client run is
# bounded by RUN_TIMEOUT.
#
# Env: BUILD (./build), SHARED_BENCH (../shared/bench), NODES (3), TARGETS
#      ("follower leader"; 1 node: leader), ROUNDS (3), STEPS ("live fanout
#      catchup"), LIVE_READERS ("1 100"), LIVE_RATE (1000), LIVE_SECS (10),
#      MAX_WCONNS (50), MAX_SECS (5), FAN_READERS (1000), FAN_RATE (10000),
#      FAN_SECS (10), DRAIN_SECS (10), PREFILL_N (1000000), CATCHUP_READERS
#      (10), CATCHUP_SECS (60), RUN_TIMEOUT (s per client run, 120),
#      EF_SPEC ($all), RESULTS_DIR (also write the output and a TSV of every
#      run there), BENCH_TSV.
# Wall time at the defaults: about 4 minutes a round (ROUNDS=3: ~12 min).
set -uo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

NODES="${NODES:-3}"
ROUNDS="${ROUNDS:-3}"
STEPS="${STEPS:-live fanout catchup}"
LIVE_READERS="${LIVE_READERS:-1 100}"
LIVE_RATE="${LIVE_RATE:-1000}"
LIVE_SECS="${LIVE_SECS:-10}"
MAX_WCONNS="${MAX_WCONNS:-50}"
MAX_SECS="${MAX_SECS:-5}"
FAN_READERS="${FAN_READERS:-1000}"
FAN_RATE="${FAN_RATE:-10000}"
FAN_SECS="${FAN_SECS:-10}"
DRAIN_SECS="${DRAIN_SECS:-10}"
PREFILL_N="${PREFILL_N:-1000000}"
CATCHUP_READERS="${CATCHUP_READERS:-10}"
CATCHUP_SECS="${CATCHUP_SECS:-60}"
RUN_TIMEOUT="${RUN_TIMEOUT:-120}"
EF_SPEC="${EF_SPEC:-\$all}"
if [ "$NODES" -gt 1 ]; then TARGETS="${TARGETS:-follower leader}"; else TARGETS="leader"; fi

# bench-redis-lib.sh: ../shared/bench/lib.sh, vs_prepare, vs_header,
# vs_rounds, run, redis_start/redis_stop, ef_start/ef_stop, pct, ratio, row.
# shellcheck source=bench-redis-lib.sh
source "$root/scripts/bench-redis-lib.sh"

main() {
vs_prepare
# A thousand subscriber sockets here and as many in the server.
[ "$(ulimit -n)" -ge 4096 ] || ulimit -n 4096 2>/dev/null || log "ulimit -n is $(ulimit -n): FAN_READERS=$FAN_READERS may not fit"
vs_header bench-delivery "rounds=$ROUNDS steps: $STEPS; nodes=$NODES, subscribers on: $TARGETS, spec $EF_SPEC; live R=[$LIVE_READERS] at $LIVE_RATE/s ${LIVE_SECS}s, closed loop c=$MAX_WCONNS ${MAX_SECS}s; fan-out R=$FAN_READERS at $FAN_RATE/s ${FAN_SECS}s; catch-up of $PREFILL_N, 1 and $CATCHUP_READERS readers"
vs_rounds "$STEPS"
print_table "every run: Redis $RVER (redis_delivery.c) and eventflow $NODES node(s) (eventflow-bench delivery); ms latencies"
if [ -n "$(tr ' ' '\n' <<<"$STEPS" | grep -vx 'sse\|')" ]; then summary; fi
case " $STEPS " in *" sse "*) sse_summary ;; esac
}

# The fields kept of each kind of run.
LIVE_FIELDS="w_rate ack_p50_ms ack_p90_ms ack_p99_ms ack_max_ms send_p50_ms send_p90_ms send_p99_ms send_max_ms per_reader_per_s deliv_per_s_during_writes keepup lag_end_p50 lag_end_max drain_ms srv_us_per_delivery node_us_per_delivery srv_cores reader_cpu_s"
WRITER_FIELDS="w_rate srv_us_per_write srv_cores"
CATCHUP_FIELDS="entries_per_s per_reader_per_s MB_per_s bytes_per_entry srv_us_per_entry node_us_per_entry finished"

# ------------------------------------------------------------------ Redis --

redis_live() {
    local round="$1" R
    redis_start
    for R in $LIVE_READERS; do
        FIELDS="$LIVE_FIELDS" run redis "$round" "live R=$R, ${LIVE_RATE}/s" "$RD" live "$RPORT" "$RPID" s "$R" 1 \
            "$LIVE_RATE" "$LIVE_SECS" $((LIVE_RATE * ${LIVE_SECS%.*} + 1000)) "$DRAIN_SECS"
    done
    FIELDS="$WRITER_FIELDS" run redis "$round" "live R=0, c=$MAX_WCONNS closed loop" "$RD" live "$RPORT" "$RPID" s 0 \
        "$MAX_WCONNS" 0 "$MAX_SECS" 2000000 "$DRAIN_SECS"
    for R in $LIVE_READERS; do
        FIELDS="$LIVE_FIELDS" run redis "$round" "live R=$R, c=$MAX_WCONNS closed loop" "$RD" live "$RPORT" "$RPID" s "$R" \
            "$MAX_WCONNS" 0 "$MAX_SECS" 2000000 "$DRAIN_SECS"
    done
    redis_stop
}

redis_fanout() {
    local round="$1" n=$((FAN_RATE * ${FAN_SECS%.*} + 1000)) w0
    redis_start
    FIELDS="$WRITER_FIELDS" run redis "$round" "fan-out R=0, ${FAN_RATE}/s" "$RD" live "$RPORT" "$RPID" s 0 1 \
        "$FAN_RATE" "$FAN_SECS" "$n" "$DRAIN_SECS"
    w0="$(kv w_rate "$LINE")"
    FIELDS="$LIVE_FIELDS" run redis "$round" "fan-out R=$FAN_READERS, ${FAN_RATE}/s" "$RD" live "$RPORT" "$RPID" s \
        "$FAN_READERS" 1 "$FAN_RATE" "$FAN_SECS" "$n" "$DRAIN_SECS"
    record redis "redis: fan-out R=$FAN_READERS, ${FAN_RATE}/s: w_rate_vs_R0_pct" "$round" "$(pct "$(kv w_rate "$LINE")" "$w0")"
    redis_stop
}

redis_catchup() {
    local round="$1"
    redis_start
    FIELDS="" run redis "$round" "prefill $PREFILL_N (not timed)" "$RD" prefill "$RPORT" s "$PREFILL_N"
    FIELDS="$CATCHUP_FIELDS" run redis "$round" "catch-up $PREFILL_N, 1 reader" "$RD" catchup "$RPORT" "$RPID" s 1 xread "$CATCHUP_SECS"
    FIELDS="$CATCHUP_FIELDS" run redis "$round" "catch-up $PREFILL_N, $CATCHUP_READERS readers" "$RD" catchup "$RPORT" "$RPID" s \
        "$CATCHUP_READERS" xread "$CATCHUP_SECS"
    redis_stop
}

# -------------------------------------------------------------- eventflow --

# efd SUB_INDEX ARGS... : eventflow-bench delivery, the writer on the leader,
# the subscribers on node SUB_INDEX.
efd_args() {
    local s="$1"
    EFD_ARGS=(--port "${EPORT[$LEADER]}" --sub-port "${EPORT[$s]}" --pids "$(IFS=,; echo "${EPID[*]}")" --sub-pid "${EPID[$s]}")
}

target_index() { if [ "$1" = leader ]; then echo "$LEADER"; else echo "$FOLLOWER"; fi; }

ef_live() {
    local round="$1" R t s
    ef_start
    for t in $TARGETS; do
        s="$(target_index "$t")"; efd_args "$s"
        for R in $LIVE_READERS; do
            FIELDS="$LIVE_FIELDS" run "$EF $t" "$round" "live R=$R, ${LIVE_RATE}/s" "$efb" delivery live "${EFD_ARGS[@]}" \
                --spec "$EF_SPEC" --readers "$R" --rate "$LIVE_RATE" --secs "$LIVE_SECS" --drain "$DRAIN_SECS"
        done
    done
    efd_args "$LEADER"
    FIELDS="$WRITER_FIELDS" run "$EF" "$round" "live R=0, c=$MAX_WCONNS closed loop" "$efb" delivery live "${EFD_ARGS[@]}" \
        --readers 0 --wconns "$MAX_WCONNS" --rate 0 --secs "$MAX_SECS" --drain "$DRAIN_SECS"
    for t in $TARGETS; do
        s="$(target_index "$t")"; efd_args "$s"
        for R in $LIVE_READERS; do
            FIELDS="$LIVE_FIELDS" run "$EF $t" "$round" "live R=$R, c=$MAX_WCONNS closed loop" "$efb" delivery live \
                "${EFD_ARGS[@]}" --spec "$EF_SPEC" --readers "$R" --wconns "$MAX_WCONNS" --rate 0 --secs "$MAX_SECS" \
                --drain "$DRAIN_SECS"
        done
    done
    ef_stop
}

ef_fanout() {
    local round="$1" t s w0
    ef_start
    efd_args "$LEADER"
    FIELDS="$WRITER_FIELDS" run "$EF" "$round" "fan-out R=0, ${FAN_RATE}/s" "$efb" delivery fanout "${EFD_ARGS[@]}" \
        --readers 0 --rate "$FAN_RATE" --secs "$FAN_SECS" --drain "$DRAIN_SECS"
    w0="$(kv w_rate "$LINE")"
    for t in $TARGETS; do
        s="$(target_index "$t")"; efd_args "$s"
        FIELDS="$LIVE_FIELDS" run "$EF $t" "$round" "fan-out R=$FAN_READERS, ${FAN_RATE}/s" "$efb" delivery fanout \
            "${EFD_ARGS[@]}" --spec "$EF_SPEC" --readers "$FAN_READERS" --rate "$FAN_RATE" --secs "$FAN_SECS" \
            --drain "$DRAIN_SECS"
        record "$EF $t" "$EF $t: fan-out R=$FAN_READERS, ${FAN_RATE}/s: w_rate_vs_R0_pct" "$round" "$(pct "$(kv w_rate "$LINE")" "$w0")"
    done
    ef_stop
}

ef_catchup() {
    local round="$1" t s
    ef_start
    # The prefill: eventflow-bench's, ADDs of 100 of the same 200-byte
    # events to one stream, 8 in flight on each of 4 connections.
    timeout "$RUN_TIMEOUT" "$efb" --port "${EPORT[$LEADER]}" --workload ping --streams 1 --prefill "$PREFILL_N" \
        --prefill-streams 1 -c 4 -n 1 >"$BENCH_TMP/prefill.out" 2>&1 || log "round $round: $EF: prefill failed: $(tail -3 "$BENCH_TMP/prefill.out")"
    log "round $round: $EF: $(grep '^prefill:' "$BENCH_TMP/prefill.out")"
    for t in $TARGETS; do
        s="$(target_index "$t")"; efd_args "$s"
        FIELDS="$CATCHUP_FIELDS" run "$EF $t" "$round" "catch-up $PREFILL_N, 1 reader" "$efb" delivery catchup \
            "${EFD_ARGS[@]}" --readers 1 --max-secs "$CATCHUP_SECS"
        FIELDS="$CATCHUP_FIELDS" run "$EF $t" "$round" "catch-up $PREFILL_N, $CATCHUP_READERS readers" "$efb" delivery catchup \
            "${EFD_ARGS[@]}" --readers "$CATCHUP_READERS" --max-secs "$CATCHUP_SECS"
    done
    ef_stop
}

# The sse step: subscribers of the same node over RESP and over HTTP
# (server-sent events), the order alternating by round. Redis has no
# counterpart: its half of the round is empty.
ef_sse() {
    local round="$1" R t s via vias="RESP SSE" how
    [ $((round % 2)) = 1 ] || vias="SSE RESP"
    ef_start
    for t in $TARGETS; do
        s="$(target_index "$t")"; efd_args "$s"
        for via in $vias; do
            how=(--spec "$EF_SPEC")
            [ "$via" = SSE ] && how=(--sse-port "${HPORT[$s]}")
            for R in $LIVE_READERS; do
                FIELDS="$LIVE_FIELDS" run "$EF $t" "$round" "$via R=$R, ${LIVE_RATE}/s" "$efb" delivery live \
                    "${EFD_ARGS[@]}" "${how[@]}" --readers "$R" --rate "$LIVE_RATE" --secs "$LIVE_SECS" --drain "$DRAIN_SECS"
            done
        done
    done
    ef_stop
}
redis_sse() { :; }

# ---------------------------------------------------------------- summary --

# sse_summary : per target and R, RESP's and SSE's medians and the median
# of the per-round SSE/RESP ratios.
sse_summary() {
    local t R f resp sse
    echo "### eventflow subscriptions over RESP and over HTTP (SSE): medians of $ROUNDS rounds, SSE/RESP = median of the per-round ratios"
    echo
    echo "Latencies in ms (ack: subscriber's receipt - writer's receipt of the ADD reply; send: - send time)."
    echo
    echo "| subscribers on | case | metric | RESP | SSE | SSE/RESP |"
    echo "|---|---|---|---:|---:|---:|"
    for t in $TARGETS; do
        for R in $LIVE_READERS; do
            for f in ack_p50_ms ack_p90_ms ack_p99_ms ack_max_ms send_p50_ms send_p99_ms w_rate per_reader_per_s \
                srv_us_per_delivery node_us_per_delivery; do
                resp="${BENCH_VALS[$EF $t: RESP R=$R, ${LIVE_RATE}/s: $f]:-NA}"
                sse="${BENCH_VALS[$EF $t: SSE R=$R, ${LIVE_RATE}/s: $f]:-NA}"
                echo "| $t | R=$R, ${LIVE_RATE}/s | $f | $(med "$resp") | $(med "$sse") | $(ratio "$sse" "$resp") |"
            done
        done
    done
    echo
}

summary() {
    local t hdr="" sep="" rat="" R c
    for t in $TARGETS; do hdr+=" $EF, subscribers on the $t |"; sep+="---:|"; rat+=" $t/Redis |"; done
    echo "### eventflow / Redis: medians of $ROUNDS rounds, ratio = median of the per-round ratios"
    echo
    echo "Latencies in ms (ack: subscriber's receipt - writer's receipt of the ADD/XADD reply; send: - send time)."
    echo "A ratio > 1 means eventflow's figure is higher (slower for latencies, faster for rates); NA where a"
    echo "figure is <= 0 (a subscriber may hear of an event before the writer hears its reply)."
    echo "Server CPU: eventflow all nodes summed (srv) or the subscribers' node alone (node), Redis its one process."
    echo
    echo "| case | metric |$hdr Redis |$rat"
    echo "|---|---|$sep---:|${sep}"
    for R in $LIVE_READERS; do
        c="live R=$R, ${LIVE_RATE}/s"
        for f in ack_p50_ms ack_p90_ms ack_p99_ms ack_max_ms send_p50_ms send_p90_ms send_p99_ms send_max_ms; do row "$c" "$f" "$f"; done
        row "$c" "writer entries/s" w_rate
        row "$c" "srv cpu us/delivery" srv_us_per_delivery
        row "$c" "node cpu us/delivery (vs Redis srv)" node_us_per_delivery srv_us_per_delivery
    done
    c="live R=0, c=$MAX_WCONNS closed loop"
    row "$c" "writer entries/s" w_rate
    row "$c" "srv cpu us/write" srv_us_per_write
    for R in $LIVE_READERS; do
        c="live R=$R, c=$MAX_WCONNS closed loop"
        row "$c" "writer entries/s" w_rate
        for f in ack_p50_ms ack_p90_ms ack_p99_ms ack_max_ms send_p50_ms send_p99_ms; do row "$c" "$f" "$f"; done
        row "$c" "entries/s per reader" per_reader_per_s
        row "$c" "srv cpu us/delivery" srv_us_per_delivery
    done
    row "fan-out R=0, ${FAN_RATE}/s" "writer entries/s (alone)" w_rate
    c="fan-out R=$FAN_READERS, ${FAN_RATE}/s"
    row "$c" "writer entries/s" w_rate
    row "$c" "writer rate vs alone %" w_rate_vs_R0_pct
    row "$c" "delivered entries/s (all readers)" deliv_per_s_during_writes
    row "$c" "readers keeping up (lag <= 0.1 s)" keepup
    row "$c" "lag at writer end p50 entries" lag_end_p50
    row "$c" "lag at writer end max entries" lag_end_max
    row "$c" "drain after writer end ms" drain_ms
    for f in ack_p50_ms ack_p99_ms ack_max_ms send_p50_ms send_p99_ms; do row "$c" "$f" "$f"; done
    row "$c" "srv cpu us/delivery" srv_us_per_delivery
    row "$c" "node cpu us/delivery (vs Redis srv)" node_us_per_delivery srv_us_per_delivery
    row "$c" "srv cores busy" srv_cores
    c="catch-up $PREFILL_N, 1 reader"
    row "$c" "entries/s" entries_per_s
    row "$c" "MB/s (RESP read)" MB_per_s
    row "$c" "bytes/entry (RESP read)" bytes_per_entry
    row "$c" "srv cpu us/entry" srv_us_per_entry
    row "$c" "node cpu us/entry (vs Redis srv)" node_us_per_entry srv_us_per_entry
    c="catch-up $PREFILL_N, $CATCHUP_READERS readers"
    row "$c" "entries/s total" entries_per_s
    row "$c" "entries/s per reader" per_reader_per_s
    row "$c" "MB/s total" MB_per_s
    row "$c" "srv cpu us/entry" srv_us_per_entry
    echo
}

vs_main bench-delivery
