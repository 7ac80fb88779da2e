/* raft_tcp.c - TCP_NODELAY, the cluster-identity hello and the proofs of
 * the cluster secret on raft's connections (see raft_tcp.h). */
#include "raftio/raft_tcp.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <sys/socket.h>

#include "common/be64.h"
#include "common/log.h"
#include "common/mem.h"
#include "raftio/raft_auth.h"
#include "raftio/raft_tcp_internal.h"
#include "raftio/raft_tls.h"

#define HELLO_BYTES 32
/* Version 1: the identity alone. Version 2: the identity, then a nonce
 * and proofs of the cluster secret (raft_tcp.h). */
#define HELLO_VERSION_PLAIN 1
#define HELLO_VERSION_SECRET 2
#define HELLO_FLAG_ID 1u
/* The longest a hello gets: the connector's fixed part, nonce and proof,
 * or what an acceptor reads of it. */
#define HELLO_MAX (RAFT_AUTH_HELLO_BYTES + RAFT_AUTH_PROOF_BYTES)
#define HELLO_TICK_MS 250
#define REFUSAL_LOG_EVERY_MS 10000

static const char hello_magic[8] = {'E', 'F', 'H', 'E', 'L', 'L', 'O', '1'};

/* One connection between raft_uv_tcp's handshake and raft: ours until its
 * hello is done. Freed once nothing of libuv's refers to it: after its
 * writes' callbacks, and, when we close the stream, after the close's. */
struct raft_tcp_hello {
    struct raft_tcp *t; /* NULL once the transport no longer knows it */
    uv_stream_t *stream;
    bool outgoing;
    uint8_t mine[HELLO_MAX];   /* what we send first (the connector: in answer) */
    size_t mine_len;
    uint8_t proof[RAFT_AUTH_PROOF_BYTES]; /* acceptor: its proof, sent last */
    uint8_t theirs[HELLO_MAX];
    size_t nread;
    size_t want;      /* read the peer's hello up to here */
    bool peeking;     /* acceptor: waiting to see the peer's first byte */
    uint64_t deadline_ms;
    uv_write_t write[2];
    unsigned writing; /* writes in flight */
    bool done;        /* handed to raft, or closed: only the writes are left */
    bool closing;     /* we close the stream: its close callback frees this */
    bool refused;     /* connector: our hello goes out, then the stream closes */
    raft_id id;       /* the peer's raft id */
    char *address;    /* owned: the peer's raft address (acceptor) */
    char peer[96];    /* the peer's IP:port, as the TCP socket says */
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
    if (h->done && h->writing == 0 && !h->closing)
        hello_free(h);
}

static void hello_stream_closed(uv_handle_t *handle)
{
    struct raft_tcp_hello *h = handle->data;
    /* raft_uv_tcp allocated the handle with raft's allocator. */
    raft_free(handle);
    /* Writes in flight were cancelled before this callback. */
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

/* The hello is done: raft gets the stream, an accepted one behind the frame
 * checks (raft_tcp_guard.c). */
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
        raft_tcp_guard_attach(t, stream, h->id, h->address);
    }
    hello_free_if_idle(h);
}

static void hello_written(uv_write_t *w, int status)
{
    struct raft_tcp_hello *h = w->data;
    h->writing--;
    if (h->refused && !h->closing) {
        /* The acceptor has our hello too, and logs the refusal itself. */
        if (h->writing == 0)
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

/* Write p (which must live as long as h) to the peer. */
static void hello_send(struct raft_tcp_hello *h, const uint8_t *p, size_t len)
{
    uv_write_t *w = &h->write[h->writing];
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)len);
    w->data = h;
    int rv = uv_write(w, h->stream, &b, 1, hello_written);
    if (rv != 0) {
        log_debug("raft connection: sending the hello: %s", uv_strerror(rv));
        hello_abort(h, RAFT_NOCONNECTION);
        return;
    }
    h->writing++;
}

/* ---- checking a hello ------------------------------------------------------ */

static void hello_encode(const struct raft_tcp *t, uint8_t out[HELLO_BYTES])
{
    memset(out, 0, HELLO_BYTES);
    memcpy(out, hello_magic, sizeof hello_magic);
    out[8] = 0;
    out[9] = t->secret != NULL ? HELLO_VERSION_SECRET : HELLO_VERSION_PLAIN;
    out[11] = t->has_id ? HELLO_FLAG_ID : 0;
    if (t->has_id)
        memcpy(out + 16, t->id, RAFT_TCP_ID_BYTES);
}

bool raft_tcp_refusal_to_log(struct raft_tcp *t, enum raft_tcp_refusal kind, char *more, size_t cap)
{
    uint64_t now = uv_now(t->loop);
    if (t->refusal_logged_ms[kind] != 0 && now - t->refusal_logged_ms[kind] < REFUSAL_LOG_EVERY_MS) {
        t->refusals_unlogged[kind]++;
        return false;
    }
    more[0] = '\0';
    if (t->refusals_unlogged[kind] != 0)
        snprintf(more, cap, " (and %" PRIu64 " more since the last such message)", t->refusals_unlogged[kind]);
    t->refusal_logged_ms[kind] = now;
    t->refusals_unlogged[kind] = 0;
    return true;
}

/* The peer's IP and port as the socket says (what it claims in raft's
 * handshake may be anything). */
void raft_tcp_peer_name(uv_stream_t *stream, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    snprintf(out, cap, "?");
    if (uv_tcp_getpeername((uv_tcp_t *)stream, (struct sockaddr *)&ss, &len) != 0)
        return;
    char ip[64] = "?";
    int port = 0;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        uv_ip4_name(in, ip, sizeof ip);
        port = ntohs(in->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        uv_ip6_name(in6, ip, sizeof ip);
        port = ntohs(in6->sin6_port);
    }
    snprintf(out, cap, "%s:%d", ip, port);
}

static void log_refusal(struct raft_tcp *t, const struct raft_tcp_hello *h, const uint8_t theirs[RAFT_TCP_ID_BYTES])
{
    t->stats.refused++;
    char more[96];
    if (!raft_tcp_refusal_to_log(t, RAFT_TCP_REFUSAL_CLUSTER, more, sizeof more))
        return;
    char mine[2 * RAFT_TCP_ID_BYTES + 1], other[2 * RAFT_TCP_ID_BYTES + 1];
    hex_id(t->id, mine);
    hex_id(theirs, other);
    log_error("refusing a raft connection %s node %" PRIu64 "%s%s: it belongs to cluster %s, this node to cluster "
              "%s%s. A node with another cluster's history must never join: to add it, stop it, empty its data "
              "directory and start it with --join (docs/operations.md, \"Adding a member by hand\")",
              h->outgoing ? "to" : "from", (uint64_t)h->id, h->address != NULL ? " at " : "",
              h->address != NULL ? h->address : "", other, mine, more);
}

/* A peer that did not prove it holds this node's cluster secret (or that
 * has one when this node has none, or sent no hello where one was due):
 * counted, logged at most every 10 s. */
static void log_unauthenticated(struct raft_tcp *t, const struct raft_tcp_hello *h, const char *why)
{
    t->stats.unauthenticated++;
    char more[96];
    if (!raft_tcp_refusal_to_log(t, RAFT_TCP_REFUSAL_SECRET, more, sizeof more))
        return;
    log_error("refusing a raft connection %s %s (claiming node %" PRIu64 "): %s%s. Every member must be started "
              "with the same --cluster-secret (docs/operations.md, \"The raft port\")",
              h->outgoing ? "to" : "from", h->peer, (uint64_t)h->id, why, more);
}

/* Is the peer's hello well-formed and of our cluster? Refusals are logged. */
static bool hello_accepts(struct raft_tcp *t, struct raft_tcp_hello *h)
{
    const uint8_t *p = h->theirs;
    if (memcmp(p, hello_magic, sizeof hello_magic) != 0 || p[9] == 0) {
        /* Counted and logged as a refusal: anyone can send this. */
        log_unauthenticated(t, h, "what it sent is not a hello");
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

/* Does the peer's hello version go with this node's secret, or its lack
 * of one? Refusals are logged. */
static bool hello_secret_matches(struct raft_tcp *t, struct raft_tcp_hello *h)
{
    unsigned version = (unsigned)h->theirs[8] << 8 | h->theirs[9];
    if (t->secret != NULL && version < HELLO_VERSION_SECRET) {
        log_unauthenticated(t, h, "it has no cluster secret");
        return false;
    }
    if (t->secret == NULL && version >= HELLO_VERSION_SECRET) {
        log_unauthenticated(t, h, "it has a cluster secret and this node none");
        return false;
    }
    return true;
}

static struct raft_auth_transcript hello_transcript(const struct raft_tcp *t, const struct raft_tcp_hello *h)
{
    if (h->outgoing)
        return (struct raft_auth_transcript){.connector_id = t->self,
                                             .acceptor_id = h->id,
                                             .acceptor_hello = h->theirs,
                                             .connector_hello = h->mine};
    return (struct raft_auth_transcript){
        .connector_id = h->id, .acceptor_id = t->self, .acceptor_hello = h->mine, .connector_hello = h->theirs};
}

/* ---- exact reads of the peer's hello --------------------------------------- */

static void hello_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct raft_tcp_hello *h = handle->data;
    /* Never more than the hello: what follows is raft's. */
    *buf = uv_buf_init((char *)h->theirs + h->nread, (unsigned)(h->want - h->nread));
}

/* Connector: refuse, telling the acceptor who we are first (it logs the
 * refusal too); raft hears of it now. */
static void connector_refuse(struct raft_tcp_hello *h)
{
    h->refused = true;
    hello_unlink(h);
    h->done = true;
    raft_uv_connect_cb cb = h->cb;
    h->cb = NULL;
    h->req->cb = cb;
    cb(h->req, NULL, RAFT_NOCONNECTION);
    hello_send(h, h->mine, HELLO_BYTES);
}

static void refuse(struct raft_tcp_hello *h)
{
    if (h->outgoing)
        connector_refuse(h);
    else
        hello_abort(h, 0);
}

/* The steps of a hello, each run once the peer's bytes it needs are in.
 * Each returns true if the hello goes on reading (h lives), false if it
 * ended (h may be freed). */

/* The peer's fixed part is in. */
static bool hello_fixed_read(struct raft_tcp *t, struct raft_tcp_hello *h)
{
    if (!hello_accepts(t, h) || !hello_secret_matches(t, h)) {
        refuse(h);
        return false;
    }
    if (t->secret != NULL) {
        /* The acceptor's nonce, or the connector's nonce and proof. */
        h->want = h->outgoing ? RAFT_AUTH_HELLO_BYTES : HELLO_MAX;
        return true;
    }
    if (h->outgoing) {
        /* Ours goes out ahead of raft's messages: uv_write keeps order. */
        hello_send(h, h->mine, HELLO_BYTES);
        if (h->done)
            return false;
    }
    hello_hand_over(h);
    return false;
}

/* Connector: the acceptor's nonce is in; our nonce and proof go out. */
static bool connector_prove(struct raft_tcp *t, struct raft_tcp_hello *h)
{
    struct raft_auth_transcript tr = hello_transcript(t, h);
    if (raft_auth_prove(t->secret, t->secret_len, RAFT_AUTH_CONNECTOR, &tr, h->mine + RAFT_AUTH_HELLO_BYTES) != 0) {
        log_warn("raft connection to node %" PRIu64 ": HMAC failed", (uint64_t)h->id);
        hello_abort(h, RAFT_NOCONNECTION);
        return false;
    }
    h->want = HELLO_MAX; /* then the acceptor's proof */
    hello_send(h, h->mine, HELLO_MAX);
    return !h->done;
}

/* The peer's proof is in. */
static bool hello_proof_read(struct raft_tcp *t, struct raft_tcp_hello *h)
{
    struct raft_auth_transcript tr = hello_transcript(t, h);
    enum raft_auth_role theirs = h->outgoing ? RAFT_AUTH_ACCEPTOR : RAFT_AUTH_CONNECTOR;
    const uint8_t *proof = h->theirs + RAFT_AUTH_HELLO_BYTES; /* after the hello either way */
    if (!raft_auth_check(t->secret, t->secret_len, theirs, &tr, proof)) {
        log_unauthenticated(t, h, "its proof of the cluster secret is wrong (another secret?)");
        hello_abort(h, RAFT_NOCONNECTION);
        return false;
    }
    if (!h->outgoing) {
        if (raft_auth_prove(t->secret, t->secret_len, RAFT_AUTH_ACCEPTOR, &tr, h->proof) != 0) {
            log_warn("raft connection from node %" PRIu64 ": HMAC failed", (uint64_t)h->id);
            hello_abort(h, 0);
            return false;
        }
        hello_send(h, h->proof, sizeof h->proof);
        if (h->done)
            return false;
    }
    hello_hand_over(h);
    return false;
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
    if (h->nread < h->want)
        return;
    /* Stopped before raft may start reading; started again by a step that
     * needs more of the hello. */
    uv_read_stop(stream);
    struct raft_tcp *t = h->t;
    bool more;
    if (h->nread == HELLO_BYTES)
        more = hello_fixed_read(t, h);
    else if (h->nread == RAFT_AUTH_HELLO_BYTES && h->outgoing)
        more = connector_prove(t, h);
    else
        more = hello_proof_read(t, h);
    if (more && uv_read_start(stream, hello_alloc, hello_read) != 0)
        hello_abort(h, RAFT_NOCONNECTION);
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
        if (h->t->secret != NULL) {
            /* An outsider speaking raft, or a node of an older version:
             * raft must not read a byte of it. */
            log_unauthenticated(h->t, h, "it sent raft messages without a hello");
            hello_abort(h, 0);
            return;
        }
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
        if (h->outgoing && h->nread == 0 && t->secret != NULL) {
            log_unauthenticated(t, h, "it sent no hello (a node without the cluster secret, or of an older version)");
            hello_abort(h, RAFT_NOCONNECTION);
        } else if (h->outgoing && h->nread == 0) {
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
    raft_tcp_tls_tick(t, now);
    if (t->hellos == NULL && t->tls_waits == NULL)
        uv_timer_stop(&t->tick);
}

static struct raft_tcp_hello *hello_new(struct raft_tcp *t, uv_stream_t *stream, bool outgoing, raft_id id,
                                        const char *peer)
{
    struct raft_tcp_hello *h = xcalloc(1, sizeof *h);
    snprintf(h->peer, sizeof h->peer, "%s", peer);
    h->t = t;
    h->stream = stream;
    h->outgoing = outgoing;
    h->id = id;
    h->deadline_ms = uv_now(t->loop) + t->hello_wait_ms;
    h->want = HELLO_BYTES;
    hello_encode(t, h->mine);
    h->mine_len = HELLO_BYTES;
    stream->data = h;
    h->next = t->hellos;
    t->hellos = h;
    raft_tcp_tick_start(t);
    return h;
}

void raft_tcp_tick_start(struct raft_tcp *t)
{
    if (t->tick_open && !uv_is_active((uv_handle_t *)&t->tick)) {
        unsigned every = t->hello_wait_ms < HELLO_TICK_MS ? t->hello_wait_ms : HELLO_TICK_MS;
        uv_timer_start(&t->tick, tick_cb, every, every);
    }
}

/* ---- the transport's hooks ---------------------------------------------------- */

void raft_tcp_hello_accepted(struct raft_tcp *t, raft_id id, const char *address, uv_stream_t *stream,
                             const char *peer)
{
    struct raft_tcp_hello *h = hello_new(t, stream, false, id, peer);
    h->address = xstrdup(address);
    h->peeking = true;
    if (t->secret != NULL) {
        if (raft_auth_nonce(h->mine + HELLO_BYTES) != 0) {
            log_error("raft connection from node %" PRIu64 ": no random bytes for a nonce", (uint64_t)id);
            hello_abort(h, 0);
            return;
        }
        h->mine_len = RAFT_AUTH_HELLO_BYTES;
    }
    hello_send(h, h->mine, h->mine_len);
    if (h->done)
        return;
    int rv = uv_read_start(stream, peek_alloc, peek_read);
    if (rv != 0)
        hello_abort(h, 0);
}

static void raft_tcp_accept_cb(struct raft_uv_transport *transport, raft_id id, const char *address,
                               struct uv_stream_s *stream)
{
    struct raft_tcp *t = (struct raft_tcp *)transport; /* first member */
    if (stream == NULL || t->closing) {
        t->accept_cb(transport, id, address, stream);
        return;
    }
    set_nodelay(stream);
    char peer[96];
    raft_tcp_peer_name(stream, peer, sizeof peer);
    /* With TLS the hello runs inside it, once the handshake is through. */
    if (t->tls != NULL)
        raft_tcp_tls_accepted(t, id, address, stream, peer);
    else
        raft_tcp_hello_accepted(t, id, address, stream, peer);
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
    char peer[96];
    raft_tcp_peer_name(stream, peer, sizeof peer);
    if (t->tls != NULL)
        raft_tcp_tls_connected(t, req, cb, id, stream, peer);
    else
        raft_tcp_hello_connected(t, req, cb, id, stream, peer);
}

void raft_tcp_hello_connected(struct raft_tcp *t, struct raft_uv_connect *req, raft_uv_connect_cb cb, raft_id id,
                              uv_stream_t *stream, const char *peer)
{
    struct raft_tcp_hello *h = hello_new(t, stream, true, id, peer);
    h->req = req;
    h->cb = cb;
    if (t->secret != NULL && raft_auth_nonce(h->mine + HELLO_BYTES) != 0) {
        log_error("raft connection to node %" PRIu64 ": no random bytes for a nonce", (uint64_t)id);
        hello_abort(h, RAFT_NOCONNECTION);
        return;
    }
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
    raft_tcp_tls_cancel(t);
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
    memset(t->refusal_logged_ms, 0, sizeof t->refusal_logged_ms);
    memset(t->refusals_unlogged, 0, sizeof t->refusals_unlogged);
    t->hello_wait_ms = RAFT_TCP_HELLO_WAIT_MS;
    t->secret = NULL;
    t->secret_len = 0;
    t->self = 0;
    t->tls = NULL;
    t->tls_waits = NULL;
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

void raft_tcp_on_peer_closed(struct raft_tcp *t, void (*cb)(void *data, raft_id id), void *data)
{
    t->peer_closed = cb;
    t->peer_closed_data = data;
}

void raft_tcp_set_secret(struct raft_tcp *t, raft_id self, const char *secret, size_t len)
{
    t->self = self;
    t->secret = xmalloc(len);
    memcpy(t->secret, secret, len);
    t->secret_len = len;
}

void raft_tcp_close(struct raft_tcp *t)
{
    raft_tcp_guard_close(t);
    raft_tls_free(t->tls);
    t->tls = NULL;
    if (t->secret != NULL) {
        OPENSSL_cleanse(t->secret, t->secret_len);
        free(t->secret);
        t->secret = NULL;
    }
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
