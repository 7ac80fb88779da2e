/* resources.c - the resource form of the API: streams and the global log
 * as URLs, each request translated into the JSON argument of ADD, GET,
 * GETALL or LISTSTREAMS and run by call.c like /api/<command>.
 *
 *   POST /streams/{stream}      ADD; the body is an events array or an ADD
 *                               object; the expected version from If-Match
 *                               or the body's "version", else "any"
 *   GET  /streams/{stream}      GET: ?version=&limit=&min_id=&consistency=
 *   GET  /all                   GETALL: ?offset=&limit=&min_id=&consistency=
 *   GET  /streams               LISTSTREAMS: ?skip=&limit= */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"
#include "http/query.h"

/* Run `command` with the JSON object `arg` (taken). */
static void resources_run(struct http_request *rq, const char *command, json_t *arg)
{
    char *text = json_dumps(arg, JSON_COMPACT);
    json_decref(arg);
    if (text == NULL) {
        respond_error(rq, 400, "bad_request", "the request could not be written as JSON (invalid UTF-8?)");
        return;
    }
    const struct resp_arg argv[2] = {{command, strlen(command)}, {text, strlen(text)}};
    call_run(rq, 2, argv, NULL);
    free(text);
}

/* Copy the numeric query parameters `names` into obj; false (answered
 * 400) when one is not a number. */
static bool resources_numbers(struct http_request *rq, json_t *obj, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0; /* query_get_u64 leaves it alone when the parameter is absent */
        int rc = query_get_u64(rq->query, rq->query_len, names[i], &v);
        if (rc < 0 || v > INT64_MAX) {
            char msg[96];
            snprintf(msg, sizeof msg, "query parameter '%s' must be a non-negative integer", names[i]);
            respond_error(rq, 400, "bad_request", msg);
            return false;
        }
        if (rc == 1)
            json_object_set_new(obj, names[i], json_integer((json_int_t)v));
    }
    return true;
}

/* Copy the text query parameters `names` into obj; false (answered 400)
 * when one is malformed. */
static bool resources_texts(struct http_request *rq, json_t *obj, const char *const *names, size_t n)
{
    char value[256];
    for (size_t i = 0; i < n; i++) {
        long len = query_get(rq->query, rq->query_len, names[i], value, sizeof value);
        if (len == -1)
            continue;
        json_t *s = len >= 0 ? json_stringn(value, (size_t)len) : NULL;
        if (s == NULL) {
            char msg[96];
            snprintf(msg, sizeof msg, "query parameter '%s' is malformed or too long", names[i]);
            respond_error(rq, 400, "bad_request", msg);
            return false;
        }
        json_object_set_new(obj, names[i], s);
    }
    return true;
}

static const char *const read_texts[] = {"min_id", "consistency"};

void resources_read(struct http_request *rq, const struct route *r, const char *const *params, const size_t *lens)
{
    static const char *const numbers[] = {"version", "limit"};
    json_t *arg = json_object();
    json_t *stream = json_stringn(params[0], lens[0]);
    if (stream == NULL) {
        json_decref(arg);
        respond_error(rq, 400, "bad_request", "the stream name is not valid UTF-8");
        return;
    }
    json_object_set_new(arg, "stream", stream);
    if (!resources_numbers(rq, arg, numbers, 2) || !resources_texts(rq, arg, read_texts, 2)) {
        json_decref(arg);
        return;
    }
    resources_run(rq, "GET", arg);
}

void resources_all(struct http_request *rq, const struct route *r, const char *const *params, const size_t *lens)
{
    static const char *const numbers[] = {"limit"};
    static const char *const texts[] = {"offset", "min_id", "consistency"};
    json_t *arg = json_object();
    if (!resources_numbers(rq, arg, numbers, 1) || !resources_texts(rq, arg, texts, 3)) {
        json_decref(arg);
        return;
    }
    resources_run(rq, "GETALL", arg);
}

void resources_list(struct http_request *rq, const struct route *r, const char *const *params, const size_t *lens)
{
    static const char *const numbers[] = {"skip", "limit"};
    json_t *arg = json_object();
    if (!resources_numbers(rq, arg, numbers, 2)) {
        json_decref(arg);
        return;
    }
    resources_run(rq, "LISTSTREAMS", arg);
}

/* If-Match: a version (quoted as an entity tag or not) or "*" (any). NULL
 * when absent; answers 400 and sets *bad when malformed. */
static json_t *resources_if_match(struct http_request *rq, bool *bad)
{
    const h2o_iovec_t *h = request_header(rq, "if-match");
    *bad = false;
    if (h == NULL)
        return NULL;
    const char *p = h->base;
    size_t n = h->len;
    if (n == 1 && p[0] == '*')
        return json_string("any");
    if (n >= 2 && p[0] == '"' && p[n - 1] == '"')
        p++, n -= 2;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9' || v > (uint64_t)INT64_MAX / 10) {
            n = 0;
            break;
        }
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    if (n == 0 || v > INT64_MAX) {
        *bad = true;
        respond_error(rq, 400, "bad_request", "If-Match must be an expected stream version, or *");
        return NULL;
    }
    return json_integer((json_int_t)v);
}

/* Whether body[0..len) is one JSON array and nothing else (whitespace
 * around it): brackets balance outside strings. Its contents are left to
 * the codec, which validates the ADD; this only makes sure the array
 * cannot end early and smuggle fields into the object it is put in. */
static bool resources_one_array(const char *p, size_t len)
{
    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    if (i == len || p[i] != '[')
        return false;
    size_t depth = 0;
    bool in_string = false;
    for (; i < len; i++) {
        char c = p[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            depth++;
        } else if (c == ']' || c == '}') {
            if (--depth == 0)
                break;
        }
    }
    if (i >= len)
        return false;
    for (i++; i < len; i++) {
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
            return false;
    }
    return true;
}

/* The usual append, an events array: the ADD object is written around it
 * as text, without decoding the events here (the codec does, once). */
static void resources_append_array(struct http_request *rq, json_t *stream, json_t *expected)
{
    h2o_iovec_t body = rq->req->entity;
    struct buf arg;
    buf_init(&arg);
    buf_append_str(&arg, "{\"stream\":");
    size_t need = json_dumpb(stream, NULL, 0, JSON_ENCODE_ANY);
    buf_commit(&arg, json_dumpb(stream, buf_reserve(&arg, need), need, JSON_ENCODE_ANY));
    if (expected == NULL || json_is_string(expected))
        buf_append_str(&arg, ",\"version\":\"any\"");
    else
        buf_printf(&arg, ",\"version\":%lld", (long long)json_integer_value(expected));
    buf_append_str(&arg, ",\"events\":");
    buf_append(&arg, body.base, body.len);
    buf_append_char(&arg, '}');
    const struct resp_arg argv[2] = {{"ADD", 3}, {arg.data, arg.len}};
    call_run(rq, 2, argv, NULL);
    buf_free(&arg);
}

void resources_append(struct http_request *rq, const struct route *r, const char *const *params,
                      const size_t *lens)
{
    h2o_iovec_t body = rq->req->entity;
    json_t *stream = json_stringn(params[0], lens[0]);
    if (stream == NULL) {
        respond_error(rq, 400, "bad_request", "the stream name is not valid UTF-8");
        return;
    }
    bool bad;
    json_t *expected = resources_if_match(rq, &bad);
    if (bad) {
        json_decref(stream);
        return;
    }
    if (body.base != NULL && resources_one_array(body.base, body.len)) {
        resources_append_array(rq, stream, expected);
        json_decref(stream);
        json_decref(expected);
        return;
    }
    json_error_t jerr;
    json_t *arg = body.base != NULL ? json_loadb(body.base, body.len, 0, &jerr) : NULL;
    if (arg == NULL || !json_is_object(arg)) {
        json_decref(arg);
        json_decref(stream);
        json_decref(expected);
        respond_error(rq, 400, "bad_request", "the body must be a JSON array of events or an ADD object");
        return;
    }
    json_t *given = json_object_get(arg, "stream");
    if (given != NULL && !json_equal(given, stream)) {
        json_decref(stream);
        json_decref(expected);
        json_decref(arg);
        respond_error(rq, 400, "bad_request", "the stream is the path's, not another in the body");
        return;
    }
    json_object_set_new(arg, "stream", stream);
    json_t *in_body = json_object_get(arg, "version");
    if (expected != NULL && in_body != NULL && !json_equal(expected, in_body)) {
        json_decref(expected);
        json_decref(arg);
        respond_error(rq, 400, "bad_request", "If-Match and the body's version differ");
        return;
    }
    if (in_body == NULL)
        json_object_set_new(arg, "version", expected != NULL ? expected : json_string("any"));
    else
        json_decref(expected);
    resources_run(rq, "ADD", arg);
}
