/* fuzz.h - what the fuzz programs share: a check that holds in release
 * builds, and a small deterministic generator.
 *
 * Header only: each target is a program of its own, linked either with
 * libFuzzer or with standalone.c, and the generator's sequence must be the
 * same in all of them so a seed printed by one run replays in another. */
#ifndef EVENTFLOW_FUZZ_H
#define EVENTFLOW_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Not assert(): this must hold in release builds too. */
#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);     \
            abort();                                                                     \
        }                                                                                \
    } while (0)

/* FNV-1a of the bytes, never 0: a seed for fuzz_xorshift drawn from an
 * input, so that a run over the same input makes the same choices. */
static inline uint64_t fuzz_hash(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211u;
    }
    return h ? h : 1;
}

/* xorshift64: tiny, fast, and the same sequence everywhere. *s must not
 * start at 0 (it would stay there). */
static inline uint64_t fuzz_xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The size of the next piece when a stream is fed in pieces: mostly tiny
 * (1 to 4 bytes, where a parser's resumption is tested hardest), one time
 * in eight up to 512. */
static inline size_t fuzz_piece_size(uint64_t *s)
{
    uint64_t r = fuzz_xorshift(s);
    return (r & 7) == 0 ? 1 + (size_t)(r >> 3) % 512 : 1 + (size_t)(r >> 3) % 4;
}

#endif
