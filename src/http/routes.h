/* routes.h - the HTTP listener's route table (routes.c). */
#ifndef EVENTFLOW_HTTP_ROUTES_H
#define EVENTFLOW_HTTP_ROUTES_H

#include <stddef.h>

#include "http/router.h"

/* A route answered without the password under --http-open-health. */
#define ROUTE_OPEN 1u

extern const struct route http_routes[];
extern const size_t http_n_routes;

#endif
