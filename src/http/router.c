/* router.c - matching a path against a route table (see router.h). */
#include "http/router.h"

#include <stdbool.h>
#include <string.h>

#include "http/query.h"

/* Whether path matches pattern, segment by segment; the "*" segments are
 * decoded into scratch. -1: a "*" segment that is not valid escaping. */
static int route_try(const char *pattern, const char *path, size_t len, char *scratch, struct router_match *m)
{
    size_t pi = 0, ti = 0, used = 0;
    size_t plen = strlen(pattern);
    m->n_params = 0;
    while (pi < plen && ti < len) {
        if (pattern[pi] != '/' || path[ti] != '/')
            return 0;
        pi++, ti++;
        const char *pseg_end = memchr(pattern + pi, '/', plen - pi);
        size_t pseg = pseg_end != NULL ? (size_t)(pseg_end - pattern) - pi : plen - pi;
        const char *tseg_end = memchr(path + ti, '/', len - ti);
        size_t tseg = tseg_end != NULL ? (size_t)(tseg_end - path) - ti : len - ti;
        if (pseg == 1 && pattern[pi] == '*') {
            if (tseg == 0 || m->n_params == ROUTER_MAX_PARAMS)
                return 0;
            long n = query_decode(path + ti, tseg, false, scratch + used);
            if (n < 0)
                return -1;
            m->params[m->n_params] = scratch + used;
            m->param_lens[m->n_params++] = (size_t)n;
            used += (size_t)n;
        } else if (pseg != tseg || memcmp(pattern + pi, path + ti, pseg) != 0) {
            return 0;
        }
        pi += pseg, ti += tseg;
    }
    return pi == plen && ti == len;
}

enum router_result router_match(const struct route *table, size_t n, const char *method, size_t method_len,
                                const char *path, size_t len, char *scratch, struct router_match *m)
{
    bool other_method = false;
    memset(m, 0, sizeof *m);
    for (size_t i = 0; i < n; i++) {
        int rc = route_try(table[i].pattern, path, len, scratch, m);
        if (rc < 0)
            return ROUTER_BAD_PATH;
        if (rc == 0)
            continue;
        if (strlen(table[i].method) == method_len && memcmp(table[i].method, method, method_len) == 0) {
            m->route = &table[i];
            return ROUTER_FOUND;
        }
        other_method = true;
    }
    memset(m, 0, sizeof *m);
    return other_method ? ROUTER_BAD_METHOD : ROUTER_NOT_FOUND;
}
