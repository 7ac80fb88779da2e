/* raft_tcp.h - raft's TCP transport (raft_uv_tcp) with Nagle's algorithm
 * turned off, a hello on every connection that keeps nodes of other
 * clusters out and, with a cluster secret, everyone who cannot prove they
 * hold it, and a check of every raft message a peer sends before raft_uv
 * decodes it.
 *
 *   raft_uv (uv_recv.c, uv_send.c)        decodes, sends
 *   frame checks (raft_tcp_guard.c)       accepted streams: each message
 *                                         checked before raft reads it
 *   hello (raft_tcp.c, raft_auth.c)       identity, proofs of the secret
 *   TLS link (raft_tcp_tls.c, raft_tls.h) with raft_tcp_set_tls: mutual TLS,
 *                                         and a plaintext stream for the above
 *   raft_uv_tcp (uv_tcp_*.c)              connect, listen, its handshake
 *   TCP
 *
 * Nagle. raft_uv_tcp leaves it on, and raft_uv uses each connection in one
 * direction only (a node sends on the connections it opened and receives on
 * the ones it accepted), so a receiver never has data to piggyback its ACKs
 * on. A small AppendEntries written while an earlier one is unacknowledged
 * then waits for the receiver's delayed ACK: a 40 ms stall that showed up
 * as the p99 latency of quorum writes. So every stream gets TCP_NODELAY
 * before raft_uv sees it.
 *
 * Cluster identity. A node that bootstrapped a cluster of its own and took
 * writes must never exchange raft messages with another cluster: one
 * AppendEntries or vote from it can depose a leader or overwrite log
 * entries. Every cluster records a random identity through its log (the
 * ClusterIdentity entry, store.h), and after raft_uv_tcp's own handshake
 * the two ends trade a hello carrying it:
 *
 *   connector                               acceptor
 *   raft_uv_tcp handshake  ------------->   (read by raft_uv_tcp)
 *                          <-------------   hello (acceptor's identity)
 *   checks it; hello       ------------->   checks it
 *   raft messages          ------------->   raft_uv reads them
 *
 *   hello: "EFHELLO1", u16 version, u16 flags (bit 0: identity known),
 *          u32 reserved (0), 16-byte cluster identity (zero if unknown).
 *
 * Either end refuses (closes, logs, counts) when both know an identity and
 * they differ. An end that does not know one yet (a new node waiting to be
 * added or joining, before the identity reached it) accepts any: it has no
 * history to protect. Neither end reads a byte that is not the hello's: the
 * acceptor is the only one to write before the connector's hello, and it
 * peeks at the first byte to tell a hello from raft's own first message.
 *
 * Cluster secret (raft_tcp_set_secret). The identity keeps honest nodes of
 * other clusters out, not an outsider, who can claim any identity. With a
 * secret, the hello is version 2 and both ends prove they hold it
 * (raft_auth.h: HMAC-SHA256 over both nonces, both raft ids and both
 * hellos):
 *
 *   connector                               acceptor
 *   raft_uv_tcp handshake  ------------->
 *                          <-------------   hello v2, nonce A
 *   hello v2, nonce C, proof C --------->   checks proof C
 *                          <-------------   proof A
 *   checks proof A; raft messages ------>   raft_uv reads them
 *
 * A peer that sends no hello (raft's bytes at once: an outsider, or an
 * older version), a version 1 hello, or a wrong proof is refused before
 * raft reads a byte; so is a version 2 hello at a node without a secret.
 * The secret binds nothing but the hello: the raft messages that follow
 * are neither signed nor encrypted, unless the connection runs inside TLS
 * (raft_tcp_set_tls), where the hello and everything after it cross the
 * TLS link's plaintext stream.
 *
 * Older versions. Without a secret, a peer without the hello still works,
 * with its identity unchecked, so that a cluster can be upgraded one node
 * at a time: an acceptor whose peer's first byte is not the hello's hands
 * the connection to raft as it is (a raft message begins with its type, a
 * number below 10, never 'E'); a connector that gets no hello within
 * RAFT_TCP_HELLO_WAIT_MS takes the acceptor for an older one. Such
 * connections are counted. With a secret, neither is let through.
 *
 * Frames. raft 0.22.1's decoder trusts lengths and counts in what it reads
 * (raft_frame.h). So an accepted stream, once raft has started reading it,
 * is read through raft_tcp_guard.c: libuv gives the bytes to the guard,
 * which passes them to raft's own callbacks only once raft_frame has
 * checked them; a bad message closes the connection (through raft's read
 * callback, given an error), logged and counted. Outgoing streams need no
 * guard: raft_uv reads nothing from them.
 *
 * Refusals are logged at most every 10 s for each kind (another cluster,
 * no proof of the secret, a bad message).
 *
 * Loop thread only. */
#ifndef EVENTFLOW_RAFT_TCP_H
#define EVENTFLOW_RAFT_TCP_H

#include <raft.h>
#include <raft/uv.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define RAFT_TCP_ID_BYTES 16
/* How long a connector waits for the acceptor's hello before taking it for
 * an older version; an acceptor drops a peer that is silent this long. */
#define RAFT_TCP_HELLO_WAIT_MS 3000

struct raft_tcp_hello;
struct raft_tcp_guard;
struct raft_tcp_tls_wait;
struct raft_tls;

/* What the hellos and frame checks saw, for STATUS and METRICS. */
struct raft_tcp_stats {
    uint64_t refused;         /* connections refused: a peer of another cluster */
    uint64_t legacy;          /* connections with a peer that sent no hello */
    uint64_t unauthenticated; /* connections refused: no valid proof of the secret, or a broken hello */
    uint64_t bad_frames;      /* connections closed for a raft message that failed the checks */
    uint64_t tls_refused;     /* connections refused: TLS handshake failed (no certificate, another CA...) */
};

struct raft_tcp {
    struct raft_uv_transport transport; /* filled in by raft_uv_tcp_init; first member */
    struct raft_tcp_stats stats;
    /* private */
    int (*inner_listen)(struct raft_uv_transport *t, raft_uv_accept_cb cb);
    int (*inner_connect)(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
                         const char *address, raft_uv_connect_cb cb);
    void (*inner_close)(struct raft_uv_transport *t, raft_uv_transport_close_cb cb);
    raft_uv_accept_cb accept_cb;
    raft_uv_transport_close_cb close_cb;
    uv_loop_t *loop;
    uv_timer_t tick;                /* ends hellos that wait too long */
    bool tick_open;
    struct raft_tcp_hello *hellos;  /* connections in their hello */
    bool closing;
    bool has_id;
    uint8_t id[RAFT_TCP_ID_BYTES];
    /* Refusals are logged at most every 10 s per kind (RAFT_TCP_REFUSAL_*). */
    uint64_t refusal_logged_ms[4];
    uint64_t refusals_unlogged[4];
    unsigned hello_wait_ms;         /* RAFT_TCP_HELLO_WAIT_MS; tests shorten it */
    uint8_t *secret;                /* owned; NULL: none */
    size_t secret_len;
    raft_id self;                   /* this node's raft id (with a secret) */
    struct raft_tls *tls;           /* owned; NULL: raft's connections are not encrypted */
    struct raft_tcp_tls_wait *tls_waits; /* connections in their TLS handshake */
    void (*peer_closed)(void *data, raft_id id); /* raft_tcp_on_peer_closed */
    void *peer_closed_data;
};

/* Interpose on t->transport, which raft_uv_tcp_init must have filled in. */
void raft_tcp_init(struct raft_tcp *t, uv_loop_t *loop);

/* The cluster identity this node belongs to, once it knows it; hellos from
 * then on carry and check it. */
void raft_tcp_set_cluster_id(struct raft_tcp *t, const uint8_t id[RAFT_TCP_ID_BYTES]);

/* Require every peer to prove it holds `secret` (len > 0 bytes, copied)
 * in its hello; self is this node's raft id. Call before raft listens or
 * connects. */
void raft_tcp_set_secret(struct raft_tcp *t, raft_id self, const char *secret, size_t len);

/* Run every raft connection inside mutual TLS (raft_tls.h): cert and key
 * are this node's, ca the one peers' certificates must chain to (paths,
 * copied). Call before raft listens or connects. 0, or -1 with the reason
 * in err. */
int raft_tcp_set_tls(struct raft_tcp *t, const char *cert, const char *key, const char *ca, char *err,
                     size_t errlen);

/* Read the TLS files again (SIGHUP): connections made from now on use
 * them; open ones, and so the cluster, are not touched. 0 (also without
 * TLS), or -1 with the reason in err and the old files still in use. */
int raft_tcp_reload_tls(struct raft_tcp *t, char *err, size_t errlen);

/* Call cb(data, id) when a connection peer `id` opened to this node (the
 * direction raft_uv receives on) ends with an EOF or a reset: the peer's
 * process may be gone, since the kernel closes a dead process's sockets at
 * once. Not for connections the frame checks cut, nor at close. */
void raft_tcp_on_peer_closed(struct raft_tcp *t, void (*cb)(void *data, raft_id id), void *data);

/* Free what is left after raft_uv_tcp_close. A connect callback that
 * arrives afterwards (a cancelled connect's, fired when its handle has
 * closed) is dropped. */
void raft_tcp_close(struct raft_tcp *t);

#endif
