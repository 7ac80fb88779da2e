/* group_wire.c - GROUP arguments out, GROUP replies in (group_wire.h). */
#include "client/group_wire.h"

#include <inttypes.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/ulid.h"

/* ---- arguments ---------------------------------------------------------- */

int ef_group_name_check(const char *name, const char *what, char err[EF_ERR_LEN])
{
    if (name == NULL || name[0] == '\0')
        return ef_json_fail(err, EF_EINVAL, "the %s name is missing", what);
    size_t len = strlen(name);
    if (len > EF_GROUP_NAME_MAX)
        return ef_json_fail(err, EF_EINVAL, "the %s name is longer than %d bytes", what, EF_GROUP_NAME_MAX);
    for (size_t i = 0; i < len; i++)
        if (name[i] < 0x20 || name[i] > 0x7e)
            return ef_json_fail(err, EF_EINVAL, "the %s name must be printable ASCII", what);
    return EF_OK;
}

/* An event id, checked to be one: it goes into the argument as it is, so
 * nothing but Crockford base32 may reach it. */
static bool id_ok(const char *id)
{
    uint8_t raw[ULID_BYTES];
    return id != NULL && strlen(id) == EF_ID_LEN && ulid_parse(id, EF_ID_LEN, raw) == 0;
}

/* "key": value for a string checked to be valid UTF-8. */
static int put_field(struct buf *out, const char *key, const char *s, char err[EF_ERR_LEN])
{
    buf_printf(out, ",\"%s\":", key);
    if (ef_json_put_string(out, s, strlen(s)) != 0)
        return ef_json_fail(err, EF_EINVAL, "'%s' is not valid UTF-8", key);
    return EF_OK;
}

/* `{"group":"g"` with the name checked: every argument starts so. Names
 * are printable ASCII, so only '"' and '\' need escaping. */
static int open_group(struct buf *out, const char *group, char err[EF_ERR_LEN])
{
    int rc = ef_group_name_check(group, "group", err);
    if (rc != EF_OK)
        return rc;
    buf_append_str(out, "{\"group\":");
    ef_json_put_string(out, group, strlen(group));
    return EF_OK;
}

/* "from" (create) or "to" (seek). */
static int put_position(struct buf *out, const char *key, const struct eventflow_group_position *p,
                        char err[EF_ERR_LEN])
{
    switch (p->from) {
    case EF_GROUP_FROM_START:
        buf_printf(out, ",\"%s\":\"start\"", key);
        return EF_OK;
    case EF_GROUP_FROM_END:
        buf_printf(out, ",\"%s\":\"end\"", key);
        return EF_OK;
    case EF_GROUP_FROM_VERSION:
        buf_printf(out, ",\"%s\":%" PRIu64, key, p->version);
        return EF_OK;
    case EF_GROUP_AFTER_ID:
        if (!id_ok(p->after_id))
            return ef_json_fail(err, EF_EINVAL, "'%s' needs an event id (%d characters)", key, EF_ID_LEN);
        return put_field(out, key, p->after_id, err);
    }
    return ef_json_fail(err, EF_EINVAL, "unknown position kind %d", (int)p->from);
}

int ef_group_json_name(struct buf *out, const char *group, char err[EF_ERR_LEN])
{
    int rc = open_group(out, group, err);
    buf_append_char(out, '}');
    return rc;
}

int ef_group_json_create(struct buf *out, const struct eventflow_group_spec *spec,
                         char err[EF_ERR_LEN])
{
    int rc = open_group(out, spec->group, err);
    if (rc != EF_OK)
        return rc;
    if (spec->all == (spec->stream != NULL))
        return ef_json_fail(err, EF_EINVAL, "a group needs either a stream or all");
    if (spec->all)
        buf_append_str(out, ",\"all\":true");
    else if ((rc = put_field(out, "stream", spec->stream, err)) != EF_OK)
        return rc;
    if (spec->stream_prefix != NULL && (rc = put_field(out, "stream_prefix", spec->stream_prefix, err)) != EF_OK)
        return rc;
    if (spec->n_types > 0) {
        buf_append_str(out, ",\"types\":[");
        for (size_t i = 0; i < spec->n_types; i++) {
            const char *t = spec->types[i];
            if (i > 0)
                buf_append_char(out, ',');
            if (t == NULL || ef_json_put_string(out, t, strlen(t)) != 0)
                return ef_json_fail(err, EF_EINVAL, "type %zu is missing or not valid UTF-8", i);
        }
        buf_append_char(out, ']');
    }
    if ((rc = put_position(out, "from", &spec->start, err)) != EF_OK)
        return rc;
    if (spec->ack_wait_ms > 0)
        buf_printf(out, ",\"ack_wait_ms\":%" PRIu32, spec->ack_wait_ms);
    if (spec->max_deliveries == EF_GROUP_NEVER_PARK)
        buf_append_str(out, ",\"max_deliveries\":0");
    else if (spec->max_deliveries > 0)
        buf_printf(out, ",\"max_deliveries\":%" PRId32, spec->max_deliveries);
    else if (spec->max_deliveries < 0)
        return ef_json_fail(err, EF_EINVAL, "max_deliveries must be >= 0 or EF_GROUP_NEVER_PARK");
    if (spec->max_ack_pending > 0)
        buf_printf(out, ",\"max_ack_pending\":%" PRIu32, spec->max_ack_pending);
    buf_append_char(out, '}');
    return EF_OK;
}

int ef_group_json_seek(struct buf *out, const char *group, const struct eventflow_group_position *to,
                       char err[EF_ERR_LEN])
{
    int rc = open_group(out, group, err);
    if (rc == EF_OK)
        rc = put_position(out, "to", to, err);
    buf_append_char(out, '}');
    return rc;
}

/* `{"group":g,"consumer":c` with both names checked. */
static int open_consumer(struct buf *out, const char *group, const char *consumer, char err[EF_ERR_LEN])
{
    int rc = open_group(out, group, err);
    if (rc == EF_OK)
        rc = ef_group_name_check(consumer, "consumer", err);
    return rc == EF_OK ? put_field(out, "consumer", consumer, err) : rc;
}

int ef_group_json_consumer(struct buf *out, const char *group, const char *consumer, char err[EF_ERR_LEN])
{
    int rc = open_consumer(out, group, consumer, err);
    if (rc == EF_OK)
        buf_append_char(out, '}');
    return rc;
}

int ef_group_json_read(struct buf *out, const char *group, const char *consumer, uint32_t count,
                       uint32_t block_ms, char err[EF_ERR_LEN])
{
    int rc = open_consumer(out, group, consumer, err);
    if (rc != EF_OK)
        return rc;
    if (count > EF_GROUP_READ_MAX)
        return ef_json_fail(err, EF_EINVAL, "a read hands out at most %d events", EF_GROUP_READ_MAX);
    if (block_ms > EF_GROUP_BLOCK_MAX)
        return ef_json_fail(err, EF_EINVAL, "a read waits at most %d ms", EF_GROUP_BLOCK_MAX);
    if (count > 0)
        buf_printf(out, ",\"count\":%" PRIu32, count);
    if (block_ms > 0)
        buf_printf(out, ",\"block_ms\":%" PRIu32, block_ms);
    buf_append_char(out, '}');
    return EF_OK;
}

int ef_group_json_ids(struct buf *out, const char *group, const char *const *ids, size_t n, bool park,
                      char err[EF_ERR_LEN])
{
    int rc = open_group(out, group, err);
    if (rc != EF_OK)
        return rc;
    if (n == 0 || n > EF_GROUP_IDS_MAX)
        return ef_json_fail(err, EF_EINVAL, "give 1 to %d event ids", EF_GROUP_IDS_MAX);
    buf_append_str(out, ",\"ids\":[");
    for (size_t i = 0; i < n; i++) {
        if (!id_ok(ids[i]))
            return ef_json_fail(err, EF_EINVAL, "id %zu is not an event id (%d characters)", i, EF_ID_LEN);
        buf_printf(out, "%s\"%s\"", i > 0 ? "," : "", ids[i]);
    }
    buf_append_str(out, park ? "],\"park\":true}" : "]}");
    return EF_OK;
}

int ef_group_json_replay_count(struct buf *out, const char *group, uint32_t count, char err[EF_ERR_LEN])
{
    int rc = open_group(out, group, err);
    if (rc != EF_OK)
        return rc;
    if (count > EF_GROUP_IDS_MAX)
        return ef_json_fail(err, EF_EINVAL, "a replay takes at most %d events", EF_GROUP_IDS_MAX);
    if (count > 0)
        buf_printf(out, ",\"count\":%" PRIu32, count);
    buf_append_char(out, '}');
    return EF_OK;
}

int ef_group_json_list(struct buf *out, const char *group, const char *consumer, const char *after,
                       uint32_t count, char err[EF_ERR_LEN])
{
    int rc = open_group(out, group, err);
    if (rc == EF_OK && consumer != NULL && (rc = ef_group_name_check(consumer, "consumer", err)) == EF_OK)
        rc = put_field(out, "consumer", consumer, err);
    if (rc != EF_OK)
        return rc;
    if (after != NULL && after[0] != '\0') {
        if (!id_ok(after))
            return ef_json_fail(err, EF_EINVAL, "'after' is not an event id (%d characters)", EF_ID_LEN);
        buf_printf(out, ",\"after\":\"%s\"", after);
    }
    if (count > 0)
        buf_printf(out, ",\"count\":%" PRIu32, count);
    buf_append_char(out, '}');
    return EF_OK;
}

/* ---- READ's reply --------------------------------------------------------- */

/* The server renders a delivered event as GET does and appends
 * ,"deliveries":n as its last member: read it from the end rather than
 * parse the event a second time. */
static int deliveries_of(const char *text, size_t len, uint32_t *out)
{
    static const char key[] = "\"deliveries\":";
    const size_t klen = sizeof key - 1;
    if (len < klen + 2)
        return -1;
    for (size_t i = len - klen - 1; i > 0; i--) {
        if (memcmp(text + i, key, klen) != 0)
            continue;
        uint64_t v = 0;
        size_t j = i + klen;
        if (j >= len || text[j] < '0' || text[j] > '9')
            return -1;
        for (; j < len && text[j] >= '0' && text[j] <= '9'; j++)
            v = v * 10 + (uint64_t)(text[j] - '0');
        if (v > UINT32_MAX)
            return -1;
        *out = (uint32_t)v;
        return 0;
    }
    return -1;
}

void eventflow_group_batch_free(struct eventflow_group_batch *batch)
{
    for (size_t i = 0; i < batch->n; i++)
        ef_event_clear(&batch->events[i].event);
    free(batch->events);
    batch->events = NULL;
    batch->n = 0;
}

int ef_group_batch_read(const struct resp_value *reply, struct eventflow_group_batch *out,
                        char err[EF_ERR_LEN])
{
    out->events = NULL;
    out->n = 0;
    int rc = ef_json_check_bulk_array(reply, err);
    if (rc != EF_OK || reply->n == 0)
        return rc;
    out->events = xcalloc(reply->n, sizeof *out->events);
    for (size_t i = 0; i < reply->n; i++) {
        const struct resp_value *e = &reply->elems[i];
        rc = ef_json_event(e->str, e->len, &out->events[i].event, err);
        if (rc != EF_OK)
            break;
        out->n++;
        if (deliveries_of(e->str, e->len, &out->events[i].deliveries) != 0) {
            rc = ef_json_fail(err, EF_EPROTO, "event %zu has no delivery count", i);
            break;
        }
    }
    if (rc != EF_OK)
        eventflow_group_batch_free(out);
    return rc;
}

/* ---- INFO, LIST, PENDING, PARKED ------------------------------------------- */

/* Fields a newer server may leave out, or null, read as zero or empty. */
static uint64_t opt_u64(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) && json_integer_value(v) >= 0 ? (uint64_t)json_integer_value(v) : 0;
}

static int64_t opt_i64(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* A string member copied into a fixed buffer ("" if absent or too long). */
static void opt_copy(json_t *o, const char *key, char *dst, size_t cap)
{
    json_t *v = json_object_get(o, key);
    dst[0] = '\0';
    if (json_is_string(v) && json_string_length(v) < cap)
        memcpy(dst, json_string_value(v), json_string_length(v) + 1);
}

/* A string member duplicated, or NULL. */
static char *opt_dup(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? xstrndup(json_string_value(v), json_string_length(v)) : NULL;
}

static void info_clear(struct eventflow_group_info *g)
{
    free((char *)g->group);
    free((char *)g->stream);
    free((char *)g->stream_prefix);
    free((char *)g->json);
    for (size_t i = 0; i < g->n_consumers; i++)
        free((char *)g->consumers[i].name);
    free(g->consumers);
    memset(g, 0, sizeof *g);
}

void eventflow_group_info_free(struct eventflow_group_info *info)
{
    info_clear(info);
}

static void consumers_read(json_t *arr, struct eventflow_group_info *g)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return;
    g->consumers = xcalloc(json_array_size(arr), sizeof *g->consumers);
    size_t i;
    json_t *c;
    json_array_foreach(arr, i, c)
    {
        struct eventflow_group_consumer_info *ci = &g->consumers[g->n_consumers];
        char *name = opt_dup(c, "name");
        if (name == NULL)
            continue;
        ci->name = name;
        ci->pending = opt_u64(c, "pending");
        ci->delivered = opt_u64(c, "delivered");
        ci->acked = opt_u64(c, "acked");
        opt_copy(c, "last_seen", ci->last_seen, sizeof ci->last_seen);
        ci->idle_ms = opt_i64(c, "idle_ms");
        g->n_consumers++;
    }
}

/* One group object (text) into *g. */
static int group_read(const char *text, size_t len, struct eventflow_group_info *g, char err[EF_ERR_LEN])
{
    memset(g, 0, sizeof *g);
    json_t *o = ef_json_load_object(text, len, err);
    if (o == NULL)
        return EF_EPROTO;
    g->group = opt_dup(o, "group");
    if (g->group == NULL) {
        json_decref(o);
        return ef_json_fail(err, EF_EPROTO, "a group without \"group\"");
    }
    g->all = json_is_true(json_object_get(o, "all"));
    g->stream = opt_dup(o, "stream");
    g->stream_prefix = opt_dup(o, "stream_prefix");
    g->ack_wait_ms = (uint32_t)opt_u64(o, "ack_wait_ms");
    g->max_deliveries = (uint32_t)opt_u64(o, "max_deliveries");
    g->max_ack_pending = (uint32_t)opt_u64(o, "max_ack_pending");
    opt_copy(o, "created_at", g->created_at, sizeof g->created_at);
    g->next_version = opt_u64(o, "next_version");
    opt_copy(o, "after_id", g->after_id, sizeof g->after_id);
    g->position = opt_u64(o, "position");
    g->lag = opt_u64(o, "lag");
    g->pending = opt_u64(o, "pending");
    g->parked = opt_u64(o, "parked");
    g->delivered = opt_u64(o, "delivered");
    g->acked = opt_u64(o, "acked");
    consumers_read(json_object_get(o, "consumers"), g);
    g->json = xstrndup(text, len);
    json_decref(o);
    return EF_OK;
}

int ef_group_info_read(const struct resp_value *reply, struct eventflow_group_info *out,
                       char err[EF_ERR_LEN])
{
    memset(out, 0, sizeof *out);
    if (reply->type != RESP_T_BULK)
        return ef_json_fail(err, EF_EPROTO, "expected a bulk string");
    return group_read(reply->str, reply->len, out, err);
}

void eventflow_group_list_free(struct eventflow_group_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        info_clear(&list->groups[i]);
    free(list->groups);
    list->groups = NULL;
    list->n = 0;
}

int ef_group_list_read(const struct resp_value *reply, struct eventflow_group_list *out,
                       char err[EF_ERR_LEN])
{
    out->groups = NULL;
    out->n = 0;
    int rc = ef_json_check_bulk_array(reply, err);
    if (rc != EF_OK || reply->n == 0)
        return rc;
    out->groups = xcalloc(reply->n, sizeof *out->groups);
    for (size_t i = 0; i < reply->n && rc == EF_OK; i++) {
        rc = group_read(reply->elems[i].str, reply->elems[i].len, &out->groups[i], err);
        if (rc == EF_OK)
            out->n++;
    }
    if (rc != EF_OK)
        eventflow_group_list_free(out);
    return rc;
}

/* Free a list's entries, each of which owns its consumer and json strings
 * (at the same offsets in every entry). */
static void entries_free(void *entries, size_t n, size_t size, size_t consumer_at, size_t json_at)
{
    char *p = entries;
    for (size_t i = 0; i < n; i++, p += size) {
        free((char *)*(const char **)(p + consumer_at));
        free((char *)*(const char **)(p + json_at));
    }
    free(entries);
}

void eventflow_group_pending_list_free(struct eventflow_group_pending_list *list)
{
    entries_free(list->entries, list->n, sizeof *list->entries, offsetof(struct eventflow_group_pending, consumer),
                 offsetof(struct eventflow_group_pending, json));
    list->entries = NULL;
    list->n = 0;
}

void eventflow_group_parked_list_free(struct eventflow_group_parked_list *list)
{
    entries_free(list->entries, list->n, sizeof *list->entries, offsetof(struct eventflow_group_parked, consumer),
                 offsetof(struct eventflow_group_parked, json));
    list->entries = NULL;
    list->n = 0;
}

/* Reads one entry's object into entry i of a list; `fill` knows its
 * struct. */
typedef void (*entry_fill_fn)(json_t *o, void *entries, size_t i, const char *text, size_t len);

static void pending_fill(json_t *o, void *entries, size_t i, const char *text, size_t len)
{
    struct eventflow_group_pending *p = &((struct eventflow_group_pending *)entries)[i];
    opt_copy(o, "id", p->id, sizeof p->id);
    p->consumer = opt_dup(o, "consumer");
    p->deliveries = (uint32_t)opt_u64(o, "deliveries");
    opt_copy(o, "delivered_at", p->delivered_at, sizeof p->delivered_at);
    opt_copy(o, "deadline", p->deadline, sizeof p->deadline);
    p->idle_ms = opt_i64(o, "idle_ms");
    p->json = xstrndup(text, len);
}

static void parked_fill(json_t *o, void *entries, size_t i, const char *text, size_t len)
{
    struct eventflow_group_parked *p = &((struct eventflow_group_parked *)entries)[i];
    opt_copy(o, "id", p->id, sizeof p->id);
    p->consumer = opt_dup(o, "consumer");
    p->deliveries = (uint32_t)opt_u64(o, "deliveries");
    opt_copy(o, "parked_at", p->parked_at, sizeof p->parked_at);
    opt_copy(o, "reason", p->reason, sizeof p->reason);
    p->json = xstrndup(text, len);
}

/* An array of entry objects into a new array of `size`-byte entries;
 * *n counts those filled (the caller frees them on error too). */
static int entries_read(const struct resp_value *reply, size_t size, entry_fill_fn fill, void **out,
                        size_t *n, char err[EF_ERR_LEN])
{
    *out = NULL;
    *n = 0;
    int rc = ef_json_check_bulk_array(reply, err);
    if (rc != EF_OK || reply->n == 0)
        return rc;
    *out = xcalloc(reply->n, size);
    for (size_t i = 0; i < reply->n; i++) {
        const struct resp_value *e = &reply->elems[i];
        json_t *o = ef_json_load_object(e->str, e->len, err);
        if (o == NULL)
            return EF_EPROTO;
        fill(o, *out, i, e->str, e->len);
        json_decref(o);
        (*n)++;
    }
    return EF_OK;
}

int ef_group_pending_read(const struct resp_value *reply, struct eventflow_group_pending_list *out,
                          char err[EF_ERR_LEN])
{
    void *entries;
    int rc = entries_read(reply, sizeof *out->entries, pending_fill, &entries, &out->n, err);
    out->entries = entries;
    if (rc != EF_OK)
        eventflow_group_pending_list_free(out);
    return rc;
}

int ef_group_parked_read(const struct resp_value *reply, struct eventflow_group_parked_list *out,
                         char err[EF_ERR_LEN])
{
    void *entries;
    int rc = entries_read(reply, sizeof *out->entries, parked_fill, &entries, &out->n, err);
    out->entries = entries;
    if (rc != EF_OK)
        eventflow_group_parked_list_free(out);
    return rc;
}
