/* query.h - URL decoding of path segments and query parameters. Pure
 * functions, no h2o: the router and the fuzz target use them. */
#ifndef EVENTFLOW_HTTP_QUERY_H
#define EVENTFLOW_HTTP_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Percent-decode in[0..len) into out (room for len bytes: decoding never
 * grows); with plus_is_space, '+' is a space (query strings, not paths).
 * Returns the decoded length, or -1 for a '%' not followed by two hex
 * digits. */
long query_decode(const char *in, size_t len, bool plus_is_space, char *out);

/* The first parameter `name` of the query string q[0..len) (without the
 * '?'), decoded into out (outcap bytes). Returns its decoded length, -1 if
 * absent, -2 if malformed or longer than outcap. */
long query_get(const char *q, size_t len, const char *name, char *out, size_t outcap);

/* query_get for a number: 1 and *v set if present, 0 if absent, -1 if not a
 * decimal number up to UINT64_MAX. */
int query_get_u64(const char *q, size_t len, const char *name, uint64_t *v);

#endif
