#!/usr/bin/env bash
# mutants.sh - the mutation run: the fault suite must catch every planted
# bug (src/common/mutant.h), and pass on the same build with none.
#
#   jepsen/mutants.sh [--only NAME,NAME...] [--cheap] [--results DIR] [--build DIR]
#
# Results: DIR/<UTC time>/<mutant>/<run>/ (DIR defaults to
# jepsen/results/mutants); the build directory defaults to build-mutants
# (or $JEPSEN_MUTANTS_BUILD).
#
# Builds eventflowd once with -Dmutants=true (and the system allocator, as
# run.sh's build: the clock nemesis needs it), then for each mutant runs
# jepsen/run.sh with EVENTFLOW_MUTANT=<name> in the short, seeded
# configuration most likely to expose it (the table below), and one control
# run with no mutant. Prints a table mutant -> the checkers that failed.
# Rows named no-fault:<fault> run without a mutant but with the runner's
# --disable-fault: the nemesis announces the fault and checks it without
# injecting it, and only the "faults" checker must fail, naming it.
# --cheap: only the mutants marked cheap (what tests/run runs), and the
# control. --only: just those (the control only if named "none").
#
# Exit status: 0 when every mutant was caught by a checker and the control
# passed; 1 otherwise (a mutant not caught, a run that did not complete, or
# a control that failed); 77 skipped (not root).
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

# name | cheap | run.sh options (each run gets --build and --results too).
# Every mutant is one bug that a checker must see; the configuration is
# the cheapest that reliably brings it out:
mutants=(
"none|yes|--seed 1 --time-limit 20 --nemesis none -- --key-reuse-pct 5"
"expected-version-skipped|yes|--seed 1 --time-limit 15 --nemesis none -- --group-consumers 0 --subscribers 1 --stream-subscribers 0"
"dedup-ignores-content|yes|--seed 1 --time-limit 15 --nemesis none -- --key-reuse-pct 5 --group-consumers 0 --subscribers 1 --stream-subscribers 0"
"follower-partial-apply|yes|--seed 1 --time-limit 15 --nemesis none -- --group-consumers 0 --subscribers 1 --stream-subscribers 0 --converge 10"
"subscription-skips-at-switch|yes|--seed 1 --time-limit 20 --nemesis none -- --group-consumers 0"
"read-without-barrier|no|--seed 1 --time-limit 30 --nemesis partition-leader,pause-leader -- --group-consumers 0 --subscribers 1 --stream-subscribers 0"
"min-id-ignored|no|--seed 1 --time-limit 30 --nemesis pause-one,partition-half -- --group-consumers 0 --subscribers 1 --stream-subscribers 0"
"ack-before-commit|no|--seed 1 --time-limit 60 --nemesis partition-leader,partition-half -- --group-consumers 0 --subscribers 1 --stream-subscribers 0 --converge 10"
"id-without-floor|no|--seed 3 --time-limit 60 --nemesis clock -- --group-consumers 0 --subscribers 1 --stream-subscribers 0"
"transfer-drops-last-batch|no|--seed 1 --time-limit 40 --nemesis pause-one,kill-one -- --snapshot-threshold 64 --snapshot-trailing 0 --group-consumers 0 --subscribers 1 --stream-subscribers 0 --converge 10"
"group-forgets-pending|no|--seed 1 --time-limit 40 --nemesis kill-leader -- --subscribers 0 --stream-subscribers 0"
# Faults announced but not injected (the runner's --disable-fault): the
# "faults" checker must say which one did not happen.
"no-fault:clock|yes|--seed 1 --time-limit 12 --nemesis clock -- --disable-fault clock --group-consumers 0 --subscribers 1 --stream-subscribers 0"
"no-fault:kill|no|--seed 1 --time-limit 12 --nemesis kill-one -- --disable-fault kill --group-consumers 0 --subscribers 1 --stream-subscribers 0"
"no-fault:pause|no|--seed 1 --time-limit 12 --nemesis pause-one -- --disable-fault pause --group-consumers 0 --subscribers 1 --stream-subscribers 0"
"no-fault:partition|no|--seed 1 --time-limit 12 --nemesis partition-half -- --disable-fault partition --group-consumers 0 --subscribers 1 --stream-subscribers 0"
"no-fault:disk|no|--seed 1 --time-limit 12 --nemesis disk -- --disable-fault disk --group-consumers 0 --subscribers 1 --stream-subscribers 0"
)

only=""
cheap=0
results_root="$repo/jepsen/results/mutants"
build="${JEPSEN_MUTANTS_BUILD:-$repo/build-mutants}"
while [ $# -gt 0 ]; do
    case "$1" in
        --only) only=",$2,"; shift 2 ;;
        --cheap) cheap=1; shift ;;
        --results) results_root="$2"; shift 2 ;;
        --build) build="$2"; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "mutants.sh: unknown option $1" >&2; exit 1 ;;
    esac
done
case "$build" in /*) ;; *) build="$repo/$build" ;; esac
case "$results_root" in /*) ;; *) results_root="$repo/$results_root" ;; esac
results_root="$results_root/$(date -u +%Y%m%dT%H%M%SZ)" # one folder per mutation run

if ! bash jepsen/netctl.sh check; then
    echo "SKIPPED: jepsen mutants (needs root for network namespaces)"
    exit 77
fi

# One build serves every mutant (EVENTFLOW_MUTANT picks one at start).
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$repo" -Dallocator=system -Dmutants=true >/dev/null ||
        { echo "mutants.sh: meson setup failed" >&2; exit 1; }
fi
meson configure "$build" -Dallocator=system -Dmutants=true >/dev/null ||
    { echo "mutants.sh: $build cannot be configured with -Dmutants=true" >&2; exit 1; }
mkdir -p "$results_root" || exit 1

# The checkers that said false in a run's verdict.json, comma-separated.
failed_checkers() {
    python3 - "$1" <<'EOF'
import json, sys
v = json.load(open(sys.argv[1]))
print(",".join(c["name"] for c in v["checkers"] if c["valid"] == "false"))
EOF
}

t_all=$(date +%s)
rows=()
bad=0
for line in "${mutants[@]}"; do
    IFS='|' read -r name is_cheap opts <<<"$line"
    if [ -n "$only" ]; then
        [[ "$only" == *",$name,"* ]] || continue
    elif [ "$cheap" -eq 1 ] && [ "$is_cheap" != yes ]; then
        continue
    fi
    dir="$results_root/${name/:/-}"
    mkdir -p "$dir"
    echo "== mutant $name: jepsen/run.sh $opts"
    t0=$(date +%s)
    # shellcheck disable=SC2086  # opts is a word list on purpose
    if [ "$name" = none ] || [[ "$name" == no-fault:* ]]; then
        env -u EVENTFLOW_MUTANT bash jepsen/run.sh --build "$build" --results "$dir" $opts >"$dir/run.log" 2>&1
    else
        EVENTFLOW_MUTANT="$name" bash jepsen/run.sh --build "$build" --results "$dir" $opts >"$dir/run.log" 2>&1
    fi
    rc=$?
    secs=$(( $(date +%s) - t0 ))
    verdict=$(ls -d "$dir"/*/verdict.json 2>/dev/null | head -n1)
    checkers=""
    [ -n "$verdict" ] && checkers=$(failed_checkers "$verdict")
    if [ "$name" = none ]; then
        if [ "$rc" -eq 0 ]; then result="passed (as it must)"; else result="FAILED: the control must pass (status $rc)"; bad=1; fi
    elif [[ "$name" == no-fault:* ]]; then
        # Only the faults checker may catch a fault that did not happen,
        # and it must name it.
        if [[ ",$checkers," == *",faults,"* ]] && grep -q "did not take effect" "$verdict"; then
            result="caught by $checkers: $(python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); print([c for c in v["checkers"] if c["name"]=="faults"][0]["errors"][0][:160])' "$verdict")"
        else
            result="NOT CAUGHT by faults (failed: ${checkers:-none}, status $rc)"; bad=1
        fi
    elif [ -n "$checkers" ]; then
        result="caught by $checkers"
    elif [ -z "$verdict" ]; then
        result="NOT CAUGHT: the run did not complete (status $rc, see $dir/run.log)"; bad=1
    else
        result="NOT CAUGHT (status $rc)"; bad=1
    fi
    echo "   $result (${secs} s)"
    rows+=("| \`$name\` | $result | ${secs} s | \`${opts}\` |")
done

echo
echo "| mutant | result | time | configuration (jepsen/run.sh options) |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "mutation run: $(( $(date +%s) - t_all )) s in all; results in $results_root"
if [ "$bad" -ne 0 ]; then
    echo "mutants: FAIL"
    exit 1
fi
echo "mutants: PASS (every mutant caught, the control valid)"
