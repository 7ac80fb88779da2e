/* test_http_assets.c - the web console's embedded files (http/assets.h):
 * the generated table holds every file the page refers to, with the right
 * Content-Type and a strong ETag; lookups and If-None-Match matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/assets.h"

static const struct asset *find(const char *path)
{
    return asset_find(console_assets, console_n_assets, path, strlen(path));
}

static void test_files_and_types(void **state)
{
    (void)state;
    const struct asset *index = find("/console/index.html");
    const struct asset *js = find("/console/app.js");
    const struct asset *css = find("/console/style.css");
    assert_non_null(index);
    assert_non_null(js);
    assert_non_null(css);
    assert_string_equal(index->content_type, "text/html; charset=utf-8");
    assert_string_equal(js->content_type, "text/javascript; charset=utf-8");
    assert_string_equal(css->content_type, "text/css; charset=utf-8");
    /* The bytes are the file's, NUL after them. */
    assert_true(index->len > 0);
    assert_int_equal(index->data[index->len], '\0');
    assert_non_null(strstr((const char *)index->data, "<!DOCTYPE html>"));
    /* The page's own references resolve to embedded files. */
    assert_non_null(strstr((const char *)index->data, "src=\"/console/app.js\""));
    assert_non_null(strstr((const char *)index->data, "href=\"/console/style.css\""));
}

static void test_etags_strong_and_distinct(void **state)
{
    (void)state;
    for (size_t i = 0; i < console_n_assets; i++) {
        const char *e = console_assets[i].etag;
        size_t n = strlen(e);
        /* Strong: quoted, no W/ prefix; 32 hex digits of a hash. */
        assert_int_equal(n, 34);
        assert_int_equal(e[0], '"');
        assert_int_equal(e[n - 1], '"');
        assert_int_equal(strspn(e + 1, "0123456789abcdef"), 32);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(e, console_assets[j].etag);
    }
}

static void test_find_exact_only(void **state)
{
    (void)state;
    assert_null(find("/console/"));
    assert_null(find("/console/app.j"));
    assert_null(find("/console/app.jsx"));
    assert_null(find("/console/../app.js"));
    assert_null(find("/app.js"));
    assert_null(find(""));
    /* Length, not NUL, ends the path. */
    assert_non_null(asset_find(console_assets, console_n_assets, "/console/app.js?x", 15));
}

static void test_if_none_match(void **state)
{
    (void)state;
    const char *etag = "\"0123abcd\"";
#define M(h) asset_etag_matches(h, strlen(h), etag)
    assert_true(M("\"0123abcd\""));
    assert_true(M("W/\"0123abcd\""));
    assert_true(M("*"));
    assert_true(M("\"other\", \"0123abcd\""));
    assert_true(M("\"a,b\",W/\"0123abcd\""));
    assert_true(M("  \"0123abcd\"  "));
    assert_false(M(""));
    assert_false(M("\"0123abc\""));
    assert_false(M("0123abcd"));
    assert_false(M("\"0123abcd"));
    assert_false(M("\"other\""));
    assert_false(M("\"x\" \"0123abcdX\""));
    assert_false(M("**"));
#undef M
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_files_and_types),
        cmocka_unit_test(test_etags_strong_and_distinct),
        cmocka_unit_test(test_find_exact_only),
        cmocka_unit_test(test_if_none_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
