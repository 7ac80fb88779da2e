/* raft_tcp_guard.c - the frame checks (raft_frame.h) between libuv and
 * raft_uv's reads of an accepted raft connection.
 *
 * raft_uv's accept callback starts reading the stream with its own
 * callbacks (uvServerAllocCb, uvServerReadCb). Right after it returns, the
 * guard takes those two from the stream (alloc_cb and read_cb, public
 * members of uv_stream_t) and reads the stream with its own, which call
 * raft's: raft's alloc callback still chooses the buffer, so bytes land
 * where raft wants them with no copy, but raft's read callback hears of
 * them only once raft_frame has checked them. raft parses a preamble, a
 * header or a payload only from its read callback, when its buffer is
 * full, so it never parses a byte the checks have not passed. A stream the
 * checks refuse is given to raft's read callback as an error (UV_EPROTO):
 * raft closes it and frees what it holds, as for any broken connection.
 *
 * The stream's data pointer is raft's, so guards are found by stream in a
 * process-wide list (a node has one accepted stream per peer). raft frees
 * a stream only after closing it, and it closes one either in its read
 * callback (seen here: the guard goes when uv_is_closing says so) or when
 * raft_uv closes (raft_tcp_close forgets the guards then).
 *
 * A stream that ends with an EOF or a reset is reported, once raft has
 * seen it, to t->peer_closed with the peer's id (raft_tcp_on_peer_closed):
 * the node uses it to notice a dead leader without waiting out its
 * election timeout (node/role.c). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/mem.h"
#include "raftio/raft_frame.h"
#include "raftio/raft_tcp_internal.h"

struct raft_tcp_guard {
    struct raft_tcp *t;
    uv_stream_t *stream; /* borrowed: raft's */
    raft_id id;
    char *address;       /* owned: the peer's raft address, for the log */
    uv_alloc_cb raft_alloc;
    uv_read_cb raft_read;
    struct raft_frame frame;
    struct raft_tcp_guard *next;
};

static struct raft_tcp_guard *guards;

static struct raft_tcp_guard *guard_find(const void *stream)
{
    struct raft_tcp_guard *g = guards;
    while (g != NULL && (const void *)g->stream != stream)
        g = g->next;
    return g;
}

static void guard_free(struct raft_tcp_guard *g)
{
    struct raft_tcp_guard **p = &guards;
    while (*p != g)
        p = &(*p)->next;
    *p = g->next;
    free(g->address);
    free(g);
}

static void guard_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct raft_tcp_guard *g = guard_find(handle);
    g->raft_alloc(handle, suggested, buf);
}

static void log_bad_frame(struct raft_tcp_guard *g)
{
    struct raft_tcp *t = g->t;
    t->stats.bad_frames++;
    char more[96];
    if (!raft_tcp_refusal_to_log(t, RAFT_TCP_REFUSAL_FRAME, more, sizeof more))
        return;
    log_error("closing the raft connection from node %" PRIu64 " at %s: %s (after %" PRIu64
              " good messages); raft did not read it%s",
              (uint64_t)g->id, g->address, g->frame.why, g->frame.messages, more);
}

static void guard_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct raft_tcp_guard *g = guard_find(stream);
    if (nread > 0 && raft_frame_feed(&g->frame, (const uint8_t *)buf->base, (size_t)nread) != 0) {
        log_bad_frame(g);
        nread = UV_EPROTO;
    }
    g->raft_read(stream, nread, buf);
    bool ended = nread == UV_EOF || nread == UV_ECONNRESET;
    struct raft_tcp *t = g->t;
    raft_id id = g->id;
    if (uv_is_closing((uv_handle_t *)stream))
        guard_free(g);
    if (ended && t->peer_closed != NULL && !t->closing)
        t->peer_closed(t->peer_closed_data, id);
}

void raft_tcp_guard_attach(struct raft_tcp *t, uv_stream_t *stream, raft_id id, const char *address)
{
    /* raft refused the stream (it closes it), or does not read it. */
    if (uv_is_closing((uv_handle_t *)stream) || stream->read_cb == NULL || !uv_is_active((uv_handle_t *)stream))
        return;
    /* A guard of a stream raft freed when it closed (whose memory this one
     * may reuse) is stale. */
    struct raft_tcp_guard *old = guard_find(stream);
    if (old != NULL)
        guard_free(old);
    struct raft_tcp_guard *g = xcalloc(1, sizeof *g);
    g->t = t;
    g->stream = stream;
    g->id = id;
    g->address = xstrdup(address != NULL ? address : "?");
    g->raft_alloc = stream->alloc_cb;
    g->raft_read = stream->read_cb;
    raft_frame_init(&g->frame);
    g->next = guards;
    guards = g;
    uv_read_stop(stream);
    int rv = uv_read_start(stream, guard_alloc, guard_read);
    if (rv != 0) {
        /* Not reading any more: tell raft, which closes the stream. */
        log_warn("raft connection from node %" PRIu64 ": reading it: %s", (uint64_t)id, uv_strerror(rv));
        g->raft_read(stream, rv, &(uv_buf_t){0});
        guard_free(g);
    }
}

void raft_tcp_guard_close(struct raft_tcp *t)
{
    struct raft_tcp_guard **p = &guards;
    while (*p != NULL) {
        struct raft_tcp_guard *g = *p;
        if (g->t == t) {
            *p = g->next;
            free(g->address);
            free(g);
        } else {
            p = &g->next;
        }
    }
}
