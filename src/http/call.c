/* call.c - running a command for an HTTP request through the server's own
 * dispatch (server/commands.h), on a connection without a socket
 * (conn_open_sink): auth is HTTP's, everything else (deferred ADDs, reads
 * at their consistency, errors, -MOVED) is the command's, unchanged.
 *
 * Ownership: the call lives in the request's pool (h2o frees it with the
 * request) and owns the connection until either end is done with the
 * other: the connection's flush hands the reply over once; the request's
 * disposal (answered and written, or the client gone) releases the
 * connection; a connection closed by the server (shutdown) answers 503. */
#include <string.h>
#include <strings.h>

#include "common/mem.h"
#include "http/http_internal.h"
#include "http/reply.h"
#include "server/commands.h"
#include "server/conn.h"

struct http_call {
    struct http_request *rq;  /* NULL once answered */
    struct conn *conn;        /* NULL once released or closed */
    call_finish *finish;
};

static void call_finish_json(struct http_request *rq, const char *resp, size_t len)
{
    static const char moved[] = "-MOVED ";
    if (len > sizeof moved + 2 && memcmp(resp, moved, sizeof moved - 1) == 0 && resp[len - 2] == '\r') {
        redirect_reply(rq, resp + 1, len - 3);
        return;
    }
    struct buf body;
    buf_init(&body);
    int status = reply_to_json(resp, len, rq->reply_trusted, &body);
    respond_json(rq, status, body.data, body.len);
    buf_free(&body);
}

static void call_flush(void *data, struct conn *c, struct buf *out)
{
    struct http_call *call = data;
    struct http_request *rq = call->rq;
    if (rq == NULL) {
        buf_reset(out);
        return;
    }
    call->rq = NULL;
    /* The reply leaves the connection first: answering may dispose of the
     * request, and with it release the connection. */
    struct buf reply = *out;
    buf_init(out);
    call->finish(rq, reply.data, reply.len);
    buf_free(&reply);
}

static void call_closed(void *data, struct conn *c)
{
    struct http_call *call = data;
    call->conn = NULL;
    struct http_request *rq = call->rq;
    if (rq == NULL)
        return;
    call->rq = NULL;
    respond_error(rq, 503, "SHUTDOWN", "SHUTDOWN the server is shutting down");
}

static const struct conn_sink call_sink = {call_flush, call_closed};

static void call_dispose(void *p)
{
    struct http_call *call = p;
    struct conn *c = call->conn;
    call->conn = NULL;
    call->rq = NULL;
    if (c != NULL)
        conn_release(c);
}

void call_run(struct http_request *rq, size_t argc, const struct resp_arg *argv, call_finish *finish)
{
    struct http_call *call = h2o_mem_alloc_shared(&rq->req->pool, sizeof *call, call_dispose);
    call->rq = rq;
    call->finish = finish != NULL ? finish : call_finish_json;
    call->conn = conn_open_sink(rq->http->srv, &call_sink, call, rq->user);
    /* PING echoes its argument; every other command's JSON is rendered by
     * the server. */
    rq->reply_trusted = !(argc > 0 && argv[0].len == 4 && strncasecmp(argv[0].ptr, "PING", 4) == 0);
    struct resp_command cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.argc = argc < RESP_MAX_ARGV ? argc : RESP_MAX_ARGV;
    for (size_t i = 0; i < cmd.argc; i++)
        cmd.argv[i] = argv[i];
    commands_dispatch(call->conn, &cmd);
}
