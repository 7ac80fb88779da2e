/* entry.h - the bytes of one raft log entry.
 *
 * raft's libuv backend writes entry buffers straight into its segments and
 * requires their length to be a multiple of 8. A protobuf message cannot
 * carry padding (a zero byte is an invalid tag), so each entry is framed:
 *
 *   u32 LE  payload length
 *   u32 LE  frame format (1)
 *   payload (a packed eventflow.Entry)
 *   zero padding to a multiple of 8 bytes */
#ifndef EVENTFLOW_ENTRY_H
#define EVENTFLOW_ENTRY_H

#include <raft.h>
#include <stddef.h>

#include "eventflow.pb-c.h"

/* Encode e into a raft_malloc'ed, padded buffer. Returns 0 or -1 (OOM). */
int entry_encode(const Eventflow__Entry *e, struct raft_buffer *out);

/* Find the payload in a framed entry. Returns 0, or -1 if the frame is
 * malformed (the entry then applies as invalid). */
int entry_payload(const struct raft_buffer *buf, const void **payload, size_t *len);

#endif
