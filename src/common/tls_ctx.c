/* tls_ctx.c - the settings every TLS context shares (see tls_ctx.h). */
#include "common/tls_ctx.h"

#include <limits.h>
#include <stdio.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "common/log.h"

#define TLS12_CIPHERS                                                                                              \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"                    \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

void tls_error_text(const char *what, char *err, size_t errlen)
{
    unsigned long code = ERR_peek_last_error();
    const char *reason = code != 0 ? ERR_reason_error_string(code) : NULL;
    snprintf(err, errlen, "%s: %s", what, reason != NULL ? reason : "unknown error");
    ERR_clear_error();
}

SSL_CTX *tls_ctx_new(const SSL_METHOD *method, const struct tls_ctx_files *f, char *err, size_t errlen)
{
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(method);
    if (ctx == NULL) {
        tls_error_text("creating the TLS context", err, errlen);
        return NULL;
    }
    char what[PATH_MAX + 64];
    const char *step = "setting the protocol version";
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
        goto fail;
    step = "setting the ciphers";
    if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1)
        goto fail;
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    snprintf(what, sizeof what, "reading %s %s", f->cert_name, f->cert);
    step = what;
    if (SSL_CTX_use_certificate_chain_file(ctx, f->cert) != 1)
        goto fail;
    snprintf(what, sizeof what, "reading %s %s", f->key_name, f->key);
    if (SSL_CTX_use_PrivateKey_file(ctx, f->key, SSL_FILETYPE_PEM) != 1)
        goto fail;
    snprintf(what, sizeof what, "%s does not belong to %s", f->key_name, f->cert_name);
    if (SSL_CTX_check_private_key(ctx) != 1)
        goto fail;
    if (f->ca != NULL) {
        snprintf(what, sizeof what, "reading %s %s", f->ca_name, f->ca);
        if (SSL_CTX_load_verify_locations(ctx, f->ca, NULL) != 1)
            goto fail;
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(f->ca);
        if (names == NULL)
            goto fail;
        SSL_CTX_set_client_CA_list(ctx, names);
    }
    X509 *leaf = SSL_CTX_get0_certificate(ctx);
    if (leaf != NULL && X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0)
        log_warn("TLS: the certificate %s has expired", f->cert);
    return ctx;

fail:
    tls_error_text(step, err, errlen);
    SSL_CTX_free(ctx);
    return NULL;
}
