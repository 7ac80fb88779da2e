/* test_bench_delivery.c - the socket-free parts of `eventflow-bench
 * delivery` (bench/delivery.h): the ADD it sends, the scanner of the
 * messages a subscriber receives (RESP, or an HTTP event stream), the
 * stamp's parser, and quantiles over latencies that may be negative. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench/delivery.h"

/* The event inside the ADD is scripts/bench-profiles/event-store-200.sh's:
 * exactly 200 bytes, and its stamp reads back. */
static void test_add_template(void **state)
{
    (void)state;
    struct dl_add_template t;
    dl_add_template_init(&t, "delivery");
    char *req = malloc(t.len + 1);
    dl_add_stamp(&t, req, 4242, 1234567890123456789ull);
    req[t.len] = '\0';
    const char *ev = strstr(req, "[{");
    const char *end = strstr(req, "}]");
    assert_non_null(ev);
    assert_non_null(end);
    assert_int_equal(end + 1 - (ev + 1), 200);
    assert_memory_equal(ev + 1, "{\"type\":\"BenchEvent\",\"data\":\"0000004242:1234567890123456789:esz", 60);
    /* The RESP framing is right: *2, ADD, and the argument's length. */
    char head[64];
    size_t json_len = strlen(strstr(req, "{\"stream\"")) - 2;
    snprintf(head, sizeof head, "*2\r\n$3\r\nADD\r\n$%zu\r\n", json_len);
    assert_memory_equal(req, head, strlen(head));
    assert_memory_equal(req + t.len - 2, "\r\n", 2);
    uint64_t seq, ts;
    assert_int_equal(dl_event_stamp(req, t.len, &seq, &ts), 0);
    assert_int_equal(seq, 4242);
    assert_true(ts == 1234567890123456789ull);
    free(req);
    dl_add_template_free(&t);
}

static const char event_json[] =
    "{\"id\":\"01M98A9EC0EEQEXXGGVH5BGBZT\",\"stream\":\"delivery\",\"version\":0,\"type\":\"BenchEvent\","
    "\"data\":\"0000000007:0000000000000001234:abc\",\"metadata\":null}";

static size_t message_frame(char *out, size_t cap, const char *spec, const char *json, char head)
{
    int n = snprintf(out, cap, "%c3\r\n$7\r\nmessage\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n", head, strlen(spec), spec,
                     strlen(json), json);
    return (size_t)n;
}

/* A message is whole only with its last byte: every shorter prefix asks
 * for more, and none is read past. */
static void test_frame_every_split(void **state)
{
    (void)state;
    char frame[1024];
    size_t n = message_frame(frame, sizeof frame, "$all", event_json, '*');
    for (size_t cut = 0; cut < n; cut++) {
        char *part = malloc(cut ? cut : 1); /* exactly cut bytes: ASan sees an overread */
        memcpy(part, frame, cut);
        struct dl_frame f;
        assert_int_equal(dl_frame_scan(part, cut, &f), 0);
        free(part);
    }
    struct dl_frame f;
    assert_int_equal(dl_frame_scan(frame, n, &f), (long)n);
    assert_int_equal(f.kind, DL_F_MESSAGE);
    assert_int_equal(f.payload_len, strlen(event_json));
    assert_memory_equal(f.payload, event_json, f.payload_len);
    uint64_t seq, ts;
    assert_int_equal(dl_event_stamp(f.payload, f.payload_len, &seq, &ts), 0);
    assert_int_equal(seq, 7);
    assert_int_equal(ts, 1234);
}

static void test_frame_kinds(void **state)
{
    (void)state;
    char buf[2048];
    struct dl_frame f;
    /* Two frames back to back: a confirmation, then a RESP3 push message. */
    const char sub[] = "*3\r\n$9\r\nsubscribe\r\n$24\r\n{\"all\":true,\"offset\":\"\"}\r\n:1\r\n";
    size_t a = strlen(sub);
    memcpy(buf, sub, a);
    size_t b = message_frame(buf + a, sizeof buf - a, "{\"all\":true,\"offset\":\"\"}", event_json, '>');
    assert_int_equal(dl_frame_scan(buf, a + b, &f), (long)a);
    assert_int_equal(f.kind, DL_F_SUBSCRIBE);
    assert_int_equal(dl_frame_scan(buf + a, b, &f), (long)b);
    assert_int_equal(f.kind, DL_F_MESSAGE);

    const char err[] = "-SUBSCRIBED only (UN)SUBSCRIBE, PING, QUIT\r\n";
    assert_int_equal(dl_frame_scan(err, strlen(err), &f), (long)strlen(err));
    assert_int_equal(f.kind, DL_F_ERROR);
    assert_int_equal(f.payload_len, strlen(err) - 3);

    const char unsub[] = "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n";
    assert_int_equal(dl_frame_scan(unsub, strlen(unsub), &f), (long)strlen(unsub));
    assert_int_equal(f.kind, DL_F_OTHER);
    const char pong[] = "*2\r\n$4\r\npong\r\n$0\r\n\r\n";
    assert_int_equal(dl_frame_scan(pong, strlen(pong), &f), (long)strlen(pong));
    assert_int_equal(f.kind, DL_F_OTHER);

    /* Not a subscriber's frame, or not RESP. */
    assert_int_equal(dl_frame_scan("+OK\r\n", 5, &f), -1);
    assert_int_equal(dl_frame_scan("*4\r\n", 4, &f), -1);
    assert_int_equal(dl_frame_scan("*3\r\n$x\r\n", 8, &f), -1);
    assert_int_equal(dl_frame_scan("*1\r\n$3\r\nabcde\r\n", 15, &f), -1);
}

/* The head of h2o's answer to GET /all/subscribe, and others. */
static void test_http_head(void **state)
{
    (void)state;
    const char head[] = "HTTP/1.1 200 OK\r\nDate: Mon, 07 Dec 2026 15:00:00 GMT\r\nContent-Type: text/event-stream\r\n"
                        "Transfer-Encoding: chunked\r\ncache-control: no-cache\r\n\r\n5\r\n";
    size_t hl = strlen(head) - 3;
    int status = 0;
    bool chunked = false;
    for (size_t cut = 0; cut < hl; cut++)
        assert_int_equal(dl_http_head_scan(head, cut, &status, &chunked), 0);
    assert_int_equal(dl_http_head_scan(head, strlen(head), &status, &chunked), (long)hl);
    assert_int_equal(status, 200);
    assert_true(chunked);

    const char bad[] = "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
    assert_int_equal(dl_http_head_scan(bad, strlen(bad), &status, &chunked), (long)strlen(bad) - 2);
    assert_int_equal(status, 400);
    assert_false(chunked);
    assert_int_equal(dl_http_head_scan("*3\r\n$9\r\nsubscribe\r\n\r\n", 21, &status, &chunked), -1);
}

/* A chunked body decodes to its data however it is cut, each cut's rest
 * handed back with the next bytes (as a subscriber's buffer does). */
static void test_dechunk_every_split(void **state)
{
    (void)state;
    const char body[] = ": subscribed\n\nid: 01M98A9EC0EEQEXXGGVH5BGBZT\ndata: {\"x\":1}\n\n";
    const char enc[] = "e\r\n: subscribed\n\n\r\n2e;ext=1\r\nid: 01M98A9EC0EEQEXXGGVH5BGBZT\ndata: {\"x\":1}\n\n\r\n0\r\n\r\n";
    size_t n = strlen(enc);
    for (size_t cut = 0; cut <= n; cut++) {
        struct dl_dechunk d = {0};
        char out[256], pend[256];
        size_t o = 0, got, have = cut;
        memcpy(pend, enc, cut);
        long used = dl_dechunk(&d, pend, have, out, &got);
        assert_true(used >= 0 && (size_t)used <= have);
        o += got;
        /* the rest of the first part, then everything after the cut */
        memmove(pend, pend + used, have - (size_t)used);
        have -= (size_t)used;
        memcpy(pend + have, enc + cut, n - cut);
        have += n - cut;
        used = dl_dechunk(&d, pend, have, out + o, &got);
        assert_true(used >= 0);
        o += got;
        assert_true(d.ended);
        assert_int_equal(o, strlen(body));
        assert_memory_equal(out, body, o);
    }
    struct dl_dechunk d = {0};
    char out[64];
    size_t got;
    assert_int_equal(dl_dechunk(&d, "zz\r\n", 4, out, &got), -1);
    memset(&d, 0, sizeof d);
    assert_int_equal(dl_dechunk(&d, "1\r\nab\r\n", 7, out, &got), -1); /* data longer than its size */
}

static void test_sse_scan(void **state)
{
    (void)state;
    char buf[1024];
    struct dl_frame f;
    int n = snprintf(buf, sizeof buf, ": subscribed\n\nid: 01M98A9EC0EEQEXXGGVH5BGBZT\ndata: %s\n\n", event_json);
    for (long cut = 0; cut < 14; cut++)
        assert_int_equal(dl_sse_scan(buf, (size_t)cut, &f), 0);
    assert_int_equal(dl_sse_scan(buf, (size_t)n, &f), 14);
    assert_int_equal(f.kind, DL_F_SUBSCRIBE);
    for (long cut = 14; cut < n; cut++)
        assert_int_equal(dl_sse_scan(buf + 14, (size_t)(cut - 14), &f), 0);
    assert_int_equal(dl_sse_scan(buf + 14, (size_t)n - 14, &f), n - 14);
    assert_int_equal(f.kind, DL_F_MESSAGE);
    assert_int_equal(f.payload_len, strlen(event_json));
    assert_memory_equal(f.payload, event_json, f.payload_len);

    const char hb[] = ": heartbeat\n\n";
    assert_int_equal(dl_sse_scan(hb, strlen(hb), &f), (long)strlen(hb));
    assert_int_equal(f.kind, DL_F_OTHER);
    const char marker[] = "event: marker\ndata: {\"marker\":\"caught-up\"}\n\n";
    assert_int_equal(dl_sse_scan(marker, strlen(marker), &f), (long)strlen(marker));
    assert_int_equal(f.kind, DL_F_OTHER);
    const char nospace[] = "data:{}\n\n";
    assert_int_equal(dl_sse_scan(nospace, strlen(nospace), &f), (long)strlen(nospace));
    assert_int_equal(f.kind, DL_F_MESSAGE);
    assert_int_equal(f.payload_len, 2);
}

static void test_stamp_refused(void **state)
{
    (void)state;
    uint64_t seq, ts;
    const char *bad[] = {
        "{\"type\":\"BenchEvent\",\"data\":\"eszycidpyopumzgdpamntyyawoixzhsdkaaaur\"}",
        "{\"data\":\"000000000x:0000000000000001234:abc\"}",
        "{\"data\":\"0000000007:0000000000000001234\"}",
        "{\"type\":\"BenchEvent\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(dl_event_stamp(bad[i], strlen(bad[i]), &seq, &ts), -1);
}

/* Nearest rank as redis_delivery.c counts it: the sample at 0-based rank
 * floor(q * n), negatives (the most negative first) before positives. */
static void test_signed_quantiles(void **state)
{
    (void)state;
    struct dl_signed_hist h;
    dl_signed_hist_init(&h);
    assert_true(dl_signed_hist_quantile(&h, 0.5) == 0);
    const int64_t v[] = {-300, 200, -100, 100, 0, 50, 250, -50, 150, 400};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        dl_signed_hist_record(&h, v[i]);
    assert_int_equal(dl_signed_hist_count(&h), 10);
    /* sorted: -300 -100 -50 0 50 100 150 200 250 400 (all exact: < 256
     * is exact, 300 and 400 within a bucket's 0.8 %) */
    assert_true(dl_signed_hist_quantile(&h, 0.0) <= -297 && dl_signed_hist_quantile(&h, 0.0) >= -303);
    assert_true(dl_signed_hist_quantile(&h, 0.1) == -100);
    assert_true(dl_signed_hist_quantile(&h, 0.25) == -50);
    assert_true(dl_signed_hist_quantile(&h, 0.3) == 0);
    assert_true(dl_signed_hist_quantile(&h, 0.5) == 100);
    assert_true(dl_signed_hist_quantile(&h, 0.9) == 400);
    assert_true(dl_signed_hist_quantile(&h, 0.99) == 400);
    assert_int_equal(h.min, -300);
    assert_int_equal(h.max, 400);
}

static void test_hist_at_rank(void **state)
{
    (void)state;
    struct bench_hist h;
    bench_hist_init(&h);
    assert_int_equal(bench_hist_at_rank(&h, 1), 0);
    for (uint64_t i = 1; i <= 100; i++)
        bench_hist_record(&h, i);
    assert_int_equal(bench_hist_at_rank(&h, 0), 1);
    assert_int_equal(bench_hist_at_rank(&h, 1), 1);
    assert_int_equal(bench_hist_at_rank(&h, 50), 50);
    assert_int_equal(bench_hist_at_rank(&h, 100), 100);
    assert_int_equal(bench_hist_at_rank(&h, 1000), 100);
    assert_int_equal(bench_hist_percentile(&h, 50), 50);
    assert_int_equal(bench_hist_percentile(&h, 99), 99);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_template),
        cmocka_unit_test(test_frame_every_split),
        cmocka_unit_test(test_frame_kinds),
        cmocka_unit_test(test_http_head),
        cmocka_unit_test(test_dechunk_every_split),
        cmocka_unit_test(test_sse_scan),
        cmocka_unit_test(test_stamp_refused),
        cmocka_unit_test(test_signed_quantiles),
        cmocka_unit_test(test_hist_at_rank),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
