/* test_codec_group.c - the GROUP subcommands' arguments: defaults, limits,
 * the messages of refusals, and the jansson-free path for READ and ACK
 * giving exactly what the jansson path gives (the fuzz target checks the
 * same on arbitrary input). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/codec_fast.h"
#include "protocol/codec_group.h"

static const char ID1[] = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

static void parse_ok(enum codec_group_cmd cmd, const char *arg, struct codec_group *g)
{
    char err[CODEC_ERR_LEN] = "";
    int rc = codec_parse_group(cmd, arg, strlen(arg), NULL, g, err);
    if (rc != 0)
        fail_msg("%s: %s", arg, err);
}

static void parse_err(enum codec_group_cmd cmd, const char *arg, const char *want)
{
    struct codec_group g;
    char err[CODEC_ERR_LEN] = "";
    assert_int_equal(codec_parse_group(cmd, arg, arg != NULL ? strlen(arg) : 0, NULL, &g, err), -1);
    assert_string_equal(err, want);
    assert_null(g.group);
}

static void test_lookup(void **state)
{
    (void)state;
    assert_int_equal(codec_group_lookup("read", 4), CODEC_GROUP_READ);
    assert_int_equal(codec_group_lookup("Create", 6), CODEC_GROUP_CREATE);
    assert_int_equal(codec_group_lookup("REA", 3), -1);
    assert_true(codec_group_is_write(CODEC_GROUP_ACK));
    assert_false(codec_group_is_write(CODEC_GROUP_PENDING));
}

static void test_read_defaults_and_limits(void **state)
{
    (void)state;
    struct codec_group g;
    parse_ok(CODEC_GROUP_READ, "{\"group\":\"g\",\"consumer\":\"c\"}", &g);
    assert_string_equal(g.group, "g");
    assert_string_equal(g.consumer, "c");
    assert_int_equal(g.count, CODEC_GROUP_READ_DEFAULT);
    assert_int_equal(g.block_ms, 0);
    codec_group_free(&g);
    parse_err(CODEC_GROUP_READ, "{\"group\":\"g\",\"consumer\":\"c\",\"count\":1001}",
              "invalid 'count': expected an integer from 1 to 1000");
    parse_err(CODEC_GROUP_READ, "{\"group\":\"g\",\"consumer\":\"c\",\"block_ms\":-1}",
              "invalid 'block_ms': expected an integer from 0 to 3600000");
    parse_err(CODEC_GROUP_READ, "{\"group\":\"g\"}", "missing field 'consumer'");
    parse_err(CODEC_GROUP_READ, "{\"group\":\"g\",\"group\":\"h\",\"consumer\":\"c\"}",
              "invalid JSON: duplicate object key near '\"group\"' (at byte 20)");
}

static void test_create(void **state)
{
    (void)state;
    struct codec_group g;
    parse_ok(CODEC_GROUP_CREATE, "{\"group\":\"g\",\"all\":true,\"from\":\"01ARZ3NDEKTSV4RRFFQ69G5FAV\","
                                 "\"stream_prefix\":\"o-\",\"types\":[\"A\",\"B\"],\"max_deliveries\":0}",
             &g);
    assert_true(g.all);
    assert_null(g.stream);
    assert_string_equal(g.stream_prefix, "o-");
    assert_int_equal(g.n_types, 2);
    assert_int_equal(g.from, CODEC_GROUP_AFTER_ID);
    assert_int_equal(g.max_deliveries, 0);
    assert_int_equal(g.ack_wait_ms, CODEC_GROUP_ACK_WAIT_DEFAULT);
    codec_group_free(&g);
    parse_ok(CODEC_GROUP_CREATE, "{\"group\":\"g\",\"stream\":\"s\",\"from\":7}", &g);
    assert_int_equal(g.from, CODEC_GROUP_FROM_VERSION);
    assert_int_equal(g.version, 7);
    assert_int_equal(g.max_deliveries, CODEC_GROUP_MAX_DELIVERIES_DEFAULT);
    assert_int_equal(g.max_ack_pending, 0);
    codec_group_free(&g);
    parse_ok(CODEC_GROUP_CREATE, "{\"group\":\"g\",\"stream\":\"s\",\"max_ack_pending\":500}", &g);
    assert_int_equal(g.max_ack_pending, 500);
    codec_group_free(&g);
    parse_err(CODEC_GROUP_CREATE, "{\"group\":\"g\",\"stream\":\"s\",\"max_ack_pending\":-1}",
              "invalid 'max_ack_pending': expected an integer from 0 to 4294967295");
    parse_err(CODEC_GROUP_CREATE, "{\"group\":\"g\",\"stream\":\"s\",\"max_ack_pending\":\"10\"}",
              "invalid 'max_ack_pending': expected an integer from 0 to 4294967295");
    parse_err(CODEC_GROUP_CREATE, "{\"group\":\"g\",\"stream\":\"s\",\"stream_prefix\":\"x\"}",
              "'stream_prefix' is for a group over the global log ('all': true)");
    parse_err(CODEC_GROUP_DESTROY, "", "invalid 'group': cannot be empty");
    parse_err(CODEC_GROUP_CREATE, NULL, "GROUP CREATE needs an argument");
}

/* The fast path's result is the jansson path's, field for field; and what
 * it cannot take (an escape) still decodes, through jansson. */
static void same(enum codec_group_cmd cmd, const char *arg, bool fast_expected)
{
    struct codec_group fast, slow;
    struct codec_limits lim;
    codec_limits_default(&lim);
    char err[CODEC_ERR_LEN];
    bool took = codec_fast_parse_group(cmd, arg, strlen(arg), &lim, &fast);
    assert_int_equal(took, fast_expected);
    assert_int_equal(codec_jansson_parse_group(cmd, arg, strlen(arg), &lim, &slow, err), 0);
    if (took) {
        assert_string_equal(fast.group, slow.group);
        assert_int_equal(fast.count, slow.count);
        assert_int_equal(fast.block_ms, slow.block_ms);
        assert_int_equal(fast.n_ids, slow.n_ids);
        if (fast.n_ids > 0)
            assert_memory_equal(fast.ids, slow.ids, fast.n_ids * ULID_BYTES);
        codec_group_free(&fast);
    }
    codec_group_free(&slow);
}

static void test_fast_path_agrees(void **state)
{
    (void)state;
    char ack[256];
    snprintf(ack, sizeof ack, "{ \"ids\" : [\"%s\", \"%s\"], \"group\":\"billing\" }", ID1, ID1);
    same(CODEC_GROUP_ACK, ack, true);
    same(CODEC_GROUP_READ, "{\"group\":\"g\",\"consumer\":\"w-1\",\"count\":1000,\"block_ms\":100}", true);
    same(CODEC_GROUP_READ, "{\"group\":\"g\\u0031\",\"consumer\":\"c\"}", false);
    /* Found by fuzz_add: whitespace before the object is JSON, on both paths. */
    same(CODEC_GROUP_READ, "\t\t\t{\"group\":\"g\",\"consumer\":\"c1\",\"count\":5,\"block_ms\":100}", true);
    same(CODEC_GROUP_ACK, " \n{\"group\":\"g\",\"ids\":[\"01ARZ3NDEKTSV4RRFFQ69G5FAV\"]}", true);
    /* Refusals are jansson's to word: the fast path declines them. */
    struct codec_group g;
    struct codec_limits lim;
    codec_limits_default(&lim);
    static const char zero[] = "{\"group\":\"g\",\"consumer\":\"c\",\"count\":0}";
    static const char none[] = "{\"group\":\"g\",\"ids\":[]}";
    static const char create[] = "{\"group\":\"g\",\"stream\":\"s\"}";
    assert_false(codec_fast_parse_group(CODEC_GROUP_READ, zero, sizeof zero - 1, &lim, &g));
    assert_null(g.group);
    assert_false(codec_fast_parse_group(CODEC_GROUP_ACK, none, sizeof none - 1, &lim, &g));
    assert_false(codec_fast_parse_group(CODEC_GROUP_CREATE, create, sizeof create - 1, &lim, &g));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_read_defaults_and_limits),
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_fast_path_agrees),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
