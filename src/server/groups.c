/* groups.c - the GROUP command (see groups.h). */
#include "server/groups.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "node/node.h"
#include "protocol/codec.h"
#include "protocol/codec_group.h"
#include "protocol/resp_writer.h"
#include "server/acl_conn.h"
#include "server/commands.h"
#include "server/conn.h"
#include "server/reads.h"
#include "server/server.h"
#include "store/store.h"

/* One GROUP request that changes a group, from its arrival to its reply:
 * queued for this turn's entry, in a proposed entry, or (a READ that found
 * nothing) waiting. */
struct group_request {
    struct groups *gs;
    struct conn *conn;       /* referenced through the slot */
    struct conn_slot *slot;  /* owned by conn */
    struct codec_group q;    /* the decoded request, owned */
    uint64_t give_up_ms;     /* READ with block_ms: uv_now when it answers empty */
    bool wait;               /* its READ found nothing and may wait */
    struct group_request *next;  /* on the waiting list */
    /* The operation as proposed: built once, pointing into q. */
    Eventflow__GroupOp op;
    union {
        Eventflow__GroupCreate create;
        Eventflow__GroupRead read;
        Eventflow__GroupAck ack;
        Eventflow__GroupNack nack;
        Eventflow__GroupSeek seek;
        Eventflow__GroupReplay replay;
        Eventflow__GroupDelConsumer delconsumer;
    } u;
    ProtobufCBinaryData *ids; /* owned: q.ids as protobuf bytes */
};

/* One proposed GroupOps entry and the requests it answers, in order. */
struct group_batch {
    struct node_proposal np; /* np.data is this */
    struct groups *gs;
    struct group_request **reqs; /* owned array */
    size_t n;
};

struct groups {
    struct server *srv;
    struct group_request **queue; /* this turn's operations, owned array */
    size_t n_queue, cap_queue;
    struct group_request *waiting; /* READs waiting for events */
    size_t n_waiting;
    uv_timer_t timer;          /* the next waiting READ's deadline or due time */
    uint64_t checked_index;    /* applied index when the waiting reads were last checked */
    bool recheck;              /* the timer fired: check whatever the index */
    /* Shutting down: the server is gone, but raft may still apply and
     * finish entries in flight (node_close); the struct lives until both
     * they and the timer's close are done. */
    bool closing;
    size_t in_flight;          /* proposed entries not done yet */
    bool timer_closed;
};

static struct node *gs_node(struct groups *gs)
{
    return gs->srv->node;
}

static void req_free(struct group_request *r)
{
    codec_group_free(&r->q);
    free(r->ids);
    free(r);
}

/* The reply is in the slot: hand it to the connection. */
static void req_finish(struct group_request *r)
{
    conn_complete(r->conn, r->slot);
    req_free(r);
}

/* ---- building the operation --------------------------------------------------- */

static ProtobufCBinaryData *ids_of(const struct codec_group *q)
{
    if (q->n_ids == 0)
        return NULL;
    ProtobufCBinaryData *ids = xcalloc(q->n_ids, sizeof *ids);
    for (size_t i = 0; i < q->n_ids; i++)
        ids[i] = (ProtobufCBinaryData){.len = ULID_BYTES, .data = q->ids[i]};
    return ids;
}

static void op_build(struct group_request *r)
{
    struct codec_group *q = &r->q;
    Eventflow__GroupOp *op = &r->op;
    eventflow__group_op__init(op);
    r->ids = ids_of(q);
    switch (q->cmd) {
    case CODEC_GROUP_CREATE: {
        Eventflow__GroupCreate *c = &r->u.create;
        eventflow__group_create__init(c);
        c->group = q->group;
        c->stream = q->stream != NULL ? q->stream : "";
        c->all = q->all;
        c->stream_prefix = q->stream_prefix != NULL ? q->stream_prefix : "";
        c->types = q->types;
        c->n_types = q->n_types;
        c->version = q->from == CODEC_GROUP_FROM_VERSION ? q->version : 0;
        if (q->from == CODEC_GROUP_AFTER_ID)
            c->after_id = (ProtobufCBinaryData){.len = ULID_BYTES, .data = q->after};
        c->from_end = q->from == CODEC_GROUP_FROM_END;
        c->ack_wait_ms = q->ack_wait_ms;
        c->max_deliveries = q->max_deliveries;
        c->max_ack_pending = q->max_ack_pending;
        op->op_case = EVENTFLOW__GROUP_OP__OP_CREATE;
        op->create = c;
        break;
    }
    case CODEC_GROUP_DESTROY:
        op->op_case = EVENTFLOW__GROUP_OP__OP_DESTROY;
        op->destroy = q->group;
        break;
    case CODEC_GROUP_READ:
        eventflow__group_read__init(&r->u.read);
        r->u.read.group = q->group;
        r->u.read.consumer = q->consumer;
        r->u.read.count = q->count;
        op->op_case = EVENTFLOW__GROUP_OP__OP_READ;
        op->read = &r->u.read;
        break;
    case CODEC_GROUP_ACK:
        eventflow__group_ack__init(&r->u.ack);
        r->u.ack.group = q->group;
        r->u.ack.ids = r->ids;
        r->u.ack.n_ids = q->n_ids;
        op->op_case = EVENTFLOW__GROUP_OP__OP_ACK;
        op->ack = &r->u.ack;
        break;
    case CODEC_GROUP_NACK:
        eventflow__group_nack__init(&r->u.nack);
        r->u.nack.group = q->group;
        r->u.nack.ids = r->ids;
        r->u.nack.n_ids = q->n_ids;
        r->u.nack.park = q->park;
        op->op_case = EVENTFLOW__GROUP_OP__OP_NACK;
        op->nack = &r->u.nack;
        break;
    case CODEC_GROUP_REPLAY:
        eventflow__group_replay__init(&r->u.replay);
        r->u.replay.group = q->group;
        r->u.replay.ids = r->ids;
        r->u.replay.n_ids = q->n_ids;
        r->u.replay.limit = q->n_ids == 0 ? q->count : 0;
        op->op_case = EVENTFLOW__GROUP_OP__OP_REPLAY;
        op->replay = &r->u.replay;
        break;
    case CODEC_GROUP_SEEK:
        eventflow__group_seek__init(&r->u.seek);
        r->u.seek.group = q->group;
        r->u.seek.version = q->from == CODEC_GROUP_FROM_VERSION ? q->version : 0;
        if (q->from == CODEC_GROUP_AFTER_ID)
            r->u.seek.after_id = (ProtobufCBinaryData){.len = ULID_BYTES, .data = q->after};
        r->u.seek.to_end = q->from == CODEC_GROUP_FROM_END;
        op->op_case = EVENTFLOW__GROUP_OP__OP_SEEK;
        op->seek = &r->u.seek;
        break;
    case CODEC_GROUP_DELCONSUMER:
        eventflow__group_del_consumer__init(&r->u.delconsumer);
        r->u.delconsumer.group = q->group;
        r->u.delconsumer.consumer = q->consumer;
        op->op_case = EVENTFLOW__GROUP_OP__OP_DELCONSUMER;
        op->delconsumer = &r->u.delconsumer;
        break;
    default:
        break;
    }
}

static void queue_push(struct groups *gs, struct group_request *r)
{
    if (gs->n_queue == gs->cap_queue) {
        gs->cap_queue = gs->cap_queue ? 2 * gs->cap_queue : 16;
        gs->queue = xrealloc(gs->queue, gs->cap_queue * sizeof *gs->queue);
    }
    gs->queue[gs->n_queue++] = r;
}

/* ---- replies ------------------------------------------------------------------------ */

static void json_time_ms(struct buf *b, const char *key, int64_t ms)
{
    char t[40];
    codec_format_time(ms * 1000000, t);
    buf_printf(b, "\"%s\":\"%s\"", key, t);
}

static void json_key_string(struct buf *b, const char *key, const char *s, size_t len)
{
    buf_printf(b, "\"%s\":", key);
    codec_write_json_string(b, s, len);
}

static void json_id(struct buf *b, const char *key, const uint8_t id[ULID_BYTES])
{
    char text[ULID_STR_LEN + 1];
    ulid_format(id, text);
    buf_printf(b, "\"%s\":\"%s\"", key, text);
}

/* What a READ hands out: events as GET returns them, each with its
 * delivery count. Rendered aside first: the array's length is known only
 * once every event was found. */
struct read_render {
    struct buf events;
    const uint32_t *deliveries;
    size_t i;
};

static int render_read_event(void *arg, const Eventflow__StoredEvent *ev)
{
    struct read_render *rr = arg;
    size_t off = resp_bulk_begin(&rr->events);
    codec_write_event(&rr->events, ev);
    /* Reopen the object for one more field. */
    rr->events.len--;
    buf_printf(&rr->events, ",\"deliveries\":%" PRIu32 "}", rr->deliveries[rr->i++]);
    resp_bulk_end(&rr->events, off);
    return 0;
}

static void render_read(struct groups *gs, const struct store_group_result *res, struct buf *out)
{
    struct read_render rr = {.deliveries = res->deliveries};
    buf_init(&rr.events);
    struct store_visitor v = {.arg = &rr, .event = render_read_event};
    int rc = store_read_ids(node_store(gs_node(gs)), res->ids, (size_t)res->count, &v);
    if (rc != 0 || rr.i != res->count) {
        /* The events were handed out: they stay pending and are delivered
         * again after the ack wait. */
        resp_write_errorf(out, "IOERR reading the events handed out: %s",
                          rc != 0 ? store_errmsg(node_store(gs_node(gs))) : "an event is missing");
    } else {
        resp_write_array_header(out, (size_t)res->count);
        buf_append(out, rr.events.data, rr.events.len);
    }
    buf_free(&rr.events);
}

static const char *cmd_name(enum codec_group_cmd cmd)
{
    static const char *const names[] = {"CREATE", "DESTROY", "INFO",   "LIST", "READ",       "ACK",
                                        "NACK",   "PENDING", "PARKED", "REPLAY", "SEEK", "DELCONSUMER"};
    return (size_t)cmd < sizeof names / sizeof names[0] ? names[cmd] : "?";
}

static void render_result(struct groups *gs, struct group_request *r, const struct store_group_result *res)
{
    struct buf *out = &r->slot->out;
    const char *g = r->q.group;
    char id[ULID_STR_LEN + 1];
    switch (res->status) {
    case STORE_GROUP_OK:
        break;
    case STORE_GROUP_ENOGROUP:
        resp_write_errorf(out, "NOGROUP no group named \"%s\"", g);
        return;
    case STORE_GROUP_EEXISTS:
        resp_write_errorf(out, "EXISTS a group named \"%s\" exists already", g);
        return;
    case STORE_GROUP_ENOTDELIVERED:
        ulid_format(res->bad_id, id);
        resp_write_errorf(out, "NOTDELIVERED event %s was never delivered by group \"%s\"; nothing was acked", id,
                          g);
        return;
    case STORE_GROUP_ENOTPENDING:
        ulid_format(res->bad_id, id);
        resp_write_errorf(out, "NOTPENDING event %s is not pending in group \"%s\"; nothing was changed", id, g);
        return;
    case STORE_GROUP_ENOCONSUMER:
        resp_write_errorf(out, "NOCONSUMER group \"%s\" has no consumer named \"%s\"", g, r->q.consumer);
        return;
    case STORE_GROUP_EHOLDING:
        resp_write_errorf(out,
                          "HOLDING consumer \"%s\" holds %" PRIu64 " pending events of group \"%s\"; nothing was "
                          "deleted (they go to others as their ack wait runs out, or by NACK)",
                          r->q.consumer, res->count, g);
        return;
    default:
        if (r->q.cmd == CODEC_GROUP_SEEK)
            resp_write_errorf(out, "invalid 'to': group \"%s\" takes %s", g,
                              "a version for a stream's group, an event id for the global log's");
        else
            resp_write_errorf(out, "IOERR the state machine refused GROUP %s (see the server log)",
                              cmd_name(r->q.cmd));
        return;
    }
    switch (r->q.cmd) {
    case CODEC_GROUP_READ:
        render_read(gs, res, out);
        break;
    case CODEC_GROUP_ACK:
    case CODEC_GROUP_NACK:
    case CODEC_GROUP_REPLAY:
        resp_write_int(out, (int64_t)res->count);
        break;
    default:
        resp_write_simple(out, "OK");
        break;
    }
}

/* ---- the turn's entry ----------------------------------------------------------------- */

static void groups_release(struct groups *gs)
{
    if (gs->closing && gs->in_flight == 0 && gs->timer_closed) {
        free(gs->queue);
        free(gs);
    }
}

static void batch_applied(struct node_proposal *np, const struct store_outcome *o)
{
    struct group_batch *b = np->data;
    bool ok = o->status == STORE_GROUPS_APPLIED && o->n_groups == b->n;
    for (size_t i = 0; i < b->n; i++) {
        struct group_request *r = b->reqs[i];
        if (b->gs->closing) {
            resp_write_error(&r->slot->out, "SHUTDOWN the server is shutting down");
            continue;
        }
        if (!ok) {
            resp_write_error(&r->slot->out, "IOERR the state machine rejected the entry (see the server log)");
            continue;
        }
        const struct store_group_result *res = &o->groups[i];
        /* An empty READ that may block waits instead of answering. */
        r->wait = r->q.cmd == CODEC_GROUP_READ && res->status == STORE_GROUP_OK && res->count == 0 &&
                  r->q.block_ms > 0;
        if (!r->wait)
            render_result(b->gs, r, res);
    }
}

static void wait_add(struct groups *gs, struct group_request *r);

static void batch_done(struct node_proposal *np, int status, const char *why)
{
    struct group_batch *b = np->data;
    for (size_t i = 0; i < b->n; i++) {
        struct group_request *r = b->reqs[i];
        struct buf *out = &r->slot->out;
        if (status == 0 && np->was_applied) {
            if (r->wait && b->gs->closing) {
                resp_write_error(out, "SHUTDOWN the server is shutting down");
            } else if (r->wait) {
                wait_add(b->gs, r);
                continue;
            }
        } else if (status == 0 || status == NODE_EUNKNOWN) {
            /* A READ's events may have been handed out: they are redelivered
             * after the ack wait. An ACK may have taken effect: acking
             * again is harmless. */
            resp_write_errorf(out, "UNKNOWN outcome unknown: leadership was lost before GROUP %s committed; "
                                   "retry it",
                              cmd_name(r->q.cmd));
        } else {
            resp_write_errorf(out, "IOERR raft: %s", why != NULL ? why : "the entry failed");
        }
        req_finish(r);
    }
    struct groups *gs = b->gs;
    free(b->reqs);
    free(b);
    gs->in_flight--;
    groups_release(gs);
}

/* Propose the queued operations as one entry. */
static void propose_queue(struct groups *gs)
{
    if (gs->n_queue == 0)
        return;
    struct group_batch *b = xcalloc(1, sizeof *b);
    b->gs = gs;
    b->n = gs->n_queue;
    b->reqs = gs->queue;
    gs->queue = NULL;
    gs->n_queue = gs->cap_queue = 0;
    b->np.data = b;
    b->np.applied = batch_applied;
    b->np.done = batch_done;
    Eventflow__GroupOp **ops = xcalloc(b->n, sizeof *ops);
    for (size_t i = 0; i < b->n; i++)
        ops[i] = &b->reqs[i]->op;
    Eventflow__GroupOps entry = EVENTFLOW__GROUP_OPS__INIT;
    entry.n_ops = b->n;
    entry.ops = ops;
    int rc = node_propose_groups(gs_node(gs), &entry, &b->np);
    free(ops);
    if (rc == 0) {
        gs->in_flight++;
        return;
    }
    for (size_t i = 0; i < b->n; i++) {
        struct group_request *r = b->reqs[i];
        commands_write_refusal(r->conn, &r->slot->out, rc);
        req_finish(r);
    }
    free(b->reqs);
    free(b);
}

/* ---- waiting READs -------------------------------------------------------------------- */

static void wait_add(struct groups *gs, struct group_request *r)
{
    r->wait = false;
    r->next = gs->waiting;
    gs->waiting = r;
    gs->n_waiting++;
    /* Check it at this turn's end: events may have come since its read
     * was proposed. */
    gs->recheck = true;
}

static void on_timer(uv_timer_t *t)
{
    struct groups *gs = t->data;
    gs->recheck = true;
    /* The turn's end comes right after this callback: it does the work. */
}

/* Decide, for each waiting READ, whether to propose it again, answer it,
 * or keep it waiting; arm the timer for the earliest of what remains. */
static void wait_check(struct groups *gs)
{
    struct node *n = gs_node(gs);
    uint64_t applied = store_applied_index(node_store(n));
    if (gs->waiting == NULL || (!gs->recheck && applied == gs->checked_index))
        return;
    gs->recheck = false;
    gs->checked_index = applied;
    uint64_t now = uv_now(gs->srv->loop);
    int64_t group_now = node_group_now(n);
    uint64_t next_ms = UINT64_MAX;
    struct group_request **link = &gs->waiting;
    while (*link != NULL) {
        struct group_request *r = *link;
        bool ready = false, answer = false;
        int64_t wake = 0;
        if (r->conn->closing) {
            answer = true; /* the reply is dropped */
        } else if (!node_is_leader(n)) {
            commands_write_refusal(r->conn, &r->slot->out, NODE_ENOTLEADER);
            answer = true;
        } else {
            int rc = store_group_ready(node_store(n), r->q.group, strlen(r->q.group), group_now, &ready, &wake);
            /* A group destroyed meanwhile: the READ's proposal says so. */
            if (rc == STORE_ENOENT)
                ready = true;
            else if (rc != 0)
                log_warn("GROUP READ of %s: %s", r->q.group, store_errmsg(node_store(n)));
            if (!ready && now >= r->give_up_ms) {
                resp_write_array_header(&r->slot->out, 0);
                answer = true;
            }
        }
        if (answer || ready) {
            *link = r->next;
            gs->n_waiting--;
            r->next = NULL;
            if (answer)
                req_finish(r);
            else
                queue_push(gs, r);
            continue;
        }
        if (r->give_up_ms < next_ms)
            next_ms = r->give_up_ms;
        if (wake > 0) {
            uint64_t at = now + (uint64_t)(wake - group_now);
            if (at < next_ms)
                next_ms = at;
        }
        link = &r->next;
    }
    if (next_ms != UINT64_MAX)
        uv_timer_start(&gs->timer, on_timer, next_ms > now ? next_ms - now : 0, 0);
    else
        uv_timer_stop(&gs->timer);
}

void groups_turn_end(struct groups *gs)
{
    wait_check(gs);
    propose_queue(gs);
}

/* ---- reading a group (any node) --------------------------------------------------------- */

static int64_t idle_ms(int64_t now, int64_t since)
{
    return since > 0 && now > since ? now - since : 0;
}

struct info_render {
    struct buf *b;
    int64_t now;
    bool full; /* INFO: with its consumers */
    size_t n_items; /* consumers (INFO), entries (PENDING, PARKED) */
};

static void render_group(struct buf *b, const char *name, size_t len, const Eventflow__GroupRecord *g, uint64_t lag)
{
    const Eventflow__GroupCreate *spec = g->spec;
    buf_append_char(b, '{');
    json_key_string(b, "group", name, len);
    if (spec->all) {
        buf_append_str(b, ",\"all\":true");
        if (spec->stream_prefix[0] != '\0') {
            buf_append_char(b, ',');
            json_key_string(b, "stream_prefix", spec->stream_prefix, strlen(spec->stream_prefix));
        }
    } else {
        buf_append_char(b, ',');
        json_key_string(b, "stream", spec->stream, strlen(spec->stream));
    }
    if (spec->n_types > 0) {
        buf_append_str(b, ",\"types\":[");
        for (size_t i = 0; i < spec->n_types; i++) {
            if (i > 0)
                buf_append_char(b, ',');
            codec_write_json_string(b, spec->types[i], strlen(spec->types[i]));
        }
        buf_append_char(b, ']');
    }
    buf_printf(b, ",\"ack_wait_ms\":%" PRIu32 ",\"max_deliveries\":%" PRIu32 ",\"max_ack_pending\":%" PRIu32 ",",
               spec->ack_wait_ms, spec->max_deliveries, spec->max_ack_pending);
    json_time_ms(b, "created_at", g->created_at_ms);
    if (spec->all) {
        static const uint8_t zero[ULID_BYTES];
        if (g->last_id.len == ULID_BYTES && memcmp(g->last_id.data, zero, ULID_BYTES) != 0) {
            buf_append_char(b, ',');
            json_id(b, "after_id", g->last_id.data);
        } else {
            buf_append_str(b, ",\"after_id\":null");
        }
        buf_printf(b, ",\"position\":%" PRIu64, g->last_position);
    } else {
        buf_printf(b, ",\"next_version\":%" PRIu64, g->next_version);
    }
    buf_printf(b,
               ",\"lag\":%" PRIu64 ",\"pending\":%" PRIu64 ",\"parked\":%" PRIu64 ",\"delivered\":%" PRIu64
               ",\"acked\":%" PRIu64,
               lag, g->pending, g->parked, g->delivered, g->acked);
}

static int info_group(void *arg, const char *name, size_t len, const Eventflow__GroupRecord *g, uint64_t lag)
{
    struct info_render *ir = arg;
    if (!ir->full) {
        size_t off = resp_bulk_begin(ir->b);
        render_group(ir->b, name, len, g, lag);
        buf_append_char(ir->b, '}');
        resp_bulk_end(ir->b, off);
        return 0;
    }
    render_group(ir->b, name, len, g, lag);
    buf_append_str(ir->b, ",\"consumers\":[");
    return 0;
}

static int info_consumer(void *arg, const char *name, size_t len, const Eventflow__ConsumerRecord *c)
{
    struct info_render *ir = arg;
    struct buf *b = ir->b;
    if (ir->n_items++ > 0)
        buf_append_char(b, ',');
    buf_append_char(b, '{');
    json_key_string(b, "name", name, len);
    buf_printf(b, ",\"pending\":%" PRIu64 ",\"delivered\":%" PRIu64 ",\"acked\":%" PRIu64 ",", c->pending,
               c->delivered, c->acked);
    json_time_ms(b, "last_seen", c->last_seen_ms);
    buf_printf(b, ",\"idle_ms\":%" PRId64 "}", idle_ms(ir->now, c->last_seen_ms));
    return 0;
}

static int render_pending(void *arg, const uint8_t id[ULID_BYTES], const Eventflow__PendingRecord *p)
{
    struct info_render *ir = arg;
    size_t off = resp_bulk_begin(ir->b);
    struct buf *b = ir->b;
    buf_append_char(b, '{');
    json_id(b, "id", id);
    if (p->consumer[0] != '\0') {
        buf_append_char(b, ',');
        json_key_string(b, "consumer", p->consumer, strlen(p->consumer));
    } else {
        buf_append_str(b, ",\"consumer\":null");
    }
    buf_printf(b, ",\"deliveries\":%" PRIu32 ",", p->deliveries);
    if (p->delivered_at_ms > 0) {
        json_time_ms(b, "delivered_at", p->delivered_at_ms);
        buf_append_char(b, ',');
    }
    if (p->deadline_ms > 0)
        json_time_ms(b, "deadline", p->deadline_ms);
    else
        buf_append_str(b, "\"deadline\":null");
    buf_printf(b, ",\"idle_ms\":%" PRId64 "}", idle_ms(ir->now, p->delivered_at_ms));
    resp_bulk_end(b, off);
    ir->n_items++;
    return 0;
}

static int render_parked(void *arg, const uint8_t id[ULID_BYTES], const Eventflow__ParkedRecord *p)
{
    struct info_render *ir = arg;
    size_t off = resp_bulk_begin(ir->b);
    struct buf *b = ir->b;
    buf_append_char(b, '{');
    json_id(b, "id", id);
    buf_append_char(b, ',');
    json_key_string(b, "consumer", p->consumer, strlen(p->consumer));
    buf_printf(b, ",\"deliveries\":%" PRIu32 ",", p->deliveries);
    json_time_ms(b, "parked_at", p->parked_at_ms);
    buf_append_char(b, ',');
    json_key_string(b, "reason", p->reason, strlen(p->reason));
    buf_append_char(b, '}');
    resp_bulk_end(b, off);
    ir->n_items++;
    return 0;
}

/* INFO, LIST, PENDING and PARKED, from this node's store. Lists are
 * rendered aside: their length is known once walked. */
static void group_read_state(struct conn *c, const struct codec_group *q)
{
    struct node *n = c->srv->node;
    struct buf *out = conn_reply_buf(c);
    if (!reads_local_ready(n, out, false))
        return;
    struct store *s = node_store(n);
    struct buf items;
    buf_init(&items);
    struct info_render ir = {.b = &items, .now = node_group_now(n), .full = q->cmd == CODEC_GROUP_INFO};
    struct store_group_visitor v = {.arg = &ir,
                                    .group = info_group,
                                    .consumer = info_consumer,
                                    .pending = render_pending,
                                    .parked = render_parked};
    uint8_t after[ULID_BYTES];
    const uint8_t *afterp = q->has_after ? memcpy(after, q->after, ULID_BYTES) : NULL;
    size_t glen = q->group != NULL ? strlen(q->group) : 0;
    int rc;
    switch (q->cmd) {
    case CODEC_GROUP_INFO:
        rc = store_group_info(s, q->group, glen, &v);
        break;
    case CODEC_GROUP_LIST:
        rc = store_group_list(s, &v);
        break;
    case CODEC_GROUP_PENDING:
        rc = store_group_pending(s, q->group, glen, q->consumer, afterp, q->count, &v);
        break;
    default:
        rc = store_group_parked(s, q->group, glen, afterp, q->count, &v);
        break;
    }
    if (rc == STORE_ENOENT) {
        resp_write_errorf(out, "NOGROUP no group named \"%s\"", q->group);
    } else if (rc != 0) {
        resp_write_errorf(out, "IOERR %s", store_errmsg(s));
    } else if (q->cmd == CODEC_GROUP_INFO) {
        buf_append_str(&items, "]}");
        resp_write_bulk(out, items.data, items.len);
    } else if (q->cmd == CODEC_GROUP_LIST) {
        struct store_stats st;
        resp_write_array_header(out, store_stats(s, &st) == 0 ? (size_t)st.group_count : 0);
        buf_append(out, items.data, items.len);
    } else {
        resp_write_array_header(out, ir.n_items);
        buf_append(out, items.data, items.len);
    }
    buf_free(&items);
}

/* ---- the command ------------------------------------------------------------------------ */

bool groups_command_is_write(const struct resp_command *cmd)
{
    if (cmd->argc < 2)
        return false;
    int sub = codec_group_lookup(cmd->argv[1].ptr, cmd->argv[1].len);
    return sub >= 0 && codec_group_is_write((enum codec_group_cmd)sub);
}

/* The group's spec, copied out of the read arena: what its rights are
 * about. */
struct group_scope {
    bool found, all;
    char *stream; /* owned */
};

static int scope_group(void *arg, const char *name, size_t len, const Eventflow__GroupRecord *g, uint64_t lag)
{
    struct group_scope *sc = arg;
    (void)name, (void)len, (void)lag;
    sc->found = true;
    sc->all = g->spec->all;
    sc->stream = xstrdup(g->spec->stream != NULL ? g->spec->stream : "");
    return 1; /* stop: the consumers are not needed */
}

/* ACLs (acl_conn.h): creating, destroying, moving a group, replaying its
 * parked events and deleting its consumers are admin operations; the others read the group's
 * stream (a global group's: the global log); LIST reads the global log. A
 * group that does not exist is left to the handler's answer. */
static bool group_permitted(struct conn *c, const struct codec_group *q)
{
    if (c->acl == NULL)
        return true;
    switch (q->cmd) {
    case CODEC_GROUP_CREATE:
    case CODEC_GROUP_DESTROY:
    case CODEC_GROUP_SEEK:
    case CODEC_GROUP_REPLAY:
    case CODEC_GROUP_DELCONSUMER:
        return acl_conn_admin(c, "GROUP CREATE, DESTROY, SEEK, REPLAY and DELCONSUMER");
    case CODEC_GROUP_LIST:
        return acl_conn_all(c, "GROUP LIST");
    default:
        break;
    }
    struct group_scope sc = {0};
    struct store_group_visitor v = {.arg = &sc, .group = scope_group};
    (void)store_group_info(node_store(c->srv->node), q->group, strlen(q->group), &v);
    bool ok = !sc.found || (sc.all ? acl_conn_all(c, "a group over the global log")
                                   : acl_conn_stream(c, ACL_READ, sc.stream, strlen(sc.stream)));
    free(sc.stream);
    return ok;
}

void groups_command(struct conn *c, const struct resp_command *cmd)
{
    int sub = cmd->argc >= 2 ? codec_group_lookup(cmd->argv[1].ptr, cmd->argv[1].len) : -1;
    if (sub < 0) {
        resp_write_error(conn_reply_buf(c), "unknown GROUP subcommand: expected CREATE, DESTROY, INFO, LIST, READ, "
                                            "ACK, NACK, PENDING, PARKED, REPLAY, SEEK or DELCONSUMER");
        return;
    }
    if (cmd->argc > 3) {
        resp_write_error(conn_reply_buf(c), "too many arguments: GROUP <subcommand> <argument>");
        return;
    }
    struct codec_group q;
    char err[CODEC_ERR_LEN];
    const char *arg = cmd->argc >= 3 ? cmd->argv[2].ptr : NULL;
    size_t arg_len = cmd->argc >= 3 ? cmd->argv[2].len : 0;
    if (codec_parse_group((enum codec_group_cmd)sub, arg, arg_len, &c->srv->cfg->codec, &q, err) != 0) {
        resp_write_error(conn_reply_buf(c), err);
        return;
    }
    if (!group_permitted(c, &q)) {
        codec_group_free(&q);
        return;
    }
    if (!codec_group_is_write(q.cmd)) {
        group_read_state(c, &q);
        codec_group_free(&q);
        return;
    }
    struct groups *gs = c->srv->groups;
    struct group_request *r = xcalloc(1, sizeof *r);
    r->gs = gs;
    r->conn = c;
    r->q = q;
    r->give_up_ms = uv_now(c->srv->loop) + q.block_ms;
    op_build(r);
    /* A write's slot: later reads on this connection wait for it, later
     * writes go along (conn.h). */
    r->slot = conn_defer(c, true);
    queue_push(gs, r);
}

/* ---- lifecycle -------------------------------------------------------------------------- */

struct groups *groups_new(struct server *srv)
{
    struct groups *gs = xcalloc(1, sizeof *gs);
    gs->srv = srv;
    uv_timer_init(srv->loop, &gs->timer);
    gs->timer.data = gs;
    return gs;
}

static void groups_timer_closed(uv_handle_t *h)
{
    struct groups *gs = h->data;
    gs->timer_closed = true;
    groups_release(gs);
}

void groups_free(struct groups *gs)
{
    if (gs == NULL)
        return;
    gs->closing = true;
    while (gs->waiting != NULL) {
        struct group_request *r = gs->waiting;
        gs->waiting = r->next;
        resp_write_error(&r->slot->out, "SHUTDOWN the server is shutting down");
        req_finish(r);
    }
    for (size_t i = 0; i < gs->n_queue; i++) {
        resp_write_error(&gs->queue[i]->slot->out, "SHUTDOWN the server is shutting down");
        req_finish(gs->queue[i]);
    }
    gs->n_queue = 0;
    uv_timer_stop(&gs->timer);
    uv_close((uv_handle_t *)&gs->timer, groups_timer_closed);
}

size_t groups_waiting(const struct groups *gs)
{
    return gs->n_waiting;
}

void groups_write_status(struct groups *gs, struct buf *b)
{
    buf_printf(b, "\"group_reads_waiting\":%zu,", gs->n_waiting);
}
