/* ulid.c - ULID text form, ordering and the monotonic generator, see ulid.h.
 *
 * The 128-bit value is handled as two big-endian 64-bit halves. The text
 * form is 26 base32 digits = 130 bits, so the first digit carries only the
 * top 3 bits and may not exceed '7'. */
#include "common/ulid.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/be64.h"

static const char ulid_alphabet[32] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* Each byte's digit value plus one, so that 0 (the default of every other
 * entry) means "not in the alphabet". A literal table keeps ulid_parse free
 * of shared state. */
#define D(v) ((v) + 1)
static const uint8_t ulid_digit_plus1[256] = {
    ['0'] = D(0),  ['1'] = D(1),  ['2'] = D(2),  ['3'] = D(3),  ['4'] = D(4),
    ['5'] = D(5),  ['6'] = D(6),  ['7'] = D(7),  ['8'] = D(8),  ['9'] = D(9),
    ['A'] = D(10), ['B'] = D(11), ['C'] = D(12), ['D'] = D(13), ['E'] = D(14),
    ['F'] = D(15), ['G'] = D(16), ['H'] = D(17), ['J'] = D(18), ['K'] = D(19),
    ['M'] = D(20), ['N'] = D(21), ['P'] = D(22), ['Q'] = D(23), ['R'] = D(24),
    ['S'] = D(25), ['T'] = D(26), ['V'] = D(27), ['W'] = D(28), ['X'] = D(29),
    ['Y'] = D(30), ['Z'] = D(31),
    ['a'] = D(10), ['b'] = D(11), ['c'] = D(12), ['d'] = D(13), ['e'] = D(14),
    ['f'] = D(15), ['g'] = D(16), ['h'] = D(17), ['j'] = D(18), ['k'] = D(19),
    ['m'] = D(20), ['n'] = D(21), ['p'] = D(22), ['q'] = D(23), ['r'] = D(24),
    ['s'] = D(25), ['t'] = D(26), ['v'] = D(27), ['w'] = D(28), ['x'] = D(29),
    ['y'] = D(30), ['z'] = D(31),
    /* Crockford's aliases for characters that are easily misread. */
    ['I'] = D(1),  ['i'] = D(1),  ['L'] = D(1),  ['l'] = D(1),  ['O'] = D(0),
    ['o'] = D(0),
};
#undef D

void ulid_format(const uint8_t id[ULID_BYTES], char out[ULID_STR_LEN + 1])
{
    /* The first byte makes two digits (its top 3 bits, then 5); each
     * following group of 5 bytes (40 bits) makes 8. Reads share the hot path
     * of every event written, hence the groups rather than a 128-bit shift
     * per digit. */
    out[0] = ulid_alphabet[id[0] >> 5];
    out[1] = ulid_alphabet[id[0] & 31];
    for (int g = 0; g < 3; g++) {
        const uint8_t *p = id + 1 + 5 * g;
        uint64_t v = 0;
        for (int i = 0; i < 5; i++)
            v = (v << 8) | p[i];
        char *o = out + 2 + 8 * g;
        for (int k = 7; k >= 0; k--) {
            o[k] = ulid_alphabet[v & 31];
            v >>= 5;
        }
    }
    out[ULID_STR_LEN] = '\0';
}

int ulid_parse(const char *s, size_t len, uint8_t out[ULID_BYTES])
{
    if (s == NULL || len != ULID_STR_LEN)
        return -1;
    uint64_t hi = 0;
    uint64_t lo = 0;
    for (size_t i = 0; i < ULID_STR_LEN; i++) {
        int d = ulid_digit_plus1[(unsigned char)s[i]] - 1;
        if (d < 0)
            return -1;
        /* 26 digits hold 130 bits; the 2 extra bits are the first digit's
         * top bits and must be clear. */
        if (i == 0 && d > 7)
            return -1;
        hi = (hi << 5) | (lo >> 59);
        lo = (lo << 5) | (uint64_t)d;
    }
    be64_put(out, hi);
    be64_put(out + 8, lo);
    return 0;
}

int ulid_compare(const uint8_t a[ULID_BYTES], const uint8_t b[ULID_BYTES])
{
    int c = memcmp(a, b, ULID_BYTES);
    return (c > 0) - (c < 0);
}

bool ulid_is_zero(const uint8_t id[ULID_BYTES])
{
    for (size_t i = 0; i < ULID_BYTES; i++) {
        if (id[i] != 0)
            return false;
    }
    return true;
}

uint64_t ulid_time_ms(const uint8_t id[ULID_BYTES])
{
    return be64_get(id) >> 16;
}

void ulid_gen_init(struct ulid_gen *g)
{
    memset(g->last, 0, sizeof g->last);
}

/* Fill p with n random bytes from the kernel. getrandom(2) without flags
 * only blocks before the entropy pool is first initialised; it may return
 * early on a signal or, for large requests, short, so loop on both. Any
 * other failure means the kernel cannot give randomness at all, which we
 * treat like running out of memory: fatal. */
static void ulid_random(uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "eventflow: getrandom failed: %s\n", strerror(errno));
            abort();
        }
        p += r;
        n -= (size_t)r;
    }
}

/* id += 1 over all 128 bits. Returns false if it wrapped around. */
static bool ulid_increment(uint8_t id[ULID_BYTES])
{
    for (int i = ULID_BYTES - 1; i >= 0; i--) {
        if (++id[i] != 0)
            return true;
    }
    return false;
}

void ulid_gen_next(struct ulid_gen *g, uint64_t now_ms, const uint8_t *floor,
                   uint8_t out[ULID_BYTES])
{
    uint8_t bound[ULID_BYTES];
    const uint8_t *base = g->last;
    if (floor != NULL && ulid_compare(floor, base) > 0)
        base = floor;
    memcpy(bound, base, ULID_BYTES);
    if (!ulid_increment(bound)) {
        /* Only reachable with a timestamp of 2^48-1 ms (the year 10889):
         * stay at the largest id rather than wrap to the smallest. */
        memset(bound, 0xff, ULID_BYTES);
    }

    uint8_t fresh[ULID_BYTES];
    uint64_t ms = now_ms & ((UINT64_C(1) << 48) - 1);
    for (int i = 5; i >= 0; i--) {
        fresh[i] = (uint8_t)(ms & 0xff);
        ms >>= 8;
    }
    /* Random bits only when the clock has moved past the bound's
     * millisecond; within one millisecond (or when the clock steps back)
     * the id is the bound, one more than the last, as the ULID spec's
     * monotonic mode has it. Under load that is most ids, and each skipped
     * getrandom(2) is a system call off the write path. */
    const uint8_t *chosen = bound;
    if (ulid_time_ms(fresh) > ulid_time_ms(bound)) {
        ulid_random(fresh + 6, ULID_BYTES - 6);
        chosen = fresh;
    }
    memcpy(g->last, chosen, ULID_BYTES);
    memcpy(out, chosen, ULID_BYTES);
}
