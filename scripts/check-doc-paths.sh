#!/usr/bin/env bash
# check-doc-paths.sh - every path README.md and docs/*.md mention exists,
# so that the tour of the source cannot go stale unnoticed.
#
# What is checked:
#   - a repository path written from the root: docs/..., src/...,
#     scripts/..., tests/..., cluster/..., jepsen/..., include/...,
#     examples/... (in prose, code spans, commands or links); a trailing
#     "/" names a folder; a path that goes on into a glob or a brace list
#     (src/*, cluster/node{1,2,3}.env) is not checked;
#   - a C file named from its room under src/ (node/fetch.c): src/node/fetch.c;
#   - a C file named alone (`fsm.c`, store.h): some file of the repository
#     has that name, unless it is one of EXTERNAL below;
#   - the target of a relative Markdown link, [text](target), resolved
#     from the folder of the file that holds it.
# A path inside a longer one (build/src/..., ../shared/bench/...) is not a
# repository path and is skipped.
#
# Usage: scripts/check-doc-paths.sh [SOURCE_ROOT]. Prints every missing
# path as file:line: what, and exits 1 if there is any; 0 and one summary
# line otherwise. Run by meson test as the "doc_paths" test (suite lint).
set -uo pipefail
root="${1:-$(dirname "$0")/..}"
cd "$root" || exit 2

# C files the documents name that are not eventflow's: raft's legacy.c and
# uv_recv.c, uv_send.c, uv_encoding.c (its transport and wire format),
# and the user's program in docs/client.md.
EXTERNAL=" legacy.c uv_recv.c uv_send.c uv_encoding.c app.c "

# The names of every file in the repository, for the C files named alone.
names=$(git ls-files --cached --others --exclude-standard 2>/dev/null || find . -type f)
names=$(sed 's|.*/||' <<<"$names" | sort -u)

# A match must not start inside a longer path, nor be a system header
# (<raft.h>).
not_after='(?<![A-Za-z0-9_./~$<-])'

missing=0
checked=0
report() {
    echo "$1"
    missing=$((missing + 1))
}

for file in README.md docs/*.md; do
    [ -f "$file" ] || continue
    dir=$(dirname "$file")
    # Repository paths. The possessive *+ keeps a path that runs into "{"
    # or "*" from matching a shorter prefix of itself.
    while IFS=: read -r line path; do
        while [ "${path%.}" != "$path" ]; do path=${path%.}; done # a sentence's full stop
        [ -n "$path" ] || continue
        checked=$((checked + 1))
        [ -e "$path" ] || report "$file:$line: $path does not exist"
    done < <(grep -noP "$not_after"'(?:docs|src|scripts|tests|cluster|jepsen|include|examples)/[A-Za-z0-9_./-]*+(?![{*])' "$file")
    # C files named from their room.
    while IFS=: read -r line path; do
        checked=$((checked + 1))
        [ -e "src/$path" ] || report "$file:$line: $path: there is no src/$path"
    done < <(grep -noP "$not_after"'(?:common|proto|protocol|store|raftio|node|server|client|cli|bench)/[A-Za-z0-9_-]+\.[ch](?![A-Za-z0-9_])' "$file")
    # C files named alone.
    while IFS=: read -r line name; do
        checked=$((checked + 1))
        case "$EXTERNAL" in *" $name "*) continue ;; esac
        grep -qxF "$name" <<<"$names" || report "$file:$line: $name: no file of the repository has this name"
    done < <(grep -noP "$not_after"'[A-Za-z0-9_-]+\.[ch](?![A-Za-z0-9_])' "$file")
    # Relative link targets: not a URL, not an anchor of this page.
    while IFS=: read -r line target; do
        target=${target#](}
        target=${target%)}
        target=${target%%#*}
        case "$target" in
            ''|http://*|https://*|mailto:*) continue ;;
        esac
        checked=$((checked + 1))
        [ -e "$dir/$target" ] || report "$file:$line: link target $target does not exist (from $dir/)"
    done < <(grep -noP '\]\([^)\s]+\)' "$file")
done

if [ "$missing" -ne 0 ]; then
    echo "check-doc-paths: $missing of $checked mentioned paths do not exist"
    exit 1
fi
echo "check-doc-paths: $checked mentioned paths, all exist"
