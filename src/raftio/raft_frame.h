/* raft_frame.h - checks the byte stream a peer sends to raft_uv before
 * raft_uv decodes a byte of it.
 *
 * Why. raft 0.22.1's decoder trusts what it reads: a header shorter than
 * its message type needs is read past its end, an AppendEntries' entry
 * count is used to size an allocation and a loop without a look at the
 * header's length (one such message claiming 2^31 entries crashes the
 * node), an InstallSnapshot's configuration length is not held to the
 * header's. A connection that passed the hello (raft_tcp.h) is a member's,
 * but a member with a bug, a corrupted stream or a stolen secret must not
 * be able to crash a node: so every message is checked here first.
 *
 * The wire format (raft's src/uv_encoding.c, src/uv_recv.c; every integer
 * little-endian). A message is
 *
 *   preamble  u64 type (raft reads its low 16 bits), u64 header length
 *   header    as the type says, below
 *   payload   AppendEntries: the entries' data, one after the other;
 *             InstallSnapshot: the snapshot's data; others: none
 *
 *   AppendEntries (1)        term, prev_log_index, prev_log_term,
 *                            leader_commit, n (u64 each), then n entry
 *                            headers of 16 bytes (u64 term, u8 type, 3
 *                            unused, u32 data length), then 8 unused bytes
 *                            (raft's encoder sizes it one word larger)
 *   AppendEntriesResult (2)  3 or 4 u64
 *   RequestVote (3)          4 or 5 u64
 *   RequestVoteResult (4)    2 or 3 u64
 *   InstallSnapshot (5)      4 u64, u64 configuration length c, c bytes of
 *                            configuration, u64 snapshot data length, then
 *                            8 unused bytes (one word larger here too)
 *   TimeoutNow (6)           3 u64
 *
 * What is refused: an unknown type; a header length other than the type's
 * (AppendEntries: 40 + 16 n to 48 + 16 n; InstallSnapshot: 48 + c to
 * 56 + c, c >= 1); more than RAFT_FRAME_MAX_ENTRIES entries; an entry type other
 * than command, barrier or change; an InstallSnapshot configuration that
 * does not walk as raft's encoding (format 1, a count, that many servers of
 * id, NUL-terminated address and role) to within its length (raft's
 * configurationDecode reads past one that does not); an entry other than
 * the last whose
 * length is not a multiple of 8 (raft's decoder steps over each entry
 * padded to 8 bytes but reads only the unpadded sum: an unaligned entry
 * would put the next one past the payload; eventflow's entries are padded,
 * node/entry.c); a configuration over RAFT_FRAME_MAX_CONF; a payload over
 * RAFT_FRAME_MAX_PAYLOAD. The checker is incremental: it keeps no bytes
 * but the word it is assembling, so a stream may be fed in pieces of any
 * size. Pure code, no I/O. */
#ifndef EVENTFLOW_RAFT_FRAME_H
#define EVENTFLOW_RAFT_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* sendq coalesces a turn's entries into one message: far below this. */
#define RAFT_FRAME_MAX_ENTRIES (1u << 20)
/* One message's entries or snapshot data: an entry is at most
 * --max-bulk (1 GiB at most) plus its header, and a message holds a turn's
 * worth. */
#define RAFT_FRAME_MAX_PAYLOAD ((uint64_t)4 << 30)
/* A configuration of a few members is a few hundred bytes. */
#define RAFT_FRAME_MAX_CONF (1u << 20)

enum raft_frame_part { RAFT_FRAME_PREAMBLE, RAFT_FRAME_HEADER, RAFT_FRAME_PAYLOAD };

/* One stream's checker. Fields are private; `why` is read-only. */
struct raft_frame {
    enum raft_frame_part part;
    uint64_t pos;         /* bytes of the current part seen */
    uint64_t field_at;    /* header: offset of the next u64 to look at; UINT64_MAX: none */
    uint8_t word[8];      /* that u64, as it arrives */
    uint64_t type;        /* the message's type (low 16 bits of the preamble's word) */
    uint64_t header_len;
    uint64_t n_entries;   /* AppendEntries */
    uint64_t entry;       /* AppendEntries: entry headers checked */
    uint64_t conf_len;    /* InstallSnapshot: the configuration's length, */
    int conf_state;       /* where its walk is, */
    unsigned conf_k;      /* bytes of the current field seen, */
    uint64_t conf_servers; /* servers still to come */
    uint64_t payload_len; /* what follows the header */
    uint64_t messages;    /* messages complete, for tests */
    const char *why;      /* NULL, or why the stream was refused (static text) */
};

void raft_frame_init(struct raft_frame *f);

/* The next n bytes of the stream. Returns 0 if raft may read them, -1 if
 * the stream is refused (f->why says why); once refused, it stays so. */
int raft_frame_feed(struct raft_frame *f, const uint8_t *p, size_t n);

#endif
