/* sendq.c - coalesces raft's AppendEntries messages (see sendq.h).
 *
 * A batch is either held (in q->batches, still growing), in flight (handed
 * to the inner send, waiting for its callback) or failed (the inner send
 * refused it; its callbacks run on the next flush, never inside raft's own
 * call to send). In every case the batch owns its entry array and address
 * copy, and the entries' buffers stay raft's: they are only released when
 * the original requests' callbacks run, after the batch is written. */
#include "raftio/sendq.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "common/mem.h"
#include "common/mutant.h"

struct sendq_orig {
    struct raft_io_send *req;
    raft_io_send_cb cb;
};

struct sendq_batch {
    struct raft_io_send send;    /* our request to the inner send */
    struct raft_message message; /* the merged AppendEntries */
    char *address;               /* owned copy of the destination address */
    struct raft_entry *entries;  /* owned array; buffers borrowed from raft */
    unsigned cap_entries;
    size_t bytes;
    struct sendq_orig *origs; /* the requests this batch carries, in order */
    size_t n_origs, cap_origs;
    int status;                      /* failed batches: the inner send's error */
    struct sendq_batch *next_failed; /* failed batches, completed on flush */
};

static void batch_complete(struct sendq_batch *b, int status)
{
    for (size_t i = 0; i < b->n_origs; i++)
        b->origs[i].cb(b->origs[i].req, status);
    free(b->origs);
    free(b->entries);
    free(b->address);
    free(b);
}

static void batch_sent_cb(struct raft_io_send *send, int status)
{
    batch_complete(send->data, status);
}

static void complete_failed(struct sendq *q)
{
    while (q->failed != NULL) {
        struct sendq_batch *b = q->failed;
        q->failed = b->next_failed;
        batch_complete(b, b->status);
    }
}

/* MUTANT_ACK_BEFORE_COMMIT (common/mutant.h): the follower's answer to an
 * AppendEntries, made up as if it had appended every entry, and given to
 * raft on the next flush, never inside raft's own call to send. */
struct sendq_fake_ack {
    struct raft_message message;
    struct sendq_fake_ack *next;
};

static void fake_ack_queue(struct sendq *q, const struct raft_message *m)
{
    const struct raft_append_entries *ae = &m->append_entries;
    struct sendq_fake_ack *f = xcalloc(1, sizeof *f);
    f->message.type = RAFT_APPEND_ENTRIES_RESULT;
    f->message.server_id = m->server_id;
    f->message.server_address = xstrdup(m->server_address);
    f->message.append_entries_result.version = 1;
    f->message.append_entries_result.term = ae->term;
    f->message.append_entries_result.last_log_index = ae->prev_log_index + ae->n_entries;
    f->next = q->fake_acks;
    q->fake_acks = f;
    turn_end_soon(&q->turn);
}

static void fake_acks_deliver(struct sendq *q, bool to_raft)
{
    while (q->fake_acks != NULL) {
        struct sendq_fake_ack *f = q->fake_acks;
        q->fake_acks = f->next;
        /* As with raft_uv's messages, the address stays the sender's. */
        if (to_raft && q->recv != NULL)
            q->recv(&q->io, &f->message);
        free((char *)f->message.server_address);
        free(f);
    }
}

/* Hand held batch i to the inner send and forget it. */
static void batch_send(struct sendq *q, size_t i)
{
    struct sendq_batch *b = q->batches[i];
    q->batches[i] = q->batches[--q->n_batches];

    b->message.append_entries.entries = b->entries;
    b->send.data = b;
    q->messages_out++;
    if (mutant_is(MUTANT_ACK_BEFORE_COMMIT) && b->message.append_entries.n_entries > 0)
        fake_ack_queue(q, &b->message);
    int rv = q->inner_send(&q->io, &b->send, &b->message, batch_sent_cb);
    if (rv != 0) {
        /* raft treats a lost AppendEntries like a dropped packet: it
         * resends on the next heartbeat. The callbacks must still run once,
         * but not from inside raft's call to send. */
        b->status = rv;
        b->next_failed = q->failed;
        q->failed = b;
        turn_end_soon(&q->turn);
    }
}

static ssize_t batch_find(const struct sendq *q, raft_id id)
{
    for (size_t i = 0; i < q->n_batches; i++)
        if (q->batches[i]->message.server_id == id)
            return (ssize_t)i;
    return -1;
}

/* Whether m carries on exactly where batch b ends, for the same leader term
 * and the same address: then the merged message is one raft would have
 * sent itself. */
static bool batch_continues(const struct sendq_batch *b, const struct raft_message *m)
{
    const struct raft_append_entries *held = &b->message.append_entries;
    const struct raft_append_entries *ae = &m->append_entries;
    return ae->term == held->term && ae->prev_log_index == held->prev_log_index + held->n_entries &&
           strcmp(m->server_address, b->address) == 0;
}

/* A new held batch for m's destination, last in q->batches. */
static void batch_new(struct sendq *q, const struct raft_message *m)
{
    struct sendq_batch *b = xcalloc(1, sizeof *b);
    b->message = *m;
    b->address = xstrdup(m->server_address);
    b->message.server_address = b->address;
    b->message.append_entries.entries = NULL;
    b->message.append_entries.n_entries = 0;
    if (q->n_batches == q->cap_batches) {
        q->cap_batches = q->cap_batches ? 2 * q->cap_batches : 4;
        q->batches = xrealloc(q->batches, q->cap_batches * sizeof *q->batches);
    }
    q->batches[q->n_batches++] = b;
}

static void batch_add(struct sendq_batch *b, const struct raft_message *m, struct raft_io_send *req,
                      raft_io_send_cb cb)
{
    const struct raft_append_entries *ae = &m->append_entries;
    struct raft_append_entries *held = &b->message.append_entries;

    if (held->n_entries + ae->n_entries > b->cap_entries) {
        unsigned cap = b->cap_entries ? b->cap_entries : 16;
        while (cap < held->n_entries + ae->n_entries)
            cap *= 2;
        b->entries = xrealloc(b->entries, cap * sizeof *b->entries);
        b->cap_entries = cap;
    }
    for (unsigned i = 0; i < ae->n_entries; i++) {
        b->entries[held->n_entries + i] = ae->entries[i];
        b->bytes += ae->entries[i].buf.len;
    }
    held->n_entries += ae->n_entries;
    /* The leader's commit index only grows within a term: the newest
     * message knows the most. */
    if (ae->leader_commit > held->leader_commit)
        held->leader_commit = ae->leader_commit;

    if (b->n_origs == b->cap_origs) {
        b->cap_origs = b->cap_origs ? 2 * b->cap_origs : 8;
        b->origs = xrealloc(b->origs, b->cap_origs * sizeof *b->origs);
    }
    b->origs[b->n_origs++] = (struct sendq_orig){.req = req, .cb = cb};
}

static int sendq_send(struct raft_io *io, struct raft_io_send *req, const struct raft_message *m,
                      raft_io_send_cb cb)
{
    struct sendq *q = (struct sendq *)io; /* io is the first member */
    ssize_t i = batch_find(q, m->server_id);

    req->cb = cb;
    if (m->type != RAFT_APPEND_ENTRIES) {
        /* Keep the order raft chose: what is held for this peer goes first. */
        if (i >= 0)
            batch_send(q, (size_t)i);
        return q->inner_send(io, req, m, cb);
    }

    q->messages_in++;
    if (i >= 0 && !batch_continues(q->batches[i], m)) {
        batch_send(q, (size_t)i);
        i = -1;
    }
    if (i < 0) {
        batch_new(q, m);
        i = (ssize_t)q->n_batches - 1;
    }
    struct sendq_batch *b = q->batches[i];
    batch_add(b, m, req, cb);
    if (b->message.append_entries.n_entries >= SENDQ_MAX_ENTRIES || b->bytes >= SENDQ_MAX_BYTES)
        batch_send(q, (size_t)i);
    else
        turn_end_soon(&q->turn);
    return 0;
}

void sendq_flush(struct sendq *q)
{
    while (q->n_batches > 0)
        batch_send(q, q->n_batches - 1);
    complete_failed(q);
    fake_acks_deliver(q, true);
    turn_end_rest(&q->turn);
}

static void sendq_turn_end(void *data)
{
    sendq_flush(data);
}

/* raft is closing the io: nothing held will be sent any more. */
static void sendq_io_close(struct raft_io *io, raft_io_close_cb cb)
{
    struct sendq *q = (struct sendq *)io;
    while (q->n_batches > 0) {
        struct sendq_batch *b = q->batches[--q->n_batches];
        batch_complete(b, RAFT_CANCELED);
    }
    complete_failed(q);
    fake_acks_deliver(q, false);
    turn_end_stop(&q->turn);
    q->inner_close(io, cb);
}

/* Only to learn raft's receive callback (MUTANT_ACK_BEFORE_COMMIT). */
static int sendq_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv)
{
    struct sendq *q = (struct sendq *)io;
    q->recv = recv;
    return q->inner_start(io, msecs, tick, recv);
}

int sendq_init(struct sendq *q, uv_loop_t *loop)
{
    int rv;

    q->inner_send = q->io.send;
    q->inner_close = q->io.close;
    q->inner_start = q->io.start;
    q->recv = NULL;
    q->fake_acks = NULL;
    q->batches = NULL;
    q->n_batches = q->cap_batches = 0;
    q->messages_in = q->messages_out = 0;
    q->failed = NULL;

    rv = turn_end_init(&q->turn, loop, sendq_turn_end, q);
    if (rv != 0)
        return rv;

    q->io.send = sendq_send;
    q->io.close = sendq_io_close;
    if (mutant_is(MUTANT_ACK_BEFORE_COMMIT))
        q->io.start = sendq_start;
    return 0;
}

void sendq_close(struct sendq *q)
{
    /* raft closed the io first (sendq_io_close), which emptied the queue. */
    turn_end_close(&q->turn);
    free(q->batches);
    q->batches = NULL;
    q->cap_batches = 0;
}
