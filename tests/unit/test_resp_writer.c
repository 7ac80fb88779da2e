/* test_resp_writer.c - reply encoding (resp_writer.h): exact bytes out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "protocol/resp_writer.h"

#define S(lit) lit, sizeof(lit) - 1

static void assert_buf(const struct buf *b, const char *want, size_t want_len)
{
    assert_int_equal(b->len, want_len);
    if (want_len > 0)
        assert_memory_equal(b->data, want, want_len);
}

#define ASSERT_BUF(b, lit) assert_buf(b, S(lit))

static void test_simple(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    resp_write_simple(&b, "OK");
    resp_write_simple(&b, "");
    /* CR/LF are not allowed; if a caller slips, the framing survives. */
    resp_write_simple(&b, "a\r\nb");
    ASSERT_BUF(&b, "+OK\r\n+\r\n+a  b\r\n");
    buf_free(&b);
}

static void test_error(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    resp_write_error(&b, "unknown command");
    resp_write_error(&b, "bad\ninput\r");
    ASSERT_BUF(&b, "-unknown command\r\n-bad input \r\n");
    buf_free(&b);
}

static void test_errorf(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    buf_append_str(&b, "+OK\r\n"); /* something before it stays intact */
    resp_write_errorf(&b, "MOVED %d %s", 0, "127.0.0.1:6543");
    resp_write_errorf(&b, "line %s", "one\r\ntwo");
    ASSERT_BUF(&b, "+OK\r\n-MOVED 0 127.0.0.1:6543\r\n-line one  two\r\n");
    buf_reset(&b);
    /* Longer than any first guess at the size. */
    char big[1000];
    memset(big, 'e', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    resp_write_errorf(&b, "%s!", big);
    assert_int_equal(b.len, 1 + 999 + 1 + 2);
    assert_int_equal(b.data[0], '-');
    assert_int_equal(b.data[1000], '!');
    assert_memory_equal(b.data + 1001, "\r\n", 2);
    buf_free(&b);
}

static void test_int(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    resp_write_int(&b, 0);
    resp_write_int(&b, 7);
    resp_write_int(&b, -1);
    resp_write_int(&b, 1234567890);
    resp_write_int(&b, INT64_MAX);
    resp_write_int(&b, INT64_MIN);
    ASSERT_BUF(&b, ":0\r\n:7\r\n:-1\r\n:1234567890\r\n"
                   ":9223372036854775807\r\n:-9223372036854775808\r\n");
    buf_free(&b);
}

static void test_bulk(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    resp_write_bulk(&b, "hello", 5);
    resp_write_bulk(&b, "", 0);
    resp_write_bulk(&b, NULL, 0);
    resp_write_bulk(&b, "a\0\r\nb", 5);
    resp_write_bulk_str(&b, "{\"id\":1}");
    ASSERT_BUF(&b, "$5\r\nhello\r\n$0\r\n\r\n$0\r\n\r\n$5\r\na\0\r\nb\r\n$8\r\n{\"id\":1}\r\n");
    buf_free(&b);
}

static void test_null_and_array(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    resp_write_array_header(&b, 2);
    resp_write_null(&b);
    resp_write_array_header(&b, 0);
    resp_write_array_header(&b, 16777216);
    ASSERT_BUF(&b, "*2\r\n$-1\r\n*0\r\n*16777216\r\n");
    buf_free(&b);
}

static void test_bulk_begin_end(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    resp_write_array_header(&b, 3);
    size_t off = resp_bulk_begin(&b);
    assert_int_equal(off, 4);
    buf_append_str(&b, "{\"a\":1}");
    resp_bulk_end(&b, off);
    /* An empty body. */
    off = resp_bulk_begin(&b);
    resp_bulk_end(&b, off);
    /* Built with printf, as the JSON codec does. */
    off = resp_bulk_begin(&b);
    buf_printf(&b, "%s-%d", "x", 42);
    resp_bulk_end(&b, off);
    ASSERT_BUF(&b, "*3\r\n$7\r\n{\"a\":1}\r\n$0\r\n\r\n$4\r\nx-42\r\n");
    buf_free(&b);
}

static void test_bulk_begin_end_sizes(void **state)
{
    (void)state;
    /* Header widths from 1 to 7 digits, each on a fresh and on a non-empty
     * buffer: the same bytes as resp_write_bulk. */
    static const size_t sizes[] = {1, 9, 10, 99, 100, 255, 256, 4096, 99999, 100000, 1000000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        char *body = malloc(n);
        assert_non_null(body);
        for (size_t j = 0; j < n; j++)
            body[j] = (char)(j * 31 + 7);

        struct buf want, got;
        buf_init(&want);
        buf_init(&got);
        buf_append_str(&want, "prefix");
        buf_append_str(&got, "prefix");
        resp_write_bulk(&want, body, n);
        size_t off = resp_bulk_begin(&got);
        /* In pieces, so the buffer grows (and moves) while the body is written. */
        for (size_t j = 0; j < n; j += 100)
            buf_append(&got, body + j, n - j < 100 ? n - j : 100);
        resp_bulk_end(&got, off);
        assert_int_equal(got.len, want.len);
        assert_memory_equal(got.data, want.data, want.len);
        buf_free(&want);
        buf_free(&got);
        free(body);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple),
        cmocka_unit_test(test_error),
        cmocka_unit_test(test_errorf),
        cmocka_unit_test(test_int),
        cmocka_unit_test(test_bulk),
        cmocka_unit_test(test_null_and_array),
        cmocka_unit_test(test_bulk_begin_end),
        cmocka_unit_test(test_bulk_begin_end_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
