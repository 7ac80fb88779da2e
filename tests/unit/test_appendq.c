/* test_appendq.c - log appends of one loop turn written together
 * (src/raftio/appendq.c).
 *
 * appendq interposes on a raft_io's append, truncate, snapshot_put and
 * close hooks. Here the inner io is a recorder: it keeps every call in
 * order and completes appends only when the test says so, so each test can
 * check what reaches raft_uv, in which order, and that every append raft
 * made gets its callback exactly once, after the write that carried it.
 * raft is played by the test, calling truncate(i) before each append at i
 * as raft 0.22.1 does. The loop is a real libuv loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "raftio_fixture.h"
#include "raftio/appendq.h"

#define MAX_CALLS 32
#define MAX_ENTRIES (APPENDQ_MAX_ENTRIES + 64)

enum call_kind { CALL_APPEND, CALL_TRUNCATE, CALL_SNAPSHOT_PUT };

/* What the recorder saw for one inner call. */
struct call {
    enum call_kind kind;
    unsigned n_entries;
    void *first_base, *last_base; /* entries' buffers, to check order */
    raft_index index;             /* truncate */
    struct raft_io_append *req;
    raft_io_append_cb cb;
};

/* One append raft would have made, and what happened to it. */
struct orig {
    struct raft_io_append append;
    int calls;
    int status;
    int order; /* when its callback ran, counting from 1 */
};

static struct appendq q;
static uv_loop_t loop;
static struct call calls[MAX_CALLS];
static int n_calls;
static int inner_fail; /* what the recorder's append returns */
static size_t inner_max_bytes; /* larger appends get RAFT_TOOBIG; 0: any size */
static int inner_closed;
static int n_callbacks;
static raft_index next_index; /* raft's: where the next append starts */
static struct raft_entry entries[MAX_ENTRIES];
static char payload[MAX_ENTRIES];

static struct call *record(enum call_kind kind)
{
    assert_true(n_calls < MAX_CALLS);
    struct call *c = &calls[n_calls++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    return c;
}

static int recorder_append(struct raft_io *io, struct raft_io_append *req, const struct raft_entry e[], unsigned n,
                           raft_io_append_cb cb)
{
    assert_ptr_equal(io, appendq_io(&q));
    if (inner_fail != 0)
        return inner_fail;
    size_t bytes = 0;
    for (unsigned i = 0; i < n; i++)
        bytes += e[i].buf.len;
    if (inner_max_bytes != 0 && bytes > inner_max_bytes)
        return RAFT_TOOBIG;
    struct call *c = record(CALL_APPEND);
    c->n_entries = n;
    c->first_base = e[0].buf.base;
    c->last_base = e[n - 1].buf.base;
    c->req = req;
    c->cb = cb;
    return 0;
}

static int recorder_truncate(struct raft_io *io, raft_index index)
{
    assert_ptr_equal(io, appendq_io(&q));
    record(CALL_TRUNCATE)->index = index;
    return 0;
}

static int recorder_snapshot_put(struct raft_io *io, unsigned trailing, struct raft_io_snapshot_put *req,
                                 const struct raft_snapshot *snapshot, raft_io_snapshot_put_cb cb)
{
    (void)io, (void)trailing, (void)req, (void)snapshot, (void)cb;
    record(CALL_SNAPSHOT_PUT);
    return 0;
}

static void recorder_close(struct raft_io *io, raft_io_close_cb cb)
{
    (void)cb;
    assert_ptr_equal(io, appendq_io(&q));
    inner_closed++;
}

/* The disk: the recorder's call i (an append) was written. */
static void complete(int i, int status)
{
    assert_int_equal(calls[i].kind, CALL_APPEND);
    calls[i].cb(calls[i].req, status);
}

static void orig_cb(struct raft_io_append *req, int status)
{
    struct orig *o = req->data;
    o->calls++;
    o->status = status;
    o->order = ++n_callbacks;
}

/* raft persists n new entries: truncate at their index, then append. Entry
 * i's buffer points at payload[i] so the order can be checked. */
static int raft_append(struct orig *o, unsigned n)
{
    struct raft_io *io = appendq_io(&q);
    memset(o, 0, sizeof *o);
    o->append.data = o;
    int rv = io->truncate(io, next_index);
    if (rv != 0)
        return rv;
    rv = io->append(io, &o->append, &entries[next_index], n, orig_cb);
    if (rv == 0)
        next_index += n;
    return rv;
}

/* raft deletes entries from index on (a follower whose log conflicts). */
static int raft_truncate(raft_index index)
{
    struct raft_io *io = appendq_io(&q);
    next_index = index;
    return io->truncate(io, index);
}

static void run_turn(void)
{
    loop_turn(&loop);
}

static int setup(void **state)
{
    (void)state;
    raftio_entries_fill(entries, payload, MAX_ENTRIES);
    n_calls = 0;
    inner_fail = 0;
    inner_max_bytes = 0;
    inner_closed = 0;
    n_callbacks = 0;
    next_index = 5;
    assert_int_equal(uv_loop_init(&loop), 0);
    memset(&q, 0, sizeof q);
    struct raft_io *io = appendq_io(&q);
    io->append = recorder_append;
    io->truncate = recorder_truncate;
    io->snapshot_put = recorder_snapshot_put;
    io->close = recorder_close;
    assert_int_equal(appendq_init(&q, &loop), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    struct raft_io *io = appendq_io(&q);
    io->close(io, NULL);
    assert_int_equal(inner_closed, 1);
    appendq_close(&q);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0); /* no handle left behind */
    return 0;
}

/* Appends of one turn reach raft_uv as one append at the end of the turn,
 * every entry in order; the truncates raft makes before each of them name
 * the end of the log, so only the first reaches raft_uv. Callbacks wait for
 * the write and run in order. */
static void test_turn_merged(void **state)
{
    (void)state;
    struct orig a, b, c;
    assert_int_equal(raft_append(&a, 1), 0);
    assert_int_equal(raft_append(&b, 2), 0);
    assert_int_equal(raft_append(&c, 3), 0);
    assert_int_equal(n_calls, 1);
    assert_int_equal(calls[0].kind, CALL_TRUNCATE);
    assert_int_equal(calls[0].index, 5);

    run_turn();
    assert_int_equal(n_calls, 2);
    assert_int_equal(calls[1].kind, CALL_APPEND);
    assert_int_equal(calls[1].n_entries, 6);
    assert_ptr_equal(calls[1].first_base, &payload[5]);
    assert_ptr_equal(calls[1].last_base, &payload[10]);
    assert_int_equal(a.calls + b.calls + c.calls, 0);
    assert_int_equal(q.appends_in, 3);
    assert_int_equal(q.appends_out, 1);
    assert_int_equal(q.truncates_skipped, 2);

    complete(1, 0);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    assert_int_equal(c.calls, 1);
    assert_int_equal(a.status, 0);
    assert_true(a.order < b.order && b.order < c.order);
}

/* While a batch is being written, what raft appends is held, across loop
 * turns, and goes as one append in the turn the write completes. */
static void test_held_while_writing(void **state)
{
    (void)state;
    struct orig a, b, c, d;
    assert_int_equal(raft_append(&a, 1), 0);
    run_turn();
    assert_int_equal(n_calls, 2); /* truncate, append */

    assert_int_equal(raft_append(&b, 1), 0);
    /* Nothing was held: b's truncate at 6 reaches raft_uv (which has 5 in
     * hand and finds nothing to delete). */
    assert_int_equal(n_calls, 3);
    assert_int_equal(calls[2].kind, CALL_TRUNCATE);
    assert_int_equal(calls[2].index, 6);
    run_turn();
    assert_int_equal(raft_append(&c, 1), 0);
    run_turn();
    assert_int_equal(n_calls, 3); /* nothing new while a is written */
    assert_int_equal(q.truncates_skipped, 1);

    complete(1, 0);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 0);
    assert_int_equal(raft_append(&d, 2), 0); /* later in the same turn */
    run_turn();
    assert_int_equal(n_calls, 4);
    assert_int_equal(calls[3].kind, CALL_APPEND);
    assert_int_equal(calls[3].n_entries, 4);
    assert_ptr_equal(calls[3].first_base, &payload[6]);
    assert_ptr_equal(calls[3].last_base, &payload[9]);
    assert_int_equal(q.truncates_skipped, 2);

    complete(3, RAFT_IOERR);
    assert_int_equal(b.calls, 1);
    assert_int_equal(d.calls, 1);
    assert_int_equal(b.status, RAFT_IOERR);
    assert_int_equal(d.status, RAFT_IOERR);
    assert_true(b.order < c.order && c.order < d.order);
}

/* A truncate that deletes entries (not the end of the log) first hands
 * what is held to raft_uv, then reaches it itself: raft_uv orders the
 * deletion behind the appends. The append after it starts a new batch. */
static void test_real_truncate_ordered(void **state)
{
    (void)state;
    struct orig a, b;
    assert_int_equal(raft_append(&a, 4), 0); /* entries 5..8 */
    assert_int_equal(raft_truncate(7), 0);
    assert_int_equal(n_calls, 3);
    assert_int_equal(calls[0].kind, CALL_TRUNCATE);
    assert_int_equal(calls[1].kind, CALL_APPEND);
    assert_int_equal(calls[1].n_entries, 4);
    assert_int_equal(calls[2].kind, CALL_TRUNCATE);
    assert_int_equal(calls[2].index, 7);

    assert_int_equal(raft_append(&b, 2), 0); /* 7..8 again */
    /* Its own truncate at 7 follows a forwarded one at 7 with nothing held:
     * it reaches raft_uv, which finds nothing to delete. */
    assert_int_equal(n_calls, 4);
    assert_int_equal(calls[3].kind, CALL_TRUNCATE);
    assert_int_equal(calls[3].index, 7);
    complete(1, 0);
    run_turn();
    assert_int_equal(n_calls, 5);
    assert_int_equal(calls[4].kind, CALL_APPEND);
    assert_int_equal(calls[4].n_entries, 2);
    assert_ptr_equal(calls[4].first_base, &payload[7]);
    complete(4, 0);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
}

/* A truncate that names an entry inside the held batch is no end-of-log
 * truncate either, even with nothing being written. */
static void test_truncate_inside_held(void **state)
{
    (void)state;
    struct orig a, b;
    assert_int_equal(raft_append(&a, 1), 0); /* 5 */
    assert_int_equal(raft_append(&b, 3), 0); /* 6..8 */
    assert_int_equal(raft_truncate(6), 0);
    assert_int_equal(n_calls, 3);
    assert_int_equal(calls[1].kind, CALL_APPEND);
    assert_int_equal(calls[1].n_entries, 4);
    assert_int_equal(calls[2].kind, CALL_TRUNCATE);
    assert_int_equal(calls[2].index, 6);
    complete(1, 0);
    assert_int_equal(a.calls + b.calls, 2);
}

/* A snapshot goes behind what is held, so raft_uv sees the log first. */
static void test_snapshot_after_held(void **state)
{
    (void)state;
    struct orig a;
    assert_int_equal(raft_append(&a, 2), 0);
    struct raft_io *io = appendq_io(&q);
    struct raft_io_snapshot_put put;
    struct raft_snapshot snap;
    memset(&snap, 0, sizeof snap);
    assert_int_equal(io->snapshot_put(io, 100, &put, &snap, NULL), 0);
    assert_int_equal(n_calls, 3);
    assert_int_equal(calls[1].kind, CALL_APPEND);
    assert_int_equal(calls[2].kind, CALL_SNAPSHOT_PUT);
    complete(1, 0);
    assert_int_equal(a.calls, 1);
}

/* A batch past the entry limit goes at once, without waiting for the turn
 * or for the write in flight (raft_uv queues it). */
static void test_large_batch_early(void **state)
{
    (void)state;
    struct orig a, b;
    assert_int_equal(raft_append(&a, 1), 0);
    run_turn();
    assert_int_equal(n_calls, 2);
    assert_int_equal(raft_append(&b, APPENDQ_MAX_ENTRIES), 0);
    assert_int_equal(n_calls, 4); /* its truncate, then the batch */
    assert_int_equal(calls[3].kind, CALL_APPEND);
    assert_int_equal(calls[3].n_entries, APPENDQ_MAX_ENTRIES);
    complete(1, 0);
    complete(3, 0);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
}

/* An append as large as a batch goes to raft_uv at once, behind what is
 * held, and should raft_uv refuse it, the refusal comes back to raft from
 * its own call and fails nothing else. */
static void test_large_append_direct(void **state)
{
    (void)state;
    struct orig a, b, c, d;
    assert_int_equal(raft_append(&a, 1), 0); /* 5, held */
    entries[6].buf.len = APPENDQ_MAX_BYTES;
    assert_int_equal(raft_append(&b, 1), 0); /* 6, large */
    assert_int_equal(n_calls, 3);
    assert_int_equal(calls[1].kind, CALL_APPEND);
    assert_ptr_equal(calls[1].first_base, &payload[5]);
    assert_int_equal(calls[2].kind, CALL_APPEND);
    assert_ptr_equal(calls[2].req, &b.append);
    complete(1, 0);
    complete(2, 0);
    assert_true(a.calls == 1 && b.calls == 1 && a.order < b.order);

    inner_max_bytes = APPENDQ_MAX_BYTES - 1;
    entries[7].buf.len = APPENDQ_MAX_BYTES;
    assert_int_equal(raft_append(&c, 1), RAFT_TOOBIG);
    next_index = 7; /* raft discards it and appends another entry there */
    entries[7].buf.len = 1;
    assert_int_equal(raft_append(&d, 1), 0);
    run_turn();
    assert_int_equal(calls[n_calls - 1].kind, CALL_APPEND);
    complete(n_calls - 1, 0);
    assert_int_equal(c.calls, 0);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.status, 0);
    entries[6].buf.len = 1;
}

/* An append raft_uv refuses is completed with its error, once, on a later
 * turn, never inside raft's call. */
static void test_refused(void **state)
{
    (void)state;
    struct orig a;
    assert_int_equal(raft_append(&a, 1), 0);
    inner_fail = RAFT_NOSPACE;
    run_turn();
    /* The batch was refused during the turn; its callback is due. */
    inner_fail = 0;
    if (a.calls == 0)
        run_turn();
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.status, RAFT_NOSPACE);
    run_turn();
    assert_int_equal(a.calls, 1);
    /* raft_uv's log now ends before raft's: later log writes are refused
     * at once, and nothing more reaches raft_uv. */
    int before = n_calls;
    struct orig b;
    assert_int_equal(raft_append(&b, 1), RAFT_NOSPACE);
    assert_int_equal(raft_truncate(5), RAFT_NOSPACE);
    assert_int_equal(n_calls, before);
    assert_int_equal(b.calls, 0);
}

/* Closing hands what is held to raft_uv, which settles it as its own
 * pending appends. */
static void test_close_hands_over(void **state)
{
    (void)state;
    struct orig a;
    assert_int_equal(raft_append(&a, 3), 0);
    struct raft_io *io = appendq_io(&q);
    io->close(io, NULL);
    assert_int_equal(inner_closed, 1);
    assert_int_equal(n_calls, 2);
    assert_int_equal(calls[1].kind, CALL_APPEND);
    complete(1, RAFT_CANCELED);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.status, RAFT_CANCELED);
    inner_closed = 0; /* teardown closes again */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_turn_merged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_held_while_writing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_real_truncate_ordered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate_inside_held, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_after_held, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_batch_early, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_append_direct, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_hands_over, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
