/* test_client_endpoints.c - endpoint parsing of libeventflow (conn.h,
 * discovery.c) and where a client takes its endpoints from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/internal.h"

static void expect_endpoint(const char *text, const char *host, unsigned port, const char *addr)
{
    struct ef_endpoint ep;
    if (ef_endpoint_parse(text, strlen(text), &ep) != 0)
        fail_msg("\"%s\" was refused", text);
    assert_string_equal(ep.host, host);
    assert_int_equal(ep.port, port);
    assert_string_equal(ep.addr, addr);
}

static void expect_bad_endpoint(const char *text)
{
    struct ef_endpoint ep;
    if (ef_endpoint_parse(text, strlen(text), &ep) == 0)
        fail_msg("\"%s\" was accepted as %s", text, ep.addr);
}

static void test_endpoint_forms(void **state)
{
    (void)state;
    expect_endpoint("127.0.0.1:6543", "127.0.0.1", 6543, "127.0.0.1:6543");
    expect_endpoint("node-1.example.com:1", "node-1.example.com", 1, "node-1.example.com:1");
    expect_endpoint("localhost:65535", "localhost", 65535, "localhost:65535");
    /* No port: the default. */
    expect_endpoint("db", "db", 6543, "db:6543");
    /* Blanks around an entry are ignored. */
    expect_endpoint("  10.0.0.2:7000\t", "10.0.0.2", 7000, "10.0.0.2:7000");
    /* IPv6 needs brackets; the address keeps them. */
    expect_endpoint("[::1]:6543", "::1", 6543, "[::1]:6543");
    expect_endpoint("[fe80::1]", "fe80::1", 6543, "[fe80::1]:6543");
}

static void test_endpoint_rejects(void **state)
{
    (void)state;
    const char *bad[] = {
        "",          "   ",        ":6543",     "host:",      "host:0",   "host:65536",
        "host:123456", "host:12a", "host:-1",   "host: 1",    "::1",      "fe80::1:6543",
        "[::1",      "[::1]x",     "[::1]:",    "[]:6543",    "a b:1",    "a/b:1",
        "ho\x01st:1", "h\xc3\xa9:1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_bad_endpoint(bad[i]);
}

static void test_endpoint_length_bounded(void **state)
{
    (void)state;
    char host[300];
    memset(host, 'a', sizeof host - 1);
    host[sizeof host - 1] = '\0';
    expect_bad_endpoint(host);
    host[255] = '\0'; /* 255 characters fits */
    struct ef_endpoint ep;
    assert_int_equal(ef_endpoint_parse(host, strlen(host), &ep), 0);
    assert_int_equal(strlen(ep.host), 255);
}

static void test_list(void **state)
{
    (void)state;
    struct ef_endpoint *eps;
    size_t n;
    char err[200];
    assert_int_equal(ef_endpoints_parse("a:1, b:2 ,,c:3,", &eps, &n, err, sizeof err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(eps[0].addr, "a:1");
    assert_string_equal(eps[1].addr, "b:2");
    assert_string_equal(eps[2].addr, "c:3");
    free(eps);

    /* The same node twice is kept once. */
    assert_int_equal(ef_endpoints_parse("a:1,a:1,b", &eps, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(eps[1].addr, "b:6543");
    free(eps);
}

static void test_list_rejects(void **state)
{
    (void)state;
    struct ef_endpoint *eps = (struct ef_endpoint *)1;
    size_t n = 7;
    char err[200];
    assert_int_equal(ef_endpoints_parse("", &eps, &n, err, sizeof err), -1);
    assert_null(eps);
    assert_int_equal(n, 0);
    assert_non_null(strstr(err, "no endpoint"));
    assert_int_equal(ef_endpoints_parse(" , ,", &eps, &n, err, sizeof err), -1);
    assert_int_equal(ef_endpoints_parse("a:1,b:x", &eps, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, "b:x"));

    /* At most EF_MAX_SEEDS. */
    struct buf list;
    buf_init(&list);
    for (int i = 0; i < EF_MAX_SEEDS; i++)
        buf_printf(&list, "h%d:1,", i);
    buf_append_char(&list, '\0');
    assert_int_equal(ef_endpoints_parse(list.data, &eps, &n, err, sizeof err), 0);
    assert_int_equal(n, EF_MAX_SEEDS);
    free(eps);
    list.len--;
    buf_append_str(&list, "one-more:1");
    buf_append_char(&list, '\0');
    assert_int_equal(ef_endpoints_parse(list.data, &eps, &n, err, sizeof err), -1);
    buf_free(&list);
}

/* Options win over the environment, the environment over the default. */
static void test_client_endpoint_sources(void **state)
{
    (void)state;
    struct eventflow_options o;
    struct eventflow_client *c;

    assert_int_equal(unsetenv(EF_ENDPOINTS_ENV), 0);
    assert_int_equal(eventflow_client_new(NULL, &c), EF_OK);
    assert_int_equal(c->n_seeds, 1);
    assert_string_equal(c->seeds[0].addr, EF_DEFAULT_ENDPOINT);
    eventflow_client_free(c);

    assert_int_equal(setenv(EF_ENDPOINTS_ENV, "x:1,y:2", 1), 0);
    assert_int_equal(eventflow_client_new(NULL, &c), EF_OK);
    assert_int_equal(c->n_seeds, 2);
    assert_string_equal(c->seeds[1].addr, "y:2");
    eventflow_client_free(c);

    eventflow_options_init(&o);
    o.endpoints = "z:3";
    assert_int_equal(eventflow_client_new(&o, &c), EF_OK);
    assert_int_equal(c->n_seeds, 1);
    assert_string_equal(c->seeds[0].addr, "z:3");
    eventflow_client_free(c);

    /* A bad list in the environment is an error, not silently the default. */
    assert_int_equal(setenv(EF_ENDPOINTS_ENV, "x:1,:2", 1), 0);
    c = (struct eventflow_client *)1;
    assert_int_equal(eventflow_client_new(NULL, &c), EF_EINVAL);
    assert_null(c);
    assert_int_equal(unsetenv(EF_ENDPOINTS_ENV), 0);
}

static void test_client_options_checked(void **state)
{
    (void)state;
    struct eventflow_options o;
    struct eventflow_client *c;
    eventflow_options_init(&o);
    o.endpoints = "a:1";
    o.retry_deadline_ms = -1;
    assert_int_equal(eventflow_client_new(&o, &c), EF_EINVAL);
    o.retry_deadline_ms = 0;
    o.read_preference = (enum eventflow_read_preference)7;
    assert_int_equal(eventflow_client_new(&o, &c), EF_EINVAL);
    o.read_preference = EF_READ_ANY;
    o.consistency = (enum eventflow_consistency)9;
    assert_int_equal(eventflow_client_new(&o, &c), EF_EINVAL);
    o.consistency = EF_CONSISTENCY_LINEARIZABLE;
    o.password = "pw";
    assert_int_equal(eventflow_client_new(&o, &c), EF_OK);
    /* Zero means the defaults. */
    assert_int_equal(c->connect_timeout_ms, EF_DEFAULT_CONNECT_TIMEOUT_MS);
    assert_int_equal(c->request_timeout_ms, EF_DEFAULT_REQUEST_TIMEOUT_MS);
    assert_int_equal(c->retry_deadline_ms, EF_DEFAULT_RETRY_DEADLINE_MS);
    assert_true(c->send_keys);
    assert_string_equal(eventflow_client_last_error(c), "");
    assert_string_equal(eventflow_client_leader(c), "");
    eventflow_client_free(c);
}

/* The node table grows by address, normalized. */
static void test_node_intern(void **state)
{
    (void)state;
    struct eventflow_options o;
    struct eventflow_client *c;
    eventflow_options_init(&o);
    o.endpoints = "a:1,b:2";
    assert_int_equal(eventflow_client_new(&o, &c), EF_OK);
    assert_int_equal(ef_node_intern(c, "b:2"), 1);
    assert_int_equal(ef_node_intern(c, "c:3"), 2);
    assert_int_equal(ef_node_intern(c, "c:3"), 2);
    assert_int_equal(ef_node_intern(c, "not an address:"), -1);
    assert_int_equal(c->n_nodes, 3);
    assert_int_equal(ef_set_leader(c, "c:3"), 2);
    assert_string_equal(eventflow_client_leader(c), "c:3");
    ef_forget_leader(c);
    assert_string_equal(eventflow_client_leader(c), "");
    eventflow_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoint_forms),
        cmocka_unit_test(test_endpoint_rejects),
        cmocka_unit_test(test_endpoint_length_bounded),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_list_rejects),
        cmocka_unit_test(test_client_endpoint_sources),
        cmocka_unit_test(test_client_options_checked),
        cmocka_unit_test(test_node_intern),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
