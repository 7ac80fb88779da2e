/* test_raft_frame.c - the checks of raft_uv's messages (src/raftio/raft_frame.c).
 *
 * Messages are built as raft 0.22.1's encoder lays them out
 * (raft_frame.h), fed whole and a byte at a time; each refusal is one
 * field out of bounds in an otherwise good message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <raft.h>

#include "raftio/raft_frame.h"

static uint8_t msg[4096];
static size_t len;

static void put64(size_t at, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        msg[at + (size_t)i] = (uint8_t)(v >> (8 * i));
}

static void preamble(uint64_t type, uint64_t header_len)
{
    memset(msg, 0, sizeof msg);
    put64(0, type);
    put64(8, header_len);
    len = 16 + header_len;
}

/* An AppendEntries of n entries of these data lengths (payload included). */
static void append_entries(size_t n, const uint32_t *lens)
{
    preamble(RAFT_APPEND_ENTRIES, 48 + 16 * n);
    put64(16, 5);      /* term */
    put64(16 + 32, n);
    size_t payload = 0;
    for (size_t i = 0; i < n; i++) {
        put64(16 + 40 + 16 * i, 5);
        put64(16 + 48 + 16 * i, RAFT_COMMAND | (uint64_t)lens[i] << 32);
        payload += lens[i];
    }
    len += payload;
}

/* Fed whole, then a byte at a time: both must give `want`. */
static void expect(int want, const char *why_part)
{
    struct raft_frame f;
    raft_frame_init(&f);
    assert_int_equal(raft_frame_feed(&f, msg, len), want);
    if (want == 0) {
        assert_int_equal(f.messages, 1);
        assert_int_equal(f.part, RAFT_FRAME_PREAMBLE);
    } else {
        assert_non_null(strstr(f.why, why_part));
    }
    raft_frame_init(&f);
    int rv = 0;
    for (size_t i = 0; i < len && rv == 0; i++)
        rv = raft_frame_feed(&f, msg + i, 1);
    assert_int_equal(rv, want);
    if (want == 0)
        assert_int_equal(f.messages, 1);
}

static void test_append_entries_good(void **state)
{
    (void)state;
    append_entries(0, NULL);
    expect(0, NULL);
    uint32_t lens[] = {64, 8, 13};
    append_entries(3, lens);
    expect(0, NULL);
}

/* The 72-byte crash: a batch header claiming 2^31 entries. */
static void test_append_entries_huge_count(void **state)
{
    (void)state;
    append_entries(0, NULL);
    put64(16 + 32, (uint64_t)1 << 31);
    expect(-1, "too many entries");
    append_entries(0, NULL);
    put64(16 + 32, 2); /* fits the limit, not the header */
    expect(-1, "does not match");
}

/* raft would read the count past a header this short. */
static void test_short_headers(void **state)
{
    (void)state;
    preamble(RAFT_APPEND_ENTRIES, 24);
    expect(-1, "bad length");
    preamble(RAFT_REQUEST_VOTE, 8);
    expect(-1, "bad length");
    preamble(RAFT_REQUEST_VOTE, 33);
    expect(-1, "bad length");
    preamble(RAFT_TIMEOUT_NOW, 0);
    expect(-1, "bad length");
    preamble(RAFT_REQUEST_VOTE, 40);
    expect(0, NULL);
    preamble(RAFT_REQUEST_VOTE_RESULT, 24);
    expect(0, NULL);
    preamble(RAFT_APPEND_ENTRIES_RESULT, 32);
    expect(0, NULL);
}

static void test_unknown_type(void **state)
{
    (void)state;
    preamble(0, 24);
    expect(-1, "unknown message type");
    preamble(7, 24);
    expect(-1, "unknown message type");
}

static void test_entry_checks(void **state)
{
    (void)state;
    uint32_t lens[] = {13, 8};
    append_entries(2, lens);
    expect(-1, "padded");
    uint32_t one[] = {8};
    append_entries(1, one);
    put64(16 + 48, 9 | (uint64_t)8 << 32);
    expect(-1, "unknown type");
}

/* A one-server configuration as raft encodes it, padded to 24 bytes; the
 * header one word larger than what it holds, as raft's encoder makes it. */
static void install_snapshot(uint64_t data_len)
{
    preamble(RAFT_INSTALL_SNAPSHOT, 56 + 24);
    put64(16 + 32, 24);
    uint8_t *conf = msg + 16 + 40;
    conf[0] = 1;          /* format */
    conf[1] = 1;          /* one server */
    conf[9] = 7;          /* its id */
    memcpy(conf + 17, "a:1", 4);
    conf[21] = 1;         /* its role */
    put64(16 + 40 + 24, data_len);
    len += data_len;
}

static void test_install_snapshot(void **state)
{
    (void)state;
    install_snapshot(100);
    expect(0, NULL);
    install_snapshot(0);
    put64(16 + 32, 1000); /* more configuration than header */
    expect(-1, "configuration length");
    install_snapshot(0);
    put64(16 + 40 + 24, RAFT_FRAME_MAX_PAYLOAD + 1);
    expect(-1, "too large");
    /* Without the unused word: what raft reads is all there. */
    install_snapshot(0);
    put64(8, 48 + 24);
    len -= 8;
    expect(0, NULL);
    install_snapshot(0);
    put64(16 + 32, 8); /* the data length would be read from inside the configuration */
    expect(-1, "configuration length");
}

/* raft's configuration decoder reads past a configuration that does not
 * end where its length says. */
static void test_install_snapshot_configuration(void **state)
{
    (void)state;
    install_snapshot(0);
    msg[16 + 40] = 2;
    expect(-1, "unknown format");
    install_snapshot(0);
    msg[16 + 40 + 1] = 3; /* three servers in 24 bytes */
    expect(-1, "more servers than it holds");
    install_snapshot(0);
    memset(msg + 16 + 40 + 17, 'x', 7); /* the address never ends */
    expect(-1, "cut short");
}

/* Two messages back to back, and a refusal that sticks. */
static void test_stream(void **state)
{
    (void)state;
    struct raft_frame f;
    raft_frame_init(&f);
    preamble(RAFT_REQUEST_VOTE, 40);
    assert_int_equal(raft_frame_feed(&f, msg, len), 0);
    assert_int_equal(raft_frame_feed(&f, msg, len), 0);
    assert_int_equal(f.messages, 2);
    preamble(9, 40);
    assert_int_equal(raft_frame_feed(&f, msg, len), -1);
    preamble(RAFT_REQUEST_VOTE, 40);
    assert_int_equal(raft_frame_feed(&f, msg, len), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_entries_good),
        cmocka_unit_test(test_append_entries_huge_count),
        cmocka_unit_test(test_short_headers),
        cmocka_unit_test(test_unknown_type),
        cmocka_unit_test(test_entry_checks),
        cmocka_unit_test(test_install_snapshot),
        cmocka_unit_test(test_install_snapshot_configuration),
        cmocka_unit_test(test_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
