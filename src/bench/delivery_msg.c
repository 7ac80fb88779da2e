/* delivery_msg.c - the socket-free parts of `eventflow-bench delivery`
 * (see delivery.h): what the writer sends, what a subscriber receives.
 *
 * A subscriber must read faster than the server delivers, or the benchmark
 * measures the subscriber: a pushed message is scanned in place, once,
 * with no allocation and no JSON parser. The event JSON eventflowd pushes
 * has its fields in a fixed order (id, stream, version, type, data, ...),
 * so the stamp is found by looking for "data":" near its start. */
#include "bench/delivery.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"

/* The letters that pad the data, scripts/bench-profiles/event-store-200.sh's
 * PAD200 (redis_delivery.c pads its entries with the same). */
static const char pad200[] = "eszycidpyopumzgdpamntyyawoixzhsdkaaauramvgnxaqhyoprhlhvhyojanrudfuxjdxkxwqnqvgjjspqm"
                             "sbphxzmnvflrwyvxlcovqdyfqmlpxapbjwtssmuffqhaygrrhmqlsloivrtxamzxqzeqyrgnbplsrgqnplnla";

void dl_add_template_init(struct dl_add_template *t, const char *stream)
{
    char data[DL_DATA_LEN + 1];
    char json[512];

    _Static_assert(sizeof(pad200) - 1 >= DL_DATA_LEN - DL_STAMP_LEN, "pad too short");
    memcpy(data, "0000000000:0000000000000000000:", DL_STAMP_LEN);
    memcpy(data + DL_STAMP_LEN, pad200, DL_DATA_LEN - DL_STAMP_LEN);
    data[DL_DATA_LEN] = '\0';
    int jl = snprintf(json, sizeof json,
                      "{\"stream\":\"%s\",\"version\":\"any\",\"events\":[{\"type\":\"BenchEvent\",\"data\":\"%s\"}]}",
                      stream, data);
    if (jl < 0 || (size_t)jl >= sizeof json)
        jl = snprintf(json, sizeof json, "{}"); /* a stream name too long: the server refuses it */
    t->req = xmalloc((size_t)jl + 64);
    int n = snprintf(t->req, (size_t)jl + 64, "*2\r\n$3\r\nADD\r\n$%d\r\n%s\r\n", jl, json);
    t->len = (size_t)n;
    char *d = strstr(t->req, "\"data\":\"");
    t->stamp_off = d != NULL ? (size_t)(d - t->req) + 8 : 0;
}

void dl_add_template_free(struct dl_add_template *t)
{
    free(t->req);
    t->req = NULL;
}

void dl_add_stamp(const struct dl_add_template *t, char *out, uint64_t seq, uint64_t ts_ns)
{
    memcpy(out, t->req, t->len);
    char *d = out + t->stamp_off;
    for (int i = DL_SEQ_DIGITS - 1; i >= 0; i--, seq /= 10)
        d[i] = (char)('0' + seq % 10);
    for (int i = DL_SEQ_DIGITS + DL_TS_DIGITS; i > DL_SEQ_DIGITS; i--, ts_ns /= 10)
        d[i] = (char)('0' + ts_ns % 10);
}

/* ---- the subscriber's scanner ---------------------------------------------- */

int dl_scan_int_line(const char *p, size_t n, size_t *i, long long *out)
{
    size_t j = *i;
    bool neg = false;
    long long v = 0;
    if (j < n && p[j] == '-') {
        neg = true;
        j++;
    }
    size_t digits = 0;
    while (j < n && p[j] >= '0' && p[j] <= '9') {
        if (++digits > 18)
            return -1;
        v = v * 10 + (p[j] - '0');
        j++;
    }
    if (j + 1 >= n)
        return 0;
    if (digits == 0 || p[j] != '\r' || p[j + 1] != '\n')
        return -1;
    *i = j + 2;
    *out = neg ? -v : v;
    return 1;
}

long dl_scan_error(const char *p, size_t n, const char **text, size_t *len)
{
    const char *eol = memchr(p, '\n', n);
    if (eol == NULL)
        return 0;
    *text = p + 1;
    *len = (size_t)(eol - p) - (eol > p + 1 && eol[-1] == '\r' ? 2 : 1);
    return (long)(eol - p) + 1;
}

long dl_frame_scan(const char *p, size_t n, struct dl_frame *f)
{
    size_t i = 1;
    long long count;
    int rc;

    if (n == 0)
        return 0;
    if (p[0] == '-') {
        f->kind = DL_F_ERROR;
        return dl_scan_error(p, n, &f->payload, &f->payload_len);
    }
    if (p[0] != '*' && p[0] != '>')
        return -1;
    if ((rc = dl_scan_int_line(p, n, &i, &count)) <= 0)
        return rc;
    if (count < 1 || count > 3)
        return -1;
    const char *el[3] = {NULL, NULL, NULL};
    size_t len[3] = {0, 0, 0};
    for (long long e = 0; e < count; e++) {
        if (i >= n)
            return 0;
        char t = p[i++];
        long long v;
        if (t == '_') { /* RESP3 null */
            if (i + 1 >= n)
                return 0;
            if (p[i] != '\r' || p[i + 1] != '\n')
                return -1;
            i += 2;
            continue;
        }
        if (t != '$' && t != ':')
            return -1;
        if ((rc = dl_scan_int_line(p, n, &i, &v)) <= 0)
            return rc;
        if (t == ':' || v < 0)
            continue; /* an integer, or a null bulk */
        if ((size_t)v + 2 > n - i)
            return 0;
        if (p[i + (size_t)v] != '\r' || p[i + (size_t)v + 1] != '\n')
            return -1;
        el[e] = p + i;
        len[e] = (size_t)v;
        i += (size_t)v + 2;
    }
    f->kind = DL_F_OTHER;
    f->payload = NULL;
    f->payload_len = 0;
    if (count == 3 && len[0] == 7 && memcmp(el[0], "message", 7) == 0 && el[2] != NULL) {
        f->kind = DL_F_MESSAGE;
        f->payload = el[2];
        f->payload_len = len[2];
    } else if (count == 3 && len[0] == 9 && memcmp(el[0], "subscribe", 9) == 0) {
        f->kind = DL_F_SUBSCRIBE;
    }
    return (long)i;
}

int dl_event_stamp(const char *json, size_t len, uint64_t *seq, uint64_t *ts_ns)
{
    static const char key[] = "\"data\":\"";
    const char *d = memmem(json, len, key, sizeof key - 1);
    if (d == NULL)
        return -1;
    d += sizeof key - 1;
    if ((size_t)(json + len - d) < DL_STAMP_LEN || d[DL_SEQ_DIGITS] != ':' ||
        d[DL_SEQ_DIGITS + 1 + DL_TS_DIGITS] != ':')
        return -1;
    uint64_t s = 0, t = 0;
    for (int i = 0; i < DL_SEQ_DIGITS; i++) {
        if (d[i] < '0' || d[i] > '9')
            return -1;
        s = s * 10 + (uint64_t)(d[i] - '0');
    }
    for (int i = DL_SEQ_DIGITS + 1; i <= DL_SEQ_DIGITS + DL_TS_DIGITS; i++) {
        if (d[i] < '0' || d[i] > '9')
            return -1;
        t = t * 10 + (uint64_t)(d[i] - '0');
    }
    *seq = s;
    *ts_ns = t;
    return 0;
}

/* ---- the subscriber's scanner over HTTP ------------------------------------ */

#define DL_HEAD_MAX (64 * 1024)

long dl_http_head_scan(const char *p, size_t n, int *status, bool *chunked)
{
    const char *end = memmem(p, n, "\r\n\r\n", 4);
    if (end == NULL)
        return n > DL_HEAD_MAX ? -1 : 0;
    size_t len = (size_t)(end - p) + 4;
    /* "HTTP/1.x NNN" */
    if (len < 16 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ')
        return -1;
    int st = 0;
    for (int i = 9; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        st = st * 10 + (p[i] - '0');
    }
    *status = st;
    *chunked = false;
    static const char te[] = "\r\ntransfer-encoding:";
    for (const char *q = p; q + sizeof te - 1 <= end; q++) {
        if (strncasecmp(q, te, sizeof te - 1) != 0)
            continue;
        const char *eol = memchr(q + 2, '\r', (size_t)(end + 2 - (q + 2)));
        /* h2o writes "chunked" in lower case, the only coding it streams with */
        *chunked = eol != NULL && memmem(q, (size_t)(eol - q), "chunked", 7) != NULL;
        break;
    }
    return (long)len;
}

/* A size line longer than this is not one h2o writes. */
#define DL_CHUNK_LINE_MAX 64

long dl_dechunk(struct dl_dechunk *d, const char *p, size_t n, char *out, size_t *out_len)
{
    size_t i = 0, o = 0;
    while (i < n && !d->ended) {
        if (d->left > 0) { /* the chunk's data */
            size_t k = d->left < n - i ? (size_t)d->left : n - i;
            memcpy(out + o, p + i, k);
            o += k;
            i += k;
            d->left -= k;
            d->crlf = d->left == 0;
            continue;
        }
        if (d->crlf) {
            if (n - i < 2)
                break;
            if (p[i] != '\r' || p[i + 1] != '\n')
                return -1;
            i += 2;
            d->crlf = false;
            continue;
        }
        /* A size line: hex digits, perhaps ";extension", CRLF. */
        const char *eol = memchr(p + i, '\n', n - i);
        if (eol == NULL) {
            if (n - i > DL_CHUNK_LINE_MAX)
                return -1;
            break;
        }
        uint64_t size = 0;
        size_t j = i, digits = 0;
        for (; p + j < eol; j++, digits++) {
            char c = p[j];
            int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (v < 0)
                break;
            if (digits >= 15)
                return -1;
            size = size * 16 + (uint64_t)v;
        }
        if (digits == 0 || (p[j] != ';' && p[j] != '\r') || eol[-1] != '\r')
            return -1;
        i = (size_t)(eol - p) + 1;
        if (size == 0)
            d->ended = true; /* trailers, if any, are not read */
        d->left = size;
    }
    *out_len = o;
    return (long)i;
}

long dl_sse_scan(const char *p, size_t n, struct dl_frame *f)
{
    static const char data[] = "data:", event[] = "event:", subscribed[] = ": subscribed";
    const char *payload = NULL, *end = p + n;
    size_t payload_len = 0;
    bool typed = false, confirmation = false;
    for (const char *line = p;;) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (eol == NULL)
            return 0;
        size_t len = (size_t)(eol - line);
        if (len == 0) {
            f->kind = confirmation ? DL_F_SUBSCRIBE : payload != NULL && !typed ? DL_F_MESSAGE : DL_F_OTHER;
            f->payload = payload;
            f->payload_len = payload_len;
            return (long)(eol + 1 - p);
        }
        if (len == sizeof subscribed - 1 && memcmp(line, subscribed, len) == 0) {
            confirmation = true;
        } else if (payload == NULL && len >= sizeof data - 1 && memcmp(line, data, sizeof data - 1) == 0) {
            payload = line + sizeof data - 1;
            if (payload < eol && *payload == ' ') /* one space after the colon is not the value's */
                payload++;
            payload_len = (size_t)(eol - payload);
        } else if (len >= sizeof event - 1 && memcmp(line, event, sizeof event - 1) == 0) {
            typed = true;
        }
        line = eol + 1;
    }
}

/* ---- signed latencies ----------------------------------------------------- */

void dl_signed_hist_init(struct dl_signed_hist *h)
{
    bench_hist_init(&h->neg);
    bench_hist_init(&h->pos);
    h->min = INT64_MAX;
    h->max = INT64_MIN;
}

void dl_signed_hist_record(struct dl_signed_hist *h, int64_t ns)
{
    if (ns < h->min)
        h->min = ns;
    if (ns > h->max)
        h->max = ns;
    if (ns < 0)
        bench_hist_record(&h->neg, (uint64_t)-ns);
    else
        bench_hist_record(&h->pos, (uint64_t)ns);
}

uint64_t dl_signed_hist_count(const struct dl_signed_hist *h)
{
    return h->neg.count + h->pos.count;
}

double dl_signed_hist_quantile(const struct dl_signed_hist *h, double q)
{
    uint64_t total = dl_signed_hist_count(h);
    if (total == 0)
        return 0;
    uint64_t k = (uint64_t)(q * (double)total); /* 0-based rank */
    if (k >= total)
        k = total - 1;
    if (k < h->neg.count) /* the (k+1)-th most negative: rank neg.count - k by magnitude */
        return -(double)bench_hist_at_rank(&h->neg, h->neg.count - k);
    return (double)bench_hist_at_rank(&h->pos, k - h->neg.count + 1);
}
