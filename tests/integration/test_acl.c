/* test_acl.c - users and ACLs (docs/protocol.md, "Users and ACLs"):
 *
 * one node: users created with ACL SETUSER log in with AUTH <user>
 * <password> (and HELLO, and redis-cli --user); each right lets through
 * what it names and nothing else, a refusal answers -NOPERM and changes
 * nothing, bad ACL input changes nothing, a rule changed or a user deleted
 * binds connections already open; HTTP requests with the password are the
 * default user; eventflowctl logs in as a user and manages users; failed
 * AUTHs are throttled and then the connection is closed;
 *
 * three nodes: users made through the leader log in on every node, a
 * follower brought back by a state transfer gets them with the store (the
 * transfer runs as the nodes' own identity, which the restricted default
 * user cannot lock out), and the rules hold after kill -9 of the leader
 * and after a restart of every node. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "cluster.h"
#include "harness.h"
#include "http_client.h"

#define PASSWORD "s3cret-pw"

static char *add_req(const char *stream)
{
    char *s = malloc(160);
    assert_non_null(s);
    snprintf(s, 160, "{\"stream\":\"%s\",\"version\":\"any\",\"events\":[{\"type\":\"t\"}]}", stream);
    return s;
}

/* A new connection logged in as user (NULL: AUTH <password>). */
static struct harness_conn *login(const struct harness_node *n, const char *user, const char *pw)
{
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    if (user != NULL)
        HARNESS_EXPECT(c, "+OK", "AUTH", user, pw);
    else
        HARNESS_EXPECT(c, "+OK", "AUTH", pw);
    return c;
}

/* Whether user logs in on n now (a connection per try: failures on one
 * connection are throttled). */
static bool can_login(const struct harness_node *n, const char *user, const char *pw)
{
    struct harness_conn *c = harness_connect(n);
    if (c == NULL)
        return false;
    char *r = harness_cmd_repr(c, "AUTH", user, pw, (const char *)NULL);
    bool ok = strcmp(r, "+OK") == 0;
    free(r);
    harness_close(c);
    return ok;
}

static void wait_login(const struct harness_node *n, const char *user, const char *pw)
{
    int64_t deadline = harness_now_ms() + CLUSTER_WAIT_MS;
    while (!can_login(n, user, pw)) {
        if (harness_now_ms() > deadline)
            fail_msg("user %s cannot log in on node %u", user, n->id);
        cluster_poll_pause();
    }
}

static void expect_noperm(struct harness_conn *c, const char *a0, const char *a1, const char *a2)
{
    char *r = harness_cmd_repr(c, a0, a1, a2, (const char *)NULL);
    if (strncmp(r, "-NOPERM ", 8) != 0)
        fail_msg("%s %s: expected -NOPERM, got %s", a0, a1 != NULL ? a1 : "", r);
    free(r);
}

/* Run eventflowctl against n with args (fixed words: no quoting needed):
 * it must exit with code and print `want` (output and stderr). */
static void expect_ctl(const struct harness_node *n, const char *args, int code, const char *want)
{
    const char *bin = getenv("EVENTFLOWCTL");
    assert_non_null(bin);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "'%s' -e 127.0.0.1:%u %s 2>&1", bin, n->port, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[8192];
    size_t len = fread(out, 1, sizeof out - 1, p);
    out[len] = '\0';
    int st = pclose(p);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != code || strstr(out, want) == NULL)
        fail_msg("eventflowctl %s: expected exit %d and \"%s\", got status %d: %s", args, code, want, st, out);
}

/* An HTTP request with Basic credentials (base64 of "user:password"):
 * its status; the body, when want_in_body is given, must contain it. */
static int http_as(const struct harness_node *n, const char *method, const char *path, const char *basic,
                   const char *body, const char *want_in_body)
{
    char header[256];
    snprintf(header, sizeof header, "Authorization: Basic %s", basic);
    const char *const headers[] = {header, NULL};
    struct http_reply hr;
    assert_int_equal(http_request_once(n->http_port, method, path, headers, body, &hr), 0);
    if (want_in_body != NULL && strstr(hr.body, want_in_body) == NULL)
        fail_msg("%s %s: %d %s lacks %s", method, path, hr.status, hr.body, want_in_body);
    int status = hr.status;
    http_reply_free(&hr);
    return status;
}

static void test_rights(void **state)
{
    struct harness_node_opts o = {.password = PASSWORD};
    struct harness_node *n = harness_start_single(*state, &o);
    struct harness_conn *root = login(n, NULL, PASSWORD);
    HARNESS_EXPECT(root, "\"default\"", "ACL", "WHOAMI");
    HARNESS_EXPECT(root, "+OK", "ACL", "SETUSER", "writer", "wpw", "write:orders-", "read:orders-");
    HARNESS_EXPECT(root, "+OK", "ACL", "SETUSER", "reader", "rpw", "read:orders-");
    HARNESS_EXPECT(root, "+OK", "ACL", "SETUSER", "auditor", "apw", "all", "subscribe:*");
    HARNESS_EXPECT(root, "+OK", "ACL", "SETUSER", "ops", "opw", "admin");
    const char *list = "[\"auditor all subscribe:*\", \"ops admin\", \"reader read:orders-\", "
                       "\"writer write:orders- read:orders-\"]";
    HARNESS_EXPECT(root, list, "ACL", "LIST");

    /* Bad input: a clear error, and the users stay as they were. */
    struct harness_conn *c = root;
    char *r = harness_cmd_repr(c, "ACL", "SETUSER", "a b", "pw", (const char *)NULL);
    assert_non_null(strstr(r, "invalid user name"));
    free(r);
    HARNESS_EXPECT(c, "-names starting with '@' are the nodes' own; nothing was done", "ACL", "SETUSER", "@peer",
                   "pw", "admin");
    r = harness_cmd_repr(c, "ACL", "SETUSER", "reader", "pw", "read:x", "rread:y", (const char *)NULL);
    assert_string_equal(r, "-invalid rule 'rread:y': expected admin, all, read:<prefix>, write:<prefix> or "
                           "subscribe:<prefix>; nothing was done");
    free(r);
    r = harness_cmd_repr(c, "ACL", "SETUSER", "reader", "", (const char *)NULL);
    assert_non_null(strstr(r, "a password has 1 to 1024 bytes"));
    free(r);
    HARNESS_EXPECT(c, "-usage: ACL SETUSER <user> <password> [rule ...]", "ACL", "SETUSER", "x");
    HARNESS_EXPECT(c, "-no such user 'nobody'; nothing was done", "ACL", "DELUSER", "nobody");
    HARNESS_EXPECT(c, "-unknown ACL subcommand: SETUSER, DELUSER, LIST or WHOAMI", "ACL", "CAT");
    HARNESS_EXPECT(root, list, "ACL", "LIST");
    /* reader's old password still works: the refused SETUSER did nothing. */
    assert_true(can_login(n, "reader", "rpw"));

    /* Wrong password, unknown user, the nodes' name without their token. */
    assert_false(can_login(n, "reader", "wpw"));
    assert_false(can_login(n, "nobody", "rpw"));
    assert_false(can_login(n, "@peer", PASSWORD));
    struct harness_conn *w = harness_connect(n);
    assert_non_null(w);
    HARNESS_EXPECT(w, "-WRONGPASS invalid username-password pair", "AUTH", "writer", "rpw");
    HARNESS_EXPECT(w, "-unauthorized", "PING");
    HARNESS_EXPECT(w, "+OK", "AUTH", "writer", "wpw");
    HARNESS_EXPECT(w, "\"writer\"", "ACL", "WHOAMI");

    /* A request pipelined behind a user's AUTH waits for it, and is read
     * with the limits of an authenticated connection (this argument is
     * over the 4 KiB allowed before AUTH). */
    struct resp_value pv;
    struct harness_conn *pl = harness_connect(n);
    assert_non_null(pl);
    char *big = malloc(6000);
    assert_non_null(big);
    snprintf(big, 6000, "{\"stream\":\"orders-1\",\"limit\":1}");
    size_t blen = strlen(big);
    memset(big + blen, ' ', 5000);
    big[blen + 5000] = '\0';
    harness_queue(pl, "AUTH", "writer", "wpw", NULL);
    harness_queue(pl, "GET", big, NULL);
    size_t want = 2;
    assert_int_equal(harness_pump(&pl, 1, &want, 10000), 0);
    assert_int_equal(harness_read(pl, &pv), 1);
    harness_assert_simple(&pv, "OK");
    resp_value_free(&pv);
    assert_int_equal(harness_read(pl, &pv), 1);
    json_decref(harness_assert_events(&pv));
    resp_value_free(&pv);
    free(big);
    harness_close(pl);

    /* writer: write and read under orders-, nothing else. */
    char *ok_add = add_req("orders-1");
    char *other_add = add_req("payments-1");
    struct resp_value v;
    assert_int_equal(harness_cmd(w, &v, "ADD", ok_add, NULL), 0);
    json_decref(harness_assert_events(&v));
    resp_value_free(&v);
    HARNESS_EXPECT(root, ":1", "EC");
    expect_noperm(w, "ADD", other_add, NULL);
    r = harness_cmd_repr(w, "ADD", other_add, (const char *)NULL);
    assert_string_equal(r, "-NOPERM user 'writer' has no write right on stream 'payments-1'; nothing was done");
    free(r);
    expect_noperm(w, "GET", "{\"stream\":\"payments-1\"}", NULL);
    expect_noperm(w, "GETALL", "{}", NULL);
    expect_noperm(w, "LISTSTREAMS", NULL, NULL);
    expect_noperm(w, "SUBSCRIBE", "orders-1", NULL);
    expect_noperm(w, "SNAPSHOT", "BEGIN", NULL);
    expect_noperm(w, "CONFIG", "SET", "dedup-window");
    expect_noperm(w, "CLUSTER", "REMOVE", "7");
    expect_noperm(w, "ACL", "LIST", NULL);
    expect_noperm(w, "ACL", "DELUSER", "reader");
    expect_noperm(w, "GROUP", "CREATE", "{\"group\":\"g\",\"stream\":\"orders-1\"}");
    assert_int_equal(harness_cmd(w, &v, "GET", "{\"stream\":\"orders-1\"}", NULL), 0);
    json_t *got = harness_assert_events(&v);
    assert_int_equal(json_array_size(got), 1);
    json_decref(got);
    resp_value_free(&v);
    /* What every user may still do: introspection and the Redis view. */
    HARNESS_EXPECT(w, "+PONG", "PING");
    HARNESS_EXPECT(w, ":1", "EC");
    assert_int_equal(harness_cmd(w, &v, "CLUSTER", "SLOTS", NULL), 0);
    assert_int_equal(v.type, RESP_T_ARRAY);
    resp_value_free(&v);
    HARNESS_EXPECT(root, ":1", "EC");
    HARNESS_EXPECT(root, "[]", "GET", "{\"stream\":\"payments-1\"}");
    HARNESS_EXPECT(root, "[\"dedup-window\", \"1048576\"]", "CONFIG", "GET", "dedup-window");
    HARNESS_EXPECT(root, list, "ACL", "LIST");

    /* Groups: administration is admin's; reading one needs the read
     * right on its stream. */
    HARNESS_EXPECT(root, "+OK", "GROUP", "CREATE", "{\"group\":\"go\",\"stream\":\"orders-1\"}");
    HARNESS_EXPECT(root, "+OK", "GROUP", "CREATE", "{\"group\":\"gp\",\"stream\":\"payments-1\"}");
    assert_int_equal(harness_cmd(w, &v, "GROUP", "READ", "{\"group\":\"go\",\"consumer\":\"c\"}", NULL), 0);
    got = harness_assert_events(&v);
    assert_int_equal(json_array_size(got), 1);
    json_decref(got);
    resp_value_free(&v);
    expect_noperm(w, "GROUP", "READ", "{\"group\":\"gp\",\"consumer\":\"c\"}");
    expect_noperm(w, "GROUP", "INFO", "gp");
    expect_noperm(w, "GROUP", "DESTROY", "go");
    expect_noperm(w, "GROUP", "LIST", NULL);

    /* reader reads, never writes. */
    struct harness_conn *rd = login(n, "reader", "rpw");
    expect_noperm(rd, "ADD", ok_add, NULL);
    HARNESS_EXPECT(root, ":1", "EC");

    /* auditor: the global log and subscriptions, no stream writes. */
    struct harness_conn *au = login(n, "auditor", "apw");
    assert_int_equal(harness_cmd(au, &v, "GETALL", "{}", NULL), 0);
    assert_int_equal(v.type, RESP_T_ARRAY);
    assert_int_equal(v.n, 1);
    resp_value_free(&v);
    assert_int_equal(harness_cmd(au, &v, "LISTSTREAMS", NULL), 0);
    assert_int_equal(v.n, 1);
    resp_value_free(&v);
    expect_noperm(au, "ADD", ok_add, NULL);
    expect_noperm(au, "GET", "{\"stream\":\"orders-1\"}", NULL);
    HARNESS_EXPECT(au, "[\"subscribe\", \"$all\", :1]", "SUBSCRIBE", "$all");

    /* ops: administration, and no events. */
    struct harness_conn *op = login(n, "ops", "opw");
    HARNESS_EXPECT(op, "+OK", "CONFIG", "SET", "dedup-window", "1000");
    expect_noperm(op, "ADD", ok_add, NULL);
    expect_noperm(op, "GETALL", "{}", NULL);

    /* HELLO and redis-cli log users in too. */
    struct harness_conn *h = harness_connect(n);
    assert_non_null(h);
    assert_int_equal(harness_cmd(h, &v, "HELLO", "3", "AUTH", "reader", "rpw", NULL), 0);
    assert_int_equal(v.type, RESP_T_MAP);
    resp_value_free(&v);
    HARNESS_EXPECT(h, "\"reader\"", "ACL", "WHOAMI");
    HARNESS_EXPECT(h, "-WRONGPASS invalid username-password pair", "HELLO", "3", "AUTH", "reader", "x");
    HARNESS_EXPECT(h, "-unauthorized", "PING");
    harness_close(h);
    int code;
    char *out = harness_redis_cli(n, NULL, &code, "--user", "writer", "--pass", "wpw", "--no-auth-warning", "ACL",
                                  "WHOAMI", (const char *)NULL);
    assert_non_null(out);
    assert_int_equal(code, 0);
    assert_string_equal(out, "writer\n");
    free(out);

    /* Over HTTP, Basic credentials name the user, bound by its rules. */
    static const char writer_b64[] = "d3JpdGVyOndwdw==", reader_b64[] = "cmVhZGVyOnJwdw==";
    assert_int_equal(http_as(n, "POST", "/streams/orders-9", writer_b64, "[{\"type\":\"T\"}]", NULL), 200);
    assert_int_equal(http_as(n, "POST", "/streams/payments-1", writer_b64, "[{\"type\":\"T\"}]",
                             "no write right on stream 'payments-1'"),
                     403);
    /* The same header again: the remembered login, the same verdicts. */
    assert_int_equal(http_as(n, "GET", "/streams/orders-9", writer_b64, NULL, "\"type\":\"T\""), 200);
    assert_int_equal(http_as(n, "GET", "/streams/orders-9", reader_b64, NULL, "\"type\":\"T\""), 200);
    assert_int_equal(http_as(n, "GET", "/all", reader_b64, NULL, "NOPERM"), 403);
    assert_int_equal(http_as(n, "GET", "/streams/orders-9", "d3JpdGVyOndyb25n" /* writer:wrong */, NULL, NULL), 401);
    assert_int_equal(http_as(n, "GET", "/streams/orders-9", "QHBlZXI6eA==" /* @peer:x */, NULL, NULL), 401);
    assert_int_equal(http_as(n, "GET", "/streams/orders-9", "bm9zdWNoOg==" /* nosuch: */, NULL, NULL), 401);
    /* A name that is no user, with the password, is the default user
     * (curl -u any:<password>). */
    static const char any_b64[] = "YW55OnMzY3JldC1wdw=="; /* any:s3cret-pw */
    assert_int_equal(http_as(n, "GET", "/all", any_b64, NULL, "orders-9"), 200);

    /* A changed rule binds the open connection at its next command; a
     * deleted user is logged out, over RESP and HTTP alike. */
    HARNESS_EXPECT(root, "+OK", "ACL", "SETUSER", "writer", "wpw", "read:orders-");
    expect_noperm(w, "ADD", ok_add, NULL);
    assert_int_equal(http_as(n, "POST", "/streams/orders-9", writer_b64, "[{\"type\":\"T\"}]", "NOPERM"), 403);
    HARNESS_EXPECT(root, "+OK", "ACL", "DELUSER", "reader");
    HARNESS_EXPECT(rd, "-unauthorized", "GET", "{\"stream\":\"orders-1\"}");
    assert_false(can_login(n, "reader", "rpw"));
    assert_int_equal(http_as(n, "GET", "/streams/orders-9", reader_b64, NULL, NULL), 401);
    HARNESS_EXPECT(root, ":2", "EC");

    /* Restricting the default user binds the password login too. */
    HARNESS_EXPECT(root, "+OK", "ACL", "SETUSER", "default", PASSWORD, "read:*");
    expect_noperm(root, "ADD", ok_add, NULL);
    struct harness_conn *d = login(n, NULL, PASSWORD);
    expect_noperm(d, "ACL", "LIST", NULL);
    HARNESS_EXPECT(d, "[]", "GET", "{\"stream\":\"payments-1\"}");
    /* HTTP requests that carry the password are the default user too. */
    static const char *const bearer[] = {"Authorization: Bearer " PASSWORD, NULL};
    struct http_reply hr;
    assert_int_equal(http_request_once(n->http_port, "POST", "/streams/payments-1", bearer, "[{\"type\":\"T\"}]", &hr),
                     0);
    assert_int_equal(hr.status, 403);
    assert_non_null(strstr(hr.body, "\"NOPERM\""));
    http_reply_free(&hr);
    assert_int_equal(http_request_once(n->http_port, "GET", "/streams/orders-1", bearer, NULL, &hr), 0);
    assert_int_equal(hr.status, 200);
    http_reply_free(&hr);
    HARNESS_EXPECT(d, ":2", "EC");

    /* Rules are in the store: a restart keeps them. */
    harness_close(w), harness_close(rd), harness_close(au), harness_close(op), harness_close(d), harness_close(root);
    harness_assert_stop(n);
    harness_assert_restart(n);
    w = login(n, "writer", "wpw");
    expect_noperm(w, "ADD", ok_add, NULL);
    HARNESS_EXPECT(w, "[]", "GET", "{\"stream\":\"orders-2\"}");
    assert_false(can_login(n, "reader", "rpw"));
    harness_close(w);

    /* eventflowctl (libeventflow) logs in as a user too, and manages
     * users as the admin ops. */
    expect_ctl(n, "--user writer --password wpw get orders-1", 0, "orders-1");
    expect_ctl(n, "--user writer --password wpw append orders-1 T", 3,
               "NOPERM user 'writer' has no write right on stream 'orders-1'");
    expect_ctl(n, "--user writer --password wrong get orders-1", 3, "WRONGPASS");
    expect_ctl(n, "--user ops --password opw user add cli-u cpw read:orders- all", 0, "user cli-u set\n");
    expect_ctl(n, "--user ops --password opw -o json user list", 0,
               "{\"user\":\"cli-u\",\"rules\":[\"read:orders-\",\"all\"]}\n");
    expect_ctl(n, "--user cli-u --password cpw user whoami", 0, "cli-u\n");
    expect_ctl(n, "--user cli-u --password cpw user add x y admin", 3, "NOPERM");
    expect_ctl(n, "--user ops --password opw user del cli-u", 0, "user cli-u deleted\n");
    assert_false(can_login(n, "cli-u", "cpw"));
    assert_false(can_login(n, "x", "y"));
    d = login(n, NULL, PASSWORD);
    HARNESS_EXPECT(d, ":2", "EC");
    harness_close(d);
    free(ok_add);
    free(other_add);
    harness_pass(*state);
}

/* Three failures are free; then each AUTH within a delay that doubles
 * is refused unchecked, and the tenth failure closes the connection. */
static void test_auth_rate_limit(void **state)
{
    struct harness_node_opts o = {.password = PASSWORD};
    struct harness_node *n = harness_start_single(*state, &o);
    struct harness_conn *root = login(n, NULL, PASSWORD);
    HARNESS_EXPECT(root, "+OK", "ACL", "SETUSER", "u", "upw", "read:*");
    harness_close(root);

    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    for (int i = 0; i < 3; i++)
        HARNESS_EXPECT(c, "-WRONGPASS invalid username-password pair", "AUTH", "u", "guess");
    /* The right password is not even checked now; it is once the delay
     * the server gives is over (1 s: a stalled test machine does not
     * outlast it between two requests). */
    char *r = harness_cmd_repr(c, "AUTH", "u", "upw", (const char *)NULL);
    const char *too_many = "-TOOMANY failed AUTH attempts on this connection; nothing was checked: retry in ";
    assert_true(strncmp(r, too_many, strlen(too_many)) == 0);
    long wait_ms = strtol(r + strlen(too_many), NULL, 10);
    assert_true(wait_ms > 0 && wait_ms <= 1000);
    free(r);
    HARNESS_EXPECT(c, "-unauthorized", "PING");
    assert_true(harness_node_log_says(n, "3 failed AUTH attempts; further attempts are throttled"));
    struct timespec pause = {(wait_ms + 20) / 1000, (wait_ms + 20) % 1000 * 1000000};
    nanosleep(&pause, NULL);
    HARNESS_EXPECT(c, "+OK", "AUTH", "u", "upw");
    HARNESS_EXPECT(c, "+PONG", "PING");
    harness_close(c);

    /* A guesser that ignores the delay is cut off. */
    c = harness_connect(n);
    assert_non_null(c);
    struct resp_value v;
    int replies = 0;
    for (int i = 0; i < 12; i++) {
        if (harness_send(c, "AUTH", "u", "guess", NULL) != 0 || harness_read(c, &v) != 1)
            break;
        harness_assert_error_prefix(&v, i < 3 ? "WRONGPASS" : "TOOMANY");
        resp_value_free(&v);
        replies++;
    }
    assert_int_equal(replies, 10);
    assert_true(harness_node_log_says(n, "10 failed AUTH attempts; closing the connection"));
    harness_close(c);
    /* Other connections are not affected. */
    assert_true(can_login(n, "u", "upw"));
    harness_pass(*state);
}

/* Snapshots every 64 entries keeping 16: a follower's own log soon
 * starts past the early entries. */
static const char *const snapshot_often[] = {"--snapshot-threshold", "64", "--snapshot-trailing", "16", NULL};

static void test_cluster_users(void **state)
{
    enum { N = 3 };
    struct harness_node_opts opts[N];
    for (size_t i = 0; i < N; i++)
        opts[i] = (struct harness_node_opts){.password = PASSWORD, .args = snapshot_often};
    struct cluster c;
    cluster_start_opts(&c, *state, N, opts);
    size_t l = cluster_leader(&c);
    struct harness_conn *root = login(c.n[l], NULL, PASSWORD);
    HARNESS_EXPECT(root, "+OK", "ACL", "SETUSER", "ops", "opw", "admin");
    HARNESS_EXPECT(root, "+OK", "ACL", "SETUSER", "writer", "wpw", "write:w-", "read:w-");
    /* The default user keeps every right but admin: what nodes need of
     * each other (a state transfer's SNAPSHOT BEGIN) is then refused to
     * the password, and must go through the nodes' own identity. */
    HARNESS_EXPECT(root, "+OK", "ACL", "SETUSER", "default", PASSWORD, "read:*", "write:*", "all", "subscribe:*");
    harness_close(root);
    /* Followers too, once applied; a follower refuses what the leader
     * would (and sends a permitted write to the leader). */
    char *w_add = add_req("w-1");
    char *x_add = add_req("x-1");
    for (size_t i = 0; i < N; i++) {
        wait_login(c.n[i], "writer", "wpw");
        struct harness_conn *w = login(c.n[i], "writer", "wpw");
        expect_noperm(w, "ADD", x_add, NULL);
        if (i != l) {
            char *r = harness_cmd_repr(w, "ADD", w_add, (const char *)NULL);
            assert_true(strncmp(r, "-MOVED ", 7) == 0);
            free(r);
        }
        harness_close(w);
    }

    /* A follower brought back by a state transfer: its store lost once
     * its own raft log no longer holds the early entries (as
     * test_cluster.c's test_lost_store_refetched), so only a copy of a
     * peer's store can bring it back. */
    size_t f = (l + 1) % N;
    char *last = NULL;
    int64_t deadline = harness_now_ms() + CLUSTER_WAIT_MS;
    for (;;) {
        free(last);
        last = cluster_node_write_events(c.n[l], "w-bulk", 40);
        if (cluster_node_status_int(c.n[f], "snapshot_index") > 64)
            break;
        assert_true(harness_now_ms() < deadline);
    }
    cluster_assert_converged(&c, last);
    harness_assert_stop(c.n[f]);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/store'", c.n[f]->data_dir);
    assert_int_equal(system(cmd), 0);
    struct harness_conn *ops = login(c.n[l], "ops", "opw");
    HARNESS_EXPECT(ops, "+OK", "ACL", "SETUSER", "late", "lpw", "read:w-");
    harness_close(ops);
    assert_int_equal(harness_node_start(c.n[f]), 0);
    cluster_assert_converged(&c, last);
    free(last);
    assert_int_equal(cluster_node_status_int(c.n[f], "state_fetches"), 1);
    wait_login(c.n[f], "late", "lpw");
    struct harness_conn *late = login(c.n[f], "late", "lpw");
    expect_noperm(late, "GET", "{\"stream\":\"x-1\"}", NULL);
    harness_close(late);

    /* kill -9 of the leader: the new one enforces the same rules. */
    harness_assert_kill(c.n[l]);
    size_t l2 = cluster_leader(&c);
    struct harness_conn *w = login(c.n[l2], "writer", "wpw");
    struct resp_value v;
    assert_int_equal(harness_cmd(w, &v, "ADD", w_add, NULL), 0);
    json_decref(harness_assert_events(&v));
    resp_value_free(&v);
    expect_noperm(w, "ADD", x_add, NULL);
    harness_close(w);
    /* Up and following before it is stopped again with the others. */
    assert_int_equal(harness_node_start(c.n[l]), 0);
    assert_int_equal(harness_wait_status(c.n[l], cluster_has_leader, NULL, CLUSTER_WAIT_MS), 0);

    /* Every node restarted: still there. */
    for (size_t i = 0; i < N; i++)
        harness_assert_stop(c.n[i]);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(harness_node_start(c.n[i]), 0);
    l = cluster_leader(&c);
    for (size_t i = 0; i < N; i++) {
        wait_login(c.n[i], "writer", "wpw");
        w = login(c.n[i], "writer", "wpw");
        expect_noperm(w, "GET", "{\"stream\":\"x-1\"}", NULL);
        harness_close(w);
    }
    struct harness_conn *d = login(c.n[l], NULL, PASSWORD);
    expect_noperm(d, "ACL", "LIST", NULL);
    harness_close(d);
    free(w_add);
    free(x_add);
    harness_pass(*state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rights, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_auth_rate_limit, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_cluster_users, harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
