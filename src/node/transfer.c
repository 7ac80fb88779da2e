/* transfer.c - serving copies of the store (see transfer.h).
 *
 * BEGIN flushes the store's batch and queues the copy on libuv's thread
 * pool; the reply waits in a deferred slot until the image is written and
 * its CRC-32 computed. READs are answered from the image's file descriptor
 * with pread on the loop thread: the image was just written, so the pages
 * come from the page cache, and one READ is at most 1 MiB. */
#include "node/transfer.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "common/log.h"
#include "common/mem.h"
#include "protocol/resp_writer.h"
#include "server/conn.h"
#include "node/node.h"
#include "server/server.h"
#include "store/checksum.h"

#define TRANSFER_MAX_SESSIONS 2
/* An image nobody has read for this long is released. */
#define TRANSFER_IDLE_MS 60000
#define TRANSFER_SWEEP_MS 5000

struct session {
    struct transfer *t;         /* borrowed */
    struct session *next;       /* in t->sessions */
    uint64_t id;
    int fd;                     /* the unlinked image; -1 once released */
    bool ready;                 /* the copy finished */
    uint64_t size;
    uint32_t crc;
    uint64_t min_index;         /* the store's applied index when BEGIN ran */
    uint64_t last_used_ms;

    /* The copy in flight (worker thread) and the BEGIN waiting for it. */
    uv_work_t work;
    struct store_copy *copy;
    int copy_rc;
    char copy_err[256];
    struct conn *conn;
    struct conn_slot *slot;
};

struct transfer {
    struct node *node;          /* borrowed */
    struct session *sessions;   /* owned */
    unsigned n_sessions;
    unsigned copying;           /* works queued whose after_work has not run */
    uv_timer_t sweep;
    bool sweep_open;
    bool stopped;
    bool freed;                 /* transfer_free ran: free when copying is 0 */
    uint64_t served;
};

static uint64_t transfer_random_id(void)
{
    uint64_t id = 0;
    if (uv_random(NULL, NULL, &id, sizeof id, 0, NULL) != 0 || id == 0)
        id = (uint64_t)uv_hrtime() | 1;
    return id;
}

static void session_release(struct session *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

static void transfer_unlink(struct transfer *t, struct session *s)
{
    for (struct session **p = &t->sessions; *p != NULL; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            t->n_sessions--;
            return;
        }
    }
}

static void transfer_maybe_free(struct transfer *t)
{
    if (t->freed && t->copying == 0 && !t->sweep_open)
        free(t);
}

static void transfer_sweep_closed(uv_handle_t *h)
{
    struct transfer *t = h->data;
    t->sweep_open = false;
    transfer_maybe_free(t);
}

static void transfer_sweep_cb(uv_timer_t *timer)
{
    struct transfer *t = timer->data;
    uint64_t now = uv_now(t->node->loop);
    struct session *s = t->sessions;
    while (s != NULL) {
        struct session *next = s->next;
        if (s->ready && now - s->last_used_ms > TRANSFER_IDLE_MS) {
            log_warn("state transfer %016" PRIx64 ": idle for %d s, released", s->id, TRANSFER_IDLE_MS / 1000);
            transfer_unlink(t, s);
            session_release(s);
            free(s);
        }
        s = next;
    }
    if (t->sessions == NULL)
        uv_timer_stop(timer);
}

struct transfer *transfer_new(struct node *n)
{
    struct transfer *t = xcalloc(1, sizeof *t);
    t->node = n;
    uv_timer_init(n->loop, &t->sweep);
    t->sweep.data = t;
    t->sweep_open = true;
    return t;
}

void transfer_stop(struct transfer *t)
{
    if (t == NULL || t->stopped)
        return;
    t->stopped = true;
    struct session *s = t->sessions;
    while (s != NULL) {
        struct session *next = s->next;
        if (s->ready) {
            /* Sessions still copying are finished by their after_work. */
            transfer_unlink(t, s);
            session_release(s);
            free(s);
        }
        s = next;
    }
    if (t->sweep_open)
        uv_close((uv_handle_t *)&t->sweep, transfer_sweep_closed);
}

void transfer_free(struct transfer *t)
{
    if (t == NULL)
        return;
    transfer_stop(t);
    t->freed = true;
    transfer_maybe_free(t);
}

uint64_t transfer_served(const struct transfer *t)
{
    return t != NULL ? t->served : 0;
}

/* ---- the copy (worker thread) -------------------------------------------- */

static void transfer_copy_work(uv_work_t *req)
{
    struct session *s = req->data;
    s->copy_rc = store_copy_write(s->copy, s->fd, s->copy_err, sizeof s->copy_err);
    store_copy_end(s->copy);
    s->copy = NULL;
    if (s->copy_rc != 0)
        return;
    /* The CRC lets the receiver check what it wrote against what was sent;
     * the image was just written, so this reads the page cache. */
    uint8_t *buf = xmalloc(TRANSFER_CHUNK_MAX);
    uint32_t crc = 0;
    uint64_t off = 0;
    for (;;) {
        ssize_t n = pread(s->fd, buf, TRANSFER_CHUNK_MAX, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(s->copy_err, sizeof s->copy_err, "reading the image back: %s", strerror(errno));
            s->copy_rc = -1;
            break;
        }
        if (n == 0)
            break;
        crc = checksum_update(crc, buf, (size_t)n);
        off += (uint64_t)n;
    }
    free(buf);
    s->size = off;
    s->crc = crc;
}

static void transfer_copy_done(uv_work_t *req, int status)
{
    struct session *s = req->data;
    struct transfer *t = s->t;
    t->copying--;
    struct buf *out = &s->slot->out;
    if (status != 0 || s->copy_rc != 0 || t->stopped) {
        const char *why = t->stopped ? "the node is stopping" : status != 0 ? uv_strerror(status) : s->copy_err;
        log_error("state transfer %016" PRIx64 ": %s", s->id, why);
        resp_write_errorf(out, "ERR copying the store failed: %s", why);
        conn_complete(s->conn, s->slot);
        transfer_unlink(t, s);
        session_release(s);
        free(s);
        transfer_maybe_free(t);
        return;
    }
    s->ready = true;
    s->last_used_ms = uv_now(t->node->loop);
    log_info("state transfer %016" PRIx64 ": image of %" PRIu64 " bytes ready (store at index %" PRIu64 " or later)",
             s->id, s->size, s->min_index);
    char id[17];
    snprintf(id, sizeof id, "%016" PRIx64, s->id);
    resp_write_array_header(out, 4);
    resp_write_bulk_str(out, id);
    resp_write_int(out, (int64_t)s->size);
    resp_write_int(out, (int64_t)s->crc);
    resp_write_int(out, (int64_t)s->min_index);
    conn_complete(s->conn, s->slot);
    s->conn = NULL;
    s->slot = NULL;
}

/* ---- the command ----------------------------------------------------------- */

static struct session *transfer_find(struct transfer *t, const struct resp_arg *a)
{
    uint64_t id;
    if (resp_arg_u64(a, 16, &id) != 0)
        return NULL;
    for (struct session *s = t->sessions; s != NULL; s = s->next)
        if (s->id == id && s->ready)
            return s;
    return NULL;
}

static void transfer_begin(struct conn *c, struct transfer *t)
{
    struct node *n = t->node;
    struct buf *out;
    if (t->stopped) {
        resp_write_error(conn_reply_buf(c), "ERR the node is stopping");
        return;
    }
    if (t->n_sessions >= TRANSFER_MAX_SESSIONS) {
        resp_write_error(conn_reply_buf(c), "BUSY too many state transfers in progress; retry later");
        return;
    }
    /* The image goes to a file that is unlinked at once: it lives as long
     * as the descriptor, and a crash leaves nothing behind. */
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/transfer", n->cfg->data_dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        resp_write_errorf(conn_reply_buf(c), "ERR creating %s: %s", dir, strerror(errno));
        return;
    }
    struct session *s = xcalloc(1, sizeof *s);
    s->t = t;
    s->id = transfer_random_id();
    snprintf(path, sizeof path, "%s/%016" PRIx64 ".mdb", dir, s->id);
    s->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (s->fd < 0 || unlink(path) != 0) {
        resp_write_errorf(conn_reply_buf(c), "ERR creating %s: %s", path, strerror(errno));
        session_release(s);
        free(s);
        return;
    }
    struct store_stats st;
    int rc = store_stats(n->store, &st);
    if (rc == 0)
        rc = store_copy_begin(n->store, &s->copy);
    if (rc != 0) {
        out = conn_reply_buf(c);
        resp_write_errorf(out, "ERR %s", store_errmsg(n->store));
        session_release(s);
        free(s);
        return;
    }
    s->min_index = st.applied_index;
    s->conn = c;
    s->slot = conn_defer(c, false);
    s->work.data = s;
    rc = uv_queue_work(n->loop, &s->work, transfer_copy_work, transfer_copy_done);
    if (rc != 0) {
        store_copy_end(s->copy);
        resp_write_errorf(&s->slot->out, "ERR %s", uv_strerror(rc));
        conn_complete(c, s->slot);
        session_release(s);
        free(s);
        return;
    }
    s->next = t->sessions;
    t->sessions = s;
    t->n_sessions++;
    t->copying++;
    if (!uv_is_active((uv_handle_t *)&t->sweep))
        uv_timer_start(&t->sweep, transfer_sweep_cb, TRANSFER_SWEEP_MS, TRANSFER_SWEEP_MS);
    log_info("state transfer %016" PRIx64 ": copying the store for %s", s->id, c->peer);
}

static void transfer_read(struct conn *c, struct transfer *t, const struct resp_command *cmd)
{
    struct buf *out = conn_reply_buf(c);
    uint64_t off, len;
    if (cmd->argc != 5 || resp_arg_u64(&cmd->argv[3], 10, &off) != 0 || resp_arg_u64(&cmd->argv[4], 10, &len) != 0) {
        resp_write_error(out, "ERR usage: SNAPSHOT READ <id> <offset> <count>");
        return;
    }
    struct session *s = transfer_find(t, &cmd->argv[2]);
    if (s == NULL) {
        resp_write_error(out, "ERR no such state transfer (expired or never begun)");
        return;
    }
    s->last_used_ms = uv_now(t->node->loop);
    if (off > s->size) {
        resp_write_error(out, "ERR offset beyond the end of the image");
        return;
    }
    if (len > TRANSFER_CHUNK_MAX)
        len = TRANSFER_CHUNK_MAX;
    if (len > s->size - off)
        len = s->size - off;
    /* Read straight into the reply buffer; commit only a complete reply. */
    char header[32];
    int hlen = snprintf(header, sizeof header, "$%" PRIu64 "\r\n", len);
    char *dst = buf_reserve(out, (size_t)hlen + (size_t)len + 2);
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(s->fd, dst + hlen + got, (size_t)(len - got), (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            resp_write_errorf(out, "ERR reading the image: %s", r < 0 ? strerror(errno) : "short read");
            return;
        }
        got += (size_t)r;
    }
    memcpy(dst, header, (size_t)hlen);
    memcpy(dst + hlen + len, "\r\n", 2);
    buf_commit(out, (size_t)hlen + (size_t)len + 2);
}

static void transfer_end(struct conn *c, struct transfer *t, const struct resp_command *cmd)
{
    struct buf *out = conn_reply_buf(c);
    struct session *s = cmd->argc == 3 ? transfer_find(t, &cmd->argv[2]) : NULL;
    if (s == NULL) {
        resp_write_error(out, "ERR no such state transfer");
        return;
    }
    log_info("state transfer %016" PRIx64 ": done", s->id);
    t->served++;
    transfer_unlink(t, s);
    session_release(s);
    free(s);
    resp_write_simple(out, "OK");
}

void transfer_command(struct conn *c, const struct resp_command *cmd)
{
    struct transfer *t = c->srv->node->transfer;
    if (cmd->argc < 2) {
        resp_write_error(conn_reply_buf(c), "ERR usage: SNAPSHOT BEGIN | READ <id> <offset> <count> | END <id>");
        return;
    }
    const struct resp_arg *sub = &cmd->argv[1];
    if (resp_arg_is(sub, "BEGIN") && cmd->argc == 2)
        transfer_begin(c, t);
    else if (resp_arg_is(sub, "READ"))
        transfer_read(c, t, cmd);
    else if (resp_arg_is(sub, "END"))
        transfer_end(c, t, cmd);
    else
        resp_write_error(conn_reply_buf(c), "ERR usage: SNAPSHOT BEGIN | READ <id> <offset> <count> | END <id>");
}
