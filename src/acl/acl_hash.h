/* acl_hash.h - users' password hashes: PBKDF2-HMAC-SHA256 (OpenSSL's
 * libcrypto) with a random 16-byte salt per user and ACL_HASH_ITERATIONS
 * iterations, recorded with the hash so the count can grow later without
 * invalidating older records. Deliberately slow (tens of milliseconds):
 * call it on a worker thread, never on the loop. Pure code: any thread. */
#ifndef EVENTFLOW_ACL_HASH_H
#define EVENTFLOW_ACL_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACL_HASH_ITERATIONS 100000u
#define ACL_HASH_MAX_ITERATIONS 10000000u
#define ACL_SALT_BYTES 16
#define ACL_HASH_BYTES 32

/* A fresh random salt (OpenSSL's CSPRNG) and the hash of password[0..len)
 * with it. Returns 0, or -1 if libcrypto failed. */
int acl_hash_new(const char *password, size_t len, uint32_t iterations, uint8_t salt[ACL_SALT_BYTES],
                 uint8_t hash[ACL_HASH_BYTES]);

/* Whether password[0..len) hashes to `hash` with salt and iterations. The
 * final comparison takes the same time wherever the hashes differ. A
 * record of another shape (hash length, an iteration count beyond
 * ACL_HASH_MAX_ITERATIONS) never verifies. */
bool acl_hash_verify(const char *password, size_t len, const uint8_t *salt, size_t salt_len, uint32_t iterations,
                     const uint8_t *hash, size_t hash_len);

/* One password checked off the loop against a user's record: the
 * candidate copied in (and wiped by acl_hash_check_clear), the record's
 * salt, hash and count, or, for a name that has no record, a dummy one
 * that costs the same and never matches (timing does not tell which names
 * exist). Fill on the loop with acl_hash_check_init, run on a worker
 * thread, read `ok` back on the loop. */
struct acl_hash_check {
    char *password;      /* owned */
    size_t password_len;
    bool known;          /* false: the dummy record */
    uint8_t salt[ACL_SALT_BYTES * 4];
    size_t salt_len;
    uint8_t hash[ACL_HASH_BYTES];
    uint32_t iterations;
    bool ok;             /* acl_hash_check_run's verdict */
};

/* salt/hash NULL (or of a shape no record of ours has): the dummy. */
void acl_hash_check_init(struct acl_hash_check *k, const char *password, size_t len, const uint8_t *salt,
                         size_t salt_len, const uint8_t *hash, size_t hash_len, uint32_t iterations);
void acl_hash_check_run(struct acl_hash_check *k);
void acl_hash_check_clear(struct acl_hash_check *k);

#endif
