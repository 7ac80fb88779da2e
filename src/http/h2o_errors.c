/* h2o_errors.c - the answers h2o gives by itself, as JSON like ours.
 *
 * h2o refuses some requests before any handler of ours sees them: a body
 * whose Content-Length is over the limit (413), a request h2o cannot
 * route. It answers those through the host's fallback path, never the
 * path our handler is on, so a filter there sees exactly h2o's own
 * answers: it keeps their status and headers and swaps the plain-text
 * body for {"error":{"code","message"}}, the shape every other refusal of
 * the API has (docs/http.md). A request head that does not parse at all is
 * answered by h2o's HTTP/1 parser with fixed bytes before any request
 * exists; that one stays plain text. */
#include <string.h>

#include "common/buf.h"
#include "http/http_internal.h"
#include "http/reply.h"

struct json_body_ostream {
    h2o_ostream_t super;
    h2o_iovec_t body; /* in the request's pool */
    bool sent;
};

static void json_body_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt,
                           h2o_send_state_t state)
{
    struct json_body_ostream *o = (struct json_body_ostream *)self;
    (void)bufs;
    (void)bufcnt;
    /* h2o's own body is dropped; ours goes out whole with the first send,
     * and every later call only passes the state on. */
    if (!o->sent && state != H2O_SEND_STATE_ERROR) {
        o->sent = true;
        h2o_ostream_send_next(self, req, &o->body, 1, state);
        return;
    }
    h2o_ostream_send_next(self, req, NULL, 0, state);
}

static const char *error_code(int status)
{
    switch (status) {
    case 400: return "bad_request";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 413: return "TOOBIG";
    case 417: return "expectation_failed";
    default: return status >= 500 ? "internal" : "bad_request";
    }
}

static void errors_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    (void)self;
    if (req->res.status >= 400) {
        char message[160];
        snprintf(message, sizeof message, "%s (refused by the HTTP layer before any command ran)",
                 req->res.reason != NULL ? req->res.reason : "refused");
        struct buf json;
        buf_init(&json);
        reply_error(&json, error_code(req->res.status), message, strlen(message));
        struct json_body_ostream *o =
            (struct json_body_ostream *)h2o_add_ostream(req, sizeof *o, slot);
        o->super.do_send = json_body_send;
        o->body = h2o_strdup(&req->pool, json.data, json.len);
        o->sent = false;
        buf_free(&json);
        /* The headers are not out yet: the body's length and type change
         * with it. */
        req->res.content_length = o->body.len;
        ssize_t i = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
        if (i >= 0)
            h2o_delete_header(&req->res.headers, i);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
        slot = &o->super.next;
    }
    h2o_setup_next_ostream(req, slot);
}

void h2o_errors_register(h2o_hostconf_t *host)
{
    h2o_filter_t *f = h2o_create_filter(&host->fallback_path, sizeof *f);
    f->on_setup_ostream = errors_setup_ostream;
}
