/* listener.c - h2o on the node's loop: the listening socket, accepted
 * connections handed to h2o, each request's auth and route, and the
 * orderly end at shutdown (see http.h).
 *
 * h2o creates loop handles of its own in h2o_context_init (an async
 * handle for its thread queue, one timer per timeout). They would keep
 * uv_run from returning after shutdown, so they are unreferenced right
 * away: open HTTP connections keep the loop alive by their sockets, and
 * http_free disposes of the context once the loop has run out. */
#include "http/http.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/mem.h"
#include "http/login.h"
#include "http/http_internal.h"
#include "http/routes.h"
#include "server/config.h"
#include "server/server.h"
#include "version.h"

/* An accepted connection: the uv handle h2o's socket wraps. */
struct http_socket {
    uv_tcp_t tcp;
    struct http *http;
    struct http_socket *prev, *next;
};

struct http_handler {
    h2o_handler_t super;
    struct http *http;
};

/* Logged in (login.h): the route's handler runs. */
static void listener_run(struct http_request *rq)
{
    const struct router_match *m = rq->match;
    m->route->handler(rq, m->route, m->params, m->param_lens);
}

static int listener_on_req(h2o_handler_t *self, h2o_req_t *req)
{
    struct http *h = ((struct http_handler *)self)->http;
    struct http_request *rq = h2o_mem_alloc_pool(&req->pool, sizeof *rq);
    rq->http = h;
    rq->req = req;
    size_t path_len = req->path.len;
    rq->query = NULL;
    rq->query_len = 0;
    rq->user = NULL;
    if (req->query_at != SIZE_MAX) {
        path_len = req->query_at;
        rq->query = req->path.base + req->query_at + 1;
        rq->query_len = req->path.len - req->query_at - 1;
    }
    if (h->closing) {
        respond_error(rq, 503, "SHUTDOWN", "SHUTDOWN the server is shutting down");
        return 0;
    }
    char *scratch = h2o_mem_alloc_pool(&req->pool, path_len + 1);
    struct router_match *m = h2o_mem_alloc_pool(&req->pool, sizeof *m);
    rq->match = m;
    enum router_result rc = router_match(http_routes, http_n_routes, req->method.base, req->method.len,
                                         req->path.base, path_len, scratch, m);
    switch (rc) {
    case ROUTER_FOUND:
        break;
    case ROUTER_BAD_METHOD:
        respond_error(rq, 405, "method_not_allowed", "this path does not take that method (docs/http.md)");
        return 0;
    case ROUTER_BAD_PATH:
        respond_error(rq, 400, "bad_request", "malformed percent-escape in the path");
        return 0;
    case ROUTER_NOT_FOUND:
    default:
        respond_error(rq, 404, "not_found", "no such path (docs/http.md lists them)");
        return 0;
    }
    login_request(rq, listener_run);
    return 0;
}

/* At shutdown, connections whose answers have not left after this long
 * (a client that stopped reading an event stream) are cut. */
#define HTTP_SHUTDOWN_GRACE_MS 2000

static void listener_grace_end(struct http *h)
{
    if (!h->grace_open)
        return;
    h->grace_open = false;
    uv_timer_stop(&h->grace);
    uv_close((uv_handle_t *)&h->grace, NULL);
}

static void listener_socket_closed(uv_handle_t *handle)
{
    struct http_socket *s = (struct http_socket *)handle;
    struct http *h = s->http;
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        h->sockets = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    h->n_sockets--;
    free(s);
    if (h->closing && h->n_sockets == 0)
        listener_grace_end(h);
}

static void listener_on_connection(uv_stream_t *listener, int status)
{
    struct http *h = listener->data;
    if (status < 0) {
        log_warn("http accept: %s", uv_strerror(status));
        return;
    }
    struct http_socket *s = xcalloc(1, sizeof *s);
    s->http = h;
    if (uv_tcp_init(h->loop, &s->tcp) != 0) {
        free(s);
        return;
    }
    s->next = h->sockets;
    if (h->sockets != NULL)
        h->sockets->prev = s;
    h->sockets = s;
    h->n_sockets++;
    if (uv_accept(listener, (uv_stream_t *)&s->tcp) != 0 || h->n_sockets > h->cfg->max_clients) {
        uv_close((uv_handle_t *)&s->tcp, listener_socket_closed);
        return;
    }
    if (uv_tcp_nodelay(&s->tcp, 1) != 0)
        log_debug("http: TCP_NODELAY refused on a connection");
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)&s->tcp, listener_socket_closed);
    if (h->tls != NULL)
        https_accept(h, sock);
    else
        h2o_accept(&h->accept_ctx, sock);
}

static void count_handle(uv_handle_t *handle, void *arg)
{
    (*(size_t *)arg)++;
}

struct unref_after {
    size_t seen;
    size_t skip;
};

static void unref_handle(uv_handle_t *handle, void *arg)
{
    struct unref_after *u = arg;
    if (u->seen++ >= u->skip)
        uv_unref(handle);
}

/* A listener that never listened: libuv still holds its handle until the
 * close completes, and the handle lives in h, so h is freed only then. */
static void listener_unbound_closed(uv_handle_t *handle)
{
    struct http *h = handle->data;
    https_free(h);
    free(h);
}

/* Binds and listens. Returns 0; -1 (h is still the caller's to free); or a
 * libuv error from bind or listen, in which case h belongs to the closing
 * handle, which frees it. */
static int listener_bind(struct http *h)
{
    const struct config *cfg = h->cfg;
    struct sockaddr_storage addr;
    int rv = uv_ip4_addr(cfg->http_bind, (int)cfg->http_port, (struct sockaddr_in *)&addr);
    if (rv != 0)
        rv = uv_ip6_addr(cfg->http_bind, (int)cfg->http_port, (struct sockaddr_in6 *)&addr);
    if (rv != 0) {
        log_error("invalid HTTP bind address %s: expected an IPv4 or IPv6 literal", cfg->http_bind);
        return -1;
    }
    rv = uv_tcp_init(h->loop, &h->listener);
    if (rv != 0) {
        log_error("HTTP listener: %s", uv_strerror(rv));
        return -1;
    }
    h->listener.data = h;
    rv = uv_tcp_bind(&h->listener, (const struct sockaddr *)&addr, 0);
    if (rv == 0)
        rv = uv_listen((uv_stream_t *)&h->listener, 511, listener_on_connection);
    if (rv != 0) {
        uv_close((uv_handle_t *)&h->listener, listener_unbound_closed);
        return rv;
    }
    return 0;
}

int http_open(struct server *srv, const struct config *cfg, uv_loop_t *loop, struct http **out)
{
    *out = NULL;
    if (cfg->http_port == 0)
        return 0;
    struct http *h = xcalloc(1, sizeof *h);
    h->srv = srv;
    h->cfg = cfg;
    h->loop = loop;
    h2o_config_init(&h->globalconf);
    if (https_open(h) != 0) {
        h2o_config_dispose(&h->globalconf);
        free(h);
        return -1;
    }
    int rv = listener_bind(h);
    if (rv != 0) {
        h2o_config_dispose(&h->globalconf);
        if (rv == -1) {
            https_free(h);
            free(h);
            return -1;
        }
        if (!cfg->http_port_set) {
            log_warn("no HTTP listener: the default HTTP port %s:%u: %s (set --http-port, 0 for none)",
                     cfg->http_bind, cfg->http_port, uv_strerror(rv));
            return 0;
        }
        log_error("cannot listen for HTTP on %s:%u: %s", cfg->http_bind, cfg->http_port, uv_strerror(rv));
        return -1;
    }
    /* A body is one command's argument: RESP's limit on one. */
    h->globalconf.max_request_entity_size = cfg->max_bulk;
    h->globalconf.server_name = h2o_iovec_init(H2O_STRLIT("eventflow/" EVENTFLOW_VERSION));
    h2o_hostconf_t *host = h2o_config_register_host(&h->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_errors_register(host);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    struct http_handler *handler = (struct http_handler *)h2o_create_handler(path, sizeof *handler);
    handler->http = h;
    handler->super.on_req = listener_on_req;
    size_t before = 0;
    uv_walk(loop, count_handle, &before);
    h2o_context_init(&h->ctx, loop, &h->globalconf);
    struct unref_after u = {.skip = before};
    uv_walk(loop, unref_handle, &u);
    h->accept_ctx.ctx = &h->ctx;
    h->accept_ctx.hosts = h->globalconf.hosts;
    srv->http_address = cfg->http_advertise;
    log_info("listening for %s on %s:%u (advertised as %s)", h->tls != NULL ? "HTTPS" : "HTTP", cfg->http_bind,
             cfg->http_port, cfg->http_advertise);
    h->login = login_new();
    *out = h;
    return 0;
}

/* Shut down both directions of every connection still open: a write in
 * flight fails, and h2o closes the connection. */
static void listener_cut(uv_timer_t *t)
{
    struct http *h = t->data;
    for (struct http_socket *s = h->sockets; s != NULL; s = s->next) {
        uv_os_fd_t fd;
        if (uv_fileno((uv_handle_t *)&s->tcp, &fd) == 0 && shutdown(fd, SHUT_RDWR) != 0)
            log_debug("http: shutting a connection down failed");
    }
    listener_grace_end(h);
}

void http_close(struct http *h)
{
    if (h == NULL || h->closing)
        return;
    h->closing = true;
    h->srv->http_address = NULL;
    uv_close((uv_handle_t *)&h->listener, NULL);
    /* Answers from now on close their connection. Not through
     * h2o_context_request_shutdown: its HTTP/2 part arms a timer to resend
     * GOAWAY, which would still be linked when the loop runs out; an
     * HTTP/2 connection ends on reading EOF as an HTTP/1 one does. */
    h->ctx.shutdown_requested = 1;
    /* An idle connection ends on reading EOF; one with a request in flight
     * reads again, and ends, once its answer is written. */
    for (struct http_socket *s = h->sockets; s != NULL; s = s->next) {
        uv_os_fd_t fd;
        if (uv_fileno((uv_handle_t *)&s->tcp, &fd) == 0 && shutdown(fd, SHUT_RD) != 0)
            log_debug("http: shutting a connection's reading down failed");
    }
    if (h->n_sockets > 0 && uv_timer_init(h->loop, &h->grace) == 0) {
        h->grace.data = h;
        h->grace_open = true;
        uv_timer_start(&h->grace, listener_cut, HTTP_SHUTDOWN_GRACE_MS, 0);
    }
}

void http_free(struct http *h)
{
    if (h == NULL)
        return;
    redirect_free(h);
    h2o_context_dispose(&h->ctx);
    h2o_config_dispose(&h->globalconf);
    https_free(h);
    login_free(h->login);
    free(h);
}
