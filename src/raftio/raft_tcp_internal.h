/* raft_tcp_internal.h - what raft_tcp.c and raft_tcp_guard.c share. */
#ifndef EVENTFLOW_RAFT_TCP_INTERNAL_H
#define EVENTFLOW_RAFT_TCP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "raftio/raft_tcp.h"

enum raft_tcp_refusal { RAFT_TCP_REFUSAL_CLUSTER, RAFT_TCP_REFUSAL_SECRET, RAFT_TCP_REFUSAL_FRAME };

/* Whether a refusal of this kind is to be logged now (at most one message
 * every 10 s per kind); if so, `more` gets a suffix counting those left
 * unlogged since the last. */
bool raft_tcp_refusal_to_log(struct raft_tcp *t, enum raft_tcp_refusal kind, char *more, size_t cap);

/* raft's accept callback has run for stream (an accepted connection past
 * its hello): if raft reads it, put the frame checks between libuv and
 * raft's read callbacks. address is the peer's raft address (copied). */
void raft_tcp_guard_attach(struct raft_tcp *t, uv_stream_t *stream, raft_id id, const char *address);

/* Forget t's guards (raft has closed, or is closing, their streams). */
void raft_tcp_guard_close(struct raft_tcp *t);

#endif
