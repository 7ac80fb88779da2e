/* reply.c - RESP replies to JSON (see reply.h). */
#include "http/reply.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/resp_reader.h"

/* A JSON string of p[0..len), escaped by jansson. Text that is not valid
 * UTF-8 (a client's bytes echoed in an error) goes with its bytes above
 * 0x7f as '?', so the document stays valid. */
static void reply_string(struct buf *body, const char *p, size_t len)
{
    json_t *s = json_stringn(p, len);
    if (s == NULL) {
        char *ascii = malloc(len + 1);
        if (ascii == NULL) {
            buf_append_str(body, "\"\"");
            return;
        }
        for (size_t i = 0; i < len; i++)
            ascii[i] = (unsigned char)p[i] < 0x80 ? p[i] : '?';
        s = json_stringn(ascii, len);
        free(ascii);
    }
    size_t need = s != NULL ? json_dumpb(s, NULL, 0, JSON_ENCODE_ANY | JSON_COMPACT) : 0;
    if (need == 0) {
        json_decref(s);
        buf_append_str(body, "\"\"");
        return;
    }
    char *at = buf_reserve(body, need);
    buf_commit(body, json_dumpb(s, at, need, JSON_ENCODE_ANY | JSON_COMPACT));
    json_decref(s);
}

/* An object key: as a string, but without NUL, which many JSON parsers
 * refuse in keys. */
static void reply_key(struct buf *body, const char *p, size_t len)
{
    char *key = malloc(len + 1);
    if (key == NULL) {
        buf_append_str(body, "\"\"");
        return;
    }
    for (size_t i = 0; i < len; i++)
        key[i] = p[i] != '\0' ? p[i] : '?';
    reply_string(body, key, len);
    free(key);
}

/* A bulk that is a JSON object or array goes in as it is, once jansson
 * has seen that it is well formed (PING echoes what the client sent). */
static bool reply_is_json(const char *p, size_t len, bool trusted)
{
    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    if (i == len || (p[i] != '{' && p[i] != '['))
        return false;
    if (trusted)
        return true;
    json_t *j = json_loadb(p, len, 0, NULL);
    if (j == NULL)
        return false;
    json_decref(j);
    return true;
}

static void reply_value(struct buf *body, const struct resp_value *v, bool trusted)
{
    switch (v->type) {
    case RESP_T_SIMPLE:
    case RESP_T_ERROR:
        reply_string(body, v->str, v->len);
        break;
    case RESP_T_BULK:
        if (reply_is_json(v->str, v->len, trusted))
            buf_append(body, v->str, v->len);
        else
            reply_string(body, v->str, v->len);
        break;
    case RESP_T_INT:
        buf_printf(body, "%lld", (long long)v->integer);
        break;
    case RESP_T_NULL:
        buf_append_str(body, "null");
        break;
    case RESP_T_MAP:
        buf_append_char(body, '{');
        for (size_t i = 0; i + 1 < v->n; i += 2) {
            if (i > 0)
                buf_append_char(body, ',');
            const struct resp_value *k = &v->elems[i];
            if (k->type == RESP_T_INT) {
                buf_printf(body, "\"%lld\"", (long long)k->integer);
            } else if (k->str != NULL) {
                reply_key(body, k->str, k->len);
            } else {
                buf_append_str(body, "\"\"");
            }
            buf_append_char(body, ':');
            reply_value(body, &v->elems[i + 1], trusted);
        }
        buf_append_char(body, '}');
        break;
    case RESP_T_ARRAY:
    case RESP_T_PUSH:
        buf_append_char(body, '[');
        for (size_t i = 0; i < v->n; i++) {
            if (i > 0)
                buf_append_char(body, ',');
            reply_value(body, &v->elems[i], trusted);
        }
        buf_append_char(body, ']');
        break;
    }
}

/* EventflowDB's error wordings have no code word of their own. */
static const struct {
    const char *message;
    const char *code;
    int status;
} wordings[] = {
    {"unauthorized", "unauthorized", 401},
    {"unknown command", "unknown_command", 404},
    {"concurrent stream modification", "conflict", 409},
    {"given version leaves gap in stream", "version_gap", 409},
};

/* Codes eventflow's own errors start with (commands.c, reads.c). */
static const struct {
    const char *code;
    int status;
} code_status[] = {
    {"MOVED", 421},    {"NOLEADER", 503}, {"TRYAGAIN", 503}, {"STALE", 503},   {"SHUTDOWN", 503},
    {"FULL", 507},     {"TOOBIG", 413},   {"KEYREUSE", 409}, {"UNKNOWN", 500}, {"IOERR", 500},
    {"TIMEOUT", 504}, {"BUSY", 503},  {"NOGROUP", 404}, {"EXISTS", 409},
    {"NOTDELIVERED", 409}, {"NOTPENDING", 409}, {"NOCONSUMER", 404}, {"HOLDING", 409}, {"NOPERM", 403},
    {"NOSTREAM", 404}, {"DELETED", 410}, {"REMOVED", 410}, {"BEYOND", 409},
};

int reply_status_of(const char *message, size_t len, const char **code, size_t *code_len)
{
    for (size_t i = 0; i < sizeof wordings / sizeof wordings[0]; i++) {
        size_t n = strlen(wordings[i].message);
        if (len >= n && memcmp(message, wordings[i].message, n) == 0) {
            *code = wordings[i].code;
            *code_len = strlen(*code);
            return wordings[i].status;
        }
    }
    size_t w = 0;
    while (w < len && message[w] >= 'A' && message[w] <= 'Z')
        w++;
    for (size_t i = 0; w >= 2 && (w == len || message[w] == ' ') && i < sizeof code_status / sizeof code_status[0];
         i++) {
        if (strlen(code_status[i].code) == w && memcmp(message, code_status[i].code, w) == 0) {
            *code = message;
            *code_len = w;
            return code_status[i].status;
        }
    }
    *code = "bad_request";
    *code_len = strlen(*code);
    return 400;
}

void reply_error(struct buf *body, const char *code, const char *message, size_t len)
{
    buf_append_str(body, "{\"error\":{\"code\":");
    reply_string(body, code, strlen(code));
    buf_append_str(body, ",\"message\":");
    reply_string(body, message, len);
    buf_append_str(body, "}}");
}

int reply_to_json(const char *resp, size_t len, bool trusted, struct buf *body)
{
    struct resp_reader r;
    struct resp_value v;
    resp_reader_init(&r, NULL);
    resp_reader_feed(&r, resp, len);
    int rc = resp_reader_next(&r, &v);
    resp_reader_free(&r);
    if (rc != 1) {
        static const char msg[] = "the reply could not be converted";
        reply_error(body, "internal", msg, sizeof msg - 1);
        return 500;
    }
    int status = 200;
    if (v.type == RESP_T_ERROR) {
        const char *code;
        size_t code_len;
        status = reply_status_of(v.str, v.len, &code, &code_len);
        char code_text[32];
        snprintf(code_text, sizeof code_text, "%.*s", (int)code_len, code);
        reply_error(body, code_text, v.str, v.len);
    } else {
        buf_append_str(body, "{\"result\":");
        reply_value(body, &v, trusted);
        buf_append_char(body, '}');
    }
    resp_value_free(&v);
    return status;
}
