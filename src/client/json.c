/* json.c - request arguments by hand, replies through jansson.
 *
 * Requests: every string the caller gives goes through ef_json_put_string,
 * which refuses invalid UTF-8 (the server's JSON parser would) and escapes
 * what JSON requires, so no caller bytes can change the shape of the
 * argument. A JSON payload is parsed first to prove it is one value, then
 * sent as given.
 *
 * Replies: each object is parsed with jansson, which checks it is valid
 * JSON; the data and metadata values of an event are then cut out of the
 * text verbatim (span_of_member), so a JSON payload comes back byte for
 * byte as the server stored it, not as jansson would re-print it. */
#include "client/json.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "eventflow/errors.h"

#define LIT(b, s) buf_append((b), (s), sizeof(s) - 1)

int ef_json_fail(char err[EF_ERR_LEN], int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, EF_ERR_LEN, fmt, ap);
    va_end(ap);
    return code;
}

/* ---- encoding -------------------------------------------------------- */

bool ef_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t extra;
        unsigned cp;
        if (c >= 0xC2 && c <= 0xDF) {
            extra = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            extra = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            extra = 3;
            cp = c & 0x07;
        } else {
            return false; /* continuation byte, or a lead byte of an overlong or too-large form */
        }
        if (len - i <= extra)
            return false;
        for (size_t k = 1; k <= extra; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += extra + 1;
    }
    return true;
}

int ef_json_put_string(struct buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (!ef_utf8_valid(s, len))
        return -1;
    buf_append_char(out, '"');
    size_t run = 0; /* bytes before i that need no escaping, appended in one go */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        buf_append(out, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            LIT(out, "\\\"");
            break;
        case '\\':
            LIT(out, "\\\\");
            break;
        case '\n':
            LIT(out, "\\n");
            break;
        case '\r':
            LIT(out, "\\r");
            break;
        case '\t':
            LIT(out, "\\t");
            break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            buf_append(out, esc, sizeof esc);
            break;
        }
        }
    }
    buf_append(out, s + run, len - run);
    buf_append_char(out, '"');
    return 0;
}

static int put_cstring(struct buf *out, const char *s)
{
    return ef_json_put_string(out, s, strlen(s));
}

static bool key_valid(const char *key)
{
    size_t len = strlen(key);
    if (len == 0 || len > EF_KEY_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)key[i] < 0x20 || (unsigned char)key[i] > 0x7E)
            return false;
    return true;
}

/* A JSON payload must be exactly one value, and not one the server would
 * store as another kind (a string or null). */
static int check_json_payload(const struct eventflow_payload *p, const char *what, size_t i,
                              char err[EF_ERR_LEN])
{
    json_error_t je;
    json_t *v = json_loadb(p->bytes, p->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (v == NULL)
        return ef_json_fail(err, EF_EINVAL, "%s of event %zu is not valid JSON: %s", what, i, je.text);
    bool ok = !json_is_string(v) && !json_is_null(v);
    json_decref(v);
    if (!ok)
        return ef_json_fail(err, EF_EINVAL,
                    "%s of event %zu: a JSON string or null must be sent as EF_PAYLOAD_STRING or "
                    "EF_PAYLOAD_NULL",
                    what, i);
    return EF_OK;
}

static int put_payload(struct buf *out, const char *name, const struct eventflow_payload *p,
                       size_t i, char err[EF_ERR_LEN])
{
    switch (p->kind) {
    case EF_PAYLOAD_NULL:
        return EF_OK;
    case EF_PAYLOAD_STRING:
        if (p->bytes == NULL && p->len > 0)
            return ef_json_fail(err, EF_EINVAL, "%s of event %zu: NULL bytes", name, i);
        buf_printf(out, ",\"%s\":", name);
        if (ef_json_put_string(out, p->bytes != NULL ? p->bytes : "", p->len) != 0)
            return ef_json_fail(err, EF_EINVAL, "%s of event %zu is not valid UTF-8 (send binary as base64)",
                        name, i);
        return EF_OK;
    case EF_PAYLOAD_JSON: {
        if (p->bytes == NULL)
            return ef_json_fail(err, EF_EINVAL, "%s of event %zu: NULL bytes", name, i);
        int rc = check_json_payload(p, name, i, err);
        if (rc != EF_OK)
            return rc;
        buf_printf(out, ",\"%s\":", name);
        buf_append(out, p->bytes, p->len);
        return EF_OK;
    }
    }
    return ef_json_fail(err, EF_EINVAL, "%s of event %zu: unknown payload kind %d", name, i, (int)p->kind);
}

static int put_event(struct buf *out, const struct eventflow_new_event *ev, size_t i,
                     ef_keygen_fn keygen, void *keygen_ctx, char err[EF_ERR_LEN])
{
    if (ev->type == NULL)
        return ef_json_fail(err, EF_EINVAL, "event %zu has no type", i);
    LIT(out, "{\"type\":");
    if (put_cstring(out, ev->type) != 0)
        return ef_json_fail(err, EF_EINVAL, "type of event %zu is not valid UTF-8", i);
    int rc = put_payload(out, "data", &ev->data, i, err);
    if (rc == EF_OK)
        rc = put_payload(out, "metadata", &ev->metadata, i, err);
    if (rc != EF_OK)
        return rc;
    const char *ids[2] = {ev->causation_id, ev->correlation_id};
    const char *names[2] = {"causation_id", "correlation_id"};
    for (int k = 0; k < 2; k++) {
        if (ids[k] == NULL)
            continue;
        buf_printf(out, ",\"%s\":", names[k]);
        if (put_cstring(out, ids[k]) != 0)
            return ef_json_fail(err, EF_EINVAL, "%s of event %zu is not valid UTF-8", names[k], i);
    }
    if (keygen != NULL) {
        char generated[EF_GEN_KEY_LEN + 1];
        const char *key = ev->key;
        if (key == NULL) {
            keygen(keygen_ctx, generated);
            key = generated;
        } else if (!key_valid(key)) {
            return ef_json_fail(err, EF_EINVAL,
                        "key of event %zu must be 1..%d bytes of printable ASCII", i, EF_KEY_MAX);
        }
        LIT(out, ",\"key\":");
        (void)put_cstring(out, key); /* printable ASCII: always valid */
    }
    buf_append_char(out, '}');
    return EF_OK;
}

int ef_json_add(struct buf *out, const char *stream, int64_t expected_version,
                const struct eventflow_new_event *events, size_t n, ef_keygen_fn keygen,
                void *keygen_ctx, char err[EF_ERR_LEN])
{
    if (stream == NULL)
        return ef_json_fail(err, EF_EINVAL, "stream is NULL");
    if (n == 0 || events == NULL)
        return ef_json_fail(err, EF_EINVAL, "list of events is empty");
    if (expected_version < 0 && expected_version != EF_VERSION_ANY)
        return ef_json_fail(err, EF_EINVAL, "expected version %" PRId64 " is negative", expected_version);
    LIT(out, "{\"stream\":");
    if (put_cstring(out, stream) != 0)
        return ef_json_fail(err, EF_EINVAL, "stream name is not valid UTF-8");
    if (expected_version == EF_VERSION_ANY)
        LIT(out, ",\"version\":\"any\"");
    else
        buf_printf(out, ",\"version\":%" PRId64, expected_version);
    LIT(out, ",\"events\":[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            buf_append_char(out, ',');
        int rc = put_event(out, &events[i], i, keygen, keygen_ctx, err);
        if (rc != EF_OK)
            return rc;
    }
    LIT(out, "]}");
    return EF_OK;
}

static void put_read_opts(struct buf *out, const struct ef_read_opts *o)
{
    if (o == NULL)
        return;
    if (o->min_id != NULL && o->min_id[0] != '\0') {
        LIT(out, ",\"min_id\":");
        (void)put_cstring(out, o->min_id); /* our own copy of a server id: ASCII */
    }
    if (o->linearizable)
        LIT(out, ",\"consistency\":\"linearizable\"");
    if (o->timeout_ms > 0)
        buf_printf(out, ",\"timeout_ms\":%" PRIu32, o->timeout_ms);
}

int ef_json_get(struct buf *out, const char *stream, uint64_t from_version, uint32_t limit,
                const struct ef_read_opts *o, char err[EF_ERR_LEN])
{
    if (stream == NULL)
        return ef_json_fail(err, EF_EINVAL, "stream is NULL");
    LIT(out, "{\"stream\":");
    if (put_cstring(out, stream) != 0)
        return ef_json_fail(err, EF_EINVAL, "stream name is not valid UTF-8");
    buf_printf(out, ",\"version\":%" PRIu64 ",\"limit\":%" PRIu32, from_version, limit);
    put_read_opts(out, o);
    buf_append_char(out, '}');
    return EF_OK;
}

int ef_json_getall(struct buf *out, const char *after_id, uint32_t limit,
                   const struct ef_read_opts *o, char err[EF_ERR_LEN])
{
    buf_printf(out, "{\"limit\":%" PRIu32, limit);
    if (after_id != NULL && after_id[0] != '\0') {
        LIT(out, ",\"offset\":");
        if (put_cstring(out, after_id) != 0)
            return ef_json_fail(err, EF_EINVAL, "offset id is not valid UTF-8");
    }
    put_read_opts(out, o);
    buf_append_char(out, '}');
    return EF_OK;
}

void ef_json_liststreams(struct buf *out, uint64_t skip, uint32_t limit,
                         const struct ef_read_opts *o)
{
    buf_printf(out, "{\"skip\":%" PRIu64 ",\"limit\":%" PRIu32, skip, limit);
    put_read_opts(out, o);
    buf_append_char(out, '}');
}

/* ---- decoding: helpers ------------------------------------------------ */

json_t *ef_json_load_object(const char *text, size_t len, char err[EF_ERR_LEN])
{
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_ALLOW_NUL, &je);
    if (root == NULL) {
        ef_json_fail(err, EF_EPROTO, "reply is not valid JSON: %s", je.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        ef_json_fail(err, EF_EPROTO, "reply is not a JSON object");
        return NULL;
    }
    return root;
}

/* The string member `key` of obj: NULL (with err set) if missing or not a
 * string. */
static const char *get_string(json_t *obj, const char *key, size_t *len, char err[EF_ERR_LEN])
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v)) {
        ef_json_fail(err, EF_EPROTO, "reply field \"%s\" is missing or not a string", key);
        return NULL;
    }
    if (len != NULL)
        *len = json_string_length(v);
    return json_string_value(v);
}

static int get_u64(json_t *obj, const char *key, uint64_t *out, char err[EF_ERR_LEN])
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return ef_json_fail(err, EF_EPROTO, "reply field \"%s\" is missing or not a count", key);
    *out = (uint64_t)json_integer_value(v);
    return EF_OK;
}

/* Copy a string member into a fixed buffer; fails if it does not fit. */
static int copy_string(json_t *obj, const char *key, char *dst, size_t cap, char err[EF_ERR_LEN])
{
    size_t len;
    const char *s = get_string(obj, key, &len, err);
    if (s == NULL)
        return EF_EPROTO;
    if (len >= cap || memchr(s, '\0', len) != NULL)
        return ef_json_fail(err, EF_EPROTO, "reply field \"%s\" is too long", key);
    memcpy(dst, s, len + 1);
    return EF_OK;
}

static int copy_id(json_t *obj, const char *key, char dst[EF_ID_LEN + 1], char err[EF_ERR_LEN])
{
    size_t len;
    const char *s = get_string(obj, key, &len, err);
    if (s == NULL)
        return EF_EPROTO;
    if (len != EF_ID_LEN)
        return ef_json_fail(err, EF_EPROTO, "reply field \"%s\" is not a %d-character id", key, EF_ID_LEN);
    memcpy(dst, s, EF_ID_LEN + 1);
    return EF_OK;
}

/* Optional members of a status object: missing ones stay zero. */
static void opt_string(json_t *obj, const char *key, char *dst, size_t cap)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_string(v))
        snprintf(dst, cap, "%s", json_string_value(v));
}

static void opt_u64(json_t *obj, const char *key, uint64_t *dst)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v) && json_integer_value(v) >= 0)
        *dst = (uint64_t)json_integer_value(v);
}

static void opt_bool(json_t *obj, const char *key, bool *dst)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_boolean(v))
        *dst = json_is_true(v);
}

/* ---- raw value spans --------------------------------------------------
 * Only ever run on text jansson has accepted as one JSON object, so the
 * scanner may assume well-formed input; it still never reads past len. */

static size_t skip_ws(const char *s, size_t len, size_t i)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* i at an opening quote; returns the index after the closing quote. */
static size_t skip_string(const char *s, size_t len, size_t i)
{
    for (i++; i < len; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return len;
}

/* i at the start of a value; returns the index after it. */
static size_t skip_value(const char *s, size_t len, size_t i)
{
    if (i >= len)
        return len;
    if (s[i] == '"')
        return skip_string(s, len, i);
    if (s[i] == '{' || s[i] == '[') {
        size_t depth = 0;
        while (i < len) {
            char c = s[i];
            if (c == '"') {
                i = skip_string(s, len, i);
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if (c == '}' || c == ']')
                depth--;
            i++;
            if (depth == 0)
                return i;
        }
        return len;
    }
    while (i < len && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\t' &&
           s[i] != '\n' && s[i] != '\r')
        i++;
    return i;
}

/* Find the value of top-level member `key` (written without escapes, as
 * the server writes keys). Returns 0 with its span, or -1. */
static int span_of_member(const char *s, size_t len, const char *key, size_t *start, size_t *vlen)
{
    size_t key_len = strlen(key);
    size_t i = skip_ws(s, len, 0);
    if (i >= len || s[i] != '{')
        return -1;
    i++;
    for (;;) {
        i = skip_ws(s, len, i);
        if (i >= len || s[i] != '"')
            return -1;
        size_t kstart = i + 1;
        i = skip_string(s, len, i);
        size_t klen = i - kstart - 1;
        i = skip_ws(s, len, i);
        if (i >= len || s[i] != ':')
            return -1;
        i = skip_ws(s, len, i + 1);
        size_t vstart = i;
        i = skip_value(s, len, i);
        if (klen == key_len && memcmp(s + kstart, key, key_len) == 0) {
            *start = vstart;
            *vlen = i - vstart;
            return 0;
        }
        i = skip_ws(s, len, i);
        if (i >= len || s[i] != ',')
            return -1;
        i++;
    }
}

static int get_payload(json_t *obj, const char *text, size_t len, const char *key,
                       struct eventflow_payload *p, char err[EF_ERR_LEN])
{
    json_t *v = json_object_get(obj, key);
    p->kind = EF_PAYLOAD_NULL;
    p->bytes = NULL;
    p->len = 0;
    if (v == NULL || json_is_null(v))
        return EF_OK;
    if (json_is_string(v)) {
        p->kind = EF_PAYLOAD_STRING;
        p->len = json_string_length(v);
        char *copy = xmalloc(p->len + 1);
        memcpy(copy, json_string_value(v), p->len + 1);
        p->bytes = copy;
        return EF_OK;
    }
    size_t start, vlen;
    if (span_of_member(text, len, key, &start, &vlen) != 0)
        return ef_json_fail(err, EF_EPROTO, "could not locate \"%s\" in the event", key);
    p->kind = EF_PAYLOAD_JSON;
    p->len = vlen;
    p->bytes = xstrndup(text + start, vlen);
    return EF_OK;
}

/* ---- events ----------------------------------------------------------- */

void ef_event_clear(struct eventflow_event *ev)
{
    free((char *)ev->stream);
    free((char *)ev->type);
    free((char *)ev->data.bytes);
    free((char *)ev->metadata.bytes);
    free((char *)ev->key);
    memset(ev, 0, sizeof *ev);
}

int ef_json_event(const char *text, size_t len, struct eventflow_event *ev, char err[EF_ERR_LEN])
{
    memset(ev, 0, sizeof *ev);
    json_t *o = ef_json_load_object(text, len, err);
    if (o == NULL)
        return EF_EPROTO;
    int rc = copy_id(o, "id", ev->id, err);
    if (rc == EF_OK) {
        size_t slen;
        const char *s = get_string(o, "stream", &slen, err);
        if (s == NULL)
            rc = EF_EPROTO;
        else
            ev->stream = xstrndup(s, slen);
    }
    if (rc == EF_OK)
        rc = get_u64(o, "version", &ev->version, err);
    if (rc == EF_OK) {
        size_t tlen;
        const char *s = get_string(o, "type", &tlen, err);
        if (s == NULL)
            rc = EF_EPROTO;
        else
            ev->type = xstrndup(s, tlen);
    }
    if (rc == EF_OK)
        rc = get_payload(o, text, len, "data", &ev->data, err);
    if (rc == EF_OK)
        rc = get_payload(o, text, len, "metadata", &ev->metadata, err);
    if (rc == EF_OK)
        rc = copy_id(o, "causation_id", ev->causation_id, err);
    if (rc == EF_OK)
        rc = copy_id(o, "correlation_id", ev->correlation_id, err);
    if (rc == EF_OK)
        rc = copy_string(o, "added_at", ev->added_at, sizeof ev->added_at, err);
    if (rc == EF_OK) {
        json_t *k = json_object_get(o, "key");
        if (json_is_string(k))
            ev->key = xstrndup(json_string_value(k), json_string_length(k));
    }
    json_decref(o);
    if (rc != EF_OK)
        ef_event_clear(ev);
    return rc;
}

/* Check that reply is an array of bulk strings. */
int ef_json_check_bulk_array(const struct resp_value *reply, char err[EF_ERR_LEN])
{
    if (reply->type != RESP_T_ARRAY)
        return ef_json_fail(err, EF_EPROTO, "expected an array reply");
    for (size_t i = 0; i < reply->n; i++)
        if (reply->elems[i].type != RESP_T_BULK && reply->elems[i].type != RESP_T_SIMPLE)
            return ef_json_fail(err, EF_EPROTO, "expected strings in the array reply");
    return EF_OK;
}

int ef_json_events(const struct resp_value *reply, struct eventflow_event_list *out,
                   char err[EF_ERR_LEN])
{
    out->events = NULL;
    out->n = 0;
    int rc = ef_json_check_bulk_array(reply, err);
    if (rc != EF_OK)
        return rc;
    if (reply->n == 0)
        return EF_OK;
    struct eventflow_event *evs = xcalloc(reply->n, sizeof *evs);
    for (size_t i = 0; i < reply->n; i++) {
        rc = ef_json_event(reply->elems[i].str, reply->elems[i].len, &evs[i], err);
        if (rc != EF_OK) {
            for (size_t k = 0; k < i; k++)
                ef_event_clear(&evs[k]);
            free(evs);
            return rc;
        }
    }
    out->events = evs;
    out->n = reply->n;
    return EF_OK;
}

/* ---- streams ---------------------------------------------------------- */

int ef_json_streams(const struct resp_value *reply, struct eventflow_stream_list *out,
                    char err[EF_ERR_LEN])
{
    out->streams = NULL;
    out->n = 0;
    int rc = ef_json_check_bulk_array(reply, err);
    if (rc != EF_OK || reply->n == 0)
        return rc;
    struct eventflow_stream_info *ss = xcalloc(reply->n, sizeof *ss);
    size_t done = 0;
    for (; done < reply->n; done++) {
        json_t *o = ef_json_load_object(reply->elems[done].str, reply->elems[done].len, err);
        if (o == NULL) {
            rc = EF_EPROTO;
            break;
        }
        size_t nlen;
        const char *name = get_string(o, "id", &nlen, err);
        rc = name == NULL ? EF_EPROTO : get_u64(o, "events", &ss[done].events, err);
        if (rc == EF_OK)
            rc = copy_string(o, "added_at", ss[done].added_at, sizeof ss[done].added_at, err);
        if (rc == EF_OK)
            ss[done].name = xstrndup(name, nlen);
        json_decref(o);
        if (rc != EF_OK)
            break;
    }
    if (rc != EF_OK) {
        for (size_t k = 0; k < done; k++)
            free((char *)ss[k].name);
        free(ss);
        return rc;
    }
    out->streams = ss;
    out->n = reply->n;
    return EF_OK;
}

/* ---- status and members ---------------------------------------------- */

int ef_json_status(const char *text, size_t len, struct eventflow_node_status *out,
                   char err[EF_ERR_LEN])
{
    memset(out, 0, sizeof *out);
    json_t *o = ef_json_load_object(text, len, err);
    if (o == NULL)
        return EF_EPROTO;
    int rc = get_u64(o, "id", &out->id, err);
    if (rc == EF_OK)
        rc = copy_string(o, "state", out->state, sizeof out->state, err);
    if (rc == EF_OK) {
        opt_string(o, "role", out->role, sizeof out->role);
        opt_bool(o, "ready", &out->ready);
        opt_bool(o, "stale", &out->stale);
        opt_u64(o, "last_contact_ms", &out->last_contact_ms);
        opt_u64(o, "leader_id", &out->leader_id);
        opt_string(o, "leader_address", out->leader_address, sizeof out->leader_address);
        opt_string(o, "client_address", out->client_address, sizeof out->client_address);
        opt_string(o, "tls_address", out->tls_address, sizeof out->tls_address);
        opt_string(o, "leader_tls_address", out->leader_tls_address, sizeof out->leader_tls_address);
        opt_string(o, "raft_address", out->raft_address, sizeof out->raft_address);
        opt_u64(o, "term", &out->term);
        opt_u64(o, "last_index", &out->last_index);
        opt_u64(o, "commit_index", &out->commit_index);
        opt_u64(o, "applied_index", &out->applied_index);
        opt_u64(o, "snapshot_index", &out->snapshot_index);
        opt_u64(o, "store_applied_index", &out->store_applied_index);
        opt_u64(o, "events", &out->events);
        opt_u64(o, "streams", &out->streams);
        opt_string(o, "checksum", out->checksum, sizeof out->checksum);
        opt_string(o, "state_digest", out->state_digest, sizeof out->state_digest);
        opt_u64(o, "state_digest_since", &out->state_digest_since);
        opt_string(o, "last_id", out->last_id, sizeof out->last_id);
        opt_u64(o, "db_bytes", &out->db_bytes);
        opt_u64(o, "map_bytes", &out->map_bytes);
        opt_u64(o, "map_room_bytes", &out->map_room_bytes);
        opt_u64(o, "uptime_ms", &out->uptime_ms);
        opt_string(o, "version", out->version, sizeof out->version);
        opt_string(o, "error", out->error, sizeof out->error);
    }
    json_decref(o);
    if (rc != EF_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

int ef_json_status_list(const struct resp_value *reply, struct eventflow_status_list *out,
                        char err[EF_ERR_LEN])
{
    out->nodes = NULL;
    out->n = 0;
    int rc = ef_json_check_bulk_array(reply, err);
    if (rc != EF_OK || reply->n == 0)
        return rc;
    struct eventflow_node_status *ns = xcalloc(reply->n, sizeof *ns);
    for (size_t i = 0; i < reply->n; i++) {
        rc = ef_json_status(reply->elems[i].str, reply->elems[i].len, &ns[i], err);
        if (rc != EF_OK) {
            free(ns);
            return rc;
        }
    }
    out->nodes = ns;
    out->n = reply->n;
    return EF_OK;
}

static enum eventflow_role role_from(const char *s)
{
    if (strcmp(s, "voter") == 0)
        return EF_ROLE_VOTER;
    if (strcmp(s, "standby") == 0)
        return EF_ROLE_STANDBY;
    if (strcmp(s, "spare") == 0)
        return EF_ROLE_SPARE;
    return EF_ROLE_UNKNOWN;
}

int ef_json_members(const struct resp_value *reply, struct eventflow_member_list *out,
                    char err[EF_ERR_LEN])
{
    out->members = NULL;
    out->n = 0;
    int rc = ef_json_check_bulk_array(reply, err);
    if (rc != EF_OK || reply->n == 0)
        return rc;
    struct eventflow_member *ms = xcalloc(reply->n, sizeof *ms);
    for (size_t i = 0; i < reply->n && rc == EF_OK; i++) {
        json_t *o = ef_json_load_object(reply->elems[i].str, reply->elems[i].len, err);
        if (o == NULL) {
            rc = EF_EPROTO;
            break;
        }
        char role[16] = "";
        rc = get_u64(o, "id", &ms[i].id, err);
        if (rc == EF_OK)
            rc = copy_string(o, "raft_address", ms[i].raft_address, sizeof ms[i].raft_address, err);
        if (rc == EF_OK) {
            opt_string(o, "client_address", ms[i].client_address, sizeof ms[i].client_address);
            opt_string(o, "tls_address", ms[i].tls_address, sizeof ms[i].tls_address);
            opt_string(o, "role", role, sizeof role);
            opt_string(o, "incarnation", ms[i].incarnation, sizeof ms[i].incarnation);
            ms[i].committed = true;
            opt_bool(o, "committed", &ms[i].committed);
            ms[i].role = role_from(role);
        }
        json_decref(o);
    }
    if (rc != EF_OK) {
        free(ms);
        return rc;
    }
    out->members = ms;
    out->n = reply->n;
    return EF_OK;
}

/* ---- freeing lists (public) ------------------------------------------- */

void eventflow_event_list_free(struct eventflow_event_list *list)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < list->n; i++)
        ef_event_clear(&list->events[i]);
    free(list->events);
    list->events = NULL;
    list->n = 0;
}

void eventflow_stream_list_free(struct eventflow_stream_list *list)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < list->n; i++)
        free((char *)list->streams[i].name);
    free(list->streams);
    list->streams = NULL;
    list->n = 0;
}

void eventflow_status_list_free(struct eventflow_status_list *list)
{
    if (list == NULL)
        return;
    free(list->nodes);
    list->nodes = NULL;
    list->n = 0;
}

void eventflow_member_list_free(struct eventflow_member_list *list)
{
    if (list == NULL)
        return;
    free(list->members);
    list->members = NULL;
    list->n = 0;
}
