#!/usr/bin/env bash
# netctl.sh - the private network of one Jepsen run, made of network
# namespaces that the run creates and deletes itself.
#
#   netctl.sh up TAG N      create the namespaces and links
#   netctl.sh down TAG      delete every namespace of TAG (and so its links)
#   netctl.sh reap          delete the namespaces of earlier runs whose
#                           run.sh (the pid in TAG) is gone
#   netctl.sh check         exit 0 if this user may create namespaces
#
# Layout for TAG (the pid of run.sh, so that a crashed run can be reaped):
#
#   efj-TAG-br   a bridge br0 and one veth end per node and for the client
#   efj-TAG-n1 .. efj-TAG-nN   node i: eth0 = 10.77.0.(10+i)/24
#   efj-TAG-c    the workload's namespace: eth0 = 10.77.0.100/24
#
# The addresses exist only inside these namespaces. No namespace has a
# default route or any link to the host's network, so no packet of a run can
# leave it: the host's own interfaces, routes and firewall are never touched.
# Partitions are iptables rules inside the node namespaces (the runner adds
# them), which vanish with the namespaces.
set -euo pipefail

SUBNET_PREFIX=10.77.0
CLIENT_HOST=100

ns_list() {
    # `ip netns list` prints "name (id: N)" for namespaces with an id.
    ip netns list 2>/dev/null | awk '{print $1}'
}

node_addr() { echo "$SUBNET_PREFIX.$((10 + $1))"; }

# attach TAG NS_SUFFIX HOST_BYTE: a veth from the bridge into efj-TAG-SUFFIX.
attach() {
    local tag="$1" suffix="$2" host="$3"
    local br="efj-$tag-br" ns="efj-$tag-$suffix"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$br" link add "v$suffix" type veth peer name eth0 netns "$ns"
    ip -n "$br" link set "v$suffix" master br0
    ip -n "$br" link set "v$suffix" up
    ip -n "$ns" addr add "$SUBNET_PREFIX.$host/24" dev eth0
    ip -n "$ns" link set eth0 up
}

cmd_up() {
    local tag="$1" n="$2" i
    [[ "$tag" =~ ^[0-9a-z]+$ ]] || { echo "netctl: bad tag '$tag'" >&2; exit 2; }
    [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 9 ] ||
        { echo "netctl: bad node count '$n'" >&2; exit 2; }
    ip netns add "efj-$tag-br"
    ip -n "efj-$tag-br" link set lo up
    ip -n "efj-$tag-br" link add br0 type bridge
    ip -n "efj-$tag-br" link set br0 up
    for i in $(seq 1 "$n"); do
        attach "$tag" "n$i" "$((10 + i))"
    done
    attach "$tag" c "$CLIENT_HOST"
    # The bridge forwards frames between its ports; nothing routes.
}

cmd_down() {
    local tag="$1" ns
    for ns in $(ns_list | grep -E "^efj-$tag-" || true); do
        ip netns del "$ns" || echo "netctl: could not delete $ns" >&2
    done
}

cmd_reap() {
    local ns tag
    for ns in $(ns_list | grep -E '^efj-[0-9]+-' || true); do
        tag="${ns#efj-}"; tag="${tag%%-*}"
        if ! kill -0 "$tag" 2>/dev/null; then
            ip netns del "$ns" && echo "netctl: removed stale namespace $ns" >&2 || true
        fi
    done
}

cmd_check() {
    local probe="efj-probe-$$"
    ip netns add "$probe" 2>/dev/null || exit 1
    ip netns del "$probe"
}

case "${1:-}" in
    up) shift; cmd_up "$@" ;;
    down) shift; cmd_down "$@" ;;
    reap) cmd_reap ;;
    check) cmd_check ;;
    addr) shift; node_addr "$1" ;;
    *) echo "usage: netctl.sh up TAG N | down TAG | reap | check | addr I" >&2; exit 2 ;;
esac
