/* test_human.c - sizes and durations in both styles (common/human.h).
 *
 * The EventflowDB style is what SIZE and UPTIME answer, so its forms are
 * pinned here exactly, rounding and all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/human.h"

struct form {
    uint64_t n;
    const char *text;
};

static void check_bytes(enum human_style style, const struct form *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char out[16];
        human_bytes(f[i].n, style, out, sizeof out);
        assert_string_equal(out, f[i].text);
    }
}

static void check_durations(enum human_style style, const struct form *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char out[32];
        human_duration(f[i].n, style, out, sizeof out);
        assert_string_equal(out, f[i].text);
    }
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_bytes_eventflowdb(void **state)
{
    (void)state;
    static const struct form f[] = {
        {0, "0 B"},           {999, "999 B"},         {1000, "1.0 kB"},
        {1234, "1.2 kB"},     {9950, "9.9 kB"},       {99999, "100 kB"},
        {34000000, "34 MB"},  {999999999, "1000 MB"}, {UINT64_MAX, "18 EB"},
    };
    check_bytes(HUMAN_EVENTFLOWDB, f, N(f));
}

static void test_bytes_short(void **state)
{
    (void)state;
    static const struct form f[] = {
        {0, "0 B"},           {1023, "1023 B"},          {1024, "1.0 KiB"},
        {1536, "1.5 KiB"},    {20971520, "20.0 MiB"},    {999999999, "953.7 MiB"},
        {UINT64_MAX, "16384.0 PiB"},
    };
    check_bytes(HUMAN_SHORT, f, N(f));
}

static void test_durations_eventflowdb(void **state)
{
    (void)state;
    static const struct form f[] = {
        {0, "0s"},
        {1, "1ms"},
        {999, "999ms"},
        {1000, "1s"},
        {3004, "3.004s"},
        {3040, "3.04s"},
        {60000, "1m0s"},
        {3600000, "1h0m0s"},
        {3723004, "1h2m3.004s"},
        {86400000, "24h0m0s"},
        {UINT64_MAX, "5124095576030h25m51.615s"},
    };
    check_durations(HUMAN_EVENTFLOWDB, f, N(f));
}

static void test_durations_short(void **state)
{
    (void)state;
    static const struct form f[] = {
        {0, "0ms"},       {999, "999ms"},    {1000, "1.0s"},        {12345, "12.3s"},
        {59999, "59.9s"}, {303000, "5m3s"},  {3723004, "1h2m"},     {86399999, "23h59m"},
        {86400000, "1d0h"}, {273600000, "3d4h"},
    };
    check_durations(HUMAN_SHORT, f, N(f));
}

/* A short buffer gets the start of the text, never more. */
static void test_cut_to_cap(void **state)
{
    (void)state;
    char out[8];
    memset(out, 'x', sizeof out);
    human_duration(UINT64_MAX, HUMAN_EVENTFLOWDB, out, 6);
    assert_string_equal(out, "51240");
    assert_int_equal(out[6], 'x');
    human_bytes(UINT64_MAX, HUMAN_SHORT, out, 6);
    assert_string_equal(out, "16384");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes_eventflowdb),
        cmocka_unit_test(test_bytes_short),
        cmocka_unit_test(test_durations_eventflowdb),
        cmocka_unit_test(test_durations_short),
        cmocka_unit_test(test_cut_to_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
