/* acl_rules.c - parsing and matching rule words (acl_rules.h). */
#include "acl/acl_rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

static const char *const right_names[ACL_N_RIGHTS] = {"read:", "write:", "subscribe:"};

void acl_rules_init(struct acl_rules *r)
{
    memset(r, 0, sizeof *r);
}

void acl_rules_free(struct acl_rules *r)
{
    for (int i = 0; i < ACL_N_RIGHTS; i++) {
        for (size_t j = 0; j < r->n_prefixes[i]; j++)
            free(r->prefixes[i][j].p);
        free(r->prefixes[i]);
    }
    acl_rules_init(r);
}

static bool word_is(const char *w, size_t len, const char *name)
{
    return len == strlen(name) && memcmp(w, name, len) == 0;
}

static int fail(char err[ACL_ERR_LEN], const char *w, size_t len, const char *why)
{
    int shown = (int)(len > 64 ? 64 : len);
    snprintf(err, ACL_ERR_LEN, "invalid rule '%.*s': %s", shown, w, why);
    return -1;
}

int acl_rules_add(struct acl_rules *r, const char *w, size_t len, char err[ACL_ERR_LEN])
{
    if (r->n_rules >= ACL_MAX_RULES)
        return fail(err, w, len, "too many rules (at most 64)");
    /* Rules are printed back by ACL LIST, space-separated. */
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)w[i] <= ' ' || (unsigned char)w[i] == 0x7f)
            return fail(err, "", 0, "a rule has no spaces or control characters");
    if (word_is(w, len, "admin")) {
        r->flags |= ACL_ADMIN;
    } else if (word_is(w, len, "all")) {
        r->flags |= ACL_ALL;
    } else {
        int right = 0;
        size_t nlen = 0;
        for (; right < ACL_N_RIGHTS; right++) {
            nlen = strlen(right_names[right]);
            if (len >= nlen && memcmp(w, right_names[right], nlen) == 0)
                break;
        }
        if (right == ACL_N_RIGHTS)
            return fail(err, w, len, "expected admin, all, read:<prefix>, write:<prefix> or subscribe:<prefix>");
        const char *p = w + nlen;
        size_t plen = len - nlen;
        if (plen == 0)
            return fail(err, w, len, "an empty prefix (\"*\" is every stream)");
        if (plen > ACL_MAX_PREFIX)
            return fail(err, w, len, "the prefix is longer than 256 bytes");
        if (plen == 1 && p[0] == '*') {
            r->any[right] = true;
        } else {
            size_t n = r->n_prefixes[right];
            r->prefixes[right] = xrealloc(r->prefixes[right], (n + 1) * sizeof *r->prefixes[right]);
            char *copy = xmalloc(plen + 1);
            memcpy(copy, p, plen);
            copy[plen] = '\0';
            r->prefixes[right][n] = (struct acl_prefix){.p = copy, .len = plen};
            r->n_prefixes[right] = n + 1;
        }
    }
    r->n_rules++;
    return 0;
}

bool acl_rules_allow(const struct acl_rules *r, enum acl_right right, const char *name, size_t len)
{
    if (r->any[right])
        return true;
    const struct acl_prefix *p = r->prefixes[right];
    for (size_t i = 0; i < r->n_prefixes[right]; i++)
        if (p[i].len <= len && memcmp(p[i].p, name, p[i].len) == 0)
            return true;
    return false;
}
