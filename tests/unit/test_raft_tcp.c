/* test_raft_tcp.c - raft's TCP transport wrapper (src/raftio/raft_tcp.c).
 *
 * raft_tcp interposes on a transport's hooks to set TCP_NODELAY and trade
 * the cluster-identity hello before raft sees a stream. Here the inner
 * transport is a recorder that keeps each connect and completes it when
 * the test says so, the way raft_uv_tcp does: a cancelled connect's
 * callback comes from its handle's close callback, possibly after the
 * transport itself has closed. The hello tests connect two wrappers over a
 * real loopback connection and check what each side's raft gets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "raftio/raft_tcp.h"

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
    raft_tcp_init(&t, &loop);
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

/* ---- the hello, over a real connection ----------------------------------- */

/* Two wrappers: `a` connects (its inner connect is completed with the
 * client end of a loopback connection), `b` accepts (its inner listener is
 * handed the server end). */
static struct raft_tcp a, b;
static raft_uv_accept_cb b_inner_accept;  /* what b's wrapper gave its inner listen */
static raft_uv_connect_cb a_inner_connect;
static struct raft_uv_connect *a_inner_req;

static uv_tcp_t listener;
static uv_tcp_t *server_end;    /* accepted, for b */
static uv_connect_t client_connect;
static uv_tcp_t *client_end;    /* connected, for a */

/* What each side's raft got. */
static int a_raft_calls, a_raft_status;
static uv_stream_t *a_raft_stream;
static int b_accepts;
static uv_stream_t *b_raft_stream;
static raft_id b_accepted_id;
static char b_received[256];
static size_t b_received_len;
static bool inner_closed[2];

static int pair_connect(struct raft_uv_transport *transport, struct raft_uv_connect *req, raft_id id,
                        const char *address, raft_uv_connect_cb cb)
{
    (void)transport;
    (void)id;
    (void)address;
    a_inner_req = req;
    a_inner_connect = cb;
    req->cb = cb;
    return 0;
}

static int pair_listen(struct raft_uv_transport *transport, raft_uv_accept_cb cb)
{
    (void)transport;
    b_inner_accept = cb;
    return 0;
}

static void pair_close(struct raft_uv_transport *transport, raft_uv_transport_close_cb cb)
{
    inner_closed[transport == &b.transport] = true;
    if (cb != NULL)
        cb(transport);
}

static void a_raft_connected(struct raft_uv_connect *req, struct uv_stream_s *stream, int status)
{
    (void)req;
    a_raft_calls++;
    a_raft_status = status;
    a_raft_stream = stream;
}

static void b_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(b_received + b_received_len, (unsigned)(sizeof b_received - b_received_len));
}

static int b_read_errors;

static void free_handle(uv_handle_t *h)
{
    free(h);
}

/* As raft_uv does: an error closes the stream. */
static void b_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    if (nread > 0)
        b_received_len += (size_t)nread;
    if (nread < 0) {
        b_read_errors++;
        uv_close((uv_handle_t *)stream, free_handle);
        b_raft_stream = NULL;
    }
}

/* raft_uv's side of b: reads whatever follows the hello. */
static void b_raft_accept(struct raft_uv_transport *transport, raft_id id, const char *address,
                          struct uv_stream_s *stream)
{
    (void)transport;
    (void)address;
    b_accepts++;
    b_accepted_id = id;
    b_raft_stream = stream;
    assert_int_equal(uv_read_start(stream, b_alloc, b_read), 0);
}

static void on_client_connected(uv_connect_t *req, int status)
{
    (void)req;
    assert_int_equal(status, 0);
    a_inner_connect(a_inner_req, (uv_stream_t *)client_end, 0);
}

static void on_listener_connection(uv_stream_t *server, int status)
{
    assert_int_equal(status, 0);
    server_end = malloc(sizeof *server_end);
    assert_non_null(server_end);
    assert_int_equal(uv_tcp_init(&loop, server_end), 0);
    assert_int_equal(uv_accept(server, (uv_stream_t *)server_end), 0);
    /* As raft_uv_tcp does once it has read its own handshake. */
    b_inner_accept(&b.transport, 1, "127.0.0.1:1", (uv_stream_t *)server_end);
}

static void wrapper_init(struct raft_tcp *w)
{
    *w = (struct raft_tcp){0};
    w->transport.connect = pair_connect;
    w->transport.listen = pair_listen;
    w->transport.close = pair_close;
    raft_tcp_init(w, &loop);
}

static int pair_setup(void **state)
{
    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    wrapper_init(&a);
    wrapper_init(&b);
    a_raft_calls = a_raft_status = b_accepts = b_read_errors = 0;
    a_raft_stream = b_raft_stream = NULL;
    b_accepted_id = 0;
    b_received_len = 0;
    inner_closed[0] = inner_closed[1] = false;
    server_end = client_end = NULL;
    assert_int_equal(b.transport.listen(&b.transport, b_raft_accept), 0);
    assert_int_equal(uv_tcp_init(&loop, &listener), 0);
    struct sockaddr_in addr;
    assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &addr), 0);
    assert_int_equal(uv_tcp_bind(&listener, (const struct sockaddr *)&addr, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&listener, 4, on_listener_connection), 0);
    return 0;
}

static int pair_teardown(void **state)
{
    (void)state;
    /* Raft closes its transports, then the streams it owns. */
    if (!a.closing)
        a.transport.close(&a.transport, NULL);
    b.transport.close(&b.transport, NULL);
    raft_tcp_close(&a);
    raft_tcp_close(&b);
    if (a_raft_stream != NULL)
        uv_close((uv_handle_t *)a_raft_stream, free_handle);
    if (b_raft_stream != NULL)
        uv_close((uv_handle_t *)b_raft_stream, free_handle);
    uv_close((uv_handle_t *)&listener, NULL);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_true(inner_closed[0] && inner_closed[1]);
    assert_int_equal(uv_loop_close(&loop), 0);
    return 0;
}

/* Open a loopback connection to the listener as client_end; cb runs once
 * it is made. */
static void connect_client(uv_connect_cb cb)
{
    client_end = malloc(sizeof *client_end);
    assert_non_null(client_end);
    assert_int_equal(uv_tcp_init(&loop, client_end), 0);
    struct sockaddr_storage name;
    int len = sizeof name;
    assert_int_equal(uv_tcp_getsockname(&listener, (struct sockaddr *)&name, &len), 0);
    assert_int_equal(uv_tcp_connect(&client_connect, client_end, (const struct sockaddr *)&name, cb), 0);
}

/* a asks for a connection to b; the loopback connection is made. */
static void pair_connect_now(void)
{
    static struct raft_uv_connect req;
    assert_int_equal(a.transport.connect(&a.transport, &req, 2, "127.0.0.1:2", a_raft_connected), 0);
    connect_client(on_client_connected);
}

/* Run the loop until cond holds, failing after 10 s (the listener keeps
 * the loop alive, so a turn that blocks could wait for ever). */
#define RUN_UNTIL(cond)                                                                                            \
    do {                                                                                                           \
        uint64_t deadline_ = uv_hrtime() + 10000000000ull;                                                          \
        while (!(cond) && uv_hrtime() < deadline_)                                                                 \
            uv_run(&loop, UV_RUN_NOWAIT);                                                                          \
        assert_true(cond);                                                                                         \
    } while (0)

static uv_write_t raft_write;
/* A RequestVote as raft_uv encodes it: type 3, a 40-byte header. */
static const char raft_bytes[56] = {3, 0, 0, 0, 0, 0, 0, 0, 40, 0, 0, 0, 0, 0, 0, 0, 7};

/* a's raft writes right after the hello: b's raft must read exactly that. */
static void send_raft_bytes(uv_stream_t *stream)
{
    uv_buf_t buf = uv_buf_init((char *)raft_bytes, sizeof raft_bytes);
    assert_int_equal(uv_write(&raft_write, stream, &buf, 1, NULL), 0);
}

static const uint8_t id_one[RAFT_TCP_ID_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t id_two[RAFT_TCP_ID_BYTES] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};

/* Same identity: both raft sides get the connection, and not one byte of
 * raft's is taken by the hello. */
static void test_hello_same_cluster(void **state)
{
    (void)state;
    raft_tcp_set_cluster_id(&a, id_one);
    raft_tcp_set_cluster_id(&b, id_one);
    pair_connect_now();
    RUN_UNTIL(a_raft_calls == 1 && b_accepts == 1);
    assert_int_equal(a_raft_status, 0);
    assert_non_null(a_raft_stream);
    assert_int_equal(b_accepted_id, 1);
    send_raft_bytes(a_raft_stream);
    RUN_UNTIL(b_received_len == sizeof raft_bytes);
    assert_memory_equal(b_received, raft_bytes, sizeof raft_bytes);
    assert_int_equal(a.stats.refused + b.stats.refused + a.stats.legacy + b.stats.legacy, 0);
}

/* Different identities: neither raft side gets anything, both count it. */
static void test_hello_other_cluster_refused(void **state)
{
    (void)state;
    raft_tcp_set_cluster_id(&a, id_one);
    raft_tcp_set_cluster_id(&b, id_two);
    pair_connect_now();
    RUN_UNTIL(a_raft_calls == 1 && b.stats.refused == 1);
    assert_int_equal(a_raft_status, RAFT_NOCONNECTION);
    assert_null(a_raft_stream);
    assert_int_equal(a.stats.refused, 1);
    assert_int_equal(b_accepts, 0);
}

/* An end that knows no identity yet (a node waiting to be added) accepts. */
static void test_hello_unknown_identity_accepted(void **state)
{
    (void)state;
    raft_tcp_set_cluster_id(&a, id_one);
    pair_connect_now();
    RUN_UNTIL(a_raft_calls == 1 && b_accepts == 1);
    assert_int_equal(a_raft_status, 0);
    assert_int_equal(a.stats.refused + b.stats.refused, 0);
}

/* A connector of an older version sends raft's bytes at once: the acceptor
 * hands them to raft untouched. */
static void legacy_connected(uv_connect_t *req, int status)
{
    (void)req;
    assert_int_equal(status, 0);
    send_raft_bytes((uv_stream_t *)client_end);
}

static void test_hello_legacy_connector(void **state)
{
    (void)state;
    raft_tcp_set_cluster_id(&b, id_two);
    connect_client(legacy_connected);
    RUN_UNTIL(b_received_len == sizeof raft_bytes);
    assert_memory_equal(b_received, raft_bytes, sizeof raft_bytes);
    assert_int_equal(b.stats.legacy, 1);
    /* The test owns the client end (no wrapper took it). */
    a_raft_stream = (uv_stream_t *)client_end;
}

/* An acceptor of an older version never says hello: after the wait the
 * connector hands the connection to raft without one. */
static void test_hello_legacy_acceptor(void **state)
{
    (void)state;
    raft_tcp_set_cluster_id(&a, id_one);
    a.hello_wait_ms = 50;
    /* b's wrapper is bypassed: its raft reads the raw connection. */
    b_inner_accept = b_raft_accept;
    pair_connect_now();
    RUN_UNTIL(a_raft_calls == 1 && b_accepts == 1);
    assert_int_equal(a_raft_status, 0);
    assert_int_equal(a.stats.legacy, 1);
    send_raft_bytes(a_raft_stream);
    RUN_UNTIL(b_received_len == sizeof raft_bytes);
    assert_memory_equal(b_received, raft_bytes, sizeof raft_bytes);
}

/* Closing the transport during a hello cancels raft's connect. */
static void test_hello_close_cancels(void **state)
{
    (void)state;
    a.hello_wait_ms = 60000;
    b_inner_accept = b_raft_accept; /* b never answers */
    pair_connect_now();
    RUN_UNTIL(b_accepts == 1);
    RUN_UNTIL(a.hellos != NULL);
    a.transport.close(&a.transport, NULL);
    assert_int_equal(a_raft_calls, 1);
    assert_int_equal(a_raft_status, RAFT_CANCELED);
}

/* ---- the cluster secret ------------------------------------------------------ */

#define HELLO_JUNK_BYTES 32
static const char secret_one[] = "0123456789abcdef-one";
static const char secret_two[] = "0123456789abcdef-two";

static void set_secrets(const char *sa, const char *sb)
{
    if (sa != NULL)
        raft_tcp_set_secret(&a, 1, sa, strlen(sa));
    if (sb != NULL)
        raft_tcp_set_secret(&b, 2, sb, strlen(sb));
}

/* The same secret: both proofs hold, raft's bytes follow the hello intact. */
static void test_secret_same(void **state)
{
    (void)state;
    raft_tcp_set_cluster_id(&a, id_one);
    raft_tcp_set_cluster_id(&b, id_one);
    set_secrets(secret_one, secret_one);
    pair_connect_now();
    RUN_UNTIL(a_raft_calls == 1 && b_accepts == 1);
    assert_int_equal(a_raft_status, 0);
    send_raft_bytes(a_raft_stream);
    RUN_UNTIL(b_received_len == sizeof raft_bytes);
    assert_memory_equal(b_received, raft_bytes, sizeof raft_bytes);
    assert_int_equal(a.stats.unauthenticated + b.stats.unauthenticated + b.stats.bad_frames, 0);
}

/* Different secrets: the acceptor refuses the connector's proof; raft on
 * neither side gets the connection. */
static void test_secret_different(void **state)
{
    (void)state;
    set_secrets(secret_one, secret_two);
    pair_connect_now();
    RUN_UNTIL(a_raft_calls == 1 && b.stats.unauthenticated == 1);
    assert_int_equal(a_raft_status, RAFT_NOCONNECTION);
    assert_int_equal(b_accepts, 0);
}

/* One end has a secret, the other none: refused at both ends. */
static void expect_refused_at_both_ends(const char *sa, const char *sb)
{
    set_secrets(sa, sb);
    pair_connect_now();
    RUN_UNTIL(a_raft_calls == 1 && a.stats.unauthenticated == 1 && b.stats.unauthenticated == 1);
    assert_int_equal(a_raft_status, RAFT_NOCONNECTION);
    assert_int_equal(b_accepts, 0);
}

static void test_secret_connector_without(void **state)
{
    (void)state;
    expect_refused_at_both_ends(NULL, secret_one);
}

static void test_secret_acceptor_without(void **state)
{
    (void)state;
    expect_refused_at_both_ends(secret_one, NULL);
}

/* A raw client (no wrapper: the test sends what `connected` writes) to b,
 * which has a secret: refused before raft reads a byte. */
static void expect_raw_client_refused(uv_connect_cb connected)
{
    set_secrets(NULL, secret_one);
    connect_client(connected);
    RUN_UNTIL(b.stats.unauthenticated == 1);
    assert_int_equal(b_accepts, 0);
    assert_int_equal(b_received_len, 0);
    assert_int_equal(b.stats.legacy, 0);
    a_raft_stream = (uv_stream_t *)client_end;
}

/* A peer that speaks raft at once (an outsider). */
static void test_secret_refuses_raw_raft(void **state)
{
    (void)state;
    expect_raw_client_refused(legacy_connected);
}

/* A first byte that promises a hello, then something else. */
static uv_write_t junk_write;
static const char junk[HELLO_JUNK_BYTES] = "EFHELLOX not a hello at all.....";

static void junk_connected(uv_connect_t *req, int status)
{
    (void)req;
    assert_int_equal(status, 0);
    uv_buf_t buf = uv_buf_init((char *)junk, sizeof junk);
    assert_int_equal(uv_write(&junk_write, (uv_stream_t *)client_end, &buf, 1, NULL), 0);
}

static void test_not_a_hello(void **state)
{
    (void)state;
    expect_raw_client_refused(junk_connected);
}

/* With a secret, an acceptor that never says hello is not taken for an
 * older version. */
static void test_secret_silent_acceptor(void **state)
{
    (void)state;
    set_secrets(secret_one, NULL);
    a.hello_wait_ms = 50;
    b_inner_accept = b_raft_accept;
    pair_connect_now();
    RUN_UNTIL(a_raft_calls == 1 && b_accepts == 1);
    assert_int_equal(a_raft_status, RAFT_NOCONNECTION);
    assert_int_equal(a.stats.unauthenticated, 1);
    assert_int_equal(a.stats.legacy, 0);
}

/* ---- the frame checks ------------------------------------------------------------ */

static uv_write_t bad_write;
/* An AppendEntries whose batch header claims 2^31 entries in a 40-byte
 * header: raft 0.22.1 would read far past it. */
static const uint8_t bad_frame[56] = {1, 0, 0, 0, 0, 0, 0, 0, 40, 0, 0, 0, 0, 0, 0, 0,
                                      [16 + 32 + 3] = 0x80};

/* A bad message closes the connection (through raft's read callback)
 * before raft has a byte of it. */
static void test_bad_frame_closes(void **state)
{
    (void)state;
    set_secrets(secret_one, secret_one);
    pair_connect_now();
    RUN_UNTIL(a_raft_calls == 1 && b_accepts == 1);
    send_raft_bytes(a_raft_stream);
    uv_buf_t buf = uv_buf_init((char *)bad_frame, sizeof bad_frame);
    assert_int_equal(uv_write(&bad_write, a_raft_stream, &buf, 1, NULL), 0);
    RUN_UNTIL(b_read_errors == 1);
    assert_int_equal(b.stats.bad_frames, 1);
    /* Not a byte of the bad message: a read that holds one is refused
     * whole (raft_uv reads message by message, so it holds no other). */
    assert_true(b_received_len == 0 || b_received_len == sizeof raft_bytes);
    assert_memory_equal(b_received, raft_bytes, b_received_len);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_completion_forwarded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_connect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_after_close_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_after_close_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hello_same_cluster, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_hello_other_cluster_refused, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_hello_unknown_identity_accepted, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_hello_legacy_connector, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_hello_legacy_acceptor, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_hello_close_cancels, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_secret_same, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_secret_different, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_secret_connector_without, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_secret_acceptor_without, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_secret_refuses_raw_raft, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_secret_silent_acceptor, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_not_a_hello, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_bad_frame_closes, pair_setup, pair_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
