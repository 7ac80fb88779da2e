// rcluster_go drives eventflow through go-redis v9's ClusterClient,
// unchanged, as any Go program would (docs/clients.md).
//
//	rcluster_go failover SEED LEADER_PID
//	    seeded with SEED (a follower) only, ReadOnly on: appends, reads
//	    (sent to followers), kills the leader with SIGKILL, keeps appending
//	    until the client has found the new leader by itself, and checks
//	    that every acknowledged event is in the stream. Prints
//	    "failover_ms=N".
//	rcluster_go bench SEED CONNS SECONDS
//	    CONNS goroutines appending one event per ADD for SECONDS; prints
//	    "appends_per_sec=N".
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

type event struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
	Type    string `json:"type"`
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", a...)
	os.Exit(1)
}

// add appends one event and returns its id.
func add(ctx context.Context, c *redis.ClusterClient, stream, typ string) (string, error) {
	req, _ := json.Marshal(map[string]any{"stream": stream, "version": "any",
		"events": []map[string]any{{"type": typ}}})
	v, err := c.Do(ctx, "add", string(req)).Slice()
	if err != nil {
		return "", err
	}
	var e event
	if len(v) != 1 || json.Unmarshal([]byte(v[0].(string)), &e) != nil {
		return "", fmt.Errorf("unexpected ADD reply %v", v)
	}
	return e.ID, nil
}

func get(ctx context.Context, c *redis.ClusterClient, stream string, consistency string) ([]event, error) {
	q := map[string]any{"stream": stream, "version": 0, "limit": 10000}
	if consistency != "" {
		q["consistency"] = consistency
	}
	req, _ := json.Marshal(q)
	v, err := c.Do(ctx, "get", string(req)).Slice()
	if err != nil {
		return nil, err
	}
	out := make([]event, len(v))
	for i, s := range v {
		if err := json.Unmarshal([]byte(s.(string)), &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func failover(seed string, leaderPid int) {
	ctx := context.Background()
	// go-redis reloads its slot map after a MOVED, or once the map is older
	// than ClusterStateReloadInterval (60 s by default): a client writing to
	// a leader that died sees only connection errors, so a short interval is
	// what lets it find the new leader (docs/clients.md).
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{seed}, ReadOnly: true,
		ClusterStateReloadInterval: 250 * time.Millisecond})
	defer c.Close()
	const stream = "go-cluster"
	var acked []string
	for i := 0; i < 20; i++ {
		id, err := add(ctx, c, stream, "Before")
		if err != nil {
			fail("ADD through the ClusterClient: %v", err)
		}
		acked = append(acked, id)
	}
	// A local read on a follower: it may trail the leader, so poll.
	deadline := time.Now().Add(5 * time.Second)
	for {
		evs, err := get(ctx, c, stream, "")
		if err == nil && len(evs) == len(acked) {
			break
		}
		if time.Now().After(deadline) {
			fail("GET through the ClusterClient: %d events, %v", len(evs), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := syscall.Kill(leaderPid, syscall.SIGKILL); err != nil {
		fail("kill %d: %v", leaderPid, err)
	}
	killed := time.Now()
	var failoverMs int64 = -1
	errors := 0
	for n := 0; n < 20; {
		id, err := add(ctx, c, stream, "After")
		if err != nil {
			// Outcome unknown: the event may be stored or not; only
			// acknowledged ones are checked.
			errors++
			if time.Since(killed) > 30*time.Second {
				fail("no append succeeded within 30 s of the kill: %v", err)
			}
			continue
		}
		if failoverMs < 0 {
			failoverMs = time.Since(killed).Milliseconds()
		}
		acked = append(acked, id)
		n++
	}
	evs, err := get(ctx, c, stream, "linearizable")
	if err != nil {
		fail("linearizable GET after the failover: %v", err)
	}
	have := map[string]bool{}
	for _, e := range evs {
		have[e.ID] = true
	}
	for _, id := range acked {
		if !have[id] {
			fail("acknowledged event %s is missing after the failover", id)
		}
	}
	fmt.Printf("go-redis ClusterClient: %d acknowledged events all present; failover_ms=%d (errors seen: %d)\n",
		len(acked), failoverMs, errors)
}

func bench(seed string, conns int, seconds int) {
	ctx := context.Background()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{seed}, PoolSize: conns})
	defer c.Close()
	if _, err := add(ctx, c, "bench-warm", "W"); err != nil {
		fail("warm-up ADD: %v", err)
	}
	var done atomic.Int64
	var failed atomic.Int64
	stop := time.Now().Add(time.Duration(seconds) * time.Second)
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < conns; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			// The request is built once: what is measured is the client
			// and the cluster, not JSON encoding.
			req := `{"stream":"bench-` + strconv.Itoa(g) + `","version":"any","events":[{"type":"Bench","data":{"n":1}}]}`
			for time.Now().Before(stop) {
				if err := c.Do(ctx, "add", req).Err(); err != nil {
					failed.Add(1)
					continue
				}
				done.Add(1)
			}
		}(g)
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	fmt.Printf("appends_per_sec=%.0f appends=%d errors=%d conns=%d\n", float64(done.Load())/el, done.Load(),
		failed.Load(), conns)
}

// plain: the connection handshake of go-redis's plain Client (HELLO 3,
// CLIENT SETINFO, CLIENT SETNAME) on one node, then INFO and ECHO.
func plain(addr string) {
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: addr, ClientName: "plain-go"})
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		fail("PING: %v", err)
	}
	if name, err := c.ClientGetName(ctx).Result(); err != nil || name != "plain-go" {
		fail("CLIENT GETNAME: %q %v", name, err)
	}
	if info, err := c.Info(ctx, "replication").Result(); err != nil || !strings.Contains(info, "role:") {
		fail("INFO replication: %q %v", info, err)
	}
	if s, err := c.Echo(ctx, "hi").Result(); err != nil || s != "hi" {
		fail("ECHO: %q %v", s, err)
	}
	fmt.Println("go-redis Client: handshake, CLIENT GETNAME, INFO and ECHO answered")
}

func main() {
	if len(os.Args) < 3 {
		fail("usage: rcluster_go failover SEED LEADER_PID | bench SEED CONNS SECONDS")
	}
	switch os.Args[1] {
	case "failover":
		pid, _ := strconv.Atoi(os.Args[3])
		failover(os.Args[2], pid)
	case "plain":
		plain(os.Args[2])
	case "bench":
		conns, _ := strconv.Atoi(os.Args[3])
		secs, _ := strconv.Atoi(os.Args[4])
		bench(os.Args[2], conns, secs)
	default:
		fail("unknown mode %s", os.Args[1])
	}
}
