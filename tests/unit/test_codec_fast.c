/* test_codec_fast.c - the jansson-free ADD decoder: which inputs it takes,
 * and that what it takes decodes exactly as the jansson path decodes it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/codec.h"
#include "protocol/codec_fast.h"

static void assert_same_payload(const struct codec_payload *a, const struct codec_payload *b)
{
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->len, b->len);
    if (a->len > 0)
        assert_memory_equal(a->bytes, b->bytes, a->len);
}

/* The fast path takes `json`, and agrees with jansson's path. */
static void assert_fast(const char *json)
{
    struct codec_limits lim;
    codec_limits_default(&lim);
    struct codec_add fast, slow;
    char err[CODEC_ERR_LEN];
    if (!codec_fast_parse_add(json, strlen(json), &lim, &fast))
        fail_msg("the fast path refused %s", json);
    if (codec_jansson_parse_add(json, strlen(json), &lim, &slow, err) != 0)
        fail_msg("jansson refused %s: %s", json, err);
    assert_string_equal(fast.stream, slow.stream);
    assert_int_equal(fast.any_version, slow.any_version);
    assert_int_equal(fast.expected_version, slow.expected_version);
    assert_int_equal(fast.n_events, slow.n_events);
    for (size_t i = 0; i < fast.n_events; i++) {
        assert_string_equal(fast.events[i].type, slow.events[i].type);
        assert_same_payload(&fast.events[i].data, &slow.events[i].data);
        assert_same_payload(&fast.events[i].metadata, &slow.events[i].metadata);
        assert_int_equal(fast.events[i].has_causation_id, slow.events[i].has_causation_id);
        assert_int_equal(fast.events[i].has_correlation_id, slow.events[i].has_correlation_id);
        assert_int_equal(fast.events[i].key == NULL, slow.events[i].key == NULL);
        if (fast.events[i].key != NULL)
            assert_string_equal(fast.events[i].key, slow.events[i].key);
    }
    codec_add_free(&fast);
    codec_add_free(&slow);
}

/* The fast path leaves `json` to jansson; codec_parse_add still answers
 * as the jansson path does (want_ok: accepted, else refused with `want`
 * as the start of the message). */
static void assert_slow(const char *json, bool want_ok, const char *want)
{
    struct codec_limits lim;
    codec_limits_default(&lim);
    struct codec_add add;
    char err[CODEC_ERR_LEN];
    if (codec_fast_parse_add(json, strlen(json), &lim, &add))
        fail_msg("the fast path took %s", json);
    assert_null(add.events);
    assert_null(add.stream);
    int rc = codec_parse_add(json, strlen(json), &lim, &add, err);
    if (want_ok) {
        if (rc != 0)
            fail_msg("refused %s: %s", json, err);
    } else {
        assert_int_equal(rc, -1);
        if (strncmp(err, want, strlen(want)) != 0)
            fail_msg("%s: got '%s', want '%s...'", json, err, want);
    }
    codec_add_free(&add);
}

static void test_plain_adds_take_the_fast_path(void **state)
{
    (void)state;
    /* The benchmark's shape, and the README's. */
    assert_fast("{\"stream\":\"stream:1\",\"version\":\"any\",\"events\":[{\"type\":\"BenchEvent\",\"data\":\"abc\"}]}");
    assert_fast("{\"stream\":\"a\",\"version\":0,\"events\":[{\"type\":\"AccountOpened\",\"data\":{\"id\":1}}]}");
    assert_fast(" {\n\t\"events\" : [ {\"type\":\"T\"} , {\"data\":null,\"type\":\"U\",\"metadata\":\"m\"} ] ,"
                "\"version\" : 12 , \"stream\" : \"s\" } \r\n");
    assert_fast("{\"stream\":\"s\",\"version\":5,\"events\":[{\"type\":\"T\",\"data\":{\"a\":[1,-2,0,true,false,null,"
                "{},[],{\"b\":{\"c\":\"d\"}}],\"e\":\"\",\"f\":999999999999999999}}]}");
    assert_fast("{\"stream\":\"s\",\"version\":\"any\",\"events\":[{\"type\":\"T\",\"data\":[],\"metadata\":{}},"
                "{\"type\":\"T\",\"data\":7,\"metadata\":true}]}");
    assert_fast("{\"stream\":\"s\",\"version\":1,\"events\":[{\"type\":\"T\",\"key\":\"k1\","
                "\"causation_id\":\"01ARZ3NDEKTSV4RRFFQ69G5FAV\",\"correlation_id\":null},"
                "{\"type\":\"T\",\"key\":\"k2\",\"correlation_id\":\"01ARZ3NDEKTSV4RRFFQ69G5FAW\"}]}");
    assert_fast("{\"stream\":\"s~\",\"version\":1,\"events\":[{\"type\":\"T\",\"data\":\"del \x7f ok\"}]}");
}

static void test_outside_the_subset_goes_to_jansson(void **state)
{
    (void)state;
    /* Valid ADDs the fast path leaves alone. */
    assert_slow("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"T\",\"data\":\"a\\nb\"}]}", true, NULL);
    assert_slow("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"T\",\"data\":\"caf\xc3\xa9\"}]}", true, NULL);
    assert_slow("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"T\",\"data\":1.5}]}", true, NULL);
    assert_slow("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"T\",\"data\":1e3}]}", true, NULL);
    assert_slow("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"T\",\"data\":-0}]}", true, NULL);
    assert_slow("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"T\",\"data\":1234567890123456789}]}", true,
                NULL);
    assert_slow("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"T\",\"data\":"
                "[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}]}",
                true, NULL);
    /* Invalid ones: jansson's path gives the message. */
    assert_slow("{\"stream\":\"s\",\"version\":0,\"events\":[]}", false, "list of events is empty");
    assert_slow("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"\"}]}", false, "event type cannot be empty");
    assert_slow("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"T\",\"x\":1}]}", false, "unknown field");
    assert_slow("{\"stream\":\"s\",\"version\":0,\"version\":1,\"events\":[{\"type\":\"T\"}]}", false,
                "invalid JSON");
    assert_slow("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"T\",\"data\":{\"a\":1,\"a\":2}}]}", false,
                "invalid JSON");
    assert_slow("{\"stream\":\"s\",\"version\":-1,\"events\":[{\"type\":\"T\"}]}", false, "invalid 'version'");
    assert_slow("{\"stream\":\"\",\"version\":0,\"events\":[{\"type\":\"T\"}]}", false, "stream cannot be empty");
    assert_slow("{\"stream\":\"s\",\"events\":[{\"type\":\"T\"}]}", false, "missing field 'version'");
    assert_slow("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"T\"}]} x", false, "invalid JSON");
    assert_slow("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"T\",\"data\":01}]}", false, "invalid JSON");
    assert_slow("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"T\",\"data\":tru}]}", false, "invalid JSON");
    assert_slow("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"T\",\"key\":\"a\"},{\"type\":\"T\"}]}", false,
                "either every event has a key or none does");
    assert_slow("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"T\",\"causation_id\":\"nope\"}]}", false,
                "invalid causation_id");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_adds_take_the_fast_path),
        cmocka_unit_test(test_outside_the_subset_goes_to_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
