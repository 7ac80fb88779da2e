/* store_snapshot.c - serializing the store for a Raft snapshot, and
 * replacing it with one.
 *
 * Format: the 8 bytes "EFSNAP01", then frames of [u32 little-endian length]
 * [packed SnapshotChunk]. The first chunk has format = 1 and holds the meta
 * table (so a restore learns the snapshot's applied index from one small
 * frame); the following chunks hold the records of events, stream_index,
 * streams, members, dedup and dedup_order, each table in key order, about chunk_bytes per
 * chunk. Every output buffer holds whole frames (one each), so Raft may
 * store and send the buffers separately and concatenate them back. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "store/store.h"
#include "store/store_internal.h"

static const uint8_t SNAP_MAGIC[8] = {'E', 'F', 'S', 'N', 'A', 'P', '0', '1'};
#define SNAP_FORMAT 1
#define SNAP_FRAME_HEADER 4
/* Approximate framing bytes per record (tags, lengths, the table enum). */
#define SNAP_RECORD_OVERHEAD 16

struct store_snapshot {
    struct store *store; /* borrowed; NULL once store_close detached it */
    MDB_txn *txn;        /* owned: pins the state being written */
    MDB_dbi events, stream_index, streams, meta, members, dedup, dedup_order;
    uint64_t index;
};

/* ---- begin and end (loop thread) ------------------------------------------- */

int store_snapshot_begin(struct store *s, struct store_snapshot **out)
{
    if (s == NULL || out == NULL)
        return STORE_EINVAL;
    *out = NULL;
    if (s->snapshot != NULL)
        return store_fail(s, STORE_EINVAL, "a snapshot is already in progress");
    int rc = store_flush(s);
    if (rc != 0)
        return rc;
    /* Raft may drop log entries once the snapshot is taken; the file
     * holding the state they produced must not depend on the page cache. */
    if ((rc = mdb_env_sync(s->env, 1)) != 0)
        return store_fail_mdb(s, rc, "syncing before a snapshot");

    struct store_snapshot *snap = xcalloc(1, sizeof *snap);
    if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &snap->txn)) != 0) {
        free(snap);
        return store_fail_mdb(s, rc, "beginning the snapshot transaction");
    }
    struct store_meta meta;
    if ((rc = store_meta_read(snap->txn, s->meta, &meta)) != 0) {
        mdb_txn_abort(snap->txn);
        free(snap);
        return store_fail(s, rc, "snapshot: reading meta");
    }
    snap->store = s;
    snap->events = s->events;
    snap->stream_index = s->stream_index;
    snap->streams = s->streams;
    snap->meta = s->meta;
    snap->members = s->members;
    snap->dedup = s->dedup;
    snap->dedup_order = s->dedup_order;
    snap->index = meta.applied_index;
    s->snapshot = snap;
    *out = snap;
    return 0;
}

uint64_t store_snapshot_index(const struct store_snapshot *snap)
{
    return snap->index;
}

void store_snapshot_detach(struct store_snapshot *snap)
{
    if (snap->txn != NULL)
        mdb_txn_abort(snap->txn);
    snap->txn = NULL;
    snap->store = NULL;
}

void store_snapshot_end(struct store_snapshot *snap)
{
    if (snap == NULL)
        return;
    if (snap->store != NULL)
        snap->store->snapshot = NULL;
    store_snapshot_detach(snap);
    free(snap);
}

/* ---- write (worker thread) ---------------------------------------------------- */

/* Accumulates records (pointing into the snapshot transaction's pages, so
 * nothing is copied until a chunk is packed) and the finished buffers. */
struct snap_writer {
    size_t chunk_bytes;
    struct store_chunk *chunks; /* owned, and each chunk's base */
    unsigned n_chunks, cap_chunks;
    Eventflow__SnapshotChunk__Record *recs; /* owned */
    Eventflow__SnapshotChunk__Record **ptrs; /* owned */
    size_t n_recs, cap_recs;
    size_t bytes; /* approximate packed size of recs */
};

static int snap_emit(struct snap_writer *w)
{
    bool first = w->n_chunks == 0;
    if (w->n_recs == 0 && !first)
        return 0;
    Eventflow__SnapshotChunk chunk = EVENTFLOW__SNAPSHOT_CHUNK__INIT;
    chunk.format = first ? SNAP_FORMAT : 0;
    for (size_t i = 0; i < w->n_recs; i++)
        w->ptrs[i] = &w->recs[i];
    chunk.n_records = w->n_recs;
    chunk.records = w->ptrs;
    size_t size = eventflow__snapshot_chunk__get_packed_size(&chunk);
    if (size > UINT32_MAX)
        return STORE_EINVAL; /* a single record over 4 GiB */
    size_t prefix = first ? sizeof SNAP_MAGIC : 0;
    uint8_t *buf = xmalloc(prefix + SNAP_FRAME_HEADER + size);
    memcpy(buf, SNAP_MAGIC, prefix);
    for (int i = 0; i < SNAP_FRAME_HEADER; i++)
        buf[prefix + (size_t)i] = (uint8_t)(size >> (8 * i));
    eventflow__snapshot_chunk__pack(&chunk, buf + prefix + SNAP_FRAME_HEADER);

    if (w->n_chunks == w->cap_chunks) {
        w->cap_chunks = w->cap_chunks ? w->cap_chunks * 2 : 8;
        w->chunks = xrealloc(w->chunks, w->cap_chunks * sizeof *w->chunks);
    }
    w->chunks[w->n_chunks++] = (struct store_chunk){.base = buf, .len = prefix + SNAP_FRAME_HEADER + size};
    w->n_recs = 0;
    w->bytes = 0;
    return 0;
}

static int snap_add(struct snap_writer *w, Eventflow__SnapshotChunk__Table table, const MDB_val *k,
                    const MDB_val *v)
{
    if (w->n_recs == w->cap_recs) {
        w->cap_recs = w->cap_recs ? w->cap_recs * 2 : 256;
        w->recs = xrealloc(w->recs, w->cap_recs * sizeof *w->recs);
        w->ptrs = xrealloc(w->ptrs, w->cap_recs * sizeof *w->ptrs);
    }
    Eventflow__SnapshotChunk__Record *r = &w->recs[w->n_recs++];
    eventflow__snapshot_chunk__record__init(r);
    r->table = table;
    r->key = (ProtobufCBinaryData){.len = k->mv_size, .data = k->mv_data};
    r->value = (ProtobufCBinaryData){.len = v->mv_size, .data = v->mv_data};
    w->bytes += k->mv_size + v->mv_size + SNAP_RECORD_OVERHEAD;
    return w->bytes >= w->chunk_bytes ? snap_emit(w) : 0;
}

static int snap_table(struct snap_writer *w, MDB_txn *txn, MDB_dbi dbi, Eventflow__SnapshotChunk__Table table)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0)
        return store_code_from_mdb(rc);
    MDB_val k, v;
    MDB_cursor_op op = MDB_FIRST;
    int err = 0;
    while (err == 0 && (rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
        op = MDB_NEXT;
        err = snap_add(w, table, &k, &v);
    }
    mdb_cursor_close(cur);
    if (err != 0)
        return err;
    return rc == MDB_NOTFOUND ? 0 : store_code_from_mdb(rc);
}

int store_snapshot_write(struct store_snapshot *snap, size_t chunk_bytes, struct store_chunk **bufs,
                         unsigned *n)
{
    if (snap == NULL || snap->txn == NULL || bufs == NULL || n == NULL)
        return STORE_EINVAL;
    struct snap_writer w = {.chunk_bytes = chunk_bytes};
    int rc;
    /* The meta table alone makes the first chunk. */
    if ((rc = snap_table(&w, snap->txn, snap->meta, EVENTFLOW__SNAPSHOT_CHUNK__TABLE__TABLE_META)) != 0 ||
        (rc = snap_emit(&w)) != 0 ||
        (rc = snap_table(&w, snap->txn, snap->events, EVENTFLOW__SNAPSHOT_CHUNK__TABLE__TABLE_EVENTS)) != 0 ||
        (rc = snap_table(&w, snap->txn, snap->stream_index,
                         EVENTFLOW__SNAPSHOT_CHUNK__TABLE__TABLE_STREAM_INDEX)) != 0 ||
        (rc = snap_table(&w, snap->txn, snap->streams, EVENTFLOW__SNAPSHOT_CHUNK__TABLE__TABLE_STREAMS)) != 0 ||
        (rc = snap_table(&w, snap->txn, snap->members, EVENTFLOW__SNAPSHOT_CHUNK__TABLE__TABLE_MEMBERS)) != 0 ||
        (rc = snap_table(&w, snap->txn, snap->dedup, EVENTFLOW__SNAPSHOT_CHUNK__TABLE__TABLE_DEDUP)) != 0 ||
        (rc = snap_table(&w, snap->txn, snap->dedup_order,
                         EVENTFLOW__SNAPSHOT_CHUNK__TABLE__TABLE_DEDUP_ORDER)) != 0 ||
        (rc = snap_emit(&w)) != 0) {
        for (unsigned i = 0; i < w.n_chunks; i++)
            free(w.chunks[i].base);
        free(w.chunks);
        w.chunks = NULL;
        w.n_chunks = 0;
    }
    free(w.recs);
    free(w.ptrs);
    *bufs = w.chunks;
    *n = w.n_chunks;
    return rc;
}

/* ---- restore (loop thread) ----------------------------------------------------- */

struct snap_reader {
    const uint8_t *p, *end;
};

/* Decode the next frame into *out (NULL at the end of the data). Only one
 * chunk is decoded at a time: the caller frees it before the next. */
static int snap_next(struct snap_reader *r, Eventflow__SnapshotChunk **out)
{
    *out = NULL;
    if (r->p == r->end)
        return 0;
    if (r->end - r->p < SNAP_FRAME_HEADER)
        return STORE_ECORRUPT;
    size_t len = 0;
    for (int i = 0; i < SNAP_FRAME_HEADER; i++)
        len |= (size_t)r->p[i] << (8 * i);
    r->p += SNAP_FRAME_HEADER;
    if (len > (size_t)(r->end - r->p))
        return STORE_ECORRUPT;
    *out = eventflow__snapshot_chunk__unpack(NULL, len, r->p);
    r->p += len;
    return *out != NULL ? 0 : STORE_ECORRUPT;
}

/* The applied index recorded in the first chunk's meta records. */
static int snap_applied_index(const Eventflow__SnapshotChunk *c, uint64_t *index)
{
    static const char key[] = "applied_index";
    for (size_t i = 0; i < c->n_records; i++) {
        const Eventflow__SnapshotChunk__Record *r = c->records[i];
        if (r->table == EVENTFLOW__SNAPSHOT_CHUNK__TABLE__TABLE_META && r->key.len == sizeof key - 1 &&
            memcmp(r->key.data, key, sizeof key - 1) == 0 && r->value.len == 8) {
            *index = store_get_be64(r->value.data);
            return 0;
        }
    }
    return STORE_ECORRUPT;
}

/* Records loaded per table, to check against the meta counters: a
 * snapshot cut at a frame boundary frames correctly but misses records. */
struct snap_counts {
    uint64_t events, stream_index, streams, dedup, dedup_order;
};

static int snap_load(struct store *s, MDB_txn *txn, const Eventflow__SnapshotChunk *c, struct snap_counts *n)
{
    for (size_t i = 0; i < c->n_records; i++) {
        const Eventflow__SnapshotChunk__Record *r = c->records[i];
        MDB_dbi dbi;
        switch (r->table) {
        case EVENTFLOW__SNAPSHOT_CHUNK__TABLE__TABLE_EVENTS: dbi = s->events; n->events++; break;
        case EVENTFLOW__SNAPSHOT_CHUNK__TABLE__TABLE_STREAMS: dbi = s->streams; n->streams++; break;
        case EVENTFLOW__SNAPSHOT_CHUNK__TABLE__TABLE_STREAM_INDEX:
            dbi = s->stream_index;
            n->stream_index++;
            break;
        case EVENTFLOW__SNAPSHOT_CHUNK__TABLE__TABLE_META: dbi = s->meta; break;
        case EVENTFLOW__SNAPSHOT_CHUNK__TABLE__TABLE_MEMBERS: dbi = s->members; break;
        case EVENTFLOW__SNAPSHOT_CHUNK__TABLE__TABLE_DEDUP: dbi = s->dedup; n->dedup++; break;
        case EVENTFLOW__SNAPSHOT_CHUNK__TABLE__TABLE_DEDUP_ORDER: dbi = s->dedup_order; n->dedup_order++; break;
        default:
            return store_fail(s, STORE_ECORRUPT, "snapshot: record of unknown table %d", (int)r->table);
        }
        MDB_val k = {.mv_size = r->key.len, .mv_data = r->key.data};
        MDB_val v = {.mv_size = r->value.len, .mv_data = r->value.data};
        /* Tables are written in key order, so every put is an append; a
         * record out of order (or repeated) is refused as corrupt. */
        int rc = mdb_put(txn, dbi, &k, &v, MDB_APPEND);
        if (rc == MDB_KEYEXIST || rc == MDB_BAD_VALSIZE)
            return store_fail(s, STORE_ECORRUPT, "snapshot: bad record for table %d: %s", (int)r->table,
                              mdb_strerror(rc));
        if (rc != 0)
            return store_fail_mdb(s, rc, "restoring a snapshot");
    }
    return 0;
}

/* Empty every table, then load every frame, all in txn. */
static int snap_replace(struct store *s, MDB_txn *txn, struct snap_reader *r, Eventflow__SnapshotChunk *first,
                        struct snap_counts *n)
{
    const MDB_dbi dbis[] = {s->events, s->stream_index, s->streams, s->meta, s->members, s->dedup, s->dedup_order};
    for (size_t i = 0; i < sizeof dbis / sizeof dbis[0]; i++) {
        int rc = mdb_drop(txn, dbis[i], 0);
        if (rc != 0)
            return store_fail_mdb(s, rc, "emptying a table for a snapshot");
    }
    int rc = snap_load(s, txn, first, n);
    Eventflow__SnapshotChunk *c;
    while (rc == 0) {
        if ((rc = snap_next(r, &c)) != 0)
            return store_fail(s, rc, "snapshot: bad frame");
        if (c == NULL)
            break;
        rc = snap_load(s, txn, c, n);
        eventflow__snapshot_chunk__free_unpacked(c, NULL);
    }
    return rc;
}

int store_restore(struct store *s, const void *data, size_t len, bool *skipped)
{
    if (s == NULL || (data == NULL && len != 0) || skipped == NULL)
        return STORE_EINVAL;
    *skipped = false;
    int rc = store_flush(s);
    if (rc != 0)
        return rc;
    if (len < sizeof SNAP_MAGIC || memcmp(data, SNAP_MAGIC, sizeof SNAP_MAGIC) != 0)
        return store_fail(s, STORE_ECORRUPT, "snapshot: bad magic");
    struct snap_reader r = {.p = (const uint8_t *)data + sizeof SNAP_MAGIC, .end = (const uint8_t *)data + len};
    Eventflow__SnapshotChunk *first;
    if ((rc = snap_next(&r, &first)) != 0 || first == NULL)
        return store_fail(s, STORE_ECORRUPT, "snapshot: bad or missing first frame");
    uint64_t index;
    if (first->format != SNAP_FORMAT || snap_applied_index(first, &index) != 0) {
        eventflow__snapshot_chunk__free_unpacked(first, NULL);
        return store_fail(s, STORE_ECORRUPT, "snapshot: unsupported format or no applied index");
    }
    /* At every boot raft hands back the last snapshot, usually older than
     * what LMDB already holds. */
    if (s->committed.applied_index >= index) {
        eventflow__snapshot_chunk__free_unpacked(first, NULL);
        *skipped = true;
        return 0;
    }

    MDB_txn *txn;
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0) {
        eventflow__snapshot_chunk__free_unpacked(first, NULL);
        return store_fail_mdb(s, rc, "beginning the restore transaction");
    }
    struct snap_counts counts = {0};
    rc = snap_replace(s, txn, &r, first, &counts);
    eventflow__snapshot_chunk__free_unpacked(first, NULL);
    struct store_meta meta;
    if (rc == 0 && (rc = store_meta_read(txn, s->meta, &meta)) != 0)
        rc = store_fail(s, STORE_ECORRUPT, "snapshot: bad meta records");
    if (rc == 0 && meta.applied_index != index)
        rc = store_fail(s, STORE_ECORRUPT, "snapshot: conflicting applied_index records");
    if (rc == 0 && (counts.events != meta.event_count || counts.stream_index != meta.event_count ||
                    counts.streams != meta.stream_count || counts.dedup != meta.dedup_count ||
                    counts.dedup_order != meta.dedup_count))
        rc = store_fail(s, STORE_ECORRUPT, "snapshot: records missing (%" PRIu64 " events, %" PRIu64
                        " streams; meta says %" PRIu64 " and %" PRIu64 ")",
                        counts.events, counts.streams, meta.event_count, meta.stream_count);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        return store_fail_mdb(s, rc, "committing the restored snapshot");
    s->committed = meta;
    s->pending = meta;
    return 0;
}
