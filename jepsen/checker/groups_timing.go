package main

// The consumer-groups checker's timing checks (groups.go describes them):
// redeliveries only after the ack wait, and after a leader change only a
// whole ack wait after the takeover.

import (
	"math"
	"sort"
	"time"
)

// groupSlack: the timing checks' tolerance (ms rounding of the group clock,
// clock slewing).
const groupSlack = 10 * int64(time.Millisecond)

// clockLead: a clock fault's node is restarted under libfaketime just
// before its start line is written.
const clockLead = 5 * int64(time.Second)

type window struct{ lo, hi int64 }

// clockWindows: when some node's clock was not the true one.
func (c *groupCheck) clockWindows() {
	open := map[string]int64{}
	for _, e := range c.H.Nemesis {
		if e.Fault != "clock" || len(e.Nodes) == 0 {
			continue
		}
		node := e.Nodes[0]
		switch e.Phase {
		case "start":
			if _, already := open[node]; !already {
				open[node] = e.Time - clockLead
			}
		case "stop":
			if lo, ok := open[node]; ok {
				c.clock = append(c.clock, window{lo, e.Time})
				delete(open, node)
			}
		}
	}
	for _, lo := range open {
		c.clock = append(c.clock, window{lo, c.inf})
	}
}

func (c *groupCheck) clockFaultIn(lo, hi int64) bool {
	for _, w := range c.clock {
		if w.lo < hi && w.hi > lo {
			return true
		}
	}
	return false
}

// nodeWrites: the group operations one node acknowledged (OK), by
// completion time, with the latest invocation among those completed so far.
type nodeWrites struct {
	done   []int64
	latest []*Op // latest[i]: the latest-invoked of the first i+1
}

func (c *groupCheck) indexWrites() {
	byNode := map[string][]*Op{}
	for _, o := range c.H.Ops {
		if groupOp(o.Inv.F) && o.Status() == "ok" && o.Inv.Node != "" {
			byNode[o.Inv.Node] = append(byNode[o.Inv.Node], o)
		}
	}
	c.writes = map[string]*nodeWrites{}
	for node, ops := range byNode {
		sort.Slice(ops, func(i, j int) bool { return ops[i].Done.Time < ops[j].Done.Time })
		w := &nodeWrites{}
		var best *Op
		for _, o := range ops {
			if best == nil || o.Inv.Time > best.Inv.Time {
				best = o
			}
			w.done = append(w.done, o.Done.Time)
			w.latest = append(w.latest, best)
		}
		c.writes[node] = w
	}
}

// lastOtherLeader: among group operations that a node other than `node`
// acknowledged before t, the one invoked last (nil if none).
func (c *groupCheck) lastOtherLeader(node string, t int64) *Op {
	var best *Op
	for m, w := range c.writes {
		if m == node {
			continue
		}
		i := sort.Search(len(w.done), func(i int) bool { return w.done[i] >= t })
		if i > 0 && (best == nil || w.latest[i-1].Inv.Time > best.Inv.Time) {
			best = w.latest[i-1]
		}
	}
	return best
}

// nackedIn: a NACK of id that may have taken effect within [lo, hi].
func (g *group) nackedIn(id string, lo, hi, inf int64) bool {
	for _, o := range g.nacks[id] {
		if o.Inv.Time < hi && o.ReturnTime(inf) > lo {
			return true
		}
	}
	return false
}

// ---- redelivery timing ---------------------------------------------------------------------

// sortedDeliveries: an event's observed deliveries by delivery number.
func sortedDeliveries(ds []groupDelivery) []groupDelivery {
	out := append([]groupDelivery(nil), ds...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].ev.Deliveries < out[j].ev.Deliveries })
	return out
}

// checkRedeliveryTiming: see "early redelivery" above. The group clock's
// reading of delivery k (its entry's time) is at least the wall clock when
// that READ was invoked; that of delivery k+j at most the wall clock when
// it returned; each redelivery is due ack_wait after the previous one
// unless the event was given back (NACK). So without a NACK and a clock
// fault between them, the READs' interval is at least j ack waits.
func (c *groupCheck) checkRedeliveryTiming(g *group) {
	minMargin := int64(math.MaxInt64)
	for id, ds := range g.deliveries {
		ds = sortedDeliveries(ds)
		for i := 1; i < len(ds); i++ {
			a, b := ds[i-1], ds[i]
			lo, hi := a.op.Inv.Time, b.op.Done.Time
			if b.ev.Deliveries <= a.ev.Deliveries || hi < lo {
				continue // duplicate delivery, deliveries backwards: reported as such
			}
			if g.nackedIn(id, lo, hi, c.inf) {
				g.stats["redeliveries_after_nack"]++
				continue
			}
			if c.clockFaultIn(lo, hi) {
				g.stats["redeliveries_in_clock_faults"]++
				continue
			}
			g.stats["redeliveries_timed"]++
			need := int64(b.ev.Deliveries-a.ev.Deliveries) * g.ackWait
			if margin := hi - lo - need; margin < minMargin {
				minMargin = margin
			}
			if hi-lo < need-groupSlack {
				c.fail("early redelivery", "group %s (ack_wait %v) redelivered %s only %.3f s after %s, with no NACK between: two consumers held it at once",
					g.name, time.Duration(g.ackWait), describeHandout(b), float64(hi-lo)/1e9, describeHandout(a))
			}
		}
	}
	if minMargin != math.MaxInt64 {
		// Down to -1 ms is the group clock's rounding to whole ms.
		g.stats["closest_redelivery_margin_us"] = int(minMargin / int64(time.Microsecond))
	}
}

// checkLeaderGrace: see "early redelivery after a leader change" above. An
// operation O that node M acknowledged before READ b (on node N != M)
// began lies in an earlier term than b, so N's takeover entry, which
// precedes b, is later in the log than O and its group time is at least
// O's invocation time; b may hand out an event pending from before only a
// whole ack wait after the takeover (unless it was given back: deadline 0).
func (c *groupCheck) checkLeaderGrace(g *group) {
	minMargin := int64(math.MaxInt64)
	for id, ds := range g.deliveries {
		ds = sortedDeliveries(ds)
		lo := int64(math.MinInt64)
		for i, b := range ds {
			if i > 0 && ds[i-1].ev.Deliveries < b.ev.Deliveries {
				lo = ds[i-1].op.Inv.Time
			}
			if b.ev.Deliveries <= 1 || g.nackedIn(id, lo, b.op.Done.Time, c.inf) {
				continue
			}
			o := c.lastOtherLeader(b.op.Inv.Node, b.op.Inv.Time)
			if o == nil {
				continue
			}
			if c.clockFaultIn(o.Inv.Time, b.op.Done.Time) {
				g.stats["leader_changes_in_clock_faults"]++
				continue
			}
			g.stats["leader_changes_timed"]++
			if b.op.Done.Time-o.Inv.Time < 2*g.ackWait {
				g.stats["leader_changes_close"]++
			}
			if margin := b.op.Done.Time - o.Inv.Time - g.ackWait; margin < minMargin {
				minMargin = margin
			}
			if b.op.Done.Time-o.Inv.Time < g.ackWait-groupSlack {
				c.fail("early redelivery after a leader change",
					"group %s (ack_wait %v) redelivered %s only %.3f s after %s: a new leader must wait a whole ack wait after its takeover",
					g.name, time.Duration(g.ackWait), describeHandout(b), float64(b.op.Done.Time-o.Inv.Time)/1e9, describeGroupOp(o))
			}
		}
	}
	if minMargin != math.MaxInt64 {
		g.stats["closest_takeover_margin_us"] = int(minMargin / int64(time.Microsecond))
	}
}
