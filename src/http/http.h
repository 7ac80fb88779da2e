/* http.h - the HTTP listener: a JSON API over the same commands as RESP
 * (docs/http.md), served by h2o on the node's own libuv loop.
 *
 * Lifetime, in main.c's order: http_open after server_init; http_close
 * when shutting down, before server_close (no new requests; open
 * connections end once their answers are written); http_free after the
 * loop has run out, which releases what h2o keeps in its context. Loop
 * thread only. */
#ifndef EVENTFLOW_HTTP_H
#define EVENTFLOW_HTTP_H

#include <uv.h>

struct config;
struct http;
struct server;

/* Listen on cfg->http_bind:cfg->http_port. Returns 0 with *out set (NULL
 * when the port is 0, or when the default port is taken: logged), or -1
 * (logged) when a port given explicitly cannot be had. */
int http_open(struct server *srv, const struct config *cfg, uv_loop_t *loop, struct http **out);
/* Stop accepting and end every connection once its answer is out. NULL:
 * no-op. */
void http_close(struct http *h);
/* SIGHUP: read the HTTPS files again for new connections; open ones keep
 * theirs, and a failure (logged) keeps the previous files. NULL, or plain
 * HTTP: no-op. */
void http_tls_reload(struct http *h);
/* After uv_run returned. NULL: no-op. */
void http_free(struct http *h);

#endif
