/* auth.h - the Authorization header: "Bearer <password>" (the user
 * "default", as RESP's AUTH <password>), or "Basic" with a user name and
 * its password (login.h decides who that is). Pure. */
#ifndef EVENTFLOW_HTTP_AUTH_H
#define EVENTFLOW_HTTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>

/* Longest Basic credentials taken (base64), far above any real user name
 * and password: a longer header is refused before decoding. */
#define AUTH_HEADER_MAX 4096

/* Credentials as the header spells them. user NULL: a Bearer token, which
 * stands for the default user's password. */
struct auth_creds {
    const char *user;
    size_t user_len;
    const char *password;
    size_t password_len;
};

/* Split the header value h[0..len) into out. Basic credentials are decoded
 * into scratch (room for len bytes, the caller's), which out then points
 * into, as it points into h for a Bearer token. Returns false when the
 * header is neither scheme or is malformed. */
bool auth_parse(const char *h, size_t len, char *scratch, struct auth_creds *out);

/* Whether the query string q[0..len) carries password as access_token
 * (RFC 6750, 2.3). Only for the routes a browser's EventSource asks,
 * which can send no Authorization header (routes.h, ROUTE_QUERY_TOKEN). */
bool auth_check_query(const char *q, size_t len, const char *password);

#endif
