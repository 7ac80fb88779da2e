/* test_store.c - the LMDB state machine: apply, batching, reads, members,
 * space, and the boot-id marker. Every test gets its own directory. */
#include "test_store_util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "store/checksum.h"

struct fx {
    char dir[64];
    struct store *s;
};

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    tdir_make(f->dir);
    f->s = tstore_open(f->dir, TEST_MAP_SIZE);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->s);
    tdir_remove(f->dir);
    free(f);
    return 0;
}

static void fx_reopen(struct fx *f)
{
    store_close(f->s);
    f->s = tstore_open(f->dir, TEST_MAP_SIZE);
}

/* ---- apply ---------------------------------------------------------------- */

static void test_add_new_stream(void **state)
{
    struct fx *f = *state;
    uint64_t seqs[] = {10, 11, 12};
    size_t len;
    uint8_t *buf = tadd("orders", false, 0, seqs, 3, &len);
    const struct store_outcome *o;
    assert_int_equal(tapply(f->s, 1, buf, len, &o), STORE_APPLIED);
    assert_int_equal(o->stream_length, 0);
    assert_int_equal(o->first_position, 1);
    assert_int_equal(o->n_events, 3);
    for (size_t i = 0; i < 3; i++) {
        const Eventflow__StoredEvent *ev = o->events[i];
        uint8_t id[ULID_BYTES];
        tid(seqs[i], id);
        char type[32], data[32];
        snprintf(type, sizeof type, "type-%llu", (unsigned long long)seqs[i]);
        snprintf(data, sizeof data, "payload-%llu", (unsigned long long)seqs[i]);
        assert_memory_equal(ev->id.data, id, ULID_BYTES);
        assert_string_equal(ev->stream, "orders");
        assert_int_equal(ev->version, i);
        assert_int_equal(ev->position, i + 1);
        assert_string_equal(ev->type, type);
        assert_int_equal(ev->data_kind, EVENTFLOW__PAYLOAD_KIND__PAYLOAD_STRING);
        assert_int_equal(ev->data.len, strlen(data));
        assert_memory_equal(ev->data.data, data, strlen(data));
        assert_int_equal(ev->metadata_kind, EVENTFLOW__PAYLOAD_KIND__PAYLOAD_NULL);
        assert_int_equal(ev->metadata.len, 0);
        /* Defaults: causation = own id, correlation = causation. */
        assert_int_equal(ev->causation_id.len, ULID_BYTES);
        assert_memory_equal(ev->causation_id.data, id, ULID_BYTES);
        assert_int_equal(ev->correlation_id.len, ULID_BYTES);
        assert_memory_equal(ev->correlation_id.data, id, ULID_BYTES);
        assert_int_equal(ev->added_at_ns, 10000);
    }

    /* Visible at once (reads go through the open batch), and after the
     * commit the same. */
    assert_int_equal(tstats(f->s).event_count, 3);
    assert_int_equal(store_flush(f->s), 0);
    struct store_stats st = tstats(f->s);
    assert_int_equal(st.applied_index, 1);
    assert_int_equal(st.event_count, 3);
    assert_int_equal(st.stream_count, 1);
    uint8_t last[ULID_BYTES];
    tid(12, last);
    assert_memory_equal(st.last_id, last, ULID_BYTES);
    assert_int_not_equal(st.checksum, 0);
    assert_true(st.db_bytes > 0 && st.db_bytes < st.map_size);
    assert_int_equal(st.map_size, TEST_MAP_SIZE);

    struct tcol *c = tcol_new();
    assert_int_equal(tlist(f->s, c, 0, 10), 1);
    assert_string_equal(c->name[0], "orders");
    assert_int_equal(c->length[0], 3);
    assert_int_equal(c->created[0], 10000);

    /* A second ADD keeps the stream's creation time. */
    tadd_range(f->s, 2, "orders", 3, 20, 2);
    assert_int_equal(store_flush(f->s), 0);
    assert_int_equal(tlist(f->s, c, 0, 10), 1);
    assert_int_equal(c->length[0], 5);
    assert_int_equal(c->created[0], 10000);
    free(c);
}

/* Explicit causation and correlation ids are kept; an explicit causation
 * without correlation gives the causation as correlation. */
static void test_causation_correlation(void **state)
{
    struct fx *f = *state;
    uint8_t id1[ULID_BYTES], id2[ULID_BYTES], cause[ULID_BYTES], corr[ULID_BYTES];
    tid(100, id1);
    tid(101, id2);
    tid(7, cause);
    tid(8, corr);
    Eventflow__NewEvent e1 = EVENTFLOW__NEW_EVENT__INIT, e2 = EVENTFLOW__NEW_EVENT__INIT;
    e1.id = (ProtobufCBinaryData){.len = ULID_BYTES, .data = id1};
    e1.type = "a";
    e1.causation_id = (ProtobufCBinaryData){.len = ULID_BYTES, .data = cause};
    e1.client_id = (ProtobufCBinaryData){.len = 3, .data = (uint8_t *)"key"};
    e2.id = (ProtobufCBinaryData){.len = ULID_BYTES, .data = id2};
    e2.type = "b";
    e2.causation_id = (ProtobufCBinaryData){.len = ULID_BYTES, .data = cause};
    e2.correlation_id = (ProtobufCBinaryData){.len = ULID_BYTES, .data = corr};
    e2.client_id = (ProtobufCBinaryData){.len = 4, .data = (uint8_t *)"key2"};
    Eventflow__NewEvent *evs[] = {&e1, &e2};
    Eventflow__AddCommand add = EVENTFLOW__ADD_COMMAND__INIT;
    add.stream = "s";
    add.n_events = 2;
    add.events = evs;
    Eventflow__Entry e = EVENTFLOW__ENTRY__INIT;
    e.command_case = EVENTFLOW__ENTRY__COMMAND_ADD;
    e.add = &add;
    size_t len;
    uint8_t *buf = tpack_entry(&e, &len);
    const struct store_outcome *o;
    assert_int_equal(tapply(f->s, 1, buf, len, &o), STORE_APPLIED);
    assert_memory_equal(o->events[0]->causation_id.data, cause, ULID_BYTES);
    assert_memory_equal(o->events[0]->correlation_id.data, cause, ULID_BYTES);
    assert_int_equal(o->events[0]->client_id.len, 3);
    assert_memory_equal(o->events[0]->client_id.data, "key", 3);
    assert_memory_equal(o->events[1]->causation_id.data, cause, ULID_BYTES);
    assert_memory_equal(o->events[1]->correlation_id.data, corr, ULID_BYTES);
}

/* An ADD carrying idempotency keys (client_id) on every event, of type
 * `type` with `data` as a JSON string (NULL: none). */
static uint8_t *tadd_keyed_as(const char *stream, bool any, uint64_t expected, uint64_t first_seq,
                              const char *const *keys, size_t n, const char *type, const char *data, size_t *len)
{
    uint8_t ids[8][ULID_BYTES];
    Eventflow__NewEvent evs[8];
    Eventflow__NewEvent *ptrs[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        tid(first_seq + i, ids[i]);
        eventflow__new_event__init(&evs[i]);
        evs[i].id = (ProtobufCBinaryData){.len = ULID_BYTES, .data = ids[i]};
        evs[i].type = (char *)type;
        if (data != NULL) {
            evs[i].data_kind = EVENTFLOW__PAYLOAD_KIND__PAYLOAD_STRING;
            evs[i].data = (ProtobufCBinaryData){.len = strlen(data), .data = (uint8_t *)data};
        }
        evs[i].client_id = (ProtobufCBinaryData){.len = strlen(keys[i]), .data = (uint8_t *)keys[i]};
        ptrs[i] = &evs[i];
    }
    Eventflow__AddCommand add = EVENTFLOW__ADD_COMMAND__INIT;
    add.stream = (char *)stream;
    add.any_version = any;
    add.expected_version = expected;
    add.n_events = n;
    add.events = ptrs;
    Eventflow__Entry e = EVENTFLOW__ENTRY__INIT;
    e.command_case = EVENTFLOW__ENTRY__COMMAND_ADD;
    e.add = &add;
    return tpack_entry(&e, len);
}

static uint8_t *tadd_keyed(const char *stream, bool any, uint64_t expected, uint64_t first_seq,
                           const char *const *keys, size_t n, size_t *len)
{
    return tadd_keyed_as(stream, any, expected, first_seq, keys, n, "k", NULL, len);
}

static uint8_t *tsettings(uint64_t dedup_window, size_t *len)
{
    Eventflow__Settings st = EVENTFLOW__SETTINGS__INIT;
    st.dedup_window = dedup_window;
    Eventflow__Entry e = EVENTFLOW__ENTRY__INIT;
    e.command_case = EVENTFLOW__ENTRY__COMMAND_SETTINGS;
    e.settings = &st;
    return tpack_entry(&e, len);
}

static void assert_reuse(const struct store_outcome *o, const char *key, const char *differs)
{
    assert_int_equal(o->status, STORE_KEY_REUSE);
    assert_int_equal(o->n_events, 0);
    assert_int_equal(o->reused_key_len, strlen(key));
    assert_memory_equal(o->reused_key, key, strlen(key));
    assert_string_equal(o->reuse_differs, differs);
}

/* A retried ADD whose keys were all applied returns the original events,
 * whatever the stream's version is now; a partial overlap is refused; keys
 * survive a reopen and a snapshot; the oldest are forgotten past the window. */
static void test_dedup(void **state)
{
    struct fx *f = *state;
    static const char *const ab[] = {"a", "b"}, *const bc[] = {"b", "c"}, *const cd[] = {"c", "d"};
    size_t len;
    const struct store_outcome *o;
    uint8_t *buf = tadd_keyed("d", false, 0, 10, ab, 2, &len);
    assert_int_equal(tapply(f->s, 1, buf, len, &o), STORE_APPLIED);
    uint8_t first_id[ULID_BYTES];
    memcpy(first_id, o->events[0]->id.data, ULID_BYTES);

    /* The same keys again, with new ids, after the stream moved on. */
    tadd_range(f->s, 2, "d", 2, 15, 1);
    buf = tadd_keyed("d", false, 0, 20, ab, 2, &len);
    assert_int_equal(tapply(f->s, 3, buf, len, &o), STORE_DUPLICATE);
    assert_int_equal(o->n_events, 2);
    assert_memory_equal(o->events[0]->id.data, first_id, ULID_BYTES);
    assert_int_equal(o->events[1]->version, 1);

    buf = tadd_keyed("d", false, 0, 30, bc, 2, &len);
    assert_int_equal(tapply(f->s, 4, buf, len, &o), STORE_KEY_REUSE);
    assert_reuse(o, "b", "a different set of events in its ADD");
    assert_int_equal(store_flush(f->s), 0);
    assert_int_equal(tstats(f->s).event_count, 3);

    /* Two events with one key in a single ADD is malformed. */
    static const char *const aa[] = {"x", "x"};
    buf = tadd_keyed("d", true, 0, 40, aa, 2, &len);
    assert_int_equal(tapply(f->s, 5, buf, len, &o), STORE_INVALID_ENTRY);

    buf = tadd_keyed("d", true, 0, 50, cd, 2, &len);
    assert_int_equal(tapply(f->s, 6, buf, len, &o), STORE_APPLIED);
    assert_int_equal(store_flush(f->s), 0);
    assert_int_equal(tstats(f->s).event_count, 5);
    assert_int_equal(tstats(f->s).dedup_keys, 4);
}

/* A key applied once answers only a retry of that very event: any other
 * event or ADD carrying it is refused, naming the key and what differs, and
 * writes nothing, before and after a reopen. */
static void test_dedup_key_reuse(void **state)
{
    struct fx *f = *state;
    static const char *const k1[] = {"k-1"}, *const k1x[] = {"k-1", "x"}, *const xk1[] = {"x", "k-1"};
    size_t len;
    const struct store_outcome *o;
    uint8_t *buf = tadd_keyed_as("orders-1", true, 0, 10, k1, 1, "OrderPlaced", "{}", &len);
    assert_int_equal(tapply(f->s, 1, buf, len, &o), STORE_APPLIED);
    uint64_t index = 2, seq = 20;

    for (int reopen = 0; reopen < 2; reopen++) {
        struct {
            const char *stream, *type, *data;
            bool any;
            const char *differs;
        } cases[] = {
            {"refunds-9", "RefundIssued", "{}", false, "a different stream"},
            {"orders-1", "OrderShipped", "{}", true, "a different type"},
            {"orders-1", "OrderPlaced", "{\"n\":2}", true, "different data"},
            {"orders-1", "OrderPlaced", NULL, true, "different data"},
            {"orders-1", "OrderPlaced", "{}", false, "a different expected version"},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            buf = tadd_keyed_as(cases[i].stream, cases[i].any, 0, seq++, k1, 1, cases[i].type, cases[i].data, &len);
            assert_int_equal(tapply(f->s, index++, buf, len, &o), STORE_KEY_REUSE);
            assert_reuse(o, "k-1", cases[i].differs);
        }
        /* The key among new ones, in either place: a different ADD. */
        buf = tadd_keyed_as("orders-1", true, 0, seq, k1x, 2, "OrderPlaced", "{}", &len);
        seq += 2;
        assert_int_equal(tapply(f->s, index++, buf, len, &o), STORE_KEY_REUSE);
        assert_reuse(o, "k-1", "a different set of events in its ADD");
        buf = tadd_keyed_as("orders-1", true, 0, seq, xk1, 2, "OrderPlaced", "{}", &len);
        seq += 2;
        assert_int_equal(tapply(f->s, index++, buf, len, &o), STORE_KEY_REUSE);
        assert_reuse(o, "k-1", "a different set of events in its ADD");

        /* Nothing was written; the true retry still answers. */
        assert_int_equal(tstats(f->s).event_count, 1);
        assert_int_equal(tstats(f->s).stream_count, 1);
        buf = tadd_keyed_as("orders-1", true, 0, seq++, k1, 1, "OrderPlaced", "{}", &len);
        assert_int_equal(tapply(f->s, index++, buf, len, &o), STORE_DUPLICATE);
        assert_string_equal(o->events[0]->stream, "orders-1");
        assert_int_equal(store_flush(f->s), 0);
        fx_reopen(f);
    }
}

/* The window comes from the log: until a Settings entry, the default; a
 * smaller window forgets the oldest keys, a few per new key, so a lowered
 * window is reached without one long apply. */
static void test_dedup_window(void **state)
{
    struct fx *f = *state;
    size_t len;
    const struct store_outcome *o;
    assert_int_equal(tstats(f->s).dedup_window, STORE_DEFAULT_DEDUP_WINDOW);
    assert_false(tstats(f->s).dedup_window_recorded);
    uint64_t index = 1;
    char names[16][8];
    for (uint64_t i = 0; i < 16; i++) {
        snprintf(names[i], sizeof names[i], "k%" PRIu64, i);
        const char *const key[] = {names[i]};
        uint8_t *buf = tadd_keyed("w", true, 0, 100 + i, key, 1, &len);
        assert_int_equal(tapply(f->s, index++, buf, len, &o), STORE_APPLIED);
    }
    assert_int_equal(tstats(f->s).dedup_keys, 16);

    uint8_t *buf = tsettings(2, &len);
    assert_int_equal(tapply(f->s, index++, buf, len, &o), STORE_SETTINGS_UPDATED);
    assert_int_equal(tstats(f->s).dedup_window, 2);
    assert_true(tstats(f->s).dedup_window_recorded);
    /* Nothing is forgotten by the setting itself... */
    assert_int_equal(tstats(f->s).dedup_keys, 16);
    /* ... but each new key forgets up to four of the oldest. */
    static const char *const n1[] = {"n1"}, *const n2[] = {"n2"}, *const n3[] = {"n3"}, *const n4[] = {"n4"};
    const char *const *more[] = {n1, n2, n3, n4};
    uint64_t want[] = {17 - 4, 14 - 4, 11 - 4, 8 - 4};
    for (size_t i = 0; i < 4; i++) {
        buf = tadd_keyed("w", true, 0, 200 + i, more[i], 1, &len);
        assert_int_equal(tapply(f->s, index++, buf, len, &o), STORE_APPLIED);
        assert_int_equal(tstats(f->s).dedup_keys, want[i]);
    }
    /* The oldest key is forgotten: its ADD is applied again, as new. */
    static const char *const k0[] = {"k0"};
    buf = tadd_keyed("w", true, 0, 300, k0, 1, &len);
    assert_int_equal(tapply(f->s, index++, buf, len, &o), STORE_APPLIED);
    assert_int_equal(tstats(f->s).dedup_keys, 2);
    buf = tadd_keyed("w", true, 0, 301, k0, 1, &len);
    assert_int_equal(tapply(f->s, index++, buf, len, &o), STORE_DUPLICATE);

    /* A window a leader would refuse is a malformed entry; 0 keeps it. */
    buf = tsettings(STORE_MAX_DEDUP_WINDOW + 1, &len);
    assert_int_equal(tapply(f->s, index++, buf, len, &o), STORE_INVALID_ENTRY);
    buf = tsettings(0, &len);
    assert_int_equal(tapply(f->s, index++, buf, len, &o), STORE_SETTINGS_UPDATED);
    assert_int_equal(store_flush(f->s), 0);
    fx_reopen(f);
    assert_int_equal(tstats(f->s).dedup_window, 2);
    assert_true(tstats(f->s).dedup_window_recorded);
}

static uint8_t *tidentity(uint8_t fill, size_t n, size_t *len)
{
    uint8_t id[32];
    memset(id, fill, sizeof id);
    Eventflow__ClusterIdentity ci = EVENTFLOW__CLUSTER_IDENTITY__INIT;
    ci.cluster_id = (ProtobufCBinaryData){.len = n, .data = id};
    Eventflow__Entry e = EVENTFLOW__ENTRY__INIT;
    e.command_case = EVENTFLOW__ENTRY__COMMAND_IDENTITY;
    e.identity = &ci;
    return tpack_entry(&e, len);
}

/* The first identity applied is kept for good, across a reopen. */
static void test_identity(void **state)
{
    struct fx *f = *state;
    uint8_t *buf;
    size_t len;
    const struct store_outcome *o;
    assert_false(tstats(f->s).has_cluster_id);
    buf = tidentity(0, 16, &len);
    assert_int_equal(tapply(f->s, 1, buf, len, &o), STORE_INVALID_ENTRY);
    buf = tidentity(7, 15, &len);
    assert_int_equal(tapply(f->s, 2, buf, len, &o), STORE_INVALID_ENTRY);
    assert_false(tstats(f->s).has_cluster_id);
    buf = tidentity(7, 16, &len);
    assert_int_equal(tapply(f->s, 3, buf, len, &o), STORE_IDENTITY_SET);
    buf = tidentity(9, 16, &len);
    assert_int_equal(tapply(f->s, 4, buf, len, &o), STORE_IDENTITY_KEPT);
    assert_int_equal(store_flush(f->s), 0);
    fx_reopen(f);
    struct store_stats st = tstats(f->s);
    assert_true(st.has_cluster_id);
    uint8_t want[STORE_CLUSTER_ID_BYTES];
    memset(want, 7, sizeof want);
    assert_memory_equal(st.cluster_id, want, sizeof want);
}

static void test_expected_version(void **state)
{
    struct fx *f = *state;
    tadd_range(f->s, 1, "s", 0, 1, 2);

    uint64_t seqs[] = {10};
    size_t len;
    const struct store_outcome *o;
    uint8_t *buf = tadd("s", false, 1, seqs, 1, &len);
    assert_int_equal(tapply(f->s, 2, buf, len, &o), STORE_VERSION_CONFLICT);
    assert_int_equal(o->stream_length, 2);
    assert_int_equal(o->n_events, 0);
    buf = tadd("s", false, 3, seqs, 1, &len);
    assert_int_equal(tapply(f->s, 3, buf, len, &o), STORE_VERSION_GAP);
    assert_int_equal(o->stream_length, 2);
    /* A new stream has length 0: anything else is a gap. */
    buf = tadd("fresh", false, 1, seqs, 1, &len);
    assert_int_equal(tapply(f->s, 4, buf, len, NULL), STORE_VERSION_GAP);

    buf = tadd("s", false, 2, seqs, 1, &len);
    assert_int_equal(tapply(f->s, 5, buf, len, &o), STORE_APPLIED);
    assert_int_equal(o->stream_length, 2);
    assert_int_equal(o->first_position, 3);
    assert_int_equal(o->events[0]->version, 2);

    /* any_version ignores expected_version entirely. */
    seqs[0] = 11;
    buf = tadd("s", true, 0, seqs, 1, &len);
    assert_int_equal(tapply(f->s, 6, buf, len, &o), STORE_APPLIED);
    assert_int_equal(o->events[0]->version, 3);
    seqs[0] = 12;
    buf = tadd("s", true, 99, seqs, 1, &len);
    assert_int_equal(tapply(f->s, 7, buf, len, &o), STORE_APPLIED);
    assert_int_equal(o->events[0]->version, 4);

    /* Rejected entries consumed their indexes but wrote nothing. */
    assert_int_equal(store_flush(f->s), 0);
    struct store_stats st = tstats(f->s);
    assert_int_equal(st.applied_index, 7);
    assert_int_equal(st.event_count, 5);
    assert_int_equal(st.stream_count, 1);
    struct tcol *c = tcol_new();
    assert_int_equal(tread_stream(f->s, c, "fresh", 0, 10), 0);
    assert_int_equal(tread_stream(f->s, c, "s", 0, 10), 5);
    free(c);
}

static void test_idempotent_after_reopen(void **state)
{
    struct fx *f = *state;
    tadd_range(f->s, 1, "s", 0, 1, 3);
    tadd_range(f->s, 2, "t", 0, 4, 2);
    assert_int_equal(store_flush(f->s), 0);
    struct store_stats before = tstats(f->s);
    fx_reopen(f);
    struct store_stats after = tstats(f->s);
    assert_int_equal(after.applied_index, 2);
    assert_int_equal(after.event_count, 5);
    assert_int_equal(after.checksum, before.checksum);

    /* Raft replays entries after its snapshot: those are skipped. */
    uint64_t seqs[] = {4, 5};
    size_t len;
    uint8_t *buf = tadd("t", false, 0, seqs, 2, &len);
    const struct store_outcome *o;
    assert_int_equal(tapply(f->s, 2, buf, len, &o), STORE_ALREADY_APPLIED);
    assert_int_equal(o->n_events, 0);
    buf = tadd("s", false, 0, seqs, 2, &len);
    assert_int_equal(tapply(f->s, 1, buf, len, NULL), STORE_ALREADY_APPLIED);
    assert_int_equal(store_flush(f->s), 0);
    after = tstats(f->s);
    assert_int_equal(after.applied_index, 2);
    assert_int_equal(after.event_count, 5);
    assert_int_equal(after.stream_count, 2);
    assert_int_equal(after.checksum, before.checksum);

    /* A batch left pending is committed by store_close. */
    tadd_range(f->s, 3, "t", 2, 6, 1);
    fx_reopen(f);
    assert_int_equal(tstats(f->s).applied_index, 3);
    assert_int_equal(tstats(f->s).event_count, 6);
}

static void test_invalid_entry(void **state)
{
    struct fx *f = *state;
    const struct store_outcome *o;
    uint8_t *junk = malloc(4);
    memcpy(junk, "\xff\xff\xff\xff", 4);
    assert_int_equal(tapply(f->s, 1, junk, 4, &o), STORE_INVALID_ENTRY);

    /* An Entry with no command. */
    assert_int_equal(store_apply(f->s, 2, NULL, 0, &o), 0);
    assert_int_equal(o->status, STORE_INVALID_ENTRY);

    size_t len;
    uint8_t *buf = tadd("s", false, 0, NULL, 0, &len); /* no events */
    assert_int_equal(tapply(f->s, 3, buf, len, NULL), STORE_INVALID_ENTRY);
    uint64_t seqs[] = {1};
    buf = tadd("", false, 0, seqs, 1, &len); /* no stream name */
    assert_int_equal(tapply(f->s, 4, buf, len, NULL), STORE_INVALID_ENTRY);

    /* A stream name too long for an LMDB key is refused, not an I/O error
     * that would stop every replica. */
    char longname[700];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    buf = tadd(longname, false, 0, seqs, 1, &len);
    assert_int_equal(tapply(f->s, 5, buf, len, NULL), STORE_INVALID_ENTRY);

    /* An id that is not 16 bytes. */
    uint8_t short_id[15] = {1};
    Eventflow__NewEvent ev = EVENTFLOW__NEW_EVENT__INIT;
    ev.id = (ProtobufCBinaryData){.len = sizeof short_id, .data = short_id};
    ev.type = "t";
    Eventflow__NewEvent *evp = &ev;
    Eventflow__AddCommand add = EVENTFLOW__ADD_COMMAND__INIT;
    add.stream = "s";
    add.n_events = 1;
    add.events = &evp;
    Eventflow__Entry e = EVENTFLOW__ENTRY__INIT;
    e.command_case = EVENTFLOW__ENTRY__COMMAND_ADD;
    e.add = &add;
    buf = tpack_entry(&e, &len);
    assert_int_equal(tapply(f->s, 6, buf, len, NULL), STORE_INVALID_ENTRY);

    assert_int_equal(store_flush(f->s), 0);
    struct store_stats st = tstats(f->s);
    assert_int_equal(st.applied_index, 6);
    assert_int_equal(st.event_count, 0);
    assert_int_equal(st.stream_count, 0);
    assert_int_equal(st.checksum, 0);

    /* The store goes on normally afterwards. */
    tadd_range(f->s, 7, "s", 0, 1, 1);
    assert_int_equal(store_flush(f->s), 0);
    assert_int_equal(tstats(f->s).event_count, 1);
}

static void test_id_monotonicity(void **state)
{
    struct fx *f = *state;
    tadd_range(f->s, 1, "a", 0, 100, 2); /* ids 100, 101 */
    size_t len;
    uint8_t *buf;

    uint64_t below[] = {50};
    buf = tadd("b", false, 0, below, 1, &len);
    assert_int_equal(tapply(f->s, 2, buf, len, NULL), STORE_INVALID_ENTRY);
    uint64_t equal[] = {101};
    buf = tadd("b", false, 0, equal, 1, &len);
    assert_int_equal(tapply(f->s, 3, buf, len, NULL), STORE_INVALID_ENTRY);
    uint64_t unordered[] = {200, 300, 250};
    buf = tadd("b", false, 0, unordered, 3, &len);
    assert_int_equal(tapply(f->s, 4, buf, len, NULL), STORE_INVALID_ENTRY);
    uint64_t repeated[] = {200, 200};
    buf = tadd("b", false, 0, repeated, 2, &len);
    assert_int_equal(tapply(f->s, 5, buf, len, NULL), STORE_INVALID_ENTRY);
    /* The check uses the pending batch's last id, not the committed one. */
    uint64_t ok[] = {102};
    buf = tadd("b", false, 0, ok, 1, &len);
    assert_int_equal(tapply(f->s, 6, buf, len, NULL), STORE_APPLIED);
    buf = tadd("c", false, 0, ok, 1, &len);
    assert_int_equal(tapply(f->s, 7, buf, len, NULL), STORE_INVALID_ENTRY);

    assert_int_equal(store_flush(f->s), 0);
    struct store_stats st = tstats(f->s);
    assert_int_equal(st.applied_index, 7);
    assert_int_equal(st.event_count, 3);
    assert_int_equal(st.stream_count, 2);
    uint8_t last[ULID_BYTES];
    tid(102, last);
    assert_memory_equal(st.last_id, last, ULID_BYTES);
}

/* Two replicas fed the same entries agree at every step, and the value is
 * the CRC chained over the packed stored events, in order. */
static void test_checksum_chain(void **state)
{
    struct fx *f = *state;
    char dir2[64];
    tdir_make(dir2);
    struct store *s2 = tstore_open(dir2, TEST_MAP_SIZE);
    uint32_t expect = 0;
    uint64_t next = 1;
    for (uint64_t idx = 1; idx <= 20; idx++) {
        uint64_t seqs[3];
        size_t n = 1 + idx % 3;
        for (size_t i = 0; i < n; i++)
            seqs[i] = next++;
        const char *stream = idx % 2 ? "odd" : "even";
        size_t len;
        uint8_t *a = tadd(stream, true, 0, seqs, n, &len);
        uint8_t *b = malloc(len);
        memcpy(b, a, len);
        const struct store_outcome *o;
        assert_int_equal(tapply(f->s, idx, a, len, &o), STORE_APPLIED);
        for (size_t i = 0; i < o->n_events; i++) {
            size_t sz = eventflow__stored_event__get_packed_size(o->events[i]);
            uint8_t *p = malloc(sz);
            eventflow__stored_event__pack(o->events[i], p);
            expect = checksum_update(expect, p, sz);
            free(p);
        }
        assert_int_equal(tapply(s2, idx, b, len, NULL), STORE_APPLIED);
        if (idx % 4 == 0) {
            assert_int_equal(store_flush(f->s), 0);
            assert_int_equal(store_flush(s2), 0);
            assert_int_equal(tstats(f->s).checksum, expect);
            assert_int_equal(tstats(s2).checksum, expect);
        }
    }
    /* A different event makes a different checksum. */
    uint64_t seqs[] = {next};
    size_t len;
    uint8_t *a = tadd("odd", true, 0, seqs, 1, &len);
    assert_int_equal(tapply(f->s, 21, a, len, NULL), STORE_APPLIED);
    a = tadd("even", true, 0, seqs, 1, &len);
    assert_int_equal(tapply(s2, 21, a, len, NULL), STORE_APPLIED);
    assert_int_equal(store_flush(f->s), 0);
    assert_int_equal(store_flush(s2), 0);
    assert_int_not_equal(tstats(f->s).checksum, tstats(s2).checksum);
    store_close(s2);
    tdir_remove(dir2);
}

/* ---- reads ---------------------------------------------------------------- */

static void test_read_stream(void **state)
{
    struct fx *f = *state;
    /* "s" gets versions 0..9 in three entries, interleaved with "r". */
    tadd_range(f->s, 1, "s", 0, 1, 4);
    tadd_range(f->s, 2, "r", 0, 5, 1);
    tadd_range(f->s, 3, "s", 4, 6, 3);
    tadd_range(f->s, 4, "s\x01", 0, 9, 1); /* sorts right after "s" in the index */
    tadd_range(f->s, 5, "s", 7, 10, 3);
    assert_int_equal(store_flush(f->s), 0);

    struct tcol *c = tcol_new();
    assert_int_equal(tread_stream(f->s, c, "s", 0, 100), 10);
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(c->version[i], i);
        assert_string_equal(c->name[i], "s");
    }
    assert_int_equal(c->position[4], 6);
    assert_int_equal(tread_stream(f->s, c, "s", 3, 4), 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(c->version[i], 3 + i);
    assert_int_equal(tread_stream(f->s, c, "s", 8, 10), 2);
    assert_int_equal(c->version[1], 9);
    assert_int_equal(tread_stream(f->s, c, "s", 10, 10), 0);
    assert_int_equal(tread_stream(f->s, c, "s", UINT64_MAX, 10), 0);
    assert_int_equal(tread_stream(f->s, c, "s", 0, 0), 0);
    assert_int_equal(tread_stream(f->s, c, "nope", 0, 10), 0);
    assert_int_equal(tread_stream(f->s, c, "", 0, 10), 0);
    assert_int_equal(tread_stream(f->s, c, "r", 0, 10), 1);
    assert_int_equal(tread_stream(f->s, c, "s\x01", 0, UINT64_MAX), 1);

    /* A name holding a NUL is no stream (and no prefix of one). */
    struct store_visitor v = tcol_visitor(c);
    assert_int_equal(store_read_stream(f->s, "s\0", 2, 0, 10, &v), 0);
    tcol_check(c, 0);

    /* A visitor's non-zero return stops the read and is returned. */
    v = tcol_visitor(c);
    c->stop_after = 2;
    assert_int_equal(store_read_stream(f->s, "s", 1, 0, 10, &v), 42);
    assert_int_equal(c->n, 2);
    assert_int_equal(c->begin_n, 10);
    free(c);
}

static void test_read_all(void **state)
{
    struct fx *f = *state;
    /* Ids 10, 20, ..., 200 so that ids between events exist. */
    for (uint64_t i = 0; i < 20; i++) {
        uint64_t seqs[] = {10 * (i + 1)};
        size_t len;
        uint8_t *buf = tadd(i % 3 ? "x" : "y", true, 0, seqs, 1, &len);
        assert_int_equal(tapply(f->s, i + 1, buf, len, NULL), STORE_APPLIED);
    }
    assert_int_equal(store_flush(f->s), 0);

    struct tcol *c = tcol_new();
    assert_int_equal(tread_all(f->s, c, NULL, 100), 20);
    for (size_t i = 0; i < 20; i++) {
        uint8_t id[ULID_BYTES];
        tid(10 * (i + 1), id);
        assert_memory_equal(c->id[i], id, ULID_BYTES);
        assert_int_equal(c->position[i], i + 1);
    }
    assert_int_equal(tread_all(f->s, c, NULL, 5), 5);
    assert_int_equal(c->position[4], 5);

    uint8_t after[ULID_BYTES];
    tid(50, after); /* an existing id: strictly after it */
    assert_int_equal(tread_all(f->s, c, after, 3), 3);
    assert_int_equal(c->position[0], 6);
    assert_int_equal(c->position[2], 8);
    assert_int_equal(tread_all(f->s, c, after, 100), 15);

    tid(55, after); /* between 50 and 60 */
    assert_int_equal(tread_all(f->s, c, after, 100), 15);
    assert_int_equal(c->position[0], 6);

    tid(1, after); /* before everything */
    assert_int_equal(tread_all(f->s, c, after, 100), 20);
    memset(after, 0, sizeof after);
    assert_int_equal(tread_all(f->s, c, after, 100), 20);

    tid(200, after); /* the last event */
    assert_int_equal(tread_all(f->s, c, after, 100), 0);
    tid(5000, after); /* beyond everything */
    assert_int_equal(tread_all(f->s, c, after, 100), 0);
    assert_int_equal(tread_all(f->s, c, NULL, 0), 0);
    free(c);
}

static void test_read_all_empty(void **state)
{
    struct fx *f = *state;
    struct tcol *c = tcol_new();
    assert_int_equal(tread_all(f->s, c, NULL, 10), 0);
    uint8_t after[ULID_BYTES];
    tid(1, after);
    assert_int_equal(tread_all(f->s, c, after, 10), 0);
    assert_int_equal(tlist(f->s, c, 0, 10), 0);
    assert_int_equal(tread_stream(f->s, c, "s", 0, 10), 0);
    free(c);
}

static void test_list_streams(void **state)
{
    struct fx *f = *state;
    const char *order[] = {"c", "a", "d", "b"};
    for (size_t i = 0; i < 4; i++)
        tadd_range(f->s, i + 1, order[i], 0, 10 * (i + 1), i + 1);
    assert_int_equal(store_flush(f->s), 0);

    struct tcol *c = tcol_new();
    assert_int_equal(tlist(f->s, c, 0, 100), 4);
    const char *names[] = {"a", "b", "c", "d"};
    const uint64_t lengths[] = {2, 4, 1, 3};
    const int64_t created[] = {20000, 40000, 10000, 30000};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(c->name[i], names[i]);
        assert_int_equal(c->length[i], lengths[i]);
        assert_int_equal(c->created[i], created[i]);
    }
    assert_int_equal(tlist(f->s, c, 1, 2), 2);
    assert_string_equal(c->name[0], "b");
    assert_string_equal(c->name[1], "c");
    assert_int_equal(tlist(f->s, c, 3, 10), 1);
    assert_string_equal(c->name[0], "d");
    assert_int_equal(tlist(f->s, c, 4, 10), 0);
    assert_int_equal(tlist(f->s, c, UINT64_MAX, 10), 0);
    assert_int_equal(tlist(f->s, c, 0, 0), 0);
    assert_int_equal(tlist(f->s, c, 2, UINT64_MAX), 2);
    free(c);
}

/* Reads and stats see every applied entry, through the open batch; a
 * commit changes nothing a reader sees. */
static void test_reads_see_applied(void **state)
{
    struct fx *f = *state;
    tadd_range(f->s, 1, "s", 0, 1, 2);
    assert_int_equal(store_flush(f->s), 0);
    assert_int_equal(store_batch_entries(f->s), 0);
    tadd_range(f->s, 2, "s", 2, 3, 2);
    tadd_range(f->s, 3, "t", 0, 5, 1);
    assert_int_equal(store_batch_entries(f->s), 2);

    struct tcol *c = tcol_new();
    for (int round = 0; round < 2; round++) {
        assert_int_equal(tread_stream(f->s, c, "s", 0, 10), 4);
        assert_int_equal(tread_stream(f->s, c, "t", 0, 10), 1);
        assert_int_equal(tread_all(f->s, c, NULL, 10), 5);
        assert_int_equal(tlist(f->s, c, 0, 10), 2);
        assert_int_equal(tstats(f->s).event_count, 5);
        assert_int_equal(tstats(f->s).applied_index, 3);
        assert_int_equal(store_flush(f->s), 0);
        assert_int_equal(store_batch_entries(f->s), 0);
    }
    assert_int_equal(store_flush(f->s), 0); /* nothing pending: a no-op */
    free(c);
}

/* ---- members -------------------------------------------------------------- */

/* A MemberAddress entry; tls may be NULL (a record without one). */
static uint8_t *tmember_tls(uint64_t id, const char *addr, const char *tls, uint64_t incarnation, size_t *len)
{
    Eventflow__MemberAddress m = EVENTFLOW__MEMBER_ADDRESS__INIT;
    m.id = id;
    m.client_address = (char *)addr;
    if (tls != NULL)
        m.tls_address = (char *)tls;
    m.incarnation = incarnation;
    Eventflow__Entry e = EVENTFLOW__ENTRY__INIT;
    e.command_case = EVENTFLOW__ENTRY__COMMAND_MEMBER_ADDRESS;
    e.member_address = &m;
    return tpack_entry(&e, len);
}

static uint8_t *tmember(uint64_t id, const char *addr, uint64_t incarnation, size_t *len)
{
    return tmember_tls(id, addr, NULL, incarnation, len);
}

/* The TLS address is kept beside the client address, empty for a record
 * without one; the client address and incarnation read as before. */
static void test_member_tls(void **state)
{
    struct fx *f = *state;
    size_t len;
    uint8_t *buf = tmember_tls(7, "10.0.0.1:6543", "10.0.0.1:6643", 5, &len);
    assert_int_equal(tapply(f->s, 1, buf, len, NULL), STORE_MEMBER_UPDATED);
    buf = tmember(8, "10.0.0.2:6543", 6, &len);
    assert_int_equal(tapply(f->s, 2, buf, len, NULL), STORE_MEMBER_UPDATED);
    fx_reopen(f);
    char addr[64], tls[64] = "x";
    uint64_t inc = 0;
    assert_int_equal(store_member_tls_get(f->s, 7, tls, sizeof tls), 0);
    assert_string_equal(tls, "10.0.0.1:6643");
    assert_int_equal(store_member_get(f->s, 7, addr, sizeof addr, &inc), 0);
    assert_string_equal(addr, "10.0.0.1:6543");
    assert_int_equal(inc, 5);
    assert_int_equal(store_member_tls_get(f->s, 8, tls, sizeof tls), 0);
    assert_string_equal(tls, "");
    assert_int_equal(store_member_tls_get(f->s, 9, tls, sizeof tls), -ENOENT);
}

static void test_members(void **state)
{
    struct fx *f = *state;
    size_t len;
    uint8_t *buf = tmember(7, "10.0.0.1:6543", 99, &len);
    const struct store_outcome *o;
    assert_int_equal(tapply(f->s, 1, buf, len, &o), STORE_MEMBER_UPDATED);
    assert_int_equal(o->n_events, 0);

    char addr[64];
    uint64_t inc = 0;
    assert_int_equal(store_member_get(f->s, 8, addr, sizeof addr, NULL), -ENOENT);
    assert_int_equal(store_member_get(f->s, 7, addr, sizeof addr, NULL), 0); /* in the open batch */
    assert_int_equal(store_flush(f->s), 0);
    assert_int_equal(store_member_get(f->s, 7, addr, sizeof addr, NULL), 0);
    assert_string_equal(addr, "10.0.0.1:6543");
    assert_int_equal(store_member_get(f->s, 7, addr, sizeof addr, &inc), 0);
    assert_int_equal(inc, 99);
    assert_int_equal(store_member_get(f->s, 7, addr, 5, NULL), 0);
    assert_string_equal(addr, "10.0");
    assert_int_equal(store_member_get(f->s, 8, addr, sizeof addr, NULL), -ENOENT);
    assert_int_equal(tstats(f->s).applied_index, 1);

    buf = tmember(7, "host:1", 100, &len);
    assert_int_equal(tapply(f->s, 2, buf, len, NULL), STORE_MEMBER_UPDATED);
    buf = tmember(8, "host:2", 0, &len);
    assert_int_equal(tapply(f->s, 3, buf, len, NULL), STORE_MEMBER_UPDATED);
    fx_reopen(f);
    assert_int_equal(store_member_get(f->s, 7, addr, sizeof addr, &inc), 0);
    assert_string_equal(addr, "host:1");
    assert_int_equal(inc, 100);
    assert_int_equal(store_member_get(f->s, 8, addr, sizeof addr, &inc), 0);
    assert_string_equal(addr, "host:2");
    assert_int_equal(inc, 0);
    assert_int_equal(tstats(f->s).event_count, 0);
}

/* The open batch's entry bytes, which node.c commits on: what each applied
 * entry brought, nothing for an entry already applied, zero once committed. */
static void test_batch_bytes(void **state)
{
    struct fx *f = *state;
    assert_int_equal(store_batch_bytes(f->s), 0);
    size_t l1, l2, l3;
    uint8_t *e1 = tmember(1, "127.0.0.1:1", 1, &l1);
    uint8_t *e2 = tmember(2, "127.0.0.1:22", 1, &l2);
    uint8_t *again = tmember(2, "127.0.0.1:22", 1, &l3);
    assert_int_equal(tapply(f->s, 1, e1, l1, NULL), STORE_MEMBER_UPDATED);
    assert_int_equal(store_batch_bytes(f->s), l1);
    assert_int_equal(tapply(f->s, 2, e2, l2, NULL), STORE_MEMBER_UPDATED);
    assert_int_equal(store_batch_bytes(f->s), l1 + l2);
    assert_int_equal(tapply(f->s, 2, again, l3, NULL), STORE_ALREADY_APPLIED);
    assert_int_equal(store_batch_bytes(f->s), l1 + l2);
    assert_int_equal(store_flush(f->s), 0);
    assert_int_equal(store_batch_bytes(f->s), 0);
}

/* ---- space ---------------------------------------------------------------- */

static void test_space_full(void **state)
{
    struct fx *f = *state;
    assert_int_equal(store_space_check(f->s, 1000), 0);

    char dir[64];
    tdir_make(dir);
    struct store *s = tstore_open(dir, (size_t)1 << 20);
    /* Within the margin of a 1 MiB map from the start. */
    assert_int_equal(store_space_check(s, 1000), STORE_EFULL);

    uint64_t flushed = 0, index = 1;
    int rc = 0;
    for (; index < 1000; index++) {
        uint64_t seqs[] = {index};
        size_t len;
        uint8_t *buf = tadd_sized("big", true, 0, seqs, 1, 8192, &len);
        const struct store_outcome *o;
        rc = store_apply(s, index, buf, len, &o);
        free(buf);
        if (rc != 0)
            break;
        assert_int_equal(o->status, STORE_APPLIED);
        if ((rc = store_flush(s)) != 0)
            break;
        flushed++;
    }
    assert_int_equal(rc, STORE_EFULL);
    assert_true(flushed > 10);
    assert_non_null(strstr(store_errmsg(s), "MDB_MAP_FULL"));

    /* The node stops here and restarts (a failed commit leaves the store
     * refusing everything: test_lost_batch_stops_everything). Nothing of
     * the failed entry survives; everything flushed is served. */
    store_close(s);
    s = tstore_open(dir, (size_t)1 << 20);
    struct store_stats st = tstats(s);
    assert_int_equal(st.event_count, flushed);
    assert_int_equal(st.applied_index, flushed);
    struct tcol *c = tcol_new();
    assert_int_equal(tread_all(s, c, NULL, UINT64_MAX), flushed);
    for (size_t i = 0; i < flushed; i++)
        assert_int_equal(c->position[i], i + 1);
    assert_int_equal(tread_stream(s, c, "big", 0, UINT64_MAX), flushed);
    assert_int_equal(tlist(s, c, 0, 10), 1);
    assert_int_equal(c->length[0], flushed);
    free(c);

    /* Applying the same entry again fails the same way. */
    uint64_t seqs[] = {index};
    size_t len;
    uint8_t *buf = tadd_sized("big", true, 0, seqs, 1, 8192, &len);
    const struct store_outcome *o;
    rc = store_apply(s, index, buf, len, &o);
    if (rc == 0)
        rc = store_flush(s);
    free(buf);
    assert_int_equal(rc, STORE_EFULL);
    assert_int_equal(tstats(s).event_count, flushed);
    store_close(s);
    tdir_remove(dir);
}

/* Entry `index`: one 512-byte event for a stream spread over 100,003
 * names, so that each entry touches pages of its own. */
static uint8_t *spread_entry(const char *prefix, uint64_t index, size_t *len)
{
    uint64_t seqs[] = {index};
    char stream[32];
    snprintf(stream, sizeof stream, "%s%llu", prefix, (unsigned long long)(index * 7919 % 100003));
    return tadd_sized(stream, true, 0, seqs, 1, 512, len);
}

/* What the leader relies on: every entry store_space_check admitted
 * applies and commits, even when many are applied into one open batch
 * (the file's size counts committed batches only). */
static void test_space_check_counts_open_batch(void **state)
{
    (void)state;
    char dir[64];
    tdir_make(dir);
    struct store *s = tstore_open(dir, (size_t)4 << 20);
    uint64_t index = 1;
    int rc;
    for (; index < 100000; index++) {
        size_t len;
        uint8_t *buf = spread_entry("s", index, &len);
        rc = store_space_check(s, len);
        if (rc != 0) {
            free(buf);
            break;
        }
        const struct store_outcome *o;
        assert_int_equal(store_apply(s, index, buf, len, &o), 0);
        free(buf);
        assert_int_equal(o->status, STORE_APPLIED);
    }
    assert_int_equal(rc, STORE_EFULL);
    assert_true(index > 500);
    /* The check committed the batch before refusing; what is left commits. */
    assert_int_equal(store_flush(s), 0);
    assert_int_equal(tstats(s).event_count, index - 1);
    store_close(s);
    tdir_remove(dir);
}

/* store_space_room, what other members' leader checks against: below its
 * exactness threshold it commits the open batch and answers exactly, so
 * the room shrinks as entries are applied and is never more than the map
 * holds; entries the room admitted (twice their size plus a margin, as
 * space.c asks) always apply and commit. */
static void test_space_room(void **state)
{
    (void)state;
    char dir[64];
    tdir_make(dir);
    struct store *s = tstore_open(dir, (size_t)4 << 20);
    uint64_t room0 = 0;
    assert_int_equal(store_space_room(s, &room0), 0);
    assert_true(room0 > 0 && room0 < ((uint64_t)4 << 20));
    uint64_t index = 1, prev = room0;
    for (; index < 100000; index++) {
        size_t len;
        uint8_t *buf = spread_entry("r", index, &len);
        uint64_t room = 0;
        assert_int_equal(store_space_room(s, &room), 0);
        /* Exact after the commit it makes: never more than before. */
        assert_true(room <= prev);
        prev = room;
        if (room < 2 * (uint64_t)len + ((uint64_t)1 << 20)) {
            free(buf);
            break;
        }
        const struct store_outcome *o;
        assert_int_equal(store_apply(s, index, buf, len, &o), 0);
        free(buf);
        assert_int_equal(o->status, STORE_APPLIED);
    }
    assert_true(index > 500);
    assert_true(prev < room0);
    assert_int_equal(store_flush(s), 0);
    assert_int_equal(tstats(s).event_count, index - 1);
    store_close(s);
    tdir_remove(dir);
}

/* apply `count` entries of `size` bytes to stream "lost" from raft index
 * `first`, asserting each applies (and nothing else). */
static void apply_run(struct store *s, uint64_t first, uint64_t count, size_t size)
{
    for (uint64_t index = first; index < first + count; index++) {
        uint64_t seqs[] = {index};
        size_t len;
        uint8_t *buf = tadd_sized("lost", true, 0, seqs, 1, size, &len);
        const struct store_outcome *o;
        assert_int_equal(store_apply(s, index, buf, len, &o), 0);
        free(buf);
        assert_int_equal(o->status, STORE_APPLIED);
    }
}

/* A batch that fails to commit is gone while raft counts its entries as
 * applied. Nothing may be applied, committed or read on top of the older
 * state (a jepsen run lost acknowledged writes when a snapshot's commit
 * failed on a full disk and the node went on); after a reopen raft's
 * re-apply restores them. The commit is made to fail with RLIMIT_FSIZE:
 * LMDB's writes past the limit fail with EFBIG. */
static void test_lost_batch_stops_everything(void **state)
{
    (void)state;
    char dir[64];
    tdir_make(dir);
    struct store *s = tstore_open(dir, (size_t)64 << 20);
    apply_run(s, 1, 10, 100);
    assert_int_equal(store_flush(s), 0);

    char path[128];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim.rlim_cur = (rlim_t)st.st_size;
    lim.rlim_max = old.rlim_max;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    apply_run(s, 11, 20, 8192); /* in memory: fine */
    int rc = store_flush(s);    /* needs pages past the limit */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_not_equal(rc, 0);
    assert_true(store_batch_lost(s));

    uint64_t seqs[] = {31};
    size_t len;
    uint8_t *buf = tadd_sized("lost", true, 0, seqs, 1, 100, &len);
    const struct store_outcome *o;
    assert_int_equal(store_apply(s, 31, buf, len, &o), STORE_EIO);
    free(buf);
    assert_int_equal(store_flush(s), STORE_EIO);
    struct tcol *c = tcol_new();
    struct store_visitor v = tcol_visitor(c);
    assert_int_equal(store_read_stream(s, "lost", 4, 0, 100, &v), STORE_EIO);
    free(c);
    store_close(s);

    /* What a restart does: the store is at its last commit, and the lost
     * entries apply again. */
    s = tstore_open(dir, (size_t)64 << 20);
    assert_false(store_batch_lost(s));
    assert_int_equal(tstats(s).applied_index, 10);
    apply_run(s, 11, 20, 8192);
    assert_int_equal(store_flush(s), 0);
    assert_int_equal(tstats(s).event_count, 30);
    store_close(s);
    tdir_remove(dir);
}

/* ---- boot-id marker ------------------------------------------------------- */

static void marker_path(const char *dir, char path[128])
{
    snprintf(path, 128, "%s/boot_id", dir);
}

static void write_marker(const char *dir, const char *id)
{
    char path[128];
    marker_path(dir, path);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp, "%s\n", id);
    assert_int_equal(fclose(fp), 0);
}

static void current_boot_id(char out[64])
{
    FILE *fp = fopen("/proc/sys/kernel/random/boot_id", "r");
    assert_non_null(fp);
    assert_non_null(fgets(out, 64, fp));
    fclose(fp);
    out[strcspn(out, "\n")] = '\0';
}

/* The boot marker names this boot while the store is open and goes away at
 * a clean close; a marker of this boot (a process crash) is trusted. */
static void test_boot_marker(void **state)
{
    struct fx *f = *state;
    char path[128], boot[64], seen[64];
    marker_path(f->dir, path);
    current_boot_id(boot);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(fgets(seen, sizeof seen, fp));
    fclose(fp);
    seen[strcspn(seen, "\n")] = '\0';
    assert_string_equal(seen, boot);

    tadd_range(f->s, 1, "s", 0, 1, 3);
    assert_int_equal(store_flush(f->s), 0);
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(access(path, F_OK), -1);

    write_marker(f->dir, boot);
    f->s = tstore_open(f->dir, TEST_MAP_SIZE);
    assert_int_equal(tstats(f->s).event_count, 3);
}

/* An OS crash (a marker of another boot) takes the store back to its last
 * durable point, whose state is intact although later commits reused the
 * file; without a durable point the store starts empty. */
static void test_os_crash_recovery(void **state)
{
    struct fx *f = *state;
    const char *other_boot = "00000000-0000-0000-0000-000000000000";

    /* Never a durable point: an OS crash empties the store (raft's log is
     * whole then, and replays everything). */
    tadd_range(f->s, 1, "early", 0, 1, 2);
    assert_int_equal(store_flush(f->s), 0);
    store_close(f->s);
    write_marker(f->dir, other_boot);
    f->s = tstore_open(f->dir, TEST_MAP_SIZE);
    assert_int_equal(tstats(f->s).applied_index, 0);
    assert_int_equal(tstats(f->s).event_count, 0);

    /* A durable point at index 40, then 60 more entries committed. */
    uint64_t id = 1;
    for (uint64_t idx = 1; idx <= 40; idx++, id += 2)
        tadd_range(f->s, idx, idx % 2 ? "odd" : "even", idx % 2 ? idx - 1 : idx - 2, id, 2);
    assert_int_equal(store_sync(f->s), 0);
    struct store_stats at40 = tstats(f->s);
    for (uint64_t idx = 41; idx <= 100; idx++, id += 2) {
        /* A commit each: LMDB would reuse freed pages if nothing pinned them. */
        tadd_range(f->s, idx, "late", (idx - 41) * 2, id, 2);
        assert_int_equal(store_flush(f->s), 0);
    }
    assert_int_equal(tstats(f->s).applied_index, 100);
    store_close(f->s);

    write_marker(f->dir, other_boot);
    f->s = tstore_open(f->dir, TEST_MAP_SIZE);
    struct store_stats st = tstats(f->s);
    assert_int_equal(st.applied_index, 40);
    assert_int_equal(st.event_count, at40.event_count);
    assert_int_equal(st.checksum, at40.checksum);
    struct tcol *c = tcol_new();
    assert_int_equal(tread_all(f->s, c, NULL, 1000), at40.event_count);
    assert_int_equal(tread_stream(f->s, c, "late", 0, 10), 0);
    free(c);
    /* Raft replays what follows; the store takes it as new. */
    id = 81;
    for (uint64_t idx = 41; idx <= 100; idx++, id += 2)
        tadd_range(f->s, idx, "late", (idx - 41) * 2, id, 2);
    assert_int_equal(tstats(f->s).applied_index, 100);
    assert_int_equal(tstats(f->s).event_count, 200);
}

static void test_open_errors(void **state)
{
    (void)state;
    struct store *s = (struct store *)1;
    char err[128] = "";
    struct store_options o = {.dir = NULL};
    assert_int_equal(store_open(&o, &s, err, sizeof err), STORE_EINVAL);
    assert_null(s);
    assert_true(err[0] != '\0');
    o.dir = "/proc/no-such-store-dir";
    assert_int_not_equal(store_open(&o, &s, err, sizeof err), 0);
    assert_null(s);
    store_close(NULL);
}

/* ---- stream lengths and the store format ------------------------------- */

/* A stream's length is read off its last stream_index key, so neighbouring
 * names must not leak into each other: a name that is a prefix of another,
 * the first and the last stream in the index, a new stream between two. */
static void test_lengths_of_neighbouring_streams(void **state)
{
    struct fx *f = *state;
    const char *names[] = {"ab", "a", "a-b", "b", "zz", "0"};
    const uint64_t lengths[] = {3, 1, 2, 4, 2, 1};
    uint64_t index = 1, seq = 1;
    /* Interleaved, so each stream's keys sit among the others'. */
    for (uint64_t round = 0; round < 4; round++)
        for (size_t i = 0; i < 6; i++)
            if (round < lengths[i]) {
                tadd_range(f->s, index++, names[i], round, seq, 1);
                seq++;
            }
    struct tcol *c = tcol_new();
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(tread_stream(f->s, c, names[i], 0, 100), lengths[i]);
        for (size_t j = 0; j < c->n; j++) {
            assert_string_equal(c->name[j], names[i]);
            assert_int_equal(c->version[j], j);
        }
        /* The expected version is checked against that length. */
        uint64_t one = seq;
        size_t len;
        uint8_t *buf = tadd(names[i], false, lengths[i] + 1, &one, 1, &len);
        assert_int_equal(tapply(f->s, index++, buf, len, NULL), STORE_VERSION_GAP);
        buf = tadd(names[i], false, lengths[i] - 1, &one, 1, &len);
        assert_int_equal(tapply(f->s, index++, buf, len, NULL), STORE_VERSION_CONFLICT);
    }
    /* Streams never written, before, between and after the others. */
    const char *absent[] = {"", "\x01", "a-", "aa", "abc", "zzz", "~"};
    for (size_t i = 0; i < sizeof absent / sizeof *absent; i++) {
        assert_int_equal(tread_stream(f->s, c, absent[i], 0, 100), 0);
        if (absent[i][0] == '\0')
            continue;
        uint64_t one = seq++;
        size_t len;
        uint8_t *buf = tadd(absent[i], false, 1, &one, 1, &len);
        assert_int_equal(tapply(f->s, index++, buf, len, NULL), STORE_VERSION_GAP);
        buf = tadd(absent[i], false, 0, &one, 1, &len);
        const struct store_outcome *o;
        assert_int_equal(tapply(f->s, index++, buf, len, &o), STORE_APPLIED);
        assert_int_equal(o->stream_length, 0);
        assert_int_equal(o->events[0]->version, 0);
    }
    assert_int_equal(tstats(f->s).stream_count, 6 + 6);
    assert_int_equal(store_flush(f->s), 0);
    assert_int_equal(tlist(f->s, c, 0, 100), 12);
    for (size_t i = 0; i < c->n; i++) {
        uint64_t want = 1;
        for (size_t j = 0; j < 6; j++)
            if (strcmp(c->name[i], names[j]) == 0)
                want = lengths[j];
        assert_int_equal(c->length[i], want);
    }
    free(c);
}

/* Rewrite the store in `dir` (closed) as an older or newer build left it:
 * the meta format marker set to `format`, and every streams record given
 * the length field format 1 kept there, set to `stale` (a value the reads
 * must ignore). Returns the largest length the records held before. */
static uint64_t traw_set_format(const char *dir, uint8_t format, uint64_t stale)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta, streams;
    MDB_cursor *cur;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_set_mapsize(env, TEST_MAP_SIZE), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    assert_int_equal(mdb_dbi_open(txn, "streams", 0, &streams), 0);
    uint8_t fmt[4] = {0, 0, 0, format};
    MDB_val k = {.mv_size = 6, .mv_data = "format"}, v = {.mv_size = sizeof fmt, .mv_data = fmt};
    assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
    assert_int_equal(mdb_cursor_open(txn, streams, &cur), 0);
    int rc;
    uint64_t held = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        Eventflow__StreamInfo *info = eventflow__stream_info__unpack(NULL, v.mv_size, v.mv_data);
        assert_non_null(info);
        held = info->length > held ? info->length : held;
        info->length = stale;
        uint8_t packed[32];
        MDB_val nv = {.mv_size = eventflow__stream_info__pack(info, packed), .mv_data = packed};
        eventflow__stream_info__free_unpacked(info, NULL);
        /* The key is copied out of the page the put rewrites. */
        char name[64];
        assert_true(k.mv_size <= sizeof name);
        memcpy(name, k.mv_data, k.mv_size);
        MDB_val nk = {.mv_size = k.mv_size, .mv_data = name};
        assert_int_equal(mdb_cursor_put(cur, &nk, &nv, MDB_CURRENT), 0);
    }
    assert_int_equal(rc, MDB_NOTFOUND);
    mdb_cursor_close(cur);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    return held;
}

static uint8_t traw_format(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    MDB_val k = {.mv_size = 6, .mv_data = "format"}, v;
    assert_int_equal(mdb_get(txn, meta, &k, &v), 0);
    assert_int_equal(v.mv_size, 4);
    uint8_t format = ((uint8_t *)v.mv_data)[3];
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return format;
}

/* A format-1 store (lengths kept in the streams records) opens as format 2:
 * the marker is rewritten, and lengths come from the index whatever the
 * records say. A format this build does not know is refused. */
static void test_format_upgrade(void **state)
{
    struct fx *f = *state;
    tadd_range(f->s, 1, "orders", 0, 1, 3);
    tadd_range(f->s, 2, "users", 0, 4, 1);
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(traw_format(f->dir), 6);
    /* Format 2 writes no length into a stream's record. */
    assert_int_equal(traw_set_format(f->dir, 1, 99), 0);

    f->s = tstore_open(f->dir, TEST_MAP_SIZE);
    struct tcol *c = tcol_new();
    assert_int_equal(tread_stream(f->s, c, "orders", 0, 100), 3);
    assert_int_equal(tlist(f->s, c, 0, 10), 2);
    assert_string_equal(c->name[0], "orders");
    assert_int_equal(c->length[0], 3);
    assert_int_equal(c->created[0], 1000);
    assert_int_equal(c->length[1], 1);
    uint64_t seq = 5;
    size_t len;
    uint8_t *buf = tadd("orders", false, 99, &seq, 1, &len);
    assert_int_equal(tapply(f->s, 3, buf, len, NULL), STORE_VERSION_GAP);
    tadd_range(f->s, 4, "orders", 3, 5, 1);
    assert_int_equal(tread_stream(f->s, c, "orders", 0, 100), 4);
    assert_int_equal(c->version[3], 3);
    store_close(f->s);
    f->s = NULL;
    /* Only with the store closed: LMDB forbids one file open twice in a
     * process. */
    assert_int_equal(traw_format(f->dir), 6);

    assert_int_equal(traw_set_format(f->dir, 7, 0), 99);
    struct store_options o = {.dir = f->dir, .map_size = TEST_MAP_SIZE};
    struct store *s = (struct store *)1;
    char err[256] = "";
    assert_int_equal(store_open(&o, &s, err, sizeof err), STORE_ECORRUPT);
    assert_null(s);
    assert_non_null(strstr(err, "store format 7 is not supported"));
    assert_int_equal(traw_format(f->dir), 7);
    assert_int_equal(traw_set_format(f->dir, 6, 0), 0);
    f->s = tstore_open(f->dir, TEST_MAP_SIZE);
    free(c);
}

/* Format 2 kept a key's event id alone: such a key still answers a retry
 * of the same event and refuses a different one (compared on the event's
 * content, all format 2 recorded), and the store upgrades to the current format. */
static void test_dedup_format2_keys(void **state)
{
    struct fx *f = *state;
    static const char *const k[] = {"old-key"};
    size_t len;
    const struct store_outcome *o;
    uint8_t *buf = tadd_keyed_as("s", false, 0, 10, k, 1, "T", "x", &len);
    assert_int_equal(tapply(f->s, 1, buf, len, &o), STORE_APPLIED);
    uint8_t id[ULID_BYTES];
    memcpy(id, o->events[0]->id.data, ULID_BYTES);
    store_close(f->s);
    f->s = NULL;

    /* Rewrite the key's record as format 2 wrote it. */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dedup;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_set_mapsize(env, TEST_MAP_SIZE), 0);
    assert_int_equal(mdb_env_open(env, f->dir, 0, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "dedup", 0, &dedup), 0);
    MDB_val kv = {.mv_size = strlen(k[0]), .mv_data = (void *)k[0]}, v = {.mv_size = ULID_BYTES, .mv_data = id};
    assert_int_equal(mdb_put(txn, dedup, &kv, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    assert_int_equal(traw_set_format(f->dir, 2, 0), 0);

    f->s = tstore_open(f->dir, TEST_MAP_SIZE);
    buf = tadd_keyed_as("s", false, 0, 20, k, 1, "T", "x", &len);
    assert_int_equal(tapply(f->s, 2, buf, len, &o), STORE_DUPLICATE);
    assert_memory_equal(o->events[0]->id.data, id, ULID_BYTES);
    buf = tadd_keyed_as("s", false, 0, 21, k, 1, "T", "y", &len);
    assert_int_equal(tapply(f->s, 3, buf, len, &o), STORE_KEY_REUSE);
    assert_reuse(o, "old-key", "different data");
    assert_int_equal(store_flush(f->s), 0);
    assert_int_equal(tstats(f->s).event_count, 1);
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(traw_format(f->dir), 6);
    f->s = tstore_open(f->dir, TEST_MAP_SIZE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_new_stream, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_causation_correlation, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_expected_version, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_dedup, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_dedup_key_reuse, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_dedup_window, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_identity, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_idempotent_after_reopen, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_entry, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_id_monotonicity, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_checksum_chain, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_read_stream, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_read_all, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_read_all_empty, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_list_streams, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_reads_see_applied, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_members, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_member_tls, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_batch_bytes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_space_full, fx_setup, fx_teardown),
        cmocka_unit_test(test_space_check_counts_open_batch),
        cmocka_unit_test(test_space_room),
        cmocka_unit_test(test_lost_batch_stops_everything),
        cmocka_unit_test_setup_teardown(test_boot_marker, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_os_crash_recovery, fx_setup, fx_teardown),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test_setup_teardown(test_lengths_of_neighbouring_streams, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_format_upgrade, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_dedup_format2_keys, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
