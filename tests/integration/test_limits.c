/* test_limits.c - a full store refuses writes without losing anything.
 *
 * The node runs with a tiny LMDB map. ADDs are acknowledged until the
 * leader sees the map within its safety margin; from then on every ADD is
 * refused with -FULL before it is proposed, and every acknowledged event is
 * still there, also after a restart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

static void test_map_full(void **state)
{
    static const char *const args[] = {"--map-size", "2097152", NULL};
    struct harness_node_opts o = {.args = args};
    struct harness_node *n = harness_start_single(*state, &o);
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);

    /* 1 KiB of data per event: a 2 MiB map fills within a few hundred. */
    char data[1100];
    memset(data, 'x', 1024);
    data[1024] = '\0';
    char arg[1400];
    int64_t acked = 0;
    bool full = false;
    for (int i = 0; i < 4000 && !full; i++) {
        snprintf(arg, sizeof arg, "{\"stream\":\"fill\",\"version\":%lld,\"events\":[{\"type\":\"T\",\"data\":\"%s\"}]}",
                 (long long)acked, data);
        struct resp_value v;
        assert_int_equal(harness_cmd(c, &v, "ADD", arg, NULL), 0);
        if (v.type == RESP_T_ARRAY) {
            acked++;
        } else {
            harness_assert_error_prefix(&v, "FULL ");
            full = true;
        }
        resp_value_free(&v);
    }
    assert_true(full);
    assert_true(acked > 100);

    /* Still refused, still readable, nothing half-written. */
    struct resp_value v;
    assert_int_equal(harness_cmd(c, &v, "ADD", arg, NULL), 0);
    harness_assert_error_prefix(&v, "FULL ");
    resp_value_free(&v);
    assert_int_equal(harness_cmd(c, &v, "EC", NULL), 0);
    harness_assert_int(&v, acked);
    resp_value_free(&v);
    harness_close(c);

    /* A restart replays the log into the same store: everything is there. */
    harness_assert_stop(n);
    harness_assert_restart(n);
    c = harness_connect(n);
    assert_non_null(c);
    assert_int_equal(harness_cmd(c, &v, "EC", NULL), 0);
    harness_assert_int(&v, acked);
    resp_value_free(&v);
    assert_int_equal(harness_cmd(c, &v, "GET", "{\"stream\":\"fill\",\"version\":0,\"limit\":0}", NULL), 0);
    json_t *events = harness_assert_events(&v);
    assert_int_equal((int64_t)json_array_size(events), acked);
    json_decref(events);
    resp_value_free(&v);
    harness_close(c);
    harness_pass(*state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_map_full, harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests_name("limits", tests, NULL, NULL);
}
