# common.sh - what the compose tests (test_compose.sh, test_compose_tls.sh)
# share; sourced, after they set `started` (SECONDS at their start) and
# before they define their own `ok` and `cleanup`.
#
# Sets: compose_cmd (the compose command), ctl (an eventflowctl binary for
# the host, or empty), ports (after free_ports).

say() { printf '[%4ds] %s\n' "$((SECONDS - started))" "$*"; }
fail() {
    say "FAIL: $*"
    exit 1
}

# wait_for SECONDS WHAT CMD...: run CMD until it succeeds, at most SECONDS.
wait_for() {
    local limit="$1" what="$2"
    shift 2
    local deadline=$((SECONDS + limit))
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || fail "$what: not after ${limit}s"
        sleep 0.5
    done
}

# check_tools: docker with an Engine that answers, redis-cli, a compose
# command (EVENTFLOW_COMPOSE, else the plugin, else docker-compose) into
# compose_cmd, and an eventflowctl (EVENTFLOWCTL, else a build's, else
# PATH's; may stay empty) into ctl.
check_tools() {
    command -v docker >/dev/null || fail "docker is not installed"
    timeout 20 docker info >/dev/null 2>&1 || fail "no Docker Engine answers"
    command -v redis-cli >/dev/null || fail "redis-cli is not installed (scripts/setup.sh)"
    if [ -n "${EVENTFLOW_COMPOSE:-}" ]; then
        read -r -a compose_cmd <<<"$EVENTFLOW_COMPOSE"
    elif docker compose version >/dev/null 2>&1; then
        compose_cmd=(docker compose)
    elif command -v docker-compose >/dev/null; then
        compose_cmd=(docker-compose)
    else
        fail "neither 'docker compose' nor 'docker-compose' is installed"
    fi
    ctl="${EVENTFLOWCTL:-}"
    if [ -z "$ctl" ]; then
        local c
        for c in build-tests/release/src/cli/eventflowctl build/src/cli/eventflowctl; do
            [ -x "$c" ] && { ctl="$c"; break; }
        done
        [ -n "$ctl" ] || ctl="$(command -v eventflowctl || true)"
    fi
}

# free_ports N: N free 127.0.0.1 ports into ports (below Linux's ephemeral
# range, so no outgoing connection takes one meanwhile).
ports=()
port_taken() {
    local p="$1" q
    for q in "${ports[@]}"; do [ "$q" = "$p" ] && return 0; done
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null
}
free_ports() {
    local p
    while [ "${#ports[@]}" -lt "$1" ]; do
        p=$((20000 + RANDOM % 12000))
        port_taken "$p" || ports+=("$p")
    done
}

# base_images: unless EVENTFLOW_BASE_IMAGE is set, make (or reuse) the
# local base images with cluster/docker-base.sh and point the build at them.
base_images() {
    if [ -z "${EVENTFLOW_BASE_IMAGE:-}" ]; then
        bash cluster/docker-base.sh 2>&1 | sed 's/^/    /'
        [ "${PIPESTATUS[0]}" -eq 0 ] || fail "cluster/docker-base.sh"
        export EVENTFLOW_BASE_IMAGE=eventflow-base:runtime EVENTFLOW_BUILD_IMAGE=eventflow-base:build
    fi
}

# healthy N...: the containers of nodeN... report healthy (the caller's
# `compose` function names the project).
cid() { compose ps -q "node$1" 2>/dev/null; }
healthy() {
    local n c
    for n in "$@"; do
        c="$(cid "$n")"
        [ -n "$c" ] || return 1
        [ "$(docker inspect -f '{{.State.Health.Status}}' "$c" 2>/dev/null)" = healthy ] || return 1
    done
}
