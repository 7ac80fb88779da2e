/* respond.c - sending JSON answers through h2o. */
#include <string.h>

#include "http/http_internal.h"
#include "http/reply.h"

static const char *respond_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 421: return "Misdirected Request";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 507: return "Insufficient Storage";
    default: return "Status";
    }
}

void respond_json(struct http_request *rq, int status, const char *body, size_t len)
{
    h2o_req_t *req = rq->req;
    req->res.status = status;
    req->res.reason = respond_reason(status);
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    if (status == 401) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
                       H2O_STRLIT("Bearer realm=\"eventflow\", Basic realm=\"eventflow\""));
    }
    h2o_send_inline(req, body, len);
}

void respond_error(struct http_request *rq, int status, const char *code, const char *message)
{
    struct buf body;
    buf_init(&body);
    reply_error(&body, code, message, strlen(message));
    respond_json(rq, status, body.data, body.len);
    buf_free(&body);
}

const h2o_iovec_t *request_header(const struct http_request *rq, const char *name)
{
    ssize_t i = h2o_find_header_by_str(&rq->req->headers, name, strlen(name), -1);
    return i < 0 ? NULL : &rq->req->headers.entries[i].value;
}
