/* backup_file.c - encoding and checking a backup file's header and trailer
 * (see backup_file.h). */
#include "common/backup_file.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "common/be64.h"

#define OFF_VERSION 8
#define OFF_FORMAT 12
#define OFF_APPLIED 16
#define OFF_TERM 24
#define OFF_EVENTS 32
#define OFF_STREAMS 40
#define OFF_IMAGE_BYTES 48
#define OFF_CREATED 56
#define OFF_CHECKSUM 64
#define OFF_IMAGE_CRC 68
#define OFF_LAST_ID 72
#define OFF_CLUSTER_ID 88
#define OFF_EVENTFLOW 104
#define OFF_HEADER_CRC 136

_Static_assert(OFF_HEADER_CRC + 4 == BACKUP_HEADER_BYTES, "header layout");
_Static_assert(OFF_EVENTFLOW + BACKUP_VERSION_TEXT == OFF_HEADER_CRC, "header layout");

static void be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t be32_get(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint32_t backup_crc(uint32_t crc, const void *p, size_t len)
{
    /* zlib takes uInt lengths. */
    const uint8_t *b = p;
    while (len > 0) {
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = (uint32_t)crc32(crc, b, n);
        b += n;
        len -= n;
    }
    return crc;
}

void backup_header_encode(const struct backup_header *h, uint8_t out[BACKUP_HEADER_BYTES])
{
    memset(out, 0, BACKUP_HEADER_BYTES);
    memcpy(out, BACKUP_MAGIC, 8);
    be32_put(out + OFF_VERSION, h->version);
    be32_put(out + OFF_FORMAT, h->store_format);
    be64_put(out + OFF_APPLIED, h->applied_index);
    be64_put(out + OFF_TERM, h->term);
    be64_put(out + OFF_EVENTS, h->event_count);
    be64_put(out + OFF_STREAMS, h->stream_count);
    be64_put(out + OFF_IMAGE_BYTES, h->image_bytes);
    be64_put(out + OFF_CREATED, (uint64_t)h->created_ms);
    be32_put(out + OFF_CHECKSUM, h->checksum);
    be32_put(out + OFF_IMAGE_CRC, h->image_crc);
    memcpy(out + OFF_LAST_ID, h->last_id, BACKUP_ID_BYTES);
    memcpy(out + OFF_CLUSTER_ID, h->cluster_id, BACKUP_ID_BYTES);
    /* The last byte of the field stays NUL. */
    size_t vlen = strnlen(h->eventflow_version, BACKUP_VERSION_TEXT - 1);
    memcpy(out + OFF_EVENTFLOW, h->eventflow_version, vlen);
    be32_put(out + OFF_HEADER_CRC, backup_crc(0, out, OFF_HEADER_CRC));
}

int backup_header_decode(const uint8_t in[BACKUP_HEADER_BYTES], struct backup_header *h, char *err,
                         size_t errlen)
{
    memset(h, 0, sizeof *h);
    if (memcmp(in, BACKUP_MAGIC, 8) != 0) {
        snprintf(err, errlen, "not an eventflow backup (no %s header)", BACKUP_MAGIC);
        return -1;
    }
    if (backup_crc(0, in, OFF_HEADER_CRC) != be32_get(in + OFF_HEADER_CRC)) {
        snprintf(err, errlen, "the backup's header is damaged (its CRC-32 does not match)");
        return -1;
    }
    h->version = be32_get(in + OFF_VERSION);
    if (h->version == 0 || h->version > BACKUP_VERSION) {
        snprintf(err, errlen, "backup file layout %u is newer than this build reads (%d)", h->version,
                 BACKUP_VERSION);
        return -1;
    }
    h->store_format = be32_get(in + OFF_FORMAT);
    h->applied_index = be64_get(in + OFF_APPLIED);
    h->term = be64_get(in + OFF_TERM);
    h->event_count = be64_get(in + OFF_EVENTS);
    h->stream_count = be64_get(in + OFF_STREAMS);
    h->image_bytes = be64_get(in + OFF_IMAGE_BYTES);
    h->created_ms = (int64_t)be64_get(in + OFF_CREATED);
    h->checksum = be32_get(in + OFF_CHECKSUM);
    h->image_crc = be32_get(in + OFF_IMAGE_CRC);
    memcpy(h->last_id, in + OFF_LAST_ID, BACKUP_ID_BYTES);
    memcpy(h->cluster_id, in + OFF_CLUSTER_ID, BACKUP_ID_BYTES);
    memcpy(h->eventflow_version, in + OFF_EVENTFLOW, BACKUP_VERSION_TEXT);
    h->eventflow_version[BACKUP_VERSION_TEXT - 1] = '\0';
    return 0;
}

void backup_trailer_encode(uint32_t file_crc, uint8_t out[BACKUP_TRAILER_BYTES])
{
    memcpy(out, BACKUP_TRAILER_MAGIC, 8);
    be32_put(out + 8, file_crc);
}

int backup_trailer_decode(const uint8_t in[BACKUP_TRAILER_BYTES], uint32_t *file_crc)
{
    if (memcmp(in, BACKUP_TRAILER_MAGIC, 8) != 0)
        return -1;
    *file_crc = be32_get(in + 8);
    return 0;
}
