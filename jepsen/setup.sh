#!/usr/bin/env bash
# setup.sh - install what a Jepsen run needs beyond scripts/setup.sh:
# iproute2 (network namespaces), iptables (partitions), libfaketime (clock
# faults), and a Go toolchain for the checker (/usr/local/go if present,
# else Debian's golang-go). Idempotent; prints nothing when all is there.
set -euo pipefail

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

missing=()
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v iptables >/dev/null 2>&1 || missing+=(iptables)
ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1 || missing+=(libfaketime)
if [ -x /usr/local/go/bin/go ]; then
    export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null 2>&1 || missing+=(golang-go)

if [ "${#missing[@]}" -gt 0 ]; then
    echo "jepsen/setup.sh: installing ${missing[*]}" >&2
    if ! $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; then
        $SUDO apt-get update -qq
        $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
fi
