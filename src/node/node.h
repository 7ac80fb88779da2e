/* node.h - one eventflow node: the Raft instance (raft_uv + raft_uv_tcp),
 * the LMDB store it applies to, and the leader-side write path.
 *
 * Lifecycle: node_init opens the store and sets up raft; node_start
 * bootstraps a pristine data directory with the configured members and
 * starts raft; node_close stops raft and closes the store, calling the
 * callback once everything is released.
 *
 * Threading: everything runs on the loop thread, except the store copies
 * that transfer.c writes on a worker thread. */
#ifndef EVENTFLOW_NODE_H
#define EVENTFLOW_NODE_H

#include <raft.h>
#include <raft/uv.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/buf.h"
#include "eventflow.pb-c.h"
#include "server/config.h"
#include "raftio/raft_tcp.h"
#include "raftio/appendq.h"
#include "node/served.h"
#include "node/space.h"
#include "protocol/codec.h"
#include "store/store.h"
#include "common/ulid.h"

struct node;

/* Errors returned by node_propose_add before anything was proposed. */
enum {
    NODE_ENOTLEADER = -1, /* another node leads: see node_leader_client_address */
    NODE_ENOLEADER = -2,  /* no leader is known right now */
    NODE_ENOTREADY = -3,  /* leader, but its first barrier has not applied yet */
    NODE_EFULL = -4,      /* the store is (nearly) full */
    NODE_ETOOBIG = -5,    /* the entry exceeds the largest allowed entry */
    NODE_ESHUTDOWN = -6,  /* the node is stopping */
    NODE_EINTERNAL = -7,  /* raft refused for another reason: see the log */
    NODE_EMEMBERFULL = -8, /* another member's store is (nearly) full: n->full_member */
};

/* A proposed ADD. The caller allocates it and keeps it alive until `done`
 * runs. Two callbacks, because raft 0.22 fires apply callbacks later than
 * the apply itself (several entries may be applied in between), while the
 * store's outcome is only valid during the apply:
 *   applied(req, outcome)  runs inside the state machine's apply of this
 *                          very entry, on the leader that proposed it: the
 *                          place to render the reply from `outcome`;
 *   done(req, status)      runs afterwards. status 0: committed and applied
 *                          (applied ran before, unless the entry was applied
 *                          while this node was restarting its state, then
 *                          req->was_applied is false). RAFT_LEADERSHIPLOST or
 *                          RAFT_SHUTDOWN: outcome unknown, a later leader may
 *                          still commit it. Anything else: it failed. */
struct node_add;
struct node_add {
    void *data; /* user data */
    void (*applied)(struct node_add *req, const struct store_outcome *outcome);
    void (*done)(struct node_add *req, int status);
    bool was_applied;
    /* private */
    bool committed;               /* raft's callback said 0 before the outcome came */
    struct raft_apply apply;
    struct node *node;
    size_t bytes;                 /* the entry's size as the space check counts it */
    struct node_add *prev, *next; /* in node's in-flight list, index order */
};

typedef void (*node_close_cb)(struct node *n);

struct node {
    const struct config *cfg; /* borrowed */
    uv_loop_t *loop;          /* borrowed */
    struct store *store;      /* owned */
    struct raft raft;
    struct appendq rio;       /* raft_uv's io: appends per turn (appendq.h), AppendEntries coalesced (sendq.h) */
    struct raft_tcp rtcp;     /* raft_uv_tcp with TCP_NODELAY (raft_tcp.h) */
    struct raft_fsm fsm;
    struct ulid_gen ids;      /* leader's id generator */
    uint64_t started_ms;      /* CLOCK_MONOTONIC at start, for UPTIME */

    /* Leadership tracking: polled every loop turn (raft 0.22 has no state
     * callback in the classic API). */
    unsigned short last_state;
    raft_term last_term;
    bool ready;                /* leader and the barrier of this term applied */
    bool barrier_pending;
    struct raft_barrier barrier;
    raft_term barrier_term;
    uint64_t last_contact_ms;  /* uv_now when a leader was last known in contact */
    uint64_t contact_since_ms; /* uv_now when the current run of contact began */

    struct node_add *inflight_head, *inflight_tail; /* proposed, not yet done */
    struct node_add *apply_next; /* first in-flight request whose entry has not applied yet */
    uint64_t inflight_bytes;     /* sum of their `bytes` */
    /* Applied and committed, done() not called yet: node_before_sleep
     * calls it, outside raft's callbacks (fsm_drain may run inside one). */
    struct node_add *finished_head, *finished_tail;

    /* Identity and membership (membership.c). */
    uint64_t incarnation;      /* random, drawn when the data directory was new */
    bool pristine;             /* the data directory had no identity at start */
    int join_step;
    bool membership_busy;      /* a join/register request is in flight */
    uv_timer_t membership_timer;
    void (*start_failed)(struct node *n);

    /* State transfer (transfer.c serves copies, fetch.c gets one). */
    struct served served;      /* how far replies reached, across restarts */
    struct transfer *transfer; /* owned */
    uint64_t state_fetches;    /* copies of a peer's store installed here */
    uint64_t state_fetched_bytes;

    struct space space;        /* other members' store room, while leading (space.h) */
    uint64_t full_member;      /* the member NODE_EMEMBERFULL was about */

    uv_timer_t flush_timer;    /* commits the store's batch periodically */
    bool flush_timer_open;
    bool raft_running;         /* raft_init succeeded, raft_close not yet called */
    bool started;              /* raft_start succeeded */
    bool closing;
    node_close_cb close_cb;
    void *fsm_state;           /* owned by fsm.c */
};

/* Set up the store and raft (nothing runs until node_start). On error a
 * message is logged and the node is left closed (node_close is not needed). */
int node_init(struct node *n, const struct config *cfg, uv_loop_t *loop);
/* Check the data directory's identity (see membership.h), bootstrap it if
 * it is new and not joining, then start raft. Parts of this are
 * asynchronous: if they fail, `failed` is called (the node is then not
 * running and should be closed). Returns -1 on an immediate failure. */
int node_start(struct node *n, void (*failed)(struct node *n));
/* Stop raft, close the store, then call cb (on the loop thread). */
void node_close(struct node *n, node_close_cb cb);

/* Run once per loop turn, before the loop blocks: notice role changes, and
 * commit the store's batch if it has grown large. A store error is fatal
 * (see store.h). */
void node_before_sleep(struct node *n);

/* Whether this node has applied again everything its replies reflected
 * before it restarted (served.h); local reads wait for it. */
bool node_caught_up(struct node *n);

/* Log that `what` failed with the store's error and exit(1) at once: the
 * store lost entries raft counts as applied, and only a restart (raft
 * re-applies them) recovers. */
_Noreturn void node_stop_for_reapply(struct node *n, const char *what);

/* Commit the store's pending batch now (a no-op when nothing is pending).
 * Fatal on error. */
void node_flush(struct node *n);

/* Stamp and propose an ADD (leader only): ids and added_at are assigned
 * here, so every replica applies identical events. req->applied and
 * req->done must be set. On 0, done will be called exactly once; on a
 * negative NODE_E* code neither callback runs and nothing was proposed. */
int node_propose_add(struct node *n, const struct codec_add *add, struct node_add *req);

/* Record this node's client address and incarnation in the replicated
 * members table (leader only; a no-op elsewhere). */
void node_publish_self(struct node *n);

/* Propose an entry that is not an ADD (a member's address, settings).
 * Leader only; returns 0 or a NODE_E* code, and then cb (may be NULL) runs
 * exactly once: status 0 once the entry is committed and applied here,
 * RAFT_LEADERSHIPLOST / RAFT_SHUTDOWN when its outcome is unknown (a later
 * leader may still commit it), another raft code when it failed. The entry
 * is copied. */
typedef void (*node_entry_cb)(void *data, int status);
int node_propose_entry(struct node *n, const Eventflow__Entry *entry, node_entry_cb cb, void *data);

/* Hand the cluster identity the store holds (if any) to the raft
 * transport's hello (raft_tcp.h): at start, when the identity entry is
 * applied, and when the store was replaced by a peer's copy. */
void node_identity_refresh(struct node *n);

/* The identity as 32 lowercase hex digits. */
void node_cluster_id_hex(const uint8_t id[STORE_CLUSTER_ID_BYTES], char out[2 * STORE_CLUSTER_ID_BYTES + 1]);

/* Called by the state machine (fsm.c) after applying the entry at `index`:
 * hands the outcome to the request that proposed it, if this node did. */
void node_entry_applied(struct node *n, uint64_t index, const struct store_outcome *outcome);

/* Apply the entries raft has committed and the store not yet (fsm_drain):
 * call before reading state that must include everything committed. */
void node_apply_committed(struct node *n);

/* Client address of member id (from the replicated members table, else the
 * initial configuration) into out; returns 0, or -1 (out empty) if unknown. */
int node_member_client_address(struct node *n, uint64_t id, char *out, size_t cap);

/* Client address of the current leader into out; returns 0, or -1 if no
 * leader or its address is unknown. */
int node_leader_client_address(struct node *n, char *out, size_t cap);

/* Append this node's status as one JSON object (see STATUS in docs). */
void node_write_status(struct node *n, struct buf *b);

/* Client addresses of the members (this node's first) that can serve a
 * copy of the state: *out is a malloc'ed array of malloc'ed strings.
 * Returns the count. */
size_t node_state_sources(struct node *n, char ***out);
void node_state_sources_free(char **sources, size_t n);

uint64_t node_uptime_ms(const struct node *n);

/* Has this node been without contact with a leader for longer than
 * --max-staleness? *age_ms is set either way (0 on the leader). */
bool node_is_stale(struct node *n, uint64_t *age_ms);
/* Whether this node has been in uninterrupted contact with a leader for at
 * least two election timeouts (see fsm.c for why snapshots care). */
bool node_contact_steady(struct node *n);
const char *node_role_name(void);

#endif
