/* raft_tcp.c - TCP_NODELAY on raft's connections (see raft_tcp.h). */
#include "server/raft_tcp.h"

#include <stdlib.h>
#include <uv.h>

#include "common/log.h"
#include "common/mem.h"

/* A connect in flight: the inner transport calls our callback, which hands
 * the stream to the one raft_uv asked for. */
struct raft_tcp_connect {
    struct raft_uv_connect *req;
    raft_uv_connect_cb cb;
    struct raft_tcp_connect *next;
};

static void set_nodelay(struct uv_stream_s *stream)
{
    /* Not fatal: the connection still works, only with Nagle's delays. */
    int rv = uv_tcp_nodelay((uv_tcp_t *)stream, 1);
    if (rv != 0)
        log_warn("raft connection: TCP_NODELAY: %s", uv_strerror(rv));
}

static void raft_tcp_accept_cb(struct raft_uv_transport *transport, raft_id id, const char *address,
                               struct uv_stream_s *stream)
{
    struct raft_tcp *t = (struct raft_tcp *)transport; /* first member */
    if (stream != NULL)
        set_nodelay(stream);
    t->accept_cb(transport, id, address, stream);
}

static int raft_tcp_listen(struct raft_uv_transport *transport, raft_uv_accept_cb cb)
{
    struct raft_tcp *t = (struct raft_tcp *)transport;
    t->accept_cb = cb;
    return t->inner_listen(transport, raft_tcp_accept_cb);
}

/* The connect callback does not get the transport, so every raft_tcp's
 * connects are found by request in this process-wide list; a process runs
 * one node, so it holds at most one entry per peer. */
static struct raft_tcp_connect *connecting;

static void raft_tcp_free_handle(uv_handle_t *h)
{
    free(h);
}

static void raft_tcp_connect_cb(struct raft_uv_connect *req, struct uv_stream_s *stream, int status)
{
    struct raft_tcp_connect **p = &connecting;
    while (*p != NULL && (*p)->req != req)
        p = &(*p)->next;
    if (*p == NULL) {
        /* raft_tcp_close has run: raft_uv_tcp cancels a pending connect by
         * closing its handle and fires the callback from that handle's
         * close callback, which may come after the transport's close has
         * completed and raft has let go of the request. Nobody waits for
         * it any more, and the request may be freed memory: drop it. A
         * stream (never seen: cancelled connects carry none) would have no
         * owner, so close it; raft allocates it with the default
         * raft_malloc. */
        log_debug("raft connection: a connect finished after the transport closed (%d)", status);
        if (stream != NULL && !uv_is_closing((uv_handle_t *)stream))
            uv_close((uv_handle_t *)stream, raft_tcp_free_handle);
        return;
    }
    struct raft_tcp_connect *c = *p;
    *p = c->next;
    raft_uv_connect_cb cb = c->cb;
    free(c);

    if (status == 0 && stream != NULL)
        set_nodelay(stream);
    req->cb = cb;
    cb(req, stream, status);
}

static int raft_tcp_connect(struct raft_uv_transport *transport, struct raft_uv_connect *req, raft_id id,
                            const char *address, raft_uv_connect_cb cb)
{
    struct raft_tcp *t = (struct raft_tcp *)transport;
    struct raft_tcp_connect *c = xmalloc(sizeof *c);
    c->req = req;
    c->cb = cb;
    c->next = connecting;
    connecting = c;
    int rv = t->inner_connect(transport, req, id, address, raft_tcp_connect_cb);
    if (rv != 0) {
        connecting = c->next;
        free(c);
    }
    return rv;
}

void raft_tcp_init(struct raft_tcp *t)
{
    t->inner_listen = t->transport.listen;
    t->inner_connect = t->transport.connect;
    t->accept_cb = NULL;
    t->transport.listen = raft_tcp_listen;
    t->transport.connect = raft_tcp_connect;
}

void raft_tcp_close(struct raft_tcp *t)
{
    (void)t;
    /* Raft has closed: connects still pending were cancelled, and their
     * callbacks, if they come, are dropped (raft_tcp_connect_cb). */
    while (connecting != NULL) {
        struct raft_tcp_connect *c = connecting;
        connecting = c->next;
        free(c);
    }
}
