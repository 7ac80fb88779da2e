/* peer.c - one-shot RESP requests to other nodes (see peer.h). */
#include "node/peer.h"

#include <raft.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl_peer.h"
#include "common/addr.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/mem.h"
#include "protocol/resp_writer.h"
#include "node/node_config.h"
#include "raftio/raft_tls.h"

struct peer_req {
    uv_loop_t *loop;
    uv_getaddrinfo_t resolve;
    uv_connect_t connect;
    uv_write_t write;
    uv_tcp_t *tcp;           /* raft_malloc'd: a TLS link takes it over and raft_frees it */
    uv_stream_t *stream;     /* what the request crosses: tcp, or a TLS link's plaintext end (raft_malloc'd) */
    struct raft_tls *tls;    /* borrowed; NULL: plaintext */
    struct raft_tls_link *link; /* the TLS handshake under way, else NULL */
    uv_timer_t timer;
    struct buf out;          /* the encoded request(s) */
    struct resp_reader reader;
    unsigned replies_wanted; /* 2 with AUTH first, else 1 */
    peer_cb cb;
    void *arg;
    bool done;               /* cb has run */
    bool stream_open;        /* stream is ours to close */
    int refs;                /* open handles + a resolve in flight; free at 0 */
    char host[NODE_ADDR_MAX];
    char port[8];
};

static void peer_unref(struct peer_req *p)
{
    if (--p->refs > 0)
        return;
    buf_free(&p->out);
    resp_reader_free(&p->reader);
    free(p);
}

static void peer_handle_closed(uv_handle_t *h)
{
    peer_unref(h->data);
}

static void peer_stream_closed(uv_handle_t *h)
{
    struct peer_req *p = h->data;
    raft_free(h);
    peer_unref(p);
}

/* Loop thread only, as every request. */
static uint64_t tls_answers;

uint64_t peer_tls_answers(void)
{
    return tls_answers;
}

static void peer_finish(struct peer_req *p, int status, const struct resp_value *reply)
{
    if (p->done)
        return;
    p->done = true;
    if (status == 0 && p->tls != NULL)
        tls_answers++;
    p->cb(p->arg, status, reply);
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, peer_handle_closed);
    if (p->link != NULL) {
        raft_tls_link_abort(p->link); /* it closes the TCP handle it owns */
        p->link = NULL;
    }
    if (p->stream_open)
        uv_close((uv_handle_t *)p->stream, peer_stream_closed);
}

static void peer_on_timeout(uv_timer_t *t)
{
    struct peer_req *p = t->data;
    /* A resolve still in progress calls back later and sees `done`. */
    peer_finish(p, UV_ETIMEDOUT, NULL);
}

static void peer_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    static char scratch[65536];
    (void)h;
    (void)suggested;
    /* Bytes are copied into the reader right away; the loop is single
     * threaded, so one static scratch buffer serves every request. */
    b->base = scratch;
    b->len = sizeof scratch;
}

static void peer_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct peer_req *p = s->data;
    if (p->done)
        return;
    if (n < 0) {
        peer_finish(p, (int)n, NULL);
        return;
    }
    resp_reader_feed(&p->reader, b->base, (size_t)n);
    for (;;) {
        struct resp_value v;
        int rc = resp_reader_next(&p->reader, &v);
        if (rc < 0) {
            peer_finish(p, UV_EPROTO, NULL);
            return;
        }
        if (rc == 0)
            return;
        p->replies_wanted--;
        if (p->replies_wanted == 0 || v.type == RESP_T_ERROR) {
            /* The last reply, or AUTH failed: either way that is the answer. */
            peer_finish(p, 0, &v);
            resp_value_free(&v);
            return;
        }
        resp_value_free(&v);
    }
}

static void peer_on_write(uv_write_t *w, int status)
{
    struct peer_req *p = w->data;
    if (status < 0)
        peer_finish(p, status, NULL);
}

/* The request goes out on p->stream, and the reply is read from it. */
static void peer_send(struct peer_req *p)
{
    uv_buf_t b = uv_buf_init(p->out.data, (unsigned)p->out.len);
    p->write.data = p;
    int rv = uv_write(&p->write, p->stream, &b, 1, peer_on_write);
    if (rv == 0)
        rv = uv_read_start(p->stream, peer_alloc, peer_on_read);
    if (rv != 0)
        peer_finish(p, rv, NULL);
}

static void peer_on_tls_ready(void *data, uv_stream_t *plain, int status, const char *why)
{
    struct peer_req *p = data;
    p->link = NULL;
    if (status != 0) {
        log_debug("peer request to %s:%s: %s", p->host, p->port, why != NULL ? why : "TLS failed");
        peer_finish(p, UV_EPROTO, NULL);
        return;
    }
    p->stream = plain;
    plain->data = p;
    p->stream_open = true;
    p->refs++;
    if (!p->done)
        peer_send(p);
    else
        uv_close((uv_handle_t *)plain, peer_stream_closed);
}

static void peer_on_connect(uv_connect_t *c, int status)
{
    struct peer_req *p = c->data;
    if (p->done)
        return;
    if (status < 0) {
        peer_finish(p, status, NULL);
        return;
    }
    if (p->tls == NULL) {
        peer_send(p);
        return;
    }
    /* The link owns the TCP handle from here on, so it is not ours to
     * close: its reference goes (the timer's keeps p). */
    p->stream_open = false;
    p->stream = NULL;
    p->refs--;
    raft_tls_link_start(p->tls, p->loop, (uv_stream_t *)p->tcp, true, peer_on_tls_ready, p, &p->link);
}

static void peer_on_resolved(uv_getaddrinfo_t *r, int status, struct addrinfo *res)
{
    struct peer_req *p = r->data;
    if (p->done || status < 0) {
        uv_freeaddrinfo(res);
        peer_finish(p, status, NULL); /* no-op when already done */
        peer_unref(p);                /* the resolve's reference */
        return;
    }
    p->tcp = raft_malloc(sizeof *p->tcp);
    int rv = p->tcp != NULL ? uv_tcp_init(p->loop, p->tcp) : UV_ENOMEM;
    if (rv == 0) {
        p->tcp->data = p;
        p->stream = (uv_stream_t *)p->tcp;
        p->stream_open = true;
        p->refs++;
        p->connect.data = p;
        rv = uv_tcp_connect(&p->connect, p->tcp, res->ai_addr, peer_on_connect);
    } else {
        raft_free(p->tcp);
        p->tcp = NULL;
    }
    uv_freeaddrinfo(res);
    if (rv != 0)
        peer_finish(p, rv, NULL);
    peer_unref(p); /* the resolve's reference */
}

static void peer_encode(struct buf *b, int argc, const char *const *argv)
{
    resp_write_array_header(b, (size_t)argc);
    for (int i = 0; i < argc; i++)
        resp_write_bulk_str(b, argv[i]);
}

int peer_request(uv_loop_t *loop, const char *address, struct raft_tls *tls, const char *peer_token, int argc,
                 const char *const *argv, unsigned timeout_ms, peer_cb cb, void *arg)
{
    struct peer_req *p = xcalloc(1, sizeof *p);
    unsigned port;
    if (addr_split(address, p->host, sizeof p->host, &port) != 0) {
        free(p);
        return UV_EINVAL;
    }
    snprintf(p->port, sizeof p->port, "%u", port);
    p->loop = loop;
    p->tls = tls;
    p->cb = cb;
    p->arg = arg;
    buf_init(&p->out);
    resp_reader_init(&p->reader, NULL);
    p->replies_wanted = 1;
    if (peer_token != NULL) {
        const char *auth[3] = {"AUTH", ACL_PEER_USER, peer_token};
        peer_encode(&p->out, 3, auth);
        p->replies_wanted = 2;
    }
    peer_encode(&p->out, argc, argv);

    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    p->resolve.data = p;
    int rv = uv_getaddrinfo(loop, &p->resolve, peer_on_resolved, p->host, p->port, &hints);
    if (rv != 0) {
        buf_free(&p->out);
        resp_reader_free(&p->reader);
        free(p);
        return rv;
    }
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    p->refs = 2; /* the timer and the resolve */
    uv_timer_start(&p->timer, peer_on_timeout, timeout_ms, 0);
    return 0;
}
