#!/usr/bin/env bash
# test_compose_tls.sh - the compose cluster's TLS profile of docs/docker.md
# ("TLS"), end to end, from the host:
#
#   tests/docker/test_compose_tls.sh     (tests/run calls it after test_compose.sh)
#
# 1. cluster/tls-certs.sh into a temporary directory; the base images
#    (cluster/docker-base.sh, cached) and the image, as test_compose.sh
#    makes them;
# 2. `up -d` of docker-compose.yml + docker-compose.tls.yml under a project
#    name of its own, free host ports; wait until node1-3 are healthy (the
#    healthcheck, on the plaintext port, keeps working);
# 3. redis-cli --tls PING on every published TLS port; an ADD through the
#    leader's TLS port, read back over TLS on a follower; curl over HTTPS
#    on the published HTTP port; plaintext HTTP there refused; eventflowctl
#    --tls health --local from the host, --tls status in a container;
#    raft runs inside TLS: STATUS raft_tls on every node, and raft_uv_tcp's
#    handshake followed by a plaintext hello, sent from node2's container
#    to node1's raft port, is refused at the TLS handshake (closed, logged,
#    counted in raft_tls_refused);
# 4. `down -v`, the certificates removed.
#
# Every wait is bounded. Ends with "test_compose_tls: 1 passed, 0 failed"
# (or "0 passed, 1 failed"), which the exit status repeats.
#
# Env: EVENTFLOW_COMPOSE, EVENTFLOW_BASE_IMAGE, EVENTFLOW_BUILD_IMAGE,
#      EVENTFLOWCTL as for test_compose.sh.
set -uo pipefail
cd "$(dirname "$0")/../.."

started=$SECONDS
project="eventflow-tls-test-$$"
password="tls-test-secret-$$"
compose_cmd=()
certs=""

# shellcheck source=tests/docker/common.sh
. tests/docker/common.sh
ok() { say "ok: $*"; }

compose_files=(-f docker-compose.yml -f docker-compose.tls.yml)
compose() { timeout 600 "${compose_cmd[@]}" -p "$project" "${compose_files[@]}" "$@"; }

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ "$status" -ne 0 ] && [ "${#compose_cmd[@]}" -gt 0 ]; then
        say "logs of the containers (last 30 lines each):"
        compose logs --no-color --tail 30 2>&1 | sed 's/^/    /' || true
    fi
    if [ "${#compose_cmd[@]}" -gt 0 ]; then
        timeout 180 "${compose_cmd[@]}" -p "$project" "${compose_files[@]}" down -v --remove-orphans \
            >/dev/null 2>&1 || say "warning: compose down failed"
    fi
    [ -z "$certs" ] || rm -rf "$certs"
    if [ "$status" -eq 0 ]; then
        echo "test_compose_tls: 1 passed, 0 failed"
    else
        echo "test_compose_tls: 0 passed, 1 failed"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- tools, certificates, ports ---------------------------------------------

check_tools
command -v curl >/dev/null || fail "curl is not installed"

certs="$(mktemp -d "${TMPDIR:-/tmp}/eventflow-compose-tls-XXXXXX")"
sh cluster/tls-certs.sh "$certs" >/dev/null || fail "cluster/tls-certs.sh"
ok "certificates made by cluster/tls-certs.sh"
ca="$certs/ca.crt"

# The published ports: plaintext, HTTP and TLS of node1-3.
free_ports 9
export EF_PORT1="${ports[0]}" EF_PORT2="${ports[1]}" EF_PORT3="${ports[2]}" \
    EF_HTTP_PORT1="${ports[3]}" EF_HTTP_PORT2="${ports[4]}" EF_HTTP_PORT3="${ports[5]}" \
    EF_TLS_PORT1="${ports[6]}" EF_TLS_PORT2="${ports[7]}" EF_TLS_PORT3="${ports[8]}"
export EVENTFLOW_PASSWORD="$password" EVENTFLOW_IMAGE="eventflow:test" EVENTFLOW_CERTS="$certs"
export EVENTFLOW_CLUSTER_SECRET="compose-tls-test-cluster-secret-$$"
tls_port() { echo "${ports[$(($1 + 5))]}"; }
http_port() { echo "${ports[$(($1 + 2))]}"; }

# ---- image --------------------------------------------------------------------

base_images
t=$SECONDS
compose build node1 >"/tmp/$project.build.log" 2>&1 ||
    { tail -40 "/tmp/$project.build.log"; rm -f "/tmp/$project.build.log"; fail "image build"; }
rm -f "/tmp/$project.build.log"
ok "image $EVENTFLOW_IMAGE built ($((SECONDS - t))s)"

# ---- the TLS cluster ------------------------------------------------------------

t=$SECONDS
compose up -d >/dev/null 2>&1 || fail "compose up with docker-compose.tls.yml"
wait_for 120 "node1-3 healthy" healthy 1 2 3
ok "node1-3 healthy with TLS ($((SECONDS - t))s after up)"

# tls PORT ARGS...: redis-cli over TLS to a published TLS port.
tls() {
    local port="$1"
    shift
    REDISCLI_AUTH="$password" timeout 10 redis-cli --tls --cacert "$ca" -h 127.0.0.1 -p "$port" "$@" 2>&1
}
for n in 1 2 3; do
    [ "$(tls "$(tls_port "$n")" PING)" = PONG ] || fail "redis-cli --tls PING on node$n's TLS port"
done
ok "redis-cli --tls PING on the three published TLS ports"

leader_tls() {
    local n s
    for n in 1 2 3; do
        s="$(tls "$(tls_port "$n")" STATUS)"
        [[ "$s" == *'"state":"leader"'* && "$s" == *'"ready":true'* ]] && { echo "$n"; return 0; }
    done
    return 1
}
wait_for 30 "a ready leader" leader_tls >/dev/null
leader="$(leader_tls)"
follower=$((leader % 3 + 1))
out="$(tls "$(tls_port "$leader")" ADD '{"stream":"tls-1","version":0,"events":[{"type":"OverTls"}]}')"
[[ "$out" == *'"type":"OverTls"'* ]] || fail "ADD through node$leader's TLS port: $out"
read_back() {
    [[ "$(tls "$(tls_port "$follower")" GET '{"stream":"tls-1"}')" == *'"type":"OverTls"'* ]]
}
wait_for 10 "the event on node$follower" read_back
ok "ADD through the leader's (node$leader) TLS port, read back over TLS on node$follower"

health="$(timeout 10 curl -sS --cacert "$ca" -H "Authorization: Bearer $password" \
    "https://127.0.0.1:$(http_port 1)/health" 2>&1)"
[[ "$health" == *'"healthy":true'* ]] || fail "curl over HTTPS to node1's HTTP port: $health"
if timeout 10 curl -sS "http://127.0.0.1:$(http_port 1)/health" >/dev/null 2>&1; then
    fail "plain HTTP answered on the HTTPS port"
fi
ok "the HTTP port speaks HTTPS, not plain HTTP"

if [ -n "$ctl" ]; then
    EVENTFLOW_PASSWORD="$password" timeout 20 "$ctl" -e "127.0.0.1:$(tls_port "$leader")" --tls --cacert "$ca" \
        health --local >/dev/null || fail "eventflowctl --tls health --local on node$leader's TLS port"
    ok "eventflowctl --tls health --local from the host"
else
    say "no eventflowctl binary: its check skipped"
fi
# Inside the network the members' TLS addresses resolve: the cluster-wide
# status over TLS, with the CA the override gives eventflowctl there.
status="$(compose exec -T node1 eventflowctl -e node1:6643 --tls status 2>&1)" ||
    fail "eventflowctl --tls status in node1's container: $status"
[[ "$status" == *"healthy: leader $leader"* ]] || fail "eventflowctl --tls status in node1's container: $status"
ok "eventflowctl --tls status inside the network"
# Raft inside TLS. Every node says so; a plaintext raft connection (raft_uv_tcp's
# handshake claiming node 9, then our hello's first bytes) from inside the
# network is closed by the TLS layer before raft or the hello reads it.
for n in 1 2 3; do
    [[ "$(tls "$(tls_port "$n")" STATUS)" == *'"raft_tls":true'* ]] || fail "node$n does not run raft inside TLS"
done
raft_refused() { tls "$(tls_port 1)" STATUS | sed -n 's/.*"raft_tls_refused":\([0-9]*\).*/\1/p'; }
before="$(raft_refused)"
[ -n "$before" ] || fail "node1's STATUS has no raft_tls_refused"
hs='\x01\x00\x00\x00\x00\x00\x00\x00\x09\x00\x00\x00\x00\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00'
hs="${hs}127.0.0.1:9\x00\x00\x00\x00\x00EFHELLO1\x00\x02\x00\x00\x00\x00\x00\x00"
compose exec -T node2 bash -c "exec 3<>/dev/tcp/node1/7543 && printf '$hs' >&3 && timeout 10 cat <&3 >/dev/null" ||
    fail "a plaintext raft connection to node1 was not closed within 10 s"
refused_more() { [ "$(raft_refused)" -gt "$before" ]; }
wait_for 10 "node1 counting the plaintext raft connection" refused_more
compose logs --no-color node1 2>&1 | grep -q 'refusing a raft connection from .*TLS' ||
    fail "node1 did not log the refused plaintext raft connection"
ok "raft runs inside TLS: a plaintext raft connection to node1 refused and logged"
say "PASS: the compose TLS profile ($((SECONDS - started))s)"
