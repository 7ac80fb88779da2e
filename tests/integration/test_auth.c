/* test_auth.c - AUTH (docs/protocol.md, "Authentication"): with a password
 * every command but AUTH answers -unauthorized until AUTH succeeds on that
 * connection; without one AUTH always answers +OK. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define PASSWORD "s3cret-pw"
#define ADD_REQ "{\"stream\":\"auth\",\"version\":\"any\",\"events\":[{\"type\":\"t\"}]}"

/* Every command and alias, each with an argument that would make it succeed
 * once authenticated. */
static const char *const all_commands[][2] = {
    {"PING", NULL},         {"P", NULL},
    {"QUIT", NULL},         {"ADD", ADD_REQ},
    {"A", ADD_REQ},         {"GET", "{\"stream\":\"auth\"}"},
    {"G", "{\"stream\":\"auth\"}"}, {"GETALL", "{}"},
    {"GA", "{}"},           {"LISTSTREAMS", NULL},
    {"LSTREAMS", NULL},     {"EVENTCOUNT", NULL},
    {"EC", NULL},           {"EVENTCOUNTEST", NULL},
    {"ECE", NULL},          {"STREAMCOUNT", NULL},
    {"SC", NULL},           {"STREAMCOUNTEST", NULL},
    {"SCE", NULL},          {"CHECKSUM", NULL},
    {"CH", NULL},           {"SIZE", NULL},
    {"S", NULL},            {"UPTIME", NULL},
    {"UP", NULL},           {"VERSION", NULL},
    {"V", NULL},            {"STATUS", NULL},
    {"METRICS", NULL},
    {"ping", NULL},         {"add", ADD_REQ},
};

static struct harness_node *start_with_password(void **state)
{
    struct harness_node_opts opts = {.password = PASSWORD};
    return harness_start_single(*state, &opts);
}

static void expect_all_unauthorized(struct harness_conn *c)
{
    for (size_t i = 0; i < sizeof all_commands / sizeof all_commands[0]; i++) {
        char *got = all_commands[i][1]
                        ? harness_cmd_repr(c, all_commands[i][0], all_commands[i][1], NULL)
                        : harness_cmd_repr(c, all_commands[i][0], NULL);
        if (strcmp(got, "-unauthorized") != 0)
            fail_msg("%s before AUTH: expected -unauthorized, got %s", all_commands[i][0], got);
        free(got);
    }
}

static void test_everything_needs_auth(void **state)
{
    struct harness_node *n = start_with_password(state);
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);

    expect_all_unauthorized(c);
    /* Inline commands too. */
    struct resp_value v;
    assert_int_equal(harness_send_raw(c, "PING\r\n", 6), 0);
    assert_int_equal(harness_read(c, &v), 1);
    harness_assert_error(&v, "unauthorized");
    resp_value_free(&v);

    /* Wrong passwords, including prefixes and extensions of the right one,
     * each on a connection of its own: failures on one connection are
     * throttled (test_acl.c). */
    const char *wrong[] = {"", "s3cret", "s3cret-p", "s3cret-pw ", "s3cret-pwx", "S3CRET-PW", "x"};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        struct harness_conn *w = harness_connect(n);
        assert_non_null(w);
        HARNESS_EXPECT(w, "-unauthorized", "AUTH", wrong[i]);
        HARNESS_EXPECT(w, "-unauthorized", "PING");
        harness_close(w);
    }
    HARNESS_EXPECT(c, "-unauthorized", "AUTH", "x");
    HARNESS_EXPECT(c, "-unauthorized", "PING");

    HARNESS_EXPECT(c, "+OK", "AUTH", PASSWORD);
    HARNESS_EXPECT(c, "+PONG", "PING");
    /* Nothing sent before AUTH was executed. */
    HARNESS_EXPECT(c, ":0", "EC");
    HARNESS_EXPECT(c, ":0", "SC");
    HARNESS_EXPECT(c, "[]", "GET", "{\"stream\":\"auth\"}");

    /* Authenticated, every command works. */
    struct resp_value added;
    assert_int_equal(harness_cmd(c, &added, "ADD", ADD_REQ, NULL), 0);
    json_t *events = harness_assert_events(&added);
    assert_int_equal(json_array_size(events), 1);
    json_decref(events);
    resp_value_free(&added);
    HARNESS_EXPECT(c, ":1", "EC");
    HARNESS_EXPECT(c, ":1", "SC");
    HARNESS_EXPECT(c, ":1", "ECE");
    HARNESS_EXPECT(c, ":1", "SCE");
    assert_int_equal(harness_cmd(c, &v, "GETALL", "{}", NULL), 0);
    assert_int_equal(v.type, RESP_T_ARRAY);
    assert_int_equal(v.n, 1);
    resp_value_free(&v);
    assert_int_equal(harness_cmd(c, &v, "LISTSTREAMS", NULL), 0);
    assert_int_equal(v.type, RESP_T_ARRAY);
    assert_int_equal(v.n, 1);
    resp_value_free(&v);
    const char *arrays[] = {"CHECKSUM", "SIZE", "UPTIME"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(harness_cmd(c, &v, arrays[i], NULL), 0);
        assert_int_equal(v.type, RESP_T_ARRAY);
        assert_int_equal(v.n, 2);
        resp_value_free(&v);
    }
    assert_int_equal(harness_cmd(c, &v, "VERSION", NULL), 0);
    assert_int_equal(v.type, RESP_T_SIMPLE);
    resp_value_free(&v);

    /* AUTH again with the right password: +OK, still authenticated. */
    HARNESS_EXPECT(c, "+OK", "AUTH", PASSWORD);
    HARNESS_EXPECT(c, "+PONG", "PING");

    /* Authentication belongs to the connection. */
    struct harness_conn *other = harness_connect(n);
    assert_non_null(other);
    HARNESS_EXPECT(other, "-unauthorized", "PING");
    HARNESS_EXPECT(other, "-unauthorized", "ADD", ADD_REQ);
    HARNESS_EXPECT(c, ":1", "EC");

    /* QUIT once authenticated: +OK and the connection closes. */
    HARNESS_EXPECT(c, "+OK", "QUIT");
    assert_int_equal(harness_read(c, &v), 0);
    harness_close(c);
    harness_close(other);
    harness_pass(*state);
}

static void test_auth_with_redis_cli(void **state)
{
    struct harness_node *n = start_with_password(state);
    int code;
    char *out = harness_redis_cli(n, NULL, &code, "--no-raw", "EC", (const char *)NULL);
    assert_non_null(out);
    assert_string_equal(out, "(error) unauthorized\n");
    free(out);

    out = harness_redis_cli(n, NULL, &code, "--no-raw", "--no-auth-warning", "-a", PASSWORD, "EC",
                            (const char *)NULL);
    assert_non_null(out);
    assert_int_equal(code, 0);
    assert_string_equal(out, "(integer) 0\n");
    free(out);

    /* A session: AUTH on the connection, then commands. */
    out = harness_redis_cli(n, "PING\nAUTH wrong\nPING\nAUTH " PASSWORD "\nPING\nSC\n", &code,
                            "--no-raw", (const char *)NULL);
    assert_non_null(out);
    assert_string_equal(out, "(error) unauthorized\n(error) unauthorized\n(error) unauthorized\n"
                             "OK\nPONG\n(integer) 0\n");
    free(out);
    harness_pass(*state);
}

static void test_password_flag_wins_over_environment(void **state)
{
    const char *args[] = {"--password", "from-flag", NULL};
    const char *env[] = {"PASSWORD=from-env", NULL};
    struct harness_node_opts opts = {.password = "from-flag", .args = args, .env = env};
    struct harness_node *n = harness_start_single(*state, &opts);
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    HARNESS_EXPECT(c, "-unauthorized", "AUTH", "from-env");
    HARNESS_EXPECT(c, "-unauthorized", "EC");
    HARNESS_EXPECT(c, "+OK", "AUTH", "from-flag");
    HARNESS_EXPECT(c, ":0", "EC");
    harness_pass(*state);
}

static void test_no_password(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    /* Auth is off: commands work at once, AUTH of anything is +OK. */
    HARNESS_EXPECT(c, "+PONG", "PING");
    HARNESS_EXPECT(c, "+OK", "AUTH", "anything");
    HARNESS_EXPECT(c, "+OK", "AUTH", "");
    HARNESS_EXPECT(c, "+OK", "AUTH", PASSWORD);
    HARNESS_EXPECT(c, ":0", "EC");
    HARNESS_EXPECT(c, "+PONG", "PING");
    harness_pass(*state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_everything_needs_auth, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_auth_with_redis_cli, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_password_flag_wins_over_environment, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_no_password, harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
