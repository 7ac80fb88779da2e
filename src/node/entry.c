/* entry.c - raft entry framing (see entry.h). */
#include "node/entry.h"

#include <stdint.h>
#include <string.h>

#define ENTRY_HEADER 8
#define ENTRY_FORMAT 1

static void put_u32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int entry_encode(const Eventflow__Entry *e, struct raft_buffer *out)
{
    size_t payload = eventflow__entry__get_packed_size(e);
    if (payload > UINT32_MAX - 16)
        return -1;
    size_t len = (ENTRY_HEADER + payload + 7) & ~(size_t)7;
    uint8_t *p = raft_malloc(len);
    if (p == NULL)
        return -1;
    put_u32le(p, (uint32_t)payload);
    put_u32le(p + 4, ENTRY_FORMAT);
    eventflow__entry__pack(e, p + ENTRY_HEADER);
    memset(p + ENTRY_HEADER + payload, 0, len - ENTRY_HEADER - payload);
    out->base = p;
    out->len = len;
    return 0;
}

int entry_payload(const struct raft_buffer *buf, const void **payload, size_t *len)
{
    const uint8_t *p = buf->base;
    if (buf->len < ENTRY_HEADER || get_u32le(p + 4) != ENTRY_FORMAT)
        return -1;
    uint32_t n = get_u32le(p);
    if (n > buf->len - ENTRY_HEADER)
        return -1;
    *payload = p + ENTRY_HEADER;
    *len = n;
    return 0;
}
