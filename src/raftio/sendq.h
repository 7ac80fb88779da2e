/* sendq.h - coalesces raft's AppendEntries messages to a follower.
 *
 * Why: every ADD is one raft entry, and raft 0.22.1 in pipeline mode sends
 * each new entry to each follower as its own AppendEntries message the
 * moment it is proposed. At tens of thousands of ADDs a second that is tens
 * of thousands of loopback messages, follower appends and answers a second
 * per follower: the cluster's write path was bound by message count, not by
 * bytes or fsyncs.
 *
 * What: sendq interposes on the raft_io's send hook. AppendEntries messages
 * for one follower that continue each other (same term, each one's
 * prev_log_index where the previous one ends) are held until the end of
 * the loop turn and then go out as one message carrying all their entries
 * and the newest commit index. That is exactly what raft itself sends when
 * it catches a follower up, so the follower sees nothing new: it appends
 * the entries in one write and answers once. Entries stay one per ADD.
 *
 * Order per destination is kept: any other message to a follower (votes,
 * snapshots, TimeoutNow, a non-contiguous AppendEntries after a rejection)
 * first sends what is held for it. Every original request's callback runs
 * exactly once, after the message that carried it was written (or failed),
 * so raft releases its entries at the right time.
 *
 * Ownership: the struct embeds the raft_io that raft_uv_init fills in;
 * raft is given &q->io. Loop thread only. */
#ifndef EVENTFLOW_SENDQ_H
#define EVENTFLOW_SENDQ_H

#include <raft.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "raftio/turn_end.h"

struct sendq_batch;
struct sendq_fake_ack;

/* A batch is sent early once it holds this many entries or bytes, which
 * bounds a follower's receive buffer. */
#define SENDQ_MAX_ENTRIES 4096
#define SENDQ_MAX_BYTES ((size_t)8 << 20)

struct sendq {
    struct raft_io io; /* filled in by raft_uv_init; first member */
    /* private */
    int (*inner_send)(struct raft_io *io, struct raft_io_send *req, const struct raft_message *message,
                      raft_io_send_cb cb);
    void (*inner_close)(struct raft_io *io, raft_io_close_cb cb);
    int (*inner_start)(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv);
    raft_io_recv_cb recv; /* raft's, for MUTANT_ACK_BEFORE_COMMIT's made-up answers */
    struct sendq_fake_ack *fake_acks; /* those answers, given to raft on flush */
    struct turn_end turn; /* flushes at the end of the loop turn */
    struct sendq_batch **batches; /* held batches, at most one per destination */
    size_t n_batches, cap_batches;
    struct sendq_batch *failed; /* refused by the inner send; completed on flush */
    uint64_t messages_in;  /* AppendEntries raft asked to send */
    uint64_t messages_out; /* AppendEntries actually sent for them */
};

/* Interpose on q->io, which raft_uv_init (or any raft_io implementation)
 * must have filled in already. Returns 0, or a libuv error code. */
int sendq_init(struct sendq *q, uv_loop_t *loop);

/* Send what is held now. Called by the loop handles; exposed for tests. */
void sendq_flush(struct sendq *q);

/* Release the handles after raft closed the io (held messages were failed
 * with RAFT_CANCELED when raft closed it). Their close callbacks run on a
 * later loop turn; q must stay valid until then. */
void sendq_close(struct sendq *q);

#endif
