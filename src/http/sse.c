/* sse.c - server-sent events on the subscription machinery
 * (server/subscribe.h):
 *
 *   GET /streams/{stream}/subscribe?version=&types=&markers=
 *   GET /all/subscribe?offset=&stream_prefix=&types=&markers=
 *
 * The request becomes SUBSCRIBE with a JSON spec on a connection without a
 * socket; each ["message", spec, json] it is sent becomes one event whose
 * `id:` resumes it: the event id on /all (the offset to resume after), the
 * stream version on a stream (resumed from the next one). A reconnecting
 * EventSource sends it back as Last-Event-ID, which takes the place of the
 * query's position: no gap, no duplicate. Markers go as `event: marker`
 * without an id.
 *
 * Flow control: one h2o_send at a time. While one is in flight the
 * subscription's messages stay in the connection's output, where the
 * subscription's watermarks see them as unsent, so a slow client moves it
 * to catching up from the store rather than growing a buffer; h2o's
 * proceed callback asks for the next flush. A comment every
 * SSE_HEARTBEAT_MS keeps proxies from closing an idle stream.
 *
 * Ownership: the stream is malloc'd and outlives its request only until
 * its heartbeat timer's close callback; the request's pool holds a pointer
 * whose disposal releases the connection and closes the timer. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/ulid.h"
#include "http/http_internal.h"
#include "http/query.h"
#include "http/reply.h"
#include "protocol/resp_reader.h"
#include "server/commands.h"
#include "server/conn.h"

#define SSE_HEARTBEAT_MS 15000

struct sse {
    h2o_generator_t gen;          /* first: h2o hands it back to proceed */
    struct http_request *rq;      /* NULL once answered with an error, or gone */
    struct conn *conn;            /* NULL once released or closed */
    struct resp_reader reader;    /* the connection's output, parsed */
    struct buf sending;           /* handed to h2o until proceed */
    uv_timer_t heartbeat;
    bool by_version;              /* a stream's: ids are versions */
    bool started;                 /* the response's head is sent */
    bool busy;                    /* an h2o_send awaits proceed */
    bool ending;                  /* the server closed the connection: send the end */
};

/* The position an event's `id:` line carries (the event id, or on a
 * stream its version), read from the layout codec_write_event gives every
 * event: {"id":"<ulid>","stream":"...","version":N,...}. A JSON parse per
 * event per subscriber took more than half of a node's CPU with 100 SSE
 * subscribers; this reads a few bytes. Returns false when the payload is
 * not in that layout (the caller then parses it). */
static bool sse_fast_position(const char *p, size_t len, bool by_version, char *out, size_t cap)
{
    static const char id_key[] = "{\"id\":\"", stream_key[] = ",\"stream\":\"", version_key[] = ",\"version\":";
    const char *end = p + len;
    size_t n = sizeof id_key - 1;
    if (len < n + ULID_STR_LEN + 1 || memcmp(p, id_key, n) != 0 || p[n + ULID_STR_LEN] != '"')
        return false;
    if (!by_version) {
        if (cap <= ULID_STR_LEN)
            return false;
        memcpy(out, p + n, ULID_STR_LEN);
        out[ULID_STR_LEN] = '\0';
        return true;
    }
    const char *q = p + n + ULID_STR_LEN + 1;
    n = sizeof stream_key - 1;
    if ((size_t)(end - q) < n || memcmp(q, stream_key, n) != 0)
        return false;
    /* Past the stream's name: a JSON string, so an unescaped quote ends it. */
    for (q += n; q < end && *q != '"'; q++) {
        if (*q == '\\')
            q++;
    }
    if (q >= end)
        return false;
    q++;
    n = sizeof version_key - 1;
    if ((size_t)(end - q) < n || memcmp(q, version_key, n) != 0)
        return false;
    q += n;
    size_t digits = 0;
    while (q + digits < end && q[digits] >= '0' && q[digits] <= '9')
        digits++;
    if (digits == 0 || digits >= cap)
        return false;
    memcpy(out, q, digits);
    out[digits] = '\0';
    return true;
}

/* The `id:` or `event:` line of one message, through jansson: markers, and
 * anything sse_fast_position does not recognise. Returns false to skip it. */
static bool sse_parsed_position(struct sse *s, const char *payload, size_t len)
{
    json_t *ev = json_loadb(payload, len, 0, NULL);
    if (ev == NULL)
        return false;
    if (json_object_get(ev, "marker") != NULL) {
        buf_append_str(&s->sending, "event: marker\n");
    } else if (s->by_version) {
        buf_printf(&s->sending, "id: %lld\n", (long long)json_integer_value(json_object_get(ev, "version")));
    } else {
        const char *id = json_string_value(json_object_get(ev, "id"));
        buf_printf(&s->sending, "id: %s\n", id != NULL ? id : "");
    }
    json_decref(ev);
    return true;
}

/* One message of the subscription as an SSE event into s->sending. */
static void sse_event(struct sse *s, const struct resp_value *v)
{
    if ((v->type != RESP_T_ARRAY && v->type != RESP_T_PUSH) || v->n != 3 || v->elems[0].str == NULL ||
        strcmp(v->elems[0].str, "message") != 0 || v->elems[2].type != RESP_T_BULK)
        return; /* the subscribe confirmation */
    const struct resp_value *payload = &v->elems[2];
    char position[32];
    if (sse_fast_position(payload->str, payload->len, s->by_version, position, sizeof position))
        buf_printf(&s->sending, "id: %s\n", position);
    else if (!sse_parsed_position(s, payload->str, payload->len))
        return;
    /* The codec writes compact JSON; a line break would still end a data
     * line, so each line is one. */
    const char *p = payload->str, *end = p + payload->len;
    while (p <= end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl != NULL ? nl : end;
        buf_append_str(&s->sending, "data: ");
        buf_append(&s->sending, p, (size_t)(stop - p));
        buf_append_char(&s->sending, '\n');
        p = stop + 1;
    }
    buf_append_char(&s->sending, '\n');
}

static void sse_send(struct sse *s, h2o_send_state_t state)
{
    h2o_iovec_t b = h2o_iovec_init(s->sending.data, s->sending.len);
    s->busy = true;
    h2o_send(s->rq->req, &b, s->sending.len > 0 ? 1 : 0, state);
}

static void sse_start(struct sse *s)
{
    h2o_req_t *req = s->rq->req;
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/event-stream"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-accel-buffering"), 0, NULL, H2O_STRLIT("no"));
    h2o_start_response(req, &s->gen);
    s->started = true;
    buf_append_str(&s->sending, ": subscribed\n\n");
}

/* The subscription's output, complete messages only. */
static void sse_flush(void *data, struct conn *c, struct buf *out)
{
    struct sse *s = data;
    if (s->rq == NULL) {
        buf_reset(out);
        return;
    }
    if (s->busy)
        return; /* left unsent: the subscription's flow control sees it */
    resp_reader_feed(&s->reader, out->data, out->len);
    buf_reset(out);
    buf_reset(&s->sending);
    struct resp_value v;
    while (resp_reader_next(&s->reader, &v) == 1) {
        if (!s->started && v.type == RESP_T_ERROR) {
            /* SUBSCRIBE refused the spec: an answer, not a stream. */
            struct buf body;
            buf_init(&body);
            const char *code;
            size_t code_len;
            int status = reply_status_of(v.str, v.len, &code, &code_len);
            char code_text[32];
            snprintf(code_text, sizeof code_text, "%.*s", (int)code_len, code);
            reply_error(&body, code_text, v.str, v.len);
            resp_value_free(&v);
            struct http_request *rq = s->rq;
            s->rq = NULL;
            respond_json(rq, status, body.data, body.len);
            buf_free(&body);
            return;
        }
        if (!s->started)
            sse_start(s);
        sse_event(s, &v);
        resp_value_free(&v);
    }
    if (s->sending.len > 0)
        sse_send(s, H2O_SEND_STATE_IN_PROGRESS);
}

static void sse_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    struct sse *s = (struct sse *)gen;
    s->busy = false;
    if (s->rq == NULL)
        return;
    if (s->ending) {
        buf_reset(&s->sending);
        sse_send(s, H2O_SEND_STATE_FINAL);
        s->rq = NULL;
        return;
    }
    if (s->conn != NULL)
        conn_wake(s->conn);
}

static void sse_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    /* The client went away: the request's disposal cleans up. */
}

/* The server closed the connection (shutdown): end the stream. */
static void sse_closed(void *data, struct conn *c)
{
    struct sse *s = data;
    s->conn = NULL;
    if (s->rq == NULL)
        return;
    if (!s->started) {
        struct http_request *rq = s->rq;
        s->rq = NULL;
        respond_error(rq, 503, "SHUTDOWN", "SHUTDOWN the server is shutting down");
        return;
    }
    s->ending = true;
    if (!s->busy) {
        buf_reset(&s->sending);
        sse_send(s, H2O_SEND_STATE_FINAL);
        s->rq = NULL;
    }
}

static const struct conn_sink sse_sink = {sse_flush, sse_closed};

static void sse_heartbeat(uv_timer_t *t)
{
    struct sse *s = t->data;
    if (s->rq == NULL || !s->started || s->busy || s->ending)
        return;
    buf_reset(&s->sending);
    buf_append_str(&s->sending, ": heartbeat\n\n");
    sse_send(s, H2O_SEND_STATE_IN_PROGRESS);
}

static void sse_free(uv_handle_t *h)
{
    struct sse *s = h->data;
    resp_reader_free(&s->reader);
    buf_free(&s->sending);
    free(s);
}

static void sse_dispose(void *p)
{
    struct sse *s = *(struct sse **)p;
    s->rq = NULL;
    struct conn *c = s->conn;
    s->conn = NULL;
    if (c != NULL)
        conn_release(c);
    uv_timer_stop(&s->heartbeat);
    uv_close((uv_handle_t *)&s->heartbeat, sse_free);
}

/* Run SUBSCRIBE spec for rq as an event stream. spec is taken. */
static void sse_run(struct http_request *rq, json_t *spec, bool by_version)
{
    char *text = json_dumps(spec, JSON_COMPACT);
    json_decref(spec);
    if (text == NULL) {
        respond_error(rq, 400, "bad_request", "the subscription could not be written as JSON (invalid UTF-8?)");
        return;
    }
    struct sse *s = xcalloc(1, sizeof *s);
    if (uv_timer_init(rq->http->loop, &s->heartbeat) != 0) {
        free(s);
        free(text);
        respond_error(rq, 503, "TRYAGAIN", "TRYAGAIN the event stream could not be set up; retry");
        return;
    }
    s->gen.proceed = sse_proceed;
    s->gen.stop = sse_stop;
    s->rq = rq;
    s->by_version = by_version;
    resp_reader_init(&s->reader, NULL);
    buf_init(&s->sending);
    s->heartbeat.data = s;
    if (uv_timer_start(&s->heartbeat, sse_heartbeat, SSE_HEARTBEAT_MS, SSE_HEARTBEAT_MS) != 0)
        log_warn("http: an event stream without heartbeats (its timer did not start)");
    uv_unref((uv_handle_t *)&s->heartbeat); /* the socket keeps the loop, not the heartbeat */
    struct sse **holder = h2o_mem_alloc_shared(&rq->req->pool, sizeof *holder, sse_dispose);
    *holder = s;
    s->conn = conn_open_sink(rq->http->srv, &sse_sink, s, rq->user);
    struct resp_command cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.argc = 2;
    cmd.argv[0] = (struct resp_arg){"SUBSCRIBE", 9};
    cmd.argv[1] = (struct resp_arg){text, strlen(text)};
    commands_dispatch(s->conn, &cmd);
    free(text);
}

/* The query's filters into spec; false (answered 400) if malformed. */
static bool sse_filters(struct http_request *rq, json_t *spec, bool prefix)
{
    /* A filter that cannot be read is refused, never dropped: dropped, the
     * subscriber would get every event instead of the ones it asked for. */
    static const char malformed[] = "malformed query string (a bad %-escape, or a value over 1024 bytes)";
    char value[1024];
    long n = query_get(rq->query, rq->query_len, "types", value, sizeof value);
    if (n == -2) {
        respond_error(rq, 400, "bad_request", malformed);
        return false;
    }
    if (n >= 0) {
        json_t *types = json_array();
        for (long i = 0; i <= n;) {
            const char *comma = memchr(value + i, ',', (size_t)(n - i));
            long end = comma != NULL ? (long)(comma - value) : n;
            /* Empty pieces (types=, types=A,) name no type. */
            json_t *t = end > i ? json_stringn(value + i, (size_t)(end - i)) : NULL;
            if (end > i && t == NULL) {
                json_decref(types);
                respond_error(rq, 400, "bad_request", "'types' must be valid UTF-8");
                return false;
            }
            if (t != NULL)
                json_array_append_new(types, t);
            i = end + 1;
        }
        if (json_array_size(types) > 0)
            json_object_set_new(spec, "types", types);
        else
            json_decref(types);
    }
    if (prefix) {
        n = query_get(rq->query, rq->query_len, "stream_prefix", value, sizeof value);
        if (n == -2) {
            respond_error(rq, 400, "bad_request", malformed);
            return false;
        }
        if (n >= 0) {
            json_t *p = json_stringn(value, (size_t)n);
            if (p == NULL) {
                respond_error(rq, 400, "bad_request", "'stream_prefix' must be valid UTF-8");
                return false;
            }
            json_object_set_new(spec, "stream_prefix", p);
        }
    }
    n = query_get(rq->query, rq->query_len, "markers", value, sizeof value);
    if (n == -2) {
        respond_error(rq, 400, "bad_request", malformed);
        return false;
    }
    if (n == 4 && memcmp(value, "true", 4) == 0)
        json_object_set_new(spec, "markers", json_true());
    return true;
}

void sse_stream(struct http_request *rq, const struct route *r, const char *const *params, const size_t *lens)
{
    json_t *spec = json_object();
    json_t *stream = json_stringn(params[0], lens[0]);
    if (stream == NULL) {
        json_decref(spec);
        respond_error(rq, 400, "bad_request", "the stream name is not valid UTF-8");
        return;
    }
    json_object_set_new(spec, "stream", stream);
    uint64_t version;
    int has = query_get_u64(rq->query, rq->query_len, "version", &version);
    const h2o_iovec_t *last = request_header(rq, "last-event-id");
    if (last != NULL) {
        /* Resume after the last event seen: its version + 1. */
        char text[24];
        int ok = last->len > 0 && last->len < sizeof text;
        for (size_t i = 0; ok && i < last->len; i++)
            ok = last->base[i] >= '0' && last->base[i] <= '9';
        if (ok) {
            memcpy(text, last->base, last->len);
            text[last->len] = '\0';
            errno = 0;
            unsigned long long seen = strtoull(text, NULL, 10);
            /* A version past the largest there can be is refused: + 1
             * would wrap it to 0 and replay the stream from its start. */
            ok = errno == 0 && seen < INT64_MAX;
            version = (uint64_t)seen + 1;
        }
        has = ok ? 1 : -1;
    }
    if (has < 0 || (has == 1 && version > INT64_MAX)) {
        json_decref(spec);
        respond_error(rq, 400, "bad_request", "'version' (or Last-Event-ID) must be a stream version");
        return;
    }
    if (has == 1)
        json_object_set_new(spec, "version", json_integer((json_int_t)version));
    if (!sse_filters(rq, spec, false)) {
        json_decref(spec);
        return;
    }
    sse_run(rq, spec, true);
}

void sse_all(struct http_request *rq, const struct route *r, const char *const *params, const size_t *lens)
{
    json_t *spec = json_object();
    json_object_set_new(spec, "all", json_true());
    char offset[64];
    long n = query_get(rq->query, rq->query_len, "offset", offset, sizeof offset);
    const h2o_iovec_t *last = request_header(rq, "last-event-id");
    if (last != NULL) {
        /* Resume strictly after the last event seen. */
        n = last->len < sizeof offset ? (long)last->len : -2;
        if (n >= 0)
            memcpy(offset, last->base, last->len);
    }
    json_t *o = n >= 0 ? json_stringn(offset, (size_t)n) : NULL;
    if (n == -2 || (n >= 0 && o == NULL)) {
        json_decref(spec);
        respond_error(rq, 400, "bad_request", "'offset' (or Last-Event-ID) must be an event id");
        return;
    }
    if (o != NULL)
        json_object_set_new(spec, "offset", o);
    if (!sse_filters(rq, spec, true)) {
        json_decref(spec);
        return;
    }
    sse_run(rq, spec, false);
}
