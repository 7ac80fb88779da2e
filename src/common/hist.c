/* hist.c - the bucket bounds and the bucket search (see hist.h). */
#include "common/hist.h"

#define MS 1000000ull

static const uint64_t latency_le[] = {
    50000,    100000,   250000,   500000,  1 * MS,   2 * MS,    5 * MS,    10 * MS,
    25 * MS,  50 * MS,  100 * MS, 250 * MS, 500 * MS, 1000 * MS, 2500 * MS, 10000 * MS,
};
const struct hist_bounds hist_latency_ns = {latency_le, sizeof latency_le / sizeof latency_le[0]};

static const uint64_t per_batch_le[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192};
const struct hist_bounds hist_per_batch = {per_batch_le, sizeof per_batch_le / sizeof per_batch_le[0]};

_Static_assert(sizeof latency_le / sizeof latency_le[0] <= HIST_MAX_BOUNDS, "latency bounds fit a hist");
_Static_assert(sizeof per_batch_le / sizeof per_batch_le[0] <= HIST_MAX_BOUNDS, "batch bounds fit a hist");

unsigned hist_bucket(const struct hist_bounds *b, uint64_t v)
{
    /* Sixteen bounds at most: a linear scan beats a binary search's
     * mispredicted branches, and small values (the common case) stop early. */
    unsigned i = 0;
    while (i < b->n && v > b->le[i])
        i++;
    return i;
}
