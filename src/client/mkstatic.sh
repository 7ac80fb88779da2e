#!/bin/sh
# mkstatic.sh OUT WORKDIR LD OBJCOPY AR CLIENT.a DEP.a...
#
# Build libeventflow.a as one relocatable object holding the client and
# the parts of its internal dependencies it uses, with every global symbol
# but eventflow_* made local: a program linking the static library sees
# only the public API, as with the shared one, so the library's internal
# names (buf_*, resp_*, x*) cannot clash with the program's own.
set -eu
out=$1 work=$2 ld=$3 objcopy=$4 ar=$5 client=$6
shift 6
mkdir -p "$work"
obj=$work/eventflow.o
# The client archive whole; from the others only the members it needs.
"$ld" -r -o "$obj" --whole-archive "$client" --no-whole-archive "$@"
"$objcopy" --wildcard --keep-global-symbol='eventflow_*' "$obj"
rm -f "$out"
"$ar" rcs "$out" "$obj"
