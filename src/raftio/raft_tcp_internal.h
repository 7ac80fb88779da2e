/* raft_tcp_internal.h - what raft_tcp.c and raft_tcp_guard.c share. */
#ifndef EVENTFLOW_RAFT_TCP_INTERNAL_H
#define EVENTFLOW_RAFT_TCP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raftio/raft_tcp.h"

enum raft_tcp_refusal {
    RAFT_TCP_REFUSAL_CLUSTER,
    RAFT_TCP_REFUSAL_SECRET,
    RAFT_TCP_REFUSAL_FRAME,
    RAFT_TCP_REFUSAL_TLS,
};

/* Whether a refusal of this kind is to be logged now (at most one message
 * every 10 s per kind); if so, `more` gets a suffix counting those left
 * unlogged since the last. */
bool raft_tcp_refusal_to_log(struct raft_tcp *t, enum raft_tcp_refusal kind, char *more, size_t cap);

/* raft's accept callback has run for stream (an accepted connection past
 * its hello): if raft reads it, put the frame checks between libuv and
 * raft's read callbacks. address is the peer's raft address (copied). */
void raft_tcp_guard_attach(struct raft_tcp *t, uv_stream_t *stream, raft_id id, const char *address);

/* The peer's IP:port as the TCP socket says, "?" if it cannot. */
void raft_tcp_peer_name(uv_stream_t *stream, char *out, size_t cap);

/* Start the hello on a stream (TCP, or the plaintext end of a TLS link)
 * that raft_uv_tcp accepted or connected; peer names it for the log. */
void raft_tcp_hello_accepted(struct raft_tcp *t, raft_id id, const char *address, uv_stream_t *stream,
                             const char *peer);
void raft_tcp_hello_connected(struct raft_tcp *t, struct raft_uv_connect *req, raft_uv_connect_cb cb, raft_id id,
                              uv_stream_t *stream, const char *peer);

/* Keep the deadline tick running (a hello or a handshake waits). */
void raft_tcp_tick_start(struct raft_tcp *t);

/* raft_tcp_tls.c: the TLS handshake before the hello, on a stream
 * raft_uv_tcp accepted or connected (the link owns the TCP stream). */
void raft_tcp_tls_accepted(struct raft_tcp *t, raft_id id, const char *address, uv_stream_t *stream,
                           const char *peer);
void raft_tcp_tls_connected(struct raft_tcp *t, struct raft_uv_connect *req, raft_uv_connect_cb cb, raft_id id,
                            uv_stream_t *stream, const char *peer);
/* End the handshakes past their deadline (the hello's wait). */
void raft_tcp_tls_tick(struct raft_tcp *t, uint64_t now);
/* Transport close: handshakes end (a connector's request cancelled), open
 * links close. */
void raft_tcp_tls_cancel(struct raft_tcp *t);

/* Forget t's guards (raft has closed, or is closing, their streams). */
void raft_tcp_guard_close(struct raft_tcp *t);

#endif
