/* routes.h - the HTTP listener's route table (routes.c). */
#ifndef EVENTFLOW_HTTP_ROUTES_H
#define EVENTFLOW_HTTP_ROUTES_H

#include <stddef.h>

#include "http/router.h"

/* A route answered without the password under --http-open-health. */
#define ROUTE_OPEN 1u
/* A route always answered without the password: the web console's files,
 * which hold no data (the page asks for the password itself). */
#define ROUTE_PUBLIC 2u
/* A route that also takes the password as ?access_token=: the event
 * streams, which a browser's EventSource asks without headers. */
#define ROUTE_QUERY_TOKEN 4u

extern const struct route http_routes[];
extern const size_t http_n_routes;

#endif
