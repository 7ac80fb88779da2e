/* metrics.c - the node's figures for METRICS (node.h): gauges read from
 * raft and the store at the time of the scrape, counters kept where the
 * events happen (role.c, fsm.c, raftio/appendq.c). Nothing is copied ahead
 * of time, so a scrape is the only cost. */
#include "node/node_internal.h"

#include "node/transfer.h"

void node_read_metrics(struct node *n, struct node_metrics *m)
{
    bool running = n->raft_running;
    m->term = (uint64_t)n->raft.current_term;
    m->role = running ? node_state_name((unsigned short)raft_state(&n->raft)) : "unavailable";
    raft_id leader = 0;
    const char *leader_address = NULL;
    if (running)
        raft_leader(&n->raft, &leader, &leader_address);
    m->leader_id = (uint64_t)leader;
    m->last_index = running ? (uint64_t)raft_last_index(&n->raft) : 0;
    m->commit_index = (uint64_t)n->raft.commit_index;
    m->applied_index = running ? (uint64_t)raft_last_applied(&n->raft) : 0;
    m->snapshot_index = (uint64_t)n->raft.trail.snapshot.index;
    m->elections = n->elections;
    m->leader_changes = n->leader_changes;
    m->log_appends = n->rio.appends_in;
    m->log_writes = n->rio.appends_out;
    m->log_write_entries = &n->rio.write_entries;
    m->log_write_latency_ns = &n->rio.write_latency_ns;
    m->append_messages = n->rio.sendq.messages_in;
    m->append_messages_sent = n->rio.sendq.messages_out;
    m->snapshots_taken = n->snapshots_taken;
    m->log_bytes_since_snapshot = n->log_budget.bytes;
    m->state_fetches = n->state_fetches;
    m->state_fetched_bytes = n->state_fetched_bytes;
    m->raft_refused_cluster = n->rtcp.stats.refused;
    m->raft_refused_secret = n->rtcp.stats.unauthenticated;
    m->raft_refused_frame = n->rtcp.stats.bad_frames;
    m->raft_refused_tls = n->rtcp.stats.tls_refused;
    m->state_copies_served = transfer_served(n->transfer);
}

size_t node_each_peer(struct node *n, void (*fn)(void *arg, const struct node_peer_lag *p), void *arg)
{
    if (!node_is_leader(n))
        return 0;
    const struct raft_configuration *conf = &n->raft.configuration;
    uint64_t last = (uint64_t)raft_last_index(&n->raft);
    size_t calls = 0;
    for (unsigned i = 0; i < conf->n; i++) {
        raft_index match = 0;
        if (conf->servers[i].id == n->cfg->id || raft_match_index(&n->raft, conf->servers[i].id, &match) != 0)
            continue;
        struct node_peer_lag p = {
            .id = conf->servers[i].id,
            .raft_address = conf->servers[i].address,
            .match_index = (uint64_t)match,
            .lag = last > (uint64_t)match ? last - (uint64_t)match : 0,
        };
        fn(arg, &p);
        calls++;
    }
    return calls;
}
