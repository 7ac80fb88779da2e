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
export LC_ALL=C
cd "$(dirname "$0")/.."
root="$PWD"
shared="${SHARED_BENCH:-$root/../shared/bench}"
build="${BUILD:-$root/build}"
efd="$build/src/server/eventflowd"
efb="$build/src/bench/eventflow-bench"
[ -x "$efd" ] && [ -x "$efb" ] || { echo "build first: meson setup build --buildtype=release && ninja -C build" >&2; exit 2; }
[ -f "$shared/lib.sh" ] && [ -f "$shared/redis_delivery.c" ] || { echo "bench-delivery: no $shared/lib.sh or redis_delivery.c (SHARED_BENCH)" >&2; exit 2; }

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
export REPS="$ROUNDS" # lib.sh's table heading

# lib.sh: log, bench_start/bench_stop (by PID), bench_tmpdir (removed on
# exit, also on Ctrl-C), pick_port, wait_tcp, record, stats, print_table, kv.
# shellcheck source=/dev/null
source "$shared/lib.sh"

main() {
need_cmd redis-server redis-server redis-tools
need_cmd redis-cli redis-tools
need_cmd cc gcc
# A thousand subscriber sockets here and as many in the server.
[ "$(ulimit -n)" -ge 4096 ] || ulimit -n 4096 2>/dev/null || log "ulimit -n is $(ulimit -n): FAN_READERS=$FAN_READERS may not fit"

bench_tmpdir /tmp; local bin="$BENCH_TMP"
cc -O2 -o "$bin/redis_delivery" "$shared/redis_delivery.c" || exit 1
RD="$bin/redis_delivery"
EF="eventflow-$NODES"
rver="$(redis-server --version | awk '{sub(/^v=/, "", $3); print $3}')"
local t_start=$SECONDS round step

echo "# bench-delivery $(date -Is)"
echo "host: $(uname -srm), $(nproc) vCPU $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); /tmp on $(df -P /tmp | awk 'NR == 2 {print $1}')"
echo "versions: eventflow $("$efd" --version 2>/dev/null | head -1) ($(git -C "$root" rev-parse --short HEAD 2>/dev/null)), redis $rver (appendfsync always)"
echo "rounds=$ROUNDS steps: $STEPS; nodes=$NODES, subscribers on: $TARGETS, spec $EF_SPEC; live R=[$LIVE_READERS] at $LIVE_RATE/s ${LIVE_SECS}s, closed loop c=$MAX_WCONNS ${MAX_SECS}s; fan-out R=$FAN_READERS at $FAN_RATE/s ${FAN_SECS}s; catch-up of $PREFILL_N, 1 and $CATCHUP_READERS readers"
echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"

for round in $(seq 1 "$ROUNDS"); do
    record round "loadavg1 at round start" "$round" "$(cut -d' ' -f1 /proc/loadavg)"
    read -r st0 tot0 <<<"$(steal_ticks)"
    for step in $STEPS; do
        if [ $((round % 2)) = 1 ]; then
            "redis_$step" "$round"; "ef_$step" "$round"
        else
            "ef_$step" "$round"; "redis_$step" "$round"
        fi
    done
    read -r st1 tot1 <<<"$(steal_ticks)"
    record round "steal % over the round" "$round" "$(awk -v a="$st0" -v b="$st1" -v x="$tot0" -v y="$tot1" \
        'BEGIN { if (y > x) printf "%.1f", 100 * (b - a) / (y - x); else print "NA" }')"
done
log "done in $((SECONDS - t_start)) s"
echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg); wall time $((SECONDS - t_start)) s"
print_table "every run: Redis $rver (redis_delivery.c) and eventflow $NODES node(s) (eventflow-bench delivery); ms latencies"
summary
}

steal_ticks() { awk '$1 == "cpu" { print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' /proc/stat; }

# run SYS ROUND CASE TOOL ARGS... : one client run (bounded by RUN_TIMEOUT);
# its key=value line is left in LINE and every field of it recorded as
# "SYS: CASE: field".
run() {
    local sys="$1" round="$2" case="$3" rc f v; shift 3
    timeout "$RUN_TIMEOUT" "$@" >"$BENCH_TMP/run.out" 2>"$BENCH_TMP/run.err"; rc=$?
    LINE="$(grep '^mode=' "$BENCH_TMP/run.out" | tail -1)"
    log "round $round: $sys: $case -> ${LINE:-no result} (exit $rc)"
    [ "$rc" = 0 ] || log "round $round: $sys: $case: exit $rc: $(tr '\n' ' ' <"$BENCH_TMP/run.err" | cut -c1-300)"
    for f in $FIELDS; do
        v="$(kv "$f" "$LINE")"
        case "$v" in ''|nan|-nan|inf) v=NA ;; esac
        record "$sys" "$sys: $case: $f" "$round" "$v"
    done
}

# The fields kept of each kind of run.
LIVE_FIELDS="w_rate ack_p50_ms ack_p90_ms ack_p99_ms ack_max_ms send_p50_ms send_p90_ms send_p99_ms send_max_ms per_reader_per_s deliv_per_s_during_writes keepup lag_end_p50 lag_end_max drain_ms srv_us_per_delivery node_us_per_delivery srv_cores reader_cpu_s"
WRITER_FIELDS="w_rate srv_us_per_write srv_cores"
CATCHUP_FIELDS="entries_per_s per_reader_per_s MB_per_s bytes_per_entry srv_us_per_entry node_us_per_entry finished"

# ------------------------------------------------------------------ Redis --

redis_start() {
    bench_tmpdir /tmp; RDIR="$BENCH_TMP"
    RPORT="$(pick_port "${REDIS_DELIVERY_PORT_BASE:-16479}")"
    bench_start "$RDIR/redis.log" redis-server --port "$RPORT" --bind 127.0.0.1 \
        --protected-mode yes --dir "$RDIR" --daemonize no --save '' \
        --appendonly yes --appendfsync always --auto-aof-rewrite-percentage 0
    RPID=$BENCH_LAST_PID
    wait_tcp "$RPORT" 20 || exit 1
}

redis_stop() {
    bench_stop "$RPID"
    rm -rf "$RDIR"
}

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

pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.1f", 100 * a / b; else print "NA" }'; }

# -------------------------------------------------------------- eventflow --

# ef_start : NODES nodes in one cluster (as scripts/bench-pairs.sh starts
# them); sets EPORT[i], EPID[i], LEADER (index), FOLLOWER (index: another
# node, or the leader when alone), EDIR.
ef_start() {
    local i p members=""
    bench_tmpdir /tmp; EDIR="$BENCH_TMP"
    EPORT=() EPID=()
    local rports=()
    p=$((${EF_PORT_BASE:-27101} - 1))
    for i in $(seq 1 "$NODES"); do p="$(pick_port $((p + 1)))"; EPORT[$i]="$p"; done
    for i in $(seq 1 "$NODES"); do p="$(pick_port $((p + 1)))"; rports[$i]="$p"; done
    for i in $(seq 1 "$NODES"); do members="${members:+$members,}$i@127.0.0.1:${rports[$i]}@127.0.0.1:${EPORT[$i]}"; done
    for i in $(seq 1 "$NODES"); do
        bench_start "$EDIR/n$i.log" "$efd" --id "$i" --port "${EPORT[$i]}" \
            --raft-address "127.0.0.1:${rports[$i]}" --data "$EDIR/n$i" --cluster "$members"
        EPID[$i]=$BENCH_LAST_PID
    done
    LEADER=""
    for _ in $(seq 1 300); do
        for i in $(seq 1 "$NODES"); do
            if redis-cli -p "${EPORT[$i]}" STATUS 2>/dev/null |
                grep -q '"state":"leader","stale":false,"last_contact_ms":0,"ready":true'; then
                LEADER=$i; break 2
            fi
        done
        sleep 0.1
    done
    [ -n "$LEADER" ] || { log "eventflow: no leader"; exit 1; }
    FOLLOWER=$((LEADER % NODES + 1))
}

ef_stop() {
    local i
    for i in $(seq 1 "$NODES"); do bench_stop "${EPID[$i]}"; done
    rm -rf "$EDIR"
}

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

# ---------------------------------------------------------------- summary --

# ratio NUMS DENS : the median of the per-round NUM/DEN (both > 0).
ratio() {
    local num=($1) den=($2) i qs=()
    for i in "${!num[@]}"; do
        qs+=("$(awk -v a="${num[$i]}" -v b="${den[$i]:-NA}" \
            'BEGIN { if (a == "NA" || b == "NA" || a + 0 <= 0 || b + 0 <= 0) print "NA"; else printf "%.2f", a / b }')")
    done
    read -r med _ _ <<<"$(stats "${qs[*]:-NA}")"
    echo "$med"
}

med() { local m; read -r m _ _ <<<"$(stats "${1:-NA}")"; echo "$m"; }

# row CASE LABEL EF_FIELD [REDIS_FIELD] : one line of the summary.
row() {
    local case="$1" label="$2" ef_f="$3" r_f="${4:-$3}" t cells="" rat="" r e
    r="${BENCH_VALS[redis: $case: $r_f]:-NA}"
    for t in $TARGETS; do
        e="${BENCH_VALS[$EF $t: $case: $ef_f]:-${BENCH_VALS[$EF: $case: $ef_f]:-NA}}"
        cells+=" $(med "$e") |"
        rat+=" $(ratio "$e" "$r") |"
    done
    printf '| %s | %s |%s %s |%s\n' "$case" "$label" "$cells" "$(med "$r")" "$rat"
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

if [ -n "${RESULTS_DIR:-}" ]; then
    mkdir -p "$RESULTS_DIR"
    export BENCH_TSV="${BENCH_TSV:-$RESULTS_DIR/runs.tsv}"
    main > >(tee "$RESULTS_DIR/bench-delivery.md") 2> >(tee "$RESULTS_DIR/bench-delivery.log" >&2)
else
    main
fi
