/* raft_tls.h - mutual TLS on raft's connections, for a kernel without
 * kTLS: the context (raft_tls.c) and the bridge that runs a session on a
 * connection's TCP stream and gives raft a plaintext stream instead
 * (raft_tls_link.c).
 *
 * Why a bridge. raft_uv reads and writes the stream it is handed with
 * uv_read_start and uv_write, and knows nothing of TLS; without the kernel's
 * TLS (no `tls` ULP here) the socket under it would carry plaintext. So a
 * link keeps the TCP stream for itself and hands raft one end of an
 * AF_UNIX socketpair (a uv_pipe_t): what raft writes there the link reads
 * from the other end, encrypts (SSL_write into a memory BIO) and writes to
 * TCP; what TCP brings it decrypts and writes to the pair for raft. Both
 * ends of raft's connection, the hello (raft_tcp.c) and the frame checks
 * (raft_tcp_guard.c) run on the plaintext stream as they run on TCP
 * without TLS, so the hello, with its cluster identity and proofs of the
 * secret, runs inside TLS.
 *
 *   raft_uv, hello, frame checks    the uv_pipe_t raft gets (plaintext)
 *   link (raft_tls_link.c)          pair end <-> SSL over memory BIOs
 *   raft_uv_tcp                     the TCP stream (ciphertext)
 *
 * The node's own RESP requests to other nodes (node/peer.c) run their
 * connection through a client link of the same context, so that they too
 * show the peer certificate and check the other's.
 *
 * Who proves what. Both ends present a certificate and both verify the
 * other's against the peer CA (--tls-peer-ca, by default --tls-ca): a
 * certificate that CA signed is a member's. Names are not checked (raft
 * addresses may be names, addresses or container hosts); so the peer CA
 * must sign nothing but nodes' certificates, or the cluster secret must be
 * set as well (docs/operations.md, "TLS between nodes").
 *
 * Backpressure. A link buffers at most RAFT_TLS_PENDING_MAX bytes of
 * writes towards either side: past it, it stops reading the other side
 * until the writes drain to half of it.
 *
 * Ownership and close order. A link owns the TCP stream (raft_uv_tcp
 * allocated it with raft_malloc; the link raft_frees it once closed), the
 * SSL session and its end of the pair; raft owns the pipe it was handed
 * (it frees it with raft_free after closing it, as it does a TCP stream).
 * A link ends when either side does: TCP's end (EOF, error) closes the
 * pair end once what was decrypted has been written to it, so raft reads
 * an EOF; raft's close gives the link an EOF, which sends TLS's
 * close_notify and shuts TCP down once written. The link is freed after
 * the close callbacks of both its handles (write callbacks come first).
 *
 * Loop thread only. */
#ifndef EVENTFLOW_RAFT_TLS_H
#define EVENTFLOW_RAFT_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define RAFT_TLS_PENDING_MAX (4u << 20)
/* The most ciphertext a handshake may take before it completes. */
#define RAFT_TLS_HANDSHAKE_MAX_BYTES (64u << 10)

struct raft_tls;
struct raft_tls_link;

/* Load cert (PEM chain), key and ca (PEM bundle peers' certificates must
 * chain to) into a context for both ends of a connection: TLS 1.2 at
 * least, forward-secret AEAD ciphers, a verified peer certificate required.
 * Paths are copied. Returns NULL with the reason in err. */
struct raft_tls *raft_tls_new(const char *cert, const char *key, const char *ca, char *err, size_t errlen);
/* Read the same files again (SIGHUP): links started from now on use them,
 * open ones keep theirs. 0, or -1 with the reason in err and the old
 * context kept. */
int raft_tls_reload(struct raft_tls *tls, char *err, size_t errlen);
/* Close every link (transport close): raft's ends read an EOF; links
 * still in their handshake call back with a failure. */
void raft_tls_close_links(struct raft_tls *tls);
/* Free the context; links still closing keep their own reference. */
void raft_tls_free(struct raft_tls *tls);

/* A link's handshake ended: raft_end is the plaintext stream (a uv_pipe_t
 * allocated with raft_malloc, now the callee's), or NULL with why
 * (status < 0): the link has closed the TCP stream. */
typedef void (*raft_tls_ready_cb)(void *data, uv_stream_t *raft_end, int status, const char *why);

/* Run TLS on tcp (a connected uv_tcp_t from raft_uv_tcp, allocated with
 * raft_malloc; the link owns it from now on, whatever happens), as the
 * client (outgoing) or the server. *slot gets the link before anything
 * else happens, so that it can be aborted; cb runs once (possibly before
 * this returns, on a failure), unless the link is aborted first. */
void raft_tls_link_start(struct raft_tls *tls, uv_loop_t *loop, uv_stream_t *tcp, bool outgoing,
                         raft_tls_ready_cb cb, void *data, struct raft_tls_link **slot);
/* Close a link before its callback (deadline, transport close); cb never
 * runs. */
void raft_tls_link_abort(struct raft_tls_link *l);

/* Ciphertext bytes through every link since start, both ways (STATUS). */
uint64_t raft_tls_bytes(const struct raft_tls *tls);

#endif
