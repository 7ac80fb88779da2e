#!/usr/bin/env bash
# setup.sh - install everything eventflow needs to build, test and benchmark,
# from Debian's packages. Idempotent: safe to run on every build.
#
# libraft-dev must come from bookworm-backports (0.22.1): Debian 12's own
# 0.15.0 lacks safety fixes (see docs/architecture.md). The backports suite
# is added with the mirror URI this machine already uses.
set -euo pipefail

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

PKGS=(build-essential meson ninja-build pkg-config
      libuv1-dev liblmdb-dev lmdb-utils libprotobuf-c-dev protobuf-c-compiler
      libjansson-dev zlib1g-dev libjemalloc-dev libh2o-dev libssl-dev libcmocka-dev redis-tools python3-redis clang llvm libclang-rt-14-dev
      iproute2 procps
      # test_tls makes its certificates with the openssl command.
      openssl
      # test_metrics checks METRICS with promtool (only Debian's prometheus
      # package has it) and prometheus_client's parser; test_console drives
      # the web console in headless chromium; the docker test asks the
      # nodes' HTTP ports with curl.
      prometheus python3-prometheus-client chromium curl)

mirror_uri() {
    # First deb URI of the main Debian archive configured on this machine.
    local uri=""
    if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
        uri=$(awk '/^URIs:/ {print $2}' /etc/apt/sources.list.d/*.sources 2>/dev/null |
              grep -v -- '-security' | grep -i debian | head -n1 || true)
    fi
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri=$(awk '$1 == "deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list || true)
    fi
    printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}

need_update=0
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    uri=$(mirror_uri)
    echo "setup: adding bookworm-backports from $uri" >&2
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$uri" | $SUDO tee /etc/apt/sources.list.d/eventflow-backports.sources >/dev/null
    need_update=1
fi

have_raft() {
    dpkg-query -W -f='${Version}' libraft-dev 2>/dev/null | grep -q '^0\.22'
}
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ] || ! have_raft; then
    if [ "$need_update" -eq 1 ] || [ ! -d /var/lib/apt/lists ] ||
       [ -z "$(ls /var/lib/apt/lists 2>/dev/null | grep -i backports || true)" ]; then
        $SUDO apt-get update -qq
    fi
    export DEBIAN_FRONTEND=noninteractive
    if [ "${#missing[@]}" -gt 0 ]; then
        $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    if ! have_raft; then
        $SUDO apt-get install -y -qq -t bookworm-backports libraft-dev >/dev/null
    fi
fi
have_raft || { echo "setup: libraft-dev 0.22 is not installed" >&2; exit 1; }
echo "setup: dependencies ready (raft $(dpkg-query -W -f='${Version}' libraft-dev))" >&2
