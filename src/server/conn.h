/* conn.h - one client connection: reading and parsing requests, keeping
 * replies in request order, writing them back.
 *
 * Replies must leave in the order requests arrived, but an ADD completes
 * only after raft commits it while a PING behind it could answer at once.
 * So a request that cannot answer immediately takes a reply slot
 * (conn_defer); every reply behind an unfinished slot waits in its own slot.
 * Completed replies move, in order, into the connection's output buffer,
 * which the server writes once per loop turn, after that turn's committed
 * entries were applied (server.c, server_turn_end): reads see the store's
 * open batch, so an acknowledged ADD is visible to any read that follows
 * it, committed to LMDB or not.
 *
 * Flow control: a connection with max_pending requests outstanding stops
 * reading until they complete; one whose unwritten output exceeds
 * max_output (a client that never reads) is closed.
 *
 * Lifetime: a connection is freed once it is closed and no deferred reply
 * refers to it (a refcount held by each slot). Loop thread only.
 *
 * Transports: a connection is a TCP client, or a connection without a
 * socket (conn_open_sink) through which another front end (the HTTP layer,
 * src/http/) runs requests: it hands parsed requests to commands_dispatch
 * as the TCP path does, and receives the completed replies, in order, in
 * its sink's flush callback instead of a socket write. Everything above the
 * transport (auth, ordering, deferred ADDs, reads, subscriptions) is the
 * same code for both; the TCP path pays one branch per flush.
 *
 * A TCP client is plaintext or TLS (conn_tls.h): a TLS connection's reads
 * are decrypted into `in` and its output encrypted at flush time, so the
 * layers above see the same bytes either way. */
#ifndef EVENTFLOW_CONN_H
#define EVENTFLOW_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "common/buf.h"
#include "protocol/resp_parser.h"

/* Longest user name (ACL SETUSER refuses longer ones). */
#define ACL_CONN_NAME_MAX 64

struct acl_rules;
struct conn;
struct conn_tls;
struct server;
struct sub;
struct tls_server;

/* The other end of a connection without a socket. */
struct conn_sink {
    /* Called at the end of a loop turn when out holds replies or messages,
     * each complete, in order: take what can be taken now (buf_consume);
     * what is left stays unsent (conn_unsent) until the next flush, which
     * conn_wake asks for. */
    void (*flush)(void *data, struct conn *c, struct buf *out);
    /* The server closed the connection (shutdown, or output over
     * max_output): no flush follows; c stays valid until this returns. */
    void (*closed)(void *data, struct conn *c);
};

struct conn_slot {
    struct conn_slot *next;
    struct buf out; /* the reply, owned */
    bool done;
    bool write;     /* deferred by an ADD (see conn_defer) */
    int timed;      /* enum metrics_command of its request, or METRICS_UNTIMED */
    uint64_t started_ns;
};

struct conn {
    uv_tcp_t tcp;                 /* unused when sink is set */
    struct conn_tls *tls;         /* owned; NULL: plaintext (conn_tls.h) */
    const struct conn_sink *sink; /* NULL: a TCP client */
    void *sink_data;
    struct server *srv;           /* borrowed */
    struct conn *prev, *next;     /* in the server's list of open connections */
    struct conn *next_dirty;      /* in the server's list of connections with output */
    bool dirty;

    struct resp_parser parser;
    struct buf in;                /* received, not yet parsed */
    size_t in_pos;                /* bytes of `in` already consumed */

    struct buf out;               /* replies ready to write, in order */
    struct buf writing;           /* the bytes of the write in progress */
    uv_write_t write_req;
    bool write_busy;

    struct conn_slot *slots_head, *slots_tail; /* deferred replies, in order */
    struct conn_slot *spare;      /* a released slot kept for the next reply, owned */
    size_t n_slots;
    size_t writes_pending;        /* deferred ADDs not yet complete */
    size_t others_pending;        /* other deferred requests not yet complete */

    bool authenticated;
    /* Who authenticated and what they may do (acl_conn.h): the user's name
     * ("" before AUTH or when authentication is off; "default" through
     * HTTP), and
     * its rules as resolved at users generation acl_gen; NULL: every right
     * (no authentication, the peer identity, "default" without a record). */
    char user[ACL_CONN_NAME_MAX + 1];
    struct acl_rules *acl;        /* owned */
    uint64_t acl_gen;
    /* Failed AUTHs and the loop time before which the next is refused
     * (acl_auth.c's rate limit). */
    unsigned auth_failures;
    uint64_t auth_retry_ms;
    bool auth_pending;            /* an AUTH is being checked on the thread pool */
    bool resp3;                   /* HELLO 3: pub/sub messages go as push frames */
    uint64_t id;                  /* HELLO's client id: unique in the process */
    /* The client introduced itself as a Redis client (HELLO, CLIENT,
     * COMMAND, INFO, READONLY, CLUSTER SLOTS...): it is told -CLUSTERDOWN
     * rather than -NOLEADER (redis_cluster.h). */
    bool redis_client;
    /* The request's key as COMMAND declares it (its JSON argument), during
     * its dispatch only: the slot of a -MOVED. Borrowed, or NULL. */
    const struct resp_arg *key_arg;
    char name[64];                /* CLIENT SETNAME, HELLO SETNAME */
    char lib_name[64];            /* CLIENT SETINFO LIB-NAME */
    char lib_ver[32];             /* CLIENT SETINFO LIB-VER */
    uint64_t opened_ms;           /* loop time at accept: CLIENT INFO's age */
    struct sub *subs;             /* its subscriptions, owned by subscribe.c */
    size_t n_subs;
    bool reading;
    bool parsing;                 /* inside conn_parse: no re-entry */
    bool blocked;                 /* the next request waits for earlier ones */
    bool closing;                 /* uv_close called or requested */
    bool close_after_write;       /* QUIT or protocol error: close once flushed */
    unsigned refs;                /* 1 for the open socket + 1 per slot */
    /* The timed request being dispatched (conn_time_begin), and where its
     * reply starts if it answers at once. */
    int timing;                   /* enum metrics_command, or METRICS_UNTIMED */
    uint64_t timing_start_ns;
    struct buf *timing_out;
    size_t timing_off;
    char peer[64];
};

/* Accept a new connection from one of the server's listeners; tls (the
 * server's, borrowed) makes it a TLS connection, NULL a plaintext one.
 * Returns 0 or -1. */
int conn_accept(struct server *srv, uv_stream_t *listener, struct tls_server *tls);

/* Open a connection without a socket whose output goes to sink (see
 * "Transports" above), authenticated by the front end as `user` (bound by
 * its rules, acl_conn.h; NULL: no --password, every right). It counts as a
 * client (STATUS, --max-clients is the caller's to check). The caller runs
 * requests on it with commands_dispatch (after commands_may_start) and
 * ends it with conn_release. */
struct conn *conn_open_sink(struct server *srv, const struct conn_sink *sink, void *data, const char *user);
/* The sink's owner is done with c: close it without calling sink->closed.
 * Replies still deferred are dropped when they complete. */
void conn_release(struct conn *c);
/* Ask for a flush of c at the end of this loop turn (a sink that can take
 * more output again). */
void conn_wake(struct conn *c);

/* Where the reply to the request being dispatched goes: the output buffer
 * when nothing is deferred ahead of it, otherwise a new, already-complete
 * slot. Call once per request, for requests that answer synchronously. */
struct buf *conn_reply_buf(struct conn *c);

/* Reserve an ordered slot for a reply that comes later. The slot holds a
 * reference on the connection until conn_complete. `write` marks an ADD:
 * requests on one connection take effect in order, so a read waits for the
 * writes before it, and a write for the reads before it, while consecutive
 * writes stay in flight together (that is where group commit comes from). */
struct conn_slot *conn_defer(struct conn *c, bool write);
/* The slot's reply is in slot->out: release it in order. Safe if the
 * connection has been closed meanwhile (the reply is then dropped). */
void conn_complete(struct conn *c, struct conn_slot *slot);

/* Time the request about to be dispatched as `command` (enum
 * metrics_command; METRICS_UNTIMED: nothing to do) until its reply is
 * complete: at conn_time_end if it answered at once, else when its
 * deferred slot completes. Counted in the server's metrics by outcome. */
void conn_time_begin(struct conn *c, int command);
void conn_time_end(struct conn *c);

/* Close once everything queued so far is written (QUIT). */
void conn_close_after_write(struct conn *c);
/* Close now, dropping unsent output. */
void conn_close(struct conn *c);

/* Called by the server once per loop turn: start writing queued output. */
void conn_flush(struct conn *c);

/* Where an out-of-band message (a subscription's) goes: straight into the
 * output, ahead of deferred replies, which only RESP3 clients can tell
 * apart (pushes are their own type); a RESP2 connection that subscribes
 * has nothing deferred (commands_may_start). */
struct buf *conn_push_buf(struct conn *c);

/* Fix the socket's kernel send buffer at `bytes` (autotuning off); a
 * failure is logged and otherwise ignored. */
void conn_set_send_buffer(struct conn *c, int bytes);

/* Output queued or being written, not yet taken by the socket: what a
 * subscription's flow control measures. */
size_t conn_unsent(const struct conn *c);

#endif
