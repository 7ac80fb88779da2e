/* acl_hash.c - PBKDF2-HMAC-SHA256 password hashes (acl_hash.h). */
#include "acl/acl_hash.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

static int pbkdf2(const char *password, size_t len, const uint8_t *salt, size_t salt_len, uint32_t iterations,
                  uint8_t out[ACL_HASH_BYTES])
{
    if (len > INT_MAX || salt_len > INT_MAX || iterations == 0 || iterations > ACL_HASH_MAX_ITERATIONS)
        return -1;
    return PKCS5_PBKDF2_HMAC(password, (int)len, salt, (int)salt_len, (int)iterations, EVP_sha256(),
                             ACL_HASH_BYTES, out) == 1
               ? 0
               : -1;
}

int acl_hash_new(const char *password, size_t len, uint32_t iterations, uint8_t salt[ACL_SALT_BYTES],
                 uint8_t hash[ACL_HASH_BYTES])
{
    if (RAND_bytes(salt, ACL_SALT_BYTES) != 1)
        return -1;
    return pbkdf2(password, len, salt, ACL_SALT_BYTES, iterations, hash);
}

bool acl_hash_verify(const char *password, size_t len, const uint8_t *salt, size_t salt_len, uint32_t iterations,
                     const uint8_t *hash, size_t hash_len)
{
    uint8_t got[ACL_HASH_BYTES];
    if (hash_len != ACL_HASH_BYTES || pbkdf2(password, len, salt, salt_len, iterations, got) != 0)
        return false;
    bool ok = CRYPTO_memcmp(got, hash, ACL_HASH_BYTES) == 0;
    OPENSSL_cleanse(got, sizeof got);
    return ok;
}

void acl_hash_check_init(struct acl_hash_check *k, const char *password, size_t len, const uint8_t *salt,
                         size_t salt_len, const uint8_t *hash, size_t hash_len, uint32_t iterations)
{
    memset(k, 0, sizeof *k);
    k->password = xmalloc(len + 1);
    memcpy(k->password, password, len);
    k->password_len = len;
    k->iterations = ACL_HASH_ITERATIONS;
    k->salt_len = ACL_SALT_BYTES;
    if (salt != NULL && hash != NULL && salt_len <= sizeof k->salt && hash_len == ACL_HASH_BYTES) {
        k->known = true;
        memcpy(k->salt, salt, salt_len);
        k->salt_len = salt_len;
        memcpy(k->hash, hash, hash_len);
        k->iterations = iterations;
    }
}

void acl_hash_check_run(struct acl_hash_check *k)
{
    bool ok = acl_hash_verify(k->password, k->password_len, k->salt, k->salt_len, k->iterations, k->hash,
                              ACL_HASH_BYTES);
    k->ok = ok && k->known;
}

void acl_hash_check_clear(struct acl_hash_check *k)
{
    if (k->password != NULL)
        OPENSSL_cleanse(k->password, k->password_len);
    free(k->password);
    k->password = NULL;
}
