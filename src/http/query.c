/* query.c - URL decoding (see query.h). */
#include "http/query.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"

long query_decode(const char *in, size_t len, bool plus_is_space, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int hi = text_hex_value(in[i + 1]);
            int lo = text_hex_value(in[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out[o++] = ' ';
        } else {
            out[o++] = c;
        }
    }
    return (long)o;
}

long query_get(const char *q, size_t len, const char *name, char *out, size_t outcap)
{
    size_t name_len = strlen(name);
    size_t i = 0;
    while (i < len) {
        const char *amp = memchr(q + i, '&', len - i);
        size_t end = amp != NULL ? (size_t)(amp - q) : len;
        const char *eq = memchr(q + i, '=', end - i);
        size_t key_end = eq != NULL ? (size_t)(eq - q) : end;
        if (key_end - i == name_len && memcmp(q + i, name, name_len) == 0) {
            size_t v = eq != NULL ? key_end + 1 : end;
            if (end - v > outcap)
                return -2;
            long n = query_decode(q + v, end - v, true, out);
            return n < 0 ? -2 : n;
        }
        i = end + 1;
    }
    return -1;
}

int query_get_u64(const char *q, size_t len, const char *name, uint64_t *v)
{
    char text[32];
    long n = query_get(q, len, name, text, sizeof text - 1);
    if (n == -1)
        return 0;
    if (n <= 0)
        return -1;
    text[n] = '\0';
    for (long i = 0; i < n; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
    }
    errno = 0;
    unsigned long long x = strtoull(text, NULL, 10);
    if (errno != 0)
        return -1;
    *v = x;
    return 1;
}
