#!/usr/bin/env bash
# check-selftest.sh - the checker proves itself: go test feeds it known-bad
# histories (lost acknowledged write, duplicate, stale linearizable read,
# divergent node, non-prefix follower read, ...; for subscribers a gap, a
# duplicate delivery, a reordering, an uncommitted event delivered, ...;
# for consumer groups a lost event, a redelivery after an acknowledged ack
# or before the ack wait, an uncommitted event handed out, ...) and
# known-good ones, and asserts each verdict (checker_test.go,
# groups_test.go). Modules come from the Go module proxy (nothing is
# vendored). Exit status: go test's.
set -euo pipefail
cd "$(dirname "$0")"
bash ./setup.sh
[ -x /usr/local/go/bin/go ] && export PATH="/usr/local/go/bin:$PATH"
cd checker
GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod" go test -count=1 ./...
