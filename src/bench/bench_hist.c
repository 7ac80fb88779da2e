/* bench_hist.c - log-linear latency histogram, see bench_hist.h.
 *
 * Bucket layout: a value v < 2^(SUB_BITS+1) has its own bucket (index v).
 * A larger v is shifted right until it fits in SUB_BITS+1 bits; the shift
 * picks the group and the remaining bits (always >= 2^SUB_BITS) the bucket
 * within it: index = shift * 2^SUB_BITS + (v >> shift). Indexes grow with v,
 * so percentiles are a walk from the low end. */
#include "bench/bench_hist.h"

#include <string.h>

#define SUB_COUNT ((uint64_t)1 << BENCH_HIST_SUB_BITS)

static unsigned bucket_of(uint64_t v)
{
    if (v < 2 * SUB_COUNT)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - BENCH_HIST_SUB_BITS;
    return (unsigned)(shift * SUB_COUNT + (v >> shift));
}

/* Largest value that lands in bucket `i`. */
static uint64_t bucket_upper(unsigned i)
{
    if (i < 2 * SUB_COUNT)
        return i;
    unsigned shift = (unsigned)(i / SUB_COUNT) - 1;
    uint64_t mantissa = i - shift * SUB_COUNT;
    /* The top bucket's edge would overflow; it ends at UINT64_MAX. */
    if (mantissa + 1 == 2 * SUB_COUNT && shift == 64 - BENCH_HIST_SUB_BITS - 1)
        return UINT64_MAX;
    return ((mantissa + 1) << shift) - 1;
}

void bench_hist_init(struct bench_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

void bench_hist_record(struct bench_hist *h, uint64_t value)
{
    h->buckets[bucket_of(value)]++;
    h->count++;
    h->sum += value;
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
}

void bench_hist_merge(struct bench_hist *into, const struct bench_hist *from)
{
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++)
        into->buckets[i] += from->buckets[i];
    into->count += from->count;
    into->sum += from->sum;
    if (from->min < into->min)
        into->min = from->min;
    if (from->max > into->max)
        into->max = from->max;
}

uint64_t bench_hist_percentile(const struct bench_hist *h, double p)
{
    if (h->count == 0)
        return 0;
    if (p >= 100.0)
        return h->max;
    /* Rank of the sample at percentile p, 1-based: ceil(p% of count). */
    double want = p / 100.0 * (double)h->count;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want || rank == 0)
        rank++;
    return bench_hist_at_rank(h, rank);
}

uint64_t bench_hist_at_rank(const struct bench_hist *h, uint64_t rank)
{
    if (h->count == 0)
        return 0;
    if (rank < 1)
        rank = 1;
    if (rank >= h->count)
        return h->max;
    uint64_t seen = 0;
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t v = bucket_upper(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

double bench_hist_mean(const struct bench_hist *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}
