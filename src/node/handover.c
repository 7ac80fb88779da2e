/* handover.c - a leader's last act before an orderly stop: leadership to
 * the most caught-up other voter (node_handover, node.h).
 *
 * Why: a leader that simply exits leaves the cluster without one until a
 * follower's election timer runs out (one to two election timeouts, 1-2 s
 * by default), and every write waits that long: a rolling restart would
 * pause writes three times. Handed over, the pause is a round trip and an
 * election that cannot lose: raft's TimeoutNow makes the chosen follower
 * campaign at once, and this node, still up, votes for it.
 *
 * The steps:
 *   1. stop proposing: from the call on, writes are refused with
 *      NODE_EHANDOVER, which clients retry (server: -TRYAGAIN);
 *   2. let the writes in flight finish, so that their clients get their
 *      answers instead of "outcome unknown" once leadership moves (bounded
 *      by HANDOVER_DRAIN_MS: a write without a quorum never finishes);
 *   3. raft_transfer to the voter in contact with the highest match index
 *      (contact: it answered the leader's room poll lately). raft's own
 *      pick (id 0) is the first up-to-date voter in configuration order
 *      and, failing that, the last voter listed, which may be a member that
 *      is down; raft ends the transfer after an election timeout if
 *      leadership has not moved by then;
 *   4. done(data), whatever the outcome (logged): the caller stops the node.
 *      A target that is down costs an election timeout and a quarter
 *      second, no more.
 *
 * Step 2 is checked each loop turn (node_handover_turn, from
 * node_watch_role) and by a timer for the bound. */
#include "node/node_internal.h"

#include <inttypes.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/mem.h"

/* How long the writes in flight may take to finish before leadership is
 * handed over regardless (their clients then hear "outcome unknown"). */
#define HANDOVER_DRAIN_MS 500
/* How long past raft's own bound on a transfer (an election timeout) this
 * node waits to learn of the new leader. */
#define HANDOVER_SLACK_MS 250

struct node_handover {
    struct node *node;
    void (*done)(void *data); /* NULL once called */
    void *data;
    uv_timer_t timer;       /* the bound of the step under way */
    bool timer_open;
    bool transferring;      /* step 3 under way */
    bool transfer_pending;  /* raft holds our transfer request */
    uint64_t target;        /* the voter chosen */
    uint64_t started_ms;    /* uv_now at node_handover, for the log */
};

/* A voter that has not answered the leader's room poll (space.c, twice a
 * second) for this long is taken for down or cut off: handing leadership
 * to it would only wait out raft's election timeout. */
#define HANDOVER_CONTACT_MS 1200

/* The other voter in recent contact with the highest match index (0:
 * none). */
static uint64_t handover_target(struct node *n)
{
    const struct raft_configuration *conf = &n->raft.configuration;
    uint64_t best = 0;
    raft_index best_match = 0;
    for (unsigned i = 0; i < conf->n; i++) {
        const struct raft_server *s = &conf->servers[i];
        raft_index match = 0;
        if (s->id == n->cfg->id || s->role != RAFT_VOTER || raft_match_index(&n->raft, s->id, &match) != 0 ||
            !space_answered_within(&n->space, s->id, HANDOVER_CONTACT_MS))
            continue;
        if (best == 0 || match > best_match) {
            best = s->id;
            best_match = match;
        }
    }
    return best;
}

/* Freed once neither libuv (the timer) nor raft (a transfer request: raft
 * 0.22 keeps one whose leader stepped down until it learns of a new
 * leader, or until raft_close) refers to it. */
static void handover_maybe_free(struct node_handover *h)
{
    if (!h->timer_open && !h->transfer_pending && h->done == NULL)
        free(h);
}

static void handover_timer_closed(uv_handle_t *t)
{
    struct node_handover *h = t->data;
    h->timer_open = false;
    handover_maybe_free(h);
}

/* Step 4: tell the caller (once). */
static void handover_finish(struct node_handover *h)
{
    if (h->done == NULL)
        return;
    void (*done)(void *) = h->done;
    h->done = NULL;
    h->node->handover = NULL;
    uv_close((uv_handle_t *)&h->timer, handover_timer_closed);
    done(h->data);
}

static void handover_transferred(void *data, int status, const char *why)
{
    struct node_handover *h = data;
    h->transfer_pending = false;
    if (h->done != NULL) {
        uint64_t took = uv_now(h->node->loop) - h->started_ms;
        if (status == 0)
            log_info("handed leadership to node %" PRIu64 " before stopping (%" PRIu64 " ms)", h->target, took);
        else
            log_warn("leadership did not move to node %" PRIu64 " (%s); stopping anyway", h->target,
                     why != NULL ? why : "no new leader within an election timeout");
        handover_finish(h);
    }
    handover_maybe_free(h);
}

static void handover_transfer_expired(uv_timer_t *t)
{
    struct node_handover *h = t->data;
    log_warn("no new leader %" PRIu64 " ms after handing leadership to node %" PRIu64 "; stopping anyway",
             uv_now(h->node->loop) - h->started_ms, h->target);
    handover_finish(h);
}

/* Step 3. Bounded by raft itself while this node leads (an election
 * timeout); once it has stepped down (it lost its quorum meanwhile), raft
 * 0.22 waits for news of a new leader however long that takes, hence the
 * timer: a TimeoutNow election takes milliseconds, not an extra quarter
 * second. */
static void handover_transfer(struct node_handover *h)
{
    struct node *n = h->node;
    h->transferring = true;
    uv_timer_stop(&h->timer);
    h->target = handover_target(n);
    int rc = h->target != 0 && raft_state(&n->raft) == RAFT_LEADER
                 ? node_transfer_leadership(n, h->target, handover_transferred, h)
                 : NODE_ENOTLEADER;
    if (rc != 0) {
        log_info("no leadership to hand over (%s); stopping",
                 h->target == 0              ? "no other voter in contact"
                 : rc == NODE_ENOTLEADER     ? "not leader"
                 : rc == NODE_EUNKNOWN       ? "not leader, or a transfer already under way"
                                             : "raft refused the transfer");
        handover_finish(h);
        return;
    }
    h->transfer_pending = true;
    if (uv_timer_start(&h->timer, handover_transfer_expired, (uint64_t)n->cfg->election_timeout_ms + HANDOVER_SLACK_MS, 0) != 0)
        handover_finish(h);
}

static void handover_drain_expired(uv_timer_t *t)
{
    struct node_handover *h = t->data;
    log_warn("writes still in flight after %d ms; handing leadership over regardless", HANDOVER_DRAIN_MS);
    handover_transfer(h);
}

void node_handover_turn(struct node *n)
{
    struct node_handover *h = n->handover;
    if (h != NULL && !h->transferring && n->inflight_head == NULL)
        handover_transfer(h);
}

int node_handover(struct node *n, void (*done)(void *data), void *data)
{
    if (n->handover != NULL || n->closing || !node_is_leader(n) || handover_target(n) == 0)
        return -1;
    struct node_handover *h = xcalloc(1, sizeof *h);
    h->node = n;
    h->data = data;
    h->started_ms = uv_now(n->loop);
    int rv = uv_timer_init(n->loop, &h->timer);
    if (rv != 0) {
        log_warn("leadership handover: %s", uv_strerror(rv));
        free(h);
        return -1;
    }
    h->timer.data = h;
    h->timer_open = true;
    h->done = done;
    n->handover = h;
    log_info("handing leadership over before stopping (%s)",
             n->inflight_head != NULL ? "after the writes in flight" : "no writes in flight");
    if (n->inflight_head == NULL || uv_timer_start(&h->timer, handover_drain_expired, HANDOVER_DRAIN_MS, 0) != 0)
        handover_transfer(h);
    return 0;
}
