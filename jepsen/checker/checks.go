package main

// The safety checkers. Each one looks at the history and the final state
// from one angle and returns a Result; none of them trusts the runner's own
// opinion of what happened (the "converged" flag, the outcome a worker
// believed): they recompute it from what the nodes returned.
//
// Unique values make this possible: every event the workload appends
// carries a value (its data payload) that no other event has, so a value
// found in a log identifies exactly one attempted append.

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

const maxErrors = 50

// Result is one checker's verdict.
type Result struct {
	Name       string         `json:"name"`
	Valid      string         `json:"valid"` // "true", "false" or "unknown"
	Summary    string         `json:"summary"`
	ErrorCount int            `json:"error_count"`
	Errors     []string       `json:"errors,omitempty"`
	Stats      map[string]any `json:"stats,omitempty"`
	Artifacts  []string       `json:"artifacts,omitempty"`
}

func newResult(name string) *Result {
	return &Result{Name: name, Valid: "true", Stats: map[string]any{}}
}

func (r *Result) fail(format string, args ...any) {
	r.Valid = "false"
	r.ErrorCount++
	if len(r.Errors) < maxErrors {
		r.Errors = append(r.Errors, fmt.Sprintf(format, args...))
	}
}

func (r *Result) unknown(format string, args ...any) {
	if r.Valid == "true" {
		r.Valid = "unknown"
	}
	r.Summary = fmt.Sprintf(format, args...)
}

// Run holds everything the checkers share.
type Run struct {
	H     *History
	Final *Final
	Dir   string // results folder (for artifacts and node logs); "" in tests

	// The reference log: the one most nodes hold after healing.
	Ref     []LogEvent
	RefNode string
	HasRef  bool
	byValue map[string]int // value -> index in Ref (first occurrence)
	byID    map[string]int
	streams map[string][]int // stream -> indexes in Ref, in log order
	// what the workload invoked: value -> the append op that carried it
	invoked map[string]*Op
	inf     int64 // "infinity" for the return time of unknown outcomes
}

func newRun(h *History, f *Final, dir string) *Run {
	r := &Run{H: h, Final: f, Dir: dir, inf: h.MaxTime + 1}
	r.pickReference()
	r.byValue = map[string]int{}
	r.byID = map[string]int{}
	r.streams = map[string][]int{}
	for i, ev := range r.Ref {
		if _, seen := r.byValue[ev.Value]; !seen {
			r.byValue[ev.Value] = i
		}
		r.byID[ev.ID] = i
		r.streams[ev.Stream] = append(r.streams[ev.Stream], i)
	}
	r.invoked = map[string]*Op{}
	for _, o := range h.Ops {
		if o.Inv.F == "append" {
			for _, v := range o.Inv.Values {
				r.invoked[v] = o
			}
		}
	}
	return r
}

// pickReference takes the log held by the most reachable nodes (the
// longest on a tie): if nodes diverge, the convergence checker says so and
// the other checkers judge against the majority's view.
func (r *Run) pickReference() {
	if r.Final == nil {
		return
	}
	count := map[string]int{}
	key := func(n *NodeFinal) string {
		var b strings.Builder
		for _, ev := range n.Log {
			b.WriteString(ev.Raw)
			b.WriteByte('\n')
		}
		return b.String()
	}
	var best *NodeFinal
	bestCount := 0
	for _, n := range r.Final.Nodes {
		if !n.Reachable {
			continue
		}
		k := key(n)
		count[k]++
		c := count[k]
		if best == nil || c > bestCount || (c == bestCount && len(n.Log) > len(best.Log)) {
			best, bestCount = n, c
		}
	}
	if best != nil {
		r.Ref, r.RefNode, r.HasRef = best.Log, best.Name, true
	}
}

// pos is the 1-based position of the event with this value, 0 if absent.
func (r *Run) pos(value string) int {
	if i, ok := r.byValue[value]; ok {
		return i + 1
	}
	return 0
}

// sortedKeys: a map's keys in order.
func sortedKeys[K int | string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

func describeOp(o *Op) string {
	e := o.Inv
	s := fmt.Sprintf("op %d (process %d, %s", e.Op, e.Process, e.F)
	if e.Stream != "" {
		s += " " + e.Stream
	}
	if e.Mode != "" {
		s += " " + e.Mode
	}
	if o.Done != nil && o.Done.Node != "" {
		s += " on " + o.Done.Node
	}
	return s + fmt.Sprintf(", invoked t=%.3fs, %s)", float64(e.Time)/1e9, o.Status())
}

// ---- convergence ----------------------------------------------------------

// checkConvergence: after healing every member holds the same log, byte for
// byte, and reports the same checksum and last id.
func (r *Run) checkConvergence() *Result {
	res := newResult("convergence")
	if r.Final == nil || len(r.Final.Nodes) == 0 {
		res.fail("no final state: the runner dumped no node")
		return res
	}
	if !r.HasRef {
		res.fail("no node answered after healing")
		return res
	}
	ref := r.Ref
	var refNode *NodeFinal
	for _, n := range r.Final.Nodes {
		if n.Name == r.RefNode {
			refNode = n
		}
	}
	for _, n := range r.Final.Nodes {
		if !n.Reachable {
			res.fail("node %s (%s) did not answer after healing: %s", n.Name, n.Address, n.Error)
			continue
		}
		if uint64(len(n.Log)) != n.Events {
			res.fail("node %s: its log has %d events but it reports EVENTCOUNT %d", n.Name, len(n.Log), n.Events)
		}
		last := "00000000000000000000000000"
		if len(n.Log) > 0 {
			last = n.Log[len(n.Log)-1].ID
		}
		if n.LastID != last {
			res.fail("node %s: CHECKSUM names last id %s but its log ends at %s", n.Name, n.LastID, last)
		}
		if n == refNode {
			continue
		}
		if n.Checksum != refNode.Checksum {
			res.fail("node %s checksum %s differs from %s's %s", n.Name, n.Checksum, refNode.Name, refNode.Checksum)
		}
		// Group and user state: comparable at one applied index.
		if n.StateDigest != "" && refNode.StateDigest != "" && n.StateIndex == refNode.StateIndex &&
			n.StateDigest != refNode.StateDigest {
			res.fail("node %s state digest %s differs from %s's %s at applied index %d", n.Name, n.StateDigest,
				refNode.Name, refNode.StateDigest, n.StateIndex)
		}
		common := len(n.Log)
		if len(ref) < common {
			common = len(ref)
		}
		diverged := false
		for i := 0; i < common; i++ {
			if n.Log[i].Raw != ref[i].Raw {
				res.fail("node %s diverges from %s at position %d: %s vs %s", n.Name, refNode.Name, i+1, n.Log[i].Raw, ref[i].Raw)
				diverged = true
				break
			}
		}
		if !diverged && len(n.Log) != len(ref) {
			res.fail("node %s has %d events, %s has %d (same prefix)", n.Name, len(n.Log), refNode.Name, len(ref))
		}
	}
	// A configured voter or standby that no running node is: harmless for
	// safety, but the cluster tolerates one failure less. Reported, not failed.
	running := map[uint64]bool{}
	for _, n := range r.Final.Nodes {
		running[n.ID] = true
	}
	var stray []string
	for _, m := range r.Final.Configuration {
		if !running[m.ID] && m.Role != "spare" {
			stray = append(stray, fmt.Sprintf("id %d (%s, %s)", m.ID, m.Role, m.ClientAddress))
		}
	}
	if len(stray) > 0 {
		res.Stats["configured_but_absent"] = stray
	}
	res.Stats["nodes"] = len(r.Final.Nodes)
	res.Stats["events"] = len(ref)
	res.Stats["checksum"] = refNode.Checksum
	if res.Valid == "true" {
		res.Summary = fmt.Sprintf("%d nodes hold the same %d events, checksum %s", len(r.Final.Nodes), len(ref), refNode.Checksum)
	}
	return res
}

// ---- the shape of the final log -------------------------------------------

// checkLogStructure: ids strictly increasing; each stream's versions dense
// from 0 and unique; no value twice (each was sent once, with an
// idempotency key, however often it was retried).
func (r *Run) checkLogStructure() *Result {
	res := newResult("log-structure")
	if !r.HasRef {
		res.unknown("no final log")
		return res
	}
	for i := 1; i < len(r.Ref); i++ {
		if r.Ref[i].ID <= r.Ref[i-1].ID {
			res.fail("ids not increasing at position %d: %s after %s", i+1, r.Ref[i].ID, r.Ref[i-1].ID)
		}
	}
	seen := map[string]int{}
	dups := 0
	for i, ev := range r.Ref {
		if j, ok := seen[ev.Value]; ok {
			dups++
			res.fail("duplicate event: value %q at positions %d (id %s, %s v%d) and %d (id %s, %s v%d)",
				ev.Value, j+1, r.Ref[j].ID, r.Ref[j].Stream, r.Ref[j].Version, i+1, ev.ID, ev.Stream, ev.Version)
			continue
		}
		seen[ev.Value] = i
	}
	names := make([]string, 0, len(r.streams))
	for s := range r.streams {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, s := range names {
		for want, i := range r.streams[s] {
			if got := r.Ref[i].Version; got != uint64(want) {
				res.fail("stream %s: event %d of the stream (id %s) has version %d, want %d (versions must be dense and unique)",
					s, want+1, r.Ref[i].ID, got, want)
				break
			}
		}
	}
	res.Stats["events"] = len(r.Ref)
	res.Stats["streams"] = len(r.streams)
	res.Stats["duplicates"] = dups
	if res.Valid == "true" {
		res.Summary = fmt.Sprintf("%d events in %d streams: ids increasing, versions dense, no duplicate", len(r.Ref), len(r.streams))
	}
	return res
}

// ---- writes ---------------------------------------------------------------

// definiteFailure lists the errors that promise nothing was written.
var definiteFailure = map[string]bool{
	"EF_EINVAL": true, "EF_EUNAVAILABLE": true, "EF_EAUTH": true, "EF_ECONFLICT": true,
	"EF_EGAP": true, "EF_EKEYREUSE": true, "EF_EFULL": true, "EF_ETOOBIG": true,
}

// checkWrites: every acknowledged event is in the final log where the
// acknowledgement said; nothing that definitely failed is; no event the
// workload never sent; batches all or nothing and contiguous.
func (r *Run) checkWrites() *Result {
	res := newResult("writes")
	if !r.HasRef {
		res.unknown("no final log")
		return res
	}
	var acked, ackedEvents, failed, unknownApplied, unknownLost int
	for _, o := range r.H.Ops {
		if o.Inv.F != "append" {
			continue
		}
		present := 0
		for _, v := range o.Inv.Values {
			if r.pos(v) > 0 {
				present++
			}
		}
		if present > 0 && present < len(o.Inv.Values) {
			res.fail("torn batch: %d of %d events of %s are in the final log", present, len(o.Inv.Values), describeOp(o))
		}
		if present == len(o.Inv.Values) && present > 1 {
			first := r.pos(o.Inv.Values[0])
			for j, v := range o.Inv.Values {
				if r.pos(v) != first+j {
					res.fail("batch not contiguous: %s has value %q at position %d, want %d", describeOp(o), v, r.pos(v), first+j)
					break
				}
			}
		}
		if present == len(o.Inv.Values) && o.Inv.Expected != nil && *o.Inv.Expected != anyVersion {
			if v := r.Ref[r.pos(o.Inv.Values[0])-1].Version; int64(v) != *o.Inv.Expected {
				res.fail("expected version ignored: %s expected version %d but its first event is at version %d", describeOp(o), *o.Inv.Expected, v)
			}
		}
		switch o.Status() {
		case "ok":
			acked++
			if len(o.Done.Events) != len(o.Inv.Values) {
				res.fail("%s was acknowledged with %d events for %d sent", describeOp(o), len(o.Done.Events), len(o.Inv.Values))
			}
			for j, v := range o.Inv.Values {
				ackedEvents++
				p := r.pos(v)
				if p == 0 {
					res.fail("lost acknowledged write: value %q of %s is not in the final log", v, describeOp(o))
					continue
				}
				if j < len(o.Done.Events) {
					ev, ack := r.Ref[p-1], o.Done.Events[j]
					if ev.ID != ack.ID || ev.Version != ack.Version || ev.Stream != o.Inv.Stream {
						res.fail("acknowledged write moved: value %q of %s was acknowledged as id %s %s v%d, final log has id %s %s v%d",
							v, describeOp(o), ack.ID, o.Inv.Stream, ack.Version, ev.ID, ev.Stream, ev.Version)
					}
				}
			}
		case "fail":
			failed++
			if definiteFailure[o.Done.Error] && present > 0 {
				res.fail("failed write applied: %s failed with %s (nothing written, it said) but its events are in the final log", describeOp(o), o.Done.Error)
			}
		default:
			if present > 0 {
				unknownApplied++
			} else {
				unknownLost++
			}
		}
	}
	for i, ev := range r.Ref {
		if r.invoked[ev.Value] == nil {
			res.fail("phantom event: position %d (id %s, %s v%d, value %q) was never sent by the workload", i+1, ev.ID, ev.Stream, ev.Version, ev.Value)
		}
	}
	res.Stats["acknowledged_appends"] = acked
	res.Stats["acknowledged_events"] = ackedEvents
	res.Stats["failed_appends"] = failed
	res.Stats["unknown_applied"] = unknownApplied
	res.Stats["unknown_not_applied"] = unknownLost
	if res.Valid == "true" {
		res.Summary = fmt.Sprintf("%d acknowledged appends (%d events) all present; %d failed appends absent; %d unknown outcomes (%d applied)",
			acked, ackedEvents, failed, unknownApplied+unknownLost, unknownApplied)
	}
	return res
}

// ---- reads against the final log -------------------------------------------

// readAllBounds: what a successful GETALL page says about the length of
// the serving node's log (positions are 1-based; 0 is the empty log):
//   - a page shorter than its limit, not empty: exactly its last position;
//   - a full page: at least its last position (there may be more);
//   - an empty page after id X: at most X's position (the node may not
//     even hold X yet: then it has nothing after X either).
//
// ok is false when the offset is not in the final log.
func (r *Run) readAllBounds(o *Op) (lo, hi int, ok bool) {
	start := 0
	if o.Inv.After != "" {
		i, found := r.byID[o.Inv.After]
		if !found {
			return 0, 0, false
		}
		start = i + 1
	}
	n := len(o.Done.Read)
	switch {
	case n == 0 && start > 0:
		return 0, start, true
	case o.Inv.Limit > 0 && n >= o.Inv.Limit:
		return start + n, math.MaxInt, true
	default:
		return start + n, start + n, true
	}
}

// checkReads: every successful read, in every mode and on every node, shows
// a prefix of the final log: a stream read the stream's first events, a
// GETALL page the events right after its offset.
func (r *Run) checkReads() *Result {
	res := newResult("read-prefix")
	if !r.HasRef {
		res.unknown("no final log")
		return res
	}
	reads := 0
	for _, o := range r.H.Ops {
		if o.Status() != "ok" {
			continue
		}
		switch o.Inv.F {
		case "read":
			reads++
			idx := r.streams[o.Inv.Stream]
			for j, ev := range o.Done.Read {
				v := o.Inv.From + uint64(j)
				if ev.Version != v || ev.Stream != o.Inv.Stream {
					res.fail("non-prefix read: %s returned %s v%d as its event %d, want %s v%d", describeOp(o), ev.Stream, ev.Version, j, o.Inv.Stream, v)
					break
				}
				if v >= uint64(len(idx)) {
					res.fail("non-prefix read: %s saw %s v%d (value %q), the final stream has only %d events",
						describeOp(o), ev.Stream, v, ev.Value, len(idx))
					break
				}
				want := r.Ref[idx[v]]
				if ev.ID != want.ID || ev.Value != want.Value {
					res.fail("non-prefix read: %s saw %s v%d = id %s value %q, the final log has id %s value %q",
						describeOp(o), ev.Stream, v, ev.ID, ev.Value, want.ID, want.Value)
					break
				}
			}
		case "read_all":
			reads++
			if o.Inv.After != "" {
				if _, found := r.byID[o.Inv.After]; !found {
					res.fail("non-prefix read: %s read after id %s, which is not in the final log", describeOp(o), o.Inv.After)
					continue
				}
			}
			start := 0
			if o.Inv.After != "" {
				start = r.byID[o.Inv.After] + 1
			}
			for j, ev := range o.Done.Read {
				p := start + j
				if p >= len(r.Ref) {
					res.fail("non-prefix read: %s saw id %s (value %q) at position %d, the final log has %d events",
						describeOp(o), ev.ID, ev.Value, p+1, len(r.Ref))
					break
				}
				want := r.Ref[p]
				if ev.ID != want.ID || ev.Value != want.Value || ev.Stream != want.Stream || ev.Version != want.Version {
					res.fail("non-prefix read: %s saw id %s (%s v%d, value %q) at position %d, the final log has id %s (%s v%d, value %q)",
						describeOp(o), ev.ID, ev.Stream, ev.Version, ev.Value, p+1, want.ID, want.Stream, want.Version, want.Value)
					break
				}
			}
		}
	}
	res.Stats["reads"] = reads
	if res.Valid == "true" {
		res.Summary = fmt.Sprintf("%d successful reads, all prefixes of the final log", reads)
	}
	return res
}

// ---- sessions ---------------------------------------------------------------

// nodeEpoch counts how often a node's data directory was wiped (by the
// membership nemesis) before time t: a wiped node legitimately starts over.
func (r *Run) nodeEpoch(node string, t int64) int {
	n := 0
	for _, e := range r.H.Nemesis {
		if e.Fault == "wipe" && e.Time < t {
			for _, w := range e.Nodes {
				if w == node {
					n++
				}
			}
		}
	}
	return n
}

// checkSessions: within one client session, reads of one node never go
// back in time; read-your-writes reads include the session's own
// acknowledged appends.
func (r *Run) checkSessions() *Result {
	res := newResult("sessions")
	type key struct {
		process int
		node    string
		epoch   int
		stream  string
	}
	seen := map[key]int{} // longest stream / furthest log position seen
	// own[process][stream]: this session's acknowledged values, in completion order
	type ack struct {
		t      int64
		values []string
	}
	own := map[int]map[string][]ack{}
	for _, o := range r.H.Ops {
		if o.Inv.F == "append" && o.Status() == "ok" {
			m := own[o.Inv.Process]
			if m == nil {
				m = map[string][]ack{}
				own[o.Inv.Process] = m
			}
			m[o.Inv.Stream] = append(m[o.Inv.Stream], ack{o.Done.Time, o.Inv.Values})
		}
	}
	regressions, rywChecked := 0, 0
	// process reads in completion order per session
	var reads []*Op
	for _, o := range r.H.Ops {
		if (o.Inv.F == "read" || o.Inv.F == "read_all") && o.Status() == "ok" {
			reads = append(reads, o)
		}
	}
	sort.SliceStable(reads, func(i, j int) bool { return reads[i].Done.Time < reads[j].Done.Time })
	for _, o := range reads {
		node := o.Done.Node
		ep := r.nodeEpoch(node, o.Inv.Time)
		switch o.Inv.F {
		case "read":
			k := key{o.Inv.Process, node, ep, o.Inv.Stream}
			length := int(o.Inv.From) + len(o.Done.Read)
			if prev, ok := seen[k]; ok && length < prev {
				regressions++
				res.fail("non-monotonic read: %s saw %d events of %s, this session saw %d on that node before",
					describeOp(o), length, o.Inv.Stream, prev)
			}
			if length > seen[k] {
				seen[k] = length
			}
			if o.Inv.Mode == "ryw" {
				rywChecked++
				got := map[string]bool{}
				for _, ev := range o.Done.Read {
					got[ev.Value] = true
				}
				for _, a := range own[o.Inv.Process][o.Inv.Stream] {
					if a.t >= o.Inv.Time {
						break
					}
					for _, v := range a.values {
						if !got[v] && o.Inv.From == 0 {
							res.fail("read-your-writes violated: %s misses value %q that this session appended (acknowledged t=%.3fs)",
								describeOp(o), v, float64(a.t)/1e9)
						}
					}
				}
			}
		case "read_all":
			if !r.HasRef {
				continue
			}
			lo, hi, found := r.readAllBounds(o)
			if !found {
				continue // read-prefix reports it
			}
			k := key{o.Inv.Process, node, ep, ""}
			if prev, ok := seen[k]; ok && hi < prev {
				regressions++
				res.fail("non-monotonic read: %s shows the node's log at most %d events long, this session saw %d on that node before",
					describeOp(o), hi, prev)
			}
			if lo > seen[k] {
				seen[k] = lo
			}
			if o.Inv.Mode == "ryw" && hi != math.MaxInt {
				rywChecked++
				for _, m := range own[o.Inv.Process] {
					for _, a := range m {
						if a.t >= o.Inv.Time {
							continue
						}
						for _, v := range a.values {
							if p := r.pos(v); p > hi {
								res.fail("read-your-writes violated: %s shows at most %d events, but this session appended value %q (position %d) before it",
									describeOp(o), hi, v, p)
							}
						}
					}
				}
			}
		}
	}
	res.Stats["reads"] = len(reads)
	res.Stats["ryw_reads_checked"] = rywChecked
	res.Stats["regressions"] = regressions
	if res.Valid == "true" {
		res.Summary = fmt.Sprintf("%d reads monotonic per session and node; %d read-your-writes reads saw their session's writes", len(reads), rywChecked)
	}
	return res
}

// ---- coverage -------------------------------------------------------------

// checkCoverage: a run that acknowledged nothing, or read nothing in some
// mode, proves nothing, and must not pass for lack of evidence.
func (r *Run) checkCoverage() *Result {
	res := newResult("coverage")
	counts := map[string]int{}
	for _, o := range r.H.Ops {
		if o.Status() != "ok" {
			continue
		}
		k := o.Inv.F
		if o.Inv.F != "append" {
			k += " " + o.Inv.Mode
		}
		counts[k]++
	}
	for _, k := range []string{"append", "read linearizable", "read local", "read ryw",
		"read_all linearizable", "read_all local", "read_all ryw"} {
		res.Stats[k] = counts[k]
		if counts[k] == 0 {
			res.fail("no successful %s in the whole run: nothing was tested there", k)
		}
	}
	if r.HasRef && len(r.Ref) == 0 {
		res.fail("the final log is empty")
	}
	if res.Valid == "true" {
		res.Summary = fmt.Sprintf("%d acknowledged appends; successful reads in every mode", counts["append"])
	}
	return res
}

// ---- faults that took effect ------------------------------------------------

// checkedFaults are the faults the runner checks (jepsen/runner/faultcheck.h):
// each start that names nodes must be confirmed by a verified check.
var checkedFaults = map[string]bool{
	"kill-one": true, "kill-leader": true, "kill-majority": true, "kill-all": true,
	"pause-one": true, "pause-leader": true,
	"partition-leader": true, "partition-half": true, "partition-ring": true, "partition-bridge": true,
	"partition-oneway": true, "member": true, "disk": true, "snapshot": true,
}

// checkFaults: a fault that did not take effect tests nothing while the
// history claims it did. The runner checks every fault it injects (a kill:
// the process is gone and STATUS fails, and the restart answers; a pause:
// the process is stopped and silent, and answers once resumed; a partition:
// a TCP connection across a cut link times out; a full disk: no byte free;
// a membership change: its outcome shows in the configuration; a clock
// fault: the node answers and its STATUS time_ms is off by the offset set,
// or runs at the rate set, and after the heal the true clock again) and
// records each check with "verified". Any check that failed makes the run
// invalid, and so does a fault (or a live jump of a clock fault) that no
// check confirmed, whatever the reason: a run cannot pass on faults it
// never saw. A start that names no node injected nothing (no victim).
func (r *Run) checkFaults() *Result {
	res := newResult("faults")
	type fault struct {
		start     *Entry
		confirmed bool
		failed    bool // a check of it recorded "verified": false
	}
	openByName := map[string]*fault{}
	injected, verified := 0, 0
	closeOther := func(name string, why string) {
		f := openByName[name]
		if f == nil {
			return
		}
		if f.confirmed && !f.failed {
			verified++
		} else if !f.confirmed {
			res.fail("%s fault on %s started at t=%.3fs (%s): %s", name, strings.Join(f.start.Nodes, " "),
				float64(f.start.Time)/1e9, f.start.Value, why)
		}
		delete(openByName, name)
	}
	type clockFault struct {
		start     *Entry
		confirmed bool // a verified check since the start or the last jump
		failed    bool // a check of it recorded "verified": false
	}
	open := map[string]*clockFault{}
	clockFaults, checks, transfers, moved := 0, 0, 0, 0
	at := func(e *Entry) string { return fmt.Sprintf("t=%.3fs", float64(e.Time)/1e9) }
	closeFault := func(node string, f *clockFault, why string) {
		if !f.confirmed {
			res.fail("clock fault on %s started at %s (%s): %s", node, at(f.start), f.start.Value, why)
		} else if !f.failed {
			verified++
		}
		delete(open, node)
	}
	for _, e := range r.H.Nemesis {
		if e.Verified != nil {
			checks++
			if !*e.Verified {
				res.fail("%s fault on %s at %s did not take effect: %s", e.Fault, strings.Join(e.Nodes, " "), at(e), e.Value)
			}
		}
		if e.Transferred != nil {
			transfers++
			if *e.Transferred {
				moved++
			}
		}
		if checkedFaults[e.Fault] {
			switch {
			case e.Phase == "start" && len(e.Nodes) > 0:
				closeOther(e.Fault, "no check confirmed it before the next one")
				injected++
				openByName[e.Fault] = &fault{start: e}
			case e.Phase == "check" && e.Verified != nil && openByName[e.Fault] != nil:
				if *e.Verified {
					openByName[e.Fault].confirmed = true
				} else {
					openByName[e.Fault].failed = true
				}
			}
			continue
		}
		if e.Fault != "clock" || len(e.Nodes) == 0 {
			continue
		}
		node := e.Nodes[0]
		switch e.Phase {
		case "start":
			if f := open[node]; f != nil {
				closeFault(node, f, "no check confirmed it before the next clock fault")
			}
			clockFaults++
			injected++
			open[node] = &clockFault{start: e}
		case "jump":
			// The live jump needs a check of its own.
			if f := open[node]; f != nil {
				if !f.confirmed {
					res.fail("clock fault on %s started at %s (%s): no check confirmed it before its clock jumped again",
						node, at(f.start), f.start.Value)
				}
				f.confirmed = false
			}
		case "check":
			if f := open[node]; f != nil && e.Verified != nil {
				if *e.Verified {
					f.confirmed = true
				} else {
					f.failed = true
				}
			}
		case "stop":
			if f := open[node]; f != nil {
				closeFault(node, f, "no check confirmed it (or its last live jump) before the heal")
			}
		}
	}
	for node, f := range open {
		closeFault(node, f, "no check confirmed it before the run ended")
	}
	for name := range openByName {
		closeOther(name, "no check confirmed it before the run ended")
	}
	res.Stats["faults_injected"] = injected
	res.Stats["faults_verified"] = verified
	res.Stats["clock_faults"] = clockFaults
	res.Stats["checks"] = checks
	res.Stats["leader_transfers"] = transfers
	res.Stats["leader_transfers_done"] = moved
	counted := fmt.Sprintf("%d fault(s) injected, %d verified (%d checks)", injected, verified, checks)
	if res.Valid != "true" {
		counted = fmt.Sprintf("only %d of %d fault(s) injected verified (%d checks)", verified, injected, checks)
	}
	switch {
	case res.Valid != "true":
		res.Summary = counted
	case clockFaults == 0:
		res.Summary = counted + "; no clock fault in this run"
	default:
		res.Summary = fmt.Sprintf("%s; %d clock fault(s), every one confirmed; leadership moved to the skewed node %d of %d time(s)",
			counted, clockFaults, moved, transfers)
	}
	return res
}

// ---- node logs and process exits -------------------------------------------

var crashPatterns = regexp.MustCompile(`(?i)(assertion .*failed|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:|Segmentation fault|stack smashing|double free|corrupted size|panic:|\bFATAL\b|Aborted|rejected by the state machine)`)

// snapshotRestore marks a node installing a snapshot from the leader (the
// "snapshot" nemesis wants to see it happen).
var snapshotRestore = regexp.MustCompile(`restored a snapshot`)

// faketimeError is libfaketime complaining, as it does when it cannot work
// in the process (with jemalloc: "Unexpected recursive calls to
// clock_gettime()", after which the node hangs): the clock fault is not
// what the history says.
var faketimeError = regexp.MustCompile(`libfaketime:`)

// preloadError is the dynamic loader refusing an LD_PRELOAD library
// ("ERROR: ld.so: object ... cannot be preloaded"): the node then runs
// without it, so a clock fault would be the true clock.
var preloadError = regexp.MustCompile(`ld\.so: object .* cannot be preloaded`)

// startMarker is the line the runner writes before each start of a node
// (cluster.c), and nodeStarted the line eventflowd logs once it is up
// (node.c: raft, store and listeners running).
var (
	startMarker = regexp.MustCompile(`^==== jepsen t=([0-9.]+)s: \S+ starts as id \S+ \(pid ([0-9]+)\)`)
	nodeStarted = regexp.MustCompile(`\bstarted: raft `)
)

// startGraceNs: a start the runner ended sooner than this before it logged
// "started" is not held against the node (a fault may hit a node that is
// still replaying its log, or joining); one that lived longer and never
// came up is a node that hangs.
const startGraceNs = int64(5e9)

// checkNodeLogs scans every node's stderr for crash signatures and every
// process exit for one the runner did not cause.
func checkNodeLogs(dir string) *Result {
	res := newResult("node-logs")
	files, _ := filepath.Glob(filepath.Join(dir, "nodes", "*.log"))
	sort.Strings(files)
	var exitList []ProcessExit
	if data, err := os.ReadFile(filepath.Join(dir, "nodes", "exits.jsonl")); err == nil {
		list, err := parseExits(data)
		if err != nil {
			res.fail("%v", err)
		}
		exitList = list
	}
	exitAt := map[int]int64{} // pid -> exit time
	for _, e := range exitList {
		exitAt[e.Pid] = e.Time
	}
	type start struct {
		header  string
		line    int
		t       int64
		pid     int
		started bool
	}
	lines, restores, starts, cutShort := 0, 0, 0, 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			res.fail("cannot read %s: %v", f, err)
			continue
		}
		name := filepath.Base(f)
		var cur *start
		endStart := func() {
			if cur == nil || cur.started {
				return
			}
			end, exited := exitAt[cur.pid]
			switch {
			case !exited:
				res.fail("%s:%d: the node started here (pid %d) never logged \"started\" and has no recorded exit", name, cur.line, cur.pid)
			case end-cur.t >= startGraceNs:
				res.fail("%s:%d: the node started here (pid %d) never logged \"started\" in the %.1f s before it was stopped: %s",
					name, cur.line, cur.pid, float64(end-cur.t)/1e9, cur.header)
			default:
				cutShort++
			}
		}
		for i, line := range strings.Split(string(data), "\n") {
			lines++
			if m := startMarker.FindStringSubmatch(line); m != nil {
				endStart()
				secs, err1 := strconv.ParseFloat(m[1], 64)
				pid, err2 := strconv.Atoi(m[2])
				if err1 != nil || err2 != nil {
					res.fail("%s:%d: unreadable start line: %s", name, i+1, line)
				}
				cur = &start{header: strings.TrimSpace(line), line: i + 1, t: int64(secs * 1e9), pid: pid}
				starts++
				continue
			}
			if cur != nil && nodeStarted.MatchString(line) {
				cur.started = true
			}
			if snapshotRestore.MatchString(line) {
				restores++
			}
			if crashPatterns.MatchString(line) || faketimeError.MatchString(line) || preloadError.MatchString(line) {
				res.fail("%s:%d: %s", name, i+1, strings.TrimSpace(line))
			}
		}
		endStart()
	}
	exits := 0
	diskFull := []string{}
	for _, e := range exitList {
		exits++
		if e.Expected {
			continue
		}
		switch {
		case e.DiskFull && e.Signal == 0:
			// Stopping on ENOSPC during apply is the designed reaction
			// (a restart re-applies the entry); it is reported, not failed.
			diskFull = append(diskFull, e.Node)
		case e.Signal != 0:
			res.fail("node %s (pid %d) died of signal %d at t=%.3fs, not sent by the runner", e.Node, e.Pid, e.Signal, float64(e.Time)/1e9)
		default:
			res.fail("node %s (pid %d) exited with status %d at t=%.3fs on its own", e.Node, e.Pid, e.ExitCode, float64(e.Time)/1e9)
		}
	}
	res.Stats["log_files"] = len(files)
	res.Stats["log_lines"] = lines
	res.Stats["snapshot_restores"] = restores
	res.Stats["process_exits"] = exits
	res.Stats["disk_full_exits"] = diskFull
	res.Stats["starts"] = starts
	res.Stats["starts_stopped_before_started"] = cutShort
	if res.Valid == "true" {
		res.Summary = fmt.Sprintf("%d log files (%d lines) without crash signatures or libfaketime errors; %d starts, each logged \"started\" (or was stopped within %d s); %d process exits, all caused by the runner",
			len(files), lines, starts, startGraceNs/1e9, exits)
	}
	return res
}
