package main

// The consumer-groups checker's judgement of each group's final state
// (groups.go describes the violations), and the checker itself.

import (
	"fmt"
	"strings"
	"time"
)

// rangeOf: the final log's indexes of the events the group follows.
func (c *groupCheck) rangeOf(g *group) []int {
	if !g.all {
		return c.streams[g.stream]
	}
	idx := make([]int, len(c.Ref))
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// passed: whether the group's position is past the final log's event i.
func passed(g *group, info *GroupInfo, ev LogEvent, i int) bool {
	if g.all {
		return info.Position != nil && uint64(i+1) <= *info.Position
	}
	return info.NextVersion != nil && ev.Version < *info.NextVersion
}

func firstIDs(ids []string) string {
	if len(ids) > 3 {
		return strings.Join(ids[:3], ", ") + ", …"
	}
	return strings.Join(ids, ", ")
}

// finalSpec: the leader's final state is there and readable, and says what
// the CREATE said.
func (c *groupCheck) finalSpec(g *group) bool {
	f := g.final
	if f == nil {
		if g.created || len(g.reads) > 0 {
			c.fail("final state", "group %s: no final state from a leader (none answered after the drain)", g.name)
		}
		return false
	}
	if !f.Complete || f.Info == nil {
		c.fail("final state", "group %s: the leader %s did not answer INFO, PENDING and PARKED after the drain: %s", g.name, f.Node, f.Error)
		return false
	}
	info := f.Info
	if !g.specKnown {
		g.all, g.stream, g.ackWait, g.maxDeliveries = info.All, info.Stream, info.AckWaitMs*int64(time.Millisecond), info.MaxDeliveries
		g.specKnown = true
	} else if info.All != g.all || (!g.all && info.Stream != g.stream) || info.AckWaitMs*int64(time.Millisecond) != g.ackWait ||
		info.MaxDeliveries != g.maxDeliveries {
		c.fail("final state", "group %s: INFO on %s (all %v, stream %q, ack_wait_ms %d, max_deliveries %d) is not the group created (all %v, stream %q, ack wait %v, max_deliveries %d)",
			g.name, f.Node, info.All, info.Stream, info.AckWaitMs, info.MaxDeliveries, g.all, g.stream, time.Duration(g.ackWait), g.maxDeliveries)
	}
	return true
}

// checkFinal: after the drain every event of the range is acknowledged or
// parked; none the group counts as done was never acknowledged; nothing an
// ACK retired is back; the counters add up.
func (c *groupCheck) checkFinal(g *group) {
	if !c.finalSpec(g) {
		return
	}
	f, info := g.final, g.final.Info
	pending := map[string]GroupPending{}
	for _, p := range f.Pending {
		pending[p.ID] = p
	}
	parked := map[string]GroupParked{}
	for _, p := range f.Parked {
		parked[p.ID] = p
	}
	rng := c.rangeOf(g)
	inRange := map[string]bool{}
	var stillPending, undelivered []string
	retired := 0
	for _, i := range rng {
		ev := c.Ref[i]
		inRange[ev.ID] = true
		_, isPending := pending[ev.ID]
		pk, isParked := parked[ev.ID]
		if ack := g.ackOK[ev.ID]; ack != nil && (isPending || isParked) {
			c.fail("acked then pending", "group %s: %s (%s v%d) is %s in the final state on %s, though %s acknowledged it",
				g.name, ev.ID, ev.Stream, ev.Version, map[bool]string{true: "pending", false: "parked"}[isPending], f.Node, describeGroupOp(ack))
			continue
		}
		switch {
		case isParked:
			g.stats["parked"]++
			c.checkParked(g, pk)
		case isPending:
			stillPending = append(stillPending, ev.ID)
		case !passed(g, info, ev, i):
			undelivered = append(undelivered, ev.ID)
		default:
			switch {
			case g.ackOK[ev.ID] != nil:
				g.stats["acked"]++
				retired++
			case g.ackNamed[ev.ID]:
				g.stats["acked_unknown_outcome"]++
				retired++
			default:
				c.fail("lost", "lost event: group %s counts %s (%s v%d) as done (behind its position on %s, neither pending nor parked), but no consumer ever acknowledged it; %s",
					g.name, ev.ID, ev.Stream, ev.Version, f.Node, c.handoutsOf(g, ev.ID))
			}
		}
	}
	if len(stillPending) > 0 {
		c.fail("unfinished", "group %s: %d events of its range still pending after the drain on %s: %s", g.name, len(stillPending), f.Node, firstIDs(stillPending))
	}
	if len(undelivered) > 0 {
		c.fail("unfinished", "group %s: %d events of its range never reached by its position after the drain on %s: %s", g.name, len(undelivered), f.Node, firstIDs(undelivered))
	}
	for id := range pending {
		if !inRange[id] {
			c.fail("phantom", "group %s: the final state on %s has %s pending, not an event of its range in the final log", g.name, f.Node, id)
		}
	}
	for id := range parked {
		if !inRange[id] {
			c.fail("phantom", "group %s: the final state on %s has %s parked, not an event of its range in the final log", g.name, f.Node, id)
		}
	}
	g.stats["events"] = len(rng)
	c.checkCounters(g, len(rng), retired)
}

// checkParked: a parked event's count is what the deliveries say.
func (c *groupCheck) checkParked(g *group, p GroupParked) {
	if p.Reason == "max_deliveries" && g.maxDeliveries > 0 && p.Deliveries != g.maxDeliveries {
		c.fail("max deliveries", "group %s parked %s for max_deliveries after %d deliveries (max_deliveries %d)", g.name, p.ID, p.Deliveries, g.maxDeliveries)
	}
	for _, d := range g.deliveries[p.ID] {
		if d.ev.Deliveries > p.Deliveries {
			c.fail("max deliveries", "group %s parked %s after %d deliveries, but %s", g.name, p.ID, p.Deliveries, describeHandout(d))
		}
	}
}

func (c *groupCheck) handoutsOf(g *group, id string) string {
	ds := g.deliveries[id]
	if len(ds) == 0 {
		return "no READ was seen handing it out"
	}
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = describeHandout(d)
	}
	return "handed out as " + strings.Join(parts, "; ")
}

// checkCounters: INFO against its own lists and against the ACK replies.
// retired: the events of the range behind the position, neither pending
// nor parked, that some ACK named (a lost event is reported as lost, not
// here too).
func (c *groupCheck) checkCounters(g *group, events, retired int) {
	f, info := g.final, g.final.Info
	if info.Pending != uint64(len(f.Pending)) || info.Parked != uint64(len(f.Parked)) {
		c.fail("counters", "group %s on %s: INFO says %d pending and %d parked, PENDING lists %d and PARKED %d",
			g.name, f.Node, info.Pending, info.Parked, len(f.Pending), len(f.Parked))
	}
	if info.Acked != uint64(retired) {
		c.fail("counters", "group %s on %s: INFO says %d acked, but %d events of its range that consumers acknowledged are behind its position and neither pending nor parked",
			g.name, f.Node, info.Acked, retired)
	}
	if info.Acked < uint64(g.ackedOK) || info.Acked > uint64(g.ackedOK+g.ackedUnknown) {
		c.fail("counters", "group %s on %s: INFO says %d acked; the ACKs that returned acknowledged %d, those of unknown outcome named %d more",
			g.name, f.Node, info.Acked, g.ackedOK, g.ackedUnknown)
	}
	var pos uint64
	if info.Position != nil {
		pos = *info.Position
	} else if info.NextVersion != nil {
		pos = *info.NextVersion
	}
	if pos > uint64(events) || info.Lag != uint64(events)-pos {
		c.fail("counters", "group %s on %s: position %d and lag %d, but its range has %d events in the final log", g.name, f.Node, pos, info.Lag, events)
	}
}

// groupStateKey: what every node must agree on once it has applied the
// leader's last entry.
func groupStateKey(f *Entry) string {
	var b strings.Builder
	i := f.Info
	fmt.Fprintf(&b, "after %s position %s next_version %s lag %d pending %d parked %d delivered %d acked %d; pending",
		strOrNil(i.AfterID), uintOrNil(i.Position), uintOrNil(i.NextVersion), i.Lag, i.Pending, i.Parked, i.Delivered, i.Acked)
	for _, p := range f.Pending {
		fmt.Fprintf(&b, " %s/%s/%d", p.ID, strOrNil(p.Consumer), p.Deliveries)
	}
	b.WriteString("; parked")
	for _, p := range f.Parked {
		fmt.Fprintf(&b, " %s/%s/%d/%s", p.ID, p.Consumer, p.Deliveries, p.Reason)
	}
	return b.String()
}

// checkAgreement: every node's final state of the group is the leader's.
func (c *groupCheck) checkAgreement(g *group) {
	if g.final == nil || !g.final.Complete || g.final.Info == nil {
		return
	}
	want := groupStateKey(g.final)
	for _, o := range g.others {
		if !o.Complete || o.Info == nil {
			c.fail("final state", "group %s: %s did not answer INFO, PENDING and PARKED after the drain: %s", g.name, o.Node, o.Error)
			continue
		}
		if got := groupStateKey(o); got != want {
			c.fail("diverged", "group %s: %s's final state differs from the leader %s's: %.300s, the leader: %.300s", g.name, o.Node, g.final.Node, got, want)
		}
	}
}

// checkGroups: see groups.go.
func (r *Run) checkGroups() *Result {
	res := newResult("groups")
	c := &groupCheck{Run: r, res: res, kinds: map[string]int{}, inf: r.inf}
	groups := c.collect()
	if len(groups) == 0 {
		res.Summary = "no consumer group in this history"
		return res
	}
	if !r.HasRef {
		res.unknown("no final log")
		return res
	}
	c.clockWindows()
	c.indexWrites()
	crashed := map[string]int{}
	crashes := 0
	for _, e := range r.H.Groups {
		if e.F == "group_crash" {
			crashes++
			for _, h := range e.Held {
				crashed[h.Group]++
			}
		}
	}
	handedOut, redelivered := 0, 0
	perGroup := map[string]map[string]int{}
	for _, g := range groups {
		for _, o := range g.reads {
			for _, ev := range o.Done.Delivered {
				handedOut++
				g.stats["handed_out"]++
				if ev.Deliveries > 1 {
					redelivered++
					g.stats["redeliveries"]++
				}
			}
		}
		g.stats["held_by_crashed_consumers"] = crashed[g.name]
		c.checkHandedOut(g)
		c.checkAfterAck(g)
		c.checkRefusedAcks(g)
		c.checkRedeliveryTiming(g)
		c.checkLeaderGrace(g)
		c.checkFinal(g)
		c.checkAgreement(g)
		perGroup[g.name] = g.stats
	}
	if handedOut == 0 {
		c.fail("nothing delivered", "no GROUP READ handed out anything in the whole run: nothing was tested")
	}
	timed, leaderTimed := 0, 0
	for _, g := range groups {
		timed += g.stats["redeliveries_timed"]
		leaderTimed += g.stats["leader_changes_timed"]
	}
	res.Stats["groups"] = perGroup
	res.Stats["handed_out"] = handedOut
	res.Stats["redeliveries"] = redelivered
	res.Stats["crashes"] = crashes
	res.Stats["clock_fault_windows"] = len(c.clock)
	res.Stats["violations_by_kind"] = c.kinds
	if res.Valid == "true" {
		res.Summary = fmt.Sprintf("%d groups: %d events handed out (%d redeliveries: %d timed against the ack wait, %d against a leader change), %d consumer crashes; "+
			"every event of each range acknowledged or parked after the drain, none lost, none handed out after its ack, none twice at once, every node agreeing",
			len(groups), handedOut, redelivered, timed, leaderTimed, crashes)
	}
	return res
}

// groupSummary: one row per group for summary.md.
func groupSummary(v *Verdict) string {
	var res *Result
	for _, c := range v.Checkers {
		if c.Name == "groups" {
			res = c
		}
	}
	if res == nil {
		return ""
	}
	per, ok := res.Stats["groups"].(map[string]map[string]int)
	if !ok || len(per) == 0 {
		return ""
	}
	names := sortedKeys(per)
	var b strings.Builder
	b.WriteString("\n## Consumer groups\n\n" +
		"| group | events | handed out | redeliveries | timed against the ack wait (closest, ms) | after a nack | in a clock fault | " +
		"timed against a takeover (within 2 ack waits; closest, ms) | acked | acked, unknown outcome | parked | held by crashed consumers |\n" +
		"|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, n := range names {
		s := per[n]
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d (%s) | %d | %d | %d (%d; %s) | %d | %d | %d | %d |\n", n, s["events"], s["handed_out"],
			s["redeliveries"], s["redeliveries_timed"], marginMs(s, "closest_redelivery_margin_us"), s["redeliveries_after_nack"],
			s["redeliveries_in_clock_faults"], s["leader_changes_timed"], s["leader_changes_close"], marginMs(s, "closest_takeover_margin_us"),
			s["acked"], s["acked_unknown_outcome"], s["parked"], s["held_by_crashed_consumers"])
	}
	return b.String()
}

// marginMs: a margin statistic (µs) in ms for the table, "-" if none.
func marginMs(s map[string]int, key string) string {
	us, ok := s[key]
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%+.3f", float64(us)/1000)
}
