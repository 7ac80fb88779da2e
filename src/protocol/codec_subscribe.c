/* codec_subscribe.c - SUBSCRIBE's argument (see codec.h). The plain forms
 * are what a Redis client passes as a channel name; the JSON object says
 * where to start and what to filter. */
#include <string.h>

#include "common/mem.h"
#include "protocol/codec.h"
#include "protocol/codec_internal.h"

static const char codec_sub_all[] = "$all";
static const char *const codec_sub_fields[] = {"stream", "version", "all", "offset",
                                               "types",  "stream_prefix", "markers", NULL};

static int codec_sub_types(json_t *root, const struct codec_limits *lim, struct codec_subscription *out,
                           char err[CODEC_ERR_LEN])
{
    json_t *types = json_object_get(root, "types");
    if (types == NULL)
        return 0;
    if (!json_is_array(types) || json_array_size(types) == 0 || json_array_size(types) > CODEC_SUB_MAX_TYPES)
        return codec_fail(err, "invalid 'types': expected an array of 1 to %d event types", CODEC_SUB_MAX_TYPES);
    out->types = xcalloc(json_array_size(types), sizeof *out->types);
    size_t i;
    json_t *t;
    json_array_foreach(types, i, t) {
        size_t len = json_string_length(t);
        if (!json_is_string(t) || len == 0 || len > lim->max_type_len || memchr(json_string_value(t), 0, len))
            return codec_fail(err, "invalid 'types': type %zu must be a non-empty string of at most %zu bytes", i,
                              lim->max_type_len);
        out->types[out->n_types++] = xstrndup(json_string_value(t), len);
    }
    return 0;
}

static int codec_sub_all_from(json_t *root, struct codec_subscription *out, char err[CODEC_ERR_LEN])
{
    json_t *all = json_object_get(root, "all");
    if (!json_is_true(all))
        return codec_fail(err, "invalid 'all': expected true (or give 'stream')");
    if (json_object_get(root, "version") != NULL)
        return codec_fail(err, "'version' is for a stream; the global log starts at an 'offset'");
    out->all = true;
    json_t *offset = json_object_get(root, "offset");
    if (offset == NULL || json_is_null(offset)) {
        out->from = CODEC_SUB_FROM_END;
    } else if (!json_is_string(offset)) {
        return codec_fail(err, "invalid 'offset': expected an event id, or \"\" for the start");
    } else if (json_string_length(offset) == 0) {
        out->from = CODEC_SUB_FROM_START;
    } else if (ulid_parse(json_string_value(offset), json_string_length(offset), out->after) != 0) {
        return codec_fail(err, "invalid 'offset': expected an event id, or \"\" for the start");
    } else {
        out->from = CODEC_SUB_AFTER_ID;
    }
    json_t *prefix = json_object_get(root, "stream_prefix");
    if (prefix != NULL) {
        if (!json_is_string(prefix) || json_string_length(prefix) == 0)
            return codec_fail(err, "invalid 'stream_prefix': expected a non-empty string");
        out->stream_prefix_len = json_string_length(prefix);
        out->stream_prefix = xstrndup(json_string_value(prefix), out->stream_prefix_len);
    }
    return 0;
}

static int codec_sub_stream_from(json_t *root, const struct codec_limits *lim, struct codec_subscription *out,
                                 char err[CODEC_ERR_LEN])
{
    json_t *stream = json_object_get(root, "stream");
    if (!json_is_string(stream))
        return codec_fail(err, "invalid 'stream': expected a string");
    if (json_object_get(root, "all") != NULL)
        return codec_fail(err, "give either 'stream' or 'all', not both");
    if (json_object_get(root, "offset") != NULL || json_object_get(root, "stream_prefix") != NULL)
        return codec_fail(err, "'offset' and 'stream_prefix' are for the global log; a stream starts at a 'version'");
    if (codec_check_stream_name(json_string_value(stream), json_string_length(stream), lim, err) != 0)
        return -1;
    out->stream_len = json_string_length(stream);
    out->stream = xstrndup(json_string_value(stream), out->stream_len);
    out->from = CODEC_SUB_FROM_END;
    if (json_object_get(root, "version") != NULL) {
        if (codec_get_uint(root, "version", &out->version, err) != 0)
            return -1;
        out->from = CODEC_SUB_FROM_VERSION;
    }
    return 0;
}

static int codec_sub_object(json_t *root, const struct codec_limits *lim, struct codec_subscription *out,
                            char err[CODEC_ERR_LEN])
{
    if (codec_check_fields(root, codec_sub_fields, err) != 0)
        return -1;
    int rc = json_object_get(root, "stream") != NULL ? codec_sub_stream_from(root, lim, out, err)
             : json_object_get(root, "all") != NULL  ? codec_sub_all_from(root, out, err)
                                                     : codec_fail(err, "missing field 'stream' (or 'all': true)");
    if (rc != 0)
        return -1;
    json_t *markers = json_object_get(root, "markers");
    if (markers != NULL && !json_is_boolean(markers))
        return codec_fail(err, "invalid 'markers': expected true or false");
    out->markers = json_is_true(markers);
    return codec_sub_types(root, lim, out, err);
}

int codec_parse_subscription(const char *arg, size_t len, const struct codec_limits *lim,
                             struct codec_subscription *out, char err[CODEC_ERR_LEN])
{
    struct codec_limits def;
    lim = codec_limits_or_default(lim, &def);
    memset(out, 0, sizeof *out);
    if (len == sizeof codec_sub_all - 1 && memcmp(arg, codec_sub_all, len) == 0) {
        out->all = true;
        return 0;
    }
    if (len == 0 || arg[0] != '{') {
        if (codec_check_stream_name(arg, len, lim, err) != 0)
            return -1;
        out->stream = xstrndup(arg, len);
        out->stream_len = len;
        return 0;
    }
    json_t *root = codec_load_object(arg, len, err);
    if (root == NULL)
        return -1;
    int rc = codec_sub_object(root, lim, out, err);
    codec_unload(root);
    if (rc != 0)
        codec_subscription_free(out);
    return rc;
}

void codec_subscription_free(struct codec_subscription *s)
{
    if (s == NULL)
        return;
    free(s->stream);
    free(s->stream_prefix);
    for (size_t i = 0; i < s->n_types; i++)
        free(s->types[i]);
    free(s->types);
    memset(s, 0, sizeof *s);
}
