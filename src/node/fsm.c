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
 * apply only queues the entry; fsm_drain applies the queue to the store,
 * at the end of the loop turn (server_turn_end) and before anything that
 * must see every entry raft counts as applied (a snapshot, a restore, a
 * barrier's callback). raft_uv fires the disk write's callbacks, and so
 * applies what they committed, *before* it submits the next write: applying
 * there left the disk idle for the whole apply, a quarter of the loop's
 * work per ADD, and on a follower it delayed the acknowledgement raft sends
 * after applying. Queued, the next write (and a follower's answer) go out
 * first. Nothing is acknowledged before it is applied: a request's reply is
 * written when its outcome comes out of the drain (node_entry_applied). A
 * crash with entries queued loses nothing: they are in raft's log, behind
 * no snapshot (a snapshot drains first), and the store re-applies them at
 * restart as it does after any crash.
 *
 * Snapshots are O(1): `snapshot` (loop thread) makes the store durable at
 * the applied index and returns a small header (store_snapshot.c); raft
 * writes it and may then drop the log behind it. There is nothing to
 * serialize, so there is no `snapshot_async`. `restore` is where state
 * moves: a header at or below the store's applied index needs nothing (a
 * restart); one beyond it (a follower sent a snapshot, or a store lost by
 * hand) makes the node fetch a copy of a peer's store first (fetch.c). */
#include "node/fsm.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fatal.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/mutant.h"
#include "node/entry.h"
#include "node/fetch.h"
#include "node/node_internal.h"

/* A committed entry waiting for fsm_drain: its raft index and where its
 * payload sits in fsm_state.bytes. */
struct fsm_queued {
    uint64_t index;
    size_t off, len;
};

struct fsm_state {
    struct node *node; /* borrowed */
    struct fsm_queued *queue; /* owned, in index order */
    size_t n_queued, cap_queued;
    struct buf bytes;         /* the queued payloads, back to back */
    bool draining;
};

/* The payload buffer is kept between drains up to this size. */
#define FSM_BYTES_KEEP (1u << 20)

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
    const void *payload = NULL;
    size_t len = 0;

    /* A malformed frame still consumes its index: the store records it as
     * an invalid entry, identically on every replica. */
    if (entry_payload(buf, &payload, &len) != 0)
        payload = NULL, len = 0;
    if (st->n_queued == st->cap_queued) {
        st->cap_queued = st->cap_queued ? st->cap_queued * 2 : 256;
        st->queue = xrealloc(st->queue, st->cap_queued * sizeof *st->queue);
    }
    st->queue[st->n_queued++] = (struct fsm_queued){
        .index = raft_last_applied(&n->raft) + 1,
        .off = st->bytes.len,
        .len = len,
    };
    /* A copy: raft may release the entry's buffer once apply returns. At
     * worst (a restart replaying its whole log tail in one go) this
     * doubles, until the turn ends, what raft's in-memory log holds. */
    buf_append(&st->bytes, payload, len);
    /* The outcome is delivered through node_entry_applied when the queue
     * drains; raft's callback for the request only says it committed. */
    *result = NULL;
    return 0;
}

void fsm_drain(struct raft_fsm *fsm)
{
    struct fsm_state *st = fsm->data;
    /* Delivering an outcome only renders a reply (requests finish later,
     * in node_finish_requests), so nothing here calls back into raft; the
     * guard keeps it that way should that change. */
    if (st == NULL || st->draining)
        return;
    struct node *n = st->node;
    st->draining = true;
    for (size_t i = 0; i < st->n_queued; i++) {
        struct fsm_queued q = st->queue[i];
        const struct store_outcome *outcome;
        const void *payload = q.len != 0 ? st->bytes.data + q.off : NULL;
        if (mutant_is(MUTANT_FOLLOWER_PARTIAL_APPLY) && raft_state(&n->raft) == RAFT_FOLLOWER && q.index % 16 == 0)
            payload = NULL, q.len = 0;
        int rc = store_apply(n->store, q.index, payload, q.len, &outcome);
        if (rc != 0) {
            /* The entry is committed and must be applied; we cannot skip it
             * and we cannot fail deterministically. Stop: a restart replays
             * it. */
            fatal_restart("applying entry %" PRIu64 " failed: %s; raft re-applies it at restart", q.index,
                          store_errmsg(n->store));
        }
        if (outcome->status == STORE_INVALID_ENTRY)
            log_warn("entry %" PRIu64 " rejected by the state machine (undecodable or ids out of order)",
                     q.index);
        node_entry_applied(n, q.index, outcome);
        node_log_budget_applied(n, q.len);
    }
    st->n_queued = 0;
    buf_reset(&st->bytes);
    buf_shrink(&st->bytes, FSM_BYTES_KEEP);
    st->draining = false;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    struct fsm_state *st = fsm->data;
    struct node *n = st->node;
    /* raft 0.22.1 crashes a node that is sent an InstallSnapshot while it
     * takes a snapshot of its own (legacy.c, takeSnapshotCb, clears
     * snapshot_pending before reading it). Installs go to followers that
     * lag, typically right after they were paused or cut off; so a
     * follower snapshots only after steady contact with its leader. raft
     * asks again at the next applied entry. */
    if (raft_state(&n->raft) == RAFT_FOLLOWER && !node_contact_steady(n))
        return RAFT_BUSY;
    /* The snapshot stands for everything raft has applied. */
    fsm_drain(fsm);
    uint64_t t0 = fsm_now_ms();
    /* Who can serve a copy of this state to a node that needs it. */
    char **sources = NULL;
    size_t n_sources = node_state_sources(n, &sources);
    void *header = NULL;
    size_t len = 0;
    int rc = store_snapshot_take(n->store, (const char *const *)sources, n_sources, &header, &len);
    node_state_sources_free(sources, n_sources);
    if (rc != 0) {
        log_error("snapshot: %s", store_errmsg(n->store));
        /* The open batch's entries are gone from the store while raft
         * counts them as applied: carrying on would commit later entries
         * on top of the gap. */
        if (store_batch_lost(n->store))
            node_stop_for_reapply(n, "committing applied entries");
        return rc == STORE_EFULL ? RAFT_NOSPACE : RAFT_IOERR;
    }
    struct store_stats stats;
    if (store_stats(n->store, &stats) == 0 && stats.applied_index > raft_last_applied(&n->raft))
        log_error("snapshot: store at %" PRIu64 " is ahead of raft's applied index %" PRIu64,
                  stats.applied_index, (uint64_t)raft_last_applied(&n->raft));
    struct raft_buffer *out = xmalloc(sizeof *out);
    out->base = header;
    out->len = len;
    *bufs = out;
    *n_bufs = 1;
    n->snapshots_taken++;
    node_log_budget_snapshot(n, raft_last_applied(&n->raft));
    log_info("snapshot at raft index %" PRIu64 ": store synced, %zu-byte header, %" PRIu64 " ms",
             (uint64_t)raft_last_applied(&n->raft), len, fsm_now_ms() - t0);
    return 0;
}

/* With a finalize hook raft leaves the buffers to us (fsm version >= 2). */
static int fsm_snapshot_finalize(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    struct fsm_state *st = fsm->data;
    if (st->node->raft.legacy.snapshot_pending != NULL && !st->node->raft.legacy.closing) {
        /* The defect described in fsm_snapshot is about to dereference
         * NULL. Stop with a clear message instead: everything applied is
         * durable, and at restart the leader sends the snapshot again. */
        fatal_restart("raft 0.22.1 cannot install a snapshot received while taking one");
    }
    if (*bufs != NULL) {
        for (unsigned i = 0; i < *n_bufs; i++)
            free((*bufs)[i].base);
        free(*bufs);
    }
    *bufs = NULL;
    *n_bufs = 0;
    return 0;
}

/* MUTANT_TRANSFER_DROPS_LAST_BATCH: a store this many entries behind the
 * snapshot is taken for current, so the transfer that would bring the
 * last batch never happens. */
#define FSM_MUTANT_BATCH 1024

/* Bring the store to the snapshot's state. Returns 0 or a RAFT_* code. */
static int fsm_restore_state(struct node *n, const struct store_snapshot_info *info)
{
    struct store_stats stats;
    if (store_stats(n->store, &stats) != 0) {
        log_error("restore: %s", store_errmsg(n->store));
        return RAFT_IOERR;
    }
    if (stats.applied_index == info->applied_index &&
        (stats.checksum != info->checksum || stats.event_count != info->event_count)) {
        /* Same position, different state: this replica diverged. Serving
         * from it would be wrong, and so would overwriting the evidence. */
        log_error("restore: the store at index %" PRIu64 " has %" PRIu64 " events and checksum %08x, "
                  "the snapshot %" PRIu64 " and %08x",
                  stats.applied_index, stats.event_count, (unsigned)stats.checksum, info->event_count,
                  (unsigned)info->checksum);
        return RAFT_CORRUPT;
    }
    if (stats.applied_index + (mutant_is(MUTANT_TRANSFER_DROPS_LAST_BATCH) ? FSM_MUTANT_BATCH : 0) >= info->applied_index)
        return 0; /* a restart: the store is durable at least this far */
    log_info("restore: the store is at index %" PRIu64 ", the snapshot at %" PRIu64
             ": fetching a copy of the state from a peer",
             stats.applied_index, info->applied_index);
    if (fetch_state(n, info) != 0)
        return RAFT_IOERR;
    if (store_stats(n->store, &stats) != 0 || stats.applied_index < info->applied_index) {
        log_error("restore: the fetched store is not at index %" PRIu64, info->applied_index);
        return RAFT_IOERR;
    }
    log_info("restored a snapshot at index %" PRIu64 ": the store is now at %" PRIu64 " with %" PRIu64 " events",
             info->applied_index, stats.applied_index, stats.event_count);
    return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    struct fsm_state *st = fsm->data;
    struct node *n = st->node;
    struct store_snapshot_info info;
    /* Entries raft applied before the snapshot arrived go to the store
     * first; any the snapshot covers are then skipped by the store's own
     * index check, as at a restart. */
    fsm_drain(fsm);
    if (store_snapshot_parse(buf->base, buf->len, &info) != 0) {
        log_error("restore: the snapshot is not a header this version understands (%zu bytes)", buf->len);
        return RAFT_CORRUPT;
    }
    int rc = fsm_restore_state(n, &info);
    if (rc != 0 && n->started) {
        /* raft has already recorded the snapshot as installed: a failure
         * here cannot be handed back. Stop; at restart raft restores the
         * same snapshot and this starts over. */
        fatal_restart("restore: cannot reach the state at index %" PRIu64 "; a restart tries again",
                      info.applied_index);
    }
    if (rc != 0)
        log_error("restore: cannot reach the state at index %" PRIu64, info.applied_index);
    store_snapshot_info_free(&info);
    if (rc == 0)
        raft_free(buf->base); /* on success restore owns the buffer */
    return rc;
}

int fsm_init(struct raft_fsm *fsm, struct node *n)
{
    struct fsm_state *st = xcalloc(1, sizeof *st);
    st->node = n;
    buf_init(&st->bytes);
    fsm->version = 3;
    fsm->data = st;
    fsm->apply = fsm_apply;
    fsm->snapshot = fsm_snapshot;
    fsm->restore = fsm_restore;
    fsm->snapshot_finalize = fsm_snapshot_finalize;
    fsm->snapshot_async = NULL; /* nothing slow to do off the loop */
    return 0;
}

void fsm_close(struct raft_fsm *fsm)
{
    struct fsm_state *st = fsm->data;
    if (st == NULL)
        return;
    /* Entries still queued are in raft's log: the store re-applies them at
     * the next start. */
    free(st->queue);
    buf_free(&st->bytes);
    free(st);
    fsm->data = NULL;
}
