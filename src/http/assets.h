/* assets.h - the web console's static files, embedded in the binary.
 *
 * scripts/embed_assets.py turns src/http/console/ into a table at build
 * time (console_assets, a generated source): each file's URL path, its
 * Content-Type, a strong ETag (a hash of its bytes) and the bytes. Nothing
 * is read from disk or fetched from elsewhere when a page is served. The
 * lookups are pure: no h2o, so the unit tests drive them. */
#ifndef EVENTFLOW_HTTP_ASSETS_H
#define EVENTFLOW_HTTP_ASSETS_H

#include <stdbool.h>
#include <stddef.h>

struct asset {
    const char *path;           /* "/console/app.js" */
    const char *content_type;   /* "text/javascript; charset=utf-8" */
    const char *etag;           /* "\"<hex>\"", quotes included */
    const unsigned char *data;  /* len bytes (and a NUL after them) */
    size_t len;
};

extern const struct asset console_assets[];
extern const size_t console_n_assets;

/* The asset served at path[0..len) in table[0..n), or NULL. */
const struct asset *asset_find(const struct asset *table, size_t n, const char *path, size_t len);

/* Whether an If-None-Match value h[0..len) matches etag: "*", or a
 * comma-separated list with etag in it, weak ("W/") or not (RFC 9110:
 * If-None-Match compares weakly). Then the answer is 304. */
bool asset_etag_matches(const char *h, size_t len, const char *etag);

#endif
