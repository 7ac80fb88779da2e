/* workload.h - the clients: worker threads that append to and read from
 * the cluster through libeventflow and record every operation.
 *
 * Worker w is process w of the history. It owns three clients, so that the
 * read consistency of each read is known exactly:
 *   main  read-your-writes reads, and every append (so its reads can be
 *         checked against its own writes)
 *   lin   linearizable reads
 *   local local reads
 * Workers prefer reading from the leader, a follower or any node in turn
 * (w % 3). Operations, chosen with the worker's own seeded generator:
 *   append    1-3 events with unique values (the event's data) and
 *             explicit idempotency keys, to one of a few active streams,
 *             half with the expected version the worker last saw, half
 *             with "any";
 *   read      GET of a whole stream, in one of the three modes;
 *   read_all  GETALL after the last id this worker saw (sometimes from
 *             the start), a page of at most 1000, in one of the modes.
 * With key_reuse_pct, that share of appends is one event that reuses the
 * key of the worker's last acknowledged append with a new value: the
 * server must refuse it (EF_EKEYREUSE), never answer it as a retry.
 * Streams retire after stream_max_events events so that whole-stream reads
 * stay short; a new stream takes the slot. */
#ifndef JEPSEN_WORKLOAD_H
#define JEPSEN_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"

struct workload_config {
    const char *endpoints; /* every node's client address */
    int workers;
    uint64_t seed;
    int think_ms;           /* pause between a worker's operations: 0..think_ms */
    int stream_slots;       /* streams written at once */
    int stream_max_events;  /* events per stream before it retires */
    int request_timeout_ms;
    int retry_deadline_ms;
    int key_reuse_pct;      /* appends (of one event) that reuse an acknowledged key with a new value */
};

/* Start the workers. 0 or -1. */
int workload_start(const struct workload_config *cfg);

/* Ask the workers to finish their current operation, and join them. */
void workload_stop(void);

/* One of the streams being written now (for the stream subscribers); only
 * after workload_start. */
void workload_pick_stream(struct rng *r, char *out, size_t len);

/* Operations completed so far (for progress lines). */
uint64_t workload_completed(void);

#endif
