/* raft_tls_link.c - one raft connection's TLS bridge: a session over
 * memory BIOs on the TCP stream, plaintext on a socketpair raft reads and
 * writes (see raft_tls.h). */
#include <errno.h>
#include <raft.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/tls_ctx.h"
#include "raftio/raft_tls_internal.h"

/* One read from either side; consumed before the callback returns. */
#define LINK_READ_CHUNK (64u << 10)
/* The plaintext of one TLS record at most, plus its overhead: what SSL may
 * hold back from earlier reads beyond what the read BIO has. */
#define LINK_RECORD_MAX (16384u + 512u)

struct raft_tls_link {
    struct raft_tls *tls;        /* borrowed; NULL once forgotten */
    struct raft_tls_link *next;  /* in tls->links until closing */
    uv_loop_t *loop;
    uv_stream_t *tcp;            /* owned: raft_malloc'd by raft_uv_tcp, raft_freed once closed */
    uv_pipe_t pipe;              /* our end of the pair, open once established */
    SSL *ssl;                    /* owned; owns both BIOs */
    BIO *rbio;                   /* ciphertext from TCP */
    BIO *wbio;                   /* ciphertext for TCP */
    bool outgoing;
    bool established;
    bool closing;                /* both handles closing: only callbacks are left */
    bool pipe_open;
    bool tcp_paused;             /* not reading TCP: the pipe's writes are behind */
    bool pipe_paused;            /* not reading the pipe: TCP's writes are behind */
    bool ending;                 /* one side ended: the other is shut down, then all closes */
    size_t tcp_pending;          /* bytes in uv_writes to TCP not yet completed */
    size_t pipe_pending;         /* bytes in uv_writes to the pipe */
    size_t handshake_bytes;
    unsigned open_handles;       /* freed at 0 */
    uv_shutdown_t shutdown;
    raft_tls_ready_cb cb;        /* NULL once called or aborted */
    void *data;
};

/* A write's bytes, owned by the write until its callback. */
struct link_write {
    uv_write_t req;
    struct raft_tls_link *l;
    bool to_tcp;
    size_t len;
    char data[];
};

static char link_chunk[LINK_READ_CHUNK];

static void link_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)handle;
    (void)suggested;
    *buf = uv_buf_init(link_chunk, sizeof link_chunk);
}

/* ---- lifetime ----------------------------------------------------------- */

static void link_unlist(struct raft_tls_link *l)
{
    if (l->tls == NULL)
        return;
    struct raft_tls_link **p = &l->tls->links;
    while (*p != NULL && *p != l)
        p = &(*p)->next;
    if (*p == l)
        *p = l->next;
    l->tls = NULL;
}

static void link_handle_closed(uv_handle_t *handle)
{
    struct raft_tls_link *l = handle->data;
    if (handle == (uv_handle_t *)l->tcp)
        raft_free(handle);
    if (--l->open_handles > 0)
        return;
    SSL_free(l->ssl);
    free(l);
}

/* Close both handles; pending writes are cancelled (their callbacks run
 * first), then the link is freed. */
static void link_close(struct raft_tls_link *l)
{
    if (l->closing)
        return;
    l->closing = true;
    link_unlist(l);
    uv_close((uv_handle_t *)l->tcp, link_handle_closed);
    if (l->pipe_open)
        uv_close((uv_handle_t *)&l->pipe, link_handle_closed);
}

/* The handshake failed: tell the owner, close. */
static void link_fail(struct raft_tls_link *l, const char *why)
{
    raft_tls_ready_cb cb = l->cb;
    l->cb = NULL;
    link_close(l);
    if (cb != NULL)
        cb(l->data, NULL, RAFT_NOCONNECTION, why);
}

static void link_shutdown_done(uv_shutdown_t *req, int status)
{
    (void)status;
    link_close(req->data);
}

/* One side ended: let the other have what is already on its way, then
 * close everything. */
static void link_end(struct raft_tls_link *l, uv_stream_t *towards)
{
    if (l->ending || l->closing)
        return;
    l->ending = true;
    uv_read_stop(l->tcp);
    if (l->pipe_open)
        uv_read_stop((uv_stream_t *)&l->pipe);
    l->shutdown.data = l;
    if (uv_shutdown(&l->shutdown, towards, link_shutdown_done) != 0)
        link_close(l);
}

/* ---- writes ------------------------------------------------------------- */

static void link_resume(struct raft_tls_link *l);

static void link_written(uv_write_t *req, int status)
{
    struct link_write *w = (struct link_write *)req;
    struct raft_tls_link *l = w->l;
    if (w->to_tcp)
        l->tcp_pending -= w->len;
    else
        l->pipe_pending -= w->len;
    free(w);
    if (l->closing)
        return;
    if (status != 0) {
        log_debug("raft TLS link: write: %s", uv_strerror(status));
        link_close(l);
        return;
    }
    link_resume(l);
}

static struct link_write *link_write_new(struct raft_tls_link *l, bool to_tcp, size_t cap)
{
    struct link_write *w = xmalloc(sizeof *w + cap);
    w->l = l;
    w->to_tcp = to_tcp;
    w->len = 0;
    return w;
}

static int link_write_send(struct raft_tls_link *l, struct link_write *w)
{
    uv_stream_t *to = w->to_tcp ? l->tcp : (uv_stream_t *)&l->pipe;
    uv_buf_t b = uv_buf_init(w->data, (unsigned)w->len);
    int rv = uv_write(&w->req, to, &b, 1, link_written);
    if (rv != 0) {
        free(w);
        return rv;
    }
    if (w->to_tcp)
        l->tcp_pending += w->len;
    else
        l->pipe_pending += w->len;
    if (l->tls != NULL)
        l->tls->bytes += w->to_tcp ? w->len : 0;
    return 0;
}

/* Whatever SSL produced for the peer goes to TCP as one write. */
static int link_flush_tcp(struct raft_tls_link *l)
{
    size_t n = BIO_ctrl_pending(l->wbio);
    if (n == 0)
        return 0;
    struct link_write *w = link_write_new(l, true, n);
    int got = BIO_read(l->wbio, w->data, (int)n);
    if (got <= 0) {
        free(w);
        return -1;
    }
    w->len = (size_t)got;
    return link_write_send(l, w);
}

/* ---- backpressure --------------------------------------------------------- */

static void link_tcp_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void link_pipe_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

/* Stop reading a side while the other's writes are beyond the bound;
 * start again once they are down to half of it. */
static void link_resume(struct raft_tls_link *l)
{
    if (l->ending || l->closing)
        return;
    if (l->tcp_paused && l->pipe_pending <= RAFT_TLS_PENDING_MAX / 2) {
        l->tcp_paused = false;
        if (uv_read_start(l->tcp, link_alloc, link_tcp_read) != 0)
            link_close(l);
    }
    if (l->closing)
        return;
    if (l->pipe_paused && l->tcp_pending <= RAFT_TLS_PENDING_MAX / 2) {
        l->pipe_paused = false;
        if (uv_read_start((uv_stream_t *)&l->pipe, link_alloc, link_pipe_read) != 0)
            link_close(l);
    }
}

static void link_throttle(struct raft_tls_link *l)
{
    if (!l->tcp_paused && l->pipe_pending > RAFT_TLS_PENDING_MAX) {
        l->tcp_paused = true;
        uv_read_stop(l->tcp);
    }
    if (l->pipe_open && !l->pipe_paused && l->tcp_pending > RAFT_TLS_PENDING_MAX) {
        l->pipe_paused = true;
        uv_read_stop((uv_stream_t *)&l->pipe);
    }
}

/* ---- the handshake ---------------------------------------------------------- */

static void link_free_raft_pipe(uv_handle_t *handle)
{
    raft_free(handle);
}

/* The session is up: make the pair, keep one end, give raft the other. */
static int link_open_pair(struct raft_tls_link *l, uv_stream_t **raft_end)
{
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        log_warn("raft TLS link: socketpair: %s", strerror(errno));
        return -1;
    }
    /* uv_pipe_init only fills the handle. Ours is closed with the link
     * whether or not it opened. */
    (void)uv_pipe_init(l->loop, &l->pipe, 0);
    l->pipe.data = l;
    l->pipe_open = true;
    l->open_handles++;
    int rv = uv_pipe_open(&l->pipe, fds[0]);
    if (rv != 0) {
        log_warn("raft TLS link: opening the pair: %s", uv_strerror(rv));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    uv_pipe_t *theirs = raft_malloc(sizeof *theirs);
    if (theirs == NULL) {
        close(fds[1]);
        return -1;
    }
    (void)uv_pipe_init(l->loop, theirs, 0);
    rv = uv_pipe_open(theirs, fds[1]);
    if (rv != 0) {
        log_warn("raft TLS link: opening the pair: %s", uv_strerror(rv));
        close(fds[1]);
        uv_close((uv_handle_t *)theirs, link_free_raft_pipe);
        return -1;
    }
    rv = uv_read_start((uv_stream_t *)&l->pipe, link_alloc, link_pipe_read);
    if (rv != 0) {
        uv_close((uv_handle_t *)theirs, link_free_raft_pipe);
        return -1;
    }
    *raft_end = (uv_stream_t *)theirs;
    return 0;
}

static void link_established(struct raft_tls_link *l)
{
    l->established = true;
    uv_stream_t *raft_end = NULL;
    if (link_open_pair(l, &raft_end) != 0) {
        link_fail(l, "cannot open the plaintext pair");
        return;
    }
    raft_tls_ready_cb cb = l->cb;
    l->cb = NULL;
    if (log_min_level <= LOG_LEVEL_DEBUG)
        log_debug("raft TLS link %s: %s %s", l->outgoing ? "out" : "in", SSL_get_version(l->ssl),
                  SSL_get_cipher_name(l->ssl));
    cb(l->data, raft_end, 0, NULL);
}

/* The reason a handshake or session failed, for the log. */
static void link_why(struct raft_tls_link *l, int ret, char *why, size_t cap)
{
    long verify = SSL_get_verify_result(l->ssl);
    if (verify != X509_V_OK) {
        snprintf(why, cap, "TLS: the peer's certificate: %s", X509_verify_cert_error_string(verify));
        ERR_clear_error();
        return;
    }
    int err = SSL_get_error(l->ssl, ret);
    if (err == SSL_ERROR_SSL) {
        tls_error_text("TLS", why, cap);
        return;
    }
    snprintf(why, cap, "TLS: error %d", err);
    ERR_clear_error();
}

/* Bytes of the handshake are in: go on. Returns false if the link ended. */
static bool link_handshake(struct raft_tls_link *l)
{
    int ret = SSL_do_handshake(l->ssl);
    /* Whatever the outcome, the peer gets what SSL wrote (an alert too). */
    if (link_flush_tcp(l) != 0) {
        link_fail(l, "TLS: writing the handshake failed");
        return false;
    }
    if (ret == 1) {
        link_established(l);
        return !l->closing;
    }
    if (SSL_get_error(l->ssl, ret) == SSL_ERROR_WANT_READ)
        return true;
    char why[256];
    link_why(l, ret, why, sizeof why);
    link_fail(l, why);
    return false;
}

/* ---- the two directions ------------------------------------------------------- */

/* Decrypt what the read BIO holds and write it to the pipe as one write. */
static int link_decrypt(struct raft_tls_link *l)
{
    for (;;) {
        size_t cap = BIO_ctrl_pending(l->rbio) + LINK_RECORD_MAX;
        struct link_write *w = link_write_new(l, false, cap);
        int ret = 0;
        while (w->len < cap) {
            ret = SSL_read(l->ssl, w->data + w->len, (int)(cap - w->len));
            if (ret <= 0)
                break;
            w->len += (size_t)ret;
        }
        if (w->len == 0)
            free(w);
        else if (link_write_send(l, w) != 0) /* w is the write's now, or freed */
            return -1;
        if (ret > 0)
            continue; /* the write was full: more may be in */
        int err = SSL_get_error(l->ssl, ret);
        if (err == SSL_ERROR_WANT_READ)
            return 0;
        if (err == SSL_ERROR_ZERO_RETURN)
            return 1; /* close_notify */
        char why[256];
        link_why(l, ret, why, sizeof why);
        log_warn("raft TLS link %s: %s", l->outgoing ? "out" : "in", why);
        return -1;
    }
}

static void link_tcp_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct raft_tls_link *l = stream->data;
    if (nread == 0 || l->closing)
        return;
    if (nread < 0) {
        if (!l->established)
            link_fail(l, nread == UV_EOF ? "closed during the TLS handshake" : uv_strerror((int)nread));
        else
            link_end(l, (uv_stream_t *)&l->pipe);
        return;
    }
    if (l->tls != NULL)
        l->tls->bytes += (uint64_t)nread;
    if (BIO_write(l->rbio, buf->base, (int)nread) != (int)nread) {
        link_fail(l, "TLS: buffering the peer's bytes failed");
        return;
    }
    if (!l->established) {
        l->handshake_bytes += (size_t)nread;
        if (l->handshake_bytes > RAFT_TLS_HANDSHAKE_MAX_BYTES) {
            link_fail(l, "TLS: the handshake is too large");
            return;
        }
        if (!link_handshake(l) || !l->established)
            return;
    }
    int rc = link_decrypt(l);
    /* SSL may answer (a key update) while reading. */
    if (rc >= 0 && link_flush_tcp(l) != 0)
        rc = -1;
    if (rc < 0)
        link_close(l);
    else if (rc > 0)
        link_end(l, (uv_stream_t *)&l->pipe);
    else
        link_throttle(l);
}

static void link_pipe_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct raft_tls_link *l = stream->data;
    if (nread == 0 || l->closing)
        return;
    if (nread < 0) {
        /* raft closed its end: close_notify, then TCP ends. */
        (void)SSL_shutdown(l->ssl);
        ERR_clear_error();
        if (link_flush_tcp(l) != 0)
            link_close(l);
        else
            link_end(l, l->tcp);
        return;
    }
    int ret = SSL_write(l->ssl, buf->base, (int)nread);
    if (ret != (int)nread || link_flush_tcp(l) != 0) {
        char why[256];
        link_why(l, ret, why, sizeof why);
        log_warn("raft TLS link %s: %s", l->outgoing ? "out" : "in", why);
        link_close(l);
        return;
    }
    link_throttle(l);
}

/* ---- the interface -------------------------------------------------------------- */

void raft_tls_link_start(struct raft_tls *tls, uv_loop_t *loop, uv_stream_t *tcp, bool outgoing,
                         raft_tls_ready_cb cb, void *data, struct raft_tls_link **slot)
{
    struct raft_tls_link *l = xcalloc(1, sizeof *l);
    *slot = l;
    l->tls = tls;
    l->loop = loop;
    l->tcp = tcp;
    l->outgoing = outgoing;
    l->cb = cb;
    l->data = data;
    l->open_handles = 1;
    tcp->data = l;
    l->next = tls->links;
    tls->links = l;
    ERR_clear_error();
    l->ssl = SSL_new(tls->ctx);
    if (l->ssl == NULL) {
        link_fail(l, "TLS: no session (out of memory)");
        return;
    }
    l->rbio = BIO_new(BIO_s_mem());
    l->wbio = BIO_new(BIO_s_mem());
    if (l->rbio == NULL || l->wbio == NULL) {
        BIO_free(l->rbio);
        BIO_free(l->wbio);
        link_fail(l, "TLS: no buffers (out of memory)");
        return;
    }
    SSL_set_bio(l->ssl, l->rbio, l->wbio);
    if (outgoing)
        SSL_set_connect_state(l->ssl);
    else
        SSL_set_accept_state(l->ssl);
    if (uv_read_start(tcp, link_alloc, link_tcp_read) != 0) {
        link_fail(l, "cannot read the connection");
        return;
    }
    /* The client speaks first. */
    if (outgoing)
        (void)link_handshake(l);
}

void raft_tls_link_abort(struct raft_tls_link *l)
{
    l->cb = NULL;
    link_close(l);
}

void raft_tls_close_links(struct raft_tls *tls)
{
    while (tls->links != NULL)
        link_fail(tls->links, "closing"); /* unlists it */
}

void raft_tls_forget_links(struct raft_tls *tls)
{
    for (struct raft_tls_link *l = tls->links; l != NULL; l = l->next)
        l->tls = NULL;
    tls->links = NULL;
}
