/* metrics_render.c - the METRICS exposition (metrics.h): every family in a
 * fixed order, each read from where its state lives. docs/operations.md,
 * "Metrics", describes each one; keep the two in step. */
#include "server/metrics.h"

#include <inttypes.h>
#include <string.h>
#include <uv.h>

#include "common/log.h"
#include "common/prom.h"
#include "common/ulid.h"
#include "node/node.h"
#include "server/groups.h"
#include "server/server.h"
#include "server/subscribe.h"
#include "store/store.h"
#include "version.h"

#define NS_TO_SECONDS 1e-9

static void gauge(struct buf *b, const char *name, const char *help, uint64_t v)
{
    prom_family(b, name, "gauge", help);
    prom_u64(b, name, NULL, 0, v);
}

static void counter(struct buf *b, const char *name, const char *help, uint64_t v)
{
    prom_family(b, name, "counter", help);
    prom_u64(b, name, NULL, 0, v);
}

/* ---- raft ------------------------------------------------------------------ */

static void render_role(struct buf *b, const char *role)
{
    static const char *const roles[] = {"leader", "follower", "candidate", "unavailable"};
    prom_family(b, "eventflow_raft_role", "gauge", "1 for this node's raft role, 0 for the others");
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        struct prom_label l = {"role", roles[i]};
        prom_u64(b, "eventflow_raft_role", &l, 1, strcmp(role, roles[i]) == 0);
    }
}

struct peer_family {
    struct buf *b;
    const char *name;
    bool lag; /* lag, else match index */
};

static void render_peer(void *arg, const struct node_peer_lag *p)
{
    const struct peer_family *f = arg;
    char id[24];
    snprintf(id, sizeof id, "%" PRIu64, p->id);
    struct prom_label l[] = {{"peer_id", id}, {"peer_address", p->raft_address}};
    prom_u64(f->b, f->name, l, 2, f->lag ? p->lag : p->match_index);
}

static void render_peers(struct buf *b, struct node *node)
{
    struct peer_family lag = {b, "eventflow_raft_follower_lag_entries", true};
    prom_family(b, lag.name, "gauge",
                "On the leader: entries of its log a member is not known to hold (last index less match index)");
    (void)node_each_peer(node, render_peer, &lag);
    struct peer_family match = {b, "eventflow_raft_follower_match_index", false};
    prom_family(b, match.name, "gauge", "On the leader: the last log index known to be in a member's log");
    (void)node_each_peer(node, render_peer, &match);
}

static void render_node(struct buf *b, struct node *node)
{
    struct node_metrics m;
    node_read_metrics(node, &m);
    gauge(b, "eventflow_raft_term", "The current raft term", m.term);
    render_role(b, m.role);
    gauge(b, "eventflow_raft_leader_id", "The id of the leader this node knows (0: none)", m.leader_id);
    gauge(b, "eventflow_raft_last_index", "The last index of this node's raft log", m.last_index);
    gauge(b, "eventflow_raft_commit_index", "The highest log index known to be committed", m.commit_index);
    gauge(b, "eventflow_raft_applied_index", "The highest log index raft has applied", m.applied_index);
    gauge(b, "eventflow_raft_snapshot_index", "The log index of the last snapshot", m.snapshot_index);
    counter(b, "eventflow_raft_elections_total", "Campaigns this node started (pre-vote included)", m.elections);
    counter(b, "eventflow_raft_leader_changes_total", "Times the leader this node knows became another node",
            m.leader_changes);
    render_peers(b, node);
    counter(b, "eventflow_raft_log_appends_total", "Log appends raft asked for", m.log_appends);
    counter(b, "eventflow_raft_log_writes_total", "Log writes handed to the disk (appends of a loop turn together)",
            m.log_writes);
    prom_family(b, "eventflow_raft_log_write_entries", "histogram", "Entries per log write");
    prom_hist(b, "eventflow_raft_log_write_entries", NULL, 0, m.log_write_entries, &hist_per_batch, 1.0);
    prom_family(b, "eventflow_raft_log_write_seconds", "histogram",
                "Time from handing a log write to the disk to its completion (an O_DSYNC write: the log's fsync)");
    prom_hist(b, "eventflow_raft_log_write_seconds", NULL, 0, m.log_write_latency_ns, &hist_latency_ns,
              NS_TO_SECONDS);
    counter(b, "eventflow_raft_append_messages_total", "AppendEntries messages raft produced", m.append_messages);
    counter(b, "eventflow_raft_append_messages_sent_total", "AppendEntries messages sent after coalescing",
            m.append_messages_sent);
    prom_family(b, "eventflow_raft_connections_refused_total", "counter",
                "Raft connections refused or closed, by reason: a peer of another cluster, no valid proof of the "
                "cluster secret, a raft message that failed the checks, a failed TLS handshake");
    struct prom_label reasons[] = {
        {"reason", "other_cluster"}, {"reason", "unauthenticated"}, {"reason", "bad_frame"}, {"reason", "tls"}};
    uint64_t refused[] = {m.raft_refused_cluster, m.raft_refused_secret, m.raft_refused_frame, m.raft_refused_tls};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        prom_u64(b, "eventflow_raft_connections_refused_total", &reasons[i], 1, refused[i]);
    counter(b, "eventflow_snapshots_total", "Raft snapshots this node took", m.snapshots_taken);
    gauge(b, "eventflow_raft_log_since_snapshot_bytes",
          "Bytes of raft entries applied since the last snapshot (held in memory; --snapshot-log-bytes bounds them)",
          m.log_bytes_since_snapshot);
    counter(b, "eventflow_state_fetches_total", "Copies of a peer's store installed here", m.state_fetches);
    counter(b, "eventflow_state_fetched_bytes_total", "Bytes of peers' stores copied here", m.state_fetched_bytes);
    counter(b, "eventflow_state_copies_served_total", "Copies of this node's store served to peers",
            m.state_copies_served);
}

/* ---- the store ---------------------------------------------------------------- */

static int render_store(struct buf *b, struct store *store)
{
    struct store_stats st;
    if (store_stats(store, &st) != 0) {
        log_warn("metrics: the store's figures: %s", store_errmsg(store));
        return -1;
    }
    gauge(b, "eventflow_events", "Live events (EVENTCOUNT): appended and not removed", st.live_events);
    gauge(b, "eventflow_streams", "Live streams (STREAMCOUNT): written and not deleted", st.live_streams);
    gauge(b, "eventflow_events_removed", "Events removed by deletes and retention", st.removed_events);
    gauge(b, "eventflow_reclaim_pending_events", "Removed events whose rows are still stored", st.reclaim_pending);
    gauge(b, "eventflow_store_applied_index", "The log index the store has applied", st.applied_index);
    gauge(b, "eventflow_db_bytes", "Bytes of the LMDB map in use, as of the last commit", st.db_bytes);
    gauge(b, "eventflow_db_map_bytes", "The LMDB map's size (--map-size)", st.map_size);
    uint64_t room;
    int rc = store_space_room_estimate(store, &room);
    if (rc != 0) {
        log_warn("metrics: the store's room: %s", store_errmsg(store));
        return -1;
    }
    gauge(b, "eventflow_db_room_bytes",
          "Bytes the store can still take: map or disk (less --min-free-disk), whichever is less; an "
          "under-estimate while a batch is open",
          room);
    gauge(b, "eventflow_dedup_keys", "Idempotency keys remembered", st.dedup_keys);
    gauge(b, "eventflow_groups", "Consumer groups", st.group_count);
    return 0;
}

/* ---- consumer groups ------------------------------------------------------------ */

static const struct {
    const char *name;
    const char *type;
    const char *help;
} group_families[METRICS_GROUP_FAMILIES] = {
    {"eventflow_group_pending", "gauge", "Events a group delivered and that are not acked yet"},
    {"eventflow_group_parked", "gauge", "Events a group parked after too many deliveries"},
    {"eventflow_group_lag_events", "gauge",
     "Events past a group's position (with filters, an upper bound on what it will deliver)"},
    {"eventflow_group_delivered_total", "counter", "Deliveries by a group, redeliveries included"},
    {"eventflow_group_acked_total", "counter", "Events a group's consumers acked"},
};

static int render_group(void *arg, const char *name, size_t len, const Eventflow__GroupRecord *g, uint64_t lag)
{
    struct metrics *m = arg;
    char label[STORE_GROUP_NAME_MAX + 1];
    if (len >= sizeof label)
        len = sizeof label - 1;
    memcpy(label, name, len);
    label[len] = '\0';
    struct prom_label l = {"group", label};
    uint64_t v[METRICS_GROUP_FAMILIES] = {g->pending, g->parked, lag, g->delivered, g->acked};
    for (size_t i = 0; i < METRICS_GROUP_FAMILIES; i++)
        prom_u64(&m->group_scratch[i], group_families[i].name, &l, 1, v[i]);
    return 0;
}

static int render_groups(struct buf *b, struct server *srv, struct metrics *m)
{
    for (size_t i = 0; i < METRICS_GROUP_FAMILIES; i++)
        buf_reset(&m->group_scratch[i]);
    struct store *store = node_store(srv->node);
    struct store_group_visitor v = {.arg = m, .group = render_group};
    int rc = store_group_list(store, &v);
    if (rc != 0) {
        log_warn("metrics: the consumer groups: %s", store_errmsg(store));
        return -1;
    }
    for (size_t i = 0; i < METRICS_GROUP_FAMILIES; i++) {
        prom_family(b, group_families[i].name, group_families[i].type, group_families[i].help);
        buf_append(b, m->group_scratch[i].data, m->group_scratch[i].len);
    }
    gauge(b, "eventflow_group_reads_waiting", "Blocked GROUP READs waiting for events", groups_waiting(srv->groups));
    return 0;
}

/* ---- clients ----------------------------------------------------------------------- */

static void render_commands(struct buf *b, const struct metrics *m)
{
    prom_family(b, "eventflow_commands_total", "counter", "Timed commands answered, by outcome");
    for (int c = 0; c < METRICS_N_COMMANDS; c++) {
        for (int o = 0; o < METRICS_N_OUTCOMES; o++) {
            /* ok always, errors once seen: a scrape stays short. */
            if (o != METRICS_OK && m->outcomes[c][o] == 0)
                continue;
            struct prom_label l[] = {{"command", metrics_command_name(c)}, {"outcome", metrics_outcome_name(o)}};
            prom_u64(b, "eventflow_commands_total", l, 2, m->outcomes[c][o]);
        }
    }
    prom_family(b, "eventflow_command_duration_seconds", "histogram",
                "Time from a command's dispatch to its complete reply (ADD: committed and applied)");
    for (int c = 0; c < METRICS_N_COMMANDS; c++) {
        struct prom_label l = {"command", metrics_command_name(c)};
        prom_hist(b, "eventflow_command_duration_seconds", &l, 1, &m->latency_ns[c], &hist_latency_ns,
                  NS_TO_SECONDS);
    }
}

static void render_clients(struct buf *b, struct server *srv)
{
    gauge(b, "eventflow_connections", "Client connections open", srv->n_conns);
    counter(b, "eventflow_connections_accepted_total", "Client connections accepted", srv->next_conn_id);
    struct subs_metrics sm;
    subs_read_metrics(srv->subs, &sm);
    prom_family(b, "eventflow_subscriptions", "gauge", "Subscriptions, live or catching up from the store");
    struct prom_label live = {"state", "live"}, catching_up = {"state", "catching_up"};
    prom_u64(b, "eventflow_subscriptions", &live, 1, sm.live);
    prom_u64(b, "eventflow_subscriptions", &catching_up, 1, sm.catching_up);
    gauge(b, "eventflow_subscriber_output_bytes", "Output queued for subscribed connections, in all",
          sm.output_bytes);
    gauge(b, "eventflow_subscriber_output_max_bytes", "Output queued for the fullest subscribed connection",
          sm.output_max_bytes);
    prom_family(b, "eventflow_subscriber_lag_max_seconds", "gauge",
                "How far the furthest subscription behind is from the newest event, by the events' id times");
    prom_double(b, "eventflow_subscriber_lag_max_seconds", NULL, 0, (double)sm.lag_max_ms / 1000.0);
}

/* The scrape's own cost, as the loop pays it: the previous render's time
 * (this one's is not known until it is written). */
static void render_self(struct buf *b, const struct metrics *m)
{
    counter(b, "eventflow_metrics_renders_total", "Expositions rendered (METRICS, GET /metrics)", m->renders);
    prom_family(b, "eventflow_metrics_render_seconds", "gauge",
                "Loop time the previous exposition took to render (the scrape's cost to the node)");
    prom_double(b, "eventflow_metrics_render_seconds", NULL, 0, (double)m->render_ns * NS_TO_SECONDS);
}

int metrics_render(struct server *srv, struct buf *out)
{
    uint64_t start = uv_hrtime();
    size_t at = out->len;
    /* One allocation instead of a dozen doublings, each copying the text
     * so far (a thousand groups make 200 KiB). */
    (void)buf_reserve(out, srv->metrics.render_bytes + 4096);
    int rc = 0;
    prom_family(out, "eventflow_build_info", "gauge", "The version of eventflowd, as a label");
    struct prom_label version = {"version", EVENTFLOW_VERSION};
    prom_u64(out, "eventflow_build_info", &version, 1, 1);
    gauge(out, "eventflow_uptime_seconds", "Seconds since the node started", node_uptime_ms(srv->node) / 1000);
    render_node(out, srv->node);
    if (render_store(out, node_store(srv->node)) != 0)
        rc = -1;
    if (render_groups(out, srv, &srv->metrics) != 0)
        rc = -1;
    render_commands(out, &srv->metrics);
    render_clients(out, srv);
    render_self(out, &srv->metrics);
    srv->metrics.renders++;
    srv->metrics.render_ns = uv_hrtime() - start;
    srv->metrics.render_bytes = out->len - at;
    return rc;
}
