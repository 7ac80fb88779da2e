/* test_json_arena.c - jansson allocating from the per-parse block, and
 * from malloc outside a parse or when the block is full. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "protocol/codec.h"
#include "protocol/json_arena.h"

static void test_parse_allocates_from_the_block(void **state)
{
    (void)state;
    json_arena_begin();
    assert_int_equal(json_arena_used(), 0);
    json_t *v = json_loads("{\"stream\":\"a\",\"events\":[{\"type\":\"T\",\"data\":{\"x\":[1,2.5,\"s\"]}}]}", 0,
                           NULL);
    assert_non_null(v);
    assert_true(json_arena_owns(v));
    assert_true(json_arena_owns(json_object_get(v, "stream")));
    assert_true(json_arena_used() > 0);
    assert_string_equal(json_string_value(json_object_get(v, "stream")), "a");
    json_decref(v);
    json_arena_end();
    assert_int_equal(json_arena_used(), 0);
}

static void test_the_next_parse_reuses_the_block(void **state)
{
    (void)state;
    json_arena_begin();
    json_t *first = json_string("one");
    json_decref(first);
    json_arena_end();
    json_arena_begin();
    json_t *second = json_string("two");
    assert_ptr_equal(first, second);
    assert_string_equal(json_string_value(second), "two");
    json_decref(second);
    json_arena_end();
}

/* Outside a parse jansson allocates with malloc; freeing such a value
 * after the allocator was installed must free it (LeakSanitizer and the
 * ASan build check that it does). */
static void test_outside_a_parse_values_come_from_malloc(void **state)
{
    (void)state;
    json_arena_begin();
    json_arena_end();
    json_t *v = json_pack("{s:s, s:[i,i]}", "k", "v", "a", 1, 2);
    assert_non_null(v);
    assert_false(json_arena_owns(v));
    json_decref(v);
}

/* What does not fit spills over into malloc, and is freed as usual. */
static void test_a_large_value_spills_into_malloc(void **state)
{
    (void)state;
    size_t n = 256 * 1024;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'x', n);
    json_arena_begin();
    json_t *small = json_string("small");
    json_t *large = json_stringn(big, n);
    assert_non_null(large);
    assert_true(json_arena_owns(small));
    assert_false(json_arena_owns(json_string_value(large)));
    assert_int_equal(json_string_length(large), n);
    json_decref(large);
    json_decref(small);
    json_arena_end();
    free(big);
}

/* The codec copies out everything it keeps: an ADD decoded through the
 * arena stays intact after later parses reuse the block. */
static void test_codec_results_outlive_the_parse(void **state)
{
    (void)state;
    const char *a = "{\"stream\":\"first\",\"version\":0,\"events\":[{\"type\":\"Opened\",\"data\":{\"id\":1}}]}";
    const char *b = "{\"stream\":\"second\",\"version\":\"any\",\"events\":[{\"type\":\"Closed\",\"data\":\"zzzzzzzzzzzz\"}]}";
    char err[CODEC_ERR_LEN];
    struct codec_add add_a, add_b;
    assert_int_equal(codec_parse_add(a, strlen(a), NULL, &add_a, err), 0);
    assert_int_equal(codec_parse_add(b, strlen(b), NULL, &add_b, err), 0);
    assert_false(json_arena_owns(add_a.stream));
    assert_false(json_arena_owns(add_a.events[0].type));
    assert_false(json_arena_owns(add_a.events[0].data.bytes));
    assert_string_equal(add_a.stream, "first");
    assert_string_equal(add_a.events[0].type, "Opened");
    assert_memory_equal(add_a.events[0].data.bytes, "{\"id\":1}", add_a.events[0].data.len);
    assert_string_equal(add_b.stream, "second");
    assert_int_equal(json_arena_used(), 0);
    codec_add_free(&add_a);
    codec_add_free(&add_b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_allocates_from_the_block),
        cmocka_unit_test(test_the_next_parse_reuses_the_block),
        cmocka_unit_test(test_outside_a_parse_values_come_from_malloc),
        cmocka_unit_test(test_a_large_value_spills_into_malloc),
        cmocka_unit_test(test_codec_results_outlive_the_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
