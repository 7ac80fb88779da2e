/* test_client_group_wire.c - libeventflow's GROUP wire (group_wire.h): the
 * arguments each call sends (and those refused before sending), and the
 * replies read back: a READ's events with their delivery counts, INFO,
 * PENDING and PARKED. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/group_wire.h"
#include "eventflow/errors.h"

static const char ID1[] = "01JDB8M2Z1M9W6Q4B3XJ8Y3T5R";
static const char ID2[] = "01JDB8M2Z1M9W6Q4B3XJ8Y3T5S";

/* out's text, checked against want, then released. */
static void expect_text(struct buf *out, const char *want)
{
    buf_append_char(out, '\0');
    assert_string_equal(out->data, want);
    buf_free(out);
}

static void test_create(void **state)
{
    (void)state;
    char err[EF_ERR_LEN];
    struct buf b;
    buf_init(&b);
    struct eventflow_group_spec s = {.group = "g", .stream = "orders"};
    assert_int_equal(ef_group_json_create(&b, &s, err), EF_OK);
    expect_text(&b, "{\"group\":\"g\",\"stream\":\"orders\",\"from\":\"start\"}");

    const char *types[] = {"A", "B"};
    struct eventflow_group_spec all = {.group = "g\"q",
                                       .all = true,
                                       .stream_prefix = "order-",
                                       .types = types,
                                       .n_types = 2,
                                       .start = {.from = EF_GROUP_AFTER_ID, .after_id = ID1},
                                       .ack_wait_ms = 500,
                                       .max_deliveries = EF_GROUP_NEVER_PARK};
    buf_init(&b);
    assert_int_equal(ef_group_json_create(&b, &all, err), EF_OK);
    expect_text(&b, "{\"group\":\"g\\\"q\",\"all\":true,\"stream_prefix\":\"order-\",\"types\":[\"A\",\"B\"],"
                    "\"from\":\"01JDB8M2Z1M9W6Q4B3XJ8Y3T5R\",\"ack_wait_ms\":500,\"max_deliveries\":0}");

    /* Refused before sending. */
    struct eventflow_group_spec bad[] = {
        {.group = "g"},                                     /* neither stream nor all */
        {.group = "g", .stream = "s", .all = true},         /* both */
        {.group = "", .stream = "s"},                       /* no name */
        {.group = "tab\there", .stream = "s"},              /* not printable */
        {.group = "g", .all = true, .start = {.from = EF_GROUP_AFTER_ID, .after_id = "short"}},
        {.group = "g", .stream = "s", .max_deliveries = -5},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        buf_init(&b);
        assert_int_equal(ef_group_json_create(&b, &bad[i], err), EF_EINVAL);
        buf_free(&b);
    }
}

static void test_other_arguments(void **state)
{
    (void)state;
    char err[EF_ERR_LEN];
    struct buf b;
    buf_init(&b);
    assert_int_equal(ef_group_json_read(&b, "g", "w1", 10, 2000, err), EF_OK);
    expect_text(&b, "{\"group\":\"g\",\"consumer\":\"w1\",\"count\":10,\"block_ms\":2000}");
    buf_init(&b);
    assert_int_equal(ef_group_json_read(&b, "g", "w1", EF_GROUP_READ_MAX + 1, 0, err), EF_EINVAL);
    buf_free(&b);
    buf_init(&b);
    assert_int_equal(ef_group_json_read(&b, "g", NULL, 1, 0, err), EF_EINVAL);
    buf_free(&b);

    const char *ids[] = {ID1, ID2};
    buf_init(&b);
    assert_int_equal(ef_group_json_ids(&b, "g", ids, 2, true, err), EF_OK);
    expect_text(&b, "{\"group\":\"g\",\"ids\":[\"01JDB8M2Z1M9W6Q4B3XJ8Y3T5R\",\"01JDB8M2Z1M9W6Q4B3XJ8Y3T5S\"],"
                    "\"park\":true}");
    const char *bad_ids[] = {ID1, "nope"};
    buf_init(&b);
    assert_int_equal(ef_group_json_ids(&b, "g", bad_ids, 2, false, err), EF_EINVAL);
    buf_free(&b);
    buf_init(&b);
    assert_int_equal(ef_group_json_ids(&b, "g", ids, 0, false, err), EF_EINVAL);
    buf_free(&b);

    struct eventflow_group_position to = {.from = EF_GROUP_FROM_VERSION, .version = 42};
    buf_init(&b);
    assert_int_equal(ef_group_json_seek(&b, "g", &to, err), EF_OK);
    expect_text(&b, "{\"group\":\"g\",\"to\":42}");
    buf_init(&b);
    assert_int_equal(ef_group_json_list(&b, "g", "w1", ID1, 5, err), EF_OK);
    expect_text(&b, "{\"group\":\"g\",\"consumer\":\"w1\",\"after\":\"01JDB8M2Z1M9W6Q4B3XJ8Y3T5R\",\"count\":5}");
    buf_init(&b);
    assert_int_equal(ef_group_json_replay_count(&b, "g", 7, err), EF_OK);
    expect_text(&b, "{\"group\":\"g\",\"count\":7}");
    buf_init(&b);
    assert_int_equal(ef_group_json_name(&b, "{g}", err), EF_OK);
    expect_text(&b, "{\"group\":\"{g}\"}");
}

/* A bulk string value holding text (borrowed: not freed). */
static struct resp_value bulk(const char *text)
{
    return (struct resp_value){.type = RESP_T_BULK, .str = (char *)text, .len = strlen(text)};
}

static void test_read_reply(void **state)
{
    (void)state;
    char err[EF_ERR_LEN];
    struct resp_value ev[2] = {
        bulk("{\"id\":\"01JDB8M2Z1M9W6Q4B3XJ8Y3T5R\",\"stream\":\"s\",\"version\":0,\"type\":\"T\",\"data\":null,"
             "\"metadata\":null,\"causation_id\":\"01JDB8M2Z1M9W6Q4B3XJ8Y3T5R\",\"correlation_id\":"
             "\"01JDB8M2Z1M9W6Q4B3XJ8Y3T5R\",\"added_at\":\"2026-01-01T00:00:00.000000000Z\",\"deliveries\":1}"),
        bulk("{\"id\":\"01JDB8M2Z1M9W6Q4B3XJ8Y3T5S\",\"stream\":\"s\",\"version\":1,\"type\":\"T\",\"data\":"
             "{\"deliveries\":99},\"metadata\":null,\"causation_id\":\"01JDB8M2Z1M9W6Q4B3XJ8Y3T5S\","
             "\"correlation_id\":\"01JDB8M2Z1M9W6Q4B3XJ8Y3T5S\",\"added_at\":\"2026-01-01T00:00:00.000000000Z\","
             "\"deliveries\":12}"),
    };
    struct resp_value reply = {.type = RESP_T_ARRAY, .n = 2, .elems = ev};
    struct eventflow_group_batch b;
    assert_int_equal(ef_group_batch_read(&reply, &b, err), EF_OK);
    assert_int_equal(b.n, 2);
    assert_string_equal(b.events[0].event.id, ID1);
    assert_int_equal(b.events[0].deliveries, 1);
    /* The last member counts, not one inside the data. */
    assert_int_equal(b.events[1].deliveries, 12);
    assert_int_equal(b.events[1].event.version, 1);
    eventflow_group_batch_free(&b);
    eventflow_group_batch_free(&b); /* harmless */

    struct resp_value no_count = bulk("{\"id\":\"01JDB8M2Z1M9W6Q4B3XJ8Y3T5R\",\"stream\":\"s\",\"version\":0,"
                                      "\"type\":\"T\",\"data\":null,\"metadata\":null,\"causation_id\":"
                                      "\"01JDB8M2Z1M9W6Q4B3XJ8Y3T5R\",\"correlation_id\":"
                                      "\"01JDB8M2Z1M9W6Q4B3XJ8Y3T5R\",\"added_at\":\"x\"}");
    struct resp_value bad = {.type = RESP_T_ARRAY, .n = 1, .elems = &no_count};
    assert_int_equal(ef_group_batch_read(&bad, &b, err), EF_EPROTO);
    assert_int_equal(b.n, 0);
    struct resp_value empty = {.type = RESP_T_ARRAY};
    assert_int_equal(ef_group_batch_read(&empty, &b, err), EF_OK);
    assert_int_equal(b.n, 0);
}

static void test_state_replies(void **state)
{
    (void)state;
    char err[EF_ERR_LEN];
    struct resp_value info = bulk(
        "{\"group\":\"g\",\"all\":true,\"stream_prefix\":\"o-\",\"ack_wait_ms\":30000,\"max_deliveries\":10,"
        "\"created_at\":\"2026-01-01T00:00:00.000000000Z\",\"after_id\":null,\"position\":0,\"lag\":3,"
        "\"pending\":2,\"parked\":1,\"delivered\":5,\"acked\":2,\"consumers\":[{\"name\":\"w1\",\"pending\":2,"
        "\"delivered\":5,\"acked\":2,\"last_seen\":\"2026-01-01T00:00:01.000000000Z\",\"idle_ms\":7}]}");
    struct eventflow_group_info g;
    assert_int_equal(ef_group_info_read(&info, &g, err), EF_OK);
    assert_string_equal(g.group, "g");
    assert_true(g.all);
    assert_null(g.stream);
    assert_string_equal(g.stream_prefix, "o-");
    assert_string_equal(g.after_id, "");
    assert_int_equal(g.lag, 3);
    assert_int_equal(g.parked, 1);
    assert_int_equal(g.n_consumers, 1);
    assert_string_equal(g.consumers[0].name, "w1");
    assert_int_equal(g.consumers[0].idle_ms, 7);
    assert_string_equal(g.json, info.str);
    eventflow_group_info_free(&g);

    struct resp_value pend[2] = {
        bulk("{\"id\":\"01JDB8M2Z1M9W6Q4B3XJ8Y3T5R\",\"consumer\":null,\"deliveries\":2,\"deadline\":null,"
             "\"idle_ms\":0}"),
        bulk("{\"id\":\"01JDB8M2Z1M9W6Q4B3XJ8Y3T5S\",\"consumer\":\"w1\",\"deliveries\":1,"
             "\"delivered_at\":\"t1\",\"deadline\":\"t2\",\"idle_ms\":4}"),
    };
    struct resp_value reply = {.type = RESP_T_ARRAY, .n = 2, .elems = pend};
    struct eventflow_group_pending_list pl;
    assert_int_equal(ef_group_pending_read(&reply, &pl, err), EF_OK);
    assert_int_equal(pl.n, 2);
    assert_null(pl.entries[0].consumer);
    assert_string_equal(pl.entries[0].deadline, "");
    assert_string_equal(pl.entries[1].consumer, "w1");
    assert_string_equal(pl.entries[1].deadline, "t2");
    eventflow_group_pending_list_free(&pl);

    struct resp_value parked = bulk("{\"id\":\"01JDB8M2Z1M9W6Q4B3XJ8Y3T5R\",\"consumer\":\"w1\",\"deliveries\":10,"
                                    "\"parked_at\":\"t\",\"reason\":\"max_deliveries\"}");
    struct resp_value preply = {.type = RESP_T_ARRAY, .n = 1, .elems = &parked};
    struct eventflow_group_parked_list kl;
    assert_int_equal(ef_group_parked_read(&preply, &kl, err), EF_OK);
    assert_int_equal(kl.n, 1);
    assert_string_equal(kl.entries[0].reason, "max_deliveries");
    assert_int_equal(kl.entries[0].deliveries, 10);
    eventflow_group_parked_list_free(&kl);

    struct resp_value not_json = bulk("{nope");
    struct resp_value breply = {.type = RESP_T_ARRAY, .n = 1, .elems = &not_json};
    assert_int_equal(ef_group_parked_read(&breply, &kl, err), EF_EPROTO);
    assert_int_equal(kl.n, 0);
    struct eventflow_group_list gl;
    assert_int_equal(ef_group_list_read(&breply, &gl, err), EF_EPROTO);
    assert_int_equal(gl.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_other_arguments),
        cmocka_unit_test(test_read_reply),
        cmocka_unit_test(test_state_replies),
    };
    return cmocka_run_group_tests_name("client_group_wire", tests, NULL, NULL);
}
