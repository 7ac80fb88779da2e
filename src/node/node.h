/* node.h - one eventflow node: the raft instance, the LMDB store it applies
 * to, the leader's write path, membership and state transfer.
 *
 * The node is the only owner of raft: everything above it (the server's
 * commands, reads and cluster changes) goes through the functions below,
 * and struct node is opaque outside src/node/.
 *
 * Lifecycle: node_new opens the store and sets raft up; node_start checks
 * the data directory's identity, bootstraps a new one with the configured
 * members (unless it joins or waits to be added) and starts raft;
 * node_close stops raft and closes the store; node_free frees the node once
 * the loop has run out.
 *
 * Callbacks' status, unless a function says otherwise: 0 done; NODE_EUNKNOWN
 * the outcome is unknown (leadership was lost or the node stopped after
 * the entry was proposed: a later leader may still commit it); another
 * negative NODE_E* code: it failed, and `why` (may be NULL) says how.
 *
 * Threading: the loop thread only (the node's own worker-thread copies of
 * the store are internal). */
#ifndef EVENTFLOW_NODE_H
#define EVENTFLOW_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/buf.h"
#include "eventflow.pb-c.h"
#include "node/node_config.h"
#include "protocol/codec.h"
#include "store/store.h"

struct node;
struct raft_tls;
struct transfer;

enum {
    NODE_ENOTLEADER = -1,  /* another node leads: see node_leader_client_address */
    NODE_ENOLEADER = -2,   /* no leader is known right now */
    NODE_ENOTREADY = -3,   /* leader, but its first barrier has not applied yet */
    NODE_EFULL = -4,       /* the store is (nearly) full */
    NODE_ETOOBIG = -5,     /* the entry exceeds the largest allowed entry */
    NODE_ESHUTDOWN = -6,   /* the node is stopping */
    NODE_EINTERNAL = -7,   /* raft refused for another reason: see the log */
    NODE_EMEMBERFULL = -8, /* another member's store is (nearly) full: node_full_member */
    NODE_EUNKNOWN = -9,    /* proposed, outcome unknown (see above) */
    NODE_EFAILED = -10,    /* proposed, and it failed */
    /* Membership changes (node_change_membership). */
    NODE_EBUSY = -11,        /* another change is in progress */
    NODE_EIDINUSE = -12,     /* the id is a member already */
    NODE_EADDRINUSE = -13,   /* the raft address is a member's already */
    NODE_ENOMEMBER = -14,    /* no such member, or not eligible for the change */
    NODE_ESAMEROLE = -15,    /* the member has that role already */
    NODE_EUNREACHABLE = -16, /* a promotion's catch-up never reached the member */
    NODE_ENOTMOVED = -17,    /* leadership did not move within an election timeout */
    NODE_EHANDOVER = -18,    /* stopping: leadership is being handed over (node_handover) */
};

/* ---- lifecycle ---------------------------------------------------------- */

/* Open the store and set raft up (nothing runs until node_start). Returns
 * the node, or NULL after logging why. cfg is copied (what it points to is
 * borrowed). */
struct node *node_new(const struct node_config *cfg, uv_loop_t *loop);

/* Check the data directory's identity (membership.h), bootstrap it if it is
 * new (see node_config), then start raft. Parts are asynchronous: if they
 * fail, failed(data) is called, and the node should be closed. Returns -1
 * on an immediate failure. */
int node_start(struct node *n, void (*failed)(void *data), void *data);

/* Stop raft and close the store, then call closed(data) (may be NULL). */
void node_close(struct node *n, void (*closed)(void *data), void *data);

/* Free a closed node once its loop has run out (uv_run returned): requests
 * to other members may still call back after node_close, and they find the
 * node closing. NULL is a no-op. */
void node_free(struct node *n);

/* Read raft's TLS files again (SIGHUP): raft connections made from now on
 * use them, open ones stay, so the cluster is not disturbed. 0 (also
 * without raft TLS), or -1 with the reason in err and the old files kept. */
int node_reload_tls(struct node *n, char *err, size_t errlen);

/* The current raft role of this process's node for log lines ("leader",
 * "follower", "candidate", or "-" before it started). */
const char *node_log_role(void);

/* ---- the end of a loop turn (server.c's server_turn_end runs them in order) */

/* Apply the entries raft has committed and the store not yet: call before
 * reading state that must include everything committed. */
void node_apply_committed(struct node *n);
/* Finish the ADDs that are both applied and committed (their done()). */
void node_finish_requests(struct node *n);
/* Commit the store's open batch if it has grown large (a timer commits it
 * every second otherwise); stop the process if a commit failed. */
void node_commit_batch(struct node *n);
/* Commit the store's open batch now (SIZE wants LMDB's figure of it).
 * Stops the process if the commit fails. */
void node_flush(struct node *n);
/* Record how far the replies about to be written may reach (served.h). */
void node_note_served(struct node *n);
/* Notice a change of raft role: a new leader proposes its first barrier. */
void node_watch_role(struct node *n);

/* ---- writes -------------------------------------------------------------- */

/* A proposed write (an ADD, or group operations). The caller allocates it
 * and keeps it alive until `done` runs. Two callbacks, because raft fires
 * apply callbacks later than the apply itself (several entries may be
 * applied in between), while the store's outcome is only valid during the
 * apply:
 *   applied(req, outcome)  runs inside the state machine's apply of this
 *                          very entry, on the leader that proposed it: the
 *                          place to render the reply from `outcome`;
 *   done(req, status, why) runs afterwards: 0 committed and applied
 *                          (applied ran before, unless the entry was
 *                          applied while this node was restarting its
 *                          state: then req->was_applied is false), or as
 *                          at the top of this file. */
struct node_proposal;
struct node_proposal {
    void *data; /* user data */
    void (*applied)(struct node_proposal *req, const struct store_outcome *outcome);
    void (*done)(struct node_proposal *req, int status, const char *why);
    bool was_applied;
    /* private */
    void *priv;
};

/* Stamp and propose an ADD (leader only): ids and added_at are assigned
 * here, so every replica applies identical events. On 0, done will be
 * called exactly once; on a negative NODE_E* code neither callback runs and
 * nothing was proposed. */
int node_propose_add(struct node *n, const struct codec_add *add, struct node_proposal *req);

/* Propose a GroupOps entry (leader only): the node stamps its clock
 * (now_ms) and, on the first group entry of its leadership, leader_start.
 * Callbacks and returns as node_propose_add's; the outcome's `groups` has
 * one result per operation. The entry is copied before this returns. */
int node_propose_groups(struct node *n, Eventflow__GroupOps *ops, struct node_proposal *req);

/* Propose a StreamOp (STREAM DELETE, SETMETA; leader only): the node
 * stamps its clock (now_ns). Callbacks and returns as node_propose_add's;
 * the outcome's stream_result says what it did. The entry is copied. */
int node_propose_stream(struct node *n, Eventflow__StreamOp *op, struct node_proposal *req);

/* Have the leader look for retention work now (retention.h): after a
 * removal, its reclaim starts without waiting for the next tick. */
void node_retention_kick(struct node *n);

/* The group clock as this node would stamp it now: its wall clock, or the
 * last group clock applied if that is ahead (ms). */
int64_t node_group_now(struct node *n);

/* Propose an entry that is not an ADD (a member's address, settings).
 * Leader only; returns 0 or a NODE_E* code, and then cb (may be NULL) runs
 * exactly once, with 0 once the entry is committed and applied here. The
 * entry is copied. */
typedef void (*node_done_cb)(void *data, int status, const char *why);
int node_propose_entry(struct node *n, const Eventflow__Entry *entry, node_done_cb cb, void *data);

/* The member whose store NODE_EMEMBERFULL was about. */
uint64_t node_full_member(const struct node *n);

/* ---- watching what is applied ------------------------------------------- */

/* Told of every entry this node's store applies, leader or follower, in
 * index order (subscriptions feed on it). applied(data, outcome) runs
 * during the apply: the outcome and its events are valid only in the call,
 * and it must not call back into the node. reset(data) runs when the store
 * was replaced by a peer's copy, whose entries were never applied here one
 * at a time: whoever follows the log must read it again from the store. */
struct node_apply_watch {
    void (*applied)(void *data, const struct store_outcome *outcome);
    void (*reset)(void *data);
    void *data;
};

/* Set the watcher (one per node; NULL fields: none). */
void node_watch_applied(struct node *n, const struct node_apply_watch *watch);

/* ---- reads and the node's state ------------------------------------------ */

/* The store, for reads and stats. Borrowed; valid until node_close. */
struct store *node_store(struct node *n);

/* Whether this node is the leader (ready or not). */
bool node_is_leader(struct node *n);

/* Ask raft for a barrier: cb runs once every entry committed before it is
 * applied here (0; the node then still led when the barrier committed), or
 * with NODE_EUNKNOWN when leadership was lost. Leader only: returns
 * NODE_ENOTLEADER elsewhere, and then cb never runs. */
int node_barrier(struct node *n, node_done_cb cb, void *data);

/* Has this node been without contact with a leader for longer than
 * --max-staleness? *age_ms is set either way (0 on the leader). */
bool node_is_stale(struct node *n, uint64_t *age_ms);

/* Whether this node has applied again everything its replies reflected
 * before it restarted (served.h); local reads wait for it. *applied and
 * *mark (may be NULL) say how far it is. */
bool node_caught_up(struct node *n, uint64_t *applied, uint64_t *mark);

/* Client address of member id (from the replicated members table, else the
 * initial configuration) into out; returns 0, or -1 (out empty) if unknown. */
int node_member_client_address(struct node *n, uint64_t id, char *out, size_t cap);

/* Client address of the current leader into out; returns 0, or -1 if no
 * leader or its address is unknown. */
int node_leader_client_address(struct node *n, char *out, size_t cap);

/* TLS client address of member id (its --tls-advertise, as it registered
 * it in the replicated members table) into out; returns 0, or -1 (out
 * empty) if it registered none: TLS clients are never sent to a plaintext
 * address. */
int node_member_tls_address(struct node *n, uint64_t id, char *out, size_t cap);
/* Where a node-to-node request (peer.h) for member id goes: with raft TLS
 * on and a TLS address registered for the member, that address, and the
 * peers' TLS context in *tls (borrowed, valid while the node lives); else
 * its plaintext client address and *tls NULL. 0, or -1 when no address is
 * known. */
int node_member_peer_address(struct node *n, uint64_t id, char *out, size_t cap, struct raft_tls **tls);
/* The same for the leader; -1 when none is known. */
int node_leader_peer_address(struct node *n, char *out, size_t cap, struct raft_tls **tls);

/* TLS client address of the current leader into out; returns 0, or -1 if
 * no leader or it registered no TLS address. */
int node_leader_tls_address(struct node *n, char *out, size_t cap);

/* Append this node's status as one JSON object (STATUS in docs/protocol.md). */
void node_write_status(struct node *n, struct buf *b);

uint64_t node_uptime_ms(const struct node *n);

/* The identity as 32 lowercase hex digits. */
void node_cluster_id_hex(const uint8_t id[STORE_CLUSTER_ID_BYTES], char out[2 * STORE_CLUSTER_ID_BYTES + 1]);

/* ---- metrics (node/metrics.c) -------------------------------------------- */

struct hist;

/* The node's figures for the METRICS exposition, read from where they
 * already live (raft, the log's writer, the store); the histograms are
 * borrowed and valid until the next loop turn. */
struct node_metrics {
    uint64_t term;
    const char *role;            /* "leader", "follower", "candidate", "unavailable" */
    uint64_t leader_id;          /* 0: none known */
    uint64_t last_index, commit_index, applied_index, snapshot_index;
    uint64_t elections;          /* campaigns seen starting here (pre-vote included) */
    uint64_t leader_changes;     /* times the known leader became another node */
    uint64_t log_appends;        /* appends raft asked for */
    uint64_t log_writes;         /* appends handed to raft_uv (appendq.h) */
    const struct hist *log_write_entries;
    const struct hist *log_write_latency_ns;
    uint64_t append_messages, append_messages_sent;
    uint64_t snapshots_taken;
    uint64_t log_bytes_since_snapshot; /* entries applied since the last snapshot (log_budget.c) */
    uint64_t state_fetches, state_fetched_bytes, state_copies_served;
    /* Raft connections refused: of another cluster, without a valid proof
     * of the cluster secret, closed for a bad message (raft_tcp.h). */
    uint64_t raft_refused_cluster, raft_refused_secret, raft_refused_frame, raft_refused_tls;
};
void node_read_metrics(struct node *n, struct node_metrics *m);

/* One other member, as the leader sees its replication. */
struct node_peer_lag {
    uint64_t id;
    const char *raft_address; /* valid during the callback */
    uint64_t match_index;     /* the last entry known to be in its log */
    uint64_t lag;             /* entries the leader's log has past match_index */
};

/* On the leader, fn(arg, peer) for every other member of the
 * configuration; elsewhere nothing. Returns the number of calls. */
size_t node_each_peer(struct node *n, void (*fn)(void *arg, const struct node_peer_lag *p), void *arg);

/* ---- membership --------------------------------------------------------- */

enum node_role { NODE_ROLE_VOTER, NODE_ROLE_STANDBY, NODE_ROLE_SPARE };

const char *node_role_name(enum node_role role);

/* One member of the raft configuration, as this node knows it. */
struct node_server {
    uint64_t id;
    char raft_address[NODE_ADDR_MAX];
    enum node_role role;
};

/* The configuration this node holds: a malloc'ed array (caller frees) in
 * *out, its length returned. *committed: whether a quorum holds it (it
 * may be a change still on its way). */
size_t node_configuration(struct node *n, struct node_server **out, bool *committed);

enum node_change_kind { NODE_CHANGE_ADD, NODE_CHANGE_ASSIGN, NODE_CHANGE_REMOVE };

/* Change the configuration (leader only, one change at a time): add member
 * id at raft_address as a spare, assign it `role` (a voter is caught up
 * first), or remove it. Returns 0 and later cb(data, status, why), or a
 * NODE_E* code (and cb never runs). Statuses: those at the top, and
 * NODE_EBUSY, NODE_EIDINUSE, NODE_EADDRINUSE, NODE_ENOMEMBER, NODE_ESAMEROLE,
 * NODE_EUNREACHABLE. */
int node_change_membership(struct node *n, enum node_change_kind kind, uint64_t id, const char *raft_address,
                           enum node_role role, node_done_cb cb, void *data);

/* Hand leadership to member id (0: raft picks a voter). Returns 0 and later
 * cb(data, 0, NULL) once another node leads, or with NODE_ENOTMOVED if
 * leadership did not move within an election timeout; or a NODE_E* code as
 * node_change_membership's (cb never runs). */
int node_transfer_leadership(struct node *n, uint64_t id, node_done_cb cb, void *data);

/* Before an orderly stop, on the leader of a cluster with another voter:
 * refuse new writes (NODE_EHANDOVER), let those in flight finish (for at
 * most half a second), then hand leadership to the most caught-up voter
 * (handover.c says why). Returns 0 and calls done(data) once leadership
 * moved or the attempt ended (possibly before returning); -1 when there is
 * nothing to hand over (not leading, no other voter), and done never runs.
 * node_close must wait for done. */
int node_handover(struct node *n, void (*done)(void *data), void *data);

/* ---- state transfer --------------------------------------------------------- */

/* What serves copies of this node's store to peers (transfer.h). */
struct transfer *node_transfer(struct node *n);

#endif
