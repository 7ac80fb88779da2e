/* fuzz_raft_frame.c - the checks of peers' raft messages
 * (src/raftio/raft_frame.c) against arbitrary streams.
 *
 * raft 0.22.1's message decoder (uvDecodeMessage, uvDecodeEntriesBatch)
 * is not exported by libraft, so the target carries a model of the reads
 * it makes, written from raft's src/uv_encoding.c: which bytes of the
 * header each message type reads, for which header lengths, and where each
 * entry's data is taken from the payload. For every message the checks
 * let through, every read of the model must fall inside the header or the
 * payload; an InstallSnapshot's configuration goes through raft's real
 * configuration decoder (raft_configuration_decode, exported), which must
 * not fault (ASan) on it. The stream is also fed in pieces of random sizes:
 * the verdict and the count of messages must not depend on them. Any
 * violation aborts. */
#include <raft.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "raftio/raft_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Model of raft's decode of one header: false if raft would read outside
 * it. *payload gets the payload length raft would read; *entries_ok says
 * whether uvDecodeEntriesBatch's walk stays inside that payload. */
static bool model_header(uint16_t type, const uint8_t *h, uint64_t len, uint64_t *payload, bool *entries_ok)
{
    *payload = 0;
    *entries_ok = true;
    switch (type) {
    case RAFT_REQUEST_VOTE:
        return len >= (len == 32 ? 32u : 40u);
    case RAFT_REQUEST_VOTE_RESULT:
        return len >= (len > 16 ? 24u : 16u);
    case RAFT_APPEND_ENTRIES_RESULT:
        return len >= (len > 24 ? 32u : 24u);
    case RAFT_TIMEOUT_NOW:
        return len >= 24;
    case RAFT_APPEND_ENTRIES: {
        if (len < 40)
            return false;
        uint64_t n = (unsigned)le64(h + 32); /* raft keeps it in an unsigned */
        if (n > (len - 40) / 16)
            return false;
        uint64_t offset = 0;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t word = le64(h + 40 + 16 * i + 8);
            uint8_t etype = (uint8_t)word;
            if (etype != RAFT_COMMAND && etype != RAFT_BARRIER && etype != RAFT_CHANGE)
                return true; /* raft refuses the message here */
            *payload += word >> 32;
        }
        for (uint64_t i = 0; i < n; i++) {
            uint64_t elen = le64(h + 40 + 16 * i + 8) >> 32;
            if (elen != 0 && offset + elen > *payload)
                *entries_ok = false;
            offset += elen;
            if (elen % 8 != 0)
                offset += 8 - elen % 8;
        }
        return true;
    }
    case RAFT_INSTALL_SNAPSHOT: {
        if (len < 40)
            return false;
        uint64_t conf_len = le64(h + 32);
        if (conf_len == 0 || conf_len > len - 40 || len - 40 - conf_len < 8)
            return false;
        *payload = le64(h + 40 + conf_len);
        return true;
    }
    default:
        return true; /* raft refuses an unknown type without reading */
    }
}

/* raft's own decoder on the configuration of an InstallSnapshot the
 * checks passed: ASan faults if it reads outside. A copy of exactly that
 * length, so that a read past it is caught. */
static void decode_configuration(const uint8_t *h, uint64_t hlen)
{
    uint64_t conf_len = le64(h + 32);
    CHECK(conf_len > 0 && conf_len <= hlen - 48);
    uint8_t *copy = malloc((size_t)conf_len);
    CHECK(copy != NULL);
    memcpy(copy, h + 40, (size_t)conf_len);
    struct raft_buffer conf = {.base = copy, .len = (size_t)conf_len};
    struct raft_configuration c;
    raft_configuration_init(&c);
    if (raft_configuration_decode(&conf, &c) == 0)
        raft_configuration_close(&c);
    free(copy);
}

/* The pieces of a stream, fed one after the other; the verdict. */
static int feed_in_pieces(const uint8_t *data, size_t size, uint64_t seed, uint64_t *messages)
{
    struct raft_frame f;
    raft_frame_init(&f);
    int rv = 0;
    for (size_t at = 0; at < size && rv == 0;) {
        size_t n = fuzz_piece_size(&seed);
        if (n > size - at)
            n = size - at;
        rv = raft_frame_feed(&f, data + at, n);
        at += n;
    }
    *messages = f.messages;
    return rv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct raft_frame whole;
    raft_frame_init(&whole);
    int verdict = raft_frame_feed(&whole, data, size);
    CHECK(verdict == 0 || whole.why != NULL);
    uint64_t pieces_messages;
    CHECK(feed_in_pieces(data, size, fuzz_hash(data, size), &pieces_messages) == verdict);
    CHECK(pieces_messages == whole.messages);

    /* Message by message: what the checks pass, raft reads in bounds. */
    struct raft_frame f;
    raft_frame_init(&f);
    size_t at = 0;
    while (size - at >= 16) {
        uint16_t type = (uint16_t)le64(data + at);
        uint64_t hlen = le64(data + at + 8);
        if (hlen > size - at - 16)
            break;
        const uint8_t *h = data + at + 16;
        uint64_t payload;
        bool entries_ok;
        bool header_ok = model_header(type, h, hlen, &payload, &entries_ok);
        size_t head = 16 + (size_t)hlen;
        if (raft_frame_feed(&f, data + at, head) != 0)
            break;
        CHECK(header_ok && entries_ok);
        CHECK(hlen > 0);
        if (type == RAFT_INSTALL_SNAPSHOT)
            decode_configuration(h, hlen);
        if (payload > size - at - head)
            break;
        CHECK(raft_frame_feed(&f, data + at + head, (size_t)payload) == 0);
        at += head + (size_t)payload;
    }
    return 0;
}
