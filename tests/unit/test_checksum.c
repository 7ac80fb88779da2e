/* test_checksum.c - the chained CRC-32 and its base32 form. Expected values
 * come from zlib's crc32 and Python's base64.b32encode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "store/checksum.h"

static uint32_t crc_str(uint32_t prev, const char *s)
{
    return checksum_update(prev, s, strlen(s));
}

static void test_known_vectors(void **state)
{
    (void)state;
    assert_int_equal(checksum_update(0, "", 0), 0);
    assert_int_equal(checksum_update(0, NULL, 0), 0);
    assert_int_equal(crc_str(0, "123456789"), 0xCBF43926u);
    assert_int_equal(crc_str(0, "a"), 0xE8B7BE43u);
    assert_int_equal(crc_str(0, "The quick brown fox jumps over the lazy dog"), 0x414FA339u);

    uint8_t all[1024];
    for (size_t i = 0; i < sizeof all; i++)
        all[i] = (uint8_t)i;
    assert_int_equal(checksum_update(0, all, sizeof all), 0xB70B4C26u);
}

/* Chaining is what makes the replica checksum incremental: advancing over
 * two pieces equals one pass over their concatenation. */
static void test_chaining(void **state)
{
    (void)state;
    assert_int_equal(crc_str(crc_str(0, "1234"), "56789"), 0xCBF43926u);
    assert_int_equal(crc_str(crc_str(crc_str(0, "1"), ""), "23456789"), 0xCBF43926u);
    uint32_t a = crc_str(0, "event one");
    uint32_t b = crc_str(0, "event two");
    assert_int_not_equal(crc_str(a, "event two"), crc_str(b, "event one"));
    /* An empty update leaves the value alone. */
    assert_int_equal(checksum_update(a, "", 0), a);
}

static void assert_format(uint32_t sum, const char *want)
{
    char out[CHECKSUM_B32_LEN + 1];
    memset(out, 'x', sizeof out);
    checksum_format(sum, out);
    assert_string_equal(out, want);
}

static void test_format(void **state)
{
    (void)state;
    assert_format(0, "AAAAAAA=");
    assert_format(1, "AAAAAAI=");
    assert_format(0xCBF43926u, "ZP2DSJQ=");
    assert_format(0x414FA339u, "IFH2GOI=");
    assert_format(0x80000000u, "QAAAAAA=");
    assert_format(0xFFFFFFFFu, "777777Y=");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_vectors),
        cmocka_unit_test(test_chaining),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
