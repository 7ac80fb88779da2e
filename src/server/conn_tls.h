/* conn_tls.h - the TLS side of a client connection: its session and its
 * handshake deadline (conn.c calls these only for a connection accepted on
 * the TLS port; a plaintext connection has none and pays one branch per
 * read and per flush).
 *
 * A client that has not completed its handshake within the deadline, that
 * sends more than TLS_HANDSHAKE_MAX_BYTES before completing it, or whose
 * handshake fails (plaintext on the TLS port, a certificate that does not
 * verify, junk) is closed, and the failure is logged through
 * tls_server_note_failure (rate-limited). Loop thread only. */
#ifndef EVENTFLOW_CONN_TLS_H
#define EVENTFLOW_CONN_TLS_H

#include <stddef.h>
#include <uv.h>

#include "common/buf.h"
#include "server/tls.h"

struct conn;
struct conn_tls;

/* Start a server-side session for c with the server's current context and
 * arm the handshake deadline of deadline_ms. Never NULL. */
struct conn_tls *conn_tls_new(struct conn *c, struct tls_server *server, uv_loop_t *loop, unsigned deadline_ms);
/* The connection is closing: free the session now, the rest once the
 * deadline's timer handle has closed. t must not be used afterwards. */
void conn_tls_close(struct conn_tls *t);

/* Where libuv reads a TLS connection's ciphertext: one buffer for all of
 * them, as the read callback decrypts it before the loop reads again. */
void conn_tls_read_buffer(uv_buf_t *out);
/* n bytes of ciphertext read: their plaintext is appended to in. Returns
 * 0, or -1 when the connection must close (a failure, logged; or the
 * client's close_notify). Anything for the client (handshake messages, an
 * alert) is left for conn_tls_encrypt's buffer. */
int conn_tls_read(struct conn_tls *t, const char *data, size_t n, struct buf *in);
/* Encrypt all of out (consumed once the handshake is done) and return the
 * ciphertext waiting to go to the socket; NULL if the session failed
 * (logged). */
struct buf *conn_tls_encrypt(struct conn_tls *t, struct buf *out);
/* Ciphertext is waiting for a flush. */
bool conn_tls_pending(struct conn_tls *t);

#endif
