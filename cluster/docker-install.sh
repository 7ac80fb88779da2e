#!/bin/sh
# docker-install.sh ROLE PACKAGES - install the Debian packages listed for
# ROLE ("runtime" or "build") in the file PACKAGES (cluster/docker-packages),
# as root, inside an image or a chroot.
#
# Runs in the Dockerfile's stages and in cluster/docker-base.sh, so an image
# built FROM debian:bookworm-slim (packages come from the network) and one
# built FROM the locally made base images (packages already there, no network
# needed) end up with the same packages. When nothing is missing it does not
# touch apt at all: that is what lets the Dockerfile build on a machine whose
# containers cannot reach a mirror.
#
# libraft* must be 0.22.1 from bookworm-backports (Debian 12's own 0.15.0
# lacks safety fixes, see docs/architecture.md), like scripts/setup.sh.
set -eu

role="$1"
list="$2"

pkgs=$(awk -v role="$role" '$1 == role { print $2 }' "$list")
[ -n "$pkgs" ] || { echo "docker-install: no packages for role '$role' in $list" >&2; exit 1; }

raft_ok() {
    # Every libraft package of the list must be installed at 0.22.x.
    for p in $pkgs; do
        case "$p" in
            libraft*)
                dpkg-query -W -f='${Version}' "$p" 2>/dev/null | grep -q '^0\.22' || return 1 ;;
        esac
    done
    return 0
}

missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing="$missing $p"
done
if [ -z "$missing" ] && raft_ok; then
    echo "docker-install: $role packages already installed" >&2
    exit 0
fi

# bookworm-backports from the mirror this root already uses, and a pin that
# makes raft (only raft) come from it.
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    uri=$(awk '/^URIs:/ { print $2 }' /etc/apt/sources.list.d/*.sources 2>/dev/null |
          grep -v -- '-security' | head -n1 || true)
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri=$(awk '$1 == "deb" && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list || true)
    fi
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "${uri:-http://deb.debian.org/debian}" >/etc/apt/sources.list.d/bookworm-backports.sources
fi
printf 'Package: libraft*\nPin: release n=bookworm-backports\nPin-Priority: 500\n' \
    >/etc/apt/preferences.d/eventflow-raft

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086 # word splitting of the package list is intended
apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
apt-get clean
rm -rf /var/lib/apt/lists/*

raft_ok || { echo "docker-install: libraft is not 0.22 after install" >&2; exit 1; }
echo "docker-install: $role packages installed:$missing" >&2
