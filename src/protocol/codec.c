/* codec.c - JSON command arguments in, stored events and streams out; see
 * codec.h.
 *
 * Decoding runs in the order EventflowDB checks an ADD, so a request with
 * several faults gets the same first error:
 *   1. the JSON itself, unknown and missing fields, and every field's type
 *      (events included), which is what Go's json.Unmarshal reports;
 *   2. the stream name;
 *   3. the number of events;
 *   4. each event's values: type, ids, payload size.
 *
 * Encoding is on the read hot path, so it never goes through jansson: an
 * event takes one buffer reservation, runs of bytes that need no escaping
 * are copied in one go, and numbers and times are formatted by hand. */
#include "protocol/codec.h"
#include "protocol/codec_internal.h"

#include <assert.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "protocol/codec_fast.h"
#include "protocol/json_arena.h"

#define CODEC_NS_PER_SEC INT64_C(1000000000)
#define CODEC_SECS_PER_DAY INT64_C(86400)

/* The all-zero UUID, which EventflowDB refuses as a stream id. */
static const char codec_zero_uuid[] = "00000000-0000-0000-0000-000000000000";

/* Append a string literal without measuring it at run time. */
#define BUF_LIT(b, s) buf_append((b), (s), sizeof(s) - 1)

void codec_limits_default(struct codec_limits *l)
{
    l->max_events = 1000;
    l->max_event_size = 1024 * 1024;
    l->max_stream_len = 256;
    l->max_type_len = 256;
    l->max_read = 10000;
}

/* ---- errors ------------------------------------------------------------ */

/* Format a message into err and return -1. The message goes out as a RESP
 * error line, so any control character (from jansson's "near '...'" text,
 * say) is replaced by a space. */
int codec_fail(char err[CODEC_ERR_LEN], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err, CODEC_ERR_LEN, fmt, ap);
    va_end(ap);
    if (n < 0)
        snprintf(err, CODEC_ERR_LEN, "invalid argument");
    for (char *p = err; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    }
    return -1;
}

/* A client-chosen field name, made safe to quote in a one-line message:
 * printable ASCII as is, anything else as \xNN, long names cut short. */
static void codec_quote_key(const char *key, char out[64])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++) {
        if (o + 4 + 3 + 1 > 64) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (*p >= 0x20 && *p < 0x7f) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
}

/* ---- JSON text output -------------------------------------------------- */

/* An event is written with one buffer reservation and then plain stores:
 * json_string_room() says how much a string may need, json_put_string()
 * writes it. Both skip over bytes that need no escaping eight at a time. */

/* 1 for the ASCII bytes a JSON string may hold as they are: everything from
 * space to DEL except the quote and the backslash. Bytes >= 0x80 are 0 here
 * and go through the UTF-8 check. */
static const uint8_t json_plain[256] = {
    /* 0x00 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x10 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x20 */ 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x22 " */
    /* 0x30 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x40 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x50 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x5c \ */
    /* 0x60 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x70 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

#define JSON_ONES UINT64_C(0x0101010101010101)
#define JSON_HIGH UINT64_C(0x8080808080808080)

/* True if all 8 bytes at p are plain ASCII (json_plain), without looking
 * at them one by one. For a byte x below 0x80, x - n has its high bit set
 * exactly when x < n; so x - 0x20 flags control characters, and
 * (x ^ '"') - 1 and (x ^ '\\') - 1 flag the quote and the backslash. A
 * borrow into the next byte only follows a byte that is already flagged,
 * and bytes from 0x80 up flag themselves, so the yes/no answer is exact. */
static bool json_word_is_plain(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
    uint64_t special = (w - JSON_ONES * 0x20) | ((w ^ (JSON_ONES * '"')) - JSON_ONES) |
                       ((w ^ (JSON_ONES * '\\')) - JSON_ONES) | w;
    return (special & JSON_HIGH) == 0;
}

/* Length of the well-formed UTF-8 sequence at s (s[0] >= 0x80), or 0 if it
 * is not one: no overlong forms, no surrogates, nothing past U+10FFFF. */
static size_t utf8_sequence_len(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* past U+10FFFF */
    } else {
        return 0;
    }
    if (avail < need || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    }
    return need;
}

/* How many bytes from s on can be copied into a JSON string as they are:
 * plain ASCII and well-formed UTF-8. */
static size_t json_plain_prefix(const unsigned char *s, size_t len)
{
    size_t i = 0;
    for (;;) {
        while (len - i >= 8 && json_word_is_plain(s + i))
            i += 8;
        if (i >= len)
            return len;
        if (json_plain[s[i]]) {
            i++;
            continue;
        }
        if (s[i] >= 0x80) {
            size_t n = utf8_sequence_len(s + i, len - i);
            if (n > 0) {
                i += n;
                continue;
            }
        }
        return i;
    }
}

/* The escape for a byte json_plain_prefix stopped at. A byte that is not
 * part of well-formed UTF-8 cannot appear in a JSON text; it is written as
 * \u00XX of its value, i.e. read back as the code point U+00XX. Only stored
 * data from outside the JSON API could hold such bytes (the decoder accepts
 * UTF-8 only); this keeps the output valid JSON without dropping anything. */
static size_t json_escape_len(unsigned char c)
{
    switch (c) {
    case '"':
    case '\\':
    case '\b':
    case '\f':
    case '\n':
    case '\r':
    case '\t':
        return 2;
    default:
        return 6;
    }
}

static char *json_put_escape(char *p, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    char short_form = 0;
    switch (c) {
    case '"':
        short_form = '"';
        break;
    case '\\':
        short_form = '\\';
        break;
    case '\b':
        short_form = 'b';
        break;
    case '\f':
        short_form = 'f';
        break;
    case '\n':
        short_form = 'n';
        break;
    case '\r':
        short_form = 'r';
        break;
    case '\t':
        short_form = 't';
        break;
    default:
        break;
    }
    *p++ = '\\';
    if (short_form != 0) {
        *p++ = short_form;
        return p;
    }
    memcpy(p, "u00", 3);
    p[3] = hex[c >> 4];
    p[4] = hex[c & 15];
    return p + 5;
}

/* Bytes json_put_string writes for the same input, quotes included. */
static size_t json_string_size(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t size = 2;
    size_t i = 0;
    while (i < len) {
        size_t run = json_plain_prefix(s + i, len - i);
        size += run;
        i += run;
        if (i < len)
            size += json_escape_len(s[i++]);
    }
    return size;
}

/* Write bytes as a JSON string at p; returns the end. Well-formed UTF-8
 * passes through untouched, so a string decoded from JSON (NULs included,
 * written back as \u0000) comes out as the same string. */
static char *json_put_string(char *p, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    *p++ = '"';
    size_t i = 0;
    while (i < len) {
        size_t run = json_plain_prefix(s + i, len - i);
        memcpy(p, s + i, run);
        p += run;
        i += run;
        if (i < len)
            p = json_put_escape(p, s[i++]);
    }
    *p++ = '"';
    return p;
}

/* Room to reserve for json_put_string. A short string gets its worst case
 * (every byte a 6-byte escape) without a look; a long one is measured, so
 * a big payload does not reserve six times its size. */
#define JSON_MEASURE_ABOVE 4096

static size_t json_string_room(const char *str, size_t len)
{
    if (len <= JSON_MEASURE_ABOVE)
        return 6 * len + 2;
    return json_string_size(str, len);
}

static void json_write_string(struct buf *b, const char *str, size_t len)
{
    char *start = buf_reserve(b, json_string_room(str, len));
    buf_commit(b, (size_t)(json_put_string(start, str, len) - start));
}

void codec_write_json_string(struct buf *b, const char *s, size_t len)
{
    json_write_string(b, s, len);
}

#define JSON_U64_MAX_LEN 20

static char *json_put_u64(char *p, uint64_t v)
{
    char tmp[JSON_U64_MAX_LEN];
    char *t = tmp + sizeof tmp;
    do {
        *--t = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    size_t n = (size_t)(tmp + sizeof tmp - t);
    memcpy(p, t, n);
    return p + n;
}

static void json_write_i64(struct buf *b, int64_t v)
{
    char *start = buf_reserve(b, JSON_U64_MAX_LEN + 1);
    char *p = start;
    if (v < 0) {
        *p++ = '-';
        p = json_put_u64(p, (uint64_t)0 - (uint64_t)v);
    } else {
        p = json_put_u64(p, (uint64_t)v);
    }
    buf_commit(b, (size_t)(p - start));
}

/* The shortest decimal that reads back as the same double, so 0.1 is stored
 * as 0.1 and not jansson's 17-digit 0.10000000000000001. It always contains
 * a '.' or an exponent, so it reads back as a real, not an integer. */
static void json_write_real(struct buf *b, double d)
{
    char tmp[40];
    int n = 0;
    for (int prec = 1; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof tmp - 2, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    if (n <= 0 || (size_t)n >= sizeof tmp - 2) {
        BUF_LIT(b, "0.0"); /* unreachable: %.17g of a finite double fits */
        return;
    }
    bool is_real = false;
    for (int i = 0; i < n; i++) {
        if (tmp[i] == ',') /* a locale's decimal comma */
            tmp[i] = '.';
        if (tmp[i] == '.' || tmp[i] == 'e')
            is_real = true;
    }
    if (!is_real) {
        memcpy(tmp + n, ".0", 2);
        n += 2;
    }
    buf_append(b, tmp, (size_t)n);
}

/* Compact JSON text of a decoded value. Recursion depth is bounded by
 * jansson's parser, which refuses nesting deeper than 2048. */
static void json_write_value(struct buf *b, json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        buf_append_char(b, '{');
        bool first = true;
        for (void *it = json_object_iter(v); it != NULL; it = json_object_iter_next(v, it)) {
            if (!first)
                buf_append_char(b, ',');
            first = false;
            json_write_string(b, json_object_iter_key(it), json_object_iter_key_len(it));
            buf_append_char(b, ':');
            json_write_value(b, json_object_iter_value(it));
        }
        buf_append_char(b, '}');
        return;
    }
    case JSON_ARRAY: {
        buf_append_char(b, '[');
        size_t n = json_array_size(v);
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                buf_append_char(b, ',');
            json_write_value(b, json_array_get(v, i));
        }
        buf_append_char(b, ']');
        return;
    }
    case JSON_STRING:
        json_write_string(b, json_string_value(v), json_string_length(v));
        return;
    case JSON_INTEGER:
        json_write_i64(b, (int64_t)json_integer_value(v));
        return;
    case JSON_REAL:
        json_write_real(b, json_real_value(v));
        return;
    case JSON_TRUE:
        BUF_LIT(b, "true");
        return;
    case JSON_FALSE:
        BUF_LIT(b, "false");
        return;
    case JSON_NULL:
        BUF_LIT(b, "null");
        return;
    }
}

/* ---- decoding: shared pieces ------------------------------------------ */

/* Parse the whole input as exactly one JSON value, which must be an object.
 * JSON_ALLOW_NUL lets payload strings carry \u0000; the fields that may not
 * (stream, type) are checked one by one. The tree lives in the JSON arena
 * (json_arena.h) until codec_unload: whatever a decoder keeps, it copies
 * out first. */
json_t *codec_load_object(const char *json, size_t len, char err[CODEC_ERR_LEN])
{
    json_error_t je;
    json_arena_begin();
    json_t *root = json_loadb(json != NULL ? json : "", len,
                              JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (root == NULL) {
        json_arena_end();
        codec_fail(err, "invalid JSON: %s (at byte %d)", je.text, je.position);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        json_arena_end();
        codec_fail(err, "invalid argument: expected a JSON object");
        return NULL;
    }
    return root;
}

/* Release what codec_load_object returned, and its arena. */
void codec_unload(json_t *root)
{
    json_decref(root);
    json_arena_end();
}

/* The first key of obj that is not in the NULL-terminated `known` list, or
 * NULL if every key is known. */
static const char *codec_unknown_field(json_t *obj, const char *const *known)
{
    for (void *it = json_object_iter(obj); it != NULL; it = json_object_iter_next(obj, it)) {
        const char *key = json_object_iter_key(it);
        const char *const *k = known;
        while (*k != NULL && strcmp(*k, key) != 0)
            k++;
        if (*k == NULL)
            return key;
    }
    return NULL;
}

/* Refuse any top-level key of obj that is not in `known`. */
int codec_check_fields(json_t *obj, const char *const *known, char err[CODEC_ERR_LEN])
{
    const char *key = codec_unknown_field(obj, known);
    if (key == NULL)
        return 0;
    char quoted[64];
    codec_quote_key(key, quoted);
    return codec_fail(err, "unknown field '%s'", quoted);
}

/* An optional non-negative integer field. Reals ("1.0") are refused like
 * any other type; values above INT64_MAX never get here, jansson's parser
 * refuses them. Returns 0 whether or not it is present (out untouched when
 * absent), -1 on error. */
int codec_get_uint(json_t *obj, const char *name, uint64_t *out, char err[CODEC_ERR_LEN])
{
    json_t *v = json_object_get(obj, name);
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return codec_fail(err, "invalid '%s': expected a non-negative integer", name);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* A page never exceeds max_read: a larger limit is clamped rather than
 * refused, so "give me everything" returns the first page and the client
 * pages on from there. 0 asks for the command's default. */
static uint64_t codec_resolve_limit(uint64_t asked, uint64_t dflt, uint64_t max_read)
{
    uint64_t limit = asked == 0 ? dflt : asked;
    return limit > max_read ? max_read : limit;
}

/* Step 1 for "stream": present and a string. */
static int codec_get_stream(json_t *root, json_t **out, char err[CODEC_ERR_LEN])
{
    json_t *v = json_object_get(root, "stream");
    if (v == NULL)
        return codec_fail(err, "missing field 'stream'");
    if (!json_is_string(v))
        return codec_fail(err, "invalid 'stream': expected a string");
    *out = v;
    return 0;
}

/* Step 2: the stream name's value. The rules live here once; the fast
 * path asks through codec_stream_ok (no message is formatted on success). */
int codec_check_stream_name(const char *s, size_t len, const struct codec_limits *lim, char err[CODEC_ERR_LEN])
{
    if (len == 0)
        return codec_fail(err, "stream cannot be empty");
    if (len > lim->max_stream_len)
        return codec_fail(err, "stream name too long (max %zu bytes)", lim->max_stream_len);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e)
            return codec_fail(err, "stream name must be printable ASCII");
    }
    if (len == sizeof codec_zero_uuid - 1 && memcmp(s, codec_zero_uuid, len) == 0)
        return codec_fail(err, "stream cannot be all zeroes");
    return 0;
}

bool codec_stream_ok(const char *s, size_t len, const struct codec_limits *lim)
{
    char unused[CODEC_ERR_LEN];
    return codec_check_stream_name(s, len, lim, unused) == 0;
}

static int codec_check_stream(json_t *v, const struct codec_limits *lim, char err[CODEC_ERR_LEN])
{
    return codec_check_stream_name(json_string_value(v), json_string_length(v), lim, err);
}

const struct codec_limits *codec_limits_or_default(const struct codec_limits *lim, struct codec_limits *def)
{
    if (lim != NULL)
        return lim;
    codec_limits_default(def);
    return def;
}

/* ---- ADD ----------------------------------------------------------------- */

static const char *const codec_add_fields[] = {"stream", "version", "events", NULL};
static const char *const codec_event_fields[] = {"type",           "data", "metadata", "causation_id",
                                                 "correlation_id", "key",  NULL};

bool codec_key_ok(const char *k, size_t len)
{
    if (len == 0 || len > CODEC_KEY_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)k[i] < 0x21 || (unsigned char)k[i] > 0x7E)
            return false;
    return true;
}

bool codec_event_size_ok(const struct codec_limits *lim, size_t type_len, size_t data_len, size_t metadata_len)
{
    /* Compare piecewise so the sum cannot overflow. */
    size_t max = lim->max_event_size;
    return type_len <= max && data_len <= max - type_len && metadata_len <= max - type_len - data_len;
}

/* Step 1 for one event: its shape and its fields' types. */
static int codec_check_event_types(json_t *ev, size_t index, char err[CODEC_ERR_LEN])
{
    if (!json_is_object(ev))
        return codec_fail(err, "invalid event %zu: expected a JSON object", index);
    const char *unknown = codec_unknown_field(ev, codec_event_fields);
    if (unknown != NULL) {
        char quoted[64];
        codec_quote_key(unknown, quoted);
        return codec_fail(err, "unknown field '%s' in event %zu", quoted, index);
    }
    json_t *type = json_object_get(ev, "type");
    if (type == NULL)
        return codec_fail(err, "missing field 'type' in event %zu", index);
    if (!json_is_string(type))
        return codec_fail(err, "invalid 'type' in event %zu: expected a string", index);
    static const char *const ids[] = {"causation_id", "correlation_id", "key"};
    for (size_t i = 0; i < 3; i++) {
        json_t *id = json_object_get(ev, ids[i]);
        if (id != NULL && !json_is_null(id) && !json_is_string(id))
            return codec_fail(err, "invalid %s in event %zu", ids[i], index);
    }
    return 0;
}

/* An optional ULID field of an event; null means absent. */
static int codec_event_id(json_t *ev, const char *name, size_t index, bool *has,
                          uint8_t id[ULID_BYTES], char err[CODEC_ERR_LEN])
{
    json_t *v = json_object_get(ev, name);
    *has = false;
    if (v == NULL || json_is_null(v))
        return 0;
    if (ulid_parse(json_string_value(v), json_string_length(v), id) != 0)
        return codec_fail(err, "invalid %s in event %zu", name, index);
    *has = true;
    return 0;
}

/* data/metadata as they arrived: a string's own bytes, null for null or
 * absent, and compact JSON text for anything else. */
static void codec_payload_from(json_t *v, struct codec_payload *p)
{
    if (v == NULL || json_is_null(v)) {
        p->kind = EVENTFLOW__PAYLOAD_KIND__PAYLOAD_NULL;
        p->bytes = NULL;
        p->len = 0;
    } else if (json_is_string(v)) {
        p->kind = EVENTFLOW__PAYLOAD_KIND__PAYLOAD_STRING;
        p->len = json_string_length(v);
        p->bytes = xmalloc(p->len + 1);
        memcpy(p->bytes, json_string_value(v), p->len);
        p->bytes[p->len] = '\0';
    } else {
        struct buf text;
        buf_init(&text);
        json_write_value(&text, v);
        buf_append_char(&text, '\0');
        p->kind = EVENTFLOW__PAYLOAD_KIND__PAYLOAD_JSON;
        p->bytes = text.data; /* ownership moves to p */
        p->len = text.len - 1;
    }
}

/* Step 4 for one event: the values, then the copy into out. */
static int codec_decode_event(json_t *ev, size_t index, const struct codec_limits *lim,
                              struct codec_event *out, char err[CODEC_ERR_LEN])
{
    json_t *type = json_object_get(ev, "type");
    const char *type_s = json_string_value(type);
    size_t type_len = json_string_length(type);
    if (type_len == 0)
        return codec_fail(err, "event type cannot be empty");
    if (memchr(type_s, '\0', type_len) != NULL)
        return codec_fail(err, "invalid 'type' in event %zu: contains a NUL byte", index);
    if (type_len > lim->max_type_len)
        return codec_fail(err, "event type too long in event %zu (max %zu bytes)", index,
                          lim->max_type_len);
    if (codec_event_id(ev, "causation_id", index, &out->has_causation_id, out->causation_id,
                       err) != 0)
        return -1;
    if (codec_event_id(ev, "correlation_id", index, &out->has_correlation_id,
                       out->correlation_id, err) != 0)
        return -1;

    json_t *key = json_object_get(ev, "key");
    if (key != NULL && !json_is_null(key)) {
        const char *k = json_string_value(key);
        size_t klen = json_string_length(key);
        if (klen == 0 || klen > CODEC_KEY_MAX)
            return codec_fail(err, "invalid key in event %zu: expected 1..%d bytes", index, CODEC_KEY_MAX);
        if (!codec_key_ok(k, klen))
            return codec_fail(err, "invalid key in event %zu: expected printable ASCII without spaces", index);
        out->key = xstrndup(k, klen);
    }

    codec_payload_from(json_object_get(ev, "data"), &out->data);
    codec_payload_from(json_object_get(ev, "metadata"), &out->metadata);
    if (!codec_event_size_ok(lim, type_len, out->data.len, out->metadata.len))
        return codec_fail(err, "event %zu too large (max %zu bytes)", index, lim->max_event_size);
    out->type = xstrndup(type_s, type_len);
    return 0;
}

/* "version": a non-negative integer, or "any" to skip the check. */
static int codec_add_version(json_t *root, struct codec_add *out, char err[CODEC_ERR_LEN])
{
    json_t *v = json_object_get(root, "version");
    if (v == NULL)
        return codec_fail(err, "missing field 'version'");
    if (json_is_string(v) && json_string_length(v) == 3 &&
        memcmp(json_string_value(v), "any", 3) == 0) {
        out->any_version = true;
        out->expected_version = 0;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return codec_fail(err, "invalid 'version': expected a non-negative integer or \"any\"");
    out->any_version = false;
    out->expected_version = (uint64_t)json_integer_value(v);
    return 0;
}

static int codec_decode_add(json_t *root, const struct codec_limits *lim, struct codec_add *out,
                            char err[CODEC_ERR_LEN])
{
    /* 1. Fields and types, events included. */
    if (codec_check_fields(root, codec_add_fields, err) != 0)
        return -1;
    json_t *stream = NULL;
    if (codec_get_stream(root, &stream, err) != 0)
        return -1;
    if (codec_add_version(root, out, err) != 0)
        return -1;
    json_t *events = json_object_get(root, "events");
    if (events == NULL)
        return codec_fail(err, "missing field 'events'");
    if (!json_is_array(events))
        return codec_fail(err, "invalid 'events': expected an array");
    size_t n = json_array_size(events);
    for (size_t i = 0; i < n; i++) {
        if (codec_check_event_types(json_array_get(events, i), i, err) != 0)
            return -1;
    }

    /* 2. The stream name. */
    if (codec_check_stream(stream, lim, err) != 0)
        return -1;

    /* 3. The batch size. */
    if (n == 0)
        return codec_fail(err, "list of events is empty");
    if (n > lim->max_events)
        return codec_fail(err, "too many events (max %zu)", lim->max_events);
    /* Versions are JSON integers in replies: the last event's must fit in
     * the int64 every JSON library reads. */
    if (!out->any_version && n - 1 > (uint64_t)INT64_MAX - out->expected_version)
        return codec_fail(err, "invalid 'version': the events' versions would exceed %" PRId64, INT64_MAX);

    /* 4. Each event's values. n_events is set first so that a failure part
     * way leaves everything decoded so far to codec_add_free. */
    out->stream_len = json_string_length(stream);
    out->stream = xstrndup(json_string_value(stream), out->stream_len);
    out->events = xcalloc(n, sizeof *out->events);
    out->n_events = n;
    for (size_t i = 0; i < n; i++) {
        if (codec_decode_event(json_array_get(events, i), i, lim, &out->events[i], err) != 0)
            return -1;
    }
    /* 5. Idempotency keys: all or none, and distinct, so a retry is
     * recognised as a whole (the state machine checks again). */
    size_t keyed = 0;
    for (size_t i = 0; i < n; i++) {
        if (out->events[i].key == NULL)
            continue;
        keyed++;
        for (size_t j = 0; j < i; j++)
            if (out->events[j].key != NULL && strcmp(out->events[j].key, out->events[i].key) == 0)
                return codec_fail(err, "duplicate key in events %zu and %zu", j, i);
    }
    if (keyed != 0 && keyed != n)
        return codec_fail(err, "either every event has a key or none does");
    return 0;
}

int codec_parse_add(const char *json, size_t len, const struct codec_limits *lim,
                    struct codec_add *out, char err[CODEC_ERR_LEN])
{
    struct codec_limits def;
    lim = codec_limits_or_default(lim, &def);
    if (codec_fast_parse_add(json, len, lim, out))
        return 0;
    return codec_jansson_parse_add(json, len, lim, out, err);
}

int codec_jansson_parse_add(const char *json, size_t len, const struct codec_limits *lim,
                            struct codec_add *out, char err[CODEC_ERR_LEN])
{
    struct codec_limits def;
    lim = codec_limits_or_default(lim, &def);
    memset(out, 0, sizeof *out);
    json_t *root = codec_load_object(json, len, err);
    if (root == NULL)
        return -1;
    int rc = codec_decode_add(root, lim, out, err);
    codec_unload(root);
    if (rc != 0)
        codec_add_free(out);
    return rc;
}

static void codec_payload_free(struct codec_payload *p)
{
    free(p->bytes);
    p->bytes = NULL;
    p->len = 0;
}

void codec_add_free(struct codec_add *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->n_events; i++) {
        free(a->events[i].type);
        free(a->events[i].key);
        codec_payload_free(&a->events[i].data);
        codec_payload_free(&a->events[i].metadata);
    }
    free(a->events);
    free(a->stream);
    memset(a, 0, sizeof *a);
}

/* ---- GET, GETALL, LISTSTREAMS ---------------------------------------- */

/* Each read's own fields, then the read options every read accepts. */
#define CODEC_READ_OPTS "min_id", "consistency", "stale_ok", "timeout_ms"
static const char *const codec_get_fields[] = {"stream", "version", "limit", CODEC_READ_OPTS, NULL};
static const char *const codec_getall_fields[] = {"offset", "limit", CODEC_READ_OPTS, NULL};
static const char *const codec_liststreams_fields[] = {"skip", "limit", CODEC_READ_OPTS, NULL};

#define CODEC_DEFAULT_TIMEOUT_MS 1000
#define CODEC_MAX_TIMEOUT_MS 60000

/* The read options (see codec.h); absent ones keep their defaults. */
static int codec_read_opts(json_t *root, struct codec_read_opts *o, char err[CODEC_ERR_LEN])
{
    o->timeout_ms = CODEC_DEFAULT_TIMEOUT_MS;
    json_t *v = json_object_get(root, "min_id");
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_string(v) || ulid_parse(json_string_value(v), json_string_length(v), o->min_id) != 0)
            return codec_fail(err, "invalid 'min_id': expected a ULID string");
        o->has_min_id = true;
    }
    v = json_object_get(root, "consistency");
    if (v != NULL && !json_is_null(v)) {
        const char *c = json_string_value(v);
        if (c != NULL && strcmp(c, "linearizable") == 0)
            o->linearizable = true;
        else if (c == NULL || strcmp(c, "local") != 0)
            return codec_fail(err, "invalid 'consistency': expected \"local\" or \"linearizable\"");
    }
    v = json_object_get(root, "stale_ok");
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_boolean(v))
            return codec_fail(err, "invalid 'stale_ok': expected true or false");
        o->stale_ok = json_is_true(v);
    }
    v = json_object_get(root, "timeout_ms");
    if (v != NULL && !json_is_null(v)) {
        uint64_t t = 0;
        if (codec_get_uint(root, "timeout_ms", &t, err) != 0)
            return -1;
        if (t < 1 || t > CODEC_MAX_TIMEOUT_MS)
            return codec_fail(err, "invalid 'timeout_ms': expected 1..%d", CODEC_MAX_TIMEOUT_MS);
        o->timeout_ms = (uint32_t)t;
    }
    return 0;
}

static int codec_decode_get(json_t *root, const struct codec_limits *lim, struct codec_get *out,
                            char err[CODEC_ERR_LEN])
{
    if (codec_check_fields(root, codec_get_fields, err) != 0)
        return -1;
    json_t *stream = NULL;
    if (codec_get_stream(root, &stream, err) != 0)
        return -1;
    uint64_t limit = 0;
    if (codec_get_uint(root, "version", &out->version, err) != 0 ||
        codec_get_uint(root, "limit", &limit, err) != 0)
        return -1;
    if (codec_check_stream(stream, lim, err) != 0 || codec_read_opts(root, &out->opts, err) != 0)
        return -1;
    out->limit = codec_resolve_limit(limit, lim->max_read, lim->max_read);
    out->stream_len = json_string_length(stream);
    out->stream = xstrndup(json_string_value(stream), out->stream_len);
    return 0;
}

int codec_parse_get(const char *json, size_t len, const struct codec_limits *lim,
                    struct codec_get *out, char err[CODEC_ERR_LEN])
{
    struct codec_limits def;
    lim = codec_limits_or_default(lim, &def);
    memset(out, 0, sizeof *out);
    json_t *root = codec_load_object(json, len, err);
    if (root == NULL)
        return -1;
    int rc = codec_decode_get(root, lim, out, err);
    codec_unload(root);
    if (rc != 0)
        codec_get_free(out);
    return rc;
}

void codec_get_free(struct codec_get *g)
{
    if (g == NULL)
        return;
    free(g->stream);
    memset(g, 0, sizeof *g);
}

static int codec_decode_getall(json_t *root, const struct codec_limits *lim,
                               struct codec_getall *out, char err[CODEC_ERR_LEN])
{
    if (codec_check_fields(root, codec_getall_fields, err) != 0)
        return -1;
    /* No offset, null and "" all mean "from the start". */
    json_t *offset = json_object_get(root, "offset");
    if (offset != NULL && !json_is_null(offset)) {
        if (!json_is_string(offset))
            return codec_fail(err, "invalid 'offset': expected a ULID string");
        if (json_string_length(offset) > 0) {
            if (ulid_parse(json_string_value(offset), json_string_length(offset), out->offset) != 0)
                return codec_fail(err, "invalid 'offset': expected a ULID string");
            out->has_offset = true;
        }
    }
    uint64_t limit = 0;
    if (codec_get_uint(root, "limit", &limit, err) != 0 || codec_read_opts(root, &out->opts, err) != 0)
        return -1;
    out->limit = codec_resolve_limit(limit, 10, lim->max_read);
    return 0;
}

int codec_parse_getall(const char *json, size_t len, const struct codec_limits *lim,
                       struct codec_getall *out, char err[CODEC_ERR_LEN])
{
    struct codec_limits def;
    lim = codec_limits_or_default(lim, &def);
    memset(out, 0, sizeof *out);
    json_t *root = codec_load_object(json, len, err);
    if (root == NULL)
        return -1;
    int rc = codec_decode_getall(root, lim, out, err);
    codec_unload(root);
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}

int codec_parse_liststreams(const char *json, size_t len, const struct codec_limits *lim,
                            struct codec_liststreams *out, char err[CODEC_ERR_LEN])
{
    struct codec_limits def;
    lim = codec_limits_or_default(lim, &def);
    memset(out, 0, sizeof *out);
    out->opts.timeout_ms = CODEC_DEFAULT_TIMEOUT_MS;
    uint64_t limit = 0;
    if (json != NULL && len > 0) {
        json_t *root = codec_load_object(json, len, err);
        if (root == NULL)
            return -1;
        int rc = codec_check_fields(root, codec_liststreams_fields, err);
        if (rc == 0)
            rc = codec_get_uint(root, "skip", &out->skip, err);
        if (rc == 0)
            rc = codec_get_uint(root, "limit", &limit, err);
        if (rc == 0)
            rc = codec_read_opts(root, &out->opts, err);
        codec_unload(root);
        if (rc != 0) {
            memset(out, 0, sizeof *out);
            return -1;
        }
    }
    out->limit = codec_resolve_limit(limit, 25, lim->max_read);
    return 0;
}

/* ---- encoding ------------------------------------------------------------ */

/* Write v as exactly `width` decimal digits (v < 10^width). */
static void codec_put_digits(char *p, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* Proleptic Gregorian date of a day count since 1970-01-01. Days are
 * counted from 0000-03-01 so the leap day falls at the end of each year,
 * and years are grouped into 400-year eras of exactly 146097 days. */
static void codec_civil_date(int64_t days, int64_t *year, unsigned *month, unsigned *day)
{
    int64_t z = days + 719468; /* days from 0000-03-01 to 1970-01-01 */
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                     /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);              /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                   /* 0 = March */
    *day = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2 ? 1 : 0);
}

/* Pure arithmetic rather than gmtime_r: glibc's takes a process-wide lock,
 * and this runs once per event on every read. */
void codec_format_time(int64_t ns, char out[40])
{
    int64_t secs = ns / CODEC_NS_PER_SEC;
    int64_t frac = ns % CODEC_NS_PER_SEC;
    if (frac < 0) {
        frac += CODEC_NS_PER_SEC;
        secs--;
    }
    int64_t days = secs / CODEC_SECS_PER_DAY;
    int64_t sod = secs % CODEC_SECS_PER_DAY;
    if (sod < 0) {
        sod += CODEC_SECS_PER_DAY;
        days--;
    }
    int64_t year;
    unsigned month, day;
    codec_civil_date(days, &year, &month, &day);
    /* An int64 of nanoseconds spans the years 1677 to 2262: always four
     * digits, never negative. */
    codec_put_digits(out, (uint64_t)year, 4);
    out[4] = '-';
    codec_put_digits(out + 5, month, 2);
    out[7] = '-';
    codec_put_digits(out + 8, day, 2);
    out[10] = 'T';
    codec_put_digits(out + 11, (uint64_t)(sod / 3600), 2);
    out[13] = ':';
    codec_put_digits(out + 14, (uint64_t)(sod / 60 % 60), 2);
    out[16] = ':';
    codec_put_digits(out + 17, (uint64_t)(sod % 60), 2);
    out[19] = '.';
    codec_put_digits(out + 20, (uint64_t)frac, 9);
    out[29] = 'Z';
    out[30] = '\0';
}

#define CODEC_TIME_LEN 30

/* Copy a string literal to p and advance p. */
#define PUT_LIT(p, s)                                                                        \
    do {                                                                                     \
        memcpy((p), (s), sizeof(s) - 1);                                                     \
        (p) += sizeof(s) - 1;                                                                \
    } while (0)

/* The events of one ADD share their added_at, and the events of a page
 * were mostly added within the same second: each thread remembers the
 * date and time of day it formatted last, and only the nanoseconds are
 * written per event. */
static _Thread_local struct {
    bool valid;
    int64_t secs;  /* whole seconds (floor) that `text` shows */
    char text[40]; /* codec_format_time's output for some instant in `secs` */
} codec_time_cache;

static char *json_put_time(char *p, int64_t ns)
{
    int64_t secs = ns / CODEC_NS_PER_SEC;
    int64_t frac = ns % CODEC_NS_PER_SEC;
    if (frac < 0) {
        frac += CODEC_NS_PER_SEC;
        secs--;
    }
    if (!codec_time_cache.valid || codec_time_cache.secs != secs) {
        codec_format_time(ns, codec_time_cache.text);
        codec_time_cache.secs = secs;
        codec_time_cache.valid = true;
    }
    *p++ = '"';
    memcpy(p, codec_time_cache.text, CODEC_TIME_LEN);
    codec_put_digits(p + 20, (uint64_t)frac, 9); /* after "YYYY-MM-DDTHH:MM:SS." */
    p += CODEC_TIME_LEN;
    *p++ = '"';
    return p;
}

/* Text of `id`, copied from the text of `known` when they are the same id:
 * causation and correlation ids mostly default to the event's id. */
static void codec_ulid_text(const uint8_t id[ULID_BYTES], const uint8_t known[ULID_BYTES],
                            const char *known_text, char text[ULID_STR_LEN + 1])
{
    if (memcmp(id, known, ULID_BYTES) == 0)
        memcpy(text, known_text, ULID_STR_LEN + 1);
    else
        ulid_format(id, text);
}

static char *json_put_ulid(char *p, const char text[ULID_STR_LEN + 1])
{
    *p++ = '"';
    memcpy(p, text, ULID_STR_LEN);
    p += ULID_STR_LEN;
    *p++ = '"';
    return p;
}

/* A stored payload's JSON form. An empty PAYLOAD_JSON (never written by
 * ADD) comes out as null, and a kind from a newer version as a string: its
 * bytes are shown rather than hidden. */
enum codec_payload_form { FORM_NULL, FORM_STRING, FORM_VERBATIM };

static enum codec_payload_form codec_payload_form(Eventflow__PayloadKind kind,
                                                  const ProtobufCBinaryData *d)
{
    switch (kind) {
    case EVENTFLOW__PAYLOAD_KIND__PAYLOAD_NULL:
        return FORM_NULL;
    case EVENTFLOW__PAYLOAD_KIND__PAYLOAD_JSON:
        return d->len > 0 ? FORM_VERBATIM : FORM_NULL;
    case EVENTFLOW__PAYLOAD_KIND__PAYLOAD_STRING:
        return FORM_STRING;
    default:
        return d->len > 0 ? FORM_STRING : FORM_NULL;
    }
}

static size_t json_payload_room(Eventflow__PayloadKind kind, const ProtobufCBinaryData *d)
{
    switch (codec_payload_form(kind, d)) {
    case FORM_STRING:
        return json_string_room((const char *)d->data, d->len);
    case FORM_VERBATIM:
        return d->len;
    case FORM_NULL:
    default:
        return 4;
    }
}

static char *json_put_payload(char *p, Eventflow__PayloadKind kind, const ProtobufCBinaryData *d)
{
    switch (codec_payload_form(kind, d)) {
    case FORM_STRING:
        return json_put_string(p, (const char *)d->data, d->len);
    case FORM_VERBATIM:
        /* Compact JSON written by codec_payload_from at ADD time; copied
         * without a second parse. */
        memcpy(p, d->data, d->len);
        return p + d->len;
    case FORM_NULL:
    default:
        PUT_LIT(p, "null");
        return p;
    }
}

static const uint8_t codec_zero_id[ULID_BYTES];

/* Room for everything in an event but its strings and payloads: keys and
 * punctuation (about 120 bytes), three quoted ULIDs (84), a version (20)
 * and a quoted time (32). */
#define CODEC_EVENT_FIXED 320

void codec_write_event(struct buf *b, const Eventflow__StoredEvent *ev)
{
    const char *stream = ev->stream != NULL ? ev->stream : "";
    const char *type = ev->type != NULL ? ev->type : "";
    size_t stream_len = strlen(stream);
    size_t type_len = strlen(type);
    /* The state machine always stores three 16-byte ids; fall back to the
     * documented defaults if a record somehow lacks them. */
    const uint8_t *id = ev->id.len == ULID_BYTES ? ev->id.data : codec_zero_id;
    const uint8_t *causation = ev->causation_id.len == ULID_BYTES ? ev->causation_id.data : id;
    const uint8_t *correlation =
        ev->correlation_id.len == ULID_BYTES ? ev->correlation_id.data : causation;

    char id_text[ULID_STR_LEN + 1];
    char causation_text[ULID_STR_LEN + 1];
    char correlation_text[ULID_STR_LEN + 1];
    ulid_format(id, id_text);
    codec_ulid_text(causation, id, id_text, causation_text);
    codec_ulid_text(correlation, causation, causation_text, correlation_text);

    size_t need = CODEC_EVENT_FIXED + json_string_room(stream, stream_len) +
                  json_string_room(type, type_len) + json_payload_room(ev->data_kind, &ev->data) +
                  json_payload_room(ev->metadata_kind, &ev->metadata);
    char *start = buf_reserve(b, need);
    char *p = start;
    PUT_LIT(p, "{\"id\":");
    p = json_put_ulid(p, id_text);
    PUT_LIT(p, ",\"stream\":");
    p = json_put_string(p, stream, stream_len);
    PUT_LIT(p, ",\"version\":");
    p = json_put_u64(p, ev->version);
    PUT_LIT(p, ",\"type\":");
    p = json_put_string(p, type, type_len);
    PUT_LIT(p, ",\"data\":");
    p = json_put_payload(p, ev->data_kind, &ev->data);
    PUT_LIT(p, ",\"metadata\":");
    p = json_put_payload(p, ev->metadata_kind, &ev->metadata);
    PUT_LIT(p, ",\"causation_id\":");
    p = json_put_ulid(p, causation_text);
    PUT_LIT(p, ",\"correlation_id\":");
    p = json_put_ulid(p, correlation_text);
    PUT_LIT(p, ",\"added_at\":");
    p = json_put_time(p, ev->added_at_ns);
    *p++ = '}';
    assert((size_t)(p - start) <= need);
    buf_commit(b, (size_t)(p - start));
}

/* Room for a stream's keys, length and time besides its name. */
#define CODEC_STREAM_FIXED 96

void codec_write_stream(struct buf *b, const char *name, size_t name_len,
                        const Eventflow__StreamInfo *info)
{
    size_t need = CODEC_STREAM_FIXED + json_string_room(name, name_len);
    char *start = buf_reserve(b, need);
    char *p = start;
    PUT_LIT(p, "{\"id\":");
    p = json_put_string(p, name, name_len);
    PUT_LIT(p, ",\"events\":");
    p = json_put_u64(p, info->length);
    PUT_LIT(p, ",\"added_at\":");
    p = json_put_time(p, info->created_at_ns);
    *p++ = '}';
    assert((size_t)(p - start) <= need);
    buf_commit(b, (size_t)(p - start));
}
