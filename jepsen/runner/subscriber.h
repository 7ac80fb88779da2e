/* subscriber.h - the subscriber workload: threads that hold SUBSCRIBE
 * connections to random nodes, record every event delivered, and resume on
 * another node from their last delivered position whenever a connection
 * fails or goes quiet.
 *
 * Spoken over raw RESP (rawresp.h), one connection per subscription, so
 * that the node serving each message is known exactly. Two kinds:
 *   $all      {"all":true,"offset":"<last id>","markers":true}: the global
 *             log from its start (offset ""), each resume strictly after
 *             the last id delivered; started at staggered times so that
 *             later ones catch up a long log while events keep arriving;
 *   stream    {"stream":s,"version":v,"markers":true}: one of the
 *             workload's active streams from version 0 or a few versions
 *             in, each resume at the last version delivered + 1; after a
 *             while (or when the stream has gone quiet) it ends and the
 *             subscriber takes another stream under a new name.
 * A connection is abandoned, and the subscription resumed on another node
 * chosen at random, when it breaks (refused, reset, closed: a killed
 * node), when a PING goes unanswered (a paused node), when no message came
 * for idle_ms (a node cut off from the leader, or lagging), when the node
 * says it is stale (a "stale" marker), or on a schedule (so that resumes
 * happen without faults too). The first $all subscriber sometimes stops
 * reading for 2-12 s (with a small receive buffer); what the node sends
 * meanwhile waits in the kernel's buffers and must all arrive afterwards.
 * (The node's own slow-consumer limit, 256 KiB of unsent output, is not
 * reached that way: the node's socket send buffer, autotuned up to
 * tcp_wmem's 4 MiB, takes a stall's worth of events first.) Half of the
 * subscribers say HELLO 3 first, so that they get RESP3 push frames.
 *
 * History lines (all "type":"info", "process" the subscriber's; "sub" names
 * one subscription's life, "node" the slot serving it):
 *   f "subscribe"  phase "start" | "resume" (about to subscribe at a node,
 *                  from "offset" (all) or "stream"+"version"; "reason" why
 *                  the previous connection ended; "connect_failures" and
 *                  the last "connect_error" since, if any) | "stop" (the
 *                  end: "reason"; after the final drain "target" and
 *                  "reached")
 *   f "deliver"    one event: "event": {id, stream, version, value}
 *   f "marker"     a marker message: "marker": the node's JSON */
#ifndef JEPSEN_SUBSCRIBER_H
#define JEPSEN_SUBSCRIBER_H

#include <stdint.h>

#include "nodes.h"

struct subscriber_config {
    struct run_nodes nodes;
    int all;              /* $all subscribers */
    int streams;          /* stream subscribers */
    int first_process;    /* history process of the first subscriber */
    uint64_t seed;
    int start_spread_ms;  /* $all subscribers after the first start within this */
    int idle_ms;          /* no message for this long: resume elsewhere */
};

/* Start the subscriber threads. 0 or -1. */
int subscribers_start(const struct subscriber_config *cfg);

/* The end of the run: every $all subscriber goes on until it has delivered
 * last_id (the converged log's last event; "" or NULL: stop at once), for
 * at most timeout_ms; stream subscribers stop at once. Joins the threads. */
void subscribers_stop(const char *last_id, int timeout_ms);

/* Events delivered and resumes so far, over all subscribers. */
uint64_t subscribers_delivered(void);
uint64_t subscribers_resumes(void);

#endif
