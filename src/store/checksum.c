/* checksum.c - see checksum.h.
 *
 * CRC-32 as zlib computes it (reflected IEEE polynomial 0xEDB88320, register
 * pre- and post-inverted), so checksum_update(prev, p, n) equals zlib's
 * crc32(prev, p, n) and any zlib-based tool can verify a replica's value.
 * The byte-at-a-time table is built once, on first use; pthread_once makes
 * that safe should a worker thread ever be the first caller. */
#include "store/checksum.h"

#include <pthread.h>

static uint32_t checksum_table[256];
static pthread_once_t checksum_table_once = PTHREAD_ONCE_INIT;

static void checksum_table_build(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        checksum_table[i] = c;
    }
}

uint32_t checksum_update(uint32_t prev, const void *p, size_t len)
{
    (void)pthread_once(&checksum_table_once, checksum_table_build);
    const unsigned char *b = p;
    uint32_t c = ~prev;
    for (size_t i = 0; i < len; i++)
        c = checksum_table[(c ^ b[i]) & 0xFFu] ^ (c >> 8);
    return ~c;
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
