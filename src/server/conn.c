/* conn.c - one client connection (see conn.h for the reply-ordering and
 * flow-control design). */
#include "server/conn.h"

#include "server/acl_conn.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "protocol/resp_writer.h"
#include "server/acl_conn.h"
#include "server/commands.h"
#include "server/conn_tls.h"
#include "server/metrics.h"
#include "server/server.h"
#include "server/subscribe.h"

/* Read buffers grow to the largest request; give memory back once a
 * connection goes idle with a buffer bigger than this. */
#define CONN_IDLE_BUF_KEEP (64u << 10)
/* A connection keeps one released slot for its next deferred reply, and
 * that slot's buffer if it is no larger than this: an ADD's reply then
 * costs no allocation at all. Small, as every connection may hold one. */
#define CONN_SPARE_BUF_KEEP (4u << 10)
#define CONN_READ_CHUNK (64u << 10)

static void conn_parse(struct conn *c);

static void conn_unref(struct conn *c)
{
    if (--c->refs > 0)
        return;
    /* Off the dirty list: the server must never flush freed memory. */
    if (c->dirty) {
        struct conn **pp = &c->srv->dirty;
        while (*pp != NULL && *pp != c)
            pp = &(*pp)->next_dirty;
        if (*pp == c)
            *pp = c->next_dirty;
    }
    while (c->slots_head != NULL) {
        struct conn_slot *s = c->slots_head;
        c->slots_head = s->next;
        buf_free(&s->out);
        free(s);
    }
    if (c->spare != NULL) {
        buf_free(&c->spare->out);
        free(c->spare);
    }
    resp_parser_free(&c->parser);
    buf_free(&c->in);
    buf_free(&c->out);
    buf_free(&c->writing);
    acl_conn_set_user(c, NULL);
    free(c);
}

static void conn_on_close(uv_handle_t *h)
{
    conn_unref(h->data);
}

static void conn_unlink(struct conn *c)
{
    c->closing = true;
    subs_conn_closed(c);
    struct server *s = c->srv;
    if (c->tls != NULL) {
        conn_tls_close(c->tls);
        c->tls = NULL;
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->n_conns--;
}

void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    conn_unlink(c);
    if (c->sink != NULL) {
        c->sink->closed(c->sink_data, c);
        conn_unref(c); /* what the socket's close would drop */
        return;
    }
    uv_close((uv_handle_t *)&c->tcp, conn_on_close);
}

void conn_release(struct conn *c)
{
    if (c->closing)
        return;
    conn_unlink(c);
    conn_unref(c);
}

void conn_wake(struct conn *c)
{
    if (!c->closing)
        server_mark_dirty(c->srv, c);
}

static void conn_link(struct server *s, struct conn *c)
{
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->n_conns++;
}

struct conn *conn_open_sink(struct server *s, const struct conn_sink *sink, void *data, const char *user)
{
    struct conn *c = xcalloc(1, sizeof *c);
    c->srv = s;
    c->refs = 1;
    c->id = ++s->next_conn_id;
    c->sink = sink;
    c->sink_data = data;
    c->opened_ms = uv_now(s->loop);
    c->timing = METRICS_UNTIMED;
    buf_init(&c->in);
    buf_init(&c->out);
    buf_init(&c->writing);
    resp_parser_init(&c->parser, &s->limits);
    /* The front end has authenticated the request (HTTP: login.h). */
    c->authenticated = true;
    if (user != NULL && s->cfg->password != NULL)
        acl_conn_set_user(c, user);
    snprintf(c->peer, sizeof c->peer, "http");
    conn_link(s, c);
    return c;
}

/* A sink takes the output itself; QUIT's close happens once it is taken.
 * Taking it may release the connection (answering an HTTP request can
 * dispose of the request, which releases its connection), so a reference
 * is held until this is done with it. */
static void conn_flush_sink(struct conn *c)
{
    c->refs++;
    if (c->out.len > 0)
        c->sink->flush(c->sink_data, c, &c->out);
    if (c->out.len == 0 && c->close_after_write && c->slots_head == NULL)
        conn_close(c);
    conn_unref(c);
}

void conn_close_after_write(struct conn *c)
{
    c->close_after_write = true;
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
    server_mark_dirty(c->srv, c);
}

static void conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    struct conn *c = h->data;
    (void)suggested;
    if (c->tls != NULL) {
        conn_tls_read_buffer(out);
        return;
    }
    /* Compact before growing, so a long pipeline does not grow the buffer
     * without bound. */
    if (c->in_pos > 0) {
        buf_consume(&c->in, c->in_pos);
        c->in_pos = 0;
    }
    out->base = buf_reserve(&c->in, CONN_READ_CHUNK);
    out->len = CONN_READ_CHUNK;
}

static void conn_maybe_resume(struct conn *c);

/* Ciphertext read: decrypt it into `in`, in which requests are parsed as
 * a plaintext connection's. */
static void conn_read_tls(struct conn *c, const char *data, size_t n)
{
    if (c->in_pos > 0) {
        buf_consume(&c->in, c->in_pos);
        c->in_pos = 0;
    }
    size_t before = c->in.len;
    if (conn_tls_read(c->tls, data, n, &c->in) != 0) {
        /* The alert that says why still goes out first. */
        conn_close_after_write(c);
        return;
    }
    if (conn_tls_pending(c->tls))
        server_mark_dirty(c->srv, c);
    if (c->in.len > before)
        conn_parse(c);
}

static void conn_read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *b)
{
    struct conn *c = stream->data;
    (void)b;
    if (nread < 0) {
        /* EOF or reset: replies in flight are dropped with the socket; the
         * requests themselves still complete (an ADD already proposed may
         * still be committed: the client will not know). */
        conn_close(c);
        return;
    }
    if (nread == 0)
        return;
    if (c->tls != NULL) {
        conn_read_tls(c, b->base, (size_t)nread);
        return;
    }
    buf_commit(&c->in, (size_t)nread);
    conn_parse(c);
}

static void conn_start_reading(struct conn *c)
{
    if (c->reading || c->closing || c->close_after_write)
        return;
    if (uv_read_start((uv_stream_t *)&c->tcp, conn_alloc_cb, conn_read_cb) == 0)
        c->reading = true;
}

static void conn_stop_reading(struct conn *c)
{
    if (!c->reading)
        return;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
}

/* Parse and dispatch every complete request in the input buffer. */
static void conn_parse(struct conn *c)
{
    struct server *s = c->srv;
    if (c->parsing)
        return; /* a reply completed inside a dispatch: the outer loop goes on */
    c->parsing = true;
    c->blocked = false;
    while (!c->closing && !c->close_after_write) {
        if (c->n_slots >= s->cfg->max_pending) {
            /* Too much in flight: stop reading until replies drain. */
            conn_stop_reading(c);
            break;
        }
        if (c->auth_pending) {
            /* What follows an AUTH being checked is parsed with the limits
             * its outcome sets: resumed once it answers (conn_complete). */
            c->blocked = true;
            conn_stop_reading(c);
            break;
        }
        struct resp_command cmd;
        const char *err = NULL;
        c->parser.limits = c->authenticated ? &s->limits : &s->limits_preauth;
        enum resp_status st =
            resp_parser_parse(&c->parser, c->in.data + c->in_pos, c->in.len - c->in_pos, &cmd, &err);
        if (st == RESP_INCOMPLETE)
            break;
        if (st == RESP_ERROR) {
            /* Framing is lost: answer, then close, as redis does. */
            resp_write_error(conn_reply_buf(c), err ? err : "Protocol error");
            conn_close_after_write(c);
            break;
        }
        if (st == RESP_COMMAND && !commands_may_start(c, &cmd)) {
            /* It must see (or not overtake) what is still in flight: parse it
             * again once that completes (conn_complete resumes us). */
            c->blocked = true;
            conn_stop_reading(c); /* bounded input while we wait */
            break;
        }
        if (st == RESP_COMMAND)
            commands_dispatch(c, &cmd);
        c->in_pos += cmd.consumed;
    }
    c->parsing = false;
    if (c->in_pos == c->in.len) {
        c->in.len = 0;
        c->in_pos = 0;
        buf_shrink(&c->in, CONN_IDLE_BUF_KEEP);
    }
}

/* A slot with an empty reply buffer: the spare if there is one. */
static struct conn_slot *conn_slot_new(struct conn *c)
{
    struct conn_slot *slot = c->spare;
    if (slot == NULL) {
        slot = xcalloc(1, sizeof *slot);
        buf_init(&slot->out);
        slot->timed = METRICS_UNTIMED;
        return slot;
    }
    c->spare = NULL;
    struct buf out = slot->out;
    *slot = (struct conn_slot){.out = out, .timed = METRICS_UNTIMED};
    return slot;
}

/* Keep a released slot as the spare, or free it. */
static void conn_slot_release(struct conn *c, struct conn_slot *slot)
{
    if (c->spare != NULL || c->closing) {
        buf_free(&slot->out);
        free(slot);
        return;
    }
    buf_reset(&slot->out);
    buf_shrink(&slot->out, CONN_SPARE_BUF_KEEP);
    c->spare = slot;
}

/* Where a timed request's synchronous reply starts. A handler that asks
 * twice (a check, then the answer) writes its reply through the last. */
static struct buf *conn_time_reply(struct conn *c, struct buf *out)
{
    if (c->timing != METRICS_UNTIMED) {
        c->timing_out = out;
        c->timing_off = out->len;
    }
    return out;
}

struct buf *conn_reply_buf(struct conn *c)
{
    server_mark_dirty(c->srv, c);
    if (c->slots_head == NULL)
        return conn_time_reply(c, &c->out);
    /* Behind a deferred reply: queue an already-complete slot. It holds no
     * reference; it is released together with the slot ahead of it. */
    struct conn_slot *slot = conn_slot_new(c);
    slot->done = true;
    c->slots_tail->next = slot;
    c->slots_tail = slot;
    c->n_slots++;
    return conn_time_reply(c, &slot->out);
}

struct conn_slot *conn_defer(struct conn *c, bool write)
{
    struct conn_slot *slot = conn_slot_new(c);
    slot->write = write;
    /* The request's time runs on until the slot completes. */
    slot->timed = c->timing;
    slot->started_ns = c->timing_start_ns;
    c->timing = METRICS_UNTIMED;
    if (write)
        c->writes_pending++;
    else
        c->others_pending++;
    if (c->slots_tail)
        c->slots_tail->next = slot;
    else
        c->slots_head = slot;
    c->slots_tail = slot;
    c->n_slots++;
    c->refs++; /* dropped by conn_complete */
    return slot;
}

/* Move finished slots at the head into the output buffer, in order. */
static void conn_release_slots(struct conn *c)
{
    while (c->slots_head != NULL && c->slots_head->done) {
        struct conn_slot *slot = c->slots_head;
        c->slots_head = slot->next;
        if (c->slots_head == NULL)
            c->slots_tail = NULL;
        c->n_slots--;
        if (!c->closing && c->out.len == 0) {
            /* The usual case, one request at a time: the reply becomes the
             * output buffer as it is, and the slot takes the empty one. */
            struct buf empty = c->out;
            c->out = slot->out;
            slot->out = empty;
        } else if (!c->closing) {
            buf_append(&c->out, slot->out.data, slot->out.len);
        }
        conn_slot_release(c, slot);
    }
}

void conn_time_begin(struct conn *c, int command)
{
    c->timing = command;
    c->timing_out = NULL;
    if (command != METRICS_UNTIMED)
        c->timing_start_ns = uv_hrtime();
}

void conn_time_end(struct conn *c)
{
    /* The timed handlers (ADD, GET, GETALL) complete no slot of this
     * connection synchronously except their own deferred one, so the
     * buffer still holds their reply; should that change, a reply that
     * moved is left uncounted rather than misread. */
    if (c->timing != METRICS_UNTIMED && c->timing_out != NULL && c->timing_off < c->timing_out->len)
        metrics_command_done(&c->srv->metrics, c->timing, uv_hrtime() - c->timing_start_ns,
                             c->timing_out->data + c->timing_off, c->timing_out->len - c->timing_off);
    c->timing = METRICS_UNTIMED;
    c->timing_out = NULL;
}

void conn_complete(struct conn *c, struct conn_slot *slot)
{
    if (slot->timed != METRICS_UNTIMED)
        metrics_command_done(&c->srv->metrics, slot->timed, uv_hrtime() - slot->started_ns, slot->out.data,
                             slot->out.len);
    slot->done = true;
    if (slot->write)
        c->writes_pending--;
    else
        c->others_pending--;
    conn_release_slots(c);
    if (!c->closing) {
        server_mark_dirty(c->srv, c);
        conn_maybe_resume(c);
    }
    conn_unref(c); /* the slot's reference */
}

struct buf *conn_push_buf(struct conn *c)
{
    server_mark_dirty(c->srv, c);
    return &c->out;
}

size_t conn_unsent(const struct conn *c)
{
    return c->out.len + c->writing.len;
}

static void conn_maybe_resume(struct conn *c)
{
    /* A sink's owner hands requests over itself: nothing to read. */
    if (c->parsing || c->closing || c->close_after_write || c->reading || c->sink != NULL)
        return;
    if (c->n_slots > c->srv->cfg->max_pending / 2)
        return;
    /* Requests already buffered come first, then new input. */
    conn_parse(c);
    if (!c->blocked && !c->closing && c->n_slots < c->srv->cfg->max_pending)
        conn_start_reading(c);
}

static void conn_write_cb(uv_write_t *req, int status)
{
    struct conn *c = req->data;
    c->write_busy = false;
    c->writing.len = 0;
    buf_shrink(&c->writing, CONN_IDLE_BUF_KEEP);
    if (status < 0 || c->closing) {
        conn_close(c);
        conn_unref(c);
        return;
    }
    if (c->out.len > 0 || c->close_after_write || (c->tls != NULL && conn_tls_pending(c->tls)))
        server_mark_dirty(c->srv, c);
    conn_unref(c);
}

void conn_flush(struct conn *c)
{
    if (c->closing)
        return;
    /* Checked before anything else: a client that never reads keeps its
     * write busy forever while replies pile up behind it. */
    if (c->out.len + c->writing.len > c->srv->cfg->max_output) {
        log_warn("closing client %s: %zu bytes of replies unread", c->peer, c->out.len + c->writing.len);
        conn_close(c);
        return;
    }
    if (c->sink != NULL) {
        conn_flush_sink(c);
        return;
    }
    if (c->write_busy)
        return;
    /* What goes to the socket: the replies themselves, or a TLS
     * connection's ciphertext of them. */
    struct buf *src = &c->out;
    if (c->tls != NULL) {
        src = conn_tls_encrypt(c->tls, &c->out);
        if (src == NULL) {
            conn_close(c);
            return;
        }
        if (c->out.len == 0)
            buf_shrink(&c->out, CONN_IDLE_BUF_KEEP);
    }
    if (src->len > 0) {
        /* Most replies fit in the socket buffer: write them here. uv_write
         * would do the same write but then re-arm the poll watcher, one
         * epoll_ctl per reply. Only what the socket refuses goes through a
         * write request. */
        uv_buf_t now = uv_buf_init(src->data, (unsigned)src->len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &now, 1);
        if (n < 0 && n != UV_EAGAIN) {
            conn_close(c);
            return;
        }
        if (n > 0)
            buf_consume(src, (size_t)n);
        if (src->len == 0)
            buf_shrink(src, CONN_IDLE_BUF_KEEP);
    }
    if (src->len == 0) {
        if (c->close_after_write && c->slots_head == NULL)
            conn_close(c);
        return;
    }
    /* Swap buffers: `writing` is owned by the write until its callback. */
    struct buf tmp = c->writing;
    c->writing = *src;
    *src = tmp;
    src->len = 0;
    uv_buf_t b = uv_buf_init(c->writing.data, (unsigned)c->writing.len);
    c->write_req.data = c;
    int rv = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &b, 1, conn_write_cb);
    if (rv != 0) {
        conn_close(c);
        return;
    }
    c->write_busy = true;
    c->refs++;
}

int conn_accept(struct server *s, uv_stream_t *listener, struct tls_server *tls)
{
    struct conn *c = xcalloc(1, sizeof *c);
    c->srv = s;
    c->refs = 1;
    c->id = ++s->next_conn_id;
    c->opened_ms = uv_now(s->loop);
    c->timing = METRICS_UNTIMED;
    buf_init(&c->in);
    buf_init(&c->out);
    buf_init(&c->writing);
    resp_parser_init(&c->parser, &s->limits_preauth);
    c->authenticated = s->cfg->password == NULL;
    if (uv_tcp_init(s->loop, &c->tcp) != 0) {
        resp_parser_free(&c->parser);
        free(c);
        return -1;
    }
    c->tcp.data = c;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, conn_on_close);
        return -1;
    }
    /* Link first so conn_close can unlink it. */
    conn_link(s, c);
    if (tls != NULL)
        c->tls = conn_tls_new(c, tls, s->loop, s->cfg->tls_handshake_timeout_ms);
    if (s->n_conns > s->cfg->max_clients) {
        resp_write_error(&c->out, "max number of clients reached");
        conn_close_after_write(c);
        return 0;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    struct sockaddr_storage peer;
    int len = sizeof peer;
    snprintf(c->peer, sizeof c->peer, "?");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer, &len) == 0) {
        char host[48];
        if (peer.ss_family == AF_INET) {
            uv_ip4_name((struct sockaddr_in *)&peer, host, sizeof host);
            snprintf(c->peer, sizeof c->peer, "%s:%d", host,
                     ntohs(((struct sockaddr_in *)&peer)->sin_port));
        } else if (peer.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&peer, host, sizeof host);
            snprintf(c->peer, sizeof c->peer, "[%s]:%d", host,
                     ntohs(((struct sockaddr_in6 *)&peer)->sin6_port));
        }
    }
    conn_start_reading(c);
    return 0;
}

void conn_set_send_buffer(struct conn *c, int bytes)
{
    if (c->sink != NULL)
        return; /* no socket: the sink bounds its own buffers */
    int value = bytes;
    int rv = uv_send_buffer_size((uv_handle_t *)&c->tcp, &value);
    if (rv != 0)
        log_warn("client %s: setting its send buffer: %s", c->peer, uv_strerror(rv));
}
