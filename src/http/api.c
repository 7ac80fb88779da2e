/* api.c - POST /api/<command> (and GET, for the commands without an
 * argument), POST /api/group/<subcommand>, POST /api/stream/<subcommand>, GET /status, GET /cluster: each
 * the RESP command of that name, run by call.c, its reply in JSON. */
#include <string.h>
#include <strings.h>

#include "http/http_internal.h"
#include "http/reply.h"

/* The data commands; the connection-level ones (AUTH, HELLO, QUIT,
 * SUBSCRIBE) have HTTP's own forms, and the operators' (CLUSTER changes,
 * CONFIG, SNAPSHOT) stay on RESP and eventflowctl. */
static const char *const api_commands[] = {
    "PING",  "CHECKSUM", "EVENTCOUNT", "EVENTCOUNTEST", "STREAMCOUNT", "STREAMCOUNTEST", "ADD",
    "GET",   "GETALL",   "SIZE",       "UPTIME",        "VERSION",     "LISTSTREAMS",    "STATUS",
};

static const char *api_lookup(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof api_commands / sizeof api_commands[0]; i++) {
        if (strlen(api_commands[i]) == len && strncasecmp(api_commands[i], name, len) == 0)
            return api_commands[i];
    }
    return NULL;
}

/* The request body as the command's argument: none when empty. */
static size_t api_body_arg(struct http_request *rq, struct resp_arg *arg)
{
    h2o_iovec_t body = rq->req->entity;
    if (body.base == NULL || body.len == 0)
        return 0;
    arg->ptr = body.base;
    arg->len = body.len;
    return 1;
}

void api_command(struct http_request *rq, const struct route *r, const char *const *params, const size_t *lens)
{
    const char *name = api_lookup(params[0], lens[0]);
    if (name == NULL) {
        respond_error(rq, 404, "unknown_command", "unknown command: see docs/http.md for the commands served");
        return;
    }
    struct resp_arg argv[2] = {{name, strlen(name)}};
    size_t argc = 1 + api_body_arg(rq, &argv[1]);
    call_run(rq, argc, argv, NULL);
}

/* <command> <subcommand from the path> <body>. */
static void api_subcommand(struct http_request *rq, const char *command, const char *const *params,
                           const size_t *lens)
{
    struct resp_arg argv[3] = {{command, strlen(command)}, {params[0], lens[0]}};
    size_t argc = 2 + api_body_arg(rq, &argv[2]);
    call_run(rq, argc, argv, NULL);
}

void api_group(struct http_request *rq, const struct route *r, const char *const *params, const size_t *lens)
{
    api_subcommand(rq, "GROUP", params, lens);
}

void api_stream(struct http_request *rq, const struct route *r, const char *const *params, const size_t *lens)
{
    api_subcommand(rq, "STREAM", params, lens);
}

/* The reply's value itself, without the {"result": ...} around it. */
static void api_finish_bare(struct http_request *rq, const char *resp, size_t len)
{
    static const char prefix[] = "{\"result\":";
    struct buf body;
    buf_init(&body);
    int status = reply_to_json(resp, len, rq->reply_trusted, &body);
    size_t skip = 0;
    if (status == 200 && body.len > sizeof prefix && memcmp(body.data, prefix, sizeof prefix - 1) == 0)
        skip = sizeof prefix - 1;
    respond_json(rq, status, body.data + skip, body.len - skip - (skip > 0 ? 1 : 0));
    buf_free(&body);
}

void api_status(struct http_request *rq, const struct route *r, const char *const *params, const size_t *lens)
{
    const struct resp_arg argv[1] = {{"STATUS", 6}};
    call_run(rq, 1, argv, api_finish_bare);
}

void api_cluster(struct http_request *rq, const struct route *r, const char *const *params, const size_t *lens)
{
    const struct resp_arg argv[2] = {{"CLUSTER", 7}, {"STATUS", 6}};
    call_run(rq, 2, argv, api_finish_bare);
}
