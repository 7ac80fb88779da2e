/* log_budget.c - snapshots by the bytes of the raft log as well as by its
 * entry count.
 *
 * raft 0.22.1 holds in memory every entry since its last snapshot and the
 * trailing entries it keeps behind one. --snapshot-threshold and
 * --snapshot-trailing count entries, which suits 200-byte events; an ADD
 * of large events makes entries of megabytes, and 131072 of them would be
 * gigabytes of memory before the first snapshot. So once the entries
 * applied since the last snapshot reach --snapshot-log-bytes, a snapshot
 * is taken at the next applied entry (raft's threshold lowered to one
 * entry), keeping behind it at most half that many bytes of entries (the
 * trailing count lowered to match their average size). The configured
 * settings are put back as soon as that snapshot is taken (threshold) and
 * installed (trailing). A snapshot here is a durable point of the store
 * and a 100-byte header (fsm.c), so taking one more often costs an fsync,
 * whatever the store's size. Loop thread only. */
#include <inttypes.h>

#include "common/log.h"
#include "node/node_internal.h"

void node_log_budget_applied(struct node *n, size_t len)
{
    struct node_log_budget *b = &n->log_budget;
    uint64_t budget = n->cfg->snapshot_log_bytes;
    b->bytes += len;
    b->entries++;
    if (budget == 0 || b->threshold_lowered || n->restore_compacting || b->bytes < budget)
        return;
    uint64_t avg = b->bytes / b->entries;
    uint64_t trailing = (budget / 2) / (avg > 0 ? avg : 1);
    if (trailing > n->cfg->snapshot_trailing)
        trailing = n->cfg->snapshot_trailing;
    b->threshold_lowered = true;
    b->trailing_lowered = true;
    b->snapshot_index = 0;
    raft_set_snapshot_threshold(&n->raft, 1);
    raft_set_snapshot_trailing(&n->raft, (unsigned)trailing);
    if (!b->logged) {
        /* Once per run: it repeats for as long as the large entries do. */
        b->logged = true;
        log_info("raft log: %" PRIu64 " bytes in %" PRIu64 " entries since the last snapshot reached "
                 "--snapshot-log-bytes; snapshotting by bytes (keeping %" PRIu64 " trailing entries) "
                 "whenever it does",
                 b->bytes, b->entries, trailing);
    }
}

void node_log_budget_snapshot(struct node *n, raft_index index)
{
    struct node_log_budget *b = &n->log_budget;
    b->bytes = 0;
    b->entries = 0;
    if (!b->threshold_lowered)
        return;
    /* Not a snapshot at every entry from here on. */
    b->threshold_lowered = false;
    raft_set_snapshot_threshold(&n->raft, n->cfg->snapshot_threshold);
    b->snapshot_index = index;
}

void node_log_budget_settle(struct node *n)
{
    struct node_log_budget *b = &n->log_budget;
    /* raft reads the trailing count when the snapshot it took is
     * installed: only then does the configured one come back. */
    if (!b->trailing_lowered || b->threshold_lowered || b->snapshot_index == 0 ||
        n->raft.trail.snapshot.index < b->snapshot_index)
        return;
    b->trailing_lowered = false;
    b->snapshot_index = 0;
    raft_set_snapshot_trailing(&n->raft, n->cfg->snapshot_trailing);
}
