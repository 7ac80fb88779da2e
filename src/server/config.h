/* config.h - eventflowd's configuration, from flags and environment.
 *
 * Every setting has a flag and an environment variable (the EventflowDB
 * names PORT, DATA and PASSWORD among them); a flag wins over the
 * environment, which wins over the default. config.c describes each
 * option in one row of a table, from which --help is printed too. The
 * result is immutable after config_load returns. */
#ifndef EVENTFLOW_CONFIG_H
#define EVENTFLOW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "server/affinity.h"
#include "protocol/codec.h"
#include "node/node_config.h"
#include "store/store.h"

#define CONFIG_ADDR_MAX NODE_ADDR_MAX

/* --raft-tls: auto turns it on with --tls-port and a CA to check peers
 * against (docs/operations.md, "TLS between nodes"). */
enum config_raft_tls { CONFIG_RAFT_TLS_AUTO, CONFIG_RAFT_TLS_YES, CONFIG_RAFT_TLS_NO };

struct config {
    uint64_t id;
    char bind[CONFIG_ADDR_MAX];           /* client listener address */
    unsigned port;                        /* client listener port */
    char advertise[CONFIG_ADDR_MAX];      /* client address told to others */
    char raft_address[CONFIG_ADDR_MAX];   /* this node's raft host:port */
    char raft_bind[CONFIG_ADDR_MAX];      /* raft listener; empty = raft_address */
    char join[CONFIG_ADDR_MAX];           /* client address of a member to join through */
    struct node_member *members;          /* owned; initial cluster */
    size_t n_members;
    char *data_dir;                       /* owned */
    char *restore;                        /* owned; a backup to start a new cluster from, or NULL */
    char *password;                       /* owned; NULL = auth off */
    char *cluster_secret;                 /* owned; NULL = raft peers prove nothing */
    char peer_token[64 + 1];              /* acl_peer.h: what nodes AUTH with as "@peer"; empty = auth off */
    unsigned http_port;                   /* HTTP listener port; 0 = off */
    bool http_port_set;                   /* given, not the default: failing to bind it is fatal */
    char http_bind[CONFIG_ADDR_MAX];      /* HTTP listener address; empty = bind */
    char http_advertise[CONFIG_ADDR_MAX]; /* HTTP address redirects name; empty = advertise's host:http_port */
    bool http_open_health;                /* /health and /metrics answer without a password */
    bool http_tls;                        /* with tls_port: the HTTP port speaks HTTPS */
    unsigned tls_port;                    /* TLS client listener port; 0 = off */
    char tls_advertise[CONFIG_ADDR_MAX];  /* TLS address TLS clients are sent to; empty = advertise's host:tls_port */
    char *tls_cert;                       /* owned; PEM chain for the TLS port */
    char *tls_key;                        /* owned */
    char *tls_ca;                         /* owned; NULL = no client certificates checked */
    int tls_client_auth;                  /* enum tls_client_auth (server/tls.h) */
    unsigned tls_handshake_timeout_ms;    /* a TLS client's handshake must end within this */
    char *tls_peer_cert;                  /* owned; NULL = tls_cert */
    char *tls_peer_key;                   /* owned; NULL = tls_key */
    char *tls_peer_ca;                    /* owned; NULL = tls_ca */
    int raft_tls;                         /* enum config_raft_tls, as given */
    bool raft_tls_on;                     /* resolved: raft's connections run inside mutual TLS */

    size_t max_bulk;            /* largest bulk accepted after AUTH */
    size_t max_clients;
    size_t max_pending;         /* requests in flight per connection */
    size_t max_output;          /* unread reply bytes before a client is dropped */
    struct codec_limits codec;
    size_t map_size;
    uint64_t min_free_disk;     /* kept free on the data directory's filesystem */

    unsigned snapshot_threshold;
    unsigned snapshot_trailing;
    uint64_t snapshot_log_bytes;
    unsigned election_timeout_ms;
    unsigned heartbeat_timeout_ms;
    unsigned max_staleness_ms;  /* refuse local reads after this long without a leader; 0 = never */
    int log_level;
    struct affinity_spec cpu_affinity; /* default auto */
    /* Idempotency keys a new cluster remembers: the first leader records
     * it in the log, where CONFIG SET changes it (node.c). */
    uint64_t dedup_window;
    bool dedup_window_set;      /* given explicitly */
    /* An empty data directory waits to be added instead of bootstrapping. */
    bool cluster_state_existing;
};

/* Parse argv and the environment into cfg. Returns 0 on success, 1 if
 * --help or --version was printed (exit 0), -1 on error with a message in
 * err (exit 2). cfg is owned by the caller; release with config_free,
 * also after an error. */
int config_load(int argc, char **argv, struct config *cfg, char *err, size_t errlen);
void config_free(struct config *cfg);

/* The peer credential (acl_peer.h), or NULL when authentication is off. */
static inline const char *config_peer_token(const struct config *cfg)
{
    return cfg->peer_token[0] != '\0' ? cfg->peer_token : NULL;
}

/* What the node needs of cfg, into out; strings and members stay cfg's. */
void config_node(const struct config *cfg, struct node_config *out);
void config_usage(FILE *out);

/* Whether another member of the initial cluster (or the member to join
 * through) runs on this machine, as far as the configuration shows: its
 * address is a loopback one or one of this machine's (addr_host_is_local).
 * If so, why (naming it) goes into why. --cpu-affinity auto pins only a
 * node alone on its machine (affinity.h). */
bool config_shares_machine(const struct config *cfg, char *why, size_t whylen);

/* Parse "id@raft_host:port@client_host:port[,...]" into cfg->members. */
int config_parse_members(const char *spec, struct config *cfg, char *err, size_t errlen);

#endif
