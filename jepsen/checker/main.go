// Command checker judges one Jepsen run of eventflow.
//
//	checker -run RESULTS_DIR [-lin-timeout 120s] [-lin-max-ops 120000]
//
// It reads RESULTS_DIR/history.jsonl, RESULTS_DIR/final/ (nodes.json and
// one log per node) and RESULTS_DIR/nodes/ (node logs, exits.jsonl), and
// writes RESULTS_DIR/verdict.json, RESULTS_DIR/summary.md and, for a
// linearizability failure, porcupine's HTML visualization beside them.
//
// Exit status: 0 every checker passed, 1 a checker found a violation,
// 2 no violation but some checker could not decide (unknown), 3 the input
// could not be read.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Verdict is verdict.json.
type Verdict struct {
	Valid    string         `json:"valid"`
	Checkers []*Result      `json:"checkers"`
	Stats    map[string]any `json:"stats"`
}

// checkAll runs every checker. dir is the results folder ("" in tests: no
// node logs, no artifacts).
func checkAll(h *History, f *Final, dir string, opt LinOptions) *Verdict {
	r := newRun(h, f, dir)
	v := &Verdict{Stats: map[string]any{}}
	v.Checkers = append(v.Checkers,
		r.checkCoverage(),
		r.checkConvergence(),
		r.checkLogStructure(),
		r.checkWrites(),
		r.checkReads(),
		r.checkSessions(),
		r.checkLinearizableStreams(opt),
		r.checkLinearizableLog(opt),
		r.checkLogRealtime(),
		r.checkFaults(),
		r.checkSubscriptions(),
		r.checkGroups(),
	)
	if dir != "" {
		v.Checkers = append(v.Checkers, checkNodeLogs(dir))
	}
	v.Valid = "true"
	for _, c := range v.Checkers {
		if c.Valid == "false" {
			v.Valid = "false"
		} else if c.Valid == "unknown" && v.Valid == "true" {
			v.Valid = "unknown"
		}
	}
	counts := map[string]int{}
	for _, o := range h.Ops {
		counts[o.Inv.F+" "+o.Status()]++
	}
	v.Stats["operations"] = len(h.Ops)
	v.Stats["by_outcome"] = counts
	v.Stats["nemesis_events"] = len(h.Nemesis)
	v.Stats["duration_s"] = float64(h.MaxTime) / 1e9
	return v
}

func summary(v *Verdict, h *History) string {
	var b strings.Builder
	verdict := map[string]string{"true": "PASS", "false": "FAIL", "unknown": "UNKNOWN"}
	fmt.Fprintf(&b, "# Jepsen run: %s\n\n", verdict[v.Valid])
	fmt.Fprintf(&b, "%d client operations over %.1f s, %d nemesis events.\n\n", len(h.Ops), float64(h.MaxTime)/1e9, len(h.Nemesis))
	b.WriteString("| checker | verdict | summary |\n|---|---|---|\n")
	for _, c := range v.Checkers {
		s := c.Summary
		if c.Valid == "false" {
			s = fmt.Sprintf("%d violation(s); first: %s", c.ErrorCount, c.Errors[0])
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", c.Name, verdict[c.Valid], strings.ReplaceAll(s, "|", "\\|"))
	}
	for _, c := range v.Checkers {
		if c.Valid != "false" {
			continue
		}
		fmt.Fprintf(&b, "\n## %s: %d violation(s)\n\n", c.Name, c.ErrorCount)
		for _, e := range c.Errors {
			fmt.Fprintf(&b, "- %s\n", e)
		}
		if c.ErrorCount > len(c.Errors) {
			fmt.Fprintf(&b, "- … and %d more (verdict.json has the first %d)\n", c.ErrorCount-len(c.Errors), len(c.Errors))
		}
		for _, a := range c.Artifacts {
			fmt.Fprintf(&b, "\nVisualization: [%s](%s)\n", a, a)
		}
	}
	b.WriteString("\n## Operations\n\n| operation | outcome | count |\n|---|---|---|\n")
	counts := v.Stats["by_outcome"].(map[string]int)
	for _, f := range []string{"append", "read", "read_all", "group_create", "group_read", "group_ack", "group_nack"} {
		for _, t := range []string{"ok", "fail", "info"} {
			if n := counts[f+" "+t]; n > 0 {
				fmt.Fprintf(&b, "| %s | %s | %d |\n", f, t, n)
			}
		}
	}
	b.WriteString(subscriberSummary(h))
	b.WriteString(groupSummary(v))
	if len(h.Nemesis) > 0 {
		b.WriteString("\n## Nemesis\n\n| t (s) | fault | phase | nodes | detail |\n|---|---|---|---|---|\n")
		for _, e := range h.Nemesis {
			fmt.Fprintf(&b, "| %.2f | %s | %s | %s | %s |\n", float64(e.Time)/1e9, e.Fault, e.Phase,
				strings.Join(e.Nodes, " "), strings.ReplaceAll(e.Value, "|", "\\|"))
		}
	}
	return b.String()
}

func main() {
	dir := flag.String("run", "", "results folder of the run")
	timeout := flag.Duration("lin-timeout", 120*time.Second, "time limit of each porcupine search (0: none)")
	maxOps := flag.Int("lin-max-ops", 120000, "largest global-log history given to porcupine (0: no limit)")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "usage: checker -run RESULTS_DIR [-lin-timeout D] [-lin-max-ops N]")
		os.Exit(3)
	}
	data, err := os.ReadFile(filepath.Join(*dir, "history.jsonl"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "checker:", err)
		os.Exit(3)
	}
	h, err := parseHistory(data)
	if err != nil {
		fmt.Fprintln(os.Stderr, "checker:", err)
		os.Exit(3)
	}
	f, err := loadFinal(filepath.Join(*dir, "final"))
	if err != nil {
		// A run that could not dump its final state still gets a verdict:
		// the convergence checker fails it.
		fmt.Fprintln(os.Stderr, "checker: final state:", err)
		f = &Final{}
	}
	v := checkAll(h, f, *dir, LinOptions{Timeout: *timeout, MaxOps: *maxOps})
	out, _ := json.MarshalIndent(v, "", "  ")
	if err := os.WriteFile(filepath.Join(*dir, "verdict.json"), append(out, '\n'), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "checker:", err)
		os.Exit(3)
	}
	sum := summary(v, h)
	if err := os.WriteFile(filepath.Join(*dir, "summary.md"), []byte(sum), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "checker:", err)
		os.Exit(3)
	}
	for _, c := range v.Checkers {
		fmt.Printf("%-22s %-7s %s\n", c.Name, map[string]string{"true": "ok", "false": "FAILED", "unknown": "unknown"}[c.Valid], firstLine(c))
	}
	fmt.Printf("verdict: %s (%s)\n", map[string]string{"true": "valid", "false": "INVALID", "unknown": "unknown"}[v.Valid],
		filepath.Join(*dir, "summary.md"))
	switch v.Valid {
	case "false":
		os.Exit(1)
	case "unknown":
		os.Exit(2)
	}
}

func firstLine(c *Result) string {
	if c.Valid == "false" && len(c.Errors) > 0 {
		return fmt.Sprintf("%d violation(s); first: %s", c.ErrorCount, c.Errors[0])
	}
	return c.Summary
}
