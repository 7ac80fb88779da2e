/* test_buf.c - the growable byte buffer (common/buf.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"

static void test_init_is_empty(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    buf_free(&b);
    assert_null(b.data);
    /* Freeing twice is harmless: buf_free leaves an empty buffer. */
    buf_free(&b);
}

static void test_append_kinds(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    buf_append(&b, "ab", 2);
    buf_append(&b, NULL, 0); /* nothing, and no access through NULL */
    buf_append_str(&b, "cd");
    buf_append_str(&b, "");
    buf_append_char(&b, 'e');
    buf_append_char(&b, '\0');
    buf_append(&b, "\r\n", 2);
    assert_int_equal(b.len, 8);
    assert_memory_equal(b.data, "abcde\0\r\n", 8);
    assert_true(b.cap >= b.len);
    buf_free(&b);
}

static void test_growth_keeps_content(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    /* Far past the first allocation, one byte at a time and in blocks. */
    for (size_t i = 0; i < 100000; i++)
        buf_append_char(&b, (char)(i % 251));
    char block[3000];
    for (size_t i = 0; i < sizeof block; i++)
        block[i] = (char)(i % 7);
    buf_append(&b, block, sizeof block);
    assert_int_equal(b.len, 100000 + sizeof block);
    assert_true(b.cap >= b.len);
    for (size_t i = 0; i < 100000; i++)
        assert_int_equal((unsigned char)b.data[i], i % 251);
    assert_memory_equal(b.data + 100000, block, sizeof block);
    buf_free(&b);
}

static void test_reserve_commit(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    buf_append_str(&b, "xy");
    char *p = buf_reserve(&b, 1000);
    assert_ptr_equal(p, b.data + 2);
    assert_true(b.cap - b.len >= 1000);
    assert_int_equal(b.len, 2); /* reserving does not change the length */
    memset(p, 'z', 1000);
    buf_commit(&b, 10);
    assert_int_equal(b.len, 12);
    assert_memory_equal(b.data, "xyzzzzzzzzzz", 12);
    /* Reserving what is already there does not reallocate. */
    size_t cap = b.cap;
    char *data = b.data;
    buf_reserve(&b, cap - b.len);
    assert_int_equal(b.cap, cap);
    assert_ptr_equal(b.data, data);
    buf_free(&b);
}

static void test_printf(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "%d-%s", 42, "x");
    buf_printf(&b, "%s", "");
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.data, "42-x", 4);
    /* Longer than the first guess and than the current capacity: the
     * second formatting pass must produce the whole text. */
    char big[5000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    buf_printf(&b, "[%s]", big);
    assert_int_equal(b.len, 4 + 1 + 4999 + 1);
    assert_int_equal(b.data[4], '[');
    assert_int_equal(b.data[5], 'q');
    assert_int_equal(b.data[5003], 'q');
    assert_int_equal(b.data[5004], ']');
    /* Text that exactly fills the space left, then text that overflows it:
     * the second formatting pass must still be right. */
    buf_reset(&b);
    size_t cap = b.cap;
    char *fill = malloc(cap);
    assert_non_null(fill);
    memset(fill, 'q', cap - 2);
    fill[cap - 2] = '\0';
    buf_printf(&b, "x%s", fill); /* cap - 1 characters and the NUL: fits exactly */
    assert_int_equal(b.len, cap - 1);
    assert_int_equal(b.data[0], 'x');
    assert_int_equal(b.data[cap - 2], 'q');
    buf_printf(&b, "%s", "yz"); /* a full buffer must grow */
    assert_int_equal(b.len, cap + 1);
    assert_memory_equal(b.data + cap - 1, "yz", 2);
    assert_int_equal(b.data[cap - 2], 'q');
    free(fill);
    buf_free(&b);
}

static void test_consume(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    buf_append_str(&b, "hello world");
    buf_consume(&b, 0);
    assert_int_equal(b.len, 11);
    buf_consume(&b, 6);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "world", 5);
    buf_consume(&b, 5);
    assert_int_equal(b.len, 0);
    buf_append_str(&b, "ab");
    buf_consume(&b, 100); /* more than there is: empties it */
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void test_reset_and_shrink(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    for (int i = 0; i < 10000; i++)
        buf_append_char(&b, 'a');
    size_t cap = b.cap;
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, cap); /* keeps the allocation */
    assert_non_null(b.data);

    /* Not idle: shrink must leave it alone. */
    buf_append_char(&b, 'x');
    buf_shrink(&b, 16);
    assert_int_equal(b.cap, cap);
    assert_int_equal(b.len, 1);
    assert_int_equal(b.data[0], 'x');

    /* Idle but within the budget: kept. */
    buf_reset(&b);
    buf_shrink(&b, cap);
    assert_int_equal(b.cap, cap);

    /* Idle and over it: given back, and still usable. */
    buf_shrink(&b, 16);
    assert_int_equal(b.cap, 0);
    assert_null(b.data);
    buf_append_str(&b, "again");
    assert_memory_equal(b.data, "again", 5);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_is_empty),
        cmocka_unit_test(test_append_kinds),
        cmocka_unit_test(test_growth_keeps_content),
        cmocka_unit_test(test_reserve_commit),
        cmocka_unit_test(test_printf),
        cmocka_unit_test(test_consume),
        cmocka_unit_test(test_reset_and_shrink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
