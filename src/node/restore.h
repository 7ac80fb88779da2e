/* restore.h - eventflowd --restore: a backup file (common/backup_file.h)
 * installed as the store of an empty data directory, as the first state of
 * a new cluster (store_file_rebase: a new identity, applied index 0).
 *
 * Everything is checked before the store is in place: the file's layout,
 * its header's and its own CRC-32, its length, the image's CRC-32, that
 * the image's meta agrees with the header, and that this build reads its
 * store format. A refused file leaves the data directory as it was
 * (empty). */
#ifndef EVENTFLOW_NODE_RESTORE_H
#define EVENTFLOW_NODE_RESTORE_H

#include <stdbool.h>

/* Install `file` as DATA/store/data.mdb. data_dir must be absent or empty,
 * or restored from this very backup before (DATA/restored-from: then
 * nothing is done, so a node whose settings keep --restore restarts from
 * its store). Returns 0, or -1 after logging why. Before the store opens. */
int restore_install(const char *file, const char *data_dir);

/* A restored store's events are in no entry of the new raft log, so a
 * member that joins must be sent a snapshot (and fetch the store) rather
 * than the log from its first entry: until the restored node's first raft
 * snapshot has compacted those entries away, a marker (DATA/restored) says
 * so, across restarts. */
bool restore_compaction_pending(const char *data_dir);
/* The first snapshot is taken: remove the marker. 0, or -1 (logged). */
int restore_compaction_done(const char *data_dir);

#endif
