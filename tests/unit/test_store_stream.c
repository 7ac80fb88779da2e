/* test_store_stream.c - stream deletion and retention in the state
 * machine (store_stream.c): truncate_before, max_count and a leader's
 * expiry hide events at once from GET, GETALL, LISTSTREAMS and the
 * counters; soft delete hides a stream until its next append, which
 * continues its numbering; hard delete refuses appends; reclaim entries
 * remove the rows in batches and keep the live checksum equal to a sum
 * over what is stored; bad operations change nothing; everything
 * survives a reopen and an upgrade from format 5. */
#include <lmdb.h>

#include "test_store_util.h"

/* Append n events to stream at its expected length. */
static void add(struct tfx *f, const char *stream, uint64_t expected, size_t n)
{
    tadd_range(f->s, f->index++, stream, expected, f->seq, n);
    f->seq += n;
}

static enum store_status apply_entry(struct tfx *f, const Eventflow__Entry *e, const struct store_outcome **o)
{
    size_t len;
    uint8_t *buf = tpack_entry(e, &len);
    return tapply(f->s, f->index++, buf, len, o);
}

static enum store_status apply_op(struct tfx *f, Eventflow__StreamOp *op, enum store_stream_result *result)
{
    Eventflow__Entry e = EVENTFLOW__ENTRY__INIT;
    e.command_case = EVENTFLOW__ENTRY__COMMAND_STREAM;
    e.stream = op;
    const struct store_outcome *o;
    enum store_status st = apply_entry(f, &e, &o);
    if (result != NULL)
        *result = o->stream_result;
    return st;
}

/* Apply a SET_META of update u to stream; the op must apply (its result,
 * OK or a refusal, is returned). */
static enum store_stream_result set_meta(struct tfx *f, const char *stream, Eventflow__StreamMetaUpdate *u)
{
    Eventflow__StreamOp op = EVENTFLOW__STREAM_OP__INIT;
    op.stream = (char *)stream;
    op.op_case = EVENTFLOW__STREAM_OP__OP_SET_META;
    op.set_meta = u;
    enum store_stream_result r;
    assert_int_equal(apply_op(f, &op, &r), STORE_STREAM_OP_APPLIED);
    return r;
}

static enum store_stream_result truncate_to(struct tfx *f, const char *stream, uint64_t before)
{
    Eventflow__StreamMetaUpdate u = EVENTFLOW__STREAM_META_UPDATE__INIT;
    u.has_truncate_before = true;
    u.truncate_before = before;
    return set_meta(f, stream, &u);
}

static enum store_stream_result set_max_count(struct tfx *f, const char *stream, uint64_t max)
{
    Eventflow__StreamMetaUpdate u = EVENTFLOW__STREAM_META_UPDATE__INIT;
    u.has_max_count = true;
    u.max_count = max;
    return set_meta(f, stream, &u);
}

static enum store_stream_result delete_stream(struct tfx *f, const char *stream, bool hard)
{
    Eventflow__StreamDelete d = EVENTFLOW__STREAM_DELETE__INIT;
    d.hard = hard;
    Eventflow__StreamOp op = EVENTFLOW__STREAM_OP__INIT;
    op.stream = (char *)stream;
    op.op_case = EVENTFLOW__STREAM_OP__OP_DELETE;
    op.delete_ = &d;
    enum store_stream_result r;
    assert_int_equal(apply_op(f, &op, &r), STORE_STREAM_OP_APPLIED);
    return r;
}

static void reclaim(struct tfx *f, const char *stream, uint32_t max)
{
    Eventflow__StreamReclaim rc = EVENTFLOW__STREAM_RECLAIM__INIT;
    rc.max_events = max;
    Eventflow__StreamOp op = EVENTFLOW__STREAM_OP__INIT;
    op.stream = (char *)stream;
    op.op_case = EVENTFLOW__STREAM_OP__OP_RECLAIM;
    op.reclaim = &rc;
    enum store_stream_result r;
    assert_int_equal(apply_op(f, &op, &r), STORE_STREAM_OP_APPLIED);
    assert_int_equal(r, STORE_STREAM_OK);
}

static struct store_stream_meta meta(struct tfx *f, const char *stream)
{
    struct store_stream_meta m;
    assert_int_equal(store_stream_meta(f->s, stream, strlen(stream), &m), 0);
    return m;
}

/* truncate_before hides the versions below it from every read and the
 * counters at once; the chained checksum stays as it was. */
static void test_truncate_hides(void **state)
{
    struct tfx *f = *state;
    add(f, "a", 0, 5);
    add(f, "b", 0, 2);
    uint32_t chain = tstats(f->s).checksum;
    uint64_t digest = tstats(f->s).state_digest;
    assert_int_equal(truncate_to(f, "a", 3), STORE_STREAM_OK);
    /* The chain covers what was appended; a removal is replicated state
     * the state digest covers. */
    assert_true(tstats(f->s).state_digest != digest);
    struct tcol *c = tcol_new();
    assert_int_equal(tread_stream(f->s, c, "a", 0, 100), 2);
    assert_int_equal(c->version[0], 3);
    assert_int_equal(tread_all(f->s, c, NULL, 100), 4);
    assert_string_equal(c->name[0], "a");
    assert_int_equal(c->version[0], 3);
    assert_int_equal(tread_all(f->s, c, NULL, 1), 1); /* the limit counts live events */
    struct store_stats st = tstats(f->s);
    assert_int_equal(st.live_events, 4);
    assert_int_equal(st.event_count, 7);
    assert_int_equal(st.reclaim_pending, 3);
    assert_int_equal(st.checksum, chain);
    struct store_stream_meta m = meta(f, "a");
    assert_int_equal(m.first_version, 3);
    assert_int_equal(m.length, 5);
    /* Bad ones change nothing. */
    assert_int_equal(truncate_to(f, "a", 6), STORE_STREAM_EBEYOND);
    assert_int_equal(truncate_to(f, "nope", 1), STORE_STREAM_ENOSTREAM);
    assert_int_equal(truncate_to(f, "a", 1), STORE_STREAM_OK); /* never backwards */
    assert_int_equal(meta(f, "a").first_version, 3);
    assert_int_equal(tstats(f->s).live_events, 4);
    free(c);
}

/* Reclaim removes rows in batches; the live checksum is a sum over what is
 * stored, so it does not depend on how the batches fell, and is 0 when
 * nothing is. */
static void test_reclaim_batches(void **state)
{
    struct tfx *f = *state;
    add(f, "a", 0, 6);
    struct store_stats before = tstats(f->s);
    assert_int_equal(truncate_to(f, "a", 4), STORE_STREAM_OK);
    assert_int_equal(tstats(f->s).live_checksum, before.live_checksum); /* rows still stored */
    reclaim(f, "a", 3);
    assert_int_equal(meta(f, "a").reclaimed_below, 3);
    reclaim(f, "a", 3);
    assert_int_equal(meta(f, "a").reclaimed_below, 4);
    struct store_stats st = tstats(f->s);
    assert_int_equal(st.reclaim_pending, 0);
    assert_int_not_equal(st.live_checksum, before.live_checksum);
    struct tcol *c = tcol_new();
    assert_int_equal(tread_stream(f->s, c, "a", 0, 100), 2);
    assert_int_equal(tread_all(f->s, c, NULL, 100), 2);
    assert_int_equal(c->version[0], 4);

    /* The same live set reached another way sums the same. */
    char dir2[64];
    tdir_make(dir2);
    struct store *s2 = tstore_open(dir2, TEST_MAP_SIZE);
    struct tfx g = {.s = s2, .index = 1, .seq = 1};
    add(&g, "a", 0, 6);
    assert_int_equal(truncate_to(&g, "a", 2), STORE_STREAM_OK);
    reclaim(&g, "a", 100);
    assert_int_equal(truncate_to(&g, "a", 4), STORE_STREAM_OK);
    reclaim(&g, "a", 100);
    assert_int_equal(tstats(s2).live_checksum, st.live_checksum);
    store_close(s2);
    tdir_remove(dir2);

    /* Everything removed: nothing stored, nothing summed; the stream's
     * numbering lives on in its record. */
    assert_int_equal(delete_stream(f, "a", false), STORE_STREAM_OK);
    reclaim(f, "a", 100);
    st = tstats(f->s);
    assert_int_equal(st.live_checksum, 0);
    assert_int_equal(st.live_events, 0);
    uint64_t length;
    assert_int_equal(store_stream_length(f->s, "a", 1, &length), 0);
    assert_int_equal(length, 6);
    add(f, "a", 6, 1);
    assert_int_equal(tread_stream(f->s, c, "a", 0, 100), 1);
    assert_int_equal(c->version[0], 6);
    free(c);
}

/* max_count: set, it hides at once; afterwards every ADD's apply keeps it. */
static void test_max_count(void **state)
{
    struct tfx *f = *state;
    add(f, "a", 0, 5);
    assert_int_equal(set_max_count(f, "a", 2), STORE_STREAM_OK);
    assert_int_equal(meta(f, "a").first_version, 3);
    add(f, "a", 5, 3);
    assert_int_equal(meta(f, "a").first_version, 6);
    struct tcol *c = tcol_new();
    assert_int_equal(tread_stream(f->s, c, "a", 0, 100), 2);
    assert_int_equal(c->version[0], 6);
    assert_int_equal(tstats(f->s).live_events, 2);
    /* Cleared: nothing more is hidden. */
    assert_int_equal(set_max_count(f, "a", 0), STORE_STREAM_OK);
    add(f, "a", 8, 2);
    assert_int_equal(tstats(f->s).live_events, 4);
    free(c);
}

/* Soft delete: absent from reads, LISTSTREAMS and STREAMCOUNT until the
 * next append, which continues the numbering. */
static void test_soft_delete(void **state)
{
    struct tfx *f = *state;
    add(f, "a", 0, 3);
    add(f, "b", 0, 1);
    assert_int_equal(delete_stream(f, "a", false), STORE_STREAM_OK);
    assert_int_equal(delete_stream(f, "a", false), STORE_STREAM_ENOSTREAM);
    struct tcol *c = tcol_new();
    assert_int_equal(tread_stream(f->s, c, "a", 0, 100), 0);
    assert_int_equal(tlist(f->s, c, 0, 100), 1);
    assert_string_equal(c->name[0], "b");
    assert_int_equal(tlist(f->s, c, 1, 100), 0);
    assert_int_equal(tstats(f->s).live_streams, 1);
    assert_int_equal(tstats(f->s).live_events, 1);
    /* Version 0 again is a conflict: the numbering goes on. */
    uint64_t seq = f->seq++;
    size_t len;
    uint8_t *buf = tadd("a", false, 0, &seq, 1, &len);
    assert_int_equal(tapply(f->s, f->index++, buf, len, NULL), STORE_VERSION_CONFLICT);
    add(f, "a", 3, 1);
    assert_int_equal(tread_stream(f->s, c, "a", 0, 100), 1);
    assert_int_equal(c->version[0], 3);
    assert_int_equal(tlist(f->s, c, 0, 100), 2);
    assert_int_equal(c->length[0], 4);
    assert_int_equal(tstats(f->s).live_streams, 2);
    assert_false(meta(f, "a").deleted);
    free(c);
}

/* Hard delete: appends refused, settings refused, the name kept. */
static void test_hard_delete(void **state)
{
    struct tfx *f = *state;
    add(f, "a", 0, 2);
    assert_int_equal(delete_stream(f, "a", true), STORE_STREAM_OK);
    assert_int_equal(delete_stream(f, "a", true), STORE_STREAM_OK); /* a retry */
    assert_int_equal(delete_stream(f, "a", false), STORE_STREAM_ETOMBSTONED);
    assert_int_equal(truncate_to(f, "a", 0), STORE_STREAM_ETOMBSTONED);
    uint64_t seq = f->seq++;
    size_t len;
    uint8_t *buf = tadd("a", true, 0, &seq, 1, &len);
    assert_int_equal(tapply(f->s, f->index++, buf, len, NULL), STORE_STREAM_DELETED);
    struct store_stats st = tstats(f->s);
    assert_int_equal(st.live_events, 0);
    assert_int_equal(st.live_streams, 0);
    assert_int_equal(st.event_count, 2);
    assert_true(meta(f, "a").tombstoned);
}

/* A retry whose events were reclaimed is answered REMOVED, writing
 * nothing. */
static void test_key_of_removed_event(void **state)
{
    struct tfx *f = *state;
    Eventflow__NewEvent ev = EVENTFLOW__NEW_EVENT__INIT, *evp = &ev;
    uint8_t id[ULID_BYTES];
    tid(f->seq++, id);
    ev.id = (ProtobufCBinaryData){.len = ULID_BYTES, .data = id};
    ev.type = "t";
    ev.client_id = (ProtobufCBinaryData){.len = 3, .data = (uint8_t *)"k-1"};
    Eventflow__AddCommand a = EVENTFLOW__ADD_COMMAND__INIT;
    a.stream = "a";
    a.any_version = true;
    a.n_events = 1;
    a.events = &evp;
    Eventflow__Entry e = EVENTFLOW__ENTRY__INIT;
    e.command_case = EVENTFLOW__ENTRY__COMMAND_ADD;
    e.add = &a;
    assert_int_equal(apply_entry(f, &e, NULL), STORE_APPLIED);
    assert_int_equal(apply_entry(f, &e, NULL), STORE_DUPLICATE);
    assert_int_equal(truncate_to(f, "a", 1), STORE_STREAM_OK);
    /* Hidden, not reclaimed yet: still answered with the original. */
    assert_int_equal(apply_entry(f, &e, NULL), STORE_DUPLICATE);
    reclaim(f, "a", 10);
    const struct store_outcome *o;
    assert_int_equal(apply_entry(f, &e, &o), STORE_DUPLICATE_REMOVED);
    assert_int_equal(o->reused_key_len, 3);
    assert_int_equal(tstats(f->s).event_count, 1);
}

/* The leader's work: reclaim first, then expiry by age (StoredEvents in
 * these tests were added at 1000 * seq ns). */
static void test_work(void **state)
{
    struct tfx *f = *state;
    add(f, "a", 0, 4); /* added at 1000 ns */
    add(f, "a", 4, 2); /* at 5000 ns */
    Eventflow__StreamOp op;
    Eventflow__StreamReclaim rc;
    Eventflow__StreamExpire ex;
    char name[64];
    bool found, more;
    assert_int_equal(store_stream_work(f->s, 0, 100, 100, "", name, sizeof name, &op, &rc, &ex, &found, &more), 0);
    assert_false(found); /* no record: nothing to do */
    Eventflow__StreamMetaUpdate u = EVENTFLOW__STREAM_META_UPDATE__INIT;
    u.has_max_age = true;
    u.max_age_s = 1;
    Eventflow__StreamOp set = EVENTFLOW__STREAM_OP__INIT;
    set.stream = "a";
    set.op_case = EVENTFLOW__STREAM_OP__OP_SET_META;
    set.set_meta = &u;
    assert_int_equal(apply_op(f, &set, NULL), STORE_STREAM_OP_APPLIED);
    /* At 1 s + 3000 ns, the first ADD's events are over a second old. */
    assert_int_equal(store_stream_work(f->s, 1000003000, 100, 100, "", name, sizeof name, &op, &rc, &ex, &found, &more), 0);
    assert_true(found);
    assert_int_equal(op.op_case, EVENTFLOW__STREAM_OP__OP_EXPIRE);
    assert_int_equal(ex.before_version, 4);
    assert_int_equal(apply_op(f, &op, NULL), STORE_STREAM_OP_APPLIED);
    assert_int_equal(tstats(f->s).live_events, 2);
    assert_int_equal(store_stream_work(f->s, 1000003000, 100, 100, "", name, sizeof name, &op, &rc, &ex, &found, &more), 0);
    assert_true(found);
    assert_int_equal(op.op_case, EVENTFLOW__STREAM_OP__OP_RECLAIM);
    assert_int_equal(apply_op(f, &op, NULL), STORE_STREAM_OP_APPLIED);
    assert_int_equal(store_stream_work(f->s, 1000003000, 100, 100, "", name, sizeof name, &op, &rc, &ex, &found, &more), 0);
    assert_false(found);
    assert_int_equal(tstats(f->s).reclaim_pending, 0);

    /* A longer stream whose events' names fill the read arena while its
     * record is looked at: the record must not live there. */
    const char *big = "a-stream-whose-name-is-long-enough-to-reuse-the-arena";
    for (int i = 0; i < 5; i++)
        add(f, big, (uint64_t)i * 10, 10);
    set.stream = (char *)big;
    assert_int_equal(apply_op(f, &set, NULL), STORE_STREAM_OP_APPLIED);
    assert_int_equal(store_stream_work(f->s, INT64_MAX, 30, 100, "a", name, sizeof name, &op, &rc, &ex, &found, &more), 0);
    assert_true(found);
    assert_string_equal(op.stream, big);
    assert_int_equal(op.op_case, EVENTFLOW__STREAM_OP__OP_EXPIRE);
    assert_int_equal(ex.before_version, 30); /* a batch's worth looked at */

    /* One record per walk: the first finds nothing in "a" (its rows are
     * all live and young at time 0) and says where to go on; the next
     * walk, from there, finds the long stream's work. */
    assert_int_equal(store_stream_work(f->s, 0, 30, 1, "", name, sizeof name, &op, &rc, &ex, &found, &more), 0);
    assert_false(found);
    assert_true(more);
    assert_string_equal(name, "a");
    char after[64];
    snprintf(after, sizeof after, "%s", name);
    assert_int_equal(store_stream_work(f->s, INT64_MAX, 30, 1, after, name, sizeof name, &op, &rc, &ex, &found, &more),
                     0);
    assert_true(found);
    assert_string_equal(op.stream, big);
}

/* Reopened, everything is as applied; a format-5 store (no stream_meta,
 * no live sum) is upgraded with its live checksum summed over its events. */
static void test_reopen_and_upgrade(void **state)
{
    struct tfx *f = *state;
    add(f, "a", 0, 3);
    add(f, "b", 0, 2);
    struct store_stats before = tstats(f->s);
    assert_int_equal(store_flush(f->s), 0);
    store_close(f->s);

    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, f->dir, 0, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    uint8_t five[4] = {0, 0, 0, 5};
    MDB_val fk = {.mv_size = 6, .mv_data = "format"}, fv = {.mv_size = 4, .mv_data = five};
    assert_int_equal(mdb_put(txn, dbi, &fk, &fv, 0), 0);
    MDB_val lk = {.mv_size = 8, .mv_data = "live_sum"};
    assert_int_equal(mdb_del(txn, dbi, &lk, NULL), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    f->s = tstore_open(f->dir, TEST_MAP_SIZE);
    assert_int_equal(tstats(f->s).live_checksum, before.live_checksum);
    assert_int_equal(truncate_to(f, "a", 2), STORE_STREAM_OK);
    assert_int_equal(delete_stream(f, "b", false), STORE_STREAM_OK);
    struct store_stats st = tstats(f->s);
    assert_int_equal(store_flush(f->s), 0);
    store_close(f->s);
    f->s = tstore_open(f->dir, TEST_MAP_SIZE);
    struct store_stats again = tstats(f->s);
    assert_int_equal(again.live_events, 1);
    assert_int_equal(again.live_streams, 1);
    assert_int_equal(again.live_checksum, st.live_checksum);
    assert_int_equal(meta(f, "a").first_version, 2);
    assert_true(meta(f, "b").deleted);
}

/* Reclaimed rows free their pages: the free list grows by about what they
 * took, and writes after the next durable point reuse it before the file
 * grows. */
static void test_space_freed(void **state)
{
    struct tfx *f = *state;
    for (int i = 0; i < 40; i++) {
        uint64_t seqs[50];
        for (size_t j = 0; j < 50; j++)
            seqs[j] = f->seq++;
        size_t len;
        uint8_t *buf = tadd_sized("a", true, 0, seqs, 50, 400, &len);
        assert_int_equal(tapply(f->s, f->index++, buf, len, NULL), STORE_APPLIED);
    }
    assert_int_equal(store_flush(f->s), 0);
    uint64_t free_before, free_after;
    assert_int_equal(store_free_bytes(f->s, &free_before), 0);
    assert_int_equal(truncate_to(f, "a", 2000), STORE_STREAM_OK);
    for (int i = 0; i < 4; i++)
        reclaim(f, "a", 500);
    assert_int_equal(store_flush(f->s), 0);
    assert_int_equal(store_free_bytes(f->s, &free_after), 0);
    /* 2,000 events of over 400 bytes: at least half that comes back. */
    assert_true(free_after >= free_before + 400000);
    struct store_stats reclaimed = tstats(f->s);
    assert_true(free_after <= reclaimed.db_bytes);
    /* A durable point pins the state it saves (store_durable.c), and with
     * it the pages that state still sees: once a later one supersedes the
     * point taken with the reclaim, writes go into the freed pages and the
     * file does not grow. */
    assert_int_equal(store_sync(f->s), 0);
    add(f, "c", 0, 1);
    assert_int_equal(store_sync(f->s), 0);
    reclaimed = tstats(f->s);
    add(f, "b", 0, 50);
    assert_int_equal(store_flush(f->s), 0);
    assert_true(tstats(f->s).db_bytes <= reclaimed.db_bytes);
}

/* Malformed operations apply as invalid, changing nothing. */
static void test_malformed(void **state)
{
    struct tfx *f = *state;
    add(f, "a", 0, 2);
    Eventflow__StreamOp op = EVENTFLOW__STREAM_OP__INIT;
    op.stream = "a";
    enum store_stream_result r;
    assert_int_equal(apply_op(f, &op, &r), STORE_STREAM_OP_APPLIED); /* no operation */
    assert_int_equal(r, STORE_STREAM_EINVALID);
    Eventflow__StreamReclaim rc = EVENTFLOW__STREAM_RECLAIM__INIT; /* max_events 0 */
    op.op_case = EVENTFLOW__STREAM_OP__OP_RECLAIM;
    op.reclaim = &rc;
    assert_int_equal(apply_op(f, &op, &r), STORE_STREAM_OP_APPLIED);
    assert_int_equal(r, STORE_STREAM_EINVALID);
    assert_int_equal(tstats(f->s).live_events, 2);
    struct store_stream_meta m;
    assert_int_equal(store_stream_meta(f->s, "zz", 2, &m), STORE_ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_truncate_hides, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_reclaim_batches, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_max_count, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_soft_delete, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_hard_delete, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_key_of_removed_event, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_work, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_reopen_and_upgrade, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_space_freed, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_malformed, tfx_setup, tfx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
