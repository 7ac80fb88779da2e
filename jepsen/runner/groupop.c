/* groupop.c - see groupop.h. */
#include "groupop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"

#define CONNECT_MS 1000

int gconn_ensure(struct gconn *c, char *err, size_t errlen)
{
    if (c->open)
        return 0;
    if (c->node < 0 || c->node >= c->nodes->n) {
        snprintf(err, errlen, "no node chosen");
        return -1;
    }
    if (rawresp_open(&c->c, c->nodes->addresses[c->node], CONNECT_MS, 0, err, errlen) != 0)
        return -1;
    c->open = true;
    return 0;
}

void gconn_close(struct gconn *c)
{
    if (c->open)
        rawresp_close(&c->c);
    c->open = false;
}

/* Errors after which nothing changed (docs/protocol.md, GROUP "Errors");
 * the lower-case ones are malformed arguments. UNKNOWN, IOERR and anything
 * not listed are unknown outcomes. */
static bool definite_error(const char *word)
{
    static const char *const words[] = {"MOVED", "NOLEADER", "TRYAGAIN", "FULL", "TOOBIG", "NOGROUP", "EXISTS",
                                        "NOTDELIVERED", "NOTPENDING", "invalid", "unknown", "too"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcmp(word, words[i]) == 0)
            return true;
    return false;
}

/* "MOVED 0 10.77.0.12:6543": the index of the node at that address. */
static int moved_target(const struct run_nodes *nodes, const char *msg)
{
    const char *addr = strrchr(msg, ' ');
    if (addr == NULL)
        return -1;
    for (int i = 0; i < nodes->n; i++)
        if (strcmp(nodes->addresses[i], addr + 1) == 0)
            return i;
    return -1;
}

static json_t *line(const struct gop *g, const char *type)
{
    json_t *e = json_pack("{s:s, s:i, s:I, s:s, s:I}", "type", type, "process", g->process, "op", (json_int_t)g->op,
                          "f", g->f, "time", (json_int_t)history_now());
    if (e == NULL || json_object_update(e, g->fields) != 0)
        abort();
    return e;
}

static void classify_error(struct gconn *c, struct gop *g, const char *text)
{
    snprintf(g->message, sizeof g->message, "%s", text);
    size_t w = strcspn(text, " ");
    snprintf(g->error, sizeof g->error, "%.*s", (int)(w < sizeof g->error ? w : sizeof g->error - 1), text);
    g->type = definite_error(g->error) ? GOP_FAIL : GOP_INFO;
    if (strcmp(g->error, "MOVED") == 0)
        g->moved = moved_target(c->nodes, text);
}

/* The request went out (or may have); wait for its reply. */
static void await_reply(struct gconn *c, struct gop *g, int timeout_ms)
{
    char err[256];
    if (timeout_ms == 0) {
        g->type = GOP_INFO;
        snprintf(g->error, sizeof g->error, "abandoned");
        snprintf(g->message, sizeof g->message, "the consumer closed its connection without reading the reply");
        gconn_close(c);
        return;
    }
    int got = rawresp_read(&c->c, timeout_ms, &g->reply, err, sizeof err);
    if (got != 1) {
        g->type = GOP_INFO;
        snprintf(g->error, sizeof g->error, "%s", got == 0 ? "timeout" : "connection");
        snprintf(g->message, sizeof g->message, "%s", got == 0 ? "no reply within the timeout" : err);
        gconn_close(c);
        return;
    }
    if (g->reply.type == RESP_T_ERROR) {
        classify_error(c, g, g->reply.str);
        resp_value_free(&g->reply);
        return;
    }
    g->type = GOP_OK;
    g->has_reply = true;
}

void gop_call(struct gconn *c, int process, const char *f, const char *sub, json_t *request, json_t *extra,
              int timeout_ms, struct gop *g)
{
    memset(g, 0, sizeof *g);
    g->moved = -1;
    g->process = process;
    g->node = c->node;
    snprintf(g->f, sizeof g->f, "%s", f);
    g->fields = json_deep_copy(request);
    if (g->fields == NULL || (extra != NULL && json_object_update(g->fields, extra) != 0))
        abort();
    json_object_set_new(g->fields, "node", json_string(c->nodes->names[c->node]));
    g->op = history_next_op();
    history_write(line(g, "invoke"));

    char *arg = json_dumps(request, JSON_COMPACT);
    if (arg == NULL)
        abort();
    const char *argv[] = {"GROUP", sub, arg};
    char err[256];
    if (rawresp_send(&c->c, 3, argv, CONNECT_MS, err, sizeof err) != 0) {
        /* Part of it may have left: the outcome is unknown. */
        g->type = GOP_INFO;
        snprintf(g->error, sizeof g->error, "connection");
        snprintf(g->message, sizeof g->message, "%s", err);
        gconn_close(c);
    } else {
        await_reply(c, g, timeout_ms);
    }
    free(arg);
}

void gop_finish(struct gop *g, json_t *result)
{
    static const char *const types[] = {"ok", "fail", "info"};
    json_t *e = line(g, types[g->type]);
    if (g->type == GOP_OK) {
        if (result != NULL && json_object_update(e, result) != 0)
            abort();
    } else {
        json_object_set_new(e, "error", json_string(g->error));
        json_object_set_new(e, "message", json_string(g->message));
    }
    json_decref(result);
    history_write(e);
    if (g->has_reply)
        resp_value_free(&g->reply);
    g->has_reply = false;
    json_decref(g->fields);
    g->fields = NULL;
}

static json_t *parse_json(const struct resp_value *v, char *err, size_t errlen)
{
    if (v->type != RESP_T_BULK && v->type != RESP_T_SIMPLE) {
        snprintf(err, errlen, "not a string in the reply");
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(v->str, v->len, 0, &je);
    if (j == NULL)
        snprintf(err, errlen, "not JSON: %.200s", je.text);
    return j;
}

json_t *gop_query(const char *address, const char *sub, const char *arg, int timeout_ms, char *err, size_t errlen)
{
    char name[32];
    snprintf(name, sizeof name, "GROUP %s", sub);
    struct resp_value v;
    if (rawresp_call(address, name, arg, timeout_ms, &v, err, errlen) != 0)
        return NULL;
    json_t *out = NULL;
    if (v.type == RESP_T_ERROR) {
        snprintf(err, errlen, "%.300s", v.str);
    } else if (v.type == RESP_T_ARRAY) {
        out = json_array();
        for (size_t i = 0; i < v.n && out != NULL; i++) {
            json_t *el = parse_json(&v.elems[i], err, errlen);
            if (el == NULL) {
                json_decref(out);
                out = NULL;
            } else {
                json_array_append_new(out, el);
            }
        }
    } else {
        out = parse_json(&v, err, errlen);
    }
    resp_value_free(&v);
    return out;
}
