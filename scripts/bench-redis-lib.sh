# bench-redis-lib.sh - sourced (at top level) by scripts/bench-delivery.sh
# and scripts/bench-groups.sh: eventflow against Redis 7 with appendfsync
# always, in one run on this machine, rounds alternated, every system fresh
# each time (new processes, new directories under /tmp).
#
# The caller sets root (the project), NODES, ROUNDS and RUN_TIMEOUT (s per
# client run); BUILD (./build), SHARED_BENCH (../shared/bench),
# EF_PORT_BASE and REDIS_DELIVERY_PORT_BASE are read from the environment.
# It gets ../shared/bench/lib.sh (log, record, stats, print_table, kv,
# bench_start/bench_stop by PID, bench_tmpdir removed on exit, also on
# Ctrl-C) and:
#   vs_prepare          Redis tools and gcc installed if missing,
#                       redis_delivery.c built: RD, EF ("eventflow-3"), RVER
#   vs_machine          one line naming the machine: CPU model, processors
#                       and cores from /proc/cpuinfo, memory
#   vs_header NAME DESC the run's heading: machine, versions, DESC
#   vs_rounds STEPS     per round, per step: redis_STEP ROUND and
#                       ef_STEP ROUND (the caller's), Redis first in odd
#                       rounds; the load average and steal % per round
#   run SYS ROUND CASE CMD...   one client run, its fields recorded
#   redis_start/redis_stop, ef_start/ef_stop   one fresh system
#   pct, ratio, med, row        the summary's figures
#   vs_main NAME        the caller's main, its output also written to
#                       RESULTS_DIR (NAME.md, NAME.log, runs.tsv) when set
export LC_ALL=C
shared="${SHARED_BENCH:-$root/../shared/bench}"
build="${BUILD:-$root/build}"
efd="$build/src/daemon/eventflowd"
efb="$build/src/bench/eventflow-bench"
[ -x "$efd" ] && [ -x "$efb" ] || { echo "build first: meson setup build --buildtype=release && ninja -C build (or BUILD=dir)" >&2; exit 2; }
[ -f "$shared/lib.sh" ] && [ -f "$shared/redis_delivery.c" ] || { echo "no $shared/lib.sh or redis_delivery.c (SHARED_BENCH)" >&2; exit 2; }
export REPS="$ROUNDS" # lib.sh's table heading
# shellcheck source=/dev/null
source "$shared/lib.sh"

vs_prepare() {
    need_cmd redis-server redis-server redis-tools
    need_cmd redis-cli redis-tools
    need_cmd cc gcc
    bench_tmpdir /tmp
    cc -O2 -o "$BENCH_TMP/redis_delivery" "$shared/redis_delivery.c" || exit 1
    RD="$BENCH_TMP/redis_delivery"
    EF="eventflow-$NODES"
    RVER="$(redis-server --version | awk '{sub(/^v=/, "", $3); print $3}')"
}

vs_machine() {
    echo "machine: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)," \
        "$(grep -c '^processor' /proc/cpuinfo) processors," \
        "$(awk -F': ' '/^physical id/ {s[$2]} /^cpu cores/ {c = $2} END {print (length(s) ? length(s) : 1) * c}' /proc/cpuinfo) cores (/proc/cpuinfo)," \
        "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(uname -srm); /tmp on $(df -P /tmp | awk 'NR == 2 {print $1}')"
}

vs_header() {
    echo "# $1 $(date -Is)"
    vs_machine
    echo "versions: eventflow $("$efd" --version 2>/dev/null | head -1) ($(git -C "$root" rev-parse --short HEAD 2>/dev/null)), redis $RVER (appendfsync always)"
    echo "$2"
    echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
}

steal_ticks() { awk '$1 == "cpu" { print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' /proc/stat; }

vs_rounds() {
    local round step st0 tot0 st1 tot1 t_start=$SECONDS
    for round in $(seq 1 "$ROUNDS"); do
        record round "loadavg1 at round start" "$round" "$(cut -d' ' -f1 /proc/loadavg)"
        read -r st0 tot0 <<<"$(steal_ticks)"
        for step in $1; do
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
}

# run SYS ROUND CASE TOOL ARGS... : one client run (bounded by RUN_TIMEOUT);
# its last key=value line (mode=...) is left in LINE and every field of
# FIELDS recorded as "SYS: CASE: field".
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

# -------------------------------------------------------------- eventflow --

# ef_start : NODES nodes in one cluster (as scripts/bench-pairs.sh starts
# them), each with its own HTTP port; sets EPORT[i], HPORT[i] (HTTP),
# EPID[i], LEADER (index), FOLLOWER (index: another node, or the leader
# when alone), EDIR.
ef_start() {
    local i p members=""
    bench_tmpdir /tmp; EDIR="$BENCH_TMP"
    EPORT=() HPORT=() EPID=()
    local rports=()
    p=$((${EF_PORT_BASE:-27101} - 1))
    for i in $(seq 1 "$NODES"); do p="$(pick_port $((p + 1)))"; EPORT[$i]="$p"; done
    for i in $(seq 1 "$NODES"); do p="$(pick_port $((p + 1)))"; rports[$i]="$p"; done
    for i in $(seq 1 "$NODES"); do p="$(pick_port $((p + 1)))"; HPORT[$i]="$p"; done
    for i in $(seq 1 "$NODES"); do members="${members:+$members,}$i@127.0.0.1:${rports[$i]}@127.0.0.1:${EPORT[$i]}"; done
    for i in $(seq 1 "$NODES"); do
        bench_start "$EDIR/n$i.log" "$efd" --id "$i" --port "${EPORT[$i]}" \
            --raft-address "127.0.0.1:${rports[$i]}" --http-port "${HPORT[$i]}" --data "$EDIR/n$i" --cluster "$members"
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

# ---------------------------------------------------------------- summary --

pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.1f", 100 * a / b; else print "NA" }'; }

# ratio NUMS DENS : the median of the per-round NUM/DEN (both > 0).
ratio() {
    local num=($1) den=($2) i qs=() med
    for i in "${!num[@]}"; do
        qs+=("$(awk -v a="${num[$i]}" -v b="${den[$i]:-NA}" \
            'BEGIN { if (a == "NA" || b == "NA" || a + 0 <= 0 || b + 0 <= 0) print "NA"; else printf "%.2f", a / b }')")
    done
    read -r med _ _ <<<"$(stats "${qs[*]:-NA}")"
    echo "$med"
}

med() { local m; read -r m _ _ <<<"$(stats "${1:-NA}")"; echo "$m"; }

# row CASE LABEL EF_FIELD [REDIS_FIELD] : one line of the summary: the
# eventflow figure of each of TARGETS (recorded as "$EF $t: ..." or, for
# all targets alike, "$EF: ..."), Redis's, and their ratios.
row() {
    row_against "$1" "$1" "$2" "$3" "${4:-$3}"
}

# row_against EF_CASE REDIS_CASE LABEL EF_FIELD [REDIS_FIELD]: a row
# comparing eventflow's case with another case of Redis's.
row_against() {
    local case="$1" r_case="$2" label="$3" ef_f="$4" r_f="${5:-$4}" t cells="" rat="" r e
    r="${BENCH_VALS[redis: $r_case: $r_f]:-NA}"
    for t in $TARGETS; do
        e="${BENCH_VALS[$EF $t: $case: $ef_f]:-${BENCH_VALS[$EF: $case: $ef_f]:-NA}}"
        cells+=" $(med "$e") |"
        rat+=" $(ratio "$e" "$r") |"
    done
    printf '| %s | %s |%s %s |%s\n' "$case" "$label" "$cells" "$(med "$r")" "$rat"
}

vs_main() {
    if [ -n "${RESULTS_DIR:-}" ]; then
        mkdir -p "$RESULTS_DIR"
        export BENCH_TSV="${BENCH_TSV:-$RESULTS_DIR/runs.tsv}"
        main > >(tee "$RESULTS_DIR/$1.md") 2> >(tee "$RESULTS_DIR/$1.log" >&2)
    else
        main
    fi
}
