/* test_raft_tcp.c - raft's TCP transport wrapper (src/server/raft_tcp.c).
 *
 * raft_tcp interposes on a transport's connect hook to set TCP_NODELAY
 * before raft sees a stream. Here the inner transport is a recorder that
 * keeps each connect and completes it when the test says so, the way
 * raft_uv_tcp does: a cancelled connect's callback comes from its handle's
 * close callback, possibly after the transport itself has closed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "server/raft_tcp.h"

static struct raft_tcp t;
static uv_loop_t loop;

/* The inner connect's last request and the callback it was given. */
static struct raft_uv_connect *inner_req;
static raft_uv_connect_cb inner_cb;
static int inner_fail;

/* What raft's own callback saw. */
static int raft_calls;
static int raft_status;
static struct raft_uv_connect *raft_req; /* the request of the last call */

static int recorder_connect(struct raft_uv_transport *transport, struct raft_uv_connect *req, raft_id id,
                            const char *address, raft_uv_connect_cb cb)
{
    assert_ptr_equal(transport, &t.transport);
    (void)id;
    (void)address;
    if (inner_fail != 0)
        return inner_fail;
    inner_req = req;
    inner_cb = cb;
    req->cb = cb; /* as raft_uv_tcp does */
    return 0;
}

static int recorder_listen(struct raft_uv_transport *transport, raft_uv_accept_cb cb)
{
    (void)transport;
    (void)cb;
    return 0;
}

static void raft_connect_cb(struct raft_uv_connect *req, struct uv_stream_s *stream, int status)
{
    (void)stream;
    raft_calls++;
    raft_status = status;
    raft_req = req;
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    t = (struct raft_tcp){0};
    t.transport.connect = recorder_connect;
    t.transport.listen = recorder_listen;
    raft_tcp_init(&t);
    inner_req = NULL;
    inner_cb = NULL;
    inner_fail = 0;
    raft_calls = 0;
    raft_status = 0;
    raft_req = NULL;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    raft_tcp_close(&t);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    return 0;
}

/* A failed connect reaches raft's callback once, with its status. */
static void test_completion_forwarded(void **state)
{
    (void)state;
    struct raft_uv_connect req = {0};
    assert_int_equal(t.transport.connect(&t.transport, &req, 2, "127.0.0.1:1", raft_connect_cb), 0);
    assert_non_null(inner_cb);
    inner_cb(inner_req, NULL, RAFT_NOCONNECTION);
    assert_int_equal(raft_calls, 1);
    assert_int_equal(raft_status, RAFT_NOCONNECTION);
    assert_ptr_equal(req.cb, raft_connect_cb);
}

/* Two connects in flight each complete to their own request. */
static void test_two_in_flight(void **state)
{
    (void)state;
    struct raft_uv_connect a = {0}, b = {0};
    assert_int_equal(t.transport.connect(&t.transport, &a, 2, "127.0.0.1:1", raft_connect_cb), 0);
    raft_uv_connect_cb cb = inner_cb;
    assert_int_equal(t.transport.connect(&t.transport, &b, 3, "127.0.0.1:2", raft_connect_cb), 0);
    cb(&a, NULL, RAFT_NOCONNECTION);
    assert_ptr_equal(raft_req, &a);
    assert_int_equal(raft_status, RAFT_NOCONNECTION);
    cb(&b, NULL, RAFT_CANCELED);
    assert_ptr_equal(raft_req, &b);
    assert_int_equal(raft_calls, 2);
    assert_int_equal(raft_status, RAFT_CANCELED);
}

/* A connect the inner transport refuses leaves nothing behind: a later
 * callback for that request is one of a closed transport's. */
static void test_refused_connect(void **state)
{
    (void)state;
    struct raft_uv_connect req = {0}, other = {0};
    inner_fail = RAFT_NOMEM;
    assert_int_equal(t.transport.connect(&t.transport, &req, 2, "127.0.0.1:1", raft_connect_cb), RAFT_NOMEM);
    inner_fail = 0;
    assert_int_equal(t.transport.connect(&t.transport, &other, 3, "127.0.0.1:2", raft_connect_cb), 0);
    inner_cb(&other, NULL, RAFT_NOCONNECTION);
    assert_int_equal(raft_calls, 1);
    assert_ptr_equal(raft_req, &other);
    /* No entry was kept for the refused request. */
    inner_cb(&req, NULL, RAFT_CANCELED);
    assert_int_equal(raft_calls, 1);
}

/* raft_uv_tcp fires a cancelled connect's callback from its handle's close
 * callback, which can come after raft has closed: the wrapper drops it
 * (it used to abort the process at shutdown). */
static void test_cancel_after_close_dropped(void **state)
{
    (void)state;
    struct raft_uv_connect req = {0};
    assert_int_equal(t.transport.connect(&t.transport, &req, 2, "127.0.0.1:1", raft_connect_cb), 0);
    raft_uv_connect_cb cb = inner_cb;
    raft_tcp_close(&t);
    cb(&req, NULL, RAFT_CANCELED);
    assert_int_equal(raft_calls, 0);
}

/* A stream delivered after the close has no owner: the wrapper closes and
 * frees it (the leak checker of the sanitizer build sees the rest). */
static void test_stream_after_close_closed(void **state)
{
    (void)state;
    struct raft_uv_connect req = {0};
    assert_int_equal(t.transport.connect(&t.transport, &req, 2, "127.0.0.1:1", raft_connect_cb), 0);
    raft_uv_connect_cb cb = inner_cb;
    raft_tcp_close(&t);
    uv_tcp_t *tcp = malloc(sizeof *tcp);
    assert_non_null(tcp);
    assert_int_equal(uv_tcp_init(&loop, tcp), 0);
    cb(&req, (struct uv_stream_s *)tcp, 0);
    assert_int_equal(raft_calls, 0);
    assert_true(uv_is_closing((uv_handle_t *)tcp));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_completion_forwarded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_connect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_after_close_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_after_close_closed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
