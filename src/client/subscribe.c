/* subscribe.c - subscriptions (eventflow/subscribe.h): one connection of
 * their own, checked with PINGs while silent, and moved to another node
 * from the last position whenever it fails.
 *
 * A subscription keeps a private client (ef_client_clone) for the view of
 * the cluster, routing and its messages, so that it shares nothing with
 * the client it came from and may run on a thread of its own.
 *
 * Subscribing is done in rounds (sub_round): pick a node by the read
 * preference (ef_route, which skips nodes that failed in this round),
 * connect, ask its STATUS, and send SUBSCRIBE for the spec from the
 * position (sub_wire.c). A stale node is passed over while another might
 * do, and taken when every node that answered is stale: it still delivers
 * what it applies. A failed round is followed by another after a backoff
 * with jitter, for as long as the caller keeps asking.
 *
 * Nothing is lost or repeated across a move because the position only
 * moves with what was handed to the consumer (and with caught-up markers,
 * which the server sends once everything before them was passed), and the
 * server of the new subscription starts strictly after it. Events the old
 * connection still held are dropped with it. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "client/sub_wire.h"
#include "common/mem.h"

/* Silence after which the connection is checked with a PING (answered
 * within the request timeout, or the node is left). */
#define EF_SUB_PING_MS 1000
/* On a stale node: how often to look for a node that is current. */
#define EF_SUB_RECHECK_MS 2000

/* sub_read: no answer to the keepalive PING. */
#define EF_IO_SILENT (-10)
/* sub_try: the node is stale, and was not subscribed. */
#define SUB_TRY_STALE 1

struct eventflow_subscription {
    struct eventflow_client *c; /* owned: options, view, routing, messages */
    struct ef_sub_spec spec;
    struct ef_sub_pos pos;
    struct ef_conn conn;        /* subscribed, or closed while no node serves */
    char node[EF_ADDR_MAX];     /* the serving node, "" while closed */
    bool node_stale;            /* the serving node has no leader contact */
    uint64_t contact_ms;        /* its time without one, when it said so */
    bool told_stale;            /* what the consumer was last told */
    bool pending_caught_up;     /* a caught-up marker taken early, not yet handed out */
    bool subscribed_once;
    int64_t last_rx;            /* ef_now_ms() of the last bytes received */
    int64_t ping_at;            /* when the unanswered PING left; 0: none out */
    int64_t lost_at;            /* without a node since (while closed) */
    int64_t retry_at;           /* the next round (while closed) */
    int64_t recheck_at;         /* the next look for a current node (while stale) */
    unsigned failed_rounds;     /* in a row, for the backoff */
    uint64_t resumes;
    struct eventflow_event ev;  /* the event handed out; strings owned */
    struct eventflow_sub_message msg;
};

static enum eventflow_read_preference read_preference_of(enum eventflow_sub_node node)
{
    switch (node) {
    case EF_SUB_ON_ANY:
        return EF_READ_ANY;
    case EF_SUB_ON_LEADER:
        return EF_READ_LEADER;
    case EF_SUB_ON_FOLLOWER:
        break;
    }
    return EF_READ_FOLLOWER;
}

static int node_index(const struct eventflow_client *c, const char *addr)
{
    for (size_t i = 0; i < c->n_nodes; i++)
        if (strcmp(c->nodes[i].ep.addr, addr) == 0)
            return (int)i;
    return -1;
}

/* Routing opens the view's own connections (STATUS, CLUSTER MEMBERS);
 * the subscription needs none of them between rounds. */
static void close_view_conns(struct eventflow_client *c)
{
    for (size_t i = 0; i < c->n_nodes; i++)
        ef_conn_close(&c->nodes[i].conn);
}

/* ---- one node ------------------------------------------------------------ */

/* Ask the node on cn whether it is stale. A probe, so it gets the connect
 * timeout: a node that cannot answer STATUS that fast is a poor server. */
static int sub_probe(struct eventflow_subscription *sub, struct ef_conn *cn,
                     const struct ef_endpoint *ep, bool *stale, uint64_t *contact_ms)
{
    struct eventflow_client *c = sub->c;
    int64_t dl = ef_now_ms() + c->connect_timeout_ms;
    const char *argv[] = {"STATUS"};
    ef_conn_queue(cn, 1, argv, NULL);
    char why[200];
    if (ef_conn_flush(cn, dl, why, sizeof why) != 0)
        return ef_fail(c, EF_EUNAVAILABLE, "%s: %s", ep->addr, why);
    struct resp_value v;
    if (ef_conn_read(cn, &v, dl) != EF_IO_REPLY)
        return ef_fail(c, EF_EUNAVAILABLE, "%s: no reply to STATUS within %d ms", ep->addr,
                       c->connect_timeout_ms);
    struct eventflow_node_status st;
    char err[EF_ERR_LEN];
    int rc = EF_OK;
    if (v.type != RESP_T_BULK || ef_json_status(v.str, v.len, &st, err) != EF_OK) {
        rc = ef_fail(c, EF_EUNAVAILABLE, "%s: unreadable STATUS reply", ep->addr);
    } else {
        *stale = st.stale;
        *contact_ms = st.last_contact_ms;
    }
    resp_value_free(&v);
    return rc;
}

/* A subscription from the live end learns where that is from the
 * caught-up marker the server sends with the confirmation, and takes it
 * at once: the consumer may be slow to come back for it, and a position
 * left unknown would resume from a later live end, skipping events. */
static int sub_read_start(struct eventflow_subscription *sub, struct ef_conn *cn,
                          const struct ef_endpoint *ep, int64_t dl)
{
    struct eventflow_client *c = sub->c;
    struct resp_value v;
    if (ef_conn_read(cn, &v, dl) != EF_IO_REPLY)
        return ef_fail(c, EF_EUNAVAILABLE, "%s: no caught-up marker after SUBSCRIBE", ep->addr);
    const char *json = NULL;
    size_t len = 0;
    struct ef_sub_marker m;
    char err[EF_ERR_LEN];
    int rc = EF_OK;
    if (ef_sub_push_read(&v, &json, &len) != EF_PUSH_MESSAGE ||
        ef_sub_marker_read(json, len, &m, err) != 1 || m.kind != EF_SUB_CAUGHT_UP) {
        rc = ef_fail(c, EF_EUNAVAILABLE, "%s: SUBSCRIBE from the live end: no caught-up marker",
                     ep->addr);
    } else {
        ef_sub_pos_caught_up(&sub->pos, sub->spec.all, &m);
        sub->pending_caught_up = sub->spec.markers;
    }
    resp_value_free(&v);
    return rc;
}

/* SUBSCRIBE on cn from the position, and its confirmation. A refusal in
 * plain words (the spec, the password) is the answer; anything else sends
 * the round on to another node. */
static int sub_send(struct eventflow_subscription *sub, struct ef_conn *cn,
                    const struct ef_endpoint *ep)
{
    struct eventflow_client *c = sub->c;
    struct buf arg;
    buf_init(&arg);
    ef_sub_spec_json(&arg, &sub->spec, &sub->pos);
    const char *argv[] = {"SUBSCRIBE", arg.data};
    const size_t lens[] = {9, arg.len};
    ef_conn_queue(cn, 2, argv, lens);
    buf_free(&arg);
    int64_t dl = ef_now_ms() + c->request_timeout_ms;
    char why[200];
    if (ef_conn_flush(cn, dl, why, sizeof why) != 0)
        return ef_fail(c, EF_EUNAVAILABLE, "%s: %s", ep->addr, why);
    struct resp_value v;
    if (ef_conn_read(cn, &v, dl) != EF_IO_REPLY)
        return ef_fail(c, EF_EUNAVAILABLE, "%s: no reply to SUBSCRIBE", ep->addr);
    const char *json;
    size_t len;
    int rc;
    switch (ef_sub_push_read(&v, &json, &len)) {
    case EF_PUSH_SUBSCRIBED:
        rc = sub->pos.known ? EF_OK : sub_read_start(sub, cn, ep, dl);
        break;
    case EF_PUSH_ERROR: {
        int code = ef_reply_error_code(v.str);
        rc = ef_fail(c, code == EF_EINVAL || code == EF_EAUTH ? code : EF_EUNAVAILABLE,
                     "%s: SUBSCRIBE: -%s", ep->addr, v.str);
        break;
    }
    default:
        rc = ef_fail(c, EF_EUNAVAILABLE, "%s: unexpected reply to SUBSCRIBE", ep->addr);
        break;
    }
    resp_value_free(&v);
    return rc;
}

/* ---- rounds ----------------------------------------------------------------- */

/* Where a round subscribed. */
struct sub_served {
    struct ef_endpoint ep;
    bool stale;
    uint64_t contact_ms;
};

/* Connect cn to ep and subscribe there; with probe, first ask whether the
 * node is stale (SUB_TRY_STALE: it is, and cn is closed). */
static int sub_try(struct eventflow_subscription *sub, struct ef_conn *cn, bool probe,
                   struct sub_served *at)
{
    int rc = ef_conn_connect(sub->c, cn, &at->ep, INT64_MAX);
    if (rc == EF_OK && probe)
        rc = sub_probe(sub, cn, &at->ep, &at->stale, &at->contact_ms);
    if (rc == EF_OK && probe && at->stale) {
        ef_conn_close(cn);
        return SUB_TRY_STALE;
    }
    if (rc == EF_OK)
        rc = sub_send(sub, cn, &at->ep);
    if (rc != EF_OK)
        ef_conn_close(cn);
    return rc;
}

/* One round: nodes by the read preference until one subscribes on cn.
 * avoid (NULL: none) is a node being left. Stale nodes are passed over;
 * with stale_ok the first of them is taken when no other would do. */
static int sub_round(struct eventflow_subscription *sub, struct ef_conn *cn, const char *avoid,
                     bool stale_ok, struct sub_served *at)
{
    struct eventflow_client *c = sub->c;
    int64_t deadline = ef_now_ms() + c->connect_timeout_ms + c->request_timeout_ms;
    c->call_no++; /* a new round: nodes that failed before may be tried */
    c->view_stale = true; /* who leads now decides which nodes are followers */
    int skip = avoid != NULL ? node_index(c, avoid) : -1;
    if (skip >= 0) {
        c->nodes[skip].failed_call = c->call_no;
        if (c->reader == skip)
            c->reader = -1;
    }
    struct sub_served fallback = {.stale = false};
    bool have_fallback = false;
    int rc = EF_EUNAVAILABLE;
    for (;;) {
        int i = ef_route(c, EF_ROUTE_READ, deadline);
        if (i < 0) {
            rc = i;
            break;
        }
        struct sub_served try = {.ep = c->nodes[i].ep};
        rc = sub_try(sub, cn, true, &try);
        if (rc == EF_OK) {
            *at = try;
            break;
        }
        if (rc == EF_EAUTH || rc == EF_EINVAL)
            break;
        if (rc == SUB_TRY_STALE) {
            /* Stale: not in this round, and later ones look elsewhere first. */
            c->nodes[i].failed_call = c->call_no;
            c->nodes[i].failed_at = ef_now_ms();
            if (c->reader == i)
                c->reader = -1;
            if (!have_fallback)
                fallback = try;
            have_fallback = true;
            ef_fail(c, EF_EUNAVAILABLE, "%s: stale (no leader contact for %llu ms)",
                    try.ep.addr, (unsigned long long)try.contact_ms);
            continue;
        }
        ef_node_failed(c, i);
    }
    if (rc != EF_OK && rc != EF_EAUTH && rc != EF_EINVAL && have_fallback && stale_ok) {
        rc = sub_try(sub, cn, false, &fallback);
        if (rc == EF_OK)
            *at = fallback;
    }
    close_view_conns(c);
    return rc;
}

/* ---- the connection ----------------------------------------------------------- */

static void sub_serve(struct eventflow_subscription *sub, const struct sub_served *at)
{
    int64_t now = ef_now_ms();
    snprintf(sub->node, sizeof sub->node, "%s", at->ep.addr);
    sub->node_stale = at->stale;
    sub->contact_ms = at->contact_ms;
    sub->recheck_at = now + EF_SUB_RECHECK_MS;
    sub->last_rx = now;
    sub->ping_at = 0;
    if (sub->subscribed_once)
        sub->resumes++;
    sub->subscribed_once = true;
}

/* The connection failed (the message is set): close it, and resume at
 * once, elsewhere if possible. */
static void sub_lost(struct eventflow_subscription *sub)
{
    struct eventflow_client *c = sub->c;
    ef_conn_close(&sub->conn);
    int i = node_index(c, sub->node);
    if (i >= 0)
        ef_node_failed(c, i);
    sub->node[0] = '\0';
    sub->lost_at = ef_now_ms();
    sub->retry_at = sub->lost_at;
    sub->failed_rounds = 0;
}

/* Subscribe again (or for the first time) until a node serves, the
 * deadline passes (EF_ETIMEDOUT), no node has served for the retry
 * deadline (EF_EUNAVAILABLE), or a node refuses (EF_EAUTH, EF_EINVAL). */
static int sub_resume(struct eventflow_subscription *sub, int64_t deadline)
{
    struct eventflow_client *c = sub->c;
    for (;;) {
        int64_t now = ef_now_ms();
        if (now >= sub->retry_at) {
            struct sub_served at;
            int rc = sub_round(sub, &sub->conn, NULL, true, &at);
            if (rc == EF_OK) {
                sub_serve(sub, &at);
                sub->failed_rounds = 0;
                return EF_OK;
            }
            sub->failed_rounds++;
            int ms = ef_backoff_ms(sub->failed_rounds, EF_BACKOFF_BASE_MS, EF_BACKOFF_CAP_MS,
                                   ef_rng_next(&c->rng));
            sub->retry_at = ef_now_ms() + ms;
            if (rc == EF_EAUTH || rc == EF_EINVAL)
                return rc;
        }
        now = ef_now_ms();
        int64_t give_up = sub->lost_at + c->retry_deadline_ms;
        if (now >= give_up) {
            char cause[sizeof c->err];
            sub->lost_at = now;
            return ef_fail(c, EF_EUNAVAILABLE, "no node has served the subscription for %d ms (last: %s)",
                           c->retry_deadline_ms, ef_error_cause(c->err, cause, sizeof cause));
        }
        if (now >= deadline)
            return EF_ETIMEDOUT;
        int64_t until = sub->retry_at < deadline ? sub->retry_at : deadline;
        if (give_up < until)
            until = give_up;
        ef_sleep_ms((int)(until - now > 1000000 ? 1000000 : until - now));
    }
}

/* On a stale node: move to a current one if any answers now. */
static void sub_leave_stale(struct eventflow_subscription *sub)
{
    struct ef_conn cn;
    ef_conn_init(&cn);
    struct sub_served at;
    char from[EF_ADDR_MAX];
    memcpy(from, sub->node, sizeof from);
    int rc = sub_round(sub, &cn, from, false, &at);
    if (rc != EF_OK) {
        /* Stay: the node still delivers what it applies. */
        sub->recheck_at = ef_now_ms() + EF_SUB_RECHECK_MS;
        return;
    }
    ef_conn_close(&sub->conn);
    sub->conn = cn; /* moved: cn is not used again */
    sub_serve(sub, &at);
}

/* The next value from the connection before `until`: EF_IO_REPLY with *v
 * filled, EF_IO_TIMEOUT, or the connection failed (another EF_IO_* or
 * EF_IO_SILENT, the message set). While it waits, the node is sent a PING
 * after EF_SUB_PING_MS of silence, and given the request timeout to send
 * anything back. */
static int sub_read(struct eventflow_subscription *sub, struct resp_value *v, int64_t until)
{
    struct eventflow_client *c = sub->c;
    struct ef_conn *cn = &sub->conn;
    for (;;) {
        int rc = resp_reader_next(&cn->reader, v);
        if (rc == 1)
            return EF_IO_REPLY;
        if (rc < 0) {
            ef_fail(c, EF_EPROTO, "%s: malformed message", sub->node);
            return EF_IO_PROTO;
        }
        int64_t now = ef_now_ms();
        if (sub->ping_at != 0 && now - sub->ping_at >= c->request_timeout_ms) {
            ef_fail(c, EF_EUNAVAILABLE, "%s: no answer to PING within %d ms", sub->node,
                    c->request_timeout_ms);
            return EF_IO_SILENT;
        }
        if (sub->ping_at == 0 && now - sub->last_rx >= EF_SUB_PING_MS) {
            const char *argv[] = {"PING"};
            ef_conn_queue(cn, 1, argv, NULL);
            sub->ping_at = now;
        }
        if (cn->out.len > 0 && ef_conn_write_some(cn) != 0) {
            ef_fail(c, EF_EUNAVAILABLE, "%s: send: %s", sub->node, strerror(errno));
            return EF_IO_ERROR;
        }
        int64_t wake = sub->ping_at != 0 ? sub->ping_at + c->request_timeout_ms
                                         : sub->last_rx + EF_SUB_PING_MS;
        if (until < wake)
            wake = until;
        int64_t wait = wake - now;
        struct pollfd pfd = {.fd = cn->fd, .events = POLLIN | (cn->out.len > 0 ? POLLOUT : 0)};
        int n = poll(&pfd, 1, wait <= 0 ? 0 : wait > 1000000 ? 1000000 : (int)wait);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ef_fail(c, EF_EUNAVAILABLE, "%s: poll: %s", sub->node, strerror(errno));
            return EF_IO_ERROR;
        }
        if (n == 0) {
            if (ef_now_ms() >= until)
                return EF_IO_TIMEOUT;
            continue;
        }
        if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            int got = ef_conn_read_some(cn);
            if (got == -1 || got == -2) {
                ef_fail(c, EF_EUNAVAILABLE, "%s: %s", sub->node,
                        got == -1 ? "connection closed by the server" : "connection error");
                return got == -1 ? EF_IO_EOF : EF_IO_ERROR;
            }
            if (got > 0) {
                sub->last_rx = ef_now_ms();
                sub->ping_at = 0; /* anything at all shows the node is there */
            }
        }
    }
}

/* ---- messages ------------------------------------------------------------------ */

static void sub_hand_out(struct eventflow_subscription *sub, enum eventflow_sub_kind kind,
                         const struct eventflow_sub_message **msg)
{
    sub->msg = (struct eventflow_sub_message){
        .kind = kind,
        .event = kind == EF_SUB_EVENT ? &sub->ev : NULL,
        .node = sub->node,
        .last_contact_ms = kind == EF_SUB_STALE ? sub->contact_ms : 0,
    };
    *msg = &sub->msg;
}

/* A marker: moves the position or the staleness. Returns 1 if it is for
 * the consumer (handed out), else 0. */
static int sub_marker(struct eventflow_subscription *sub, const struct ef_sub_marker *m,
                      const struct eventflow_sub_message **msg)
{
    switch (m->kind) {
    case EF_SUB_CAUGHT_UP:
        ef_sub_pos_caught_up(&sub->pos, sub->spec.all, m);
        if (!sub->spec.markers)
            return 0;
        sub_hand_out(sub, EF_SUB_CAUGHT_UP, msg);
        return 1;
    case EF_SUB_STALE:
        sub->node_stale = true;
        sub->contact_ms = m->last_contact_ms;
        sub->recheck_at = ef_now_ms(); /* look for a current node at once */
        return 0;
    case EF_SUB_CURRENT:
        sub->node_stale = false;
        return 0;
    case EF_SUB_EVENT:
        break;
    }
    return 0;
}

/* One value from the connection: 1 with *msg handed out, 0 if there is
 * nothing for the consumer, or EF_EPROTO (the connection was dropped). */
static int sub_take(struct eventflow_subscription *sub, const struct resp_value *v,
                    const struct eventflow_sub_message **msg)
{
    struct eventflow_client *c = sub->c;
    const char *json = NULL;
    size_t len = 0;
    switch (ef_sub_push_read(v, &json, &len)) {
    case EF_PUSH_SUBSCRIBED:
    case EF_PUSH_PONG:
        return 0;
    case EF_PUSH_ERROR:
        /* Not meant for a subscribed connection: the node is in trouble. */
        ef_fail(c, EF_EUNAVAILABLE, "%s: -%s", sub->node, v->str);
        sub_lost(sub);
        return 0;
    case EF_PUSH_OTHER:
        ef_fail(c, EF_EPROTO, "%s: unexpected value on the subscription", sub->node);
        sub_lost(sub);
        return EF_EPROTO;
    case EF_PUSH_MESSAGE:
        break;
    }
    char err[EF_ERR_LEN];
    struct ef_sub_marker m;
    int k = ef_sub_marker_read(json, len, &m, err);
    if (k == 1)
        return sub_marker(sub, &m, msg);
    if (k == 0)
        k = ef_json_event(json, len, &sub->ev, err);
    if (k != EF_OK) {
        ef_fail(c, EF_EPROTO, "%s: %s", sub->node, err);
        sub_lost(sub);
        return EF_EPROTO;
    }
    if (!ef_sub_pos_event(&sub->pos, sub->spec.all, &sub->ev)) {
        ef_event_clear(&sub->ev); /* at or behind the position: seen already */
        return 0;
    }
    sub_hand_out(sub, EF_SUB_EVENT, msg);
    return 1;
}

/* ---- the API ----------------------------------------------------------------------- */

int eventflow_subscribe(struct eventflow_client *c, const struct eventflow_sub_spec *spec,
                        struct eventflow_subscription **out)
{
    *out = NULL;
    if (spec == NULL)
        return ef_fail(c, EF_EINVAL, "spec is NULL");
    struct eventflow_subscription *sub = xcalloc(1, sizeof *sub);
    char err[EF_ERR_LEN];
    int rc = ef_sub_spec_copy(spec, &sub->spec, &sub->pos, err);
    if (rc != EF_OK) {
        free(sub);
        return ef_fail(c, rc, "%s", err);
    }
    sub->c = ef_client_clone(c);
    sub->c->read_preference = read_preference_of(sub->spec.node);
    ef_conn_init(&sub->conn);
    sub->lost_at = ef_now_ms();
    rc = sub_resume(sub, INT64_MAX);
    if (rc != EF_OK) {
        ef_fail(c, rc, "%s", sub->c->err);
        eventflow_subscription_free(sub);
        return rc;
    }
    *out = sub;
    return EF_OK;
}

int eventflow_subscription_next(struct eventflow_subscription *sub,
                                const struct eventflow_sub_message **msg, int timeout_ms)
{
    *msg = NULL;
    ef_event_clear(&sub->ev);
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : ef_now_ms() + timeout_ms;
    for (;;) {
        if (!ef_conn_is_open(&sub->conn)) {
            int rc = sub_resume(sub, deadline);
            if (rc != EF_OK)
                return rc;
        }
        if (sub->pending_caught_up) {
            sub->pending_caught_up = false;
            sub_hand_out(sub, EF_SUB_CAUGHT_UP, msg);
            return EF_OK;
        }
        if (sub->node_stale != sub->told_stale) {
            sub->told_stale = sub->node_stale;
            if (sub->spec.markers) {
                sub_hand_out(sub, sub->node_stale ? EF_SUB_STALE : EF_SUB_CURRENT, msg);
                return EF_OK;
            }
        }
        if (sub->node_stale && ef_now_ms() >= sub->recheck_at) {
            sub_leave_stale(sub);
            continue;
        }
        int64_t until = sub->node_stale && sub->recheck_at < deadline ? sub->recheck_at : deadline;
        struct resp_value v;
        int io = sub_read(sub, &v, until);
        if (io == EF_IO_TIMEOUT) {
            if (ef_now_ms() >= deadline)
                return EF_ETIMEDOUT;
            continue;
        }
        if (io != EF_IO_REPLY) {
            sub_lost(sub);
            continue;
        }
        int rc = sub_take(sub, &v, msg);
        resp_value_free(&v);
        if (rc == 1)
            return EF_OK;
        if (rc < 0)
            return rc;
    }
}

const char *eventflow_subscription_node(const struct eventflow_subscription *sub)
{
    return sub->node;
}

const char *eventflow_subscription_last_error(const struct eventflow_subscription *sub)
{
    return sub->c->err;
}

uint64_t eventflow_subscription_resumes(const struct eventflow_subscription *sub)
{
    return sub->resumes;
}

void eventflow_subscription_free(struct eventflow_subscription *sub)
{
    if (sub == NULL)
        return;
    ef_conn_close(&sub->conn);
    ef_event_clear(&sub->ev);
    ef_sub_spec_free(&sub->spec);
    eventflow_client_free(sub->c);
    free(sub);
}
