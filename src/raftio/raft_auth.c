/* raft_auth.c - HMAC-SHA256 proofs of the cluster secret (see raft_auth.h). */
#include "raftio/raft_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string.h>

static const char label[] = "eventflow raft hello v2";

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

int raft_auth_nonce(uint8_t out[RAFT_AUTH_NONCE_BYTES])
{
    return RAND_bytes(out, RAFT_AUTH_NONCE_BYTES) == 1 ? 0 : -1;
}

int raft_auth_prove(const uint8_t *secret, size_t secret_len, enum raft_auth_role role,
                    const struct raft_auth_transcript *tr, uint8_t out[RAFT_AUTH_PROOF_BYTES])
{
    uint8_t msg[sizeof label + 16 + 2 * RAFT_AUTH_HELLO_BYTES + 1];
    uint8_t *p = msg;
    memcpy(p, label, sizeof label); /* its NUL too: the label ends there */
    p += sizeof label;
    put_u64(p, tr->connector_id);
    put_u64(p + 8, tr->acceptor_id);
    p += 16;
    memcpy(p, tr->acceptor_hello, RAFT_AUTH_HELLO_BYTES);
    p += RAFT_AUTH_HELLO_BYTES;
    memcpy(p, tr->connector_hello, RAFT_AUTH_HELLO_BYTES);
    p += RAFT_AUTH_HELLO_BYTES;
    *p++ = (uint8_t)role;
    unsigned len = 0;
    if (HMAC(EVP_sha256(), secret, (int)secret_len, msg, (size_t)(p - msg), out, &len) == NULL ||
        len != RAFT_AUTH_PROOF_BYTES)
        return -1;
    return 0;
}

bool raft_auth_check(const uint8_t *secret, size_t secret_len, enum raft_auth_role role,
                     const struct raft_auth_transcript *tr, const uint8_t proof[RAFT_AUTH_PROOF_BYTES])
{
    uint8_t want[RAFT_AUTH_PROOF_BYTES];
    if (raft_auth_prove(secret, secret_len, role, tr, want) != 0)
        return false;
    bool ok = CRYPTO_memcmp(want, proof, RAFT_AUTH_PROOF_BYTES) == 0;
    OPENSSL_cleanse(want, sizeof want);
    return ok;
}
