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

#endif
