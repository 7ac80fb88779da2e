/* store_stream.c - stream deletion and retention: applying StreamOp
 * entries, and the per-stream record the reads honour.
 *
 * Removal has two steps, both through the log so that every replica hides
 * and frees the same events at the same index:
 *   - hiding: a stream's record holds its first live version. A delete,
 *     a truncate_before, max_count (checked at every ADD's apply) or a
 *     leader's max_age expiry raises it, in O(1) however many events it
 *     hides; reads skip versions below it at once;
 *   - reclaiming: the leader then proposes StreamReclaim entries, each
 *     removing the rows of at most a batch of hidden events (events,
 *     stream_index), so that no apply takes long whatever was hidden.
 * Versions only ever hide from the front, so a stream's live events are
 * always the dense range [first_version, length).
 *
 * Durability is every entry's (store.h): a removal acknowledged to a client
 * is in the raft log of a quorum, and the store holds it durably from the
 * next durable point on; a restart re-applies whatever the store lacks, so
 * a removed event never comes back. An event is only ever removed by an
 * entry that names it (a version bound), never by a node's own clock. */
#include <stdint.h>
#include <string.h>

#include "store/checksum.h"
#include "store/store.h"
#include "store/store_internal.h"

/* Bytes of a packed StreamRecord: 8 fields of a tag and a varint. */
#define STREAM_RECORD_MAX 96

static uint64_t stream_min(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

uint64_t store_live_hash(const void *bytes, size_t len, uint64_t position)
{
    /* A CRC-32 of the event spread over 64 bits (splitmix64's finalizer),
     * so that a sum of many is not dominated by the CRC's linearity. */
    uint64_t x = (uint64_t)checksum_update(0, bytes, len) << 32 ^ position;
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

int store_stream_record(struct store *s, MDB_txn *txn, const char *stream, size_t len, Eventflow__StreamRecord *rec,
                        bool *found)
{
    eventflow__stream_record__init(rec);
    *found = false;
    MDB_val k = {.mv_size = len, .mv_data = (void *)stream}, v;
    int rc = mdb_get(txn, s->stream_meta, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return store_fail_mdb(s, rc, "reading stream_meta");
    if ((rc = store_stream_record_decode(s, &v, rec)) == 0)
        *found = true;
    return rc;
}

int store_stream_record_decode(struct store *s, const MDB_val *v, Eventflow__StreamRecord *rec)
{
    eventflow__stream_record__init(rec);
    Eventflow__StreamRecord *u = eventflow__stream_record__unpack(NULL, v->mv_size, v->mv_data);
    if (u == NULL)
        return store_fail(s, STORE_ECORRUPT, "stream_meta: undecodable record");
    /* Only scalars: a copy of the fields owns nothing. */
    rec->first_version = u->first_version;
    rec->reclaimed_below = u->reclaimed_below;
    rec->deleted = u->deleted;
    rec->tombstoned = u->tombstoned;
    rec->max_age_s = u->max_age_s;
    rec->max_count = u->max_count;
    rec->truncate_before = u->truncate_before;
    rec->deleted_at_ns = u->deleted_at_ns;
    eventflow__stream_record__free_unpacked(u, NULL);
    return 0;
}

static int stream_record_put(struct store *s, const char *stream, size_t len, const Eventflow__StreamRecord *rec)
{
    uint8_t packed[STREAM_RECORD_MAX];
    if (eventflow__stream_record__get_packed_size(rec) > sizeof packed)
        return store_fail(s, STORE_EIO, "stream_meta: record too large");
    MDB_val k = {.mv_size = len, .mv_data = (void *)stream};
    MDB_val v = {.mv_size = eventflow__stream_record__pack(rec, packed), .mv_data = packed};
    int rc = mdb_put(s->wtxn, s->stream_meta, &k, &v, 0);
    if (rc != 0)
        return store_fail_mdb(s, rc, "writing stream_meta");
    /* Deletions and retention settings are replicated state the event
     * checksum does not see (a hidden event is still in the chain). */
    store_digest_fold(s, STORE_DIGEST_STREAMS, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
    return 0;
}

/* Hide the stream's versions below `first` (a no-op if they are), and say
 * so in the outcome for the subscriptions. */
static void stream_hide(struct store *s, const char *stream, size_t len, Eventflow__StreamRecord *rec, uint64_t first)
{
    if (first <= rec->first_version)
        return;
    struct store_outcome *o = &s->outcome;
    s->pending.removed_count += first - rec->first_version;
    char *name = store_arena_alloc(&s->apply_arena, len + 1);
    memcpy(name, stream, len);
    name[len] = '\0';
    o->removed_stream = name;
    o->removed_from = rec->first_version;
    o->removed_to = first;
    rec->first_version = first;
}

/* The first version max_count leaves live in a stream of `length`. */
static uint64_t stream_count_floor(const Eventflow__StreamRecord *rec, uint64_t length)
{
    return rec->max_count != 0 && length > rec->max_count ? length - rec->max_count : 0;
}

int store_stream_before_add(struct store *s, const char *stream, size_t len, Eventflow__StreamRecord *rec,
                            bool *has_rec)
{
    return store_stream_record(s, s->wtxn, stream, len, rec, has_rec);
}

int store_stream_after_add(struct store *s, const char *stream, size_t len, Eventflow__StreamRecord *rec,
                           uint64_t new_length)
{
    /* A soft-deleted stream comes back with its next append; its
     * numbering went on (the append's version is its old length). */
    if (rec->deleted) {
        rec->deleted = false;
        s->pending.deleted_streams--;
    }
    uint64_t floor = stream_count_floor(rec, new_length);
    stream_hide(s, stream, len, rec, floor);
    return stream_record_put(s, stream, len, rec);
}

/* The stream's length as the apply sees it: its index, or its record's
 * first version when every row was reclaimed. */
static int stream_length(struct store *s, const char *stream, size_t len, const Eventflow__StreamRecord *rec,
                         uint64_t *length)
{
    int rc = store_index_length(s->index_cur, stream, len, length);
    if (rc != 0)
        return store_fail_mdb(s, rc, "reading stream_index");
    if (rec->first_version > *length)
        *length = rec->first_version;
    return 0;
}

static enum store_stream_result stream_delete(struct store *s, const Eventflow__StreamOp *op,
                                              Eventflow__StreamRecord *rec, uint64_t length)
{
    bool hard = op->delete_->hard;
    if (rec->tombstoned)
        return hard ? STORE_STREAM_OK : STORE_STREAM_ETOMBSTONED;
    if (rec->deleted && !hard)
        return STORE_STREAM_ENOSTREAM;
    if (!rec->deleted)
        s->pending.deleted_streams++;
    rec->deleted = !hard;
    rec->tombstoned = hard;
    rec->deleted_at_ns = op->now_ns;
    stream_hide(s, op->stream, strlen(op->stream), rec, length);
    return STORE_STREAM_OK;
}

static enum store_stream_result stream_set_meta(struct store *s, const Eventflow__StreamOp *op,
                                                Eventflow__StreamRecord *rec, uint64_t length)
{
    const Eventflow__StreamMetaUpdate *u = op->set_meta;
    if (rec->tombstoned)
        return STORE_STREAM_ETOMBSTONED;
    if (u->has_truncate_before && u->truncate_before > length)
        return STORE_STREAM_EBEYOND;
    if (u->has_max_age)
        rec->max_age_s = u->max_age_s;
    if (u->has_max_count)
        rec->max_count = u->max_count;
    if (u->has_truncate_before && u->truncate_before > rec->truncate_before)
        rec->truncate_before = u->truncate_before;
    uint64_t first = rec->truncate_before;
    uint64_t floor = stream_count_floor(rec, length);
    stream_hide(s, op->stream, strlen(op->stream), rec, first > floor ? first : floor);
    return STORE_STREAM_OK;
}

/* Remove the rows of hidden versions [reclaimed_below, first_version), at
 * most `max`, and take them out of the live checksum. */
static int stream_reclaim(struct store *s, const char *stream, size_t len, Eventflow__StreamRecord *rec,
                          uint32_t max)
{
    uint64_t from = rec->reclaimed_below;
    uint64_t end = stream_min(rec->first_version, from + max);
    uint8_t key[512];
    for (uint64_t v = from; v < end; v++) {
        MDB_val ik = {.mv_size = store_index_key(key, stream, len, v), .mv_data = key}, iv, ev;
        int rc = mdb_get(s->wtxn, s->stream_index, &ik, &iv);
        if (rc == MDB_NOTFOUND)
            return store_fail(s, STORE_ECORRUPT, "stream_index: %s version %llu missing before its reclaim",
                              stream, (unsigned long long)v);
        if (rc != 0)
            return store_fail_mdb(s, rc, "reading stream_index");
        uint8_t id[ULID_BYTES];
        if (iv.mv_size != ULID_BYTES)
            return store_fail(s, STORE_ECORRUPT, "stream_index: a bad id");
        memcpy(id, iv.mv_data, ULID_BYTES);
        MDB_val idk = {.mv_size = ULID_BYTES, .mv_data = id};
        if ((rc = mdb_get(s->wtxn, s->events, &idk, &ev)) != 0)
            return rc == MDB_NOTFOUND ? store_fail(s, STORE_ECORRUPT, "events: indexed event missing")
                                      : store_fail_mdb(s, rc, "reading events");
        Eventflow__StoredEvent se;
        if (store_event_view(s, &ev, &se) != 0)
            return store_fail(s, STORE_ECORRUPT, "events: undecodable record");
        s->pending.live_sum -= store_live_hash(ev.mv_data, ev.mv_size, se.position);
        store_arena_reset(&s->read_arena);
        if ((rc = mdb_del(s->wtxn, s->events, &idk, NULL)) != 0 ||
            (rc = mdb_del(s->wtxn, s->stream_index, &ik, NULL)) != 0)
            return store_fail_mdb(s, rc, "removing an event");
    }
    s->pending.reclaimed_count += end - from;
    rec->reclaimed_below = end;
    return 0;
}

static bool stream_op_well_formed(const struct store *s, const Eventflow__StreamOp *op)
{
    size_t len = op->stream != NULL ? strlen(op->stream) : 0;
    if (len == 0 || len > s->stream_max)
        return false;
    switch (op->op_case) {
    case EVENTFLOW__STREAM_OP__OP_DELETE: return op->delete_ != NULL;
    case EVENTFLOW__STREAM_OP__OP_SET_META: return op->set_meta != NULL;
    case EVENTFLOW__STREAM_OP__OP_EXPIRE: return op->expire != NULL;
    case EVENTFLOW__STREAM_OP__OP_RECLAIM: return op->reclaim != NULL && op->reclaim->max_events > 0;
    default: return false;
    }
}

int store_apply_stream(struct store *s, const Eventflow__StreamOp *op, enum store_status *status)
{
    struct store_outcome *o = &s->outcome;
    *status = STORE_STREAM_OP_APPLIED;
    if (!stream_op_well_formed(s, op)) {
        o->stream_result = STORE_STREAM_EINVALID;
        return 0;
    }
    size_t len = strlen(op->stream);
    MDB_val k = {.mv_size = len, .mv_data = op->stream}, v;
    int rc = mdb_get(s->wtxn, s->streams, &k, &v);
    if (rc == MDB_NOTFOUND) {
        o->stream_result = STORE_STREAM_ENOSTREAM;
        return 0;
    }
    if (rc != 0)
        return store_fail_mdb(s, rc, "reading streams");
    Eventflow__StreamRecord rec;
    bool found;
    uint64_t length;
    if ((rc = store_stream_record(s, s->wtxn, op->stream, len, &rec, &found)) != 0 ||
        (rc = stream_length(s, op->stream, len, &rec, &length)) != 0)
        return rc;
    enum store_stream_result r = STORE_STREAM_OK;
    switch (op->op_case) {
    case EVENTFLOW__STREAM_OP__OP_DELETE:
        r = stream_delete(s, op, &rec, length);
        break;
    case EVENTFLOW__STREAM_OP__OP_SET_META:
        r = stream_set_meta(s, op, &rec, length);
        break;
    case EVENTFLOW__STREAM_OP__OP_EXPIRE:
        /* Computed by the leader from the state it proposed on, which this
         * apply follows: never past the end, but a stream appended to since
         * keeps the later events. */
        stream_hide(s, op->stream, len, &rec, stream_min(op->expire->before_version, length));
        break;
    default:
        rc = stream_reclaim(s, op->stream, len, &rec, op->reclaim->max_events);
        break;
    }
    if (rc == 0 && r == STORE_STREAM_OK)
        rc = stream_record_put(s, op->stream, len, &rec);
    o->stream_result = r;
    return rc;
}

/* ---- reads --------------------------------------------------------------- */

int store_event_live(struct store *s, MDB_txn *txn, struct store_live_cache *c, const MDB_val *val, bool *live)
{
    Eventflow__StoredEvent ev;
    if (store_event_view(s, val, &ev) != 0)
        return store_fail(s, STORE_ECORRUPT, "events: undecodable record");
    size_t len = strlen(ev.stream);
    int rc = 0;
    if (len != c->len || memcmp(c->name, ev.stream, len) != 0) {
        Eventflow__StreamRecord rec;
        bool found;
        if (len >= sizeof c->name) {
            rc = store_fail(s, STORE_ECORRUPT, "events: a stream name too long");
        } else if ((rc = store_stream_record(s, txn, ev.stream, len, &rec, &found)) == 0) {
            memcpy(c->name, ev.stream, len);
            c->len = len;
            c->first = rec.first_version;
        }
    }
    *live = rc == 0 && ev.version >= c->first;
    store_arena_reset(&s->read_arena);
    return rc;
}

int store_event_id_live(struct store *s, MDB_txn *txn, const uint8_t id[ULID_BYTES], bool *live)
{
    *live = false;
    MDB_val k = {.mv_size = ULID_BYTES, .mv_data = (void *)id}, v;
    int rc = mdb_get(txn, s->events, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return store_fail_mdb(s, rc, "reading events");
    struct store_live_cache c = {.len = SIZE_MAX};
    return store_event_live(s, txn, &c, &v, live);
}

int store_stream_meta(struct store *s, const char *stream, size_t len, struct store_stream_meta *out)
{
    memset(out, 0, sizeof *out);
    if (len == 0 || len > s->stream_max || memchr(stream, '\0', len) != NULL)
        return STORE_ENOENT;
    MDB_txn *txn;
    int rc = store_read_txn_begin(s, &txn);
    if (rc != 0)
        return rc;
    MDB_cursor *cur = NULL;
    MDB_val k = {.mv_size = len, .mv_data = (void *)stream}, v;
    Eventflow__StreamRecord rec;
    bool found;
    int mrc = mdb_get(txn, s->streams, &k, &v);
    if (mrc == MDB_NOTFOUND) {
        rc = STORE_ENOENT;
        goto out;
    }
    if (mrc != 0) {
        rc = store_fail_mdb(s, mrc, "reading streams");
        goto out;
    }
    Eventflow__StreamInfo *info = eventflow__stream_info__unpack(&s->read_arena.pb, v.mv_size, v.mv_data);
    if (info == NULL) {
        rc = store_fail(s, STORE_ECORRUPT, "streams: undecodable record");
        goto out;
    }
    out->created_at_ns = info->created_at_ns;
    store_arena_reset(&s->read_arena);
    if ((rc = store_stream_record(s, txn, stream, len, &rec, &found)) != 0)
        goto out;
    if ((mrc = mdb_cursor_open(txn, s->stream_index, &cur)) != 0 ||
        (mrc = store_index_length(cur, stream, len, &out->length)) != 0) {
        rc = store_fail_mdb(s, mrc, "reading stream_index");
        goto out;
    }
    if (rec.first_version > out->length)
        out->length = rec.first_version;
    out->first_version = rec.first_version;
    out->reclaimed_below = rec.reclaimed_below;
    out->deleted = rec.deleted;
    out->tombstoned = rec.tombstoned;
    out->max_age_s = rec.max_age_s;
    out->max_count = rec.max_count;
    out->truncate_before = rec.truncate_before;
    out->deleted_at_ns = rec.deleted_at_ns;
out:
    if (cur != NULL)
        mdb_cursor_close(cur);
    store_read_txn_end(s, txn);
    return rc;
}

int store_stream_upgrade_sum(struct store *s, MDB_txn *txn, uint64_t *sum)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->events, &cur);
    if (rc != 0)
        return rc;
    MDB_val k, v;
    uint64_t total = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        Eventflow__StoredEvent se;
        if (store_event_view(s, &v, &se) != 0) {
            rc = MDB_CORRUPTED;
            break;
        }
        total += store_live_hash(v.mv_data, v.mv_size, se.position);
        store_arena_reset(&s->read_arena);
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return rc;
    *sum = total;
    return 0;
}
