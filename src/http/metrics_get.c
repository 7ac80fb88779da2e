/* metrics_get.c - GET /metrics: the Prometheus text exposition
 * (server/metrics_render.c), the same text as the METRICS command, for
 * scrapers that speak HTTP. Rendered on the loop at the request, so the
 * gauges are this node's state now. */
#include "http/http_internal.h"
#include "server/metrics.h"

/* Prometheus's text format, version 0.0.4 (what promtool checks). */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

void metrics_get(struct http_request *rq, const struct route *r, const char *const *params, const size_t *lens)
{
    (void)r;
    (void)params;
    (void)lens;
    struct buf text;
    buf_init(&text);
    /* A -1 still leaves a valid exposition (metrics.h): the families that
     * could be read are worth scraping, and the failure is logged. */
    (void)metrics_render(rq->http->srv, &text);
    h2o_req_t *req = rq->req;
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = text.len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT(METRICS_CONTENT_TYPE));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_send_inline(req, text.data, text.len); /* copies into the request's pool */
    buf_free(&text);
}
