/* test_codec.c - decoding command arguments and encoding events as JSON.
 *
 * Every error message is checked word for word: clients and the
 * integration tests match on them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/buf.h"
#include "protocol/codec.h"

#define ULID_A "01ARZ3NDEKTSV4RRFFQ69G5FAV"
#define ULID_B "01BX5ZZKBKACTAV9WEVGEMMVRZ"

/* ---- helpers ------------------------------------------------------------ */

static void assert_one_line(const char *err)
{
    assert_null(strchr(err, '\r'));
    assert_null(strchr(err, '\n'));
    assert_true(strlen(err) > 0);
    assert_true(strlen(err) < CODEC_ERR_LEN);
}

static void assert_add_zeroed(const struct codec_add *a)
{
    assert_null(a->stream);
    assert_null(a->events);
    assert_int_equal(a->n_events, 0);
}

static int add_with(const char *json, const struct codec_limits *lim, struct codec_add *out,
                    char err[CODEC_ERR_LEN])
{
    return codec_parse_add(json, strlen(json), lim, out, err);
}

/* Parse must fail with exactly `want`, leave the request empty, and be
 * safe to free again. */
static void expect_add_error_lim(const char *json, const struct codec_limits *lim,
                                 const char *want)
{
    struct codec_add a;
    char err[CODEC_ERR_LEN] = "";
    int rc = add_with(json, lim, &a, err);
    if (rc == 0)
        fail_msg("accepted: %s", json);
    assert_string_equal(err, want);
    assert_one_line(err);
    assert_add_zeroed(&a);
    codec_add_free(&a);
}

static void expect_add_error(const char *json, const char *want)
{
    expect_add_error_lim(json, NULL, want);
}

static void expect_add_error_prefix(const char *json, const char *prefix)
{
    struct codec_add a;
    char err[CODEC_ERR_LEN] = "";
    assert_int_equal(add_with(json, NULL, &a, err), -1);
    if (strncmp(err, prefix, strlen(prefix)) != 0)
        fail_msg("error '%s' does not start with '%s'", err, prefix);
    assert_one_line(err);
    assert_add_zeroed(&a);
}

static void parse_add_ok(const char *json, const struct codec_limits *lim, struct codec_add *a)
{
    char err[CODEC_ERR_LEN] = "";
    if (add_with(json, lim, a, err) != 0)
        fail_msg("rejected %s: %s", json, err);
}

/* The first event's data, from an ADD whose only event is
 * {"type":"t","data":<data>}. */
static void parse_data(const char *data, struct codec_add *a)
{
    char json[4096];
    snprintf(json, sizeof json, "{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\",\"data\":%s}]}",
             data);
    parse_add_ok(json, NULL, a);
    assert_int_equal(a->n_events, 1);
}

static void expect_data_json(const char *data, const char *want)
{
    struct codec_add a;
    parse_data(data, &a);
    assert_int_equal(a.events[0].data.kind, EVENTFLOW__PAYLOAD_KIND__PAYLOAD_JSON);
    assert_int_equal(a.events[0].data.len, strlen(want));
    assert_memory_equal(a.events[0].data.bytes, want, strlen(want));

    /* The stored text must read back as the value that was sent. */
    json_error_t je;
    json_t *sent = json_loads(data, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    json_t *stored = json_loadb(a.events[0].data.bytes, a.events[0].data.len,
                                JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    assert_non_null(sent);
    assert_non_null(stored);
    assert_true(json_equal(sent, stored));
    json_decref(sent);
    json_decref(stored);
    codec_add_free(&a);
}

static struct codec_limits small_limits(void)
{
    struct codec_limits l;
    codec_limits_default(&l);
    l.max_events = 3;
    l.max_event_size = 10;
    l.max_stream_len = 8;
    l.max_type_len = 4;
    l.max_read = 100;
    return l;
}

/* ---- limits --------------------------------------------------------------- */

static void test_limits_default(void **state)
{
    (void)state;
    struct codec_limits l;
    codec_limits_default(&l);
    assert_int_equal(l.max_events, 1000);
    assert_int_equal(l.max_event_size, 1024 * 1024);
    assert_int_equal(l.max_stream_len, 256);
    assert_int_equal(l.max_type_len, 256);
    assert_int_equal(l.max_read, 10000);
}

/* ---- ADD: accepted ------------------------------------------------------ */

static void test_add_minimal(void **state)
{
    (void)state;
    struct codec_add a;
    parse_add_ok("{\"stream\":\"orders-1\",\"version\":3,\"events\":[{\"type\":\"Created\"}]}", NULL,
                 &a);
    assert_string_equal(a.stream, "orders-1");
    assert_int_equal(a.stream_len, 8);
    assert_false(a.any_version);
    assert_int_equal(a.expected_version, 3);
    assert_int_equal(a.n_events, 1);
    const struct codec_event *e = &a.events[0];
    assert_string_equal(e->type, "Created");
    assert_int_equal(e->data.kind, EVENTFLOW__PAYLOAD_KIND__PAYLOAD_NULL);
    assert_null(e->data.bytes);
    assert_int_equal(e->data.len, 0);
    assert_int_equal(e->metadata.kind, EVENTFLOW__PAYLOAD_KIND__PAYLOAD_NULL);
    assert_false(e->has_causation_id);
    assert_false(e->has_correlation_id);
    codec_add_free(&a);
    assert_add_zeroed(&a);
    codec_add_free(&a); /* twice is fine */
    codec_add_free(NULL);
}

static void test_add_full_event(void **state)
{
    (void)state;
    struct codec_add a;
    parse_add_ok("  {\"events\":[{\"type\":\"A\",\"data\":\"aGVsbG8=\",\"metadata\":{\"k\":[1,2]},"
                 "\"causation_id\":\"" ULID_A "\",\"correlation_id\":\"" ULID_B "\"},"
                 "{\"type\":\"B\",\"data\":null,\"metadata\":null,\"causation_id\":null,"
                 "\"correlation_id\":null}],"
                 "\"version\":\"any\",\"stream\":\"00000000-0000-0000-0000-000000000001\"}\n",
                 NULL, &a);
    assert_string_equal(a.stream, "00000000-0000-0000-0000-000000000001");
    assert_true(a.any_version);
    assert_int_equal(a.n_events, 2);

    const struct codec_event *e = &a.events[0];
    assert_int_equal(e->data.kind, EVENTFLOW__PAYLOAD_KIND__PAYLOAD_STRING);
    assert_int_equal(e->data.len, 8);
    assert_memory_equal(e->data.bytes, "aGVsbG8=", 8);
    assert_int_equal(e->metadata.kind, EVENTFLOW__PAYLOAD_KIND__PAYLOAD_JSON);
    assert_int_equal(e->metadata.len, strlen("{\"k\":[1,2]}"));
    assert_memory_equal(e->metadata.bytes, "{\"k\":[1,2]}", e->metadata.len);
    uint8_t id[ULID_BYTES];
    assert_true(e->has_causation_id);
    assert_int_equal(ulid_parse(ULID_A, ULID_STR_LEN, id), 0);
    assert_memory_equal(e->causation_id, id, ULID_BYTES);
    assert_true(e->has_correlation_id);
    assert_int_equal(ulid_parse(ULID_B, ULID_STR_LEN, id), 0);
    assert_memory_equal(e->correlation_id, id, ULID_BYTES);

    e = &a.events[1];
    assert_string_equal(e->type, "B");
    assert_int_equal(e->data.kind, EVENTFLOW__PAYLOAD_KIND__PAYLOAD_NULL);
    assert_int_equal(e->metadata.kind, EVENTFLOW__PAYLOAD_KIND__PAYLOAD_NULL);
    assert_false(e->has_causation_id);
    assert_false(e->has_correlation_id);
    codec_add_free(&a);
}

static void test_add_version_values(void **state)
{
    (void)state;
    struct codec_add a;
    parse_add_ok("{\"stream\":\"s\",\"version\":9223372036854775807,\"events\":[{\"type\":\"t\"}]}",
                 NULL, &a);
    assert_int_equal(a.expected_version, UINT64_C(9223372036854775807));
    assert_false(a.any_version);
    codec_add_free(&a);

    parse_add_ok("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\"}]}", NULL, &a);
    assert_int_equal(a.expected_version, 0);
    assert_false(a.any_version);
    codec_add_free(&a);

    const char *want = "invalid 'version': expected a non-negative integer or \"any\"";
    expect_add_error("{\"stream\":\"s\",\"version\":-1,\"events\":[{\"type\":\"t\"}]}", want);
    expect_add_error("{\"stream\":\"s\",\"version\":1.0,\"events\":[{\"type\":\"t\"}]}", want);
    expect_add_error("{\"stream\":\"s\",\"version\":\"1\",\"events\":[{\"type\":\"t\"}]}", want);
    expect_add_error("{\"stream\":\"s\",\"version\":\"ANY\",\"events\":[{\"type\":\"t\"}]}", want);
    expect_add_error("{\"stream\":\"s\",\"version\":\"any\\u0000\",\"events\":[{\"type\":\"t\"}]}",
                     want);
    expect_add_error("{\"stream\":\"s\",\"version\":null,\"events\":[{\"type\":\"t\"}]}", want);
    expect_add_error("{\"stream\":\"s\",\"version\":true,\"events\":[{\"type\":\"t\"}]}", want);
    expect_add_error("{\"stream\":\"s\",\"events\":[{\"type\":\"t\"}]}", "missing field 'version'");
    /* The last event's version must fit in an int64 too. */
    expect_add_error("{\"stream\":\"s\",\"version\":9223372036854775807,"
                     "\"events\":[{\"type\":\"t\"},{\"type\":\"u\"}]}",
                     "invalid 'version': the events' versions would exceed 9223372036854775807");
    parse_add_ok("{\"stream\":\"s\",\"version\":9223372036854775806,"
                 "\"events\":[{\"type\":\"t\"},{\"type\":\"u\"}]}",
                 NULL, &a);
    codec_add_free(&a);
    /* Past INT64_MAX jansson refuses the number itself. */
    expect_add_error_prefix(
        "{\"stream\":\"s\",\"version\":9223372036854775808,\"events\":[{\"type\":\"t\"}]}",
        "invalid JSON: too big integer");
}

/* ---- ADD: the argument as a whole -------------------------------------- */

static void test_add_not_an_object(void **state)
{
    (void)state;
    const char *want = "invalid argument: expected a JSON object";
    expect_add_error("[]", want);
    expect_add_error("[{\"stream\":\"s\"}]", want);
    expect_add_error("5", want);
    expect_add_error("\"stream\"", want);
    expect_add_error("null", want);
    expect_add_error(" true ", want);
}

static void test_add_malformed_json(void **state)
{
    (void)state;
    expect_add_error_prefix("", "invalid JSON: ");
    expect_add_error_prefix("{", "invalid JSON: ");
    expect_add_error_prefix("{\"stream\":}", "invalid JSON: ");
    expect_add_error_prefix("{} x", "invalid JSON: ");
    expect_add_error_prefix("{}{}", "invalid JSON: ");
    expect_add_error_prefix("{\"stream\":\"a\",\"stream\":\"b\"}", "invalid JSON: duplicate");
    expect_add_error_prefix("{\"stream\":\"\xff\"}", "invalid JSON: ");
    expect_add_error_prefix("{\"a\\u0000b\":1}", "invalid JSON: ");
    /* A raw newline inside a string: jansson quotes the input near the
     * fault, and the message must still be one line. */
    expect_add_error_prefix("{\"stream\":\"a\r\nb\"}", "invalid JSON: ");
    expect_add_error_prefix("{\"stream\":\r\n\x01\"a\"}", "invalid JSON: ");

    struct codec_add a;
    char err[CODEC_ERR_LEN];
    assert_int_equal(codec_parse_add(NULL, 0, NULL, &a, err), -1);
    assert_true(strncmp(err, "invalid JSON: ", 14) == 0);

    /* Only the given length is parsed: the rest is not part of the input. */
    const char *json = "{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\"}]}garbage";
    assert_int_equal(codec_parse_add(json, strlen(json) - 7, NULL, &a, err), 0);
    codec_add_free(&a);
}

static void test_add_unknown_fields(void **state)
{
    (void)state;
    expect_add_error("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\"}],\"x\":1}",
                     "unknown field 'x'");
    expect_add_error("{\"Stream\":\"s\"}", "unknown field 'Stream'");
    expect_add_error("{\"stream\":\"s\",\"version\":0,"
                     "\"events\":[{\"type\":\"t\"},{\"type\":\"t\"},{\"type\":\"t\",\"id\":1}]}",
                     "unknown field 'id' in event 2");
    /* Control and non-ASCII bytes of a client's key are shown escaped. */
    expect_add_error("{\"a\\r\\nb\\u00e9\":1}", "unknown field 'a\\x0d\\x0ab\\xc3\\xa9'");
    /* A long key is cut short. */
    expect_add_error("{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                     "aaaaaaaaaaaaaaaaaaaaaaa\":1}",
                     "unknown field 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'");
}

/* ---- ADD: stream ------------------------------------------------------------ */

static void test_add_stream(void **state)
{
    (void)state;
    struct codec_limits l = small_limits();
    expect_add_error("{\"version\":0,\"events\":[{\"type\":\"t\"}]}", "missing field 'stream'");
    expect_add_error("{\"stream\":5,\"version\":0,\"events\":[{\"type\":\"t\"}]}",
                     "invalid 'stream': expected a string");
    expect_add_error("{\"stream\":null,\"version\":0,\"events\":[{\"type\":\"t\"}]}",
                     "invalid 'stream': expected a string");
    expect_add_error("{\"stream\":\"\",\"version\":0,\"events\":[{\"type\":\"t\"}]}",
                     "stream cannot be empty");
    expect_add_error_lim("{\"stream\":\"123456789\",\"version\":0,\"events\":[{\"type\":\"t\"}]}",
                         &l, "stream name too long (max 8 bytes)");
    const char *want = "stream name must be printable ASCII";
    expect_add_error("{\"stream\":\"a\\tb\",\"version\":0,\"events\":[{\"type\":\"t\"}]}", want);
    expect_add_error("{\"stream\":\"a\\u0000b\",\"version\":0,\"events\":[{\"type\":\"t\"}]}", want);
    expect_add_error("{\"stream\":\"caf\\u00e9\",\"version\":0,\"events\":[{\"type\":\"t\"}]}", want);
    expect_add_error("{\"stream\":\"a\\u007f\",\"version\":0,\"events\":[{\"type\":\"t\"}]}", want);
    expect_add_error("{\"stream\":\"00000000-0000-0000-0000-000000000000\",\"version\":0,"
                     "\"events\":[{\"type\":\"t\"}]}",
                     "stream cannot be all zeroes");

    struct codec_add a;
    /* Exactly the limit; the edges of printable ASCII. */
    parse_add_ok("{\"stream\":\"12345678\",\"version\":0,\"events\":[{\"type\":\"t\"}]}", &l, &a);
    assert_int_equal(a.stream_len, 8);
    codec_add_free(&a);
    parse_add_ok("{\"stream\":\" ~\\\"\\\\/\",\"version\":0,\"events\":[{\"type\":\"t\"}]}", NULL, &a);
    assert_string_equal(a.stream, " ~\"\\/");
    codec_add_free(&a);
    /* Only the exact all-zero UUID is refused. */
    parse_add_ok("{\"stream\":\"00000000000000000000000000000000\",\"version\":0,"
                 "\"events\":[{\"type\":\"t\"}]}",
                 NULL, &a);
    codec_add_free(&a);
}

/* ---- ADD: events --------------------------------------------------------- */

static void test_add_events_list(void **state)
{
    (void)state;
    struct codec_limits l = small_limits();
    expect_add_error("{\"stream\":\"s\",\"version\":0}", "missing field 'events'");
    expect_add_error("{\"stream\":\"s\",\"version\":0,\"events\":{}}",
                     "invalid 'events': expected an array");
    expect_add_error("{\"stream\":\"s\",\"version\":0,\"events\":null}",
                     "invalid 'events': expected an array");
    expect_add_error("{\"stream\":\"s\",\"version\":0,\"events\":[]}", "list of events is empty");
    expect_add_error_lim("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\"},{\"type\":\"t\"},"
                         "{\"type\":\"t\"},{\"type\":\"t\"}]}",
                         &l, "too many events (max 3)");
    expect_add_error("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\"},\"e\"]}",
                     "invalid event 1: expected a JSON object");
    expect_add_error("{\"stream\":\"s\",\"version\":0,\"events\":[null]}",
                     "invalid event 0: expected a JSON object");

    struct codec_add a;
    parse_add_ok("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"a\"},{\"type\":\"b\"},"
                 "{\"type\":\"c\"}]}",
                 &l, &a);
    assert_int_equal(a.n_events, 3);
    assert_string_equal(a.events[2].type, "c");
    codec_add_free(&a);
}

static void test_add_event_type(void **state)
{
    (void)state;
    struct codec_limits l = small_limits();
    expect_add_error("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\"},{\"data\":1}]}",
                     "missing field 'type' in event 1");
    expect_add_error("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":7}]}",
                     "invalid 'type' in event 0: expected a string");
    expect_add_error("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":null}]}",
                     "invalid 'type' in event 0: expected a string");
    expect_add_error("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\"},{\"type\":\"\"}]}",
                     "event type cannot be empty");
    expect_add_error("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"a\\u0000\"}]}",
                     "invalid 'type' in event 0: contains a NUL byte");
    expect_add_error_lim("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"abcde\"}]}", &l,
                         "event type too long in event 0 (max 4 bytes)");

    struct codec_add a;
    parse_add_ok("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"abcd\"}]}", &l, &a);
    codec_add_free(&a);
    /* Any other UTF-8 is a valid type, control characters included. */
    parse_add_ok("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"\\u00e9\\n\"}]}", NULL, &a);
    assert_string_equal(a.events[0].type, "\xc3\xa9\n");
    codec_add_free(&a);
}

static void test_add_event_ids(void **state)
{
    (void)state;
    expect_add_error("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\","
                     "\"causation_id\":\"01ARZ3NDEKTSV4RRFFQ69G5FA\"}]}",
                     "invalid causation_id in event 0");
    expect_add_error("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\"},{\"type\":\"t\","
                     "\"causation_id\":\"81ARZ3NDEKTSV4RRFFQ69G5FAV\"}]}",
                     "invalid causation_id in event 1");
    expect_add_error("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\","
                     "\"causation_id\":12}]}",
                     "invalid causation_id in event 0");
    expect_add_error("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\","
                     "\"correlation_id\":\"\"}]}",
                     "invalid correlation_id in event 0");
    expect_add_error("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\","
                     "\"correlation_id\":[]}]}",
                     "invalid correlation_id in event 0");

    struct codec_add a;
    parse_add_ok("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\","
                 "\"causation_id\":\"01arz3ndektsv4rrffq69g5fav\"}]}",
                 NULL, &a);
    uint8_t id[ULID_BYTES];
    assert_int_equal(ulid_parse(ULID_A, ULID_STR_LEN, id), 0);
    assert_true(a.events[0].has_causation_id);
    assert_memory_equal(a.events[0].causation_id, id, ULID_BYTES);
    assert_false(a.events[0].has_correlation_id);
    codec_add_free(&a);
}

static void test_add_event_size(void **state)
{
    (void)state;
    struct codec_limits l = small_limits(); /* max_event_size 10 */
    struct codec_add a;
    /* type 3 + data 7 = 10: at the limit. */
    parse_add_ok("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"abc\",\"data\":\"1234567\"}]}",
                 &l, &a);
    codec_add_free(&a);
    expect_add_error_lim("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\"},"
                         "{\"type\":\"abc\",\"data\":\"1234567\",\"metadata\":\"x\"}]}",
                         &l, "event 1 too large (max 10 bytes)");
    /* JSON payloads count their compact text: [1,2,3] is 7 bytes. */
    parse_add_ok("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"abc\","
                 "\"metadata\":[ 1 , 2 , 3 ]}]}",
                 &l, &a);
    assert_int_equal(a.events[0].metadata.len, 7);
    codec_add_free(&a);
    expect_add_error_lim("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"abcd\","
                         "\"metadata\":[1,2,3]}]}",
                         &l, "event 0 too large (max 10 bytes)");
    /* NULs count as bytes. */
    expect_add_error_lim("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\","
                         "\"data\":\"\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000"
                         "\\u0000\\u0000\"}]}",
                         &l, "event 0 too large (max 10 bytes)");
}

static void test_add_event_keys(void **state)
{
    (void)state;
    struct codec_add a;
    parse_add_ok("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\",\"key\":\"k-1\"},"
                 "{\"type\":\"t\",\"key\":\"k-2\"}]}",
                 NULL, &a);
    assert_string_equal(a.events[0].key, "k-1");
    assert_string_equal(a.events[1].key, "k-2");
    codec_add_free(&a);

    /* No keys at all, or null ones, are the same thing. */
    parse_add_ok("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\",\"key\":null},"
                 "{\"type\":\"t\"}]}",
                 NULL, &a);
    assert_null(a.events[0].key);
    assert_null(a.events[1].key);
    codec_add_free(&a);

    /* Exactly CODEC_KEY_MAX bytes, and the printable edges. */
    char json[512];
    char key[CODEC_KEY_MAX + 2];
    memset(key, 'k', sizeof key);
    key[0] = '!';
    key[1] = '~';
    key[CODEC_KEY_MAX] = '\0';
    snprintf(json, sizeof json, "{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\",\"key\":\"%s\"}]}",
             key);
    parse_add_ok(json, NULL, &a);
    assert_string_equal(a.events[0].key, key);
    codec_add_free(&a);

    key[CODEC_KEY_MAX] = 'k';
    key[CODEC_KEY_MAX + 1] = '\0';
    snprintf(json, sizeof json, "{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\",\"key\":\"%s\"}]}",
             key);
    expect_add_error(json, "invalid key in event 0: expected 1..64 bytes");
    expect_add_error("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\",\"key\":\"\"}]}",
                     "invalid key in event 0: expected 1..64 bytes");
    const char *want = "invalid key in event 1: expected printable ASCII without spaces";
    expect_add_error("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\",\"key\":\"a\"},"
                     "{\"type\":\"t\",\"key\":\"a b\"}]}",
                     want);
    expect_add_error("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\",\"key\":\"a\"},"
                     "{\"type\":\"t\",\"key\":\"a\\u0000\"}]}",
                     want);
    expect_add_error("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\",\"key\":\"a\"},"
                     "{\"type\":\"t\",\"key\":\"\\u00e9\"}]}",
                     want);
    expect_add_error("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\",\"key\":7}]}",
                     "invalid key in event 0");
    expect_add_error("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\",\"key\":\"a\"},"
                     "{\"type\":\"t\",\"key\":\"b\"},{\"type\":\"t\",\"key\":\"a\"}]}",
                     "duplicate key in events 0 and 2");
    expect_add_error("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\",\"key\":\"a\"},"
                     "{\"type\":\"t\"}]}",
                     "either every event has a key or none does");
}

/* EventflowDB reports JSON and type faults first, then the stream, then
 * the list, then each event's values. */
static void test_add_check_order(void **state)
{
    (void)state;
    struct codec_limits l = small_limits();
    expect_add_error("{\"stream\":\"\",\"version\":0,\"events\":5}",
                     "invalid 'events': expected an array");
    expect_add_error("{\"stream\":\"\",\"version\":-1,\"events\":[]}",
                     "invalid 'version': expected a non-negative integer or \"any\"");
    expect_add_error("{\"stream\":\"\",\"version\":0,\"events\":[{\"type\":\"\"},7]}",
                     "invalid event 1: expected a JSON object");
    expect_add_error("{\"stream\":\"\",\"version\":0,\"events\":[]}", "stream cannot be empty");
    expect_add_error_lim("{\"stream\":\"123456789\",\"version\":0,\"events\":[{},{},{},{}]}", &l,
                         "missing field 'type' in event 0");
    expect_add_error_lim("{\"stream\":\"123456789\",\"version\":0,\"events\":[{\"type\":\"\"},"
                         "{\"type\":\"\"},{\"type\":\"\"},{\"type\":\"\"}]}",
                         &l, "stream name too long (max 8 bytes)");
    expect_add_error_lim("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"\"},"
                         "{\"type\":\"\"},{\"type\":\"\"},{\"type\":\"\"}]}",
                         &l, "too many events (max 3)");
    expect_add_error("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"ok\"},"
                     "{\"type\":\"\",\"causation_id\":\"bad\"},{\"type\":\"t\",\"x\":1}]}",
                     "unknown field 'x' in event 2");
    expect_add_error("{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"ok\"},"
                     "{\"type\":\"\",\"causation_id\":\"bad\"}]}",
                     "event type cannot be empty");
}

/* ---- ADD: payloads -------------------------------------------------------- */

static void test_payload_string_bytes(void **state)
{
    (void)state;
    struct codec_add a;
    parse_data("\"a\\u0000b\\\"\\\\\\n\\u00e9\\ud83d\\ude00\"", &a);
    const struct codec_payload *p = &a.events[0].data;
    assert_int_equal(p->kind, EVENTFLOW__PAYLOAD_KIND__PAYLOAD_STRING);
    const char want[] = "a\0b\"\\\n\xc3\xa9\xf0\x9f\x98\x80";
    assert_int_equal(p->len, sizeof want - 1);
    assert_memory_equal(p->bytes, want, sizeof want - 1);
    codec_add_free(&a);

    parse_data("\"\"", &a);
    assert_int_equal(a.events[0].data.kind, EVENTFLOW__PAYLOAD_KIND__PAYLOAD_STRING);
    assert_int_equal(a.events[0].data.len, 0);
    assert_non_null(a.events[0].data.bytes);
    codec_add_free(&a);
}

static void test_payload_json_values(void **state)
{
    (void)state;
    expect_data_json("{ \"b\" : 1 , \"a\" : [ true , false , null ] }",
                     "{\"b\":1,\"a\":[true,false,null]}");
    expect_data_json("[]", "[]");
    expect_data_json("{}", "{}");
    expect_data_json("[[[[1]]]]", "[[[[1]]]]");
    expect_data_json("true", "true");
    expect_data_json("false", "false");
    expect_data_json("0", "0");
    expect_data_json("-42", "-42");
    expect_data_json("9223372036854775807", "9223372036854775807");
    expect_data_json("-9223372036854775808", "-9223372036854775808");
    /* Reals keep their shortest form and stay reals. */
    expect_data_json("0.1", "0.1");
    expect_data_json("1.0", "1.0");
    expect_data_json("-0.0", "-0.0");
    expect_data_json("1.5e300", "1.5e+300");
    expect_data_json("123456.789", "123456.789");
    expect_data_json("0.30000000000000004", "0.30000000000000004");
    expect_data_json("1e-7", "1e-07");
    expect_data_json("100000000000000000000.0", "1e+20");
    /* Strings inside JSON values: escapes are normalised, UTF-8 kept. */
    expect_data_json("{\"k\\u00e9\":\"\\u0041\\/\\u0000\\u001f\\t\\\"\"}",
                     "{\"k\xc3\xa9\":\"A/\\u0000\\u001f\\t\\\"\"}");
    expect_data_json("[\"\\ud83d\\ude00\"]", "[\"\xf0\x9f\x98\x80\"]");
}

/* ---- GET -------------------------------------------------------------- */

static void expect_get_error(const char *json, const struct codec_limits *lim, const char *want)
{
    struct codec_get g;
    char err[CODEC_ERR_LEN] = "";
    assert_int_equal(codec_parse_get(json, strlen(json), lim, &g, err), -1);
    assert_string_equal(err, want);
    assert_null(g.stream);
    codec_get_free(&g);
}

static void test_get(void **state)
{
    (void)state;
    struct codec_limits l = small_limits(); /* max_read 100 */
    struct codec_get g;
    char err[CODEC_ERR_LEN];
    const char *json = "{\"stream\":\"s1\"}";
    assert_int_equal(codec_parse_get(json, strlen(json), &l, &g, err), 0);
    assert_string_equal(g.stream, "s1");
    assert_int_equal(g.stream_len, 2);
    assert_int_equal(g.version, 0);
    assert_int_equal(g.limit, 100); /* 0 = a full page */
    codec_get_free(&g);
    assert_null(g.stream);
    codec_get_free(&g);

    json = "{\"limit\":7,\"version\":12,\"stream\":\"s1\"}";
    assert_int_equal(codec_parse_get(json, strlen(json), &l, &g, err), 0);
    assert_int_equal(g.version, 12);
    assert_int_equal(g.limit, 7);
    codec_get_free(&g);

    json = "{\"stream\":\"s1\",\"limit\":0,\"version\":0}";
    assert_int_equal(codec_parse_get(json, strlen(json), &l, &g, err), 0);
    assert_int_equal(g.limit, 100);
    codec_get_free(&g);

    /* A limit above max_read is clamped, not refused. */
    json = "{\"stream\":\"s1\",\"limit\":9223372036854775807}";
    assert_int_equal(codec_parse_get(json, strlen(json), &l, &g, err), 0);
    assert_int_equal(g.limit, 100);
    codec_get_free(&g);
    assert_int_equal(codec_parse_get(json, strlen(json), NULL, &g, err), 0);
    assert_int_equal(g.limit, 10000);
    codec_get_free(&g);

    expect_get_error("{}", &l, "missing field 'stream'");
    expect_get_error("{\"stream\":\"\"}", &l, "stream cannot be empty");
    expect_get_error("{\"stream\":[]}", &l, "invalid 'stream': expected a string");
    expect_get_error("{\"stream\":\"123456789\"}", &l, "stream name too long (max 8 bytes)");
    expect_get_error("{\"stream\":\"a\\nb\"}", &l, "stream name must be printable ASCII");
    expect_get_error("{\"stream\":\"00000000-0000-0000-0000-000000000000\"}", NULL,
                     "stream cannot be all zeroes");
    expect_get_error("{\"stream\":\"s\",\"offset\":1}", &l, "unknown field 'offset'");
    expect_get_error("{\"stream\":\"s\",\"limit\":-1}", &l,
                     "invalid 'limit': expected a non-negative integer");
    expect_get_error("{\"stream\":\"s\",\"limit\":1.5}", &l,
                     "invalid 'limit': expected a non-negative integer");
    expect_get_error("{\"stream\":\"s\",\"limit\":\"5\"}", &l,
                     "invalid 'limit': expected a non-negative integer");
    expect_get_error("{\"stream\":\"s\",\"limit\":null}", &l,
                     "invalid 'limit': expected a non-negative integer");
    expect_get_error("{\"stream\":\"s\",\"version\":\"any\"}", &l,
                     "invalid 'version': expected a non-negative integer");
    expect_get_error("{\"stream\":\"s\",\"version\":-3}", &l,
                     "invalid 'version': expected a non-negative integer");
    expect_get_error("[\"s\"]", &l, "invalid argument: expected a JSON object");
    /* Types first, then the stream's value. */
    expect_get_error("{\"stream\":\"\",\"limit\":false}", &l,
                     "invalid 'limit': expected a non-negative integer");

    assert_int_equal(codec_parse_get("{", 1, &l, &g, err), -1);
    assert_true(strncmp(err, "invalid JSON: ", 14) == 0);
}

/* ---- GETALL ------------------------------------------------------------- */

static void expect_getall_error(const char *json, const char *want)
{
    struct codec_getall g;
    char err[CODEC_ERR_LEN] = "";
    assert_int_equal(codec_parse_getall(json, strlen(json), NULL, &g, err), -1);
    assert_string_equal(err, want);
    assert_false(g.has_offset);
}

static void test_getall(void **state)
{
    (void)state;
    struct codec_limits l = small_limits();
    struct codec_getall g;
    char err[CODEC_ERR_LEN];
    const char *json = "{}";
    assert_int_equal(codec_parse_getall(json, strlen(json), NULL, &g, err), 0);
    assert_false(g.has_offset);
    assert_int_equal(g.limit, 10);

    json = "{\"offset\":\"\",\"limit\":0}";
    assert_int_equal(codec_parse_getall(json, strlen(json), NULL, &g, err), 0);
    assert_false(g.has_offset);
    assert_int_equal(g.limit, 10);

    json = "{\"offset\":null,\"limit\":3}";
    assert_int_equal(codec_parse_getall(json, strlen(json), NULL, &g, err), 0);
    assert_false(g.has_offset);
    assert_int_equal(g.limit, 3);

    json = "{\"offset\":\"" ULID_A "\",\"limit\":5000}";
    assert_int_equal(codec_parse_getall(json, strlen(json), &l, &g, err), 0);
    assert_true(g.has_offset);
    uint8_t id[ULID_BYTES];
    assert_int_equal(ulid_parse(ULID_A, ULID_STR_LEN, id), 0);
    assert_memory_equal(g.offset, id, ULID_BYTES);
    assert_int_equal(g.limit, 100);

    /* The default page is clamped too when max_read is tiny. */
    l.max_read = 4;
    json = "{}";
    assert_int_equal(codec_parse_getall(json, strlen(json), &l, &g, err), 0);
    assert_int_equal(g.limit, 4);

    expect_getall_error("{\"offset\":\"nope\"}", "invalid 'offset': expected a ULID string");
    expect_getall_error("{\"offset\":\"U1ARZ3NDEKTSV4RRFFQ69G5FAV\"}",
                        "invalid 'offset': expected a ULID string");
    expect_getall_error("{\"offset\":12}", "invalid 'offset': expected a ULID string");
    expect_getall_error("{\"limit\":-1}", "invalid 'limit': expected a non-negative integer");
    expect_getall_error("{\"limit\":2.0}", "invalid 'limit': expected a non-negative integer");
    expect_getall_error("{\"offset\":\"" ULID_A "\",\"skip\":1}", "unknown field 'skip'");
    expect_getall_error("\"" ULID_A "\"", "invalid argument: expected a JSON object");
}

/* ---- LISTSTREAMS ----------------------------------------------------- */

static void test_liststreams(void **state)
{
    (void)state;
    struct codec_limits l = small_limits();
    struct codec_liststreams r;
    char err[CODEC_ERR_LEN];
    assert_int_equal(codec_parse_liststreams(NULL, 0, NULL, &r, err), 0);
    assert_int_equal(r.skip, 0);
    assert_int_equal(r.limit, 25);
    assert_int_equal(codec_parse_liststreams("", 0, NULL, &r, err), 0);
    assert_int_equal(r.limit, 25);

    const char *json = "{}";
    assert_int_equal(codec_parse_liststreams(json, strlen(json), NULL, &r, err), 0);
    assert_int_equal(r.skip, 0);
    assert_int_equal(r.limit, 25);

    json = "{\"skip\":5,\"limit\":7}";
    assert_int_equal(codec_parse_liststreams(json, strlen(json), NULL, &r, err), 0);
    assert_int_equal(r.skip, 5);
    assert_int_equal(r.limit, 7);

    json = "{\"limit\":0}";
    assert_int_equal(codec_parse_liststreams(json, strlen(json), NULL, &r, err), 0);
    assert_int_equal(r.limit, 25);

    json = "{\"limit\":101}";
    assert_int_equal(codec_parse_liststreams(json, strlen(json), &l, &r, err), 0);
    assert_int_equal(r.limit, 100);

    json = "{\"skip\":-1}";
    assert_int_equal(codec_parse_liststreams(json, strlen(json), NULL, &r, err), -1);
    assert_string_equal(err, "invalid 'skip': expected a non-negative integer");
    json = "{\"skip\":1,\"limit\":\"x\"}";
    assert_int_equal(codec_parse_liststreams(json, strlen(json), NULL, &r, err), -1);
    assert_string_equal(err, "invalid 'limit': expected a non-negative integer");
    assert_int_equal(r.skip, 0);
    json = "{\"offset\":1}";
    assert_int_equal(codec_parse_liststreams(json, strlen(json), NULL, &r, err), -1);
    assert_string_equal(err, "unknown field 'offset'");
    json = "[]";
    assert_int_equal(codec_parse_liststreams(json, strlen(json), NULL, &r, err), -1);
    assert_string_equal(err, "invalid argument: expected a JSON object");
    json = "{";
    assert_int_equal(codec_parse_liststreams(json, strlen(json), NULL, &r, err), -1);
    assert_true(strncmp(err, "invalid JSON: ", 14) == 0);
}

/* ---- read options (GET, GETALL, LISTSTREAMS) ---------------------------- */

/* Parse `json` with each read command; all must agree on the options. */
static int read_opts_all(const char *json, struct codec_read_opts *opts, char err[CODEC_ERR_LEN])
{
    struct codec_get g;
    struct codec_getall ga;
    struct codec_liststreams ls;
    char get_json[256];
    /* GET needs a stream: splice it into the object. */
    assert_true(json[0] == '{');
    snprintf(get_json, sizeof get_json, "{\"stream\":\"s\"%s%s", json[1] == '}' ? "" : ",", json + 1);
    int rc_get = codec_parse_get(get_json, strlen(get_json), NULL, &g, err);
    struct codec_read_opts get_opts = g.opts;
    codec_get_free(&g);
    char err2[CODEC_ERR_LEN];
    int rc_all = codec_parse_getall(json, strlen(json), NULL, &ga, err2);
    assert_int_equal(rc_all, rc_get);
    if (rc_all != 0)
        assert_string_equal(err2, err);
    int rc_ls = codec_parse_liststreams(json, strlen(json), NULL, &ls, err2);
    assert_int_equal(rc_ls, rc_get);
    if (rc_ls != 0) {
        assert_string_equal(err2, err);
        return -1;
    }
    assert_memory_equal(&get_opts, &ga.opts, sizeof get_opts);
    assert_memory_equal(&get_opts, &ls.opts, sizeof get_opts);
    *opts = get_opts;
    return 0;
}

static void expect_read_opts_error(const char *json, const char *want)
{
    struct codec_read_opts o;
    char err[CODEC_ERR_LEN] = "";
    assert_int_equal(read_opts_all(json, &o, err), -1);
    assert_string_equal(err, want);
}

static void test_read_opts(void **state)
{
    (void)state;
    struct codec_read_opts o;
    char err[CODEC_ERR_LEN];
    memset(&o, 0xff, sizeof o);
    assert_int_equal(read_opts_all("{}", &o, err), 0);
    assert_false(o.has_min_id);
    assert_false(o.linearizable);
    assert_false(o.stale_ok);
    assert_int_equal(o.timeout_ms, 1000);

    struct codec_liststreams ls;
    assert_int_equal(codec_parse_liststreams(NULL, 0, NULL, &ls, err), 0);
    assert_int_equal(ls.opts.timeout_ms, 1000);
    assert_false(ls.opts.linearizable);

    assert_int_equal(read_opts_all("{\"min_id\":\"" ULID_A "\",\"consistency\":\"linearizable\","
                                   "\"stale_ok\":true,\"timeout_ms\":60000}",
                                   &o, err),
                     0);
    uint8_t id[ULID_BYTES];
    assert_int_equal(ulid_parse(ULID_A, ULID_STR_LEN, id), 0);
    assert_true(o.has_min_id);
    assert_memory_equal(o.min_id, id, ULID_BYTES);
    assert_true(o.linearizable);
    assert_true(o.stale_ok);
    assert_int_equal(o.timeout_ms, 60000);

    assert_int_equal(read_opts_all("{\"min_id\":null,\"consistency\":\"local\",\"stale_ok\":false,"
                                   "\"timeout_ms\":1}",
                                   &o, err),
                     0);
    assert_false(o.has_min_id);
    assert_false(o.linearizable);
    assert_false(o.stale_ok);
    assert_int_equal(o.timeout_ms, 1);

    assert_int_equal(read_opts_all("{\"timeout_ms\":250}", &o, err), 0);
    assert_int_equal(o.timeout_ms, 250);

    expect_read_opts_error("{\"min_id\":\"x\"}", "invalid 'min_id': expected a ULID string");
    expect_read_opts_error("{\"min_id\":5}", "invalid 'min_id': expected a ULID string");
    expect_read_opts_error("{\"consistency\":\"strong\"}",
                           "invalid 'consistency': expected \"local\" or \"linearizable\"");
    expect_read_opts_error("{\"consistency\":1}",
                           "invalid 'consistency': expected \"local\" or \"linearizable\"");
    expect_read_opts_error("{\"stale_ok\":1}", "invalid 'stale_ok': expected true or false");
    expect_read_opts_error("{\"stale_ok\":\"yes\"}", "invalid 'stale_ok': expected true or false");
    expect_read_opts_error("{\"timeout_ms\":0}", "invalid 'timeout_ms': expected 1..60000");
    expect_read_opts_error("{\"timeout_ms\":60001}", "invalid 'timeout_ms': expected 1..60000");
    expect_read_opts_error("{\"timeout_ms\":-5}",
                           "invalid 'timeout_ms': expected a non-negative integer");
}

/* ---- time --------------------------------------------------------------- */

static void expect_time(int64_t ns, const char *want)
{
    char out[40];
    memset(out, 'x', sizeof out);
    codec_format_time(ns, out);
    assert_string_equal(out, want);
}

static void test_format_time(void **state)
{
    (void)state;
    expect_time(0, "1970-01-01T00:00:00.000000000Z");
    expect_time(1, "1970-01-01T00:00:00.000000001Z");
    expect_time(-1, "1969-12-31T23:59:59.999999999Z");
    expect_time(-INT64_C(1000000000), "1969-12-31T23:59:59.000000000Z");
    expect_time(INT64_C(951782400) * 1000000000, "2000-02-29T00:00:00.000000000Z");
    expect_time(INT64_C(4107542400) * 1000000000, "2100-03-01T00:00:00.000000000Z");
    expect_time(INT64_C(1795435200) * 1000000000 + 123456789, "2026-11-23T12:00:00.123456789Z");
    expect_time(INT64_MAX, "2262-04-11T23:47:16.854775807Z");
    expect_time(INT64_MIN, "1677-09-21T00:12:43.145224192Z");
}

static void test_format_time_matches_gmtime(void **state)
{
    (void)state;
    /* Against the C library over the whole int64 range, in steps that are
     * not a multiple of a day so every time of day is visited. */
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t ns = (int64_t)x;
        int64_t secs = ns / 1000000000;
        int64_t frac = ns % 1000000000;
        if (frac < 0) {
            frac += 1000000000;
            secs--;
        }
        time_t t = (time_t)secs;
        struct tm tm;
        assert_non_null(gmtime_r(&t, &tm));
        char want[64];
        snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%09dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
        char got[40];
        codec_format_time(ns, got);
        assert_string_equal(got, want);
    }
}

/* ---- encoding --------------------------------------------------------- */

struct sample {
    uint8_t id[ULID_BYTES];
    uint8_t causation[ULID_BYTES];
    uint8_t correlation[ULID_BYTES];
    Eventflow__StoredEvent ev;
};

static void sample_init(struct sample *s)
{
    Eventflow__StoredEvent init = EVENTFLOW__STORED_EVENT__INIT;
    s->ev = init;
    assert_int_equal(ulid_parse(ULID_A, ULID_STR_LEN, s->id), 0);
    assert_int_equal(ulid_parse(ULID_B, ULID_STR_LEN, s->causation), 0);
    memset(s->correlation, 0, sizeof s->correlation);
    s->correlation[ULID_BYTES - 1] = 1;
    s->ev.id.data = s->id;
    s->ev.id.len = ULID_BYTES;
    s->ev.causation_id.data = s->causation;
    s->ev.causation_id.len = ULID_BYTES;
    s->ev.correlation_id.data = s->correlation;
    s->ev.correlation_id.len = ULID_BYTES;
    s->ev.stream = "orders-1";
    s->ev.version = 42;
    s->ev.type = "Created";
    s->ev.added_at_ns = INT64_C(1795435200) * 1000000000 + 123456789;
}

static void test_write_event_exact(void **state)
{
    (void)state;
    struct sample s;
    sample_init(&s);
    s.ev.data_kind = EVENTFLOW__PAYLOAD_KIND__PAYLOAD_STRING;
    s.ev.data.data = (uint8_t *)"aGk=";
    s.ev.data.len = 4;
    s.ev.metadata_kind = EVENTFLOW__PAYLOAD_KIND__PAYLOAD_JSON;
    s.ev.metadata.data = (uint8_t *)"{\"a\":[1]}";
    s.ev.metadata.len = 9;

    struct buf b;
    buf_init(&b);
    buf_append_str(&b, "prefix|");
    codec_write_event(&b, &s.ev);
    const char *want = "prefix|{\"id\":\"" ULID_A "\",\"stream\":\"orders-1\",\"version\":42,"
                       "\"type\":\"Created\",\"data\":\"aGk=\",\"metadata\":{\"a\":[1]},"
                       "\"causation_id\":\"" ULID_B "\","
                       "\"correlation_id\":\"00000000000000000000000001\","
                       "\"added_at\":\"2026-11-23T12:00:00.123456789Z\"}";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    buf_free(&b);
}

/* Consecutive events within one second, across a second and before 1970:
 * each added_at is its own, whatever the writer remembers between calls. */
static void test_write_event_times_in_sequence(void **state)
{
    (void)state;
    static const struct {
        int64_t ns;
        const char *text;
    } cases[] = {
        {INT64_C(1795435200) * 1000000000 + 123456789, "2026-11-23T12:00:00.123456789Z"},
        {INT64_C(1795435200) * 1000000000 + 1, "2026-11-23T12:00:00.000000001Z"},
        {INT64_C(1795435200) * 1000000000 + 999999999, "2026-11-23T12:00:00.999999999Z"},
        {INT64_C(1795435201) * 1000000000, "2026-11-23T12:00:01.000000000Z"},
        {INT64_C(1795435200) * 1000000000 + 5, "2026-11-23T12:00:00.000000005Z"},
        {-1, "1969-12-31T23:59:59.999999999Z"},
        {-2, "1969-12-31T23:59:59.999999998Z"},
        {-1000000000, "1969-12-31T23:59:59.000000000Z"},
        {0, "1970-01-01T00:00:00.000000000Z"},
    };
    struct sample s;
    sample_init(&s);
    struct buf b;
    buf_init(&b);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s.ev.added_at_ns = cases[i].ns;
        buf_reset(&b);
        codec_write_event(&b, &s.ev);
        buf_append_char(&b, '\0');
        char want[64];
        snprintf(want, sizeof want, "\"added_at\":\"%s\"}", cases[i].text);
        const char *at = strstr(b.data, "\"added_at\"");
        assert_non_null(at);
        assert_string_equal(at, want);
    }
    buf_free(&b);
}

static void test_write_event_defaults(void **state)
{
    (void)state;
    struct sample s;
    sample_init(&s);
    /* No payloads; no stored causation/correlation: both default to the id. */
    s.ev.causation_id.len = 0;
    s.ev.causation_id.data = NULL;
    s.ev.correlation_id.len = 0;
    s.ev.correlation_id.data = NULL;
    s.ev.version = UINT64_MAX;
    s.ev.added_at_ns = 0;

    struct buf b;
    buf_init(&b);
    codec_write_event(&b, &s.ev);
    const char *want = "{\"id\":\"" ULID_A "\",\"stream\":\"orders-1\",\"version\":18446744073709551615,"
                       "\"type\":\"Created\",\"data\":null,\"metadata\":null,"
                       "\"causation_id\":\"" ULID_A "\",\"correlation_id\":\"" ULID_A "\","
                       "\"added_at\":\"1970-01-01T00:00:00.000000000Z\"}";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);

    /* Correlation defaults to the causation id when only that is stored;
     * an empty JSON payload (never written by ADD) comes out as null. */
    buf_reset(&b);
    s.ev.causation_id.data = s.causation;
    s.ev.causation_id.len = ULID_BYTES;
    s.ev.data_kind = EVENTFLOW__PAYLOAD_KIND__PAYLOAD_JSON;
    s.ev.metadata_kind = EVENTFLOW__PAYLOAD_KIND__PAYLOAD_STRING;
    codec_write_event(&b, &s.ev);
    buf_append_char(&b, '\0');
    assert_non_null(strstr(b.data, "\"data\":null,\"metadata\":\"\","));
    assert_non_null(strstr(b.data, "\"causation_id\":\"" ULID_B "\",\"correlation_id\":\"" ULID_B "\""));

    /* A payload kind from a newer version: its bytes as a string, or null. */
    buf_reset(&b);
    s.ev.data_kind = (Eventflow__PayloadKind)7;
    s.ev.data.data = (uint8_t *)"raw";
    s.ev.data.len = 3;
    s.ev.metadata_kind = (Eventflow__PayloadKind)7;
    codec_write_event(&b, &s.ev);
    buf_append_char(&b, '\0');
    assert_non_null(strstr(b.data, "\"data\":\"raw\",\"metadata\":null,"));
    buf_free(&b);
}

static void test_write_string_escapes(void **state)
{
    (void)state;
    struct sample s;
    sample_init(&s);
    s.ev.stream = "a\"b\\c/";
    s.ev.type = "\x01\b\f\n\r\t\x1f\x7f";
    static const uint8_t data[] = {'x', 0, 'y', 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80};
    s.ev.data_kind = EVENTFLOW__PAYLOAD_KIND__PAYLOAD_STRING;
    s.ev.data.data = (uint8_t *)data;
    s.ev.data.len = sizeof data;
    /* Not UTF-8: a lone continuation byte, a truncated sequence, an
     * overlong '/', an encoded surrogate and a byte that never occurs. */
    static const uint8_t bad[] = {0x80, 'a', 0xe2, 0x82, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xff};
    s.ev.metadata_kind = EVENTFLOW__PAYLOAD_KIND__PAYLOAD_STRING;
    s.ev.metadata.data = (uint8_t *)bad;
    s.ev.metadata.len = sizeof bad;

    struct buf b;
    buf_init(&b);
    codec_write_event(&b, &s.ev);
    buf_append_char(&b, '\0');
    assert_non_null(strstr(b.data, "\"stream\":\"a\\\"b\\\\c/\","));
    assert_non_null(strstr(b.data, "\"type\":\"\\u0001\\b\\f\\n\\r\\t\\u001f\x7f\","));
    assert_non_null(strstr(b.data, "\"data\":\"x\\u0000y\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\","));
    assert_non_null(strstr(b.data, "\"metadata\":\"\\u0080a\\u00e2\\u0082\\u00c0\\u00af\\u00ed"
                                   "\\u00a0\\u0080\\u00ff\","));

    /* And all of it is JSON that reads back as the bytes sent, where they
     * were UTF-8. */
    json_error_t je;
    json_t *o = json_loadb(b.data, b.len - 1, JSON_ALLOW_NUL, &je);
    if (o == NULL)
        fail_msg("not JSON: %s", je.text);
    json_t *d = json_object_get(o, "data");
    assert_int_equal(json_string_length(d), sizeof data);
    assert_memory_equal(json_string_value(d), data, sizeof data);
    assert_string_equal(json_string_value(json_object_get(o, "type")), s.ev.type);
    assert_string_equal(json_string_value(json_object_get(o, "stream")), s.ev.stream);
    json_decref(o);
    buf_free(&b);
}

/* The escaper of the tests: one byte at a time, the obvious way. */
static void reference_escape(struct buf *b, const uint8_t *s, size_t len)
{
    buf_append_char(b, '"');
    for (size_t i = 0; i < len; i++) {
        uint8_t c = s[i];
        if (c == '"')
            buf_append_str(b, "\\\"");
        else if (c == '\\')
            buf_append_str(b, "\\\\");
        else if (c == '\n')
            buf_append_str(b, "\\n");
        else if (c == '\r')
            buf_append_str(b, "\\r");
        else if (c == '\t')
            buf_append_str(b, "\\t");
        else if (c == '\b')
            buf_append_str(b, "\\b");
        else if (c == '\f')
            buf_append_str(b, "\\f");
        else if (c < 0x20 || c >= 0x80) /* lone high bytes are not UTF-8 */
            buf_printf(b, "\\u%04x", c);
        else
            buf_append_char(b, (char)c);
    }
    buf_append_char(b, '"');
}

/* Every byte value at every position of a string long enough for the
 * word-at-a-time scan, against the reference. */
static void test_write_string_every_byte(void **state)
{
    (void)state;
    Eventflow__StreamInfo info = EVENTFLOW__STREAM_INFO__INIT;
    struct buf got;
    struct buf want;
    buf_init(&got);
    buf_init(&want);
    for (unsigned c = 0; c < 256; c++) {
        for (size_t len = 1; len <= 19; len++) {
            for (size_t pos = 0; pos < len; pos++) {
                uint8_t s[19];
                memset(s, 'a', sizeof s);
                s[pos] = (uint8_t)c;
                buf_reset(&got);
                buf_reset(&want);
                codec_write_stream(&got, (const char *)s, len, &info);
                buf_append_str(&want, "{\"id\":");
                reference_escape(&want, s, len);
                assert_true(got.len > want.len);
                if (memcmp(got.data, want.data, want.len) != 0)
                    fail_msg("byte 0x%02x at %zu of %zu: %.*s", c, pos, len, (int)got.len,
                             got.data);
            }
        }
    }
    buf_free(&got);
    buf_free(&want);
}

/* Multi-byte UTF-8 across the 8-byte words the scanner reads. */
static void test_write_string_utf8_boundaries(void **state)
{
    (void)state;
    static const char *const chars[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                        "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf"};
    Eventflow__StreamInfo info = EVENTFLOW__STREAM_INFO__INIT;
    struct buf got;
    buf_init(&got);
    for (size_t k = 0; k < sizeof chars / sizeof chars[0]; k++) {
        for (size_t pos = 0; pos < 12; pos++) {
            char s[32];
            memset(s, 'x', sizeof s);
            size_t n = strlen(chars[k]);
            memcpy(s + pos, chars[k], n);
            size_t len = pos + n + 3;
            buf_reset(&got);
            codec_write_stream(&got, s, len, &info);
            /* Passed through untouched: the output holds the raw bytes. */
            assert_true(got.len > len + 8);
            assert_memory_equal(got.data + 7, s, len);
            assert_int_equal(got.data[7 + len], '"');
        }
    }
    buf_free(&got);
}

static void test_write_stream(void **state)
{
    (void)state;
    Eventflow__StreamInfo info = EVENTFLOW__STREAM_INFO__INIT;
    info.length = 17;
    info.created_at_ns = 1;
    struct buf b;
    buf_init(&b);
    codec_write_stream(&b, "orders-1", 8, &info);
    const char *want = "{\"id\":\"orders-1\",\"events\":17,\"added_at\":\"1970-01-01T00:00:00.000000001Z\"}";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);

    /* The name is escaped, and only name_len bytes of it are used. */
    buf_reset(&b);
    info.length = 0;
    codec_write_stream(&b, "q\"\\zzz", 3, &info);
    want = "{\"id\":\"q\\\"\\\\\",\"events\":0,\"added_at\":\"1970-01-01T00:00:00.000000001Z\"}";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);

    /* Each time is its own: nothing of the last one is reused. */
    static const struct {
        int64_t ns;
        const char *text;
    } times[] = {{1000, "00:00:00.000001000Z"}, {2000, "00:00:00.000002000Z"},
                 {1000, "00:00:00.000001000Z"}};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        buf_reset(&b);
        info.created_at_ns = times[i].ns;
        codec_write_stream(&b, "s", 1, &info);
        buf_append_char(&b, '\0');
        assert_non_null(strstr(b.data, times[i].text));
    }
    buf_free(&b);
}

/* ADD in, stored event out: what a client sent is what it reads back. */
static void test_round_trip(void **state)
{
    (void)state;
    const char *payloads[] = {
        "\"a\\u0000b\"",
        "\"\\u0001\\u001f \\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9 \\u2028 \\ud83d\\ude00\"",
        "\"\"",
        "{\"nested\":{\"list\":[1,-2,3.25,\"s\\u0000\",null,true,false,{}],\"k\":\"v\"}}",
        "[0.1,0.2,1e-300,-1.7976931348623157e308,5e-324]",
        "12",
        "-0.0",
        "true",
        "null",
    };
    for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
        char add[2048];
        snprintf(add, sizeof add,
                 "{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\\u00e9\",\"data\":%s,"
                 "\"metadata\":%s}]}",
                 payloads[i], payloads[i]);
        struct codec_add a;
        parse_add_ok(add, NULL, &a);

        struct sample s;
        sample_init(&s);
        s.ev.type = a.events[0].type;
        s.ev.data_kind = a.events[0].data.kind;
        s.ev.data.data = (uint8_t *)a.events[0].data.bytes;
        s.ev.data.len = a.events[0].data.len;
        s.ev.metadata_kind = a.events[0].metadata.kind;
        s.ev.metadata.data = (uint8_t *)a.events[0].metadata.bytes;
        s.ev.metadata.len = a.events[0].metadata.len;
        struct buf b;
        buf_init(&b);
        codec_write_event(&b, &s.ev);

        json_error_t je;
        json_t *out = json_loadb(b.data, b.len, JSON_ALLOW_NUL, &je);
        if (out == NULL)
            fail_msg("payload %zu: output is not JSON: %s", i, je.text);
        json_t *sent = json_loads(payloads[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        assert_non_null(sent);
        assert_true(json_equal(json_object_get(out, "data"), sent));
        assert_true(json_equal(json_object_get(out, "metadata"), sent));
        assert_string_equal(json_string_value(json_object_get(out, "type")), "t\xc3\xa9");
        assert_int_equal(json_object_size(out), 9);
        json_decref(sent);
        json_decref(out);
        buf_free(&b);
        codec_add_free(&a);
    }
}

static void test_write_event_key_order(void **state)
{
    (void)state;
    struct sample s;
    sample_init(&s);
    struct buf b;
    buf_init(&b);
    codec_write_event(&b, &s.ev);
    json_error_t je;
    json_t *o = json_loadb(b.data, b.len, 0, &je);
    assert_non_null(o);
    static const char *const keys[] = {"id",           "stream",         "version",
                                       "type",         "data",           "metadata",
                                       "causation_id", "correlation_id", "added_at"};
    size_t i = 0;
    for (void *it = json_object_iter(o); it != NULL; it = json_object_iter_next(o, it), i++) {
        assert_true(i < 9);
        assert_string_equal(json_object_iter_key(it), keys[i]);
    }
    assert_int_equal(i, 9);
    json_decref(o);
    buf_free(&b);
}

/* SUBSCRIBE's specs: the plain forms, each JSON start and filter, and a
 * refusal with a message for every malformed one. */
static void test_subscription(void **state)
{
    (void)state;
    struct codec_subscription s;
    char err[CODEC_ERR_LEN];
    assert_int_equal(codec_parse_subscription("$all", 4, NULL, &s, err), 0);
    assert_true(s.all);
    assert_int_equal(s.from, CODEC_SUB_FROM_END);
    codec_subscription_free(&s);

    assert_int_equal(codec_parse_subscription("order-7", 7, NULL, &s, err), 0);
    assert_false(s.all);
    assert_string_equal(s.stream, "order-7");
    assert_int_equal(s.from, CODEC_SUB_FROM_END);
    codec_subscription_free(&s);

    const char *json = "{\"stream\":\"order-7\",\"version\":5,\"types\":[\"A\",\"B\"],\"markers\":true}";
    assert_int_equal(codec_parse_subscription(json, strlen(json), NULL, &s, err), 0);
    assert_string_equal(s.stream, "order-7");
    assert_int_equal(s.from, CODEC_SUB_FROM_VERSION);
    assert_int_equal(s.version, 5);
    assert_int_equal(s.n_types, 2);
    assert_string_equal(s.types[1], "B");
    assert_true(s.markers);
    codec_subscription_free(&s);

    json = "{\"stream\":\"order-7\"}";
    assert_int_equal(codec_parse_subscription(json, strlen(json), NULL, &s, err), 0);
    assert_int_equal(s.from, CODEC_SUB_FROM_END);
    codec_subscription_free(&s);

    json = "{\"all\":true,\"offset\":\"\",\"stream_prefix\":\"acc-\"}";
    assert_int_equal(codec_parse_subscription(json, strlen(json), NULL, &s, err), 0);
    assert_true(s.all);
    assert_int_equal(s.from, CODEC_SUB_FROM_START);
    assert_string_equal(s.stream_prefix, "acc-");
    codec_subscription_free(&s);

    json = "{\"all\":true,\"offset\":\"" ULID_A "\"}";
    assert_int_equal(codec_parse_subscription(json, strlen(json), NULL, &s, err), 0);
    assert_int_equal(s.from, CODEC_SUB_AFTER_ID);
    uint8_t id[ULID_BYTES];
    assert_int_equal(ulid_parse(ULID_A, ULID_STR_LEN, id), 0);
    assert_memory_equal(s.after, id, ULID_BYTES);
    codec_subscription_free(&s);

    static const struct {
        const char *spec;
        const char *err;
    } bad[] = {
        {"", "stream cannot be empty"},
        {"a\x01", "stream name must be printable ASCII"},
        {"{", "invalid JSON: "},
        {"{\"stream\":\"s\",\"version\":-1}", "invalid 'version': expected a non-negative integer"},
        {"{\"stream\":\"s\",\"version\":\"any\"}", "invalid 'version': expected a non-negative integer"},
        {"{\"stream\":\"s\",\"all\":true}", "give either 'stream' or 'all', not both"},
        {"{\"stream\":\"s\",\"offset\":\"\"}", "'offset' and 'stream_prefix' are for the global log"},
        {"{\"all\":false}", "invalid 'all': expected true (or give 'stream')"},
        {"{\"all\":true,\"version\":1}", "'version' is for a stream; the global log starts at an 'offset'"},
        {"{\"all\":true,\"offset\":\"nope\"}", "invalid 'offset': expected an event id"},
        {"{\"all\":true,\"offset\":7}", "invalid 'offset': expected an event id"},
        {"{\"all\":true,\"stream_prefix\":\"\"}", "invalid 'stream_prefix': expected a non-empty string"},
        {"{\"all\":true,\"types\":[]}", "invalid 'types': expected an array of 1 to 32 event types"},
        {"{\"all\":true,\"types\":[\"\"]}", "invalid 'types': type 0 must be a non-empty string"},
        {"{\"all\":true,\"markers\":1}", "invalid 'markers': expected true or false"},
        {"{\"all\":true,\"from\":1}", "unknown field 'from'"},
        {"{}", "missing field 'stream' (or 'all': true)"},
        {"{\"stream\":1}", "invalid 'stream': expected a string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&s, 0xa5, sizeof s);
        if (codec_parse_subscription(bad[i].spec, strlen(bad[i].spec), NULL, &s, err) == 0)
            fail_msg("'%s' was accepted", bad[i].spec);
        if (strncmp(err, bad[i].err, strlen(bad[i].err)) != 0)
            fail_msg("'%s': \"%s\", expected \"%s...\"", bad[i].spec, err, bad[i].err);
        assert_null(s.stream);
        assert_null(s.types);
        codec_subscription_free(&s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits_default),
        cmocka_unit_test(test_add_minimal),
        cmocka_unit_test(test_add_full_event),
        cmocka_unit_test(test_add_version_values),
        cmocka_unit_test(test_add_not_an_object),
        cmocka_unit_test(test_add_malformed_json),
        cmocka_unit_test(test_add_unknown_fields),
        cmocka_unit_test(test_add_stream),
        cmocka_unit_test(test_add_events_list),
        cmocka_unit_test(test_add_event_type),
        cmocka_unit_test(test_add_event_ids),
        cmocka_unit_test(test_add_event_size),
        cmocka_unit_test(test_add_event_keys),
        cmocka_unit_test(test_add_check_order),
        cmocka_unit_test(test_payload_string_bytes),
        cmocka_unit_test(test_payload_json_values),
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_getall),
        cmocka_unit_test(test_liststreams),
        cmocka_unit_test(test_read_opts),
        cmocka_unit_test(test_format_time),
        cmocka_unit_test(test_format_time_matches_gmtime),
        cmocka_unit_test(test_write_event_exact),
        cmocka_unit_test(test_write_event_defaults),
        cmocka_unit_test(test_write_event_times_in_sequence),
        cmocka_unit_test(test_write_string_escapes),
        cmocka_unit_test(test_write_string_every_byte),
        cmocka_unit_test(test_write_string_utf8_boundaries),
        cmocka_unit_test(test_write_stream),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_write_event_key_order),
        cmocka_unit_test(test_subscription),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
