/* test_sendq.c - AppendEntries coalescing (src/raftio/sendq.c).
 *
 * sendq interposes on a raft_io's send hook. Here the inner io is a
 * recorder: it keeps every message it is handed and completes the sends
 * only when the test says so, so each test can check what reaches the wire,
 * in which order, and that every request raft made gets its callback
 * exactly once and only after the message carrying it was written. The
 * loop is a real libuv loop: batches go out at the end of a loop turn. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "raftio_fixture.h"
#include "raftio/sendq.h"

#define MAX_SENT 16
#define MAX_ENTRIES 8192

/* What the recorder saw for one inner send. */
struct sent {
    enum raft_message_type type;
    raft_id server_id;
    char address[32];
    raft_term term;
    raft_index prev_log_index;
    raft_index leader_commit;
    unsigned n_entries;
    void *first_base, *last_base; /* entries' buffers, to check order */
    struct raft_io_send *req;
    raft_io_send_cb cb;
};

/* One request raft would have made, and what happened to it. */
struct orig {
    struct raft_io_send send;
    int calls;
    int status;
};

static struct sendq q;
static uv_loop_t loop;
static struct sent sent[MAX_SENT];
static int n_sent;
static int inner_fail; /* what the recorder's send returns */
static int inner_closed;
static struct raft_entry entries[MAX_ENTRIES];
static char payload[MAX_ENTRIES];

static int recorder_send(struct raft_io *io, struct raft_io_send *req, const struct raft_message *m,
                         raft_io_send_cb cb)
{
    assert_ptr_equal(io, &q.io);
    if (inner_fail != 0)
        return inner_fail;
    assert_true(n_sent < MAX_SENT);
    struct sent *s = &sent[n_sent++];
    memset(s, 0, sizeof *s);
    s->type = m->type;
    s->server_id = m->server_id;
    snprintf(s->address, sizeof s->address, "%s", m->server_address);
    if (m->type == RAFT_APPEND_ENTRIES) {
        s->term = m->append_entries.term;
        s->prev_log_index = m->append_entries.prev_log_index;
        s->leader_commit = m->append_entries.leader_commit;
        s->n_entries = m->append_entries.n_entries;
        if (s->n_entries > 0) {
            s->first_base = m->append_entries.entries[0].buf.base;
            s->last_base = m->append_entries.entries[s->n_entries - 1].buf.base;
        }
    }
    s->req = req;
    s->cb = cb;
    return 0;
}

static void recorder_close(struct raft_io *io, raft_io_close_cb cb)
{
    (void)cb;
    assert_ptr_equal(io, &q.io);
    inner_closed++;
}

/* The wire: the recorder's send i was written. */
static void complete(int i, int status)
{
    sent[i].cb(sent[i].req, status);
}

static void orig_cb(struct raft_io_send *req, int status)
{
    struct orig *o = req->data;
    o->calls++;
    o->status = status;
}

static void message_init(struct raft_message *m, struct orig *o, enum raft_message_type type, raft_id id)
{
    memset(m, 0, sizeof *m);
    memset(o, 0, sizeof *o);
    o->send.data = o;
    m->type = type;
    m->server_id = id;
    m->server_address = id == 2 ? "127.0.0.1:9002" : "127.0.0.1:9003";
}

/* raft sends an AppendEntries of n entries starting at prev + 1. Entry i's
 * buffer points at payload[i] so the order can be checked. */
static int send_ae(struct orig *o, raft_id id, raft_term term, raft_index prev, unsigned n,
                   raft_index commit)
{
    struct raft_message m;
    message_init(&m, o, RAFT_APPEND_ENTRIES, id);
    m.append_entries.term = term;
    m.append_entries.prev_log_index = prev;
    m.append_entries.leader_commit = commit;
    m.append_entries.n_entries = n;
    m.append_entries.entries = n > 0 ? &entries[prev] : NULL;
    return q.io.send(&q.io, &o->send, &m, orig_cb);
}

static int send_vote(struct orig *o, raft_id id)
{
    struct raft_message m;
    message_init(&m, o, RAFT_REQUEST_VOTE, id);
    m.request_vote.term = 3;
    return q.io.send(&q.io, &o->send, &m, orig_cb);
}

static void run_turn(void)
{
    loop_turn(&loop);
}

static int setup(void **state)
{
    (void)state;
    raftio_entries_fill(entries, payload, MAX_ENTRIES);
    n_sent = 0;
    inner_fail = 0;
    inner_closed = 0;
    assert_int_equal(uv_loop_init(&loop), 0);
    memset(&q, 0, sizeof q);
    q.io.send = recorder_send;
    q.io.close = recorder_close;
    assert_int_equal(sendq_init(&q, &loop), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    q.io.close(&q.io, NULL);
    assert_int_equal(inner_closed, 1);
    sendq_close(&q);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0); /* no handle left behind */
    return 0;
}

/* Contiguous messages to one follower leave as one at the end of the turn,
 * carrying every entry in order and the newest commit index; another
 * follower gets its own message; callbacks wait for the write. */
static void test_contiguous_merged(void **state)
{
    (void)state;
    struct orig a, b, hb, c;
    assert_int_equal(send_ae(&a, 2, 2, 10, 1, 9), 0);
    assert_int_equal(send_ae(&b, 2, 2, 11, 2, 10), 0);
    assert_int_equal(send_ae(&hb, 2, 2, 13, 0, 12), 0); /* a heartbeat where b ends */
    assert_int_equal(send_ae(&c, 3, 2, 10, 3, 12), 0);
    assert_int_equal(n_sent, 0);

    run_turn();
    assert_int_equal(n_sent, 2);
    struct sent *to2 = sent[0].server_id == 2 ? &sent[0] : &sent[1];
    struct sent *to3 = sent[0].server_id == 2 ? &sent[1] : &sent[0];
    assert_int_equal(to2->type, RAFT_APPEND_ENTRIES);
    assert_int_equal(to2->prev_log_index, 10);
    assert_int_equal(to2->n_entries, 3);
    assert_int_equal(to2->leader_commit, 12);
    assert_ptr_equal(to2->first_base, &payload[10]);
    assert_ptr_equal(to2->last_base, &payload[12]);
    assert_string_equal(to2->address, "127.0.0.1:9002");
    assert_int_equal(to3->n_entries, 3);
    assert_int_equal(q.messages_in, 4);
    assert_int_equal(q.messages_out, 2);

    assert_int_equal(a.calls + b.calls + hb.calls + c.calls, 0);
    complete(to2 == &sent[0] ? 0 : 1, 0);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    assert_int_equal(hb.calls, 1);
    assert_int_equal(c.calls, 0);
    complete(to2 == &sent[0] ? 1 : 0, 0);
    assert_int_equal(c.calls, 1);
    assert_int_equal(a.status, 0);

    run_turn(); /* nothing held: nothing more is sent */
    assert_int_equal(n_sent, 2);
}

/* Another kind of message to the same follower must not overtake what is
 * held for it. */
static void test_order_kept(void **state)
{
    (void)state;
    struct orig a, v;
    assert_int_equal(send_ae(&a, 2, 2, 10, 1, 9), 0);
    assert_int_equal(send_vote(&v, 2), 0);
    assert_int_equal(n_sent, 2);
    assert_int_equal(sent[0].type, RAFT_APPEND_ENTRIES);
    assert_int_equal(sent[1].type, RAFT_REQUEST_VOTE);
    complete(0, 0);
    complete(1, 0);
    assert_int_equal(a.calls, 1);
    assert_int_equal(v.calls, 1);
}

/* A message that does not continue the held one (a resend after a
 * rejection, a new term) is never merged into it. */
static void test_gap_not_merged(void **state)
{
    (void)state;
    struct orig a, b, c;
    assert_int_equal(send_ae(&a, 2, 2, 10, 1, 9), 0);
    assert_int_equal(send_ae(&b, 2, 2, 5, 1, 9), 0); /* back to 6 */
    assert_int_equal(n_sent, 1);                      /* a went first */
    assert_int_equal(sent[0].prev_log_index, 10);
    assert_int_equal(send_ae(&c, 2, 3, 6, 1, 9), 0); /* new term */
    assert_int_equal(n_sent, 2);
    assert_int_equal(sent[1].prev_log_index, 5);
    run_turn();
    assert_int_equal(n_sent, 3);
    assert_int_equal(sent[2].term, 3);
    assert_int_equal(sent[2].n_entries, 1);
    for (int i = 0; i < 3; i++)
        complete(i, 0);
    assert_int_equal(a.calls + b.calls + c.calls, 3);
}

/* A batch that reaches the entry limit leaves at once. */
static void test_limit(void **state)
{
    (void)state;
    static struct orig o[SENDQ_MAX_ENTRIES / 64];
    unsigned per = 64;
    for (unsigned i = 0; i < SENDQ_MAX_ENTRIES / per; i++)
        assert_int_equal(send_ae(&o[i], 2, 2, 1 + i * per, per, 1), 0);
    assert_int_equal(n_sent, 1);
    assert_int_equal(sent[0].n_entries, SENDQ_MAX_ENTRIES);
    complete(0, 0);
    for (unsigned i = 0; i < SENDQ_MAX_ENTRIES / per; i++)
        assert_int_equal(o[i].calls, 1);
}

/* When the inner send refuses a batch, every request carried gets the
 * error, once, outside raft's call to send. */
static void test_inner_failure(void **state)
{
    (void)state;
    struct orig a, b;
    assert_int_equal(send_ae(&a, 2, 2, 10, 1, 9), 0);
    assert_int_equal(send_ae(&b, 2, 2, 11, 1, 9), 0);
    inner_fail = RAFT_NOCONNECTION;
    run_turn();
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    assert_int_equal(a.status, RAFT_NOCONNECTION);
    inner_fail = 0;
}

/* Closing the io cancels what is held and then closes the inner io. */
static void test_close_cancels(void **state)
{
    (void)state;
    struct orig a;
    assert_int_equal(send_ae(&a, 2, 2, 10, 1, 9), 0);
    q.io.close(&q.io, NULL);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.status, RAFT_CANCELED);
    assert_int_equal(inner_closed, 1);
    assert_int_equal(n_sent, 0);
    inner_closed = 0; /* teardown closes again, as a no-op on an empty queue */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_contiguous_merged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gap_not_merged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inner_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_cancels, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
