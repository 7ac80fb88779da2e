/* hist.h - fixed-bucket histograms for the hot path.
 *
 * Observing is a bounded scan of a static bounds table and three integer
 * additions: no allocation, no lock, no floating point. Values are integers
 * in the unit the caller picks (nanoseconds, entries); the exposition
 * (prom.h) scales them when it writes them.
 *
 * Threading: one writer, the loop thread; a scrape reads on that same
 * thread. Nothing in eventflowd observes from another thread (raft_uv's
 * write completions and the store's commits both run on the loop), so
 * plain integers suffice; a future observer on a worker thread would need
 * C11 atomics here. */
#ifndef EVENTFLOW_HIST_H
#define EVENTFLOW_HIST_H

#include <stdint.h>

/* Upper bounds one histogram may have, besides +Inf. */
#define HIST_MAX_BOUNDS 20

/* Inclusive upper bounds ("le"), strictly ascending; shared by every
 * histogram of one kind, so it lives in static storage. */
struct hist_bounds {
    const uint64_t *le;
    unsigned n; /* <= HIST_MAX_BOUNDS */
};

struct hist {
    uint64_t buckets[HIST_MAX_BOUNDS + 1]; /* per bucket, not cumulative; the last is +Inf */
    uint64_t count;
    uint64_t sum;
};

/* Latencies in nanoseconds, 50 µs to 10 s. */
extern const struct hist_bounds hist_latency_ns;
/* Counts of things per batch, 1 to 8192 in powers of two. */
extern const struct hist_bounds hist_per_batch;

/* The bucket of v: the first bound >= v, or b->n for +Inf. */
unsigned hist_bucket(const struct hist_bounds *b, uint64_t v);

static inline void hist_observe(struct hist *h, const struct hist_bounds *b, uint64_t v)
{
    h->buckets[hist_bucket(b, v)]++;
    h->count++;
    h->sum += v;
}

#endif
