/* write.c - the leader's write path.
 *
 *   1. commands.c decodes ADD into a struct codec_add;
 *   2. node_propose_add checks that this node leads and is ready, stamps
 *      ids (monotonic ULIDs) and added_at, encodes one eventflow.Entry and
 *      hands it to raft_apply. Many ADDs are in flight at once: raft_uv
 *      writes the appends of a loop turn together (raftio/appendq.c);
 *   3. once a quorum has the entry on disk, raft applies it on every node:
 *      fsm.c queues it, and fsm_drain (the turn's first step) runs
 *      store_apply, where the expected-version check runs;
 *   4. on the proposing leader, node_entry_applied passes the outcome to the
 *      request, which renders the reply; once raft's callback has also
 *      said it committed, node_finish_requests finishes it and the reply is
 *      written to the socket in the same turn (server/server.c, server_turn_end).
 *
 * Consumer groups' operations take the same path (node_propose_groups):
 * their replies are rendered from the outcome too.
 *
 * Besides those, a leader proposes entries nobody's reply waits on, or a
 * command's does (node_propose_entry): members' addresses, settings, and
 * the cluster identity a new leader records when the log lacks one. */
#include "node/node_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/log.h"
#include "common/mem.h"
#include "node/entry.h"
#include "node/fsm.h"

/* ADDs of up to this many events are stamped in stack memory. */
#define NODE_FEW_EVENTS 8
/* Finished writes kept for the next proposals, instead of freed. */
#define NODE_SPARE_WRITES 4096

/* ---- the writes in flight -------------------------------------------------- */

static struct node_write *write_new(struct node *n)
{
    struct node_write *w = n->spare_writes;
    if (w != NULL) {
        n->spare_writes = w->next;
        n->n_spare_writes--;
        memset(w, 0, sizeof *w);
    } else {
        w = xcalloc(1, sizeof *w);
    }
    w->node = n;
    w->apply.data = w;
    return w;
}

static void write_release(struct node *n, struct node_write *w)
{
    if (n->n_spare_writes >= NODE_SPARE_WRITES) {
        free(w);
        return;
    }
    w->next = n->spare_writes;
    n->spare_writes = w;
    n->n_spare_writes++;
}

/* Remove a write from the in-flight list. */
static void inflight_remove(struct node *n, struct node_write *w)
{
    if (n->apply_next == w)
        n->apply_next = w->next;
    if (w->prev)
        w->prev->next = w->next;
    else
        n->inflight_head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        n->inflight_tail = w->prev;
    w->prev = w->next = NULL;
    n->inflight_bytes -= w->bytes;
}

/* Out of the in-flight list, onto the list node_finish_requests finishes. */
static void write_finished(struct node *n, struct node_write *w)
{
    inflight_remove(n, w);
    if (n->finished_tail)
        n->finished_tail->next = w;
    else
        n->finished_head = w;
    n->finished_tail = w;
}

/* done(0) for every write that is both applied and committed. A done()
 * may propose again, or complete other work that lands here: each is taken
 * off the list first. */
void node_finish_requests(struct node *n)
{
    while (n->finished_head != NULL) {
        struct node_write *w = n->finished_head;
        n->finished_head = w->next;
        if (n->finished_head == NULL)
            n->finished_tail = NULL;
        struct node_proposal *req = w->req;
        write_release(n, w);
        req->done(req, 0, NULL);
    }
}

void node_watch_applied(struct node *n, const struct node_apply_watch *watch)
{
    n->apply_watch = *watch;
}

void node_entry_applied(struct node *n, uint64_t index, const struct store_outcome *outcome)
{
    if (outcome->status == STORE_IDENTITY_SET)
        node_identity_refresh(n);
    if (n->apply_watch.applied != NULL)
        n->apply_watch.applied(n->apply_watch.data, outcome);
    /* The list is in index order and entries apply in index order, so the
     * search resumes where the previous entry's left off: starting from the
     * head each time made a run of k entries cost k^2/2 steps. Writes for
     * lower indexes whose entries were overwritten by a new leader are
     * skipped and stay until raft fails them. */
    struct node_write *w = n->apply_next;
    while (w != NULL && w->apply.index < index)
        w = w->next;
    if (w == NULL || w->apply.index != index) {
        n->apply_next = w;
        return;
    }
    n->apply_next = w->next;
    w->req->was_applied = true;
    w->req->applied(w->req, outcome);
    /* Usually raft's callback has already said the entry committed (raft
     * fires it right after fsm.c queued the entry); if it has not yet,
     * write_committed finishes the write when it does. */
    if (w->committed)
        write_finished(n, w);
}

/* Leadership lost or the node stopping: a later leader may still commit
 * the entry. Anything else: it failed. */
static int write_status(int raft_status)
{
    return raft_status == RAFT_LEADERSHIPLOST || raft_status == RAFT_SHUTDOWN ? NODE_EUNKNOWN : NODE_EFAILED;
}

static void write_committed(struct raft_apply *apply, int status, void *result)
{
    struct node_write *w = apply->data;
    struct node *n = w->node;
    (void)result;
    if (status == 0) {
        /* The outcome comes out of the fsm queue (fsm.c), which drains
         * later in this loop turn; the reply waits for it. */
        if (w->req->was_applied)
            write_finished(n, w);
        else
            w->committed = true;
        return;
    }
    inflight_remove(n, w);
    struct node_proposal *req = w->req;
    write_release(n, w);
    req->done(req, write_status(status), raft_strerror(status));
}

/* raft_apply with the buffer's ownership settled. raft 0.22 takes the
 * buffer into its in-memory log before some of its checks (e.g. the
 * storage backend's), and discards it itself when those fail; only the
 * up-front "not leader" refusal leaves it with us. */
static int node_raft_apply(struct node *n, struct raft_apply *req, struct raft_buffer *buf, raft_apply_cb cb)
{
    int rv = raft_apply(&n->raft, req, buf, 1, cb);
    if (rv == RAFT_NOTLEADER)
        raft_free(buf->base);
    if (rv != 0)
        log_warn("raft_apply: %s (%s)", raft_strerror(rv), raft_errmsg(&n->raft));
    return rv;
}

/* ---- ADD -------------------------------------------------------------------- */

/* Stamp one event into its protobuf form. Strings are borrowed from `ev`. */
static void fill_event(Eventflow__NewEvent *pe, const struct codec_event *ev, uint8_t id[ULID_BYTES],
                       uint8_t *causation, uint8_t *correlation)
{
    eventflow__new_event__init(pe);
    pe->id.data = id;
    pe->id.len = ULID_BYTES;
    pe->type = ev->type;
    pe->data_kind = ev->data.kind;
    pe->data.data = (uint8_t *)ev->data.bytes;
    pe->data.len = ev->data.len;
    pe->metadata_kind = ev->metadata.kind;
    pe->metadata.data = (uint8_t *)ev->metadata.bytes;
    pe->metadata.len = ev->metadata.len;
    if (ev->has_causation_id) {
        memcpy(causation, ev->causation_id, ULID_BYTES);
        pe->causation_id.data = causation;
        pe->causation_id.len = ULID_BYTES;
    }
    if (ev->has_correlation_id) {
        memcpy(correlation, ev->correlation_id, ULID_BYTES);
        pe->correlation_id.data = correlation;
        pe->correlation_id.len = ULID_BYTES;
    }
    if (ev->key != NULL) {
        pe->client_id.data = (uint8_t *)ev->key;
        pe->client_id.len = strlen(ev->key);
    }
}

/* Whether this node may propose a write now: NODE_E* if not. */
static int node_may_write(struct node *n)
{
    if (n->closing)
        return NODE_ESHUTDOWN;
    if (n->handover != NULL)
        return NODE_EHANDOVER;
    if (raft_state(&n->raft) != RAFT_LEADER) {
        raft_id leader_id;
        const char *leader_addr;
        raft_leader(&n->raft, &leader_id, &leader_addr);
        return leader_id != 0 ? NODE_ENOTLEADER : NODE_ENOLEADER;
    }
    if (!n->ready)
        return NODE_ENOTREADY;
    return 0;
}

/* Is there room for about `approx` more bytes here and on every member? */
static int node_room_for(struct node *n, size_t approx)
{
    /* Entries proposed but not applied yet are not in the store: count
     * them too, or a burst of proposals could overfill it. */
    int src = store_space_check(n->store, approx + n->inflight_bytes);
    if (src == STORE_EFULL)
        return NODE_EFULL;
    /* The check commits the open batch near the limit; a failed commit
     * lost applied entries, as in node_flush. */
    if (src != 0)
        node_stop_for_reapply(n, "checking free space");
    /* And every other member's, as last reported (space.h). */
    if (space_check(&n->space, approx, &n->full_member) != 0)
        return NODE_EMEMBERFULL;
    return 0;
}

/* Encode and propose an entry whose requester waits for its outcome
 * (ADDs, group operations); `approx` is its size for the space checks. */
static int node_propose_write(struct node *n, const Eventflow__Entry *entry, size_t approx,
                              struct node_proposal *req)
{
    struct raft_buffer buf;
    if (entry_encode(entry, &buf) != 0)
        return NODE_EINTERNAL;
    struct node_write *w = write_new(n);
    w->req = req;
    req->was_applied = false;
    req->priv = w;
    int rv = node_raft_apply(n, &w->apply, &buf, write_committed);
    if (rv != 0) {
        write_release(n, w);
        if (rv == RAFT_NOTLEADER)
            return NODE_ENOLEADER;
        if (rv == RAFT_TOOBIG)
            return NODE_ETOOBIG;
        return NODE_EINTERNAL;
    }
    w->bytes = approx;
    n->inflight_bytes += approx;
    space_proposed(&n->space, approx);
    /* Append to the in-flight list; raft assigns increasing indexes. */
    w->prev = n->inflight_tail;
    w->next = NULL;
    if (n->inflight_tail)
        n->inflight_tail->next = w;
    else
        n->inflight_head = w;
    n->inflight_tail = w;
    if (n->apply_next == NULL)
        n->apply_next = w;
    return 0;
}

int node_propose_add(struct node *n, const struct codec_add *add, struct node_proposal *req)
{
    int rc = node_may_write(n);
    if (rc != 0)
        return rc;
    size_t nev = add->n_events;
    size_t approx = strlen(add->stream) + 64;
    for (size_t i = 0; i < nev; i++)
        approx += strlen(add->events[i].type) + add->events[i].data.len + add->events[i].metadata.len + 96;
    if ((rc = node_room_for(n, approx)) != 0)
        return rc;

    /* One allocation holds the protobuf structs, the pointer array the
     * AddCommand wants and the ids they point at; an ADD of a few events,
     * the usual kind, needs none. */
    struct proposed_event {
        Eventflow__NewEvent pb;
        uint8_t ids[3][ULID_BYTES]; /* id, causation, correlation */
    } few[NODE_FEW_EVENTS], *events = few;
    Eventflow__NewEvent *few_ptrs[NODE_FEW_EVENTS], **eventp = few_ptrs;
    if (nev > NODE_FEW_EVENTS) {
        events = xcalloc(nev, sizeof *events + sizeof *eventp);
        eventp = (Eventflow__NewEvent **)(events + nev);
    }
    int64_t now_ns = node_realtime_ns();
    for (size_t i = 0; i < nev; i++) {
        uint8_t (*ids)[ULID_BYTES] = events[i].ids;
        ulid_gen_next(&n->ids, (uint64_t)(now_ns / 1000000), NULL, ids[0]);
        fill_event(&events[i].pb, &add->events[i], ids[0], ids[1], ids[2]);
        eventp[i] = &events[i].pb;
    }
    Eventflow__AddCommand cmd = EVENTFLOW__ADD_COMMAND__INIT;
    cmd.stream = add->stream;
    cmd.any_version = add->any_version;
    cmd.expected_version = add->expected_version;
    cmd.added_at_ns = now_ns;
    cmd.n_events = nev;
    cmd.events = eventp;
    Eventflow__Entry entry = EVENTFLOW__ENTRY__INIT;
    entry.command_case = EVENTFLOW__ENTRY__COMMAND_ADD;
    entry.add = &cmd;

    rc = node_propose_write(n, &entry, approx, req);
    if (events != few)
        free(events);
    return rc;
}

/* ---- consumer groups --------------------------------------------------------- */

int64_t node_group_now(struct node *n)
{
    int64_t now = node_realtime_ns() / 1000000;
    struct store_stats st;
    if (store_stats(n->store, &st) == 0 && st.group_clock_ms > now)
        now = st.group_clock_ms;
    return now;
}

/* The first group entry of each leadership says so (leader_start), which
 * starts the grace store_group_due gives earlier deliveries. A new leader
 * proposes one at once if groups exist (node_record_cluster), so the grace
 * runs from its takeover, not from its first client. */
static void node_stamp_groups(struct node *n, Eventflow__GroupOps *ops)
{
    ops->now_ms = node_realtime_ns() / 1000000;
    ops->leader_start = n->groups_term != n->raft.current_term;
    n->groups_term = n->raft.current_term;
}

int node_propose_groups(struct node *n, Eventflow__GroupOps *ops, struct node_proposal *req)
{
    int rc = node_may_write(n);
    if (rc != 0)
        return rc;
    Eventflow__Entry entry = EVENTFLOW__ENTRY__INIT;
    entry.command_case = EVENTFLOW__ENTRY__COMMAND_GROUPS;
    entry.groups = ops;
    /* Group records are small: pending, deadline and consumer keys per
     * event handed out, a little for the rest. */
    size_t approx = 64 + ops->n_ops * 512;
    if ((rc = node_room_for(n, approx)) != 0)
        return rc;
    raft_term was = n->groups_term;
    node_stamp_groups(n, ops);
    rc = node_propose_write(n, &entry, approx, req);
    if (rc != 0)
        n->groups_term = was;
    return rc;
}

/* ---- stream deletion and retention ---------------------------------------------- */

int node_propose_stream(struct node *n, Eventflow__StreamOp *op, struct node_proposal *req)
{
    int rc = node_may_write(n);
    if (rc != 0)
        return rc;
    /* No room check: a removal is how a full store gets room back, and its
     * record is a few dozen bytes (the margins the checks keep cover it). */
    size_t approx = 256;
    op->now_ns = node_realtime_ns();
    Eventflow__Entry entry = EVENTFLOW__ENTRY__INIT;
    entry.command_case = EVENTFLOW__ENTRY__COMMAND_STREAM;
    entry.stream = op;
    return node_propose_write(n, &entry, approx, req);
}

void node_retention_kick(struct node *n)
{
    retention_kick(&n->retention);
}

uint64_t node_full_member(const struct node *n)
{
    return n->full_member;
}

/* ---- other entries -------------------------------------------------------------- */

struct node_entry_req {
    struct raft_apply apply;
    struct node *node;
    node_done_cb cb;
    void *data;
};

/* raft calls this once the entry committed (status 0), or when it gave up
 * on it. */
static void node_entry_done(struct raft_apply *apply, int status, void *result)
{
    (void)result;
    struct node_entry_req *req = apply->data;
    if (status != 0)
        log_info("proposed entry %" PRIu64 ": %s", (uint64_t)apply->index, raft_strerror(status));
    if (req->cb != NULL) {
        /* raft says committed once fsm.c queued the entry; the store has
         * it only after the queue drains. */
        if (status == 0)
            node_apply_committed(req->node);
        req->cb(req->data, status == 0 ? 0 : write_status(status), status == 0 ? NULL : raft_strerror(status));
    }
    free(req);
}

int node_propose_entry(struct node *n, const Eventflow__Entry *entry, node_done_cb cb, void *data)
{
    struct raft_buffer buf;
    if (entry_encode(entry, &buf) != 0)
        return NODE_EINTERNAL;
    struct node_entry_req *req = xcalloc(1, sizeof *req);
    req->apply.data = req;
    req->node = n;
    req->cb = cb;
    req->data = data;
    int rv = node_raft_apply(n, &req->apply, &buf, node_entry_done);
    if (rv != 0) {
        free(req);
        return rv == RAFT_NOTLEADER ? NODE_ENOLEADER : NODE_EINTERNAL;
    }
    return 0;
}

bool node_registered(struct node *n)
{
    char addr[NODE_ADDR_MAX], tls[NODE_ADDR_MAX];
    uint64_t inc = 0;
    return store_member_get(n->store, n->cfg->id, addr, sizeof addr, &inc) == 0 && inc == n->incarnation &&
           strcmp(addr, n->cfg->advertise) == 0 && store_member_tls_get(n->store, n->cfg->id, tls, sizeof tls) == 0 &&
           strcmp(tls, n->cfg->tls_advertise) == 0;
}

void node_publish_self(struct node *n)
{
    if (node_registered(n))
        return;
    Eventflow__MemberAddress ma = EVENTFLOW__MEMBER_ADDRESS__INIT;
    ma.id = n->cfg->id;
    ma.client_address = (char *)n->cfg->advertise;
    ma.tls_address = (char *)n->cfg->tls_advertise;
    ma.incarnation = n->incarnation;
    Eventflow__Entry entry = EVENTFLOW__ENTRY__INIT;
    entry.command_case = EVENTFLOW__ENTRY__COMMAND_MEMBER_ADDRESS;
    entry.member_address = &ma;
    (void)node_propose_entry(n, &entry, NULL, NULL);
}

/* A new leader records what the log does not hold yet: the cluster's
 * identity (a new cluster, or one of a version before identities), and the
 * idempotency-key window (this node's --dedup-window; later changes go
 * through CONFIG SET). Two leaders in a row may both propose: the state
 * machine keeps the first identity, and the window of the last. */
void node_record_cluster(struct node *n)
{
    struct store_stats st;
    if (store_stats(n->store, &st) != 0)
        return;
    if (!st.has_cluster_id) {
        uint8_t id[STORE_CLUSTER_ID_BYTES];
        static const uint8_t zero[STORE_CLUSTER_ID_BYTES];
        do {
            if (getrandom(id, sizeof id, 0) != (ssize_t)sizeof id) {
                log_error("getrandom: %s; the cluster identity is not recorded", strerror(errno));
                return;
            }
        } while (memcmp(id, zero, sizeof id) == 0);
        Eventflow__ClusterIdentity ci = EVENTFLOW__CLUSTER_IDENTITY__INIT;
        ci.cluster_id = (ProtobufCBinaryData){.len = sizeof id, .data = id};
        Eventflow__Entry entry = EVENTFLOW__ENTRY__INIT;
        entry.command_case = EVENTFLOW__ENTRY__COMMAND_IDENTITY;
        entry.identity = &ci;
        (void)node_propose_entry(n, &entry, NULL, NULL);
    }
    if (st.group_count > 0) {
        Eventflow__GroupOps ops = EVENTFLOW__GROUP_OPS__INIT;
        node_stamp_groups(n, &ops);
        Eventflow__Entry entry = EVENTFLOW__ENTRY__INIT;
        entry.command_case = EVENTFLOW__ENTRY__COMMAND_GROUPS;
        entry.groups = &ops;
        if (node_propose_entry(n, &entry, NULL, NULL) != 0)
            n->groups_term = 0;
    }
    if (!st.dedup_window_recorded) {
        Eventflow__Settings settings = EVENTFLOW__SETTINGS__INIT;
        settings.dedup_window = n->cfg->dedup_window;
        Eventflow__Entry entry = EVENTFLOW__ENTRY__INIT;
        entry.command_case = EVENTFLOW__ENTRY__COMMAND_SETTINGS;
        entry.settings = &settings;
        (void)node_propose_entry(n, &entry, NULL, NULL);
    } else if (st.dedup_window != n->cfg->dedup_window && n->cfg->dedup_window_set) {
        log_warn("the cluster's idempotency-key window is %" PRIu64 " (recorded in the log); this node's "
                 "--dedup-window %" PRIu64 " applies only to a new cluster: change it with CONFIG SET "
                 "dedup-window",
                 st.dedup_window, n->cfg->dedup_window);
    }
}

void node_identity_refresh(struct node *n)
{
    struct store_stats st;
    if (n->store == NULL || store_stats(n->store, &st) != 0 || !st.has_cluster_id)
        return;
    if (n->rtcp.has_id && memcmp(n->rtcp.id, st.cluster_id, sizeof st.cluster_id) == 0)
        return;
    raft_tcp_set_cluster_id(&n->rtcp, st.cluster_id);
    char hex[2 * STORE_CLUSTER_ID_BYTES + 1];
    node_cluster_id_hex(st.cluster_id, hex);
    log_info("cluster identity %s", hex);
}

void node_cluster_id_hex(const uint8_t id[STORE_CLUSTER_ID_BYTES], char out[2 * STORE_CLUSTER_ID_BYTES + 1])
{
    for (size_t i = 0; i < STORE_CLUSTER_ID_BYTES; i++)
        snprintf(out + 2 * i, 3, "%02x", id[i]);
}
