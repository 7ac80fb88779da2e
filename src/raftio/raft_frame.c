/* raft_frame.c - the check of raft_uv's messages before raft decodes them
 * (see raft_frame.h). */
#include "raftio/raft_frame.h"

#include <raft.h>
#include <string.h>

#define NO_FIELD UINT64_MAX
#define PREAMBLE_BYTES 16
/* AppendEntries: the four u64 before the entry count, the count. */
#define AE_COUNT_AT 32
#define AE_ENTRIES_AT 40
#define ENTRY_HEADER_BYTES 16
/* InstallSnapshot: the four u64 before the configuration's length. */
#define IS_CONF_AT 32
/* The configuration's encoding (raft's configurationEncode): u8 format
 * (1), u64 count, then per server u64 id, the address NUL-terminated, u8
 * role; the smallest server is 10 bytes. */
#define CONF_FORMAT 1
#define CONF_SERVER_MIN 10

enum conf_state { CONF_FORMAT_BYTE, CONF_COUNT, CONF_ID, CONF_ADDRESS, CONF_ROLE, CONF_DONE };

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int refuse(struct raft_frame *f, const char *why)
{
    f->why = why;
    return -1;
}

void raft_frame_init(struct raft_frame *f)
{
    memset(f, 0, sizeof *f);
    f->part = RAFT_FRAME_PREAMBLE;
    f->field_at = NO_FIELD;
}

static void message_done(struct raft_frame *f)
{
    f->messages++;
    f->part = RAFT_FRAME_PREAMBLE;
    f->pos = 0;
    f->field_at = NO_FIELD;
    f->payload_len = 0;
    f->n_entries = 0;
    f->entry = 0;
    f->conf_len = 0;
}

/* The preamble is complete: is the header's length the type's? */
static int preamble_done(struct raft_frame *f)
{
    uint64_t len = f->header_len;
    f->part = RAFT_FRAME_HEADER;
    f->pos = 0;
    switch (f->type) {
    case RAFT_APPEND_ENTRIES:
        if (len < AE_ENTRIES_AT || len > AE_ENTRIES_AT + 8 + (uint64_t)ENTRY_HEADER_BYTES * RAFT_FRAME_MAX_ENTRIES)
            return refuse(f, "AppendEntries header of a bad length");
        f->field_at = AE_COUNT_AT;
        return 0;
    case RAFT_APPEND_ENTRIES_RESULT:
        return len == 24 || len == 32 ? 0 : refuse(f, "AppendEntriesResult header of a bad length");
    case RAFT_REQUEST_VOTE:
        return len == 32 || len == 40 ? 0 : refuse(f, "RequestVote header of a bad length");
    case RAFT_REQUEST_VOTE_RESULT:
        return len == 16 || len == 24 ? 0 : refuse(f, "RequestVoteResult header of a bad length");
    case RAFT_INSTALL_SNAPSHOT:
        if (len < IS_CONF_AT + 16 + 1 || len > IS_CONF_AT + 24 + (uint64_t)RAFT_FRAME_MAX_CONF)
            return refuse(f, "InstallSnapshot header of a bad length");
        f->field_at = IS_CONF_AT;
        return 0;
    case RAFT_TIMEOUT_NOW:
        return len == 24 ? 0 : refuse(f, "TimeoutNow header of a bad length");
    default:
        return refuse(f, "unknown message type");
    }
}

/* One byte of an InstallSnapshot's configuration. raft's decoder
 * (configurationDecode) reads the count, each id and each role without a
 * look at the buffer's length, and looks for an address's end from a
 * length that wraps past it: so the whole configuration must be walked
 * here, and end where the header says. */
static int conf_byte(struct raft_frame *f, uint8_t b)
{
    switch (f->conf_state) {
    case CONF_FORMAT_BYTE:
        if (b != CONF_FORMAT)
            return refuse(f, "InstallSnapshot configuration of an unknown format");
        f->conf_state = CONF_COUNT;
        f->conf_k = 0;
        return 0;
    case CONF_COUNT:
        f->word[f->conf_k++] = b;
        if (f->conf_k < 8)
            return 0;
        f->conf_servers = le64(f->word);
        if (f->conf_servers > (f->conf_len - 9) / CONF_SERVER_MIN)
            return refuse(f, "InstallSnapshot configuration claims more servers than it holds");
        f->conf_state = f->conf_servers > 0 ? CONF_ID : CONF_DONE;
        f->conf_k = 0;
        return 0;
    case CONF_ID:
        if (++f->conf_k == 8)
            f->conf_state = CONF_ADDRESS;
        return 0;
    case CONF_ADDRESS:
        if (b == 0)
            f->conf_state = CONF_ROLE;
        return 0;
    case CONF_ROLE:
        f->conf_k = 0;
        f->conf_state = --f->conf_servers > 0 ? CONF_ID : CONF_DONE;
        return 0;
    default:
        return 0; /* padding */
    }
}

/* The second word of entry f->entry's header: type and data length. */
static int entry_word(struct raft_frame *f, uint64_t v)
{
    uint64_t type = v & 0xff;
    uint64_t len = v >> 32;
    if (type != RAFT_COMMAND && type != RAFT_BARRIER && type != RAFT_CHANGE)
        return refuse(f, "AppendEntries entry of an unknown type");
    if (f->entry + 1 < f->n_entries && len % 8 != 0)
        return refuse(f, "AppendEntries entry not padded to 8 bytes");
    f->payload_len += len;
    if (f->payload_len > RAFT_FRAME_MAX_PAYLOAD)
        return refuse(f, "AppendEntries payload too large");
    f->entry++;
    f->field_at = f->entry < f->n_entries ? AE_ENTRIES_AT + ENTRY_HEADER_BYTES * f->entry + 8 : NO_FIELD;
    return 0;
}

/* A u64 of the header the checks need is complete. */
static int header_field(struct raft_frame *f, uint64_t v)
{
    if (f->type == RAFT_APPEND_ENTRIES) {
        if (f->field_at != AE_COUNT_AT)
            return entry_word(f, v);
        if (v > RAFT_FRAME_MAX_ENTRIES)
            return refuse(f, "AppendEntries with too many entries");
        uint64_t least = AE_ENTRIES_AT + ENTRY_HEADER_BYTES * v;
        if (f->header_len < least || f->header_len > least + 8)
            return refuse(f, "AppendEntries entry count does not match its header's length");
        f->n_entries = v;
        f->field_at = v > 0 ? AE_ENTRIES_AT + 8 : NO_FIELD;
        return 0;
    }
    /* InstallSnapshot */
    if (f->field_at == IS_CONF_AT) {
        /* raft's encoder sizes the header one word larger, as for
         * AppendEntries. */
        if (v == 0 || v > RAFT_FRAME_MAX_CONF || f->header_len < IS_CONF_AT + 16 + v ||
            f->header_len > IS_CONF_AT + 24 + v)
            return refuse(f, "InstallSnapshot configuration length does not match its header's");
        f->conf_len = v;
        f->conf_state = CONF_FORMAT_BYTE;
        f->field_at = IS_CONF_AT + 8 + v;
        return 0;
    }
    if (v > RAFT_FRAME_MAX_PAYLOAD)
        return refuse(f, "InstallSnapshot data too large");
    f->payload_len = v;
    f->field_at = NO_FIELD;
    return 0;
}

static void header_done(struct raft_frame *f)
{
    if (f->payload_len == 0) {
        message_done(f);
        return;
    }
    f->part = RAFT_FRAME_PAYLOAD;
    f->pos = 0;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

int raft_frame_feed(struct raft_frame *f, const uint8_t *p, size_t n)
{
    if (f->why != NULL)
        return -1;
    while (n > 0) {
        if (f->part == RAFT_FRAME_PREAMBLE) {
            f->word[f->pos % 8] = *p++;
            n--;
            f->pos++;
            if (f->pos == 8)
                f->type = le64(f->word) & 0xffff;
            if (f->pos == PREAMBLE_BYTES) {
                f->header_len = le64(f->word);
                if (preamble_done(f) != 0)
                    return -1;
            }
            continue;
        }
        if (f->part == RAFT_FRAME_HEADER && f->conf_len != 0 && f->pos >= IS_CONF_AT + 8 &&
            f->pos < IS_CONF_AT + 8 + f->conf_len) {
            if (conf_byte(f, *p++) != 0)
                return -1;
            n--;
            f->pos++;
            if (f->pos == IS_CONF_AT + 8 + f->conf_len && f->conf_state != CONF_DONE)
                return refuse(f, "InstallSnapshot configuration cut short");
            continue;
        }
        if (f->part == RAFT_FRAME_HEADER) {
            uint64_t target = f->field_at == NO_FIELD ? f->header_len : f->field_at;
            if (f->pos < target) {
                uint64_t skip = min_u64(n, target - f->pos);
                f->pos += skip;
                p += skip;
                n -= (size_t)skip;
            } else {
                f->word[f->pos - f->field_at] = *p++;
                n--;
                f->pos++;
                if (f->pos == f->field_at + 8 && header_field(f, le64(f->word)) != 0)
                    return -1;
            }
            if (f->pos == f->header_len)
                header_done(f);
            continue;
        }
        uint64_t skip = min_u64(n, f->payload_len - f->pos);
        f->pos += skip;
        p += skip;
        n -= (size_t)skip;
        if (f->pos == f->payload_len)
            message_done(f);
    }
    return 0;
}
