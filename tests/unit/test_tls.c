/* test_tls.c - the client port's TLS module (src/server/tls.h): loading
 * and reloading the files, a session's handshake and records over memory
 * against an OpenSSL client, refusals, and the failure log's rate limit.
 * The key and certificate are made here, at test time, in a temporary
 * directory. */
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/log.h"
#include "server/tls.h"

struct files {
    char dir[64];
    char cert[128], key[128], other_key[128], junk[128];
};

static void write_key(EVP_PKEY *k, const char *path)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
}

/* A self-signed P-256 certificate for 127.0.0.1, its key, another key,
 * and a file that is no PEM at all. */
static int files_setup(void **state)
{
    struct files *fs = calloc(1, sizeof *fs);
    snprintf(fs->dir, sizeof fs->dir, "/tmp/eventflow-tls-unit-XXXXXX");
    if (mkdtemp(fs->dir) == NULL)
        return -1;
    snprintf(fs->cert, sizeof fs->cert, "%s/cert.pem", fs->dir);
    snprintf(fs->key, sizeof fs->key, "%s/key.pem", fs->dir);
    snprintf(fs->other_key, sizeof fs->other_key, "%s/other.pem", fs->dir);
    snprintf(fs->junk, sizeof fs->junk, "%s/junk.pem", fs->dir);

    EVP_PKEY *key = EVP_EC_gen("P-256");
    EVP_PKEY *other = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (key == NULL || other == NULL || x == NULL)
        return -1;
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1, -1, 0);
    X509_set_issuer_name(x, name);
    if (X509_sign(x, key, EVP_sha256()) == 0)
        return -1;
    FILE *f = fopen(fs->cert, "w");
    if (f == NULL || PEM_write_X509(f, x) != 1)
        return -1;
    fclose(f);
    write_key(key, fs->key);
    write_key(other, fs->other_key);
    f = fopen(fs->junk, "w");
    fputs("not a certificate\n", f);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
    *state = fs;
    return 0;
}

static int files_teardown(void **state)
{
    struct files *fs = *state;
    const char *paths[] = {fs->cert, fs->key, fs->other_key, fs->junk};
    for (size_t i = 0; i < 4; i++)
        unlink(paths[i]);
    rmdir(fs->dir);
    free(fs);
    return 0;
}

static struct tls_server *server_new(const struct files *fs)
{
    struct tls_options o = {.cert = fs->cert, .key = fs->key};
    char err[256];
    struct tls_server *t = tls_server_new(&o, err, sizeof err);
    assert_non_null(t);
    return t;
}

/* An OpenSSL client over memory BIOs that trusts the test certificate. */
struct client {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *in, *out; /* in: from the server; out: to the server */
};

static void client_init(struct client *c, const struct files *fs)
{
    c->ctx = SSL_CTX_new(TLS_client_method());
    assert_int_equal(SSL_CTX_load_verify_locations(c->ctx, fs->cert, NULL), 1);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    c->ssl = SSL_new(c->ctx);
    c->in = BIO_new(BIO_s_mem());
    c->out = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(c->in, -1);
    SSL_set_bio(c->ssl, c->in, c->out);
    SSL_set_connect_state(c->ssl);
}

static void client_free(struct client *c)
{
    SSL_free(c->ssl);
    SSL_CTX_free(c->ctx);
}

/* Everything the client has for the server, into the session; what the
 * session has for the client, back. Returns the session's status. */
static enum tls_status pump(struct client *c, struct tls_session *s, struct buf *plain)
{
    char b[16384];
    char why[256] = "";
    enum tls_status st = TLS_OK;
    int n;
    while ((n = BIO_read(c->out, b, sizeof b)) > 0) {
        st = tls_session_read(s, b, (size_t)n, plain, why, sizeof why);
        if (st != TLS_OK)
            break;
    }
    struct buf *out = tls_session_out(s);
    if (out->len > 0) {
        assert_int_equal(BIO_write(c->in, out->data, (int)out->len), (int)out->len);
        buf_consume(out, out->len);
    }
    return st;
}

static void handshake(struct client *c, struct tls_session *s, struct buf *plain)
{
    for (int i = 0; i < 10 && !tls_session_established(s); i++) {
        (void)SSL_do_handshake(c->ssl);
        assert_int_equal(pump(c, s, plain), TLS_OK);
    }
    assert_int_equal(SSL_do_handshake(c->ssl), 1);
    assert_true(tls_session_established(s));
}

static void test_round_trip(void **state)
{
    struct files *fs = *state;
    struct tls_server *t = server_new(fs);
    struct tls_session *s = tls_session_new(t);
    struct client c;
    client_init(&c, fs);
    struct buf plain, reply;
    buf_init(&plain);
    buf_init(&reply);

    /* Before the handshake nothing is taken for encryption. */
    buf_append_str(&reply, "+EARLY\r\n");
    assert_int_equal(tls_session_write(s, &reply, NULL, 0), TLS_OK);
    assert_int_equal(reply.len, 8);
    buf_reset(&reply);

    handshake(&c, s, &plain);
    char desc[64];
    tls_session_describe(s, desc, sizeof desc);
    assert_non_null(strstr(desc, "TLSv1.3"));

    assert_int_equal(SSL_write(c.ssl, "PING\r\n", 6), 6);
    assert_int_equal(pump(&c, s, &plain), TLS_OK);
    assert_int_equal(plain.len, 6);
    assert_memory_equal(plain.data, "PING\r\n", 6);

    buf_append_str(&reply, "+PONG\r\n");
    char why[128];
    assert_int_equal(tls_session_write(s, &reply, why, sizeof why), TLS_OK);
    assert_int_equal(reply.len, 0);
    assert_int_equal(pump(&c, s, &plain), TLS_OK);
    char got[16] = "";
    assert_int_equal(SSL_read(c.ssl, got, sizeof got - 1), 7);
    assert_string_equal(got, "+PONG\r\n");

    /* The client's close_notify ends the session. */
    (void)SSL_shutdown(c.ssl);
    assert_int_equal(pump(&c, s, &plain), TLS_CLOSED);

    buf_free(&plain);
    buf_free(&reply);
    client_free(&c);
    tls_session_free(s);
    tls_server_free(t);
}

static void test_plaintext_refused(void **state)
{
    struct files *fs = *state;
    struct tls_server *t = server_new(fs);
    struct tls_session *s = tls_session_new(t);
    struct buf plain;
    buf_init(&plain);
    char why[256] = "";
    assert_int_equal(tls_session_read(s, "PING\r\n", 6, &plain, why, sizeof why), TLS_ERROR);
    assert_string_equal(why, "wrong version number");
    assert_int_equal(plain.len, 0);
    buf_free(&plain);
    tls_session_free(s);
    tls_server_free(t);
}

static void test_bad_files(void **state)
{
    struct files *fs = *state;
    char err[512];
    struct tls_options o = {.cert = fs->junk, .key = fs->key};
    assert_null(tls_server_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "reading --tls-cert"));
    o = (struct tls_options){.cert = fs->cert, .key = fs->other_key};
    assert_null(tls_server_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "key values mismatch"));
    o = (struct tls_options){.cert = fs->cert, .key = "/nonexistent/key.pem"};
    assert_null(tls_server_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "reading --tls-key /nonexistent/key.pem"));
    o = (struct tls_options){.cert = fs->cert, .key = fs->key, .client_auth = TLS_CLIENT_AUTH_REQUIRED};
    assert_null(tls_server_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "needs --tls-ca"));
}

/* A reload that fails leaves the context before it in use. */
static void test_failed_reload_keeps_context(void **state)
{
    struct files *fs = *state;
    char saved[128];
    snprintf(saved, sizeof saved, "%s/saved.pem", fs->dir);
    struct tls_server *t = server_new(fs);
    assert_int_equal(rename(fs->cert, saved), 0);
    char err[512];
    assert_int_equal(tls_server_reload(t, err, sizeof err), -1);
    assert_non_null(strstr(err, "reading --tls-cert"));

    struct tls_session *s = tls_session_new(t);
    struct client c;
    assert_int_equal(rename(saved, fs->cert), 0);
    client_init(&c, fs);
    struct buf plain;
    buf_init(&plain);
    handshake(&c, s, &plain);
    assert_int_equal(tls_server_reload(t, err, sizeof err), 0);
    buf_free(&plain);
    client_free(&c);
    tls_session_free(s);
    tls_server_free(t);
}

/* A handshake on t by a client offering the ALPN protocols offer (wire
 * format, offer_len bytes): the protocol chosen is want ("": none). */
static void alpn_chosen(struct tls_server *t, const struct files *fs, const char *offer, size_t offer_len,
                        const char *want)
{
    struct tls_session *s = tls_session_new(t);
    struct client c;
    client_init(&c, fs);
    assert_int_equal(SSL_set_alpn_protos(c.ssl, (const unsigned char *)offer, (unsigned int)offer_len), 0);
    struct buf plain;
    buf_init(&plain);
    handshake(&c, s, &plain);
    const unsigned char *got = NULL;
    unsigned int got_len = 0;
    SSL_get0_alpn_selected(c.ssl, &got, &got_len);
    assert_int_equal(got_len, strlen(want));
    if (got_len > 0)
        assert_memory_equal(got, want, got_len);
    buf_free(&plain);
    client_free(&c);
    tls_session_free(s);
}

/* ALPN (the HTTPS listener's h2 and http/1.1): our order of preference
 * wins, a client offering none of ours gets no answer but its handshake,
 * a reload keeps it, and a server without it answers nothing. */
static void test_alpn(void **state)
{
    struct files *fs = *state;
    struct tls_options o = {.cert = fs->cert, .key = fs->key, .alpn = "\x02h2\x08http/1.1"};
    char err[256];
    struct tls_server *t = tls_server_new(&o, err, sizeof err);
    assert_non_null(t);
    alpn_chosen(t, fs, "\x08http/1.1\x02h2", 12, "h2");
    alpn_chosen(t, fs, "\x08http/1.1", 9, "http/1.1");
    alpn_chosen(t, fs, "\x03" "foo", 4, "");
    assert_int_equal(tls_server_reload(t, err, sizeof err), 0);
    alpn_chosen(t, fs, "\x02h2", 3, "h2");
    tls_server_free(t);

    struct tls_server *plain = server_new(fs);
    alpn_chosen(plain, fs, "\x02h2", 3, "");
    tls_server_free(plain);
}

/* Failures are logged at most once a second, the next line counting
 * those left out. stderr goes to a file meanwhile. */
static void test_failure_log_rate_limited(void **state)
{
    struct files *fs = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/log.txt", fs->dir);
    int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
    assert_true(fd >= 0);
    int saved = dup(2);
    assert_true(dup2(fd, 2) >= 0);
    log_setup(1, LOG_LEVEL_INFO, NULL);

    struct tls_server *t = server_new(fs);
    for (uint64_t i = 0; i < 5; i++)
        assert_int_equal(tls_server_note_failure(t, 1000 + i, "127.0.0.1:1", "wrong version number"), i + 1);
    assert_int_equal(tls_server_note_failure(t, 2100, "127.0.0.1:2", "certificate verify failed"), 6);
    tls_server_free(t);

    assert_true(dup2(saved, 2) >= 0);
    close(saved);
    char text[4096];
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    close(fd);
    unlink(path);
    assert_true(n > 0);
    text[n] = '\0';
    unsigned lines = 0;
    for (const char *p = text; (p = strstr(p, "TLS: client")) != NULL; p++)
        lines++;
    assert_int_equal(lines, 2);
    assert_non_null(strstr(text, "TLS: client 127.0.0.1:1: wrong version number\n"));
    assert_non_null(strstr(text, "certificate verify failed (4 more TLS failures since the last logged)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_plaintext_refused),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_failed_reload_keeps_context),
        cmocka_unit_test(test_alpn),
        cmocka_unit_test(test_failure_log_rate_limited),
    };
    return cmocka_run_group_tests_name("tls", tests, files_setup, files_teardown);
}
