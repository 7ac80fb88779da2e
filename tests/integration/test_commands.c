/* test_commands.c - every command and alias against a real single node:
 * redis-cli transcripts (what a user of a stock Redis client sees) and
 * RESP-level checks of the exact semantics in docs/protocol.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <regex.h>

#include "version.h"
#include "harness.h"

#define ZERO_ULID "00000000000000000000000000"
#define CROCKFORD "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

/* ---- helpers --------------------------------------------------------- */

/* redis-cli in its interactive output format (types shown, strings quoted). */
#define CLI(n, ...) cli_run((n), __VA_ARGS__, (const char *)NULL)
static char *cli_run(const struct harness_node *n, const char *arg0, ...)
{
    const char *args[4] = {NULL};
    va_list ap;
    va_start(ap, arg0);
    args[0] = arg0;
    for (size_t i = 1; i < 3 && args[i - 1] != NULL; i++)
        args[i] = va_arg(ap, const char *);
    va_end(ap);
    int code;
    char *out = harness_redis_cli(n, NULL, &code, "--no-raw", args[0], args[1], args[2],
                                  (const char *)NULL);
    assert_non_null(out);
    assert_int_equal(code, 0);
    return out;
}

/* Assert regex `re` (POSIX extended) matches all of `text`. */
static void assert_matches(const char *text, const char *re)
{
    regex_t rx;
    assert_int_equal(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
    int rc = regexec(&rx, text, 0, NULL, 0);
    regfree(&rx);
    if (rc != 0)
        fail_msg("'%s' does not match /%s/", text, re);
}

/* Replace each match of `re` in `s` by `with`; returns a new string. */
static char *replace_all(const char *s, const char *re, const char *with)
{
    regex_t rx;
    assert_int_equal(regcomp(&rx, re, REG_EXTENDED), 0);
    struct buf b;
    buf_init(&b);
    regmatch_t m;
    int flags = 0;
    while (regexec(&rx, s, 1, &m, flags) == 0 && m.rm_eo > m.rm_so) {
        buf_append(&b, s, (size_t)m.rm_so);
        buf_append_str(&b, with);
        s += m.rm_eo;
        flags = REG_NOTBOL;
    }
    buf_append_str(&b, s);
    buf_append_char(&b, '\0');
    regfree(&rx);
    return b.data;
}

/* Ids and times differ from run to run: replace them by placeholders. */
static char *normalize(const char *s)
{
    char *a = replace_all(s, "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9}Z",
                          "<TIME>");
    char *b = replace_all(a, "[0-7][" CROCKFORD "]{25}", "<ULID>");
    free(a);
    return b;
}

static struct resp_value cmd(struct harness_conn *c, const char *name, const char *arg)
{
    struct resp_value v;
    int rc = arg ? harness_cmd(c, &v, name, arg, NULL) : harness_cmd(c, &v, name, NULL);
    assert_int_equal(rc, 0);
    return v;
}

/* ADD that must succeed; returns the stored events (new reference). */
static json_t *add_ok(struct harness_conn *c, const char *json)
{
    struct resp_value v = cmd(c, "ADD", json);
    json_t *events = harness_assert_events(&v);
    resp_value_free(&v);
    return events;
}

/* Events reply of a read command (new reference). */
static json_t *read_events(struct harness_conn *c, const char *name, const char *json)
{
    struct resp_value v = cmd(c, name, json);
    json_t *events = harness_assert_events(&v);
    resp_value_free(&v);
    return events;
}

static int64_t count(struct harness_conn *c, const char *name)
{
    struct resp_value v = cmd(c, name, NULL);
    if (v.type != RESP_T_INT)
        fail_msg("%s: expected an integer", name);
    int64_t n = v.integer;
    resp_value_free(&v);
    return n;
}

static void assert_counts(struct harness_conn *c, int64_t events, int64_t streams)
{
    const char *event_cmds[] = {"EVENTCOUNT", "EC", "EVENTCOUNTEST", "ECE"};
    const char *stream_cmds[] = {"STREAMCOUNT", "SC", "STREAMCOUNTEST", "SCE"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(count(c, event_cmds[i]), events);
        assert_int_equal(count(c, stream_cmds[i]), streams);
    }
}

static void assert_ulid(const char *s)
{
    assert_int_equal(strlen(s), 26);
    assert_true(s[0] >= '0' && s[0] <= '7');
    for (size_t i = 0; i < 26; i++)
        if (strchr(CROCKFORD, s[i]) == NULL)
            fail_msg("'%s' is not a ULID", s);
}

/* An event as stored: exactly these keys, in this order, with these types. */
static void assert_event_shape(const json_t *e)
{
    static const char *const keys[] = {"id", "stream", "version", "type", "data", "metadata",
                                       "causation_id", "correlation_id", "added_at"};
    assert_int_equal(json_object_size(e), 9);
    size_t i = 0;
    for (void *it = json_object_iter((json_t *)e); it != NULL;
         it = json_object_iter_next((json_t *)e, it), i++)
        assert_string_equal(json_object_iter_key(it), keys[i]);
    assert_ulid(harness_json_str(e, "id"));
    harness_json_str(e, "stream");
    assert_true(harness_json_int(e, "version") >= 0);
    assert_true(strlen(harness_json_str(e, "type")) > 0);
    assert_ulid(harness_json_str(e, "causation_id"));
    assert_ulid(harness_json_str(e, "correlation_id"));
    assert_matches(harness_json_str(e, "added_at"),
                   "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9}Z$");
}

/* Ids of an events array, strictly increasing, all greater than *last
 * (updated). */
static void assert_ids_increase(const json_t *events, char last[27])
{
    for (size_t i = 0; i < json_array_size(events); i++) {
        const char *id = harness_json_str(json_array_get(events, i), "id");
        if (strcmp(id, last) <= 0)
            fail_msg("id %s does not follow %s", id, last);
        snprintf(last, 27, "%s", id);
    }
}

static json_t *json_parse(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &err);
    if (j == NULL)
        fail_msg("bad JSON in the test: %s: %s", err.text, text);
    return j;
}

/* ---- redis-cli transcripts --------------------------------------------- */

struct transcript_line {
    const char *args[3];
    const char *expect;
};

#define EMPTY_CHECKSUM "1) \"" ZERO_ULID "\"\n2) \"AAAAAAA=\"\n"

static const struct transcript_line empty_store_transcript[] = {
    {{"PING"}, "PONG\n"},
    {{"P"}, "PONG\n"},
    {{"ping"}, "PONG\n"},
    {{"pInG"}, "PONG\n"},
    {{"p"}, "PONG\n"},
    {{"EVENTCOUNT"}, "(integer) 0\n"},
    {{"EC"}, "(integer) 0\n"},
    {{"eventcount"}, "(integer) 0\n"},
    {{"EVENTCOUNTEST"}, "(integer) 0\n"},
    {{"ECE"}, "(integer) 0\n"},
    {{"STREAMCOUNT"}, "(integer) 0\n"},
    {{"SC"}, "(integer) 0\n"},
    {{"STREAMCOUNTEST"}, "(integer) 0\n"},
    {{"SCE"}, "(integer) 0\n"},
    {{"sce"}, "(integer) 0\n"},
    {{"CHECKSUM"}, EMPTY_CHECKSUM},
    {{"CH"}, EMPTY_CHECKSUM},
    {{"checksum"}, EMPTY_CHECKSUM},
    {{"GET", "{\"stream\":\"nope\"}"}, "(empty array)\n"},
    {{"G", "{\"stream\":\"nope\"}"}, "(empty array)\n"},
    {{"get", "{\"stream\":\"nope\",\"version\":3,\"limit\":2}"}, "(empty array)\n"},
    {{"GETALL", "{}"}, "(empty array)\n"},
    {{"GA", "{}"}, "(empty array)\n"},
    {{"ga", "{\"offset\":\"" ZERO_ULID "\",\"limit\":5}"}, "(empty array)\n"},
    {{"LISTSTREAMS"}, "(empty array)\n"},
    {{"LSTREAMS"}, "(empty array)\n"},
    {{"lstreams", "{\"skip\":0,\"limit\":5}"}, "(empty array)\n"},
    {{"VERSION"}, EVENTFLOW_VERSION "\n"},
    {{"V"}, EVENTFLOW_VERSION "\n"},
    {{"version"}, EVENTFLOW_VERSION "\n"},
    {{"AUTH", "anything"}, "OK\n"},
    {{"QUIT"}, "OK\n"},
    {{"quit"}, "OK\n"},
    {{"NOSUCHCOMMAND"}, "(error) unknown command\n"},
    {{"PINGX"}, "(error) unknown command\n"},
    {{"ADD"}, "(error) insufficient arguments\n"},
    {{"A"}, "(error) insufficient arguments\n"},
    {{"GET"}, "(error) insufficient arguments\n"},
    {{"G"}, "(error) insufficient arguments\n"},
    {{"GETALL"}, "(error) insufficient arguments\n"},
    {{"GA"}, "(error) insufficient arguments\n"},
    {{"ADD", "{\"stream\":\"s\",\"version\":0,\"events\":[]}"}, "(error) list of events is empty\n"},
    {{"ADD", "{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"\"}]}"},
     "(error) event type cannot be empty\n"},
};

/* Run each line with redis-cli and compare its output literally. */
static void run_transcript(const struct harness_node *n, const struct transcript_line *lines,
                           size_t count_lines)
{
    for (size_t i = 0; i < count_lines; i++) {
        const struct transcript_line *l = &lines[i];
        char *out = CLI(n, l->args[0], l->args[1], l->args[2]);
        if (strcmp(out, l->expect) != 0)
            fail_msg("redis-cli %s %s:\nexpected: %s\ngot:      %s", l->args[0],
                     l->args[1] ? l->args[1] : "", l->expect, out);
        free(out);
    }
}

#define EV(stream, version, type, data, metadata)                                                  \
    "\"{\\\"id\\\":\\\"<ULID>\\\",\\\"stream\\\":\\\"" stream "\\\",\\\"version\\\":" #version     \
    ",\\\"type\\\":\\\"" type "\\\",\\\"data\\\":" data ",\\\"metadata\\\":" metadata              \
    ",\\\"causation_id\\\":\\\"<ULID>\\\",\\\"correlation_id\\\":\\\"<ULID>\\\","                   \
    "\\\"added_at\\\":\\\"<TIME>\\\"}\""

static const struct transcript_line writes_transcript[] = {
    {{"ADD", "{\"stream\":\"cli\",\"version\":0,\"events\":[{\"type\":\"greeted\",\"data\":\"hi\"}]}"},
     "1) " EV("cli", 0, "greeted", "\\\"hi\\\"", "null") "\n"},
    {{"A", "{\"stream\":\"cli\",\"version\":1,\"events\":[{\"type\":\"t2\",\"data\":{\"k\":[1,2]},"
           "\"metadata\":\"m\"},{\"type\":\"t3\"}]}"},
     "1) " EV("cli", 1, "t2", "{\\\"k\\\":[1,2]}", "\\\"m\\\"") "\n"
     "2) " EV("cli", 2, "t3", "null", "null") "\n"},
    {{"add", "{\"stream\":\"cli\",\"version\":0,\"events\":[{\"type\":\"late\"}]}"},
     "(error) concurrent stream modification\n"},
    {{"ADD", "{\"stream\":\"cli\",\"version\":9,\"events\":[{\"type\":\"early\"}]}"},
     "(error) given version leaves gap in stream\n"},
    {{"GET", "{\"stream\":\"cli\"}"},
     "1) " EV("cli", 0, "greeted", "\\\"hi\\\"", "null") "\n"
     "2) " EV("cli", 1, "t2", "{\\\"k\\\":[1,2]}", "\\\"m\\\"") "\n"
     "3) " EV("cli", 2, "t3", "null", "null") "\n"},
    {{"G", "{\"stream\":\"cli\",\"version\":2}"}, "1) " EV("cli", 2, "t3", "null", "null") "\n"},
    {{"GETALL", "{\"limit\":1}"}, "1) " EV("cli", 0, "greeted", "\\\"hi\\\"", "null") "\n"},
    {{"GA", "{}"},
     "1) " EV("cli", 0, "greeted", "\\\"hi\\\"", "null") "\n"
     "2) " EV("cli", 1, "t2", "{\\\"k\\\":[1,2]}", "\\\"m\\\"") "\n"
     "3) " EV("cli", 2, "t3", "null", "null") "\n"},
    {{"LISTSTREAMS"}, "1) \"{\\\"id\\\":\\\"cli\\\",\\\"events\\\":3,\\\"added_at\\\":\\\"<TIME>\\\"}\"\n"},
    {{"LSTREAMS", "{\"skip\":1}"}, "(empty array)\n"},
    {{"EC"}, "(integer) 3\n"},
    {{"ECE"}, "(integer) 3\n"},
    {{"SC"}, "(integer) 1\n"},
    {{"SCE"}, "(integer) 1\n"},
    {{"CH"}, "1) \"<ULID>\"\n2) \"<CHECKSUM>\"\n"},
};

static void test_cli_transcript(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);

    run_transcript(n, empty_store_transcript,
                   sizeof empty_store_transcript / sizeof empty_store_transcript[0]);

    /* The checksum itself is opaque: show it as a placeholder, but check
     * it is base32 of 4 bytes and that the id beside it is the last id. */
    for (size_t i = 0; i < sizeof writes_transcript / sizeof writes_transcript[0]; i++) {
        const struct transcript_line *l = &writes_transcript[i];
        char *out = CLI(n, l->args[0], l->args[1], l->args[2]);
        char *sum = replace_all(out, "\"[A-Z2-7]{7}=\"", "\"<CHECKSUM>\"");
        char *norm = normalize(sum);
        if (strcmp(norm, l->expect) != 0)
            fail_msg("redis-cli %s %s:\nexpected: %s\ngot:      %s", l->args[0],
                     l->args[1] ? l->args[1] : "", l->expect, norm);
        free(norm);
        free(sum);
        free(out);
    }

    /* SIZE and UPTIME change; their form does not. */
    char *out = CLI(n, "SIZE");
    assert_matches(out, "^1\\) \\(integer\\) [0-9]+\n2\\) \"[0-9]+(\\.[0-9])? [kMGT]?B\"\n$");
    free(out);
    out = CLI(n, "S");
    assert_matches(out, "^1\\) \\(integer\\) [0-9]+\n2\\) \"[0-9]+(\\.[0-9])? [kMGT]?B\"\n$");
    free(out);
    out = CLI(n, "UPTIME");
    assert_matches(out, "^1\\) \\(integer\\) [0-9]+\n2\\) \"[0-9hm.]+[mun]?s\"\n$");
    free(out);
    out = CLI(n, "up");
    assert_matches(out, "^1\\) \\(integer\\) [0-9]+\n2\\) \"[0-9hm.]+[mun]?s\"\n$");
    free(out);

    /* redis-cli's raw mode (its default when not on a terminal) prints each
     * event's JSON on a line of its own: what scripts see. */
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    json_t *want = read_events(c, "GET", "{\"stream\":\"cli\"}");
    int code;
    char *raw = harness_redis_cli(n, NULL, &code, "GET", "{\"stream\":\"cli\"}", (const char *)NULL);
    assert_non_null(raw);
    assert_int_equal(code, 0);
    json_t *got = json_array();
    for (char *save = NULL, *line = strtok_r(raw, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save))
        json_array_append_new(got, json_parse(line));
    harness_assert_json_equal(got, want);
    json_decref(got);
    json_decref(want);
    free(raw);

    /* Commands read from standard input, one connection: the REPL's way. */
    raw = harness_redis_cli(n, "PING\nEC\nGA '{\"limit\":1}'\n", &code, (const char *)NULL);
    assert_non_null(raw);
    assert_int_equal(code, 0);
    char *norm = normalize(raw);
    assert_string_equal(norm, "PONG\n3\n{\"id\":\"<ULID>\",\"stream\":\"cli\",\"version\":0,"
                              "\"type\":\"greeted\",\"data\":\"hi\",\"metadata\":null,"
                              "\"causation_id\":\"<ULID>\",\"correlation_id\":\"<ULID>\","
                              "\"added_at\":\"<TIME>\"}\n");
    free(norm);
    free(raw);
    harness_pass(*state);
}

/* ---- RESP-level semantics -------------------------------------------- */

static void test_ping_quit_inline(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    HARNESS_EXPECT(c, "+PONG", "PING");
    HARNESS_EXPECT(c, "+PONG", "P");
    HARNESS_EXPECT(c, "+PONG", "ping");
    HARNESS_EXPECT(c, "+" EVENTFLOW_VERSION, "VERSION");
    HARNESS_EXPECT(c, "+" EVENTFLOW_VERSION, "v");
    HARNESS_EXPECT(c, "-unknown command", "NOPE");
    HARNESS_EXPECT(c, "+OK", "AUTH", "x");
    /* Arguments past the first are ignored. */
    HARNESS_EXPECT(c, ":0", "EC", "extra", "more");

    /* Inline (telnet-style) commands. */
    struct resp_value v;
    const char inline_cmds[] = "PING\r\nEC\r\n"
                               "ADD {\"stream\":\"inl\",\"version\":0,\"events\":[{\"type\":\"t\"}]}\r\n";
    assert_int_equal(harness_send_raw(c, inline_cmds, sizeof inline_cmds - 1), 0);
    assert_int_equal(harness_read(c, &v), 1);
    harness_assert_simple(&v, "PONG");
    resp_value_free(&v);
    assert_int_equal(harness_read(c, &v), 1);
    harness_assert_int(&v, 0);
    resp_value_free(&v);
    assert_int_equal(harness_read(c, &v), 1);
    json_t *events = harness_assert_events(&v);
    resp_value_free(&v);
    assert_int_equal(json_array_size(events), 1);
    assert_string_equal(harness_json_str(json_array_get(events, 0), "stream"), "inl");
    json_decref(events);
    assert_int_equal(harness_send_raw(c, "ec\r\n", 4), 0);
    assert_int_equal(harness_read(c, &v), 1);
    harness_assert_int(&v, 1);
    resp_value_free(&v);

    /* QUIT: +OK, then the server closes the connection. */
    HARNESS_EXPECT(c, "+OK", "QUIT");
    assert_int_equal(harness_read(c, &v), 0);
    harness_close(c);

    c = harness_connect(n);
    assert_non_null(c);
    HARNESS_EXPECT(c, "+OK", "quit");
    assert_int_equal(harness_read(c, &v), 0);
    harness_close(c);
    harness_pass(*state);
}

/* Commands pipelined on one connection behave as if sent one by one: a
 * read after an ADD sees that ADD, whatever else is in flight. */
static void test_pipelined_reads_see_earlier_writes(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    for (int round = 0; round < 3; round++) {
        harness_queue(c, "ADD", "{\"stream\":\"rw\",\"version\":\"any\",\"events\":[{\"type\":\"t\"}]}",
                      NULL);
        harness_queue(c, "EC", NULL);
        harness_queue(c, "GET", "{\"stream\":\"rw\"}", NULL);
        harness_queue(c, "CHECKSUM", NULL);
        size_t want = 4;
        assert_int_equal(harness_pump(&c, 1, &want, HARNESS_IO_TIMEOUT_MS), 0);

        struct resp_value v;
        assert_int_equal(harness_read(c, &v), 1);
        json_t *added = harness_assert_events(&v);
        resp_value_free(&v);
        const char *id = harness_json_str(json_array_get(added, 0), "id");
        assert_int_equal(harness_json_int(json_array_get(added, 0), "version"), round);

        assert_int_equal(harness_read(c, &v), 1);
        harness_assert_int(&v, round + 1);
        resp_value_free(&v);

        assert_int_equal(harness_read(c, &v), 1);
        json_t *stored = harness_assert_events(&v);
        resp_value_free(&v);
        assert_int_equal(json_array_size(stored), (size_t)round + 1);
        json_decref(stored);

        assert_int_equal(harness_read(c, &v), 1);
        assert_int_equal(v.type, RESP_T_ARRAY);
        assert_int_equal(v.n, 2);
        assert_string_equal(v.elems[0].str, id);
        resp_value_free(&v);
        json_decref(added);
    }
    harness_pass(*state);
}

static void test_add_returns_stored_events(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);

    /* A string payload is bytes: unicode, escapes and JSON-looking text
     * must come back byte for byte, as a string. */
    static const char unicode[] = "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80 \"q\" \\ {\"not\":1}\n\t";
    const char *causation = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    const char *correlation = "01BX5ZZKBKACTAV9WEVGEMMVRZ";
    json_t *req = json_pack(
        "{s:s, s:i, s:[{s:s, s:s}, {s:s, s:{s:i, s:[b,n,s], s:{s:f}}, s:{s:s}}, {s:s, s:s, s:s},"
        " {s:s, s:[i,i,i], s:s, s:s}]}",
        "stream", "orders-1", "version", 0, "events",
        "type", "created", "data", unicode,
        "type", "changed", "data", "a", 1, "b", 1, "x", "c", "d", 1.5, "metadata", "m", "v",
        "type", "noted", "metadata", "meta", "causation_id", causation,
        "type", "linked", "data", 1, 2, 3, "causation_id", causation, "correlation_id", correlation);
    assert_non_null(req);
    char *req_text = json_dumps(req, JSON_COMPACT);
    json_t *events = add_ok(c, req_text);
    free(req_text);

    assert_int_equal(json_array_size(events), 4);
    char last[27] = ZERO_ULID;
    assert_ids_increase(events, last);
    json_t *sent = json_object_get(req, "events");
    for (size_t i = 0; i < 4; i++) {
        const json_t *e = json_array_get(events, i);
        const json_t *s = json_array_get(sent, i);
        assert_event_shape(e);
        assert_string_equal(harness_json_str(e, "stream"), "orders-1");
        assert_int_equal(harness_json_int(e, "version"), (json_int_t)i);
        assert_string_equal(harness_json_str(e, "type"), harness_json_str(s, "type"));
        /* One ADD, one timestamp. */
        assert_string_equal(harness_json_str(e, "added_at"),
                            harness_json_str(json_array_get(events, 0), "added_at"));
        /* Payloads: what was sent, or null. */
        const json_t *d = json_object_get(s, "data");
        const json_t *m = json_object_get(s, "metadata");
        harness_assert_json_equal(json_object_get(e, "data"), d ? d : json_null());
        harness_assert_json_equal(json_object_get(e, "metadata"), m ? m : json_null());
    }
    /* Byte for byte, not merely equal after decoding. */
    const json_t *d0 = json_object_get(json_array_get(events, 0), "data");
    assert_int_equal(json_string_length(d0), sizeof unicode - 1);
    assert_memory_equal(json_string_value(d0), unicode, sizeof unicode - 1);

    /* causation_id defaults to the event's id, correlation_id to the
     * causation id. */
    const json_t *e0 = json_array_get(events, 0), *e2 = json_array_get(events, 2),
                 *e3 = json_array_get(events, 3);
    assert_string_equal(harness_json_str(e0, "causation_id"), harness_json_str(e0, "id"));
    assert_string_equal(harness_json_str(e0, "correlation_id"), harness_json_str(e0, "id"));
    assert_string_equal(harness_json_str(e2, "causation_id"), causation);
    assert_string_equal(harness_json_str(e2, "correlation_id"), causation);
    assert_string_equal(harness_json_str(e3, "causation_id"), causation);
    assert_string_equal(harness_json_str(e3, "correlation_id"), correlation);

    /* GET returns exactly what ADD returned, as the same bytes. */
    struct resp_value added_again = cmd(c, "GET", "{\"stream\":\"orders-1\"}");
    json_t *got = harness_assert_events(&added_again);
    harness_assert_json_equal(got, events);
    json_decref(got);
    resp_value_free(&added_again);

    /* A second ADD continues the versions, with larger ids. */
    json_t *more = add_ok(c, "{\"stream\":\"orders-1\",\"version\":4,\"events\":[{\"type\":\"a\"},"
                             "{\"type\":\"b\",\"data\":\"\"}]}");
    assert_int_equal(json_array_size(more), 2);
    assert_ids_increase(more, last);
    assert_int_equal(harness_json_int(json_array_get(more, 0), "version"), 4);
    assert_int_equal(harness_json_int(json_array_get(more, 1), "version"), 5);
    /* An empty string stays an empty string (not null). */
    json_t *empty = json_string("");
    harness_assert_json_equal(json_object_get(json_array_get(more, 1), "data"), empty);
    json_decref(empty);
    assert_counts(c, 6, 1);

    json_decref(more);
    json_decref(events);
    json_decref(req);
    harness_pass(*state);
}

static void test_expected_version(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);

    /* A new stream has length 0. */
    HARNESS_EXPECT(c, "-given version leaves gap in stream", "ADD",
                   "{\"stream\":\"v\",\"version\":1,\"events\":[{\"type\":\"t\"}]}");
    json_t *e = add_ok(c, "{\"stream\":\"v\",\"version\":0,\"events\":[{\"type\":\"t\"}]}");
    json_decref(e);
    HARNESS_EXPECT(c, "-concurrent stream modification", "ADD",
                   "{\"stream\":\"v\",\"version\":0,\"events\":[{\"type\":\"t\"}]}");
    HARNESS_EXPECT(c, "-given version leaves gap in stream", "ADD",
                   "{\"stream\":\"v\",\"version\":5,\"events\":[{\"type\":\"t\"}]}");
    HARNESS_EXPECT(c, "-given version leaves gap in stream", "ADD",
                   "{\"stream\":\"v\",\"version\":2,\"events\":[{\"type\":\"t\"}]}");
    assert_counts(c, 1, 1);
    e = add_ok(c, "{\"stream\":\"v\",\"version\":1,\"events\":[{\"type\":\"t\"},{\"type\":\"u\"}]}");
    assert_int_equal(harness_json_int(json_array_get(e, 1), "version"), 2);
    json_decref(e);
    HARNESS_EXPECT(c, "-concurrent stream modification", "ADD",
                   "{\"stream\":\"v\",\"version\":2,\"events\":[{\"type\":\"t\"}]}");

    /* "any" appends at the end, to a new or an existing stream. */
    e = add_ok(c, "{\"stream\":\"v\",\"version\":\"any\",\"events\":[{\"type\":\"t\"},{\"type\":\"u\"}]}");
    assert_int_equal(harness_json_int(json_array_get(e, 0), "version"), 3);
    assert_int_equal(harness_json_int(json_array_get(e, 1), "version"), 4);
    json_decref(e);
    e = add_ok(c, "{\"stream\":\"w\",\"version\":\"any\",\"events\":[{\"type\":\"t\"}]}");
    assert_int_equal(harness_json_int(json_array_get(e, 0), "version"), 0);
    json_decref(e);
    assert_counts(c, 6, 2);

    /* Versions are dense. */
    json_t *all = read_events(c, "GET", "{\"stream\":\"v\"}");
    assert_int_equal(json_array_size(all), 5);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(harness_json_int(json_array_get(all, i), "version"), (json_int_t)i);
    json_decref(all);
    harness_pass(*state);
}

static void test_batch_is_atomic(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);

    json_t *e = add_ok(c, "{\"stream\":\"b\",\"version\":0,\"events\":[{\"type\":\"first\"}]}");
    json_decref(e);
    HARNESS_EXPECT(c, "-event type cannot be empty", "ADD",
                   "{\"stream\":\"b\",\"version\":1,\"events\":[{\"type\":\"ok\"},{\"type\":\"\"},"
                   "{\"type\":\"ok2\"}]}");
    HARNESS_EXPECT(c, "-event type cannot be empty", "ADD",
                   "{\"stream\":\"new\",\"version\":0,\"events\":[{\"type\":\"ok\"},{\"type\":\"\"}]}");
    HARNESS_EXPECT(c, "-list of events is empty", "ADD",
                   "{\"stream\":\"new\",\"version\":0,\"events\":[]}");
    /* A conflicting batch adds none of its events either. */
    HARNESS_EXPECT(c, "-concurrent stream modification", "ADD",
                   "{\"stream\":\"b\",\"version\":0,\"events\":[{\"type\":\"x\"},{\"type\":\"y\"}]}");
    assert_counts(c, 1, 1);
    HARNESS_EXPECT(c, "[]", "GET", "{\"stream\":\"new\"}");
    json_t *b = read_events(c, "GET", "{\"stream\":\"b\"}");
    assert_int_equal(json_array_size(b), 1);
    assert_string_equal(harness_json_str(json_array_get(b, 0), "type"), "first");
    json_decref(b);
    harness_pass(*state);
}

static void test_get_paging(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);

    json_t *all = json_array();
    for (int i = 0; i < 10; i++) {
        char req[160];
        snprintf(req, sizeof req,
                 "{\"stream\":\"p\",\"version\":%d,\"events\":[{\"type\":\"t%d\",\"data\":{\"i\":%d}}]}",
                 i, i, i);
        json_t *e = add_ok(c, req);
        json_array_extend(all, e);
        json_decref(e);
    }
    struct {
        const char *req;
        size_t from, n;
    } cases[] = {
        {"{\"stream\":\"p\"}", 0, 10},
        {"{\"stream\":\"p\",\"version\":0,\"limit\":0}", 0, 10},
        {"{\"stream\":\"p\",\"version\":3,\"limit\":4}", 3, 4},
        {"{\"stream\":\"p\",\"version\":8}", 8, 2},
        {"{\"stream\":\"p\",\"version\":8,\"limit\":100}", 8, 2},
        {"{\"stream\":\"p\",\"limit\":1}", 0, 1},
        {"{\"stream\":\"p\",\"version\":9,\"limit\":1}", 9, 1},
        {"{\"stream\":\"p\",\"version\":10}", 10, 0},
        {"{\"stream\":\"p\",\"version\":1000}", 10, 0},
        {"{\"stream\":\"unknown\"}", 0, 0},
        {"{\"stream\":\"P\"}", 0, 0}, /* stream names are case-sensitive */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        json_t *got = read_events(c, "GET", cases[k].req);
        json_t *want = json_array();
        for (size_t i = 0; i < cases[k].n; i++)
            json_array_append(want, json_array_get(all, cases[k].from + i));
        harness_assert_json_equal(got, want);
        json_decref(want);
        json_decref(got);
    }
    /* The alias. */
    json_t *got = read_events(c, "G", "{\"stream\":\"p\",\"version\":5,\"limit\":1}");
    assert_int_equal(harness_json_int(json_array_get(got, 0), "version"), 5);
    json_decref(got);
    json_decref(all);
    harness_pass(*state);
}

static void test_getall_paging_and_order(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);

    /* Interleave three streams: the global order is commit order. */
    json_t *all = json_array();
    for (int i = 0; i < 15; i++) {
        char req[200];
        snprintf(req, sizeof req,
                 "{\"stream\":\"s%d\",\"version\":\"any\",\"events\":[{\"type\":\"t\",\"data\":\"%d\"}%s]}",
                 i % 3, i, i % 4 == 0 ? ",{\"type\":\"second\"}" : "");
        json_t *e = add_ok(c, req);
        json_array_extend(all, e);
        json_decref(e);
    }
    size_t total = json_array_size(all);
    assert_int_equal(total, 19);
    char last[27] = ZERO_ULID;
    assert_ids_increase(all, last);
    const char *id8 = harness_json_str(json_array_get(all, 8), "id");
    const char *id_last = harness_json_str(json_array_get(all, total - 1), "id");

    char req[200];
    struct {
        char req[200];
        size_t from, n;
    } cases[8];
    size_t nc = 0;
    snprintf(cases[nc].req, sizeof cases[nc].req, "{}");
    cases[nc].from = 0, cases[nc++].n = 10; /* default limit 10 */
    snprintf(cases[nc].req, sizeof cases[nc].req, "{\"limit\":0}");
    cases[nc].from = 0, cases[nc++].n = 10;
    snprintf(cases[nc].req, sizeof cases[nc].req, "{\"limit\":100}");
    cases[nc].from = 0, cases[nc++].n = total;
    snprintf(cases[nc].req, sizeof cases[nc].req, "{\"offset\":\"%s\",\"limit\":3}", ZERO_ULID);
    cases[nc].from = 0, cases[nc++].n = 3;
    snprintf(cases[nc].req, sizeof cases[nc].req, "{\"offset\":\"%s\",\"limit\":100}", id8);
    cases[nc].from = 9, cases[nc++].n = total - 9; /* strictly after */
    snprintf(cases[nc].req, sizeof cases[nc].req, "{\"offset\":\"%s\"}", id8);
    cases[nc].from = 9, cases[nc++].n = 10;
    snprintf(cases[nc].req, sizeof cases[nc].req, "{\"offset\":\"%s\",\"limit\":5}", id_last);
    cases[nc].from = total, cases[nc++].n = 0;
    snprintf(cases[nc].req, sizeof cases[nc].req, "{\"offset\":\"7ZZZZZZZZZZZZZZZZZZZZZZZZZ\"}");
    cases[nc].from = total, cases[nc++].n = 0;
    for (size_t k = 0; k < nc; k++) {
        json_t *got = read_events(c, k % 2 ? "GA" : "GETALL", cases[k].req);
        json_t *want = json_array();
        for (size_t i = 0; i < cases[k].n; i++)
            json_array_append(want, json_array_get(all, cases[k].from + i));
        if (!json_equal(got, want))
            fprintf(stderr, "GETALL %s\n", cases[k].req);
        harness_assert_json_equal(got, want);
        json_decref(want);
        json_decref(got);
    }

    /* Paging with the last id of each page walks the whole log once. */
    json_t *walked = json_array();
    char offset[27] = ZERO_ULID;
    for (;;) {
        snprintf(req, sizeof req, "{\"offset\":\"%s\",\"limit\":4}", offset);
        json_t *page = read_events(c, "GETALL", req);
        size_t k = json_array_size(page);
        if (k == 0) {
            json_decref(page);
            break;
        }
        assert_true(k <= 4);
        snprintf(offset, sizeof offset, "%s", harness_json_str(json_array_get(page, k - 1), "id"));
        json_array_extend(walked, page);
        json_decref(page);
    }
    harness_assert_json_equal(walked, all);
    json_decref(walked);
    json_decref(all);
    harness_pass(*state);
}

static void test_liststreams(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);

    /* 30 streams (more than the default page of 25), stream i holding
     * i % 4 + 1 events, some written in two ADDs. */
    json_t *created = json_object(); /* name -> added_at of its first ADD */
    json_t *lengths = json_object();
    for (int i = 0; i < 30; i++) {
        char name[16], req[300];
        snprintf(name, sizeof name, "stream-%02d", i);
        int len = i % 4 + 1;
        snprintf(req, sizeof req, "{\"stream\":\"%s\",\"version\":0,\"events\":[{\"type\":\"a\"}]}",
                 name);
        json_t *e = add_ok(c, req);
        json_object_set(created, name, json_object_get(json_array_get(e, 0), "added_at"));
        json_decref(e);
        if (len > 1) {
            snprintf(req, sizeof req, "{\"stream\":\"%s\",\"version\":1,\"events\":[%s]}", name,
                     len == 2 ? "{\"type\":\"b\"}"
                     : len == 3 ? "{\"type\":\"b\"},{\"type\":\"c\"}"
                                : "{\"type\":\"b\"},{\"type\":\"c\"},{\"type\":\"d\"}");
            e = add_ok(c, req);
            json_decref(e);
        }
        json_object_set_new(lengths, name, json_integer(len));
    }
    assert_counts(c, 73, 30); /* 7 * (1 + 2 + 3 + 4) + 1 + 2 */

    /* Every page element is {"id", "events", "added_at"}. */
    json_t *first = read_events(c, "LISTSTREAMS", NULL);
    assert_int_equal(json_array_size(first), 25);
    json_t *same = read_events(c, "LSTREAMS", "{\"limit\":0}");
    harness_assert_json_equal(same, first);
    json_decref(same);

    /* Pages of 7 put together are the whole list, each stream once. */
    json_t *seen = json_object();
    json_t *listed = json_array();
    char req[64];
    for (int skip = 0;; skip += 7) {
        snprintf(req, sizeof req, "{\"skip\":%d,\"limit\":7}", skip);
        json_t *page = read_events(c, skip % 2 ? "LSTREAMS" : "LISTSTREAMS", req);
        size_t k = json_array_size(page);
        assert_true(k <= 7);
        for (size_t i = 0; i < k; i++) {
            const json_t *s = json_array_get(page, i);
            assert_int_equal(json_object_size(s), 3);
            const char *name = harness_json_str(s, "id");
            assert_null(json_object_get(seen, name));
            json_object_set_new(seen, name, json_true());
            assert_non_null(json_object_get(lengths, name));
            assert_int_equal(harness_json_int(s, "events"),
                             json_integer_value(json_object_get(lengths, name)));
            assert_string_equal(harness_json_str(s, "added_at"),
                                json_string_value(json_object_get(created, name)));
        }
        json_array_extend(listed, page);
        json_decref(page);
        if (k < 7)
            break;
    }
    assert_int_equal(json_object_size(seen), 30);
    /* The default page is the first 25 of that same order. */
    for (size_t i = 0; i < 25; i++)
        harness_assert_json_equal(json_array_get(first, i), json_array_get(listed, i));
    snprintf(req, sizeof req, "{\"skip\":25}");
    json_t *rest = read_events(c, "LISTSTREAMS", req);
    assert_int_equal(json_array_size(rest), 5);
    for (size_t i = 0; i < 5; i++)
        harness_assert_json_equal(json_array_get(rest, i), json_array_get(listed, 25 + i));
    json_decref(rest);
    HARNESS_EXPECT(c, "[]", "LISTSTREAMS", "{\"skip\":30}");
    HARNESS_EXPECT(c, "[]", "LISTSTREAMS", "{\"skip\":1000,\"limit\":3}");

    json_decref(listed);
    json_decref(seen);
    json_decref(first);
    json_decref(lengths);
    json_decref(created);
    harness_pass(*state);
}

static void test_counters_and_checksum(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);

    assert_counts(c, 0, 0);
    HARNESS_EXPECT(c, "[\"" ZERO_ULID "\", \"AAAAAAA=\"]", "CHECKSUM");
    HARNESS_EXPECT(c, "[\"" ZERO_ULID "\", \"AAAAAAA=\"]", "CH");

    char prev_sum[16] = "AAAAAAA=";
    struct {
        const char *req; /* NULL: a failing ADD */
        int64_t events, streams;
    } steps[] = {
        {"{\"stream\":\"c1\",\"version\":0,\"events\":[{\"type\":\"a\"},{\"type\":\"b\"},{\"type\":\"c\"}]}", 3, 1},
        {"{\"stream\":\"c2\",\"version\":0,\"events\":[{\"type\":\"a\",\"data\":\"x\"},{\"type\":\"b\"}]}", 5, 2},
        {"{\"stream\":\"c1\",\"version\":3,\"events\":[{\"type\":\"d\"}]}", 6, 2},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        json_t *e = add_ok(c, steps[i].req);
        const char *last_id = harness_json_str(json_array_get(e, json_array_size(e) - 1), "id");
        assert_counts(c, steps[i].events, steps[i].streams);

        struct resp_value v = cmd(c, i % 2 ? "CH" : "CHECKSUM", NULL);
        assert_int_equal(v.type, RESP_T_ARRAY);
        assert_int_equal(v.n, 2);
        assert_int_equal(v.elems[0].type, RESP_T_BULK);
        assert_int_equal(v.elems[1].type, RESP_T_BULK);
        /* The first element is the latest event's id, the second moved. */
        assert_string_equal(v.elems[0].str, last_id);
        assert_matches(v.elems[1].str, "^[A-Z2-7]{7}=$");
        assert_string_not_equal(v.elems[1].str, prev_sum);
        snprintf(prev_sum, sizeof prev_sum, "%s", v.elems[1].str);
        char *before = harness_repr(&v);
        resp_value_free(&v);
        json_decref(e);

        /* Failed writes and reads change nothing. */
        HARNESS_EXPECT(c, "-concurrent stream modification", "ADD",
                       "{\"stream\":\"c1\",\"version\":0,\"events\":[{\"type\":\"z\"}]}");
        HARNESS_EXPECT(c, "-event type cannot be empty", "ADD",
                       "{\"stream\":\"c9\",\"version\":0,\"events\":[{\"type\":\"\"}]}");
        json_t *r = read_events(c, "GETALL", "{\"limit\":100}");
        json_decref(r);
        assert_counts(c, steps[i].events, steps[i].streams);
        HARNESS_EXPECT(c, before, "CHECKSUM");
        free(before);
    }
    harness_pass(*state);
}

/* Milliseconds of a Go-style duration ("1h2m3.004s", "523ms", "1.5µs"). */
static double parse_duration_ms(const char *s)
{
    double total = 0;
    while (*s) {
        char *end;
        double v = strtod(s, &end);
        if (end == s)
            fail_msg("bad duration '%s'", s);
        s = end;
        if (strncmp(s, "ms", 2) == 0)
            total += v, s += 2;
        else if (strncmp(s, "us", 2) == 0)
            total += v / 1000, s += 2;
        else if (strncmp(s, "\xc2\xb5s", 3) == 0)
            total += v / 1000, s += 3;
        else if (strncmp(s, "ns", 2) == 0)
            total += v / 1e6, s += 2;
        else if (*s == 'h')
            total += v * 3600000, s++;
        else if (*s == 'm')
            total += v * 60000, s++;
        else if (*s == 's')
            total += v * 1000, s++;
        else
            fail_msg("bad duration unit in '%s'", s);
    }
    return total;
}

static void assert_size_reply(const struct resp_value *v)
{
    assert_int_equal(v->type, RESP_T_ARRAY);
    assert_int_equal(v->n, 2);
    assert_int_equal(v->elems[0].type, RESP_T_INT);
    assert_int_equal(v->elems[1].type, RESP_T_BULK);
    int64_t bytes = v->elems[0].integer;
    assert_true(bytes > 0);
    /* SI units, the number below 1000 of its unit, rounded as go-humanize
     * (EventflowDB's) does: one decimal below 10, none from 10 on. */
    const char *h = v->elems[1].str;
    assert_matches(h, "^[0-9]+(\\.[0-9])? (B|kB|MB|GB|TB)$");
    double num = strtod(h, NULL);
    const char *unit = strchr(h, ' ') + 1;
    double scale = strcmp(unit, "B") == 0    ? 1
                   : strcmp(unit, "kB") == 0 ? 1e3
                   : strcmp(unit, "MB") == 0 ? 1e6
                   : strcmp(unit, "GB") == 0 ? 1e9
                                             : 1e12;
    double tolerance = (strchr(h, '.') ? 0.051 : 0.501) * scale;
    if (scale == 1)
        assert_int_equal((int64_t)num, bytes);
    else if (!((double)bytes >= scale && (double)bytes < scale * 1000 &&
               (double)bytes - num * scale <= tolerance && num * scale - (double)bytes <= tolerance))
        fail_msg("SIZE: %lld bytes shown as '%s'", (long long)bytes, h);
}

static void test_size_uptime_version(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);

    struct resp_value v = cmd(c, "SIZE", NULL);
    assert_size_reply(&v);
    int64_t size_before = v.elems[0].integer;
    resp_value_free(&v);

    /* Some 200 kB of events: the store grows. */
    static char big[2100];
    memset(big, 'x', sizeof big - 1);
    for (int i = 0; i < 10; i++) {
        struct buf req;
        buf_init(&req);
        buf_printf(&req, "{\"stream\":\"size\",\"version\":\"any\",\"events\":[");
        for (int k = 0; k < 10; k++)
            buf_printf(&req, "%s{\"type\":\"t\",\"data\":\"%d%s\"}", k ? "," : "", k, big);
        buf_printf(&req, "]}");
        buf_append_char(&req, '\0');
        json_t *e = add_ok(c, req.data);
        json_decref(e);
        buf_free(&req);
    }
    v = cmd(c, "S", NULL);
    assert_size_reply(&v);
    assert_true(v.elems[0].integer > size_before);
    resp_value_free(&v);

    v = cmd(c, "UPTIME", NULL);
    assert_int_equal(v.type, RESP_T_ARRAY);
    assert_int_equal(v.n, 2);
    assert_int_equal(v.elems[0].type, RESP_T_INT);
    assert_int_equal(v.elems[1].type, RESP_T_BULK);
    int64_t ms = v.elems[0].integer;
    assert_true(ms >= 0 && ms < 600000);
    double human = parse_duration_ms(v.elems[1].str);
    if (human < (double)ms - 1 || human > (double)ms + 1)
        fail_msg("UPTIME: %lld ms shown as '%s'", (long long)ms, v.elems[1].str);
    resp_value_free(&v);

    /* The uptime is monotonic. */
    v = cmd(c, "UP", NULL);
    assert_int_equal(v.type, RESP_T_ARRAY);
    assert_int_equal(v.elems[0].type, RESP_T_INT);
    assert_true(v.elems[0].integer >= ms);
    resp_value_free(&v);

    HARNESS_EXPECT(c, "+" EVENTFLOW_VERSION, "VERSION");
    HARNESS_EXPECT(c, "+" EVENTFLOW_VERSION, "V");
    harness_pass(*state);
}

static int64_t realtime_ms(void)
{
    struct timespec ts;
    assert_int_equal(clock_gettime(CLOCK_REALTIME, &ts), 0);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* STATUS (an eventflow extension) agrees with the other commands. */
static void test_status(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    json_t *e = add_ok(c, "{\"stream\":\"st\",\"version\":0,\"events\":[{\"type\":\"a\"},{\"type\":\"b\"}]}");
    const char *last_id = harness_json_str(json_array_get(e, 1), "id");

    int64_t before_ms = realtime_ms();
    struct resp_value v = cmd(c, "STATUS", NULL);
    int64_t after_ms = realtime_ms();
    json_t *st = harness_assert_json(&v);
    resp_value_free(&v);
    assert_true(json_is_object(st));
    /* The node's wall clock, read while it answered (same host, same
     * clock: it lies between the readings taken around the request). */
    assert_true(harness_json_int(st, "time_ms") >= before_ms);
    assert_true(harness_json_int(st, "time_ms") <= after_ms);
    assert_int_equal(harness_json_int(st, "id"), 1);
    assert_string_equal(harness_json_str(st, "state"), "leader");
    assert_true(json_is_true(json_object_get(st, "ready")));
    assert_int_equal(harness_json_int(st, "leader_id"), 1);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", n->port);
    assert_string_equal(harness_json_str(st, "leader_address"), addr);
    assert_int_equal(harness_json_int(st, "events"), 2);
    assert_int_equal(harness_json_int(st, "streams"), 1);
    assert_string_equal(harness_json_str(st, "last_id"), last_id);
    assert_string_equal(harness_json_str(st, "version"), EVENTFLOW_VERSION);
    assert_true(harness_json_int(st, "term") >= 1);
    assert_true(harness_json_int(st, "applied_index") <= harness_json_int(st, "commit_index"));
    assert_true(harness_json_int(st, "commit_index") <= harness_json_int(st, "last_index"));
    assert_true(harness_json_int(st, "snapshot_index") <= harness_json_int(st, "applied_index"));
    assert_true(harness_json_int(st, "db_bytes") > 0);
    assert_true(harness_json_int(st, "uptime_ms") >= 0);

    v = cmd(c, "CHECKSUM", NULL);
    assert_int_equal(v.type, RESP_T_ARRAY);
    assert_int_equal(v.n, 2);
    assert_string_equal(v.elems[0].str, last_id);
    assert_string_equal(harness_json_str(st, "checksum"), v.elems[1].str);
    resp_value_free(&v);
    json_decref(st);
    json_decref(e);
    harness_pass(*state);
}

/* An idempotency key answers only a retry of its own event: the same key
 * on a different event is refused, names the key and writes nothing, also
 * after a restart (the transcript, through redis-cli). */
static void test_idempotency_key_reuse(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    static const char placed[] =
        "{\"stream\":\"orders-1\",\"version\":\"any\",\"events\":[{\"type\":\"OrderPlaced\",\"key\":\"k-1\"}]}";
    static const char refund[] =
        "{\"stream\":\"refunds-9\",\"version\":0,\"events\":[{\"type\":\"RefundIssued\",\"key\":\"k-1\"}]}";
    static const char refused[] = "(error) KEYREUSE idempotency key \"k-1\" was used before with a different "
                                  "stream; nothing was written. A retry must resend the same ADD; a new event "
                                  "needs a new key\n";
    for (int run = 0; run < 2; run++) {
        char *out;
        if (run == 0) {
            out = CLI(n, "ADD", placed);
            assert_non_null(strstr(out, "\\\"stream\\\":\\\"orders-1\\\""));
            free(out);
        }
        out = CLI(n, "ADD", refund);
        assert_string_equal(out, refused);
        free(out);
        out = CLI(n, "EVENTCOUNT");
        assert_string_equal(out, "(integer) 1\n");
        free(out);
        out = CLI(n, "GET", "{\"stream\":\"refunds-9\"}");
        assert_string_equal(out, "(empty array)\n");
        free(out);
        /* The retry of the original still answers with the event first
         * written. */
        out = CLI(n, "ADD", placed);
        /* redis-cli --no-raw shows the JSON with its quotes escaped. */
        assert_non_null(strstr(out, "orders-1\\\",\\\"version\\\":0,\\\"type\\\":\\\"OrderPlaced"));
        free(out);
        out = CLI(n, "EVENTCOUNT");
        assert_string_equal(out, "(integer) 1\n");
        free(out);
        harness_assert_stop(n);
        harness_assert_restart(n);
    }
    harness_pass(*state);
}

/* CONFIG GET and SET on a single node: the window a new cluster records,
 * a change, and what is refused. */
static void test_config_settings(void **state)
{
    static const char *const args[] = {"--dedup-window", "100", NULL};
    struct harness_node_opts o = {.args = args};
    struct harness_node *n = harness_start_single(*state, &o);
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    /* The first leader records its --dedup-window through the log. */
    int64_t until = harness_now_ms() + HARNESS_READY_TIMEOUT_MS;
    for (;;) {
        char *r = harness_cmd_repr(c, "CONFIG", "GET", "dedup-window", NULL);
        bool done = strcmp(r, "[\"dedup-window\", \"100\"]") == 0;
        free(r);
        if (done)
            break;
        assert_true(harness_now_ms() < until);
    }
    HARNESS_EXPECT(c, "[\"dedup-window\", \"100\"]", "CONFIG", "GET", "*");
    HARNESS_EXPECT(c, "[]", "CONFIG", "GET", "maxmemory");
    HARNESS_EXPECT(c, "+OK", "CONFIG", "SET", "dedup-window", "2");
    HARNESS_EXPECT(c, "[\"dedup-window\", \"2\"]", "CONFIG", "GET", "dedup-window");
    HARNESS_EXPECT(c, "-invalid dedup-window: expected 1..1073741824 keys", "CONFIG", "SET", "dedup-window", "0");
    HARNESS_EXPECT(c, "-invalid dedup-window: expected 1..1073741824 keys", "CONFIG", "SET", "dedup-window",
                   "1073741825");
    HARNESS_EXPECT(c, "-unknown setting 'maxmemory' (settings: dedup-window)", "CONFIG", "SET", "maxmemory", "1");
    HARNESS_EXPECT(c, "-usage: CONFIG SET <name> <value>", "CONFIG", "SET", "dedup-window");
    HARNESS_EXPECT(c, "-unknown CONFIG subcommand (GET, SET)", "CONFIG", "RESETSTAT");
    HARNESS_EXPECT(c, "-insufficient arguments", "CONFIG");
    json_t *st;
    struct resp_value v = cmd(c, "STATUS", NULL);
    st = harness_assert_json(&v);
    resp_value_free(&v);
    assert_int_equal(harness_json_int(st, "dedup_window"), 2);
    json_decref(st);

    /* A window of 2 keys: the third key forgets the first, whose ADD is
     * then a new write. */
    static const char *const keyed[] = {
        "{\"stream\":\"w\",\"version\":\"any\",\"events\":[{\"type\":\"t\",\"key\":\"a\"}]}",
        "{\"stream\":\"w\",\"version\":\"any\",\"events\":[{\"type\":\"t\",\"key\":\"b\"}]}",
        "{\"stream\":\"w\",\"version\":\"any\",\"events\":[{\"type\":\"t\",\"key\":\"c\"}]}",
    };
    for (size_t i = 0; i < 3; i++)
        json_decref(add_ok(c, keyed[i]));
    json_t *again = add_ok(c, keyed[0]);
    assert_int_equal(harness_json_int(json_array_get(again, 0), "version"), 3);
    json_decref(again);
    again = add_ok(c, keyed[2]);
    assert_int_equal(harness_json_int(json_array_get(again, 0), "version"), 2);
    json_decref(again);
    harness_close(c);

    /* The window is the log's, not the flag's: a restart with another
     * --dedup-window keeps 2. */
    harness_assert_stop(n);
    free(n->args[1]);
    n->args[1] = strdup("7");
    harness_assert_restart(n);
    c = harness_connect(n);
    assert_non_null(c);
    HARNESS_EXPECT(c, "[\"dedup-window\", \"2\"]", "CONFIG", "GET", "dedup-window");
    harness_pass(*state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cli_transcript, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_ping_quit_inline, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_reads_see_earlier_writes, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_add_returns_stored_events, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_expected_version, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_batch_is_atomic, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_get_paging, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_getall_paging_and_order, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_liststreams, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_counters_and_checksum, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_size_uptime_version, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_status, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_idempotency_key_reuse, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_config_settings, harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
