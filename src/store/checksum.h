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

/* The replicated-state digest (STATUS state_digest, CHECKSUM STATE): the
 * events' checksum above covers events alone, this one the consumer
 * groups' and the users' state. A chained 64-bit FNV-1a over every write a
 * group or user entry's apply makes to those tables (a tag naming the
 * table, the key, the value or its deletion) and every group operation's
 * outcome, in apply order: equal applied indexes on two replicas must give
 * equal digests, so a replica that applied a group operation differently
 * (another build, a bug) shows. O(bytes written) per entry, O(1) to read. */
#define DIGEST_HEX_LEN 16

/* Advance `prev` over `len` bytes. */
uint64_t digest_update(uint64_t prev, const void *p, size_t len);

/* 16 lowercase hex digits. */
void digest_format(uint64_t d, char out[DIGEST_HEX_LEN + 1]);

#endif
