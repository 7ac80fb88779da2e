/* test_prom.c - histogram bucketing (common/hist.h) and the Prometheus
 * text format (common/prom.h): bounds are inclusive, buckets come out
 * cumulative with +Inf last, units are scaled, label values and help
 * texts are escaped. The integration test (test_metrics.c) feeds a real
 * server's output to real parsers; here the exact bytes are pinned. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/hist.h"
#include "common/prom.h"

static const uint64_t small_le[] = {1, 10, 100};
static const struct hist_bounds small = {small_le, 3};

static void test_bucket_bounds_inclusive(void **state)
{
    (void)state;
    assert_int_equal(hist_bucket(&small, 0), 0);
    assert_int_equal(hist_bucket(&small, 1), 0);
    assert_int_equal(hist_bucket(&small, 2), 1);
    assert_int_equal(hist_bucket(&small, 10), 1);
    assert_int_equal(hist_bucket(&small, 11), 2);
    assert_int_equal(hist_bucket(&small, 100), 2);
    assert_int_equal(hist_bucket(&small, 101), 3);
    assert_int_equal(hist_bucket(&small, UINT64_MAX), 3);
}

static void test_shared_bounds_ascending(void **state)
{
    (void)state;
    const struct hist_bounds *all[] = {&hist_latency_ns, &hist_per_batch};
    for (size_t k = 0; k < 2; k++) {
        assert_true(all[k]->n > 0 && all[k]->n <= HIST_MAX_BOUNDS);
        for (unsigned i = 1; i < all[k]->n; i++)
            assert_true(all[k]->le[i - 1] < all[k]->le[i]);
    }
    /* 1 ms lands in the 1 ms bucket, one nanosecond more in the next. */
    unsigned ms = hist_bucket(&hist_latency_ns, 1000000);
    assert_int_equal(hist_latency_ns.le[ms], 1000000);
    assert_int_equal(hist_bucket(&hist_latency_ns, 1000001), ms + 1);
}

static void test_observe_counts_and_sums(void **state)
{
    (void)state;
    struct hist h = {0};
    uint64_t values[] = {0, 1, 5, 10, 50, 1000};
    for (size_t i = 0; i < 6; i++)
        hist_observe(&h, &small, values[i]);
    assert_int_equal(h.count, 6);
    assert_int_equal(h.sum, 1066);
    assert_int_equal(h.buckets[0], 2);
    assert_int_equal(h.buckets[1], 2);
    assert_int_equal(h.buckets[2], 1);
    assert_int_equal(h.buckets[3], 1);
}

static char *take(struct buf *b)
{
    buf_append_char(b, '\0');
    return b->data;
}

static void test_histogram_text_cumulative(void **state)
{
    (void)state;
    struct hist h = {0};
    hist_observe(&h, &small, 1);
    hist_observe(&h, &small, 7);
    hist_observe(&h, &small, 500);
    struct buf b;
    buf_init(&b);
    struct prom_label l[] = {{"command", "add"}};
    prom_hist(&b, "x", l, 1, &h, &small, 1.0);
    assert_string_equal(take(&b), "x_bucket{command=\"add\",le=\"1\"} 1\n"
                                  "x_bucket{command=\"add\",le=\"10\"} 2\n"
                                  "x_bucket{command=\"add\",le=\"100\"} 2\n"
                                  "x_bucket{command=\"add\",le=\"+Inf\"} 3\n"
                                  "x_sum{command=\"add\"} 508\n"
                                  "x_count{command=\"add\"} 3\n");
    buf_free(&b);
}

static void test_histogram_scaled_to_seconds(void **state)
{
    (void)state;
    static const uint64_t ns_le[] = {500000, 2000000000};
    const struct hist_bounds ns = {ns_le, 2};
    struct hist h = {0};
    hist_observe(&h, &ns, 250000);
    hist_observe(&h, &ns, 1500000000);
    struct buf b;
    buf_init(&b);
    prom_hist(&b, "t_seconds", NULL, 0, &h, &ns, 1e-9);
    assert_string_equal(take(&b), "t_seconds_bucket{le=\"0.0005\"} 1\n"
                                  "t_seconds_bucket{le=\"2\"} 2\n"
                                  "t_seconds_bucket{le=\"+Inf\"} 2\n"
                                  "t_seconds_sum 1.50025\n"
                                  "t_seconds_count 2\n");
    buf_free(&b);
}

static void test_family_and_samples(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    prom_family(&b, "eventflow_x_total", "counter", "What \\ it counts,\nover two lines");
    prom_u64(&b, "eventflow_x_total", NULL, 0, 42);
    struct prom_label l[] = {{"a", "1"}, {"b", "two"}};
    prom_double(&b, "eventflow_y_seconds", l, 2, 0.25);
    assert_string_equal(take(&b), "# HELP eventflow_x_total What \\\\ it counts,\\nover two lines\n"
                                  "# TYPE eventflow_x_total counter\n"
                                  "eventflow_x_total 42\n"
                                  "eventflow_y_seconds{a=\"1\",b=\"two\"} 0.25\n");
    buf_free(&b);
}

static void test_label_values_escaped(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    struct prom_label l[] = {{"group", "a\"b\\c\nd}e,f=g"}};
    prom_u64(&b, "g", l, 1, 7);
    assert_string_equal(take(&b), "g{group=\"a\\\"b\\\\c\\nd}e,f=g\"} 7\n");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_bounds_inclusive),
        cmocka_unit_test(test_shared_bounds_ascending),
        cmocka_unit_test(test_observe_counts_and_sums),
        cmocka_unit_test(test_histogram_text_cumulative),
        cmocka_unit_test(test_histogram_scaled_to_seconds),
        cmocka_unit_test(test_family_and_samples),
        cmocka_unit_test(test_label_values_escaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
