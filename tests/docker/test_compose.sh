#!/usr/bin/env bash
# test_compose.sh - the docker-compose cluster of docs/docker.md, end to end.
#
#   tests/docker/test_compose.sh        (tests/run calls it when `docker info` works)
#
# 1. base images (cluster/docker-base.sh, cached) and the image
#    (cluster/Dockerfile through docker-compose.yml);
# 2. `up -d` under a project name of its own, wait until the three
#    containers are healthy;
# 3. write from the host with redis-cli and read the events back from every
#    node; over the published HTTP ports with curl: 401 without the
#    password, /health, an append to the leader, a follower's 307 to the
#    leader's in-network address, the event read on the follower; with
#    eventflowctl (when the tree has src/cli): the healthcheck runs
#    it, status/append/get work inside the containers, `health --local`
#    works from the host on each published port;
# 4. `docker kill` the leader's container: a new leader, no acknowledged
#    event lost, writes go on; start it again: it catches up (equal checksums);
# 5. disconnect a follower from the network: the others go on without it,
#    it goes stale; reconnect it: it catches up;
# 6. kill -9 a node's process behind Docker's back: the restart policy
#    brings it back (as root only);
# 7. replace the leader's container by one on a new address (an upgrade):
#    the others find it again, it hears from a leader and catches up;
# 8. profile "five": two more nodes join as voters and catch up;
# 9. `down -v`: no container, network or volume of the project is left.
#
# The host talks only to the ports the compose file publishes on 127.0.0.1
# (free ports picked here, passed as EF_PORT1..5). Redirects name in-network
# addresses (node2:6543) the host cannot resolve, so the test finds the
# leader by asking each port for STATUS instead of following -MOVED.
# Every wait is bounded. Prints "PASS: ..." or "FAIL: ...", cleans up, and
# ends with "test_compose: 1 passed, 0 failed" (or "0 passed, 1 failed"),
# which the exit status repeats.
#
# Env: EVENTFLOW_COMPOSE  the compose command ("docker compose" or
#                         "docker-compose"; default: the plugin if present)
#      EVENTFLOW_BASE_IMAGE, EVENTFLOW_BUILD_IMAGE  base images to use instead
#                         of running cluster/docker-base.sh (e.g.
#                         debian:bookworm-slim on a machine with a registry)
#      EVENTFLOWCTL       the eventflowctl binary to test from the host
#                         (default: build-tests/release/src/cli/eventflowctl,
#                         then build/src/cli/eventflowctl, then PATH)
set -uo pipefail
cd "$(dirname "$0")/../.."

started=$SECONDS
project="eventflow-test-$$"
password="test-secret-$$"
checks=0
skipped=()
compose_cmd=()

# shellcheck source=tests/docker/common.sh
. tests/docker/common.sh
ok() { checks=$((checks + 1)); say "ok: $*"; }

# The compose files: the one under test, and the test's subnet (below).
compose_files=(-f docker-compose.yml -f tests/docker/compose.subnet.yml)
compose() { timeout 600 "${compose_cmd[@]}" -p "$project" "${compose_files[@]}" "$@"; }

# rc PORT ARGS...: redis-cli against a published port, authenticated.
rc() {
    local port="$1"
    shift
    REDISCLI_AUTH="$password" timeout 10 redis-cli -h 127.0.0.1 -p "$port" "$@" 2>&1
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ "$status" -ne 0 ] && [ "${#compose_cmd[@]}" -gt 0 ]; then
        say "logs of the containers (last 40 lines each):"
        compose --profile five logs --no-color --tail 40 2>&1 | sed 's/^/    /' || true
    fi
    if [ "${#compose_cmd[@]}" -gt 0 ]; then
        timeout 180 "${compose_cmd[@]}" -p "$project" "${compose_files[@]}" --profile five down -v --remove-orphans \
            >/dev/null 2>&1 || say "warning: compose down failed"
    fi
    # One test for tests/run: the line it (and a reader) can count.
    if [ "$status" -eq 0 ]; then
        echo "test_compose: 1 passed, 0 failed"
    else
        echo "test_compose: 0 passed, 1 failed"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- tools ------------------------------------------------------------------

check_tools
say "compose: ${compose_cmd[*]} ($("${compose_cmd[@]}" version 2>/dev/null | head -n1))"

# Free 127.0.0.1 ports for the five published client ports ...
free_ports 10
export EF_PORT1="${ports[0]}" EF_PORT2="${ports[1]}" EF_PORT3="${ports[2]}" \
    EF_PORT4="${ports[3]}" EF_PORT5="${ports[4]}"
# ... and for the five published HTTP ports.
export EF_HTTP_PORT1="${ports[5]}" EF_HTTP_PORT2="${ports[6]}" EF_HTTP_PORT3="${ports[7]}" \
    EF_HTTP_PORT4="${ports[8]}" EF_HTTP_PORT5="${ports[9]}"
export EVENTFLOW_PASSWORD="$password" EVENTFLOW_IMAGE="eventflow:test"
# The nodes prove it on every raft connection (docker-compose.yml requires it).
export EVENTFLOW_CLUSTER_SECRET="compose-test-cluster-secret-$$"

# A free /24 for the project's network (tests/docker/compose.subnet.yml):
# one that overlaps no Docker network and no route of this host.
ip2int() {
    local IFS=.
    # shellcheck disable=SC2086 # splitting the address at the dots is intended
    set -- $1
    echo $((($1 << 24) + ($2 << 16) + ($3 << 8) + $4))
}
subnet_free() {
    local lo hi s slo shi
    lo=$(ip2int "${1%/*}")
    hi=$((lo + 255))
    for s in $(docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}} {{end}}' $(docker network ls -q)) \
        $(ip -4 route show 2>/dev/null | awk '$1 ~ /\// { print $1 }'); do
        case "$s" in *:* | */0) continue ;; esac
        slo=$(ip2int "${s%/*}")
        shi=$((slo + (1 << (32 - ${s#*/})) - 1))
        [ "$hi" -lt "$slo" ] || [ "$lo" -gt "$shi" ] || return 1
    done
}
subnet=""
for _ in $(seq 1 100); do
    cand="172.16.$((RANDOM % 256)).0/24"
    subnet_free "$cand" && { subnet="$cand"; break; }
done
[ -n "$subnet" ] || fail "no free /24 in 172.16.0.0/16 for the test network"
export EF_TEST_SUBNET="$subnet"
# port N: the published port of nodeN.
port() { echo "${ports[$(($1 - 1))]}"; }
http_port() { echo "${ports[$(($1 + 4))]}"; }

# ---- image ------------------------------------------------------------------

t=$SECONDS
base_images
t_base=$((SECONDS - t))
say "base images: $EVENTFLOW_BASE_IMAGE, ${EVENTFLOW_BUILD_IMAGE:-debian:bookworm-slim} (${t_base}s)"

t=$SECONDS
# One service builds the image; the others use the same tag.
compose build node1 >"/tmp/$project.build.log" 2>&1 ||
    { tail -40 "/tmp/$project.build.log"; rm -f "/tmp/$project.build.log"; fail "image build"; }
rm -f "/tmp/$project.build.log"
t_build=$((SECONDS - t))
ok "image $EVENTFLOW_IMAGE built (${t_build}s, $(docker image inspect -f '{{.Size}}' "$EVENTFLOW_IMAGE" |
    awk '{ printf "%.0f MB", $1 / 1e6 }'))"
image_has_ctl=0
timeout 30 docker run --rm --entrypoint sh "$EVENTFLOW_IMAGE" -c 'command -v eventflowctl' >/dev/null 2>&1 &&
    image_has_ctl=1

# ---- cluster up ------------------------------------------------------------

t=$SECONDS
compose up -d >/dev/null 2>&1 || fail "compose up"
wait_for 120 "node1-3 healthy" healthy 1 2 3
t_up=$((SECONDS - t))
ok "node1-3 healthy (${t_up}s after up)"

# Nothing without AUTH: the password reached the nodes through the environment.
case "$(timeout 10 redis-cli -h 127.0.0.1 -p "$(port 1)" EVENTCOUNT 2>&1)" in
    *[Aa]uth* | *unauthorized*) ok "unauthenticated command refused" ;;
    *) fail "EVENTCOUNT without AUTH was not refused" ;;
esac

# leader [NODES...]: the node (of NODES, default 1-3) whose STATUS says it
# leads and is ready for writes.
leader() {
    local n s nodes=("$@")
    [ "$#" -gt 0 ] || nodes=(1 2 3)
    for n in "${nodes[@]}"; do
        s="$(rc "$(port "$n")" STATUS)"
        if [[ "$s" == *'"state":"leader"'* && "$s" == *'"ready":true'* ]]; then
            echo "$n"
            return 0
        fi
    done
    return 1
}
has_leader() { leader "$@" >/dev/null; }

# add PORT FROM COUNT: append versions FROM..FROM+COUNT-1 of stream
# "account-1" with expected versions, one ADD each, pipelined through one
# redis-cli; every one must be acknowledged.
add() {
    local port="$1" from="$2" count="$3" v out
    out="$(for ((v = from; v < from + count; v++)); do
        printf 'ADD '\''{"stream":"account-1","version":%d,"events":[{"type":"Deposited","data":{"n":%d}}]}'\''\n' "$v" "$v"
    done | REDISCLI_AUTH="$password" timeout 30 redis-cli -h 127.0.0.1 -p "$port" 2>&1)"
    [ "$(grep -c '^{"id":"' <<<"$out")" -eq "$count" ] ||
        fail "ADD of versions $from..$((from + count - 1)) on port $port: $(grep -v '^{"id"' <<<"$out" | head -3)"
}

# stream_ok PORT N: the leader on PORT returns exactly versions 0..N-1 of
# the stream (a linearizable read).
stream_ok() {
    local got want
    got="$(rc "$1" GET '{"stream":"account-1","version":0,"limit":10000,"consistency":"linearizable"}' |
        grep -o '"version":[0-9]*' | cut -d: -f2 | tr '\n' ' ')"
    want="$(seq 0 $(($2 - 1)) | tr '\n' ' ')"
    [ "$got" = "$want" ]
}

# same_state N NODES...: every one of NODES (published ports) has N events
# and the same checksum.
same_state() {
    local n want="$1" first="" cur
    shift
    for n in "$@"; do
        [ "$(rc "$(port "$n")" EVENTCOUNT)" = "$want" ] || return 1
        cur="$(rc "$(port "$n")" CHECKSUM | tr '\n' ' ')"
        [ -n "$first" ] || first="$cur"
        [ "$cur" = "$first" ] || return 1
    done
}

wait_for 30 "a leader among node1-3" has_leader
lead="$(leader)"
say "leader: node$lead (port $(port "$lead"))"
# acct: the length of stream account-1; total: every event of the store.
add "$(port "$lead")" 0 30
acct=30
total=30
ok "30 events written through the leader's port"
stream_ok "$(port "$lead")" "$acct" || fail "the leader does not return versions 0..29"
wait_for 30 "node1-3 at $total events, equal checksums" same_state "$total" 1 2 3
ok "every node has the $total events, equal checksums"
# The slot is the one a Redis Cluster client computes for the argument (its key).
arg='{"stream":"x","version":"any","events":[{"type":"T"}]}'
slot="$(rc "$(port "$lead")" CLUSTER KEYSLOT "$arg")"
case "$(rc "$(port "$(( lead % 3 + 1 ))")" ADD "$arg")" in
    "MOVED $slot node$lead:6543") ok "a follower redirects writes to node$lead:6543 (an in-network name), slot $slot" ;;
    *) fail "a follower did not answer MOVED $slot node$lead:6543" ;;
esac

# ---- HTTP -----------------------------------------------------------------
# The published HTTP ports (docs/http.md): the same password, the same
# commands. hc ARGS...: curl with the password; prints the status code
# after the body.
hc() {
    timeout 10 curl -s -u "any:$password" -w ' %{http_code}' "$@" 2>&1
}
command -v curl >/dev/null || fail "curl is not installed (scripts/setup.sh)"
follower=$(( lead % 3 + 1 ))
case "$(timeout 10 curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(http_port "$lead")/status")" in
    401) ok "HTTP without the password answers 401" ;;
    *) fail "HTTP /status without the password was not refused" ;;
esac
case "$(hc "http://127.0.0.1:$(http_port "$follower")/health")" in
    *'"healthy":true'*' 200') ok "node$follower's /health answers 200 healthy" ;;
    *) fail "node$follower's /health is not 200 healthy" ;;
esac
case "$(hc -XPOST "http://127.0.0.1:$(http_port "$lead")/streams/http-1" -d '[{"type":"ViaHttp"}]')" in
    *'"id":"'*' 200') ok "an append over HTTP to the leader answers 200 with its event" ;;
    *) fail "an append over HTTP to node$lead was not acknowledged" ;;
esac
total=$((total + 1))
case "$(hc -D - -o /dev/null -XPOST "http://127.0.0.1:$(http_port "$follower")/streams/http-1" -d '[{"type":"T"}]')" in
    *"ocation: http://node$lead:16543/streams/http-1"*' 307') ok "a follower's HTTP answers 307 to node$lead:16543 (an in-network name)" ;;
    *) fail "a follower's HTTP did not redirect the write to node$lead:16543" ;;
esac
http_read() { [[ "$(hc "http://127.0.0.1:$(http_port "$follower")/streams/http-1")" == *'"type":"ViaHttp"'*' 200' ]]; }
wait_for 30 "node$follower serves the event appended over HTTP" http_read
ok "node$follower serves the event appended over HTTP"

# ---- eventflowctl -------------------------------------------------------------
# In the containers: the healthcheck, and the cluster-wide commands, which
# reach every member at its in-network address. From the host only
# `health --local` per published port works: the client library goes to the
# members' advertised addresses (nodeN:6543), which the host cannot resolve.

# ctl_in NODE ARGS...: eventflowctl inside nodeN's container; prints its
# output, returns its exit code.
ctl_in() {
    local n="$1"
    shift
    timeout 30 docker exec "$(cid "$n")" eventflowctl "$@" 2>&1
}
# ctl_host PORT ARGS...: the host's eventflowctl against one published port.
ctl_host() {
    local p="$1"
    shift
    EVENTFLOW_PASSWORD="$password" timeout 20 "$ctl" -e "127.0.0.1:$p" "$@" 2>&1
}
# ctl_code CMD...: the exit code of CMD, as text.
ctl_code() {
    "$@" >/dev/null
    echo $?
}

if [ "$image_has_ctl" -eq 1 ]; then
    hc="$(docker inspect -f '{{range .State.Health.Log}}{{.Output}}{{end}}' "$(cid 1)")"
    case "$hc" in
        *"healthy: node 1"*) ok "the healthcheck is 'eventflowctl health --local'" ;;
        *) fail "node1's healthcheck did not run eventflowctl: $hc" ;;
    esac
    out="$(ctl_in "$(( lead % 3 + 1 ))" status)" || fail "eventflowctl status in a container: $out"
    grep -q '^healthy: leader' <<<"$out" || fail "eventflowctl status: $out"
    ok "eventflowctl status (in a follower's container): healthy, 3 members"
    for i in 0 1 2; do
        ctl_in "$(( lead % 3 + 1 ))" append ops-1 Checked "{\"n\":$i}" --expected-version "$i" >/dev/null ||
            fail "eventflowctl append from a follower's container"
    done
    got="$(ctl_in "$(( (lead + 1) % 3 + 1 ))" get ops-1 -o json | grep -c '"type":"Checked"')"
    [ "$got" -eq 3 ] || fail "eventflowctl get ops-1: $got events, not 3"
    total=$((total + 3))
    ok "eventflowctl append (following the redirect in the network) and get: 3 events"
else
    skipped+=("eventflowctl in the containers: healthcheck, status, append, get (the image has no eventflowctl: no src/cli in this tree); the healthcheck used redis-cli STATUS")
fi
if [ -n "$ctl" ]; then
    for n in 1 2 3; do
        out="$(ctl_host "$(port "$n")" health --local)" || fail "host eventflowctl health --local on node$n: $out"
    done
    ok "host eventflowctl health --local on each published port"
else
    skipped+=("eventflowctl from the host (no eventflowctl binary: set EVENTFLOWCTL or build src/cli)")
fi

# ---- failover -----------------------------------------------------------------

old="$lead"
others=()
for n in 1 2 3; do [ "$n" = "$old" ] || others+=("$n"); done
t=$SECONDS
timeout 30 docker kill "$(cid "$old")" >/dev/null || fail "docker kill node$old"
wait_for 30 "a new leader among node${others[0]}, node${others[1]}" has_leader "${others[@]}"
t_failover=$((SECONDS - t))
lead="$(leader "${others[@]}")"
ok "node$old killed; node$lead leads and is ready after ${t_failover}s"
stream_ok "$(port "$lead")" "$acct" || fail "acknowledged events lost after failover"
[ "$(rc "$(port "$lead")" EVENTCOUNT)" = "$total" ] || fail "event count after failover"
ok "no acknowledged event lost"
add "$(port "$lead")" "$acct" 20
acct=$((acct + 20))
total=$((total + 20))
stream_ok "$(port "$lead")" "$acct" || fail "writes after failover"
ok "20 more events written through the new leader"
if [ "$image_has_ctl" -eq 1 ]; then
    code="$(ctl_code ctl_in "$lead" health)"
    [ "$code" = 1 ] || fail "eventflowctl health with node$old down: exit $code, not 1 (degraded)"
    ok "eventflowctl health with node$old down: degraded (exit 1)"
fi
if [ -n "$ctl" ]; then
    code="$(ctl_code ctl_host "$(port "$old")" health --local)"
    [ "$code" = 3 ] || fail "host eventflowctl health --local on the killed node: exit $code, not 3"
    ok "host eventflowctl health --local on node$old's port: unreachable (exit 3)"
fi

t=$SECONDS
compose start "node$old" >/dev/null 2>&1 || fail "compose start node$old"
wait_for 60 "node$old catches up" same_state "$total" 1 2 3
t_catchup=$((SECONDS - t))
ok "node$old restarted and caught up (${t_catchup}s): equal checksums on node1-3"
wait_for 60 "node$old healthy" healthy "$old"
if [ "$image_has_ctl" -eq 1 ]; then
    all_healthy() { ctl_in "$old" health >/dev/null; }
    wait_for 30 "eventflowctl health: healthy again" all_healthy
    ok "eventflowctl health (in node$old's container): healthy again"
fi

# ---- network partition ------------------------------------------------------

lead="$(leader)" || fail "no leader after node$old came back"
cut=$((lead % 3 + 1))
cut_cid="$(cid "$cut")"
net="$(docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' "$cut_cid" | awk '{ print $1 }')"
[ -n "$net" ] || fail "network of node$cut"
timeout 30 docker network disconnect "$net" "$cut_cid" || fail "network disconnect node$cut"
add "$(port "$lead")" "$acct" 20
acct=$((acct + 20))
total=$((total + 20))
ok "node$cut disconnected from $net; 20 events written without it"
# The cut-off node cannot be reached through its published port now; look
# from inside its container. It has not seen the new events, and once it has
# not heard from a leader for --max-staleness (5 s) it says so.
inside() { timeout 10 docker exec -e REDISCLI_AUTH="$password" "$cut_cid" redis-cli -p 6543 "$@" 2>&1; }
[ "$(inside EVENTCOUNT)" -lt "$total" ] || fail "node$cut has events written while it was cut off"
cut_stale() { inside STATUS | grep -q '"stale":true'; }
wait_for 30 "node$cut reports itself stale" cut_stale
ok "node$cut is behind and reports \"stale\":true"
t=$SECONDS
# Reconnected, it must answer to its service name again.
timeout 30 docker network connect --alias "node$cut" "$net" "$cut_cid" || fail "network connect node$cut"
wait_for 60 "node$cut catches up after the partition" same_state "$total" 1 2 3
t_heal=$((SECONDS - t))
ok "node$cut reconnected and caught up (${t_heal}s): equal checksums on node1-3"

# ---- restart policy ---------------------------------------------------------

if [ "$(id -u)" -eq 0 ]; then
    victim=$((cut % 3 + 1))
    vcid="$(cid "$victim")"
    restarts="$(docker inspect -f '{{.RestartCount}}' "$vcid")"
    kill -KILL "$(docker inspect -f '{{.State.Pid}}' "$vcid")" || fail "kill -9 node$victim's process"
    restarted() { [ "$(docker inspect -f '{{.RestartCount}} {{.State.Running}}' "$vcid")" = "$((restarts + 1)) true" ]; }
    wait_for 60 "Docker restarts node$victim" restarted
    wait_for 60 "node$victim catches up after its restart" same_state "$total" 1 2 3
    ok "node$victim's process killed -9: restarted by the restart policy, equal checksums"
else
    skipped+=("restart policy after kill -9 of a node's process (needs root to signal it)")
fi

# ---- a node replaced on a new address ---------------------------------------
# As in an upgrade: the leader's container is removed (SIGTERM) and a new one
# starts on the same volume, here on an address nobody had, so nothing
# answers at the old one any more. The others must reach it again at its new
# address, and it must hear from a leader (compose's tcp_retries2 bounds how
# long their connections to the old address hang on).

# knows_leader N: nodeN has a leader it is in contact with.
knows_leader() {
    local s
    s="$(rc "$(port "$1")" STATUS)"
    [[ "$s" == *'"stale":false'* && "$s" == *'"leader_id":'[1-9]* ]]
}
lead="$(leader)" || fail "no leader before the replacement"
old_ip="$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$(cid "$lead")")"
new_ip="${subnet%.0/24}.$((200 + lead))"
t=$SECONDS
compose rm -s -f "node$lead" >/dev/null 2>&1 || fail "compose rm node$lead"
compose up --no-start --no-deps "node$lead" >/dev/null 2>&1 || fail "compose up --no-start node$lead"
new_cid="$(cid "$lead")"
net="$(docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' "$new_cid" | awk '{ print $1 }')"
timeout 30 docker network disconnect "$net" "$new_cid" >/dev/null &&
    timeout 30 docker network connect --ip "$new_ip" --alias "node$lead" "$net" "$new_cid" &&
    timeout 30 docker start "$new_cid" >/dev/null || fail "start the new node$lead on $new_ip"
others=()
for n in 1 2 3; do [ "$n" = "$lead" ] || others+=("$n"); done
wait_for 30 "a leader among node${others[0]}, node${others[1]}" has_leader "${others[@]}"
add "$(port "$(leader "${others[@]}")")" "$acct" 10
acct=$((acct + 10))
total=$((total + 10))
wait_for 90 "node$lead, now at $new_ip, hears from a leader" knows_leader "$lead"
wait_for 60 "node$lead catches up at its new address" same_state "$total" 1 2 3
t_readdress=$((SECONDS - t))
ok "node$lead replaced, $old_ip -> $new_ip: back in the cluster, equal checksums (${t_readdress}s)"

# ---- five nodes ---------------------------------------------------------------

t=$SECONDS
compose --profile five up -d >/dev/null 2>&1 || fail "compose --profile five up"
wait_for 120 "node4 and node5 healthy" healthy 4 5
voters() { [ "$(rc "$(port 1)" CLUSTER MEMBERS | grep -c '"role":"voter"')" -eq 5 ]; }
wait_for 60 "five voters" voters
wait_for 60 "node1-5 at $total events, equal checksums" same_state "$total" 1 2 3 4 5
t_five=$((SECONDS - t))
ok "profile five: node4 and node5 joined as voters and caught up (${t_five}s)"

# ---- down -------------------------------------------------------------------

compose --profile five down -v --remove-orphans >/dev/null 2>&1 || fail "compose down -v"
label="label=com.docker.compose.project=$project"
left="$(docker ps -aq --filter "$label") $(docker network ls -q --filter "$label") $(docker volume ls -q --filter "$label")"
left="$left $(docker network ls -q --filter "name=${project}_") $(docker volume ls -q --filter "name=${project}_")"
[ -z "${left// /}" ] || fail "left behind after down -v: $left"
ok "down -v left no container, network or volume"

say "timings: base images ${t_base}s, image build ${t_build}s, up to healthy ${t_up}s," \
    "failover ${t_failover}s, restart catch-up ${t_catchup}s, partition catch-up ${t_heal}s," \
    "new address ${t_readdress}s, five nodes ${t_five}s, total $((SECONDS - started))s"
if [ "${#skipped[@]}" -gt 0 ]; then
    for s in "${skipped[@]}"; do say "SKIPPED: $s"; done
fi
say "PASS: docker compose cluster ($checks checks, ${#skipped[@]} skipped, ${compose_cmd[*]})"
