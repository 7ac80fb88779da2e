/* console.c - GET / and GET /console/<file>: the web console's embedded
 * files (assets.h), with their ETag for revalidation.
 *
 * The files are public (routes.c, ROUTE_PUBLIC): they hold no data, and
 * the page must load to ask for the password; every request it then makes
 * is authorized as any client's. Cache-Control: no-cache lets a browser
 * keep them but ask each time, so a new build's console is never hidden
 * behind an old copy, and an unchanged one costs a 304. */
#include <string.h>

#include "http/assets.h"
#include "http/http_internal.h"

/* The page may load only its own files and talk only to this node: no
 * inline script, nothing from elsewhere, not framed by another site. */
#define CONSOLE_CSP "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"

static void console_send(struct http_request *rq, const struct asset *a)
{
    h2o_req_t *req = rq->req;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ETAG, NULL, a->etag, strlen(a->etag));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0, NULL,
                          H2O_STRLIT("nosniff"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("content-security-policy"), 0, NULL,
                          H2O_STRLIT(CONSOLE_CSP));
    const h2o_iovec_t *inm = request_header(rq, "if-none-match");
    if (inm != NULL && asset_etag_matches(inm->base, inm->len, a->etag)) {
        req->res.status = 304;
        req->res.reason = "Not Modified";
        h2o_send_inline(req, "", 0);
        return;
    }
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = a->len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, a->content_type,
                   strlen(a->content_type));
    h2o_send_inline(req, (const char *)a->data, a->len);
}

static void console_serve(struct http_request *rq, const char *path, size_t len)
{
    const struct asset *a = asset_find(console_assets, console_n_assets, path, len);
    if (a == NULL) {
        respond_error(rq, 404, "not_found", "no such file in the web console");
        return;
    }
    console_send(rq, a);
}

void console_index(struct http_request *rq, const struct route *r, const char *const *params, const size_t *lens)
{
    console_serve(rq, H2O_STRLIT("/console/index.html"));
}

void console_file(struct http_request *rq, const struct route *r, const char *const *params, const size_t *lens)
{
    /* The decoded segment, so "/console/app%2Ejs" is app.js; a "/" in it
     * can match no file. */
    char path[64] = "/console/";
    size_t at = strlen(path);
    if (lens[0] > sizeof path - at) {
        respond_error(rq, 404, "not_found", "no such file in the web console");
        return;
    }
    memcpy(path + at, params[0], lens[0]);
    console_serve(rq, path, at + lens[0]);
}
