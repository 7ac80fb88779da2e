/* test_http.c - the HTTP listener (docs/http.md) against real nodes: every
 * route, auth, bad input, and ADDs acknowledged only once committed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cluster.h"
#include "harness.h"
#include "http_client.h"

#define PASSWORD "h77p-pw"

/* One request on c, asserting the status; the reply stays the caller's. */
static void expect_status(struct http_client *c, const char *method, const char *path, const char *const *headers,
                          const char *body, int status, struct http_reply *out)
{
    assert_int_equal(http_client_request(c, method, path, headers, body, out), 0);
    if (out->status != status)
        fail_msg("%s %s: expected %d, got %d: %s", method, path, status, out->status, out->body);
}

/* The "result" of a 200 reply (borrowed from r). */
static json_t *result_of(struct http_reply *r)
{
    assert_non_null(r->json);
    json_t *res = json_object_get(r->json, "result");
    if (res == NULL)
        fail_msg("no result in %s", r->body);
    return res;
}

static const char *error_code(struct http_reply *r)
{
    assert_non_null(r->json);
    const char *code = json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
    if (code == NULL)
        fail_msg("no error code in %s", r->body);
    return code;
}

static void test_api_commands(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    struct http_client *c = http_client_open(n->http_port);
    assert_non_null(c);
    struct http_reply r;

    expect_status(c, "POST", "/api/ping", NULL, NULL, 200, &r);
    assert_string_equal(json_string_value(result_of(&r)), "PONG");
    http_reply_free(&r);

    /* ADD's reply is JSON text: embedded as JSON. */
    expect_status(c, "POST", "/api/add", NULL,
                  "{\"stream\":\"s1\",\"version\":0,\"events\":[{\"type\":\"T\",\"data\":{\"n\":1}}]}", 200, &r);
    json_t *ev = json_array_get(result_of(&r), 0);
    assert_true(json_is_object(ev));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(ev, "data"), "n")), 1);
    http_reply_free(&r);

    expect_status(c, "POST", "/api/get", NULL, "{\"stream\":\"s1\"}", 200, &r);
    assert_int_equal(json_array_size(result_of(&r)), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(result_of(&r), 0), "type")), "T");
    http_reply_free(&r);

    expect_status(c, "POST", "/api/getall", NULL, "{}", 200, &r);
    assert_int_equal(json_array_size(result_of(&r)), 1);
    http_reply_free(&r);

    static const char *const counters[] = {"eventcount", "eventcountest", "streamcount", "streamcountest"};
    for (size_t i = 0; i < 4; i++) {
        char path[64];
        snprintf(path, sizeof path, "/api/%s", counters[i]);
        expect_status(c, "POST", path, NULL, NULL, 200, &r);
        assert_int_equal(json_integer_value(result_of(&r)), 1);
        http_reply_free(&r);
    }
    /* GET works for the commands without an argument; names are
     * case-insensitive. */
    expect_status(c, "GET", "/api/CHECKSUM", NULL, NULL, 200, &r);
    assert_int_equal(json_array_size(result_of(&r)), 2);
    http_reply_free(&r);
    expect_status(c, "POST", "/api/size", NULL, NULL, 200, &r);
    assert_true(json_is_integer(json_array_get(result_of(&r), 0)));
    http_reply_free(&r);
    expect_status(c, "POST", "/api/uptime", NULL, NULL, 200, &r);
    assert_true(json_is_string(json_array_get(result_of(&r), 1)));
    http_reply_free(&r);
    expect_status(c, "POST", "/api/version", NULL, NULL, 200, &r);
    assert_true(json_is_string(result_of(&r)));
    http_reply_free(&r);
    expect_status(c, "POST", "/api/liststreams", NULL, NULL, 200, &r);
    assert_string_equal(json_string_value(json_object_get(json_array_get(result_of(&r), 0), "id")), "s1");
    http_reply_free(&r);
    expect_status(c, "POST", "/api/status", NULL, NULL, 200, &r);
    assert_string_equal(json_string_value(json_object_get(result_of(&r), "state")), "leader");
    http_reply_free(&r);

    /* A PING argument that looks like JSON but is not stays a string. */
    expect_status(c, "POST", "/api/ping", NULL, "{\"a\":", 200, &r);
    http_reply_free(&r);

    /* Consumer groups. */
    expect_status(c, "POST", "/api/group/create", NULL, "{\"group\":\"g\",\"all\":true}", 200, &r);
    http_reply_free(&r);
    expect_status(c, "POST", "/api/group/read", NULL, "{\"group\":\"g\",\"consumer\":\"w\",\"count\":10}", 200, &r);
    http_reply_free(&r);
    expect_status(c, "POST", "/api/group/info", NULL, "{\"group\":\"nope\"}", 404, &r);
    assert_string_equal(error_code(&r), "NOGROUP");
    http_reply_free(&r);

    /* Errors keep their status and code. */
    expect_status(c, "POST", "/api/add", NULL, "{\"stream\":\"s1\",\"version\":0,\"events\":[{\"type\":\"T\"}]}", 409,
                  &r);
    assert_string_equal(error_code(&r), "conflict");
    http_reply_free(&r);
    expect_status(c, "POST", "/api/add", NULL, "{\"stream\":\"s1\",\"version\":5,\"events\":[{\"type\":\"T\"}]}", 409,
                  &r);
    assert_string_equal(error_code(&r), "version_gap");
    http_reply_free(&r);
    expect_status(c, "POST", "/api/quit", NULL, NULL, 404, &r);
    assert_string_equal(error_code(&r), "unknown_command");
    http_reply_free(&r);

    http_client_close(c);
    harness_pass(*state);
}

static void test_health_status_cluster(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    struct http_reply r;
    assert_int_equal(http_request_once(n->http_port, "GET", "/health", NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "healthy")));
    http_reply_free(&r);
    assert_int_equal(http_request_once(n->http_port, "GET", "/status", NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "state")), "leader");
    assert_true(json_is_integer(json_object_get(r.json, "clients")));
    http_reply_free(&r);
    assert_int_equal(http_request_once(n->http_port, "GET", "/cluster", NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(r.json), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r.json, 0), "role")), "voter");
    http_reply_free(&r);
    harness_pass(*state);
}

static void test_resources(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    struct http_client *c = http_client_open(n->http_port);
    assert_non_null(c);
    struct http_reply r;

    /* A stream name with a slash and a space, percent-encoded. */
    static const char *const v0[] = {"If-Match: \"0\"", NULL};
    expect_status(c, "POST", "/streams/a%2Fb%20c", v0, "[{\"type\":\"A\"},{\"type\":\"B\"}]", 200, &r);
    assert_int_equal(json_array_size(result_of(&r)), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(result_of(&r), 0), "stream")), "a/b c");
    const char *first_id_ = json_string_value(json_object_get(json_array_get(result_of(&r), 0), "id"));
    assert_non_null(first_id_);
    char *first_id = strdup(first_id_);
    http_reply_free(&r);
    /* The same expected version again: a conflict. */
    expect_status(c, "POST", "/streams/a%2Fb%20c", v0, "[{\"type\":\"A\"}]", 409, &r);
    http_reply_free(&r);
    /* The body's version; then any. */
    expect_status(c, "POST", "/streams/a%2Fb%20c", NULL, "{\"version\":2,\"events\":[{\"type\":\"C\"}]}", 200, &r);
    http_reply_free(&r);
    static const char *const any[] = {"If-Match: *", NULL};
    expect_status(c, "POST", "/streams/a%2Fb%20c", any, "[{\"type\":\"D\"}]", 200, &r);
    http_reply_free(&r);
    expect_status(c, "POST", "/streams/other", NULL, "[{\"type\":\"E\"}]", 200, &r);
    http_reply_free(&r);

    expect_status(c, "GET", "/streams/a%2Fb%20c?version=1&limit=2", NULL, NULL, 200, &r);
    json_t *evs = result_of(&r);
    assert_int_equal(json_array_size(evs), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(evs, 0), "version")), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(evs, 1), "type")), "C");
    http_reply_free(&r);

    char path[128];
    snprintf(path, sizeof path, "/all?offset=%s&limit=10", first_id);
    expect_status(c, "GET", path, NULL, NULL, 200, &r);
    assert_int_equal(json_array_size(result_of(&r)), 4);
    http_reply_free(&r);
    expect_status(c, "GET", "/all?limit=1", NULL, NULL, 200, &r);
    assert_int_equal(json_array_size(result_of(&r)), 1);
    http_reply_free(&r);

    expect_status(c, "GET", "/streams", NULL, NULL, 200, &r);
    assert_int_equal(json_array_size(result_of(&r)), 2);
    http_reply_free(&r);
    expect_status(c, "GET", "/streams?skip=1&limit=5", NULL, NULL, 200, &r);
    assert_int_equal(json_array_size(result_of(&r)), 1);
    http_reply_free(&r);

    free(first_id);
    http_client_close(c);
    harness_pass(*state);
}

static void test_auth(void **state)
{
    struct harness_node_opts opts = {.password = PASSWORD};
    struct harness_node *n = harness_start_single(*state, &opts);
    struct http_client *c = http_client_open(n->http_port);
    assert_non_null(c);
    struct http_reply r;

    static const char *const paths[] = {"/health", "/status", "/cluster", "/streams", "/all", "/streams/x"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        expect_status(c, "GET", paths[i], NULL, NULL, 401, &r);
        assert_string_equal(error_code(&r), "unauthorized");
        http_reply_free(&r);
    }
    expect_status(c, "POST", "/api/add", NULL, "{\"stream\":\"x\",\"version\":\"any\",\"events\":[{\"type\":\"T\"}]}",
                  401, &r);
    http_reply_free(&r);
    static const char *const wrong[][2] = {{"Authorization: Bearer h77p", NULL},
                                           {"Authorization: Bearer h77p-pwx", NULL},
                                           {"Authorization: Basic dXNlcjp3cm9uZw==", NULL}, /* user:wrong */
                                           {"Authorization: Basic !!!", NULL},
                                           {"Authorization: Digest h77p-pw", NULL}};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        expect_status(c, "POST", "/api/ping", wrong[i], NULL, 401, &r);
        http_reply_free(&r);
    }
    /* Nothing was written. */
    static const char *const bearer[] = {"Authorization: Bearer " PASSWORD, NULL};
    static const char *const basic[] = {"Authorization: basic YW55b25lOmg3N3AtcHc=", NULL}; /* anyone:h77p-pw */
    expect_status(c, "POST", "/api/eventcount", bearer, NULL, 200, &r);
    assert_int_equal(json_integer_value(result_of(&r)), 0);
    http_reply_free(&r);
    expect_status(c, "GET", "/health", basic, NULL, 200, &r);
    http_reply_free(&r);
    expect_status(c, "POST", "/streams/x", basic, "[{\"type\":\"T\"}]", 200, &r);
    http_reply_free(&r);
    http_client_close(c);

    /* --http-open-health: /health answers without the password, nothing
     * else does. */
    assert_int_equal(harness_node_stop(n), 0);
    struct harness_node_opts open = {.password = PASSWORD,
                                     .args = (const char *const[]){"--http-open-health", "yes", NULL}};
    n = harness_start_single(*state, &open);
    assert_int_equal(http_request_once(n->http_port, "GET", "/health", NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
    assert_int_equal(http_request_once(n->http_port, "GET", "/metrics", NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
    assert_int_equal(http_request_once(n->http_port, "GET", "/status", NULL, NULL, &r), 0);
    assert_int_equal(r.status, 401);
    http_reply_free(&r);
    harness_pass(*state);
}

/* GET /metrics: METRICS's exposition, with Prometheus's content type, and
 * a count that moves with what the node did. */
static double metric_value(const char *text, const char *sample)
{
    size_t n = strlen(sample);
    for (const char *p = text; (p = strstr(p, sample)) != NULL; p += n) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    fail_msg("no sample %s in the exposition", sample);
    return 0;
}

static void test_metrics(void **state)
{
    struct harness_node_opts opts = {.password = PASSWORD};
    struct harness_node *n = harness_start_single(*state, &opts);
    static const char *const bearer[] = {"Authorization: Bearer " PASSWORD, NULL};
    struct http_reply r;
    assert_int_equal(http_request_once(n->http_port, "GET", "/metrics", NULL, NULL, &r), 0);
    assert_int_equal(r.status, 401); /* behind the password unless --http-open-health */
    http_reply_free(&r);

    static const char ok_add[] = "eventflow_commands_total{command=\"add\",outcome=\"ok\"}";
    assert_int_equal(http_request_once(n->http_port, "GET", "/metrics", bearer, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    char *type = http_reply_header(&r, "content-type");
    assert_non_null(type);
    assert_string_equal(type, "text/plain; version=0.0.4; charset=utf-8");
    free(type);
    assert_non_null(strstr(r.body, "# TYPE eventflow_raft_term gauge\n"));
    assert_true(metric_value(r.body, "eventflow_raft_role{role=\"leader\"}") == 1);
    double before = strstr(r.body, ok_add) != NULL ? metric_value(r.body, ok_add) : 0;
    double events = metric_value(r.body, "eventflow_events");
    http_reply_free(&r);

    for (int i = 0; i < 3; i++) {
        assert_int_equal(http_request_once(n->http_port, "POST", "/streams/m", bearer, "[{\"type\":\"T\"}]", &r), 0);
        assert_int_equal(r.status, 200);
        http_reply_free(&r);
    }
    assert_int_equal(http_request_once(n->http_port, "GET", "/metrics", bearer, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_true(metric_value(r.body, ok_add) == before + 3);
    assert_true(metric_value(r.body, "eventflow_events") == events + 3);
    http_reply_free(&r);
    harness_pass(*state);
}

/* Requests the API refuses, on one keep-alive connection: each answers
 * its status with a JSON error, the connection stays usable, and nothing
 * is written. */
static void test_bad_input(void **state)
{
    struct harness_node_opts opts = {.args = (const char *const[]){"--max-bulk", "2048", NULL}};
    struct harness_node *n = harness_start_single(*state, &opts);
    struct http_client *c = http_client_open(n->http_port);
    assert_non_null(c);
    char big[4096];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "[{\"type\":\"", 10);
    static const char *const bad_if_match[] = {"If-Match: abc", NULL};
    static const struct {
        const char *method, *path;
        const char *const *headers;
        const char *body;
        int status;
        const char *code;
    } table[] = {
        {"GET", "/nowhere", NULL, NULL, 404, "not_found"},
        {"POST", "/", NULL, "{}", 405, "method_not_allowed"},
        {"GET", "/console/nothing.js", NULL, NULL, 404, "not_found"},
        {"DELETE", "/streams/x", NULL, NULL, 405, "method_not_allowed"},
        {"PUT", "/api/add", NULL, "{}", 405, "method_not_allowed"},
        {"POST", "/api/nosuchcommand", NULL, NULL, 404, "unknown_command"},
        {"POST", "/api/add", NULL, "not json", 400, "bad_request"},
        {"POST", "/api/add", NULL, NULL, 400, "bad_request"},
        {"POST", "/api/get", NULL, "{\"stream\":\"x\",\"version\":-1}", 400, "bad_request"},
        {"POST", "/streams/x", NULL, "not json", 400, "bad_request"},
        {"POST", "/streams/x", NULL, "42", 400, "bad_request"},
        {"POST", "/streams/x", NULL, "{\"stream\":\"y\",\"events\":[{\"type\":\"T\"}]}", 400, "bad_request"},
        {"POST", "/streams/x", bad_if_match, "[{\"type\":\"T\"}]", 400, "bad_request"},
        {"POST", "/streams/x", NULL, "[{\"notype\":1}]", 400, "bad_request"},
        /* An array that ends early cannot add fields to the ADD. */
        {"POST", "/streams/x", NULL, "[{\"type\":\"T\"}],\"version\":5", 400, "bad_request"},
        {"POST", "/streams/x", NULL, "[{\"type\":\"T\"}]]", 400, "bad_request"},
        {"POST", "/streams/x", NULL, "[{\"type\":\"T]\"}", 400, "bad_request"},
        {"GET", "/streams/x?version=abc", NULL, NULL, 400, "bad_request"},
        {"GET", "/streams/x?limit=-1", NULL, NULL, 400, "bad_request"},
        {"GET", "/streams/%zz", NULL, NULL, 400, "bad_request"},
        {"GET", "/all?offset=notanid", NULL, NULL, 400, "bad_request"},
    };
    struct http_reply r;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        expect_status(c, table[i].method, table[i].path, table[i].headers, table[i].body, table[i].status, &r);
        if (strcmp(error_code(&r), table[i].code) != 0)
            fail_msg("%s %s: expected code %s: %s", table[i].method, table[i].path, table[i].code, r.body);
        http_reply_free(&r);
        expect_status(c, "GET", "/api/ping", NULL, NULL, 200, &r);
        http_reply_free(&r);
    }
    expect_status(c, "POST", "/api/eventcount", NULL, NULL, 200, &r);
    assert_int_equal(json_integer_value(result_of(&r)), 0);
    http_reply_free(&r);
    http_client_close(c);

    /* A body over --max-bulk: 413, and the connection is closed (h2o
     * does not read a body it refused). */
    assert_int_equal(http_request_once(n->http_port, "POST", "/streams/x", NULL, big, &r), 0);
    assert_int_equal(r.status, 413);
    /* h2o's own refusal, in the API's JSON shape all the same. */
    assert_string_equal(error_code(&r), "TOOBIG");
    http_reply_free(&r);

    /* A chunked body that does not parse: h2o's 400, as JSON too. */
    c = http_client_open(n->http_port);
    assert_non_null(c);
    static const char bad_chunk[] = "POST /streams/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n";
    assert_int_equal(http_client_send_raw(c, bad_chunk, sizeof bad_chunk - 1), 0);
    assert_int_equal(http_client_read(c, &r), 0);
    assert_int_equal(r.status, 400);
    assert_string_equal(error_code(&r), "bad_request");
    http_reply_free(&r);
    http_client_close(c);

    /* Malformed HTTP: 400. */
    c = http_client_open(n->http_port);
    assert_non_null(c);
    assert_int_equal(http_client_send_raw(c, "GARBAGE\r\n\r\n", 11), 0);
    assert_int_equal(http_client_read(c, &r), 0);
    assert_int_equal(r.status, 400);
    http_reply_free(&r);
    http_client_close(c);

    /* More header fields than h2o takes (100): 400, the connection closed. */
    c = http_client_open(n->http_port);
    assert_non_null(c);
    struct buf many;
    buf_init(&many);
    buf_append_str(&many, "GET /api/ping HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 101; i++)
        buf_printf(&many, "X-H%d: v\r\n", i);
    buf_append_str(&many, "\r\n");
    assert_int_equal(http_client_send_raw(c, many.data, many.len), 0);
    buf_free(&many);
    assert_int_equal(http_client_read(c, &r), 0);
    assert_int_equal(r.status, 400);
    http_reply_free(&r);
    http_client_close(c);

    /* Nothing changed; the node serves on. */
    assert_int_equal(http_request_once(n->http_port, "GET", "/api/eventcount", NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(result_of(&r)), 0);
    http_reply_free(&r);
    harness_pass(*state);
}

/* An ADD acknowledged through HTTP is committed: a follower serves it
 * (read-your-writes by its id, no sleep); a write sent to a follower is
 * redirected to the leader's HTTP address. */
static void test_cluster_add_committed(void **state)
{
    struct cluster cl;
    cluster_start(&cl, *state, 3, NULL);
    size_t leader = cluster_leader(&cl);
    size_t follower = (leader + 1) % 3;
    struct http_reply r;
    assert_int_equal(http_request_once(cl.n[leader]->http_port, "POST", "/streams/c1", NULL,
                                       "[{\"type\":\"T\",\"data\":{\"k\":7}}]", &r),
                     0);
    assert_int_equal(r.status, 200);
    const char *id = json_string_value(json_object_get(json_array_get(result_of(&r), 0), "id"));
    assert_non_null(id);
    char path[160];
    snprintf(path, sizeof path, "/streams/c1?min_id=%s", id);
    http_reply_free(&r);
    assert_int_equal(http_request_once(cl.n[follower]->http_port, "GET", path, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(result_of(&r)), 1);
    http_reply_free(&r);

    /* A write sent to a follower: 307 to the leader's HTTP address, with
     * the path and query; following it with the same method and body
     * appends. Twice, the second from what the follower has learned. */
    for (int round = 0; round < 2; round++) {
        assert_int_equal(http_request_once(cl.n[follower]->http_port, "POST", "/streams/c1?x=1", NULL,
                                           "[{\"type\":\"R\"}]", &r),
                         0);
        assert_int_equal(r.status, 307);
        assert_string_equal(error_code(&r), "MOVED");
        char *location = http_reply_header(&r, "location");
        char want[96];
        snprintf(want, sizeof want, "http://127.0.0.1:%u/streams/c1?x=1", cl.n[leader]->http_port);
        assert_non_null(location);
        assert_string_equal(location, want);
        free(location);
        http_reply_free(&r);
        assert_int_equal(http_request_once(cl.n[leader]->http_port, "POST", "/streams/c1?x=1", NULL,
                                           "[{\"type\":\"R\"}]", &r),
                         0);
        assert_int_equal(r.status, 200);
        http_reply_free(&r);
    }
    /* A linearizable read is the leader's too. */
    assert_int_equal(http_request_once(cl.n[follower]->http_port, "GET", "/all?consistency=linearizable", NULL,
                                       NULL, &r),
                     0);
    assert_int_equal(r.status, 307);
    http_reply_free(&r);

    /* Every node is healthy. */
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(http_request_once(cl.n[i]->http_port, "GET", "/health", NULL, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_reply_free(&r);
    }
    harness_pass(*state);
}

/* Append n events of `type` (data padded to pad bytes) to stream in
 * ADDs of up to 100 through /api/add. */
static void add_events(unsigned port, const char *stream, int n, const char *type, size_t pad)
{
    char *filler = malloc(pad + 1);
    memset(filler, 'p', pad);
    filler[pad] = '\0';
    for (int done = 0; done < n;) {
        int k = n - done < 100 ? n - done : 100;
        struct buf body;
        buf_init(&body);
        buf_printf(&body, "{\"stream\":\"%s\",\"version\":\"any\",\"events\":[", stream);
        for (int i = 0; i < k; i++)
            buf_printf(&body, "%s{\"type\":\"%s\",\"data\":{\"n\":%d,\"pad\":\"%s\"}}", i ? "," : "", type,
                       done + i, filler);
        buf_append_str(&body, "]}");
        buf_append_char(&body, '\0');
        struct http_reply r;
        assert_int_equal(http_request_once(port, "POST", "/api/add", NULL, body.data, &r), 0);
        if (r.status != 200)
            fail_msg("add: %d %s", r.status, r.body);
        http_reply_free(&r);
        buf_free(&body);
        done += k;
    }
    free(filler);
}

/* Open an event stream; asserts the 200 and the content type. */
static struct http_client *sse_open(unsigned port, const char *path, const char *last_event_id)
{
    struct http_client *c = http_client_open(port);
    assert_non_null(c);
    char header[128];
    snprintf(header, sizeof header, "Last-Event-ID: %s", last_event_id != NULL ? last_event_id : "");
    const char *const headers[] = {header, NULL};
    assert_int_equal(http_client_send(c, "GET", path, last_event_id != NULL ? headers : NULL, NULL), 0);
    struct http_reply r;
    assert_int_equal(http_client_read_head(c, &r), 0);
    assert_int_equal(r.status, 200);
    char *ct = http_reply_header(&r, "content-type");
    assert_non_null(ct);
    assert_string_equal(ct, "text/event-stream");
    free(ct);
    http_reply_free(&r);
    return c;
}

/* The next event: its id, and its data's "n" and "type". */
static void sse_expect(struct http_client *c, const char *type, int n, char *id_out, size_t id_cap)
{
    struct http_sse_event ev;
    if (http_client_sse_next(c, &ev, NULL) != 1)
        fail_msg("no event %s %d", type, n);
    assert_non_null(ev.id);
    assert_non_null(ev.data);
    json_t *j = json_loads(ev.data, 0, NULL);
    assert_non_null(j);
    const char *got_type = json_string_value(json_object_get(j, "type"));
    json_int_t got_n = json_integer_value(json_object_get(json_object_get(j, "data"), "n"));
    if (got_type == NULL || strcmp(got_type, type) != 0 || got_n != n)
        fail_msg("expected %s %d, got %s", type, n, ev.data);
    /* The id: line is this event's id (the global log) or version (a
     * stream). */
    char version[24];
    snprintf(version, sizeof version, "%lld", (long long)json_integer_value(json_object_get(j, "version")));
    const char *event_id = json_string_value(json_object_get(j, "id"));
    if (event_id == NULL || (strcmp(ev.id, event_id) != 0 && strcmp(ev.id, version) != 0))
        fail_msg("id: %s is neither the event's id nor its version: %s", ev.id, ev.data);
    snprintf(id_out, id_cap, "%s", ev.id);
    json_decref(j);
    http_sse_event_free(&ev);
}

/* Server-sent events: catch-up then live, ids that resume with
 * Last-Event-ID with no gap and no duplicate, for a stream (ids are
 * versions) and for the global log (ids are event ids), with filters. */
static void test_sse(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    unsigned port = n->http_port;
    add_events(port, "sse", 5, "A", 8);
    add_events(port, "other", 2, "B", 8);

    struct http_client *s = sse_open(port, "/streams/sse/subscribe?version=0", NULL);
    struct http_client *all = sse_open(port, "/all/subscribe?offset=&stream_prefix=ss&types=A", NULL);
    char id[64], all_id[64];
    for (int i = 0; i < 5; i++) {
        sse_expect(s, "A", i, id, sizeof id);
        char want[16];
        snprintf(want, sizeof want, "%d", i);
        assert_string_equal(id, want);
        sse_expect(all, "A", i, all_id, sizeof all_id);
    }
    /* Live. */
    add_events(port, "sse", 3, "A", 8);
    for (int i = 0; i < 3; i++) {
        sse_expect(s, "A", i, id, sizeof id);
        sse_expect(all, "A", i, all_id, sizeof all_id);
    }
    assert_string_equal(id, "7");
    /* Resume after the last event seen, after more were written: the next
     * one, none twice. */
    char mid_all_id[64];
    snprintf(mid_all_id, sizeof mid_all_id, "%s", all_id);
    http_client_close(s);
    http_client_close(all);
    add_events(port, "sse", 2, "A", 8);
    add_events(port, "other", 1, "B", 8);
    s = sse_open(port, "/streams/sse/subscribe?version=0", "7");
    sse_expect(s, "A", 0, id, sizeof id);
    assert_string_equal(id, "8");
    sse_expect(s, "A", 1, id, sizeof id);
    assert_string_equal(id, "9");
    all = sse_open(port, "/all/subscribe?offset=&stream_prefix=ss&types=A", mid_all_id);
    sse_expect(all, "A", 0, all_id, sizeof all_id);
    sse_expect(all, "A", 1, all_id, sizeof all_id);
    add_events(port, "sse", 1, "A", 8);
    sse_expect(s, "A", 0, id, sizeof id);
    assert_string_equal(id, "10");
    sse_expect(all, "A", 0, all_id, sizeof all_id);
    http_client_close(s);
    http_client_close(all);

    /* A stream whose name holds a quote and a backslash: its versions are
     * still the ids (the name is skipped as a JSON string). */
    add_events(port, "q\\\"u\\\\o", 3, "Q", 4);
    s = sse_open(port, "/streams/q%22u%5Co/subscribe?version=1", NULL);
    sse_expect(s, "Q", 1, id, sizeof id);
    assert_string_equal(id, "1");
    sse_expect(s, "Q", 2, id, sizeof id);
    assert_string_equal(id, "2");
    http_client_close(s);

    /* A bad spec is an answer, not a stream. */
    struct http_reply r;
    assert_int_equal(http_request_once(port, "GET", "/all/subscribe?offset=nope", NULL, NULL, &r), 0);
    assert_int_equal(r.status, 400);
    assert_string_equal(error_code(&r), "bad_request");
    http_reply_free(&r);
    assert_int_equal(http_request_once(port, "GET", "/streams/sse/subscribe?version=x", NULL, NULL, &r), 0);
    assert_int_equal(r.status, 400);
    http_reply_free(&r);
    /* A filter that cannot be read is refused, not dropped (which would
     * subscribe to everything). */
    static const char *const unreadable[] = {"/all/subscribe?offset=&types=A%2", "/all/subscribe?stream_prefix=%zz",
                                             "/streams/sse/subscribe?types=%4"};
    for (size_t i = 0; i < sizeof unreadable / sizeof unreadable[0]; i++) {
        assert_int_equal(http_request_once(port, "GET", unreadable[i], NULL, NULL, &r), 0);
        if (r.status != 400)
            fail_msg("%s: %d %s", unreadable[i], r.status, r.body);
        http_reply_free(&r);
    }
    /* A Last-Event-ID past any version is refused: + 1 would wrap to 0
     * and replay the stream. */
    struct http_client *big = http_client_open(port);
    assert_non_null(big);
    const char *const huge[] = {"Last-Event-ID: 99999999999999999999", NULL};
    assert_int_equal(http_client_send(big, "GET", "/streams/sse/subscribe", huge, NULL), 0);
    assert_int_equal(http_client_read(big, &r), 0);
    assert_int_equal(r.status, 400);
    http_reply_free(&r);
    http_client_close(big);
    /* An empty piece of types names no type: types= filters nothing. */
    s = sse_open(port, "/streams/sse/subscribe?version=9&types=", NULL);
    sse_expect(s, "A", 1, id, sizeof id);
    assert_string_equal(id, "9");
    http_client_close(s);
    harness_pass(*state);
}

/* A subscriber that does not read: its node's buffer for it stays bounded
 * (the subscription falls back to reading the store), and once it reads,
 * every event arrives, in order, once. Then the node stops cleanly with
 * the streams open: a stream read to its end ends, and one whose client
 * stopped reading does not hold the shutdown up. */
static void test_sse_flow_control(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    unsigned port = n->http_port;
    struct http_client *s = sse_open(port, "/streams/big/subscribe?version=0", NULL);
    /* This one never reads: the stop below must not wait for it. */
    struct http_client *stalled = sse_open(port, "/streams/big/subscribe?version=0", NULL);
    const int total = 4000;
    add_events(port, "big", total, "T", 1000);
    json_t *st = harness_status(n);
    assert_non_null(st);
    json_int_t max = json_integer_value(json_object_get(st, "subscriber_output_max_bytes"));
    if (max > 1 << 20)
        fail_msg("a subscriber that does not read holds %lld bytes", (long long)max);
    json_decref(st);
    char id[64];
    for (int i = 0; i < total; i++) {
        sse_expect(s, "T", i, id, sizeof id);
        char want[16];
        snprintf(want, sizeof want, "%d", i);
        assert_string_equal(id, want);
    }
    assert_int_equal(harness_node_stop(n), 0);
    struct http_sse_event ev;
    assert_int_equal(http_client_sse_next(s, &ev, NULL), 0);
    http_client_close(s);
    http_client_close(stalled);
    harness_pass(*state);
}

/* A leader without an HTTP listener: a follower cannot redirect to it and
 * answers 421 with the leader's RESP address. */
static void test_cluster_leader_without_http(void **state)
{
    struct cluster cl;
    static const char *const off[] = {"--http-port", "0", NULL};
    static const char *const *const args[] = {off, NULL, NULL};
    /* Node 1 alone may lead: the others bootstrap with it but it is the
     * only one without HTTP; whichever leads, a follower with HTTP asks. */
    cluster_start_each(&cl, *state, 3, args);
    size_t leader = cluster_leader(&cl);
    if (leader != 0)
        cluster_transfer_ok(&cl, 0);
    leader = cluster_leader(&cl);
    assert_int_equal(leader, 0);
    struct http_reply r;
    assert_int_equal(http_request_once(cl.n[1]->http_port, "POST", "/streams/c2", NULL, "[{\"type\":\"T\"}]", &r),
                     0);
    assert_int_equal(r.status, 421);
    assert_string_equal(error_code(&r), "MOVED");
    char want[64];
    snprintf(want, sizeof want, "MOVED 0 127.0.0.1:%u", cl.n[0]->port);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r.json, "error"), "message")), want);
    http_reply_free(&r);
    harness_pass(*state);
}

/* An HTTP port somebody else holds: the node says so and exits 1, having
 * closed the listener it could not bind before freeing it (freed first,
 * libuv's close of it read freed memory: with the default port, which is
 * not fatal, an abort a moment after start once the memory was reused). */
static void test_http_port_taken(void **state)
{
    int sock = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(sock >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(sock, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(sock, 1), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(sock, (struct sockaddr *)&a, &len), 0);
    char port[16];
    snprintf(port, sizeof port, "%u", (unsigned)ntohs(a.sin_port));
    const char *const args[] = {"--http-port", port, NULL};
    /* Freed memory filled with junk by whichever allocator runs, so that a
     * handle read after its free is garbage at once, not only once reused. */
    const char *const env[] = {"MALLOC_CONF=junk:true", "MALLOC_PERTURB_=165",
                               "ASAN_OPTIONS=detect_leaks=1:max_free_fill_size=1048576:free_fill_byte=165", NULL};
    struct harness_node_opts o = {.args = args, .env = env};
    struct harness_node *n = harness_add_node(*state, &o);
    assert_int_equal(harness_node_start(n), 0);
    int64_t deadline = harness_now_ms() + 10000;
    while (harness_node_alive(n) && harness_now_ms() < deadline)
        cluster_poll_pause();
    assert_false(harness_node_alive(n));
    assert_true(WIFEXITED(n->exit_status));
    assert_int_equal(WEXITSTATUS(n->exit_status), 1);
    assert_true(harness_node_log_line(n, "cannot listen for HTTP on 127.0.0.1:", NULL, 0));
    n->failed = false; /* the exit was the expected outcome */
    close(sock);
    harness_pass(*state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_api_commands, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_health_status_cluster, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_resources, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_auth, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_metrics, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_cluster_add_committed, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_cluster_leader_without_http, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_sse, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_sse_flow_control, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_http_port_taken, harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
