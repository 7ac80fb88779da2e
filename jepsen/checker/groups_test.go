package main

// The consumer-groups checker proves itself: a history a correct cluster
// could produce passes, and each known-bad variant is caught as the kind
// of violation it is.

import (
	"strings"
	"testing"
)

// groupOpEntry adds one group operation: outcome "ok", "info" or an error
// name (a failure). result is merged into the completion.
func (f *fixture) groupOpEntry(p int, t0, t1 int64, fn, group, consumer, node, outcome string, inv Entry, result Entry) {
	f.nextOp++
	inv.Type, inv.Process, inv.Op, inv.F, inv.Time, inv.Group, inv.Consumer, inv.Node = "invoke", p, f.nextOp, fn, ms(t0), group, consumer, node
	f.add(inv)
	done := inv
	done.Time = ms(t1)
	switch outcome {
	case "ok":
		done.Type = "ok"
		done.Acked, done.Returned, done.Delivered = result.Acked, result.Returned, result.Delivered
	case "info":
		done.Type, done.Error, done.Message = "info", "UNKNOWN", "UNKNOWN outcome unknown: leadership was lost"
	default:
		done.Type, done.Error, done.Message = "fail", outcome, outcome+" …"
	}
	f.add(done)
}

func (f *fixture) groupCreate(p int, t int64, group, node string, all bool, stream string, ackWaitMs int64, maxDel int) {
	f.groupOpEntry(p, t, t+1, "group_create", group, "", node, "ok",
		Entry{All: all, Stream: stream, AckWaitMs: ackWaitMs, MaxDeliveries: maxDel}, Entry{})
}

// groupRead: a READ that handed out these events, each "value/deliveries"
// (a value not in the final log becomes an event no node committed).
func (f *fixture) groupRead(p int, t0, t1 int64, group, consumer, node, outcome string, got ...string) {
	var ds []GroupEvent
	for _, g := range got {
		value, n, _ := strings.Cut(g, "/")
		ev := LogEvent{ID: eventID(9900), Stream: "s1", Version: 7, Value: value}
		for _, x := range f.log {
			if x.Value == value {
				ev = x
			}
		}
		ds = append(ds, GroupEvent{ID: ev.ID, Stream: ev.Stream, Version: ev.Version, Value: ev.Value, Deliveries: int(n[0] - '0')})
	}
	if ds == nil {
		ds = []GroupEvent{}
	}
	f.groupOpEntry(p, t0, t1, "group_read", group, consumer, node, outcome, Entry{Count: 10, BlockMs: 500}, Entry{Delivered: ds})
}

func (f *fixture) idsOf(values []string) []string {
	var ids []string
	for _, v := range values {
		ids = append(ids, f.lastDelivered(v))
	}
	return ids
}

func (f *fixture) groupAck(p int, t0, t1 int64, group, consumer, node, outcome string, acked int, values ...string) {
	f.groupOpEntry(p, t0, t1, "group_ack", group, consumer, node, outcome, Entry{IDs: f.idsOf(values)}, Entry{Acked: &acked})
}

func (f *fixture) groupNack(p int, t0, t1 int64, group, consumer, node string, park bool, values ...string) {
	one := len(values)
	f.groupOpEntry(p, t0, t1, "group_nack", group, consumer, node, "ok", Entry{IDs: f.idsOf(values), Park: park}, Entry{Returned: &one})
}

// groupFinal: the final state on every node (n2 the leader), as the runner
// records it after the drain.
func (f *fixture) groupFinal(t int64, group string, info GroupInfo, pending []GroupPending, parked []GroupParked) {
	for _, node := range []string{"n2", "n1", "n3"} {
		i := info
		f.add(Entry{Type: "info", Process: -1, F: "group_final", Time: ms(t), Group: group, Node: node, Leader: node == "n2",
			Info: &i, Pending: pending, Parked: parked, Complete: true})
	}
}

func u64(v uint64) *uint64 { return &v }

// withGroups: good() (final log a b d g, ids 1-4; a b g in s1, d in s2)
// plus two groups a correct cluster could serve. gall (the global log,
// ack wait 2 s, 3 deliveries): c0 acks a and forgets b; c1 gives d back
// and acks g; c0 gets d again at once and acks it; b comes back to c1
// after its ack wait, c1 crashes holding it; n1 is killed and n2 leads;
// b goes to c0 a third time, which forgets it, and the group parks it.
// gs2 (stream s2, ack wait 1 s): d, acked by c0 after an ACK whose
// outcome was unknown.
func withGroups() *fixture {
	f := good()
	f.groupCreate(20, 400, "gall", "n1", true, "", 2000, 3)
	f.groupCreate(20, 402, "gs2", "n1", false, "s2", 1000, 0)
	f.groupRead(20, 500, 510, "gall", "c0", "n1", "ok", "a/1", "b/1")
	f.groupAck(20, 520, 530, "gall", "c0", "n1", "ok", 1, "a")
	f.groupRead(21, 600, 610, "gall", "c1", "n1", "ok", "d/1", "g/1")
	f.groupNack(21, 620, 630, "gall", "c1", "n1", false, "d")
	f.groupAck(21, 640, 650, "gall", "c1", "n1", "ok", 1, "g")
	f.groupRead(20, 700, 710, "gall", "c0", "n1", "ok", "d/2")
	f.groupAck(20, 720, 730, "gall", "c0", "n1", "ok", 1, "d")
	f.groupRead(20, 800, 805, "gs2", "c0", "n1", "ok", "d/1")
	f.groupAck(20, 810, 6000, "gs2", "c0", "n1", "info", 0, "d")
	f.groupRead(21, 2600, 2610, "gall", "c1", "n1", "ok", "b/2")
	f.add(Entry{Type: "info", Process: 21, F: "group_crash", Time: ms(2620), Consumer: "c1", Node: "n1",
		Held: []HeldEvent{{Group: "gall", ID: f.lastDelivered("b")}}})
	f.nemesis(3000, "kill-leader", "start", "n1")
	f.faultCheck(3001, "kill-leader", true, "n1")
	f.groupRead(21, 3100, 3200, "gall", "c1.1", "n3", "MOVED")
	f.groupRead(20, 4700, 4710, "gall", "c0", "n2", "ok", "b/3")
	f.groupRead(21, 4800, 9000, "gall", "c1.1", "n2", "info")
	f.nemesis(5000, "kill-leader", "stop", "n1")
	f.groupAck(20, 6100, 6110, "gs2", "c0", "n2", "ok", 0, "d")
	f.groupRead(20, 6800, 6810, "gall", "c0", "n2", "ok")
	f.add(Entry{Type: "info", Process: -1, F: "group_drain", Time: ms(9100), Phase: "start"})
	f.add(Entry{Type: "info", Process: -1, F: "group_drain", Time: ms(9200), Phase: "stop", Drained: boolp(true)})
	b := f.lastDelivered("b")
	f.groupFinal(9300, "gall", GroupInfo{Group: "gall", All: true, AckWaitMs: 2000, MaxDeliveries: 3, AfterID: strp(eventID(4)),
		Position: u64(4), Parked: 1, Delivered: 7, Acked: 3}, nil,
		[]GroupParked{{ID: b, Consumer: "c0", Deliveries: 3, Reason: "max_deliveries"}})
	f.groupFinal(9300, "gs2", GroupInfo{Group: "gs2", Stream: "s2", AckWaitMs: 1000, NextVersion: u64(1), Delivered: 1, Acked: 1}, nil, nil)
	return f
}

// dropOps removes the group operations (invoke and completion) matching
// keep == false.
func (f *fixture) dropOps(drop func(e *Entry) bool) {
	ops := map[int64]bool{}
	for _, e := range f.entries {
		if e.Type == "invoke" && drop(e) {
			ops[e.Op] = true
		}
	}
	var kept []*Entry
	for _, e := range f.entries {
		if e.Op == 0 || !ops[e.Op] {
			kept = append(kept, e)
		}
	}
	f.entries = kept
}

// expectGroupViolation: the groups checker caught it as this kind and no
// other, and no other checker failed.
func expectGroupViolation(t *testing.T, v *Verdict, want, kind string) {
	t.Helper()
	expectKind(t, v, "groups", want, kind)
}

// finals lets edit change every node's final state of group.
func (f *fixture) finals(group string, edit func(e *Entry)) {
	for _, e := range f.entries {
		if e.F == "group_final" && e.Group == group {
			edit(e)
		}
	}
}

// moveC1Read: c1's READ that got b a second time (2.6 s) happens at t
// instead (its reply 10 ms later).
func (f *fixture) moveC1Read(t int64) {
	for _, e := range f.entries {
		if e.F == "group_read" && e.Consumer == "c1" && e.Time == ms(2600) {
			e.Time = ms(t)
		} else if e.F == "group_read" && e.Consumer == "c1" && e.Time == ms(2610) {
			e.Time = ms(t + 10)
		}
	}
}

func TestGoodGroupsPass(t *testing.T) {
	f := withGroups()
	v := expectValid(t, f, "correct groups were")
	r := checkerResult(v, "groups")
	all := r.Stats["groups"].(map[string]map[string]int)["gall"]
	if r.Stats["handed_out"] != 8 || r.Stats["redeliveries"] != 3 || all["redeliveries_timed"] != 2 ||
		all["redeliveries_after_nack"] != 1 || all["leader_changes_timed"] != 1 || all["parked"] != 1 || all["acked"] != 3 {
		t.Fatalf("groups statistics: %v %v", r.Stats, all)
	}
	if !strings.Contains(summary(v, f.history(t)), "## Consumer groups") {
		t.Fatal("summary.md has no consumer-group table")
	}
}

// Histories from before the group workload (and a run with it switched
// off) still pass.
func TestNoGroups(t *testing.T) {
	for _, f := range []*fixture{good(), withSubscribers()} {
		v := verdictOf(t, f, f.final3())
		if r := checkerResult(v, "groups"); v.Valid != "true" || r.Valid != "true" || r.Summary != "no consumer group in this history" {
			t.Fatalf("a history without groups: %q, groups %q %q", v.Valid, r.Valid, r.Summary)
		}
	}
}

// The server skipped g: its position passed it, nobody ever got it.
func TestGroupLostEvent(t *testing.T) {
	f := withGroups()
	f.dropOps(func(e *Entry) bool { return e.F == "group_ack" && e.Consumer == "c1" })
	for _, e := range f.entries {
		if e.F == "group_read" && e.Consumer == "c1" && len(e.Delivered) == 2 {
			e.Delivered = e.Delivered[:1]
		}
	}
	f.finals("gall", func(e *Entry) { e.Info.Acked, e.Info.Delivered = 2, 6 })
	expectGroupViolation(t, verdictOf(t, f, f.final3()), "lost event: group gall counts "+eventID(4), "lost")
}

// b, forgotten by c0 at 0.5 s, handed to c1 at 1.5 s: its ack wait is 2 s.
func TestGroupRedeliveryBeforeAckWait(t *testing.T) {
	f := withGroups()
	f.moveC1Read(1500)
	expectGroupViolation(t, verdictOf(t, f, f.final3()), "two consumers held it at once", "early redelivery")
}

// The same redelivery is legal inside a clock fault: a leader's clock may
// run ahead (docs/protocol.md); it is counted, not timed.
func TestGroupEarlyRedeliveryInAClockFault(t *testing.T) {
	f := withGroups()
	f.moveC1Read(1500)
	f.clockFault(1200, 1400, true, true)
	v := expectValid(t, f, "a redelivery during a clock fault was")
	if got := checkerResult(v, "groups").Stats["groups"].(map[string]map[string]int)["gall"]["redeliveries_in_clock_faults"]; got != 1 {
		t.Fatalf("redeliveries in clock faults: %d", got)
	}
}

// One READ more than withGroups hands out, and the violation it is.
func TestGroupOneReadTooMany(t *testing.T) {
	cases := []struct {
		name       string
		t0         int64
		node       string
		got        []string
		want, kind string
	}{
		// a, acknowledged at 0.53 s, handed out again 2.2 s later
		{"redelivery after an acknowledged ack", 2700, "n1", []string{"a/2"}, "group gall delivered " + eventID(1), "delivered after ack"},
		// x: no node holds it after healing
		{"uncommitted event", 1000, "n1", []string{"x/1"}, "uncommitted event handed out", "uncommitted"},
		// n1 served this READ at 3.5 s; n2 led afterwards and redelivered b
		// 1.2 s later, as if its takeover had not started a new ack wait
		{"redelivery too soon after a leader change", 3500, "n1", nil, "a new leader must wait a whole ack wait", "early redelivery after a leader change"},
		// d's first delivery went to c1 at 0.6 s already
		{"one delivery to two READs", 605, "n1", []string{"d/1"}, "handed out one delivery twice", "duplicate delivery"},
		// b was parked after its third delivery
		{"more deliveries than max_deliveries", 6900, "n2", []string{"b/4"}, "max_deliveries 3", "max deliveries"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := withGroups()
			f.groupRead(22, c.t0, c.t0+10, "gall", "c2", c.node, "ok", c.got...)
			expectGroupViolation(t, verdictOf(t, f, f.final3()), c.want, c.kind)
		})
	}
}

func TestGroupDeliveriesBackwards(t *testing.T) {
	f := withGroups()
	for _, e := range f.entries {
		if e.F == "group_read" && len(e.Delivered) == 1 && e.Delivered[0].Value == "b" {
			e.Delivered[0].Deliveries = 5 - e.Delivered[0].Deliveries // b: 3 at 2.6 s, 2 at 4.7 s
		}
	}
	f.finals("gall", func(e *Entry) { e.Info.MaxDeliveries, e.Parked[0].Reason = 0, "nack" })
	for _, e := range f.entries {
		if e.F == "group_create" && e.Group == "gall" {
			e.MaxDeliveries = 0
		}
	}
	expectGroupViolation(t, verdictOf(t, f, f.final3()), "delivery count went back", "deliveries backwards")
}

// An event acknowledged and still pending after the drain.
func TestGroupAckedEventStillPending(t *testing.T) {
	f := withGroups()
	f.finals("gall", func(e *Entry) {
		e.Pending = []GroupPending{{ID: f.lastDelivered("g"), Consumer: strp("c1"), Deliveries: 1}}
		e.Info.Pending = 1
	})
	expectCaught(t, verdictOf(t, f, f.final3()), "though op", "groups")
}

// The drain did not finish: b still pending.
func TestGroupUnfinished(t *testing.T) {
	f := withGroups()
	f.finals("gall", func(e *Entry) {
		e.Pending = []GroupPending{{ID: e.Parked[0].ID, Consumer: strp("c0"), Deliveries: 3}}
		e.Parked = nil
		e.Info.Pending, e.Info.Parked = 1, 0
	})
	expectGroupViolation(t, verdictOf(t, f, f.final3()), "still pending after the drain", "unfinished")
}

func TestGroupNodesDisagree(t *testing.T) {
	f := withGroups()
	f.finals("gall", func(e *Entry) {
		if e.Node == "n3" {
			e.Parked = nil
		}
	})
	expectGroupViolation(t, verdictOf(t, f, f.final3()), "n3's final state differs", "diverged")
}

func TestGroupAckedCounterWrong(t *testing.T) {
	f := withGroups()
	f.finals("gall", func(e *Entry) { e.Info.Acked = 4 })
	expectGroupViolation(t, verdictOf(t, f, f.final3()), "INFO says 4 acked", "counters")
}

// The position went back: a new event handed out after a later one.
func TestGroupNewEventsOutOfOrder(t *testing.T) {
	f := withGroups()
	for _, e := range f.entries {
		if e.F == "group_read" && e.Consumer == "c0" && len(e.Delivered) == 2 {
			e.Delivered = e.Delivered[1:] // c0 got only b at 0.5 s ...
		}
	}
	f.groupRead(22, 1000, 1010, "gall", "c2", "n1", "ok", "a/1") // ... and a came after d and g
	expectCaught(t, verdictOf(t, f, f.final3()), "handed out a new event behind its position", "groups")
}

func TestGroupAckRefused(t *testing.T) {
	f := withGroups()
	g := f.lastDelivered("g")
	f.groupAck(22, 1000, 1010, "gall", "c2", "n1", "NOTDELIVERED", 0, "g")
	f.entries[len(f.entries)-1].Message = "NOTDELIVERED event " + g + " was never delivered by group \"gall\"; nothing was acked"
	expectGroupViolation(t, verdictOf(t, f, f.final3()), "refused", "ack refused")
}

func TestGroupWithoutFinalState(t *testing.T) {
	f := withGroups()
	var kept []*Entry
	for _, e := range f.entries {
		if e.F != "group_final" || e.Group != "gall" {
			kept = append(kept, e)
		}
	}
	f.entries = kept
	expectGroupViolation(t, verdictOf(t, f, f.final3()), "no final state", "final state")
}

func TestGroupsThatHandedOutNothing(t *testing.T) {
	f := good()
	f.groupCreate(20, 400, "gall", "n1", true, "", 2000, 3)
	f.groupFinal(9300, "gall", GroupInfo{Group: "gall", All: true, AckWaitMs: 2000, MaxDeliveries: 3, Position: u64(0), Lag: 4}, nil, nil)
	expectCaught(t, verdictOf(t, f, f.final3()), "nothing was tested", "groups")
}
