/* retry.c - reply classification, backoff and the random generator. */
#include "client/retry.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "eventflow/errors.h"

/* True if text starts with the word w, followed by a space or the end.
 * Case matters: the server's machine words are upper case, and "unknown
 * command" must not read as "UNKNOWN". */
static bool first_word_is(const char *text, const char *w)
{
    size_t n = strlen(w);
    return strncmp(text, w, n) == 0 && (text[n] == ' ' || text[n] == '\0');
}

static bool starts_with(const char *text, const char *prefix)
{
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

/* "MOVED <slot> <host:port>": copy the address. */
static bool parse_moved(const char *text, char *out, size_t cap)
{
    const char *p = text + strlen("MOVED");
    while (*p == ' ')
        p++;
    while (*p != ' ' && *p != '\0') /* the slot (the request key's, for Redis Cluster clients) */
        p++;
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, " ");
    if (n == 0 || n >= cap || memchr(p, ':', n) == NULL)
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

enum ef_reply_class ef_reply_classify(const struct resp_value *v, char *moved_to, size_t cap)
{
    if (v->type != RESP_T_ERROR)
        return EF_REPLY_OK;
    const char *t = v->str != NULL ? v->str : "";
    if (first_word_is(t, "MOVED"))
        return parse_moved(t, moved_to, cap) ? EF_REPLY_MOVED : EF_REPLY_NOLEADER;
    /* CLUSTERDOWN: NOLEADER as a node tells Redis Cluster clients. */
    if (first_word_is(t, "NOLEADER") || first_word_is(t, "CLUSTERDOWN"))
        return EF_REPLY_NOLEADER;
    if (first_word_is(t, "TRYAGAIN") || first_word_is(t, "BUSY"))
        return EF_REPLY_TRYAGAIN;
    if (first_word_is(t, "UNKNOWN"))
        return EF_REPLY_UNKNOWN;
    if (first_word_is(t, "STALE") || first_word_is(t, "TIMEOUT") || first_word_is(t, "SHUTDOWN"))
        return EF_REPLY_ELSEWHERE;
    return EF_REPLY_FINAL;
}

int ef_reply_error_code(const char *text)
{
    if (strcmp(text, "unauthorized") == 0 || first_word_is(text, "WRONGPASS") || first_word_is(text, "NOPERM"))
        return EF_EAUTH;
    if (starts_with(text, "concurrent stream modification"))
        return EF_ECONFLICT;
    if (starts_with(text, "given version leaves gap"))
        return EF_EGAP;
    /* KEYREUSE since the key is compared with the event; servers before
     * that answered "idempotency key reuse: ...". */
    if (first_word_is(text, "KEYREUSE") || starts_with(text, "idempotency key"))
        return EF_EKEYREUSE;
    /* A membership change the cluster will not make (a foreign node). */
    if (first_word_is(text, "REFUSED"))
        return EF_EINVAL;
    if (first_word_is(text, "FULL"))
        return EF_EFULL;
    if (first_word_is(text, "TOOBIG") || starts_with(text, "too many events") ||
        (starts_with(text, "event ") && strstr(text, " too large") != NULL))
        return EF_ETOOBIG;
    /* Consumer groups: a missing or existing group (or consumer) has a
     * code of its own; an ACK or NACK naming an event the group did not
     * hand out (or that is no longer pending), or the deletion of a
     * consumer holding events, is a refused request. */
    if (first_word_is(text, "NOGROUP") || first_word_is(text, "NOCONSUMER") || first_word_is(text, "NOSTREAM"))
        return EF_ENOTFOUND;
    /* Streams: a hard-deleted one, an idempotency key of a removed event,
     * a truncation past the end. */
    if (first_word_is(text, "DELETED") || first_word_is(text, "REMOVED"))
        return EF_EDELETED;
    if (first_word_is(text, "BEYOND"))
        return EF_EINVAL;
    if (first_word_is(text, "EXISTS"))
        return EF_EEXISTS;
    if (first_word_is(text, "NOTDELIVERED") || first_word_is(text, "NOTPENDING") || first_word_is(text, "HOLDING"))
        return EF_EINVAL;
    if (starts_with(text, "Protocol error"))
        return EF_EPROTO;
    /* Any other machine word (IOERR, and words this version does not know)
     * is the server's trouble; plain-language errors refuse the request. */
    size_t word = strcspn(text, " ");
    bool upper = word > 0;
    for (size_t i = 0; i < word; i++)
        if (!(text[i] >= 'A' && text[i] <= 'Z'))
            upper = false;
    return upper ? EF_ESERVER : EF_EINVAL;
}

const char *ef_error_cause(const char *msg, char *out, size_t cap)
{
    static const char mark[] = " (last: ";
    const char *s = msg;
    size_t len = strlen(msg);
    const char *p;
    /* Each layer is "<text> (last: <inner>)": peel while the rest ends in
     * the layer's own closing parenthesis. */
    while ((p = strstr(s, mark)) != NULL && len > 0 && s[len - 1] == ')') {
        size_t skip = (size_t)(p - s) + sizeof mark - 1;
        if (skip + 1 > len)
            break;
        len -= skip + 1;
        s += skip;
    }
    snprintf(out, cap, "%.*s", (int)len, s);
    return out;
}

int ef_backoff_ms(unsigned attempt, int base_ms, int cap_ms, uint64_t random)
{
    if (attempt == 0 || base_ms <= 0 || cap_ms <= 0)
        return 0;
    int64_t d = cap_ms;
    if (attempt <= 30) {
        int64_t exp = (int64_t)base_ms << (attempt - 1);
        if (exp < d)
            d = exp;
    }
    int64_t half = d / 2;
    return (int)(d - half + (int64_t)(random % (uint64_t)(half + 1)));
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t ef_rng_next(struct ef_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* splitmix64 spreads one number over the four words of state, as the
 * xoshiro authors recommend (a state of all zeroes would be stuck). */
static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void ef_rng_seed_with(struct ef_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix(&seed);
}

void ef_rng_seed(struct ef_rng *r)
{
    uint64_t seed[4];
    ssize_t got = getrandom(seed, sizeof seed, 0);
    if (got == (ssize_t)sizeof seed && (seed[0] | seed[1] | seed[2] | seed[3]) != 0) {
        memcpy(r->s, seed, sizeof seed);
        return;
    }
    /* No entropy source (very old kernel, seccomp): still distinct per
     * client and process, which is what keys need. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
    x ^= (uint64_t)getpid() << 32;
    x ^= (uint64_t)(uintptr_t)r;
    ef_rng_seed_with(r, x);
}
