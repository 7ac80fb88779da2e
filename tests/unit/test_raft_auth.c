/* test_raft_auth.c - the proofs of the cluster secret (src/raftio/raft_auth.c):
 * a proof holds for its own transcript, role and secret only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "raftio/raft_auth.h"

static const uint8_t secret[] = "a secret of the cluster";
static const uint8_t other[] = "a secret of another one";
static uint8_t acceptor_hello[RAFT_AUTH_HELLO_BYTES], connector_hello[RAFT_AUTH_HELLO_BYTES];

static struct raft_auth_transcript transcript(void)
{
    memset(acceptor_hello, 'A', 32);
    memset(connector_hello, 'C', 32);
    assert_int_equal(raft_auth_nonce(acceptor_hello + 32), 0);
    assert_int_equal(raft_auth_nonce(connector_hello + 32), 0);
    return (struct raft_auth_transcript){.connector_id = 1,
                                        .acceptor_id = 2,
                                        .acceptor_hello = acceptor_hello,
                                        .connector_hello = connector_hello};
}

static void test_proof_checks(void **state)
{
    (void)state;
    struct raft_auth_transcript tr = transcript();
    uint8_t proof[RAFT_AUTH_PROOF_BYTES];
    assert_int_equal(raft_auth_prove(secret, sizeof secret, RAFT_AUTH_CONNECTOR, &tr, proof), 0);
    assert_true(raft_auth_check(secret, sizeof secret, RAFT_AUTH_CONNECTOR, &tr, proof));
    /* Another secret. */
    assert_false(raft_auth_check(other, sizeof other, RAFT_AUTH_CONNECTOR, &tr, proof));
    /* Reflected: the connector's proof is not the acceptor's. */
    assert_false(raft_auth_check(secret, sizeof secret, RAFT_AUTH_ACCEPTOR, &tr, proof));
    /* Other ids. */
    struct raft_auth_transcript swapped = tr;
    swapped.connector_id = 2;
    swapped.acceptor_id = 1;
    assert_false(raft_auth_check(secret, sizeof secret, RAFT_AUTH_CONNECTOR, &swapped, proof));
    /* Another connection's nonce (a replay). */
    connector_hello[40] ^= 1;
    assert_false(raft_auth_check(secret, sizeof secret, RAFT_AUTH_CONNECTOR, &tr, proof));
    connector_hello[40] ^= 1;
    /* A claimed identity changed on the way. */
    acceptor_hello[20] ^= 1;
    assert_false(raft_auth_check(secret, sizeof secret, RAFT_AUTH_CONNECTOR, &tr, proof));
    acceptor_hello[20] ^= 1;
    proof[31] ^= 1;
    assert_false(raft_auth_check(secret, sizeof secret, RAFT_AUTH_CONNECTOR, &tr, proof));
}

static void test_nonces_differ(void **state)
{
    (void)state;
    uint8_t a[RAFT_AUTH_NONCE_BYTES], b[RAFT_AUTH_NONCE_BYTES];
    assert_int_equal(raft_auth_nonce(a), 0);
    assert_int_equal(raft_auth_nonce(b), 0);
    assert_memory_not_equal(a, b, sizeof a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proof_checks),
        cmocka_unit_test(test_nonces_differ),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
