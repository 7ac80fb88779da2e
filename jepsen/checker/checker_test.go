package main

// The checker proves itself: a known-good history passes every checker,
// and each known-bad history is caught by the checker meant for it.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fixture builds a history and the final logs it should be judged against.
type fixture struct {
	log     []LogEvent // the final log every node holds (unless changed)
	entries []*Entry
	nextOp  int64
}

func eventID(n int) string { return fmt.Sprintf("01HZZZZZZZZZZZZZ%010d", n) }

func rawEvent(id, stream string, version uint64, value string) string {
	return fmt.Sprintf(`{"id":"%s","stream":"%s","version":%d,"type":"T","data":"%s","metadata":null,"causation_id":"%s","correlation_id":"%s","added_at":"2026-01-01T00:00:00.000000000Z"}`,
		id, stream, version, value, id, id)
}

// newFixture: the final log, as "stream:value" in log order.
func newFixture(order ...string) *fixture {
	f := &fixture{}
	lengths := map[string]uint64{}
	for i, s := range order {
		stream, value, _ := strings.Cut(s, ":")
		id := eventID(i + 1)
		v := lengths[stream]
		lengths[stream]++
		f.log = append(f.log, LogEvent{Raw: rawEvent(id, stream, v, value), ID: id, Stream: stream, Version: v,
			Data: json.RawMessage(`"` + value + `"`), Value: value})
	}
	return f
}

func (f *fixture) find(value string) LogEvent {
	for _, ev := range f.log {
		if ev.Value == value {
			return ev
		}
	}
	panic("fixture: no event with value " + value)
}

func (f *fixture) add(e Entry) { c := e; f.entries = append(f.entries, &c) }

func ms(t int64) int64 { return t * int64(time.Millisecond) }

// appendOp: outcome "ok", "info" or an error name for a failure.
func (f *fixture) appendOp(p int, t0, t1 int64, stream string, exp int64, outcome string, values ...string) {
	f.nextOp++
	e := exp
	f.add(Entry{Type: "invoke", Process: p, Op: f.nextOp, F: "append", Time: ms(t0), Stream: stream, Expected: &e, Values: values})
	done := Entry{Process: p, Op: f.nextOp, F: "append", Time: ms(t1), Stream: stream, Node: "n1"}
	switch outcome {
	case "ok":
		done.Type = "ok"
		for _, v := range values {
			ev := f.find(v)
			done.Events = append(done.Events, AckEvent{ID: ev.ID, Version: ev.Version})
		}
	case "info":
		done.Type, done.Error = "info", "EF_EUNKNOWN"
	default:
		done.Type, done.Error = "fail", outcome
	}
	f.add(done)
}

// readOp: a GET of the whole stream that returned these values (taken from
// the final log; a value not in it becomes a phantom event).
func (f *fixture) readOp(p int, t0, t1 int64, stream, mode, node string, values ...string) {
	var read []ReadEvent
	for i, v := range values {
		ev := LogEvent{ID: eventID(9000 + i), Stream: stream, Version: uint64(i), Value: v}
		for _, x := range f.log {
			if x.Value == v {
				ev = x
			}
		}
		read = append(read, ReadEvent{ID: ev.ID, Stream: ev.Stream, Version: ev.Version, Value: ev.Value})
	}
	f.nextOp++
	f.add(Entry{Type: "invoke", Process: p, Op: f.nextOp, F: "read", Time: ms(t0), Stream: stream, Mode: mode})
	f.add(Entry{Type: "ok", Process: p, Op: f.nextOp, F: "read", Time: ms(t1), Stream: stream, Mode: mode, Node: node, Read: read})
}

func (f *fixture) readAllOp(p int, t0, t1 int64, after string, limit int, mode, node string, values ...string) {
	var read []ReadEvent
	for _, v := range values {
		ev := f.find(v)
		read = append(read, ReadEvent{ID: ev.ID, Stream: ev.Stream, Version: ev.Version, Value: ev.Value})
	}
	f.nextOp++
	f.add(Entry{Type: "invoke", Process: p, Op: f.nextOp, F: "read_all", Time: ms(t0), After: after, Limit: limit, Mode: mode})
	f.add(Entry{Type: "ok", Process: p, Op: f.nextOp, F: "read_all", Time: ms(t1), After: after, Limit: limit, Mode: mode, Node: node, Read: read})
}

func (f *fixture) nemesis(t int64, fault, phase string, nodes ...string) {
	f.add(Entry{Type: "info", Process: -1, F: "nemesis", Time: ms(t), Fault: fault, Phase: phase, Nodes: nodes})
}

// faultCheck adds the runner's check that a fault took effect (verified
// or not), as nemesis.c records it.
func (f *fixture) faultCheck(t int64, fault string, ok bool, nodes ...string) {
	f.add(Entry{Type: "info", Process: -1, F: "nemesis", Time: ms(t), Fault: fault, Phase: "check", Nodes: nodes,
		Value: "checked", Verified: &ok})
}

// history goes through JSON lines and the parser, as a real run does.
func (f *fixture) history(t *testing.T) *History {
	t.Helper()
	var b strings.Builder
	for i, e := range f.entries {
		e.Index = i
		line, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	h, err := parseHistory([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func finalOf(logs ...[]LogEvent) *Final {
	f := &Final{Converged: true}
	for i, l := range logs {
		n := &NodeFinal{Name: fmt.Sprintf("n%d", i+1), ID: uint64(i + 1), Address: fmt.Sprintf("10.77.0.%d:6543", 11+i),
			Reachable: true, Checksum: "SAME", Events: uint64(len(l)), LastID: "00000000000000000000000000", Log: l}
		if len(l) > 0 {
			n.LastID = l[len(l)-1].ID
		}
		f.Nodes = append(f.Nodes, n)
	}
	return f
}

func (f *fixture) final3() *Final { return finalOf(f.log, f.log, f.log) }

// good: a history a correct cluster could produce, with concurrency,
// version conflicts, unknown outcomes (one applied, one not), follower
// reads that lag, and linearizable reads.
func good() *fixture {
	f := newFixture("s1:a", "s1:b", "s2:d", "s1:g")
	f.appendOp(0, 0, 20, "s1", 0, "ok", "a")
	f.appendOp(1, 10, 30, "s1", anyVersion, "ok", "b")
	f.readOp(2, 40, 50, "s1", "linearizable", "n1", "a", "b")
	f.appendOp(0, 60, 70, "s1", 0, "EF_ECONFLICT", "c")
	f.appendOp(1, 80, 90, "s2", 0, "info", "d") // applied, outcome unknown
	f.appendOp(1, 100, 110, "s2", 5, "EF_EGAP", "e")
	f.appendOp(3, 100, 120, "s3", anyVersion, "info", "f") // never applied
	f.readAllOp(2, 115, 125, "", 100, "linearizable", "n1", "a", "b", "d")
	f.readOp(3, 130, 140, "s1", "local", "n2", "a") // a lagging follower
	f.readOp(3, 150, 160, "s1", "local", "n2", "a", "b")
	f.readOp(0, 170, 180, "s1", "ryw", "n3", "a", "b")
	f.appendOp(0, 190, 200, "s1", 2, "ok", "g")
	f.readOp(0, 210, 220, "s1", "ryw", "n2", "a", "b", "g")
	f.readAllOp(2, 230, 240, eventID(2), 100, "linearizable", "n1", "d", "g")
	f.readAllOp(2, 250, 260, "", 2, "local", "n3", "a", "b") // a full page
	f.readOp(2, 270, 280, "s1", "linearizable", "n1", "a", "b", "g")
	f.readAllOp(3, 290, 300, eventID(2), 100, "ryw", "n3", "d", "g")
	return f
}

func verdictOf(t *testing.T, f *fixture, final *Final) *Verdict {
	t.Helper()
	return checkAll(f.history(t), final, "", LinOptions{Timeout: 30 * time.Second})
}

func checkerResult(v *Verdict, name string) *Result {
	for _, c := range v.Checkers {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// expectCaught asserts the run is invalid, that every named checker failed
// with a message containing want, and that no other checker passed by
// accident is required: others may fail too (a lost write also makes reads
// odd), but the named ones must.
func expectCaught(t *testing.T, v *Verdict, want string, checkers ...string) {
	t.Helper()
	if v.Valid != "false" {
		t.Fatalf("verdict %q, want false:\n%s", v.Valid, dump(v))
	}
	for _, name := range checkers {
		c := checkerResult(v, name)
		if c == nil || c.Valid != "false" {
			t.Fatalf("checker %s did not catch it:\n%s", name, dump(v))
		}
		found := false
		for _, e := range c.Errors {
			if strings.Contains(e, want) {
				found = true
			}
		}
		if !found {
			t.Fatalf("checker %s failed but no error mentions %q:\n%s", name, want, dump(v))
		}
	}
}

func dump(v *Verdict) string {
	b, _ := json.MarshalIndent(v.Checkers, "", "  ")
	return string(b)
}

func TestGoodHistoryPasses(t *testing.T) {
	f := good()
	v := verdictOf(t, f, f.final3())
	if v.Valid != "true" {
		t.Fatalf("a correct history was judged %q:\n%s", v.Valid, dump(v))
	}
	if got := checkerResult(v, "linearizable-streams").Stats["operations"]; got != 8 {
		t.Fatalf("linearizable-streams checked %v operations, want 8 (appends with a known outcome + linearizable reads)", got)
	}
}

func TestLostAcknowledgedWrite(t *testing.T) {
	f := good()
	f.log = f.log[:3] // "g" was acknowledged, then vanished everywhere
	v := verdictOf(t, f, f.final3())
	expectCaught(t, v, "lost acknowledged write", "writes")
}

func TestDuplicateEvent(t *testing.T) {
	f := good()
	dup := f.log[1]
	dup.ID = eventID(5)
	dup.Version = 3
	dup.Raw = rawEvent(dup.ID, "s1", 3, "b")
	f.log = append(f.log, dup) // "b" applied twice: a retry that was not deduplicated
	v := verdictOf(t, f, f.final3())
	expectCaught(t, v, "duplicate event", "log-structure")
}

func TestStaleLinearizableStreamRead(t *testing.T) {
	f := good()
	// "g" was acknowledged at 200 ms; a linearizable read that began after
	// that must see it.
	f.readOp(4, 300, 310, "s1", "linearizable", "n2", "a", "b")
	v := verdictOf(t, f, f.final3())
	expectCaught(t, v, "not linearizable", "linearizable-streams")
	if c := checkerResult(v, "read-prefix"); c.Valid != "true" {
		t.Fatalf("a stale read is still a prefix; read-prefix said:\n%s", dump(v))
	}
}

func TestStaleLinearizableLogRead(t *testing.T) {
	f := good()
	f.readAllOp(4, 300, 310, "", 100, "linearizable", "n2", "a", "b", "d")
	v := verdictOf(t, f, f.final3())
	expectCaught(t, v, "stale linearizable read", "log-realtime")
	expectCaught(t, v, "not linearizable", "linearizable-log")
}

func TestStaleReadOfALocalReadIsAllowed(t *testing.T) {
	f := good()
	f.readOp(4, 300, 310, "s1", "local", "n2", "a", "b") // lagging, but local
	v := verdictOf(t, f, f.final3())
	if v.Valid != "true" {
		t.Fatalf("a lagging local read is legal:\n%s", dump(v))
	}
}

func TestDivergentNode(t *testing.T) {
	f := good()
	other := append([]LogEvent(nil), f.log...)
	ev := other[2]
	ev.Raw = strings.Replace(ev.Raw, `"type":"T"`, `"type":"U"`, 1) // same id, other bytes
	other[2] = ev
	final := finalOf(f.log, f.log, other)
	final.Nodes[2].Checksum = "OTHER"
	v := verdictOf(t, f, final)
	expectCaught(t, v, "diverges", "convergence")
	expectCaught(t, v, "checksum", "convergence")
}

// Same events, but one node applied the group operations otherwise.
func TestDivergentGroupState(t *testing.T) {
	f := good()
	final := finalOf(f.log, f.log, f.log)
	for _, n := range final.Nodes {
		n.StateDigest, n.StateIndex = "0123456789abcdef", 40
	}
	final.Nodes[1].StateDigest = "fedcba9876543210"
	v := verdictOf(t, f, final)
	expectCaught(t, v, "state digest", "convergence")
}

func TestNodeBehind(t *testing.T) {
	f := good()
	final := finalOf(f.log, f.log, f.log[:2])
	v := verdictOf(t, f, final)
	expectCaught(t, v, "has 2 events", "convergence")
}

func TestUnreachableNode(t *testing.T) {
	f := good()
	final := f.final3()
	final.Nodes[1].Reachable, final.Nodes[1].Log, final.Nodes[1].Error = false, nil, "connection refused"
	v := verdictOf(t, f, final)
	expectCaught(t, v, "did not answer", "convergence")
}

func TestNonPrefixFollowerRead(t *testing.T) {
	f := good()
	// a follower served "b" before "a": the final log disagrees
	f.readOp(3, 300, 310, "s1", "local", "n2", "b", "a")
	v := verdictOf(t, f, f.final3())
	expectCaught(t, v, "non-prefix read", "read-prefix")
}

func TestPhantomFollowerRead(t *testing.T) {
	f := good()
	f.readOp(3, 300, 310, "s1", "local", "n2", "a", "b", "g", "zz") // zz was never committed
	v := verdictOf(t, f, f.final3())
	expectCaught(t, v, "non-prefix read", "read-prefix")
}

func TestNonPrefixReadAll(t *testing.T) {
	f := good()
	f.readAllOp(3, 300, 310, eventID(1), 100, "local", "n2", "d") // skips b
	v := verdictOf(t, f, f.final3())
	expectCaught(t, v, "non-prefix read", "read-prefix")
}

func TestNonMonotonicSession(t *testing.T) {
	f := good()
	f.readOp(3, 300, 310, "s1", "local", "n2", "a") // n2 showed a, b to this session at 160 ms
	v := verdictOf(t, f, f.final3())
	expectCaught(t, v, "non-monotonic read", "sessions")
}

func TestWipedNodeStartsANewEpoch(t *testing.T) {
	f := good()
	f.nemesis(290, "wipe", "start", "n2")
	f.readOp(3, 300, 310, "s1", "local", "n2", "a") // a new node in that slot, catching up
	v := verdictOf(t, f, f.final3())
	if v.Valid != "true" {
		t.Fatalf("a read from a re-joined node was judged against its predecessor:\n%s", dump(v))
	}
}

func TestReadYourWritesViolated(t *testing.T) {
	f := good()
	f.readOp(0, 300, 310, "s1", "ryw", "n3", "a", "b") // misses g, which process 0 wrote
	v := verdictOf(t, f, f.final3())
	expectCaught(t, v, "read-your-writes violated", "sessions")
}

func TestFailedWriteApplied(t *testing.T) {
	f := newFixture("s1:a", "s1:b")
	f.appendOp(0, 0, 10, "s1", 0, "ok", "a")
	f.appendOp(1, 20, 30, "s1", anyVersion, "EF_EUNAVAILABLE", "b") // said "nothing written"
	v := verdictOf(t, f, f.final3())
	expectCaught(t, v, "failed write applied", "writes")
}

func TestPhantomEvent(t *testing.T) {
	f := newFixture("s1:a", "s1:x")
	f.appendOp(0, 0, 10, "s1", 0, "ok", "a")
	v := verdictOf(t, f, f.final3())
	expectCaught(t, v, "phantom event", "writes")
}

func TestVersionGap(t *testing.T) {
	f := good()
	ev := f.log[3]
	ev.Version = 5
	ev.Raw = rawEvent(ev.ID, "s1", 5, "g")
	f.log[3] = ev
	v := verdictOf(t, f, f.final3())
	expectCaught(t, v, "dense", "log-structure")
}

func TestExpectedVersionIgnored(t *testing.T) {
	f := newFixture("s1:a", "s1:b")
	f.appendOp(0, 0, 10, "s1", 0, "ok", "a")
	f.appendOp(1, 20, 30, "s1", 0, "info", "b") // expected 0 but landed at 1
	v := verdictOf(t, f, f.final3())
	expectCaught(t, v, "expected version ignored", "writes")
	expectCaught(t, v, "not linearizable", "linearizable-streams")
}

func TestTornBatch(t *testing.T) {
	f := newFixture("s1:a")
	f.appendOp(0, 0, 10, "s1", 0, "info", "a", "a2")
	v := verdictOf(t, f, f.final3())
	expectCaught(t, v, "torn batch", "writes")
}

func TestRealTimeOrderOfAppends(t *testing.T) {
	// b completed before a began, yet a is first in the log.
	f := newFixture("s1:a", "s2:b")
	f.appendOp(1, 0, 10, "s2", anyVersion, "ok", "b")
	f.appendOp(0, 20, 30, "s1", anyVersion, "ok", "a")
	v := verdictOf(t, f, f.final3())
	expectCaught(t, v, "real-time order violated", "log-realtime")
	expectCaught(t, v, "not linearizable", "linearizable-log")
}

func TestReadFromTheFuture(t *testing.T) {
	f := newFixture("s1:a", "s1:b")
	f.appendOp(0, 0, 10, "s1", anyVersion, "ok", "a")
	f.readAllOp(2, 20, 30, "", 100, "linearizable", "n1", "a", "b")
	f.appendOp(1, 40, 50, "s1", anyVersion, "ok", "b")
	v := verdictOf(t, f, f.final3())
	expectCaught(t, v, "read from the future", "log-realtime")
}

func TestLostAckedWriteAtTheAcknowledgedPlace(t *testing.T) {
	// The value is in the log, but not where the acknowledgement put it.
	f := newFixture("s1:a", "s1:b")
	f.appendOp(0, 0, 10, "s1", anyVersion, "ok", "a")
	f.appendOp(1, 20, 30, "s1", anyVersion, "ok", "b")
	f.entries[3].Events[0].ID = eventID(7)
	v := verdictOf(t, f, f.final3())
	expectCaught(t, v, "acknowledged write moved", "writes")
}

func TestCrashInNodeLog(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "nodes"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, "nodes", name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("n1.log", "2026-01-01T00:00:00.000Z INFO  node=1 role=leader    fine\n")
	write("exits.jsonl", `{"node":"n1","pid":10,"exit_code":-1,"signal":9,"expected":true,"why":"kill"}`+"\n")
	if r := checkNodeLogs(dir); r.Valid != "true" {
		t.Fatalf("clean logs judged %q: %v", r.Valid, r.Errors)
	}
	write("n2.log", "eventflowd: src/store/codec.c:1121: codec_write_event: Assertion `x' failed.\n")
	write("exits.jsonl", `{"node":"n2","pid":11,"exit_code":-1,"signal":6,"expected":false}`+"\n")
	r := checkNodeLogs(dir)
	if r.Valid != "false" || r.ErrorCount != 2 {
		t.Fatalf("an assertion failure and a SIGABRT were not both caught: %v", r.Errors)
	}
}

// A full run folder through main's code path: files in, verdict files out.
func TestRunFolder(t *testing.T) {
	f := good()
	f.readOp(4, 300, 310, "s1", "linearizable", "n2", "a", "b") // stale
	dir := t.TempDir()
	h := f.history(t)
	var b strings.Builder
	for _, e := range h.Entries {
		line, _ := json.Marshal(e)
		b.Write(line)
		b.WriteByte('\n')
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "history.jsonl"), []byte(b.String()), 0o644))
	must(os.MkdirAll(filepath.Join(dir, "final"), 0o755))
	final := f.final3()
	for _, n := range final.Nodes {
		n.LogFile = n.Name + ".jsonl"
		var lb strings.Builder
		for _, ev := range n.Log {
			lb.WriteString(ev.Raw + "\n")
		}
		must(os.WriteFile(filepath.Join(dir, "final", n.LogFile), []byte(lb.String()), 0o644))
	}
	nodes, _ := json.Marshal(final)
	must(os.WriteFile(filepath.Join(dir, "final", "nodes.json"), nodes, 0o644))
	loaded, err := loadFinal(filepath.Join(dir, "final"))
	must(err)
	v := checkAll(h, loaded, dir, LinOptions{Timeout: 30 * time.Second})
	expectCaught(t, v, "not linearizable", "linearizable-streams")
	if _, err := os.Stat(filepath.Join(dir, "linearizable-streams.html")); err != nil {
		t.Fatalf("no porcupine visualization for the failure: %v", err)
	}
	if !strings.Contains(summary(v, h), "# Jepsen run: FAIL") {
		t.Fatal("summary does not say FAIL")
	}
}

func TestEmptyPageFromALaggingFollowerIsLegal(t *testing.T) {
	f := good()
	// n3 has only "a": after "d" it has nothing, and from the start it has one event.
	f.readAllOp(5, 300, 310, eventID(3), 100, "local", "n3")
	f.readAllOp(5, 320, 330, "", 100, "local", "n3", "a")
	v := verdictOf(t, f, f.final3())
	if v.Valid != "true" {
		t.Fatalf("an empty page from a lagging follower was judged:\n%s", dump(v))
	}
}

func TestStaleEmptyLinearizablePage(t *testing.T) {
	f := good()
	// "g" (position 4) was acknowledged at 200 ms: nothing after "d" is stale.
	f.readAllOp(5, 300, 310, eventID(3), 100, "linearizable", "n1")
	v := verdictOf(t, f, f.final3())
	expectCaught(t, v, "stale linearizable read", "log-realtime")
	expectCaught(t, v, "not linearizable", "linearizable-log")
}

func TestNonMonotonicEmptyPage(t *testing.T) {
	f := good()
	f.readAllOp(5, 300, 310, "", 100, "local", "n3", "a", "b", "d")
	f.readAllOp(5, 320, 330, eventID(1), 100, "local", "n3") // n3 now has nothing after "a"
	v := verdictOf(t, f, f.final3())
	expectCaught(t, v, "non-monotonic read", "sessions")
}

func TestEmptyRunDoesNotPass(t *testing.T) {
	f := newFixture()
	v := verdictOf(t, f, f.final3())
	expectCaught(t, v, "no successful append", "coverage")
	expectCaught(t, v, "final log is empty", "coverage")
}

// clockFault adds a clock fault on n2 from t0 to t1 (ms) as the runner
// records it: start, the check of the restarted node, the transfer, and
// the stop with its own check. verified are the two checks' outcomes.
func (f *fixture) clockFault(t0, t1 int64, start, stop bool) {
	yes := true
	f.add(Entry{Type: "info", Process: -1, F: "nemesis", Time: ms(t0), Fault: "clock", Phase: "start", Nodes: []string{"n2"},
		Value: `restarted under libfaketime "+120s" (wall clock only)`})
	f.add(Entry{Type: "info", Process: -1, F: "nemesis", Time: ms(t0 + 1), Fault: "clock", Phase: "check", Nodes: []string{"n2"},
		Value: "n2 answers; its clock is off by +120.002 s (set: +120 s)", Verified: &start})
	f.add(Entry{Type: "info", Process: -1, F: "nemesis", Time: ms(t0 + 2), Fault: "clock", Phase: "transfer", Nodes: []string{"n2"},
		Value: "leadership moved to n2", Transferred: &yes})
	f.add(Entry{Type: "info", Process: -1, F: "nemesis", Time: ms(t1), Fault: "clock", Phase: "stop", Nodes: []string{"n2"},
		Value: "restarted with the true clock", Verified: &stop})
}

// validFaultStats: the history must pass; the faults checker's statistics.
func validFaultStats(t *testing.T, f *fixture, what string) map[string]any {
	t.Helper()
	v := verdictOf(t, f, f.final3())
	if v.Valid != "true" {
		t.Fatalf("%s judged %q:\n%s", what, v.Valid, dump(v))
	}
	return checkerResult(v, "faults").Stats
}

func TestConfirmedClockFaultPasses(t *testing.T) {
	f := good()
	f.clockFault(20, 90, true, true)
	if s := validFaultStats(t, f, "a confirmed clock fault was"); s["clock_faults"] != 1 || s["leader_transfers_done"] != 1 {
		t.Fatalf("faults statistics: %v", s)
	}
}

// A node that never came up under libfaketime (or came up with its true
// clock) must not count as a clock fault.
func TestClockFaultThatDidNotApply(t *testing.T) {
	f := good()
	f.clockFault(20, 90, false, true)
	expectCaught(t, verdictOf(t, f, f.final3()), "did not take effect", "faults")
}

func TestClockNotRestoredAfterHeal(t *testing.T) {
	f := good()
	f.clockFault(20, 90, true, false)
	expectCaught(t, verdictOf(t, f, f.final3()), "did not take effect", "faults")
}

// A history from a runner that never checked its clock faults (as before
// the checks existed) is not evidence of clock faults.
func TestUncheckedClockFault(t *testing.T) {
	f := good()
	f.nemesis(20, "clock", "start", "n2")
	f.nemesis(90, "clock", "stop", "n2")
	expectCaught(t, verdictOf(t, f, f.final3()), "no check confirmed it", "faults")
}

// A live jump needs a check of its own.
func TestUncheckedLiveJump(t *testing.T) {
	f := good()
	yes := true
	f.add(Entry{Type: "info", Process: -1, F: "nemesis", Time: ms(20), Fault: "clock", Phase: "start", Nodes: []string{"n2"}})
	f.add(Entry{Type: "info", Process: -1, F: "nemesis", Time: ms(21), Fault: "clock", Phase: "check", Nodes: []string{"n2"}, Verified: &yes})
	f.nemesis(50, "clock", "jump", "n2")
	f.add(Entry{Type: "info", Process: -1, F: "nemesis", Time: ms(90), Fault: "clock", Phase: "stop", Nodes: []string{"n2"}, Verified: &yes})
	expectCaught(t, verdictOf(t, f, f.final3()), "before the heal", "faults")
}

// Every fault the runner injects must be confirmed by a check: a kill, a
// pause, a partition, a full disk, a membership change.
func TestCheckedFaultsPass(t *testing.T) {
	f := good()
	for i, fault := range []string{"kill-one", "pause-leader", "partition-half", "disk", "member"} {
		t0 := int64(20 + 10*i)
		f.nemesis(t0, fault, "start", "n2")
		f.faultCheck(t0+1, fault, true, "n2")
		f.nemesis(t0+5, fault, "stop", "n2")
	}
	if s := validFaultStats(t, f, "confirmed faults were"); s["faults_injected"] != 5 || s["faults_verified"] != 5 {
		t.Fatalf("faults statistics: %v", s)
	}
}

// A kill (or any fault) whose check failed: the fault did not happen.
func TestFaultThatDidNotHappen(t *testing.T) {
	for _, fault := range []string{"kill-one", "pause-one", "partition-leader", "disk", "member", "snapshot"} {
		f := good()
		f.nemesis(20, fault, "start", "n2")
		f.faultCheck(21, fault, false, "n2")
		f.nemesis(30, fault, "stop", "n2")
		v := verdictOf(t, f, f.final3())
		expectCaught(t, v, fault+" fault on n2", "faults")
		if s := checkerResult(v, "faults").Stats; s["faults_injected"] != 1 || s["faults_verified"] != 0 {
			t.Fatalf("%s: faults statistics: %v", fault, s)
		}
	}
}

// A fault no check confirmed is not evidence of that fault.
func TestUncheckedFault(t *testing.T) {
	f := good()
	f.nemesis(20, "partition-half", "start", "n2")
	f.nemesis(30, "partition-half", "stop", "n2")
	f.nemesis(40, "partition-half", "start", "n3")
	f.faultCheck(41, "partition-half", true, "n3", "n1")
	expectCaught(t, verdictOf(t, f, f.final3()), "no check confirmed it before the next one", "faults")
	f = good()
	f.nemesis(20, "kill-one", "start", "n2")
	expectCaught(t, verdictOf(t, f, f.final3()), "no check confirmed it before the run ended", "faults")
}

// A start that names no node injected nothing (no victim to pick).
func TestFaultWithoutVictimNeedsNoCheck(t *testing.T) {
	f := good()
	f.nemesis(20, "member", "start")
	if s := validFaultStats(t, f, "a fault without a victim was"); s["faults_injected"] != 0 {
		t.Fatalf("faults statistics: %v", s)
	}
}

// nodeLogDir writes node logs and exits.jsonl into a results folder.
func nodeLogDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "nodes"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, "nodes", name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func expectNodeLogFailure(t *testing.T, r *Result, want string) {
	t.Helper()
	if r.Valid != "false" {
		t.Fatalf("node-logs judged %q, want false", r.Valid)
	}
	for _, e := range r.Errors {
		if strings.Contains(e, want) {
			return
		}
	}
	t.Fatalf("no node-logs error mentions %q: %v", want, r.Errors)
}

const startedLine = "2026-01-01T00:00:00.100Z INFO  node=2 role=follower  started: raft 10.77.0.12:7543, clients 10.77.0.12:6543, data /d, incarnation 1, eventflowd 0.1.0, malloc system\n"

// The jemalloc hang: libfaketime gives up, the node never listens, and the
// runner kills it at heal; every exit is the runner's, so only the log
// tells.
func TestLibfaketimeHangInNodeLog(t *testing.T) {
	dir := nodeLogDir(t, map[string]string{
		"n2.log": "==== jepsen t=1.000s: n2 starts as id 2 (pid 20)\n" + startedLine +
			"==== jepsen t=10.000s: n2 starts as id 2 (pid 21) under libfaketime +120s\n" +
			"libfaketime: Unexpected recursive calls to clock_gettime() without proper initialization. Trying alternative.\n" +
			"libfaketime: Cannot recover from unexpected recursive calls to clock_gettime().\n" +
			"==== jepsen t=18.000s: n2 starts as id 2 (pid 22)\n" + startedLine,
		"exits.jsonl": `{"node":"n2","pid":20,"time":9000000000,"exit_code":-1,"signal":9,"expected":true}` + "\n" +
			`{"node":"n2","pid":21,"time":17500000000,"exit_code":-1,"signal":9,"expected":true}` + "\n" +
			`{"node":"n2","pid":22,"time":30000000000,"exit_code":0,"signal":0,"expected":true}` + "\n",
	})
	r := checkNodeLogs(dir)
	expectNodeLogFailure(t, r, "libfaketime: Cannot recover")
	expectNodeLogFailure(t, r, `never logged "started" in the 7.5 s`)
}

// The loader refusing the preload library: the node starts, but on the
// true clock, so the clock fault it was started for never happened.
func TestPreloadErrorInNodeLog(t *testing.T) {
	dir := nodeLogDir(t, map[string]string{
		"n2.log": "==== jepsen t=1.000s: n2 starts as id 2 (pid 20) under libfaketime -30s\n" +
			"ERROR: ld.so: object '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1' from LD_PRELOAD cannot be preloaded (cannot open shared object file): ignored.\n" +
			startedLine,
		"exits.jsonl": `{"node":"n2","pid":20,"time":30000000000,"exit_code":0,"signal":0,"expected":true}` + "\n",
	})
	expectNodeLogFailure(t, checkNodeLogs(dir), "cannot be preloaded")
}

// A start that hangs without saying why is caught too; one the runner
// stopped within the grace period is not held against the node.
func TestStartThatNeverCameUp(t *testing.T) {
	hung := nodeLogDir(t, map[string]string{
		"n1.log":      "==== jepsen t=2.000s: n1 starts as id 1 (pid 30)\n",
		"exits.jsonl": `{"node":"n1","pid":30,"time":12000000000,"exit_code":-1,"signal":9,"expected":true}` + "\n",
	})
	expectNodeLogFailure(t, checkNodeLogs(hung), `never logged "started"`)

	noExit := nodeLogDir(t, map[string]string{"n1.log": "==== jepsen t=2.000s: n1 starts as id 1 (pid 30)\n"})
	expectNodeLogFailure(t, checkNodeLogs(noExit), "has no recorded exit")

	short := nodeLogDir(t, map[string]string{
		"n1.log": "==== jepsen t=2.000s: n1 starts as id 1 (pid 30)\n" +
			"==== jepsen t=3.000s: n1 starts as id 1 (pid 31)\n" + startedLine,
		"exits.jsonl": `{"node":"n1","pid":30,"time":2500000000,"exit_code":-1,"signal":9,"expected":true}` + "\n" +
			`{"node":"n1","pid":31,"time":9000000000,"exit_code":0,"signal":0,"expected":true}` + "\n",
	})
	if r := checkNodeLogs(short); r.Valid != "true" || r.Stats["starts_stopped_before_started"] != 1 {
		t.Fatalf("a start killed after 0.5 s was held against the node: %q %v %v", r.Valid, r.Errors, r.Stats)
	}
}

// ---- subscriptions ------------------------------------------------------------

// subLine adds a subscriber line (f subscribe, deliver or marker).
func (f *fixture) subLine(e Entry) {
	e.Type = "info"
	f.add(e)
}

func strp(s string) *string { return &s }
func u64p(v uint64) *uint64 { return &v }
func boolp(b bool) *bool    { return &b }

// subAll starts (or, resume, resumes) a $all subscription after offset.
func (f *fixture) subAll(p int, t int64, sub, node, phase, offset, reason string) {
	f.subLine(Entry{Process: p, F: "subscribe", Time: ms(t), Sub: sub, Node: node, Phase: phase, All: true,
		Offset: strp(offset), Reason: reason})
}

// subStream starts or resumes a subscription of stream at version.
func (f *fixture) subStream(p int, t int64, sub, node, phase, stream string, version uint64, reason string) {
	f.subLine(Entry{Process: p, F: "subscribe", Time: ms(t), Sub: sub, Node: node, Phase: phase, Stream: stream,
		Version: u64p(version), Reason: reason})
}

// deliver: the event of the final log with this value (a value not in it
// becomes an event no node committed, in stream s1).
func (f *fixture) deliver(p int, t int64, sub, node, value string) {
	ev := LogEvent{ID: eventID(9900), Stream: "s1", Version: 2, Value: value}
	for _, x := range f.log {
		if x.Value == value {
			ev = x
		}
	}
	f.subLine(Entry{Process: p, F: "deliver", Time: ms(t), Sub: sub, Node: node,
		Event: &ReadEvent{ID: ev.ID, Stream: ev.Stream, Version: ev.Version, Value: ev.Value}})
}

func (f *fixture) caughtUp(p int, t int64, sub, node string, m Marker) {
	m.Marker = "caught_up"
	f.subLine(Entry{Process: p, F: "marker", Time: ms(t), Sub: sub, Node: node, Marker: &m})
}

func (f *fixture) subStop(p int, t int64, sub, node, target string, reached bool) {
	e := Entry{Process: p, F: "subscribe", Time: ms(t), Sub: sub, Node: node, Phase: "stop", Reason: "the run ended"}
	if target != "" {
		e.Target, e.Reached = target, boolp(reached)
	}
	f.subLine(e)
}

// withSubscribers: good() plus subscribers a correct cluster could serve
// (final log: a b d g, ids 1-4): all0 from the start, resumed on another
// node after b; all1 after a, on a follower that lags; st0.0 on s1 from
// version 1, resumed after the node said it was stale. Deliveries of all0
// are given as values, so that the known-bad variants can change them.
func withSubscribers(all0 ...string) *fixture {
	f := good()
	if all0 == nil {
		all0 = []string{"a", "b", "|", "d", "g"}
	}
	f.subAll(10, 5, "all0", "n1", "start", "", "")
	f.caughtUp(10, 6, "all0", "n1", Marker{ID: strp("")})
	node, t, last := "n1", int64(25), ""
	for _, v := range all0 {
		if v == "|" { // the connection broke: resume on n2 after the last delivered
			node = "n2"
			f.subAll(10, t, "all0", node, "resume", last, "n1: connection closed")
			f.caughtUp(10, t+1, "all0", node, Marker{ID: strp(last)})
		} else {
			f.deliver(10, t, "all0", node, v)
			last = f.lastDelivered(v)
		}
		t += 30
	}
	f.subStop(10, 310, "all0", node, eventID(4), last == eventID(4))

	f.subAll(11, 50, "all1", "n3", "start", eventID(1), "")
	f.deliver(11, 60, "all1", "n3", "b")
	f.deliver(11, 140, "all1", "n3", "d") // a lagging follower: later than the others
	f.deliver(11, 250, "all1", "n3", "g")
	f.subStop(11, 311, "all1", "n3", eventID(4), true)

	f.subStream(12, 5, "st0.0", "n2", "start", "s1", 1, "")
	f.deliver(12, 36, "st0.0", "n2", "b")
	f.subLine(Entry{Process: 12, F: "marker", Time: ms(150), Sub: "st0.0", Node: "n2", Marker: &Marker{Marker: "stale"}})
	f.subStream(12, 151, "st0.0", "n3", "resume", "s1", 2, "n2: the node says it is stale")
	f.caughtUp(12, 152, "st0.0", "n3", Marker{ID: strp(""), Version: u64p(2)})
	f.deliver(12, 206, "st0.0", "n3", "g")
	f.subStop(12, 312, "st0.0", "n3", "", false)
	return f
}

// lastDelivered: the id a delivery of value carries.
func (f *fixture) lastDelivered(value string) string {
	for _, x := range f.log {
		if x.Value == value {
			return x.ID
		}
	}
	return eventID(9900)
}

// expectSubViolation: the subscriptions checker caught it, as this kind
// and no other (a reordering is not also a gap, a duplicate not also out
// of order).
func expectSubViolation(t *testing.T, v *Verdict, want, kind string) {
	t.Helper()
	expectKind(t, v, "subscriptions", want, kind)
}

// expectKind: the checker named caught it (an error mentions want) as this
// kind of violation and no other, and no other checker failed.
func expectKind(t *testing.T, v *Verdict, checker, want, kind string) {
	t.Helper()
	expectCaught(t, v, want, checker)
	kinds := checkerResult(v, checker).Stats["violations_by_kind"].(map[string]int)
	if len(kinds) != 1 || kinds[kind] == 0 {
		t.Fatalf("violations by kind %v, want only %q:\n%s", kinds, kind, dump(v))
	}
	for _, c := range v.Checkers {
		if c.Name != checker && c.Valid != "true" {
			t.Fatalf("checker %s failed too; only %s should:\n%s", c.Name, checker, dump(v))
		}
	}
}

// expectValid: a history a correct cluster could produce passes.
func expectValid(t *testing.T, f *fixture, what string) *Verdict {
	t.Helper()
	v := verdictOf(t, f, f.final3())
	if v.Valid != "true" {
		t.Fatalf("%s judged %q:\n%s", what, v.Valid, dump(v))
	}
	return v
}

func TestGoodSubscribersPass(t *testing.T) {
	f := withSubscribers()
	v := expectValid(t, f, "correct subscribers were")
	r := checkerResult(v, "subscriptions")
	if r.Stats["delivered"] != 9 || r.Stats["resumes"] != 2 || r.Stats["drained_complete"] != 2 {
		t.Fatalf("subscriptions statistics: %v", r.Stats)
	}
	if !strings.Contains(summary(v, f.history(t)), "## Subscribers") {
		t.Fatal("summary.md has no subscriber table")
	}
}

// A history without subscribers (runs from before them) still passes.
func TestNoSubscribers(t *testing.T) {
	f := good()
	v := verdictOf(t, f, f.final3())
	if r := checkerResult(v, "subscriptions"); r.Valid != "true" || r.Summary != "no subscriber in this history" {
		t.Fatalf("subscriptions on a history without subscribers: %q %q", r.Valid, r.Summary)
	}
}

func TestSubscriberGap(t *testing.T) {
	f := withSubscribers("a", "b", "|", "g") // d never delivered
	expectSubViolation(t, verdictOf(t, f, f.final3()), "gap: subscription all0", "gap")
}

func TestSubscriberGapAtTheStart(t *testing.T) {
	f := withSubscribers("b", "|", "d", "g") // from the start, but a was skipped
	expectSubViolation(t, verdictOf(t, f, f.final3()), "between its start and", "gap")
}

func TestSubscriberDuplicate(t *testing.T) {
	f := withSubscribers("a", "b", "|", "b", "d", "g") // the resume after b delivered b again
	expectSubViolation(t, verdictOf(t, f, f.final3()), "duplicate delivery", "duplicate")
}

func TestSubscriberReordering(t *testing.T) {
	f := withSubscribers("a", "d", "b", "|", "g") // d before b
	expectSubViolation(t, verdictOf(t, f, f.final3()), "out of order", "out of order")
}

func TestSubscriberUncommittedEvent(t *testing.T) {
	f := withSubscribers("a", "b", "x", "|", "d", "g") // x: no node holds it after healing
	v := verdictOf(t, f, f.final3())
	expectSubViolation(t, v, "uncommitted event delivered", "uncommitted")
}

// An event the final log holds, delivered with other contents (a version
// a leader later overwrote).
func TestSubscriberEventDiffersFromTheLog(t *testing.T) {
	f := withSubscribers()
	for _, e := range f.entries {
		if e.F == "deliver" && e.Sub == "all1" && e.Event.Value == "d" {
			e.Event.Value = "d-other"
		}
	}
	// (The true d was never delivered either: a gap as well.)
	expectCaught(t, verdictOf(t, f, f.final3()), "the final log has id", "subscriptions")
}

func TestStreamSubscriberGap(t *testing.T) {
	f := good()
	f.subStream(12, 5, "st0.0", "n2", "start", "s1", 0, "")
	f.deliver(12, 36, "st0.0", "n2", "a")
	f.deliver(12, 206, "st0.0", "n2", "g") // b (v1) skipped
	expectSubViolation(t, verdictOf(t, f, f.final3()), "gap: subscription st0.0", "gap")
}

func TestStreamSubscriberReordering(t *testing.T) {
	f := good()
	f.subStream(12, 5, "st0.0", "n2", "start", "s1", 0, "")
	f.deliver(12, 36, "st0.0", "n2", "b")
	f.deliver(12, 40, "st0.0", "n2", "a")
	f.deliver(12, 206, "st0.0", "n2", "g")
	expectSubViolation(t, verdictOf(t, f, f.final3()), "out of order", "out of order")
}

func TestStreamSubscriberGetsAnotherStream(t *testing.T) {
	f := good()
	f.subStream(12, 5, "st0.0", "n2", "start", "s1", 0, "")
	f.deliver(12, 36, "st0.0", "n2", "a")
	f.deliver(12, 96, "st0.0", "n2", "d") // s2's
	expectSubViolation(t, verdictOf(t, f, f.final3()), "another stream", "wrong stream")
}

// After healing the runner waited for every $all subscriber to deliver the
// last event; one that stopped short is a subscription that stalled.
func TestSubscriberDidNotCatchUp(t *testing.T) {
	f := withSubscribers("a", "b", "|", "d")
	expectCaught(t, verdictOf(t, f, f.final3()), "did not deliver the whole log after healing", "subscriptions")
}

func TestCaughtUpMarkerBehind(t *testing.T) {
	f := withSubscribers()
	for _, e := range f.entries {
		if e.F == "marker" && e.Sub == "all0" && e.Marker.ID != nil && *e.Marker.ID == eventID(2) {
			e.Marker.ID = strp(eventID(1))
		}
	}
	expectCaught(t, verdictOf(t, f, f.final3()), "caught_up marker", "subscriptions")
}

// The runner's own bookkeeping: a resume must start at the last event
// delivered, else a gap or duplicate would be the runner's doing.
func TestResumeFromTheWrongPlace(t *testing.T) {
	f := withSubscribers()
	for _, e := range f.entries {
		if e.F == "subscribe" && e.Sub == "all0" && e.Phase == "resume" {
			e.Offset = strp(eventID(1))
		}
	}
	expectCaught(t, verdictOf(t, f, f.final3()), "resume point is wrong", "subscriptions")
}

func TestSubscribersThatDeliveredNothing(t *testing.T) {
	f := good()
	f.subAll(10, 5, "all0", "n1", "start", "", "")
	expectCaught(t, verdictOf(t, f, f.final3()), "delivered nothing", "subscriptions")
}
