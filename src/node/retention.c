/* retention.c - the leader's retention work (see retention.h). */
#include "node/retention.h"

#include <string.h>

#include "common/log.h"
#include "node/node_internal.h"
#include "store/store.h"

static bool retention_may_propose(const struct retention *r)
{
    struct node *n = r->node;
    return r->open && !r->inflight && !n->closing && n->handover == NULL && n->ready &&
           raft_state(&n->raft) == RAFT_LEADER;
}

static void retention_paced(uv_timer_t *t)
{
    retention_kick(t->data);
}

static void retention_done(void *data, int status, const char *why)
{
    struct retention *r = data;
    r->inflight = false;
    if (status != 0) {
        /* Lost leadership or shutting down: the next leader's walk finds
         * whatever this entry did not do. */
        log_debug("retention entry: %s", why != NULL ? why : "failed");
        return;
    }
    if (r->last_reclaim && r->open) {
        uint64_t took = uv_now(r->node->loop) - r->proposed_at;
        uint64_t pause = 2 * took;
        pause = pause < RETENTION_PAUSE_MS ? RETENTION_PAUSE_MS : pause > RETENTION_PAUSE_MAX_MS ? RETENTION_PAUSE_MAX_MS : pause;
        if (uv_timer_start(&r->pace, retention_paced, pause, 0) == 0)
            return;
    }
    retention_kick(r);
}

void retention_kick(struct retention *r)
{
    if (!retention_may_propose(r))
        return;
    struct node *n = r->node;
    Eventflow__StreamOp op;
    Eventflow__StreamReclaim reclaim;
    Eventflow__StreamExpire expire;
    char name[sizeof r->last];
    bool found, more;
    int rc = store_stream_work(n->store, node_realtime_ns(), RETENTION_BATCH, RETENTION_VISITS, r->last, name,
                               sizeof name, &op, &reclaim, &expire, &found, &more);
    if (rc != 0) {
        log_warn("retention: %s", store_errmsg(n->store));
        return;
    }
    if (!found) {
        /* Many streams to look at: go on shortly, after the last one seen. */
        if (more) {
            memcpy(r->last, name, strlen(name) + 1);
            (void)uv_timer_start(&r->pace, retention_paced, RETENTION_STEP_MS, 0);
        }
        return;
    }
    Eventflow__Entry entry = EVENTFLOW__ENTRY__INIT;
    entry.command_case = EVENTFLOW__ENTRY__COMMAND_STREAM;
    entry.stream = &op;
    r->inflight = true;
    r->last_reclaim = op.op_case == EVENTFLOW__STREAM_OP__OP_RECLAIM;
    r->proposed_at = uv_now(n->loop);
    if (node_propose_entry(n, &entry, retention_done, r) != 0) {
        r->inflight = false;
        return;
    }
    /* Reclaim stays on one stream until done; expiry moves on, so that
     * every stream's age is looked at in turn. */
    if (op.op_case == EVENTFLOW__STREAM_OP__OP_EXPIRE)
        memcpy(r->last, name, strlen(name) + 1);
    r->entries++;
}

static void retention_tick(uv_timer_t *t)
{
    retention_kick(t->data);
}

int retention_start(struct retention *r, struct node *n)
{
    memset(r, 0, sizeof *r);
    r->node = n;
    int rv = uv_timer_init(n->loop, &r->timer);
    if (rv != 0)
        return rv;
    r->timer.data = r;
    if ((rv = uv_timer_init(n->loop, &r->pace)) != 0) {
        uv_close((uv_handle_t *)&r->timer, NULL);
        return rv;
    }
    r->pace.data = r;
    r->open = true;
    return uv_timer_start(&r->timer, retention_tick, RETENTION_TICK_MS, RETENTION_TICK_MS);
}

void retention_close(struct retention *r)
{
    if (!r->open)
        return;
    r->open = false;
    uv_timer_stop(&r->timer);
    uv_timer_stop(&r->pace);
    uv_close((uv_handle_t *)&r->timer, NULL);
    uv_close((uv_handle_t *)&r->pace, NULL);
}
