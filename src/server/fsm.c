/* fsm.c - raft_fsm over the LMDB store.
 *
 * apply: raft hands us each committed RAFT_COMMAND entry in log order. Its
 * index is raft_last_applied() + 1: raft advances last_applied for every
 * entry type (commands, barriers, configuration changes) only after the
 * entry is handled, and restores it from the snapshot at boot. The store
 * uses the index to skip entries it already holds (idempotent replay).
 *
 * A non-zero return from apply would stop raft from applying anything ever
 * again, so business outcomes (a wrong expected version) are results, and
 * environmental failures (I/O error, map full) stop the process: on restart
 * raft replays the entry from its log.
 *
 * Snapshots use fsm version 3: `snapshot` (loop thread) pins a read
 * transaction, `snapshot_async` (a worker thread, or the loop thread in some
 * raft builds) serializes it, `snapshot_finalize` (loop thread) frees the
 * buffers and releases the transaction. The loop keeps applying meanwhile;
 * LMDB's MVCC keeps the snapshot consistent. */
#include "server/fsm.h"

#include <inttypes.h>
#include <pthread.h>
#include <time.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "server/entry.h"
#include "server/node.h"

/* Snapshot chunks of about this size: big enough to keep the buffer count
 * low, small enough that serialization never needs one huge allocation. */
#define FSM_SNAPSHOT_CHUNK (4u << 20)

struct fsm_state {
    struct node *node;                 /* borrowed */
    struct store_snapshot *snapshot;   /* owned while a snapshot is taken */
    pthread_t loop_thread;             /* the thread that runs the loop */
};

static uint64_t fsm_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    struct fsm_state *st = fsm->data;
    struct node *n = st->node;
    uint64_t index = raft_last_applied(&n->raft) + 1;
    const struct store_outcome *outcome;
    const void *payload = NULL;
    size_t len = 0;

    /* A malformed frame still consumes its index: the store records it as
     * an invalid entry, identically on every replica. */
    if (entry_payload(buf, &payload, &len) != 0)
        payload = NULL, len = 0;
    int rc = store_apply(n->store, index, payload, len, &outcome);
    if (rc != 0) {
        /* The entry is committed and must be applied; we cannot skip it
         * and we cannot fail deterministically. Stop: a restart replays it. */
        log_error("applying entry %" PRIu64 " failed: %s; stopping so that a restart re-applies it",
                  index, store_errmsg(n->store));
        _exit(1);
    }
    if (outcome->status == STORE_INVALID_ENTRY)
        log_warn("entry %" PRIu64 " rejected by the state machine (undecodable or ids out of order)",
                 index);
    node_entry_applied(n, index, outcome);
    /* The outcome is delivered through node_entry_applied; raft may fire
     * its callback after later entries were applied, so hand it nothing. */
    *result = NULL;
    return 0;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    struct fsm_state *st = fsm->data;
    if (st->snapshot != NULL)
        return RAFT_BUSY;
    int rc = store_snapshot_begin(st->node->store, &st->snapshot);
    if (rc != 0) {
        log_error("snapshot: %s", store_errmsg(st->node->store));
        st->snapshot = NULL;
        return RAFT_IOERR;
    }
    /* The store's index may trail raft's applied index: barriers and
     * configuration entries consume indexes without reaching the store.
     * Ahead of it would mean the store holds entries raft has not applied. */
    if (store_snapshot_index(st->snapshot) > raft_last_applied(&st->node->raft))
        log_error("snapshot: store at %" PRIu64 " is ahead of raft's applied index %" PRIu64,
                  store_snapshot_index(st->snapshot), (uint64_t)raft_last_applied(&st->node->raft));
    *bufs = NULL;
    *n_bufs = 0;
    return 0;
}

static int fsm_snapshot_async(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    struct fsm_state *st = fsm->data;
    struct store_chunk *chunks = NULL;
    unsigned n = 0;
    if (st->snapshot == NULL)
        return RAFT_INVALID;
    uint64_t t0 = fsm_now_ms();
    int rc = store_snapshot_write(st->snapshot, FSM_SNAPSHOT_CHUNK, &chunks, &n);
    if (rc != 0)
        return rc == STORE_EFULL ? RAFT_NOSPACE : RAFT_IOERR;
    size_t bytes = 0;
    for (unsigned i = 0; i < n; i++)
        bytes += chunks[i].len;
    /* Which thread runs this depends on the raft build; on the loop
     * thread a large store stalls heartbeats, so say so. */
    log_info("snapshot at index %" PRIu64 ": %zu bytes in %u chunks serialized in %" PRIu64 " ms on %s",
             store_snapshot_index(st->snapshot), bytes, n, fsm_now_ms() - t0,
             pthread_equal(pthread_self(), st->loop_thread) ? "the loop thread" : "a worker thread");
    struct raft_buffer *out = xcalloc(n ? n : 1, sizeof *out);
    for (unsigned i = 0; i < n; i++) {
        out[i].base = chunks[i].base;
        out[i].len = chunks[i].len;
    }
    free(chunks);
    *bufs = out;
    *n_bufs = n;
    return 0;
}

/* With a finalize hook raft leaves the buffers to us (fsm version >= 2). */
static int fsm_snapshot_finalize(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    struct fsm_state *st = fsm->data;
    if (*bufs != NULL) {
        for (unsigned i = 0; i < *n_bufs; i++)
            free((*bufs)[i].base);
        free(*bufs);
    }
    *bufs = NULL;
    *n_bufs = 0;
    if (st->snapshot != NULL) {
        log_info("snapshot at index %" PRIu64 " done", store_snapshot_index(st->snapshot));
        store_snapshot_end(st->snapshot);
        st->snapshot = NULL;
    }
    return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    struct fsm_state *st = fsm->data;
    bool skipped = false;
    int rc = store_restore(st->node->store, buf->base, buf->len, &skipped);
    if (rc != 0) {
        log_error("restoring a snapshot failed: %s", store_errmsg(st->node->store));
        return rc == STORE_ECORRUPT ? RAFT_CORRUPT : RAFT_IOERR;
    }
    if (!skipped)
        log_info("restored a snapshot of %zu bytes", buf->len);
    /* On success restore owns the buffer. */
    raft_free(buf->base);
    return 0;
}

int fsm_init(struct raft_fsm *fsm, struct node *n)
{
    struct fsm_state *st = xcalloc(1, sizeof *st);
    st->node = n;
    st->loop_thread = pthread_self();
    fsm->version = 3;
    fsm->data = st;
    fsm->apply = fsm_apply;
    fsm->snapshot = fsm_snapshot;
    fsm->restore = fsm_restore;
    fsm->snapshot_finalize = fsm_snapshot_finalize;
    fsm->snapshot_async = fsm_snapshot_async;
    return 0;
}

void fsm_close(struct raft_fsm *fsm)
{
    struct fsm_state *st = fsm->data;
    if (st == NULL)
        return;
    if (st->snapshot != NULL)
        store_snapshot_end(st->snapshot);
    free(st);
    fsm->data = NULL;
}
