/* raft_auth.h - the proofs of the cluster secret two nodes trade in the
 * raft hello (raft_tcp.h, version 2).
 *
 * Each end proves that it holds the secret by an HMAC-SHA256, keyed with
 * the secret, over everything both ends said in the hello: a label, the
 * connector's and the acceptor's raft ids, the acceptor's hello with its
 * nonce, the connector's hello with its nonce, and a role byte ('C' for
 * the connector's proof, 'A' for the acceptor's). So a proof holds for one
 * connection only (each end's nonce is fresh, from OpenSSL's CSPRNG), for
 * one pair of raft ids and the cluster identities both claimed, and in one
 * direction: it cannot be replayed on another connection, nor sent back to
 * the end that made it. Checks compare in constant time. Pure code: no I/O,
 * any thread. */
#ifndef EVENTFLOW_RAFT_AUTH_H
#define EVENTFLOW_RAFT_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RAFT_AUTH_NONCE_BYTES 32
#define RAFT_AUTH_PROOF_BYTES 32
/* A hello's fixed part and its nonce: what each end's proof covers of it. */
#define RAFT_AUTH_HELLO_BYTES (32 + RAFT_AUTH_NONCE_BYTES)
/* Shortest secret accepted (config.c says so to the user). */
#define RAFT_AUTH_MIN_SECRET 16

enum raft_auth_role { RAFT_AUTH_CONNECTOR = 'C', RAFT_AUTH_ACCEPTOR = 'A' };

/* What one connection's proofs are made over. Borrowed pointers. */
struct raft_auth_transcript {
    uint64_t connector_id;
    uint64_t acceptor_id;
    const uint8_t *acceptor_hello;  /* RAFT_AUTH_HELLO_BYTES */
    const uint8_t *connector_hello; /* RAFT_AUTH_HELLO_BYTES */
};

/* A fresh nonce into out. Returns 0, or -1 if the CSPRNG failed (then the
 * connection must not go on). */
int raft_auth_nonce(uint8_t out[RAFT_AUTH_NONCE_BYTES]);

/* role's proof over tr with the secret (secret_len > 0) into out. Returns
 * 0, or -1 if HMAC failed. */
int raft_auth_prove(const uint8_t *secret, size_t secret_len, enum raft_auth_role role,
                    const struct raft_auth_transcript *tr, uint8_t out[RAFT_AUTH_PROOF_BYTES]);

/* Whether proof is role's proof over tr with the secret. */
bool raft_auth_check(const uint8_t *secret, size_t secret_len, enum raft_auth_role role,
                     const struct raft_auth_transcript *tr, const uint8_t proof[RAFT_AUTH_PROOF_BYTES]);

#endif
