/* auth.c - Authorization headers (see auth.h). */
#include "http/auth.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/text.h"
#include "http/query.h"

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Standard base64 with padding into out (room for len bytes); -1 if
 * malformed. */
static long b64_decode(const char *in, size_t len, char *out)
{
    while (len > 0 && in[len - 1] == '=')
        len--;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6 | (unsigned)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)(acc >> bits & 0xff);
        }
    }
    return (long)o;
}

/* The scheme word, case-insensitive, then spaces: the credentials'
 * offset, or 0 when h has another scheme. */
static size_t auth_scheme(const char *h, size_t len, const char *scheme)
{
    size_t n = strlen(scheme);
    if (len <= n || strncasecmp(h, scheme, n) != 0 || h[n] != ' ')
        return 0;
    while (n < len && h[n] == ' ')
        n++;
    return n;
}

bool auth_parse(const char *h, size_t len, char *scratch, struct auth_creds *out)
{
    size_t at = auth_scheme(h, len, "Bearer");
    if (at > 0) {
        *out = (struct auth_creds){.user = NULL, .password = h + at, .password_len = len - at};
        return len > at;
    }
    at = auth_scheme(h, len, "Basic");
    if (at == 0 || len - at > AUTH_HEADER_MAX)
        return false;
    long n = b64_decode(h + at, len - at, scratch);
    const char *colon = n > 0 ? memchr(scratch, ':', (size_t)n) : NULL;
    if (colon == NULL)
        return false;
    *out = (struct auth_creds){
        .user = scratch,
        .user_len = (size_t)(colon - scratch),
        .password = colon + 1,
        .password_len = (size_t)(scratch + n - (colon + 1)),
    };
    return true;
}

bool auth_check_query(const char *q, size_t len, const char *password)
{
    if (q == NULL)
        return false;
    /* Decoding never grows: the query's length is room enough. */
    char *token = malloc(len + 1);
    if (token == NULL)
        return false;
    long n = query_get(q, len, "access_token", token, len + 1);
    bool ok = n >= 0 && text_secret_equal(password, token, (size_t)n);
    free(token);
    return ok;
}
