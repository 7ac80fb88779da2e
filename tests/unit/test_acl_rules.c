/* test_acl_rules.c - users' rule words (src/acl/acl_rules.c): what parses,
 * what is refused with nothing added, and which stream names each right
 * covers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "acl/acl_rules.h"

static int add(struct acl_rules *r, const char *w)
{
    char err[ACL_ERR_LEN];
    return acl_rules_add(r, w, strlen(w), err);
}

static bool allow(const struct acl_rules *r, enum acl_right right, const char *name)
{
    return acl_rules_allow(r, right, name, strlen(name));
}

static void test_no_rules_no_rights(void **state)
{
    (void)state;
    struct acl_rules r;
    acl_rules_init(&r);
    assert_int_equal(r.flags, 0);
    assert_false(allow(&r, ACL_READ, "a"));
    assert_false(allow(&r, ACL_WRITE, ""));
    assert_false(allow(&r, ACL_SUBSCRIBE, "a"));
    acl_rules_free(&r);
}

static void test_prefixes(void **state)
{
    (void)state;
    struct acl_rules r;
    acl_rules_init(&r);
    assert_int_equal(add(&r, "read:orders-"), 0);
    assert_int_equal(add(&r, "read:users/"), 0);
    assert_int_equal(add(&r, "write:orders-eu-"), 0);
    assert_int_equal(add(&r, "subscribe:*"), 0);
    assert_true(allow(&r, ACL_READ, "orders-1"));
    assert_true(allow(&r, ACL_READ, "orders-"));
    assert_true(allow(&r, ACL_READ, "users/7"));
    assert_false(allow(&r, ACL_READ, "orders"));   /* shorter than the prefix */
    assert_false(allow(&r, ACL_READ, "Orders-1")); /* case matters */
    assert_false(allow(&r, ACL_READ, "x-orders-1"));
    assert_true(allow(&r, ACL_WRITE, "orders-eu-9"));
    assert_false(allow(&r, ACL_WRITE, "orders-us-9"));
    assert_true(allow(&r, ACL_SUBSCRIBE, "anything"));
    assert_true(allow(&r, ACL_SUBSCRIBE, ""));
    /* Rights do not leak into each other. */
    assert_false(allow(&r, ACL_WRITE, "users/7"));
    assert_int_equal(r.flags, 0);
    /* A name with a NUL compares as bytes. */
    assert_true(acl_rules_allow(&r, ACL_READ, "orders-\0x", 9));
    acl_rules_free(&r);
}

static void test_flags(void **state)
{
    (void)state;
    struct acl_rules r;
    acl_rules_init(&r);
    assert_int_equal(add(&r, "admin"), 0);
    assert_int_equal(r.flags, ACL_ADMIN);
    assert_int_equal(add(&r, "all"), 0);
    assert_int_equal(r.flags, ACL_ADMIN | ACL_ALL);
    /* Neither is a stream right. */
    assert_false(allow(&r, ACL_READ, "a"));
    acl_rules_free(&r);
}

static void test_bad_words_add_nothing(void **state)
{
    (void)state;
    const char *bad[] = {"", "Admin", "admins", "read", "read:", "write:", "reed:x", "read:a b", "read:a\n",
                         "subscribe", "all:x", "read:\x7f"};
    char err[ACL_ERR_LEN];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct acl_rules r;
        acl_rules_init(&r);
        err[0] = '\0';
        assert_int_equal(acl_rules_add(&r, bad[i], strlen(bad[i]), err), -1);
        assert_true(strncmp(err, "invalid rule", 12) == 0);
        assert_int_equal(r.n_rules, 0);
        assert_int_equal(r.flags, 0);
        assert_int_equal(r.n_prefixes[ACL_READ] + r.n_prefixes[ACL_WRITE] + r.n_prefixes[ACL_SUBSCRIBE], 0);
        acl_rules_free(&r);
    }
    /* A prefix of 256 bytes is the longest. */
    char word[5 + ACL_MAX_PREFIX + 2];
    memcpy(word, "read:", 5);
    memset(word + 5, 'p', ACL_MAX_PREFIX + 1);
    struct acl_rules r;
    acl_rules_init(&r);
    assert_int_equal(acl_rules_add(&r, word, 5 + ACL_MAX_PREFIX + 1, err), -1);
    assert_int_equal(acl_rules_add(&r, word, 5 + ACL_MAX_PREFIX, err), 0);
    acl_rules_free(&r);
}

static void test_rule_limit(void **state)
{
    (void)state;
    struct acl_rules r;
    acl_rules_init(&r);
    for (int i = 0; i < ACL_MAX_RULES; i++)
        assert_int_equal(add(&r, "read:x"), 0);
    assert_int_equal(add(&r, "admin"), -1);
    assert_int_equal(r.flags, 0);
    acl_rules_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_rules_no_rights),
        cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_bad_words_add_nothing),
        cmocka_unit_test(test_rule_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
