/* auth.h - the Authorization header against the RESP password: "Bearer
 * <password>", or "Basic" with any user name and the password. Pure. */
#ifndef EVENTFLOW_HTTP_AUTH_H
#define EVENTFLOW_HTTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>

/* Whether the header value h[0..len) carries password (NUL-terminated,
 * non-empty). The comparison takes the same time wherever the candidate
 * differs, as AUTH's does. */
bool auth_check(const char *h, size_t len, const char *password);

/* Whether the query string q[0..len) carries password as access_token
 * (RFC 6750, 2.3). Only for the routes a browser's EventSource asks,
 * which can send no Authorization header (routes.h, ROUTE_QUERY_TOKEN). */
bool auth_check_query(const char *q, size_t len, const char *password);

#endif
