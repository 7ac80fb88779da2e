/* test_metrics_counters.c - the server's command counters (server/metrics.c): which
 * outcome each reply eventflowd writes stands for, and that a timed
 * command lands in its counter and its latency histogram. The wording
 * pinned here is commands.c's and reads.c's; a reworded error that no
 * longer matches would count as `invalid`, and fail here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/metrics.h"

static enum metrics_outcome of(const char *reply)
{
    return metrics_outcome_of(reply, strlen(reply));
}

static void test_outcomes(void **state)
{
    (void)state;
    assert_int_equal(of("*1\r\n$3\r\nabc\r\n"), METRICS_OK);
    assert_int_equal(of("*0\r\n"), METRICS_OK);
    assert_int_equal(of("-concurrent stream modification\r\n"), METRICS_CONFLICT);
    assert_int_equal(of("-given version leaves gap in stream\r\n"), METRICS_GAP);
    assert_int_equal(of("-MOVED 0 127.0.0.1:6544\r\n"), METRICS_MOVED);
    assert_int_equal(of("-NOLEADER no leader is elected right now; retry\r\n"), METRICS_NOLEADER);
    assert_int_equal(of("-CLUSTERDOWN The cluster is down: no leader is elected right now; retry\r\n"),
                     METRICS_NOLEADER);
    assert_int_equal(of("-MOVED 14303 127.0.0.1:6544\r\n"), METRICS_MOVED);
    assert_int_equal(of("-TRYAGAIN the new leader is applying earlier entries; retry\r\n"), METRICS_TRYAGAIN);
    assert_int_equal(of("-UNKNOWN outcome unknown\r\n"), METRICS_UNKNOWN);
    assert_int_equal(of("-FULL the disk is nearly full\r\n"), METRICS_FULL);
    assert_int_equal(of("-TOOBIG the ADD is too large for one log entry\r\n"), METRICS_TOOBIG);
    assert_int_equal(of("-SHUTDOWN the server is shutting down\r\n"), METRICS_SHUTDOWN);
    assert_int_equal(of("-IOERR raft: x\r\n"), METRICS_IOERR);
    assert_int_equal(of("-KEYREUSE idempotency key\r\n"), METRICS_KEYREUSE);
    assert_int_equal(of("-STALE this node restarted\r\n"), METRICS_STALE);
    assert_int_equal(of("-unauthorized\r\n"), METRICS_UNAUTHORIZED);
    assert_int_equal(of("-insufficient arguments\r\n"), METRICS_INVALID);
    assert_int_equal(of("-MOVEDX 0\r\n"), METRICS_INVALID);
    assert_int_equal(of("-\r\n"), METRICS_INVALID);
    /* A reply cut short still gets a kind. */
    assert_int_equal(metrics_outcome_of("-FULL", 5), METRICS_FULL);
    assert_int_equal(metrics_outcome_of("", 0), METRICS_OK);
}

static void test_every_outcome_named(void **state)
{
    (void)state;
    for (int o = 0; o < METRICS_N_OUTCOMES; o++) {
        const char *name = metrics_outcome_name(o);
        assert_non_null(name);
        assert_true(strlen(name) > 0);
        for (int p = 0; p < o; p++)
            assert_string_not_equal(name, metrics_outcome_name(p));
    }
}

static void test_command_done_counts(void **state)
{
    (void)state;
    struct metrics m;
    metrics_init(&m);
    const char *ok = "*0\r\n", *moved = "-MOVED 0 h:1\r\n";
    metrics_command_done(&m, METRICS_ADD, 2000000, ok, strlen(ok));
    metrics_command_done(&m, METRICS_ADD, 3000, moved, strlen(moved));
    metrics_command_done(&m, METRICS_GET, 1000, ok, strlen(ok));
    metrics_command_done(&m, METRICS_UNTIMED, 1000, ok, strlen(ok));
    assert_int_equal(m.outcomes[METRICS_ADD][METRICS_OK], 1);
    assert_int_equal(m.outcomes[METRICS_ADD][METRICS_MOVED], 1);
    assert_int_equal(m.outcomes[METRICS_GET][METRICS_OK], 1);
    assert_int_equal(m.latency_ns[METRICS_ADD].count, 2);
    assert_int_equal(m.latency_ns[METRICS_ADD].sum, 2003000);
    assert_int_equal(m.latency_ns[METRICS_GETALL].count, 0);
    metrics_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outcomes),
        cmocka_unit_test(test_every_outcome_named),
        cmocka_unit_test(test_command_done_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
