/* test_resp_parser.c - the server-side request parser (resp_parser.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/mem.h"
#include "protocol/resp_parser.h"

static const struct resp_limits default_limits = {
    .max_bulk = 1024 * 1024,
    .max_args = 1024,
    .max_inline = 64 * 1024,
};

static const struct resp_limits small_limits = {
    .max_bulk = 10,
    .max_args = 4,
    .max_inline = 16,
};

#define S(lit) lit, sizeof(lit) - 1

/* ---- helpers ------------------------------------------------------------ */

/* Parse one step of a complete buffer with a fresh parser. */
static enum resp_status parse_once(const struct resp_limits *lim, const char *in, size_t len,
                                   struct resp_command *cmd, const char **err)
{
    struct resp_parser p;
    resp_parser_init(&p, lim);
    *err = NULL;
    enum resp_status st = resp_parser_parse(&p, in, len, cmd, err);
    resp_parser_free(&p);
    return st;
}

static void assert_arg(const struct resp_command *cmd, size_t i, const char *want, size_t want_len)
{
    assert_true(i < cmd->argc);
    assert_int_equal(cmd->argv[i].len, want_len);
    if (want_len > 0)
        assert_memory_equal(cmd->argv[i].ptr, want, want_len);
}

#define ASSERT_ARG(cmd, i, lit) assert_arg(cmd, i, S(lit))

/* Run `in` through one parser, offering `chunk` more bytes per round (0 =
 * everything at once), and describe what came out as text:
 *   C<argc>[<len>:<bytes>...]  a command (stored arguments only)
 *   E<consumed>                an empty request
 *   X<message>                 an error (ends the run)
 *   R<n>                       n bytes left over, incomplete
 * Every call gets a fresh, exactly sized copy of the unconsumed input, so the
 * buffer moves between calls as a realloc'ed one would, and the sanitizers
 * catch any pointer kept across calls or any read past the end. */
static char *trace_stream(const struct resp_limits *lim, const char *in, size_t len, size_t chunk)
{
    struct resp_parser p;
    struct buf out;
    size_t done = 0;  /* consumed bytes */
    size_t avail = 0; /* bytes offered so far */

    resp_parser_init(&p, lim);
    buf_init(&out);
    for (;;) {
        avail = chunk == 0 || len - avail < chunk ? len : avail + chunk;
        for (;;) {
            size_t n = avail - done;
            char *copy = xmalloc(n);
            if (n > 0)
                memcpy(copy, in + done, n);
            struct resp_command cmd;
            const char *err = NULL;
            enum resp_status st = resp_parser_parse(&p, copy, n, &cmd, &err);
            if (st == RESP_COMMAND) {
                assert_true(cmd.consumed > 0 && cmd.consumed <= n);
                buf_printf(&out, "C%zu[", cmd.argc);
                for (size_t i = 0; i < cmd.argc && i < RESP_MAX_ARGV; i++) {
                    buf_printf(&out, "%zu:", cmd.argv[i].len);
                    buf_append(&out, cmd.argv[i].ptr, cmd.argv[i].len);
                }
                buf_append_char(&out, ']');
                done += cmd.consumed;
            } else if (st == RESP_EMPTY) {
                assert_true(cmd.consumed > 0 && cmd.consumed <= n);
                buf_printf(&out, "E%zu", cmd.consumed);
                done += cmd.consumed;
            } else if (st == RESP_ERROR) {
                assert_non_null(err);
                buf_printf(&out, "X%s", err);
                free(copy);
                goto finished;
            } else {
                assert_int_equal(cmd.consumed, 0);
                free(copy);
                break;
            }
            free(copy);
        }
        if (avail == len)
            break;
    }
    buf_printf(&out, "R%zu", len - done);
finished:
    resp_parser_free(&p);
    buf_append_char(&out, '\0');
    return out.data;
}

/* Whole, byte by byte, and in a few other chunk sizes: all the same. */
static char *trace_all_ways(const struct resp_limits *lim, const char *in, size_t len)
{
    char *whole = trace_stream(lim, in, len, 0);
    static const size_t chunks[] = {1, 2, 3, 7, 64};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        char *t = trace_stream(lim, in, len, chunks[i]);
        assert_string_equal(t, whole);
        free(t);
    }
    return whole;
}

static void assert_trace(const struct resp_limits *lim, const char *in, size_t len, const char *want)
{
    char *got = trace_all_ways(lim, in, len);
    assert_string_equal(got, want);
    free(got);
}

#define ASSERT_TRACE(lim, lit, want) assert_trace(lim, S(lit), want)

/* ---- multibulk ---------------------------------------------------------- */

static void test_multibulk_basic(void **state)
{
    (void)state;
    static const char in[] = "*2\r\n$3\r\nGET\r\n$2\r\n{}\r\n";
    struct resp_command cmd;
    const char *err;
    assert_int_equal(parse_once(&default_limits, S(in), &cmd, &err), RESP_COMMAND);
    assert_int_equal(cmd.argc, 2);
    assert_int_equal(cmd.consumed, sizeof in - 1);
    ASSERT_ARG(&cmd, 0, "GET");
    ASSERT_ARG(&cmd, 1, "{}");
    /* Arguments point into the input itself. */
    assert_ptr_equal(cmd.argv[0].ptr, in + 8);
    assert_ptr_equal(cmd.argv[1].ptr, in + 17);
}

static void test_multibulk_empty_bulk(void **state)
{
    (void)state;
    ASSERT_TRACE(&default_limits, "*1\r\n$0\r\n\r\n", "C1[0:]R0");
    ASSERT_TRACE(&default_limits, "*2\r\n$0\r\n\r\n$1\r\nx\r\n", "C2[0:1:x]R0");
}

static void test_multibulk_binary_safe(void **state)
{
    (void)state;
    static const char in[] = "*2\r\n$3\r\nADD\r\n$6\r\na\0\r\nb\n\r\n";
    struct resp_command cmd;
    const char *err;
    assert_int_equal(parse_once(&default_limits, S(in), &cmd, &err), RESP_COMMAND);
    assert_int_equal(cmd.argc, 2);
    assert_int_equal(cmd.consumed, sizeof in - 1);
    assert_arg(&cmd, 1, "a\0\r\nb\n", 6);
}

static void test_multibulk_incomplete_at_every_byte(void **state)
{
    (void)state;
    static const char in[] = "*2\r\n$3\r\nGET\r\n$2\r\n{}\r\n";
    for (size_t n = 0; n < sizeof in - 1; n++) {
        struct resp_command cmd;
        const char *err;
        assert_int_equal(parse_once(&default_limits, in, n, &cmd, &err), RESP_INCOMPLETE);
        assert_int_equal(cmd.consumed, 0);
    }
}

static void test_empty_arrays(void **state)
{
    (void)state;
    struct resp_command cmd;
    const char *err;
    assert_int_equal(parse_once(&default_limits, S("*0\r\n"), &cmd, &err), RESP_EMPTY);
    assert_int_equal(cmd.consumed, 4);
    assert_int_equal(parse_once(&default_limits, S("*-1\r\n"), &cmd, &err), RESP_EMPTY);
    assert_int_equal(cmd.consumed, 5);
    ASSERT_TRACE(&default_limits, "*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", "E4E5C1[4:PING]R0");
}

static void test_more_args_than_argv(void **state)
{
    (void)state;
    /* RESP_MAX_ARGV + 4 arguments: all consumed and counted, the first
     * RESP_MAX_ARGV kept, and the next command still parses. Each is 3
     * bytes: "a" and a two-digit index. */
    enum { N = RESP_MAX_ARGV + 4 };
    struct buf in, want;
    buf_init(&in);
    buf_init(&want);
    buf_printf(&in, "*%d\r\n", N);
    buf_printf(&want, "C%d[", N);
    for (int i = 0; i < N; i++) {
        buf_printf(&in, "$3\r\na%02d\r\n", i);
        if (i < RESP_MAX_ARGV)
            buf_printf(&want, "3:a%02d", i);
    }
    buf_append_str(&want, "]C1[4:PING]R0");
    buf_append_char(&want, '\0');
    buf_append_str(&in, "*1\r\n$4\r\nPING\r\n");
    size_t header = (size_t)snprintf(NULL, 0, "*%d\r\n", N);

    struct resp_parser p;
    resp_parser_init(&p, &default_limits);
    struct resp_command cmd;
    const char *err = NULL;
    assert_int_equal(resp_parser_parse(&p, in.data, in.len, &cmd, &err), RESP_COMMAND);
    assert_int_equal(cmd.argc, N);
    assert_int_equal(cmd.consumed, header + N * 9);
    for (size_t i = 0; i < RESP_MAX_ARGV; i++) {
        char arg[4];
        snprintf(arg, sizeof arg, "a%02zu", i);
        assert_arg(&cmd, i, arg, 3);
    }
    size_t off = cmd.consumed;
    assert_int_equal(resp_parser_parse(&p, in.data + off, in.len - off, &cmd, &err), RESP_COMMAND);
    assert_int_equal(cmd.argc, 1);
    ASSERT_ARG(&cmd, 0, "PING");
    resp_parser_free(&p);

    char *t = trace_all_ways(&default_limits, in.data, in.len);
    assert_string_equal(t, want.data);
    free(t);
    buf_free(&want);
    buf_free(&in);
}

/* ---- framing errors ----------------------------------------------------- */

static void assert_error(const struct resp_limits *lim, const char *in, size_t len, const char *want)
{
    struct resp_command cmd;
    const char *err = NULL;
    assert_int_equal(parse_once(lim, in, len, &cmd, &err), RESP_ERROR);
    assert_non_null(err);
    assert_string_equal(err, want);
    assert_int_equal(cmd.consumed, 0);
    /* The same error, at the same point, when the bytes trickle in. */
    char *t = trace_all_ways(lim, in, len);
    assert_string_equal(t + 1, want);
    assert_int_equal(t[0], 'X');
    free(t);
}

#define ASSERT_ERROR(lim, lit, want) assert_error(lim, S(lit), want)

static const char E_MBULK[] = "Protocol error: invalid multibulk length";
static const char E_BULK[] = "Protocol error: invalid bulk length";
static const char E_LIMIT[] = "Protocol error: bulk length exceeds the limit";
static const char E_CRLF[] = "Protocol error: bulk data not followed by CRLF";
static const char E_INLINE[] = "Protocol error: too big inline request";
static const char E_QUOTES[] = "Protocol error: unbalanced quotes in request";

static void test_bad_multibulk_length(void **state)
{
    (void)state;
    ASSERT_ERROR(&default_limits, "*\r\n", E_MBULK);
    ASSERT_ERROR(&default_limits, "*abc\r\n", E_MBULK);
    ASSERT_ERROR(&default_limits, "*1x\r\n", E_MBULK);
    ASSERT_ERROR(&default_limits, "* 1\r\n", E_MBULK);
    ASSERT_ERROR(&default_limits, "*+1\r\n", E_MBULK);
    ASSERT_ERROR(&default_limits, "*01\r\n", E_MBULK);
    ASSERT_ERROR(&default_limits, "*-2\r\n", E_MBULK);
    ASSERT_ERROR(&default_limits, "*-0\r\n", E_MBULK);
    ASSERT_ERROR(&default_limits, "*-10\r\n", E_MBULK);
    ASSERT_ERROR(&default_limits, "*-\r\n", E_MBULK);
    ASSERT_ERROR(&default_limits, "*1\rx", E_MBULK);
    ASSERT_ERROR(&default_limits, "*1\n", E_MBULK);
    /* Over max_args, and absurdly large: refused, never overflowing. */
    ASSERT_ERROR(&default_limits, "*1025\r\n", E_MBULK);
    ASSERT_ERROR(&default_limits, "*99999999999999999999999999\r\n", E_MBULK);
}

static void test_bad_bulk_length(void **state)
{
    (void)state;
    ASSERT_ERROR(&default_limits, "*1\r\n$\r\n", E_BULK);
    ASSERT_ERROR(&default_limits, "*1\r\n$-1\r\n", E_BULK);
    ASSERT_ERROR(&default_limits, "*1\r\n$-5\r\n", E_BULK);
    ASSERT_ERROR(&default_limits, "*1\r\n$abc\r\n", E_BULK);
    ASSERT_ERROR(&default_limits, "*1\r\n$3x\r\nGET\r\n", E_BULK);
    ASSERT_ERROR(&default_limits, "*1\r\n$03\r\nGET\r\n", E_BULK);
    ASSERT_ERROR(&default_limits, "*1\r\n$3\rxGET\r\n", E_BULK);
}

static void test_expected_dollar(void **state)
{
    (void)state;
    ASSERT_ERROR(&default_limits, "*1\r\nGET\r\n", "Protocol error: expected '$', got 'G'");
    ASSERT_ERROR(&default_limits, "*1\r\n:3\r\n", "Protocol error: expected '$', got ':'");
    ASSERT_ERROR(&default_limits, "*1\r\n~", "Protocol error: expected '$', got '~'");
    ASSERT_ERROR(&default_limits, "*1\r\n ", "Protocol error: expected '$', got ' '");
    /* Bytes that would garble an error reply are not echoed. */
    ASSERT_ERROR(&default_limits, "*1\r\n\0", "Protocol error: expected '$'");
    ASSERT_ERROR(&default_limits, "*1\r\n\r\n", "Protocol error: expected '$'");
    ASSERT_ERROR(&default_limits, "*1\r\n\xff", "Protocol error: expected '$'");
    /* The second element too. */
    ASSERT_ERROR(&default_limits, "*2\r\n$1\r\na\r\n*", "Protocol error: expected '$', got '*'");
}

static void test_bulk_terminator(void **state)
{
    (void)state;
    ASSERT_ERROR(&default_limits, "*1\r\n$3\r\nGETxx", E_CRLF);
    ASSERT_ERROR(&default_limits, "*1\r\n$3\r\nGET\rx", E_CRLF);
    ASSERT_ERROR(&default_limits, "*1\r\n$3\r\nGET\n\r", E_CRLF);
    ASSERT_ERROR(&default_limits, "*1\r\n$2\r\nGET\r\n", E_CRLF);
    /* Without the terminator yet: wait. */
    ASSERT_TRACE(&default_limits, "*1\r\n$3\r\nGET", "R11");
    ASSERT_TRACE(&default_limits, "*1\r\n$3\r\nGET\r", "R12");
}

/* ---- limits ------------------------------------------------------------- */

static void test_limit_max_args(void **state)
{
    (void)state;
    /* max_args = 4: four arguments are fine, five are refused as soon as the
     * header is read, before any argument arrives. */
    ASSERT_TRACE(&small_limits, "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n",
                 "C4[1:a1:b1:c1:d]R0");
    ASSERT_ERROR(&small_limits, "*5\r\n", E_MBULK);
    /* Refused even before the header's CRLF: the digits already say too much. */
    ASSERT_ERROR(&small_limits, "*5", E_MBULK);
    ASSERT_ERROR(&small_limits, "*40", E_MBULK);
}

static void test_limit_max_bulk(void **state)
{
    (void)state;
    /* max_bulk = 10: exactly 10 is fine. */
    ASSERT_TRACE(&small_limits, "*1\r\n$10\r\n0123456789\r\n", "C1[10:0123456789]R0");
    /* 11 declared: an error at once, without waiting for the body. */
    ASSERT_ERROR(&small_limits, "*1\r\n$11\r\n", E_LIMIT);
    ASSERT_ERROR(&small_limits, "*1\r\n$11", E_LIMIT);
    ASSERT_ERROR(&small_limits, "*1\r\n$100", E_LIMIT);
    ASSERT_ERROR(&default_limits, "*1\r\n$1048577\r\n", E_LIMIT);
    ASSERT_ERROR(&default_limits, "*1\r\n$99999999999999999999999\r\n", E_LIMIT);
}

static void test_huge_numbers_with_huge_limits(void **state)
{
    (void)state;
    /* With no effective limit, numbers still cannot overflow: more than 19
     * digits is malformed, and lengths stop at LLONG_MAX. */
    static const struct resp_limits huge = {
        .max_bulk = SIZE_MAX,
        .max_args = SIZE_MAX,
        .max_inline = SIZE_MAX,
    };
    ASSERT_ERROR(&huge, "*10000000000000000000\r\n", E_MBULK);
    ASSERT_ERROR(&huge, "*9999999999999999999\r\n", E_MBULK);
    ASSERT_ERROR(&huge, "*1\r\n$10000000000000000000\r\n", E_BULK);
    ASSERT_ERROR(&huge, "*1\r\n$9223372036854775808\r\n", E_LIMIT);
    /* The largest accepted length: waits for a body it will never get. */
    ASSERT_TRACE(&huge, "*1\r\n$9223372036854775807\r\nabc", "R29");
    ASSERT_TRACE(&huge, "*9223372036854775807\r\n$1\r\na\r\n", "R29");
}

static void test_limit_max_inline(void **state)
{
    (void)state;
    /* max_inline = 16. 16 bytes of line: fine, whatever the terminator. */
    ASSERT_TRACE(&small_limits, "0123456789 abcde\r\n", "C2[10:01234567895:abcde]R0");
    ASSERT_TRACE(&small_limits, "0123456789 abcde\n", "C2[10:01234567895:abcde]R0");
    /* 16 bytes then a lone CR: it may still be the terminator, so wait. */
    ASSERT_TRACE(&small_limits, "0123456789 abcde\r", "R17");
    /* 17 bytes: refused as soon as the 17th arrives, newline or not. */
    ASSERT_ERROR(&small_limits, "0123456789 abcdef\r\n", E_INLINE);
    ASSERT_ERROR(&small_limits, "0123456789 abcdef", E_INLINE);
    ASSERT_ERROR(&small_limits, "0123456789 abcde\rx", E_INLINE);
    ASSERT_ERROR(&small_limits, "0123456789 abcde\r\r\n", E_INLINE);
}

/* ---- inline ------------------------------------------------------------- */

static void test_inline_basic(void **state)
{
    (void)state;
    ASSERT_TRACE(&default_limits, "PING\r\n", "C1[4:PING]R0");
    ASSERT_TRACE(&default_limits, "PING\n", "C1[4:PING]R0");
    ASSERT_TRACE(&default_limits, "  GET \t {}  \r\n", "C2[3:GET2:{}]R0");
    ASSERT_TRACE(&default_limits, "PING", "R4");
    ASSERT_TRACE(&default_limits, "PING\r", "R5");
    /* A JSON argument without spaces is one token, quotes and all. */
    ASSERT_TRACE(&default_limits, "ADD {\"stream\":\"a\",\"events\":[]}\r\n",
                 "C2[3:ADD26:{\"stream\":\"a\",\"events\":[]}]R0");
    /* Quotes only matter at the start of a token. */
    ASSERT_TRACE(&default_limits, "SET a\"b c'd\r\n", "C3[3:SET3:a\"b3:c'd]R0");
    /* Arguments point into the input. */
    static const char in[] = "GET x\r\n";
    struct resp_command cmd;
    const char *err;
    assert_int_equal(parse_once(&default_limits, S(in), &cmd, &err), RESP_COMMAND);
    assert_ptr_equal(cmd.argv[1].ptr, in + 4);
    assert_int_equal(cmd.consumed, 7);
}

static void test_inline_empty_lines(void **state)
{
    (void)state;
    ASSERT_TRACE(&default_limits, "\r\n", "E2R0");
    ASSERT_TRACE(&default_limits, "\n", "E1R0");
    ASSERT_TRACE(&default_limits, " \t \r\n", "E5R0");
    ASSERT_TRACE(&default_limits, "\r\n\nPING\r\n", "E2E1C1[4:PING]R0");
}

static void test_inline_double_quotes(void **state)
{
    (void)state;
    ASSERT_TRACE(&default_limits, "ADD \"{\\\"stream\\\": \\\"a\\\"}\"\r\n",
                 "C2[3:ADD15:{\"stream\": \"a\"}]R0");
    ASSERT_TRACE(&default_limits, "SET \"a b\" \"\"\r\n", "C3[3:SET3:a b0:]R0");
    ASSERT_TRACE(&default_limits, "X \"\\n\\r\\t\\\\\\\"\"\r\n", "C2[1:X5:\n\r\t\\\"]R0");
    ASSERT_TRACE(&default_limits, "X \"\\x41\\x7a\\xFf\"\n", "C2[1:X3:Az\xff]R0");
    /* \x00 gives a real NUL. */
    char *t = trace_all_ways(&default_limits, S("X \"a\\x00b\"\n"));
    assert_memory_equal(t, "C2[1:X3:a\0b]R0", 15);
    free(t);
    /* Not an escape: the character itself. */
    ASSERT_TRACE(&default_limits, "X \"\\xZZ\\q\"\n", "C2[1:X4:xZZq]R0");
    /* An escaped quote does not end the token. */
    ASSERT_TRACE(&default_limits, "X \"a\\\" b\"\n", "C2[1:X4:a\" b]R0");
}

static void test_inline_single_quotes(void **state)
{
    (void)state;
    ASSERT_TRACE(&default_limits, "SET 'a b' 'it\\'s'\r\n", "C3[3:SET3:a b4:it's]R0");
    /* Other backslashes are literal inside single quotes. */
    ASSERT_TRACE(&default_limits, "X 'a\\nb'\r\n", "C2[1:X4:a\\nb]R0");
    ASSERT_TRACE(&default_limits, "X '\"'\r\n", "C2[1:X1:\"]R0");
}

static void test_inline_unbalanced_quotes(void **state)
{
    (void)state;
    ASSERT_ERROR(&default_limits, "GET \"abc\r\n", E_QUOTES);
    ASSERT_ERROR(&default_limits, "GET 'abc\r\n", E_QUOTES);
    ASSERT_ERROR(&default_limits, "GET \"abc\\\"\r\n", E_QUOTES);
    ASSERT_ERROR(&default_limits, "GET \"a\"b\r\n", E_QUOTES);
    ASSERT_ERROR(&default_limits, "GET 'a'b\r\n", E_QUOTES);
    ASSERT_ERROR(&default_limits, "\"\n", E_QUOTES);
}

static void test_inline_more_args_than_argv(void **state)
{
    (void)state;
    /* RESP_MAX_ARGV + 2 plain tokens, then two quoted ones. */
    struct buf in, want;
    buf_init(&in);
    buf_init(&want);
    buf_printf(&want, "C%d[", RESP_MAX_ARGV + 4);
    for (int i = 0; i < RESP_MAX_ARGV + 2; i++) {
        buf_printf(&in, "t%02d ", i);
        if (i < RESP_MAX_ARGV)
            buf_printf(&want, "3:t%02d", i);
    }
    size_t plain = in.len;
    buf_append_str(&in, "\"k\" 'l'\r\n");
    buf_append_str(&want, "]R0");
    buf_append_char(&want, '\0');
    assert_trace(&default_limits, in.data, in.len, want.data);
    /* Tokens past RESP_MAX_ARGV are still checked. */
    in.len = plain;
    buf_append_str(&in, "\"k\r\n");
    assert_error(&default_limits, in.data, in.len, E_QUOTES);
    buf_free(&in);
    buf_free(&want);
}

/* ---- streams ------------------------------------------------------------ */

static void test_pipelined(void **state)
{
    (void)state;
    static const char in[] = "*1\r\n$4\r\nPING\r\n"
                             "GET {}\r\n"
                             "\r\n"
                             "*2\r\n$3\r\nADD\r\n$2\r\n{}\r\n"
                             "*0\r\n"
                             "VERSION\n"
                             "*1\r\n$3\r\nGE";
    ASSERT_TRACE(&default_limits, in,
                 "C1[4:PING]C2[3:GET2:{}]E2C2[3:ADD2:{}]E4C1[7:VERSION]R10");

    /* Driven by hand: consumed counts add up to the bytes of each command. */
    struct resp_parser p;
    resp_parser_init(&p, &default_limits);
    struct resp_command cmd;
    const char *err;
    size_t off = 0;
    static const size_t sizes[] = {14, 8, 2, 21, 4, 8};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        enum resp_status st = resp_parser_parse(&p, in + off, sizeof in - 1 - off, &cmd, &err);
        assert_true(st == RESP_COMMAND || st == RESP_EMPTY);
        assert_int_equal(cmd.consumed, sizes[i]);
        off += cmd.consumed;
    }
    assert_int_equal(resp_parser_parse(&p, in + off, sizeof in - 1 - off, &cmd, &err),
                     RESP_INCOMPLETE);
    resp_parser_free(&p);
}

static void test_error_after_good_command(void **state)
{
    (void)state;
    ASSERT_TRACE(&default_limits, "PING\r\n*1\r\n$x\r\n", "C1[4:PING]XProtocol error: invalid bulk length");
    ASSERT_TRACE(&small_limits, "PING\r\n*1\r\n$11\r\n", "C1[4:PING]XProtocol error: bulk length exceeds the limit");
}

static void test_resume_after_buffer_moves(void **state)
{
    (void)state;
    /* Half a command, then the rest in a different buffer (as after a
     * realloc): the arguments must point into the new one. */
    static const char in[] = "*2\r\n$3\r\nGET\r\n$5\r\nhello\r\n";
    struct resp_parser p;
    resp_parser_init(&p, &default_limits);
    struct resp_command cmd;
    const char *err;
    char *first = xmemdup(in, 20);
    assert_int_equal(resp_parser_parse(&p, first, 20, &cmd, &err), RESP_INCOMPLETE);
    free(first);
    char *second = xmemdup(in, sizeof in - 1);
    assert_int_equal(resp_parser_parse(&p, second, sizeof in - 1, &cmd, &err), RESP_COMMAND);
    assert_ptr_equal(cmd.argv[0].ptr, second + 8);
    assert_ptr_equal(cmd.argv[1].ptr, second + 17);
    ASSERT_ARG(&cmd, 1, "hello");
    free(second);
    resp_parser_free(&p);
}

static void test_limits_may_change_between_commands(void **state)
{
    (void)state;
    /* The server swaps limits after AUTH; the parser reads them per call. */
    struct resp_parser p;
    resp_parser_init(&p, &small_limits);
    struct resp_command cmd;
    const char *err;
    assert_int_equal(resp_parser_parse(&p, S("*1\r\n$20\r\n"), &cmd, &err), RESP_ERROR);
    resp_parser_free(&p);

    resp_parser_init(&p, &small_limits);
    p.limits = &default_limits;
    assert_int_equal(resp_parser_parse(&p, S("*1\r\n$20\r\n01234567890123456789\r\n"), &cmd, &err),
                     RESP_COMMAND);
    assert_int_equal(cmd.argv[0].len, 20);
    resp_parser_free(&p);
}

static void test_byte_by_byte_is_linear(void **state)
{
    (void)state;
    /* A 4 MiB bulk and a 4 MiB inline line, one more byte per call. Each
     * call must cost O(1) beyond the new byte, or this takes hours. */
    static const struct resp_limits big = {
        .max_bulk = 8u << 20,
        .max_args = 16,
        .max_inline = 8u << 20,
    };
    const size_t body = 4u << 20;
    const size_t line = 4u << 20;
    struct buf in;
    buf_init(&in);
    buf_printf(&in, "*2\r\n$3\r\nADD\r\n$%zu\r\n", body);
    memset(buf_reserve(&in, body), 'x', body);
    buf_commit(&in, body);
    buf_append_str(&in, "\r\nGET ");
    memset(buf_reserve(&in, line), 'y', line);
    buf_commit(&in, line);
    buf_append_str(&in, "\r\n");

    struct resp_parser p;
    resp_parser_init(&p, &big);
    struct resp_command cmd;
    const char *err;
    size_t off = 0;
    int commands = 0;
    for (size_t n = 1; n <= in.len; n++) {
        enum resp_status st = resp_parser_parse(&p, in.data + off, n - off, &cmd, &err);
        assert_int_not_equal(st, RESP_ERROR);
        if (st == RESP_COMMAND) {
            commands++;
            if (commands == 1) {
                assert_int_equal(cmd.argv[1].len, body);
            } else {
                assert_int_equal(cmd.argv[1].len, line);
            }
            off += cmd.consumed;
        }
    }
    assert_int_equal(commands, 2);
    assert_int_equal(off, in.len);
    resp_parser_free(&p);
    buf_free(&in);
}

static void test_incomplete_sets_outputs(void **state)
{
    (void)state;
    struct resp_parser p;
    resp_parser_init(&p, &default_limits);
    struct resp_command cmd;
    memset(&cmd, 0xa5, sizeof cmd);
    const char *err = NULL;
    assert_int_equal(resp_parser_parse(&p, NULL, 0, &cmd, &err), RESP_INCOMPLETE);
    assert_int_equal(cmd.consumed, 0);
    assert_int_equal(cmd.argc, 0);
    assert_null(err);
    resp_parser_free(&p);
    /* Freeing twice (or a parser that never allocated) is harmless. */
    resp_parser_free(&p);
}

/* Arguments as words and numbers. */
static struct resp_arg arg_of(const char *s)
{
    struct resp_arg a = {s, strlen(s)};
    return a;
}

static void test_arg_helpers(void **state)
{
    (void)state;
    struct resp_arg a = arg_of("bEgIn");
    assert_true(resp_arg_is(&a, "BEGIN"));
    assert_false(resp_arg_is(&a, "BEGI"));
    assert_false(resp_arg_is(&a, "BEGINS"));

    uint64_t v = 42;
    const char *ok10[] = {"0", "7", "18446744073709551615"};
    const uint64_t want10[] = {0, 7, UINT64_MAX};
    for (size_t i = 0; i < 3; i++) {
        a = arg_of(ok10[i]);
        assert_int_equal(resp_arg_u64(&a, 10, &v), 0);
        assert_int_equal(v, want10[i]);
    }
    a = arg_of("fF");
    assert_int_equal(resp_arg_u64(&a, 16, &v), 0);
    assert_int_equal(v, 255);
    const char *bad[] = {"", "-1", "+1", " 1", "1 ", "1x", "18446744073709551616", "ff", "0123456789012345678901234"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 42;
        a = arg_of(bad[i]);
        assert_int_equal(resp_arg_u64(&a, 10, &v), -1);
        assert_int_equal(v, 42); /* left alone */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multibulk_basic),
        cmocka_unit_test(test_multibulk_empty_bulk),
        cmocka_unit_test(test_multibulk_binary_safe),
        cmocka_unit_test(test_multibulk_incomplete_at_every_byte),
        cmocka_unit_test(test_empty_arrays),
        cmocka_unit_test(test_more_args_than_argv),
        cmocka_unit_test(test_bad_multibulk_length),
        cmocka_unit_test(test_bad_bulk_length),
        cmocka_unit_test(test_expected_dollar),
        cmocka_unit_test(test_bulk_terminator),
        cmocka_unit_test(test_limit_max_args),
        cmocka_unit_test(test_limit_max_bulk),
        cmocka_unit_test(test_huge_numbers_with_huge_limits),
        cmocka_unit_test(test_limit_max_inline),
        cmocka_unit_test(test_inline_basic),
        cmocka_unit_test(test_inline_empty_lines),
        cmocka_unit_test(test_inline_double_quotes),
        cmocka_unit_test(test_inline_single_quotes),
        cmocka_unit_test(test_inline_unbalanced_quotes),
        cmocka_unit_test(test_inline_more_args_than_argv),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_error_after_good_command),
        cmocka_unit_test(test_resume_after_buffer_moves),
        cmocka_unit_test(test_limits_may_change_between_commands),
        cmocka_unit_test(test_byte_by_byte_is_linear),
        cmocka_unit_test(test_incomplete_sets_outputs),
        cmocka_unit_test(test_arg_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
