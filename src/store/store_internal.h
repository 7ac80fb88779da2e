/* store_internal.h - what store.c, store_read.c and store_snapshot.c share.
 * Not part of the store's contract: nothing outside src/store includes it. */
#ifndef EVENTFLOW_STORE_INTERNAL_H
#define EVENTFLOW_STORE_INTERNAL_H

#include <lmdb.h>
#include <pthread.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/be64.h"
#include "store/checksum.h"
#include "store/store.h"

/* Format of the tables, recorded in meta "format" and in snapshots.
 *   1: a `streams` record held its stream's length, rewritten by every ADD.
 *   2: a stream's length is read off its last `stream_index` key (one past
 *      its version), and the `streams` record, written once when the stream
 *      is created, holds only what does not change. An ADD to an existing
 *      stream then makes one random B-tree descent instead of two, and its
 *      index insert lands on the leaf that lookup left the cursor on.
 * A format-1 store is a valid format-2 store (its index is complete; the
 * lengths its records also hold are ignored), so opening one upgrades it by
 * rewriting the marker alone. A binary that knows only format 1 refuses a
 * format-2 store, whose records no longer carry lengths.
 *   3: a `dedup` value is a DedupRecord (the event's id and what its ADD
 *      asked for) instead of the id alone, so a key reused for a different
 *      event is refused instead of answered as a retry. A format-2 value
 *      (16 bytes) is still read: its key is compared on the event's content
 *      alone. A binary that knows format 2 would take a DedupRecord for an
 *      id and stop on it, so it refuses a format-3 store. */
/*   4: consumer groups (store_group.c): five more tables, and the group
 *      clock in meta. A format-3 store is a format-4 store without groups;
 *      a binary that knows format 3 would not apply group entries, so it
 *      refuses a format-4 store. */
/*   5: users (store_user.c): one more table. A format-4 store is a
 *      format-5 store without users; a binary that knows format 4 would
 *      not apply user entries, so it refuses a format-5 store. */
/*   6: pending ranges (store_group_range.c): a group_pending record may
 *      hold several events (PendingRecord.ids), one READ's to one
 *      consumer, under one group_deadlines key. A format-5 record is a
 *      range of one event (no ids: the key's event), so a format-5 store
 *      or state copy is a format-6 one and opening it rewrites the marker
 *      alone; a binary that knows format 5 would read a range as its first
 *      event alone, so it refuses a format-6 store. (Kept to this
 *      constant and this note so that another format can be numbered
 *      around it.) */
/*   7: stream retention and deletion (store_stream.c): one more table,
 *      `stream_meta`, and meta counters of removed events and deleted
 *      streams and the live checksum. A format-6 store is a format-7 store
 *      in which nothing was ever removed (its live checksum is computed
 *      once, at the upgrade); a binary that knows format 6 would show
 *      removed events and mis-number a reclaimed stream, so it refuses a
 *      format-7 store. */
#define STORE_FORMAT 7
#define STORE_FORMAT_OLDEST 1

/* Named databases in the environment (store.h lists them). */
#define STORE_MAX_DBS 14

/* Bytes a stream_index key adds to the stream name: a NUL and a u64. */
#define STORE_INDEX_KEY_EXTRA 9

/* ---- arena --------------------------------------------------------------- */

/* A bump allocator for protobuf-c unpacking and per-apply results: many
 * small allocations, all released at once by store_arena_reset. Keeps its
 * largest block between uses so a steady workload stops calling malloc. */
struct store_arena_block;
struct store_arena {
    struct store_arena_block *head; /* owned; newest block first */
    ProtobufCAllocator pb;          /* allocator handing out arena memory */
};

void store_arena_init(struct store_arena *a);
void *store_arena_alloc(struct store_arena *a, size_t n);
void store_arena_reset(struct store_arena *a);
void store_arena_free(struct store_arena *a);

/* ---- the store ----------------------------------------------------------- */

/* Consumers' counter changes during one group operation's apply
 * (store_group.c): an ACK of a thousand ids rewrites its holder's record
 * once, not a thousand times. Names point into the apply arena. */
struct store_tally_entry {
    const char *name;
    int64_t dpending;
    uint64_t delivered, acked;
    int64_t seen; /* a read's time; 0: not read */
};
struct store_tally {
    struct store_tally_entry *e; /* owned */
    size_t n, cap;
};

/* The meta table's counters, cached in memory. */
struct store_meta {
    uint64_t applied_index;
    uint64_t event_count;
    uint64_t stream_count;
    uint32_t checksum;
    uint8_t last_id[ULID_BYTES];
    uint64_t dedup_count; /* keys in the dedup table */
    /* Replicated settings and identity; 0 / all zero until recorded. */
    uint64_t dedup_window;
    uint8_t cluster_id[STORE_CLUSTER_ID_BYTES];
    /* Consumer groups (store_group.c): how many there are, the group clock
     * (the largest GroupOps now_ms applied) and when the current leader's
     * first group entry applied (its leader_start). */
    uint64_t group_count;
    int64_t group_clock_ms;
    int64_t group_leader_since_ms;
    /* The replicated-state digest (checksum.h: groups and users), and the
     * applied index it starts from: 0, or where a store of an older
     * format was first opened by a build that keeps it. */
    uint64_t state_digest;
    uint64_t state_digest_since;
    /* Retention (store_stream.c): events hidden by removals (EVENTCOUNT is
     * event_count less these), those of them whose rows are gone, streams
     * deleted (STREAMCOUNT is stream_count less these), and the live
     * checksum: the sum of store_live_hash over the events still stored. */
    uint64_t removed_count;
    uint64_t reclaimed_count;
    uint64_t deleted_streams;
    uint64_t live_sum;
};

struct store {
    MDB_env *env; /* owned */
    MDB_dbi events, stream_index, streams, meta, members, dedup, dedup_order;
    /* Consumer groups (store_group.c). */
    MDB_dbi groups, group_pending, group_deadlines, group_parked, group_consumers;
    MDB_dbi users; /* store_user.c */
    MDB_dbi stream_meta; /* store_stream.c */
    uint64_t users_gen; /* store_users_generation */
    char *dir;         /* owned */
    size_t map_size;
    uint64_t min_free; /* bytes kept free on the directory's filesystem */
    uint64_t disk_free;    /* statvfs's answer, cached (store_disk_free) */
    uint64_t disk_free_ms; /* CLOCK_MONOTONIC_COARSE when asked; 0: ask again */
    size_t page_size;
    size_t stream_max; /* longest stream name that fits in an LMDB key */

    /* Copies in flight on worker threads (store_copy.c): the environment
     * must stay open until they end. */
    pthread_mutex_t copy_lock;
    pthread_cond_t copy_done;
    unsigned copies; /* guarded by copy_lock */

    /* The pending batch: a write transaction open between the first
     * store_apply after a flush and the next store_flush. `pending` is the
     * meta as that transaction has it; it is written to the meta table only
     * when the batch commits (see store_flush). `committed` is what the last
     * commit wrote, which store_stats reports and an abort returns to. */
    MDB_txn *wtxn; /* owned; NULL when nothing is pending */
    /* Cursors in wtxn, opened with it and freed by its commit or abort
     * (store_batch_open). A put through a cursor that already holds the
     * right leaf (the next version of the stream its length was just read
     * from, the next event in the log) skips the descent from the root. */
    MDB_cursor *index_cur;
    MDB_cursor *events_cur;
    uint64_t batch_bytes; /* raft entry bytes applied in the open batch (store_batch_bytes) */
    /* A batch failed to commit and its applied entries were discarded:
     * raft counts them as applied, so nothing may be applied, committed or
     * read on top of the older state; only a restart (raft re-applies them)
     * recovers. */
    bool batch_lost;
    struct store_meta pending;
    struct store_meta committed;

    /* A read transaction kept reset between reads, so a read renews it
     * instead of taking a reader slot each time. */
    MDB_txn *rtxn; /* owned; may be NULL */

    /* A read transaction on the last durable point (store_durable.c),
     * keeping LMDB from reusing its pages. */
    MDB_txn *pin; /* owned; may be NULL */

    /* The background syncer (store_durable.c): a thread that fsyncs the
     * file after commits, so that a durable point finds little to write. */
    pthread_t syncer;
    bool syncer_running;
    pthread_mutex_t syncer_lock;
    pthread_cond_t syncer_wake;
    bool syncer_dirty, syncer_stop; /* guarded by syncer_lock */

    struct store_arena apply_arena; /* the latest outcome and its entry */
    struct store_tally tally;       /* the group operation being applied */
    struct store_arena read_arena;  /* one record being visited */
    struct store_outcome outcome;

    char errmsg[256];
};

/* What a write folded into the state digest changed (checksum.h). */
enum store_digest_tag {
    STORE_DIGEST_GROUPS = 1,
    STORE_DIGEST_PENDING,
    STORE_DIGEST_PARKED,
    STORE_DIGEST_CONSUMERS,
    STORE_DIGEST_USERS,
    STORE_DIGEST_CLEARED, /* every row of one group in one table */
    STORE_DIGEST_OUTCOME, /* a group operation's result */
    STORE_DIGEST_STREAMS, /* a stream's retention record (store_stream.c) */
};

/* Fold a write into the open batch's state digest: `val` NULL for a
 * deletion. Lengths go in too, so that no two writes hash alike by
 * where their bytes split. */
static inline void store_digest_fold(struct store *s, enum store_digest_tag tag, const void *key, size_t klen,
                                     const void *val, size_t vlen)
{
    uint8_t head[1 + 8 + 8];
    head[0] = (uint8_t)((unsigned)tag | (val == NULL ? 0x80u : 0u));
    be64_put(head + 1, klen);
    be64_put(head + 9, vlen);
    uint64_t d = digest_update(s->pending.state_digest, head, sizeof head);
    d = digest_update(d, key, klen);
    s->pending.state_digest = val != NULL ? digest_update(d, val, vlen) : d;
}
/* Apply a StreamOp (store_stream.c). */
int store_apply_stream(struct store *s, const Eventflow__StreamOp *op, enum store_status *status);

/* A stream's retention record as seen through txn, copied into *rec
 * (all zero and *found false when it has none). 0 or a STORE_E* code. */
int store_stream_record(struct store *s, MDB_txn *txn, const char *stream, size_t len, Eventflow__StreamRecord *rec,
                        bool *found);

/* A packed StreamRecord into *rec (scalars only: owns nothing, so it
 * outlives the read arena). 0 or STORE_ECORRUPT. */
int store_stream_record_decode(struct store *s, const MDB_val *v, Eventflow__StreamRecord *rec);

/* What store_apply_add needs of a stream's record before it appends:
 * whether appends are refused (tombstoned), the numbering floor (a
 * reclaimed stream's index no longer shows its length). After the append
 * it un-deletes a soft-deleted stream and applies max_count. */
int store_stream_before_add(struct store *s, const char *stream, size_t len, Eventflow__StreamRecord *rec,
                            bool *has_rec);
int store_stream_after_add(struct store *s, const char *stream, size_t len, Eventflow__StreamRecord *rec,
                           uint64_t new_length);

/* The live checksum of a store from before format 7: the sum over every
 * stored event. Returns 0 or an LMDB code. */
int store_stream_upgrade_sum(struct store *s, MDB_txn *txn, uint64_t *sum);

/* Whether stored events are live (at or past their stream's first live
 * version): a cache of the last stream's record, as consecutive events are
 * often of one stream. Start with len SIZE_MAX. */
struct store_live_cache {
    char name[512];
    size_t len; /* SIZE_MAX: nothing cached */
    uint64_t first;
};
/* val: a packed StoredEvent (resets the read arena). 0 or STORE_E*. */
int store_event_live(struct store *s, MDB_txn *txn, struct store_live_cache *c, const MDB_val *val, bool *live);
/* The event with this id is stored and live. 0 or STORE_E*. */
int store_event_id_live(struct store *s, MDB_txn *txn, const uint8_t id[ULID_BYTES], bool *live);

/* The live checksum's term for one stored event (its packed bytes). */
uint64_t store_live_hash(const void *bytes, size_t len, uint64_t position);

/* Apply a UserOp (store_user.c). */
int store_apply_user(struct store *s, const Eventflow__UserOp *op, enum store_status *status);

/* Record an error message; returns `code`. */
int store_fail(struct store *s, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Translate an LMDB return code into a STORE_E* code, with a message
 * naming the operation that failed. */
int store_fail_mdb(struct store *s, int rc, const char *what);
/* The STORE_E* code for an LMDB return code, without a message. */
int store_code_from_mdb(int rc);

/* Read the meta table into *m (absent keys read as zero). */
int store_meta_read(MDB_txn *txn, MDB_dbi dbi, struct store_meta *m);

/* Write *m to the meta table (the format marker aside). Returns an LMDB
 * code. */
int store_meta_write(MDB_txn *txn, MDB_dbi dbi, const struct store_meta *m);

/* The format recorded in the meta table (0 when none is). */
int store_meta_format(MDB_txn *txn, MDB_dbi dbi, uint32_t *format);

/* The stats a meta table describes (all but the map's sizes). */
void store_stats_from_meta(const struct store_meta *m, struct store_stats *out);

/* Whether an identity entry has been applied (the id is never all zero). */
static inline bool store_cluster_id_set(const struct store_meta *m)
{
    static const uint8_t zero[STORE_CLUSTER_ID_BYTES];
    return memcmp(m->cluster_id, zero, STORE_CLUSTER_ID_BYTES) != 0;
}

/* The idempotency-key window in force. */
static inline uint64_t store_meta_dedup_window(const struct store_meta *m)
{
    return m->dedup_window != 0 ? m->dedup_window : STORE_DEFAULT_DEDUP_WINDOW;
}

/* The meta as seen through txn: the in-memory pending copy when txn is the
 * open batch (whose meta table is written only at commit). */
int store_meta_view(struct store *s, MDB_txn *txn, struct store_meta *m);

/* A read transaction over everything applied: the open batch itself when
 * there is one, else a read transaction over committed data. Release with
 * store_read_txn_end. */
int store_read_txn_begin(struct store *s, MDB_txn **txn);
void store_read_txn_end(struct store *s, MDB_txn *txn);

/* Open the environment in s->dir and its tables (s->map_size set), or
 * close it after committing the batch and syncing. store_replace reopens. */
int store_env_open(struct store *s, char *err, size_t errlen);
void store_env_close(struct store *s);
/* Block until no copy is in flight. */
void store_copy_wait(struct store *s);

/* A store file opened on its own, outside any struct store (an image):
 * its environment, one transaction, its meta table and what it holds. */
struct store_file {
    MDB_env *env; /* owned */
    MDB_txn *txn; /* owned; NULL once committed */
    MDB_dbi meta;
    struct store_meta m;
};
/* Open the image at path and read its meta: read-only when map_size is 0,
 * else writable with that map size. Its format must be one this build
 * reads. 0, or a STORE_E* code with err set (nothing left open). */
int store_file_open(const char *path, size_t map_size, struct store_file *f, char *err, size_t errlen);
/* Abort the transaction if it is open, close the environment. */
void store_file_close(struct store_file *f);

/* Durability across OS crashes (store_durable.c). store_marker_open runs
 * before the environment opens: it notices an OS crash and takes the file
 * back to its last durable point, then names this boot. store_marker_close
 * runs after the final sync of a clean close. store_durable_point commits,
 * syncs and saves the point (at every snapshot, and after a replace). */
#define STORE_META_SAVE_MAX ((size_t)(2 << 16) + 1)
int store_marker_open(const char *dir, char *err, size_t errlen);
void store_marker_close(const char *dir);
int store_durable_point(struct store *s);
/* Drop the saved point (before the file it describes is replaced).
 * Returns 0 or -errno. */
int store_durable_forget(const char *dir);
/* Start the syncer for an open environment, stop it before closing it;
 * kick it after a commit. */
void store_syncer_start(struct store *s);
void store_syncer_stop(struct store *s);
void store_syncer_kick(struct store *s);

/* Fsync a directory, so a rename or a new file in it is durable. */
int store_fsync_dir(const char *dir);

/* ---- shared by the apply and the reads ------------------------------------------ */

/* Decode a packed StoredEvent without protobuf-c's generic unpacker: bytes
 * fields point into `val` (an LMDB page: valid while the transaction is and
 * until it writes), the stream and type are copied into the read arena.
 * Returns 0, or -1 if the record is malformed. */
int store_event_view(struct store *s, const MDB_val *val, Eventflow__StoredEvent *ev);

/* Apply a GroupOps entry (store_group.c) into the open batch, filling the
 * outcome's group results. Business outcomes are per operation; an error
 * return is environmental, as for store_apply. */
int store_apply_groups(struct store *s, const Eventflow__GroupOps *ops, enum store_status *status);

/* ---- encoding helpers ------------------------------------------------------ */

/* stream_index key: name, a NUL, then the version big-endian, so that one
 * stream's entries are adjacent and in version order. `key` must hold
 * len + STORE_INDEX_KEY_EXTRA bytes; returns the key length. */
static inline size_t store_index_key(uint8_t *key, const char *stream, size_t len, uint64_t version)
{
    memcpy(key, stream, len);
    key[len] = 0;
    be64_put(key + len + 1, version);
    return len + STORE_INDEX_KEY_EXTRA;
}

/* A stream's length as its stream_index keys give it: one past the version
 * of its last key, 0 when it has none. `cur` is a stream_index cursor; it
 * is left near where the stream's next key goes, so a put through it skips
 * the descent from the root. `len` must be at most 502 (an LMDB key holds
 * 511 bytes). Returns 0 or an LMDB error code. */
int store_index_length(MDB_cursor *cur, const char *stream, size_t len, uint64_t *length);

#endif
