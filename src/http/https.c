/* https.c - HTTPS on the HTTP listener (--http-tls with --tls-port): the
 * context, made by server/tls.c from the TLS port's files, and each
 * connection's handshake, after which h2o speaks HTTP/2 or HTTP/1.1 as
 * ALPN chose.
 *
 * Not h2o_accept with an ssl_ctx: it closes a connection whose handshake
 * failed without a word, and failures are to be logged (at most once a
 * second, tls_server_note_failure). So the handshake is run here, under
 * h2o's own handshake timeout, and the connection is then handed to h2o's
 * HTTP/2 or HTTP/1.1 accept, which is all h2o_accept does after it. */
#include <netdb.h>
#include <openssl/err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/mem.h"
#include "http/http.h"
#include "http/http_internal.h"
#include "server/config.h"
#include "server/tls.h"
/* After h2o.h (http_internal.h), which they need and do not include. */
#include <h2o/http1.h>
#include <h2o/http2.h>

/* Offered by ALPN, HTTP/2 first: what h2o serves. */
#define HTTPS_ALPN "\x02h2\x08http/1.1"

/* One connection until its handshake ends: owned by the socket's data
 * meanwhile, freed when the handshake completes, fails or runs out of
 * time. */
struct https_handshake {
    struct http *http;
    h2o_socket_t *sock;
    h2o_timeout_entry_t deadline;
    struct timeval connected_at;
};

int https_open(struct http *h)
{
    const struct config *cfg = h->cfg;
    if (cfg->tls_port == 0 || !cfg->http_tls)
        return 0;
    struct tls_options o = {
        .cert = cfg->tls_cert,
        .key = cfg->tls_key,
        .ca = cfg->tls_ca,
        .client_auth = (enum tls_client_auth)cfg->tls_client_auth,
        .alpn = HTTPS_ALPN,
    };
    char err[512];
    h->tls = tls_server_new(&o, err, sizeof err);
    if (h->tls == NULL) {
        log_error("HTTPS: %s", err);
        return -1;
    }
    /* h2o_context_init arms its handshake timeout with this. */
    h->globalconf.handshake_timeout = cfg->tls_handshake_timeout_ms;
    return 0;
}

/* Log (rate-limited) and count a failed handshake of sock. */
static void https_failure(struct http *h, h2o_socket_t *sock, const char *why)
{
    struct sockaddr_storage ss = {0}; /* AF_UNSPEC if getpeername fails */
    char host[NI_MAXHOST] = "?";
    char peer[NI_MAXHOST + 16];
    socklen_t len = h2o_socket_getpeername(sock, (struct sockaddr *)&ss);
    int32_t port = -1;
    if (len != 0 && h2o_socket_getnumerichost((struct sockaddr *)&ss, len, host) != SIZE_MAX)
        port = h2o_socket_getport((struct sockaddr *)&ss);
    snprintf(peer, sizeof peer, ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, (int)port);
    char text[512];
    snprintf(text, sizeof text, "HTTPS %s", why);
    tls_server_note_failure(h->tls, uv_now(h->loop), peer, text);
}

static void https_handshake_done(h2o_socket_t *sock, const char *err)
{
    struct https_handshake *hs = sock->data;
    struct http *h = hs->http;
    struct timeval connected_at = hs->connected_at;
    sock->data = NULL;
    h2o_timeout_unlink(&hs->deadline);
    free(hs);
    if (err != NULL) {
        /* At shutdown every connection's reading is shut down (http_close):
         * that is no client's failure. */
        if (h->closing) {
            h2o_socket_close(sock);
            return;
        }
        /* h2o says only that it failed; OpenSSL's queue says why, when
         * OpenSSL was the one to fail. */
        char why[512];
        if (ERR_peek_last_error() != 0)
            tls_error_text(err, why, sizeof why);
        else
            snprintf(why, sizeof why, "%s", err);
        https_failure(h, sock, why);
        h2o_socket_close(sock);
        return;
    }
    h2o_iovec_t proto = h2o_socket_ssl_get_selected_protocol(sock);
    for (const h2o_iovec_t *id = h2o_http2_alpn_protocols; id->len != 0; id++) {
        if (h2o_memis(proto.base, proto.len, id->base, id->len)) {
            h2o_http2_accept(&h->accept_ctx, sock, connected_at);
            return;
        }
    }
    h2o_http1_accept(&h->accept_ctx, sock, connected_at);
}

static void https_deadline(h2o_timeout_entry_t *entry)
{
    struct https_handshake *hs = H2O_STRUCT_FROM_MEMBER(struct https_handshake, deadline, entry);
    h2o_socket_t *sock = hs->sock;
    https_failure(hs->http, sock, "handshake not done within --tls-handshake-timeout");
    sock->data = NULL;
    free(hs);
    /* Mid-handshake there is no session to shut down: the socket is
     * disposed of, and the handshake's callback never runs. */
    h2o_socket_close(sock);
}

void https_accept(struct http *h, h2o_socket_t *sock)
{
    struct https_handshake *hs = xcalloc(1, sizeof *hs);
    hs->http = h;
    hs->sock = sock;
    hs->connected_at = *h2o_get_timestamp(&h->ctx, NULL, NULL);
    hs->deadline.cb = https_deadline;
    h2o_timeout_link(h->loop, &h->ctx.handshake_timeout, &hs->deadline);
    sock->data = hs;
    /* The context as it is now: a reload later leaves this connection's
     * session on the one it started with. */
    h2o_socket_ssl_handshake(sock, tls_server_ctx(h->tls), NULL, https_handshake_done);
}

void http_tls_reload(struct http *h)
{
    if (h == NULL || h->tls == NULL)
        return;
    char err[512];
    if (tls_server_reload(h->tls, err, sizeof err) != 0) {
        log_error("SIGHUP: HTTPS files not reloaded, still serving the previous ones: %s", err);
        return;
    }
    log_info("SIGHUP: HTTPS certificate, key and CA reloaded for new connections");
}

void https_free(struct http *h)
{
    tls_server_free(h->tls);
    h->tls = NULL;
}
