/* bench_hist.h - latency histogram with bounded memory and bounded error.
 *
 * Log-linear buckets in the manner of HdrHistogram: every power of two is
 * split into 2^BENCH_HIST_SUB_BITS equal sub-buckets, so any recorded value
 * is known to within 1/128 (< 0.8 %) of itself, from 1 ns up to the largest
 * uint64_t, in a fixed ~58 KiB per histogram, however many samples. Values
 * below 256 are kept exactly.
 *
 * Not thread-safe: each worker thread records into its own histogram and
 * the main thread merges them after the workers have been joined. */
#ifndef EVENTFLOW_BENCH_HIST_H
#define EVENTFLOW_BENCH_HIST_H

#include <stdint.h>

#define BENCH_HIST_SUB_BITS 7
#define BENCH_HIST_BUCKETS ((64 - BENCH_HIST_SUB_BITS + 1) << BENCH_HIST_SUB_BITS)

struct bench_hist {
    uint64_t count;
    uint64_t min;   /* exact; UINT64_MAX while empty */
    uint64_t max;   /* exact */
    uint64_t sum;   /* exact, for the mean */
    uint64_t buckets[BENCH_HIST_BUCKETS];
};

void bench_hist_init(struct bench_hist *h);
void bench_hist_record(struct bench_hist *h, uint64_t value);
/* Add every sample of `from` into `into`. */
void bench_hist_merge(struct bench_hist *into, const struct bench_hist *from);

/* The value at percentile `p` (0 < p <= 100): the smallest recorded value
 * such that at least p % of the samples are <= it, reported as the upper
 * edge of its bucket (never above the exact max). 0 when empty. */
uint64_t bench_hist_percentile(const struct bench_hist *h, double p);
/* The value of the sample of 1-based rank `rank` in increasing order (rank
 * clamped to 1..count), as the upper edge of its bucket (never above the
 * exact max). 0 when empty. */
uint64_t bench_hist_at_rank(const struct bench_hist *h, uint64_t rank);
/* Arithmetic mean, 0 when empty. */
double bench_hist_mean(const struct bench_hist *h);

#endif
