/* codec_fast.c - the jansson-free decoder for plain ADDs; see codec_fast.h.
 *
 * A recursive-descent scan over the text. Strings are taken only when they
 * hold nothing but bytes a JSON string may carry unescaped and that the
 * codec writes back unchanged (0x20..0x7F except the quote and the
 * backslash), so the text between the quotes *is* the value; numbers only
 * when they are integers of at most 18 digits in canonical form (what
 * jansson reads as an integer and the codec writes back digit for digit).
 * Payloads that are not strings are written out compact as they are
 * scanned, in the codec's canonical form (codec.c, json_write_value).
 * Every other case returns false and the caller falls back to jansson. */
#include "protocol/codec_fast.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/mem.h"
#include "common/ulid.h"
#include "protocol/codec_group.h"

#define FAST_MAX_DEPTH 16
#define FAST_MAX_KEYS 32
#define FAST_MAX_DIGITS 18

struct fast {
    const char *p, *end;
};

struct slice {
    const char *s;
    size_t len;
};

static void fast_ws(struct fast *f)
{
    while (f->p < f->end && (*f->p == ' ' || *f->p == '\t' || *f->p == '\n' || *f->p == '\r'))
        f->p++;
}

/* The next non-blank byte, or 0 at the end (a NUL byte is never valid
 * outside a string, so it fails wherever 0 does). */
static char fast_peek(struct fast *f)
{
    fast_ws(f);
    return f->p < f->end ? *f->p : '\0';
}

static bool fast_eat(struct fast *f, char c)
{
    if (fast_peek(f) != c)
        return false;
    f->p++;
    return true;
}

static bool fast_plain(unsigned char c)
{
    return c >= 0x20 && c <= 0x7f && c != '"' && c != '\\';
}

/* A string of plain bytes; the slice points into the input. */
static bool fast_string(struct fast *f, struct slice *out)
{
    if (!fast_eat(f, '"'))
        return false;
    const char *start = f->p;
    while (f->p < f->end && fast_plain((unsigned char)*f->p))
        f->p++;
    if (f->p >= f->end || *f->p != '"')
        return false; /* an escape, a control or non-ASCII byte, or the end */
    out->s = start;
    out->len = (size_t)(f->p - start);
    f->p++;
    return true;
}

/* An integer in canonical form: no leading zeros, no "-0", no fraction or
 * exponent (those are reals to jansson), few enough digits for int64. */
static bool fast_integer(struct fast *f, struct slice *out, bool *negative, uint64_t *value)
{
    fast_ws(f);
    const char *start = f->p;
    *negative = f->p < f->end && *f->p == '-';
    if (*negative)
        f->p++;
    const char *digits = f->p;
    uint64_t v = 0;
    while (f->p < f->end && *f->p >= '0' && *f->p <= '9') {
        if (f->p - digits == FAST_MAX_DIGITS)
            return false;
        v = v * 10 + (uint64_t)(*f->p - '0');
        f->p++;
    }
    size_t n = (size_t)(f->p - digits);
    if (n == 0 || (n > 1 && digits[0] == '0') || (*negative && v == 0))
        return false;
    if (f->p < f->end && (*f->p == '.' || *f->p == 'e' || *f->p == 'E'))
        return false;
    out->s = start;
    out->len = (size_t)(f->p - start);
    *value = v;
    return true;
}

static bool fast_literal(struct fast *f, const char *word, size_t len)
{
    if ((size_t)(f->end - f->p) < len || memcmp(f->p, word, len) != 0)
        return false;
    f->p += len;
    return true;
}

static void fast_put_string(struct buf *out, struct slice s)
{
    buf_append_char(out, '"');
    buf_append(out, s.s, s.len);
    buf_append_char(out, '"');
}

static bool fast_value(struct fast *f, struct buf *out, int depth);

/* An object inside a payload. Duplicate keys are jansson's error to give. */
static bool fast_object(struct fast *f, struct buf *out, int depth)
{
    struct slice keys[FAST_MAX_KEYS];
    size_t n = 0;
    f->p++; /* '{' */
    buf_append_char(out, '{');
    if (fast_eat(f, '}')) {
        buf_append_char(out, '}');
        return true;
    }
    for (;;) {
        struct slice k;
        if (n == FAST_MAX_KEYS || !fast_string(f, &k))
            return false;
        for (size_t i = 0; i < n; i++)
            if (keys[i].len == k.len && memcmp(keys[i].s, k.s, k.len) == 0)
                return false;
        keys[n++] = k;
        if (!fast_eat(f, ':'))
            return false;
        fast_put_string(out, k);
        buf_append_char(out, ':');
        if (!fast_value(f, out, depth + 1))
            return false;
        if (fast_eat(f, ',')) {
            buf_append_char(out, ',');
            continue;
        }
        if (!fast_eat(f, '}'))
            return false;
        buf_append_char(out, '}');
        return true;
    }
}

static bool fast_array(struct fast *f, struct buf *out, int depth)
{
    f->p++; /* '[' */
    buf_append_char(out, '[');
    if (fast_eat(f, ']')) {
        buf_append_char(out, ']');
        return true;
    }
    for (;;) {
        if (!fast_value(f, out, depth + 1))
            return false;
        if (fast_eat(f, ',')) {
            buf_append_char(out, ',');
            continue;
        }
        if (!fast_eat(f, ']'))
            return false;
        buf_append_char(out, ']');
        return true;
    }
}

/* Any value, written compact to out. */
static bool fast_value(struct fast *f, struct buf *out, int depth)
{
    if (depth > FAST_MAX_DEPTH)
        return false;
    struct slice s;
    bool negative;
    uint64_t v;
    switch (fast_peek(f)) {
    case '{':
        return fast_object(f, out, depth);
    case '[':
        return fast_array(f, out, depth);
    case '"':
        if (!fast_string(f, &s))
            return false;
        fast_put_string(out, s);
        return true;
    case 't':
    case 'f':
    case 'n': {
        const char *start = f->p;
        if (!fast_literal(f, "true", 4) && !fast_literal(f, "false", 5) && !fast_literal(f, "null", 4))
            return false;
        buf_append(out, start, (size_t)(f->p - start));
        return true;
    }
    default:
        if (!fast_integer(f, &s, &negative, &v))
            return false;
        buf_append(out, s.s, s.len);
        return true;
    }
}

/* "data" or "metadata": null, a string (stored as its bytes) or any other
 * value (stored as compact JSON), as codec.c's codec_payload_from. */
static bool fast_payload(struct fast *f, struct codec_payload *p)
{
    struct slice s;
    switch (fast_peek(f)) {
    case 'n':
        if (!fast_literal(f, "null", 4))
            return false;
        p->kind = EVENTFLOW__PAYLOAD_KIND__PAYLOAD_NULL;
        return true;
    case '"':
        if (!fast_string(f, &s))
            return false;
        p->kind = EVENTFLOW__PAYLOAD_KIND__PAYLOAD_STRING;
        p->bytes = xmalloc(s.len + 1);
        memcpy(p->bytes, s.s, s.len);
        p->bytes[s.len] = '\0';
        p->len = s.len;
        return true;
    default: {
        struct buf text;
        buf_init(&text);
        if (!fast_value(f, &text, 1)) {
            buf_free(&text);
            return false;
        }
        buf_append_char(&text, '\0');
        p->kind = EVENTFLOW__PAYLOAD_KIND__PAYLOAD_JSON;
        p->bytes = text.data; /* ownership moves to p */
        p->len = text.len - 1;
        return true;
    }
    }
}

/* null (absent) or a string: an optional id or key. */
static bool fast_optional_string(struct fast *f, struct slice *out, bool *present)
{
    *present = false;
    if (fast_peek(f) == 'n')
        return fast_literal(f, "null", 4);
    if (!fast_string(f, out))
        return false;
    *present = true;
    return true;
}

static bool fast_optional_id(struct fast *f, bool *has, uint8_t id[ULID_BYTES])
{
    struct slice s;
    if (!fast_optional_string(f, &s, has))
        return false;
    return !*has || ulid_parse(s.s, s.len, id) == 0;
}

enum { EV_TYPE = 1, EV_DATA = 2, EV_METADATA = 4, EV_CAUSATION = 8, EV_CORRELATION = 16, EV_KEY = 32 };

static int fast_event_field(struct slice k)
{
    static const struct {
        const char *name;
        int bit;
    } fields[] = {{"type", EV_TYPE},
                  {"data", EV_DATA},
                  {"metadata", EV_METADATA},
                  {"causation_id", EV_CAUSATION},
                  {"correlation_id", EV_CORRELATION},
                  {"key", EV_KEY}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strlen(fields[i].name) == k.len && memcmp(fields[i].name, k.s, k.len) == 0)
            return fields[i].bit;
    return 0;
}

/* One event object into ev (zeroed by the caller). */
static bool fast_event(struct fast *f, const struct codec_limits *lim, struct codec_event *ev)
{
    if (!fast_eat(f, '{'))
        return false;
    int seen = 0;
    struct slice type = {0}, key = {0};
    bool has_key = false;
    do {
        struct slice k;
        if (!fast_string(f, &k) || !fast_eat(f, ':'))
            return false;
        int bit = fast_event_field(k);
        if (bit == 0 || (seen & bit) != 0)
            return false;
        seen |= bit;
        bool ok;
        switch (bit) {
        case EV_TYPE:
            ok = fast_string(f, &type);
            break;
        case EV_DATA:
            ok = fast_payload(f, &ev->data);
            break;
        case EV_METADATA:
            ok = fast_payload(f, &ev->metadata);
            break;
        case EV_CAUSATION:
            ok = fast_optional_id(f, &ev->has_causation_id, ev->causation_id);
            break;
        case EV_CORRELATION:
            ok = fast_optional_id(f, &ev->has_correlation_id, ev->correlation_id);
            break;
        default:
            ok = fast_optional_string(f, &key, &has_key) && (!has_key || codec_key_ok(key.s, key.len));
            break;
        }
        if (!ok)
            return false;
    } while (fast_eat(f, ','));
    if (!fast_eat(f, '}'))
        return false;
    if ((seen & EV_TYPE) == 0 || type.len == 0 || type.len > lim->max_type_len ||
        !codec_event_size_ok(lim, type.len, ev->data.len, ev->metadata.len))
        return false;
    ev->type = xstrndup(type.s, type.len);
    if (has_key)
        ev->key = xstrndup(key.s, key.len);
    return true;
}

static bool fast_events(struct fast *f, const struct codec_limits *lim, struct codec_add *out)
{
    if (!fast_eat(f, '[') || fast_peek(f) == ']')
        return false; /* an empty list is jansson's path's error to give */
    size_t cap = 0;
    do {
        if (out->n_events == lim->max_events)
            return false;
        if (out->n_events == cap) {
            cap = cap ? cap * 2 : 4;
            out->events = xrealloc(out->events, cap * sizeof *out->events);
        }
        struct codec_event *ev = &out->events[out->n_events++];
        memset(ev, 0, sizeof *ev);
        if (!fast_event(f, lim, ev))
            return false;
    } while (fast_eat(f, ','));
    return fast_eat(f, ']');
}

/* Keys on all events or none, and distinct. */
static bool fast_keys_ok(const struct codec_add *out)
{
    size_t keyed = 0;
    for (size_t i = 0; i < out->n_events; i++) {
        if (out->events[i].key == NULL)
            continue;
        keyed++;
        for (size_t j = 0; j < i; j++)
            if (out->events[j].key != NULL && strcmp(out->events[j].key, out->events[i].key) == 0)
                return false;
    }
    return keyed == 0 || keyed == out->n_events;
}

enum { ADD_STREAM = 1, ADD_VERSION = 2, ADD_EVENTS = 4 };

static bool fast_add(struct fast *f, const struct codec_limits *lim, struct codec_add *out)
{
    if (!fast_eat(f, '{'))
        return false;
    int seen = 0;
    struct slice stream = {0};
    do {
        struct slice k;
        if (!fast_string(f, &k) || !fast_eat(f, ':'))
            return false;
        int bit = k.len == 6 && memcmp(k.s, "stream", 6) == 0    ? ADD_STREAM
                  : k.len == 7 && memcmp(k.s, "version", 7) == 0 ? ADD_VERSION
                  : k.len == 6 && memcmp(k.s, "events", 6) == 0  ? ADD_EVENTS
                                                                 : 0;
        if (bit == 0 || (seen & bit) != 0)
            return false;
        seen |= bit;
        bool ok;
        if (bit == ADD_STREAM) {
            ok = fast_string(f, &stream);
        } else if (bit == ADD_VERSION) {
            struct slice s;
            bool negative;
            if (fast_peek(f) == '"') {
                ok = fast_string(f, &s) && s.len == 3 && memcmp(s.s, "any", 3) == 0;
                out->any_version = true;
            } else {
                ok = fast_integer(f, &s, &negative, &out->expected_version) && !negative;
            }
        } else {
            ok = fast_events(f, lim, out);
        }
        if (!ok)
            return false;
    } while (fast_eat(f, ','));
    if (!fast_eat(f, '}') || fast_peek(f) != '\0' || f->p != f->end)
        return false;
    if (seen != (ADD_STREAM | ADD_VERSION | ADD_EVENTS) || !codec_stream_ok(stream.s, stream.len, lim))
        return false;
    /* The last event's version must fit in an int64 (codec.c). */
    if (!out->any_version && out->n_events - 1 > (uint64_t)INT64_MAX - out->expected_version)
        return false;
    if (!fast_keys_ok(out))
        return false;
    out->stream = xstrndup(stream.s, stream.len);
    out->stream_len = stream.len;
    return true;
}

bool codec_fast_parse_add(const char *json, size_t len, const struct codec_limits *lim, struct codec_add *out)
{
    memset(out, 0, sizeof *out);
    if (json == NULL)
        return false;
    struct fast f = {.p = json, .end = json + len};
    if (fast_add(&f, lim, out))
        return true;
    codec_add_free(out);
    return false;
}

/* ---- GROUP READ and GROUP ACK ------------------------------------------------- */

/* A group's or consumer's name, by the rules codec_group.c applies. */
static bool fast_group_name(struct fast *f, const struct codec_limits *lim, char **out)
{
    struct slice s;
    if (*out != NULL || !fast_string(f, &s) || !codec_group_name_ok(s.s, s.len, lim))
        return false;
    *out = xstrndup(s.s, s.len);
    return true;
}

static bool fast_uint_in(struct fast *f, uint64_t min, uint64_t max, uint64_t *out)
{
    struct slice s;
    bool negative;
    uint64_t v;
    if (!fast_integer(f, &s, &negative, &v) || negative || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool fast_ids(struct fast *f, struct codec_group *out)
{
    if (out->ids != NULL || !fast_eat(f, '['))
        return false;
    size_t cap = 16;
    out->ids = xcalloc(cap, ULID_BYTES);
    for (;;) {
        struct slice s;
        if (out->n_ids == CODEC_GROUP_IDS_MAX || !fast_string(f, &s))
            return false;
        if (out->n_ids == cap) {
            cap *= 2;
            out->ids = xrealloc(out->ids, cap * ULID_BYTES);
        }
        if (ulid_parse(s.s, s.len, out->ids[out->n_ids]) != 0)
            return false;
        out->n_ids++;
        if (fast_eat(f, ','))
            continue;
        return fast_eat(f, ']');
    }
}

static bool fast_group(struct fast *f, const struct codec_limits *lim, struct codec_group *out)
{
    uint64_t count = CODEC_GROUP_READ_DEFAULT, block = 0;
    bool seen_count = false, seen_block = false;
    if (!fast_eat(f, '{'))
        return false;
    for (;;) {
        struct slice k;
        if (!fast_string(f, &k) || !fast_eat(f, ':'))
            return false;
#define KEY_IS(lit) (k.len == sizeof(lit) - 1 && memcmp(k.s, lit, k.len) == 0)
        if (KEY_IS("group")) {
            if (!fast_group_name(f, lim, &out->group))
                return false;
        } else if (out->cmd == CODEC_GROUP_READ && KEY_IS("consumer")) {
            if (!fast_group_name(f, lim, &out->consumer))
                return false;
        } else if (out->cmd == CODEC_GROUP_READ && KEY_IS("count")) {
            if (seen_count || !fast_uint_in(f, 1, CODEC_GROUP_READ_MAX, &count))
                return false;
            seen_count = true;
        } else if (out->cmd == CODEC_GROUP_READ && KEY_IS("block_ms")) {
            if (seen_block || !fast_uint_in(f, 0, CODEC_GROUP_BLOCK_MAX, &block))
                return false;
            seen_block = true;
        } else if (out->cmd == CODEC_GROUP_ACK && KEY_IS("ids")) {
            if (!fast_ids(f, out))
                return false;
        } else {
            return false;
        }
#undef KEY_IS
        if (fast_eat(f, ','))
            continue;
        if (!fast_eat(f, '}'))
            return false;
        break;
    }
    fast_ws(f);
    if (f->p != f->end || out->group == NULL)
        return false;
    if (out->cmd == CODEC_GROUP_READ) {
        out->count = (uint32_t)count;
        out->block_ms = block;
        return out->consumer != NULL;
    }
    return out->n_ids > 0;
}

bool codec_fast_parse_group(enum codec_group_cmd cmd, const char *json, size_t len, const struct codec_limits *lim,
                            struct codec_group *out)
{
    memset(out, 0, sizeof *out);
    out->cmd = cmd;
    if (json == NULL || (cmd != CODEC_GROUP_READ && cmd != CODEC_GROUP_ACK))
        return false;
    struct fast f = {.p = json, .end = json + len};
    if (fast_group(&f, lim, out))
        return true;
    codec_group_free(out);
    out->cmd = cmd;
    return false;
}
