#!/usr/bin/env bash
# docker-base.sh - make the Dockerfile's base images locally, for a Docker
# Engine that cannot pull from a registry.
#
#   cluster/docker-base.sh          make (or reuse) the images, print their names
#   cluster/docker-base.sh --print  only print the names the images would have
#
# It makes a minimal Debian 12 root with debootstrap from the apt mirror this
# machine uses, installs the packages of cluster/docker-packages into it in a
# chroot (with cluster/docker-install.sh, the same step the Dockerfile runs),
# and imports it with `docker import` at two points, giving two images:
#
#   eventflow-base:runtime-HASH   Debian minbase + the runtime packages
#   eventflow-base:build-HASH     the runtime image + the build packages
#
# HASH is a content hash of cluster/docker-packages and docker-install.sh: an
# image whose hash is already present is reused, so only the first run (a few
# minutes) does the work. The images are also tagged eventflow-base:runtime
# and eventflow-base:build. Then build with
#
#   EVENTFLOW_BASE_IMAGE=eventflow-base:runtime EVENTFLOW_BUILD_IMAGE=eventflow-base:build \
#       docker compose up -d --build
#
# With a registry none of this is needed: the Dockerfile defaults to
# debian:bookworm-slim and installs the same packages from the network.
#
# Needs root (debootstrap, chroot, mount) or sudo; installs debootstrap with
# apt-get if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

list=cluster/docker-packages
installer=cluster/docker-install.sh
repo=eventflow-base
hash=$(cat "$list" "$installer" | sha256sum | cut -c1-12)
runtime_image="$repo:runtime-$hash"
build_image="$repo:build-$hash"

if [ "${1:-}" = "--print" ]; then
    echo "$runtime_image $build_image"
    exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

finish() {
    docker tag "$runtime_image" "$repo:runtime"
    docker tag "$build_image" "$repo:build"
    echo "docker-base: base images ready:" >&2
    echo "  EVENTFLOW_BASE_IMAGE=$repo:runtime    ($runtime_image)" >&2
    echo "  EVENTFLOW_BUILD_IMAGE=$repo:build     ($build_image)" >&2
}

if have_image "$runtime_image" && have_image "$build_image"; then
    echo "docker-base: reusing $runtime_image and $build_image" >&2
    finish
    exit 0
fi

# The URIs of the main and the security archive configured on this machine
# (as scripts/setup.sh finds them); the root's apt uses the same mirror.
mirror_uri() {
    local want="$1" uri=""
    if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
        uri=$(awk '/^URIs:/ { print $2 }' /etc/apt/sources.list.d/*.sources 2>/dev/null |
              grep -i debian | { if [ "$want" = security ]; then grep -- '-security'; else grep -v -- '-security'; fi; } |
              head -n1 || true)
    fi
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        if [ "$want" = security ]; then
            uri=$(awk '$1 == "deb" && $0 ~ /security/ { print $2; exit }' /etc/apt/sources.list || true)
        else
            uri=$(awk '$1 == "deb" && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list || true)
        fi
    fi
    if [ -z "$uri" ]; then
        [ "$want" = security ] && uri=http://deb.debian.org/debian-security || uri=http://deb.debian.org/debian
    fi
    printf '%s\n' "$uri"
}

if ! command -v debootstrap >/dev/null 2>&1; then
    echo "docker-base: installing debootstrap" >&2
    # Stale package lists are refreshed once before giving up.
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null ||
        { $SUDO apt-get update -qq >/dev/null &&
          $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
fi

mirror=$(mirror_uri main)
security=$(mirror_uri security)
work=$($SUDO mktemp -d /var/tmp/eventflow-base.XXXXXX)
root="$work/root"
cleanup() {
    $SUDO umount "$root/proc" 2>/dev/null || true
    $SUDO rm -rf "$work"
}
trap cleanup EXIT

echo "docker-base: debootstrap bookworm from $mirror (a few minutes)" >&2
$SUDO debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
    bookworm "$root" "$mirror" >"$work.log" 2>&1 ||
    { tail -30 "$work.log" >&2; echo "docker-base: debootstrap failed (log: $work.log)" >&2; exit 1; }
rm -f "$work.log"

# Configure the root the way debian:bookworm-slim is: deb822 sources, no
# documentation or translations from packages installed later, no daemons
# started by package scripts.
$SUDO rm -f "$root/etc/apt/sources.list"
printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: %s\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$mirror" "$security" | $SUDO tee "$root/etc/apt/sources.list.d/debian.sources" >/dev/null
printf 'path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\npath-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\npath-exclude /usr/share/locale/*\npath-exclude /usr/share/lintian/*\n' |
    $SUDO tee "$root/etc/dpkg/dpkg.cfg.d/docker" >/dev/null
printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$root/usr/sbin/policy-rc.d" >/dev/null
$SUDO chmod 755 "$root/usr/sbin/policy-rc.d"
$SUDO cp /etc/resolv.conf "$root/etc/resolv.conf"
$SUDO cp "$list" "$installer" "$root/tmp/"
$SUDO mount -t proc proc "$root/proc"

# import_root NAME: the root as it is now, as image NAME.
import_root() {
    $SUDO umount "$root/proc"
    $SUDO chroot "$root" sh -c 'apt-get clean; rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/cache/debconf/*-old /usr/share/doc/*/changelog* /usr/share/man/* /usr/share/locale/*' || true
    $SUDO tar --numeric-owner -C "$root" --exclude=./tmp/docker-packages --exclude=./tmp/docker-install.sh \
        --exclude=./etc/resolv.conf -cf - . |
        docker import \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'CMD ["bash"]' \
            --message "eventflow base image from cluster/docker-base.sh (debootstrap bookworm)" \
            - "$1" >/dev/null
    $SUDO mount -t proc proc "$root/proc"
    echo "docker-base: imported $1 ($(docker image inspect -f '{{.Size}}' "$1" | awk '{ printf "%.0f MB", $1 / 1e6 }'))" >&2
}

$SUDO chroot "$root" sh /tmp/docker-install.sh runtime /tmp/docker-packages
import_root "$runtime_image"
$SUDO chroot "$root" sh /tmp/docker-install.sh build /tmp/docker-packages
import_root "$build_image"
finish
