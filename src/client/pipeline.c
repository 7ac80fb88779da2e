/* pipeline.c - many appends in flight on one connection to the leader.
 *
 * Each append is encoded once, at eventflow_pipeline_append, into a whole
 * RESP command, and then lives in one of three queues, oldest first:
 *
 *   waiting  not sent on the current connection
 *   sent     written to the connection; replies come back in this order
 *   retry    answered "not here / not now" (MOVED, NOLEADER, TRYAGAIN,
 *            UNKNOWN for an idempotent append) or lost with a connection
 *
 * When a reply says "not here / not now", the pipeline stops sending
 * (draining) and reads the replies still due on that connection: some may
 * be answers. Once nothing is in flight it puts the retry queue back in
 * front of waiting, so the oldest appends go first, finds the leader
 * again (backing off if the cluster is between leaders) and resumes.
 * Appends past their deadline complete with EF_EUNAVAILABLE, or
 * EF_EUNKNOWN if an attempt of theirs may have been applied.
 *
 * All of it runs on the caller's thread, inside eventflow_pipeline_append,
 * _flush and _free; there is no background thread. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "common/mem.h"
#include "protocol/resp_writer.h"

#define EF_DEFAULT_WINDOW 256

struct pl_req {
    struct pl_req *next;
    char *cmd; /* owned: the RESP command */
    size_t len;
    size_t n_events;
    int64_t deadline; /* give up retrying after this (ef_now_ms) */
    int64_t sent_at;  /* when last written */
    bool maybe_applied;
    eventflow_append_cb cb;
    void *arg;
};

struct pl_queue {
    struct pl_req *head, *tail;
    size_t n;
};

struct eventflow_pipeline {
    struct eventflow_client *c; /* borrowed */
    size_t window;
    struct ef_conn conn;
    char conn_addr[EF_ADDR_MAX]; /* the node conn is open to */
    struct pl_queue waiting, sent, retry;
    bool draining;     /* send nothing more on conn; reroute once sent is empty */
    bool pause;        /* back off before connecting again */
    unsigned backoffs; /* pauses since the last answer */
    unsigned hops;     /* MOVED followed since the last answer */
    bool moved;        /* a MOVED was seen during this drain */
    int first_error;   /* of appends completed since the last flush */
};

/* ---- queues ----------------------------------------------------------- */

static void q_push(struct pl_queue *q, struct pl_req *r)
{
    r->next = NULL;
    if (q->tail != NULL)
        q->tail->next = r;
    else
        q->head = r;
    q->tail = r;
    q->n++;
}

static struct pl_req *q_pop(struct pl_queue *q)
{
    struct pl_req *r = q->head;
    if (r == NULL)
        return NULL;
    q->head = r->next;
    if (q->head == NULL)
        q->tail = NULL;
    q->n--;
    r->next = NULL;
    return r;
}

/* Put all of front before everything in back. */
static void q_prepend(struct pl_queue *back, struct pl_queue *front)
{
    if (front->head == NULL)
        return;
    front->tail->next = back->head;
    if (back->tail == NULL)
        back->tail = front->tail;
    back->head = front->head;
    back->n += front->n;
    front->head = front->tail = NULL;
    front->n = 0;
}

static size_t outstanding(const struct eventflow_pipeline *p)
{
    return p->waiting.n + p->sent.n + p->retry.n;
}

/* ---- completion ------------------------------------------------------- */

static void complete(struct eventflow_pipeline *p, struct pl_req *r, int status,
                     const struct eventflow_event_list *stored)
{
    static const struct eventflow_event_list empty = {0};
    if (status != EF_OK && p->first_error == EF_OK)
        p->first_error = status;
    eventflow_append_cb cb = r->cb;
    void *arg = r->arg;
    free(r->cmd);
    free(r);
    if (cb != NULL)
        cb(arg, status, status == EF_OK ? stored : &empty);
}

/* Fail every queued append whose deadline has passed (never one in
 * flight: its reply may still come). */
static void expire(struct eventflow_pipeline *p)
{
    int64_t now = ef_now_ms();
    struct pl_queue *queues[2] = {&p->retry, &p->waiting};
    for (int k = 0; k < 2; k++) {
        struct pl_queue keep = {0};
        struct pl_req *r;
        while ((r = q_pop(queues[k])) != NULL) {
            if (r->deadline > now) {
                q_push(&keep, r);
                continue;
            }
            int code = r->maybe_applied ? EF_EUNKNOWN : EF_EUNAVAILABLE;
            char cause[sizeof p->c->err];
            ef_fail(p->c, code, "pipelined append %s within the retry deadline (last: %s)",
                    r->maybe_applied ? "may have been applied; no retry settled it"
                                     : "found no leader",
                    ef_error_cause(p->c->err, cause, sizeof cause));
            complete(p, r, code, NULL);
        }
        *queues[k] = keep;
    }
}

/* ---- the connection --------------------------------------------------- */

/* The connection is gone with whatever was in flight on it. */
static void conn_lost(struct eventflow_pipeline *p, const char *why)
{
    struct eventflow_client *c = p->c;
    ef_fail(c, EF_EUNAVAILABLE, "%s: %s", p->conn_addr, why);
    ef_conn_close(&p->conn);
    for (size_t i = 0; i < c->n_nodes; i++)
        if (strcmp(c->nodes[i].ep.addr, p->conn_addr) == 0)
            ef_node_failed(c, (int)i);
    c->view_stale = true;
    struct pl_req *r;
    while ((r = q_pop(&p->sent)) != NULL) {
        if (c->send_keys) {
            r->maybe_applied = true;
            q_push(&p->retry, r);
        } else {
            complete(p, r,
                     ef_fail(c, EF_EUNKNOWN, "%s: %s after the append was sent; not retried",
                             p->conn_addr, why),
                     NULL);
        }
    }
    p->draining = true;
    p->pause = true;
}

/* Open the connection to the leader. Returns EF_OK, EF_EAUTH, or
 * EF_EUNAVAILABLE (back off and try again). */
static int connect_leader(struct eventflow_pipeline *p, int64_t deadline)
{
    struct eventflow_client *c = p->c;
    int i = ef_route(c, EF_ROUTE_LEADER, deadline);
    if (i < 0)
        return i;
    struct ef_endpoint ep = c->nodes[i].ep;
    int rc = ef_conn_connect(c, &p->conn, &ep, deadline);
    if (rc == EF_EUNAVAILABLE)
        ef_node_failed(c, i);
    if (rc == EF_OK)
        memcpy(p->conn_addr, ep.addr, sizeof p->conn_addr);
    return rc;
}

/* Back off (bounded by the oldest queued append's deadline). */
static void back_off(struct eventflow_pipeline *p)
{
    struct eventflow_client *c = p->c;
    p->backoffs++;
    p->hops = 0;
    int ms = ef_backoff_ms(p->backoffs, EF_BACKOFF_BASE_MS, EF_BACKOFF_CAP_MS, ef_rng_next(&c->rng));
    if (p->waiting.head != NULL) {
        int64_t left = p->waiting.head->deadline - ef_now_ms();
        if (left < ms)
            ms = left > 0 ? (int)left : 0;
    }
    ef_sleep_ms(ms);
    c->call_no++; /* a new round: nodes that failed may be tried again */
    p->pause = false;
}

/* ---- replies ---------------------------------------------------------- */

/* Handle the reply to the oldest append in flight. */
static void dispatch(struct eventflow_pipeline *p, struct resp_value *v)
{
    struct eventflow_client *c = p->c;
    struct pl_req *r = q_pop(&p->sent);
    char moved[EF_ADDR_MAX];
    enum ef_reply_class cls = ef_reply_classify(v, moved, sizeof moved);
    if (cls == EF_REPLY_OK) {
        struct eventflow_event_list list;
        char err[EF_ERR_LEN];
        int rc = ef_json_events(v, &list, err);
        if (rc == EF_OK && list.n != r->n_events) {
            eventflow_event_list_free(&list);
            rc = EF_EPROTO;
            snprintf(err, sizeof err, "ADD stored %zu events, %zu were sent", list.n, r->n_events);
        }
        if (rc != EF_OK) {
            complete(p, r, ef_fail(c, rc, "%s: ADD reply: %s", p->conn_addr, err), NULL);
            return;
        }
        p->backoffs = 0;
        p->hops = 0;
        ef_client_note_written(c, &list);
        memcpy(c->last_node, p->conn_addr, sizeof c->last_node);
        complete(p, r, EF_OK, &list);
        eventflow_event_list_free(&list);
        return;
    }
    if (cls == EF_REPLY_FINAL) {
        complete(p, r, ef_fail(c, ef_reply_error_code(v->str), "%s: -%s", p->conn_addr, v->str),
                 NULL);
        return;
    }
    ef_fail(c, EF_EUNAVAILABLE, "%s: -%s", p->conn_addr, v->str);
    if (cls == EF_REPLY_UNKNOWN && !c->send_keys) {
        complete(p, r, ef_fail(c, EF_EUNKNOWN, "%s: -%s", p->conn_addr, v->str), NULL);
        return;
    }
    if (cls == EF_REPLY_UNKNOWN)
        r->maybe_applied = true;
    q_push(&p->retry, r);
    p->draining = true;
    switch (cls) {
    case EF_REPLY_MOVED: {
        /* Every append in flight says MOVED: count one hop per drain. */
        if (!p->moved) {
            p->moved = true;
            p->hops++;
        }
        int to = ef_set_leader(c, moved);
        if (to < 0 || strcmp(c->nodes[to].ep.addr, p->conn_addr) == 0 || p->hops > EF_MAX_HOPS) {
            c->view_stale = true;
            p->pause = true;
        }
        break;
    }
    case EF_REPLY_UNKNOWN:
    case EF_REPLY_NOLEADER:
    case EF_REPLY_ELSEWHERE:
        ef_forget_leader(c);
        c->view_stale = true;
        p->pause = true;
        break;
    default: /* TRYAGAIN: most likely the same leader, later */
        c->view_stale = true;
        p->pause = true;
        break;
    }
}

/* ---- the loop --------------------------------------------------------- */

/* Everything in flight has been answered after a "not here / not now":
 * requeue the retries in front, and drop the connection unless it still
 * goes to the leader. */
static void end_drain(struct eventflow_pipeline *p)
{
    struct eventflow_client *c = p->c;
    q_prepend(&p->waiting, &p->retry);
    p->draining = false;
    p->moved = false;
    if (ef_conn_is_open(&p->conn) &&
        (c->leader < 0 || strcmp(c->nodes[c->leader].ep.addr, p->conn_addr) != 0))
        ef_conn_close(&p->conn);
}

/* Write queued appends while the window allows. */
static void send_waiting(struct eventflow_pipeline *p)
{
    int64_t now = ef_now_ms();
    while (!p->draining && p->sent.n < p->window && p->waiting.head != NULL) {
        struct pl_req *r = q_pop(&p->waiting);
        buf_append(&p->conn.out, r->cmd, r->len);
        r->sent_at = now;
        q_push(&p->sent, r);
    }
}

/* One round of I/O on the open connection: write, wait up to wait_ms for
 * something to happen, read, dispatch. */
static void io_round(struct eventflow_pipeline *p, bool may_block)
{
    struct eventflow_client *c = p->c;
    send_waiting(p);
    if (ef_conn_write_some(&p->conn) != 0) {
        conn_lost(p, "connection error while sending");
        return;
    }
    int wait_ms = 0;
    if (may_block && p->sent.head != NULL) {
        int64_t due = p->sent.head->sent_at + c->request_timeout_ms;
        int64_t left = due - ef_now_ms();
        if (left <= 0) {
            conn_lost(p, "no reply within the request timeout");
            return;
        }
        wait_ms = left > 1000000 ? 1000000 : (int)left;
    }
    struct pollfd pfd = {.fd = p->conn.fd, .events = POLLIN};
    if (p->conn.out.len > 0)
        pfd.events |= POLLOUT;
    int n = poll(&pfd, 1, wait_ms);
    if (n < 0 && errno != EINTR) {
        conn_lost(p, "poll failed");
        return;
    }
    if (n <= 0)
        return;
    if ((pfd.revents & POLLOUT) && ef_conn_write_some(&p->conn) != 0) {
        conn_lost(p, "connection error while sending");
        return;
    }
    if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
        return;
    int got = ef_conn_read_some(&p->conn);
    for (;;) {
        struct resp_value v;
        int rc = resp_reader_next(&p->conn.reader, &v);
        if (rc == 0)
            break;
        if (rc < 0 || p->sent.head == NULL) {
            if (rc > 0)
                resp_value_free(&v);
            conn_lost(p, rc < 0 ? "malformed reply" : "reply to nothing sent");
            return;
        }
        dispatch(p, &v);
        resp_value_free(&v);
    }
    if (got < 0)
        conn_lost(p, got == -1 ? "connection closed by the server" : "connection error");
}

/* Make progress until at most target appends are outstanding; at least
 * one pass even if that holds already, so appends go out promptly. */
static void pump(struct eventflow_pipeline *p, size_t target)
{
    bool first = true;
    while (first || outstanding(p) > target) {
        first = false;
        bool may_block = outstanding(p) > target;
        expire(p);
        if (p->draining && p->sent.n == 0)
            end_drain(p);
        if (outstanding(p) == 0)
            break;
        /* Nothing is in flight once a drain has ended, so this is the
         * moment to wait before trying again. */
        if (p->pause && !p->draining)
            back_off(p);
        if (!ef_conn_is_open(&p->conn)) {
            if (p->waiting.head == NULL)
                break; /* cannot happen: a closed connection has nothing in flight */
            int rc = connect_leader(p, p->waiting.head->deadline);
            if (rc == EF_EAUTH) {
                struct pl_req *r;
                while ((r = q_pop(&p->waiting)) != NULL)
                    complete(p, r, EF_EAUTH, NULL);
                continue;
            }
            if (rc != EF_OK) {
                p->pause = true;
                continue;
            }
        }
        io_round(p, may_block);
    }
}

/* ---- public ----------------------------------------------------------- */

int eventflow_pipeline_new(struct eventflow_client *c, unsigned max_in_flight,
                           struct eventflow_pipeline **out)
{
    struct eventflow_pipeline *p = xcalloc(1, sizeof *p);
    p->c = c;
    p->window = max_in_flight != 0 ? max_in_flight : EF_DEFAULT_WINDOW;
    ef_conn_init(&p->conn);
    *out = p;
    return EF_OK;
}

int eventflow_pipeline_append(struct eventflow_pipeline *p, const char *stream,
                              int64_t expected_version, const struct eventflow_new_event *events,
                              size_t n, eventflow_append_cb cb, void *arg)
{
    struct eventflow_client *c = p->c;
    struct buf json, cmd;
    buf_init(&json);
    char err[EF_ERR_LEN];
    int rc = ef_json_add(&json, stream, expected_version, events, n,
                         c->send_keys ? ef_client_keygen : NULL, c, err);
    if (rc != EF_OK) {
        buf_free(&json);
        return ef_fail(c, rc, "%s", err);
    }
    buf_init(&cmd);
    resp_write_array_header(&cmd, 2);
    resp_write_bulk(&cmd, "ADD", 3);
    resp_write_bulk(&cmd, json.data, json.len);
    buf_free(&json);

    struct pl_req *r = xcalloc(1, sizeof *r);
    r->cmd = cmd.data; /* the request takes the buffer's memory */
    r->len = cmd.len;
    r->n_events = n;
    r->deadline = ef_now_ms() + c->retry_deadline_ms;
    r->cb = cb;
    r->arg = arg;
    q_push(&p->waiting, r);
    pump(p, p->window);
    return EF_OK;
}

int eventflow_pipeline_flush(struct eventflow_pipeline *p)
{
    pump(p, 0);
    int rc = p->first_error;
    p->first_error = EF_OK;
    return rc;
}

size_t eventflow_pipeline_pending(const struct eventflow_pipeline *p)
{
    return outstanding(p);
}

void eventflow_pipeline_free(struct eventflow_pipeline *p)
{
    if (p == NULL)
        return;
    ef_conn_close(&p->conn);
    struct pl_queue *queues[3] = {&p->sent, &p->retry, &p->waiting};
    for (int k = 0; k < 3; k++) {
        struct pl_req *r;
        while ((r = q_pop(queues[k])) != NULL)
            complete(p, r, EF_ECANCELED, NULL);
    }
    free(p);
}
