/* sub_wire.c - a subscription's spec, messages and position (sub_wire.h). */
#include "client/sub_wire.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/ulid.h"
#include "eventflow/errors.h"

#define LIT(b, s) buf_append((b), (s), sizeof(s) - 1)

static int fail(char err[EF_ERR_LEN], const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(char err[EF_ERR_LEN], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, EF_ERR_LEN, fmt, ap);
    va_end(ap);
    return EF_EINVAL;
}

/* ---- the spec --------------------------------------------------------- */

static bool text_ok(const char *s)
{
    return s != NULL && s[0] != '\0' && ef_utf8_valid(s, strlen(s));
}

/* The position the spec starts from, checking what goes with what. */
static int start_of(const struct eventflow_sub_spec *in, struct ef_sub_pos *pos, char err[EF_ERR_LEN])
{
    bool all = in->stream == NULL;
    memset(pos, 0, sizeof *pos);
    switch (in->from) {
    case EF_SUB_FROM_END:
        return EF_OK;
    case EF_SUB_FROM_START:
        pos->known = true;
        return EF_OK;
    case EF_SUB_FROM_VERSION:
        if (all)
            return fail(err, "EF_SUB_FROM_VERSION is for a stream; the global log starts after an id");
        pos->known = true;
        pos->version = in->version;
        return EF_OK;
    case EF_SUB_AFTER_ID: {
        if (!all)
            return fail(err, "EF_SUB_AFTER_ID is for the global log; a stream starts at a version");
        /* Parsed and written back: ids compare as text, in the server's
         * spelling (upper case, no aliases). */
        uint8_t raw[ULID_BYTES];
        if (in->after_id == NULL || ulid_parse(in->after_id, strlen(in->after_id), raw) != 0)
            return fail(err, "after_id must be an event id (%d characters of Crockford base32)",
                        EF_ID_LEN);
        ulid_format(raw, pos->id);
        pos->known = true;
        return EF_OK;
    }
    }
    return fail(err, "unknown 'from' (%d)", (int)in->from);
}

int ef_sub_spec_copy(const struct eventflow_sub_spec *in, struct ef_sub_spec *out,
                     struct ef_sub_pos *pos, char err[EF_ERR_LEN])
{
    memset(out, 0, sizeof *out);
    if (in->stream != NULL && !text_ok(in->stream))
        return fail(err, "the stream name must be non-empty UTF-8 (NULL: the global log)");
    if (in->stream != NULL && in->stream_prefix != NULL)
        return fail(err, "stream_prefix is for the global log");
    if (in->stream_prefix != NULL && !text_ok(in->stream_prefix))
        return fail(err, "stream_prefix must be non-empty UTF-8 (NULL: every stream)");
    if (in->n_types > EF_SUB_MAX_TYPES || (in->n_types > 0 && in->types == NULL))
        return fail(err, "types: at most %d, and n_types of them given", EF_SUB_MAX_TYPES);
    for (size_t i = 0; i < in->n_types; i++)
        if (!text_ok(in->types[i]))
            return fail(err, "type %zu must be non-empty UTF-8", i);
    if ((unsigned)in->node > EF_SUB_ON_LEADER)
        return fail(err, "unknown node preference (%d)", (int)in->node);
    int rc = start_of(in, pos, err);
    if (rc != EF_OK)
        return rc;
    out->all = in->stream == NULL;
    out->stream = in->stream != NULL ? xstrdup(in->stream) : NULL;
    out->stream_prefix = in->stream_prefix != NULL ? xstrdup(in->stream_prefix) : NULL;
    if (in->n_types > 0) {
        out->types = xcalloc(in->n_types, sizeof *out->types);
        for (size_t i = 0; i < in->n_types; i++)
            out->types[i] = xstrdup(in->types[i]);
        out->n_types = in->n_types;
    }
    out->markers = in->markers;
    out->node = in->node;
    return EF_OK;
}

void ef_sub_spec_free(struct ef_sub_spec *s)
{
    free(s->stream);
    free(s->stream_prefix);
    for (size_t i = 0; i < s->n_types; i++)
        free(s->types[i]);
    free(s->types);
    memset(s, 0, sizeof *s);
}

/* A string checked by ef_sub_spec_copy (or an id we wrote): valid UTF-8. */
static void put_checked(struct buf *out, const char *s)
{
    (void)ef_json_put_string(out, s, strlen(s));
}

void ef_sub_spec_json(struct buf *out, const struct ef_sub_spec *spec, const struct ef_sub_pos *pos)
{
    if (spec->all) {
        LIT(out, "{\"all\":true");
        if (pos->known) {
            LIT(out, ",\"offset\":");
            put_checked(out, pos->id);
        }
        if (spec->stream_prefix != NULL) {
            LIT(out, ",\"stream_prefix\":");
            put_checked(out, spec->stream_prefix);
        }
    } else {
        LIT(out, "{\"stream\":");
        put_checked(out, spec->stream);
        if (pos->known)
            buf_printf(out, ",\"version\":%" PRIu64, pos->version);
    }
    if (spec->n_types > 0) {
        LIT(out, ",\"types\":[");
        for (size_t i = 0; i < spec->n_types; i++) {
            if (i > 0)
                buf_append_char(out, ',');
            put_checked(out, spec->types[i]);
        }
        buf_append_char(out, ']');
    }
    LIT(out, ",\"markers\":true}");
}

/* ---- what arrives ----------------------------------------------------- */

static bool is_word(const struct resp_value *v, const char *w)
{
    return (v->type == RESP_T_BULK || v->type == RESP_T_SIMPLE) && strcmp(v->str, w) == 0;
}

enum ef_push ef_sub_push_read(const struct resp_value *v, const char **json, size_t *len)
{
    if (v->type == RESP_T_ERROR)
        return EF_PUSH_ERROR;
    if ((v->type != RESP_T_ARRAY && v->type != RESP_T_PUSH) || v->n == 0)
        return EF_PUSH_OTHER;
    const struct resp_value *e = v->elems;
    if (is_word(&e[0], "pong"))
        return EF_PUSH_PONG;
    if (v->n == 3 && is_word(&e[0], "subscribe") && e[2].type == RESP_T_INT)
        return EF_PUSH_SUBSCRIBED;
    if (v->n == 3 && is_word(&e[0], "message") && e[2].type == RESP_T_BULK) {
        *json = e[2].str;
        *len = e[2].len;
        return EF_PUSH_MESSAGE;
    }
    return EF_PUSH_OTHER;
}

int ef_sub_marker_read(const char *text, size_t len, struct ef_sub_marker *m, char err[EF_ERR_LEN])
{
    memset(m, 0, sizeof *m);
    /* Events are far more common than markers: an event's JSON starts
     * with its id, a marker's with "marker", so most messages are told
     * apart without parsing them twice. */
    static const char head[] = "{\"marker\":";
    if (len < sizeof head - 1 || memcmp(text, head, sizeof head - 1) != 0)
        return 0;
    json_error_t je;
    json_t *o = json_loadb(text, len, 0, &je);
    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        snprintf(err, EF_ERR_LEN, "a marker that is not a JSON object");
        return EF_EPROTO;
    }
    const char *kind = json_string_value(json_object_get(o, "marker"));
    int rc = 1;
    if (kind != NULL && strcmp(kind, "caught_up") == 0) {
        m->kind = EF_SUB_CAUGHT_UP;
        const char *id = json_string_value(json_object_get(o, "id"));
        json_t *v = json_object_get(o, "version");
        if (id == NULL || (id[0] != '\0' && strlen(id) != EF_ID_LEN)) {
            rc = EF_EPROTO;
        } else {
            memcpy(m->id, id, strlen(id) + 1);
            if (json_is_integer(v) && json_integer_value(v) >= 0) {
                m->has_version = true;
                m->version = (uint64_t)json_integer_value(v);
            } else if (v != NULL) {
                rc = EF_EPROTO;
            }
        }
    } else if (kind != NULL && (strcmp(kind, "stale") == 0 || strcmp(kind, "current") == 0)) {
        m->kind = kind[0] == 's' ? EF_SUB_STALE : EF_SUB_CURRENT;
        json_t *age = json_object_get(o, "last_contact_ms");
        if (json_is_integer(age) && json_integer_value(age) >= 0)
            m->last_contact_ms = (uint64_t)json_integer_value(age);
    } else {
        rc = EF_EPROTO;
    }
    if (rc != 1)
        snprintf(err, EF_ERR_LEN, "unexpected marker: %.*s", (int)(len > 120 ? 120 : len), text);
    json_decref(o);
    return rc;
}

/* ---- the position ----------------------------------------------------- */

bool ef_sub_pos_event(struct ef_sub_pos *pos, bool all, const struct eventflow_event *ev)
{
    if (all) {
        if (pos->known && strcmp(ev->id, pos->id) <= 0)
            return false;
        memcpy(pos->id, ev->id, EF_ID_LEN + 1);
    } else {
        if (pos->known && ev->version < pos->version)
            return false;
        pos->version = ev->version + 1;
    }
    pos->known = true;
    return true;
}

void ef_sub_pos_caught_up(struct ef_sub_pos *pos, bool all, const struct ef_sub_marker *m)
{
    if (all) {
        if (!pos->known || strcmp(m->id, pos->id) > 0)
            memcpy(pos->id, m->id, EF_ID_LEN + 1);
    } else {
        if (!m->has_version)
            return;
        if (!pos->known || m->version > pos->version)
            pos->version = m->version;
    }
    pos->known = true;
}
