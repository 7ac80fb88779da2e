/* raft_tls.c - the context of raft's mutual TLS (see raft_tls.h). */
#include "raftio/raft_tls.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/tls_ctx.h"
#include "raftio/raft_tls_internal.h"

static SSL_CTX *raft_tls_ctx_build(const struct raft_tls *tls, char *err, size_t errlen)
{
    const struct tls_ctx_files files = {
        .cert = tls->cert, .cert_name = "the peer certificate", .key = tls->key, .key_name = "the peer key",
        .ca = tls->ca, .ca_name = "the peer CA",
    };
    /* One context for both ends: TLS_method serves as client and server. */
    SSL_CTX *ctx = tls_ctx_new(TLS_method(), &files, err, errlen);
    if (ctx == NULL)
        return NULL;
    /* No tickets: a raft connection lives for hours and is never resumed,
     * and a ticket is bytes the client would read for nothing. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    if (SSL_CTX_set_num_tickets(ctx, 0) != 1 ||
        SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"eventflow-raft", 14) != 1) {
        tls_error_text("setting up the raft TLS context", err, errlen);
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* Both ends: a certificate the peer CA signed, or no connection. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    return ctx;
}

struct raft_tls *raft_tls_new(const char *cert, const char *key, const char *ca, char *err, size_t errlen)
{
    struct raft_tls *tls = xcalloc(1, sizeof *tls);
    tls->cert = xstrdup(cert);
    tls->key = xstrdup(key);
    tls->ca = xstrdup(ca);
    tls->ctx = raft_tls_ctx_build(tls, err, errlen);
    if (tls->ctx == NULL) {
        raft_tls_free(tls);
        return NULL;
    }
    return tls;
}

int raft_tls_reload(struct raft_tls *tls, char *err, size_t errlen)
{
    SSL_CTX *ctx = raft_tls_ctx_build(tls, err, errlen);
    if (ctx == NULL)
        return -1;
    /* Open links' sessions hold their own reference to the old one. */
    SSL_CTX_free(tls->ctx);
    tls->ctx = ctx;
    return 0;
}

void raft_tls_free(struct raft_tls *tls)
{
    if (tls == NULL)
        return;
    raft_tls_forget_links(tls);
    SSL_CTX_free(tls->ctx);
    free(tls->cert);
    free(tls->key);
    free(tls->ca);
    free(tls);
}

uint64_t raft_tls_bytes(const struct raft_tls *tls)
{
    return tls->bytes;
}
