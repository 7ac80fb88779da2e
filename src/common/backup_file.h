/* backup_file.h - the layout of a backup file (eventflowctl backup writes
 * one through libeventflow, eventflowd --restore reads one).
 *
 *   header   BACKUP_HEADER_BYTES: what the image holds, ending with the
 *            CRC-32 of the header's other bytes
 *   image    image_bytes: a compacted copy of the store's LMDB file
 *   trailer  BACKUP_TRAILER_BYTES: BACKUP_TRAILER_MAGIC, then the CRC-32 of
 *            every byte before it (header and image)
 *
 * Integers are big-endian. The header is read before anything else, so a
 * file of a later layout or a damaged header is refused before its image
 * is written anywhere. docs/operations.md, "Backups", describes the fields. */
#ifndef EVENTFLOW_COMMON_BACKUP_FILE_H
#define EVENTFLOW_COMMON_BACKUP_FILE_H

#include <stddef.h>
#include <stdint.h>

#define BACKUP_MAGIC "EFBACKUP"
#define BACKUP_TRAILER_MAGIC "EFBKTAIL"
/* Layout version; a reader refuses a later one. */
#define BACKUP_VERSION 1
#define BACKUP_HEADER_BYTES 140
#define BACKUP_TRAILER_BYTES 12
#define BACKUP_ID_BYTES 16
#define BACKUP_VERSION_TEXT 32

struct backup_header {
    uint32_t version;      /* BACKUP_VERSION when written */
    uint32_t store_format; /* the image's store format */
    uint64_t applied_index; /* raft index the image is at (in the source cluster) */
    uint64_t term;          /* the serving node's raft term when the copy began */
    uint64_t event_count;
    uint64_t stream_count;
    uint64_t image_bytes;
    int64_t created_ms;     /* Unix time, ms */
    uint32_t checksum;      /* the store's chained checksum (CHECKSUM) */
    uint32_t image_crc;     /* CRC-32 of the image */
    uint8_t last_id[BACKUP_ID_BYTES];    /* last event id, all zero if none */
    uint8_t cluster_id[BACKUP_ID_BYTES]; /* the source cluster's identity */
    char eventflow_version[BACKUP_VERSION_TEXT]; /* NUL-terminated */
};

/* CRC-32 (zlib's) of len bytes, continuing from crc (0 to start). */
uint32_t backup_crc(uint32_t crc, const void *p, size_t len);

void backup_header_encode(const struct backup_header *h, uint8_t out[BACKUP_HEADER_BYTES]);
/* 0, or -1 with why in err: not a backup file, a damaged header, or a
 * layout newer than this build reads. */
int backup_header_decode(const uint8_t in[BACKUP_HEADER_BYTES], struct backup_header *h, char *err,
                         size_t errlen);

void backup_trailer_encode(uint32_t file_crc, uint8_t out[BACKUP_TRAILER_BYTES]);
/* 0 with the recorded CRC in *file_crc, or -1 if these bytes are no
 * trailer. */
int backup_trailer_decode(const uint8_t in[BACKUP_TRAILER_BYTES], uint32_t *file_crc);

#endif
