/* retry.h - when and how libeventflow tries again.
 *
 * Three pure pieces, kept apart from the I/O so they can be unit-tested:
 *   - what a reply means for routing (ef_reply_classify), from the first
 *     word of an error: MOVED, NOLEADER, TRYAGAIN, UNKNOWN...;
 *   - which EF_E* code a final error reply becomes (ef_reply_error_code),
 *     and what cause a given-up message names (ef_error_cause);
 *   - how long to wait before the next attempt (ef_backoff_ms): exponential
 *     with "equal jitter", so clients that failed together do not retry in
 *     lockstep, yet never retry at once;
 * plus the small random generator behind jitter and generated keys. */
#ifndef EVENTFLOW_CLIENT_RETRY_H
#define EVENTFLOW_CLIENT_RETRY_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/resp_reader.h"

/* What a reply tells the retry loop. */
enum ef_reply_class {
    EF_REPLY_OK,        /* not an error: the answer */
    EF_REPLY_FINAL,     /* an error that is the answer (conflict, bad request...) */
    EF_REPLY_MOVED,     /* resend to the address given: the node is not the leader */
    EF_REPLY_NOLEADER,  /* no leader known: refresh the view, back off */
    EF_REPLY_TRYAGAIN,  /* the leader is not ready (or busy): back off, same node */
    EF_REPLY_UNKNOWN,   /* a write's outcome is unknown: retry only if idempotent */
    EF_REPLY_ELSEWHERE, /* this node cannot serve the read now (STALE, TIMEOUT,
                           SHUTDOWN): another node may */
};

/* Classify a reply. For EF_REPLY_MOVED the leader's address is copied into
 * moved_to (cap bytes); a MOVED without a usable address is NOLEADER. */
enum ef_reply_class ef_reply_classify(const struct resp_value *v, char *moved_to, size_t cap);

/* The EF_E* code of an error reply text ("concurrent stream modification"
 * -> EF_ECONFLICT, "unauthorized" -> EF_EAUTH...). */
int ef_reply_error_code(const char *text);

/* The failure a message that gave up names, without the wrappers: the
 * loops that give up say "... (last: <cause>)", and a loop that gives up
 * right after another one would otherwise wrap the first one's message
 * ("no node answered (last: no node answered (last: ...))"). Copies into
 * out (cap bytes) what follows the innermost "(last: ", without the
 * closing parentheses of the layers peeled; a message without the suffix
 * is copied whole, truncated to cap - 1 bytes (cap > 0). Returns out. */
const char *ef_error_cause(const char *msg, char *out, size_t cap);

/* Backoff before attempt `attempt` (1 = the first retry): min(cap,
 * base * 2^(attempt-1)) = d, then a value in [d/2, d] picked by `random`. */
int ef_backoff_ms(unsigned attempt, int base_ms, int cap_ms, uint64_t random);

/* xoshiro256** (Blackman and Vigna): fast, good enough for jitter and, with
 * a random seed, for idempotency keys (which need uniqueness, not secrecy). */
struct ef_rng {
    uint64_t s[4];
};

/* Seed from getrandom(); falls back to time, pid and address bits. */
void ef_rng_seed(struct ef_rng *r);
/* Seed from a number, for tests. */
void ef_rng_seed_with(struct ef_rng *r, uint64_t seed);
uint64_t ef_rng_next(struct ef_rng *r);

#endif
