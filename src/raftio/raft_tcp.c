/* raft_tcp.c - TCP_NODELAY and the cluster-identity hello on raft's
 * connections (see raft_tcp.h). */
#include "raftio/raft_tcp.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/be64.h"
#include "common/log.h"
#include "common/mem.h"

#define HELLO_BYTES 32
#define HELLO_VERSION 1
#define HELLO_FLAG_ID 1u
#define HELLO_TICK_MS 250
#define REFUSAL_LOG_EVERY_MS 10000

static const char hello_magic[8] = {'E', 'F', 'H', 'E', 'L', 'L', 'O', '1'};

/* One connection between raft_uv_tcp's handshake and raft: ours until its
 * hello is done. Freed once nothing of libuv's refers to it: after its
 * write's callback, and, when we close the stream, after the close's. */
struct raft_tcp_hello {
    struct raft_tcp *t; /* NULL once the transport no longer knows it */
    uv_stream_t *stream;
    bool outgoing;
    uint8_t mine[HELLO_BYTES];
    uint8_t theirs[HELLO_BYTES];
    size_t nread;
    bool peeking;     /* acceptor: waiting to see the peer's first byte */
    uint64_t deadline_ms;
    uv_write_t write;
    bool writing;     /* `write` is in flight */
    bool done;        /* handed to raft, or closed: only the write is left */
    bool closing;     /* we close the stream: its close callback frees this */
    bool refused;     /* connector: our hello goes out, then the stream closes */
    raft_id id;       /* the peer's raft id */
    char *address;    /* owned: the peer's raft address (acceptor) */
    struct raft_uv_connect *req; /* connector: raft's request and callback */
    raft_uv_connect_cb cb;
    struct raft_tcp_hello *next;
};

static void set_nodelay(struct uv_stream_s *stream)
{
    /* Not fatal: the connection still works, only with Nagle's delays. */
    int rv = uv_tcp_nodelay((uv_tcp_t *)stream, 1);
    if (rv != 0)
        log_warn("raft connection: TCP_NODELAY: %s", uv_strerror(rv));
}

static void hex_id(const uint8_t id[RAFT_TCP_ID_BYTES], char out[2 * RAFT_TCP_ID_BYTES + 1])
{
    for (size_t i = 0; i < RAFT_TCP_ID_BYTES; i++)
        snprintf(out + 2 * i, 3, "%02x", id[i]);
}

/* ---- the hello's lifetime ------------------------------------------------- */

static void hello_unlink(struct raft_tcp_hello *h)
{
    if (h->t == NULL)
        return;
    struct raft_tcp_hello **p = &h->t->hellos;
    while (*p != NULL && *p != h)
        p = &(*p)->next;
    if (*p == h)
        *p = h->next;
    h->t = NULL;
}

static void hello_free(struct raft_tcp_hello *h)
{
    free(h->address);
    free(h);
}

static void hello_free_if_idle(struct raft_tcp_hello *h)
{
    if (h->done && !h->writing && !h->closing)
        hello_free(h);
}

static void hello_stream_closed(uv_handle_t *handle)
{
    struct raft_tcp_hello *h = handle->data;
    /* raft_uv_tcp allocated the handle with raft's allocator. */
    raft_free(handle);
    /* A write in flight was cancelled before this callback. */
    hello_free(h);
}

/* Close the stream and forget the connection; a connector's raft request is
 * answered with `status`. */
static void hello_abort(struct raft_tcp_hello *h, int status)
{
    hello_unlink(h);
    h->done = true;
    h->closing = true;
    if (h->outgoing && h->cb != NULL) {
        raft_uv_connect_cb cb = h->cb;
        h->cb = NULL;
        h->req->cb = cb;
        cb(h->req, NULL, status);
    }
    h->stream->data = h;
    uv_close((uv_handle_t *)h->stream, hello_stream_closed);
}

/* The hello is done: raft gets the stream. */
static void hello_hand_over(struct raft_tcp_hello *h)
{
    struct raft_tcp *t = h->t;
    hello_unlink(h);
    h->done = true;
    uv_stream_t *stream = h->stream;
    stream->data = NULL;
    if (h->outgoing) {
        raft_uv_connect_cb cb = h->cb;
        h->cb = NULL;
        h->req->cb = cb;
        cb(h->req, stream, 0);
    } else {
        t->accept_cb(&t->transport, h->id, h->address, stream);
    }
    hello_free_if_idle(h);
}

static void hello_written(uv_write_t *w, int status)
{
    struct raft_tcp_hello *h = w->data;
    h->writing = false;
    if (h->refused && !h->closing) {
        /* The acceptor has our hello too, and logs the refusal itself. */
        hello_abort(h, RAFT_NOCONNECTION);
        return;
    }
    if (status != 0 && !h->done) {
        log_debug("raft connection: sending the hello: %s", uv_strerror(status));
        hello_abort(h, RAFT_NOCONNECTION);
        return;
    }
    hello_free_if_idle(h);
}

static void hello_send(struct raft_tcp_hello *h)
{
    uv_buf_t b = uv_buf_init((char *)h->mine, HELLO_BYTES);
    h->write.data = h;
    int rv = uv_write(&h->write, h->stream, &b, 1, hello_written);
    if (rv != 0) {
        log_debug("raft connection: sending the hello: %s", uv_strerror(rv));
        hello_abort(h, RAFT_NOCONNECTION);
        return;
    }
    h->writing = true;
}

/* ---- checking a hello ------------------------------------------------------ */

static void hello_encode(const struct raft_tcp *t, uint8_t out[HELLO_BYTES])
{
    memset(out, 0, HELLO_BYTES);
    memcpy(out, hello_magic, sizeof hello_magic);
    out[8] = 0;
    out[9] = HELLO_VERSION;
    out[11] = t->has_id ? HELLO_FLAG_ID : 0;
    if (t->has_id)
        memcpy(out + 16, t->id, RAFT_TCP_ID_BYTES);
}

static void log_refusal(struct raft_tcp *t, const struct raft_tcp_hello *h, const uint8_t theirs[RAFT_TCP_ID_BYTES])
{
    t->stats.refused++;
    uint64_t now = uv_now(t->loop);
    if (t->refusal_logged_ms != 0 && now - t->refusal_logged_ms < REFUSAL_LOG_EVERY_MS) {
        t->refusals_unlogged++;
        return;
    }
    char mine[2 * RAFT_TCP_ID_BYTES + 1], other[2 * RAFT_TCP_ID_BYTES + 1];
    hex_id(t->id, mine);
    hex_id(theirs, other);
    char more[64] = "";
    if (t->refusals_unlogged != 0)
        snprintf(more, sizeof more, " (and %" PRIu64 " more since the last such message)", t->refusals_unlogged);
    log_error("refusing a raft connection %s node %" PRIu64 "%s%s: it belongs to cluster %s, this node to cluster "
              "%s%s. A node with another cluster's history must never join: to add it, stop it, empty its data "
              "directory and start it with --join (docs/operations.md, \"Adding a member by hand\")",
              h->outgoing ? "to" : "from", (uint64_t)h->id, h->address != NULL ? " at " : "",
              h->address != NULL ? h->address : "", other, mine, more);
    t->refusal_logged_ms = now;
    t->refusals_unlogged = 0;
}

/* Is the peer's hello well-formed and of our cluster? Refusals are logged. */
static bool hello_accepts(struct raft_tcp *t, struct raft_tcp_hello *h)
{
    const uint8_t *p = h->theirs;
    if (memcmp(p, hello_magic, sizeof hello_magic) != 0 || p[9] == 0) {
        log_warn("raft connection %s node %" PRIu64 ": not a hello; closing it", h->outgoing ? "to" : "from",
                 (uint64_t)h->id);
        return false;
    }
    /* Later versions keep this layout and add what they need after it. */
    bool peer_has_id = (p[11] & HELLO_FLAG_ID) != 0;
    if (t->has_id && peer_has_id && memcmp(t->id, p + 16, RAFT_TCP_ID_BYTES) != 0) {
        log_refusal(t, h, p + 16);
        return false;
    }
    return true;
}

/* ---- exact reads of the peer's hello --------------------------------------- */

static void hello_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct raft_tcp_hello *h = handle->data;
    /* Never more than the hello: what follows is raft's. */
    *buf = uv_buf_init((char *)h->theirs + h->nread, (unsigned)(HELLO_BYTES - h->nread));
}

static void hello_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    struct raft_tcp_hello *h = stream->data;
    if (nread == 0 || nread == UV_EAGAIN)
        return;
    if (nread < 0) {
        log_debug("raft connection %s node %" PRIu64 ": %s during the hello", h->outgoing ? "to" : "from",
                  (uint64_t)h->id, uv_strerror((int)nread));
        hello_abort(h, RAFT_NOCONNECTION);
        return;
    }
    h->nread += (size_t)nread;
    if (h->nread < HELLO_BYTES)
        return;
    uv_read_stop(stream);
    struct raft_tcp *t = h->t;
    if (!hello_accepts(t, h)) {
        if (!h->outgoing) {
            hello_abort(h, 0);
            return;
        }
        /* Raft hears of it now; the stream closes once the acceptor was
         * told who we are (hello_written). */
        h->refused = true;
        hello_unlink(h);
        h->done = true;
        raft_uv_connect_cb cb = h->cb;
        h->cb = NULL;
        h->req->cb = cb;
        cb(h->req, NULL, RAFT_NOCONNECTION);
        hello_send(h);
        return;
    }
    if (h->outgoing) {
        /* Ours goes out ahead of raft's messages: uv_write keeps order. */
        hello_send(h);
        if (h->done)
            return;
    }
    hello_hand_over(h);
}

/* Acceptor: a zero-length buffer makes libuv report readability (as
 * UV_ENOBUFS) without reading, so the first byte can be peeked at. */
static void peek_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)handle;
    (void)suggested;
    *buf = uv_buf_init(NULL, 0);
}

static void peek_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    struct raft_tcp_hello *h = stream->data;
    if (nread != UV_ENOBUFS) {
        if (nread < 0) {
            hello_abort(h, 0);
        }
        return;
    }
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)stream, &fd) != 0) {
        hello_abort(h, 0);
        return;
    }
    char first;
    ssize_t r = recv(fd, &first, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    uv_read_stop(stream);
    h->peeking = false;
    if (r <= 0) {
        log_debug("raft connection from node %" PRIu64 ": closed during the hello", (uint64_t)h->id);
        hello_abort(h, 0);
        return;
    }
    if (first != hello_magic[0]) {
        /* An older version's raft message: the connection is raft's. */
        h->t->stats.legacy++;
        log_debug("raft connection from node %" PRIu64 ": no hello (an older version); identity unchecked",
                  (uint64_t)h->id);
        hello_hand_over(h);
        return;
    }
    int rv = uv_read_start(stream, hello_alloc, hello_read);
    if (rv != 0)
        hello_abort(h, 0);
}

/* ---- deadlines -------------------------------------------------------------- */

static void tick_cb(uv_timer_t *timer)
{
    struct raft_tcp *t = timer->data;
    uint64_t now = uv_now(t->loop);
    struct raft_tcp_hello *h = t->hellos, *next;
    for (; h != NULL; h = next) {
        next = h->next;
        if (now < h->deadline_ms)
            continue;
        uv_read_stop(h->stream);
        if (h->outgoing && h->nread == 0) {
            /* An acceptor of an older version never says hello. */
            t->stats.legacy++;
            log_debug("raft connection to node %" PRIu64 ": no hello within %d ms, taken for an older version; "
                      "identity unchecked",
                      (uint64_t)h->id, t->hello_wait_ms);
            hello_hand_over(h);
        } else {
            log_debug("raft connection %s node %" PRIu64 ": the hello did not finish in time",
                      h->outgoing ? "to" : "from", (uint64_t)h->id);
            hello_abort(h, RAFT_NOCONNECTION);
        }
    }
    if (t->hellos == NULL)
        uv_timer_stop(&t->tick);
}

static struct raft_tcp_hello *hello_new(struct raft_tcp *t, uv_stream_t *stream, bool outgoing, raft_id id)
{
    struct raft_tcp_hello *h = xcalloc(1, sizeof *h);
    h->t = t;
    h->stream = stream;
    h->outgoing = outgoing;
    h->id = id;
    h->deadline_ms = uv_now(t->loop) + t->hello_wait_ms;
    hello_encode(t, h->mine);
    stream->data = h;
    h->next = t->hellos;
    t->hellos = h;
    if (t->tick_open && !uv_is_active((uv_handle_t *)&t->tick)) {
        unsigned every = t->hello_wait_ms < HELLO_TICK_MS ? t->hello_wait_ms : HELLO_TICK_MS;
        uv_timer_start(&t->tick, tick_cb, every, every);
    }
    return h;
}

/* ---- the transport's hooks ---------------------------------------------------- */

static void raft_tcp_accept_cb(struct raft_uv_transport *transport, raft_id id, const char *address,
                               struct uv_stream_s *stream)
{
    struct raft_tcp *t = (struct raft_tcp *)transport; /* first member */
    if (stream == NULL || t->closing) {
        t->accept_cb(transport, id, address, stream);
        return;
    }
    set_nodelay(stream);
    struct raft_tcp_hello *h = hello_new(t, stream, false, id);
    h->address = xstrdup(address);
    h->peeking = true;
    hello_send(h);
    if (h->done)
        return;
    int rv = uv_read_start(stream, peek_alloc, peek_read);
    if (rv != 0)
        hello_abort(h, 0);
}

static int raft_tcp_listen(struct raft_uv_transport *transport, raft_uv_accept_cb cb)
{
    struct raft_tcp *t = (struct raft_tcp *)transport;
    t->accept_cb = cb;
    return t->inner_listen(transport, raft_tcp_accept_cb);
}

/* A connect raft_uv_tcp is making for us. Its callback does not get the
 * transport, so these are found by request in a process-wide list; a
 * process runs one node, so it holds at most one entry per peer. */
struct raft_tcp_connect {
    struct raft_tcp *t;
    struct raft_uv_connect *req;
    raft_uv_connect_cb cb;
    raft_id id;
    struct raft_tcp_connect *next;
};
static struct raft_tcp_connect *connecting;

static void raft_tcp_free_handle(uv_handle_t *h)
{
    raft_free(h);
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
         * owner, so close it; raft allocates it with raft_malloc. */
        log_debug("raft connection: a connect finished after the transport closed (%d)", status);
        if (stream != NULL && !uv_is_closing((uv_handle_t *)stream))
            uv_close((uv_handle_t *)stream, raft_tcp_free_handle);
        return;
    }
    struct raft_tcp_connect *c = *p;
    *p = c->next;
    struct raft_tcp *t = c->t;
    raft_uv_connect_cb cb = c->cb;
    raft_id id = c->id;
    free(c);

    if (status != 0 || stream == NULL || t->closing) {
        req->cb = cb;
        cb(req, stream, status);
        return;
    }
    set_nodelay(stream);
    struct raft_tcp_hello *h = hello_new(t, stream, true, id);
    h->req = req;
    h->cb = cb;
    int rv = uv_read_start(stream, hello_alloc, hello_read);
    if (rv != 0)
        hello_abort(h, RAFT_NOCONNECTION);
}

static int raft_tcp_connect(struct raft_uv_transport *transport, struct raft_uv_connect *req, raft_id id,
                            const char *address, raft_uv_connect_cb cb)
{
    struct raft_tcp *t = (struct raft_tcp *)transport;
    struct raft_tcp_connect *c = xmalloc(sizeof *c);
    c->t = t;
    c->req = req;
    c->cb = cb;
    c->id = id;
    c->next = connecting;
    connecting = c;
    int rv = t->inner_connect(transport, req, id, address, raft_tcp_connect_cb);
    if (rv != 0) {
        connecting = c->next;
        free(c);
    }
    return rv;
}

static void raft_tcp_tick_closed(uv_handle_t *handle)
{
    struct raft_tcp *t = handle->data;
    t->tick_open = false;
    t->inner_close(&t->transport, t->close_cb);
}

/* Close: the hellos under way end (a connector's request is cancelled, as
 * the transport interface asks), then raft_uv_tcp closes. */
static void raft_tcp_transport_close(struct raft_uv_transport *transport, raft_uv_transport_close_cb cb)
{
    struct raft_tcp *t = (struct raft_tcp *)transport;
    t->closing = true;
    t->close_cb = cb;
    while (t->hellos != NULL)
        hello_abort(t->hellos, RAFT_CANCELED);
    if (t->tick_open) {
        uv_close((uv_handle_t *)&t->tick, raft_tcp_tick_closed);
        return;
    }
    t->inner_close(transport, cb);
}

void raft_tcp_init(struct raft_tcp *t, uv_loop_t *loop)
{
    t->inner_listen = t->transport.listen;
    t->inner_connect = t->transport.connect;
    t->inner_close = t->transport.close;
    t->accept_cb = NULL;
    t->loop = loop;
    t->hellos = NULL;
    t->closing = false;
    t->has_id = false;
    memset(&t->stats, 0, sizeof t->stats);
    t->refusal_logged_ms = 0;
    t->refusals_unlogged = 0;
    t->hello_wait_ms = RAFT_TCP_HELLO_WAIT_MS;
    uv_timer_init(loop, &t->tick);
    t->tick.data = t;
    t->tick_open = true;
    t->transport.listen = raft_tcp_listen;
    t->transport.connect = raft_tcp_connect;
    t->transport.close = raft_tcp_transport_close;
}

void raft_tcp_set_cluster_id(struct raft_tcp *t, const uint8_t id[RAFT_TCP_ID_BYTES])
{
    if (t->has_id && memcmp(t->id, id, RAFT_TCP_ID_BYTES) == 0)
        return;
    memcpy(t->id, id, RAFT_TCP_ID_BYTES);
    t->has_id = true;
}

void raft_tcp_close(struct raft_tcp *t)
{
    /* Set up but never closed through the transport's hook (node_init
     * failed before raft took the transport over). */
    if (t->tick_open && !t->closing) {
        uv_close((uv_handle_t *)&t->tick, NULL);
        t->tick_open = false;
    }
    /* Raft has closed: connects still pending were cancelled, and their
     * callbacks, if they come, are dropped (raft_tcp_connect_cb). */
    struct raft_tcp_connect **p = &connecting;
    while (*p != NULL) {
        struct raft_tcp_connect *c = *p;
        if (c->t == t) {
            *p = c->next;
            free(c);
        } else {
            p = &c->next;
        }
    }
}
