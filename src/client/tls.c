/* tls.c - TLS contexts and sessions of the client (see tls.h). */
#include "client/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "client/conn.h"
#include "common/mem.h"

/* One SSL_read at most: a TLS record's plaintext, so that a read never
 * leaves part of a record decrypted inside the session. */
#define EF_TLS_READ_CHUNK 16384
/* A read returns after this much, so that a fast sender cannot hold it;
 * it stops between records, leaving nothing decrypted behind. */
#define EF_TLS_READ_MAX (1 << 20)

/* OpenSSL's reason for the last failure on this thread, and clear its
 * queue: a stale entry would be blamed on the next connection. */
static void tls_reason(const char *what, char *err, size_t cap)
{
    unsigned long code = ERR_peek_last_error();
    const char *reason = code != 0 ? ERR_reason_error_string(code) : NULL;
    snprintf(err, cap, "%s: %s", what, reason != NULL ? reason : "unknown error");
    ERR_clear_error();
}

struct ef_tls *ef_tls_new(const char *ca, const char *cert, const char *key, bool verify_name, char *err,
                          size_t err_cap)
{
    if ((cert == NULL) != (key == NULL)) {
        snprintf(err, err_cap, "a TLS client certificate needs its key, and a key its certificate");
        return NULL;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        tls_reason("TLS", err, err_cap);
        return NULL;
    }
    (void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    /* A node that stops or drops a connection closes the socket without a
     * close_notify: that is an end of the connection like plaintext's,
     * and RESP's framing shows any reply it cut short. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    /* The output buffer moves as it grows, and a write may be partial:
     * the connection's buffer is handed over as it is after each. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    int ok = ca != NULL ? SSL_CTX_load_verify_locations(ctx, ca, NULL) : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        char what[320];
        snprintf(what, sizeof what, "TLS CA file %s", ca != NULL ? ca : "(system default)");
        tls_reason(what, err, err_cap);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (cert != NULL) {
        char what[320];
        if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
            snprintf(what, sizeof what, "TLS certificate %s", cert);
            tls_reason(what, err, err_cap);
            SSL_CTX_free(ctx);
            return NULL;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
            snprintf(what, sizeof what, "TLS key %s", key);
            tls_reason(what, err, err_cap);
            SSL_CTX_free(ctx);
            return NULL;
        }
    }
    struct ef_tls *t = xcalloc(1, sizeof *t);
    t->ctx = ctx;
    t->verify_name = verify_name;
    return t;
}

struct ef_tls *ef_tls_clone(const struct ef_tls *t)
{
    if (t == NULL)
        return NULL;
    struct ef_tls *d = xcalloc(1, sizeof *d);
    *d = *t;
    if (SSL_CTX_up_ref(d->ctx) != 1) {
        fprintf(stderr, "eventflow: SSL_CTX_up_ref failed\n");
        abort();
    }
    return d;
}

void ef_tls_free(struct ef_tls *t)
{
    if (t == NULL)
        return;
    SSL_CTX_free(t->ctx);
    free(t);
}

/* ---- the socket BIO ------------------------------------------------------ */

/* OpenSSL's own socket BIO writes with write(), which raises SIGPIPE on a
 * connection the server closed; the library promises never to (client.h),
 * so sessions run over this one, which sends with MSG_NOSIGNAL. The fd is
 * the BIO's data; the connection owns and closes it. */
static int sock_bio_write(BIO *b, const char *p, int len)
{
    int fd = (int)(intptr_t)BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n;
    do
        n = send(fd, p, (size_t)len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        BIO_set_retry_write(b);
    return (int)n;
}

static int sock_bio_read(BIO *b, char *p, int len)
{
    int fd = (int)(intptr_t)BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n;
    do
        n = recv(fd, p, (size_t)len, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        BIO_set_retry_read(b);
    return (int)n;
}

static long sock_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0; /* nothing is buffered here */
}

static BIO_METHOD *sock_bio_method;

/* Made once per process, kept for its life: sessions in any thread use it. */
static void sock_bio_make(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "eventflow socket");
    if (m == NULL || BIO_meth_set_write(m, sock_bio_write) != 1 || BIO_meth_set_read(m, sock_bio_read) != 1 ||
        BIO_meth_set_ctrl(m, sock_bio_ctrl) != 1) {
        fprintf(stderr, "eventflow: cannot make the TLS socket BIO\n");
        abort();
    }
    sock_bio_method = m;
}

static BIO *sock_bio_new(int fd)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    if (pthread_once(&once, sock_bio_make) != 0)
        abort();
    BIO *b = BIO_new(sock_bio_method);
    if (b == NULL)
        return NULL;
    BIO_set_data(b, (void *)(intptr_t)fd);
    BIO_set_init(b, 1);
    return b;
}

/* ---- sessions ------------------------------------------------------------ */

/* The names the server's certificate must carry: an IP address literal
 * is checked against its IP entries, any other host against its DNS
 * names, and sent as SNI. */
static int tls_expect_host(SSL *ssl, const char *host)
{
    unsigned char ip[16];
    if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1)
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 ? 0 : -1;
    if (SSL_set_tlsext_host_name(ssl, host) != 1 || SSL_set1_host(ssl, host) != 1)
        return -1;
    return 0;
}

/* Why a handshake failed, into err: the certificate check's own words
 * when that is what failed. */
static int tls_handshake_failed(SSL *ssl, const char *host, char *err, size_t cap)
{
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
        snprintf(err, cap, "TLS: the server's certificate is not trusted: %s (for %s)",
                 X509_verify_cert_error_string(verify), host);
        ERR_clear_error();
        return EF_TLS_REFUSED;
    }
    unsigned long code = ERR_peek_last_error();
    /* The server's alert about our certificate (none, unknown CA,
     * expired): a refusal, not a node that is down. */
    bool refused = code != 0 && ERR_GET_LIB(code) == ERR_LIB_SSL &&
                   (ERR_GET_REASON(code) == SSL_R_TLSV1_ALERT_UNKNOWN_CA ||
                    ERR_GET_REASON(code) == SSL_R_SSLV3_ALERT_BAD_CERTIFICATE ||
                    ERR_GET_REASON(code) == SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED ||
                    ERR_GET_REASON(code) == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED);
    if (code == 0)
        snprintf(err, cap, "TLS handshake: the connection closed (is this a TLS port?)");
    else
        tls_reason(refused ? "TLS handshake: the server refused our certificate" : "TLS handshake", err, cap);
    return refused ? EF_TLS_REFUSED : EF_TLS_FAILED;
}

int ef_tls_connect(const struct ef_tls *t, int fd, const char *host, int64_t deadline_ms, SSL **out, char *err,
                   size_t err_cap)
{
    *out = NULL;
    ERR_clear_error();
    SSL *ssl = SSL_new(t->ctx);
    BIO *bio = ssl != NULL ? sock_bio_new(fd) : NULL;
    if (bio == NULL) {
        tls_reason("TLS session", err, err_cap);
        SSL_free(ssl);
        return EF_TLS_FAILED;
    }
    SSL_set_bio(ssl, bio, bio); /* the session owns it now */
    if (t->verify_name && tls_expect_host(ssl, host) != 0) {
        tls_reason("TLS session", err, err_cap);
        SSL_free(ssl);
        return EF_TLS_FAILED;
    }
    for (;;) {
        int rv = SSL_connect(ssl);
        if (rv == 1)
            break;
        int e = SSL_get_error(ssl, rv);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            int outcome = tls_handshake_failed(ssl, host, err, err_cap);
            SSL_free(ssl);
            return outcome;
        }
        int64_t left = deadline_ms - ef_now_ms();
        struct pollfd pfd = {.fd = fd, .events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT};
        int n = left > 0 ? poll(&pfd, 1, left > 1000000 ? 1000000 : (int)left) : 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, err_cap, "TLS handshake: %s", n == 0 ? "timed out" : strerror(errno));
            SSL_free(ssl);
            return EF_TLS_FAILED;
        }
    }
    *out = ssl;
    return EF_TLS_OK;
}

void ef_tls_close(SSL *ssl)
{
    SSL_free(ssl);
}

ssize_t ef_tls_write(SSL *ssl, const void *p, size_t len)
{
    size_t written = 0;
    int rv = SSL_write_ex(ssl, p, len, &written);
    if (rv == 1)
        return (ssize_t)written;
    int e = SSL_get_error(ssl, rv);
    ERR_clear_error();
    return e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? 0 : -1;
}

int ef_tls_read(SSL *ssl, void (*sink)(void *arg, const char *p, size_t n), void *arg)
{
    char chunk[EF_TLS_READ_CHUNK];
    int total = 0;
    for (;;) {
        size_t n = 0;
        int rv = SSL_read_ex(ssl, chunk, sizeof chunk, &n);
        if (rv == 1) {
            sink(arg, chunk, n);
            total += (int)n;
            if (total >= EF_TLS_READ_MAX)
                return total;
            continue;
        }
        int e = SSL_get_error(ssl, rv);
        ERR_clear_error();
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return total;
        if (total > 0) /* the close or error shows again on the next call */
            return total;
        if (e == SSL_ERROR_SYSCALL && errno == EINTR)
            continue;
        return e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0) ? -1 : -2;
    }
}
