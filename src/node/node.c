/* node.c - one node's lifecycle: opening the store and setting raft up,
 * bootstrapping or joining, starting, closing; the end-of-turn steps that
 * keep the store and the replies in step with raft; and the one way out
 * when the store lost what raft counts as applied. The write path is in
 * write.c, leadership in role.c (node_internal.h lists the files). */
#include "node/node_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/addr.h"
#include "common/fatal.h"
#include "common/log.h"
#include "common/mem.h"
#include "node/fsm.h"
#include "node/membership.h"
#include "node/restore.h"
#include "node/transfer.h"
#include "raftio/raft_auth.h"
#include "version.h"

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

const char *node_log_role(void)
{
    if (node_current == NULL || !node_current->started)
        return "-";
    return node_state_name(node_current->last_state);
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
_Static_assert(NODE_MIN_CLUSTER_SECRET == RAFT_AUTH_MIN_SECRET, "one limit for the cluster secret");

/* Without a cluster secret or TLS anyone who reaches the raft port can
 * speak raft to this node (raft_tcp.h): fine on loopback, not elsewhere. */
static void warn_if_raft_open(const struct node_config *cfg)
{
    const char *addr = cfg->raft_bind[0] != '\0' ? cfg->raft_bind : cfg->raft_address;
    char host[NODE_ADDR_MAX];
    unsigned port;
    if (addr_split(addr, host, sizeof host, &port) == 0 && addr_host_is_loopback(host))
        return;
    log_warn("raft listens on %s without TLS or a cluster secret: anyone who can reach that port can send raft "
             "messages that depose the leader or write to the log. Give every member --raft-tls with certificates "
             "from one peer CA, or --cluster-secret (or --cluster-secret-file), or both; running without either "
             "is for loopback only (docs/operations.md, \"The raft port\")",
             addr);
}

/* Raft's transport: TLS, the secret, and the warning without either. */
static int node_protect_raft(struct node *n, const struct node_config *cfg)
{
    if (cfg->cluster_secret != NULL)
        raft_tcp_set_secret(&n->rtcp, cfg->id, cfg->cluster_secret, strlen(cfg->cluster_secret));
    if (cfg->peer_cert != NULL) {
        char err[512];
        if (raft_tcp_set_tls(&n->rtcp, cfg->peer_cert, cfg->peer_key, cfg->peer_ca, err, sizeof err) != 0) {
            log_error("raft TLS: %s", err);
            return -1;
        }
        log_info("raft connections run inside mutual TLS (peer CA %s)", cfg->peer_ca);
    }
    if (cfg->cluster_secret == NULL && cfg->peer_cert == NULL)
        warn_if_raft_open(cfg);
    return 0;
}

int node_reload_tls(struct node *n, char *err, size_t errlen)
{
    return raft_tcp_reload_tls(&n->rtcp, err, errlen);
}

static void node_quiet_raft_tracing(struct node *n)
{
    if (getenv("LIBRAFT_TRACE") != NULL)
        return;
    n->raft.tracer = NULL;
    raft_uv_set_tracer(appendq_io(&n->rio), NULL);
}

static int node_init(struct node *n, const struct node_config *cfg_in, uv_loop_t *loop)
{
    char path[4096];
    char err[512];
    int rv;

    n->cfg_copy = *cfg_in;
    n->cfg = &n->cfg_copy;
    const struct node_config *cfg = n->cfg;
    n->loop = loop;
    n->started_ms = node_monotonic_ms();
    n->last_state = RAFT_UNAVAILABLE;
    n->last_contact_ms = uv_now(loop);
    n->contact_since_ms = n->last_contact_ms;
    ulid_gen_init(&n->ids);
    node_current = n;

    if (cfg->restore != NULL && restore_install(cfg->restore, cfg->data_dir) != 0)
        return -1;
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
    /* Without a durable point, an OS crash before the first snapshot would
     * find the store untrusted and start it empty (store_durable.c). */
    if (cfg->restore != NULL && store_sync(n->store) != 0) {
        log_error("syncing the restored store: %s", store_errmsg(n->store));
        goto err_after_store_open;
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
    raft_tcp_init(&n->rtcp, loop);
    raft_tcp_on_peer_closed(&n->rtcp, node_leader_link_closed, n);
    if (node_protect_raft(n, cfg) != 0)
        goto err_after_transport_init;
    node_identity_refresh(n);
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
    if (restore_compaction_pending(cfg->data_dir)) {
        /* Snapshot at the first entry applied and keep none behind it
         * (restore.h); node_restore_settle puts the settings back. */
        n->restore_compacting = true;
        raft_set_snapshot_threshold(&n->raft, 1);
        raft_set_snapshot_trailing(&n->raft, 0);
        log_info("restored store: the first raft snapshot compacts the log, so that joining members fetch the "
                 "store");
    }
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

struct node *node_new(const struct node_config *cfg, uv_loop_t *loop)
{
    struct node *n = xcalloc(1, sizeof *n);
    if (node_init(n, cfg, loop) != 0) {
        if (node_current == n)
            node_current = NULL;
        free(n);
        return NULL;
    }
    return n;
}

void node_free(struct node *n)
{
    if (n == NULL)
        return;
    if (node_current == n)
        node_current = NULL;
    while (n->spare_writes != NULL) {
        struct node_write *w = n->spare_writes;
        n->spare_writes = w->next;
        free(w);
    }
    free(n);
}

/* Once a restored node's first snapshot is taken, back to the configured
 * snapshot settings. */
static void node_restore_settle(struct node *n)
{
    if (!n->restore_compacting || n->raft.trail.snapshot.index == 0)
        return;
    n->restore_compacting = false;
    raft_set_snapshot_threshold(&n->raft, n->cfg->snapshot_threshold);
    raft_set_snapshot_trailing(&n->raft, n->cfg->snapshot_trailing);
    if (restore_compaction_done(n->cfg->data_dir) == 0)
        log_info("restored store: raft log compacted at index %" PRIu64, (uint64_t)n->raft.trail.snapshot.index);
}

static void node_flush_timer_cb(uv_timer_t *t)
{
    node_flush(t->data);
    node_restore_settle(t->data);
    node_log_budget_settle(t->data);
}

static void node_preflight_done(struct node *n, int status)
{
    const struct node_config *cfg = n->cfg;
    struct raft_configuration conf;
    int rv;

    if (status != 0 || n->closing)
        goto failed;
    if (n->pristine && cfg->join[0] != '\0') {
        /* Joining: the cluster's leader sends us its log; bootstrapping
         * here would create a second, diverging cluster. */
        log_info("empty data directory: joining the cluster through %s", cfg->join);
    } else if (n->pristine && cfg->cluster_state_existing) {
        log_info("empty data directory: waiting to be added to a cluster (--cluster-state existing); add this "
                 "node from the leader with 'eventflowctl member add %" PRIu64 " %s %s'",
                 cfg->id, cfg->raft_address, cfg->advertise);
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
    /* A lone voter elects itself inside raft_start, before any turn's
     * poll (role.c) could see it campaign. */
    if (n->last_state == RAFT_LEADER || n->last_state == RAFT_CANDIDATE)
        n->elections++;
    n->started = true;
    uv_timer_init(n->loop, &n->flush_timer);
    n->flush_timer.data = n;
    uv_timer_start(&n->flush_timer, node_flush_timer_cb, NODE_FLUSH_MS, NODE_FLUSH_MS);
    n->flush_timer_open = true;
    if ((rv = space_start(&n->space, n)) != 0)
        log_warn("members' store room will not be checked: %s", uv_strerror(rv));
    if ((rv = retention_start(&n->retention, n)) != 0)
        log_warn("retention will not run on this node: %s", uv_strerror(rv));
    membership_start(n);
    log_info("started: raft %s, clients %s, data %s, incarnation %016" PRIx64 ", eventflowd %s, malloc %s",
             cfg->raft_address, cfg->advertise, cfg->data_dir, n->incarnation, EVENTFLOW_VERSION,
             EVENTFLOW_ALLOCATOR);
    return;

failed:
    if (n->start_failed)
        n->start_failed(n->start_failed_data);
}

int node_start(struct node *n, void (*failed)(void *data), void *data)
{
    n->start_failed = failed;
    n->start_failed_data = data;
    if (membership_load_identity(n) != 0)
        return -1;
    membership_preflight(n, node_preflight_done);
    return 0;
}

void node_apply_committed(struct node *n)
{
    fsm_drain(&n->fsm);
}

_Noreturn void node_stop_for_reapply(struct node *n, const char *what)
{
    fatal_restart("%s failed: %s; raft re-applies the entries at restart", what,
                  n->store != NULL ? store_errmsg(n->store) : "no store");
}

void node_flush(struct node *n)
{
    if (n->store == NULL)
        return;
    if (store_flush(n->store) != 0)
        node_stop_for_reapply(n, "committing applied entries");
}

void node_commit_batch(struct node *n)
{
    if (n->store == NULL)
        return;
    /* A commit failed somewhere else this turn (a snapshot's, a state
     * copy's): as in node_flush, only a restart recovers. */
    if (store_batch_lost(n->store))
        node_stop_for_reapply(n, "committing applied entries");
    /* Reads see the open batch, so committing it is only about bounding
     * its size (and what a crash makes raft re-apply): on the timer, or
     * now when it has grown large. */
    if (store_batch_entries(n->store) >= NODE_BATCH_MAX || store_batch_bytes(n->store) >= NODE_BATCH_MAX_BYTES)
        node_flush(n);
}

void node_note_served(struct node *n)
{
    if (n->store != NULL)
        served_note(&n->served, store_applied_index(n->store));
}

struct store *node_store(struct node *n)
{
    return n->store;
}

struct transfer *node_transfer(struct node *n)
{
    return n->transfer;
}

static void node_raft_close_cb(struct raft *r)
{
    struct node *n = r->data;
    /* Whatever raft committed while closing reaches the store and its
     * client (the connection may be gone; the reply is then dropped). */
    node_apply_committed(n);
    node_finish_requests(n);
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
    if (n->closed)
        n->closed(n->closed_data);
}

void node_close(struct node *n, void (*closed)(void *data), void *data)
{
    if (n->closing)
        return;
    n->closing = true;
    node_apply_committed(n);
    node_finish_requests(n);
    membership_stop(n);
    transfer_stop(n->transfer);
    space_close(&n->space);
    retention_close(&n->retention);
    if (n->flush_timer_open) {
        uv_timer_stop(&n->flush_timer);
        uv_close((uv_handle_t *)&n->flush_timer, NULL);
        n->flush_timer_open = false;
    }
    n->ready = false;
    n->closed = closed;
    n->closed_data = data;
    if (!n->raft_running) {
        if (closed)
            closed(data);
        return;
    }
    raft_close(&n->raft, node_raft_close_cb);
}
