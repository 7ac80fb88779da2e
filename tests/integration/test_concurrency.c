/* test_concurrency.c - many connections at once: racing ADDs with the same
 * expected version (exactly one may win, because the check runs at apply
 * time), and pipelining clients whose replies must come back in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

enum { RACERS = 8, ROUNDS = 12 };
enum { PIPES = 4, PER_CONN = 1000 };

static void expect_count(struct harness_conn *c, const char *name, int64_t n)
{
    struct resp_value v;
    assert_int_equal(harness_cmd(c, &v, name, NULL), 0);
    harness_assert_int(&v, n);
    resp_value_free(&v);
}

static void test_racing_adds_with_the_same_version(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    struct harness_conn *conns[RACERS];
    size_t want[RACERS];
    for (size_t i = 0; i < RACERS; i++) {
        conns[i] = harness_connect(n);
        assert_non_null(conns[i]);
        want[i] = 1;
    }

    json_t *winners = json_array();
    for (int round = 0; round < ROUNDS; round++) {
        /* All requests go out before any reply is read. */
        for (size_t i = 0; i < RACERS; i++) {
            char req[160];
            snprintf(req, sizeof req,
                     "{\"stream\":\"race\",\"version\":%d,\"events\":[{\"type\":\"c%zu\","
                     "\"data\":\"r%d\"},{\"type\":\"c%zu\",\"data\":\"r%d+\"}]}",
                     2 * round, i, round, i, round);
            harness_queue(conns[i], "ADD", req, NULL);
        }
        assert_int_equal(harness_pump(conns, RACERS, want, HARNESS_IO_TIMEOUT_MS), 0);

        int wins = 0;
        for (size_t i = 0; i < RACERS; i++) {
            struct resp_value v;
            assert_int_equal(harness_read(conns[i], &v), 1);
            if (v.type == RESP_T_ARRAY) {
                wins++;
                json_t *events = harness_assert_events(&v);
                assert_int_equal(json_array_size(events), 2);
                char type[8];
                snprintf(type, sizeof type, "c%zu", i);
                for (size_t k = 0; k < 2; k++) {
                    const json_t *e = json_array_get(events, k);
                    assert_int_equal(harness_json_int(e, "version"), 2 * round + (json_int_t)k);
                    assert_string_equal(harness_json_str(e, "type"), type);
                }
                json_array_extend(winners, events);
                json_decref(events);
            } else {
                harness_assert_error(&v, "concurrent stream modification");
            }
            resp_value_free(&v);
        }
        if (wins != 1)
            fail_msg("round %d: %d of %d racing ADDs succeeded, expected exactly 1", round, wins,
                     RACERS);
    }

    struct harness_conn *c = conns[0];
    json_t *stored = harness_events(c, "GET", "{\"stream\":\"race\"}");
    harness_assert_json_equal(stored, winners);
    json_decref(stored);
    expect_count(c, "EC", 2 * ROUNDS);
    expect_count(c, "SC", 1);

    /* Racing "any" appends all succeed, each at its own version. */
    for (size_t i = 0; i < RACERS; i++)
        harness_queue(conns[i], "ADD",
                      "{\"stream\":\"race\",\"version\":\"any\",\"events\":[{\"type\":\"any\"}]}",
                      NULL);
    assert_int_equal(harness_pump(conns, RACERS, want, HARNESS_IO_TIMEOUT_MS), 0);
    bool seen[RACERS] = {false};
    for (size_t i = 0; i < RACERS; i++) {
        struct resp_value v;
        assert_int_equal(harness_read(conns[i], &v), 1);
        json_t *events = harness_assert_events(&v);
        json_int_t version = harness_json_int(json_array_get(events, 0), "version") - 2 * ROUNDS;
        assert_true(version >= 0 && version < RACERS);
        assert_false(seen[version]);
        seen[version] = true;
        json_decref(events);
        resp_value_free(&v);
    }
    expect_count(c, "EC", 2 * ROUNDS + RACERS);
    json_decref(winners);
    harness_pass(*state);
}

static void test_pipelined_clients(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    struct harness_conn *conns[PIPES];
    size_t want[PIPES];

    /* Each connection alternates between its own stream (explicit
     * versions) and a stream all of them share ("any"). */
    for (size_t i = 0; i < PIPES; i++) {
        conns[i] = harness_connect(n);
        assert_non_null(conns[i]);
        want[i] = PER_CONN;
        for (int k = 0; k < PER_CONN; k++) {
            char req[200];
            if (k % 2 == 0)
                snprintf(req, sizeof req,
                         "{\"stream\":\"own-%zu\",\"version\":%d,\"events\":[{\"type\":\"p\","
                         "\"data\":{\"conn\":%zu,\"k\":%d}}]}",
                         i, k / 2, i, k);
            else
                snprintf(req, sizeof req,
                         "{\"stream\":\"shared\",\"version\":\"any\",\"events\":[{\"type\":\"p\","
                         "\"data\":{\"conn\":%zu,\"k\":%d}}]}",
                         i, k);
            harness_queue(conns[i], "ADD", req, NULL);
        }
    }
    assert_int_equal(harness_pump(conns, PIPES, want, 60000), 0);

    json_t *own[PIPES];
    json_t *shared = json_array();
    for (size_t v = 0; v < PIPES * PER_CONN / 2; v++)
        json_array_append_new(shared, json_null());
    json_t *ids = json_object();
    for (size_t i = 0; i < PIPES; i++) {
        own[i] = json_array();
        json_int_t last_shared = -1;
        char last_id[27] = "00000000000000000000000000";
        for (int k = 0; k < PER_CONN; k++) {
            struct resp_value v;
            assert_int_equal(harness_read(conns[i], &v), 1);
            json_t *events = harness_assert_events(&v);
            resp_value_free(&v);
            assert_int_equal(json_array_size(events), 1);
            json_t *e = json_array_get(events, 0);
            /* Replies come back in request order. */
            const json_t *data = json_object_get(e, "data");
            assert_int_equal(harness_json_int(data, "conn"), (json_int_t)i);
            assert_int_equal(harness_json_int(data, "k"), k);
            /* One connection's requests commit in the order sent. */
            const char *id = harness_json_str(e, "id");
            assert_true(strcmp(id, last_id) > 0);
            snprintf(last_id, sizeof last_id, "%s", id);
            assert_null(json_object_get(ids, id));
            json_object_set_new(ids, id, json_true());
            if (k % 2 == 0) {
                char stream[16];
                snprintf(stream, sizeof stream, "own-%zu", i);
                assert_string_equal(harness_json_str(e, "stream"), stream);
                assert_int_equal(harness_json_int(e, "version"), k / 2);
                json_array_append(own[i], e);
            } else {
                assert_string_equal(harness_json_str(e, "stream"), "shared");
                json_int_t version = harness_json_int(e, "version");
                assert_true(version > last_shared);
                assert_true(version < PIPES * PER_CONN / 2);
                last_shared = version;
                assert_true(json_is_null(json_array_get(shared, (size_t)version)));
                json_array_set(shared, (size_t)version, e);
            }
            json_decref(events);
        }
    }

    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    expect_count(c, "EC", PIPES * PER_CONN);
    expect_count(c, "SC", PIPES + 1);
    for (size_t i = 0; i < PIPES; i++) {
        char req[64];
        snprintf(req, sizeof req, "{\"stream\":\"own-%zu\"}", i);
        json_t *stored = harness_events(c, "GET", req);
        harness_assert_json_equal(stored, own[i]);
        json_decref(stored);
        json_decref(own[i]);
    }
    /* The shared stream is dense: every version filled by exactly one ADD. */
    json_t *stored = harness_events(c, "GET", "{\"stream\":\"shared\"}");
    harness_assert_json_equal(stored, shared);
    json_decref(stored);

    /* The global log holds every event once, in id order. */
    json_t *all = harness_getall(c);
    assert_int_equal(json_array_size(all), PIPES * PER_CONN);
    const char *prev = "00000000000000000000000000";
    for (size_t i = 0; i < json_array_size(all); i++) {
        const char *id = harness_json_str(json_array_get(all, i), "id");
        assert_true(strcmp(id, prev) > 0);
        assert_non_null(json_object_get(ids, id));
        prev = id;
    }
    json_decref(all);
    json_decref(ids);
    json_decref(shared);
    harness_pass(*state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_racing_adds_with_the_same_version, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_clients, harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
