# three-nodes-lib.sh - sourced by the scripts that run three eventflowd
# nodes on 127.0.0.1 (failover-bench.sh, election-watch.sh): a temporary
# directory removed on exit after kill -9 of every process in `pids`, free
# ports, the --cluster list and the timeouts the environment asks for.
#
#   . scripts/three-nodes-lib.sh NAME
#
# Sets: dir (/tmp/eventflow-NAME.XXXXXX), pids (empty), cport[1..3] and
# rport[1..3] (client and raft ports), members (the --cluster value), extra
# (--election-timeout / --heartbeat-timeout from ELECTION_TIMEOUT /
# HEARTBEAT_TIMEOUT, if set); defines free_port. Installs an EXIT trap.

dir="$(mktemp -d "/tmp/eventflow-$1.XXXXXX")"
pids=()
cleanup() {
    for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

declare -a cport rport
for i in 1 2 3; do cport[$i]=$(free_port); rport[$i]=$(free_port); done
members="1@127.0.0.1:${rport[1]}@127.0.0.1:${cport[1]},2@127.0.0.1:${rport[2]}@127.0.0.1:${cport[2]},3@127.0.0.1:${rport[3]}@127.0.0.1:${cport[3]}"
extra=()
if [ -n "${ELECTION_TIMEOUT:-}" ]; then extra+=(--election-timeout "$ELECTION_TIMEOUT"); fi
if [ -n "${HEARTBEAT_TIMEOUT:-}" ]; then extra+=(--heartbeat-timeout "$HEARTBEAT_TIMEOUT"); fi
