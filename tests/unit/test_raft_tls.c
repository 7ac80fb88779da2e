/* test_raft_tls.c - raft's TLS bridge (src/raftio/raft_tls.h) on a real
 * loop and loopback TCP: two links, one accepting and one connecting,
 * each handing its plaintext end to the test as raft_uv would get it.
 *
 *   - bytes written on one plaintext end arrive intact on the other;
 *   - while the reader does not read, the links buffer a bounded amount:
 *     a write larger than every buffer on the way never completes, and
 *     completes once the reader reads;
 *   - a peer whose certificate another CA signed is refused at both ends;
 *   - closing one plaintext end gives the other an EOF, and every handle
 *     closes (the loop closes with nothing left).
 *
 * The certificates (self-signed P-256, each its own CA) are made here in a
 * temporary directory. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <raft.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "raftio/raft_tls.h"

/* More than every buffer between the two plaintext ends: two socketpairs,
 * two links' bounds (RAFT_TLS_PENDING_MAX each) and loopback TCP's. */
#define BIG_WRITE (48u << 20)

struct certs {
    char dir[64];
    char a_cert[128], a_key[128], b_cert[128], b_key[128];
};

static struct certs certs;

static void write_cert(const char *cert_path, const char *key_path)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    assert_non_null(key);
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"eventflow-node", -1, -1, 0);
    X509_set_issuer_name(x, name);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    FILE *f = fopen(cert_path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, x), 1);
    fclose(f);
    f = fopen(key_path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
}

static int certs_setup(void **state)
{
    (void)state;
    snprintf(certs.dir, sizeof certs.dir, "/tmp/eventflow-raft-tls-unit-XXXXXX");
    if (mkdtemp(certs.dir) == NULL)
        return -1;
    snprintf(certs.a_cert, sizeof certs.a_cert, "%s/a.crt", certs.dir);
    snprintf(certs.a_key, sizeof certs.a_key, "%s/a.key", certs.dir);
    snprintf(certs.b_cert, sizeof certs.b_cert, "%s/b.crt", certs.dir);
    snprintf(certs.b_key, sizeof certs.b_key, "%s/b.key", certs.dir);
    write_cert(certs.a_cert, certs.a_key);
    write_cert(certs.b_cert, certs.b_key);
    return 0;
}

static int certs_teardown(void **state)
{
    (void)state;
    unlink(certs.a_cert);
    unlink(certs.a_key);
    unlink(certs.b_cert);
    unlink(certs.b_key);
    return rmdir(certs.dir);
}

/* ---- two links over loopback ------------------------------------------------ */

struct end {
    struct raft_tls_link *link;
    uv_stream_t *plain; /* the plaintext end, once ready; ours to close */
    int status;
    bool ready;         /* the callback ran */
    size_t nread;       /* bytes read on plain */
    bool eof;
};

struct pair {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_connect_t connect;
    struct raft_tls *server_tls, *client_tls;
    struct end server, client;
};

static void on_ready(void *data, uv_stream_t *plain, int status, const char *why)
{
    (void)why;
    struct end *e = data;
    e->ready = true;
    e->status = status;
    e->plain = plain;
}

static void on_accept(uv_stream_t *listener, int status)
{
    struct pair *p = listener->data;
    assert_int_equal(status, 0);
    uv_tcp_t *tcp = raft_malloc(sizeof *tcp);
    assert_non_null(tcp);
    assert_int_equal(uv_tcp_init(&p->loop, tcp), 0);
    assert_int_equal(uv_accept(listener, (uv_stream_t *)tcp), 0);
    raft_tls_link_start(p->server_tls, &p->loop, (uv_stream_t *)tcp, false, on_ready, &p->server, &p->server.link);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct pair *p = req->data;
    assert_int_equal(status, 0);
    raft_tls_link_start(p->client_tls, &p->loop, req->handle, true, on_ready, &p->client, &p->client.link);
}

/* Run the loop until pred holds, for 5 s at most. */
static void run_until(struct pair *p, bool (*pred)(struct pair *p))
{
    uint64_t end = uv_now(&p->loop) + 5000;
    while (!pred(p) && uv_now(&p->loop) < end)
        uv_run(&p->loop, UV_RUN_ONCE);
    assert_true(pred(p));
}

static bool both_ready(struct pair *p)
{
    return p->server.ready && p->client.ready;
}

/* Connect a client link with client_tls to a server link with server_tls,
 * and run until both have called back. */
static void pair_open(struct pair *p, struct raft_tls *server_tls, struct raft_tls *client_tls)
{
    memset(p, 0, sizeof *p);
    assert_int_equal(uv_loop_init(&p->loop), 0);
    p->server_tls = server_tls;
    p->client_tls = client_tls;
    assert_int_equal(uv_tcp_init(&p->loop, &p->listener), 0);
    p->listener.data = p;
    struct sockaddr_in addr;
    assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &addr), 0);
    assert_int_equal(uv_tcp_bind(&p->listener, (const struct sockaddr *)&addr, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&p->listener, 4, on_accept), 0);
    struct sockaddr_storage bound;
    int len = sizeof bound;
    assert_int_equal(uv_tcp_getsockname(&p->listener, (struct sockaddr *)&bound, &len), 0);
    uv_tcp_t *tcp = raft_malloc(sizeof *tcp);
    assert_non_null(tcp);
    assert_int_equal(uv_tcp_init(&p->loop, tcp), 0);
    p->connect.data = p;
    assert_int_equal(uv_tcp_connect(&p->connect, tcp, (const struct sockaddr *)&bound, on_connect), 0);
    run_until(p, both_ready);
}

static void free_plain(uv_handle_t *h)
{
    raft_free(h);
}

/* Close what is left and check that nothing is: every handle closed. */
static void pair_close(struct pair *p)
{
    if (p->server.plain != NULL && !uv_is_closing((uv_handle_t *)p->server.plain))
        uv_close((uv_handle_t *)p->server.plain, free_plain);
    if (p->client.plain != NULL && !uv_is_closing((uv_handle_t *)p->client.plain))
        uv_close((uv_handle_t *)p->client.plain, free_plain);
    uv_close((uv_handle_t *)&p->listener, NULL);
    while (uv_run(&p->loop, UV_RUN_DEFAULT) != 0)
        ;
    assert_int_equal(uv_loop_close(&p->loop), 0);
}

static struct raft_tls *tls_of(const char *cert, const char *key, const char *ca)
{
    char err[256];
    struct raft_tls *tls = raft_tls_new(cert, key, ca, err, sizeof err);
    if (tls == NULL)
        fail_msg("raft_tls_new: %s", err);
    return tls;
}

/* ---- reading and writing the plaintext ends ------------------------------------ */

static char read_chunk[65536];

static void read_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(read_chunk, sizeof read_chunk);
}

/* Byte i of the big write is (i * 7) & 0xff: the reader checks order. */
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct end *e = s->data;
    if (n == UV_EOF) {
        e->eof = true;
        return;
    }
    assert_true(n >= 0);
    for (ssize_t i = 0; i < n; i++)
        assert_int_equal((uint8_t)buf->base[i], (uint8_t)(((e->nread + (size_t)i) * 7) & 0xff));
    e->nread += (size_t)n;
}

static bool write_done;

static void on_written(uv_write_t *w, int status)
{
    assert_int_equal(status, 0);
    write_done = true;
    free(w->data);
}

static bool server_read_all(struct pair *p)
{
    return p->server.nread == BIG_WRITE && write_done;
}

static bool server_eof(struct pair *p)
{
    return p->server.eof;
}

static void stop_loop(uv_timer_t *t)
{
    uv_stop(t->loop);
}

static void test_bytes_bounded_and_intact(void **state)
{
    (void)state;
    struct raft_tls *tls = tls_of(certs.a_cert, certs.a_key, certs.a_cert);
    struct pair p;
    pair_open(&p, tls, tls);
    assert_int_equal(p.server.status, 0);
    assert_int_equal(p.client.status, 0);

    uint8_t *data = malloc(BIG_WRITE);
    assert_non_null(data);
    for (size_t i = 0; i < BIG_WRITE; i++)
        data[i] = (uint8_t)((i * 7) & 0xff);
    uv_write_t w = {.data = data};
    uv_buf_t b = uv_buf_init((char *)data, BIG_WRITE);
    write_done = false;
    assert_int_equal(uv_write(&w, p.client.plain, &b, 1, on_written), 0);

    /* Nobody reads the server's end: after a while with the loop running,
     * the write is still not through, since nothing on the way buffers
     * without bound. */
    uv_timer_t t;
    assert_int_equal(uv_timer_init(&p.loop, &t), 0);
    assert_int_equal(uv_timer_start(&t, stop_loop, 500, 0), 0);
    uv_run(&p.loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    assert_false(write_done);

    p.server.plain->data = &p.server;
    assert_int_equal(uv_read_start(p.server.plain, read_alloc, on_read), 0);
    run_until(&p, server_read_all);
    assert_true(raft_tls_bytes(tls) > 2u * BIG_WRITE);

    /* The client's end closes: the server's reads an EOF. */
    uv_close((uv_handle_t *)p.client.plain, free_plain);
    run_until(&p, server_eof);
    pair_close(&p);
    raft_tls_free(tls);
}

static void test_other_ca_refused(void **state)
{
    (void)state;
    struct raft_tls *server_tls = tls_of(certs.a_cert, certs.a_key, certs.a_cert);
    struct raft_tls *client_tls = tls_of(certs.b_cert, certs.b_key, certs.b_cert);
    struct pair p;
    pair_open(&p, server_tls, client_tls);
    assert_int_not_equal(p.server.status, 0);
    assert_int_not_equal(p.client.status, 0);
    assert_null(p.server.plain);
    assert_null(p.client.plain);
    pair_close(&p);
    raft_tls_free(server_tls);
    raft_tls_free(client_tls);
}

/* Transport close: every link goes, open or not, and raft's ends read an
 * EOF. */
static void test_close_links(void **state)
{
    (void)state;
    struct raft_tls *tls = tls_of(certs.a_cert, certs.a_key, certs.a_cert);
    struct pair p;
    pair_open(&p, tls, tls);
    p.server.plain->data = &p.server;
    assert_int_equal(uv_read_start(p.server.plain, read_alloc, on_read), 0);
    raft_tls_close_links(tls);
    run_until(&p, server_eof);
    pair_close(&p);
    raft_tls_free(tls);
}

static void test_reload(void **state)
{
    (void)state;
    struct raft_tls *tls = tls_of(certs.a_cert, certs.a_key, certs.a_cert);
    char err[256];
    assert_int_equal(raft_tls_reload(tls, err, sizeof err), 0);
    raft_tls_free(tls);
    /* A key of another certificate: refused, with the reason. */
    assert_null(raft_tls_new(certs.a_cert, certs.b_key, certs.a_cert, err, sizeof err));
    assert_non_null(strstr(err, "the peer key"));
}

int main(void)
{
    /* A write to a closed end must fail with EPIPE, as in eventflowd. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes_bounded_and_intact),
        cmocka_unit_test(test_other_ca_refused),
        cmocka_unit_test(test_close_links),
        cmocka_unit_test(test_reload),
    };
    return cmocka_run_group_tests_name("raft_tls", tests, certs_setup, certs_teardown);
}
