/* test_client_retry.c - libeventflow's retry decisions (retry.h): what a
 * reply means for routing, which code a final error becomes, the backoff
 * schedule and its jitter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/retry.h"
#include "eventflow/errors.h"

static struct resp_value error_reply(const char *text)
{
    struct resp_value v = {.type = RESP_T_ERROR, .str = (char *)text, .len = strlen(text)};
    return v;
}

static enum ef_reply_class classify(const char *text, char *moved, size_t cap)
{
    struct resp_value v = error_reply(text);
    return ef_reply_classify(&v, moved, cap);
}

static void test_classify(void **state)
{
    (void)state;
    char to[64] = "";
    assert_int_equal(classify("MOVED 0 127.0.0.1:7001", to, sizeof to), EF_REPLY_MOVED);
    assert_string_equal(to, "127.0.0.1:7001");
    assert_int_equal(classify("MOVED 0 [::1]:7001 extra", to, sizeof to), EF_REPLY_MOVED);
    assert_string_equal(to, "[::1]:7001");
    /* The slot a Redis Cluster client computed for the request's key. */
    assert_int_equal(classify("MOVED 14303 127.0.0.1:7002", to, sizeof to), EF_REPLY_MOVED);
    assert_string_equal(to, "127.0.0.1:7002");
    assert_int_equal(classify("CLUSTERDOWN The cluster is down: no leader", to, sizeof to), EF_REPLY_NOLEADER);
    /* A redirect we cannot follow is as good as "no leader". */
    assert_int_equal(classify("MOVED 0", to, sizeof to), EF_REPLY_NOLEADER);
    assert_int_equal(classify("MOVED 0 nocolon", to, sizeof to), EF_REPLY_NOLEADER);
    assert_int_equal(classify("MOVED 0 127.0.0.1:7001", to, 8), EF_REPLY_NOLEADER);

    assert_int_equal(classify("NOLEADER no leader is elected right now; retry", to, sizeof to),
                     EF_REPLY_NOLEADER);
    assert_int_equal(classify("TRYAGAIN the new leader is applying earlier entries", to, sizeof to),
                     EF_REPLY_TRYAGAIN);
    assert_int_equal(classify("BUSY another membership change", to, sizeof to), EF_REPLY_TRYAGAIN);
    assert_int_equal(classify("UNKNOWN outcome unknown", to, sizeof to), EF_REPLY_UNKNOWN);
    assert_int_equal(classify("UNKNOWN", to, sizeof to), EF_REPLY_UNKNOWN);
    assert_int_equal(classify("STALE this node has had no contact", to, sizeof to),
                     EF_REPLY_ELSEWHERE);
    assert_int_equal(classify("TIMEOUT min_id not applied", to, sizeof to), EF_REPLY_ELSEWHERE);
    assert_int_equal(classify("SHUTDOWN the server is shutting down", to, sizeof to),
                     EF_REPLY_ELSEWHERE);

    /* Words are matched whole and case-sensitively: "unknown command" is
     * an answer, not an unknown outcome. */
    assert_int_equal(classify("unknown command", to, sizeof to), EF_REPLY_FINAL);
    assert_int_equal(classify("UNKNOWNISH thing", to, sizeof to), EF_REPLY_FINAL);
    assert_int_equal(classify("MOVEDX 0 a:1", to, sizeof to), EF_REPLY_FINAL);
    assert_int_equal(classify("concurrent stream modification", to, sizeof to), EF_REPLY_FINAL);
    assert_int_equal(classify("", to, sizeof to), EF_REPLY_FINAL);

    struct resp_value ok = {.type = RESP_T_SIMPLE, .str = (char *)"OK", .len = 2};
    assert_int_equal(ef_reply_classify(&ok, to, sizeof to), EF_REPLY_OK);
    struct resp_value arr = {.type = RESP_T_ARRAY};
    assert_int_equal(ef_reply_classify(&arr, to, sizeof to), EF_REPLY_OK);
}

static void test_error_codes(void **state)
{
    (void)state;
    assert_int_equal(ef_reply_error_code("unauthorized"), EF_EAUTH);
    assert_int_equal(ef_reply_error_code("concurrent stream modification"), EF_ECONFLICT);
    assert_int_equal(ef_reply_error_code("given version leaves gap in stream"), EF_EGAP);
    assert_int_equal(ef_reply_error_code("idempotency key reuse: event 2"), EF_EKEYREUSE);
    assert_int_equal(ef_reply_error_code("KEYREUSE idempotency key \"k\" was used before with different data"),
                     EF_EKEYREUSE);
    assert_int_equal(ef_reply_error_code("REFUSED the node at h:1 cannot be added"), EF_EINVAL);
    assert_int_equal(ef_reply_error_code("FULL the store is full"), EF_EFULL);
    assert_int_equal(ef_reply_error_code("TOOBIG the ADD is too large"), EF_ETOOBIG);
    assert_int_equal(ef_reply_error_code("too many events"), EF_ETOOBIG);
    assert_int_equal(ef_reply_error_code("event 3 too large"), EF_ETOOBIG);
    assert_int_equal(ef_reply_error_code("Protocol error: bad length"), EF_EPROTO);
    assert_int_equal(ef_reply_error_code("IOERR raft: disk"), EF_ESERVER);
    assert_int_equal(ef_reply_error_code("NEWWORD from a newer server"), EF_ESERVER);
    assert_int_equal(ef_reply_error_code("NOGROUP no group named \"g\""), EF_ENOTFOUND);
    assert_int_equal(ef_reply_error_code("EXISTS a group named \"g\" exists already"), EF_EEXISTS);
    assert_int_equal(ef_reply_error_code("NOTDELIVERED event 01J was never delivered"), EF_EINVAL);
    assert_int_equal(ef_reply_error_code("NOSTREAM no stream named \"s\""), EF_ENOTFOUND);
    assert_int_equal(ef_reply_error_code("DELETED the stream was hard-deleted"), EF_EDELETED);
    assert_int_equal(ef_reply_error_code("REMOVED idempotency key \"k\" was applied before"), EF_EDELETED);
    assert_int_equal(ef_reply_error_code("BEYOND truncate_before is past the end"), EF_EINVAL);
    assert_int_equal(ef_reply_error_code("NOTPENDING event 01J is not pending"), EF_EINVAL);
    assert_int_equal(ef_reply_error_code("event type cannot be empty"), EF_EINVAL);
    assert_int_equal(ef_reply_error_code("list of events is empty"), EF_EINVAL);
    assert_int_equal(ef_reply_error_code("stream cannot be all zeroes"), EF_EINVAL);
    assert_int_equal(ef_reply_error_code("unknown command"), EF_EINVAL);
    assert_int_equal(ef_reply_error_code("no such member (or not eligible for this change)"),
                     EF_EINVAL);
}

static void test_strerror(void **state)
{
    (void)state;
    int codes[] = {EF_OK,      EF_EINVAL,  EF_EUNAVAILABLE, EF_EUNKNOWN, EF_EAUTH,
                   EF_ECONFLICT, EF_EGAP,  EF_EKEYREUSE,    EF_EFULL,    EF_ETOOBIG,
                   EF_EPROTO,  EF_ESERVER, EF_ECANCELED,    EF_ENOMEM, EF_ETIMEDOUT,
                   EF_ENOTFOUND, EF_EEXISTS, EF_EDELETED};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        assert_string_not_equal(eventflow_strerror(codes[i]), "unknown error");
        assert_string_not_equal(eventflow_err_name(codes[i]), "EF_E?");
    }
    assert_string_equal(eventflow_err_name(EF_EUNAVAILABLE), "EF_EUNAVAILABLE");
    assert_string_equal(eventflow_strerror(-999), "unknown error");
    assert_string_equal(eventflow_err_name(1), "EF_E?");
}

/* Without jitter (random 0 gives the low end, d/2; the top gives d) the
 * schedule doubles from the base and stops at the cap. */
static void test_backoff_schedule(void **state)
{
    (void)state;
    assert_int_equal(ef_backoff_ms(0, 25, 500, 0), 0);
    int expect_full[] = {25, 50, 100, 200, 400, 500, 500, 500};
    for (unsigned a = 1; a <= 8; a++) {
        int d = expect_full[a - 1];
        assert_int_equal(ef_backoff_ms(a, 25, 500, 0), d - d / 2);
        assert_int_equal(ef_backoff_ms(a, 25, 500, (uint64_t)(d / 2)), d);
    }
    /* Huge attempt numbers do not overflow. */
    assert_int_equal(ef_backoff_ms(1000, 25, 500, 0), 250);
    assert_int_equal(ef_backoff_ms(UINT32_MAX, 25, 500, UINT64_MAX) <= 500, 1);
    /* Degenerate parameters: no wait. */
    assert_int_equal(ef_backoff_ms(3, 0, 500, 7), 0);
    assert_int_equal(ef_backoff_ms(3, 25, 0, 7), 0);
}

/* Jitter stays in [d/2, d] and actually spreads. */
static void test_backoff_jitter(void **state)
{
    (void)state;
    struct ef_rng rng;
    ef_rng_seed_with(&rng, 42);
    for (unsigned a = 1; a <= 12; a++) {
        int d = 25 << (a - 1);
        if (d > 500)
            d = 500;
        int lo = d, hi = 0;
        for (int i = 0; i < 2000; i++) {
            int ms = ef_backoff_ms(a, 25, 500, ef_rng_next(&rng));
            assert_in_range(ms, d - d / 2, d);
            lo = ms < lo ? ms : lo;
            hi = ms > hi ? ms : hi;
        }
        /* 2000 draws cover most of the range. */
        assert_true(hi - lo >= (d / 2) * 8 / 10);
    }
}

static void test_rng(void **state)
{
    (void)state;
    struct ef_rng a, b, c;
    ef_rng_seed_with(&a, 1);
    ef_rng_seed_with(&b, 1);
    ef_rng_seed_with(&c, 2);
    for (int i = 0; i < 100; i++) {
        uint64_t x = ef_rng_next(&a);
        assert_true(x == ef_rng_next(&b));
        assert_true(x != ef_rng_next(&c));
    }
    /* Random seeds differ between generators. */
    ef_rng_seed(&a);
    ef_rng_seed(&b);
    assert_true(ef_rng_next(&a) != ef_rng_next(&b));
    /* Bits are balanced. */
    unsigned ones = 0;
    for (int i = 0; i < 1000; i++)
        ones += (unsigned)__builtin_popcountll(ef_rng_next(&a));
    assert_in_range(ones, 32000 - 1000, 32000 + 1000);
}

static const char *cause(const char *msg)
{
    static char out[512];
    return ef_error_cause(msg, out, sizeof out);
}

/* A message that gives up names the failure under it once, however many
 * loops gave up in turn. */
static void test_error_cause(void **state)
{
    (void)state;
    assert_string_equal(cause("10.0.0.3:6543: connect: Connection refused"),
                        "10.0.0.3:6543: connect: Connection refused");
    assert_string_equal(cause("no node answered (last: 10.0.0.3:6543: connect: Connection refused)"),
                        "10.0.0.3:6543: connect: Connection refused");
    assert_string_equal(cause("no node answered (last: no node answered (last: 10.0.0.3:6543: connect: "
                              "Connection refused))"),
                        "10.0.0.3:6543: connect: Connection refused");
    /* The cause's own parentheses stay. */
    assert_string_equal(cause("no node answered (last: 10.0.0.2:6543: -FULL the disk is nearly full (map "
                              "size 64 MiB))"),
                        "10.0.0.2:6543: -FULL the disk is nearly full (map size 64 MiB)");
    assert_string_equal(cause("a (b)"), "a (b)");
    /* Not a layer: the marker without its closing parenthesis at the end. */
    assert_string_equal(cause("x (last: y"), "x (last: y");
    assert_string_equal(cause(" (last: )"), "");
    assert_string_equal(cause(""), "");
    /* Truncated to the buffer. */
    char small[6];
    assert_string_equal(ef_error_cause("no node answered (last: abcdefgh)", small, sizeof small), "abcde");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),        cmocka_unit_test(test_error_codes),
        cmocka_unit_test(test_strerror),        cmocka_unit_test(test_backoff_schedule),
        cmocka_unit_test(test_backoff_jitter),  cmocka_unit_test(test_rng),
        cmocka_unit_test(test_error_cause),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
