#!/usr/bin/env bash
# run.sh - one Jepsen run of eventflow: build, create the private network,
# run the cluster under faults with a recorded workload, check the history.
#
#   jepsen/run.sh --seed S --time-limit SECONDS --nemesis kill,pause,partition,...
#                 [--nodes 3|5] [--workers N] [--results DIR] [--build DIR]
#                 [--lin-timeout 120s] [--tls] [-- extra eventflow-jepsen options]
#
# --tls runs raft inside mutual TLS as well as behind the cluster secret
# (the runner's --tls-certs, with certificates tests/integration/tls_certs.sh
# makes in the run's directory; docs/operations.md, "TLS between nodes").
#
# Writes jepsen/results/<UTC time>-seed<S>/ (or --results DIR/<...>):
#   history.jsonl   every operation (invoke/ok/fail/info) and nemesis action
#   runner.log      the runner's progress and the nemesis timeline
#   nodes/          each node's stderr (all its restarts), exits.jsonl
#   final/          nodes.json + each node's whole log after healing
#   verdict.json    every checker's verdict; summary.md, a readable summary
#   *.html          porcupine's visualization of a linearizability failure
#
# Exit status: 0 valid, 1 a checker found a violation (or the run could not
# be carried out), 2 a checker could not decide, 77 skipped (not root).
#
# Everything is bounded: the runner gets time-limit + 300 s, then it is
# killed. Whatever happens, the trap kills what the run started (by pid),
# unmounts its data filesystems and deletes its namespaces. Nothing outside
# the run's own namespaces is ever addressed (see netctl.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

seed=1
time_limit=60
nemesis="kill,pause,partition"
nodes=3
workers=6
results_root="$repo/jepsen/results"
build="${JEPSEN_BUILD:-}"
lin_timeout=120s
tls=0
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seed) seed="$2"; shift 2 ;;
        --time-limit) time_limit="$2"; shift 2 ;;
        --nemesis) nemesis="$2"; shift 2 ;;
        --nodes) nodes="$2"; shift 2 ;;
        --workers) workers="$2"; shift 2 ;;
        --results) results_root="$2"; shift 2 ;;
        --build) build="$2"; shift 2 ;;
        --lin-timeout) lin_timeout="$2"; shift 2 ;;
        --tls) tls=1; shift ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown option $1" >&2; exit 1 ;;
    esac
done
[[ "$seed" =~ ^[0-9]+$ && "$time_limit" =~ ^[0-9]+$ && "$nodes" =~ ^[0-9]+$ ]] ||
    { echo "run.sh: --seed, --time-limit and --nodes take numbers" >&2; exit 1; }

if ! bash jepsen/netctl.sh check; then
    echo "SKIPPED: jepsen (needs root for network namespaces)"
    exit 77
fi
bash jepsen/setup.sh || { echo "run.sh: jepsen/setup.sh failed" >&2; exit 1; }
[ -x /usr/local/go/bin/go ] && export PATH="/usr/local/go/bin:$PATH"

# ---- build ----------------------------------------------------------------
# The nodes use the system allocator: the clock nemesis runs eventflowd
# under libfaketime, which calls malloc while it initialises inside the
# first clock_gettime, and jemalloc (eventflowd's default, -Dallocator)
# calls clock_gettime while it initialises; the two recurse, libfaketime
# prints "Cannot recover" and the node hangs before it listens, so every
# clock fault would be an outage instead. The default build directory is
# run.sh's own and is configured (or reconfigured) that way; a directory
# given with --build or JEPSEN_BUILD must already be.
own_build=0
[ -n "$build" ] || { build="$repo/build-jepsen"; own_build=1; }
# Relative to the repository (this script runs there); absolute, because
# the checker is built from jepsen/checker.
case "$build" in /*) ;; *) build="$repo/$build" ;; esac
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$repo" -Dallocator=system >/dev/null ||
        { echo "run.sh: meson setup failed" >&2; exit 1; }
fi
# version.h is written at configure time and names eventflowd's malloc.
if ! grep -q 'EVENTFLOW_ALLOCATOR "system"' "$build/version.h" 2>/dev/null; then
    if [ "$own_build" -eq 1 ]; then
        meson configure "$build" -Dallocator=system >/dev/null ||
            { echo "run.sh: meson configure -Dallocator=system failed" >&2; exit 1; }
    else
        echo "run.sh: $build does not build eventflowd with the system allocator; libfaketime (the clock" \
             "nemesis) hangs under jemalloc. Configure it with -Dallocator=system, or omit --build." >&2
        exit 1
    fi
fi
ninja -C "$build" src/daemon/eventflowd jepsen/eventflow-jepsen >"$build/jepsen-build.log" 2>&1 ||
    { tail -30 "$build/jepsen-build.log"; echo "run.sh: build failed" >&2; exit 1; }
checker="$build/jepsen-checker"
(cd jepsen/checker && GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod" go build -o "$checker" .) ||
    { echo "run.sh: building the checker failed" >&2; exit 1; }
faketime_lib=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n1 || true)

# ---- the run ----------------------------------------------------------------
dir="$results_root/$(date -u +%Y%m%dT%H%M%SZ)-seed$seed"
mkdir -p "$dir" || exit 1
tag=$$
runner_pid=""

cleanup() {
    trap - EXIT INT TERM
    if [ -n "$runner_pid" ] && kill -0 "$runner_pid" 2>/dev/null; then
        kill -TERM "$runner_pid" 2>/dev/null
        for _ in $(seq 1 100); do kill -0 "$runner_pid" 2>/dev/null || break; sleep 0.3; done
        kill -KILL "$runner_pid" 2>/dev/null
    fi
    # Nodes die with the runner (PR_SET_PDEATHSIG); any tmpfs it left:
    if [ -d "$dir/data" ]; then
        for m in $(awk -v d="$dir/data/" 'index($2, d) == 1 {print $2}' /proc/mounts); do
            umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
        done
        rm -rf "$dir/data"
    fi
    bash jepsen/netctl.sh down "$tag"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bash jepsen/netctl.sh reap
bash jepsen/netctl.sh up "$tag" "$nodes" || { echo "run.sh: could not create the namespaces" >&2; exit 1; }
{
    echo "seed=$seed time_limit=$time_limit nemesis=$nemesis nodes=$nodes workers=$workers"
    echo "commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    [ -z "${EVENTFLOW_MUTANT:-}" ] || echo "mutant=$EVENTFLOW_MUTANT (planted bug, src/common/mutant.h)"
    echo "reproduce: ${EVENTFLOW_MUTANT:+EVENTFLOW_MUTANT=$EVENTFLOW_MUTANT }jepsen/run.sh --seed $seed --time-limit $time_limit --nemesis $nemesis --nodes $nodes --workers $workers$([ "$tls" -eq 1 ] && echo " --tls")${extra[*]:+ -- ${extra[*]}}"
} >"$dir/run.txt"
tls_args=()
if [ "$tls" -eq 1 ]; then
    mkdir -p "$dir/certs" && sh tests/integration/tls_certs.sh "$dir/certs" >/dev/null 2>&1 ||
        { echo "run.sh: making the TLS certificates failed" >&2; exit 1; }
    tls_args=(--tls-certs "$dir/certs")
fi
echo "jepsen: seed $seed, $time_limit s, nemesis $nemesis, $nodes nodes${tls_args[*]:+, raft inside TLS} -> $dir"

# The runner writes runner.log; tail shows it here while it runs. runner_pid
# is timeout's, which passes a TERM on to the runner.
timeout --kill-after=20 $((time_limit + 300)) \
    "$build/jepsen/eventflow-jepsen" --tag "$tag" --run-dir "$dir" --eventflowd "$build/src/daemon/eventflowd" \
    --seed "$seed" --time-limit "$time_limit" --nemesis "$nemesis" --nodes "$nodes" --workers "$workers" \
    --faketime-lib "$faketime_lib" "${tls_args[@]}" "${extra[@]}" >"$dir/runner.log" 2>&1 &
runner_pid=$!
tail --pid="$runner_pid" -n +1 -f "$dir/runner.log" &
tail_pid=$!
wait "$runner_pid"
runner_status=$?
runner_pid=""
wait "$tail_pid" 2>/dev/null
if [ "$runner_status" -ne 0 ] || ! grep -q "runner: workload stopped" "$dir/runner.log"; then
    echo "jepsen: FAIL: the run did not complete (runner status $runner_status, see $dir/runner.log)"
    exit 1
fi

"$checker" -run "$dir" -lin-timeout "$lin_timeout"
verdict=$?
case $verdict in
    0) echo "jepsen: PASS seed $seed ($dir/summary.md)" ;;
    2) echo "jepsen: UNKNOWN seed $seed: a checker could not decide ($dir/summary.md)" ;;
    *) echo "jepsen: FAIL seed $seed ($dir/summary.md); reproduce: $(sed -n 's/^reproduce: //p' "$dir/run.txt")" ;;
esac
exit "$verdict"
