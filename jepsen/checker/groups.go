package main

// The consumer-groups checker: what GROUP READ handed out, what the
// consumers acknowledged or gave back, and each group's final state on
// every node after the drain, judged against the final log.
//
// The runner's history (runner/groups.h) has every READ, ACK and NACK as an
// operation with the node it went to; the times bracket the real ones (an
// invocation's time is taken before the request is sent, a completion's
// after the reply arrived). Each group is created from the start of what it
// follows (the global log, or one stream), and the workload never SEEKs or
// REPLAYs, which are the only ways an acknowledged event comes back or a
// delivery count starts again. Violations, by kind:
//
//   - uncommitted: a READ handed out an event that is not in the final
//     log, or is there with another stream, version or value;
//   - out of range: a stream group's READ handed out another stream's event;
//   - duplicate delivery: two READs both got delivery number k of one
//     event (the server gives each delivery to one READ);
//   - deliveries backwards: a READ that began after another had ended got
//     an event with a delivery count no higher;
//   - order: first deliveries out of the log's order (a READ that began
//     after another had ended got a new event that precedes one the first
//     got; or one READ's new events out of order);
//   - max deliveries: an event delivered more often than max_deliveries, or
//     parked for max_deliveries with another count;
//   - delivered after ack: a READ that began after an ACK naming the event
//     had returned got it again (an ACK that returns OK retires every id it
//     names: those pending or parked now, the others acknowledged before);
//   - early redelivery: delivery k+j of an event came less than j ack waits
//     after delivery k, with no NACK of it in between and no clock fault
//     (below): it was handed to a second consumer while the first still
//     held it;
//   - early redelivery after a leader change: a redelivery came less than
//     one ack wait after a group operation that another node served before
//     the READ began (the new leader's takeover is later than that
//     operation, and nothing handed out before the takeover is due before
//     a whole ack wait after it);
//   - acked then pending: an event an ACK retired is pending or parked in
//     the final state;
//   - unfinished: after the drain an event of the group's range is still
//     pending, or the group's position never reached it;
//   - lost: an event of the range that the group counts as done (its
//     position passed it, it is neither pending nor parked) though no
//     consumer ever acknowledged it, even with an unknown outcome: the
//     group dropped it;
//   - phantom: the final state lists an event outside the group's range;
//   - counters: the final INFO disagrees with itself or with the history
//     (pending and parked counts against the lists, acked against the
//     events retired and against the ACK replies, lag against the position);
//   - diverged: another node's final state of the group differs from the
//     leader's;
//   - ack refused: an ACK failed with NOTDELIVERED for an event a READ had
//     handed out before it;
//   - bad reply, final state, nothing delivered: a reply not as documented,
//     a group without a readable final state, a run that tested nothing.
//
// The timing checks compare the history's clock (CLOCK_MONOTONIC of the
// runner) with the group clock (the leaders' wall clocks, in ms, never
// running backwards). Without clock faults every node's wall clock is the
// runner's machine's, so an interval of the group clock is at most the
// real interval around it, less 1 ms of rounding (groupSlack covers that
// and NTP's slewing). A clock fault (libfaketime: a jump, or a clock at
// another rate) makes the group clock run ahead of real time, which the
// protocol allows, so a pair of deliveries whose interval touches a clock
// fault (from 5 s before its start line to its stop line) is not timed,
// only counted.

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

type groupDelivery struct {
	op *Op
	ev GroupEvent
}

// group is one consumer group's history.
type group struct {
	name          string
	all           bool
	stream        string
	ackWait       int64 // ns
	maxDeliveries int
	specKnown     bool
	created       bool
	final         *Entry   // the leader's group_final
	others        []*Entry // the other nodes'
	reads         []*Op    // READs that returned events (or none)
	deliveries    map[string][]groupDelivery
	ackOK         map[string]*Op // id -> the ACK (OK) that returned first
	ackNamed      map[string]bool
	nacks         map[string][]*Op // id -> NACKs that may have taken effect
	ackedOK       int              // sum of OK ACKs' replies
	ackedUnknown  int              // ids named by ACKs of unknown outcome
	stats         map[string]int
}

type groupCheck struct {
	*Run
	res    *Result
	kinds  map[string]int
	clock  []window
	writes map[string]*nodeWrites
	inf    int64
}

func (c *groupCheck) fail(kind, format string, args ...any) {
	c.kinds[kind]++
	c.res.fail(format, args...)
}

func groupOp(f string) bool {
	return f == "group_create" || f == "group_read" || f == "group_ack" || f == "group_nack"
}

func describeGroupOp(o *Op) string {
	e := o.Inv
	s := fmt.Sprintf("op %d (process %d, %s %s", e.Op, e.Process, strings.TrimPrefix(e.F, "group_"), e.Group)
	if e.Consumer != "" {
		s += " by " + e.Consumer
	}
	if e.Node != "" {
		s += " on " + e.Node
	}
	s += fmt.Sprintf(", t=%.3f", float64(e.Time)/1e9)
	if o.Done != nil {
		s += fmt.Sprintf("-%.3fs", float64(o.Done.Time)/1e9)
	} else {
		s += "s-"
	}
	return s + ", " + o.Status() + ")"
}

func (c *groupCheck) groupNamed(groups map[string]*group, order *[]*group, name string) *group {
	g := groups[name]
	if g == nil {
		g = &group{name: name, deliveries: map[string][]groupDelivery{}, ackOK: map[string]*Op{},
			ackNamed: map[string]bool{}, nacks: map[string][]*Op{}, stats: map[string]int{}}
		groups[name] = g
		*order = append(*order, g)
	}
	return g
}

// collect sorts the history's group lines by group.
func (c *groupCheck) collect() []*group {
	groups := map[string]*group{}
	var order []*group
	for _, o := range c.H.Ops {
		e := o.Inv
		if !groupOp(e.F) {
			continue
		}
		g := c.groupNamed(groups, &order, e.Group)
		if o.Done != nil && o.Done.Error == "bad_reply" {
			c.fail("bad reply", "a reply not as documented: %s: %s", describeGroupOp(o), o.Done.Message)
		}
		switch e.F {
		case "group_create":
			if !g.specKnown {
				g.all, g.stream, g.ackWait, g.maxDeliveries = e.All, e.Stream, e.AckWaitMs*int64(time.Millisecond), e.MaxDeliveries
				g.specKnown = true
			}
			if o.Status() == "ok" || (o.Done != nil && o.Done.Error == "EXISTS") {
				g.created = true
			}
		case "group_read":
			if o.Status() == "ok" {
				g.reads = append(g.reads, o)
				for _, ev := range o.Done.Delivered {
					g.deliveries[ev.ID] = append(g.deliveries[ev.ID], groupDelivery{o, ev})
				}
			}
		case "group_ack":
			switch o.Status() {
			case "ok":
				for _, id := range e.IDs {
					if prev := g.ackOK[id]; prev == nil || o.Done.Time < prev.Done.Time {
						g.ackOK[id] = o
					}
					g.ackNamed[id] = true
				}
				if o.Done.Acked != nil {
					g.ackedOK += *o.Done.Acked
				}
			case "info":
				for _, id := range e.IDs {
					g.ackNamed[id] = true
				}
				g.ackedUnknown += len(e.IDs)
			}
		case "group_nack":
			if o.Status() != "fail" {
				for _, id := range e.IDs {
					g.nacks[id] = append(g.nacks[id], o)
				}
			}
		}
	}
	for _, e := range c.H.Groups {
		if e.F != "group_final" {
			continue
		}
		g := c.groupNamed(groups, &order, e.Group)
		if e.Leader && g.final == nil {
			g.final = e
		} else {
			g.others = append(g.others, e)
		}
	}
	return order
}

// ---- what READs handed out ----------------------------------------------------------

// pos is an event's place in what the group follows: its index in the
// final log, or its version.
func (c *groupCheck) pos(g *group, ev GroupEvent) int {
	if g.all {
		return c.byID[ev.ID]
	}
	return int(ev.Version)
}

func describeHandout(d groupDelivery) string {
	return fmt.Sprintf("%s (%s v%d, delivery %d) in %s", d.ev.ID, d.ev.Stream, d.ev.Version, d.ev.Deliveries, describeGroupOp(d.op))
}

// checkHandedOut: every event handed out is a committed one of the range,
// each delivery number once, counts rising in real-time order, new events
// in the log's order, at most max_deliveries.
func (c *groupCheck) checkHandedOut(g *group) {
	for _, o := range g.reads {
		prev := -1
		for _, ev := range o.Done.Delivered {
			d := groupDelivery{o, ev}
			i, ok := c.byID[ev.ID]
			if !ok {
				c.fail("uncommitted", "uncommitted event handed out: group %s: %s is not in the final log", g.name, describeHandout(d))
				continue
			}
			want := c.Ref[i]
			if want.Stream != ev.Stream || want.Version != ev.Version || want.Value != ev.Value {
				c.fail("uncommitted", "uncommitted event handed out: group %s: %s, the final log has it as %s v%d, value %q",
					g.name, describeHandout(d), want.Stream, want.Version, want.Value)
				continue
			}
			if !g.all && ev.Stream != g.stream {
				c.fail("out of range", "group %s of stream %s handed out another stream's event: %s", g.name, g.stream, describeHandout(d))
				continue
			}
			if g.maxDeliveries > 0 && ev.Deliveries > g.maxDeliveries {
				c.fail("max deliveries", "group %s (max_deliveries %d) handed out %s", g.name, g.maxDeliveries, describeHandout(d))
			}
			if ev.Deliveries == 1 {
				if p := c.pos(g, ev); p <= prev {
					c.fail("order", "group %s: one READ handed out new events out of the log's order: %s", g.name, describeHandout(d))
				} else {
					prev = p
				}
			}
		}
	}
	for _, ds := range g.deliveries {
		seen := map[int]groupDelivery{}
		for _, d := range ds {
			if first, dup := seen[d.ev.Deliveries]; dup {
				c.fail("duplicate delivery", "group %s handed out one delivery twice: %s, and %s", g.name, describeHandout(first), describeHandout(d))
				continue
			}
			seen[d.ev.Deliveries] = d
		}
		for _, a := range ds {
			for _, b := range ds {
				if a.op.Done.Time < b.op.Inv.Time && b.ev.Deliveries <= a.ev.Deliveries {
					c.fail("deliveries backwards", "group %s: delivery count went back: %s, then %s", g.name, describeHandout(a), describeHandout(b))
				}
			}
		}
	}
	c.checkNewEventOrder(g)
}

// checkNewEventOrder: the group's position only moves forward, so a READ
// that began after another ended hands out only new events after the
// other's.
func (c *groupCheck) checkNewEventOrder(g *group) {
	type span struct {
		o        *Op
		min, max int
		minEv    GroupEvent
		maxEv    GroupEvent
	}
	var spans []span
	for _, o := range g.reads {
		s := span{o: o, min: math.MaxInt, max: -1}
		for _, ev := range o.Done.Delivered {
			if _, ok := c.byID[ev.ID]; !ok || ev.Deliveries != 1 || (!g.all && ev.Stream != g.stream) {
				continue
			}
			p := c.pos(g, ev)
			if p < s.min {
				s.min, s.minEv = p, ev
			}
			if p > s.max {
				s.max, s.maxEv = p, ev
			}
		}
		if s.max >= 0 {
			spans = append(spans, s)
		}
	}
	byDone := append([]span(nil), spans...)
	sort.Slice(byDone, func(i, j int) bool { return byDone[i].o.Done.Time < byDone[j].o.Done.Time })
	best := make([]int, len(byDone)) // best[i]: the span with the largest max among byDone[:i+1]
	for i := range byDone {
		best[i] = i
		if i > 0 && byDone[best[i-1]].max > byDone[i].max {
			best[i] = best[i-1]
		}
	}
	for _, b := range spans {
		i := sort.Search(len(byDone), func(i int) bool { return byDone[i].o.Done.Time >= b.o.Inv.Time })
		if i == 0 {
			continue
		}
		a := byDone[best[i-1]]
		if a.max >= b.min {
			c.fail("order", "group %s handed out a new event behind its position: %s, after %s",
				g.name, describeHandout(groupDelivery{b.o, b.minEv}), describeHandout(groupDelivery{a.o, a.maxEv}))
		}
	}
}

// checkAfterAck: no READ that began after an ACK of an event returned gets
// that event again.
func (c *groupCheck) checkAfterAck(g *group) {
	for id, ack := range g.ackOK {
		for _, d := range g.deliveries[id] {
			if d.op.Inv.Time > ack.Done.Time {
				c.fail("delivered after ack", "group %s delivered %s after %s had acknowledged it", g.name, describeHandout(d), describeGroupOp(ack))
			}
		}
	}
}

// checkRefusedAcks: NOTDELIVERED names an event no READ of the group had
// handed out; one that a READ returned before the ACK began was delivered.
func (c *groupCheck) checkRefusedAcks(g *group) {
	for _, o := range c.H.Ops {
		if o.Inv.F != "group_ack" || o.Inv.Group != g.name || o.Done == nil || o.Done.Error != "NOTDELIVERED" {
			continue
		}
		for _, id := range o.Inv.IDs {
			if !strings.Contains(o.Done.Message, id) {
				continue
			}
			for _, d := range g.deliveries[id] {
				if d.op.Done.Time < o.Inv.Time {
					c.fail("ack refused", "group %s refused %s (%s) though it had handed the event out: %s",
						g.name, describeGroupOp(o), o.Done.Message, describeHandout(d))
					break
				}
			}
		}
	}
}
