/* groups_msg.c - the socket-free parts of `eventflow-bench groups` (see
 * groups.h): the requests a consumer sends and the scanner of the replies
 * it gets.
 *
 * Fifty consumers share one client thread with the servers on the same
 * cores, so a consumer must cost little per event or the benchmark
 * measures itself: a READ reply is scanned once, in place, with no JSON
 * parser. The event JSON eventflowd returns starts with its id and a READ
 * appends "deliveries" as its last field (docs/protocol.md), so both are
 * found at the ends of each event. */
#include "bench/groups.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bench/delivery.h"

#define ID_HEAD "{\"id\":\""
#define ID_HEAD_LEN (sizeof ID_HEAD - 1)
#define DELIVERIES_KEY "\"deliveries\":"
#define DELIVERIES_KEY_LEN (sizeof DELIVERIES_KEY - 1)

int gr_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > GR_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (name[i] < 0x20 || name[i] > 0x7e || name[i] == '"' || name[i] == '\\')
            return 0;
    }
    return 1;
}

size_t gr_read_request(char *out, size_t cap, const char *group, const char *consumer, unsigned count,
                       unsigned block_ms)
{
    char json[2 * GR_NAME_MAX + 128];
    int jl = snprintf(json, sizeof json, "{\"group\":\"%s\",\"consumer\":\"%s\",\"count\":%u,\"block_ms\":%u}", group,
                      consumer, count, block_ms);
    if (jl < 0 || (size_t)jl >= sizeof json)
        return 0;
    int n = snprintf(out, cap, "*3\r\n$5\r\nGROUP\r\n$4\r\nREAD\r\n$%d\r\n%s\r\n", jl, json);
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

/* {"group":"<g>","ids":["<id>",...]}: the JSON argument's length. */
static size_t ack_json_len(size_t glen, unsigned n)
{
    size_t ids = n ? (size_t)n * (GR_ID_LEN + 2) + (n - 1) : 0;
    return strlen("{\"group\":\"") + glen + strlen("\",\"ids\":[") + ids + strlen("]}");
}

size_t gr_ack_request_size(const char *group, unsigned n)
{
    /* The header "*3\r\n$5\r\nGROUP\r\n$3\r\nACK\r\n$<len>\r\n" is at most
     * 48 bytes; the trailing CRLF 2. */
    return ack_json_len(strlen(group), n) + 48 + 2;
}

size_t gr_ack_request(char *out, const char *group, const char (*ids)[GR_ID_LEN], unsigned n)
{
    size_t glen = strlen(group);
    /* The header is short and its length a number: snprintf is exact. */
    int hl = sprintf(out, "*3\r\n$5\r\nGROUP\r\n$3\r\nACK\r\n$%zu\r\n{\"group\":\"", ack_json_len(glen, n));
    char *p = out + hl;
    memcpy(p, group, glen);
    p += glen;
    memcpy(p, "\",\"ids\":[", 9);
    p += 9;
    for (unsigned i = 0; i < n; i++) {
        if (i > 0)
            *p++ = ',';
        *p++ = '"';
        memcpy(p, ids[i], GR_ID_LEN);
        p += GR_ID_LEN;
        *p++ = '"';
    }
    memcpy(p, "]}\r\n", 4);
    p += 4;
    return (size_t)(p - out);
}

/* One event of a READ reply, e[0..len): its id into id, and whether it had
 * been delivered before. -1 when it is not such an event. */
static int scan_event(const char *e, size_t len, char id[GR_ID_LEN], bool *again)
{
    if (len < ID_HEAD_LEN + GR_ID_LEN + 1 + DELIVERIES_KEY_LEN + 2 || memcmp(e, ID_HEAD, ID_HEAD_LEN) != 0 ||
        e[ID_HEAD_LEN + GR_ID_LEN] != '"' || e[len - 1] != '}')
        return -1;
    size_t j = len - 1;
    unsigned long long d = 0, scale = 1;
    while (j > 0 && e[j - 1] >= '0' && e[j - 1] <= '9' && scale <= 1000000000ull) {
        d += (unsigned long long)(e[j - 1] - '0') * scale;
        scale *= 10;
        j--;
    }
    if (scale == 1 || j < DELIVERIES_KEY_LEN ||
        memcmp(e + j - DELIVERIES_KEY_LEN, DELIVERIES_KEY, DELIVERIES_KEY_LEN) != 0)
        return -1;
    memcpy(id, e + ID_HEAD_LEN, GR_ID_LEN);
    *again = d > 1;
    return 0;
}

long gr_reply_scan(const char *p, size_t n, char (*ids)[GR_ID_LEN], unsigned max_events, struct gr_reply *r)
{
    size_t i = 1;
    long long v;
    int rc;

    if (n == 0)
        return 0;
    memset(r, 0, sizeof *r);
    if (p[0] == '-') {
        r->kind = GR_R_ERROR;
        return dl_scan_error(p, n, &r->text, &r->text_len);
    }
    if (p[0] != '*' && p[0] != ':')
        return -1;
    if ((rc = dl_scan_int_line(p, n, &i, &v)) <= 0)
        return rc;
    if (p[0] == ':') {
        r->kind = GR_R_INTEGER;
        r->integer = v;
        return (long)i;
    }
    if (v > (long long)max_events)
        return -1;
    r->kind = GR_R_EVENTS;
    for (long long e = 0; e < v; e++) {
        long long len;
        bool again;
        if (i >= n)
            return 0;
        if (p[i++] != '$')
            return -1;
        if ((rc = dl_scan_int_line(p, n, &i, &len)) <= 0)
            return rc;
        if (len < 0)
            return -1;
        if ((size_t)len + 2 > n - i)
            return 0;
        if (p[i + (size_t)len] != '\r' || p[i + (size_t)len + 1] != '\n' ||
            scan_event(p + i, (size_t)len, ids[e], &again) != 0)
            return -1;
        r->redelivered += again;
        i += (size_t)len + 2;
    }
    r->events = (unsigned)(v > 0 ? v : 0);
    return (long)i;
}
