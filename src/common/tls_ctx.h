/* tls_ctx.h - what every OpenSSL context of eventflowd shares: TLS 1.2 at
 * least, forward-secret AEAD ciphers for TLS 1.2 (TLS 1.3's suites all
 * are), no renegotiation or compression, a certificate chain with its key,
 * and optionally a CA to verify peers against. The client port
 * (server/tls.c), its HTTPS twin (http/https.c, through server/tls.c) and
 * raft's connections (raftio/raft_tls.c) each add their own policy: who
 * must show a certificate, ALPN, tickets. */
#ifndef EVENTFLOW_TLS_CTX_H
#define EVENTFLOW_TLS_CTX_H

#include <stddef.h>
#include <openssl/ssl.h>

/* The files, and the names the messages give them (the flags). Borrowed. */
struct tls_ctx_files {
    const char *cert, *cert_name; /* PEM chain, leaf first */
    const char *key, *key_name;   /* PEM private key of the leaf */
    const char *ca, *ca_name;     /* PEM CA bundle; NULL: none */
};

/* A context of method with the files loaded and the shared settings
 * (above). Returns it, or NULL with the reason in err. An expired leaf is
 * only logged: the operator may be about to replace it (SIGHUP). */
SSL_CTX *tls_ctx_new(const SSL_METHOD *method, const struct tls_ctx_files *f, char *err, size_t errlen);

/* OpenSSL's reason for the last failure on this thread, as "what: reason"
 * in err, and its error queue cleared: it is the thread's, and a stale
 * entry would be blamed on the next peer. */
void tls_error_text(const char *what, char *err, size_t errlen);

#endif
