package main

// The subscriptions checker: what every subscriber was delivered, judged
// against the final log.
//
// A subscription (one "sub" name in the history) starts at a position (the
// global log after an offset, or a stream from a version) and resumes, on
// whatever node, from the last event delivered. Whatever nodes served it,
// its deliveries put together must be exactly the final log's events from
// its start position on, in order: a prefix-consistent slice of the final
// log. Violations are named by kind:
//   - uncommitted: a delivered event that is not in the final log (or is
//     there with other contents);
//   - duplicate: an event delivered twice;
//   - out of order: an event delivered after one that follows it in the
//     log (the global log: a smaller id; a stream: a smaller version);
//   - gap: an event of the final log between the start position and the
//     last event delivered that was never delivered.
// And two about the runner's bookkeeping and the end of the run: every
// resume starts at the last event delivered (else the gap or duplicate
// would be the runner's); and a global-log subscription that the runner
// drained after healing delivered the final log's last event (a
// subscription that stops delivering on a healthy cluster). Caught-up
// markers must name the last event delivered.

import (
	"fmt"
	"sort"
	"strings"
)

// subLife is one subscription's history.
type subLife struct {
	name     string
	process  int
	all      bool
	stream   string
	start    *Entry
	p0       int // position of the first event owed (log index, or version)
	resumes  int
	delivers []*Entry
	stop     *Entry
	// while reading the lines: the position a resume must name
	nextID      string // all: the last id delivered, or the start offset
	nextVersion uint64 // stream: the last version delivered + 1, or the start version
	connMarkers int    // caught_up markers since the connection began
	node        string // the node of the current connection
	maxPos      int    // the furthest position delivered (checkDeliveries)
}

func atTime(e *Entry) string { return fmt.Sprintf("t=%.3fs", float64(e.Time)/1e9) }

func (l *subLife) describe() string {
	if l.all {
		return fmt.Sprintf("subscription %s (process %d, $all from %q)", l.name, l.process, *l.start.Offset)
	}
	return fmt.Sprintf("subscription %s (process %d, stream %s from v%d)", l.name, l.process, l.stream, *l.start.Version)
}

func describeDelivery(d *Entry) string {
	ev := d.Event
	return fmt.Sprintf("id %s (%s v%d, value %q) on %s at %s", ev.ID, ev.Stream, ev.Version, ev.Value, d.Node, atTime(d))
}

// resumeReason is a reason without the node it names, for counting.
func resumeReason(s string) string {
	if i := strings.Index(s, ": "); i > 0 && i < 4 && s[0] == 'n' {
		s = s[i+2:]
	}
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

// checkSubscriptions: see the top of this file.
func (r *Run) checkSubscriptions() *Result {
	res := newResult("subscriptions")
	if len(r.H.Subs) == 0 {
		res.Summary = "no subscriber in this history"
		return res
	}
	if !r.HasRef {
		res.unknown("no final log")
		return res
	}
	lives := map[string]*subLife{}
	var order []*subLife
	reasons := map[string]int{}
	byNode := map[string]int{}
	caughtUp, caughtUpAgain, staleMarkers, connectFailures := 0, 0, 0, 0
	for _, e := range r.H.Subs {
		l := lives[e.Sub]
		if l == nil {
			if e.F != "subscribe" || e.Phase != "start" {
				res.fail("%s line of subscription %s at %s before its start", e.F, e.Sub, atTime(e))
				continue
			}
			if (e.All && e.Offset == nil) || (!e.All && (e.Stream == "" || e.Version == nil)) {
				res.fail("subscription %s starts at %s without a position", e.Sub, atTime(e))
				continue
			}
			l = &subLife{name: e.Sub, process: e.Process, all: e.All, stream: e.Stream, start: e}
			if l.all {
				l.nextID = *e.Offset
				if l.nextID != "" {
					i, ok := r.byID[l.nextID]
					if !ok {
						res.fail("%s starts after id %s, which is not in the final log", l.describe(), l.nextID)
						continue
					}
					l.p0 = i + 1
				}
			} else {
				l.nextVersion = *e.Version
				l.p0 = int(*e.Version)
			}
			lives[e.Sub] = l
			order = append(order, l)
		}
		switch e.F {
		case "subscribe":
			switch e.Phase {
			case "start", "resume":
				if e.Phase == "start" && e != l.start {
					res.fail("%s started again at %s", l.describe(), atTime(e))
				}
				connectFailures += e.ConnectFailures
				if e.Phase == "resume" {
					l.resumes++
					reasons[resumeReason(e.Reason)]++
					if l.all && (e.Offset == nil || *e.Offset != l.nextID) {
						res.fail("%s resumed on %s at %s after %s, but its last delivered event is %q (the runner's resume point is wrong)",
							l.describe(), e.Node, atTime(e), strOrNil(e.Offset), l.nextID)
					}
					if !l.all && (e.Version == nil || *e.Version != l.nextVersion) {
						res.fail("%s resumed on %s at %s at version %s, but the next version owed is %d (the runner's resume point is wrong)",
							l.describe(), e.Node, atTime(e), uintOrNil(e.Version), l.nextVersion)
					}
				}
				l.node, l.connMarkers = e.Node, 0
			case "stop":
				l.stop = e
			}
		case "marker":
			if e.Marker == nil {
				continue
			}
			switch e.Marker.Marker {
			case "caught_up":
				caughtUp++
				l.connMarkers++
				if l.connMarkers > 1 {
					// Caught up again on one connection: the node went back
					// to reading its store for it (its store was replaced by a
					// peer's copy, or the subscriber was too slow for live).
					caughtUpAgain++
				}
				if l.all && (e.Marker.ID == nil || *e.Marker.ID != l.nextID) {
					res.fail("%s: caught_up marker on %s at %s names id %s, but the last event delivered is %q",
						l.describe(), e.Node, atTime(e), strOrNil(e.Marker.ID), l.nextID)
				}
				if !l.all && (e.Marker.Version == nil || *e.Marker.Version != l.nextVersion) {
					res.fail("%s: caught_up marker on %s at %s names version %s, but the next version owed is %d",
						l.describe(), e.Node, atTime(e), uintOrNil(e.Marker.Version), l.nextVersion)
				}
			case "stale":
				staleMarkers++
			}
		case "deliver":
			if e.Event == nil {
				res.fail("%s: a delivery without an event at %s", l.describe(), atTime(e))
				continue
			}
			l.delivers = append(l.delivers, e)
			byNode[e.Node]++
			if l.all {
				l.nextID = e.Event.ID
			} else {
				l.nextVersion = e.Event.Version + 1
			}
		}
	}

	delivered, complete, drained := 0, 0, 0
	kinds := map[string]int{}
	for _, l := range order {
		delivered += len(l.delivers)
		r.checkDeliveries(res, l, kinds)
		if l.all && l.stop != nil && l.stop.Target != "" {
			drained++
			last := l.maxPos
			if last == len(r.Ref)-1 {
				complete++
			} else {
				res.fail("%s did not deliver the whole log after healing: it stopped on %s at %s at position %d of %d (%s; the runner waited for id %s)",
					l.describe(), l.stop.Node, atTime(l.stop), last+1, len(r.Ref), l.stop.Reason, l.stop.Target)
			}
		}
	}
	allSubs, streamSubs, resumes := 0, 0, 0
	processes := map[int]bool{}
	for _, l := range order {
		processes[l.process] = true
		resumes += l.resumes
		if l.all {
			allSubs++
		} else {
			streamSubs++
		}
	}
	if delivered == 0 {
		res.fail("the subscribers were delivered nothing in the whole run: nothing was tested")
	}
	res.Stats["subscribers"] = len(processes)
	res.Stats["all_subscriptions"] = allSubs
	res.Stats["stream_subscriptions"] = streamSubs
	res.Stats["delivered"] = delivered
	res.Stats["delivered_by_node"] = byNode
	res.Stats["resumes"] = resumes
	res.Stats["resume_reasons"] = reasons
	res.Stats["connect_failures"] = connectFailures
	res.Stats["caught_up_markers"] = caughtUp
	res.Stats["caught_up_again"] = caughtUpAgain
	res.Stats["stale_markers"] = staleMarkers
	res.Stats["drained"] = drained
	res.Stats["drained_complete"] = complete
	res.Stats["violations_by_kind"] = kinds
	if res.Valid == "true" {
		res.Summary = fmt.Sprintf("%d subscriptions (%d of the global log, %d of streams) by %d subscribers: %d events delivered, %d resumes; "+
			"each an in-order slice of the final log without gap, duplicate or uncommitted event; %d of %d global-log subscriptions delivered the whole log after healing",
			len(order), allSubs, streamSubs, len(processes), delivered, resumes, complete, drained)
	}
	return res
}

// checkDeliveries: l's deliveries are the final log's events from l.p0 on,
// each once, in order, with no gap up to the last one.
func (r *Run) checkDeliveries(res *Result, l *subLife, kinds map[string]int) {
	seen := map[int]*Entry{}
	prev, prevEntry := l.p0-1, (*Entry)(nil)
	maxPos := l.p0 - 1
	for _, d := range l.delivers {
		ev := d.Event
		i, ok := r.byID[ev.ID]
		if !ok {
			kinds["uncommitted"]++
			res.fail("uncommitted event delivered: %s got %s, which is not in the final log", l.describe(), describeDelivery(d))
			continue
		}
		want := r.Ref[i]
		if want.Stream != ev.Stream || want.Version != ev.Version || want.Value != ev.Value {
			kinds["uncommitted"]++
			res.fail("uncommitted event delivered: %s got %s, the final log has id %s as %s v%d, value %q",
				l.describe(), describeDelivery(d), want.ID, want.Stream, want.Version, want.Value)
			continue
		}
		p := i
		if !l.all {
			if ev.Stream != l.stream {
				kinds["wrong stream"]++
				res.fail("%s got an event of another stream: %s", l.describe(), describeDelivery(d))
				continue
			}
			p = int(ev.Version)
		}
		if p < l.p0 {
			kinds["before start"]++
			res.fail("%s got %s, before its start position", l.describe(), describeDelivery(d))
			continue
		}
		if first, dup := seen[p]; dup {
			kinds["duplicate"]++
			res.fail("duplicate delivery: %s got %s again (first on %s at %s)", l.describe(), describeDelivery(d), first.Node, atTime(first))
			continue
		}
		seen[p] = d
		if p < prev {
			kinds["out of order"]++
			res.fail("out of order: %s got %s after %s", l.describe(), describeDelivery(d), describeDelivery(prevEntry))
		}
		prev, prevEntry = p, d
		if p > maxPos {
			maxPos = p
		}
	}
	l.maxPos = maxPos
	// Gaps: runs of positions never delivered below the furthest one.
	for p := l.p0; p < maxPos; p++ {
		if seen[p] != nil {
			continue
		}
		q := p
		for q+1 < maxPos && seen[q+1] == nil {
			q++
		}
		kinds["gap"]++
		missing := r.subPos(l, p)
		if q > p {
			missing = fmt.Sprintf("%d events, %s to %s", q-p+1, missing, r.subPos(l, q))
		}
		after := "its start"
		if p > l.p0 {
			after = describeDelivery(seen[p-1])
		}
		res.fail("gap: %s never got %s of the final log, between %s and %s",
			l.describe(), missing, after, describeDelivery(seen[q+1]))
		p = q
	}
}

// subPos names the final log's event at position p of what l follows.
func (r *Run) subPos(l *subLife, p int) string {
	i := p
	if !l.all {
		idx := r.streams[l.stream]
		if p >= len(idx) {
			return fmt.Sprintf("%s v%d (not in the final log)", l.stream, p)
		}
		i = idx[p]
	}
	ev := r.Ref[i]
	return fmt.Sprintf("id %s (%s v%d)", ev.ID, ev.Stream, ev.Version)
}

func strOrNil(s *string) string {
	if s == nil {
		return "(none)"
	}
	return fmt.Sprintf("%q", *s)
}

func uintOrNil(v *uint64) string {
	if v == nil {
		return "(none)"
	}
	return fmt.Sprint(*v)
}

// subscriberSummary: one row per subscriber process for summary.md.
func subscriberSummary(h *History) string {
	type row struct {
		process                  int
		kind                     string
		subs, delivered, resumes int
		markers                  int
		nodes                    map[string]bool
	}
	rows := map[int]*row{}
	for _, e := range h.Subs {
		w := rows[e.Process]
		if w == nil {
			w = &row{process: e.Process, nodes: map[string]bool{}}
			rows[e.Process] = w
		}
		if e.Node != "" {
			w.nodes[e.Node] = true
		}
		switch {
		case e.F == "subscribe" && e.Phase == "start":
			w.subs++
			w.kind = "$all"
			if !e.All {
				w.kind = "streams"
			}
		case e.F == "subscribe" && e.Phase == "resume":
			w.resumes++
		case e.F == "deliver":
			w.delivered++
		case e.F == "marker":
			w.markers++
		}
	}
	if len(rows) == 0 {
		return ""
	}
	keys := sortedKeys(rows)
	var b strings.Builder
	b.WriteString("\n## Subscribers\n\n| process | follows | subscriptions | delivered | resumes | markers | nodes |\n|---|---|---|---|---|---|---|\n")
	for _, k := range keys {
		w := rows[k]
		nodes := make([]string, 0, len(w.nodes))
		for n := range w.nodes {
			nodes = append(nodes, n)
		}
		sort.Strings(nodes)
		fmt.Fprintf(&b, "| %d | %s | %d | %d | %d | %d | %s |\n", w.process, w.kind, w.subs, w.delivered, w.resumes, w.markers, strings.Join(nodes, " "))
	}
	return b.String()
}
