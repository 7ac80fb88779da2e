/* test_mutant.c - choosing a planted bug (common/mutant.h).
 *
 * The same test runs in both kinds of build: without -Dmutants=true every
 * name is refused and nothing can be active; with it, each known name can
 * be chosen and an unknown one is refused, leaving the choice as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/mutant.h"

static void test_none_by_default(void **state)
{
    (void)state;
    char err[512] = "";
    assert_int_equal(mutant_select(NULL, err, sizeof err), 0);
    assert_int_equal(mutant_select("", err, sizeof err), 0);
    assert_int_equal(mutant_current(), MUTANT_NONE);
    for (int m = 0; m < MUTANT_COUNT; m++)
        assert_false(m != MUTANT_NONE && mutant_is((enum mutant)m));
}

static void test_names_are_distinct(void **state)
{
    (void)state;
    for (int a = 0; a < MUTANT_COUNT; a++) {
        assert_string_not_equal(mutant_name((enum mutant)a), "?");
        for (int b = a + 1; b < MUTANT_COUNT; b++)
            assert_string_not_equal(mutant_name((enum mutant)a), mutant_name((enum mutant)b));
    }
}

static void test_unknown_name_refused(void **state)
{
    (void)state;
    char err[512] = "";
    assert_int_equal(mutant_select("no-such-bug", err, sizeof err), -1);
    assert_non_null(strstr(err, "no-such-bug"));
    assert_int_equal(mutant_current(), MUTANT_NONE);
}

static void test_known_names(void **state)
{
    (void)state;
    char err[512] = "";
    for (int m = 1; m < MUTANT_COUNT; m++) {
        int rc = mutant_select(mutant_name((enum mutant)m), err, sizeof err);
#ifdef EVENTFLOW_MUTANTS
        assert_int_equal(rc, 0);
        assert_int_equal(mutant_current(), m);
        assert_true(mutant_is((enum mutant)m));
#else
        /* A build without mutants refuses every name, and says why. */
        assert_int_equal(rc, -1);
        assert_non_null(strstr(err, "-Dmutants=true"));
        assert_int_equal(mutant_current(), MUTANT_NONE);
        assert_false(mutant_is((enum mutant)m));
#endif
    }
    assert_int_equal(mutant_select("none", err, sizeof err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_none_by_default),
        cmocka_unit_test(test_names_are_distinct),
        cmocka_unit_test(test_unknown_name_refused),
        cmocka_unit_test(test_known_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
