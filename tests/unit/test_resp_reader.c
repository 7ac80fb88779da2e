/* test_resp_reader.c - the client-side reply parser (resp_reader.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "protocol/resp_reader.h"
#include "protocol/resp_writer.h"

#define S(lit) lit, sizeof(lit) - 1

/* ---- helpers ------------------------------------------------------------ */

/* Render a value as compact text, to compare whole trees at once:
 * +text -text :n $len:bytes nil [a,b] */
static void describe(struct buf *out, const struct resp_value *v)
{
    switch (v->type) {
    case RESP_T_SIMPLE:
    case RESP_T_ERROR:
        /* The string is NUL-terminated as promised. */
        assert_int_equal(v->str[v->len], '\0');
        buf_append_char(out, v->type == RESP_T_SIMPLE ? '+' : '-');
        buf_append(out, v->str, v->len);
        break;
    case RESP_T_INT:
        buf_printf(out, ":%lld", (long long)v->integer);
        break;
    case RESP_T_BULK:
        assert_int_equal(v->str[v->len], '\0');
        buf_printf(out, "$%zu:", v->len);
        buf_append(out, v->str, v->len);
        break;
    case RESP_T_NULL:
        assert_null(v->str);
        buf_append_str(out, "nil");
        break;
    case RESP_T_ARRAY:
    case RESP_T_PUSH:
    case RESP_T_MAP:
        if (v->type != RESP_T_ARRAY)
            buf_append_char(out, v->type == RESP_T_PUSH ? '>' : '%');
        buf_append_char(out, '[');
        for (size_t i = 0; i < v->n; i++) {
            if (i > 0)
                buf_append_char(out, ',');
            describe(out, &v->elems[i]);
        }
        buf_append_char(out, ']');
        break;
    default:
        fail_msg("bad type %d", (int)v->type);
    }
}

/* Feed `in` in `chunk`-byte pieces (0 = all at once), taking replies after
 * every piece. Each reply is described and followed by ';'; the run ends
 * with "!" on a protocol error, or "R" when the input ends mid-reply. */
static char *trace_replies(const struct resp_reader_limits *lim, const char *in, size_t len,
                           size_t chunk)
{
    struct resp_reader r;
    struct buf out;
    resp_reader_init(&r, lim);
    buf_init(&out);
    size_t fed = 0;
    int rc = 0;
    do {
        size_t n = chunk == 0 || len - fed < chunk ? len - fed : chunk;
        resp_reader_feed(&r, in + fed, n);
        fed += n;
        struct resp_value v;
        while ((rc = resp_reader_next(&r, &v)) == 1) {
            describe(&out, &v);
            buf_append_char(&out, ';');
            resp_value_free(&v);
        }
        if (rc < 0) {
            buf_append_char(&out, '!');
            break;
        }
    } while (fed < len);
    if (rc == 0 && r.in.len > r.start)
        buf_append_char(&out, 'R');
    resp_reader_free(&r);
    buf_append_char(&out, '\0');
    return out.data;
}

static void assert_replies(const struct resp_reader_limits *lim, const char *in, size_t len,
                           const char *want)
{
    char *whole = trace_replies(lim, in, len, 0);
    assert_string_equal(whole, want);
    static const size_t chunks[] = {1, 2, 3, 5, 64};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        char *t = trace_replies(lim, in, len, chunks[i]);
        assert_string_equal(t, want);
        free(t);
    }
    free(whole);
}

#define ASSERT_REPLIES(lim, lit, want) assert_replies(lim, S(lit), want)

/* ---- tests -------------------------------------------------------------- */

static void test_scalars(void **state)
{
    (void)state;
    ASSERT_REPLIES(NULL, "+OK\r\n", "+OK;");
    ASSERT_REPLIES(NULL, "+\r\n", "+;");
    ASSERT_REPLIES(NULL, "-unknown command\r\n", "-unknown command;");
    ASSERT_REPLIES(NULL, ":0\r\n:-5\r\n:42\r\n", ":0;:-5;:42;");
    ASSERT_REPLIES(NULL, ":9223372036854775807\r\n:-9223372036854775808\r\n",
                   ":9223372036854775807;:-9223372036854775808;");
    ASSERT_REPLIES(NULL, "$5\r\nhello\r\n$0\r\n\r\n", "$5:hello;$0:;");
    ASSERT_REPLIES(NULL, "$-1\r\n*-1\r\n", "nil;nil;");
}

static void test_binary_bulk(void **state)
{
    (void)state;
    struct resp_reader r;
    resp_reader_init(&r, NULL);
    resp_reader_feed(&r, S("$6\r\na\0\r\nb\n\r\n"));
    struct resp_value v;
    assert_int_equal(resp_reader_next(&r, &v), 1);
    assert_int_equal(v.type, RESP_T_BULK);
    assert_int_equal(v.len, 6);
    assert_memory_equal(v.str, "a\0\r\nb\n", 7); /* and the terminating NUL */
    resp_value_free(&v);
    assert_int_equal(resp_reader_next(&r, &v), 0);
    resp_reader_free(&r);
}

static void test_arrays(void **state)
{
    (void)state;
    ASSERT_REPLIES(NULL, "*0\r\n", "[];");
    ASSERT_REPLIES(NULL, "*2\r\n$2\r\nab\r\n:1\r\n", "[$2:ab,:1];");
    ASSERT_REPLIES(NULL, "*3\r\n*2\r\n+a\r\n*0\r\n$-1\r\n*1\r\n*1\r\n-e\r\n",
                   "[[+a,[]],nil,[[-e]]];");
    /* An array ending several levels at once, followed by another reply. */
    ASSERT_REPLIES(NULL, "*1\r\n*1\r\n*1\r\n:7\r\n+next\r\n", "[[[:7]]];+next;");
    ASSERT_REPLIES(NULL, "*2\r\n*-1\r\n$-1\r\n", "[nil,nil];");
}

/* RESP3's push frames, maps (read as their 2n elements) and null. */
static void test_resp3(void **state)
{
    (void)state;
    ASSERT_REPLIES(NULL, ">3\r\n$7\r\nmessage\r\n$1\r\ns\r\n$2\r\n{}\r\n", ">[$7:message,$1:s,$2:{}];");
    ASSERT_REPLIES(NULL, "%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n*0\r\n", "%[$1:a,:1,$1:b,[]];");
    ASSERT_REPLIES(NULL, "%0\r\n>0\r\n_\r\n+OK\r\n", "%[];>[];nil;+OK;");
    ASSERT_REPLIES(NULL, "*2\r\n>1\r\n_\r\n%1\r\n_\r\n_\r\n", "[>[nil],%[nil,nil]];");
    ASSERT_REPLIES(NULL, "_x\r\n", "!");
    ASSERT_REPLIES(NULL, ">-1\r\n", "!");
    ASSERT_REPLIES(NULL, "%-1\r\n", "!");
    /* A map's pairs count twice against the element limit. */
    struct resp_reader_limits three = {.max_elems = 3};
    ASSERT_REPLIES(&three, "%2\r\n:1\r\n:2\r\n:3\r\n:4\r\n", "!");
    ASSERT_REPLIES(&three, "%1\r\n:1\r\n:2\r\n", "%[:1,:2];");
}

static void test_pipelined_and_partial(void **state)
{
    (void)state;
    static const char in[] = "+OK\r\n"
                             "*2\r\n:1\r\n$3\r\nabc\r\n"
                             "-MOVED 0 127.0.0.1:6543\r\n"
                             ":10\r\n"
                             "*2\r\n*1\r\n$1\r\nx\r\n";
    ASSERT_REPLIES(NULL, in, "+OK;[:1,$3:abc];-MOVED 0 127.0.0.1:6543;:10;R");

    /* Split at every position: the same replies. */
    for (size_t cut = 0; cut <= sizeof in - 1; cut++) {
        struct resp_reader r;
        resp_reader_init(&r, NULL);
        struct buf out;
        buf_init(&out);
        struct resp_value v;
        resp_reader_feed(&r, in, cut);
        while (resp_reader_next(&r, &v) == 1) {
            describe(&out, &v);
            resp_value_free(&v);
        }
        resp_reader_feed(&r, in + cut, sizeof in - 1 - cut);
        int rc;
        while ((rc = resp_reader_next(&r, &v)) == 1) {
            describe(&out, &v);
            resp_value_free(&v);
        }
        assert_int_equal(rc, 0);
        buf_append_char(&out, '\0');
        assert_string_equal(out.data, "+OK[:1,$3:abc]-MOVED 0 127.0.0.1:6543:10");
        buf_free(&out);
        resp_reader_free(&r);
    }
}

static void test_next_without_input(void **state)
{
    (void)state;
    struct resp_reader r;
    resp_reader_init(&r, NULL);
    struct resp_value v;
    assert_int_equal(resp_reader_next(&r, &v), 0);
    resp_reader_feed(&r, "", 0);
    assert_int_equal(resp_reader_next(&r, &v), 0);
    /* *out is always safe to free. */
    resp_value_free(&v);
    resp_reader_free(&r);
}

static void test_malformed(void **state)
{
    (void)state;
    ASSERT_REPLIES(NULL, "?\r\n", "!");
    ASSERT_REPLIES(NULL, "\r\n", "!");
    ASSERT_REPLIES(NULL, "+OK\n", "!");
    ASSERT_REPLIES(NULL, ":\r\n", "!");
    ASSERT_REPLIES(NULL, ":1x\r\n", "!");
    ASSERT_REPLIES(NULL, ":+1\r\n", "!");
    ASSERT_REPLIES(NULL, ":1\n", "!");
    ASSERT_REPLIES(NULL, ":9223372036854775808\r\n", "!");
    ASSERT_REPLIES(NULL, ":-9223372036854775809\r\n", "!");
    ASSERT_REPLIES(NULL, ":99999999999999999999\r\n", "!");
    ASSERT_REPLIES(NULL, ":1234567890123456789012345", "!"); /* no line end in sight */
    ASSERT_REPLIES(NULL, "$-2\r\n", "!");
    ASSERT_REPLIES(NULL, "$x\r\n", "!");
    ASSERT_REPLIES(NULL, "$3\r\nabcd\r\n", "!");
    ASSERT_REPLIES(NULL, "$3\r\nabc\n\r", "!");
    ASSERT_REPLIES(NULL, "*-2\r\n", "!");
    ASSERT_REPLIES(NULL, "*1\r\n?\r\n", "!");
    /* Good replies before the bad one still come out. */
    ASSERT_REPLIES(NULL, "+OK\r\n:1\r\n*2\r\n:1\r\n%\r\n", "+OK;:1;!");

    /* The error sticks: more input does not resynchronize. */
    struct resp_reader r;
    resp_reader_init(&r, NULL);
    struct resp_value v;
    resp_reader_feed(&r, S("*2\r\n:1\r\n!bad\r\n"));
    assert_int_equal(resp_reader_next(&r, &v), -1);
    resp_reader_feed(&r, S("+OK\r\n"));
    assert_int_equal(resp_reader_next(&r, &v), -1);
    resp_reader_free(&r);
}

static void test_limit_bulk(void **state)
{
    (void)state;
    static const struct resp_reader_limits lim = {.max_bulk = 8};
    ASSERT_REPLIES(&lim, "$8\r\n12345678\r\n", "$8:12345678;");
    /* Over the limit: refused at the header, without waiting for the body. */
    ASSERT_REPLIES(&lim, "$9\r\n", "!");
    /* Simple strings and errors have the same bound, also before their end. */
    ASSERT_REPLIES(&lim, "+12345678\r\n", "+12345678;");
    ASSERT_REPLIES(&lim, "+12345678\r", "R");
    ASSERT_REPLIES(&lim, "+123456789\r\n", "!");
    ASSERT_REPLIES(&lim, "-123456789", "!");
}

static void test_limit_elems(void **state)
{
    (void)state;
    static const struct resp_reader_limits lim = {.max_elems = 3};
    ASSERT_REPLIES(&lim, "*3\r\n:1\r\n:2\r\n:3\r\n", "[:1,:2,:3];");
    ASSERT_REPLIES(&lim, "*4\r\n", "!");
    ASSERT_REPLIES(NULL, "*16777217\r\n", "!");
    /* The default allows 16M elements, but only what has arrived costs memory. */
    ASSERT_REPLIES(NULL, "*16777216\r\n:1\r\n", "R");
}

static void test_limit_depth(void **state)
{
    (void)state;
    static const struct resp_reader_limits lim = {.max_depth = 3};
    ASSERT_REPLIES(&lim, "*1\r\n*1\r\n*1\r\n:1\r\n", "[[[:1]]];");
    ASSERT_REPLIES(&lim, "*1\r\n*1\r\n*0\r\n", "[[[]]];");
    ASSERT_REPLIES(&lim, "*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", "!");
    ASSERT_REPLIES(&lim, "*1\r\n*1\r\n*1\r\n*0\r\n", "!");
    /* A null array opens nothing. */
    ASSERT_REPLIES(&lim, "*1\r\n*1\r\n*1\r\n*-1\r\n", "[[[nil]]];");
    /* Depth is per reply, not cumulative. */
    ASSERT_REPLIES(&lim, "*1\r\n*1\r\n*1\r\n:1\r\n*1\r\n*1\r\n*1\r\n:2\r\n", "[[[:1]]];[[[:2]]];");
    /* The default is 8. */
    ASSERT_REPLIES(NULL, "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", "[[[[[[[[:1]]]]]]]];");
    ASSERT_REPLIES(NULL, "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n", "!");
}

static void test_round_trip_with_writer(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    resp_write_array_header(&b, 5);
    resp_write_simple(&b, "PONG");
    resp_write_int(&b, INT64_MIN);
    resp_write_null(&b);
    size_t off = resp_bulk_begin(&b);
    buf_append(&b, "x\r\ny", 4);
    resp_bulk_end(&b, off);
    resp_write_array_header(&b, 1);
    resp_write_error(&b, "NOLEADER no leader");
    char *t = trace_replies(NULL, b.data, b.len, 1);
    assert_string_equal(t, "[+PONG,:-9223372036854775808,nil,$4:x\r\ny,[-NOLEADER no leader]];");
    free(t);
    buf_free(&b);
}

static void test_big_reply_in_small_pieces_is_linear(void **state)
{
    (void)state;
    /* 500k small elements (about 4 MB), fed one byte at a time with a
     * resp_reader_next after every byte. A reader that rescanned the reply
     * from its start on every call would take hours. */
    const size_t n = 500000;
    struct buf b;
    buf_init(&b);
    resp_write_array_header(&b, n);
    for (size_t i = 0; i < n; i++)
        resp_write_int(&b, (int64_t)(i % 1000));
    /* And a 4 MB simple string, whose line end is searched incrementally. */
    size_t text = 4u << 20;
    buf_append_char(&b, '+');
    memset(buf_reserve(&b, text), 's', text);
    buf_commit(&b, text);
    buf_append_str(&b, "\r\n");

    struct resp_reader r;
    resp_reader_init(&r, NULL);
    struct resp_value v;
    int got = 0;
    for (size_t i = 0; i < b.len; i++) {
        resp_reader_feed(&r, b.data + i, 1);
        int rc = resp_reader_next(&r, &v);
        assert_int_not_equal(rc, -1);
        if (rc == 1) {
            got++;
            if (got == 1) {
                assert_int_equal(v.type, RESP_T_ARRAY);
                assert_int_equal(v.n, n);
                assert_int_equal(v.elems[n - 1].integer, (int64_t)((n - 1) % 1000));
            } else {
                assert_int_equal(v.type, RESP_T_SIMPLE);
                assert_int_equal(v.len, text);
            }
            resp_value_free(&v);
        }
    }
    assert_int_equal(got, 2);
    resp_reader_free(&r);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_binary_bulk),
        cmocka_unit_test(test_arrays),
        cmocka_unit_test(test_resp3),
        cmocka_unit_test(test_pipelined_and_partial),
        cmocka_unit_test(test_next_without_input),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_limit_bulk),
        cmocka_unit_test(test_limit_elems),
        cmocka_unit_test(test_limit_depth),
        cmocka_unit_test(test_round_trip_with_writer),
        cmocka_unit_test(test_big_reply_in_small_pieces_is_linear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
