/* raft_wire.h - raft_uv_tcp's bytes as an outsider writes them, for the
 * tests that speak to a node's raft port (test_raft_port, test_raft_tls):
 * its handshake (u64 protocol 1, u64 server id, u64 address length padded
 * to 8, the address), then raft messages (src/raftio/raft_frame.h). */
#ifndef EVENTFLOW_TEST_RAFT_WIRE_H
#define EVENTFLOW_TEST_RAFT_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void raft_wire_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* raft_uv_tcp's handshake claiming server `id`; the bytes go into out (40
 * bytes). */
static inline size_t raft_wire_handshake(uint8_t *out, uint64_t id)
{
    static const char address[16] = "127.0.0.1:9";
    raft_wire_put64(out, 1);
    raft_wire_put64(out + 8, id);
    raft_wire_put64(out + 16, sizeof address);
    memcpy(out + 24, address, sizeof address);
    return 24 + sizeof address;
}

/* An empty AppendEntries at `term`, as raft 0.22.1 encodes it (64 bytes). */
static inline size_t raft_wire_append_entries(uint8_t *out, uint64_t term)
{
    memset(out, 0, 16 + 48);
    raft_wire_put64(out, 1);      /* RAFT_APPEND_ENTRIES */
    raft_wire_put64(out + 8, 48); /* header length */
    raft_wire_put64(out + 16, term);
    return 16 + 48;
}

#endif
