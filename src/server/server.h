/* server.h - the client listener: accepts RESP connections, owns them, and
 * ends every loop turn (right before the loop blocks) in the order
 * server.c's server_turn_end states: apply what raft committed, finish
 * ADDs, record the served index, serve waiting reads, write every reply
 * produced during the turn. */
#ifndef EVENTFLOW_SERVER_H
#define EVENTFLOW_SERVER_H

#include <stddef.h>
#include <uv.h>

#include "protocol/resp_parser.h"
#include "server/config.h"
#include "server/metrics.h"
#include "server/reads.h"

struct node;
struct conn;
struct tls_server;

struct server {
    const struct config *cfg;   /* borrowed */
    struct node *node;          /* borrowed */
    uv_loop_t *loop;            /* borrowed */
    uv_tcp_t listener;
    uv_tcp_t tls_listener;      /* open when tls is set */
    struct tls_server *tls;     /* owned; NULL without --tls-port */
    uv_prepare_t before_sleep;  /* runs server_turn_end */
    struct conn *conns;         /* open connections */
    size_t n_conns;
    struct conn *dirty;         /* connections with output to write */
    struct resp_limits limits;          /* after AUTH (or with auth off) */
    struct resp_limits limits_preauth;  /* before AUTH: small, so unauthenticated
                                         * clients cannot make us buffer much */
    struct reads reads;         /* reads waiting for a position or a barrier */
    struct subs *subs;          /* subscriptions (subscribe.h), owned */
    struct groups *groups;      /* consumer groups' requests (groups.h), owned */
    uint64_t next_conn_id;      /* the last connection id handed out */
    struct metrics metrics;     /* timed commands (metrics.h) */
    /* Set by the HTTP listener once it listens (--http-advertise): STATUS
     * tells it, so that another node can redirect HTTP clients here. */
    const char *http_address;
};

/* Bind and listen on cfg->bind:cfg->port, and on cfg->bind:cfg->tls_port
 * for TLS clients if it is set (after loading the certificate and key).
 * Returns 0 or -1 (logged). */
int server_init(struct server *s, const struct config *cfg, struct node *node, uv_loop_t *loop);
/* Stop listening, answer waiting reads, close every connection. A
 * connection with a request still in raft is freed when raft answers it. */
void server_close(struct server *s);

/* SIGHUP: read the TLS certificate, key and CA files again for the
 * connections accepted from now on; open ones keep theirs. A failure is
 * logged and keeps the files loaded before. Nothing without --tls-port. */
void server_tls_reload(struct server *s);

/* STATUS: the node's object (node_write_status) with the server's fields
 * (connections, subscriptions, http_address, the TLS port's) added. */
void server_write_status(struct server *s, struct buf *b);

/* Queue c for writing at the end of this loop turn. */
void server_mark_dirty(struct server *s, struct conn *c);

#endif
