/* retention.h - the leader's retention work: proposing the StreamOp
 * entries that expire events by max_age (the leader's clock decides, the
 * entry carries the resulting version) and reclaim the rows of hidden
 * events in bounded batches (store_stream.c).
 *
 * One entry is in flight at a time: the next is proposed when the last
 * one applied (a reclaim's after a short pause), so a removal of millions
 * of events is a chain of short applies interleaved with the clients'
 * writes, never one long apply. A timer looks for new work (expiry) when
 * the chain is idle. Loop thread;
 * it works only while this node is the ready leader. */
#ifndef EVENTFLOW_RETENTION_H
#define EVENTFLOW_RETENTION_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct node;

/* Hidden events whose rows one reclaim entry removes at most. */
#define RETENTION_BATCH 1000
/* How often an idle leader looks for work, ms. */
#define RETENTION_TICK_MS 1000
/* The pause after a reclaim entry applied before the next is proposed:
 * twice the time the entry took from proposal to apply, at least
 * RETENTION_PAUSE_MS and at most RETENTION_PAUSE_MAX_MS. A removal's
 * deletes (made on every node) so take at most about a third of the
 * time, and less as the clients' writes slow the log down: the removal
 * yields to them. Expiry entries, O(1) to apply, follow each other at
 * once. */
#define RETENTION_PAUSE_MS 25
#define RETENTION_PAUSE_MAX_MS 1000
/* Streams' records one walk for work looks at, and the pause before the
 * walk goes on when it found none (ms): thousands of streams with a
 * max_age are looked at in steps of well under a millisecond. */
#define RETENTION_VISITS 256
#define RETENTION_STEP_MS 10

struct retention {
    struct node *node; /* borrowed */
    uv_timer_t timer;
    uv_timer_t pace;         /* the pause after a reclaim entry */
    bool open;
    bool last_reclaim;       /* the entry in flight is a reclaim */
    uint64_t proposed_at;    /* uv_now when it was proposed */
    bool inflight;           /* an entry proposed, not yet applied */
    char last[512];          /* the stream last worked on: the next walk resumes after it */
    uint64_t entries;        /* retention entries this node proposed (metrics) */
};

/* Libuv handles are not movable: `r` must stay where it is until closed. */
int retention_start(struct retention *r, struct node *n);
void retention_close(struct retention *r);

/* Look for work now (after a client's STREAM write, or a turn that
 * applied entries): proposes the next entry unless one is in flight. */
void retention_kick(struct retention *r);

#endif
