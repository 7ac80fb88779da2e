/* stream.c - the STREAM commands of eventflow/stream.h, through the
 * client's retry loop (ef_ask). */
#include <string.h>

#include "client/internal.h"
#include "common/buf.h"
#include "eventflow/stream.h"

static int answer_ok(struct eventflow_client *c, const char *what, const struct resp_value *reply, void *out)
{
    (void)out;
    if (reply->type != RESP_T_SIMPLE)
        return ef_fail(c, EF_EPROTO, "%s: unexpected reply to %s", c->last_node, what);
    return EF_OK;
}

/* A write on the leader, with its JSON argument. */
static int stream_write(struct eventflow_client *c, const char *sub, struct buf *arg, bool idempotent,
                        const char *what)
{
    const char *argv[] = {"STREAM", sub, arg->data};
    struct ef_call call = {.route = EF_ROUTE_LEADER, .argc = 3, .argv = argv, .idempotent = idempotent,
                           .is_write = true};
    int rc = ef_ask(c, &call, what, answer_ok, NULL);
    buf_free(arg);
    return rc;
}

/* {"stream":<name> into arg; EF_EINVAL if the name cannot be one. */
static int stream_arg(struct eventflow_client *c, struct buf *arg, const char *stream)
{
    buf_init(arg);
    if (stream == NULL || stream[0] == '\0') {
        buf_free(arg);
        return ef_fail(c, EF_EINVAL, "a stream name is needed");
    }
    buf_append_str(arg, "{\"stream\":");
    if (ef_json_put_string(arg, stream, strlen(stream)) != 0) {
        buf_free(arg);
        return ef_fail(c, EF_EINVAL, "the stream name is not valid UTF-8");
    }
    return EF_OK;
}

int eventflow_stream_delete(struct eventflow_client *c, const char *stream, bool hard)
{
    struct buf arg;
    int rc = stream_arg(c, &arg, stream);
    if (rc != EF_OK)
        return rc;
    buf_append_str(&arg, hard ? ",\"hard\":true}" : "}");
    buf_append_char(&arg, '\0');
    return stream_write(c, "DELETE", &arg, hard, "STREAM DELETE");
}

static void put_setting(struct buf *arg, const char *key, bool set, uint64_t v)
{
    if (!set)
        return;
    if (v == 0)
        buf_printf(arg, ",\"%s\":null", key);
    else
        buf_printf(arg, ",\"%s\":%llu", key, (unsigned long long)v);
}

int eventflow_stream_set_meta(struct eventflow_client *c, const char *stream,
                              const struct eventflow_stream_settings *s)
{
    if (s == NULL || (!s->set_max_age && !s->set_max_count && !s->set_truncate_before))
        return ef_fail(c, EF_EINVAL, "set_meta needs max_age, max_count or truncate_before");
    struct buf arg;
    int rc = stream_arg(c, &arg, stream);
    if (rc != EF_OK)
        return rc;
    put_setting(&arg, "max_age", s->set_max_age, s->max_age_s);
    put_setting(&arg, "max_count", s->set_max_count, s->max_count);
    if (s->set_truncate_before)
        buf_printf(&arg, ",\"truncate_before\":%llu", (unsigned long long)s->truncate_before);
    buf_append_str(&arg, "}");
    buf_append_char(&arg, '\0');
    return stream_write(c, "SETMETA", &arg, true, "STREAM SETMETA");
}

static uint64_t json_u64(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

static int answer_meta(struct eventflow_client *c, const char *what, const struct resp_value *reply, void *out)
{
    struct eventflow_stream_meta *m = out;
    char err[EF_ERR_LEN];
    if (reply->type != RESP_T_BULK)
        return ef_fail(c, EF_EPROTO, "%s: unexpected reply to %s", c->last_node, what);
    json_t *o = ef_json_load_object(reply->str, reply->len, err);
    if (o == NULL)
        return ef_decoded(c, EF_EPROTO, what, err);
    m->length = json_u64(o, "length");
    m->first_version = json_u64(o, "first_version");
    m->live_events = json_u64(o, "live_events");
    m->reclaimed_below = json_u64(o, "reclaimed_below");
    m->deleted = json_is_true(json_object_get(o, "deleted"));
    m->hard_deleted = json_is_true(json_object_get(o, "hard_deleted"));
    m->max_age_s = json_u64(o, "max_age");
    m->max_count = json_u64(o, "max_count");
    m->truncate_before = json_u64(o, "truncate_before");
    m->created_at_ns = (int64_t)json_u64(o, "created_at_ns");
    json_decref(o);
    return EF_OK;
}

int eventflow_stream_meta(struct eventflow_client *c, const char *stream, struct eventflow_stream_meta *out)
{
    memset(out, 0, sizeof *out);
    struct buf arg;
    int rc = stream_arg(c, &arg, stream);
    if (rc != EF_OK)
        return rc;
    buf_append_str(&arg, "}");
    buf_append_char(&arg, '\0');
    const char *argv[] = {"STREAM", "META", arg.data};
    struct ef_call call = {.route = EF_ROUTE_READ, .argc = 3, .argv = argv, .idempotent = true};
    rc = ef_ask(c, &call, "STREAM META", answer_meta, out);
    buf_free(&arg);
    return rc;
}
