/* test_store_snapshot.c - snapshot serialization and restore: round trips,
 * skipping, corrupt input, and writing on another thread while the loop
 * thread keeps applying. */
#include "test_store_util.h"

#include <pthread.h>
#include <stdatomic.h>

struct fx {
    char dir_a[64], dir_b[64];
    struct store *a; /* the source */
    struct store *b; /* the restore target */
};

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    tdir_make(f->dir_a);
    tdir_make(f->dir_b);
    f->a = tstore_open(f->dir_a, TEST_MAP_SIZE);
    f->b = tstore_open(f->dir_b, TEST_MAP_SIZE);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->a);
    store_close(f->b);
    tdir_remove(f->dir_a);
    tdir_remove(f->dir_b);
    free(f);
    return 0;
}

static uint8_t *tmember(uint64_t id, const char *addr, uint64_t incarnation, size_t *len)
{
    Eventflow__MemberAddress m = EVENTFLOW__MEMBER_ADDRESS__INIT;
    m.id = id;
    m.client_address = (char *)addr;
    m.incarnation = incarnation;
    Eventflow__Entry e = EVENTFLOW__ENTRY__INIT;
    e.command_case = EVENTFLOW__ENTRY__COMMAND_MEMBER_ADDRESS;
    e.member_address = &m;
    return tpack_entry(&e, len);
}

/* Entries 1..n_entries: ADDs of 1-4 events over 37 streams (data of
 * varied size), plus two member addresses. Ids continue from *next_id. */
static void fill(struct store *s, uint64_t first_index, uint64_t n_entries, uint64_t *next_id)
{
    for (uint64_t idx = first_index; idx < first_index + n_entries; idx++) {
        size_t len;
        uint8_t *buf;
        if (idx % 97 == 0) {
            buf = tmember(idx % 2 + 1, idx % 2 ? "10.0.0.1:6543" : "10.0.0.2:6543", idx, &len);
            assert_int_equal(tapply(s, idx, buf, len, NULL), STORE_MEMBER_UPDATED);
            continue;
        }
        uint64_t seqs[4];
        size_t n = 1 + idx % 4;
        for (size_t i = 0; i < n; i++)
            seqs[i] = (*next_id)++;
        char stream[32];
        snprintf(stream, sizeof stream, "stream-%02llu", (unsigned long long)(idx % 37));
        buf = tadd_sized(stream, true, 0, seqs, n, (idx * 131) % 700, &len);
        assert_int_equal(tapply(s, idx, buf, len, NULL), STORE_APPLIED);
    }
    assert_int_equal(store_flush(s), 0);
}

struct snapshot_data {
    uint8_t *data;
    size_t len;
    unsigned n_chunks;
};

/* Check that every buffer holds whole frames (one frame each, the magic
 * before the first), then concatenate them as raft hands them back. */
static struct snapshot_data join_chunks(struct store_chunk *chunks, unsigned n, size_t chunk_bytes)
{
    struct snapshot_data d = {.n_chunks = n};
    assert_true(n >= 1);
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *p = chunks[i].base;
        size_t len = chunks[i].len;
        if (i == 0) {
            assert_true(len >= 8);
            assert_memory_equal(p, "EFSNAP01", 8);
            p += 8;
            len -= 8;
        }
        assert_true(len >= 4);
        size_t frame = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
        assert_int_equal(frame, len - 4);
        /* About chunk_bytes: one record may overshoot. */
        assert_true(frame <= chunk_bytes + 2048);
        d.len += chunks[i].len;
    }
    d.data = malloc(d.len);
    assert_non_null(d.data);
    size_t off = 0;
    for (unsigned i = 0; i < n; i++) {
        memcpy(d.data + off, chunks[i].base, chunks[i].len);
        off += chunks[i].len;
        free(chunks[i].base);
    }
    free(chunks);
    return d;
}

static struct snapshot_data take_snapshot(struct store *s, size_t chunk_bytes, uint64_t *index)
{
    struct store_snapshot *snap;
    assert_int_equal(store_snapshot_begin(s, &snap), 0);
    if (index != NULL)
        *index = store_snapshot_index(snap);
    struct store_chunk *chunks = NULL;
    unsigned n = 0;
    assert_int_equal(store_snapshot_write(snap, chunk_bytes, &chunks, &n), 0);
    store_snapshot_end(snap);
    return join_chunks(chunks, n, chunk_bytes);
}

/* Same stats, same global log, same streams, same members. */
static void assert_same_state(struct store *x, struct store *y)
{
    struct store_stats sx = tstats(x), sy = tstats(y);
    assert_int_equal(sx.applied_index, sy.applied_index);
    assert_int_equal(sx.event_count, sy.event_count);
    assert_int_equal(sx.stream_count, sy.stream_count);
    assert_int_equal(sx.checksum, sy.checksum);
    assert_memory_equal(sx.last_id, sy.last_id, ULID_BYTES);

    struct tcol *cx = tcol_new(), *cy = tcol_new();
    assert_int_equal(tread_all(x, cx, NULL, UINT64_MAX), sx.event_count);
    assert_int_equal(tread_all(y, cy, NULL, UINT64_MAX), sy.event_count);
    for (size_t i = 0; i < cx->n; i++) {
        assert_memory_equal(cx->id[i], cy->id[i], ULID_BYTES);
        assert_int_equal(cx->position[i], cy->position[i]);
        assert_int_equal(cx->version[i], cy->version[i]);
        assert_string_equal(cx->name[i], cy->name[i]);
    }
    assert_int_equal(tlist(x, cx, 0, UINT64_MAX), sx.stream_count);
    assert_int_equal(tlist(y, cy, 0, UINT64_MAX), sy.stream_count);
    for (size_t i = 0; i < cx->n; i++) {
        assert_string_equal(cx->name[i], cy->name[i]);
        assert_int_equal(cx->length[i], cy->length[i]);
        assert_int_equal(cx->created[i], cy->created[i]);
    }
    for (size_t i = 0; i < cx->n && i < 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s", cx->name[i]);
        size_t nx = tread_stream(x, cx, name, 1, UINT64_MAX);
        assert_int_equal(tread_stream(y, cy, name, 1, UINT64_MAX), nx);
        for (size_t j = 0; j < nx; j++)
            assert_memory_equal(cx->id[j], cy->id[j], ULID_BYTES);
        tlist(x, cx, 0, UINT64_MAX); /* restore the names for the next round */
    }
    for (uint64_t id = 1; id <= 3; id++) {
        char ax[64] = "", ay[64] = "";
        uint64_t ix = 0, iy = 0;
        int rx = store_member_get(x, id, ax, sizeof ax, &ix);
        assert_int_equal(store_member_get(y, id, ay, sizeof ay, &iy), rx);
        assert_string_equal(ax, ay);
        assert_int_equal(ix, iy);
    }
    free(cx);
    free(cy);
}

static void test_roundtrip(void **state)
{
    struct fx *f = *state;
    uint64_t next_id = 1;
    fill(f->a, 1, 1000, &next_id);
    uint64_t index;
    struct snapshot_data d = take_snapshot(f->a, 4096, &index);
    assert_int_equal(index, 1000);
    assert_true(d.n_chunks > 10); /* really split */

    bool skipped = true;
    assert_int_equal(store_restore(f->b, d.data, d.len, &skipped), 0);
    assert_false(skipped);
    assert_same_state(f->a, f->b);
    assert_true(tstats(f->b).event_count > 2000);

    /* The restored replica goes on in step with the original. */
    uint64_t next_b = next_id;
    fill(f->a, 1001, 50, &next_id);
    fill(f->b, 1001, 50, &next_b);
    assert_same_state(f->a, f->b);

    /* And survives a reopen. */
    store_close(f->b);
    f->b = tstore_open(f->dir_b, TEST_MAP_SIZE);
    assert_same_state(f->a, f->b);
    free(d.data);

    /* One huge chunk works as well as many small ones. */
    d = take_snapshot(f->a, (size_t)64 << 20, NULL);
    assert_int_equal(d.n_chunks, 2); /* meta, then everything else */
    free(d.data);
}

/* Restoring over a store that already has (older) state replaces it all:
 * streams and members the snapshot does not have disappear. */
static void test_restore_replaces(void **state)
{
    struct fx *f = *state;
    uint64_t next_id = 1;
    fill(f->a, 1, 300, &next_id);
    uint64_t other = 1000000;
    tadd_range(f->b, 1, "only-in-b", 0, other, 3);
    size_t len;
    uint8_t *buf = tmember(3, "b-only:1", 5, &len);
    assert_int_equal(tapply(f->b, 2, buf, len, NULL), STORE_MEMBER_UPDATED);
    assert_int_equal(store_flush(f->b), 0);

    struct snapshot_data d = take_snapshot(f->a, 1000, NULL);
    bool skipped;
    assert_int_equal(store_restore(f->b, d.data, d.len, &skipped), 0);
    assert_false(skipped);
    free(d.data);
    assert_same_state(f->a, f->b);
    struct tcol *c = tcol_new();
    assert_int_equal(tread_stream(f->b, c, "only-in-b", 0, 10), 0);
    free(c);
    char addr[32];
    assert_int_not_equal(store_member_get(f->b, 3, addr, sizeof addr, NULL), 0);
}

static void test_restore_skipped(void **state)
{
    struct fx *f = *state;
    uint64_t next_id = 1;
    fill(f->a, 1, 100, &next_id);
    struct snapshot_data d = take_snapshot(f->a, 2048, NULL);

    /* b is further along (a pending batch counts: restore flushes first). */
    uint64_t next_b = 1;
    fill(f->b, 1, 100, &next_b);
    tadd_range(f->b, 101, "mine", 0, next_b, 1);
    struct store_stats before = tstats(f->b);
    bool skipped = false;
    assert_int_equal(store_restore(f->b, d.data, d.len, &skipped), 0);
    assert_true(skipped);
    struct store_stats after = tstats(f->b);
    assert_int_equal(after.applied_index, 101);
    assert_int_equal(before.applied_index, 101); /* stats include the open batch */
    assert_int_equal(after.event_count, before.event_count);

    /* Equal index: skipped too; the second restore of the same snapshot is
     * a no-op. */
    char dir[64];
    tdir_make(dir);
    struct store *c = tstore_open(dir, TEST_MAP_SIZE);
    assert_int_equal(store_restore(c, d.data, d.len, &skipped), 0);
    assert_false(skipped);
    assert_int_equal(store_restore(c, d.data, d.len, &skipped), 0);
    assert_true(skipped);
    assert_same_state(f->a, c);
    store_close(c);
    tdir_remove(dir);
    free(d.data);
}

/* A hand-made snapshot: magic, a first chunk with the given records. */
static uint8_t *handmade(Eventflow__SnapshotChunk__Record **recs, size_t n, uint32_t format, size_t *len)
{
    Eventflow__SnapshotChunk c = EVENTFLOW__SNAPSHOT_CHUNK__INIT;
    c.format = format;
    c.n_records = n;
    c.records = recs;
    size_t size = eventflow__snapshot_chunk__get_packed_size(&c);
    *len = 8 + 4 + size;
    uint8_t *buf = malloc(*len);
    assert_non_null(buf);
    memcpy(buf, "EFSNAP01", 8);
    for (int i = 0; i < 4; i++)
        buf[8 + i] = (uint8_t)(size >> (8 * i));
    eventflow__snapshot_chunk__pack(&c, buf + 12);
    return buf;
}

static void expect_corrupt(struct fx *f, const uint8_t *data, size_t len, const struct store_stats *before)
{
    bool skipped = true;
    assert_int_equal(store_restore(f->b, data, len, &skipped), STORE_ECORRUPT);
    assert_false(skipped);
    assert_true(strlen(store_errmsg(f->b)) > 0);
    /* The old state is intact. */
    struct store_stats st = tstats(f->b);
    assert_int_equal(st.applied_index, before->applied_index);
    assert_int_equal(st.event_count, before->event_count);
    assert_int_equal(st.checksum, before->checksum);
    struct tcol *c = tcol_new();
    assert_int_equal(tread_stream(f->b, c, "b-stream", 0, 100), 4);
    assert_int_equal(tread_all(f->b, c, NULL, 100), 4);
    assert_int_equal(tlist(f->b, c, 0, 100), 1);
    free(c);
}

static void test_restore_corrupt(void **state)
{
    struct fx *f = *state;
    uint64_t next_id = 1;
    fill(f->a, 1, 200, &next_id);
    tadd_range(f->b, 1, "b-stream", 0, 1, 4);
    assert_int_equal(store_flush(f->b), 0);
    struct store_stats before = tstats(f->b);
    struct snapshot_data d = take_snapshot(f->a, 2048, NULL);
    uint8_t *bad = malloc(d.len);
    assert_non_null(bad);

    /* Bad magic. */
    memcpy(bad, d.data, d.len);
    bad[3] = 'X';
    expect_corrupt(f, bad, d.len, &before);
    expect_corrupt(f, d.data, 5, &before);
    expect_corrupt(f, d.data, 8, &before); /* magic and nothing else */

    /* Truncated inside a frame, and a length running past the end. */
    expect_corrupt(f, d.data, d.len - 3, &before);
    memcpy(bad, d.data, d.len);
    bad[8 + 3] = 0x7F;
    expect_corrupt(f, bad, d.len, &before);

    /* Cut at a frame boundary: well framed, but records are missing. */
    size_t first_frame = 8 + 4 + ((size_t)d.data[8] | (size_t)d.data[9] << 8);
    const uint8_t *p = d.data + first_frame;
    size_t second = 4 + ((size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16);
    expect_corrupt(f, d.data, first_frame + second, &before);

    /* A frame that is not a SnapshotChunk. */
    memcpy(bad, d.data, d.len);
    memset(bad + first_frame + 4, 0xFF, 16);
    expect_corrupt(f, bad, d.len, &before);
    free(bad);

    /* Hand-made: unknown table, out-of-order keys, wrong format, no index. */
    uint8_t applied[8] = {0, 0, 0, 0, 0, 0, 0x10, 0};
    Eventflow__SnapshotChunk__Record meta = EVENTFLOW__SNAPSHOT_CHUNK__RECORD__INIT;
    meta.table = EVENTFLOW__SNAPSHOT_CHUNK__TABLE__TABLE_META;
    meta.key = (ProtobufCBinaryData){.len = 13, .data = (uint8_t *)"applied_index"};
    meta.value = (ProtobufCBinaryData){.len = 8, .data = applied};
    Eventflow__SnapshotChunk__Record r1 = EVENTFLOW__SNAPSHOT_CHUNK__RECORD__INIT, r2 = r1;
    r1.table = EVENTFLOW__SNAPSHOT_CHUNK__TABLE__TABLE_DEDUP;
    r1.key = (ProtobufCBinaryData){.len = 1, .data = (uint8_t *)"k"};
    Eventflow__SnapshotChunk__Record *unknown[] = {&meta, &r1};
    size_t len;
    uint8_t *h = handmade(unknown, 2, 1, &len);
    expect_corrupt(f, h, len, &before);
    free(h);

    r1.table = r2.table = EVENTFLOW__SNAPSHOT_CHUNK__TABLE__TABLE_MEMBERS;
    r1.key = (ProtobufCBinaryData){.len = 1, .data = (uint8_t *)"b"};
    r2.key = (ProtobufCBinaryData){.len = 1, .data = (uint8_t *)"a"};
    Eventflow__SnapshotChunk__Record *unordered[] = {&meta, &r1, &r2};
    h = handmade(unordered, 3, 1, &len);
    expect_corrupt(f, h, len, &before);
    free(h);

    Eventflow__SnapshotChunk__Record *just_meta[] = {&meta};
    h = handmade(just_meta, 1, 2, &len); /* unknown format */
    expect_corrupt(f, h, len, &before);
    free(h);
    h = handmade(&unordered[1], 1, 1, &len); /* no applied_index */
    expect_corrupt(f, h, len, &before);
    free(h);

    /* The intact snapshot still restores after all that. */
    bool skipped;
    assert_int_equal(store_restore(f->b, d.data, d.len, &skipped), 0);
    assert_false(skipped);
    assert_same_state(f->a, f->b);
    free(d.data);
}

/* ---- writing on a worker thread ------------------------------------------ */

struct writer {
    struct store_snapshot *snap;
    struct store_chunk *chunks;
    unsigned n;
    int rc;
    atomic_bool done;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    w->rc = store_snapshot_write(w->snap, 1024, &w->chunks, &w->n);
    atomic_store(&w->done, true);
    return NULL;
}

static void test_write_concurrently(void **state)
{
    struct fx *f = *state;
    uint64_t next_id = 1;
    fill(f->a, 1, 500, &next_id);

    /* c follows a up to the snapshot point, to compare against. */
    char dir_c[64];
    tdir_make(dir_c);
    struct store *c = tstore_open(dir_c, TEST_MAP_SIZE);
    uint64_t next_c = 1;
    fill(c, 1, 500, &next_c);

    struct writer w = {.rc = -100};
    atomic_init(&w.done, false);
    assert_int_equal(store_snapshot_begin(f->a, &w.snap), 0);
    assert_int_equal(store_snapshot_index(w.snap), 500);
    struct store_snapshot *second;
    assert_int_equal(store_snapshot_begin(f->a, &second), STORE_EINVAL); /* one at a time */

    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer_main, &w), 0);
    /* The loop thread goes on applying, committing and reading meanwhile:
     * at least 100 entries, and more while the writer is still busy. */
    uint64_t idx = 501;
    while (idx < 601 || (!atomic_load(&w.done) && idx < 5000)) {
        fill(f->a, idx, 10, &next_id);
        struct tcol *col = tcol_new();
        tlist(f->a, col, 0, 5);
        free(col);
        idx += 10;
    }
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(w.rc, 0);
    store_snapshot_end(w.snap);
    struct snapshot_data d = join_chunks(w.chunks, w.n, 1024);

    /* The snapshot holds the state at begin, not what came after. */
    bool skipped;
    assert_int_equal(store_restore(f->b, d.data, d.len, &skipped), 0);
    assert_false(skipped);
    assert_same_state(c, f->b);
    assert_true(tstats(f->a).applied_index >= 600);
    free(d.data);

    /* A new snapshot may begin once the last one ended. */
    struct store_snapshot *snap;
    assert_int_equal(store_snapshot_begin(f->a, &snap), 0);
    assert_int_equal(store_snapshot_index(snap), idx - 1);
    store_snapshot_end(snap);
    store_close(c);
    tdir_remove(dir_c);
}

/* store_close with a snapshot still open releases its transaction; the
 * snapshot struct is still freed by store_snapshot_end. */
static void test_close_during_snapshot(void **state)
{
    struct fx *f = *state;
    uint64_t next_id = 1;
    fill(f->a, 1, 10, &next_id);
    struct store_snapshot *snap;
    assert_int_equal(store_snapshot_begin(f->a, &snap), 0);
    store_close(f->a);
    struct store_chunk *chunks;
    unsigned n;
    assert_int_equal(store_snapshot_write(snap, 1024, &chunks, &n), STORE_EINVAL);
    store_snapshot_end(snap);
    f->a = tstore_open(f->dir_a, TEST_MAP_SIZE);
    assert_int_equal(tstats(f->a).applied_index, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_restore_replaces, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_restore_skipped, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_restore_corrupt, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_write_concurrently, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_close_during_snapshot, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
