/* status.c - the STATUS object: one JSON object about this node, its
 * raft state, its store and its counters (docs/protocol.md lists the
 * fields). Built by hand, in a fixed order, because STATUS is asked often
 * (every member's twice a second by a leader's space checks). */
#include "node/node_internal.h"

#include <inttypes.h>
#include <string.h>

#include "node/peer.h"
#include "node/transfer.h"
#include "store/checksum.h"
#include "version.h"

uint64_t node_uptime_ms(const struct node *n)
{
    return node_monotonic_ms() - n->started_ms;
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

void node_write_status(struct node *n, struct buf *b)
{
    struct store_stats st;
    memset(&st, 0, sizeof st);
    (void)store_stats(n->store, &st);
    char leader[NODE_ADDR_MAX] = "";
    raft_id leader_id = 0;
    const char *leader_raft = NULL;
    if (n->raft_running)
        raft_leader(&n->raft, &leader_id, &leader_raft);
    if (leader_id != 0 && node_leader_client_address(n, leader, sizeof leader) != 0)
        leader[0] = '\0';
    char leader_tls[NODE_ADDR_MAX] = "";
    if (leader_id != 0 && node_leader_tls_address(n, leader_tls, sizeof leader_tls) != 0)
        leader_tls[0] = '\0';
    char sum[CHECKSUM_B32_LEN + 1];
    checksum_format(st.checksum, sum);
    char last_id[ULID_STR_LEN + 1];
    ulid_format(st.last_id, last_id);

    buf_append_char(b, '{');
    buf_printf(b, "\"id\":%" PRIu64 ",", n->cfg->id);
    json_str(b, "state", n->raft_running ? node_state_name((unsigned short)raft_state(&n->raft)) : "unavailable");
    uint64_t contact_age;
    bool stale = node_is_stale(n, &contact_age);
    buf_printf(b, "\"stale\":%s,\"last_contact_ms\":%" PRIu64 ",", stale ? "true" : "false", contact_age);
    buf_printf(b, "\"ready\":%s,", n->ready ? "true" : "false");
    buf_printf(b, "\"caught_up\":%s,", node_caught_up(n, NULL, NULL) ? "true" : "false");
    buf_printf(b, "\"leader_id\":%" PRIu64 ",", (uint64_t)leader_id);
    json_str(b, "leader_address", leader);
    json_str(b, "leader_tls_address", leader_tls);
    json_str(b, "client_address", n->cfg->advertise);
    json_str(b, "tls_address", n->cfg->tls_advertise);
    json_str(b, "raft_address", n->cfg->raft_address);
    buf_printf(b, "\"term\":%" PRIu64 ",", (uint64_t)n->raft.current_term);
    buf_printf(b, "\"last_index\":%" PRIu64 ",", (uint64_t)(n->raft_running ? raft_last_index(&n->raft) : 0));
    buf_printf(b, "\"commit_index\":%" PRIu64 ",", (uint64_t)n->raft.commit_index);
    buf_printf(b, "\"applied_index\":%" PRIu64 ",", (uint64_t)(n->raft_running ? raft_last_applied(&n->raft) : 0));
    buf_printf(b, "\"snapshot_index\":%" PRIu64 ",", (uint64_t)n->raft.trail.snapshot.index);
    buf_printf(b, "\"store_applied_index\":%" PRIu64 ",", st.applied_index);
    buf_printf(b, "\"events\":%" PRIu64 ",", st.event_count);
    buf_printf(b, "\"streams\":%" PRIu64 ",", st.stream_count);
    buf_printf(b,
               "\"live_events\":%" PRIu64 ",\"live_streams\":%" PRIu64 ",\"removed_events\":%" PRIu64
               ",\"reclaim_pending\":%" PRIu64 ",\"live_checksum\":\"%016" PRIx64 "\",\"retention_entries\":%" PRIu64
               ",",
               st.live_events, st.live_streams, st.removed_events, st.reclaim_pending, st.live_checksum,
               n->retention.entries);
    json_str(b, "checksum", sum);
    char digest[DIGEST_HEX_LEN + 1];
    digest_format(st.state_digest, digest);
    json_str(b, "state_digest", digest);
    buf_printf(b, "\"state_digest_since\":%" PRIu64 ",", st.state_digest_since);
    json_str(b, "last_id", last_id);
    char cluster_id[2 * STORE_CLUSTER_ID_BYTES + 1] = "";
    if (st.has_cluster_id)
        node_cluster_id_hex(st.cluster_id, cluster_id);
    json_str(b, "cluster_id", cluster_id);
    buf_printf(b, "\"dedup_window\":%" PRIu64 ",\"dedup_keys\":%" PRIu64 ",", st.dedup_window, st.dedup_keys);
    buf_printf(b, "\"groups\":%" PRIu64 ",\"group_clock_ms\":%" PRId64 ",", st.group_count, st.group_clock_ms);
    buf_printf(b, "\"raft_hellos_refused\":%" PRIu64 ",\"raft_hellos_legacy\":%" PRIu64 ",",
               n->rtcp.stats.refused, n->rtcp.stats.legacy);
    buf_printf(b, "\"raft_peers_unauthenticated\":%" PRIu64 ",\"raft_frames_refused\":%" PRIu64 ",",
               n->rtcp.stats.unauthenticated, n->rtcp.stats.bad_frames);
    buf_printf(b, "\"raft_cluster_secret\":%s,", n->rtcp.secret != NULL ? "true" : "false");
    buf_printf(b, "\"raft_tls\":%s,\"raft_tls_refused\":%" PRIu64 ",\"peer_tls_answers\":%" PRIu64 ",",
               n->rtcp.tls != NULL ? "true" : "false", n->rtcp.stats.tls_refused, peer_tls_answers());
    buf_printf(b, "\"db_bytes\":%" PRIu64 ",", st.db_bytes);
    uint64_t free_bytes = 0;
    (void)store_free_bytes(n->store, &free_bytes);
    buf_printf(b, "\"db_free_bytes\":%" PRIu64 ",", free_bytes);
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

