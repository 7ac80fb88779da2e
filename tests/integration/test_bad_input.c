/* test_bad_input.c - hostile and broken clients: framing errors, oversized
 * lengths, invalid JSON and values, unknown commands, clients that vanish
 * mid-request or never read. After each case the server must still answer
 * on a new connection, with nothing changed. The node runs with small
 * limits so they are cheap to reach. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "harness.h"

#define MAX_BULK 65536
#define MAX_EVENTS 10
#define MAX_EVENT_SIZE 1024
#define SEED_EVENTS 3

static struct harness_node *start_limited(void **state)
{
    static const char *const args[] = {"--max-bulk", "65536", "--max-events", "10",
                                       "--max-event-size", "1024", NULL};
    struct harness_node_opts opts = {.args = args};
    struct harness_node *n = harness_start_single(*state, &opts);

    /* Some state to see unchanged. */
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    struct resp_value v;
    assert_int_equal(harness_cmd(c, &v, "ADD",
                                 "{\"stream\":\"seed\",\"version\":0,\"events\":[{\"type\":\"a\"},"
                                 "{\"type\":\"b\",\"data\":\"x\"},{\"type\":\"c\"}]}",
                                 NULL),
                     0);
    assert_int_equal(v.type, RESP_T_ARRAY);
    assert_int_equal(v.n, SEED_EVENTS);
    resp_value_free(&v);
    harness_close(c);
    return n;
}

/* The server is alive and answers a new connection, and holds `events`
 * events in `streams` streams. */
static void assert_unchanged(const struct harness_node *n, int64_t events, int64_t streams)
{
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    HARNESS_EXPECT(c, "+PONG", "PING");
    struct resp_value v;
    assert_int_equal(harness_cmd(c, &v, "EC", NULL), 0);
    harness_assert_int(&v, events);
    resp_value_free(&v);
    assert_int_equal(harness_cmd(c, &v, "SC", NULL), 0);
    harness_assert_int(&v, streams);
    resp_value_free(&v);
    harness_close(c);
}

/* Send as much of p as the server takes within timeout_ms, never blocking
 * longer, and ignoring a connection the server has closed. Returns the
 * bytes sent. */
static size_t send_what_fits(struct harness_conn *c, const char *p, size_t n, int timeout_ms)
{
    size_t off = 0;
    int64_t deadline = harness_now_ms() + timeout_ms;
    while (off < n) {
        ssize_t k = send(c->fd, p + off, n - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k > 0) {
            off += (size_t)k;
            continue;
        }
        if (k < 0 && errno != EAGAIN && errno != EINTR)
            break;
        int64_t left = deadline - harness_now_ms();
        struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            break;
    }
    return off;
}

/* Send bytes and expect "-Protocol error..." and then the connection closed. */
static void expect_protocol_error(const struct harness_node *n, const char *p, size_t len)
{
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    send_what_fits(c, p, len, 2000);
    struct resp_value v;
    int rc = harness_read(c, &v);
    if (rc != 1)
        fail_msg("no reply to %zu bytes starting '%.40s' (rc %d)", len, p, rc);
    if (v.type != RESP_T_ERROR || strncmp(v.str, "Protocol error", 14) != 0) {
        char *got = harness_repr(&v);
        fail_msg("input '%.60s': expected -Protocol error..., got %s", p, got);
    }
    resp_value_free(&v);
    rc = harness_read(c, &v);
    if (rc != 0)
        fail_msg("input '%.60s': the connection stayed open after a protocol error", p);
    harness_close(c);
}

static void test_broken_framing(void **state)
{
    struct harness_node *n = start_limited(state);
    static const char *const inputs[] = {
        "*1\r\n$4\r\nPINGxx\r\n",           /* bulk not followed by CRLF */
        "*x\r\n",                           /* bad multibulk length */
        "*1\r\n$abc\r\n",                   /* bad bulk length */
        "*1\r\n$4x\r\nPING\r\n",            /* bad bulk length */
        "*1\r\n$-3\r\n",                    /* negative bulk length */
        "*2\r\n$3\r\nGET\r\n:5\r\n",        /* element is not a bulk */
        "*2\r\n$3\r\nGET\r\n+{}\r\n",       /* element is not a bulk */
        "*1\r\n$99999999999999999999999\r\n", /* overflowing bulk length */
        "GET \"{}\r\n",                     /* unbalanced quotes, inline */
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        expect_protocol_error(n, inputs[i], strlen(inputs[i]));
        assert_unchanged(n, SEED_EVENTS, 1);
    }
    harness_pass(*state);
}

/* Declared lengths over the limits are refused when the header arrives:
 * the body is never sent, so a server waiting for it would time out. */
static void test_oversized_lengths_rejected_at_once(void **state)
{
    struct harness_node *n = start_limited(state);
    char over_limit[64];
    snprintf(over_limit, sizeof over_limit, "*2\r\n$3\r\nGET\r\n$%d\r\n", MAX_BULK + 1);
    const char *inputs[] = {
        "*1\r\n$999999999999\r\n",
        "*2\r\n$3\r\nADD\r\n$999999999999\r\n",
        over_limit,
        "*99999999999\r\n",
        "*2147483648\r\n",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        int64_t t0 = harness_now_ms();
        expect_protocol_error(n, inputs[i], strlen(inputs[i]));
        /* At once: well before the client's 10 s receive timeout. */
        assert_true(harness_now_ms() - t0 < 5000);
        assert_unchanged(n, SEED_EVENTS, 1);
    }

    /* An inline line longer than any limit, without its line end. */
    size_t len = 200000;
    char *line = malloc(len);
    assert_non_null(line);
    memset(line, 'a', len);
    expect_protocol_error(n, line, len);
    free(line);
    assert_unchanged(n, SEED_EVENTS, 1);

    /* Exactly the limit is accepted: a GET whose JSON is padded with
     * whitespace to MAX_BULK bytes. */
    char *big = malloc(MAX_BULK + 1);
    assert_non_null(big);
    const char head[] = "{\"stream\":\"seed\",\"version\":2";
    memcpy(big, head, sizeof head - 1);
    memset(big + sizeof head - 1, ' ', MAX_BULK - (sizeof head - 1) - 1);
    big[MAX_BULK - 1] = '}';
    big[MAX_BULK] = '\0';
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    const char *argv[] = {"GET", big};
    size_t lens[] = {3, MAX_BULK};
    assert_int_equal(harness_send_argv(c, 2, argv, lens), 0);
    struct resp_value v;
    assert_int_equal(harness_read(c, &v), 1);
    json_t *events = harness_assert_events(&v);
    assert_int_equal(json_array_size(events), 1);
    json_decref(events);
    resp_value_free(&v);
    HARNESS_EXPECT(c, "+PONG", "PING");
    harness_close(c);
    free(big);
    assert_unchanged(n, SEED_EVENTS, 1);
    harness_pass(*state);
}

struct bad_case {
    const char *cmd;
    const char *arg;
    const char *mentions; /* the error must contain this; NULL: any error */
};

#define EV "[{\"type\":\"t\"}]"
static const struct bad_case bad_cases[] = {
    /* not JSON, or not an object */
    {"ADD", "{", NULL},
    {"ADD", "", NULL},
    {"ADD", "not json", NULL},
    {"ADD", "[]", NULL},
    {"ADD", "5", NULL},
    {"ADD", "null", NULL},
    {"ADD", "\"a string\"", NULL},
    {"ADD", "{\"stream\":\"s\",\"version\":0,\"events\":" EV "} trailing", NULL},
    {"ADD", "{\"stream\":\"s\",\"version\":0,\"events\":" EV, NULL},
    {"ADD", "{\"stream\":\"\xff\xfe\",\"version\":0,\"events\":" EV "}", NULL}, /* not UTF-8 */
    {"ADD", "{\"stream\":\"a\",\"stream\":\"b\",\"version\":0,\"events\":" EV "}", NULL},
    /* stream */
    {"ADD", "{\"stream\":5,\"version\":0,\"events\":" EV "}", "stream"},
    {"ADD", "{\"stream\":null,\"version\":0,\"events\":" EV "}", "stream"},
    {"ADD", "{\"version\":0,\"events\":" EV "}", "stream"},
    {"ADD", "{\"stream\":\"\",\"version\":0,\"events\":" EV "}", "stream"},
    {"ADD", "{\"stream\":\"a\\u0001b\",\"version\":0,\"events\":" EV "}", "stream"},
    {"ADD", "{\"stream\":\"a\\nb\",\"version\":0,\"events\":" EV "}", "stream"},
    {"ADD", "{\"stream\":\"a\\u0000b\",\"version\":0,\"events\":" EV "}", "stream"},
    {"ADD", "{\"stream\":\"00000000-0000-0000-0000-000000000000\",\"version\":0,\"events\":" EV "}",
     "stream cannot be all zeroes"},
    /* version */
    {"ADD", "{\"stream\":\"s\",\"version\":\"x\",\"events\":" EV "}", "version"},
    {"ADD", "{\"stream\":\"s\",\"version\":\"ANY!\",\"events\":" EV "}", "version"},
    {"ADD", "{\"stream\":\"s\",\"version\":-1,\"events\":" EV "}", "version"},
    {"ADD", "{\"stream\":\"s\",\"version\":1.5,\"events\":" EV "}", "version"},
    {"ADD", "{\"stream\":\"s\",\"version\":true,\"events\":" EV "}", "version"},
    {"ADD", "{\"stream\":\"s\",\"version\":9223372036854775808,\"events\":" EV "}", NULL},
    {"ADD", "{\"stream\":\"s\",\"version\":18446744073709551616,\"events\":" EV "}", NULL},
    {"ADD", "{\"stream\":\"s\",\"version\":99999999999999999999999999999,\"events\":" EV "}",
     NULL},
    {"ADD", "{\"stream\":\"s\",\"version\":1e300,\"events\":" EV "}", "version"},
    /* events */
    {"ADD", "{\"stream\":\"s\",\"version\":0,\"events\":\"x\"}", "events"},
    {"ADD", "{\"stream\":\"s\",\"version\":0,\"events\":{}}", "events"},
    {"ADD", "{\"stream\":\"s\",\"version\":0,\"events\":[5]}", NULL},
    {"ADD", "{\"stream\":\"s\",\"version\":0,\"events\":[[]]}", NULL},
    {"ADD", "{\"stream\":\"s\",\"version\":0,\"events\":[]}", "list of events is empty"},
    {"ADD", "{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":5}]}", "type"},
    {"ADD", "{\"stream\":\"s\",\"version\":0,\"events\":[{}]}", "type"},
    {"ADD", "{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"\"}]}", "event type cannot be empty"},
    {"ADD", "{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\",\"causation_id\":\"nope\"}]}",
     "causation_id"},
    {"ADD", "{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\",\"causation_id\":5}]}",
     "causation_id"},
    {"ADD", "{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\",\"causation_id\":"
            "\"01ARZ3NDEKTSV4RRFFQ69G5FA\"}]}", "causation_id"},
    {"ADD", "{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\",\"causation_id\":"
            "\"01ARZ3NDEKTSV4RRFFQ69G5FAVX\"}]}", "causation_id"},
    {"ADD", "{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\",\"correlation_id\":"
            "\"ZZZZZZZZZZZZZZZZZZZZZZZZZZ\"}]}", "correlation_id"},
    {"ADD", "{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\",\"correlation_id\":"
            "\"01ARZ3NDEKTSV4RRFFQ69G5FA!\"}]}", "correlation_id"},
    /* unknown fields */
    {"ADD", "{\"stream\":\"s\",\"version\":0,\"events\":" EV ",\"bogus\":1}", "bogus"},
    {"ADD", "{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"t\",\"colour\":\"red\"}]}",
     "colour"},
    /* GET */
    {"GET", "{}", "stream"},
    {"GET", "nope", NULL},
    {"GET", "[]", NULL},
    {"GET", "{\"stream\":5}", "stream"},
    {"GET", "{\"stream\":\"s\",\"version\":-1}", "version"},
    {"GET", "{\"stream\":\"s\",\"version\":\"0\"}", "version"},
    {"GET", "{\"stream\":\"s\",\"limit\":-5}", "limit"},
    {"GET", "{\"stream\":\"s\",\"limit\":\"5\"}", "limit"},
    {"GET", "{\"stream\":\"s\",\"limit\":99999999999999999999}", NULL},
    {"GET", "{\"stream\":\"s\",\"bogus\":1}", "bogus"},
    /* GETALL */
    {"GETALL", "{\"offset\":\"xyz\"}", "offset"},
    {"GETALL", "{\"offset\":\"ZZZZZZZZZZZZZZZZZZZZZZZZZZ\"}", "offset"},
    {"GETALL", "{\"offset\":\"01ARZ3NDEKTSV4RRFFQ69G5FAU!\"}", "offset"},
    {"GETALL", "{\"offset\":5}", "offset"},
    {"GETALL", "{\"limit\":-1}", "limit"},
    {"GETALL", "{\"limit\":1.5}", "limit"},
    {"GETALL", "{\"bogus\":1}", "bogus"},
    {"GETALL", "[]", NULL},
    {"GETALL", "", NULL},
    /* LISTSTREAMS */
    {"LISTSTREAMS", "{\"skip\":-1}", "skip"},
    {"LISTSTREAMS", "{\"limit\":\"x\"}", "limit"},
    {"LISTSTREAMS", "{\"bogus\":true}", "bogus"},
    {"LISTSTREAMS", "x", NULL},
};

static void test_invalid_arguments(void **state)
{
    struct harness_node *n = start_limited(state);
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *b = &bad_cases[i];
        struct resp_value v;
        /* Every bad argument is a plain error: the connection stays usable. */
        if (harness_cmd(c, &v, b->cmd, b->arg, NULL) != 0)
            fail_msg("%s %s: no reply", b->cmd, b->arg);
        if (v.type != RESP_T_ERROR || (b->mentions != NULL && strstr(v.str, b->mentions) == NULL)) {
            char *got = harness_repr(&v);
            fail_msg("%s %s: expected an error mentioning '%s', got %s", b->cmd, b->arg,
                     b->mentions ? b->mentions : "", got);
        }
        resp_value_free(&v);
        HARNESS_EXPECT(c, "+PONG", "PING");
    }
    harness_close(c);
    assert_unchanged(n, SEED_EVENTS, 1);
    harness_pass(*state);
}

static void test_event_limits(void **state)
{
    struct harness_node *n = start_limited(state);
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    struct buf req;
    buf_init(&req);
    struct resp_value v;

    /* MAX_EVENTS + 1 events: refused, none added. */
    buf_printf(&req, "{\"stream\":\"lim\",\"version\":0,\"events\":[");
    for (int i = 0; i <= MAX_EVENTS; i++)
        buf_printf(&req, "%s{\"type\":\"t%d\"}", i ? "," : "", i);
    buf_printf(&req, "]}");
    buf_append_char(&req, '\0');
    assert_int_equal(harness_cmd(c, &v, "ADD", req.data, NULL), 0);
    assert_int_equal(v.type, RESP_T_ERROR);
    resp_value_free(&v);
    assert_unchanged(n, SEED_EVENTS, 1);

    /* An event larger than --max-event-size: refused. */
    buf_reset(&req);
    buf_printf(&req, "{\"stream\":\"lim\",\"version\":0,\"events\":[{\"type\":\"t\",\"data\":\"");
    for (int i = 0; i < MAX_EVENT_SIZE + 10; i++)
        buf_append_char(&req, 'x');
    buf_printf(&req, "\"}]}");
    buf_append_char(&req, '\0');
    assert_int_equal(harness_cmd(c, &v, "ADD", req.data, NULL), 0);
    assert_int_equal(v.type, RESP_T_ERROR);
    resp_value_free(&v);

    /* A stream name far over any sensible limit: refused, naming it. */
    buf_reset(&req);
    buf_printf(&req, "{\"stream\":\"");
    for (int i = 0; i < 10000; i++)
        buf_append_char(&req, 's');
    buf_printf(&req, "\",\"version\":0,\"events\":[{\"type\":\"t\"}]}");
    buf_append_char(&req, '\0');
    assert_int_equal(harness_cmd(c, &v, "ADD", req.data, NULL), 0);
    assert_int_equal(v.type, RESP_T_ERROR);
    assert_non_null(strstr(v.str, "stream"));
    resp_value_free(&v);
    assert_unchanged(n, SEED_EVENTS, 1);

    /* Exactly MAX_EVENTS events: accepted. */
    buf_reset(&req);
    buf_printf(&req, "{\"stream\":\"lim\",\"version\":0,\"events\":[");
    for (int i = 0; i < MAX_EVENTS; i++)
        buf_printf(&req, "%s{\"type\":\"t%d\"}", i ? "," : "", i);
    buf_printf(&req, "]}");
    buf_append_char(&req, '\0');
    assert_int_equal(harness_cmd(c, &v, "ADD", req.data, NULL), 0);
    json_t *events = harness_assert_events(&v);
    assert_int_equal(json_array_size(events), MAX_EVENTS);
    json_decref(events);
    resp_value_free(&v);
    buf_free(&req);
    harness_close(c);
    assert_unchanged(n, SEED_EVENTS + MAX_EVENTS, 2);
    harness_pass(*state);
}

static void test_unknown_commands_and_missing_arguments(void **state)
{
    struct harness_node *n = start_limited(state);
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    HARNESS_EXPECT(c, "-unknown command", "FOO");
    HARNESS_EXPECT(c, "-unknown command", "ADDX", "{}");
    HARNESS_EXPECT(c, "-unknown command", "GETALLX");
    HARNESS_EXPECT(c, "-unknown command", "SET", "k", "v");
    HARNESS_EXPECT(c, "-unknown command", "");
    const char *argv[] = {"\x01\xff\x00z"};
    size_t lens[] = {4};
    struct resp_value v;
    assert_int_equal(harness_send_argv(c, 1, argv, lens), 0);
    assert_int_equal(harness_read(c, &v), 1);
    harness_assert_error(&v, "unknown command");
    resp_value_free(&v);
    const char *need_arg[] = {"ADD", "A", "GET", "G", "GETALL", "GA", "add", "getall"};
    for (size_t i = 0; i < sizeof need_arg / sizeof need_arg[0]; i++)
        HARNESS_EXPECT(c, "-insufficient arguments", need_arg[i]);
    /* Errors leave the connection usable. */
    HARNESS_EXPECT(c, "+PONG", "PING");
    HARNESS_EXPECT(c, ":3", "EC");
    harness_close(c);
    assert_unchanged(n, SEED_EVENTS, 1);
    harness_pass(*state);
}

/* Every command the node lists in COMMAND LIST (Redis's commands among
 * them), each on a fresh connection with no argument, with binary garbage,
 * with many arguments and with a long one: an error or an answer, never a
 * crash, and the store unchanged. QUIT only closes. */
static void test_every_command_with_hostile_arguments(void **state)
{
    struct harness_node *n = start_limited(state);
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    struct resp_value names;
    assert_int_equal(harness_cmd(c, &names, "COMMAND", "LIST", NULL), 0);
    assert_int_equal(names.type, RESP_T_ARRAY);
    assert_true(names.n > 30);
    harness_close(c);
    static char long_arg[4000];
    memset(long_arg, '{', sizeof long_arg);
    const char *garbage[] = {"\x01\xff\x00z", "-1", "99999999999999999999", "{\"group\":", long_arg, "*", "0", "AUTH"};
    size_t garbage_lens[] = {4, 2, 20, 9, sizeof long_arg, 1, 1, 4};
    for (size_t i = 0; i < names.n; i++) {
        const char *name = names.elems[i].str;
        if (strcmp(name, "quit") == 0)
            continue;
        for (size_t shape = 0; shape < 4; shape++) {
            c = harness_connect(n);
            assert_non_null(c);
            const char *argv[1 + 8] = {name};
            size_t lens[1 + 8] = {strlen(name)};
            size_t argc = 1;
            if (shape == 1) {
                argv[argc] = garbage[0], lens[argc++] = garbage_lens[0];
            } else if (shape == 2) {
                for (size_t k = 0; k < 8; k++)
                    argv[argc] = garbage[k], lens[argc++] = garbage_lens[k];
            } else if (shape == 3) {
                argv[argc] = long_arg, lens[argc++] = sizeof long_arg;
                argv[argc] = long_arg, lens[argc++] = sizeof long_arg;
            }
            struct resp_value v;
            assert_int_equal(harness_send_argv(c, argc, argv, lens), 0);
            assert_int_equal(harness_read(c, &v), 1);
            resp_value_free(&v);
            harness_close(c);
        }
    }
    resp_value_free(&names);
    c = harness_connect(n);
    assert_non_null(c);
    HARNESS_EXPECT(c, "+PONG", "PING");
    harness_close(c);
    assert_unchanged(n, SEED_EVENTS, 1);
    harness_pass(*state);
}

static void test_disconnect_mid_request(void **state)
{
    struct harness_node *n = start_limited(state);
    static const char *const partial[] = {
        "*2\r\n$3\r\nADD\r\n$64\r\n{\"stream\":\"mid\",\"version\":0,",
        "*2\r\n$3\r\nADD\r\n$64",
        "*2\r\n$3\r\nAD",
        "*2\r\n",
        "ADD {\"stream\":\"mid\",\"version\":0,\"events\":[{\"type\":\"t\"}]}", /* no line end */
    };
    for (size_t i = 0; i < sizeof partial / sizeof partial[0]; i++) {
        struct harness_conn *c = harness_connect(n);
        assert_non_null(c);
        assert_int_equal(harness_send_raw(c, partial[i], strlen(partial[i])), 0);
        harness_close(c);
        assert_unchanged(n, SEED_EVENTS, 1);
    }

    /* Whole requests followed at once by a disconnect: the server may or
     * may not execute them, but whatever it executes is a prefix, in order,
     * and it survives answering a client that is gone. A clean stop makes
     * the outcome final before it is checked. */
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    for (int i = 0; i < 50; i++) {
        char req[128];
        snprintf(req, sizeof req,
                 "{\"stream\":\"gone\",\"version\":%d,\"events\":[{\"type\":\"t\",\"data\":\"%d\"}]}", i, i);
        harness_queue(c, "ADD", req, NULL);
    }
    const char half[] = "*2\r\n$3\r\nADD\r\n$10\r\n{";
    assert_int_equal(harness_send_raw(c, half, sizeof half - 1), 0);
    harness_close(c);
    harness_assert_stop(n);
    harness_assert_restart(n);

    c = harness_connect(n);
    assert_non_null(c);
    struct resp_value v;
    assert_int_equal(harness_cmd(c, &v, "GET", "{\"stream\":\"gone\"}", NULL), 0);
    json_t *events = harness_assert_events(&v);
    resp_value_free(&v);
    size_t k = json_array_size(events);
    for (size_t i = 0; i < k; i++) {
        const json_t *e = json_array_get(events, i);
        char want[32];
        snprintf(want, sizeof want, "%zu", i);
        assert_int_equal(json_integer_value(json_object_get(e, "version")), (json_int_t)i);
        assert_string_equal(json_string_value(json_object_get(e, "data")), want);
    }
    json_decref(events);
    harness_close(c);
    assert_unchanged(n, SEED_EVENTS + (int64_t)k, k > 0 ? 2 : 1);
    harness_pass(*state);
}

/* Clients that pipeline requests with large replies and never read them,
 * then go away: the server must neither block on them nor keep their
 * replies. */
static void test_pipelining_clients_that_never_read(void **state)
{
    struct harness_node *n = start_limited(state);

    /* Make GETALL replies big: 10 events of ~900 bytes. */
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    struct buf req;
    buf_init(&req);
    buf_printf(&req, "{\"stream\":\"big\",\"version\":0,\"events\":[");
    for (int i = 0; i < 10; i++) {
        buf_printf(&req, "%s{\"type\":\"t\",\"data\":\"", i ? "," : "");
        for (int k = 0; k < 900; k++)
            buf_append_char(&req, (char)('a' + (i + k) % 26));
        buf_printf(&req, "\"}");
    }
    buf_printf(&req, "]}");
    buf_append_char(&req, '\0');
    struct resp_value v;
    assert_int_equal(harness_cmd(c, &v, "ADD", req.data, NULL), 0);
    assert_int_equal(v.type, RESP_T_ARRAY);
    resp_value_free(&v);
    buf_free(&req);
    harness_close(c);
    const int64_t events = SEED_EVENTS + 10;

    /* Each client: 2000 GETALLs (about 20 MB of replies) it never reads. */
    enum { CLIENTS = 4, REQUESTS = 2000 };
    struct harness_conn *clients[CLIENTS];
    struct buf pipeline;
    buf_init(&pipeline);
    for (int i = 0; i < REQUESTS; i++)
        buf_printf(&pipeline, "*2\r\n$6\r\nGETALL\r\n$12\r\n{\"limit\":10}\r\n");
    for (int i = 0; i < CLIENTS; i++) {
        clients[i] = harness_connect(n);
        assert_non_null(clients[i]);
    }
    for (int i = 0; i < CLIENTS; i++)
        send_what_fits(clients[i], pipeline.data, pipeline.len, 1000);
    /* Meanwhile the server serves others. */
    assert_unchanged(n, events, 2);
    for (int i = 0; i < CLIENTS; i++)
        harness_close(clients[i]);
    buf_free(&pipeline);
    assert_unchanged(n, events, 2);

    /* The same with cheap requests, and a half-sent last one. */
    c = harness_connect(n);
    assert_non_null(c);
    for (int i = 0; i < 5000; i++)
        harness_queue(c, "PING", NULL);
    harness_queue(c, "EC", NULL);
    send_what_fits(c, c->out.data, c->out.len, 1000);
    send_what_fits(c, "*1\r\n$4\r\nPI", 10, 1000);
    harness_close(c);
    assert_unchanged(n, events, 2);
    harness_pass(*state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_broken_framing, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_oversized_lengths_rejected_at_once, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_arguments, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_event_limits, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_commands_and_missing_arguments, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_every_command_with_hostile_arguments, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_disconnect_mid_request, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_pipelining_clients_that_never_read, harness_setup,
                                        harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
