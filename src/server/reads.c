/* reads.c - reads at the requested consistency (see reads.h). */
#include "server/reads.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/mutant.h"
#include "protocol/resp_writer.h"
#include "server/conn.h"
#include "server/redis_cluster.h"
#include "node/node.h"
#include "server/server.h"
#include "store/store.h"

struct read_waiter {
    struct read_waiter *prev, *next;   /* in one of the lists of struct reads */
    struct read_waiter **list;         /* which list, NULL once answered */
    struct reads *reads;
    struct conn *conn;                 /* referenced through the slot */
    struct conn_slot *slot;
    struct read_request rq;            /* owned */
    uv_timer_t timer;
};

static const struct codec_read_opts *read_opts(const struct read_request *rq)
{
    switch (rq->kind) {
    case READ_GET:
        return &rq->u.get.opts;
    case READ_GETALL:
        return &rq->u.getall.opts;
    default:
        return &rq->u.list.opts;
    }
}

static void read_request_free(struct read_request *rq)
{
    if (rq->kind == READ_GET)
        codec_get_free(&rq->u.get);
}

/* ---- executing a read into a reply buffer ---------------------------- */

/* Readers render straight into the reply: the array length first (the
 * store knows the exact count before iterating), then one bulk string of
 * JSON per item. Nothing is materialized beyond the reply itself. */
static int emit_begin(void *arg, uint64_t n)
{
    resp_write_array_header(arg, (size_t)n);
    return 0;
}

static int emit_event(void *arg, const Eventflow__StoredEvent *ev)
{
    struct buf *out = arg;
    size_t off = resp_bulk_begin(out);
    codec_write_event(out, ev);
    resp_bulk_end(out, off);
    return 0;
}

static int emit_stream(void *arg, const char *name, size_t name_len, const Eventflow__StreamInfo *info)
{
    struct buf *out = arg;
    size_t off = resp_bulk_begin(out);
    codec_write_stream(out, name, name_len, info);
    resp_bulk_end(out, off);
    return 0;
}

static void read_execute(struct node *n, const struct read_request *rq, struct buf *out)
{
    struct store_visitor v = {.arg = out, .begin = emit_begin, .event = emit_event, .stream = emit_stream};
    size_t start = out->len;
    int rc;
    switch (rq->kind) {
    case READ_GET:
        rc = store_read_stream(node_store(n), rq->u.get.stream, rq->u.get.stream_len, rq->u.get.version,
                               rq->u.get.limit, &v);
        break;
    case READ_GETALL:
        rc = store_read_all(node_store(n), rq->u.getall.has_offset ? rq->u.getall.offset : NULL,
                            rq->u.getall.limit, &v);
        break;
    default:
        rc = store_list_streams(node_store(n), rq->u.list.skip, rq->u.list.limit, &v);
        break;
    }
    if (rc != 0) {
        /* Never leave half an array behind. */
        out->len = start;
        resp_write_errorf(out, "IOERR read failed: %s", store_errmsg(node_store(n)));
    }
}

/* ---- waiters ---------------------------------------------------------- */

static void list_push(struct read_waiter **list, struct read_waiter *w)
{
    w->list = list;
    w->prev = NULL;
    w->next = *list;
    if (*list)
        (*list)->prev = w;
    *list = w;
}

static void list_remove(struct read_waiter *w)
{
    if (w->list == NULL)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        *w->list = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->list = NULL;
    w->prev = w->next = NULL;
}

static void waiter_closed(uv_handle_t *h)
{
    struct read_waiter *w = h->data;
    read_request_free(&w->rq);
    free(w);
}

/* Answer: run the read (error == NULL) or reply error, release the slot,
 * and free the waiter once its timer handle is closed. */
static void waiter_finish(struct read_waiter *w, const char *error)
{
    list_remove(w);
    struct buf *out = &w->slot->out;
    if (error == NULL)
        read_execute(w->reads->srv->node, &w->rq, out);
    else
        resp_write_error(out, error);
    conn_complete(w->conn, w->slot);
    uv_timer_stop(&w->timer);
    uv_close((uv_handle_t *)&w->timer, waiter_closed);
}

static void waiter_timeout(uv_timer_t *t)
{
    struct read_waiter *w = t->data;
    const struct codec_read_opts *o = read_opts(&w->rq);
    waiter_finish(w, o->linearizable ? "TIMEOUT the leader could not confirm its leadership in time"
                                     : "TIMEOUT this node has not applied the requested min_id yet");
}

static struct read_waiter *waiter_new(struct reads *r, struct conn *c, struct read_request *rq)
{
    struct read_waiter *w = xcalloc(1, sizeof *w);
    w->reads = r;
    w->conn = c;
    w->slot = conn_defer(c, false);
    w->rq = *rq; /* takes over what rq owns */
    uv_timer_init(r->srv->loop, &w->timer);
    w->timer.data = w;
    uv_timer_start(&w->timer, waiter_timeout, read_opts(rq)->timeout_ms, 0);
    return w;
}

/* ---- linearizable reads: one barrier per batch -------------------------- */

static void reads_start_barrier(struct reads *r);

static void reads_barrier_cb(void *data, int status, const char *why)
{
    struct reads *r = data;
    (void)why;
    r->barrier_inflight = false;
    /* The barrier is applied: so is everything committed before it, and
     * reads see it (through the store's open batch if need be). */
    while (r->batch != NULL)
        waiter_finish(r->batch, status == 0 ? NULL
                                            : "NOLEADER leadership was lost before the read was confirmed; retry");
    if (r->next_batch != NULL && !r->closing)
        reads_start_barrier(r);
}

static void reads_start_barrier(struct reads *r)
{
    struct node *n = r->srv->node;
    /* Everyone waiting now rides on the barrier proposed now. */
    while (r->next_batch != NULL) {
        struct read_waiter *w = r->next_batch;
        list_remove(w);
        list_push(&r->batch, w);
    }
    if (node_barrier(n, reads_barrier_cb, r) != 0) {
        while (r->batch != NULL)
            waiter_finish(r->batch, "NOLEADER this node is no longer the leader; retry");
        return;
    }
    r->barrier_inflight = true;
}

/* ---- entry points ----------------------------------------------------- */

void reads_init(struct reads *r, struct server *srv)
{
    memset(r, 0, sizeof *r);
    r->srv = srv;
}

void reads_close(struct reads *r)
{
    r->closing = true;
    while (r->waiting != NULL)
        waiter_finish(r->waiting, "SHUTDOWN the server is shutting down");
    while (r->next_batch != NULL)
        waiter_finish(r->next_batch, "SHUTDOWN the server is shutting down");
    /* The batch behind an in-flight barrier is answered by its callback,
     * which raft runs (with RAFT_SHUTDOWN) when it closes. */
}

static bool reached(struct node *n, const uint8_t *min_id)
{
    struct store_stats st;
    return store_stats(node_store(n), &st) == 0 && ulid_compare(st.last_id, min_id) >= 0;
}

bool reads_local_ready(struct node *n, struct buf *out, bool offer_stale_ok)
{
    uint64_t applied, mark;
    if (node_caught_up(n, &applied, &mark))
        return true;
    resp_write_errorf(out,
                      "STALE this node restarted and is applying again entries it had served before "
                      "(applied %llu of %llu); retry%s",
                      (unsigned long long)applied, (unsigned long long)mark,
                      offer_stale_ok ? ", or add \"stale_ok\":true to read anyway" : "");
    return false;
}

void reads_submit(struct reads *r, struct conn *c, struct read_request *rq)
{
    struct node *n = r->srv->node;
    const struct codec_read_opts *o = read_opts(rq);

    if (r->closing) {
        resp_write_error(conn_reply_buf(c), "SHUTDOWN the server is shutting down");
        read_request_free(rq);
        return;
    }
    if (o->linearizable && !mutant_is(MUTANT_READ_WITHOUT_BARRIER)) {
        if (!node_is_leader(n)) {
            redis_cluster_not_leader(c, conn_reply_buf(c));
            read_request_free(rq);
            return;
        }
        struct read_waiter *w = waiter_new(r, c, rq);
        list_push(&r->next_batch, w);
        if (!r->barrier_inflight)
            reads_start_barrier(r);
        return;
    }
    uint64_t age;
    if (!o->stale_ok && node_is_stale(n, &age)) {
        resp_write_errorf(conn_reply_buf(c),
                          "STALE this node has had no contact with a leader for %llu ms; its data may be "
                          "old (add \"stale_ok\":true to read anyway)",
                          (unsigned long long)age);
        read_request_free(rq);
        return;
    }
    if (!o->stale_ok && !reads_local_ready(n, conn_reply_buf(c), true)) {
        read_request_free(rq);
        return;
    }
    if (o->has_min_id && !reached(n, o->min_id) && !mutant_is(MUTANT_MIN_ID_IGNORED)) {
        struct read_waiter *w = waiter_new(r, c, rq);
        list_push(&r->waiting, w);
        return;
    }
    read_execute(n, rq, conn_reply_buf(c));
    read_request_free(rq);
}

void reads_poll(struct reads *r)
{
    struct node *n = r->srv->node;
    struct read_waiter *w = r->waiting;
    while (w != NULL) {
        struct read_waiter *next = w->next;
        if (reached(n, read_opts(&w->rq)->min_id))
            waiter_finish(w, NULL);
        w = next;
    }
}
