/* raft_tcp_tls.c - with TLS on (raft_tcp_set_tls), every connection
 * raft_uv_tcp accepts or makes goes through a mutual TLS handshake
 * (raft_tls.h) before the hello, which then runs on the link's plaintext
 * stream: a peer without a certificate the peer CA signed is refused
 * before it can send raft, or the hello, a byte. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/mem.h"
#include "raftio/raft_tcp_internal.h"
#include "raftio/raft_tls.h"

/* One connection in its TLS handshake. Freed when the link's callback
 * runs, or when the handshake is cut short (deadline, close). */
struct raft_tcp_tls_wait {
    struct raft_tcp *t;
    struct raft_tls_link *link;  /* the link owns the TCP stream */
    bool outgoing;
    raft_id id;                  /* as raft_uv_tcp's handshake claims */
    char *address;               /* owned: the acceptor's peer's raft address */
    char peer[96];               /* IP:port */
    struct raft_uv_connect *req; /* connector: raft's request and callback */
    raft_uv_connect_cb cb;
    uint64_t deadline_ms;
    struct raft_tcp_tls_wait *next;
};

static void wait_unlink(struct raft_tcp_tls_wait *w)
{
    struct raft_tcp_tls_wait **p = &w->t->tls_waits;
    while (*p != NULL && *p != w)
        p = &(*p)->next;
    if (*p == w)
        *p = w->next;
}

static void wait_free(struct raft_tcp_tls_wait *w)
{
    free(w->address);
    free(w);
}

/* A connector's raft request is answered: no connection. */
static void wait_answer(struct raft_tcp_tls_wait *w, int status)
{
    if (!w->outgoing || w->cb == NULL)
        return;
    raft_uv_connect_cb cb = w->cb;
    w->cb = NULL;
    w->req->cb = cb;
    cb(w->req, NULL, status);
}

static void log_tls_refusal(struct raft_tcp *t, const struct raft_tcp_tls_wait *w, const char *why)
{
    t->stats.tls_refused++;
    char more[96];
    if (!raft_tcp_refusal_to_log(t, RAFT_TCP_REFUSAL_TLS, more, sizeof more))
        return;
    log_error("refusing a raft connection %s %s (claiming node %" PRIu64 "): %s%s. Every member needs a "
              "certificate signed by the peer CA (--tls-peer-ca) and raft TLS on (docs/operations.md, \"TLS "
              "between nodes\")",
              w->outgoing ? "to" : "from", w->peer, (uint64_t)w->id, why != NULL ? why : "TLS failed", more);
}

static void on_link_ready(void *data, uv_stream_t *raft_end, int status, const char *why)
{
    struct raft_tcp_tls_wait *w = data;
    struct raft_tcp *t = w->t;
    wait_unlink(w);
    if (status != 0) {
        log_tls_refusal(t, w, why);
        wait_answer(w, RAFT_NOCONNECTION);
    } else if (w->outgoing) {
        raft_tcp_hello_connected(t, w->req, w->cb, w->id, raft_end, w->peer);
    } else {
        raft_tcp_hello_accepted(t, w->id, w->address, raft_end, w->peer);
    }
    wait_free(w);
}

static struct raft_tcp_tls_wait *wait_new(struct raft_tcp *t, bool outgoing, raft_id id, const char *peer)
{
    struct raft_tcp_tls_wait *w = xcalloc(1, sizeof *w);
    w->t = t;
    w->outgoing = outgoing;
    w->id = id;
    snprintf(w->peer, sizeof w->peer, "%s", peer);
    w->deadline_ms = uv_now(t->loop) + t->hello_wait_ms;
    w->next = t->tls_waits;
    t->tls_waits = w;
    raft_tcp_tick_start(t);
    return w;
}

void raft_tcp_tls_accepted(struct raft_tcp *t, raft_id id, const char *address, uv_stream_t *stream,
                           const char *peer)
{
    struct raft_tcp_tls_wait *w = wait_new(t, false, id, peer);
    w->address = xstrdup(address);
    raft_tls_link_start(t->tls, t->loop, stream, false, on_link_ready, w, &w->link);
}

void raft_tcp_tls_connected(struct raft_tcp *t, struct raft_uv_connect *req, raft_uv_connect_cb cb, raft_id id,
                            uv_stream_t *stream, const char *peer)
{
    struct raft_tcp_tls_wait *w = wait_new(t, true, id, peer);
    w->req = req;
    w->cb = cb;
    raft_tls_link_start(t->tls, t->loop, stream, true, on_link_ready, w, &w->link);
}

void raft_tcp_tls_tick(struct raft_tcp *t, uint64_t now)
{
    struct raft_tcp_tls_wait *w = t->tls_waits, *next;
    for (; w != NULL; w = next) {
        next = w->next;
        if (now < w->deadline_ms)
            continue;
        wait_unlink(w);
        raft_tls_link_abort(w->link);
        log_tls_refusal(t, w, "no TLS handshake in time");
        wait_answer(w, RAFT_NOCONNECTION);
        wait_free(w);
    }
}

void raft_tcp_tls_cancel(struct raft_tcp *t)
{
    while (t->tls_waits != NULL) {
        struct raft_tcp_tls_wait *w = t->tls_waits;
        t->tls_waits = w->next;
        raft_tls_link_abort(w->link);
        wait_answer(w, RAFT_CANCELED);
        wait_free(w);
    }
    if (t->tls != NULL)
        raft_tls_close_links(t->tls);
}

int raft_tcp_set_tls(struct raft_tcp *t, const char *cert, const char *key, const char *ca, char *err,
                     size_t errlen)
{
    t->tls = raft_tls_new(cert, key, ca, err, errlen);
    return t->tls != NULL ? 0 : -1;
}

int raft_tcp_reload_tls(struct raft_tcp *t, char *err, size_t errlen)
{
    if (t->tls == NULL)
        return 0;
    return raft_tls_reload(t->tls, err, errlen);
}
