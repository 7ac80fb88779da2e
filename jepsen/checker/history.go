package main

// The inputs of the checker: the history the runner recorded and the final
// state it dumped from every node after healing. docs/jepsen.md and
// jepsen/README.md describe the files; this is their reader.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Entry is one line of history.jsonl.
type Entry struct {
	Index   int    `json:"index"`
	Type    string `json:"type"` // invoke, ok, fail, info
	Process int    `json:"process"`
	Op      int64  `json:"op"` // pairs an invocation with its completion
	F       string `json:"f"`  // append, read, read_all, nemesis; subscribe, deliver, marker
	Time    int64  `json:"time"`
	Node    string `json:"node,omitempty"`

	// append
	Stream   string     `json:"stream,omitempty"`
	Expected *int64     `json:"expected,omitempty"` // -1: "any"
	Values   []string   `json:"values,omitempty"`
	Keys     []string   `json:"keys,omitempty"`
	Events   []AckEvent `json:"events,omitempty"` // ok append: what was stored

	// read (GET of Stream from From) and read_all (GETALL after After)
	Mode  string      `json:"mode,omitempty"` // linearizable, local, ryw
	Pref  string      `json:"pref,omitempty"` // leader, follower, any
	From  uint64      `json:"from,omitempty"`
	After string      `json:"after,omitempty"`
	Limit int         `json:"limit,omitempty"`
	Read  []ReadEvent `json:"read,omitempty"`

	Error   string `json:"error,omitempty"`
	Message string `json:"message,omitempty"`

	// nemesis
	Fault string   `json:"fault,omitempty"`
	Phase string   `json:"phase,omitempty"`
	Nodes []string `json:"nodes,omitempty"`
	Value string   `json:"value,omitempty"`
	// A check the runner made of a fault it applied (did it take
	// effect?), and whether a leader transfer it attempted happened.
	Verified    *bool `json:"verified,omitempty"`
	Transferred *bool `json:"transferred,omitempty"`

	// subscriber lines (f subscribe, deliver, marker; see subscribe.go)
	Sub     string  `json:"sub,omitempty"`     // the subscription's name
	All     bool    `json:"all,omitempty"`     // of the global log (else of Stream)
	Offset  *string `json:"offset,omitempty"`  // all: (re)starts after this id ("": the start)
	Version *uint64 `json:"version,omitempty"` // stream: (re)starts at this version
	Spec    string  `json:"spec,omitempty"`    // as sent in SUBSCRIBE
	Reason  string  `json:"reason,omitempty"`  // why the previous connection (or the subscription) ended
	// connections that failed to open before this (re)start
	ConnectFailures int        `json:"connect_failures,omitempty"`
	Target          string     `json:"target,omitempty"`  // stop after the final drain: the converged log's last id
	Reached         *bool      `json:"reached,omitempty"` // ... and whether the subscriber delivered it
	Event           *ReadEvent `json:"event,omitempty"`   // deliver
	Marker          *Marker    `json:"marker,omitempty"`  // marker: the node's JSON

	// consumer groups (groups.go): operations group_create, group_read,
	// group_ack, group_nack; lines group_crash, group_drain, group_final
	Group         string         `json:"group,omitempty"`
	Consumer      string         `json:"consumer,omitempty"`
	Count         int            `json:"count,omitempty"`          // group_read: events asked for
	BlockMs       int            `json:"block_ms,omitempty"`       // group_read
	IDs           []string       `json:"ids,omitempty"`            // group_ack, group_nack
	Park          bool           `json:"park,omitempty"`           // group_nack
	Acked         *int           `json:"acked,omitempty"`          // group_ack ok: the reply
	Returned      *int           `json:"returned,omitempty"`       // group_nack ok: the reply
	Delivered     []GroupEvent   `json:"delivered,omitempty"`      // group_read ok
	AckWaitMs     int64          `json:"ack_wait_ms,omitempty"`    // group_create
	MaxDeliveries int            `json:"max_deliveries,omitempty"` // group_create
	Held          []HeldEvent    `json:"held,omitempty"`           // group_crash: dropped unanswered
	MidRead       bool           `json:"mid_read,omitempty"`       // group_crash: a READ's reply abandoned
	Drained       *bool          `json:"drained,omitempty"`        // group_drain stop
	Leader        bool           `json:"leader,omitempty"`         // group_final: the leader's copy
	Info          *GroupInfo     `json:"info,omitempty"`           // group_final: GROUP INFO
	Pending       []GroupPending `json:"pending,omitempty"`        // group_final: GROUP PENDING
	Parked        []GroupParked  `json:"parked,omitempty"`         // group_final: GROUP PARKED
	Complete      bool           `json:"complete,omitempty"`       // group_final: all three read
}

// GroupEvent is one event a GROUP READ handed out.
type GroupEvent struct {
	ID         string `json:"id"`
	Stream     string `json:"stream"`
	Version    uint64 `json:"version"`
	Value      string `json:"value"`
	Deliveries int    `json:"deliveries"`
}

// HeldEvent is an event a crashed consumer dropped without answering.
type HeldEvent struct {
	Group string `json:"group"`
	ID    string `json:"id"`
}

// GroupInfo is GROUP INFO's reply (the fields the checker uses).
type GroupInfo struct {
	Group         string  `json:"group"`
	All           bool    `json:"all"`
	Stream        string  `json:"stream"`
	AckWaitMs     int64   `json:"ack_wait_ms"`
	MaxDeliveries int     `json:"max_deliveries"`
	AfterID       *string `json:"after_id"`
	Position      *uint64 `json:"position"`     // the global log's group: events passed
	NextVersion   *uint64 `json:"next_version"` // a stream's group
	Lag           uint64  `json:"lag"`
	Pending       uint64  `json:"pending"`
	Parked        uint64  `json:"parked"`
	Delivered     uint64  `json:"delivered"`
	Acked         uint64  `json:"acked"`
}

// GroupPending is one entry of GROUP PENDING.
type GroupPending struct {
	ID         string  `json:"id"`
	Consumer   *string `json:"consumer"`
	Deliveries int     `json:"deliveries"`
}

// GroupParked is one entry of GROUP PARKED.
type GroupParked struct {
	ID         string `json:"id"`
	Consumer   string `json:"consumer"`
	Deliveries int    `json:"deliveries"`
	Reason     string `json:"reason"`
}

// Marker is a subscription's marker message.
type Marker struct {
	Marker        string  `json:"marker"` // caught_up, stale, current
	ID            *string `json:"id,omitempty"`
	Version       *uint64 `json:"version,omitempty"`
	LastContactMs *int64  `json:"last_contact_ms,omitempty"`
}

// subscriberLine: a line of the subscriber workload, not an operation.
func subscriberLine(f string) bool { return f == "subscribe" || f == "deliver" || f == "marker" }

// groupLine: a line of the group workload that is not an operation.
func groupLine(f string) bool { return f == "group_crash" || f == "group_drain" || f == "group_final" }

// AckEvent is one stored event as an acknowledged append returned it.
type AckEvent struct {
	ID      string `json:"id"`
	Version uint64 `json:"version"`
}

// ReadEvent is one event as a read returned it.
type ReadEvent struct {
	ID      string `json:"id"`
	Stream  string `json:"stream"`
	Version uint64 `json:"version"`
	Value   string `json:"value"`
}

const anyVersion = -1

// Op is an invocation with its completion (nil while none was recorded:
// the runner died, which the checker treats like info).
type Op struct {
	Inv  *Entry
	Done *Entry
}

// Status is the completion type, "info" when there was none.
func (o *Op) Status() string {
	if o.Done == nil {
		return "info"
	}
	return o.Done.Type
}

// ReturnTime is the completion time, or infinity for an unknown outcome.
func (o *Op) ReturnTime(inf int64) int64 {
	if o.Done == nil || o.Done.Type == "info" {
		return inf
	}
	return o.Done.Time
}

// History is a parsed history.jsonl.
type History struct {
	Entries []*Entry
	Ops     []*Op // client operations in invocation order
	Nemesis []*Entry
	Subs    []*Entry // subscriber lines, in history order
	Groups  []*Entry // group workload lines that are no operation, in history order
	MaxTime int64
}

func parseHistory(data []byte) (*History, error) {
	h := &History{}
	byOp := map[int64]*Op{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	line := 0
	for sc.Scan() {
		line++
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		e := &Entry{}
		if err := json.Unmarshal(raw, e); err != nil {
			return nil, fmt.Errorf("history line %d: %v", line, err)
		}
		h.Entries = append(h.Entries, e)
		if e.Time > h.MaxTime {
			h.MaxTime = e.Time
		}
		if e.F == "nemesis" {
			h.Nemesis = append(h.Nemesis, e)
			continue
		}
		if subscriberLine(e.F) {
			if e.Sub == "" {
				return nil, fmt.Errorf("history line %d: %s line without a subscription name", line, e.F)
			}
			h.Subs = append(h.Subs, e)
			continue
		}
		if groupLine(e.F) {
			h.Groups = append(h.Groups, e)
			continue
		}
		switch e.Type {
		case "invoke":
			if _, dup := byOp[e.Op]; dup {
				return nil, fmt.Errorf("history line %d: op %d invoked twice", line, e.Op)
			}
			o := &Op{Inv: e}
			byOp[e.Op] = o
			h.Ops = append(h.Ops, o)
		case "ok", "fail", "info":
			o := byOp[e.Op]
			if o == nil {
				return nil, fmt.Errorf("history line %d: completion of op %d that was never invoked", line, e.Op)
			}
			if o.Done != nil {
				return nil, fmt.Errorf("history line %d: op %d completed twice", line, e.Op)
			}
			if e.F != o.Inv.F {
				return nil, fmt.Errorf("history line %d: op %d invoked as %s, completed as %s", line, e.Op, o.Inv.F, e.F)
			}
			o.Done = e
		default:
			return nil, fmt.Errorf("history line %d: unknown type %q", line, e.Type)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return h, nil
}

// LogEvent is one event of a node's final log.
type LogEvent struct {
	Raw     string          // the exact bytes the node returned
	ID      string          `json:"id"`
	Stream  string          `json:"stream"`
	Version uint64          `json:"version"`
	Data    json.RawMessage `json:"data"`
	Value   string          // data, when it is a JSON string (every event the workload writes)
}

// NodeFinal is what the runner learnt from one node after healing.
type NodeFinal struct {
	Name      string `json:"name"`
	ID        uint64 `json:"id"`
	Address   string `json:"address"`
	Reachable bool   `json:"reachable"`
	Error     string `json:"error,omitempty"`
	Checksum  string `json:"checksum"`
	LastID    string `json:"last_id"`
	Events    uint64 `json:"events"`
	Applied   uint64 `json:"applied_index"`
	// CHECKSUM STATE: the groups' and users' state digest at StateIndex
	// (empty from a build without it).
	StateDigest string     `json:"state_digest"`
	StateIndex  uint64     `json:"state_index"`
	LogFile     string     `json:"log"`
	Log         []LogEvent `json:"-"`
}

// Final is final/nodes.json plus every node's log.
type Final struct {
	Nodes []*NodeFinal `json:"nodes"`
	// Configuration: CLUSTER MEMBERS after healing (id, role, addresses).
	Configuration []struct {
		ID            uint64 `json:"id"`
		Role          string `json:"role"`
		ClientAddress string `json:"client_address"`
	} `json:"configuration"`
	Converged bool   `json:"converged"`
	Note      string `json:"note,omitempty"`
}

func parseLog(data []byte) ([]LogEvent, error) {
	var out []LogEvent
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		raw := sc.Bytes()
		if len(raw) == 0 {
			continue
		}
		ev := LogEvent{Raw: string(raw)}
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("line %d: %v", line, err)
		}
		var s string
		if json.Unmarshal(ev.Data, &s) == nil {
			ev.Value = s
		}
		out = append(out, ev)
	}
	return out, sc.Err()
}

func loadFinal(dir string) (*Final, error) {
	data, err := os.ReadFile(filepath.Join(dir, "nodes.json"))
	if err != nil {
		return nil, err
	}
	f := &Final{}
	if err := json.Unmarshal(data, f); err != nil {
		return nil, fmt.Errorf("nodes.json: %v", err)
	}
	for _, n := range f.Nodes {
		if !n.Reachable || n.LogFile == "" {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, n.LogFile))
		if err != nil {
			return nil, err
		}
		if n.Log, err = parseLog(raw); err != nil {
			return nil, fmt.Errorf("%s: %v", n.LogFile, err)
		}
	}
	sort.SliceStable(f.Nodes, func(i, j int) bool { return f.Nodes[i].Name < f.Nodes[j].Name })
	return f, nil
}

// ProcessExit is one line of nodes/exits.jsonl: how a node process ended.
type ProcessExit struct {
	Node     string `json:"node"`
	Pid      int    `json:"pid"`
	Time     int64  `json:"time"`
	ExitCode int    `json:"exit_code"` // -1 when killed by a signal
	Signal   int    `json:"signal"`
	Expected bool   `json:"expected"` // the runner sent that signal
	Why      string `json:"why,omitempty"`
	DiskFull bool   `json:"disk_full"` // its data directory was full at the time
}

func parseExits(data []byte) ([]ProcessExit, error) {
	var out []ProcessExit
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var e ProcessExit
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, fmt.Errorf("exits line %d: %v", i+1, err)
		}
		out = append(out, e)
	}
	return out, nil
}
