/* store.c - opening and closing the LMDB environment, applying entries,
 * batching commits, stats and member addresses. Reads are in store_read.c,
 * snapshot headers in store_snapshot.c, whole-state copies in store_copy.c;
 * see store.h for the design. */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mutant.h"
#include "common/mem.h"
#include "store/checksum.h"
#include "store/store_internal.h"

#define STORE_DEFAULT_MAP_SIZE ((size_t)64 << 30)
/* Longest idempotency key, as the codec enforces. */
#define STORE_KEY_MAX 64
/* Keys forgotten per new key at most, once over the window: after the
 * window was lowered the excess goes a few at a time, never in one long
 * apply. */
#define STORE_DEDUP_EVICT_MAX 4

/* Free space store_space_check insists on, whatever the entry's size. */
#define STORE_SPACE_MARGIN ((size_t)1 << 20)
/* Pages one applied entry may add to the file besides its own bytes: a
 * leaf each in events, stream_index, streams and dedup, copied on write
 * (store_space_check). */
#define STORE_ENTRY_PAGES 4
/* store_space_room commits the open batch to answer exactly below this:
 * the over-estimate of a second's batch can reach hundreds of MiB. */
#define STORE_ROOM_EXACT_BELOW ((uint64_t)1 << 30)
#define STORE_DISK_FREE_MS 10

/* ---- arena --------------------------------------------------------------- */

#define STORE_ARENA_BLOCK_MIN ((size_t)16 << 10)
/* Above this, a reset gives the memory back instead of keeping it. */
#define STORE_ARENA_KEEP ((size_t)8 << 20)

struct store_arena_block {
    struct store_arena_block *next;
    size_t size; /* bytes in data */
    size_t used;
    max_align_t data[];
};

static void *store_arena_pb_alloc(void *data, size_t size)
{
    return store_arena_alloc(data, size);
}

/* Arena memory goes back all at once, in store_arena_reset. */
static void store_arena_pb_free(void *data, void *p)
{
    (void)data;
    (void)p;
}

void store_arena_init(struct store_arena *a)
{
    a->head = NULL;
    a->pb.alloc = store_arena_pb_alloc;
    a->pb.free = store_arena_pb_free;
    a->pb.allocator_data = a;
}

static struct store_arena_block *store_arena_block_new(size_t size)
{
    struct store_arena_block *b = xmalloc(sizeof *b + size);
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

void *store_arena_alloc(struct store_arena *a, size_t n)
{
    const size_t align = alignof(max_align_t);
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX - align)
        abort(); /* no unpack of a bounded buffer asks for this much */
    n = (n + align - 1) & ~(align - 1);
    struct store_arena_block *b = a->head;
    if (b == NULL || b->size - b->used < n) {
        size_t size = n > STORE_ARENA_BLOCK_MIN ? n : STORE_ARENA_BLOCK_MIN;
        b = store_arena_block_new(size);
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    return p;
}

void store_arena_reset(struct store_arena *a)
{
    struct store_arena_block *b = a->head;
    if (b == NULL)
        return;
    if (b->next == NULL && b->size <= STORE_ARENA_KEEP) {
        b->used = 0;
        return;
    }
    /* Several blocks were needed: replace them by one that would have held
     * everything, so the same workload fits in one block next time. */
    size_t total = 0;
    while (b != NULL) {
        struct store_arena_block *next = b->next;
        total += b->size;
        free(b);
        b = next;
    }
    a->head = total <= STORE_ARENA_KEEP ? store_arena_block_new(total) : NULL;
}

void store_arena_free(struct store_arena *a)
{
    struct store_arena_block *b = a->head;
    while (b != NULL) {
        struct store_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
}

/* ---- errors -------------------------------------------------------------- */

int store_fail(struct store *s, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
    va_end(ap);
    return code;
}

int store_code_from_mdb(int rc)
{
    switch (rc) {
    case MDB_MAP_FULL:
    case ENOSPC:
        return STORE_EFULL;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
        return STORE_ECORRUPT;
    default:
        return STORE_EIO;
    }
}

int store_fail_mdb(struct store *s, int rc, const char *what)
{
    int code = store_code_from_mdb(rc);
    MDB_envinfo info;
    if (code == STORE_EFULL && mdb_env_info(s->env, &info) == 0)
        return store_fail(s, code, "%s: %s (map size %zu bytes)", what, mdb_strerror(rc), info.me_mapsize);
    return store_fail(s, code, "%s: %s", what, mdb_strerror(rc));
}

const char *store_errmsg(const struct store *s)
{
    return s != NULL && s->errmsg[0] != '\0' ? s->errmsg : "no error";
}

uint32_t store_format(void)
{
    return STORE_FORMAT;
}

/* ---- meta ---------------------------------------------------------------- */

static const char META_APPLIED[] = "applied_index";
static const char META_EVENTS[] = "event_count";
static const char META_STREAMS[] = "stream_count";
static const char META_CHECKSUM[] = "checksum";
static const char META_LAST_ID[] = "last_id";
static const char META_FORMAT[] = "format";
static const char META_DEDUP[] = "dedup_count";
static const char META_DEDUP_WINDOW[] = "dedup_window";
static const char META_CLUSTER_ID[] = "cluster_id";
static const char META_GROUPS[] = "group_count";
static const char META_GROUP_CLOCK[] = "group_clock_ms";
static const char META_GROUP_LEADER[] = "group_leader_since_ms";
static const char META_DIGEST[] = "state_digest";
static const char META_DIGEST_SINCE[] = "state_digest_since";
static const char META_REMOVED[] = "removed_count";
static const char META_RECLAIMED[] = "reclaimed_count";
static const char META_DELETED_STREAMS[] = "deleted_streams";
static const char META_LIVE_SUM[] = "live_sum";

static MDB_val store_meta_key(const char *name)
{
    return (MDB_val){.mv_size = strlen(name), .mv_data = (void *)name};
}

/* Fetch meta[name] into out (exactly `size` bytes); absent leaves it zero. */
static int store_meta_get(MDB_txn *txn, MDB_dbi dbi, const char *name, void *out, size_t size)
{
    MDB_val k = store_meta_key(name), v;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND) {
        memset(out, 0, size);
        return 0;
    }
    if (rc != 0)
        return store_code_from_mdb(rc);
    if (v.mv_size != size)
        return STORE_ECORRUPT;
    memcpy(out, v.mv_data, size);
    return 0;
}

int store_meta_read(MDB_txn *txn, MDB_dbi dbi, struct store_meta *m)
{
    uint8_t applied[8], events[8], streams[8], sum[4], dedup[8], window[8], groups[8], clock[8], since[8];
    uint8_t digest[8], digest_since[8], removed[8], reclaimed[8], deleted[8], live[8];
    int rc;
    if ((rc = store_meta_get(txn, dbi, META_DIGEST, digest, 8)) != 0 ||
        (rc = store_meta_get(txn, dbi, META_DIGEST_SINCE, digest_since, 8)) != 0 ||
        (rc = store_meta_get(txn, dbi, META_REMOVED, removed, 8)) != 0 ||
        (rc = store_meta_get(txn, dbi, META_RECLAIMED, reclaimed, 8)) != 0 ||
        (rc = store_meta_get(txn, dbi, META_DELETED_STREAMS, deleted, 8)) != 0 ||
        (rc = store_meta_get(txn, dbi, META_LIVE_SUM, live, 8)) != 0 ||
        (rc = store_meta_get(txn, dbi, META_GROUPS, groups, 8)) != 0 ||
        (rc = store_meta_get(txn, dbi, META_GROUP_CLOCK, clock, 8)) != 0 ||
        (rc = store_meta_get(txn, dbi, META_GROUP_LEADER, since, 8)) != 0 ||
        (rc = store_meta_get(txn, dbi, META_DEDUP, dedup, 8)) != 0 ||
        (rc = store_meta_get(txn, dbi, META_DEDUP_WINDOW, window, 8)) != 0 ||
        (rc = store_meta_get(txn, dbi, META_CLUSTER_ID, m->cluster_id, STORE_CLUSTER_ID_BYTES)) != 0 ||
        (rc = store_meta_get(txn, dbi, META_APPLIED, applied, 8)) != 0 ||
        (rc = store_meta_get(txn, dbi, META_EVENTS, events, 8)) != 0 ||
        (rc = store_meta_get(txn, dbi, META_STREAMS, streams, 8)) != 0 ||
        (rc = store_meta_get(txn, dbi, META_CHECKSUM, sum, 4)) != 0 ||
        (rc = store_meta_get(txn, dbi, META_LAST_ID, m->last_id, ULID_BYTES)) != 0)
        return rc;
    m->applied_index = be64_get(applied);
    m->event_count = be64_get(events);
    m->stream_count = be64_get(streams);
    m->dedup_count = be64_get(dedup);
    m->dedup_window = be64_get(window);
    m->group_count = be64_get(groups);
    m->group_clock_ms = (int64_t)be64_get(clock);
    m->group_leader_since_ms = (int64_t)be64_get(since);
    m->state_digest = be64_get(digest);
    m->state_digest_since = be64_get(digest_since);
    m->removed_count = be64_get(removed);
    m->reclaimed_count = be64_get(reclaimed);
    m->deleted_streams = be64_get(deleted);
    m->live_sum = be64_get(live);
    m->checksum = (uint32_t)sum[0] << 24 | (uint32_t)sum[1] << 16 | (uint32_t)sum[2] << 8 | sum[3];
    return 0;
}

int store_meta_format(MDB_txn *txn, MDB_dbi dbi, uint32_t *format)
{
    uint8_t fmt[4];
    int rc = store_meta_get(txn, dbi, META_FORMAT, fmt, sizeof fmt);
    if (rc != 0)
        return rc;
    *format = (uint32_t)fmt[0] << 24 | (uint32_t)fmt[1] << 16 | (uint32_t)fmt[2] << 8 | fmt[3];
    return 0;
}

static int store_meta_put(MDB_txn *txn, MDB_dbi dbi, const char *name, const void *p, size_t size)
{
    MDB_val k = store_meta_key(name);
    MDB_val v = {.mv_size = size, .mv_data = (void *)p};
    return mdb_put(txn, dbi, &k, &v, 0);
}

int store_meta_write(MDB_txn *txn, MDB_dbi dbi, const struct store_meta *m)
{
    uint8_t applied[8], events[8], streams[8], dedup[8], removed[8], reclaimed[8], deleted[8], live[8];
    uint8_t sum[4] = {(uint8_t)(m->checksum >> 24), (uint8_t)(m->checksum >> 16),
                      (uint8_t)(m->checksum >> 8), (uint8_t)m->checksum};
    be64_put(applied, m->applied_index);
    be64_put(events, m->event_count);
    be64_put(streams, m->stream_count);
    be64_put(dedup, m->dedup_count);
    be64_put(removed, m->removed_count);
    be64_put(reclaimed, m->reclaimed_count);
    be64_put(deleted, m->deleted_streams);
    be64_put(live, m->live_sum);
    int rc;
    if ((rc = store_meta_put(txn, dbi, META_REMOVED, removed, 8)) != 0 ||
        (rc = store_meta_put(txn, dbi, META_RECLAIMED, reclaimed, 8)) != 0 ||
        (rc = store_meta_put(txn, dbi, META_DELETED_STREAMS, deleted, 8)) != 0 ||
        (rc = store_meta_put(txn, dbi, META_LIVE_SUM, live, 8)) != 0 ||
        (rc = store_meta_put(txn, dbi, META_DEDUP, dedup, 8)) != 0 ||
        (rc = store_meta_put(txn, dbi, META_APPLIED, applied, 8)) != 0 ||
        (rc = store_meta_put(txn, dbi, META_EVENTS, events, 8)) != 0 ||
        (rc = store_meta_put(txn, dbi, META_STREAMS, streams, 8)) != 0 ||
        (rc = store_meta_put(txn, dbi, META_CHECKSUM, sum, 4)) != 0 ||
        (rc = store_meta_put(txn, dbi, META_LAST_ID, m->last_id, ULID_BYTES)) != 0)
        return rc;
    /* Absent until recorded (absent reads as zero), and never unset. */
    if (m->dedup_window != 0) {
        uint8_t window[8];
        be64_put(window, m->dedup_window);
        if ((rc = store_meta_put(txn, dbi, META_DEDUP_WINDOW, window, 8)) != 0)
            return rc;
    }
    if (store_cluster_id_set(m) &&
        (rc = store_meta_put(txn, dbi, META_CLUSTER_ID, m->cluster_id, STORE_CLUSTER_ID_BYTES)) != 0)
        return rc;
    /* Absent until the first group or user write, or an upgrade. */
    if (m->state_digest != 0 || m->state_digest_since != 0) {
        uint8_t digest[8], digest_since[8];
        be64_put(digest, m->state_digest);
        be64_put(digest_since, m->state_digest_since);
        if ((rc = store_meta_put(txn, dbi, META_DIGEST, digest, 8)) != 0 ||
            (rc = store_meta_put(txn, dbi, META_DIGEST_SINCE, digest_since, 8)) != 0)
            return rc;
    }
    /* Absent until the first group entry. */
    if (m->group_clock_ms != 0) {
        uint8_t groups[8], clock[8], since[8];
        be64_put(groups, m->group_count);
        be64_put(clock, (uint64_t)m->group_clock_ms);
        be64_put(since, (uint64_t)m->group_leader_since_ms);
        if ((rc = store_meta_put(txn, dbi, META_GROUPS, groups, 8)) != 0 ||
            (rc = store_meta_put(txn, dbi, META_GROUP_CLOCK, clock, 8)) != 0 ||
            (rc = store_meta_put(txn, dbi, META_GROUP_LEADER, since, 8)) != 0)
            return rc;
    }
    return 0;
}

/* ---- files --------------------------------------------------------------- */

int store_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

static int store_mkdirs(const char *dir, char *err, size_t errlen)
{
    char path[4096];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof path) {
        snprintf(err, errlen, "bad store directory");
        return STORE_EINVAL;
    }
    memcpy(path, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char c = path[i];
        path[i] = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "creating %s: %s", path, strerror(errno));
            return STORE_EIO;
        }
        path[i] = c;
    }
    return 0;
}

/* ---- open and close ------------------------------------------------------ */

/* Format 6's upgrade (see STORE_FORMAT): its pending ranges need none, but
 * a store of format 5 or older holds group and user state that no digest
 * covered, so its digest starts at the index it is upgraded at, and says
 * so (state_digest_since): replicas compare digests only from the same
 * start. A new store's starts at 0. */
static int store_upgrade_6(MDB_txn *txn, struct store *s, uint32_t format)
{
    if (format == 0 || format >= 6 || s->committed.applied_index == 0)
        return 0;
    s->committed.state_digest_since = s->committed.applied_index;
    return store_meta_write(txn, s->meta, &s->committed);
}

/* Open the tables and check (or, for a new store, record) the format. */
static int store_open_tables(struct store *s, char *err, size_t errlen)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0) {
        snprintf(err, errlen, "mdb_txn_begin: %s", mdb_strerror(rc));
        return store_code_from_mdb(rc);
    }
    const char *what = "mdb_dbi_open";
    if ((rc = mdb_dbi_open(txn, "events", MDB_CREATE, &s->events)) != 0 ||
        (rc = mdb_dbi_open(txn, "stream_index", MDB_CREATE, &s->stream_index)) != 0 ||
        (rc = mdb_dbi_open(txn, "streams", MDB_CREATE, &s->streams)) != 0 ||
        (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) != 0 ||
        (rc = mdb_dbi_open(txn, "members", MDB_CREATE, &s->members)) != 0 ||
        (rc = mdb_dbi_open(txn, "dedup", MDB_CREATE, &s->dedup)) != 0 ||
        (rc = mdb_dbi_open(txn, "dedup_order", MDB_CREATE, &s->dedup_order)) != 0 ||
        (rc = mdb_dbi_open(txn, "groups", MDB_CREATE, &s->groups)) != 0 ||
        (rc = mdb_dbi_open(txn, "group_pending", MDB_CREATE, &s->group_pending)) != 0 ||
        (rc = mdb_dbi_open(txn, "group_deadlines", MDB_CREATE, &s->group_deadlines)) != 0 ||
        (rc = mdb_dbi_open(txn, "group_parked", MDB_CREATE, &s->group_parked)) != 0 ||
        (rc = mdb_dbi_open(txn, "group_consumers", MDB_CREATE, &s->group_consumers)) != 0 ||
        (rc = mdb_dbi_open(txn, "users", MDB_CREATE, &s->users)) != 0 ||
        (rc = mdb_dbi_open(txn, "stream_meta", MDB_CREATE, &s->stream_meta)) != 0)
        goto fail_mdb;
    /* A new file (opened, or a peer's copy) may hold other users. */
    s->users_gen++;

    uint32_t format = 0;
    int code = store_meta_format(txn, s->meta, &format);
    if (code == 0)
        code = store_meta_read(txn, s->meta, &s->committed);
    if (code != 0) {
        mdb_txn_abort(txn);
        snprintf(err, errlen, "reading the meta table: %s",
                 code == STORE_ECORRUPT ? "bad record" : "LMDB error");
        return code;
    }
    if (format > STORE_FORMAT || (format != 0 && format < STORE_FORMAT_OLDEST)) {
        mdb_txn_abort(txn);
        snprintf(err, errlen, "store format %u is not supported (this build reads %u to %u)", format,
                 (unsigned)STORE_FORMAT_OLDEST, (unsigned)STORE_FORMAT);
        return STORE_ECORRUPT;
    }
    /* A new store, or an older format this one reads as it is (see
     * STORE_FORMAT): record the format, in the transaction that opens it. */
    if (format != STORE_FORMAT) {
        uint8_t mine[4] = {0, 0, 0, STORE_FORMAT};
        what = "recording the format";
        if ((rc = store_upgrade_6(txn, s, format)) != 0 ||
            (rc = store_meta_put(txn, s->meta, META_FORMAT, mine, sizeof mine)) != 0)
            goto fail_mdb;
    }
    /* Before format 7 nothing was removed: the live checksum covers every
     * event, summed once here (the same sum on every replica, which all
     * hold the same events at the same applied index). */
    if (format != 0 && format < 7) {
        what = "summing the live checksum";
        if ((rc = store_stream_upgrade_sum(s, txn, &s->committed.live_sum)) != 0 ||
            (rc = store_meta_write(txn, s->meta, &s->committed)) != 0)
            goto fail_mdb;
    }
    what = "mdb_txn_commit";
    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", what, mdb_strerror(rc));
        return store_code_from_mdb(rc);
    }
    if (format != 0 && format != STORE_FORMAT)
        log_info("store format %u upgraded to %u", format, (unsigned)STORE_FORMAT);
    s->pending = s->committed;
    return 0;

fail_mdb:
    mdb_txn_abort(txn);
    snprintf(err, errlen, "%s: %s", what, mdb_strerror(rc));
    return store_code_from_mdb(rc);
}

int store_env_open(struct store *s, char *err, size_t errlen)
{
    int rc;
    const char *what = "mdb_env_create";
    if ((rc = mdb_env_create(&s->env)) != 0) {
        s->env = NULL;
        goto fail_mdb;
    }
    what = "mdb_env_set_maxdbs";
    if ((rc = mdb_env_set_maxdbs(s->env, STORE_MAX_DBS)) != 0)
        goto fail_mdb;
    what = "mdb_env_set_mapsize";
    if ((rc = mdb_env_set_mapsize(s->env, s->map_size)) != 0)
        goto fail_mdb;
    /* NOSYNC: no fsync on the loop thread; durability comes from the raft
     * log and from durable points (store_durable.c). NOTLS: reads run while
     * the batch's write transaction is open on the same thread, and copies
     * read from worker threads. */
    what = "mdb_env_open";
    if ((rc = mdb_env_open(s->env, s->dir, MDB_NOSYNC | MDB_NOTLS, 0644)) != 0)
        goto fail_mdb;

    MDB_stat st;
    what = "mdb_env_stat";
    if ((rc = mdb_env_stat(s->env, &st)) != 0)
        goto fail_mdb;
    s->page_size = st.ms_psize;
    s->stream_max = (size_t)mdb_env_get_maxkeysize(s->env) - STORE_INDEX_KEY_EXTRA;
    if ((rc = store_open_tables(s, err, errlen)) != 0)
        goto fail;
    store_syncer_start(s);
    return 0;

fail_mdb:
    snprintf(err, errlen, "%s %s: %s", what, s->dir, mdb_strerror(rc));
    rc = store_code_from_mdb(rc);
fail:
    if (s->env != NULL)
        mdb_env_close(s->env);
    s->env = NULL;
    return rc;
}

int store_open(const struct store_options *opts, struct store **out, char *err, size_t errlen)
{
    *out = NULL;
    if (opts == NULL || opts->dir == NULL) {
        snprintf(err, errlen, "no store directory");
        return STORE_EINVAL;
    }
    int rc = store_mkdirs(opts->dir, err, errlen);
    if (rc == 0)
        rc = store_marker_open(opts->dir, err, errlen);
    if (rc != 0)
        return rc;

    struct store *s = xcalloc(1, sizeof *s);
    s->dir = xstrdup(opts->dir);
    s->map_size = opts->map_size ? opts->map_size : STORE_DEFAULT_MAP_SIZE;
    s->min_free = opts->min_free;
    store_arena_init(&s->apply_arena);
    store_arena_init(&s->read_arena);
    pthread_mutex_init(&s->copy_lock, NULL);
    pthread_cond_init(&s->copy_done, NULL);
    pthread_mutex_init(&s->syncer_lock, NULL);
    pthread_cond_init(&s->syncer_wake, NULL);
    if ((rc = store_env_open(s, err, errlen)) != 0) {
        store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* The batch's transaction has ended: its cursors went with it. */
static void store_batch_ended(struct store *s)
{
    s->wtxn = NULL;
    s->index_cur = NULL;
    s->events_cur = NULL;
}

/* Begin the batch's write transaction and the cursors of an ADD. */
static int store_batch_open(struct store *s)
{
    int rc = mdb_txn_begin(s->env, NULL, 0, &s->wtxn);
    if (rc != 0) {
        store_batch_ended(s);
        return store_fail_mdb(s, rc, "beginning a write transaction");
    }
    if ((rc = mdb_cursor_open(s->wtxn, s->stream_index, &s->index_cur)) != 0 ||
        (rc = mdb_cursor_open(s->wtxn, s->events, &s->events_cur)) != 0) {
        mdb_txn_abort(s->wtxn);
        store_batch_ended(s);
        return store_fail_mdb(s, rc, "opening the batch's cursors");
    }
    return 0;
}

/* Forget the pending batch: nothing of it reaches the database. */
static void store_batch_abort(struct store *s)
{
    if (s->wtxn != NULL) {
        mdb_txn_abort(s->wtxn);
        store_batch_ended(s);
    }
    s->pending = s->committed;
    s->batch_bytes = 0;
    s->users_gen++; /* users applied in the batch are gone */
}

static int store_fail_lost(struct store *s)
{
    return store_fail(s, STORE_EIO,
                      "a batch of applied entries failed to commit; restart the process so that raft "
                      "applies them again");
}

bool store_batch_lost(const struct store *s)
{
    return s->batch_lost;
}

void store_env_close(struct store *s)
{
    if (s->env == NULL)
        return;
    if (store_flush(s) != 0)
        log_error("store: committing the last batch: %s", store_errmsg(s));
    store_batch_abort(s);
    store_copy_wait(s);
    if (s->rtxn != NULL)
        mdb_txn_abort(s->rtxn);
    s->rtxn = NULL;
    if (s->pin != NULL)
        mdb_txn_abort(s->pin);
    s->pin = NULL;
    store_syncer_stop(s);
    int rc = mdb_env_sync(s->env, 1);
    if (rc != 0)
        log_error("store: syncing %s: %s", s->dir, mdb_strerror(rc));
    mdb_env_close(s->env);
    s->env = NULL;
}

void store_close(struct store *s)
{
    if (s == NULL)
        return;
    bool was_open = s->env != NULL;
    store_env_close(s);
    if (was_open)
        store_marker_close(s->dir);
    pthread_mutex_destroy(&s->copy_lock);
    pthread_cond_destroy(&s->copy_done);
    pthread_mutex_destroy(&s->syncer_lock);
    pthread_cond_destroy(&s->syncer_wake);
    store_arena_free(&s->apply_arena);
    free(s->tally.e);
    store_arena_free(&s->read_arena);
    free(s->dir);
    free(s);
}

int store_sync(struct store *s)
{
    if (s == NULL || s->env == NULL)
        return STORE_EINVAL;
    return store_durable_point(s);
}

/* ---- apply --------------------------------------------------------------- */

static bool store_id_ok(const ProtobufCBinaryData *id, bool optional)
{
    return id->len == ULID_BYTES || (optional && id->len == 0);
}

/* Checks that do not depend on the state: a well-formed entry from a
 * correct leader always passes them. */
static bool store_add_well_formed(const struct store *s, const Eventflow__AddCommand *add, size_t slen)
{
    if (slen == 0 || slen > s->stream_max || add->n_events == 0)
        return false;
    for (size_t i = 0; i < add->n_events; i++) {
        const Eventflow__NewEvent *ev = add->events[i];
        if (ev == NULL || ev->type == NULL || !store_id_ok(&ev->id, false) ||
            !store_id_ok(&ev->causation_id, true) || !store_id_ok(&ev->correlation_id, true))
            return false;
    }
    return true;
}

int store_index_length(MDB_cursor *cur, const char *stream, size_t len, uint64_t *length)
{
    /* The key just past the stream's last possible one: a version of
     * UINT64_MAX is never written (it would be the 2^64th event). */
    uint8_t key[512];
    MDB_val k = {.mv_size = store_index_key(key, stream, len, UINT64_MAX), .mv_data = key}, v;
    *length = 0;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == 0)
        rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    else if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    /* Names hold no NUL, so a key of this length starting with the name and
     * a NUL is one of this stream's. */
    const uint8_t *got = k.mv_data;
    if (k.mv_size == len + STORE_INDEX_KEY_EXTRA && memcmp(got, stream, len) == 0 && got[len] == 0)
        *length = be64_get(got + len + 1) + 1;
    return 0;
}

static void store_event_fill(Eventflow__StoredEvent *se, const Eventflow__NewEvent *ev,
                             const Eventflow__AddCommand *add, uint64_t version, uint64_t position)
{
    eventflow__stored_event__init(se);
    se->id = ev->id;
    se->stream = add->stream;
    se->version = version;
    se->type = ev->type;
    se->data_kind = ev->data_kind;
    se->data = ev->data;
    se->metadata_kind = ev->metadata_kind;
    se->metadata = ev->metadata;
    se->causation_id = ev->causation_id.len != 0 ? ev->causation_id : ev->id;
    se->correlation_id = ev->correlation_id.len != 0 ? ev->correlation_id : se->causation_id;
    se->added_at_ns = add->added_at_ns;
    se->position = position;
    se->client_id = ev->client_id;
}

/* events[id] = the packed event, packed straight into LMDB's page
 * (MDB_RESERVE), and returned so the checksum can run over those bytes.
 * Ids rise with every event, so the put is an append. */
static int store_event_put(struct store *s, const Eventflow__StoredEvent *se, MDB_val *stored)
{
    MDB_val k = {.mv_size = ULID_BYTES, .mv_data = se->id.data};
    stored->mv_size = eventflow__stored_event__get_packed_size(se);
    int rc = mdb_cursor_put(s->events_cur, &k, stored, MDB_RESERVE | MDB_APPEND);
    if (rc == MDB_KEYEXIST)
        return store_fail(s, STORE_ECORRUPT, "events: table holds an id above meta last_id");
    if (rc != 0)
        return store_fail_mdb(s, rc, "writing an event");
    size_t n = eventflow__stored_event__pack(se, stored->mv_data);
    if (n != stored->mv_size)
        return store_fail(s, STORE_EIO, "packing an event: %zu bytes, expected %zu", n, stored->mv_size);
    return 0;
}

/* ---- idempotency keys ------------------------------------------------------ */

/* A key makes a write safe to retry: an ADD whose keys were all applied
 * before, each with this very event, is answered with the events written
 * then and writes nothing. "This very event": the same stream, type, data
 * and metadata (kind and bytes; JSON as its compact text, keys in the order
 * sent), causation and correlation ids as sent, and the same expected
 * version, at the same place in an ADD of as many events. The stored event
 * is compared field by field (it is read anyway, to answer the retry); what
 * it cannot tell, the expected version and the ADD's shape, the key's
 * DedupRecord holds. Any other use of an applied key is refused (KEY_REUSE)
 * and writes nothing, however many of the ADD's keys are new: answering it
 * as a retry would tell the client that a write it never made was made.
 *
 * Keys are checked before the expected version: a retried ADD whose first
 * attempt was applied must get the first attempt's result, even though the
 * stream has moved on since. */
static bool store_has_keys(const Eventflow__AddCommand *add)
{
    for (size_t i = 0; i < add->n_events; i++)
        if (add->events[i]->client_id.len != 0)
            return true;
    return false;
}

/* Keys within one ADD must be present on every event or none, short, and
 * distinct (a correct leader never sends anything else). */
static bool store_keys_well_formed(const Eventflow__AddCommand *add)
{
    for (size_t i = 0; i < add->n_events; i++) {
        const ProtobufCBinaryData *k = &add->events[i]->client_id;
        if (k->len == 0 || k->len > STORE_KEY_MAX)
            return false;
        for (size_t j = 0; j < i; j++) {
            const ProtobufCBinaryData *o = &add->events[j]->client_id;
            if (o->len == k->len && memcmp(o->data, k->data, k->len) == 0)
                return false;
        }
    }
    return true;
}

static bool store_bytes_equal(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* How event i of `add` differs from `orig`, the event its key was applied
 * with, described by `rec` (NULL for a format-2 key, which recorded the id
 * alone). NULL when it is the same event sent the same way. */
static const char *store_dedup_differs(const Eventflow__AddCommand *add, size_t i,
                                       const Eventflow__DedupRecord *rec, const Eventflow__StoredEvent *orig)
{
    const Eventflow__NewEvent *ev = add->events[i];
    if (mutant_is(MUTANT_DEDUP_IGNORES_CONTENT))
        return NULL;
    if (strcmp(orig->stream, add->stream) != 0)
        return "a different stream";
    if (strcmp(orig->type, ev->type) != 0)
        return "a different type";
    if (orig->data_kind != ev->data_kind || !store_bytes_equal(&orig->data, &ev->data))
        return "different data";
    if (orig->metadata_kind != ev->metadata_kind || !store_bytes_equal(&orig->metadata, &ev->metadata))
        return "different metadata";
    /* Left out, an id defaults as store_event_fill sets it. */
    const ProtobufCBinaryData *cause = ev->causation_id.len != 0 ? &ev->causation_id : &orig->id;
    if (!store_bytes_equal(&orig->causation_id, cause))
        return "a different causation_id";
    const ProtobufCBinaryData *corr = ev->correlation_id.len != 0 ? &ev->correlation_id : &orig->causation_id;
    if (!store_bytes_equal(&orig->correlation_id, corr))
        return "a different correlation_id";
    if (rec == NULL)
        return NULL;
    if (rec->any_version != add->any_version || (!add->any_version && rec->expected_version != add->expected_version))
        return "a different expected version";
    if (rec->index != i || rec->count != add->n_events)
        return "a different set of events in its ADD";
    return NULL;
}

/* Compare each of the ADD's keys with what it was applied with before.
 * Sets *status to DUPLICATE (the original events loaded into the outcome),
 * KEY_REUSE (the outcome names the key), or APPLIED when no key was seen. */
static int store_dedup_check(struct store *s, const Eventflow__AddCommand *add, enum store_status *status)
{
    struct store_outcome *o = &s->outcome;
    size_t n = add->n_events, found = 0;
    Eventflow__StoredEvent **orig = store_arena_alloc(&s->apply_arena, n * sizeof *orig);
    const char *differs = NULL;
    const ProtobufCBinaryData *culprit = NULL;
    for (size_t i = 0; i < n && differs == NULL; i++) {
        const ProtobufCBinaryData *key = &add->events[i]->client_id;
        MDB_val k = {.mv_size = key->len, .mv_data = key->data}, v, ev;
        int rc = mdb_get(s->wtxn, s->dedup, &k, &v);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc != 0)
            return store_fail_mdb(s, rc, "reading dedup");
        found++;
        Eventflow__DedupRecord *rec = NULL;
        MDB_val id = v;
        if (v.mv_size != ULID_BYTES) {
            rec = eventflow__dedup_record__unpack(&s->apply_arena.pb, v.mv_size, v.mv_data);
            if (rec == NULL || rec->id.len != ULID_BYTES)
                return store_fail(s, STORE_ECORRUPT, "dedup: undecodable record");
            id = (MDB_val){.mv_size = ULID_BYTES, .mv_data = rec->id.data};
        }
        rc = mdb_get(s->wtxn, s->events, &id, &ev);
        if (rc == MDB_NOTFOUND) {
            /* Its event was removed (a delete or retention reclaimed it):
             * there is nothing left to compare or to answer with. Whether
             * a retry or a reuse, nothing is written; the key itself is
             * forgotten with the window, as any other. */
            o->reused_key = (const char *)key->data;
            o->reused_key_len = key->len;
            *status = STORE_DUPLICATE_REMOVED;
            return 0;
        }
        if (rc != 0)
            return store_fail_mdb(s, rc, "reading an event for dedup");
        orig[i] = eventflow__stored_event__unpack(&s->apply_arena.pb, ev.mv_size, ev.mv_data);
        if (orig[i] == NULL)
            return store_fail(s, STORE_ECORRUPT, "events: undecodable record");
        if (culprit == NULL)
            culprit = key;
        if ((differs = store_dedup_differs(add, i, rec, orig[i])) != NULL)
            culprit = key;
    }
    if (found == 0) {
        *status = STORE_APPLIED;
    } else if (differs == NULL && found == n) {
        o->n_events = n;
        o->events = orig;
        *status = STORE_DUPLICATE;
    } else {
        /* Some keys are new: the others were applied with different
         * companions (format 2 cannot say otherwise). */
        o->reused_key = (const char *)culprit->data;
        o->reused_key_len = culprit->len;
        o->reuse_differs = differs != NULL ? differs : "a different set of events in its ADD";
        *status = STORE_KEY_REUSE;
    }
    return 0;
}

/* Remember event i's key, and forget the oldest keys beyond the window. */
static int store_dedup_put(struct store *s, const Eventflow__AddCommand *add, size_t i,
                           const Eventflow__StoredEvent *se)
{
    Eventflow__DedupRecord rec = EVENTFLOW__DEDUP_RECORD__INIT;
    rec.id = se->id;
    rec.any_version = add->any_version;
    rec.expected_version = add->any_version ? 0 : add->expected_version;
    rec.index = (uint32_t)i;
    rec.count = (uint32_t)add->n_events;
    MDB_val k = {.mv_size = se->client_id.len, .mv_data = se->client_id.data};
    MDB_val v = {.mv_size = eventflow__dedup_record__get_packed_size(&rec)};
    int rc = mdb_put(s->wtxn, s->dedup, &k, &v, MDB_NOOVERWRITE | MDB_RESERVE);
    if (rc != 0)
        return store_fail_mdb(s, rc, "writing dedup");
    eventflow__dedup_record__pack(&rec, v.mv_data);
    uint8_t pos[8];
    be64_put(pos, se->position);
    MDB_val ok = {.mv_size = sizeof pos, .mv_data = pos};
    if ((rc = mdb_put(s->wtxn, s->dedup_order, &ok, &k, MDB_APPEND)) != 0)
        return store_fail_mdb(s, rc, "writing dedup_order");
    s->pending.dedup_count++;

    uint64_t window = store_meta_dedup_window(&s->pending);
    if (s->pending.dedup_count <= window)
        return 0;
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(s->wtxn, s->dedup_order, &cur)) != 0)
        return store_fail_mdb(s, rc, "opening dedup_order");
    for (int evicted = 0; rc == 0 && s->pending.dedup_count > window && evicted < STORE_DEDUP_EVICT_MAX;
         evicted++) {
        MDB_val oldest_pos, oldest_key;
        rc = mdb_cursor_get(cur, &oldest_pos, &oldest_key, MDB_FIRST);
        if (rc == 0)
            rc = mdb_del(s->wtxn, s->dedup, &oldest_key, NULL);
        if (rc == 0)
            rc = mdb_cursor_del(cur, 0);
        if (rc == 0)
            s->pending.dedup_count--;
    }
    mdb_cursor_close(cur);
    if (rc != 0)
        return store_fail_mdb(s, rc, "forgetting the oldest dedup key");
    return 0;
}

static int store_apply_add(struct store *s, const Eventflow__AddCommand *add, enum store_status *status)
{
    struct store_outcome *o = &s->outcome;
    size_t slen = add->stream != NULL ? strlen(add->stream) : 0;
    if (!store_add_well_formed(s, add, slen)) {
        *status = STORE_INVALID_ENTRY;
        return 0;
    }

    bool keyed = store_has_keys(add);
    if (keyed && !store_keys_well_formed(add)) {
        *status = STORE_INVALID_ENTRY;
        return 0;
    }
    int rc;
    if (keyed) {
        if ((rc = store_dedup_check(s, add, status)) != 0)
            return rc;
        if (*status != STORE_APPLIED)
            return 0;
    }

    /* Every ADD carries an event, so a stream exists once it has one. */
    uint64_t length;
    if ((rc = store_index_length(s->index_cur, add->stream, slen, &length)) != 0)
        return store_fail_mdb(s, rc, "reading stream_index");
    Eventflow__StreamRecord rec;
    bool has_rec;
    if ((rc = store_stream_before_add(s, add->stream, slen, &rec, &has_rec)) != 0)
        return rc;
    if (has_rec && rec.tombstoned) {
        *status = STORE_STREAM_DELETED;
        return 0;
    }
    /* A stream whose rows were all reclaimed has no index keys left: its
     * numbering goes on from its record. */
    if (has_rec && rec.first_version > length)
        length = rec.first_version;
    bool exists = length > 0;
    o->stream_length = length;
    o->first_position = s->pending.event_count + 1;
    if (!add->any_version && add->expected_version != length && !mutant_is(MUTANT_EXPECTED_VERSION_SKIPPED)) {
        *status = add->expected_version < length ? STORE_VERSION_CONFLICT : STORE_VERSION_GAP;
        return 0;
    }
    /* Ids are the global order: each must exceed everything before it. */
    const uint8_t *prev = s->pending.last_id;
    for (size_t i = 0; i < add->n_events; i++) {
        if (memcmp(add->events[i]->id.data, prev, ULID_BYTES) <= 0) {
            *status = STORE_INVALID_ENTRY;
            return 0;
        }
        prev = add->events[i]->id.data;
    }

    size_t n = add->n_events;
    Eventflow__StoredEvent *events = store_arena_alloc(&s->apply_arena, n * sizeof *events);
    Eventflow__StoredEvent **ptrs = store_arena_alloc(&s->apply_arena, n * sizeof *ptrs);
    uint32_t sum = s->pending.checksum;
    uint8_t key[512];
    for (size_t i = 0; i < n; i++) {
        Eventflow__StoredEvent *se = &events[i];
        ptrs[i] = se;
        store_event_fill(se, add->events[i], add, length + i, o->first_position + i);
        MDB_val stored;
        if ((rc = store_event_put(s, se, &stored)) != 0)
            return rc;
        sum = checksum_update(sum, stored.mv_data, stored.mv_size);
        s->pending.live_sum += store_live_hash(stored.mv_data, stored.mv_size, se->position);
        if (keyed && (rc = store_dedup_put(s, add, i, se)) != 0)
            return rc;

        MDB_val ik = {.mv_size = store_index_key(key, add->stream, slen, se->version), .mv_data = key};
        MDB_val iv = {.mv_size = ULID_BYTES, .mv_data = se->id.data};
        rc = mdb_cursor_put(s->index_cur, &ik, &iv, MDB_NOOVERWRITE);
        if (rc == MDB_KEYEXIST)
            return store_fail(s, STORE_ECORRUPT, "stream_index: %s version %" PRIu64 " exists beyond its length",
                              add->stream, se->version);
        if (rc != 0)
            return store_fail_mdb(s, rc, "writing stream_index");
    }

    /* A new stream's record, written once: its length lives in the index. */
    if (!exists) {
        Eventflow__StreamInfo info;
        eventflow__stream_info__init(&info);
        info.created_at_ns = add->added_at_ns;
        uint8_t packed[16]; /* a tag and a varint of at most 10 bytes */
        MDB_val sk = {.mv_size = slen, .mv_data = add->stream};
        MDB_val sv = {.mv_size = eventflow__stream_info__pack(&info, packed), .mv_data = packed};
        rc = mdb_put(s->wtxn, s->streams, &sk, &sv, MDB_NOOVERWRITE);
        if (rc == MDB_KEYEXIST)
            return store_fail(s, STORE_ECORRUPT, "streams: %s has a record but no events", add->stream);
        if (rc != 0)
            return store_fail_mdb(s, rc, "writing streams");
    }

    s->pending.event_count += n;
    s->pending.stream_count += exists ? 0 : 1;
    s->pending.checksum = sum;
    memcpy(s->pending.last_id, events[n - 1].id.data, ULID_BYTES);
    o->n_events = n;
    o->events = ptrs;
    if (has_rec && (rc = store_stream_after_add(s, add->stream, slen, &rec, length + n)) != 0)
        return rc;
    *status = STORE_APPLIED;
    return 0;
}

/* members[id] = the MemberAddress as replicated, so the incarnation is
 * kept beside the address. */
static int store_apply_member(struct store *s, const Eventflow__MemberAddress *m, enum store_status *status)
{
    uint8_t key[8];
    be64_put(key, m->id);
    MDB_val k = {.mv_size = sizeof key, .mv_data = key};
    MDB_val v = {.mv_size = eventflow__member_address__get_packed_size(m)};
    int rc = mdb_put(s->wtxn, s->members, &k, &v, MDB_RESERVE);
    if (rc != 0)
        return store_fail_mdb(s, rc, "writing members");
    eventflow__member_address__pack(m, v.mv_data);
    *status = STORE_MEMBER_UPDATED;
    return 0;
}

/* Settings: a field left at 0 keeps its value (eventflow.proto). A window
 * outside the range a leader accepts is a malformed entry. */
static void store_apply_settings(struct store *s, const Eventflow__Settings *st, enum store_status *status)
{
    if (st->dedup_window > STORE_MAX_DEDUP_WINDOW) {
        *status = STORE_INVALID_ENTRY;
        return;
    }
    if (st->dedup_window != 0)
        s->pending.dedup_window = st->dedup_window;
    *status = STORE_SETTINGS_UPDATED;
}

/* The first identity applied is the cluster's for good: two leaders may
 * each propose one before either is applied, and every replica must keep
 * the same. */
static void store_apply_identity(struct store *s, const Eventflow__ClusterIdentity *id, enum store_status *status)
{
    static const uint8_t zero[STORE_CLUSTER_ID_BYTES];
    if (id->cluster_id.len != STORE_CLUSTER_ID_BYTES || memcmp(id->cluster_id.data, zero, sizeof zero) == 0) {
        *status = STORE_INVALID_ENTRY;
    } else if (store_cluster_id_set(&s->pending)) {
        *status = STORE_IDENTITY_KEPT;
    } else {
        memcpy(s->pending.cluster_id, id->cluster_id.data, STORE_CLUSTER_ID_BYTES);
        *status = STORE_IDENTITY_SET;
    }
}

int store_apply(struct store *s, uint64_t raft_index, const void *entry, size_t len,
                const struct store_outcome **out)
{
    if (s == NULL || (entry == NULL && len != 0) || out == NULL)
        return STORE_EINVAL;
    if (s->batch_lost)
        return store_fail_lost(s);
    store_arena_reset(&s->apply_arena);
    struct store_outcome *o = &s->outcome;
    memset(o, 0, sizeof *o);
    o->raft_index = raft_index;
    if (raft_index <= s->pending.applied_index) {
        o->status = STORE_ALREADY_APPLIED;
        *out = o;
        return 0;
    }
    int rc;
    if (s->wtxn == NULL && (rc = store_batch_open(s)) != 0)
        return rc;

    /* The outcome's events point into the unpacked entry, so both live in
     * the apply arena until the next apply. */
    enum store_status status = STORE_INVALID_ENTRY;
    Eventflow__Entry *e = eventflow__entry__unpack(&s->apply_arena.pb, len, entry);
    rc = 0;
    if (e != NULL && e->command_case == EVENTFLOW__ENTRY__COMMAND_ADD && e->add != NULL)
        rc = store_apply_add(s, e->add, &status);
    else if (e != NULL && e->command_case == EVENTFLOW__ENTRY__COMMAND_MEMBER_ADDRESS &&
             e->member_address != NULL)
        rc = store_apply_member(s, e->member_address, &status);
    else if (e != NULL && e->command_case == EVENTFLOW__ENTRY__COMMAND_SETTINGS && e->settings != NULL)
        store_apply_settings(s, e->settings, &status);
    else if (e != NULL && e->command_case == EVENTFLOW__ENTRY__COMMAND_IDENTITY && e->identity != NULL)
        store_apply_identity(s, e->identity, &status);
    else if (e != NULL && e->command_case == EVENTFLOW__ENTRY__COMMAND_GROUPS && e->groups != NULL)
        rc = store_apply_groups(s, e->groups, &status);
    else if (e != NULL && e->command_case == EVENTFLOW__ENTRY__COMMAND_USER && e->user != NULL)
        rc = store_apply_user(s, e->user, &status);
    else if (e != NULL && e->command_case == EVENTFLOW__ENTRY__COMMAND_STREAM && e->stream != NULL)
        rc = store_apply_stream(s, e->stream, &status);
    if (rc != 0) {
        /* Aborting drops the entries applied before this one in the batch
         * too; this entry itself was not consumed and may be retried. */
        bool dropped = s->pending.applied_index > s->committed.applied_index;
        store_batch_abort(s);
        if (dropped)
            s->batch_lost = true;
        memset(o, 0, sizeof *o);
        return rc;
    }
    /* Every status but ALREADY_APPLIED consumes the index. The meta table
     * itself is written once per batch, in store_flush. */
    s->pending.applied_index = raft_index;
    s->batch_bytes += len;
    o->status = status;
    *out = o;
    return 0;
}

int store_meta_view(struct store *s, MDB_txn *txn, struct store_meta *m)
{
    if (txn == s->wtxn) {
        *m = s->pending; /* the meta table is written only at commit */
        return 0;
    }
    return store_meta_read(txn, s->meta, m);
}

uint64_t store_applied_index(const struct store *s)
{
    return s->pending.applied_index;
}

uint64_t store_batch_entries(const struct store *s)
{
    return s->wtxn != NULL ? s->pending.applied_index - s->committed.applied_index : 0;
}

uint64_t store_batch_bytes(const struct store *s)
{
    return s->wtxn != NULL ? s->batch_bytes : 0;
}

int store_flush(struct store *s)
{
    if (s == NULL)
        return STORE_EINVAL;
    if (s->batch_lost)
        return store_fail_lost(s);
    if (s->wtxn == NULL)
        return 0;
    int rc = store_meta_write(s->wtxn, s->meta, &s->pending);
    if (rc != 0) {
        store_fail_mdb(s, rc, "writing meta");
        store_batch_abort(s);
        s->batch_lost = true;
        return store_code_from_mdb(rc);
    }
    rc = mdb_txn_commit(s->wtxn);
    store_batch_ended(s); /* freed by the commit, whatever its outcome */
    s->batch_bytes = 0;
    if (rc != 0) {
        s->pending = s->committed;
        s->batch_lost = true;
        return store_fail_mdb(s, rc, "committing");
    }
    s->committed = s->pending;
    s->disk_free_ms = 0; /* the batch's pages are on the filesystem now */
    store_syncer_kick(s);
    return 0;
}

/* ---- stats and space ----------------------------------------------------- */

static int store_used_bytes(struct store *s, uint64_t *used, uint64_t *map_size)
{
    MDB_envinfo info;
    int rc = mdb_env_info(s->env, &info);
    if (rc != 0)
        return store_fail_mdb(s, rc, "mdb_env_info");
    *used = ((uint64_t)info.me_last_pgno + 1) * s->page_size;
    *map_size = info.me_mapsize;
    return 0;
}

int store_free_bytes(struct store *s, uint64_t *free_bytes)
{
    *free_bytes = 0;
    if (s->batch_lost)
        return store_fail_lost(s);
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return store_fail_mdb(s, rc, "beginning a read transaction");
    /* LMDB's free list is its database 0: each record a list of page
     * numbers, its first element their count (what mdb_stat -f sums). */
    if ((rc = mdb_cursor_open(txn, 0, &cur)) != 0) {
        mdb_txn_abort(txn);
        return store_fail_mdb(s, rc, "opening the free list");
    }
    MDB_val k, v;
    uint64_t pages = 0;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        if (v.mv_size < sizeof(size_t))
            continue;
        size_t n;
        memcpy(&n, v.mv_data, sizeof n);
        pages += n;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (rc != MDB_NOTFOUND)
        return store_fail_mdb(s, rc, "walking the free list");
    *free_bytes = pages * s->page_size;
    return 0;
}

void store_stats_from_meta(const struct store_meta *m, struct store_stats *out)
{
    out->applied_index = m->applied_index;
    out->event_count = m->event_count;
    out->stream_count = m->stream_count;
    out->checksum = m->checksum;
    memcpy(out->last_id, m->last_id, ULID_BYTES);
    out->dedup_keys = m->dedup_count;
    out->dedup_window = store_meta_dedup_window(m);
    out->dedup_window_recorded = m->dedup_window != 0;
    out->has_cluster_id = store_cluster_id_set(m);
    memcpy(out->cluster_id, m->cluster_id, STORE_CLUSTER_ID_BYTES);
    out->group_count = m->group_count;
    out->group_clock_ms = m->group_clock_ms;
    out->state_digest = m->state_digest;
    out->state_digest_since = m->state_digest_since;
    out->live_events = m->event_count - m->removed_count;
    out->live_streams = m->stream_count - m->deleted_streams;
    out->removed_events = m->removed_count;
    out->reclaim_pending = m->removed_count - m->reclaimed_count;
    out->live_checksum = m->live_sum;
}

int store_stats(struct store *s, struct store_stats *out)
{
    if (s == NULL || out == NULL)
        return STORE_EINVAL;
    memset(out, 0, sizeof *out);
    int rc = store_used_bytes(s, &out->db_bytes, &out->map_size);
    if (rc != 0)
        return rc;
    /* Applied state, batch included (see store_read_txn_begin). */
    store_stats_from_meta(&s->pending, out);
    return 0;
}

/* What bounds the room: the map, or the filesystem under it. */
struct store_room {
    uint64_t room;
    uint64_t used, map_size; /* the map's pages in use and its size, bytes */
    uint64_t disk_free;      /* available on the filesystem; UINT64_MAX if unknown */
    bool by_disk;            /* the filesystem, less min_free, is the bound */
};

/* Free bytes on the directory's filesystem, UINT64_MAX if it cannot say
 * (then only the map is counted). Asked at most every STORE_DISK_FREE_MS,
 * and again after every commit: the space check runs for every ADD, and
 * what the raft log writes in between is far less than min_free. */
static uint64_t store_disk_free(struct store *s)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    /* + 1: a cached time of 0 means "ask again". */
    uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 + 1;
    if (s->disk_free_ms != 0 && now - s->disk_free_ms < STORE_DISK_FREE_MS)
        return s->disk_free;
    struct statvfs fs;
    s->disk_free = statvfs(s->dir, &fs) == 0 ? (uint64_t)fs.f_bavail * fs.f_frsize : UINT64_MAX;
    s->disk_free_ms = now;
    return s->disk_free;
}

/* Room left by an over-estimate: what the open batch may have added counts
 * as a few pages per entry and its bytes twice (the file's size covers
 * committed batches only, and its pages reach the filesystem at commit),
 * in the map and on the filesystem, which must keep min_free. */
static int store_room_estimate(struct store *s, struct store_room *r)
{
    int rc = store_used_bytes(s, &r->used, &r->map_size);
    if (rc != 0)
        return rc;
    uint64_t batch = store_batch_entries(s) * STORE_ENTRY_PAGES * s->page_size + 2 * store_batch_bytes(s);
    uint64_t need = r->used + batch;
    r->room = need <= r->map_size ? r->map_size - need : 0;
    r->by_disk = false;
    r->disk_free = store_disk_free(s);
    if (r->disk_free != UINT64_MAX) {
        uint64_t keep = s->min_free + batch;
        uint64_t disk_room = r->disk_free > keep ? r->disk_free - keep : 0;
        if (disk_room < r->room) {
            r->room = disk_room;
            r->by_disk = true;
        }
    }
    return 0;
}

int store_space_check(struct store *s, size_t bytes)
{
    if (s == NULL)
        return STORE_EINVAL;
    /* An entry that does not fit at apply stops the node, and the restart
     * would stop at the same entry: the answer here must never be too
     * optimistic. Near the limit the open batch is committed first, which
     * turns the estimate into the exact size. Pages are copied on write:
     * ask for several times the entry's size, and never less than the
     * margin. */
    uint64_t margin = bytes > UINT64_MAX / 4 ? UINT64_MAX : (uint64_t)bytes * 4;
    if (margin < STORE_SPACE_MARGIN)
        margin = STORE_SPACE_MARGIN;
    for (;;) {
        struct store_room r = {0};
        int rc = store_room_estimate(s, &r);
        if (rc != 0)
            return rc;
        if (margin <= r.room)
            return 0;
        if (s->wtxn == NULL && r.by_disk)
            return store_fail(s, STORE_EFULL,
                              "the disk is nearly full: %" PRIu64 " bytes free, %" PRIu64
                              " kept free (--min-free-disk)",
                              r.disk_free, s->min_free);
        if (s->wtxn == NULL)
            return store_fail(s, STORE_EFULL, "the store is nearly full: %" PRIu64 " of %" PRIu64
                              " bytes of its map used (--map-size)", r.used, r.map_size);
        if ((rc = store_flush(s)) != 0)
            return rc;
    }
}

int store_space_room(struct store *s, uint64_t *room)
{
    if (s == NULL || room == NULL)
        return STORE_EINVAL;
    struct store_room r = {0};
    int rc = store_room_estimate(s, &r);
    if (rc == 0 && r.room < STORE_ROOM_EXACT_BELOW && s->wtxn != NULL) {
        if ((rc = store_flush(s)) != 0)
            return rc;
        rc = store_room_estimate(s, &r);
    }
    *room = r.room;
    return rc;
}

int store_space_room_estimate(struct store *s, uint64_t *room)
{
    if (s == NULL || room == NULL)
        return STORE_EINVAL;
    struct store_room r = {0};
    int rc = store_room_estimate(s, &r);
    *room = rc == 0 ? r.room : 0;
    return rc;
}

/* ---- members ------------------------------------------------------------- */

/* members[id]'s client address (into out), TLS address (into tls) and
 * incarnation; any of them may be left out (a cap of 0, a NULL). */
static int store_member_read(struct store *s, uint64_t id, char *out, size_t cap, char *tls, size_t tls_cap,
                             uint64_t *incarnation)
{
    if (s == NULL || (out == NULL && cap != 0) || (tls == NULL && tls_cap != 0))
        return STORE_EINVAL;
    MDB_txn *txn;
    int rc = store_read_txn_begin(s, &txn);
    if (rc != 0)
        return rc;
    uint8_t key[8];
    be64_put(key, id);
    MDB_val k = {.mv_size = sizeof key, .mv_data = key}, v;
    rc = mdb_get(txn, s->members, &k, &v);
    if (rc == MDB_NOTFOUND) {
        rc = -ENOENT;
    } else if (rc != 0) {
        rc = store_fail_mdb(s, rc, "reading members");
    } else {
        Eventflow__MemberAddress *m = eventflow__member_address__unpack(&s->read_arena.pb, v.mv_size, v.mv_data);
        if (m == NULL) {
            rc = store_fail(s, STORE_ECORRUPT, "members: undecodable record for %" PRIu64, id);
        } else {
            if (cap != 0)
                snprintf(out, cap, "%s", m->client_address != NULL ? m->client_address : "");
            if (tls_cap != 0)
                snprintf(tls, tls_cap, "%s", m->tls_address != NULL ? m->tls_address : "");
            if (incarnation != NULL)
                *incarnation = m->incarnation;
        }
    }
    store_read_txn_end(s, txn);
    return rc;
}

int store_member_get(struct store *s, uint64_t id, char *out, size_t cap, uint64_t *incarnation)
{
    return store_member_read(s, id, out, cap, NULL, 0, incarnation);
}

int store_member_tls_get(struct store *s, uint64_t id, char *out, size_t cap)
{
    return store_member_read(s, id, NULL, 0, out, cap, NULL);
}


/* ---- read transactions --------------------------------------------------- */

int store_read_txn_begin(struct store *s, MDB_txn **txn)
{    if (s->batch_lost)
        return store_fail_lost(s);
    /* An open batch holds entries that are applied (so committed in raft)
     * but not yet committed to LMDB: read through it, so that reads see
     * every applied entry and the batch can be committed at leisure. */
    if (s->wtxn != NULL) {
        *txn = s->wtxn;
        return 0;
    }
    MDB_txn *t = s->rtxn;
    s->rtxn = NULL;
    if (t != NULL) {
        int rc = mdb_txn_renew(t);
        if (rc == 0) {
            *txn = t;
            return 0;
        }
        mdb_txn_abort(t);
    }
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t);
    if (rc != 0)
        return store_fail_mdb(s, rc, "beginning a read transaction");
    *txn = t;
    return 0;
}

void store_read_txn_end(struct store *s, MDB_txn *txn)
{
    store_arena_reset(&s->read_arena);
    if (txn == s->wtxn)
        return;
    if (s->rtxn == NULL) {
        mdb_txn_reset(txn);
        s->rtxn = txn;
    } else {
        mdb_txn_abort(txn);
    }
}
