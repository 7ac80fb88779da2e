/* test_client_sub_wire.c - libeventflow's subscription wire (sub_wire.h):
 * which specs are refused, the SUBSCRIBE argument for a spec from a
 * position, what a value read from a subscribed connection is, markers,
 * and the position that decides where a subscription resumes and which
 * events are duplicates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/sub_wire.h"
#include "eventflow/errors.h"

static const char ID1[] = "01JDB8M2Z1M9W6Q4B3XJ8Y3T5R";
static const char ID2[] = "01JDB8M2Z1M9W6Q4B3XJ8Y3T5S";

/* The argument SUBSCRIBE gets for in, from its start or from pos. */
static char *json_of(const struct eventflow_sub_spec *in, const struct ef_sub_pos *pos)
{
    struct ef_sub_spec s;
    struct ef_sub_pos start;
    char err[EF_ERR_LEN];
    if (ef_sub_spec_copy(in, &s, &start, err) != EF_OK)
        fail_msg("refused: %s", err);
    struct buf b;
    buf_init(&b);
    ef_sub_spec_json(&b, &s, pos != NULL ? pos : &start);
    buf_append_char(&b, '\0');
    ef_sub_spec_free(&s);
    return b.data;
}

static void expect_json(const struct eventflow_sub_spec *in, const struct ef_sub_pos *pos,
                        const char *want)
{
    char *got = json_of(in, pos);
    assert_string_equal(got, want);
    free(got);
}

static void expect_refused(const struct eventflow_sub_spec *in, const char *why)
{
    struct ef_sub_spec s;
    struct ef_sub_pos pos;
    char err[EF_ERR_LEN] = "";
    assert_int_equal(ef_sub_spec_copy(in, &s, &pos, err), EF_EINVAL);
    if (strstr(err, why) == NULL)
        fail_msg("\"%s\" does not say \"%s\"", err, why);
}

static void test_spec_refused(void **state)
{
    (void)state;
    const char *two[] = {"A", ""};
    const char *many[EF_SUB_MAX_TYPES + 1];
    for (size_t i = 0; i < EF_SUB_MAX_TYPES + 1; i++)
        many[i] = "T";
    expect_refused(&(struct eventflow_sub_spec){.stream = ""}, "stream name");
    expect_refused(&(struct eventflow_sub_spec){.stream = "bad\xff"}, "stream name");
    expect_refused(&(struct eventflow_sub_spec){.stream = "s", .from = EF_SUB_AFTER_ID, .after_id = ID1},
                   "for the global log");
    expect_refused(&(struct eventflow_sub_spec){.from = EF_SUB_FROM_VERSION, .version = 3}, "for a stream");
    expect_refused(&(struct eventflow_sub_spec){.from = EF_SUB_AFTER_ID}, "after_id");
    expect_refused(&(struct eventflow_sub_spec){.from = EF_SUB_AFTER_ID, .after_id = "01JDB8M2Z1"}, "after_id");
    expect_refused(&(struct eventflow_sub_spec){.from = EF_SUB_AFTER_ID, .after_id = "U1JDB8M2Z1M9W6Q4B3XJ8Y3T5R"},
                   "after_id");
    expect_refused(&(struct eventflow_sub_spec){.from = (enum eventflow_sub_from)9}, "from");
    expect_refused(&(struct eventflow_sub_spec){.stream = "s", .stream_prefix = "acc-"}, "stream_prefix");
    expect_refused(&(struct eventflow_sub_spec){.stream_prefix = ""}, "stream_prefix");
    expect_refused(&(struct eventflow_sub_spec){.types = two, .n_types = 2}, "type 1");
    expect_refused(&(struct eventflow_sub_spec){.types = many, .n_types = EF_SUB_MAX_TYPES + 1}, "at most");
    expect_refused(&(struct eventflow_sub_spec){.types = NULL, .n_types = 1}, "types");
    expect_refused(&(struct eventflow_sub_spec){.node = (enum eventflow_sub_node)3}, "node");
}

static void test_spec_json(void **state)
{
    (void)state;
    /* Markers always: the live end's position comes in the caught-up one. */
    expect_json(&(struct eventflow_sub_spec){0}, NULL, "{\"all\":true,\"markers\":true}");
    expect_json(&(struct eventflow_sub_spec){.from = EF_SUB_FROM_START}, NULL,
                "{\"all\":true,\"offset\":\"\",\"markers\":true}");
    /* An id in another spelling goes out as the server writes it. */
    expect_json(&(struct eventflow_sub_spec){.from = EF_SUB_AFTER_ID, .after_id = "01jdb8m2z1m9w6q4b3xj8y3t5r"},
                NULL, "{\"all\":true,\"offset\":\"01JDB8M2Z1M9W6Q4B3XJ8Y3T5R\",\"markers\":true}");
    const char *types[] = {"Opened", "Say \"hi\""};
    expect_json(&(struct eventflow_sub_spec){.stream_prefix = "acc-", .types = types, .n_types = 2}, NULL,
                "{\"all\":true,\"stream_prefix\":\"acc-\",\"types\":[\"Opened\",\"Say \\\"hi\\\"\"],"
                "\"markers\":true}");
    expect_json(&(struct eventflow_sub_spec){.stream = "order-7"}, NULL, "{\"stream\":\"order-7\",\"markers\":true}");
    expect_json(&(struct eventflow_sub_spec){.stream = "order-7", .from = EF_SUB_FROM_START}, NULL,
                "{\"stream\":\"order-7\",\"version\":0,\"markers\":true}");
    expect_json(&(struct eventflow_sub_spec){.stream = "order-7", .from = EF_SUB_FROM_VERSION, .version = 12}, NULL,
                "{\"stream\":\"order-7\",\"version\":12,\"markers\":true}");
    /* Resumed: from the position, whatever the start was. */
    struct ef_sub_pos at_id = {.known = true};
    memcpy(at_id.id, ID2, sizeof at_id.id);
    expect_json(&(struct eventflow_sub_spec){.types = types, .n_types = 1}, &at_id,
                "{\"all\":true,\"offset\":\"01JDB8M2Z1M9W6Q4B3XJ8Y3T5S\",\"types\":[\"Opened\"],\"markers\":true}");
    struct ef_sub_pos at_version = {.known = true, .version = 40};
    expect_json(&(struct eventflow_sub_spec){.stream = "order-7", .from = EF_SUB_FROM_VERSION, .version = 12},
                &at_version, "{\"stream\":\"order-7\",\"version\":40,\"markers\":true}");
}

static struct resp_value bulk(const char *s)
{
    return (struct resp_value){.type = RESP_T_BULK, .str = (char *)s, .len = strlen(s)};
}

static void test_push_read(void **state)
{
    (void)state;
    const char *json = NULL;
    size_t len = 0;
    struct resp_value sub[3] = {bulk("subscribe"), bulk("$all"), {.type = RESP_T_INT, .integer = 1}};
    struct resp_value v = {.type = RESP_T_ARRAY, .n = 3, .elems = sub};
    assert_int_equal(ef_sub_push_read(&v, &json, &len), EF_PUSH_SUBSCRIBED);
    struct resp_value msg[3] = {bulk("message"), bulk("$all"), bulk("{\"id\":\"x\"}")};
    v = (struct resp_value){.type = RESP_T_ARRAY, .n = 3, .elems = msg};
    assert_int_equal(ef_sub_push_read(&v, &json, &len), EF_PUSH_MESSAGE);
    assert_int_equal(len, 10);
    assert_memory_equal(json, "{\"id\":\"x\"}", 10);
    /* RESP3 pushes read the same. */
    v.type = RESP_T_PUSH;
    assert_int_equal(ef_sub_push_read(&v, &json, &len), EF_PUSH_MESSAGE);
    struct resp_value pong[2] = {bulk("pong"), bulk("")};
    v = (struct resp_value){.type = RESP_T_ARRAY, .n = 2, .elems = pong};
    assert_int_equal(ef_sub_push_read(&v, &json, &len), EF_PUSH_PONG);
    v = (struct resp_value){.type = RESP_T_ERROR, .str = (char *)"SHUTDOWN", .len = 8};
    assert_int_equal(ef_sub_push_read(&v, &json, &len), EF_PUSH_ERROR);
    /* Anything else is a protocol error. */
    struct resp_value odd[3] = {bulk("message"), bulk("$all"), {.type = RESP_T_INT, .integer = 3}};
    v = (struct resp_value){.type = RESP_T_ARRAY, .n = 3, .elems = odd};
    assert_int_equal(ef_sub_push_read(&v, &json, &len), EF_PUSH_OTHER);
    v = (struct resp_value){.type = RESP_T_ARRAY, .n = 0};
    assert_int_equal(ef_sub_push_read(&v, &json, &len), EF_PUSH_OTHER);
    v = bulk("message");
    assert_int_equal(ef_sub_push_read(&v, &json, &len), EF_PUSH_OTHER);
}

static int marker(const char *text, struct ef_sub_marker *m)
{
    char err[EF_ERR_LEN];
    return ef_sub_marker_read(text, strlen(text), m, err);
}

static void test_marker_read(void **state)
{
    (void)state;
    struct ef_sub_marker m;
    assert_int_equal(marker("{\"marker\":\"caught_up\",\"id\":\"01JDB8M2Z1M9W6Q4B3XJ8Y3T5R\"}", &m), 1);
    assert_int_equal(m.kind, EF_SUB_CAUGHT_UP);
    assert_string_equal(m.id, ID1);
    assert_false(m.has_version);
    assert_int_equal(marker("{\"marker\":\"caught_up\",\"id\":\"\",\"version\":7}", &m), 1);
    assert_string_equal(m.id, "");
    assert_true(m.has_version);
    assert_int_equal(m.version, 7);
    assert_int_equal(marker("{\"marker\":\"stale\",\"last_contact_ms\":812}", &m), 1);
    assert_int_equal(m.kind, EF_SUB_STALE);
    assert_int_equal(m.last_contact_ms, 812);
    assert_int_equal(marker("{\"marker\":\"current\",\"last_contact_ms\":3}", &m), 1);
    assert_int_equal(m.kind, EF_SUB_CURRENT);
    /* An event is not a marker. */
    assert_int_equal(marker("{\"id\":\"01JDB8M2Z1M9W6Q4B3XJ8Y3T5R\",\"stream\":\"s\"}", &m), 0);
    /* A marker the library does not know, or a broken one. */
    assert_int_equal(marker("{\"marker\":\"paused\"}", &m), EF_EPROTO);
    assert_int_equal(marker("{\"marker\":\"caught_up\"}", &m), EF_EPROTO);
    assert_int_equal(marker("{\"marker\":\"caught_up\",\"id\":\"short\"}", &m), EF_EPROTO);
    assert_int_equal(marker("{\"marker\":\"caught_up\",\"id\":\"\",\"version\":-1}", &m), EF_EPROTO);
    assert_int_equal(marker("{\"marker\":", &m), EF_EPROTO);
}

static struct eventflow_event event(const char *id, uint64_t version)
{
    struct eventflow_event ev = {.version = version};
    memcpy(ev.id, id, EF_ID_LEN + 1);
    return ev;
}

static void test_position_log(void **state)
{
    (void)state;
    /* From the live end: unknown until the first caught-up marker. */
    struct ef_sub_pos pos = {0};
    struct ef_sub_marker up = {.kind = EF_SUB_CAUGHT_UP};
    ef_sub_pos_caught_up(&pos, true, &up); /* an empty log: resume from its start */
    assert_true(pos.known);
    assert_string_equal(pos.id, "");
    struct eventflow_event e1 = event(ID1, 0), e2 = event(ID2, 0);
    assert_true(ef_sub_pos_event(&pos, true, &e1));
    assert_string_equal(pos.id, ID1);
    /* At or behind the position: a duplicate. */
    assert_false(ef_sub_pos_event(&pos, true, &e1));
    assert_true(ef_sub_pos_event(&pos, true, &e2));
    assert_false(ef_sub_pos_event(&pos, true, &e1));
    assert_string_equal(pos.id, ID2);
    /* A caught-up marker only moves it forward (past filtered events). */
    memcpy(up.id, ID1, sizeof up.id);
    ef_sub_pos_caught_up(&pos, true, &up);
    assert_string_equal(pos.id, ID2);
    memcpy(up.id, "01JDB8M2Z1M9W6Q4B3XJ8Y3T5Z", sizeof up.id);
    ef_sub_pos_caught_up(&pos, true, &up);
    assert_string_equal(pos.id, "01JDB8M2Z1M9W6Q4B3XJ8Y3T5Z");
    assert_false(ef_sub_pos_event(&pos, true, &e2));
}

static void test_position_stream(void **state)
{
    (void)state;
    struct ef_sub_pos pos = {0};
    /* A stream's caught-up marker carries the next version; without one
     * the position stays unknown. */
    struct ef_sub_marker up = {.kind = EF_SUB_CAUGHT_UP};
    ef_sub_pos_caught_up(&pos, false, &up);
    assert_false(pos.known);
    up.has_version = true;
    up.version = 5;
    ef_sub_pos_caught_up(&pos, false, &up);
    assert_true(pos.known);
    assert_int_equal(pos.version, 5);
    struct eventflow_event v4 = event(ID1, 4), v5 = event(ID1, 5), v6 = event(ID2, 6);
    assert_false(ef_sub_pos_event(&pos, false, &v4));
    assert_true(ef_sub_pos_event(&pos, false, &v5));
    assert_int_equal(pos.version, 6);
    assert_false(ef_sub_pos_event(&pos, false, &v5));
    assert_true(ef_sub_pos_event(&pos, false, &v6));
    up.version = 3;
    ef_sub_pos_caught_up(&pos, false, &up);
    assert_int_equal(pos.version, 7);
    /* From a version: known from the start. */
    struct ef_sub_spec s;
    char err[EF_ERR_LEN];
    assert_int_equal(ef_sub_spec_copy(&(struct eventflow_sub_spec){.stream = "s", .from = EF_SUB_FROM_VERSION,
                                                                     .version = 9},
                                      &s, &pos, err),
                     EF_OK);
    assert_true(pos.known);
    assert_int_equal(pos.version, 9);
    assert_false(s.all);
    assert_string_equal(s.stream, "s");
    ef_sub_spec_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_refused),
        cmocka_unit_test(test_spec_json),
        cmocka_unit_test(test_push_read),
        cmocka_unit_test(test_marker_read),
        cmocka_unit_test(test_position_log),
        cmocka_unit_test(test_position_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
