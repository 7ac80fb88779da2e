/* redis_cluster.h - the cluster as a Redis 7 Cluster client sees it: the
 * whole key space (slots 0-16383) is one shard, whose primary is the raft
 * leader and whose replicas are the other voters and the standbys (spares
 * hold no copy of the log and are left out). CLUSTER SLOTS, SHARDS, NODES,
 * MYID, MYSHARDID, INFO and KEYSLOT answer in Redis's formats from every
 * node, as this node knows the configuration and the leader right now.
 *
 * Node ids: Redis names a node by 40 hex digits. A member's is the
 * cluster's identity (32 hex digits, STATUS's cluster_id) followed by its
 * raft id as 8 hex digits, so every member computes the same id for every
 * member and it survives restarts; before the identity entry is applied
 * the first 32 digits are zeros.
 *
 * Loop thread only. */
#ifndef EVENTFLOW_REDIS_CLUSTER_H
#define EVENTFLOW_REDIS_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "node/node_config.h"
#include "protocol/resp_parser.h"

struct conn;
struct node;

#define REDIS_CLUSTER_SLOTS 16384
#define REDIS_NODE_ID_LEN 40

/* One member of the shard, as this node knows it. Its address is the
 * one clients of the asking connection's port reach: its TLS address to a
 * TLS connection, else its plaintext client address. */
struct redis_member {
    uint64_t id;       /* raft id */
    char host[NODE_ADDR_MAX]; /* of its client address; empty if unknown */
    unsigned port;     /* client port; 0 when the address is unknown */
    unsigned cport;    /* raft port: Redis's bus port */
    bool primary;
    bool myself;
    /* Its replication offset as this node knows it: the applied index for
     * itself, the match index the leader has for a peer, else 0. */
    uint64_t offset;
    char node_id[REDIS_NODE_ID_LEN + 1];
};

/* The shard: the members that hold the log (voters and standbys), the
 * primary first. */
struct redis_view {
    struct redis_member *m; /* owned: redis_view_free */
    size_t n;
    bool has_leader;        /* false: no leader known, this node stands in as primary */
    uint64_t term;          /* Redis's epochs */
    uint64_t applied;       /* this node's applied index: its replication offset */
};

void redis_view_load(struct conn *c, struct redis_view *v);
void redis_view_free(struct redis_view *v);

/* Member raft_id's Redis node id into out (40 hex digits and a NUL). */
void redis_cluster_node_id(struct node *n, uint64_t raft_id, char out[REDIS_NODE_ID_LEN + 1]);

/* The slot a Redis Cluster client computes for key: CRC16 (XMODEM) of the
 * key, or of its hash tag (the bytes between the first '{' and the next
 * '}', when not empty), modulo 16384. */
unsigned redis_cluster_key_slot(const char *key, size_t len);

/* Handle CLUSTER SLOTS|SHARDS|NODES|MYID|MYSHARDID|INFO|KEYSLOT and return
 * true; false (nothing written) for any other subcommand: eventflow's own
 * (cluster.c). */
bool redis_cluster_command(struct conn *c, const struct resp_command *cmd);

/* The reply to a write (or a linearizable read) on a node that is not the
 * leader: -MOVED <slot> <leader's client address> (its TLS address on a
 * TLS connection, and no-leader's error while it has registered none: a
 * TLS client is never sent to a plaintext port), the slot being the one
 * the client computed for the request's key (conn's key_arg; 0 for keyless
 * requests and for connections without a socket, whose readers expect
 * "MOVED 0"); with no leader known, -CLUSTERDOWN to TCP connections that
 * introduced themselves as Redis clients (conn.h, redis_client), which
 * retry it, and -NOLEADER to eventflow's own clients and to connections
 * without a socket (the HTTP listener maps NOLEADER to its status). */
void redis_cluster_not_leader(struct conn *c, struct buf *out);

/* The no-leader error alone (see redis_cluster_not_leader). */
void redis_cluster_no_leader(struct conn *c, struct buf *out);

#endif
