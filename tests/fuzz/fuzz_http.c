/* fuzz_http.c - fuzz target for the HTTP layer's request handling that is
 * eventflow's own (h2o parses the HTTP): routing, query strings, the
 * Authorization header, and RESP replies converted to JSON.
 *
 * Input: "METHOD PATH[?QUERY]\n", then an Authorization value and "\n",
 * then the bytes of a RESP reply (each part may be cut short). Checks:
 * a route's parameters are decoded within the path's length; every query
 * value is no longer than its raw text and numbers agree with their
 * text; the password matches only itself; and every reply, whatever its
 * bytes, becomes a status and a well-formed JSON document with exactly
 * one of "result" or "error". */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "http/auth.h"
#include "http/query.h"
#include "http/reply.h"
#include "http/router.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void h(struct http_request *rq, const struct route *r, const char *const *p, const size_t *l) {}

/* The shapes of src/http/routes.c's table. */
static const struct route table[] = {
    {"GET", "/health", h, 1},           {"GET", "/status", h, 0},
    {"GET", "/cluster", h, 0},          {"POST", "/api/group/*", h, 0},
    {"POST", "/api/*", h, 0},           {"GET", "/api/*", h, 0},
    {"GET", "/streams", h, 0},          {"POST", "/streams/*", h, 0},
    {"GET", "/streams/*", h, 0},        {"GET", "/streams/*/subscribe", h, 0},
    {"GET", "/all", h, 0},              {"GET", "/all/subscribe", h, 0},
};

static const char *const names[] = {"version", "limit", "offset", "skip", "stream_prefix", "types", "min_id", ""};

static const uint8_t *cut(const uint8_t **p, const uint8_t *end, size_t *len)
{
    const uint8_t *start = *p;
    const uint8_t *nl = memchr(start, '\n', (size_t)(end - start));
    const uint8_t *stop = nl != NULL ? nl : end;
    *len = (size_t)(stop - start);
    *p = nl != NULL ? nl + 1 : end;
    return start;
}

static void fuzz_route(const char *line, size_t len)
{
    const char *sp = memchr(line, ' ', len);
    if (sp == NULL)
        return;
    size_t method_len = (size_t)(sp - line);
    const char *path = sp + 1;
    size_t path_len = len - method_len - 1;
    const char *q = memchr(path, '?', path_len);
    const char *query = NULL;
    size_t query_len = 0;
    if (q != NULL) {
        query = q + 1;
        query_len = path_len - (size_t)(q - path) - 1;
        path_len = (size_t)(q - path);
    }
    char *scratch = malloc(path_len + 1);
    CHECK(scratch != NULL);
    struct router_match m;
    enum router_result rc =
        router_match(table, sizeof table / sizeof table[0], line, method_len, path, path_len, scratch, &m);
    CHECK(rc == ROUTER_FOUND || rc == ROUTER_NOT_FOUND || rc == ROUTER_BAD_METHOD || rc == ROUTER_BAD_PATH);
    if (rc == ROUTER_FOUND) {
        CHECK(m.route != NULL);
        CHECK(strlen(m.route->method) == method_len && memcmp(m.route->method, line, method_len) == 0);
        size_t total = 0;
        for (size_t i = 0; i < m.n_params; i++) {
            CHECK(m.params[i] >= scratch && m.params[i] + m.param_lens[i] <= scratch + path_len);
            total += m.param_lens[i];
        }
        CHECK(total <= path_len);
    } else {
        CHECK(m.route == NULL);
    }
    free(scratch);

    char out[64];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        long n = query_get(query, query_len, names[i], out, sizeof out);
        CHECK(n >= -2 && n <= (long)sizeof out && (n < 0 || (size_t)n <= query_len));
        uint64_t v;
        int u = query_get_u64(query, query_len, names[i], &v);
        CHECK(u >= -1 && u <= 1);
        if (u == 1) {
            CHECK(n > 0);
            for (long k = 0; k < n; k++)
                CHECK(out[k] >= '0' && out[k] <= '9');
        }
        if (n == -1)
            CHECK(u == 0);
    }
}

static void fuzz_auth(const char *h, size_t len)
{
    char *scratch = malloc(len + 1);
    CHECK(scratch != NULL);
    struct auth_creds c;
    if (auth_parse(h, len, scratch, &c)) {
        /* The parts lie inside the header (a Bearer token) or inside what
         * its base64 decoded to (never longer than the header). */
        if (c.user == NULL) {
            CHECK(c.password > h && c.password + c.password_len == h + len && c.password_len > 0);
        } else {
            CHECK(c.user == scratch);
            CHECK(c.password == c.user + c.user_len + 1);
            CHECK(c.user_len + 1 + c.password_len <= len);
        }
    }
    free(scratch);
}

static void fuzz_reply(const char *resp, size_t len)
{
    struct buf body;
    buf_init(&body);
    int status = reply_to_json(resp, len, false, &body);
    CHECK(status == 200 || (status >= 400 && status <= 507));
    json_error_t err;
    json_t *doc = json_loadb(body.data, body.len, JSON_ALLOW_NUL, &err);
    if (doc == NULL) {
        fprintf(stderr, "not JSON (%s): %.*s\n", err.text, (int)body.len, body.data);
        abort();
    }
    CHECK(json_is_object(doc));
    bool result = json_object_get(doc, "result") != NULL;
    bool error = json_object_get(doc, "error") != NULL;
    CHECK(result != error);
    CHECK(result == (status == 200));
    if (error) {
        json_t *e = json_object_get(doc, "error");
        CHECK(json_is_string(json_object_get(e, "code")));
        CHECK(json_is_string(json_object_get(e, "message")));
    }
    json_decref(doc);
    /* Trusted, the same reply converts without a fault and with the same
     * status (what is embedded unchecked is the caller's to vouch for). */
    buf_reset(&body);
    CHECK(reply_to_json(resp, len, true, &body) == status);
    buf_free(&body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    size_t line_len, auth_len;
    const uint8_t *line = cut(&p, end, &line_len);
    const uint8_t *auth = cut(&p, end, &auth_len);
    fuzz_route((const char *)line, line_len);
    fuzz_auth((const char *)auth, auth_len);
    fuzz_reply((const char *)p, (size_t)(end - p));
    return 0;
}
