/* raft_tcp.h - raft's TCP transport (raft_uv_tcp) with Nagle's algorithm
 * turned off on every connection.
 *
 * Why: raft_uv_tcp leaves Nagle on, and raft_uv uses each connection in one
 * direction only (a node sends on the connections it opened and receives on
 * the ones it accepted), so a receiver never has data to piggyback its ACKs
 * on. A small AppendEntries written while an earlier one is unacknowledged
 * then waits for the receiver's delayed ACK: a 40 ms stall that showed up
 * as the p99 latency of quorum writes. Heartbeats and single-entry batches
 * are exactly such small writes.
 *
 * How: the struct embeds the raft_uv_transport that raft_uv_tcp_init fills
 * in, and raft_tcp_init interposes on its listen and connect hooks to set
 * TCP_NODELAY on each stream before raft_uv sees it.
 *
 * Loop thread only. */
#ifndef EVENTFLOW_RAFT_TCP_H
#define EVENTFLOW_RAFT_TCP_H

#include <raft.h>
#include <raft/uv.h>
#include <stddef.h>

struct raft_tcp {
    struct raft_uv_transport transport; /* filled in by raft_uv_tcp_init; first member */
    /* private */
    int (*inner_listen)(struct raft_uv_transport *t, raft_uv_accept_cb cb);
    int (*inner_connect)(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
                         const char *address, raft_uv_connect_cb cb);
    raft_uv_accept_cb accept_cb;
};

/* Interpose on t->transport, which raft_uv_tcp_init must have filled in. */
void raft_tcp_init(struct raft_tcp *t);

/* Free what is left after raft_uv_tcp_close. A connect callback that
 * arrives afterwards (a cancelled connect's, fired when its handle has
 * closed) is dropped. */
void raft_tcp_close(struct raft_tcp *t);

#endif
