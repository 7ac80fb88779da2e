#!/bin/sh
# test_readme_options.sh - README.md's Configuration table and
# `eventflowd --help` list the same options, each with the same environment
# variable and the same default. The README's meaning column is its own
# prose and is not compared.
#
# EVENTFLOWD is the build's eventflowd and EF_SOURCE_ROOT the checkout
# (both set by meson).
set -eu

fail() {
    echo "test_readme_options: $*" >&2
    exit 1
}

[ -n "${EVENTFLOWD:-}" ] && [ -x "$EVENTFLOWD" ] || fail "EVENTFLOWD is not set to an executable"
readme="${EF_SOURCE_ROOT:?}/README.md"
[ -f "$readme" ] || fail "no $readme"
tmp=$(mktemp -d /tmp/ef-readme-options.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# One "flag | env | default" line per option. In --help an option is
#   --flag ARG    help text (default X) [ENV]
# (--help and --version have no environment variable: they are no settings.)
"$EVENTFLOWD" --help >"$tmp/help.txt" || fail "eventflowd --help failed"
awk '/^  --/ && /\]$/ {
    env = $0; sub(/.*\[/, "", env); sub(/\]$/, "", env)
    def = ""
    if (match($0, /\(default [^)]*\) \[[A-Z_]*\]$/)) {
        def = substr($0, RSTART + 9); sub(/\) \[[A-Z_]*\]$/, "", def)
    }
    print $1 " | " env " | " def
}' "$tmp/help.txt" | sort >"$tmp/help"

# In the README an option is a row "| `--flag` | `ENV` | default | meaning |"
# of the table under "## Configuration".
awk '/^## / { table = ($0 == "## Configuration") }
table && /^\| `--/ {
    split($0, cell, "|")
    for (i = 2; i <= 4; i++) { gsub(/`/, "", cell[i]); gsub(/^ +| +$/, "", cell[i]) }
    print cell[2] " | " cell[3] " | " cell[4]
}' "$readme" | sort >"$tmp/readme"

[ -s "$tmp/help" ] || fail "found no options in eventflowd --help"
[ -s "$tmp/readme" ] || fail "found no options in README.md's Configuration table"
if ! diff "$tmp/readme" "$tmp/help" >"$tmp/diff"; then
    echo "README.md's Configuration table (<) and eventflowd --help (>) disagree:" >&2
    cat "$tmp/diff" >&2
    exit 1
fi
echo "test_readme_options: $(wc -l <"$tmp/help") options agree"
