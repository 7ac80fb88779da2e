/* tls.c - TLS contexts and memory-BIO sessions for the client port (see
 * tls.h). */
#include "server/tls.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"

/* One SSL_read at most: a TLS record's plaintext. */
#define TLS_READ_CHUNK 16384
/* A failure is logged at most this often. */
#define TLS_LOG_INTERVAL_MS 1000

struct tls_server {
    SSL_CTX *ctx;          /* owned reference; sessions hold their own */
    char *cert, *key, *ca; /* owned copies of the options; ca may be NULL */
    enum tls_client_auth client_auth;
    const char *alpn;      /* borrowed string constant; NULL: no ALPN */
    uint64_t failures;     /* since start */
    uint64_t unlogged;     /* failures not logged since the last line */
    uint64_t last_log_ms;
    bool logged;
};

/* As mem.h's allocators: out of memory is fatal. */
static _Noreturn void tls_oom(const char *what)
{
    fprintf(stderr, "eventflow: out of memory: %s\n", what);
    abort();
}

struct tls_session {
    SSL *ssl;    /* owned; owns both BIOs */
    BIO *rbio;   /* ciphertext from the client */
    BIO *wbio;   /* ciphertext for the client, moved to out */
    struct buf out;
    size_t handshake_bytes;
    bool established;
};

/* The first of our protocols the client offers; none in common: no
 * ALPN answer, and the client decides whether it goes on. */
static int tls_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                           unsigned int inlen, void *arg)
{
    (void)ssl;
    const unsigned char *ours = arg;
    unsigned char *chosen;
    if (SSL_select_next_proto(&chosen, outlen, ours, (unsigned int)strlen(arg), in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *tls_ctx_build(const struct tls_server *t, char *err, size_t errlen)
{
    const struct tls_ctx_files files = {
        .cert = t->cert, .cert_name = "--tls-cert", .key = t->key, .key_name = "--tls-key",
        .ca = t->ca, .ca_name = "--tls-ca",
    };
    SSL_CTX *ctx = tls_ctx_new(TLS_server_method(), &files, err, errlen);
    if (ctx == NULL)
        return NULL;
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* Resumed sessions must belong to this server, and a session id
     * context is required once client certificates are verified. */
    if (SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"eventflow", 9) != 1) {
        tls_error_text("setting the session id context", err, errlen);
        SSL_CTX_free(ctx);
        return NULL;
    }
    int mode = t->client_auth == TLS_CLIENT_AUTH_NONE       ? SSL_VERIFY_NONE
               : t->client_auth == TLS_CLIENT_AUTH_OPTIONAL ? SSL_VERIFY_PEER
                                                            : SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, NULL);
    if (t->alpn != NULL)
        SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_select, (void *)t->alpn);
    return ctx;
}

struct tls_server *tls_server_new(const struct tls_options *o, char *err, size_t errlen)
{
    if (o->client_auth != TLS_CLIENT_AUTH_NONE && o->ca == NULL) {
        snprintf(err, errlen, "--tls-client-auth optional or required needs --tls-ca");
        return NULL;
    }
    struct tls_server *t = xcalloc(1, sizeof *t);
    t->cert = xstrdup(o->cert);
    t->key = xstrdup(o->key);
    t->ca = o->ca != NULL ? xstrdup(o->ca) : NULL;
    t->client_auth = o->client_auth;
    t->alpn = o->alpn;
    t->ctx = tls_ctx_build(t, err, errlen);
    if (t->ctx == NULL) {
        tls_server_free(t);
        return NULL;
    }
    return t;
}

int tls_server_reload(struct tls_server *t, char *err, size_t errlen)
{
    SSL_CTX *ctx = tls_ctx_build(t, err, errlen);
    if (ctx == NULL)
        return -1;
    /* Open sessions hold their own reference to the old context. */
    SSL_CTX_free(t->ctx);
    t->ctx = ctx;
    return 0;
}

void tls_server_free(struct tls_server *t)
{
    if (t == NULL)
        return;
    SSL_CTX_free(t->ctx);
    free(t->cert);
    free(t->key);
    free(t->ca);
    free(t);
}

uint64_t tls_server_note_failure(struct tls_server *t, uint64_t now_ms, const char *peer, const char *why)
{
    t->failures++;
    if (t->logged && now_ms - t->last_log_ms < TLS_LOG_INTERVAL_MS) {
        t->unlogged++;
        return t->failures;
    }
    if (t->unlogged > 0)
        log_warn("TLS: client %s: %s (%" PRIu64 " more TLS failures since the last logged)", peer, why,
                 t->unlogged);
    else
        log_warn("TLS: client %s: %s", peer, why);
    t->logged = true;
    t->last_log_ms = now_ms;
    t->unlogged = 0;
    return t->failures;
}

uint64_t tls_server_failures(const struct tls_server *t)
{
    return t->failures;
}

SSL_CTX *tls_server_ctx(struct tls_server *t)
{
    return t->ctx;
}

struct tls_session *tls_session_new(struct tls_server *t)
{
    struct tls_session *s = xcalloc(1, sizeof *s);
    s->ssl = SSL_new(t->ctx);
    s->rbio = BIO_new(BIO_s_mem());
    s->wbio = BIO_new(BIO_s_mem());
    if (s->ssl == NULL || s->rbio == NULL || s->wbio == NULL)
        tls_oom("a TLS session");
    /* An empty input BIO means "wait for more", not end of stream. */
    BIO_set_mem_eof_return(s->rbio, -1);
    SSL_set_bio(s->ssl, s->rbio, s->wbio);
    SSL_set_accept_state(s->ssl);
    buf_init(&s->out);
    return s;
}

void tls_session_free(struct tls_session *s)
{
    if (s == NULL)
        return;
    SSL_free(s->ssl);
    buf_free(&s->out);
    free(s);
}

/* Move what OpenSSL wrote for the client into out. */
static void tls_session_drain(struct tls_session *s)
{
    size_t pending = BIO_ctrl_pending(s->wbio);
    while (pending > 0) {
        int want = pending > INT_MAX ? INT_MAX : (int)pending;
        int n = BIO_read(s->wbio, buf_reserve(&s->out, (size_t)want), want);
        if (n <= 0)
            break;
        buf_commit(&s->out, (size_t)n);
        pending -= (size_t)n;
    }
}

/* Why a session failed: OpenSSL's reason, with the certificate check's
 * verdict when that was the cause. */
static void tls_session_error(const struct tls_session *s, int code, char *why, size_t whylen)
{
    unsigned long e = ERR_peek_last_error();
    long verify = SSL_get_verify_result(s->ssl);
    const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;
    if (reason == NULL)
        reason = code == SSL_ERROR_SYSCALL ? "unexpected end of stream" : "protocol error";
    if (verify != X509_V_OK)
        snprintf(why, whylen, "%s: %s", reason, X509_verify_cert_error_string(verify));
    else
        snprintf(why, whylen, "%s", reason);
    ERR_clear_error();
}

enum tls_status tls_session_read(struct tls_session *s, const char *data, size_t n, struct buf *plain, char *why,
                                 size_t whylen)
{
    if (!s->established) {
        s->handshake_bytes += n;
        if (s->handshake_bytes > TLS_HANDSHAKE_MAX_BYTES) {
            snprintf(why, whylen, "handshake over %u bytes", TLS_HANDSHAKE_MAX_BYTES);
            return TLS_ERROR;
        }
    }
    /* A memory BIO takes everything or fails for lack of memory. */
    if (n > 0 && (n > INT_MAX || BIO_write(s->rbio, data, (int)n) != (int)n))
        tls_oom("TLS input");
    ERR_clear_error();
    enum tls_status st = TLS_OK;
    for (;;) {
        int r = SSL_read(s->ssl, buf_reserve(plain, TLS_READ_CHUNK), TLS_READ_CHUNK);
        if (r > 0) {
            buf_commit(plain, (size_t)r);
            /* Nothing left to decrypt: spare the call that would say so
             * (one per read on the request path). */
            if (s->established && SSL_pending(s->ssl) == 0 && BIO_ctrl_pending(s->rbio) == 0)
                break;
            continue;
        }
        int code = SSL_get_error(s->ssl, r);
        if (code == SSL_ERROR_WANT_READ)
            break;
        if (code == SSL_ERROR_ZERO_RETURN) {
            st = TLS_CLOSED;
            break;
        }
        tls_session_error(s, code, why, whylen);
        st = TLS_ERROR;
        break;
    }
    s->established = SSL_is_init_finished(s->ssl);
    /* Handshake messages, and the alert that tells the client why. */
    tls_session_drain(s);
    return st;
}

enum tls_status tls_session_write(struct tls_session *s, struct buf *plain, char *why, size_t whylen)
{
    if (!s->established || plain->len == 0)
        return TLS_OK;
    ERR_clear_error();
    size_t done = 0;
    while (done < plain->len) {
        size_t left = plain->len - done;
        int r = SSL_write(s->ssl, plain->data + done, left > INT_MAX ? INT_MAX : (int)left);
        if (r <= 0) {
            tls_session_error(s, SSL_get_error(s->ssl, r), why, whylen);
            return TLS_ERROR;
        }
        done += (size_t)r;
    }
    buf_reset(plain);
    tls_session_drain(s);
    return TLS_OK;
}

struct buf *tls_session_out(struct tls_session *s)
{
    return &s->out;
}

bool tls_session_established(const struct tls_session *s)
{
    return s->established;
}

void tls_session_describe(const struct tls_session *s, char *out, size_t outlen)
{
    if (!s->established) {
        snprintf(out, outlen, "%s", "");
        return;
    }
    snprintf(out, outlen, "%s %s", SSL_get_version(s->ssl), SSL_get_cipher_name(s->ssl));
}
