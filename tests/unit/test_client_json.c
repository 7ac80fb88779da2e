/* test_client_json.c - libeventflow's request encoding and reply decoding
 * (client/json.h): what goes on the wire for ADD and the reads, and how
 * events, statuses, members and streams come back as C structs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "client/json.h"
#include "eventflow/errors.h"

#define ID1 "01HZZZZZZZZZZZZZZZZZZZZZZ1"
#define ID2 "01HZZZZZZZZZZZZZZZZZZZZZZ2"

/* ---- helpers ------------------------------------------------------------ */

/* A keygen that hands out k0, k1, ... */
static void counting_keygen(void *ctx, char *out)
{
    unsigned *n = ctx;
    snprintf(out, EF_GEN_KEY_LEN + 1, "k%u", (*n)++);
}

/* Encode an ADD and return it NUL-terminated (caller frees), or fail. */
static char *encode_add(const char *stream, int64_t version, const struct eventflow_new_event *evs,
                        size_t n, bool keys)
{
    struct buf b;
    buf_init(&b);
    char err[EF_ERR_LEN];
    unsigned counter = 0;
    int rc = ef_json_add(&b, stream, version, evs, n, keys ? counting_keygen : NULL, &counter, err);
    if (rc != EF_OK)
        fail_msg("ef_json_add failed: %s", err);
    buf_append_char(&b, '\0');
    /* Whatever we send must be valid JSON for the server. */
    json_error_t je;
    json_t *check = json_loads(b.data, JSON_ALLOW_NUL, &je);
    if (check == NULL)
        fail_msg("not JSON: %s: %s", b.data, je.text);
    json_decref(check);
    return b.data;
}

static int encode_add_error(const char *stream, int64_t version,
                            const struct eventflow_new_event *evs, size_t n, char *err)
{
    struct buf b;
    buf_init(&b);
    unsigned counter = 0;
    int rc = ef_json_add(&b, stream, version, evs, n, counting_keygen, &counter, err);
    buf_free(&b);
    return rc;
}

static struct eventflow_payload str_payload(const char *s, size_t len)
{
    struct eventflow_payload p = {.kind = EF_PAYLOAD_STRING, .bytes = s, .len = len};
    return p;
}

static struct eventflow_payload json_payload(const char *s)
{
    struct eventflow_payload p = {.kind = EF_PAYLOAD_JSON, .bytes = s, .len = strlen(s)};
    return p;
}

/* A reply array of bulk strings, borrowing the texts. */
struct fake_reply {
    struct resp_value v;
    struct resp_value elems[8];
};

static void fake_array(struct fake_reply *r, const char *const *texts, size_t n)
{
    memset(r, 0, sizeof *r);
    r->v.type = RESP_T_ARRAY;
    r->v.n = n;
    r->v.elems = r->elems;
    for (size_t i = 0; i < n; i++) {
        r->elems[i].type = RESP_T_BULK;
        r->elems[i].str = (char *)texts[i];
        r->elems[i].len = strlen(texts[i]);
    }
}

#define EVENT_JSON(data, meta)                                                                     \
    "{\"id\":\"" ID1 "\",\"stream\":\"orders\",\"version\":3,\"type\":\"Placed\",\"data\":" data      \
    ",\"metadata\":" meta ",\"causation_id\":\"" ID1 "\",\"correlation_id\":\"" ID2                  \
    "\",\"added_at\":\"2026-11-23T12:00:00.123456789Z\"}"

/* ---- encoding ------------------------------------------------------------ */

static void test_add_minimal(void **state)
{
    (void)state;
    struct eventflow_new_event ev = {.type = "T"};
    char *s = encode_add("s", 0, &ev, 1, false);
    assert_string_equal(s, "{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"T\"}]}");
    free(s);
    s = encode_add("s", EF_VERSION_ANY, &ev, 1, false);
    assert_string_equal(s, "{\"stream\":\"s\",\"version\":\"any\",\"events\":[{\"type\":\"T\"}]}");
    free(s);
}

static void test_add_every_field(void **state)
{
    (void)state;
    struct eventflow_new_event evs[2] = {
        {.type = "A",
         .data = str_payload("x\"y\\z\n\t\r\x01\0end", 13),
         .metadata = json_payload(" {\"k\": [1, 2.5, \"}\"]} "),
         .causation_id = ID1,
         .correlation_id = ID2,
         .key = "my key 1"},
        {.type = "B\xc3\xa9", .data = str_payload("", 0)},
    };
    char *s = encode_add("str\"eam", 12, evs, 2, true);
    assert_string_equal(
        s, "{\"stream\":\"str\\\"eam\",\"version\":12,\"events\":["
           "{\"type\":\"A\",\"data\":\"x\\\"y\\\\z\\n\\t\\r\\u0001\\u0000end\","
           "\"metadata\": {\"k\": [1, 2.5, \"}\"]} ,"
           "\"causation_id\":\"" ID1 "\",\"correlation_id\":\"" ID2 "\",\"key\":\"my key 1\"},"
           "{\"type\":\"B\xc3\xa9\",\"data\":\"\",\"key\":\"k0\"}]}");
    free(s);
}

/* Without keys (the option off), not even a caller's key is sent. */
static void test_add_no_keys(void **state)
{
    (void)state;
    struct eventflow_new_event ev = {.type = "T", .key = "mine"};
    char *s = encode_add("s", 1, &ev, 1, false);
    assert_null(strstr(s, "key"));
    free(s);
}

static void test_add_rejects(void **state)
{
    (void)state;
    char err[EF_ERR_LEN];
    struct eventflow_new_event ok = {.type = "T"};
    struct eventflow_new_event ev;

    assert_int_equal(encode_add_error(NULL, 0, &ok, 1, err), EF_EINVAL);
    assert_int_equal(encode_add_error("s", 0, &ok, 0, err), EF_EINVAL);
    assert_int_equal(encode_add_error("s", 0, NULL, 1, err), EF_EINVAL);
    assert_int_equal(encode_add_error("s", -2, &ok, 1, err), EF_EINVAL);
    assert_int_equal(encode_add_error("s\xff", 0, &ok, 1, err), EF_EINVAL);

    ev = (struct eventflow_new_event){0};
    assert_int_equal(encode_add_error("s", 0, &ev, 1, err), EF_EINVAL);
    assert_non_null(strstr(err, "no type"));

    /* Invalid UTF-8: a lone continuation byte, an overlong '/', a
     * surrogate, beyond U+10FFFF, a truncated sequence. */
    const char *bad_utf8[] = {"\x80", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"};
    for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
        ev = (struct eventflow_new_event){.type = "T",
                                          .data = str_payload(bad_utf8[i], strlen(bad_utf8[i]))};
        assert_int_equal(encode_add_error("s", 0, &ev, 1, err), EF_EINVAL);
        assert_non_null(strstr(err, "UTF-8"));
    }

    /* JSON payloads: not JSON, two values, trailing garbage that would
     * change the request's shape, and kinds that must be sent otherwise. */
    const char *bad_json[] = {"{", "1 2", "1, \"version\": 5", "\"a string\"", "null", ""};
    for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++) {
        ev = (struct eventflow_new_event){.type = "T", .metadata = json_payload(bad_json[i])};
        if (encode_add_error("s", 0, &ev, 1, err) != EF_EINVAL)
            fail_msg("JSON payload \"%s\" was accepted", bad_json[i]);
    }
    ev = (struct eventflow_new_event){.type = "T", .data = {.kind = (enum eventflow_payload_kind)5}};
    assert_int_equal(encode_add_error("s", 0, &ev, 1, err), EF_EINVAL);

    /* Keys: 1..64 printable ASCII. */
    char long_key[EF_KEY_MAX + 2];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    const char *bad_keys[] = {"", "tab\there", "caf\xc3\xa9", long_key};
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        ev = (struct eventflow_new_event){.type = "T", .key = bad_keys[i]};
        assert_int_equal(encode_add_error("s", 0, &ev, 1, err), EF_EINVAL);
    }
    long_key[EF_KEY_MAX] = '\0'; /* exactly 64 is fine */
    ev = (struct eventflow_new_event){.type = "T", .key = long_key};
    assert_int_equal(encode_add_error("s", 0, &ev, 1, err), EF_OK);
}

static void test_reads(void **state)
{
    (void)state;
    struct buf b;
    char err[EF_ERR_LEN];
    buf_init(&b);
    struct ef_read_opts none = {0};
    assert_int_equal(ef_json_get(&b, "s", 5, 10, &none, err), EF_OK);
    buf_append_char(&b, '\0');
    assert_string_equal(b.data, "{\"stream\":\"s\",\"version\":5,\"limit\":10}");

    buf_reset(&b);
    struct ef_read_opts all = {.min_id = ID1, .linearizable = true, .timeout_ms = 750};
    assert_int_equal(ef_json_get(&b, "s", 0, 0, &all, err), EF_OK);
    buf_append_char(&b, '\0');
    assert_string_equal(b.data, "{\"stream\":\"s\",\"version\":0,\"limit\":0,\"min_id\":\"" ID1
                                "\",\"consistency\":\"linearizable\",\"timeout_ms\":750}");

    buf_reset(&b);
    assert_int_equal(ef_json_getall(&b, NULL, 10, &none, err), EF_OK);
    buf_append_char(&b, '\0');
    assert_string_equal(b.data, "{\"limit\":10}");

    buf_reset(&b);
    struct ef_read_opts ryw = {.min_id = ID2};
    assert_int_equal(ef_json_getall(&b, ID1, 3, &ryw, err), EF_OK);
    buf_append_char(&b, '\0');
    assert_string_equal(b.data, "{\"limit\":3,\"offset\":\"" ID1 "\",\"min_id\":\"" ID2 "\"}");

    buf_reset(&b);
    struct ef_read_opts empty_id = {.min_id = ""};
    ef_json_liststreams(&b, 4, 25, &empty_id);
    buf_append_char(&b, '\0');
    assert_string_equal(b.data, "{\"skip\":4,\"limit\":25}");

    buf_reset(&b);
    assert_int_equal(ef_json_get(&b, NULL, 0, 0, &none, err), EF_EINVAL);
    buf_free(&b);
}

/* ---- decoding ------------------------------------------------------------ */

static void test_event_payload_kinds(void **state)
{
    (void)state;
    struct eventflow_event ev;
    char err[EF_ERR_LEN];

    /* A JSON payload comes back verbatim, not as jansson would print it. */
    const char *text = EVENT_JSON("{\"x\":0.1,\"s\":\"}],\\\"{\",\"n\":[1,{\"a\":[]}]}", "null");
    assert_int_equal(ef_json_event(text, strlen(text), &ev, err), EF_OK);
    assert_string_equal(ev.id, ID1);
    assert_string_equal(ev.stream, "orders");
    assert_int_equal(ev.version, 3);
    assert_string_equal(ev.type, "Placed");
    assert_int_equal(ev.data.kind, EF_PAYLOAD_JSON);
    assert_string_equal(ev.data.bytes, "{\"x\":0.1,\"s\":\"}],\\\"{\",\"n\":[1,{\"a\":[]}]}");
    assert_int_equal(ev.data.len, strlen(ev.data.bytes));
    assert_int_equal(ev.metadata.kind, EF_PAYLOAD_NULL);
    assert_null(ev.metadata.bytes);
    assert_string_equal(ev.causation_id, ID1);
    assert_string_equal(ev.correlation_id, ID2);
    assert_string_equal(ev.added_at, "2026-11-23T12:00:00.123456789Z");
    assert_null(ev.key);
    ef_event_clear(&ev);

    /* Strings come back as their bytes, NUL included; scalars verbatim. */
    text = EVENT_JSON("\"a\\u0000b\\n\"", "12.50");
    assert_int_equal(ef_json_event(text, strlen(text), &ev, err), EF_OK);
    assert_int_equal(ev.data.kind, EF_PAYLOAD_STRING);
    assert_int_equal(ev.data.len, 4);
    assert_memory_equal(ev.data.bytes, "a\0b\n", 5);
    assert_int_equal(ev.metadata.kind, EF_PAYLOAD_JSON);
    assert_string_equal(ev.metadata.bytes, "12.50");
    ef_event_clear(&ev);

    /* The value at the end of the object, and true/false. */
    text = "{\"id\":\"" ID1 "\",\"stream\":\"s\",\"version\":0,\"type\":\"t\",\"causation_id\":\"" ID1
           "\",\"correlation_id\":\"" ID1 "\",\"added_at\":\"t\",\"key\":\"abc\",\"data\":true,"
           "\"metadata\":false}";
    assert_int_equal(ef_json_event(text, strlen(text), &ev, err), EF_OK);
    assert_string_equal(ev.data.bytes, "true");
    assert_string_equal(ev.metadata.bytes, "false");
    assert_string_equal(ev.key, "abc");
    ef_event_clear(&ev);
}

static void test_event_rejects(void **state)
{
    (void)state;
    struct eventflow_event ev;
    char err[EF_ERR_LEN];
    const char *bad[] = {
        "not json",
        "[1]",
        "{}",
        /* id too short */
        "{\"id\":\"X\",\"stream\":\"s\",\"version\":0,\"type\":\"t\",\"causation_id\":\"" ID1
        "\",\"correlation_id\":\"" ID1 "\",\"added_at\":\"t\"}",
        /* negative version */
        "{\"id\":\"" ID1 "\",\"stream\":\"s\",\"version\":-1,\"type\":\"t\",\"causation_id\":\"" ID1
        "\",\"correlation_id\":\"" ID1 "\",\"added_at\":\"t\"}",
        /* type missing */
        "{\"id\":\"" ID1 "\",\"stream\":\"s\",\"version\":0,\"causation_id\":\"" ID1
        "\",\"correlation_id\":\"" ID1 "\",\"added_at\":\"t\"}",
        /* stream not a string */
        "{\"id\":\"" ID1 "\",\"stream\":5,\"version\":0,\"type\":\"t\",\"causation_id\":\"" ID1
        "\",\"correlation_id\":\"" ID1 "\",\"added_at\":\"t\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (ef_json_event(bad[i], strlen(bad[i]), &ev, err) != EF_EPROTO)
            fail_msg("accepted: %s", bad[i]);
        assert_null(ev.stream); /* nothing half-filled is left behind */
    }
}

static void test_events_reply(void **state)
{
    (void)state;
    struct fake_reply r;
    struct eventflow_event_list l = {0};
    char err[EF_ERR_LEN];
    const char *texts[] = {EVENT_JSON("\"one\"", "null"), EVENT_JSON("[2]", "{}")};
    fake_array(&r, texts, 2);
    assert_int_equal(ef_json_events(&r.v, &l, err), EF_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.events[0].data.bytes, "one");
    assert_string_equal(l.events[1].data.bytes, "[2]");
    assert_string_equal(l.events[1].metadata.bytes, "{}");
    eventflow_event_list_free(&l);
    assert_null(l.events);
    assert_int_equal(l.n, 0);
    eventflow_event_list_free(&l); /* twice is harmless */

    fake_array(&r, texts, 0);
    assert_int_equal(ef_json_events(&r.v, &l, err), EF_OK);
    assert_int_equal(l.n, 0);

    /* One bad event fails the lot, leaking nothing. */
    const char *mixed[] = {EVENT_JSON("\"ok\"", "null"), "{\"id\":1}"};
    fake_array(&r, mixed, 2);
    assert_int_equal(ef_json_events(&r.v, &l, err), EF_EPROTO);
    assert_null(l.events);

    struct resp_value not_array = {.type = RESP_T_INT, .integer = 3};
    assert_int_equal(ef_json_events(&not_array, &l, err), EF_EPROTO);
    r.elems[0].type = RESP_T_INT;
    assert_int_equal(ef_json_events(&r.v, &l, err), EF_EPROTO);
}

static void test_status(void **state)
{
    (void)state;
    const char *text =
        "{\"id\":2,\"state\":\"follower\",\"stale\":false,\"last_contact_ms\":12,\"ready\":false,"
        "\"leader_id\":1,\"leader_address\":\"127.0.0.1:6543\",\"client_address\":\"127.0.0.1:6544\","
        "\"raft_address\":\"127.0.0.1:7544\",\"term\":3,\"last_index\":10,\"commit_index\":9,"
        "\"applied_index\":9,\"snapshot_index\":0,\"store_applied_index\":9,\"events\":5,"
        "\"streams\":2,\"checksum\":\"ABCDEFG=\",\"last_id\":\"" ID1 "\",\"db_bytes\":4096,"
        "\"map_bytes\":1048576,\"map_room_bytes\":65536,"
        "\"uptime_ms\":777,\"version\":\"0.1.0\",\"future_field\":[1,2]}";
    struct eventflow_node_status st;
    char err[EF_ERR_LEN];
    assert_int_equal(ef_json_status(text, strlen(text), &st, err), EF_OK);
    assert_int_equal(st.id, 2);
    assert_string_equal(st.state, "follower");
    assert_false(st.ready);
    assert_int_equal(st.last_contact_ms, 12);
    assert_int_equal(st.leader_id, 1);
    assert_string_equal(st.leader_address, "127.0.0.1:6543");
    assert_string_equal(st.client_address, "127.0.0.1:6544");
    assert_string_equal(st.raft_address, "127.0.0.1:7544");
    assert_int_equal(st.term, 3);
    assert_int_equal(st.last_index, 10);
    assert_int_equal(st.commit_index, 9);
    assert_int_equal(st.applied_index, 9);
    assert_int_equal(st.store_applied_index, 9);
    assert_int_equal(st.events, 5);
    assert_int_equal(st.streams, 2);
    assert_string_equal(st.checksum, "ABCDEFG=");
    assert_string_equal(st.last_id, ID1);
    assert_int_equal(st.db_bytes, 4096);
    assert_int_equal(st.map_bytes, 1048576);
    assert_int_equal(st.map_room_bytes, 65536);
    assert_int_equal(st.uptime_ms, 777);
    assert_string_equal(st.version, "0.1.0");
    assert_string_equal(st.role, "");

    /* A cluster status entry for a member that did not answer. */
    const char *down = "{\"role\":\"voter\",\"id\":3,\"state\":\"unreachable\",\"client_address\":"
                       "\"127.0.0.1:6545\",\"raft_address\":\"127.0.0.1:7545\",\"error\":\"refused\"}";
    struct fake_reply r;
    struct eventflow_status_list l;
    const char *texts[] = {text, down};
    fake_array(&r, texts, 2);
    assert_int_equal(ef_json_status_list(&r.v, &l, err), EF_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.nodes[1].state, "unreachable");
    assert_string_equal(l.nodes[1].role, "voter");
    assert_string_equal(l.nodes[1].error, "refused");
    eventflow_status_list_free(&l);

    assert_int_equal(ef_json_status("{\"state\":\"leader\"}", 18, &st, err), EF_EPROTO);
    assert_int_equal(ef_json_status("{\"id\":1}", 8, &st, err), EF_EPROTO);
}

static void test_members(void **state)
{
    (void)state;
    const char *texts[] = {
        ("{\"id\":1,\"raft_address\":\"127.0.0.1:7543\",\"client_address\":\"127.0.0.1:6543\","
         "\"role\":\"voter\",\"incarnation\":\"00000000deadbeef\"}"),
        "{\"id\":4,\"raft_address\":\"127.0.0.1:7546\",\"client_address\":\"\",\"role\":\"spare\",\"committed\":false}",
        "{\"id\":5,\"raft_address\":\"h:1\",\"role\":\"standby\"}",
    };
    struct fake_reply r;
    struct eventflow_member_list l;
    char err[EF_ERR_LEN];
    fake_array(&r, texts, 3);
    assert_int_equal(ef_json_members(&r.v, &l, err), EF_OK);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.members[0].id, 1);
    assert_string_equal(l.members[0].client_address, "127.0.0.1:6543");
    assert_int_equal(l.members[0].role, EF_ROLE_VOTER);
    assert_string_equal(l.members[0].incarnation, "00000000deadbeef");
    assert_int_equal(l.members[1].role, EF_ROLE_SPARE);
    assert_string_equal(l.members[1].client_address, "");
    assert_true(l.members[0].committed);  /* absent: taken as committed */
    assert_false(l.members[1].committed);
    assert_int_equal(l.members[2].role, EF_ROLE_STANDBY);
    eventflow_member_list_free(&l);

    const char *bad[] = {"{\"id\":1}"};
    fake_array(&r, bad, 1);
    assert_int_equal(ef_json_members(&r.v, &l, err), EF_EPROTO);
    assert_null(l.members);
}

static void test_streams(void **state)
{
    (void)state;
    const char *texts[] = {
        "{\"id\":\"a\",\"events\":3,\"added_at\":\"2026-01-01T00:00:00.000000000Z\"}",
        "{\"id\":\"b c\",\"events\":1,\"added_at\":\"2026-01-02T00:00:00.000000000Z\"}",
    };
    struct fake_reply r;
    struct eventflow_stream_list l;
    char err[EF_ERR_LEN];
    fake_array(&r, texts, 2);
    assert_int_equal(ef_json_streams(&r.v, &l, err), EF_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.streams[1].name, "b c");
    assert_int_equal(l.streams[0].events, 3);
    assert_string_equal(l.streams[1].added_at, "2026-01-02T00:00:00.000000000Z");
    eventflow_stream_list_free(&l);

    const char *bad[] = {texts[0], "{\"id\":\"x\",\"events\":\"many\",\"added_at\":\"t\"}"};
    fake_array(&r, bad, 2);
    assert_int_equal(ef_json_streams(&r.v, &l, err), EF_EPROTO);
    assert_null(l.streams);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(ef_utf8_valid("", 0));
    assert_true(ef_utf8_valid("plain", 5));
    assert_true(ef_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9)); /* é € 😀 */
    assert_true(ef_utf8_valid("\xf4\x8f\xbf\xbf", 4));                      /* U+10FFFF */
    assert_true(ef_utf8_valid("a\0b", 3));
    assert_false(ef_utf8_valid("\xc1\xbf", 2));         /* overlong */
    assert_false(ef_utf8_valid("\xe0\x80\x80", 3));     /* overlong */
    assert_false(ef_utf8_valid("\xf0\x80\x80\x80", 4)); /* overlong */
    assert_false(ef_utf8_valid("\xed\xbf\xbf", 3));     /* surrogate */
    assert_false(ef_utf8_valid("\xf5\x80\x80\x80", 4)); /* too large */
    assert_false(ef_utf8_valid("\xc3", 1));             /* truncated */
    assert_false(ef_utf8_valid("\xc3\x28", 2));         /* bad continuation */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_minimal),       cmocka_unit_test(test_add_every_field),
        cmocka_unit_test(test_add_no_keys),       cmocka_unit_test(test_add_rejects),
        cmocka_unit_test(test_reads),             cmocka_unit_test(test_event_payload_kinds),
        cmocka_unit_test(test_event_rejects),     cmocka_unit_test(test_events_reply),
        cmocka_unit_test(test_status),            cmocka_unit_test(test_members),
        cmocka_unit_test(test_streams),           cmocka_unit_test(test_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
