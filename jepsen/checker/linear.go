package main

// Linearizability: appends (every mode: they all go through raft) and the
// reads made with "consistency":"linearizable" must be explainable by one
// sequential event store whose every operation took effect at one instant
// between its invocation and its completion.
//
// Two porcupine models:
//   - streams: partitioned by stream; the state is the stream's list of
//     values. Appends with an expected version, with "any", appends that
//     failed on a version check (they observed the stream's length), and
//     linearizable GETs of the whole stream.
//   - log: the global log; the state is its length. Appends (their global
//     positions come from the final log: unique values name them) and
//     linearizable GETALL pages (a page shorter than its limit saw the end
//     of the log: the length was exactly its end; a full page only says
//     "at least").
//
// An append with an unknown outcome (info) may take effect at any time
// after its invocation, even after the history ends: if its values are in
// the final log it is an append whose completion time is infinity;
// if not, it never happened and is left out (the convergence and writes
// checkers vouch for the final log).
//
// Besides porcupine, checkLogRealtime verifies the global log's real-time
// order directly (no search, no timeout): an append that completed before
// another began is earlier in the log; a linearizable GETALL contains every
// append acknowledged before it began, nothing invoked after it ended, and
// never less than a linearizable read that ended before it began.

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// ---- stream model ----------------------------------------------------------

type streamState struct {
	n    int
	vals string // every value followed by '\n'
}

type streamInput struct {
	stream   string
	read     bool
	expected int64 // anyVersion: no check
	values   []string
}

type streamOutput struct {
	outcome string // ok, conflict, gap
	version int    // ok append: version of its first event
	vals    string // read: values, each followed by '\n'
	n       int    // read: how many
}

func joinValues(vs []string) string {
	var b strings.Builder
	for _, v := range vs {
		b.WriteString(v)
		b.WriteByte('\n')
	}
	return b.String()
}

func tail(vals string, n int) string {
	parts := strings.Split(strings.TrimSuffix(vals, "\n"), "\n")
	if len(parts) > n {
		parts = append([]string{"…"}, parts[len(parts)-n:]...)
	}
	return strings.Join(parts, " ")
}

var streamModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var names []string
		for _, op := range history {
			s := op.Input.(streamInput).stream
			if _, ok := by[s]; !ok {
				names = append(names, s)
			}
			by[s] = append(by[s], op)
		}
		sort.Strings(names)
		out := make([][]porcupine.Operation, 0, len(names))
		for _, s := range names {
			out = append(out, by[s])
		}
		return out
	},
	Init: func() interface{} { return streamState{} },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		st, in, out := state.(streamState), input.(streamInput), output.(streamOutput)
		if in.read {
			return out.n == st.n && out.vals == st.vals, st
		}
		if in.expected != anyVersion && in.expected != int64(st.n) {
			if in.expected < int64(st.n) {
				return out.outcome == "conflict", st
			}
			return out.outcome == "gap", st
		}
		if out.outcome != "ok" || out.version != st.n {
			return false, st
		}
		return true, streamState{n: st.n + len(in.values), vals: st.vals + joinValues(in.values)}
	},
	DescribeOperation: func(input, output interface{}) string {
		in, out := input.(streamInput), output.(streamOutput)
		if in.read {
			return fmt.Sprintf("read %s -> %d events [%s]", in.stream, out.n, tail(out.vals, 3))
		}
		exp := "any"
		if in.expected != anyVersion {
			exp = fmt.Sprint(in.expected)
		}
		res := out.outcome
		if out.outcome == "ok" {
			res = fmt.Sprintf("ok v%d", out.version)
		}
		return fmt.Sprintf("append %s exp=%s [%s] -> %s", in.stream, exp, strings.Join(in.values, " "), res)
	},
	DescribeState: func(state interface{}) string {
		st := state.(streamState)
		return fmt.Sprintf("%d events [%s]", st.n, tail(st.vals, 3))
	},
}

// ---- log model ----------------------------------------------------------

type logInput struct {
	read  bool
	first int // append: position of its first event (1-based)
	n     int // append: events
	desc  string
}

type logOutput struct {
	lo, hi int // read: bounds on the log's length (see readAllBounds)
}

var logModel = porcupine.Model{
	Init: func() interface{} { return 0 },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		length, in, out := state.(int), input.(logInput), output.(logOutput)
		if in.read {
			return out.lo <= length && length <= out.hi, length
		}
		if length != in.first-1 {
			return false, length
		}
		return true, length + in.n
	},
	DescribeOperation: func(input, output interface{}) string {
		in, out := input.(logInput), output.(logOutput)
		if in.read {
			return fmt.Sprintf("%s -> %s", in.desc, boundsString(out.lo, out.hi))
		}
		return fmt.Sprintf("%s -> positions %d..%d", in.desc, in.first, in.first+in.n-1)
	},
	DescribeState: func(state interface{}) string { return fmt.Sprintf("log length %d", state.(int)) },
}

// ---- building the porcupine histories ------------------------------------------

// appendOutcome: how an append entered the linearizability check.
// ok: with its acknowledged version; info and in the final log: applied at
// its final version, completion at infinity; conflict/gap: as observed;
// anything else: not at all.
func (r *Run) appendOutcome(o *Op) (out streamOutput, ret int64, include bool) {
	switch o.Status() {
	case "ok":
		if len(o.Done.Events) == 0 {
			return out, 0, false
		}
		return streamOutput{outcome: "ok", version: int(o.Done.Events[0].Version)}, o.Done.Time, true
	case "fail":
		switch o.Done.Error {
		case "EF_ECONFLICT":
			return streamOutput{outcome: "conflict"}, o.Done.Time, true
		case "EF_EGAP":
			return streamOutput{outcome: "gap"}, o.Done.Time, true
		}
		return out, 0, false
	default:
		for _, v := range o.Inv.Values {
			if r.pos(v) == 0 {
				return out, 0, false
			}
		}
		p := r.pos(o.Inv.Values[0])
		return streamOutput{outcome: "ok", version: int(r.Ref[p-1].Version)}, r.inf, true
	}
}

func expectedOf(e *Entry) int64 {
	if e.Expected == nil {
		return anyVersion
	}
	return *e.Expected
}

func (r *Run) streamHistory() []porcupine.Operation {
	var ops []porcupine.Operation
	for _, o := range r.H.Ops {
		e := o.Inv
		switch {
		case e.F == "append":
			out, ret, ok := r.appendOutcome(o)
			if !ok {
				continue
			}
			ops = append(ops, porcupine.Operation{ClientId: e.Process, Call: e.Time, Return: ret,
				Input:  streamInput{stream: e.Stream, expected: expectedOf(e), values: e.Values},
				Output: out})
		case e.F == "read" && e.Mode == "linearizable" && e.From == 0 && o.Status() == "ok":
			vals := make([]string, len(o.Done.Read))
			for i, ev := range o.Done.Read {
				vals[i] = ev.Value
			}
			ops = append(ops, porcupine.Operation{ClientId: e.Process, Call: e.Time, Return: o.Done.Time,
				Input:  streamInput{stream: e.Stream, read: true},
				Output: streamOutput{vals: joinValues(vals), n: len(vals)}})
		}
	}
	return ops
}

// appliedAppends: every append that is in the final log, with its position
// and interval, in log order.
type placedAppend struct {
	op    *Op
	first int
	n     int
	call  int64
	ret   int64
}

func (r *Run) appliedAppends() []placedAppend {
	var out []placedAppend
	for _, o := range r.H.Ops {
		if o.Inv.F != "append" || len(o.Inv.Values) == 0 {
			continue
		}
		p := r.pos(o.Inv.Values[0])
		if p == 0 {
			continue
		}
		ret := o.ReturnTime(r.inf)
		if o.Status() == "fail" {
			ret = r.inf // a "failed" append that is in the log: the writes checker reports it
		}
		out = append(out, placedAppend{op: o, first: p, n: len(o.Inv.Values), call: o.Inv.Time, ret: ret})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].first < out[j].first })
	return out
}

type placedRead struct {
	op     *Op
	lo, hi int
}

func boundsString(lo, hi int) string {
	switch {
	case lo == hi:
		return fmt.Sprintf("log length %d", lo)
	case hi == math.MaxInt:
		return fmt.Sprintf("log length >= %d (full page)", lo)
	default:
		return fmt.Sprintf("log length <= %d (empty page)", hi)
	}
}

func (r *Run) linearizableReadAlls() []placedRead {
	var out []placedRead
	for _, o := range r.H.Ops {
		if o.Inv.F != "read_all" || o.Inv.Mode != "linearizable" || o.Status() != "ok" {
			continue
		}
		lo, hi, found := r.readAllBounds(o)
		if !found {
			continue
		}
		out = append(out, placedRead{o, lo, hi})
	}
	return out
}

func (r *Run) logHistory() []porcupine.Operation {
	var ops []porcupine.Operation
	for _, a := range r.appliedAppends() {
		ops = append(ops, porcupine.Operation{ClientId: a.op.Inv.Process, Call: a.call, Return: a.ret,
			Input:  logInput{first: a.first, n: a.n, desc: fmt.Sprintf("op %d append %s", a.op.Inv.Op, a.op.Inv.Stream)},
			Output: logOutput{}})
	}
	for _, rd := range r.linearizableReadAlls() {
		ops = append(ops, porcupine.Operation{ClientId: rd.op.Inv.Process, Call: rd.op.Inv.Time, Return: rd.op.Done.Time,
			Input:  logInput{read: true, desc: fmt.Sprintf("op %d read_all", rd.op.Inv.Op)},
			Output: logOutput{lo: rd.lo, hi: rd.hi}})
	}
	return ops
}

// ---- running porcupine --------------------------------------------------------

// LinOptions bound the search.
type LinOptions struct {
	Timeout time.Duration // per model; 0: no limit
	MaxOps  int           // larger histories of the log model are left to checkLogRealtime
}

func (r *Run) runPorcupine(name string, model porcupine.Model, ops []porcupine.Operation, opt LinOptions) *Result {
	res := newResult(name)
	res.Stats["operations"] = len(ops)
	if opt.MaxOps > 0 && len(ops) > opt.MaxOps {
		res.unknown("skipped: %d operations is over the limit of %d (raise -lin-max-ops); log-realtime still checks the real-time order", len(ops), opt.MaxOps)
		return res
	}
	start := time.Now()
	result, info := porcupine.CheckOperationsVerbose(model, ops, opt.Timeout)
	res.Stats["seconds"] = time.Since(start).Seconds()
	switch result {
	case porcupine.Ok:
		res.Summary = fmt.Sprintf("%d operations linearizable (porcupine, %.1fs)", len(ops), time.Since(start).Seconds())
	case porcupine.Unknown:
		res.unknown("porcupine timed out after %v on %d operations", opt.Timeout, len(ops))
	default:
		res.fail("not linearizable: porcupine found no legal order for %d operations%s", len(ops), r.describeLongest(model, info))
		if r.Dir != "" {
			path := filepath.Join(r.Dir, name+".html")
			if err := porcupine.VisualizePath(model, info, path); err != nil {
				res.Errors = append(res.Errors, fmt.Sprintf("could not write the visualization: %v", err))
			} else {
				res.Artifacts = append(res.Artifacts, filepath.Base(path))
			}
		}
	}
	return res
}

// describeLongest names the operation right after the longest legal prefix
// found in each failing partition: where the search got stuck.
func (r *Run) describeLongest(model porcupine.Model, info porcupine.LinearizationInfo) string {
	parts := info.PartialLinearizationsOperations()
	var b strings.Builder
	for _, partials := range parts {
		longest := 0
		for _, p := range partials {
			if len(p) > longest {
				longest = len(p)
			}
		}
		for _, p := range partials {
			if len(p) == longest && longest > 0 {
				last := p[len(p)-1]
				fmt.Fprintf(&b, "; longest legal prefix: %d operations, ending with %s", longest,
					model.DescribeOperation(last.Input, last.Output))
				break
			}
		}
	}
	return b.String()
}

func (r *Run) checkLinearizableStreams(opt LinOptions) *Result {
	if !r.HasRef {
		res := newResult("linearizable-streams")
		res.unknown("no final log")
		return res
	}
	o := opt
	o.MaxOps = 0 // partitioned by stream: every partition stays small
	return r.runPorcupine("linearizable-streams", streamModel, r.streamHistory(), o)
}

func (r *Run) checkLinearizableLog(opt LinOptions) *Result {
	if !r.HasRef {
		res := newResult("linearizable-log")
		res.unknown("no final log")
		return res
	}
	return r.runPorcupine("linearizable-log", logModel, r.logHistory(), opt)
}

// ---- real-time order of the global log, without search -------------------------

func (r *Run) checkLogRealtime() *Result {
	res := newResult("log-realtime")
	if !r.HasRef {
		res.unknown("no final log")
		return res
	}
	apps := r.appliedAppends()
	// 1. A later position never completed before an earlier one began:
	//    walk positions downwards keeping the earliest completion above.
	minRet, minIdx := r.inf+1, -1
	for i := len(apps) - 1; i >= 0; i-- {
		if minRet < apps[i].call {
			b := apps[minIdx]
			res.fail("real-time order violated: %s completed at t=%.3fs, before %s began at t=%.3fs, yet it is later in the log (position %d > %d)",
				describeOp(b.op), float64(b.ret)/1e9, describeOp(apps[i].op), float64(apps[i].call)/1e9, b.first, apps[i].first)
		}
		if apps[i].ret < minRet {
			minRet, minIdx = apps[i].ret, i
		}
	}
	reads := r.linearizableReadAlls()
	// 2. Stale reads: an append acknowledged before the read began lies
	//    beyond the end the read saw.
	byRet := make([]placedAppend, len(apps))
	copy(byRet, apps)
	sort.Slice(byRet, func(i, j int) bool { return byRet[i].ret < byRet[j].ret })
	maxEnd := make([]int, len(byRet)) // furthest last position among the first i+1 by completion
	for i, a := range byRet {
		maxEnd[i] = a.first + a.n - 1
		if i > 0 && maxEnd[i-1] > maxEnd[i] {
			maxEnd[i] = maxEnd[i-1]
		}
	}
	// 3. Reads from the future: an event the read saw whose append began
	//    after the read completed.
	maxCall := make([]int64, len(apps)) // latest invocation among positions up to apps[i]
	for i, a := range apps {
		maxCall[i] = a.call
		if i > 0 && maxCall[i-1] > maxCall[i] {
			maxCall[i] = maxCall[i-1]
		}
	}
	for _, rd := range reads {
		call, ret := rd.op.Inv.Time, rd.op.Done.Time
		k := sort.Search(len(byRet), func(i int) bool { return byRet[i].ret >= call })
		if k > 0 && maxEnd[k-1] > rd.hi {
			res.fail("stale linearizable read: %s showed %s, but position %d was acknowledged before it began",
				describeOp(rd.op), boundsString(rd.lo, rd.hi), maxEnd[k-1])
		}
		j := sort.Search(len(apps), func(i int) bool { return apps[i].first+apps[i].n-1 > rd.lo })
		if j > 0 && maxCall[j-1] > ret {
			res.fail("read from the future: %s (completed t=%.3fs) saw up to position %d, which holds an append invoked later (t=%.3fs)",
				describeOp(rd.op), float64(ret)/1e9, rd.lo, float64(maxCall[j-1])/1e9)
		}
	}
	// 4. Reads against reads: one that began after another completed never
	//    sees less.
	sorted := make([]placedRead, len(reads))
	copy(sorted, reads)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].op.Done.Time < sorted[j].op.Done.Time })
	best := make([]int, len(sorted))
	for i, rd := range sorted {
		best[i] = rd.lo
		if i > 0 && best[i-1] > best[i] {
			best[i] = best[i-1]
		}
	}
	for _, rd := range reads {
		k := sort.Search(len(sorted), func(i int) bool { return sorted[i].op.Done.Time >= rd.op.Inv.Time })
		if k > 0 && best[k-1] > rd.hi {
			res.fail("stale linearizable read: %s showed %s, but a linearizable read that completed before it began saw position %d",
				describeOp(rd.op), boundsString(rd.lo, rd.hi), best[k-1])
		}
	}
	res.Stats["appends"] = len(apps)
	res.Stats["linearizable_read_alls"] = len(reads)
	if res.Valid == "true" {
		res.Summary = fmt.Sprintf("%d applied appends in real-time order; %d linearizable GETALL pages neither stale nor from the future", len(apps), len(reads))
	}
	return res
}
