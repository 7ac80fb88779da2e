#!/bin/sh
# client_install.sh DIR - install the build into DIR with meson, compile the
# libeventflow examples against the installed pkg-config file, shared and
# static, and run the append example against $EVENTFLOW_ENDPOINTS with both
# (then the status, subscribe and group_worker examples, shared).
#
# Environment (set by tests/integration/meson.build): EF_MESON, EF_BUILD_ROOT,
# EF_SOURCE_ROOT, EF_CC, EF_SANITIZE (b_sanitize: "none" or a list).
set -eu
dir=$1
dest=$dir/root
out=$dir/bin
mkdir -p "$out"

"$EF_MESON" install -C "$EF_BUILD_ROOT" --no-rebuild --quiet --destdir "$dest" >"$dir/install.log" 2>&1 || {
    cat "$dir/install.log" >&2
    echo "client_install: meson install failed" >&2
    exit 1
}

pc=$(find "$dest" -name eventflow.pc | head -n 1)
if [ -z "$pc" ]; then
    echo "client_install: eventflow.pc was not installed" >&2
    exit 1
fi
for h in eventflow.h backup.h client.h errors.h subscribe.h group.h types.h export.h; do
    if [ -z "$(find "$dest" -path "*/include/eventflow/$h")" ]; then
        echo "client_install: header eventflow/$h was not installed" >&2
        exit 1
    fi
done
libdir=$(dirname "$(dirname "$pc")")
# The .pc names the final prefix; the sysroot makes pkg-config point into
# the staging directory instead.
export PKG_CONFIG_PATH="$(dirname "$pc")"
export PKG_CONFIG_SYSROOT_DIR="$dest"

san=""
if [ "${EF_SANITIZE:-none}" != "none" ]; then
    san="-fsanitize=$EF_SANITIZE"
fi
cflags=$(pkg-config --cflags eventflow)
libs=$(pkg-config --libs eventflow)
# Static: the archive, then what the .pc says it needs (Requires.private).
static_libs=$(pkg-config --static --libs eventflow | sed 's/-leventflow\b/-l:libeventflow.a/')

for ex in append tail status pipeline subscribe group_worker; do
    # shellcheck disable=SC2086
    "$EF_CC" -std=c17 -Wall -Wextra -Wpedantic -Werror $san -o "$out/$ex" \
        "$EF_SOURCE_ROOT/examples/$ex.c" $cflags $libs
done
# shellcheck disable=SC2086
"$EF_CC" -std=c17 -Wall -Wextra -Wpedantic -Werror $san -o "$out/append-static" \
    "$EF_SOURCE_ROOT/examples/append.c" $cflags $static_libs

if readelf -d "$out/append-static" | grep -q 'libeventflow'; then
    echo "client_install: the static example still needs libeventflow.so" >&2
    exit 1
fi

LD_LIBRARY_PATH=$libdir "$out/append" installed Shared "from the shared library" >"$dir/shared.out"
grep -q "from the shared library" "$dir/shared.out"
"$out/append-static" installed Static "from the static library" >"$dir/static.out"
grep -q "from the static library" "$dir/static.out"
LD_LIBRARY_PATH=$libdir "$out/status" >"$dir/status.out"
grep -q "leader" "$dir/status.out"
# The subscription catches up with both appends and stops after them.
LD_LIBRARY_PATH=$libdir "$out/subscribe" installed 0 2 >"$dir/subscribe.out"
grep -q " installed 0 Shared" "$dir/subscribe.out"
grep -q " installed 1 Static" "$dir/subscribe.out"
# A worker of a new group over the stream handles both events once.
LD_LIBRARY_PATH=$libdir "$out/group_worker" installed-workers w1 installed 2 >"$dir/group.out"
grep -q " installed 0 Shared (delivery 1)" "$dir/group.out"
grep -q " installed 1 Static (delivery 1)" "$dir/group.out"
echo "client_install: examples built and run from $dest"
