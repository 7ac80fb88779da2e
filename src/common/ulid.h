/* ulid.h - ULIDs: 128-bit ids, 48-bit millisecond timestamp then 80 random
 * bits, written as 26 characters of Crockford base32.
 *
 * Stored big-endian, so memcmp order is time order. eventflow needs ids that
 * are strictly increasing in commit order across the whole cluster; the
 * generator below guarantees it on one leader, and the state machine rejects
 * an entry whose ids do not exceed the last applied id (see store.h). */
#ifndef EVENTFLOW_ULID_H
#define EVENTFLOW_ULID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ULID_BYTES 16
#define ULID_STR_LEN 26 /* without the terminating NUL */

/* Write the 26-character text form plus a NUL into out. */
void ulid_format(const uint8_t id[ULID_BYTES], char out[ULID_STR_LEN + 1]);

/* Parse 26 characters (case-insensitive; Crockford's I/L -> 1 and O -> 0 are
 * accepted). Returns 0, or -1 if the length is wrong, a character is not in
 * the alphabet, or the value overflows 128 bits (first character > '7'). */
int ulid_parse(const char *s, size_t len, uint8_t out[ULID_BYTES]);

int ulid_compare(const uint8_t a[ULID_BYTES], const uint8_t b[ULID_BYTES]);
bool ulid_is_zero(const uint8_t id[ULID_BYTES]);
uint64_t ulid_time_ms(const uint8_t id[ULID_BYTES]);

/* Monotonic generator, owned by the leader's loop thread. */
struct ulid_gen {
    uint8_t last[ULID_BYTES]; /* last id issued; all zero at first */
};

void ulid_gen_init(struct ulid_gen *g);

/* Issue the next id: one more than max(last issued, floor), unless `now_ms`
 * is a later millisecond than that, in which case a fresh id for `now_ms`
 * with random low bits. Ids never go backwards, even when the wall clock
 * does. `floor` may be NULL. Random bits come from getrandom(2); never from
 * rand(). */
void ulid_gen_next(struct ulid_gen *g, uint64_t now_ms, const uint8_t *floor,
                   uint8_t out[ULID_BYTES]);

#endif
