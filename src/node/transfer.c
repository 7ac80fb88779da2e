/* transfer.c - serving images of the store (see transfer.h).
 *
 * transfer_begin flushes the store's batch and queues the copy on libuv's
 * thread pool; its callback runs once the image is written and its CRC-32
 * computed. Reads are served from the image's file descriptor with pread on
 * the loop thread: the image was just written, so the pages come from the
 * page cache, and one read is at most 1 MiB. */
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
#include "node/node_internal.h"
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
    uint64_t term;              /* raft's term when BEGIN ran */
    struct store_stats stats;   /* the image's own meta */
    uint64_t last_used_ms;

    /* The copy in flight (worker thread) and who waits for it. */
    uv_work_t work;
    struct store_copy *copy;
    int copy_rc;
    char copy_err[256];
    transfer_begin_cb cb;
    void *cb_data;
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
    if (s->copy_rc != 0)
        return;
    /* What the image records (a backup's header carries it): the copy's
     * read transaction may have begun after min_index, so only the image
     * knows. LMDB opens by path; the image is unlinked, so through /proc. */
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", s->fd);
    s->copy_rc = store_file_stats(path, &s->stats, s->copy_err, sizeof s->copy_err);
}

static void session_image(const struct session *s, struct transfer_image *out)
{
    *out = (struct transfer_image){.id = s->id, .size = s->size, .crc = s->crc, .min_index = s->min_index,
                                   .term = s->term, .stats = s->stats};
}

static void transfer_copy_done(uv_work_t *req, int status)
{
    struct session *s = req->data;
    struct transfer *t = s->t;
    t->copying--;
    transfer_begin_cb cb = s->cb;
    void *data = s->cb_data;
    s->cb = NULL;
    if (status != 0 || s->copy_rc != 0 || t->stopped) {
        const char *why = t->stopped ? "the node is stopping" : status != 0 ? uv_strerror(status) : s->copy_err;
        log_error("state transfer %016" PRIx64 ": %s", s->id, why);
        cb(data, t->stopped ? TRANSFER_ESTOPPED : TRANSFER_EIO, why, NULL);
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
    struct transfer_image info;
    session_image(s, &info);
    cb(data, 0, NULL, &info);
}

/* ---- serving images ---------------------------------------------------------- */

static struct session *transfer_find(struct transfer *t, uint64_t id)
{
    for (struct session *s = t->sessions; s != NULL; s = s->next)
        if (s->id == id && s->ready)
            return s;
    return NULL;
}

int transfer_begin(struct transfer *t, const char *peer, transfer_begin_cb cb, void *data, char *err, size_t errlen)
{
    struct node *n = t->node;
    if (t->stopped) {
        snprintf(err, errlen, "the node is stopping");
        return TRANSFER_ESTOPPED;
    }
    if (t->n_sessions >= TRANSFER_MAX_SESSIONS) {
        snprintf(err, errlen, "too many state transfers in progress; retry later");
        return TRANSFER_EBUSY;
    }
    /* The image goes to a file that is unlinked at once: it lives as long
     * as the descriptor, and a crash leaves nothing behind. */
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/transfer", n->cfg->data_dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "creating %s: %s", dir, strerror(errno));
        return TRANSFER_EIO;
    }
    struct session *s = xcalloc(1, sizeof *s);
    s->t = t;
    s->id = transfer_random_id();
    snprintf(path, sizeof path, "%s/%016" PRIx64 ".mdb", dir, s->id);
    s->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (s->fd < 0 || unlink(path) != 0) {
        snprintf(err, errlen, "creating %s: %s", path, strerror(errno));
        session_release(s);
        free(s);
        return TRANSFER_EIO;
    }
    struct store_stats st;
    int rc = store_stats(n->store, &st);
    if (rc == 0)
        rc = store_copy_begin(n->store, &s->copy);
    if (rc != 0) {
        snprintf(err, errlen, "%s", store_errmsg(n->store));
        session_release(s);
        free(s);
        return TRANSFER_EIO;
    }
    s->min_index = st.applied_index;
    s->term = n->raft.current_term;
    s->cb = cb;
    s->cb_data = data;
    s->work.data = s;
    rc = uv_queue_work(n->loop, &s->work, transfer_copy_work, transfer_copy_done);
    if (rc != 0) {
        store_copy_end(s->copy);
        snprintf(err, errlen, "%s", uv_strerror(rc));
        session_release(s);
        free(s);
        return TRANSFER_EIO;
    }
    s->next = t->sessions;
    t->sessions = s;
    t->n_sessions++;
    t->copying++;
    if (!uv_is_active((uv_handle_t *)&t->sweep))
        uv_timer_start(&t->sweep, transfer_sweep_cb, TRANSFER_SWEEP_MS, TRANSFER_SWEEP_MS);
    log_info("state transfer %016" PRIx64 ": copying the store for %s", s->id, peer);
    return 0;
}

int transfer_size(struct transfer *t, uint64_t id, uint64_t *size)
{
    struct session *s = transfer_find(t, id);
    if (s == NULL)
        return TRANSFER_ENOENT;
    *size = s->size;
    return 0;
}

int transfer_info(struct transfer *t, uint64_t id, struct transfer_image *out)
{
    struct session *s = transfer_find(t, id);
    if (s == NULL)
        return TRANSFER_ENOENT;
    session_image(s, out);
    return 0;
}

int transfer_read(struct transfer *t, uint64_t id, uint64_t off, void *dst, size_t len, char *err, size_t errlen)
{
    struct session *s = transfer_find(t, id);
    if (s == NULL)
        return TRANSFER_ENOENT;
    s->last_used_ms = uv_now(t->node->loop);
    if (off > s->size || len > s->size - off)
        return TRANSFER_ERANGE;
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(s->fd, (char *)dst + got, len - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(err, errlen, "reading the image: %s", r < 0 ? strerror(errno) : "short read");
            return TRANSFER_EIO;
        }
        got += (size_t)r;
    }
    return 0;
}

int transfer_end(struct transfer *t, uint64_t id)
{
    struct session *s = transfer_find(t, id);
    if (s == NULL)
        return TRANSFER_ENOENT;
    log_info("state transfer %016" PRIx64 ": done", s->id);
    t->served++;
    transfer_unlink(t, s);
    session_release(s);
    free(s);
    return 0;
}
