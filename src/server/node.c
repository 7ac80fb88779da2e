/* node.c - raft and the store wired together; the leader's write path.
 *
 * Write path (see docs/architecture.md):
 *   1. commands.c decodes ADD into a struct codec_add;
 *   2. node_propose_add checks that this node leads and is ready, stamps
 *      ids (monotonic ULIDs) and added_at, encodes one eventflow.Entry and
 *      hands it to raft_apply. Many ADDs are in flight at once: raft_uv
 *      batches concurrent appends into one write + fsync (group commit);
 *   3. once a quorum has the entry on disk, raft applies it on every node:
 *      fsm.c queues it, and fsm_drain (from node_before_sleep) runs
 *      store_apply, where the expected-version check runs;
 *   4. on the proposing leader, node_entry_applied passes the outcome to the
 *      request, which renders the reply; once raft's callback has also
 *      said it committed, node_before_sleep finishes it and the reply is
 *      written to the socket in the same turn.
 *
 * Leadership: raft 0.22's classic API has no state-change callback, so
 * node_before_sleep polls raft_state() every loop turn. A new leader serves
 * writes only after a barrier of its own term applied: by then every entry
 * of earlier terms is applied locally, so its id generator can start above
 * the last applied id (ids stay increasing across leader changes). */
#include "server/node.h"

#include <errno.h>
#include <stdlib.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "version.h"
#include "eventflow.pb-c.h"
#include "server/entry.h"
#include "server/fsm.h"
#include "server/membership.h"
#include "server/space.h"
#include "server/transfer.h"
#include "store/checksum.h"

/* The open LMDB batch is committed every NODE_FLUSH_MS, or at once when it
 * holds NODE_BATCH_MAX entries or NODE_BATCH_MAX_BYTES of them. Readers
 * see it either way, and a crash only makes raft re-apply the entries
 * since the last commit, so the interval is about write amplification:
 * LMDB copies every page a batch touched, and ADDs to many streams touch a
 * different `streams` and `stream_index` page each. At 20 ms per batch a
 * three-node cluster spent a third of its CPU copying pages into the page
 * cache; at 200 ms, ADDs to 100,000 streams still rewrote most of both
 * tables five times a second and each commit stalled the loop for
 * milliseconds (p99 4 ms on one node); a batch a second touches each page
 * once for five times as many ADDs (docs/benchmarks.md). The dirty pages
 * wait in memory: LMDB spills to the file if a batch outgrows its dirty
 * list. */
#define NODE_FLUSH_MS 1000
#define NODE_BATCH_MAX 131072
/* Also commit once the batch's entries reach this many bytes: a second of
 * large events would otherwise keep hundreds of MiB of dirty pages in
 * memory until the timer. */
#define NODE_BATCH_MAX_BYTES ((uint64_t)64 << 20)

/* raft log segments of 16 MiB rather than raft_uv's 8. Closing a segment
 * destroys its AIO context, and io_destroy(2) blocks the loop ~30 ms
 * waiting for an RCU grace period: fewer closes, fewer stalls. Not larger:
 * raft_uv 0.22.1 reports its spare log capacity in KiB in an unsigned short
 * (two prepared segments plus the open one's room); past ~21 MiB per
 * segment it wraps, and the leader refuses writes as out of space. */
#define NODE_SEGMENT_SIZE (16u * 1024 * 1024)

/* Entries sent to a follower before it acknowledges any (see node_init). */
#define NODE_MAX_INFLIGHT 65536

/* The node whose role log lines report (there is one per process). */
static struct node *node_current;

static uint64_t node_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int64_t node_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *state_name(unsigned short state)
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

const char *node_role_name(void)
{
    if (node_current == NULL || !node_current->started)
        return "-";
    return state_name(node_current->last_state);
}

uint64_t node_uptime_ms(const struct node *n)
{
    return node_monotonic_ms() - n->started_ms;
}

/* mkdir -p for one level below an existing parent. */
static int ensure_dir(const char *path)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST)
        return 0;
    log_error("cannot create directory %s: %s", path, strerror(errno));
    return -1;
}

/* raft 0.22 formats every trace message with snprintf before it looks
 * at whether tracing is on (tracing.h's Logf checks only for a NULL
 * tracer): several formatted strings per ADD, 2 % of the loop's time,
 * all thrown away. Without LIBRAFT_TRACE in the environment nothing is
 * printed anyway, so raft and its uv backend get no tracer at all; with
 * it, raft's stderr tracer stays for debugging. */
static void node_quiet_raft_tracing(struct node *n)
{
    if (getenv("LIBRAFT_TRACE") != NULL)
        return;
    n->raft.tracer = NULL;
    raft_uv_set_tracer(appendq_io(&n->rio), NULL);
}

int node_init(struct node *n, const struct config *cfg, uv_loop_t *loop)
{
    char path[4096];
    char err[512];
    int rv;

    memset(n, 0, sizeof *n);
    n->cfg = cfg;
    n->loop = loop;
    n->started_ms = node_monotonic_ms();
    n->last_state = RAFT_UNAVAILABLE;
    n->last_contact_ms = uv_now(loop);
    n->contact_since_ms = n->last_contact_ms;
    ulid_gen_init(&n->ids);
    node_current = n;

    if (ensure_dir(cfg->data_dir) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/store", cfg->data_dir);
    if (ensure_dir(path) != 0)
        return -1;
    struct store_options sopts = {.dir = path, .map_size = cfg->map_size, .min_free = cfg->min_free_disk};
    if (store_open(&sopts, &n->store, err, sizeof err) != 0) {
        log_error("cannot open the store in %s: %s", path, err);
        return -1;
    }

    if (served_open(&n->served, cfg->data_dir) != 0)
        goto err_after_store_open;

    snprintf(path, sizeof path, "%s/raft", cfg->data_dir);
    if (ensure_dir(path) != 0)
        goto err_after_store_open;

    n->rtcp.transport.version = 1;
    n->rtcp.transport.data = n;
    rv = raft_uv_tcp_init(&n->rtcp.transport, loop);
    if (rv != 0) {
        log_error("raft transport: %s", raft_strerror(rv));
        goto err_after_store_open;
    }
    raft_tcp_init(&n->rtcp);
    if (cfg->raft_bind[0] != '\0') {
        rv = raft_uv_tcp_set_bind_address(&n->rtcp.transport, cfg->raft_bind);
        if (rv != 0) {
            log_error("raft bind address %s: %s", cfg->raft_bind, raft_strerror(rv));
            goto err_after_transport_init;
        }
    }

    struct raft_io *io = appendq_io(&n->rio);
    io->version = 2;
    io->data = n;
    rv = raft_uv_init(io, loop, path, &n->rtcp.transport);
    if (rv != 0) {
        log_error("raft storage in %s: %s", path, io->errmsg);
        goto err_after_transport_init;
    }
    /* Never silently move corrupt segments aside: losing log entries that
     * were acknowledged to peers breaks Raft's guarantees. Stop instead. */
    raft_uv_set_auto_recovery(io, false);
    raft_uv_set_segment_size(io, NODE_SEGMENT_SIZE);
    rv = appendq_init(&n->rio, loop);
    if (rv != 0) {
        log_error("raft append and send queues: %s", uv_strerror(rv));
        appendq_close(&n->rio);
        raft_uv_close(io);
        goto err_after_transport_init;
    }

    fsm_init(&n->fsm, n);
    n->transfer = transfer_new(n);

    rv = raft_init(&n->raft, io, &n->fsm, cfg->id, cfg->raft_address);
    if (rv != 0) {
        log_error("raft init: %s", raft_errmsg(&n->raft));
        goto err_after_fsm_init;
    }
    n->raft.data = n;
    n->raft_running = true;
    node_quiet_raft_tracing(n);
    raft_set_election_timeout(&n->raft, cfg->election_timeout_ms);
    raft_set_heartbeat_timeout(&n->raft, cfg->heartbeat_timeout_ms);
    raft_set_snapshot_threshold(&n->raft, cfg->snapshot_threshold);
    raft_set_snapshot_trailing(&n->raft, cfg->snapshot_trailing);
    /* Pre-vote keeps a node that was cut off from disrupting a healthy
     * leader when it comes back with a higher term (thesis 9.6). */
    raft_set_pre_vote(&n->raft, true);
    /* raft's default allows 32 unacknowledged entries per follower; past
     * that, every new entry costs a follower an empty AppendEntries and an
     * answer instead of the entry. One entry per ADD with hundreds of ADDs
     * in flight needs a window as large as the log held in memory. sendq
     * turns what is sent in one loop turn into one message. */
    raft_set_max_inflight_entries(&n->raft, NODE_MAX_INFLIGHT);
    return 0;

err_after_fsm_init:
    transfer_free(n->transfer);
    n->transfer = NULL;
    fsm_close(&n->fsm);
    appendq_close(&n->rio);
    raft_uv_close(appendq_io(&n->rio));
err_after_transport_init:
    raft_uv_tcp_close(&n->rtcp.transport);
    raft_tcp_close(&n->rtcp);
err_after_store_open:
    served_close(&n->served);
    store_close(n->store);
    n->store = NULL;
    return -1;
}

static void node_flush_timer_cb(uv_timer_t *t)
{
    node_flush(t->data);
}

static void node_preflight_done(struct node *n, int status)
{
    const struct config *cfg = n->cfg;
    struct raft_configuration conf;
    int rv;

    if (status != 0 || n->closing)
        goto failed;
    if (n->pristine && cfg->join[0] != '\0') {
        /* Joining: the cluster's leader sends us its log; bootstrapping
         * here would create a second, diverging cluster. */
        log_info("empty data directory: joining the cluster through %s", cfg->join);
    } else {
        raft_configuration_init(&conf);
        for (size_t i = 0; i < cfg->n_members; i++) {
            rv = raft_configuration_add(&conf, cfg->members[i].id, cfg->members[i].raft_address, RAFT_VOTER);
            if (rv != 0) {
                log_error("member %" PRIu64 ": %s", cfg->members[i].id, raft_strerror(rv));
                raft_configuration_close(&conf);
                goto failed;
            }
        }
        /* Every initial member bootstraps with the same configuration, so
         * they all hold the same entry 1. A data directory with any raft
         * state refuses (RAFT_CANTBOOTSTRAP): the normal restart path. */
        rv = raft_bootstrap(&n->raft, &conf);
        raft_configuration_close(&conf);
        if (rv == 0) {
            log_info("bootstrapped a new cluster of %zu member(s)", cfg->n_members);
        } else if (rv != RAFT_CANTBOOTSTRAP) {
            log_error("bootstrap: %s", raft_errmsg(&n->raft));
            goto failed;
        }
    }

    rv = raft_start(&n->raft);
    if (rv != 0) {
        log_error("raft start: %s", raft_errmsg(&n->raft));
        goto failed;
    }
    n->last_state = (unsigned short)raft_state(&n->raft);
    n->started = true;
    uv_timer_init(n->loop, &n->flush_timer);
    n->flush_timer.data = n;
    uv_timer_start(&n->flush_timer, node_flush_timer_cb, NODE_FLUSH_MS, NODE_FLUSH_MS);
    n->flush_timer_open = true;
    if ((rv = space_start(&n->space, n)) != 0)
        log_warn("members' store room will not be checked: %s", uv_strerror(rv));
    membership_start(n);
    log_info("started: raft %s, clients %s, data %s, incarnation %016" PRIx64 ", eventflowd %s, malloc %s",
             cfg->raft_address, cfg->advertise, cfg->data_dir, n->incarnation, EVENTFLOW_VERSION,
             EVENTFLOW_ALLOCATOR);
    return;

failed:
    if (n->start_failed)
        n->start_failed(n);
}

int node_start(struct node *n, void (*failed)(struct node *n))
{
    n->start_failed = failed;
    if (membership_load_identity(n) != 0)
        return -1;
    membership_preflight(n, node_preflight_done);
    return 0;
}

/* Remove a request from the in-flight list. */
static void inflight_remove(struct node *n, struct node_add *req)
{
    if (n->apply_next == req)
        n->apply_next = req->next;
    if (req->prev)
        req->prev->next = req->next;
    else
        n->inflight_head = req->next;
    if (req->next)
        req->next->prev = req->prev;
    else
        n->inflight_tail = req->prev;
    req->prev = req->next = NULL;
}

/* Out of the in-flight list, onto the list node_before_sleep finishes. */
static void node_add_finished(struct node *n, struct node_add *req)
{
    inflight_remove(n, req);
    n->inflight_bytes -= req->bytes;
    if (n->finished_tail)
        n->finished_tail->next = req;
    else
        n->finished_head = req;
    n->finished_tail = req;
}

/* done(0) for every request that is both applied and committed. A done()
 * may propose again, or complete other work that lands here: the list is
 * taken whole first. */
static void node_finish_requests(struct node *n)
{
    while (n->finished_head != NULL) {
        struct node_add *req = n->finished_head;
        n->finished_head = req->next;
        if (n->finished_head == NULL)
            n->finished_tail = NULL;
        req->next = NULL;
        req->done(req, 0);
    }
}

void node_entry_applied(struct node *n, uint64_t index, const struct store_outcome *outcome)
{
    /* The list is in index order and entries apply in index order, so the
     * search resumes where the previous entry's left off: starting from the
     * head each time made a run of k entries cost k^2/2 steps. Requests for
     * lower indexes whose entries were overwritten by a new leader are
     * skipped and stay until raft fails them. */
    struct node_add *req = n->apply_next;
    while (req != NULL && req->apply.index < index)
        req = req->next;
    if (req == NULL || req->apply.index != index) {
        n->apply_next = req;
        return;
    }
    n->apply_next = req->next;
    req->was_applied = true;
    req->applied(req, outcome);
    /* Usually raft's callback has already said the entry committed (raft
     * fires it right after fsm.c queued the entry); if it has not yet,
     * node_apply_cb finishes the request when it does. */
    if (req->committed)
        node_add_finished(n, req);
}

void node_apply_committed(struct node *n)
{
    fsm_drain(&n->fsm);
}

/* Apply what raft committed and release the replies it completes: at the
 * end of every loop turn and when closing. */
static void node_settle(struct node *n)
{
    node_apply_committed(n);
    node_finish_requests(n);
}

static void node_apply_cb(struct raft_apply *apply, int status, void *result)
{
    struct node_add *req = apply->data;
    struct node *n = req->node;
    (void)result;
    if (status == 0) {
        /* Committed. The outcome comes out of the fsm queue (fsm.c), which
         * drains later in this loop turn; the reply waits for it. */
        if (req->was_applied)
            node_add_finished(n, req);
        else
            req->committed = true;
        return;
    }
    inflight_remove(n, req);
    n->inflight_bytes -= req->bytes;
    req->done(req, status);
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

/* ADDs of up to this many events are stamped in stack memory. */
#define NODE_FEW_EVENTS 8

int node_propose_add(struct node *n, const struct codec_add *add, struct node_add *req)
{
    if (n->closing)
        return NODE_ESHUTDOWN;
    if (raft_state(&n->raft) != RAFT_LEADER) {
        raft_id leader_id;
        const char *leader_addr;
        raft_leader(&n->raft, &leader_id, &leader_addr);
        return leader_id != 0 ? NODE_ENOTLEADER : NODE_ENOLEADER;
    }
    if (!n->ready)
        return NODE_ENOTREADY;

    size_t nev = add->n_events;
    size_t approx = strlen(add->stream) + 64;
    for (size_t i = 0; i < nev; i++)
        approx += strlen(add->events[i].type) + add->events[i].data.len + add->events[i].metadata.len + 96;
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

    struct raft_buffer buf;
    int rv = entry_encode(&entry, &buf);
    if (events != few)
        free(events);
    if (rv != 0)
        return NODE_EINTERNAL;

    req->node = n;
    req->was_applied = false;
    req->committed = false;
    req->apply.data = req;
    rv = node_raft_apply(n, &req->apply, &buf, node_apply_cb);
    if (rv != 0) {
        if (rv == RAFT_NOTLEADER)
            return NODE_ENOLEADER;
        if (rv == RAFT_TOOBIG)
            return NODE_ETOOBIG;
        log_warn("raft_apply: %s", raft_strerror(rv));
        return NODE_EINTERNAL;
    }
    req->bytes = approx;
    n->inflight_bytes += approx;
    space_proposed(&n->space, approx);
    /* Append to the in-flight list; raft assigns increasing indexes. */
    req->prev = n->inflight_tail;
    req->next = NULL;
    if (n->inflight_tail)
        n->inflight_tail->next = req;
    else
        n->inflight_head = req;
    n->inflight_tail = req;
    if (n->apply_next == NULL)
        n->apply_next = req;
    return 0;
}


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
    if (store_stats(n->store, &st) == 0 && ulid_compare(st.last_id, n->ids.last) > 0)
        memcpy(n->ids.last, st.last_id, ULID_BYTES);
    n->ready = true;
    log_info("leader for term %" PRIu64 ", ready for writes (applied index %" PRIu64 ")",
             (uint64_t)n->raft.current_term, (uint64_t)raft_last_applied(&n->raft));
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

static void node_entry_cb(struct raft_apply *apply, int status, void *result)
{
    (void)result;
    if (status != 0)
        log_info("proposed entry %" PRIu64 ": %s", (uint64_t)apply->index, raft_strerror(status));
    free(apply);
}

int node_propose_entry(struct node *n, const Eventflow__Entry *entry)
{
    struct raft_buffer buf;
    if (entry_encode(entry, &buf) != 0)
        return NODE_EINTERNAL;
    struct raft_apply *req = xcalloc(1, sizeof *req);
    int rv = node_raft_apply(n, req, &buf, node_entry_cb);
    if (rv != 0) {
        free(req);
        log_info("proposing an entry: %s", raft_strerror(rv));
        return rv == RAFT_NOTLEADER ? NODE_ENOLEADER : NODE_EINTERNAL;
    }
    return 0;
}

void node_publish_self(struct node *n)
{
    char current[CONFIG_ADDR_MAX];
    uint64_t inc = 0;
    if (store_member_get(n->store, n->cfg->id, current, sizeof current, &inc) == 0 &&
        strcmp(current, n->cfg->advertise) == 0 && inc == n->incarnation)
        return;
    Eventflow__MemberAddress ma = EVENTFLOW__MEMBER_ADDRESS__INIT;
    ma.id = n->cfg->id;
    ma.client_address = (char *)n->cfg->advertise;
    ma.incarnation = n->incarnation;
    Eventflow__Entry entry = EVENTFLOW__ENTRY__INIT;
    entry.command_case = EVENTFLOW__ENTRY__COMMAND_MEMBER_ADDRESS;
    entry.member_address = &ma;
    (void)node_propose_entry(n, &entry);
}

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

bool node_caught_up(struct node *n)
{
    return n->store != NULL && served_caught_up(&n->served, store_applied_index(n->store));
}

static void node_watch_role(struct node *n)
{
    unsigned short state = (unsigned short)raft_state(&n->raft);
    raft_term term = n->raft.current_term;
    (void)node_contact_age(n);
    if (state == n->last_state && term == n->last_term)
        return;
    if (state != n->last_state)
        log_info("raft state %s -> %s (term %" PRIu64 ")", state_name(n->last_state), state_name(state),
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

void node_stop_for_reapply(struct node *n, const char *what)
{
    log_error("%s failed: %s; stopping (a restart re-applies them)", what,
              n->store != NULL ? store_errmsg(n->store) : "no store");
    _exit(1);
}

void node_flush(struct node *n)
{
    if (n->store == NULL)
        return;
    if (store_flush(n->store) != 0)
        node_stop_for_reapply(n, "committing applied entries");
}

void node_before_sleep(struct node *n)
{
    /* What raft committed this turn goes into the store now, after raft_uv
     * has started its next write (fsm.c), and the replies follow. */
    node_settle(n);
    /* A commit failed somewhere else this turn (a snapshot's, a state
     * copy's): as in node_flush, only a restart recovers. */
    if (n->store != NULL && store_batch_lost(n->store))
        node_stop_for_reapply(n, "committing applied entries");
    /* Reads see the open batch, so committing it is only about bounding
     * its size (and what a crash makes raft re-apply): on the timer below,
     * or now when it has grown large. */
    if (n->store != NULL && (store_batch_entries(n->store) >= NODE_BATCH_MAX ||
                             store_batch_bytes(n->store) >= NODE_BATCH_MAX_BYTES))
        node_flush(n);
    /* Replies are written after this (server.c): record how far they may
     * reach before any leaves. */
    if (n->store != NULL)
        served_note(&n->served, store_applied_index(n->store));
    if (n->started && !n->closing)
        node_watch_role(n);
}



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

int node_leader_client_address(struct node *n, char *out, size_t cap)
{
    raft_id id;
    const char *raft_addr;
    if (!n->raft_running)
        return -1;
    raft_leader(&n->raft, &id, &raft_addr);
    if (id == 0)
        return -1;
    return node_member_client_address(n, id, out, cap);
}

static void json_str(struct buf *b, const char *key, const char *val)
{
    /* Values here are addresses and fixed words: no escaping needed beyond
     * refusing quotes and control characters. */
    buf_printf(b, "\"%s\":\"", key);
    for (const char *p = val; *p; p++)
        if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
            buf_append_char(b, *p);
    buf_append_str(b, "\",");
}

size_t node_state_sources(struct node *n, char ***out)
{
    const struct raft_configuration *conf = &n->raft.configuration;
    char **list = xcalloc(conf->n + 1, sizeof *list);
    size_t count = 0;
    list[count++] = xstrdup(n->cfg->advertise);
    char addr[CONFIG_ADDR_MAX];
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

void node_write_status(struct node *n, struct buf *b)
{
    struct store_stats st;
    memset(&st, 0, sizeof st);
    (void)store_stats(n->store, &st);
    char leader[CONFIG_ADDR_MAX] = "";
    raft_id leader_id = 0;
    const char *leader_raft = NULL;
    if (n->raft_running)
        raft_leader(&n->raft, &leader_id, &leader_raft);
    if (leader_id != 0 && node_leader_client_address(n, leader, sizeof leader) != 0)
        leader[0] = '\0';
    char sum[CHECKSUM_B32_LEN + 1];
    checksum_format(st.checksum, sum);
    char last_id[ULID_STR_LEN + 1];
    ulid_format(st.last_id, last_id);

    buf_append_char(b, '{');
    buf_printf(b, "\"id\":%" PRIu64 ",", n->cfg->id);
    json_str(b, "state", n->raft_running ? state_name((unsigned short)raft_state(&n->raft)) : "unavailable");
    uint64_t contact_age;
    bool stale = node_is_stale(n, &contact_age);
    buf_printf(b, "\"stale\":%s,\"last_contact_ms\":%" PRIu64 ",", stale ? "true" : "false", contact_age);
    buf_printf(b, "\"ready\":%s,", n->ready ? "true" : "false");
    buf_printf(b, "\"caught_up\":%s,", node_caught_up(n) ? "true" : "false");
    buf_printf(b, "\"leader_id\":%" PRIu64 ",", (uint64_t)leader_id);
    json_str(b, "leader_address", leader);
    json_str(b, "client_address", n->cfg->advertise);
    json_str(b, "raft_address", n->cfg->raft_address);
    buf_printf(b, "\"term\":%" PRIu64 ",", (uint64_t)n->raft.current_term);
    buf_printf(b, "\"last_index\":%" PRIu64 ",", (uint64_t)(n->raft_running ? raft_last_index(&n->raft) : 0));
    buf_printf(b, "\"commit_index\":%" PRIu64 ",", (uint64_t)n->raft.commit_index);
    buf_printf(b, "\"applied_index\":%" PRIu64 ",", (uint64_t)(n->raft_running ? raft_last_applied(&n->raft) : 0));
    buf_printf(b, "\"snapshot_index\":%" PRIu64 ",", (uint64_t)n->raft.trail.snapshot.index);
    buf_printf(b, "\"store_applied_index\":%" PRIu64 ",", st.applied_index);
    buf_printf(b, "\"events\":%" PRIu64 ",", st.event_count);
    buf_printf(b, "\"streams\":%" PRIu64 ",", st.stream_count);
    json_str(b, "checksum", sum);
    json_str(b, "last_id", last_id);
    buf_printf(b, "\"db_bytes\":%" PRIu64 ",", st.db_bytes);
    /* The room other members' leader checks against (space.h); 0 if it
     * could not be measured (the failed commit stops the node). */
    uint64_t room = 0;
    if (n->store != NULL && store_space_room(n->store, &room) != 0)
        room = 0;
    buf_printf(b, "\"map_bytes\":%" PRIu64 ",\"map_room_bytes\":%" PRIu64 ",", st.map_size, room);
    buf_printf(b, "\"member_room_reports\":%zu,", space_reports(&n->space));
    buf_printf(b, "\"state_fetches\":%" PRIu64 ",\"state_fetched_bytes\":%" PRIu64 ",", n->state_fetches,
               n->state_fetched_bytes);
    buf_printf(b, "\"state_copies_served\":%" PRIu64 ",", transfer_served(n->transfer));
    buf_printf(b, "\"append_messages\":%" PRIu64 ",\"append_messages_sent\":%" PRIu64 ",", n->rio.sendq.messages_in,
               n->rio.sendq.messages_out);
    buf_printf(b, "\"log_appends\":%" PRIu64 ",\"log_appends_written\":%" PRIu64 ",", n->rio.appends_in,
               n->rio.appends_out);
    buf_printf(b, "\"uptime_ms\":%" PRIu64 ",", node_uptime_ms(n));
    /* The node's wall clock, the one its ADDs stamp into ids and added_at:
     * an operator (or the jepsen clock nemesis) can see a skewed node. */
    buf_printf(b, "\"time_ms\":%" PRId64 ",", node_realtime_ns() / 1000000);
    buf_printf(b, "\"version\":\"%s\"}", EVENTFLOW_VERSION);
}

static void node_raft_close_cb(struct raft *r)
{
    struct node *n = r->data;
    /* Whatever raft committed while closing reaches the store and its
     * client (the connection may be gone; the reply is then dropped). */
    node_settle(n);
    /* raft_close released io and transport through their close hooks; the
     * structs themselves are ours. */
    appendq_close(&n->rio);
    raft_uv_close(appendq_io(&n->rio));
    raft_uv_tcp_close(&n->rtcp.transport);
    raft_tcp_close(&n->rtcp);
    fsm_close(&n->fsm);
    store_close(n->store); /* waits for copies in flight */
    n->store = NULL;
    served_close(&n->served);
    transfer_free(n->transfer);
    n->transfer = NULL;
    n->raft_running = false;
    n->started = false;
    log_info("stopped");
    if (n->close_cb)
        n->close_cb(n);
}

void node_close(struct node *n, node_close_cb cb)
{
    if (n->closing)
        return;
    n->closing = true;
    node_settle(n);
    membership_stop(n);
    transfer_stop(n->transfer);
    space_close(&n->space);
    if (n->flush_timer_open) {
        uv_timer_stop(&n->flush_timer);
        uv_close((uv_handle_t *)&n->flush_timer, NULL);
        n->flush_timer_open = false;
    }
    n->ready = false;
    n->close_cb = cb;
    if (!n->raft_running) {
        if (cb)
            cb(n);
        return;
    }
    raft_close(&n->raft, node_raft_close_cb);
}
