/* test_backup_file.c - the backup file's header and trailer
 * (common/backup_file.h): every field round-trips, and a damaged header,
 * a later layout, another file's bytes and a damaged trailer are told
 * apart from a good one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/backup_file.h"

static struct backup_header sample(void)
{
    struct backup_header h = {
        .version = BACKUP_VERSION,
        .store_format = 4,
        .applied_index = 0x0102030405060708u,
        .term = 77,
        .event_count = 123456789012u,
        .stream_count = 42,
        .image_bytes = (uint64_t)5 << 30,
        .created_ms = 1796000000123,
        .checksum = 0xdeadbeef,
        .image_crc = 0x01020304,
    };
    for (size_t i = 0; i < BACKUP_ID_BYTES; i++) {
        h.last_id[i] = (uint8_t)i;
        h.cluster_id[i] = (uint8_t)(0xf0 - i);
    }
    strcpy(h.eventflow_version, "0.1.0");
    return h;
}

static void test_header_roundtrip(void **state)
{
    (void)state;
    struct backup_header h = sample(), back;
    uint8_t buf[BACKUP_HEADER_BYTES];
    backup_header_encode(&h, buf);
    assert_memory_equal(buf, BACKUP_MAGIC, 8);
    char err[128];
    assert_int_equal(backup_header_decode(buf, &back, err, sizeof err), 0);
    assert_memory_equal(&back, &h, sizeof h);

    /* A version text as long as the field keeps its terminator. */
    memset(h.eventflow_version, 'v', sizeof h.eventflow_version - 1);
    h.eventflow_version[sizeof h.eventflow_version - 1] = '\0';
    backup_header_encode(&h, buf);
    assert_int_equal(backup_header_decode(buf, &back, err, sizeof err), 0);
    assert_string_equal(back.eventflow_version, h.eventflow_version);
}

static void test_header_refused(void **state)
{
    (void)state;
    struct backup_header h = sample(), back;
    uint8_t buf[BACKUP_HEADER_BYTES];
    char err[128];

    backup_header_encode(&h, buf);
    buf[20] ^= 1; /* a bit of the applied index */
    assert_int_equal(backup_header_decode(buf, &back, err, sizeof err), -1);
    assert_non_null(strstr(err, "damaged"));

    backup_header_encode(&h, buf);
    memcpy(buf, "EFBACKUQ", 8);
    assert_int_equal(backup_header_decode(buf, &back, err, sizeof err), -1);
    assert_non_null(strstr(err, "not an eventflow backup"));

    h.version = BACKUP_VERSION + 1;
    backup_header_encode(&h, buf);
    assert_int_equal(backup_header_decode(buf, &back, err, sizeof err), -1);
    assert_non_null(strstr(err, "newer than this build reads"));
}

static void test_trailer_and_crc(void **state)
{
    (void)state;
    uint8_t t[BACKUP_TRAILER_BYTES];
    uint32_t crc = 0;
    backup_trailer_encode(0xcafef00d, t);
    assert_int_equal(backup_trailer_decode(t, &crc), 0);
    assert_int_equal(crc, 0xcafef00d);
    t[0] ^= 1;
    assert_int_equal(backup_trailer_decode(t, &crc), -1);

    /* zlib's CRC-32, continued across pieces. */
    static const char text[] = "123456789";
    assert_int_equal(backup_crc(0, text, 9), 0xcbf43926);
    assert_int_equal(backup_crc(backup_crc(0, text, 4), text + 4, 5), 0xcbf43926);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_roundtrip),
        cmocka_unit_test(test_header_refused),
        cmocka_unit_test(test_trailer_and_crc),
    };
    return cmocka_run_group_tests_name("backup_file", tests, NULL, NULL);
}
