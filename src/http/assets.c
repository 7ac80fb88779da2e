/* assets.c - finding an embedded file and revalidating it (see assets.h). */
#include "http/assets.h"

#include <string.h>

const struct asset *asset_find(const struct asset *table, size_t n, const char *path, size_t len)
{
    /* A handful of files: a linear scan is all it needs. */
    for (size_t i = 0; i < n; i++) {
        if (strlen(table[i].path) == len && memcmp(table[i].path, path, len) == 0)
            return &table[i];
    }
    return NULL;
}

static bool asset_space(char c)
{
    return c == ' ' || c == '\t';
}

bool asset_etag_matches(const char *h, size_t len, const char *etag)
{
    size_t elen = strlen(etag);
    size_t i = 0;
    while (i < len) {
        while (i < len && (asset_space(h[i]) || h[i] == ','))
            i++;
        size_t start = i;
        /* A tag runs to its closing quote (a quoted tag may hold commas),
         * or to the next comma for "*" and anything malformed. */
        if (i + 2 <= len && h[i] == 'W' && h[i + 1] == '/')
            start = i += 2;
        if (i < len && h[i] == '"') {
            const char *close = memchr(h + i + 1, '"', len - i - 1);
            i = close != NULL ? (size_t)(close - h) + 1 : len;
        } else {
            while (i < len && h[i] != ',' && !asset_space(h[i]))
                i++;
        }
        size_t tlen = i - start;
        if ((tlen == 1 && h[start] == '*') || (tlen == elen && memcmp(h + start, etag, elen) == 0))
            return true;
    }
    return false;
}
