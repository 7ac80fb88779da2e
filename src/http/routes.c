/* routes.c - every URL the HTTP listener answers: one row each (router.h).
 * ROUTE_OPEN marks the routes --http-open-health leaves without auth,
 * ROUTE_PUBLIC those never behind it, ROUTE_QUERY_TOKEN those that also
 * take it in the query (routes.h). A row's handler is a route_handler
 * (http_internal.h); the first row that matches wins. */
#include "http/routes.h"

#include "http/http_internal.h"

const struct route http_routes[] = {
    {"GET", "/health", health_get, ROUTE_OPEN},
    {"GET", "/metrics", metrics_get, ROUTE_OPEN},
    {"GET", "/status", api_status, 0},
    {"GET", "/cluster", api_cluster, 0},
    {"POST", "/api/group/*", api_group, 0},
    {"POST", "/api/stream/*", api_stream, 0},
    {"POST", "/api/*", api_command, 0},
    {"GET", "/api/*", api_command, 0},
    {"GET", "/streams", resources_list, 0},
    {"POST", "/streams/*", resources_append, 0},
    {"GET", "/streams/*", resources_read, 0},
    {"GET", "/streams/*/subscribe", sse_stream, ROUTE_QUERY_TOKEN},
    {"GET", "/all", resources_all, 0},
    {"GET", "/all/subscribe", sse_all, ROUTE_QUERY_TOKEN},
    {"GET", "/", console_index, ROUTE_PUBLIC},
    {"GET", "/console/*", console_file, ROUTE_PUBLIC},
};

const size_t http_n_routes = sizeof http_routes / sizeof http_routes[0];
