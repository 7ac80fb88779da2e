/* tls.h - TLS on the client's connections (docs/client.md, "TLS").
 *
 * One context per client holds the CA certificates the servers' must chain
 * to and, optionally, the client's own certificate and key; clones of the
 * client (subscriptions) take another reference to it. A connection runs
 * its session over its non-blocking socket: the handshake waits with
 * poll() up to the connect deadline, and reads and writes never block.
 *
 * Thread-safety: a context may be shared by threads (OpenSSL locks its
 * reference count and only reads it to make sessions); a session belongs
 * to its connection's thread. */
#ifndef EVENTFLOW_CLIENT_TLS_H
#define EVENTFLOW_CLIENT_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ssl_st;
struct ssl_ctx_st;

struct ef_tls {
    struct ssl_ctx_st *ctx; /* owned reference */
    bool verify_name;       /* the certificate must name the endpoint's host */
};

/* A context from PEM files: ca (NULL: the system's default CAs), cert and
 * key (both NULL: no client certificate; one without the other is an
 * error). Returns a new ef_tls (free with ef_tls_free), or NULL with the
 * reason in err. */
struct ef_tls *ef_tls_new(const char *ca, const char *cert, const char *key, bool verify_name, char *err,
                          size_t err_cap);

/* Another reference to t's context (NULL for NULL). */
struct ef_tls *ef_tls_clone(const struct ef_tls *t);

/* NULL is a no-op. */
void ef_tls_free(struct ef_tls *t);

/* Outcomes of ef_tls_connect. */
enum {
    EF_TLS_OK = 0,
    EF_TLS_FAILED = -1,   /* no session: the port is not TLS, timed out, closed */
    EF_TLS_REFUSED = -2,  /* a certificate was refused: the server's by us, or ours by it */
};

/* Run a client handshake on the connected socket fd before deadline_ms,
 * checking the server's certificate against t's CAs and (verify_name) host.
 * Returns EF_TLS_OK with the session in *out (free with ef_tls_close), or
 * another outcome with the reason in err. */
int ef_tls_connect(const struct ef_tls *t, int fd, const char *host, int64_t deadline_ms, struct ssl_st **out,
                   char *err, size_t err_cap);

/* Free a session (NULL is a no-op). The socket stays open. */
void ef_tls_close(struct ssl_st *ssl);

/* Write up to len bytes: >0 written, 0 the socket takes nothing now, -1 an
 * error. */
ssize_t ef_tls_write(struct ssl_st *ssl, const void *p, size_t len);

/* Read everything the socket holds now, each piece passed to sink: >0
 * bytes read, 0 nothing there yet, -1 closed by the server, -2 an error.
 * Draining leaves no decrypted bytes in the session, so a poll() on the
 * socket is a true answer to "is there more". */
int ef_tls_read(struct ssl_st *ssl, void (*sink)(void *arg, const char *p, size_t n), void *arg);

#endif
