/* test_client_tls.c - libeventflow's TLS (src/client/tls.h): loading the
 * files, handshakes against an OpenSSL server in a thread over a socket
 * pair (trusted, another CA, another name, no TLS at all), records both
 * ways, and a connection that stays idle though the server's session
 * tickets arrived after the handshake. The certificates are made here, at
 * test time, in a temporary directory. */
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/conn.h"
#include "client/tls.h"

struct files {
    char dir[64];
    char cert[128], key[128], other_cert[128], junk[128];
};

/* A self-signed P-256 certificate for 127.0.0.1 (its IP entry) and its
 * key into cert_path and key_path. */
static int make_cert(const char *cert_path, const char *key_path)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (key == NULL || x == NULL)
        return -1;
    ASN1_INTEGER_set(X509_get_serialNumber(x), 9);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"eventflow-test", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *san = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1");
    if (san == NULL || X509_add_ext(x, san, -1) != 1 || X509_sign(x, key, EVP_sha256()) == 0)
        return -1;
    X509_EXTENSION_free(san);
    FILE *f = fopen(cert_path, "w");
    if (f == NULL || PEM_write_X509(f, x) != 1)
        return -1;
    fclose(f);
    f = fopen(key_path, "w");
    if (f == NULL || PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) != 1)
        return -1;
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
    return 0;
}

static int files_setup(void **state)
{
    struct files *fs = calloc(1, sizeof *fs);
    snprintf(fs->dir, sizeof fs->dir, "/tmp/eventflow-client-tls-XXXXXX");
    if (fs == NULL || mkdtemp(fs->dir) == NULL)
        return -1;
    snprintf(fs->cert, sizeof fs->cert, "%s/cert.pem", fs->dir);
    snprintf(fs->key, sizeof fs->key, "%s/key.pem", fs->dir);
    snprintf(fs->other_cert, sizeof fs->other_cert, "%s/other.pem", fs->dir);
    snprintf(fs->junk, sizeof fs->junk, "%s/junk.pem", fs->dir);
    char other_key[128];
    snprintf(other_key, sizeof other_key, "%s/other-key.pem", fs->dir);
    if (make_cert(fs->cert, fs->key) != 0 || make_cert(fs->other_cert, other_key) != 0)
        return -1;
    unlink(other_key);
    FILE *f = fopen(fs->junk, "w");
    if (f == NULL)
        return -1;
    fputs("not a certificate\n", f);
    fclose(f);
    *state = fs;
    return 0;
}

static int files_teardown(void **state)
{
    struct files *fs = *state;
    const char *paths[] = {fs->cert, fs->key, fs->other_cert, fs->junk};
    for (size_t i = 0; i < 4; i++)
        unlink(paths[i]);
    rmdir(fs->dir);
    free(fs);
    return 0;
}

/* ---- a server in a thread ------------------------------------------------- */

struct peer {
    pthread_t thread;
    int fd;             /* the server's end */
    int client_fd;      /* the client's end, non-blocking */
    SSL_CTX *ctx;       /* NULL: a plaintext server that answers and closes */
};

/* TLS: accept, answer one request with +PONG, wait for the client to go. */
static void *peer_run(void *arg)
{
    struct peer *p = arg;
    /* OpenSSL's socket BIO writes with write(): a SIGPIPE when the client
     * has gone stays pending in this thread, while one raised by the
     * library under test still kills the process. */
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, NULL);
    if (p->ctx == NULL) {
        ssize_t n = write(p->fd, "-ERR not TLS\r\n", 14);
        (void)n;
        shutdown(p->fd, SHUT_RDWR);
        return NULL;
    }
    SSL *ssl = SSL_new(p->ctx);
    SSL_set_fd(ssl, p->fd);
    if (SSL_accept(ssl) == 1) {
        char b[64];
        if (SSL_read(ssl, b, sizeof b) > 0)
            SSL_write(ssl, "+PONG\r\n", 7);
        (void)SSL_read(ssl, b, sizeof b); /* until the client closes */
    }
    SSL_free(ssl);
    return NULL;
}

static void peer_start(struct peer *p, const struct files *fs, bool tls)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    p->fd = sv[0];
    p->client_fd = sv[1];
    assert_int_equal(fcntl(p->client_fd, F_SETFL, O_NONBLOCK), 0);
    p->ctx = NULL;
    if (tls) {
        p->ctx = SSL_CTX_new(TLS_server_method());
        assert_non_null(p->ctx);
        assert_int_equal(SSL_CTX_use_certificate_file(p->ctx, fs->cert, SSL_FILETYPE_PEM), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey_file(p->ctx, fs->key, SSL_FILETYPE_PEM), 1);
    }
    assert_int_equal(pthread_create(&p->thread, NULL, peer_run, p), 0);
}

/* Close the client's end (the server's read ends) and join. */
static void peer_stop(struct peer *p)
{
    if (p->client_fd >= 0)
        close(p->client_fd);
    assert_int_equal(pthread_join(p->thread, NULL), 0);
    close(p->fd);
    SSL_CTX_free(p->ctx);
}

static int64_t deadline(void)
{
    return ef_now_ms() + 5000;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_files(void **state)
{
    const struct files *fs = *state;
    char err[256];
    assert_null(ef_tls_new("/nonexistent/ca.pem", NULL, NULL, true, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/ca.pem"));
    assert_null(ef_tls_new(fs->junk, NULL, NULL, true, err, sizeof err));
    assert_non_null(strstr(err, fs->junk));
    assert_null(ef_tls_new(fs->cert, fs->cert, NULL, true, err, sizeof err));
    assert_non_null(strstr(err, "needs its key"));
    assert_null(ef_tls_new(fs->cert, fs->cert, fs->junk, true, err, sizeof err));
    assert_non_null(strstr(err, fs->junk));
    struct ef_tls *t = ef_tls_new(fs->cert, fs->cert, fs->key, true, err, sizeof err);
    assert_non_null(t);
    struct ef_tls *c = ef_tls_clone(t);
    assert_ptr_equal(c->ctx, t->ctx);
    ef_tls_free(t);
    ef_tls_free(c); /* the context outlived the first reference */
    ef_tls_free(NULL);
}

/* A trusted server: the handshake, an idle check after its session
 * tickets arrived, a request and its reply. */
static void test_round_trip(void **state)
{
    const struct files *fs = *state;
    char err[256];
    struct ef_tls *t = ef_tls_new(fs->cert, NULL, NULL, true, err, sizeof err);
    assert_non_null(t);
    struct peer p;
    peer_start(&p, fs, true);
    struct ef_conn cn;
    ef_conn_init(&cn);
    assert_int_equal(ef_tls_connect(t, p.client_fd, "127.0.0.1", deadline(), &cn.ssl, err, sizeof err), EF_TLS_OK);
    cn.fd = p.client_fd;
    p.client_fd = -1; /* the connection closes it */
    struct resp_reader_limits limits = {.max_bulk = 1024};
    resp_reader_init(&cn.reader, &limits);

    /* TLS 1.3 tickets follow the handshake: bytes to read, no data. */
    struct pollfd pfd = {.fd = cn.fd, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 5000), 1);
    assert_true(ef_conn_check_idle(&cn));

    const char *argv[] = {"PING"};
    ef_conn_queue(&cn, 1, argv, NULL);
    assert_int_equal(ef_conn_flush(&cn, deadline(), err, sizeof err), 0);
    struct resp_value v;
    assert_int_equal(ef_conn_read(&cn, &v, deadline()), EF_IO_REPLY);
    assert_int_equal(v.type, RESP_T_SIMPLE);
    assert_string_equal(v.str, "PONG");
    resp_value_free(&v);
    ef_conn_close(&cn);
    peer_stop(&p);
    ef_tls_free(t);
}

/* Another CA, another name: refused, saying why; no TLS on the other end:
 * failed. */
static void test_refusals(void **state)
{
    const struct files *fs = *state;
    char err[256];
    struct ef_tls *other = ef_tls_new(fs->other_cert, NULL, NULL, true, err, sizeof err);
    struct ef_tls *good = ef_tls_new(fs->cert, NULL, NULL, true, err, sizeof err);
    struct ef_tls *lax = ef_tls_new(fs->cert, NULL, NULL, false, err, sizeof err);
    assert_true(other != NULL && good != NULL && lax != NULL);
    struct peer p;
    SSL *ssl;

    peer_start(&p, fs, true);
    assert_int_equal(ef_tls_connect(other, p.client_fd, "127.0.0.1", deadline(), &ssl, err, sizeof err),
                     EF_TLS_REFUSED);
    assert_null(ssl);
    assert_non_null(strstr(err, "certificate is not trusted"));
    peer_stop(&p);

    peer_start(&p, fs, true);
    assert_int_equal(ef_tls_connect(good, p.client_fd, "127.0.0.2", deadline(), &ssl, err, sizeof err),
                     EF_TLS_REFUSED);
    assert_non_null(strstr(err, "127.0.0.2"));
    peer_stop(&p);

    /* Without the name check the same certificate passes. */
    peer_start(&p, fs, true);
    assert_int_equal(ef_tls_connect(lax, p.client_fd, "127.0.0.2", deadline(), &ssl, err, sizeof err), EF_TLS_OK);
    ef_tls_close(ssl);
    peer_stop(&p);

    peer_start(&p, fs, false);
    assert_int_equal(ef_tls_connect(good, p.client_fd, "127.0.0.1", deadline(), &ssl, err, sizeof err),
                     EF_TLS_FAILED);
    assert_non_null(strstr(err, "TLS handshake"));
    peer_stop(&p);

    ef_tls_free(other);
    ef_tls_free(good);
    ef_tls_free(lax);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests_name("client_tls", tests, files_setup, files_teardown);
}
