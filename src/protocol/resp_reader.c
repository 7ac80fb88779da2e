/* resp_reader.c - incremental parser of RESP2 replies; see resp_reader.h.
 *
 * Two passes over each reply:
 *   1. scan_reply decides whether the next reply is complete. It checks the
 *      framing and the limits but allocates nothing, and it is resumable: it
 *      remembers how many bytes of the reply are whole elements (`scan`), the
 *      count of elements still due in each open array (`left`), and how far
 *      it already searched for the end of a line. A reply arriving in many
 *      small pieces is therefore scanned once in total, not once per piece.
 *   2. build_value turns the complete reply into a resp_value tree, reading
 *      each byte once more.
 * Only the second pass allocates, and only for bytes that have arrived, so a
 * hostile "*16777216\r\n" or "$536870912\r\n" costs nothing until the data
 * itself is there. */
#include "protocol/resp_reader.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

#define DEFAULT_MAX_BULK ((size_t)512 << 20)
#define DEFAULT_MAX_ELEMS ((size_t)16 << 20)
#define DEFAULT_MAX_DEPTH 8u

/* The longest number line: type byte, "-", 19 digits, CRLF. */
#define NUM_LINE_MAX 23
#define NUM_MAX_DIGITS 19

/* Keep at most this much buffer while no reply is pending. */
#define IDLE_BUF_KEEP ((size_t)64 << 10)

/* One element's header line, as read by read_header. */
struct header {
    char type;        /* '+', '-', ':', '$' or '*' */
    size_t len;       /* bytes of the header line, CRLF included */
    int64_t num;      /* ':' value; '$' and '*' length, -1 for null */
    const char *text; /* '+' and '-': the text, not terminated */
    size_t text_len;
};

void resp_reader_init(struct resp_reader *r, const struct resp_reader_limits *limits)
{
    buf_init(&r->in);
    r->limits.max_bulk = limits && limits->max_bulk ? limits->max_bulk : DEFAULT_MAX_BULK;
    r->limits.max_elems = limits && limits->max_elems ? limits->max_elems : DEFAULT_MAX_ELEMS;
    r->limits.max_depth = limits && limits->max_depth ? limits->max_depth : DEFAULT_MAX_DEPTH;
    r->start = 0;
    r->scan = 0;
    r->line_scan = 0;
    r->depth = 0;
    r->left = xcalloc(r->limits.max_depth, sizeof *r->left);
}

void resp_reader_free(struct resp_reader *r)
{
    buf_free(&r->in);
    free(r->left);
    r->left = NULL;
}

void resp_reader_feed(struct resp_reader *r, const void *p, size_t n)
{
    if (n == 0)
        return;
    /* Drop the replies already returned before growing. Only the bytes after
     * them move, and only once per returned reply, so this stays linear. */
    if (r->start > 0) {
        buf_consume(&r->in, r->start);
        r->start = 0;
    }
    buf_append(&r->in, p, n);
}

/* Parse an optionally negative decimal that fits int64_t. Leading zeros are
 * tolerated: being liberal here costs nothing. */
static bool parse_int64(const char *s, size_t n, int64_t *out)
{
    bool negative = n > 0 && s[0] == '-';
    size_t i = negative ? 1 : 0;
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;

    if (i == n || n - i > NUM_MAX_DIGITS)
        return false;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0'); /* 19 digits cannot overflow uint64_t */
        if (v > limit)
            return false;
    }
    if (!negative)
        *out = (int64_t)v;
    else if (v == (uint64_t)INT64_MAX + 1)
        *out = INT64_MIN; /* its magnitude does not fit int64_t */
    else
        *out = -(int64_t)v;
    return true;
}

/* Read the header line at `s` (`avail` bytes). *line_scan says how many bytes
 * were already searched for its "\n" without finding it, and is updated.
 * Returns 1 with *h filled, 0 when the line is not complete yet, -1 when it
 * is malformed or over a limit. */
static int read_header(const struct resp_reader *r, const char *s, size_t avail, size_t *line_scan,
                       struct header *h)
{
    if (avail == 0)
        return 0;
    h->type = s[0];
    switch (h->type) {
    case '+':
    case '-': {
        size_t from = *line_scan > 1 ? *line_scan : 1;
        const char *nl = from < avail ? memchr(s + from, '\n', avail - from) : NULL;
        if (nl == NULL) {
            *line_scan = avail;
            /* The text is at least this long: a trailing "\r" may be the
             * start of the terminator. */
            size_t at_least = avail - 1 - (s[avail - 1] == '\r');
            if (at_least > r->limits.max_bulk)
                return -1;
            return 0;
        }
        size_t k = (size_t)(nl - s);
        if (k < 2 || s[k - 1] != '\r')
            return -1;
        h->text = s + 1;
        h->text_len = k - 2;
        if (h->text_len > r->limits.max_bulk)
            return -1;
        h->len = k + 1;
        return 1;
    }
    case '_':
        if (avail < 3)
            return memcmp(s, "_\r\n", avail) == 0 ? 0 : -1;
        if (memcmp(s, "_\r\n", 3) != 0)
            return -1;
        h->num = -1;
        h->len = 3;
        return 1;
    case ':':
    case '$':
    case '*':
    case '>':
    case '%': {
        size_t window = avail < NUM_LINE_MAX ? avail : NUM_LINE_MAX;
        const char *nl = memchr(s, '\n', window);
        if (nl == NULL)
            return avail < NUM_LINE_MAX ? 0 : -1;
        size_t k = (size_t)(nl - s);
        if (k < 2 || s[k - 1] != '\r' || !parse_int64(s + 1, k - 2, &h->num))
            return -1;
        h->len = k + 1;
        if (h->type == '$' && h->num != -1 &&
            (h->num < 0 || (uint64_t)h->num > r->limits.max_bulk))
            return -1;
        if (h->type == '*' && h->num != -1 &&
            (h->num < 0 || (uint64_t)h->num > r->limits.max_elems))
            return -1;
        if ((h->type == '>' || h->type == '%') && (h->num < 0 || (uint64_t)h->num > r->limits.max_elems / 2))
            return -1;
        /* A map's pairs are read as twice as many elements. */
        if (h->type == '%')
            h->num *= 2;
        return 1;
    }
    default:
        return -1;
    }
}

/* Bytes the element with header `h` at `s` takes, body included: 1 with
 * *size set, 0 when the body has not all arrived, -1 when it is not followed
 * by CRLF. */
static int element_size(const struct header *h, const char *s, size_t avail, size_t *size)
{
    if (h->type != '$' || h->num < 0) {
        *size = h->len;
        return 1;
    }
    size_t body = (size_t)h->num;
    size_t rest = avail - h->len;
    if (rest < 2 || rest - 2 < body)
        return 0;
    if (s[h->len + body] != '\r' || s[h->len + body + 1] != '\n')
        return -1;
    *size = h->len + body + 2;
    return 1;
}

/* Pass 1: is the reply at r->start complete? 1 with *reply_len, 0, or -1.
 * State only advances over whole elements, so after an error it stays put
 * and every later call reports the same error. */
static int scan_reply(struct resp_reader *r, size_t *reply_len)
{
    const char *base = r->in.data + r->start;
    size_t avail = r->in.len - r->start;

    for (;;) {
        const char *s = base + r->scan;
        size_t rest = avail - r->scan;
        struct header h = {0};
        int rc = read_header(r, s, rest, &r->line_scan, &h);
        if (rc <= 0)
            return rc;
        bool opens_array = (h.type == '*' || h.type == '>' || h.type == '%') && h.num >= 0;
        if (opens_array && r->depth >= r->limits.max_depth)
            return -1;
        size_t size;
        rc = element_size(&h, s, rest, &size);
        if (rc <= 0)
            return rc;
        r->scan += size;
        r->line_scan = 0;

        if (opens_array && h.num > 0) {
            r->left[r->depth++] = (size_t)h.num;
            continue;
        }
        /* A whole element: it may be the last one of its array, which in
         * turn may be the last of its parent's. */
        while (r->depth > 0 && --r->left[r->depth - 1] == 0)
            r->depth--;
        if (r->depth == 0) {
            *reply_len = r->scan;
            return 1;
        }
    }
}

/* Pass 2: build the value at s[*pos], known to be complete and well formed;
 * a failure here would mean the two passes disagree. On failure *out may be
 * partly built: resp_value_free releases it. */
static int build_value(const struct resp_reader *r, const char *s, size_t avail, size_t *pos,
                       struct resp_value *out)
{
    size_t no_memo = 0;
    struct header h = {0};
    if (read_header(r, s + *pos, avail - *pos, &no_memo, &h) != 1)
        return -1;
    size_t size;
    if (element_size(&h, s + *pos, avail - *pos, &size) != 1)
        return -1;

    switch (h.type) {
    case '+':
    case '-':
        out->type = h.type == '+' ? RESP_T_SIMPLE : RESP_T_ERROR;
        out->str = xstrndup(h.text, h.text_len);
        out->len = h.text_len;
        break;
    case ':':
        out->type = RESP_T_INT;
        out->integer = h.num;
        break;
    case '$':
        if (h.num < 0) {
            out->type = RESP_T_NULL;
            break;
        }
        out->type = RESP_T_BULK;
        out->str = xstrndup(s + *pos + h.len, (size_t)h.num);
        out->len = (size_t)h.num;
        break;
    case '_':
        out->type = RESP_T_NULL;
        break;
    case '*':
    case '>':
    case '%':
        if (h.num < 0) {
            out->type = RESP_T_NULL;
            break;
        }
        out->type = h.type == '*' ? RESP_T_ARRAY : h.type == '>' ? RESP_T_PUSH : RESP_T_MAP;
        if (h.num > 0) {
            /* calloc: elements not built yet are safe to free. */
            out->elems = xcalloc((size_t)h.num, sizeof *out->elems);
            out->n = (size_t)h.num;
        }
        *pos += size;
        for (size_t i = 0; i < out->n; i++) {
            if (build_value(r, s, avail, pos, &out->elems[i]) != 0)
                return -1;
        }
        return 0;
    default:
        return -1;
    }
    *pos += size;
    return 0;
}

int resp_reader_next(struct resp_reader *r, struct resp_value *out)
{
    memset(out, 0, sizeof *out);
    if (r->start == r->in.len)
        return 0;

    size_t reply_len;
    int rc = scan_reply(r, &reply_len);
    if (rc <= 0)
        return rc;

    size_t pos = 0;
    if (build_value(r, r->in.data + r->start, reply_len, &pos, out) != 0 || pos != reply_len) {
        resp_value_free(out);
        return -1;
    }
    r->start += reply_len;
    r->scan = 0;
    r->line_scan = 0;
    r->depth = 0;
    if (r->start == r->in.len) {
        buf_reset(&r->in);
        r->start = 0;
        buf_shrink(&r->in, IDLE_BUF_KEEP);
    }
    return 1;
}

void resp_value_free(struct resp_value *v)
{
    for (size_t i = 0; i < v->n; i++)
        resp_value_free(&v->elems[i]);
    free(v->elems);
    free(v->str);
    memset(v, 0, sizeof *v);
}
