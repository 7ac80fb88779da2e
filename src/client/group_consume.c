/* group_consume.c - eventflow_group_consume: the worker loop of a consumer
 * group (eventflow/group.h).
 *
 * One cycle is one round trip on the leader's connection: the ACK of what
 * the handler finished, the NACKs of what it gave back, and the next
 * READ, written together and answered in order (the server puts the
 * group operations of one loop turn into one raft entry, so they also
 * cost one commit). Then the handler runs over the batch and its verdicts
 * wait for the next cycle.
 *
 * Across failures the loop keeps what it must not lose: the ids it has to
 * acknowledge stay queued until an ACK reply confirms them (ACK is safe to
 * resend: an event acked before counts 0). Give-backs are sent once: a
 * NACK resent after its outcome was lost could take back an event another
 * consumer has read since, and a lost one costs only the ack wait. Events
 * of a READ whose reply was lost come back after the ack wait. */
#include <stdlib.h>
#include <string.h>

#include "client/group_wire.h"
#include "client/internal.h"
#include "common/mem.h"

#define CONSUME_DEFAULT_COUNT 10
#define CONSUME_DEFAULT_BLOCK_MS 1000
#define CYCLE_AGAIN 1 /* cycle(): the node failed or is not the leader */

/* Event ids waiting to be sent, oldest first. */
struct id_list {
    char (*ids)[EF_ID_LEN + 1];
    size_t n, cap;
};

static void ids_push(struct id_list *l, const char *id)
{
    if (l->n == l->cap) {
        l->cap = l->cap > 0 ? l->cap * 2 : 64;
        l->ids = xrealloc(l->ids, l->cap * sizeof *l->ids);
    }
    memcpy(l->ids[l->n++], id, EF_ID_LEN + 1);
}

/* Forget the first n (sent and settled). */
static void ids_drop(struct id_list *l, size_t n)
{
    if (n == 0)
        return; /* ids may still be NULL */
    memmove(l->ids, l->ids + n, (l->n - n) * sizeof *l->ids);
    l->n -= n;
}

struct consume {
    struct eventflow_client *c;
    const struct eventflow_consume_options *o;
    eventflow_group_handler handler;
    struct eventflow_consume_stats st;
    struct id_list ack, nack, park;
    const char **ptrs;   /* pointers into an id_list, for the encoders */
    size_t cap_ptrs;
    struct buf read_arg; /* READ's argument: the same every cycle */
    struct buf args[3];  /* ACK, NACK, NACK with park */
    unsigned block_ms;
    bool stop;           /* the handler said EF_GROUP_STOP */
};

/* Pointers to the first n ids of l. */
static const char *const *ids_ptrs(struct consume *k, const struct id_list *l, size_t n)
{
    if (n > k->cap_ptrs) {
        k->cap_ptrs = n;
        k->ptrs = xrealloc(k->ptrs, n * sizeof *k->ptrs);
    }
    for (size_t i = 0; i < n; i++)
        k->ptrs[i] = l->ids[i];
    return k->ptrs;
}

static size_t batch_size(const struct id_list *l)
{
    return l->n < EF_GROUP_IDS_MAX ? l->n : EF_GROUP_IDS_MAX;
}

/* An ACK of the first n ids confirmed. */
static void acks_confirmed(struct consume *k, size_t n)
{
    if (k->o->acked != NULL)
        k->o->acked(k->o->arg, ids_ptrs(k, &k->ack, n), n);
    k->st.acked += n;
    ids_drop(&k->ack, n);
}

/* ---- one cycle ------------------------------------------------------------ */

/* The requests of one cycle, as queued. */
struct cycle_plan {
    size_t n_ack, n_nack, n_park;
};

/* Queue GROUP <sub> <arg> on cn. */
static void queue_group(struct ef_conn *cn, const char *sub, const struct buf *arg)
{
    const char *argv[] = {"GROUP", sub, arg->data};
    const size_t lens[] = {5, strlen(sub), arg->len};
    ef_conn_queue(cn, 3, argv, lens);
}

/* Encode ids l[0..n) into args[slot] and queue it. The ids were checked
 * when they arrived, so encoding cannot fail but for a broken reply. */
static int queue_ids(struct consume *k, struct ef_conn *cn, int slot, const char *sub, struct id_list *l,
                     size_t n, bool park)
{
    char err[EF_ERR_LEN];
    struct buf *arg = &k->args[slot];
    buf_reset(arg);
    int rc = ef_group_json_ids(arg, k->o->group, ids_ptrs(k, l, n), n, park, err);
    if (rc != EF_OK)
        return ef_fail(k->c, EF_EPROTO, "%s: %s", k->o->group, err);
    queue_group(cn, sub, arg);
    return EF_OK;
}

static int queue_cycle(struct consume *k, struct ef_conn *cn, struct cycle_plan *p)
{
    p->n_ack = batch_size(&k->ack);
    p->n_nack = batch_size(&k->nack);
    p->n_park = batch_size(&k->park);
    int rc = EF_OK;
    if (p->n_ack > 0)
        rc = queue_ids(k, cn, 0, "ACK", &k->ack, p->n_ack, false);
    if (rc == EF_OK && p->n_nack > 0)
        rc = queue_ids(k, cn, 1, "NACK", &k->nack, p->n_nack, false);
    if (rc == EF_OK && p->n_park > 0)
        rc = queue_ids(k, cn, 2, "NACK", &k->park, p->n_park, true);
    if (rc != EF_OK)
        return rc;
    /* Give-backs go once, whatever becomes of them (see the top). */
    ids_drop(&k->nack, p->n_nack);
    ids_drop(&k->park, p->n_park);
    queue_group(cn, "READ", &k->read_arg);
    return EF_OK;
}

/* What one reply of the cycle says. */
enum reply_kind {
    REPLY_ACK,
    REPLY_NACK,
    REPLY_READ,
};

/* Read the next reply of the cycle from node i into *v, up to wait_ms.
 * Returns EF_OK with *v the answer (a value, or an error that is the
 * answer), CYCLE_AGAIN when the node failed or is not the leader (the
 * connection is closed: the cycle's other replies are not wanted), or a
 * final code. */
static int cycle_reply(struct consume *k, int i, int wait_ms, unsigned *hops, bool *pause,
                       struct resp_value *v)
{
    struct eventflow_client *c = k->c;
    char moved[EF_ADDR_MAX];
    enum ef_reply_class cls;
    if (ef_node_read_reply(c, i, ef_now_ms() + wait_ms, v, &cls, moved) != EF_IO_REPLY) {
        *pause = true;
        return CYCLE_AGAIN;
    }
    if (cls == EF_REPLY_OK || cls == EF_REPLY_FINAL)
        return EF_OK;
    ef_conn_close(&c->nodes[i].conn);
    ef_view_note_reply(c, i, cls, moved, EF_ROUTE_LEADER, hops, pause);
    return CYCLE_AGAIN;
}

/* A final error reply to a NACK: the event is no longer pending (acked,
 * or read by another consumer since) and that is no failure; a missing
 * group is. Returns EF_OK or the code to stop with. */
static int nack_answer(struct consume *k, const struct resp_value *v, size_t n)
{
    if (v->type != RESP_T_ERROR) {
        k->st.nacked += n;
        return EF_OK;
    }
    int rc = ef_reply_error_code(v->str);
    return rc == EF_EINVAL ? EF_OK : ef_reply_fail(k->c, v);
}

/* Hand a batch to the handler and queue its verdicts. */
static void handle_batch(struct consume *k, const struct eventflow_group_batch *b)
{
    if (b->n == 0) {
        k->stop = k->handler(k->o->arg, NULL) == EF_GROUP_STOP;
        return;
    }
    for (size_t j = 0; j < b->n; j++) {
        const struct eventflow_group_event *ev = &b->events[j];
        enum eventflow_group_verdict verdict = k->handler(k->o->arg, ev);
        k->st.handled++;
        if (verdict == EF_GROUP_STOP) {
            /* This event and the rest go back to the group at once. */
            for (size_t r = j; r < b->n; r++)
                ids_push(&k->nack, b->events[r].event.id);
            k->stop = true;
            return;
        }
        ids_push(verdict == EF_GROUP_ACK ? &k->ack : verdict == EF_GROUP_PARK ? &k->park : &k->nack, ev->event.id);
    }
}

/* One cycle on node i, whose connection is open. Returns EF_OK, or
 * CYCLE_AGAIN (*pause: back off first), or a final code. */
static int cycle(struct consume *k, int i, unsigned *hops, bool *pause)
{
    struct eventflow_client *c = k->c;
    struct ef_conn *cn = &c->nodes[i].conn;
    struct cycle_plan p;
    int rc = queue_cycle(k, cn, &p);
    if (rc != EF_OK)
        return rc;
    char why[200];
    if (ef_conn_flush(cn, ef_now_ms() + c->request_timeout_ms, why, sizeof why) != 0) {
        ef_fail(c, EF_EUNAVAILABLE, "%s: %s", c->nodes[i].ep.addr, why);
        ef_node_failed(c, i);
        *pause = true;
        return CYCLE_AGAIN;
    }
    struct resp_value v;
    if (p.n_ack > 0) {
        if ((rc = cycle_reply(k, i, c->request_timeout_ms, hops, pause, &v)) != EF_OK)
            return rc;
        rc = v.type == RESP_T_INT ? EF_OK : v.type == RESP_T_ERROR ? ef_reply_fail(c, &v) : EF_EPROTO;
        resp_value_free(&v);
        if (rc != EF_OK) {
            ef_conn_close(&c->nodes[i].conn);
            return rc == EF_EPROTO ? ef_fail(c, rc, "%s: GROUP ACK: not a count", c->last_node) : rc;
        }
        acks_confirmed(k, p.n_ack);
    }
    size_t nacks[2] = {p.n_nack, p.n_park};
    for (int j = 0; j < 2; j++) {
        if (nacks[j] == 0)
            continue;
        if ((rc = cycle_reply(k, i, c->request_timeout_ms, hops, pause, &v)) != EF_OK)
            return rc;
        rc = nack_answer(k, &v, nacks[j]);
        resp_value_free(&v);
        if (rc != EF_OK) {
            ef_conn_close(&c->nodes[i].conn);
            return rc;
        }
    }
    if ((rc = cycle_reply(k, i, (int)k->block_ms + c->request_timeout_ms, hops, pause, &v)) != EF_OK)
        return rc;
    struct eventflow_group_batch b;
    char err[EF_ERR_LEN];
    if (v.type == RESP_T_ERROR)
        rc = ef_reply_fail(c, &v);
    else
        rc = ef_decoded(c, ef_group_batch_read(&v, &b, err), "GROUP READ", err);
    resp_value_free(&v);
    if (rc != EF_OK)
        return rc;
    k->st.reads++;
    handle_batch(k, &b);
    eventflow_group_batch_free(&b);
    return EF_OK;
}

/* ---- the loop -------------------------------------------------------------- */

/* The handler asked to stop: settle what it handled through the client's
 * own retries, then give back what it did not. */
static int consume_finish(struct consume *k)
{
    int rc = EF_OK;
    while (rc == EF_OK && k->ack.n > 0) {
        size_t n = batch_size(&k->ack);
        rc = eventflow_group_ack(k->c, k->o->group, ids_ptrs(k, &k->ack, n), n, NULL);
        if (rc == EF_OK)
            acks_confirmed(k, n);
    }
    struct id_list *back[2] = {&k->park, &k->nack};
    for (int j = 0; j < 2 && rc == EF_OK; j++) {
        while (back[j]->n > 0) {
            size_t n = batch_size(back[j]);
            int nrc = eventflow_group_nack(k->c, k->o->group, ids_ptrs(k, back[j], n), n, j == 0, NULL);
            /* A give-back that fails costs only the ack wait. */
            if (nrc == EF_OK)
                k->st.nacked += n;
            ids_drop(back[j], n);
        }
    }
    return rc;
}

static int consume_check(struct eventflow_client *c, const struct eventflow_consume_options *o,
                         eventflow_group_handler handler, struct buf *read_arg, unsigned *block_ms)
{
    if (o == NULL || handler == NULL)
        return ef_fail(c, EF_EINVAL, "group consume needs options and a handler");
    *block_ms = o->block_ms > 0 ? o->block_ms : CONSUME_DEFAULT_BLOCK_MS;
    char err[EF_ERR_LEN];
    int rc = ef_group_json_read(read_arg, o->group, o->consumer, o->count > 0 ? o->count : CONSUME_DEFAULT_COUNT,
                                *block_ms, err);
    return rc == EF_OK ? EF_OK : ef_fail(c, rc, "group consume: %s", err);
}

static void consume_free(struct consume *k)
{
    free(k->ack.ids);
    free(k->nack.ids);
    free(k->park.ids);
    free(k->ptrs);
    buf_free(&k->read_arg);
    for (int j = 0; j < 3; j++)
        buf_free(&k->args[j]);
}

int eventflow_group_consume(struct eventflow_client *c, const struct eventflow_consume_options *opts,
                            eventflow_group_handler handler, struct eventflow_consume_stats *stats)
{
    struct consume k = {.c = c, .o = opts, .handler = handler};
    buf_init(&k.read_arg);
    for (int j = 0; j < 3; j++)
        buf_init(&k.args[j]);
    c->err[0] = '\0';
    int rc = consume_check(c, opts, handler, &k.read_arg, &k.block_ms);
    int64_t trouble_since = 0; /* the first failed cycle in a row, 0: none */
    unsigned backoffs = 0, hops = 0;
    c->call_no++;
    while (rc == EF_OK && !k.stop) {
        int64_t now = ef_now_ms();
        int64_t deadline = (trouble_since > 0 ? trouble_since : now) + c->retry_deadline_ms;
        bool pause = true;
        int i = ef_route(c, EF_ROUTE_LEADER, deadline);
        int r = i >= 0 ? ef_node_connect(c, i, deadline, false) : i;
        if (r == EF_OK)
            r = cycle(&k, i, &hops, &pause);
        if (r == EF_OK) {
            k.st.reconnects += trouble_since > 0;
            trouble_since = 0;
            backoffs = hops = 0;
            continue;
        }
        if (r != CYCLE_AGAIN && r != EF_EUNAVAILABLE) {
            rc = r;
            break;
        }
        now = ef_now_ms();
        if (trouble_since == 0)
            trouble_since = now;
        if (now >= deadline) {
            char cause[sizeof c->err];
            rc = ef_fail(c, EF_EUNAVAILABLE, "no leader served group \"%s\" for %d ms (last: %s)", opts->group,
                         c->retry_deadline_ms, ef_error_cause(c->err, cause, sizeof cause));
            break;
        }
        if (pause) {
            hops = 0;
            int ms = ef_backoff_ms(++backoffs, EF_BACKOFF_BASE_MS, EF_BACKOFF_CAP_MS, ef_rng_next(&c->rng));
            int64_t left = deadline - now;
            ef_sleep_ms(ms < left ? ms : (int)left);
            c->call_no++; /* a new round: nodes that failed may be tried again */
        }
    }
    if (rc == EF_OK && k.stop)
        rc = consume_finish(&k);
    if (stats != NULL)
        *stats = k.st;
    consume_free(&k);
    return rc;
}
