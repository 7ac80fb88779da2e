/* store.h - the LMDB state machine: applying committed Raft entries, and
 * serving reads.
 *
 * Tables (LMDB named databases in one environment, DATA/store/data.mdb):
 *   events        16-byte ULID (big-endian = commit order) -> StoredEvent
 *   stream_index  stream name + 0x00 + u64 BE version      -> 16-byte ULID
 *   streams       stream name                              -> StreamInfo
 *   meta          short ASCII keys -> values: applied_index (u64), event_count
 *                 (u64), stream_count (u64), checksum (u32), last_id (16 B),
 *                 format (u32)
 *   members       u64 BE member id -> MemberAddress (client address and
 *                 incarnation, as replicated)
 *
 * Durability. The Raft log is the durable record: an entry is fsynced to a
 * quorum's logs before it is applied here, and Raft snapshots are written
 * (and fsynced) by Raft itself. So LMDB never has to be durable on its own;
 * it is a cache of the applied state that can always be rebuilt from the Raft
 * data directory. Hence:
 *   - transactions commit with MDB_NOSYNC: no fsync on the loop thread;
 *   - applied_index is written in the same transaction as the events it
 *     describes; after a process crash (kill -9) the page cache still holds
 *     every committed transaction, Raft re-applies the entries after its last
 *     snapshot and store_apply skips those at or below applied_index, so
 *     apply is idempotent;
 *   - after an operating-system crash the unsynced file cannot be trusted:
 *     store_open notices (a marker holding the kernel boot id is present and
 *     names another boot) and starts from an empty database, which Raft then
 *     refills from its snapshot and log (store_stats reports rebuilt).
 *   - store_close syncs and removes the marker (clean shutdown).
 *
 * Batching. store_apply writes into a write transaction that stays open
 * until store_flush commits it, so many applied entries share one commit.
 * Reads and store_stats run on the same thread and see every applied
 * entry, through the open batch when there is one; so the node commits on
 * a timer and before snapshots, not before every reply.
 *
 * Threading: all functions are called on the loop thread, except
 * store_snapshot_write which runs on a libuv worker thread while the loop
 * goes on (LMDB is opened MDB_NOTLS so a read transaction may move threads).
 *
 * Errors: functions return 0 or a negative STORE_E* code; store_errmsg
 * returns text for the last error. An error from store_apply is
 * environmental (I/O error, map full, corrupt database): the node must stop
 * rather than skip the entry, so a restart re-applies it from the log. */
#ifndef EVENTFLOW_STORE_H
#define EVENTFLOW_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eventflow.pb-c.h"
#include "store/ulid.h"

enum {
    STORE_EIO = -1,      /* LMDB or file system error */
    STORE_EFULL = -2,    /* LMDB map full or no space left */
    STORE_ECORRUPT = -3, /* undecodable record or snapshot */
    STORE_EINVAL = -4,   /* bad argument */
};

struct store;

struct store_options {
    const char *dir;   /* directory for data.mdb (created if missing) */
    size_t map_size;   /* LMDB map size, bytes; 0 = default 64 GiB */
    /* Idempotency keys remembered (the newest ones); 0 = default 1048576.
     * Must be the same on every replica: it shapes the replicated state. */
    uint64_t dedup_window;
};

/* Open or create the store. On error *out is NULL and err holds a message. */
int store_open(const struct store_options *opts, struct store **out, char *err, size_t errlen);
/* Commits any pending batch, then closes. NULL is a no-op. */
void store_close(struct store *s);
const char *store_errmsg(const struct store *s);

/* What applying one entry did. Business outcomes are not errors: the
 * entry is consumed and applied_index advances whatever the status. */
enum store_status {
    STORE_APPLIED = 0,         /* events written */
    STORE_ALREADY_APPLIED,     /* raft_index <= applied_index: nothing done */
    STORE_VERSION_CONFLICT,    /* expected version < stream length */
    STORE_VERSION_GAP,         /* expected version > stream length */
    STORE_INVALID_ENTRY,       /* undecodable, or ids not above the last id */
    STORE_MEMBER_UPDATED,      /* a MemberAddress entry was recorded */
    STORE_DUPLICATE,           /* every event's key was applied before: nothing
                                * written; `events` are the ORIGINAL events */
    STORE_KEY_REUSE,           /* some, not all, keys were applied before */
};

/* Result of the latest store_apply. Owned by the store and valid until the
 * next store_apply or store_close (which is why it can be handed to Raft as
 * the apply result: nothing is allocated per entry for the caller to free). */
struct store_outcome {
    enum store_status status;
    uint64_t raft_index;
    uint64_t stream_length;           /* the stream's length before this entry */
    uint64_t first_position;          /* global position of the first new event */
    size_t n_events;                  /* events written (0 unless APPLIED) */
    Eventflow__StoredEvent **events;  /* the stored events, n_events of them */
};

/* Apply the Raft entry at raft_index (payload: a packed eventflow.Entry).
 * Must be called with strictly increasing raft_index values for entries
 * not yet applied. The expected-version check and the id-monotonicity check
 * run here, so two racing ADDs cannot both succeed. *out is set on 0. */
int store_apply(struct store *s, uint64_t raft_index, const void *entry, size_t len,
                const struct store_outcome **out);

/* Commit the pending batch, if any. Cheap when nothing is pending. */
int store_flush(struct store *s);

/* Entries applied in the open batch (0 when none is open). */
uint64_t store_batch_entries(const struct store *s);

/* Would an entry of about `bytes` bytes fit? STORE_EFULL when the map is
 * within a safety margin of full, so the leader can refuse an ADD before
 * proposing it instead of failing at apply. */
int store_space_check(struct store *s, size_t bytes);

/* Reads. Each sees every applied entry (through the open batch, or a read
 * transaction over committed data when no batch is open).
 * Records passed to the visitor are valid only during the callback.
 * `begin` is called once, before any event, with the exact number of items
 * that will follow (RESP arrays need their length first). A visitor callback
 * returning non-zero stops the read and that value is returned. */
struct store_visitor {
    void *arg;
    int (*begin)(void *arg, uint64_t n);
    int (*event)(void *arg, const Eventflow__StoredEvent *ev);
    int (*stream)(void *arg, const char *name, size_t name_len, const Eventflow__StreamInfo *info);
};

/* Events of `stream` with version >= from_version, at most `limit`. */
int store_read_stream(struct store *s, const char *stream, size_t stream_len,
                      uint64_t from_version, uint64_t limit, const struct store_visitor *v);
/* The global log strictly after `after` (NULL = from the start), at most `limit`. */
int store_read_all(struct store *s, const uint8_t *after, uint64_t limit,
                   const struct store_visitor *v);
/* Streams in name order, skipping `skip`, at most `limit`. */
int store_list_streams(struct store *s, uint64_t skip, uint64_t limit,
                       const struct store_visitor *v);

struct store_stats {
    uint64_t applied_index;
    uint64_t event_count;
    uint64_t stream_count;
    uint32_t checksum;
    uint8_t last_id[ULID_BYTES]; /* all zero when empty */
    uint64_t db_bytes;           /* bytes of the LMDB map in use, as of the last commit */
    uint64_t map_size;
    bool rebuilt;                /* store_open discarded an untrusted database */
};
/* Applied state, the open batch included. O(1). */
int store_stats(struct store *s, struct store_stats *out);

/* A member's client address (replicated through MemberAddress entries),
 * copying at most cap bytes including the NUL, and its data-directory
 * incarnation (0 if unknown; incarnation may be NULL). Returns 0 or
 * -ENOENT. */
int store_member_get(struct store *s, uint64_t id, char *out, size_t cap, uint64_t *incarnation);

/* Snapshots (raft_fsm version 3).
 * store_snapshot_begin (loop thread): flush, fsync LMDB, open a read
 * transaction pinned to the current state. store_snapshot_write (worker
 * thread): serialize that state into `*bufs` (malloc'ed array of n
 * malloc'ed chunks of about chunk_bytes each; caller frees both with
 * free()). store_snapshot_end (loop thread): release the read transaction.
 * Only one snapshot at a time. */
struct store_snapshot;
struct store_chunk {
    void *base;
    size_t len;
};
int store_snapshot_begin(struct store *s, struct store_snapshot **out);
int store_snapshot_write(struct store_snapshot *snap, size_t chunk_bytes,
                         struct store_chunk **bufs, unsigned *n);
void store_snapshot_end(struct store_snapshot *snap);
/* The applied index the snapshot captures. */
uint64_t store_snapshot_index(const struct store_snapshot *snap);

/* Replace the whole state with a snapshot (all chunks concatenated, as Raft
 * hands it back), unless the store is already at or past the snapshot's
 * applied index, in which case it is left as is and *skipped is set. Atomic:
 * on error the old state is kept. */
int store_restore(struct store *s, const void *data, size_t len, bool *skipped);

#endif
