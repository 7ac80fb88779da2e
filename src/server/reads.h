/* reads.h - serving GET, GETALL and LISTSTREAMS at the consistency the
 * client asked for.
 *
 *   local (default)   from this node's LMDB at once, on any node; refused
 *                     with -STALE when this node has lost contact with the
 *                     leader for longer than --max-staleness (unless the
 *                     request says "stale_ok");
 *   min_id            read-your-writes: wait (bounded by timeout_ms) until
 *                     this node has applied the event with that id;
 *   linearizable      leader only (others answer -MOVED): wait for a raft
 *                     barrier proposed after the request arrived, which
 *                     proves this node still leads and has applied
 *                     everything committed before; many waiting reads share
 *                     one barrier.
 * Loop thread only. */
#ifndef EVENTFLOW_READS_H
#define EVENTFLOW_READS_H

#include <stdbool.h>

#include "protocol/codec.h"

struct buf;
struct conn;
struct node;
struct server;
struct read_waiter;

enum read_kind { READ_GET, READ_GETALL, READ_LIST };

/* A decoded read. Owns what the codec request owns (GET's stream name). */
struct read_request {
    enum read_kind kind;
    union {
        struct codec_get get;
        struct codec_getall getall;
        struct codec_liststreams list;
    } u;
};

struct reads {
    struct server *srv;                  /* borrowed */
    struct read_waiter *waiting;         /* min_id waiters */
    struct read_waiter *batch;           /* linearizable reads behind the barrier in flight */
    struct read_waiter *next_batch;      /* linearizable reads that arrived after it was proposed */
    bool barrier_inflight;
    bool closing;
};

void reads_init(struct reads *r, struct server *srv);
/* Answer every waiting read with an error; no new waits start. */
void reads_close(struct reads *r);

/* Serve rq for connection c: now, or later in order. Takes ownership of
 * what rq owns (rq itself may live on the caller's stack). */
void reads_submit(struct reads *r, struct conn *c, struct read_request *rq);

/* Whether node n may answer from its local store yet. After a restart it
 * must first apply again everything it had answered from before (see
 * served.h), or a client could see events, counts or the checksum go
 * back in time. If not, writes a -STALE error to out, naming "stale_ok"
 * as the way around it only when offer_stale_ok (the command takes one),
 * and returns false. Used by local reads and by the counters, CHECKSUM
 * and SIZE. */
bool reads_local_ready(struct node *n, struct buf *out, bool offer_stale_ok);

/* Once per loop turn, after the turn's committed entries were applied
 * (server_turn_end): serve min_id waiters whose event has been applied. */
void reads_poll(struct reads *r);

#endif
