/* test_bench_groups.c - the socket-free parts of `eventflow-bench groups`
 * (bench/groups.h): the READ and ACK requests a consumer sends, and the
 * scanner of the replies it gets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench/groups.h"

#define ID1 "01M98BGT5S4214GV4XJC86WKX8"
#define ID2 "01M98BGT5S4214GV4XJC86WKX9"

/* Events as a READ returns them: GET's JSON plus "deliveries". */
static const char ev1[] = "{\"id\":\"" ID1 "\",\"stream\":\"bench:0\",\"version\":0,\"type\":\"BenchEvent\","
                          "\"data\":\"x\",\"metadata\":null,\"added_at\":\"2026-12-07T13:36:32.441272760Z\","
                          "\"deliveries\":1}";
static const char ev2[] = "{\"id\":\"" ID2 "\",\"stream\":\"bench:0\",\"version\":1,\"type\":\"BenchEvent\","
                          "\"data\":\"y\",\"metadata\":null,\"added_at\":\"2026-12-07T13:36:32.441272760Z\","
                          "\"deliveries\":12}";

static size_t read_reply(char *out, size_t cap, const char *a, const char *b)
{
    int n = snprintf(out, cap, "*2\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n", strlen(a), a, strlen(b), b);
    return (size_t)n;
}

static void test_read_request(void **state)
{
    (void)state;
    char out[512];
    static const char want[] = "*3\r\n$5\r\nGROUP\r\n$4\r\nREAD\r\n$56\r\n"
                               "{\"group\":\"g1\",\"consumer\":\"c7\",\"count\":10,\"block_ms\":100}\r\n";
    size_t n = gr_read_request(out, sizeof out, "g1", "c7", 10, 100);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
    /* Too small a buffer: nothing half-written is claimed. */
    assert_int_equal(gr_read_request(out, 40, "g1", "c7", 10, 100), 0);
}

/* The ACK of two ids is exactly the RESP command, its length prefix right,
 * and within the size promised. */
static void test_ack_request(void **state)
{
    (void)state;
    char ids[2][GR_ID_LEN];
    memcpy(ids[0], ID1, GR_ID_LEN);
    memcpy(ids[1], ID2, GR_ID_LEN);
    static const char json[] = "{\"group\":\"g1\",\"ids\":[\"" ID1 "\",\"" ID2 "\"]}";
    char want[256];
    snprintf(want, sizeof want, "*3\r\n$5\r\nGROUP\r\n$3\r\nACK\r\n$%zu\r\n%s\r\n", strlen(json), json);
    size_t cap = gr_ack_request_size("g1", 2);
    char *out = malloc(cap);
    size_t n = gr_ack_request(out, "g1", (const char(*)[GR_ID_LEN])ids, 2);
    assert_true(n <= cap);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
    free(out);
}

/* The promised size holds for every batch up to the largest, with the
 * longest group name. */
static void test_ack_request_size(void **state)
{
    (void)state;
    char group[GR_NAME_MAX + 1];
    memset(group, 'g', GR_NAME_MAX);
    group[GR_NAME_MAX] = '\0';
    char (*ids)[GR_ID_LEN] = calloc(GR_COUNT_MAX, GR_ID_LEN);
    for (unsigned i = 0; i < GR_COUNT_MAX; i++)
        memcpy(ids[i], ID1, GR_ID_LEN);
    unsigned sizes[] = {1, 9, 10, 11, 99, 100, GR_COUNT_MAX};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t cap = gr_ack_request_size(group, sizes[k]);
        char *out = malloc(cap + 1);
        out[cap] = 'Z';
        size_t n = gr_ack_request(out, group, (const char(*)[GR_ID_LEN])ids, sizes[k]);
        assert_true(n <= cap);
        assert_int_equal(out[cap], 'Z');
        /* The length prefix is the JSON's length. */
        const char *dollar = strchr(out + 22, '$');
        size_t jl = strtoul(dollar + 1, NULL, 10);
        const char *js = strstr(dollar, "\r\n") + 2;
        assert_int_equal((size_t)(out + n - 2 - js), jl);
        assert_memory_equal(out + n - 4, "]}\r\n", 4);
        free(out);
    }
    free(ids);
}

/* A READ reply is whole only with its last byte: every shorter prefix asks
 * for more; the whole one gives both ids and the one redelivery. */
static void test_scan_events_every_split(void **state)
{
    (void)state;
    char buf[1024], ids[10][GR_ID_LEN];
    struct gr_reply r;
    size_t n = read_reply(buf, sizeof buf, ev1, ev2);
    for (size_t k = 0; k < n; k++) {
        char *part = malloc(k ? k : 1);
        memcpy(part, buf, k);
        assert_int_equal(gr_reply_scan(part, k, ids, 10, &r), 0);
        free(part);
    }
    memset(ids, 0, sizeof ids);
    assert_int_equal(gr_reply_scan(buf, n, ids, 10, &r), (long)n);
    assert_int_equal(r.kind, GR_R_EVENTS);
    assert_int_equal(r.events, 2);
    assert_int_equal(r.redelivered, 1);
    assert_memory_equal(ids[0], ID1, GR_ID_LEN);
    assert_memory_equal(ids[1], ID2, GR_ID_LEN);
}

/* The ids a READ returned make the ACK a consumer sends next. */
static void test_read_then_ack(void **state)
{
    (void)state;
    char buf[1024], ids[10][GR_ID_LEN];
    struct gr_reply r;
    size_t n = read_reply(buf, sizeof buf, ev2, ev1);
    assert_int_equal(gr_reply_scan(buf, n, ids, 10, &r), (long)n);
    char *ack = malloc(gr_ack_request_size("g", r.events));
    size_t al = gr_ack_request(ack, "g", (const char(*)[GR_ID_LEN])ids, r.events);
    ack[al - 2] = '\0';
    assert_non_null(strstr(ack, "{\"group\":\"g\",\"ids\":[\"" ID2 "\",\"" ID1 "\"]}"));
    free(ack);
}

/* Empty arrays, counts and errors; a reply followed by the next one is
 * measured alone. */
static void test_scan_other_replies(void **state)
{
    (void)state;
    char ids[10][GR_ID_LEN];
    struct gr_reply r;
    assert_int_equal(gr_reply_scan("*0\r\n", 4, ids, 10, &r), 4);
    assert_int_equal(r.kind, GR_R_EVENTS);
    assert_int_equal(r.events, 0);
    assert_int_equal(gr_reply_scan(":7\r\n*0\r\n", 8, ids, 10, &r), 4);
    assert_int_equal(r.kind, GR_R_INTEGER);
    assert_int_equal(r.integer, 7);
    static const char moved[] = "-MOVED 0 127.0.0.1:7001\r\n";
    assert_int_equal(gr_reply_scan(moved, strlen(moved), ids, 10, &r), (long)strlen(moved));
    assert_int_equal(r.kind, GR_R_ERROR);
    assert_int_equal(r.text_len, strlen("MOVED 0 127.0.0.1:7001"));
    assert_memory_equal(r.text, "MOVED 0 127.0.0.1:7001", r.text_len);
    assert_int_equal(gr_reply_scan("-ERR", 4, ids, 10, &r), 0);
    assert_int_equal(gr_reply_scan(":12", 3, ids, 10, &r), 0);
}

/* What no READ or ACK answers is refused, not misread. */
static void test_scan_refuses(void **state)
{
    (void)state;
    char buf[1024], ids[10][GR_ID_LEN];
    struct gr_reply r;
    size_t n;

    /* More events than asked for. */
    n = read_reply(buf, sizeof buf, ev1, ev2);
    assert_int_equal(gr_reply_scan(buf, n, ids, 1, &r), -1);
    /* An event without its id first, or without "deliveries" last. */
    n = read_reply(buf, sizeof buf, ev1, "{\"stream\":\"s\",\"id\":\"" ID2 "\",\"deliveries\":1}");
    assert_int_equal(gr_reply_scan(buf, n, ids, 10, &r), -1);
    n = read_reply(buf, sizeof buf, ev1, "{\"id\":\"" ID2 "\",\"stream\":\"s\"}");
    assert_int_equal(gr_reply_scan(buf, n, ids, 10, &r), -1);
    n = read_reply(buf, sizeof buf, ev1, "{\"id\":\"" ID2 "\",\"deliveries\":}");
    assert_int_equal(gr_reply_scan(buf, n, ids, 10, &r), -1);
    /* An id of the wrong length. */
    n = read_reply(buf, sizeof buf, ev1, "{\"id\":\"01M98\",\"stream\":\"s\",\"version\":1,\"deliveries\":1}");
    assert_int_equal(gr_reply_scan(buf, n, ids, 10, &r), -1);
    /* A bulk string whose length is wrong, and other reply types. */
    n = (size_t)snprintf(buf, sizeof buf, "*1\r\n$%zu\r\n%s\r\n", strlen(ev1) - 1, ev1);
    assert_int_equal(gr_reply_scan(buf, n, ids, 10, &r), -1);
    assert_int_equal(gr_reply_scan("+OK\r\n", 5, ids, 10, &r), -1);
    assert_int_equal(gr_reply_scan("*1\r\n:1\r\n", 8, ids, 10, &r), -1);
    assert_int_equal(gr_reply_scan("*1\r\n$-1\r\n", 9, ids, 10, &r), -1);
}

static void test_name_ok(void **state)
{
    (void)state;
    char longest[GR_NAME_MAX + 2];
    memset(longest, 'a', sizeof longest);
    longest[GR_NAME_MAX] = '\0';
    assert_true(gr_name_ok("g1"));
    assert_true(gr_name_ok("orders.v2:billing-1"));
    assert_true(gr_name_ok(longest));
    longest[GR_NAME_MAX] = 'a';
    longest[GR_NAME_MAX + 1] = '\0';
    assert_false(gr_name_ok(longest));
    assert_false(gr_name_ok(""));
    assert_false(gr_name_ok("a\"b"));
    assert_false(gr_name_ok("a\\b"));
    assert_false(gr_name_ok("a\nb"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_request),
        cmocka_unit_test(test_ack_request),
        cmocka_unit_test(test_ack_request_size),
        cmocka_unit_test(test_scan_events_every_split),
        cmocka_unit_test(test_read_then_ack),
        cmocka_unit_test(test_scan_other_replies),
        cmocka_unit_test(test_scan_refuses),
        cmocka_unit_test(test_name_ok),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
