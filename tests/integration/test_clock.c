/* test_clock.c - event ids stay increasing when the leader's wall clock
 * is not the previous leader's.
 *
 * Three real eventflowd nodes whose wall clocks disagree by ten minutes
 * each way: node 1 runs 10 min ahead, node 2 on the true clock, node 3
 * 10 min behind (tests/lib/clockshift.c, an LD_PRELOAD library that
 * shifts CLOCK_REALTIME; it works with jemalloc, unlike libfaketime).
 * Leadership goes to each in turn, ahead first, and each leader ADDs one
 * event. An event id is a ULID whose top 48 bits are the leader's clock in
 * ms, and the state machine rejects an entry whose ids do not exceed the
 * last applied id; so a new leader must first raise its id generator to
 * the last id applied (the floor in node_barrier_cb, src/node/role.c),
 * or its ADDs fail once its clock is behind the previous leader's ids.
 * Each ADD here must succeed with an id above the one before.
 *
 * Each node's STATUS time_ms is checked against the offset first, so the
 * test cannot pass because the clocks were not skewed. Every wait polls an
 * observable condition with a deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cluster.h"
#include "harness.h"

enum { N = 3 };
/* Ten minutes: far more than any real clock difference between the test's
 * readings and the node's, far less than ULID range concerns. */
#define SKEW_MS INT64_C(600000)

static const int64_t offsets_ms[N] = {SKEW_MS, 0, -SKEW_MS};

static int64_t realtime_ms(void)
{
    struct timespec ts;
    assert_int_equal(clock_gettime(CLOCK_REALTIME, &ts), 0);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Start the three nodes, node i under the clock shift offsets_ms[i] (every
 * node preloads the library, node 2 with offset 0, so that only the offset
 * differs between them). */
static void skewed_cluster_start(struct cluster *c, struct harness_fixture *f)
{
    char env[N][3][600];
    const char *lib = getenv("EF_CLOCKSHIFT");
    if (lib == NULL || lib[0] == '\0')
        fail_msg("EF_CLOCKSHIFT (the clock shift library) is not set; run the test through meson");
    const char *asan = getenv("ASAN_OPTIONS");
    const char *envp[N][4];
    struct harness_node_opts opts[N];
    memset(opts, 0, sizeof opts);
    for (size_t i = 0; i < N; i++) {
        snprintf(env[i][0], sizeof env[i][0], "LD_PRELOAD=%s", lib);
        snprintf(env[i][1], sizeof env[i][1], "EF_CLOCK_OFFSET_MS=%lld", (long long)offsets_ms[i]);
        /* A preloaded library precedes ASan's runtime, which ASan refuses
         * unless told not to check (clockshift.c). Harmless elsewhere. */
        snprintf(env[i][2], sizeof env[i][2], "ASAN_OPTIONS=%s%sverify_asan_link_order=0",
                 asan != NULL ? asan : "", asan != NULL && asan[0] != '\0' ? ":" : "");
        for (size_t k = 0; k < 3; k++)
            envp[i][k] = env[i][k];
        envp[i][3] = NULL;
        opts[i].env = envp[i];
    }
    cluster_start_opts(c, f, N, opts);
}

/* Move leadership to node `target` and wait until it is the ready leader. */
static void transfer_to(struct cluster *c, size_t target)
{
    cluster_transfer_ok(c, target);
    assert_int_equal(cluster_leader(c), target);
}

/* The ms timestamp of a ULID in text form: its first 10 base32 digits. */
static uint64_t ulid_ms(const char *id)
{
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    assert_int_equal(strlen(id), 26);
    uint64_t v = 0;
    for (size_t i = 0; i < 10; i++) {
        const char *p = strchr(alphabet, id[i]);
        if (p == NULL || id[i] == '\0')
            fail_msg("'%s' is not a ULID", id);
        v = (v << 5) | (uint64_t)(p - alphabet);
    }
    return v;
}

/* One ADD on node i (the leader); asserts it succeeded and returns the
 * stored event's id (caller frees). */
static char *add_on(struct harness_node *n, const char *stream)
{
    struct harness_conn *conn = harness_connect(n);
    assert_non_null(conn);
    char arg[256];
    snprintf(arg, sizeof arg, "{\"stream\":\"%s\",\"version\":\"any\",\"events\":[{\"type\":\"t\"}]}", stream);
    struct resp_value v;
    assert_int_equal(harness_cmd(conn, &v, "ADD", arg, NULL), 0);
    harness_close(conn);
    if (v.type == RESP_T_ERROR)
        fail_msg("ADD on node %u failed: -%s", n->id, v.str);
    json_t *events = harness_assert_events(&v);
    resp_value_free(&v);
    assert_int_equal(json_array_size(events), 1);
    char *id = strdup(json_string_value(json_object_get(json_array_get(events, 0), "id")));
    json_decref(events);
    assert_non_null(id);
    return id;
}

/* The node's wall clock is off by its offset (within 30 s: a loaded
 * machine answers slowly, but nowhere near the 10 min skew). */
static void assert_skewed(struct harness_node *n, int64_t offset_ms)
{
    int64_t before = realtime_ms();
    json_t *st = harness_status(n);
    int64_t after = realtime_ms();
    assert_non_null(st);
    json_t *t = json_object_get(st, "time_ms");
    assert_true(json_is_integer(t));
    int64_t skew = json_integer_value(t) - (before + after) / 2;
    json_decref(st);
    if (skew < offset_ms - 30000 || skew > offset_ms + 30000)
        fail_msg("node %u's clock is off by %lld ms, not by its offset %lld ms: the clock shift did not apply",
                 n->id, (long long)skew, (long long)offset_ms);
}

static void test_ids_increase_across_leaders_with_skewed_clocks(void **state)
{
    struct cluster c;
    skewed_cluster_start(&c, *state);
    (void)cluster_leader(&c);
    for (size_t i = 0; i < N; i++)
        assert_skewed(c.n[i], offsets_ms[i]);

    /* Node 1, 10 min ahead, leads and issues an id from the future. */
    transfer_to(&c, 0);
    char *ahead = add_on(c.n[0], "clock-a");
    assert_true(ulid_ms(ahead) > (uint64_t)(realtime_ms() + SKEW_MS / 2));

    /* Node 2's clock is 10 min behind that id: its first ADD as leader
     * must still be stored, above it. */
    transfer_to(&c, 1);
    char *true_clock = add_on(c.n[1], "clock-b");
    assert_true(strcmp(true_clock, ahead) > 0);

    /* Node 3 is 20 min behind node 1's id. */
    transfer_to(&c, 2);
    char *behind = add_on(c.n[2], "clock-c");
    assert_true(strcmp(behind, true_clock) > 0);

    /* Back to the true clock after a leader from the past: still above. */
    transfer_to(&c, 1);
    char *again = add_on(c.n[1], "clock-b");
    assert_true(strcmp(again, behind) > 0);

    free(ahead);
    free(true_clock);
    free(behind);
    free(again);
    harness_pass(*state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ids_increase_across_leaders_with_skewed_clocks, harness_setup,
                                        harness_teardown),
    };
    return cmocka_run_group_tests_name("clock", tests, NULL, NULL);
}
