// pubsub_go: go-redis v9's pub/sub API against an eventflow node, as a Go
// application would use it (test_pubsub_clients.sh runs it). go-redis
// speaks RESP3 (HELLO 3) by default, so the messages arrive as push frames.
//
// Usage: pubsub_go HOST:PORT [RESP]   (RESP: 2 or 3, default 3)
// Exit 0 once a subscription caught up on an existing event and received a
// live one, both as the right JSON; 1 with a message otherwise.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

type event struct {
	ID      string `json:"id"`
	Stream  string `json:"stream"`
	Version int64  `json:"version"`
	Type    string `json:"type"`
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pubsub_go: "+format+"\n", args...)
	os.Exit(1)
}

func add(ctx context.Context, rdb *redis.Client, stream, typ string) {
	arg := fmt.Sprintf(`{"stream":%q,"version":"any","events":[{"type":%q}]}`, stream, typ)
	if err := rdb.Do(ctx, "ADD", arg).Err(); err != nil {
		fail("ADD: %v", err)
	}
}

func next(ch <-chan *redis.Message, spec string) event {
	select {
	case m := <-ch:
		if m.Channel != spec {
			fail("message for %q, expected %q", m.Channel, spec)
		}
		var e event
		if err := json.Unmarshal([]byte(m.Payload), &e); err != nil {
			fail("message %q: %v", m.Payload, err)
		}
		return e
	case <-time.After(10 * time.Second):
		fail("no message within 10 s")
	}
	return event{}
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: pubsub_go HOST:PORT [2|3]")
	}
	proto := 3
	if len(os.Args) > 2 {
		proto, _ = strconv.Atoi(os.Args[2])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: os.Args[1], Protocol: proto, Password: os.Getenv("EVENTFLOW_PASSWORD")})
	defer rdb.Close()

	stream := fmt.Sprintf("go-%d", proto)
	add(ctx, rdb, stream, "Before")
	spec := fmt.Sprintf(`{"stream":%q,"version":0}`, stream)
	sub := rdb.Subscribe(ctx, spec)
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // the subscribe confirmation
		fail("subscribe: %v", err)
	}
	ch := sub.Channel()
	if e := next(ch, spec); e.Version != 0 || e.Type != "Before" || e.Stream != stream {
		fail("first event %+v", e)
	}
	add(ctx, rdb, stream, "Live")
	if e := next(ch, spec); e.Version != 1 || e.Type != "Live" {
		fail("live event %+v", e)
	}
	fmt.Printf("pubsub_go: RESP%d: caught up and live\n", proto)
}
