/* router.h - from a method and a path to a route and its parameters.
 *
 * A route table is an array of rows {method, pattern, handler}; a pattern
 * is a path whose segments are literal or "*", one whole segment, handed
 * to the handler percent-decoded (so "%2F" in a stream name is part of the
 * name, not a separator). Adding a route is adding a row. Pure: no h2o,
 * so unit tests and the fuzz target drive it directly. */
#ifndef EVENTFLOW_HTTP_ROUTER_H
#define EVENTFLOW_HTTP_ROUTER_H

#include <stddef.h>

#define ROUTER_MAX_PARAMS 3

struct http_request;
struct route;

typedef void route_handler(struct http_request *rq, const struct route *r, const char *const *params,
                           const size_t *param_lens);

struct route {
    const char *method;        /* "GET", "POST" */
    const char *pattern;       /* "/streams/x/subscribe" with "*" segments */
    route_handler *handler;
    unsigned flags;            /* the table's own meaning (listener.c: open without auth) */
};

enum router_result {
    ROUTER_FOUND = 0,
    ROUTER_NOT_FOUND = 404,    /* no pattern matches the path */
    ROUTER_BAD_METHOD = 405,   /* a pattern matches, with another method */
    ROUTER_BAD_PATH = 400,     /* a malformed escape, or too long */
};

struct router_match {
    const struct route *route;
    size_t n_params;
    const char *params[ROUTER_MAX_PARAMS];  /* into scratch, decoded */
    size_t param_lens[ROUTER_MAX_PARAMS];
};

/* Match path[0..len) (no query string) against the table. scratch must
 * have room for len bytes: the decoded parameters go there. */
enum router_result router_match(const struct route *table, size_t n, const char *method, size_t method_len,
                                const char *path, size_t len, char *scratch, struct router_match *m);

#endif
