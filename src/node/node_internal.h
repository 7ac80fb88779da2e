/* node_internal.h - struct node and what the files of src/node/ share.
 * Nothing outside src/node/ includes it: above the node, node.h is the
 * interface, and raft is the node's alone.
 *
 * The node's files:
 *   node.c        lifecycle: open, bootstrap or join, start, close; the
 *                 end-of-turn steps; the one way out (node_stop_for_reapply)
 *   write.c       the leader's write path: stamping and proposing ADDs and
 *                 other entries, the requests in flight, their replies
 *   role.c        raft's role and term watched each turn, a new leader's
 *                 first barrier, contact with the leader (staleness),
 *                 barriers for reads, leaders' and members' addresses
 *   change.c      configuration changes and leadership transfer
 *   handover.c    a leader's leadership handed over before an orderly stop
 *   status.c      the STATUS object; metrics.c, the figures METRICS exposes
 *   fsm.c         raft's state machine over the store (apply, snapshots)
 *   membership.c  the data directory's identity, --join, registration
 *   space.c       other members' room, while leading
 *   retention.c   the leader's max_age expiry and reclaim of removed events
 *   transfer.c    serving store images; fetch.c, installing a peer's
 *   served.c      how far replies reached, across restarts
 *   restore.c     a backup file installed as a new cluster's store
 *   entry.c       encoding entries; peer.c, one-shot requests to members */
#ifndef EVENTFLOW_NODE_INTERNAL_H
#define EVENTFLOW_NODE_INTERNAL_H

#include <raft.h>
#include <raft/uv.h>
#include <time.h>

#include "common/ulid.h"
#include "node/node.h"
#include "node/retention.h"
#include "node/served.h"
#include "node/space.h"
#include "raftio/appendq.h"
#include "raftio/raft_tcp.h"

/* One proposed ADD while raft has it: the caller's request and raft's. */
struct node_write {
    struct raft_apply apply;          /* apply.data is this */
    struct node *node;
    struct node_proposal *req;             /* the caller's */
    bool committed;                   /* raft said committed before the outcome came */
    size_t bytes;                     /* the entry's size as the space check counts it */
    struct node_write *prev, *next;   /* in the in-flight list (index order), or the finished one */
};

/* The raft log's bytes since the last snapshot (log_budget.c). */
struct node_log_budget {
    uint64_t bytes;            /* of the entries applied since the last snapshot */
    uint64_t entries;
    bool threshold_lowered;    /* a snapshot by bytes is due at the next applied entry */
    bool trailing_lowered;     /* raft's trailing count is lowered until that snapshot is installed */
    raft_index snapshot_index; /* that snapshot, once taken; 0 before */
    bool logged;
};

struct node {
    struct node_config cfg_copy;
    const struct node_config *cfg; /* &cfg_copy */
    uv_loop_t *loop;          /* borrowed */
    struct store *store;      /* owned */
    struct raft raft;
    struct appendq rio;       /* raft_uv's io: appends per turn (appendq.h), AppendEntries coalesced (sendq.h) */
    struct raft_tcp rtcp;     /* raft_uv_tcp with TCP_NODELAY, the hello, the secret, frame checks (raft_tcp.h) */
    struct raft_fsm fsm;
    struct ulid_gen ids;      /* leader's id generator */
    uint64_t started_ms;      /* CLOCK_MONOTONIC at start, for UPTIME */

    /* Leadership tracking (role.c): polled every loop turn (raft 0.22 has
     * no state callback in the classic API). */
    unsigned short last_state;
    raft_term last_term;
    raft_id last_leader;       /* the leader known at the last poll (0: none) */
    uint64_t elections;        /* times this node was seen campaigning (metrics) */
    uint64_t leader_changes;   /* times the known leader became another node */
    bool ready;                /* leader and the barrier of this term applied */
    bool barrier_pending;
    struct raft_barrier barrier;
    raft_term barrier_term;
    bool fast_election;        /* the election timeout is shortened: the leader's link closed (role.c) */
    raft_time fast_timer_start;/* raft's election_timer_start when it was */
    uint64_t last_contact_ms;  /* uv_now when a leader was last known in contact */
    uint64_t contact_since_ms; /* uv_now when the current run of contact began */

    /* The write path (write.c). */
    struct node_write *inflight_head, *inflight_tail; /* proposed, not yet done */
    struct node_write *apply_next; /* first in-flight write whose entry has not applied yet */
    uint64_t inflight_bytes;       /* sum of their `bytes` */
    /* Applied and committed, done() not called yet: node_finish_requests
     * calls it, outside raft's callbacks (fsm_drain may run inside one). */
    struct node_write *finished_head, *finished_tail;
    struct node_write *spare_writes; /* finished ones kept for reuse */
    size_t n_spare_writes;
    uint64_t full_member;      /* the member NODE_EMEMBERFULL was about */
    struct node_apply_watch apply_watch; /* told of every applied entry */
    raft_term groups_term;     /* the term whose leader_start was proposed (write.c) */

    /* Identity and membership (membership.c). */
    uint64_t incarnation;      /* random, drawn when the data directory was new */
    bool pristine;             /* the data directory had no identity at start */
    bool restore_compacting;   /* a restored store waits for its first snapshot (restore.h) */
    int join_step;
    bool membership_busy;      /* a join/register request is in flight */
    uv_timer_t membership_timer;
    void (*start_failed)(void *data);
    void *start_failed_data;

    /* State transfer (transfer.c serves copies, fetch.c gets one). */
    struct served served;      /* how far replies reached, across restarts */
    struct transfer *transfer; /* owned */
    uint64_t state_fetches;    /* copies of a peer's store installed here */
    uint64_t state_fetched_bytes;
    uint64_t snapshots_taken;  /* raft snapshots this node took (fsm.c) */
    struct node_log_budget log_budget; /* log_budget.c */

    struct space space;        /* other members' store room, while leading (space.h) */
    struct retention retention; /* the leader's expiry and reclaim (retention.h) */
    struct node_handover *handover; /* handover.c's; NULL unless stopping as the leader */

    uv_timer_t flush_timer;    /* commits the store's batch periodically */
    bool flush_timer_open;
    bool raft_running;         /* raft_init succeeded, raft_close not yet called */
    bool started;              /* raft_start succeeded */
    bool closing;
    void (*closed)(void *data);
    void *closed_data;
    void *fsm_state;           /* owned by fsm.c */
};

static inline uint64_t node_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The wall clock: what ids and added_at are stamped with. */
static inline int64_t node_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Log that `what` failed with the store's error and stop the process at
 * once (fatal.h): the store lost entries raft counts as applied, and only
 * a restart (raft re-applies them) recovers. */
_Noreturn void node_stop_for_reapply(struct node *n, const char *what);

/* Called by the state machine (fsm.c) after applying the entry at `index`:
 * hands the outcome to the request that proposed it, if this node did. */
void node_entry_applied(struct node *n, uint64_t index, const struct store_outcome *outcome);

/* Record this node's client and TLS addresses and incarnation in the
 * replicated members table (leader only; a no-op elsewhere). */
void node_publish_self(struct node *n);

/* Whether the replicated members table holds this node's client and TLS
 * addresses and incarnation as they are now. */
bool node_registered(struct node *n);

/* A new leader records what the log lacks: the cluster identity, the
 * idempotency-key window (write.c). */
void node_record_cluster(struct node *n);

/* Hand the cluster identity the store holds (if any) to the raft
 * transport's hello (raft_tcp.h): at start, when the identity entry is
 * applied, and when the store was replaced by a peer's copy. */
void node_identity_refresh(struct node *n);

/* Client addresses of the members (this node's first) that can serve a
 * copy of the state: *out is a malloc'ed array of malloc'ed strings.
 * Returns the count. */
size_t node_state_sources(struct node *n, char ***out);
void node_state_sources_free(char **sources, size_t n);

/* Whether this node has been in uninterrupted contact with a leader for at
 * least two election timeouts (see fsm.c for why snapshots care). */
bool node_contact_steady(struct node *n);

/* raft's state as a word, for logs and STATUS. */
const char *node_state_name(unsigned short state);

/* raft_tcp's peer_closed callback: a connection from `id` ended (role.c). */
void node_leader_link_closed(void *data, raft_id id);

/* A handover's step that waits for the writes in flight: each loop turn
 * (node_watch_role). */
void node_handover_turn(struct node *n);

/* ---- log_budget.c: snapshots by the raft log's bytes ------------------- */

/* An entry of len bytes was applied (fsm.c). */
void node_log_budget_applied(struct node *n, size_t len);
/* A snapshot was taken at index (fsm.c). */
void node_log_budget_snapshot(struct node *n, raft_index index);
/* Once a second (the flush timer): the configured settings back once the
 * snapshot by bytes is installed. */
void node_log_budget_settle(struct node *n);

#endif
