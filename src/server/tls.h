/* tls.h - TLS on the client port: the server's context (certificate, key,
 * CA and client-certificate policy), and one session per connection. The
 * HTTP listener makes a context of its own here (http/https.c) and hands
 * it to h2o, whose sockets run OpenSSL themselves.
 *
 * A session runs OpenSSL over two memory BIOs, not over the socket: the
 * connection (conn.c) keeps its own libuv reads and writes, hands the
 * ciphertext it reads to tls_session_read and gets plaintext back in its
 * input buffer, and hands its replies to tls_session_write, whose
 * ciphertext it then writes like a plaintext connection writes its replies.
 * So everything above the transport (parsing, ordering, batching of a
 * turn's replies into one write) is the same code for both.
 *
 * Reload: tls_server_reload reads the files again into a new context; new
 * sessions take it, sessions already open keep the one they started with
 * (OpenSSL counts its references), so no connection is dropped. A reload
 * that fails keeps the old context.
 *
 * Loop thread only. */
#ifndef EVENTFLOW_TLS_H
#define EVENTFLOW_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/tls_ctx.h" /* tls_error_text */

enum tls_client_auth {
    TLS_CLIENT_AUTH_NONE,     /* no certificate asked for */
    TLS_CLIENT_AUTH_OPTIONAL, /* asked for; one given must verify against the CA */
    TLS_CLIENT_AUTH_REQUIRED, /* a certificate that verifies against the CA, or no connection */
};

/* What the context is made of. Strings are borrowed by tls_server_new and
 * copied. */
struct tls_options {
    const char *cert;   /* PEM certificate chain, leaf first */
    const char *key;    /* PEM private key of the leaf */
    const char *ca;     /* PEM CA bundle client certificates verify against; NULL: none */
    enum tls_client_auth client_auth;
    /* Protocols offered through ALPN, in ALPN's wire format (each name
     * after its length byte) and in our order of preference; NULL: no
     * ALPN. Borrowed for as long as any context lives: a string constant. */
    const char *alpn;
};

/* The most ciphertext a handshake may take before it completes: a client
 * certificate chain fits many times over; more is someone feeding us junk. */
#define TLS_HANDSHAKE_MAX_BYTES (64u << 10)

struct tls_server;
struct tls_session;

/* Load the files into a context: TLS 1.2 at least, forward-secret AEAD
 * ciphers only for TLS 1.2, no renegotiation. Returns the server (free with
 * tls_server_free), or NULL with the reason in err. */
struct tls_server *tls_server_new(const struct tls_options *o, char *err, size_t errlen);
/* Read the same files again (SIGHUP). Returns 0, or -1 with the reason in
 * err and the old context still in use. */
int tls_server_reload(struct tls_server *t, char *err, size_t errlen);
void tls_server_free(struct tls_server *t);

/* A handshake failure (or a session's protocol error) of client `peer`,
 * at loop time now_ms: logged at most once a second, with the count of
 * those not logged since, so that a client retrying in a loop cannot fill
 * the log. Returns the number of failures so far. */
uint64_t tls_server_note_failure(struct tls_server *t, uint64_t now_ms, const char *peer, const char *why);

/* Failures noted so far (STATUS tls_failures). */
uint64_t tls_server_failures(const struct tls_server *t);

/* The current context, for a transport that runs OpenSSL itself (the
 * HTTP listener's h2o). Borrowed: valid until the next reload; a session
 * made from it holds its own reference. */
struct ssl_ctx_st *tls_server_ctx(struct tls_server *t);

/* A server-side session with the current context. Never NULL (aborts on
 * out-of-memory, as the rest of the server does). */
struct tls_session *tls_session_new(struct tls_server *t);
void tls_session_free(struct tls_session *s);

enum tls_status {
    TLS_OK,      /* everything fed was taken */
    TLS_CLOSED,  /* the client ended the session (close_notify) */
    TLS_ERROR,   /* handshake or protocol failure: close the connection */
};

/* Feed n bytes of ciphertext read from the socket; the plaintext they
 * carry is appended to plain. Records (handshake replies, alerts) for the
 * client may be left in the session's ciphertext buffer (tls_session_out).
 * On TLS_ERROR the reason is in why. */
enum tls_status tls_session_read(struct tls_session *s, const char *data, size_t n, struct buf *plain, char *why,
                                 size_t whylen);
/* Encrypt all of plain (consumed) into the session's ciphertext buffer.
 * Before the handshake completed nothing is taken: plain stays as it is
 * and is encrypted by a later call. Returns TLS_OK or TLS_ERROR. */
enum tls_status tls_session_write(struct tls_session *s, struct buf *plain, char *why, size_t whylen);
/* Ciphertext waiting to go to the socket; the caller takes from it
 * (buf_consume) or swaps it out. Owned by the session. */
struct buf *tls_session_out(struct tls_session *s);

bool tls_session_established(const struct tls_session *s);
/* The protocol and cipher, e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384", for
 * the log; "" before the handshake. */
void tls_session_describe(const struct tls_session *s, char *out, size_t outlen);

#endif
