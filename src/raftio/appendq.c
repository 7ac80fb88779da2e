/* appendq.c - raft's log appends of one loop turn written together (see
 * appendq.h).
 *
 * A batch is held (q->held, still growing), being written (handed to the
 * inner append, waiting for its callback; q->writing counts them) or failed
 * (the inner append refused it; its callbacks run on the next flush, never
 * inside one of raft's calls into the io). In every case the batch owns
 * its entry array; the entries' buffers stay raft's. */
#include "raftio/appendq.h"

#include <stdbool.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/mem.h"

struct appendq_orig {
    struct raft_io_append *req;
    raft_io_append_cb cb;
};

struct appendq_batch {
    struct appendq *q;
    raft_index first_index;       /* of entries[0], when index_known */
    bool index_known;
    struct raft_io_append append; /* our request to the inner append */
    struct raft_entry *entries;   /* owned array; buffers borrowed from raft */
    unsigned n_entries, cap_entries;
    size_t bytes;
    uint64_t submitted_ns;        /* uv_hrtime when handed to raft_uv */
    struct appendq_orig *origs; /* the requests this batch carries, in order */
    size_t n_origs, cap_origs;
    int status;                 /* failed batches: the inner append's error */
    struct appendq_batch *next; /* failed batches, oldest first */
};

static void batch_complete(struct appendq_batch *b, int status)
{
    for (size_t i = 0; i < b->n_origs; i++)
        b->origs[i].cb(b->origs[i].req, status);
    free(b->origs);
    free(b->entries);
    free(b);
}

static void complete_failed(struct appendq *q)
{
    while (q->failed != NULL) {
        struct appendq_batch *b = q->failed;
        q->failed = b->next;
        batch_complete(b, b->status);
    }
}

/* The loop must not block while a flush has something to do now; while a
 * write is in flight it may, that write's completion wakes it. */
static void update_idle(struct appendq *q)
{
    if (q->failed != NULL || (q->held != NULL && q->writing == 0))
        turn_end_soon(&q->turn);
    else
        turn_end_rest(&q->turn);
}

static void batch_written_cb(struct raft_io_append *append, int status)
{
    struct appendq_batch *b = append->data;
    struct appendq *q = b->q;
    q->writing--;
    if (status == 0)
        hist_observe(&q->write_latency_ns, &hist_latency_ns, uv_hrtime() - b->submitted_ns);
    /* raft's callbacks may append again (into a new held batch) or
     * truncate; b is no longer reachable from q, so either is safe. */
    batch_complete(b, status);
    update_idle(q);
}

/* Hand the held batch to the inner append, whatever is being written:
 * raft_uv queues it behind its current write. */
static void submit_held(struct appendq *q)
{
    struct appendq_batch *b = q->held;
    if (b == NULL)
        return;
    q->held = NULL;
    b->append.data = b;
    q->writing++;
    q->appends_out++;
    hist_observe(&q->write_entries, &hist_per_batch, b->n_entries);
    b->submitted_ns = uv_hrtime();
    int rv = q->inner_append(appendq_io(q), &b->append, b->entries, b->n_entries, batch_written_cb);
    if (rv != 0) {
        /* raft sees it fail as a write that failed on disk: the callbacks
         * run once, in order, and not from inside the raft call that may
         * have led here. raft_uv never took these entries, so its log now
         * ends before raft's: from here on every append and truncate is
         * refused with the same error, as raft_uv refuses them once a write
         * failed (and a restart recovers). */
        if (q->refused == 0)
            log_error("raft log append of %u entries refused: %s; refusing log writes until restart",
                      b->n_entries, raft_strerror(rv));
        q->refused = rv;
        q->writing--;
        b->status = rv;
        b->next = NULL;
        struct appendq_batch **tail = &q->failed;
        while (*tail != NULL)
            tail = &(*tail)->next;
        *tail = b;
    }
    update_idle(q);
}

static void batch_add(struct appendq_batch *b, struct raft_io_append *req, const struct raft_entry entries[],
                      unsigned n, raft_io_append_cb cb)
{
    if (b->n_entries + n > b->cap_entries) {
        unsigned cap = b->cap_entries ? b->cap_entries : 64;
        while (cap < b->n_entries + n)
            cap *= 2;
        b->entries = xrealloc(b->entries, cap * sizeof *b->entries);
        b->cap_entries = cap;
    }
    for (unsigned i = 0; i < n; i++) {
        b->entries[b->n_entries + i] = entries[i];
        b->bytes += entries[i].buf.len;
    }
    b->n_entries += n;
    if (b->n_origs == b->cap_origs) {
        b->cap_origs = b->cap_origs ? 2 * b->cap_origs : 16;
        b->origs = xrealloc(b->origs, b->cap_origs * sizeof *b->origs);
    }
    b->origs[b->n_origs++] = (struct appendq_orig){.req = req, .cb = cb};
}

static int appendq_append(struct raft_io *io, struct raft_io_append *req, const struct raft_entry entries[],
                          unsigned n, raft_io_append_cb cb)
{
    struct appendq *q = (struct appendq *)io; /* io is the sendq's first member, the sendq ours */
    if (q->refused != 0)
        return q->refused;
    if (n == 0)
        return q->inner_append(io, req, entries, n, cb);
    q->appends_in++;
    req->cb = cb;
    size_t bytes = 0;
    for (unsigned i = 0; i < n; i++)
        bytes += entries[i].buf.len;
    if (bytes >= APPENDQ_MAX_BYTES) {
        /* Large enough to be a batch of its own (raft_uv 0.22.1 gives a
         * batch larger than a segment a segment of its own): it goes
         * straight to raft_uv behind what is held, so a held batch stays
         * within twice this size, and should raft_uv refuse it, raft gets
         * the answer from its own call and only this request fails. */
        submit_held(q);
        q->truncated_at = 0;
        q->appends_out++;
        hist_observe(&q->write_entries, &hist_per_batch, n);
        return q->inner_append(io, req, entries, n, cb);
    }
    if (q->held == NULL) {
        q->held = xcalloc(1, sizeof *q->held);
        q->held->q = q;
        /* raft 0.22.1 precedes each append with a truncate at the append's
         * first index (see appendq_truncate): that names where the batch
         * starts. */
        q->held->first_index = q->truncated_at;
        q->held->index_known = q->truncated_at != 0;
    }
    q->truncated_at = 0;
    batch_add(q->held, req, entries, n, cb);
    if (q->held->n_entries >= APPENDQ_MAX_ENTRIES || q->held->bytes >= APPENDQ_MAX_BYTES)
        submit_held(q);
    else
        update_idle(q);
    return 0;
}

/* raft 0.22.1 calls truncate(i) right before every append of entries
 * starting at i, whether or not anything is there to delete; raft_uv treats
 * a truncate at its next index as nothing to do. While a batch is held,
 * raft_uv's next index lags raft's, so such a truncate would name an index
 * raft_uv has not seen: it is one that deletes nothing when it names the
 * index right after the held batch, and the append that follows continues
 * the batch. Any other truncate deletes entries: what is held goes to
 * raft_uv first, which orders the truncation behind it. */
static int appendq_truncate(struct raft_io *io, raft_index index)
{
    struct appendq *q = (struct appendq *)io;
    const struct appendq_batch *b = q->held;
    if (q->refused != 0)
        return q->refused;
    if (b != NULL && b->index_known && index == b->first_index + b->n_entries) {
        q->truncates_skipped++;
        return 0;
    }
    submit_held(q);
    int rv = q->inner_truncate(io, index);
    q->truncated_at = rv == 0 ? index : 0;
    return rv;
}

/* Likewise a snapshot (and the log compaction or replacement it brings). */
static int appendq_snapshot_put(struct raft_io *io, unsigned trailing, struct raft_io_snapshot_put *req,
                                const struct raft_snapshot *snapshot, raft_io_snapshot_put_cb cb)
{
    struct appendq *q = (struct appendq *)io;
    submit_held(q);
    q->truncated_at = 0;
    return q->inner_snapshot_put(io, trailing, req, snapshot, cb);
}

void appendq_flush(struct appendq *q)
{
    complete_failed(q);
    if (q->writing == 0)
        submit_held(q);
    update_idle(q);
}

static void appendq_turn_end(void *data)
{
    appendq_flush(data);
}

/* raft is closing the io: raft_uv settles what is held as it settles its
 * own pending appends. */
static void appendq_io_close(struct raft_io *io, raft_io_close_cb cb)
{
    struct appendq *q = (struct appendq *)io;
    submit_held(q);
    while (q->failed != NULL) {
        struct appendq_batch *b = q->failed;
        q->failed = b->next;
        batch_complete(b, RAFT_CANCELED);
    }
    turn_end_stop(&q->turn);
    q->inner_close(io, cb);
}

int appendq_init(struct appendq *q, uv_loop_t *loop)
{
    int rv;

    q->held = NULL;
    q->failed = NULL;
    q->writing = 0;
    q->appends_in = q->appends_out = 0;
    q->truncated_at = 0;
    q->truncates_skipped = 0;
    q->write_entries = (struct hist){0};
    q->write_latency_ns = (struct hist){0};
    q->refused = 0;
    q->turn = (struct turn_end){0}; /* appendq_close works whatever fails below */
    rv = sendq_init(&q->sendq, loop);
    if (rv != 0)
        return rv;
    struct raft_io *io = appendq_io(q);
    q->inner_append = io->append;
    q->inner_truncate = io->truncate;
    q->inner_snapshot_put = io->snapshot_put;
    q->inner_close = io->close; /* the sendq's */

    rv = turn_end_init(&q->turn, loop, appendq_turn_end, q);
    if (rv != 0)
        return rv;

    io->append = appendq_append;
    io->truncate = appendq_truncate;
    io->snapshot_put = appendq_snapshot_put;
    io->close = appendq_io_close;
    return 0;
}

void appendq_close(struct appendq *q)
{
    /* raft closed the io first (appendq_io_close), which handed everything
     * held to raft_uv. */
    turn_end_close(&q->turn);
    sendq_close(&q->sendq);
}
