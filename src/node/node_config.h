/* node_config.h - what a node is told when it starts: who it is, where it
 * listens, where its data lives, the members a new cluster starts with,
 * and raft's settings. The server fills it from its options
 * (server/config.c, config_node); the node keeps a copy. Strings and the
 * member list are borrowed: they must outlive the node. */
#ifndef EVENTFLOW_NODE_CONFIG_H
#define EVENTFLOW_NODE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest host:port kept, NUL included. */
#define NODE_ADDR_MAX 256

/* The shortest cluster secret a node takes (raft_auth.h's limit). */
#define NODE_MIN_CLUSTER_SECRET 16

/* One member of the initial cluster. */
struct node_member {
    uint64_t id;
    char raft_address[NODE_ADDR_MAX];   /* host:port */
    char client_address[NODE_ADDR_MAX]; /* host:port */
};

struct node_config {
    uint64_t id;
    char advertise[NODE_ADDR_MAX];      /* client address told to others */
    char tls_advertise[NODE_ADDR_MAX];  /* TLS client address told to others; empty = no TLS port */
    char raft_address[NODE_ADDR_MAX];   /* this node's raft host:port */
    char raft_bind[NODE_ADDR_MAX];      /* raft listener; empty = raft_address */
    char join[NODE_ADDR_MAX];           /* client address of a member to join through; empty = none */
    bool cluster_state_existing;        /* an empty directory waits to be added */
    const struct node_member *members;  /* the initial cluster (this node alone by default) */
    size_t n_members;
    const char *data_dir;
    const char *restore;                /* a backup file an empty data_dir starts from; NULL = none */
    const char *peer_token;             /* for requests to other members, as "@peer" (acl_peer.h); NULL = none */
    const char *cluster_secret;         /* raft peers must prove it (raft_tcp.h); NULL = none */
    const char *peer_cert;              /* raft inside mutual TLS with this PEM chain (raft_tls.h); NULL = off */
    const char *peer_key;               /* its key */
    const char *peer_ca;                /* the CA peers' certificates must chain to */
    size_t map_size;                    /* LMDB map size */
    uint64_t min_free_disk;             /* kept free on the data directory's filesystem */
    unsigned snapshot_threshold;
    unsigned snapshot_trailing;
    uint64_t snapshot_log_bytes;        /* snapshot once this many bytes of entries were applied; 0 = never */
    unsigned election_timeout_ms;
    unsigned heartbeat_timeout_ms;
    unsigned max_staleness_ms;          /* refuse local reads after this long without a leader; 0 = never */
    uint64_t dedup_window;              /* what a new cluster's first leader records */
    bool dedup_window_set;              /* given explicitly (a differing recorded one is logged) */
};

#endif
