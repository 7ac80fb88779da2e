/* test_acl_hash.c - users' password hashes (src/acl/acl_hash.c) and the
 * peer credential (src/acl/acl_peer.c): PBKDF2-HMAC-SHA256 against
 * RFC 7914's test vector, salts that differ per hash, verification that
 * fails on any other password, salt, count or record shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "acl/acl_hash.h"
#include "acl/acl_peer.h"

/* RFC 7914, section 11: PBKDF2-HMAC-SHA256 (P="passwd", S="salt", c=1). */
static void test_known_vector(void **state)
{
    (void)state;
    static const uint8_t want[ACL_HASH_BYTES] = {
        0x55, 0xac, 0x04, 0x6e, 0x56, 0xe3, 0x08, 0x9f, 0xec, 0x16, 0x91, 0xc2, 0x25, 0x44, 0xb6, 0x05,
        0xf9, 0x41, 0x85, 0x21, 0x6d, 0xde, 0x04, 0x65, 0xe6, 0x8b, 0x9d, 0x57, 0xc2, 0x0d, 0xac, 0xbc};
    assert_true(acl_hash_verify("passwd", 6, (const uint8_t *)"salt", 4, 1, want, sizeof want));
    assert_false(acl_hash_verify("passwe", 6, (const uint8_t *)"salt", 4, 1, want, sizeof want));
    assert_false(acl_hash_verify("passwd", 6, (const uint8_t *)"salt", 4, 2, want, sizeof want));
    /* A record of another shape never verifies. */
    assert_false(acl_hash_verify("passwd", 6, (const uint8_t *)"salt", 4, 1, want, sizeof want - 1));
    assert_false(acl_hash_verify("passwd", 6, (const uint8_t *)"salt", 4, 0, want, sizeof want));
    assert_false(
        acl_hash_verify("passwd", 6, (const uint8_t *)"salt", 4, ACL_HASH_MAX_ITERATIONS + 1, want, sizeof want));
}

static void test_new_hash_verifies(void **state)
{
    (void)state;
    /* A small count keeps the test quick; the code path is the same. */
    uint8_t salt[ACL_SALT_BYTES], hash[ACL_HASH_BYTES], salt2[ACL_SALT_BYTES], hash2[ACL_HASH_BYTES];
    assert_int_equal(acl_hash_new("s3cret", 6, 1000, salt, hash), 0);
    assert_true(acl_hash_verify("s3cret", 6, salt, sizeof salt, 1000, hash, sizeof hash));
    assert_false(acl_hash_verify("s3cre", 5, salt, sizeof salt, 1000, hash, sizeof hash));
    assert_false(acl_hash_verify("s3cret!", 7, salt, sizeof salt, 1000, hash, sizeof hash));
    assert_false(acl_hash_verify("", 0, salt, sizeof salt, 1000, hash, sizeof hash));
    /* The same password again: another salt, another hash. */
    assert_int_equal(acl_hash_new("s3cret", 6, 1000, salt2, hash2), 0);
    assert_memory_not_equal(salt, salt2, sizeof salt);
    assert_memory_not_equal(hash, hash2, sizeof hash);
    assert_false(acl_hash_verify("s3cret", 6, salt2, sizeof salt2, 1000, hash, sizeof hash));
    /* Passwords may hold any byte. */
    assert_int_equal(acl_hash_new("a\0b", 3, 1000, salt, hash), 0);
    assert_true(acl_hash_verify("a\0b", 3, salt, sizeof salt, 1000, hash, sizeof hash));
    assert_false(acl_hash_verify("a\0c", 3, salt, sizeof salt, 1000, hash, sizeof hash));
}

static void test_peer_token(void **state)
{
    (void)state;
    char a[ACL_PEER_TOKEN_LEN + 1], b[ACL_PEER_TOKEN_LEN + 1], c[ACL_PEER_TOKEN_LEN + 1];
    assert_int_equal(acl_peer_token("the cluster secret", a), 0);
    assert_int_equal(acl_peer_token("the cluster secret", b), 0);
    assert_int_equal(acl_peer_token("another secret", c), 0);
    assert_int_equal(strlen(a), ACL_PEER_TOKEN_LEN);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    /* Not the key itself. */
    assert_null(strstr(a, "secret"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_vector),
        cmocka_unit_test(test_new_hash_verifies),
        cmocka_unit_test(test_peer_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
