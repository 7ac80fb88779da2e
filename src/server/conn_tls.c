/* conn_tls.c - a client connection's TLS session and handshake deadline
 * (see conn_tls.h). */
#include "server/conn_tls.h"

#include <stdlib.h>

#include "common/log.h"
#include "common/mem.h"
#include "server/conn.h"

/* As large as a plaintext connection's read (conn.c). */
#define CONN_TLS_READ_CHUNK (64u << 10)

struct conn_tls {
    struct tls_session *session; /* owned; NULL once closing */
    struct tls_server *server;   /* borrowed: the server's, outlives every connection */
    struct conn *c;              /* borrowed: the deadline closes it */
    uv_timer_t deadline;         /* stopped at the handshake's end, closed with the connection */
};

static char conn_tls_chunk[CONN_TLS_READ_CHUNK];

static void conn_tls_fail(struct conn_tls *t, const char *why)
{
    tls_server_note_failure(t->server, uv_now(t->deadline.loop), t->c->peer, why);
}

static void conn_tls_on_deadline(uv_timer_t *h)
{
    struct conn_tls *t = h->data;
    conn_tls_fail(t, "no TLS handshake within --tls-handshake-timeout");
    conn_close(t->c);
}

struct conn_tls *conn_tls_new(struct conn *c, struct tls_server *server, uv_loop_t *loop, unsigned deadline_ms)
{
    struct conn_tls *t = xcalloc(1, sizeof *t);
    t->session = tls_session_new(server);
    t->server = server;
    t->c = c;
    /* uv_timer_init cannot fail (it only fills the handle). */
    (void)uv_timer_init(loop, &t->deadline);
    t->deadline.data = t;
    (void)uv_timer_start(&t->deadline, conn_tls_on_deadline, deadline_ms, 0);
    return t;
}

static void conn_tls_on_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

void conn_tls_close(struct conn_tls *t)
{
    tls_session_free(t->session);
    t->session = NULL;
    uv_close((uv_handle_t *)&t->deadline, conn_tls_on_timer_closed);
}

void conn_tls_read_buffer(uv_buf_t *out)
{
    *out = uv_buf_init(conn_tls_chunk, sizeof conn_tls_chunk);
}

int conn_tls_read(struct conn_tls *t, const char *data, size_t n, struct buf *in)
{
    bool was_established = tls_session_established(t->session);
    char why[256];
    enum tls_status st = tls_session_read(t->session, data, n, in, why, sizeof why);
    if (st == TLS_CLOSED)
        return -1;
    if (st == TLS_ERROR) {
        conn_tls_fail(t, why);
        return -1;
    }
    if (!was_established && tls_session_established(t->session)) {
        uv_timer_stop(&t->deadline);
        if (log_min_level <= LOG_LEVEL_DEBUG) {
            char desc[96];
            tls_session_describe(t->session, desc, sizeof desc);
            log_debug("client %s: TLS established, %s", t->c->peer, desc);
        }
    }
    return 0;
}

struct buf *conn_tls_encrypt(struct conn_tls *t, struct buf *out)
{
    char why[256];
    if (tls_session_write(t->session, out, why, sizeof why) != TLS_OK) {
        conn_tls_fail(t, why);
        return NULL;
    }
    return tls_session_out(t->session);
}

bool conn_tls_pending(struct conn_tls *t)
{
    return tls_session_out(t->session)->len > 0;
}
