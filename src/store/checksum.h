/* checksum.h - the replica checksum reported by CHECKSUM.
 *
 * A chained CRC-32 (IEEE polynomial): checksum_n = crc32(checksum_{n-1},
 * bytes of stored event n), advanced by the state machine once per applied
 * event and stored in the same LMDB transaction. Equal applied positions on
 * two replicas must give equal checksums, so comparing them detects
 * divergence. O(event size) per event, O(1) to read. */
#ifndef EVENTFLOW_CHECKSUM_H
#define EVENTFLOW_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

#define CHECKSUM_B32_LEN 8 /* "AAAAAAA=" */

/* Advance `prev` over `len` bytes. checksum_update(0, "", 0) == 0. */
uint32_t checksum_update(uint32_t prev, const void *p, size_t len);

/* Base32 (RFC 4648, padded) of the 4 big-endian bytes; 0 -> "AAAAAAA=". */
void checksum_format(uint32_t sum, char out[CHECKSUM_B32_LEN + 1]);

#endif
