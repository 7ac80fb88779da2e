/* store.h - the LMDB state machine: applying committed Raft entries, and
 * serving reads.
 *
 * Tables (LMDB named databases in one environment, DATA/store/data.mdb):
 *   events        16-byte ULID (big-endian = commit order) -> StoredEvent
 *   stream_index  stream name + 0x00 + u64 BE version      -> 16-byte ULID
 *   streams       stream name                              -> StreamInfo (its
 *                 creation time; a stream's length is read off its last
 *                 stream_index key, see STORE_FORMAT in store_internal.h)
 *   meta          short ASCII keys -> values: applied_index (u64), event_count
 *                 (u64), stream_count (u64), checksum (u32), last_id (16 B),
 *                 format (u32)
 *   members       u64 BE member id -> MemberAddress (client address and
 *                 incarnation, as replicated)
 *   dedup         idempotency key -> DedupRecord (the event it was applied
 *                 with and what its ADD asked for)
 *   dedup_order   u64 BE global position -> idempotency key, oldest first,
 *                 so the keys beyond the window are forgotten in order
 *   meta also holds the replicated cluster settings (dedup_window, u64) and
 *   identity (cluster_id, 16 B), both absent until their entry is applied,
 *   and the consumer groups' count and clock (group_count,
 *   group_clock_ms, group_leader_since_ms), and the state digest
 *   (state_digest, state_digest_since; checksum.h).
 * Consumer groups (store_group.c; G = the group's name, then a 0x00):
 *   groups           group name                 -> GroupRecord (spec,
 *                    position, counters)
 *   group_pending    G + event id               -> PendingRecord: a range of
 *                    pending events one READ handed to one consumer,
 *                    keyed by its first (holder, deliveries, deadline,
 *                    ids; store_group.h, "pending ranges")
 *   group_deadlines  G + u64 BE deadline + range key -> empty: pending
 *                    ranges in redelivery order (0 = given back, first)
 *   group_parked     G + event id               -> ParkedRecord
 *   group_consumers  G + consumer name          -> ConsumerRecord
 * Stream retention (store_stream.c):
 *   stream_meta      stream name                -> StreamRecord (first live
 *                    version, deleted flags, retention settings, how far
 *                    rows were reclaimed); only streams that had any
 * Users (store_user.c):
 *   users            user name                  -> UserRecord (salted
 *                    password hash and rules; never a password)
 *
 * Durability. The Raft log is the durable record of every entry until a
 * snapshot covers it; from then on this store is. Raft snapshots are only a
 * header (store_snapshot_take), so the store must hold the state at a
 * snapshot's index durably before Raft may drop the entries behind it:
 *   - transactions commit with MDB_NOSYNC: no fsync on the loop thread. A
 *     process crash (kill -9) loses nothing, the page cache survives;
 *   - applied_index is written in the same transaction as the events it
 *     describes; at restart Raft re-applies the entries after its last
 *     snapshot and store_apply skips those at or below applied_index, so
 *     apply is idempotent;
 *   - store_snapshot_take makes a durable point (store_durable.c): commit,
 *     pin that state with a read transaction so LMDB never reuses its
 *     pages, fsync, save the meta pages. After an operating-system crash
 *     (noticed through a boot-id marker) store_open takes the file back to
 *     that point, and Raft replays what follows;
 *   - a store behind a snapshot (a follower that was sent one, or a store
 *     deleted by hand) is replaced whole by a copy of a peer's file
 *     (store_copy_*, store_replace).
 *
 * Batching. store_apply writes into a write transaction that stays open
 * until store_flush commits it, so many applied entries share one commit.
 * Reads and store_stats run on the same thread and see every applied
 * entry, through the open batch when there is one; so the node commits on
 * a timer and before snapshots, not before every reply.
 *
 * Threading: all functions are called on the loop thread, except
 * store_copy_write and store_copy_end, which run on a worker thread while
 * the loop goes on (LMDB is opened MDB_NOTLS so a read transaction may live
 * on any thread).
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
#include "common/ulid.h"

enum {
    STORE_EIO = -1,      /* LMDB or file system error */
    STORE_EFULL = -2,    /* LMDB map full or no space left */
    STORE_ECORRUPT = -3, /* undecodable record or snapshot */
    STORE_EINVAL = -4,   /* bad argument */
    STORE_ENOENT = -5,   /* no such record (a group) */
};

struct store;

struct store_options {
    const char *dir;   /* directory for data.mdb (created if missing) */
    size_t map_size;   /* LMDB map size, bytes; 0 = default 64 GiB */
    /* Bytes the space checks keep free on dir's filesystem (the raft log
     * usually shares it); 0 = none. */
    uint64_t min_free;
};

/* Idempotency keys remembered until a Settings entry says otherwise. The
 * window shapes the replicated state (a key forgotten on one replica but
 * not another would append there and not here), so it is never a per-node
 * option: it changes only through the log. */
#define STORE_DEFAULT_DEDUP_WINDOW 1048576
#define STORE_MAX_DEDUP_WINDOW (1ull << 30)
#define STORE_CLUSTER_ID_BYTES 16

/* The store format this build writes; an open store has been upgraded to
 * it, so its images have it too. */
uint32_t store_format(void);

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
    STORE_DUPLICATE,           /* a retry: every event's key was applied before
                                * with this very event; nothing written,
                                * `events` are the ORIGINAL events */
    STORE_KEY_REUSE,           /* a key was applied before with a different
                                * event or ADD (`reused_key` says which and
                                * how it differs): nothing written */
    STORE_SETTINGS_UPDATED,    /* a Settings entry was recorded */
    STORE_IDENTITY_SET,        /* the cluster identity was recorded */
    STORE_IDENTITY_KEPT,       /* an identity entry came after the first one
                                * applied: ignored, the first is kept */
    STORE_GROUPS_APPLIED,      /* a GroupOps entry: each operation's result
                                * is in `groups` */
    STORE_USER_APPLIED,        /* a UserOp entry: a user set or deleted */
    STORE_STREAM_DELETED,      /* an ADD to a hard-deleted stream: nothing
                                * written */
    STORE_DUPLICATE_REMOVED,   /* an ADD whose key was applied with an event
                                * since removed (reused_key names it):
                                * nothing written */
    STORE_STREAM_OP_APPLIED,   /* a StreamOp entry: its result is in
                                * `stream_result` */
};

/* What a StreamOp did (store_stream.c). */
enum store_stream_result {
    STORE_STREAM_OK = 0,
    STORE_STREAM_ENOSTREAM,   /* no such stream, or a soft-deleted one for a
                               * second soft delete: nothing done */
    STORE_STREAM_ETOMBSTONED, /* the stream was hard-deleted: nothing done */
    STORE_STREAM_EBEYOND,     /* truncate_before past the stream's end */
    STORE_STREAM_EINVALID,    /* a malformed operation (a correct leader
                               * never proposes one): nothing done */
};

/* What one operation of a GroupOps entry did (store_group.c). */
enum store_group_status {
    STORE_GROUP_OK = 0,
    STORE_GROUP_ENOGROUP,      /* no group of that name */
    STORE_GROUP_EEXISTS,       /* CREATE: the name is taken */
    STORE_GROUP_EINVALID,      /* a malformed operation (a correct leader
                                * never proposes one): nothing done */
    STORE_GROUP_ENOTDELIVERED, /* ACK: `bad_id` was never delivered by the
                                * group (not an event of its range, or past
                                * its position): nothing acked */
    STORE_GROUP_ENOTPENDING,   /* NACK: `bad_id` is not pending: nothing done */
    STORE_GROUP_ENOCONSUMER,   /* DELCONSUMER: the group has no such consumer */
    STORE_GROUP_EHOLDING,      /* DELCONSUMER: the consumer holds `count`
                                * pending events: nothing done */
};

struct store_group_result {
    enum store_group_status status;
    /* READ: events handed out; ACK: events acknowledged now (a repeated ack
     * counts 0); NACK: events given back or parked; REPLAY: events replayed;
     * READ also: `parked`, events parked on the way (max_deliveries). */
    uint64_t count;
    uint64_t parked;
    /* READ: the events handed out, in order, with each one's delivery
     * count (1 = first delivery). */
    const uint8_t (*ids)[ULID_BYTES];
    const uint32_t *deliveries;
    uint8_t bad_id[ULID_BYTES];
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
    /* KEY_REUSE: the first key of the ADD that was applied before with
     * something else (not NUL-terminated), and what differs ("stream",
     * "type", "data" ...; a static string). */
    const char *reused_key;
    size_t reused_key_len;
    const char *reuse_differs;
    /* GROUPS_APPLIED: one result per operation, in the entry's order. */
    size_t n_groups;
    const struct store_group_result *groups;
    /* STREAM_OP_APPLIED: the result; and for any entry that hid events
     * (a StreamOp, or an ADD past max_count), the stream and the versions
     * [removed_from, removed_to) hidden now (removed_to 0: none). */
    enum store_stream_result stream_result;
    const char *removed_stream;
    uint64_t removed_from, removed_to;
};

/* Apply the Raft entry at raft_index (payload: a packed eventflow.Entry).
 * Must be called with strictly increasing raft_index values for entries
 * not yet applied. The expected-version check and the id-monotonicity check
 * run here, so two racing ADDs cannot both succeed. *out is set on 0. */
int store_apply(struct store *s, uint64_t raft_index, const void *entry, size_t len,
                const struct store_outcome **out);

/* ---- streams' retention (store_stream.c) --------------------------------- */

/* A stream's retention state, as applied. */
struct store_stream_meta {
    uint64_t length;          /* the next version an append gets */
    uint64_t first_version;   /* the first live version */
    uint64_t reclaimed_below; /* versions below have left the tables */
    bool deleted, tombstoned;
    uint64_t max_age_s, max_count, truncate_before; /* 0: none */
    int64_t created_at_ns, deleted_at_ns;
};

/* STORE_ENOENT when no stream of that name was ever written. */
int store_stream_meta(struct store *s, const char *stream, size_t len, struct store_stream_meta *out);

/* Retention work a leader should propose next, if any: the op is filled
 * (stream borrowed from `name`, of `cap` bytes) and *found set. Looks at
 * streams with a record only, in name order after `after` (may be ""),
 * wrapping around once, so one busy stream does not starve the others:
 * for each, reclaim of hidden rows first (at most `batch` events), then
 * max_age expiry against `now_ns`, scanning at most `batch` events. After
 * `visits` records without work it stops with *more set and `name` the
 * last record looked at, to pass as `after`: a walk over many streams is
 * spread over turns. */
int store_stream_work(struct store *s, int64_t now_ns, uint32_t batch, uint32_t visits, const char *after,
                      char *name, size_t cap, Eventflow__StreamOp *op, Eventflow__StreamReclaim *reclaim,
                      Eventflow__StreamExpire *expire, bool *found, bool *more);

/* ---- users (store_user.c) ----------------------------------------------- */

/* A number that changes whenever the users table may have changed: a
 * UserOp applied, or the file replaced by a peer's copy. Connections keep
 * the rules they resolved at AUTH until it moves. */
uint64_t store_users_generation(const struct store *s);

/* The record of user `name` (NUL-terminated), as applied so far, unpacked
 * with protobuf-c's default allocator: the caller frees it with
 * eventflow__user_record__free_unpacked. STORE_ENOENT when there is none. */
int store_user_get(struct store *s, const char *name, Eventflow__UserRecord **out);

/* Calls visit for every user, in name order; stops at the first non-zero
 * return and returns it. The record is valid during the call only. */
typedef int (*store_user_visit_fn)(void *data, const char *name, size_t len, const Eventflow__UserRecord *u);
int store_user_list(struct store *s, store_user_visit_fn visit, void *data);

/* Commit the pending batch, if any. Cheap when nothing is pending. */
int store_flush(struct store *s);

/* Entries applied in the open batch (0 when none is open). */
uint64_t store_batch_entries(const struct store *s);

/* Bytes of the raft entries applied in the open batch (0 when none is
 * open): the events' share of the dirty pages the batch holds in memory. */
uint64_t store_batch_bytes(const struct store *s);

/* Whether a batch failed to commit (store_flush returned an error). Its
 * entries were applied as far as raft knows but are gone from the store:
 * from then on store_apply, store_flush and reads fail, and the caller
 * must stop the process so that a restart applies them again. */
bool store_batch_lost(const struct store *s);

/* The raft index of the last entry applied, open batch included: the
 * state reads see. */
uint64_t store_applied_index(const struct store *s);

/* Would entries of about `bytes` bytes in all fit, on top of the open
 * batch? STORE_EFULL (store_errmsg says which) when the map is within a
 * safety margin of full, or the filesystem of min_free, so
 * the leader can refuse an ADD before proposing it instead of failing at
 * apply. Near the limit this commits the open batch to measure exactly
 * (errors as store_flush). */
int store_space_check(struct store *s, size_t bytes);

/* Bytes the store can still take: the map's size less what is in use, or
 * the filesystem's free space less min_free if that is smaller; for other
 * members' space checks (server/space.c). Over-estimates the open batch's
 * share like store_space_check; when that leaves under 1 GiB, the batch is
 * committed first so that the answer is exact (errors as store_flush). */
int store_space_room(struct store *s, uint64_t *room);
/* The same without committing the batch: never more than the exact room
 * (for metrics, which must not make a scrape commit). */
int store_space_room_estimate(struct store *s, uint64_t *room);

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

/* The number of events in `stream` (0 for a stream that does not exist). */
int store_stream_length(struct store *s, const char *stream, size_t stream_len, uint64_t *length);

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
    uint64_t dedup_keys;         /* idempotency keys remembered */
    uint64_t dedup_window;       /* the window in force (recorded, or the default) */
    bool dedup_window_recorded;  /* a Settings entry set it */
    bool has_cluster_id;         /* an identity entry was applied */
    uint8_t cluster_id[STORE_CLUSTER_ID_BYTES];
    uint64_t group_count;        /* consumer groups */
    int64_t group_clock_ms;      /* the group clock (0: no group entry yet) */
    uint64_t state_digest;       /* groups' and users' state (checksum.h) */
    uint64_t state_digest_since; /* the applied index it starts from */
    /* Retention (store_stream.c). event_count and stream_count count every
     * event and stream ever written (event_count is the last position);
     * the live ones are these. */
    uint64_t live_events;        /* EVENTCOUNT */
    uint64_t live_streams;       /* STREAMCOUNT */
    uint64_t removed_events;     /* hidden by deletes and retention */
    uint64_t reclaim_pending;    /* hidden, their rows not yet removed */
    uint64_t live_checksum;      /* order-free sum over the stored events */
};
/* Applied state, the open batch included. O(1). */
int store_stats(struct store *s, struct store_stats *out);

/* Bytes of the file's pages (db_bytes) that LMDB holds free, as of the
 * last commit: pages removals released (store_stream.c), which later
 * writes reuse before the file grows. db_bytes less this is what the data
 * takes. A walk of LMDB's free list: O(its records), for SIZE and STATUS,
 * not for every request. */
int store_free_bytes(struct store *s, uint64_t *free_bytes);

/* Events by id, in the order given (missing ids are skipped): for
 * rendering a group read's events from its outcome. `begin` is not
 * called. */
int store_read_ids(struct store *s, const uint8_t (*ids)[ULID_BYTES], size_t n, const struct store_visitor *v);

/* ---- consumer groups (store_group_read.c) ------------------------------------
 * The groups' replicated state, read on any node. Records passed to the
 * visitor are valid only during the callback; a callback returning non-zero
 * stops the read and that value is returned. Unknown group: STORE_ENOENT. */
#define STORE_GROUP_NAME_MAX 128    /* bytes of a group's or a consumer's name */
#define STORE_GROUP_READ_MAX 1000   /* events one read hands out */
#define STORE_GROUP_IDS_MAX 1000    /* ids one ack, nack or replay names */

struct store_group_visitor {
    void *arg;
    /* lag: events of the log (or stream) past the group's position; with
     * filters, an upper bound on those the group will deliver. */
    int (*group)(void *arg, const char *name, size_t len, const Eventflow__GroupRecord *g, uint64_t lag);
    int (*consumer)(void *arg, const char *name, size_t len, const Eventflow__ConsumerRecord *c);
    int (*pending)(void *arg, const uint8_t id[ULID_BYTES], const Eventflow__PendingRecord *p);
    int (*parked)(void *arg, const uint8_t id[ULID_BYTES], const Eventflow__ParkedRecord *p);
};

/* One group, then its consumers in name order. */
int store_group_info(struct store *s, const char *name, size_t len, const struct store_group_visitor *v);
/* Every group in name order (group callback only). */
int store_group_list(struct store *s, const struct store_group_visitor *v);
/* A group's pending events in log order, after event `after` (NULL: from
 * the first), held by `consumer` (NULL: any; "" given back), at most
 * `limit`. */
int store_group_pending(struct store *s, const char *name, size_t len, const char *consumer, const uint8_t *after,
                        uint64_t limit, const struct store_group_visitor *v);
/* A group's parked events in log order, after `after`, at most `limit`. */
int store_group_parked(struct store *s, const char *name, size_t len, const uint8_t *after, uint64_t limit,
                       const struct store_group_visitor *v);

/* Would a read of the group hand out something at group-clock time
 * `now_ms`: events past its position, or a pending event whose ack wait
 * is over? If not, *wake_ms is the group-clock time at which the first
 * pending event's will be (0: none pending). STORE_ENOENT: no group. */
int store_group_ready(struct store *s, const char *name, size_t len, int64_t now_ms, bool *ready,
                      int64_t *wake_ms);

/* A member's client address (replicated through MemberAddress entries),
 * copying at most cap bytes including the NUL, and its data-directory
 * incarnation (0 if unknown; incarnation may be NULL). Returns 0 or
 * -ENOENT. */
int store_member_get(struct store *s, uint64_t id, char *out, size_t cap, uint64_t *incarnation);

/* The TLS client address member id registered, as store_member_get's
 * address: empty when it registered none (no TLS port, or a version
 * without TLS addresses). Returns 0 or -ENOENT. */
int store_member_tls_get(struct store *s, uint64_t id, char *out, size_t cap);

/* Make everything applied durable and recoverable after an OS crash: a
 * durable point (store_durable.c). Costs an fsync of what changed since
 * the last one; called at every Raft snapshot. */
int store_sync(struct store *s);

/* ---- snapshots: a header only (store_snapshot.c) ---------------------- */

struct store_snapshot_info {
    uint32_t format;
    uint64_t applied_index;
    uint64_t event_count;
    uint32_t checksum;
    char **sources;   /* owned: client addresses, n_sources of them */
    size_t n_sources;
};

/* Sync the store (store_sync) and describe its state in a snapshot header:
 * *out (malloc'ed, caller frees) of *len bytes. `sources` are the client
 * addresses of members that can serve a copy of the state. */
int store_snapshot_take(struct store *s, const char *const *sources, size_t n_sources, void **out,
                        size_t *len);
/* Decode a header made by store_snapshot_take. STORE_ECORRUPT if it is not
 * one. Release info with store_snapshot_info_free. */
int store_snapshot_parse(const void *data, size_t len, struct store_snapshot_info *info);
void store_snapshot_info_free(struct store_snapshot_info *info);

/* ---- whole-state copies (store_copy.c) ----------------------------------- */

/* A consistent image of the store, written while the loop goes on.
 * store_copy_begin (loop thread) commits the batch and holds the
 * environment open; store_copy_write (any one thread) writes the image of
 * the committed state to fd, compacted; store_copy_end (any thread)
 * releases it. store_replace and store_close wait for copies in flight. */
struct store_copy;
int store_copy_begin(struct store *s, struct store_copy **out);
int store_copy_write(struct store_copy *c, int fd, char *err, size_t errlen);
void store_copy_end(struct store_copy *c);

/* The applied state recorded in a store image (a file written by
 * store_copy_write), read without modifying it. db_bytes is the file's
 * size. */
int store_file_stats(const char *path, struct store_stats *out, char *err, size_t errlen);

/* Make a store image the start of a new cluster (eventflowd --restore):
 * record `cluster_id` as its identity, set its applied index to 0 so a new
 * raft log applies from its first entry, and forget the old members'
 * addresses; events, streams, idempotency keys, groups and settings stay.
 * The file is synced. Nothing else may have it open. */
int store_file_rebase(const char *path, const uint8_t cluster_id[STORE_CLUSTER_ID_BYTES], char *err,
                      size_t errlen);

/* Replace the whole state with the image in `path`, which is moved into the
 * store's directory (same file system). The image must be fsynced by the
 * caller; the rename is made durable here. On error the store may be
 * closed: the caller must stop (see fsm.c). Loop thread. */
int store_replace(struct store *s, const char *path);

#endif
