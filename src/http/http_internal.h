/* http_internal.h - what the files of src/http/ share: the listener's
 * state and one request's. */
#ifndef EVENTFLOW_HTTP_INTERNAL_H
#define EVENTFLOW_HTTP_INTERNAL_H

#include <h2o.h>
#include <stdbool.h>

#include "common/buf.h"
#include "http/router.h"
#include "protocol/resp_parser.h"

struct config;
struct server;
struct http_socket;
struct redirect;
struct tls_server;

struct http {
    struct server *srv;          /* borrowed */
    const struct config *cfg;    /* borrowed */
    uv_loop_t *loop;             /* borrowed */
    h2o_globalconf_t globalconf;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    uv_tcp_t listener;
    struct http_socket *sockets; /* open connections (listener.c) */
    size_t n_sockets;
    uv_timer_t grace;            /* at shutdown: how long answers may take to leave */
    bool closing;
    bool grace_open;             /* grace is initialized and not closed */
    struct redirect *redirect;   /* the leader's HTTP address (redirect.c), owned; NULL until needed */
    struct tls_server *tls;      /* owned (https.c); NULL: plain HTTP */
    struct login *login;         /* owned (login.c) */
};

/* One request being answered: lives in the request's pool. */
struct http_request {
    struct http *http;
    h2o_req_t *req;
    const char *query;           /* after '?', not decoded; NULL: none */
    size_t query_len;
    bool reply_trusted;          /* the command's JSON replies are the server's own (reply.h) */
    struct router_match *match;  /* the route and its parameters, in the pool */
    const char *user;            /* who it runs as (login.h), in the pool; NULL: no --password */
};

/* ---- h2o_errors.c: h2o's own refusals as JSON -------------------------- */

/* Before the host's paths: h2o's answers on its fallback path get a JSON
 * body. */
void h2o_errors_register(h2o_hostconf_t *host);

/* ---- respond.c: answers ------------------------------------------------ */

/* Send status and a JSON body (copied). */
void respond_json(struct http_request *rq, int status, const char *body, size_t len);
/* Send {"error":{"code","message"}}. */
void respond_error(struct http_request *rq, int status, const char *code, const char *message);

/* ---- call.c: a command run through commands_dispatch ------------------ */

/* What becomes of the command's RESP reply; NULL: reply_to_json. */
typedef void call_finish(struct http_request *rq, const char *resp, size_t len);

/* Run the command argv[0..argc) for rq on a connection without a socket;
 * the reply is sent when the command completes (an ADD once committed and
 * applied). The arguments need to live only during the call. */
void call_run(struct http_request *rq, size_t argc, const struct resp_arg *argv, call_finish *finish);

/* ---- redirect.c: writes sent to a follower ---------------------------- */

/* Answer rq, whose command answered moved[0..len) ("MOVED 0 <leader's
 * client address>"), with 307 to the leader's HTTP address, or 421 when it
 * cannot be had. */
void redirect_reply(struct http_request *rq, const char *moved, size_t len);
void redirect_free(struct http *h);

/* ---- https.c: the listener's TLS -------------------------------------- */

/* With --tls-port and --http-tls: make h->tls from the TLS port's files.
 * Before h2o_context_init, whose handshake timeout it sets. Returns 0
 * (h->tls NULL when HTTP stays plain), or -1, logged. */
int https_open(struct http *h);
/* Run sock's TLS handshake, then hand it to h2o. */
void https_accept(struct http *h, h2o_socket_t *sock);
/* After the last connection is gone. */
void https_free(struct http *h);

/* ---- the routes' handlers ---------------------------------------------- */

route_handler api_command, api_group, api_stream, api_status, api_cluster; /* api.c */
route_handler health_get;                                        /* health.c */
route_handler metrics_get;                                       /* metrics_get.c */
route_handler sse_stream, sse_all;                               /* sse.c */
route_handler resources_append, resources_read, resources_all, resources_list; /* resources.c */
route_handler console_index, console_file;                       /* console.c */

/* The value of a request header, or NULL. */
const h2o_iovec_t *request_header(const struct http_request *rq, const char *name);

#endif
