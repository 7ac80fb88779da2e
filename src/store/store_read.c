/* store_read.c - GET, GETALL and LISTSTREAMS over applied data (the open
 * batch included: see store_read_txn_begin).
 *
 * Each read counts what it will return before visiting anything, because a
 * RESP array states its length first: the count comes from the meta table
 * or from a stream's last stream_index key (O(1) and O(log n)), never from
 * a walk. The visit then walks a cursor and decodes one record at a time
 * into the read arena, which is reset after each callback. */
#include <inttypes.h>
#include <string.h>

#include "store/store.h"
#include "store/store_internal.h"

static uint64_t store_min(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static int store_visit_begin(const struct store_visitor *v, uint64_t n)
{
    return v->begin != NULL ? v->begin(v->arg, n) : 0;
}

static int store_varint(const uint8_t **p, const uint8_t *end, uint64_t *out);

/* A NUL-terminated copy of a wire string, in the read arena. */
static char *store_arena_string(struct store *s, const uint8_t *p, size_t n)
{
    char *c = store_arena_alloc(&s->read_arena, n + 1);
    memcpy(c, p, n);
    c[n] = '\0';
    return c;
}

/* For a read, this decoder replaces protobuf-c's generic unpacker (the
 * largest cost of a GET): only the two strings are copied, to be
 * NUL-terminated. Unknown fields are skipped, as protobuf would. */
int store_event_view(struct store *s, const MDB_val *val, Eventflow__StoredEvent *ev)
{
    const uint8_t *p = val->mv_data, *end = p + val->mv_size;
    eventflow__stored_event__init(ev);
    while (p < end) {
        uint64_t tag, x;
        if (store_varint(&p, end, &tag) != 0)
            return -1;
        unsigned field = (unsigned)(tag >> 3);
        switch (tag & 7) {
        case 0:
            if (store_varint(&p, end, &x) != 0)
                return -1;
            switch (field) {
            case 3: ev->version = x; break;
            case 5: ev->data_kind = (Eventflow__PayloadKind)x; break;
            case 7: ev->metadata_kind = (Eventflow__PayloadKind)x; break;
            case 11: ev->added_at_ns = (int64_t)x; break;
            case 12: ev->position = x; break;
            default: break;
            }
            break;
        case 2: {
            if (store_varint(&p, end, &x) != 0 || x > (uint64_t)(end - p))
                return -1;
            ProtobufCBinaryData d = {.len = (size_t)x, .data = (uint8_t *)p};
            switch (field) {
            case 1: ev->id = d; break;
            case 2: ev->stream = store_arena_string(s, p, d.len); break;
            case 4: ev->type = store_arena_string(s, p, d.len); break;
            case 6: ev->data = d; break;
            case 8: ev->metadata = d; break;
            case 9: ev->causation_id = d; break;
            case 10: ev->correlation_id = d; break;
            case 13: ev->client_id = d; break;
            default: break;
            }
            p += x;
            break;
        }
        case 1:
            if (end - p < 8)
                return -1;
            p += 8;
            break;
        case 5:
            if (end - p < 4)
                return -1;
            p += 4;
            break;
        default:
            return -1;
        }
    }
    return ev->id.len == ULID_BYTES ? 0 : -1;
}

/* Decode events[id] (the value under the cursor or looked up) and hand it
 * to the visitor. */
static int store_visit_event(struct store *s, const struct store_visitor *v, const MDB_val *val)
{
    Eventflow__StoredEvent ev;
    if (store_event_view(s, val, &ev) != 0)
        return store_fail(s, STORE_ECORRUPT, "events: undecodable record");
    int rc = v->event != NULL ? v->event(v->arg, &ev) : 0;
    store_arena_reset(&s->read_arena);
    return rc;
}

/* ---- GET ----------------------------------------------------------------- */

/* Visit n events of a stream, from version `from` on. Versions are dense,
 * so the index entries are the n keys starting at (stream, from). */
static int store_visit_stream(struct store *s, MDB_txn *txn, MDB_cursor *cur, const char *stream, size_t len,
                              uint64_t from, uint64_t n, const struct store_visitor *v)
{
    MDB_cursor *evcur;
    int rc;
    /* Events are looked up through one cursor rather than mdb_get: a
     * stream's events are usually close together in the global order, and
     * LMDB skips the descent from the root when the key is on the page the
     * cursor already holds. */
    if ((rc = mdb_cursor_open(txn, s->events, &evcur)) != 0) {
        return store_fail_mdb(s, rc, "opening an events cursor");
    }
    uint8_t key[512];
    MDB_val k = {.mv_size = store_index_key(key, stream, len, from), .mv_data = key}, id;
    MDB_cursor_op op = MDB_SET_KEY;
    for (uint64_t i = 0; i < n; i++, op = MDB_NEXT) {
        rc = mdb_cursor_get(cur, &k, &id, op);
        if (rc == MDB_NOTFOUND || (rc == 0 && (k.mv_size != len + STORE_INDEX_KEY_EXTRA ||
                                                memcmp(k.mv_data, stream, len) != 0 ||
                                                be64_get((uint8_t *)k.mv_data + len + 1) != from + i))) {
            rc = store_fail(s, STORE_ECORRUPT, "stream_index: %.*s version %" PRIu64 " missing", (int)len,
                            stream, from + i);
            break;
        }
        if (rc != 0) {
            rc = store_fail_mdb(s, rc, "walking stream_index");
            break;
        }
        /* A stream written by one client at a time has its events next to
         * each other in the log: step to the next record and search only
         * when it is not the one wanted. */
        MDB_val next, ev;
        if (i == 0 || mdb_cursor_get(evcur, &next, &ev, MDB_NEXT) != 0 || next.mv_size != id.mv_size ||
            memcmp(next.mv_data, id.mv_data, id.mv_size) != 0)
            rc = mdb_cursor_get(evcur, &id, &ev, MDB_SET);
        if (rc != 0) {
            rc = rc == MDB_NOTFOUND ? store_fail(s, STORE_ECORRUPT, "events: indexed event missing")
                                    : store_fail_mdb(s, rc, "reading events");
            break;
        }
        if ((rc = store_visit_event(s, v, &ev)) != 0)
            break;
    }
    mdb_cursor_close(evcur);
    return rc;
}

int store_stream_length(struct store *s, const char *stream, size_t stream_len, uint64_t *length)
{
    if (s == NULL || length == NULL || (stream == NULL && stream_len != 0))
        return STORE_EINVAL;
    *length = 0;
    /* A name no stream can have is an empty stream. */
    if (stream_len == 0 || stream_len > s->stream_max || memchr(stream, '\0', stream_len) != NULL)
        return 0;
    MDB_txn *txn;
    int rc = store_read_txn_begin(s, &txn);
    if (rc != 0)
        return rc;
    MDB_cursor *cur = NULL;
    if ((rc = mdb_cursor_open(txn, s->stream_index, &cur)) != 0) {
        cur = NULL;
        rc = store_fail_mdb(s, rc, "opening a stream_index cursor");
    } else if ((rc = store_index_length(cur, stream, stream_len, length)) != 0) {
        rc = store_fail_mdb(s, rc, "reading stream_index");
    } else {
        Eventflow__StreamRecord rec;
        bool found;
        if ((rc = store_stream_record(s, txn, stream, stream_len, &rec, &found)) == 0 && rec.first_version > *length)
            *length = rec.first_version; /* every row reclaimed: the record keeps the count */
    }
    if (cur != NULL)
        mdb_cursor_close(cur);
    store_read_txn_end(s, txn);
    return rc;
}

int store_read_stream(struct store *s, const char *stream, size_t stream_len, uint64_t from_version,
                      uint64_t limit, const struct store_visitor *v)
{
    if (s == NULL || v == NULL || (stream == NULL && stream_len != 0))
        return STORE_EINVAL;
    MDB_txn *txn;
    int rc = store_read_txn_begin(s, &txn);
    if (rc != 0)
        return rc;
    MDB_cursor *cur = NULL;
    if ((rc = mdb_cursor_open(txn, s->stream_index, &cur)) != 0) {
        cur = NULL;
        rc = store_fail_mdb(s, rc, "opening a stream_index cursor");
        goto out;
    }
    /* A name no stream can have reads as an empty stream. */
    uint64_t length = 0;
    if (stream_len > 0 && stream_len <= s->stream_max && memchr(stream, '\0', stream_len) == NULL &&
        (rc = store_index_length(cur, stream, stream_len, &length)) != 0) {
        rc = store_fail_mdb(s, rc, "reading stream_index");
        goto out;
    }
    /* Removed events (store_stream.c) are the versions below the record's
     * first; a deleted stream has none live. */
    Eventflow__StreamRecord rec;
    bool found = false;
    if (length > 0 && (rc = store_stream_record(s, txn, stream, stream_len, &rec, &found)) != 0)
        goto out;
    if (found) {
        if (rec.deleted || rec.tombstoned)
            length = 0;
        else if (from_version < rec.first_version)
            from_version = rec.first_version;
    }
    uint64_t n = from_version < length ? store_min(limit, length - from_version) : 0;
    if ((rc = store_visit_begin(v, n)) != 0 || n == 0)
        goto out;
    rc = store_visit_stream(s, txn, cur, stream, stream_len, from_version, n, v);
out:
    if (cur != NULL)
        mdb_cursor_close(cur);
    store_read_txn_end(s, txn);
    return rc;
}

/* ---- GETALL -------------------------------------------------------------- */

static int store_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7F) << shift;
        if ((b & 0x80) == 0) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* The position field (12) of a packed StoredEvent, read off the wire
 * without decoding the event's payload. Returns 0, or -1 if malformed or
 * absent. */
static int store_event_position(const MDB_val *val, uint64_t *pos)
{
    const uint8_t *p = val->mv_data, *end = p + val->mv_size;
    while (p < end) {
        uint64_t tag, x;
        if (store_varint(&p, end, &tag) != 0)
            return -1;
        switch (tag & 7) {
        case 0: /* varint */
            if (store_varint(&p, end, &x) != 0)
                return -1;
            if (tag >> 3 == 12) {
                *pos = x;
                return 0;
            }
            break;
        case 1: /* 64-bit */
            if (end - p < 8)
                return -1;
            p += 8;
            break;
        case 2: /* length-delimited */
            if (store_varint(&p, end, &x) != 0 || x > (uint64_t)(end - p))
                return -1;
            p += x;
            break;
        case 5: /* 32-bit */
            if (end - p < 4)
                return -1;
            p += 4;
            break;
        default:
            return -1;
        }
    }
    return -1;
}

/* GETALL once events were removed: positions are no longer dense, so the
 * live events after the cursor's are counted in a first walk (up to
 * `limit`), then visited in a second. */
static int store_read_all_live(struct store *s, MDB_txn *txn, MDB_cursor *cur, MDB_val *k, MDB_val *val,
                               uint64_t limit, const struct store_visitor *v)
{
    struct store_live_cache cache = {.len = SIZE_MAX};
    uint8_t start[ULID_BYTES];
    if (k->mv_size != ULID_BYTES)
        return store_fail(s, STORE_ECORRUPT, "events: a bad key");
    memcpy(start, k->mv_data, ULID_BYTES);
    uint64_t n = 0;
    int rc = 0, mrc = 0;
    bool live;
    for (; n < limit && mrc == 0; mrc = mdb_cursor_get(cur, k, val, MDB_NEXT)) {
        if ((rc = store_event_live(s, txn, &cache, val, &live)) != 0)
            return rc;
        n += live;
    }
    if (mrc != 0 && mrc != MDB_NOTFOUND)
        return store_fail_mdb(s, mrc, "walking events");
    if ((rc = store_visit_begin(v, n)) != 0 || n == 0)
        return rc;
    *k = (MDB_val){.mv_size = ULID_BYTES, .mv_data = start};
    mrc = mdb_cursor_get(cur, k, val, MDB_SET_KEY);
    for (uint64_t i = 0; i < n; mrc = mdb_cursor_get(cur, k, val, MDB_NEXT)) {
        if (mrc != 0)
            return mrc == MDB_NOTFOUND ? store_fail(s, STORE_ECORRUPT, "events: fewer live events on a second walk")
                                       : store_fail_mdb(s, mrc, "walking events");
        if ((rc = store_event_live(s, txn, &cache, val, &live)) != 0)
            return rc;
        if (!live)
            continue;
        if ((rc = store_visit_event(s, v, val)) != 0)
            return rc;
        i++;
    }
    return 0;
}

int store_read_all(struct store *s, const uint8_t *after, uint64_t limit, const struct store_visitor *v)
{
    if (s == NULL || v == NULL)
        return STORE_EINVAL;
    MDB_txn *txn;
    int rc = store_read_txn_begin(s, &txn);
    if (rc != 0)
        return rc;
    MDB_cursor *cur = NULL;
    struct store_meta meta;
    if ((rc = store_meta_view(s, txn, &meta)) != 0) {
        rc = store_fail(s, rc, "reading meta");
        goto out;
    }
    if ((rc = mdb_cursor_open(txn, s->events, &cur)) != 0) {
        cur = NULL;
        rc = store_fail_mdb(s, rc, "opening an events cursor");
        goto out;
    }

    /* Find the first event to return and, from its position (events are
     * numbered densely in id order), how many follow it. */
    MDB_val k = {.mv_size = ULID_BYTES, .mv_data = (void *)after}, val;
    rc = mdb_cursor_get(cur, &k, &val, after != NULL ? MDB_SET_RANGE : MDB_FIRST);
    if (rc == 0 && after != NULL && k.mv_size == ULID_BYTES && memcmp(k.mv_data, after, ULID_BYTES) == 0)
        rc = mdb_cursor_get(cur, &k, &val, MDB_NEXT);
    uint64_t remaining = 0;
    if (meta.removed_count > 0) {
        if (rc == MDB_NOTFOUND)
            rc = store_visit_begin(v, 0);
        else if (rc != 0)
            rc = store_fail_mdb(s, rc, "walking events");
        else
            rc = store_read_all_live(s, txn, cur, &k, &val, limit, v);
        goto out;
    }
    if (rc == 0) {
        uint64_t pos;
        if (store_event_position(&val, &pos) != 0 || pos == 0 || pos > meta.event_count) {
            rc = store_fail(s, STORE_ECORRUPT, "events: bad position in a record");
            goto out;
        }
        remaining = meta.event_count - (pos - 1);
    } else if (rc != MDB_NOTFOUND) {
        rc = store_fail_mdb(s, rc, "walking events");
        goto out;
    }
    uint64_t n = store_min(limit, remaining);
    if ((rc = store_visit_begin(v, n)) != 0)
        goto out;
    for (uint64_t i = 0; i < n; i++) {
        if (i > 0 && (rc = mdb_cursor_get(cur, &k, &val, MDB_NEXT)) != 0) {
            rc = rc == MDB_NOTFOUND ? store_fail(s, STORE_ECORRUPT, "events: fewer records than event_count")
                                    : store_fail_mdb(s, rc, "walking events");
            goto out;
        }
        if ((rc = store_visit_event(s, v, &val)) != 0)
            goto out;
    }
    rc = 0;
out:
    if (cur != NULL)
        mdb_cursor_close(cur);
    store_read_txn_end(s, txn);
    return rc;
}

/* ---- LISTSTREAMS --------------------------------------------------------- */

/* Skipping walks the cursor: O(skip). Streams have no dense numbering that
 * would let a page start be found by key. */
int store_list_streams(struct store *s, uint64_t skip, uint64_t limit, const struct store_visitor *v)
{
    if (s == NULL || v == NULL)
        return STORE_EINVAL;
    MDB_txn *txn;
    int rc = store_read_txn_begin(s, &txn);
    if (rc != 0)
        return rc;
    MDB_cursor *cur = NULL, *icur = NULL;
    struct store_meta meta;
    if ((rc = store_meta_view(s, txn, &meta)) != 0) {
        rc = store_fail(s, rc, "reading meta");
        goto out;
    }
    /* Deleted streams keep their `streams` record (a soft-deleted one goes
     * on numbering, a tombstoned one keeps its name) but are not listed. */
    uint64_t live = meta.stream_count - meta.deleted_streams;
    uint64_t n = skip < live ? store_min(limit, live - skip) : 0;
    if ((rc = store_visit_begin(v, n)) != 0 || n == 0)
        goto out;
    if ((rc = mdb_cursor_open(txn, s->streams, &cur)) != 0) {
        cur = NULL;
        rc = store_fail_mdb(s, rc, "opening a streams cursor");
        goto out;
    }
    if ((rc = mdb_cursor_open(txn, s->stream_index, &icur)) != 0) {
        icur = NULL;
        rc = store_fail_mdb(s, rc, "opening a stream_index cursor");
        goto out;
    }
    MDB_val k, val;
    MDB_cursor_op op = MDB_FIRST;
    for (uint64_t i = 0; i < skip + n; op = MDB_NEXT) {
        if ((rc = mdb_cursor_get(cur, &k, &val, op)) != 0) {
            rc = rc == MDB_NOTFOUND ? store_fail(s, STORE_ECORRUPT, "streams: fewer records than stream_count")
                                    : store_fail_mdb(s, rc, "walking streams");
            goto out;
        }
        Eventflow__StreamRecord rec;
        bool found = false;
        if ((rc = store_stream_record(s, txn, k.mv_data, k.mv_size, &rec, &found)) != 0)
            goto out;
        if (found && (rec.deleted || rec.tombstoned))
            continue;
        if (i++ < skip)
            continue;
        Eventflow__StreamInfo *info = eventflow__stream_info__unpack(&s->read_arena.pb, val.mv_size, val.mv_data);
        if (info == NULL || k.mv_size == 0 || k.mv_size > s->stream_max) {
            rc = store_fail(s, STORE_ECORRUPT, "streams: undecodable record");
            goto out;
        }
        /* The record's own length field is a format-1 leftover (see
         * STORE_FORMAT): the index is what counts. */
        if ((rc = store_index_length(icur, k.mv_data, k.mv_size, &info->length)) != 0) {
            rc = store_fail_mdb(s, rc, "reading stream_index");
            goto out;
        }
        if (found && rec.first_version > info->length)
            info->length = rec.first_version;
        rc = v->stream != NULL ? v->stream(v->arg, k.mv_data, k.mv_size, info) : 0;
        store_arena_reset(&s->read_arena);
        if (rc != 0)
            goto out;
    }
out:
    if (icur != NULL)
        mdb_cursor_close(icur);
    if (cur != NULL)
        mdb_cursor_close(cur);
    store_read_txn_end(s, txn);
    return rc;
}

/* ---- events by id ---------------------------------------------------------- */

int store_read_ids(struct store *s, const uint8_t (*ids)[ULID_BYTES], size_t n, const struct store_visitor *v)
{
    if (s == NULL || v == NULL || (ids == NULL && n > 0))
        return STORE_EINVAL;
    MDB_txn *txn;
    int rc = store_read_txn_begin(s, &txn);
    if (rc != 0)
        return rc;
    /* One cursor for all: a group READ's ids are mostly neighbours, and
     * LMDB looks for a key on the cursor's current leaf before it
     * descends from the root again. */
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, s->events, &cur);
    if (mrc != 0) {
        store_read_txn_end(s, txn);
        return store_fail_mdb(s, mrc, "opening an events cursor");
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        MDB_val k = {.mv_size = ULID_BYTES, .mv_data = (void *)ids[i]}, val;
        mrc = mdb_cursor_get(cur, &k, &val, MDB_SET);
        if (mrc == MDB_NOTFOUND)
            continue;
        rc = mrc != 0 ? store_fail_mdb(s, mrc, "reading events") : store_visit_event(s, v, &val);
    }
    mdb_cursor_close(cur);
    store_read_txn_end(s, txn);
    return rc;
}
