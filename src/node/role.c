/* role.c - what this node is to raft, and what follows from it.
 *
 * Leadership: raft 0.22's classic API has no state-change callback, so
 * node_watch_role polls raft_state() every loop turn. A new leader serves
 * writes only after a barrier of its own term applied: by then every entry
 * of earlier terms is applied locally, so its id generator can start above
 * the last applied id (ids stay increasing across leader changes), and it
 * records what the log still lacks (write.c, node_record_cluster).
 *
 * A dead leader: a follower whose connection from the leader ends (the
 * kernel closes a killed process's sockets) campaigns after a fifth of the
 * election timeout instead of the whole (node_leader_link_closed).
 *
 * Contact: a follower knows when it last heard from a leader (raft restarts
 * its election timer at every message); a node cut off longer than
 * --max-staleness answers local reads with -STALE.
 *
 * Barriers for reads: a linearizable read waits for a barrier proposed
 * after it arrived (server/reads.c batches them). */
#include "node/node_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/mutant.h"

const char *node_state_name(unsigned short state)
{
    switch (state) {
    case RAFT_FOLLOWER:
        return "follower";
    case RAFT_CANDIDATE:
        return "candidate";
    case RAFT_LEADER:
        return "leader";
    default:
        return "unavailable";
    }
}

bool node_is_leader(struct node *n)
{
    return n->raft_running && raft_state(&n->raft) == RAFT_LEADER;
}

/* ---- a new leader's first barrier ----------------------------------------- */

static void node_barrier_cb(struct raft_barrier *b, int status)
{
    struct node *n = b->data;
    n->barrier_pending = false;
    if (n->closing)
        return;
    if (status != 0) {
        log_info("leadership barrier failed: %s", raft_strerror(status));
        return;
    }
    if (raft_state(&n->raft) != RAFT_LEADER || n->raft.current_term != n->barrier_term)
        return;
    node_apply_committed(n);
    /* Every entry of earlier terms is applied now (and visible to
     * store_stats, open batch included); the next id must exceed the last
     * one any earlier leader issued. */
    struct store_stats st;
    if (!mutant_is(MUTANT_ID_WITHOUT_FLOOR) && store_stats(n->store, &st) == 0 &&
        ulid_compare(st.last_id, n->ids.last) > 0)
        memcpy(n->ids.last, st.last_id, ULID_BYTES);
    n->ready = true;
    log_info("leader for term %" PRIu64 ", ready for writes (applied index %" PRIu64 ")",
             (uint64_t)n->raft.current_term, (uint64_t)raft_last_applied(&n->raft));
    node_record_cluster(n);
    node_publish_self(n);
}

static void node_start_barrier(struct node *n)
{
    n->barrier.data = n;
    n->barrier_term = n->raft.current_term;
    int rv = raft_barrier(&n->raft, &n->barrier, node_barrier_cb);
    if (rv != 0) {
        log_warn("leadership barrier: %s", raft_strerror(rv));
        return;
    }
    n->barrier_pending = true;
}

/* ---- contact with a leader ---------------------------------------------------- */

/* How long since this node last knew it was in contact with a leader. A
 * leader steps down by itself once it cannot reach a majority for an
 * election timeout, so while it leads its data is current. A follower's
 * raft election timer restarts at every message from its leader. */
static uint64_t node_contact_age(struct node *n)
{
    uint64_t now = uv_now(n->loop);
    unsigned short state = (unsigned short)raft_state(&n->raft);
    if (state == RAFT_LEADER) {
        n->last_contact_ms = now;
    } else if (state == RAFT_FOLLOWER) {
        raft_id id;
        const char *addr;
        raft_leader(&n->raft, &id, &addr);
        if (id != 0 && n->raft.election_timer_start > n->last_contact_ms && n->raft.election_timer_start <= now) {
            /* A gap longer than an election timeout between two contacts:
             * the node was cut off or paused, and contact starts anew. */
            if (n->raft.election_timer_start - n->last_contact_ms > n->cfg->election_timeout_ms)
                n->contact_since_ms = n->raft.election_timer_start;
            n->last_contact_ms = n->raft.election_timer_start;
        }
    }
    return now - n->last_contact_ms;
}

bool node_contact_steady(struct node *n)
{
    uint64_t age = node_contact_age(n);
    uint64_t now = uv_now(n->loop);
    return age < n->cfg->election_timeout_ms && now - n->contact_since_ms >= 2 * (uint64_t)n->cfg->election_timeout_ms;
}

bool node_is_stale(struct node *n, uint64_t *age_ms)
{
    if (!n->raft_running) {
        *age_ms = 0;
        return true;
    }
    *age_ms = node_contact_age(n);
    return n->cfg->max_staleness_ms != 0 && *age_ms > n->cfg->max_staleness_ms;
}

bool node_caught_up(struct node *n, uint64_t *applied, uint64_t *mark)
{
    uint64_t a = n->store != NULL ? store_applied_index(n->store) : 0;
    if (applied != NULL)
        *applied = a;
    if (mark != NULL)
        *mark = n->served.boot;
    return n->store != NULL && served_caught_up(&n->served, a);
}

/* Elections and leader changes, for metrics. Polled once a turn, like the
 * role: a follower that becomes leader within one turn (a single voter
 * elects itself inside raft's call) campaigned without being seen as a
 * candidate, so that counts as an election too. */
static void node_watch_leader(struct node *n, unsigned short state)
{
    if (state != n->last_state &&
        (state == RAFT_CANDIDATE || (state == RAFT_LEADER && n->last_state != RAFT_CANDIDATE)))
        n->elections++;
    raft_id id;
    const char *addr;
    raft_leader(&n->raft, &id, &addr);
    if (id != 0 && id != n->last_leader)
        n->leader_changes++;
    if (id != 0)
        n->last_leader = id;
}

/* ---- a leader whose process is gone ------------------------------------------ */

/* The election timeout while the leader's link is closed: a fifth of the
 * configured one, and never under two heartbeats. */
static unsigned fast_election_timeout(const struct node *n)
{
    unsigned fast = n->cfg->election_timeout_ms / 5;
    unsigned floor = 2 * n->cfg->heartbeat_timeout_ms;
    return fast > floor ? fast : floor;
}

/* A follower whose connection from the leader ends (EOF or reset) has most
 * likely lost the leader's process (kill -9, a crash: the kernel closes a
 * dead process's sockets at once), and waiting the full election timeout
 * (1-2 s by default) for silence to prove it is most of a failover's time.
 * So it shortens its election timeout until it hears from a leader again.
 * Safety is untouched (a timeout only decides when to campaign), and a
 * live leader is not disrupted: the campaign starts with a pre-vote, which
 * the other followers refuse while they still hear from the leader (raft
 * rejects votes while it has a leader), and the leader's next message
 * ends the campaign. The other followers saw the same connection end, so
 * after a real crash they campaign soon too. A silent leader (a network
 * cut, a paused process) is still found by the configured timeout. */
void node_leader_link_closed(void *data, raft_id id)
{
    struct node *n = data;
    if (!n->started || n->closing || n->fast_election || raft_state(&n->raft) != RAFT_FOLLOWER)
        return;
    raft_id leader;
    const char *address;
    raft_leader(&n->raft, &leader, &address);
    if (leader == 0 || leader != id)
        return;
    unsigned fast = fast_election_timeout(n);
    if (fast >= n->cfg->election_timeout_ms)
        return;
    n->fast_election = true;
    n->fast_timer_start = n->raft.election_timer_start;
    raft_set_election_timeout(&n->raft, fast);
    log_info("the leader's (node %" PRIu64 ") connection closed: election timeout %u ms until a leader is heard from",
             (uint64_t)id, fast);
}

/* Back to the configured timeout once a leader is heard from: this node
 * leads, or follows one that has reset its election timer since. */
static void node_watch_fast_election(struct node *n, unsigned short state)
{
    if (!n->fast_election)
        return;
    raft_id leader;
    const char *address;
    raft_leader(&n->raft, &leader, &address);
    bool heard = state == RAFT_LEADER ||
                 (state == RAFT_FOLLOWER && leader != 0 && n->raft.election_timer_start != n->fast_timer_start);
    if (!heard)
        return;
    n->fast_election = false;
    raft_set_election_timeout(&n->raft, n->cfg->election_timeout_ms);
}

void node_watch_role(struct node *n)
{
    if (!n->started || n->closing)
        return;
    unsigned short state = (unsigned short)raft_state(&n->raft);
    raft_term term = n->raft.current_term;
    (void)node_contact_age(n);
    node_watch_leader(n, state);
    node_watch_fast_election(n, state);
    node_handover_turn(n);
    if (state == n->last_state && term == n->last_term)
        return;
    if (state != n->last_state)
        log_info("raft state %s -> %s (term %" PRIu64 ")", node_state_name(n->last_state), node_state_name(state),
                 (uint64_t)term);
    n->last_state = state;
    n->last_term = term;
    if (state != RAFT_LEADER) {
        n->ready = false;
        return;
    }
    if (!n->ready && !n->barrier_pending)
        node_start_barrier(n);
}

/* ---- barriers for reads ---------------------------------------------------------- */

struct node_read_barrier {
    struct raft_barrier barrier;
    struct node *node;
    node_done_cb cb;
    void *data;
};

static void node_read_barrier_cb(struct raft_barrier *b, int status)
{
    struct node_read_barrier *rb = b->data;
    /* The barrier is applied: so is everything committed before it, once
     * the store has taken raft's queue. */
    if (status == 0)
        node_apply_committed(rb->node);
    node_done_cb cb = rb->cb;
    void *data = rb->data;
    free(rb);
    cb(data, status == 0 ? 0 : NODE_EUNKNOWN, status == 0 ? NULL : raft_strerror(status));
}

int node_barrier(struct node *n, node_done_cb cb, void *data)
{
    if (!node_is_leader(n))
        return NODE_ENOTLEADER;
    struct node_read_barrier *rb = xcalloc(1, sizeof *rb);
    rb->barrier.data = rb;
    rb->node = n;
    rb->cb = cb;
    rb->data = data;
    if (raft_barrier(&n->raft, &rb->barrier, node_read_barrier_cb) != 0) {
        free(rb);
        return NODE_ENOTLEADER;
    }
    return 0;
}

/* ---- addresses ------------------------------------------------------------------- */

int node_member_client_address(struct node *n, uint64_t id, char *out, size_t cap)
{
    if (id == n->cfg->id) {
        snprintf(out, cap, "%s", n->cfg->advertise);
        return 0;
    }
    /* The replicated table first: it follows membership changes. */
    if (store_member_get(n->store, id, out, cap, NULL) == 0)
        return 0;
    for (size_t i = 0; i < n->cfg->n_members; i++) {
        if (n->cfg->members[i].id == id) {
            snprintf(out, cap, "%s", n->cfg->members[i].client_address);
            return 0;
        }
    }
    if (cap > 0)
        out[0] = '\0';
    return -1;
}

int node_member_tls_address(struct node *n, uint64_t id, char *out, size_t cap)
{
    if (id == n->cfg->id)
        snprintf(out, cap, "%s", n->cfg->tls_advertise);
    else if (store_member_tls_get(n->store, id, out, cap) != 0 && cap > 0)
        out[0] = '\0';
    return cap > 0 && out[0] != '\0' ? 0 : -1;
}

int node_member_peer_address(struct node *n, uint64_t id, char *out, size_t cap, struct raft_tls **tls)
{
    *tls = NULL;
    if (n->rtcp.tls != NULL && node_member_tls_address(n, id, out, cap) == 0) {
        *tls = n->rtcp.tls;
        return 0;
    }
    return node_member_client_address(n, id, out, cap);
}

/* The leader's raft id, 0 when none is known. */
static uint64_t node_leader_id(struct node *n)
{
    raft_id id;
    const char *raft_addr;
    if (!n->raft_running)
        return 0;
    raft_leader(&n->raft, &id, &raft_addr);
    return id;
}

int node_leader_client_address(struct node *n, char *out, size_t cap)
{
    uint64_t id = node_leader_id(n);
    return id != 0 ? node_member_client_address(n, id, out, cap) : -1;
}

int node_leader_peer_address(struct node *n, char *out, size_t cap, struct raft_tls **tls)
{
    uint64_t id = node_leader_id(n);
    *tls = NULL;
    return id != 0 ? node_member_peer_address(n, id, out, cap, tls) : -1;
}

int node_leader_tls_address(struct node *n, char *out, size_t cap)
{
    uint64_t id = node_leader_id(n);
    return id != 0 ? node_member_tls_address(n, id, out, cap) : -1;
}

size_t node_state_sources(struct node *n, char ***out)
{
    const struct raft_configuration *conf = &n->raft.configuration;
    char **list = xcalloc(conf->n + 1, sizeof *list);
    size_t count = 0;
    list[count++] = xstrdup(n->cfg->advertise);
    char addr[NODE_ADDR_MAX];
    for (unsigned i = 0; i < conf->n; i++) {
        if (conf->servers[i].id == n->cfg->id ||
            node_member_client_address(n, conf->servers[i].id, addr, sizeof addr) != 0 || addr[0] == '\0')
            continue;
        list[count++] = xstrdup(addr);
    }
    *out = list;
    return count;
}

void node_state_sources_free(char **sources, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(sources[i]);
    free(sources);
}
