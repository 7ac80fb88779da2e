/* test_http.c - the HTTP layer's pure parts: routing, query strings,
 * Authorization headers, RESP replies as JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/buf.h"
#include "http/auth.h"
#include "http/query.h"
#include "http/reply.h"
#include "http/router.h"

static void h_a(struct http_request *rq, const struct route *r, const char *const *p, const size_t *l) {}
static void h_b(struct http_request *rq, const struct route *r, const char *const *p, const size_t *l) {}

static const struct route table[] = {
    {"GET", "/health", h_a, 1},
    {"GET", "/streams", h_a, 0},
    {"POST", "/streams/*", h_b, 0},
    {"GET", "/streams/*", h_a, 0},
    {"GET", "/streams/*/subscribe", h_b, 0},
    {"GET", "/", h_b, 0},
};
#define N_ROUTES (sizeof table / sizeof table[0])

static enum router_result route(const char *method, const char *path, struct router_match *m, char *scratch)
{
    return router_match(table, N_ROUTES, method, strlen(method), path, strlen(path), scratch, m);
}

static void test_router(void **state)
{
    char scratch[256];
    struct router_match m;
    assert_int_equal(route("GET", "/health", &m, scratch), ROUTER_FOUND);
    assert_ptr_equal(m.route, &table[0]);
    assert_int_equal(m.n_params, 0);
    assert_int_equal(route("GET", "/", &m, scratch), ROUTER_FOUND);
    assert_ptr_equal(m.route, &table[5]);
    assert_int_equal(route("GET", "/streams", &m, scratch), ROUTER_FOUND);
    assert_ptr_equal(m.route, &table[1]);

    assert_int_equal(route("POST", "/streams/a%2Fb%20c", &m, scratch), ROUTER_FOUND);
    assert_ptr_equal(m.route, &table[2]);
    assert_int_equal(m.n_params, 1);
    assert_int_equal(m.param_lens[0], 5);
    assert_memory_equal(m.params[0], "a/b c", 5);
    /* '+' is a plus in a path. */
    assert_int_equal(route("GET", "/streams/a+b", &m, scratch), ROUTER_FOUND);
    assert_memory_equal(m.params[0], "a+b", 3);
    assert_int_equal(route("GET", "/streams/x/subscribe", &m, scratch), ROUTER_FOUND);
    assert_ptr_equal(m.route, &table[4]);
    assert_memory_equal(m.params[0], "x", 1);

    assert_int_equal(route("DELETE", "/streams/x", &m, scratch), ROUTER_BAD_METHOD);
    assert_null(m.route);
    assert_int_equal(route("POST", "/health", &m, scratch), ROUTER_BAD_METHOD);
    static const char *const missing[] = {"/nowhere", "/streams/", "/streams//subscribe", "/streams/x/y",
                                          "/healthz", "/health/", "", "streams", "//"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        if (route("GET", missing[i], &m, scratch) != ROUTER_NOT_FOUND)
            fail_msg("%s matched", missing[i]);
    }
    assert_int_equal(route("GET", "/streams/%zz", &m, scratch), ROUTER_BAD_PATH);
    assert_int_equal(route("GET", "/streams/ab%2", &m, scratch), ROUTER_BAD_PATH);
    assert_int_equal(route("GET", "/streams/ab%", &m, scratch), ROUTER_BAD_PATH);
}

static void test_query(void **state)
{
    static const char q[] = "version=5&limit=&stream_prefix=order%2D&types=A%2CB+C&flag&empty=";
    char out[64];
    size_t len = strlen(q);
    assert_int_equal(query_get(q, len, "version", out, sizeof out), 1);
    assert_memory_equal(out, "5", 1);
    assert_int_equal(query_get(q, len, "limit", out, sizeof out), 0);
    assert_int_equal(query_get(q, len, "stream_prefix", out, sizeof out), 6);
    assert_memory_equal(out, "order-", 6);
    assert_int_equal(query_get(q, len, "types", out, sizeof out), 5);
    assert_memory_equal(out, "A,B C", 5);
    assert_int_equal(query_get(q, len, "flag", out, sizeof out), 0);
    assert_int_equal(query_get(q, len, "nope", out, sizeof out), -1);
    assert_int_equal(query_get(q, len, "vers", out, sizeof out), -1);
    assert_int_equal(query_get(q, len, "types", out, 3), -2);
    assert_int_equal(query_get("a=%zz", 5, "a", out, sizeof out), -2);

    uint64_t v = 0;
    assert_int_equal(query_get_u64(q, len, "version", &v), 1);
    assert_int_equal(v, 5);
    assert_int_equal(query_get_u64(q, len, "nope", &v), 0);
    assert_int_equal(query_get_u64(q, len, "limit", &v), -1);
    assert_int_equal(query_get_u64("n=-1", 4, "n", &v), -1);
    assert_int_equal(query_get_u64("n=1x", 4, "n", &v), -1);
    assert_int_equal(query_get_u64("n=18446744073709551616", 22, "n", &v), -1);
    assert_int_equal(query_get_u64("n=18446744073709551615", 22, "n", &v), 1);
    assert_true(v == UINT64_MAX);
    assert_int_equal(query_get_u64(NULL, 0, "n", &v), 0);
}

/* auth_parse's verdict on header h: "" when refused, else "user:password"
 * with "(bearer)" for the user of a Bearer token. */
static const char *parsed(const char *h)
{
    static char out[128];
    char scratch[128];
    struct auth_creds c;
    if (!auth_parse(h, strlen(h), scratch, &c))
        return "";
    snprintf(out, sizeof out, "%.*s:%.*s", c.user ? (int)c.user_len : 8, c.user ? c.user : "(bearer)",
             (int)c.password_len, c.password);
    return out;
}

static void test_auth(void **state)
{
    assert_string_equal(parsed("Bearer s3cret"), "(bearer):s3cret");
    assert_string_equal(parsed("bearer   s3cret"), "(bearer):s3cret");
    assert_string_equal(parsed("Basic dXNlcjpzM2NyZXQ="), "user:s3cret");
    assert_string_equal(parsed("Basic OnMzY3JldA=="), ":s3cret");
    assert_string_equal(parsed("Basic dTpwOnE="), "u:p:q"); /* the first colon splits */
    assert_string_equal(parsed("Basic dTo="), "u:");       /* an empty password */
    assert_string_equal(parsed("Bearer "), "");
    assert_string_equal(parsed("Bearers3cret"), "");
    assert_string_equal(parsed("s3cret"), "");
    assert_string_equal(parsed("Basic czNjcmV0"), ""); /* s3cret, no colon */
    assert_string_equal(parsed("Basic !!!!"), "");
    assert_string_equal(parsed("Basic "), "");
    assert_string_equal(parsed(""), "");
}

/* access_token in a query string: the event streams' way for EventSource. */
static void test_auth_query(void **state)
{
    static const char pw[] = "s3 cr&t";
#define CHECK(q) auth_check_query((q), strlen(q), pw)
    assert_true(CHECK("access_token=s3%20cr%26t"));
    assert_true(CHECK("offset=&access_token=s3+cr%26t&types=A"));
    assert_false(CHECK("access_token=s3%20cr"));
    assert_false(CHECK("access_token=s3%20cr%26tt"));
    assert_false(CHECK("access_token="));
    assert_false(CHECK("access_token=%zz"));
    assert_false(CHECK("token=s3%20cr%26t"));
    assert_false(CHECK(""));
    assert_false(auth_check_query(NULL, 0, pw));
#undef CHECK
}

/* The body of a reply, checked as JSON against `want`. */
static void expect_json_n(const char *resp, size_t len, int status, const char *want)
{
    struct buf body;
    buf_init(&body);
    int got = reply_to_json(resp, len, false, &body);
    json_t *a = json_loadb(body.data, body.len, 0, NULL);
    json_t *b = json_loads(want, 0, NULL);
    if (got != status || a == NULL || b == NULL || !json_equal(a, b))
        fail_msg("%s: got %d %.*s, want %d %s", resp, got, (int)body.len, body.data, status, want);
    json_decref(a);
    json_decref(b);
    buf_free(&body);
}

static void expect_json(const char *resp, int status, const char *want)
{
    expect_json_n(resp, strlen(resp), status, want);
}

static void test_reply(void **state)
{
    expect_json("+PONG\r\n", 200, "{\"result\":\"PONG\"}");
    expect_json(":42\r\n", 200, "{\"result\":42}");
    expect_json("$-1\r\n", 200, "{\"result\":null}");
    expect_json("*2\r\n:5\r\n$5\r\n1.5s!\r\n", 200, "{\"result\":[5,\"1.5s!\"]}");
    /* A bulk holding a JSON object or array is embedded; other bulks,
     * JSON-looking or not, stay strings. */
    expect_json("*1\r\n$9\r\n{\"a\":[1]}\r\n", 200, "{\"result\":[{\"a\":[1]}]}");
    expect_json("$5\r\n[1,2]\r\n", 200, "{\"result\":[1,2]}");
    expect_json("$4\r\n{\"a\"\r\n", 200, "{\"result\":\"{\\\"a\\\"\"}");
    expect_json("$2\r\n12\r\n", 200, "{\"result\":\"12\"}");
    expect_json("$4\r\ntrue\r\n", 200, "{\"result\":\"true\"}");
    expect_json("$3\r\na\"b\r\n", 200, "{\"result\":\"a\\\"b\"}");
    /* Trusted: embedded as it is, not parsed again. */
    struct buf body;
    buf_init(&body);
    assert_int_equal(reply_to_json("$5\r\n{\"a\":\r\n", 11, true, &body), 200);
    assert_int_equal(body.len, strlen("{\"result\":{\"a\":}"));
    assert_memory_equal(body.data, "{\"result\":{\"a\":}", body.len);
    buf_free(&body);
    /* RESP3 maps become objects. */
    expect_json("%1\r\n$1\r\nk\r\n:1\r\n", 200, "{\"result\":{\"k\":1}}");

    expect_json("-unauthorized\r\n", 401, "{\"error\":{\"code\":\"unauthorized\",\"message\":\"unauthorized\"}}");
    expect_json("-unknown command\r\n", 404,
                "{\"error\":{\"code\":\"unknown_command\",\"message\":\"unknown command\"}}");
    expect_json("-concurrent stream modification\r\n", 409,
                "{\"error\":{\"code\":\"conflict\",\"message\":\"concurrent stream modification\"}}");
    expect_json("-MOVED 0 10.0.0.2:6543\r\n", 421,
                "{\"error\":{\"code\":\"MOVED\",\"message\":\"MOVED 0 10.0.0.2:6543\"}}");
    expect_json("-NOLEADER no leader\r\n", 503, "{\"error\":{\"code\":\"NOLEADER\",\"message\":\"NOLEADER no leader\"}}");
    expect_json("-FULL disk\r\n", 507, "{\"error\":{\"code\":\"FULL\",\"message\":\"FULL disk\"}}");
    expect_json("-TOOBIG x\r\n", 413, "{\"error\":{\"code\":\"TOOBIG\",\"message\":\"TOOBIG x\"}}");
    expect_json("-STALE x\r\n", 503, "{\"error\":{\"code\":\"STALE\",\"message\":\"STALE x\"}}");
    /* Not a known code word: a bad request. */
    expect_json("-invalid JSON: x\r\n", 400, "{\"error\":{\"code\":\"bad_request\",\"message\":\"invalid JSON: x\"}}");
    expect_json("-FOO bar\r\n", 400, "{\"error\":{\"code\":\"bad_request\",\"message\":\"FOO bar\"}}");
    expect_json("-MOVEDX\r\n", 400, "{\"error\":{\"code\":\"bad_request\",\"message\":\"MOVEDX\"}}");
    /* Bytes that are not UTF-8 (a client's, echoed) keep the document
     * valid; NUL is no part of an object key. */
    expect_json("-bad \xff\xfe utf8\r\n", 400, "{\"error\":{\"code\":\"bad_request\",\"message\":\"bad ?? utf8\"}}");
    static const char nul_key[] = "%1\r\n$3\r\na\0b\r\n:1\r\n";
    expect_json_n(nul_key, sizeof nul_key - 1, 200, "{\"result\":{\"a?b\":1}}");
    /* Not one whole reply. */
    expect_json("", 500, "{\"error\":{\"code\":\"internal\",\"message\":\"the reply could not be converted\"}}");
    expect_json("*2\r\n:1\r\n", 500,
                "{\"error\":{\"code\":\"internal\",\"message\":\"the reply could not be converted\"}}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_router),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_auth_query),
        cmocka_unit_test(test_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
