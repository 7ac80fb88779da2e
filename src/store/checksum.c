/* checksum.c - see checksum.h.
 *
 * CRC-32 as zlib computes it (reflected IEEE polynomial 0xEDB88320, register
 * pre- and post-inverted), computed by zlib itself: its braided
 * implementation runs several times faster than a byte-at-a-time table,
 * and the checksum is taken over every stored event on every replica (it
 * was the largest single user-space cost of a write). Any zlib-based tool
 * can verify a replica's value. */
#include "store/checksum.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <zlib.h>

uint32_t checksum_update(uint32_t prev, const void *p, size_t len)
{
    const unsigned char *b = p;
    uLong c = prev;
    /* zlib takes lengths as uInt. */
    while (len > 0) {
        uInt n = len > UINT_MAX ? UINT_MAX : (uInt)len;
        c = crc32(c, b, n);
        b += n;
        len -= n;
    }
    return (uint32_t)c;
}

void checksum_format(uint32_t sum, char out[CHECKSUM_B32_LEN + 1])
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    /* 32 bits make six full 5-bit groups and a last group of 2 bits that
     * RFC 4648 pads with zeros on the right: 7 characters, then one '='
     * to round the output up to the 8-character block. */
    uint64_t bits = (uint64_t)sum << 3; /* 35 bits = 7 groups of 5 */
    for (int i = 0; i < 7; i++)
        out[i] = alphabet[(bits >> (5 * (6 - i))) & 0x1Fu];
    out[7] = '=';
    out[8] = '\0';
}

uint64_t digest_update(uint64_t prev, const void *p, size_t len)
{
    /* FNV-1a, chained: the previous digest is the offset basis (0 -> the
     * standard one, so an empty history reads as 0 only until the first
     * write). */
    const unsigned char *b = p;
    uint64_t h = prev != 0 ? prev : UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < len; i++) {
        h ^= b[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

void digest_format(uint64_t d, char out[DIGEST_HEX_LEN + 1])
{
    snprintf(out, DIGEST_HEX_LEN + 1, "%016" PRIx64, d);
}
