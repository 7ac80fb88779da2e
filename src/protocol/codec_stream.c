/* codec_stream.c - the STREAM command's arguments (see codec_stream.h). */
#include "protocol/codec_stream.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"
#include "protocol/codec_internal.h"

static const struct {
    const char *name;
    enum codec_stream_cmd cmd;
    const char *const fields[5]; /* the JSON fields it takes, NULL-terminated */
} codec_stream_cmds[] = {
    {"DELETE", CODEC_STREAM_DELETE, {"stream", "hard", NULL}},
    {"META", CODEC_STREAM_META, {"stream", NULL}},
    {"SETMETA", CODEC_STREAM_SETMETA, {"stream", "max_age", "max_count", "truncate_before", NULL}},
};
#define CODEC_STREAM_NCMDS (sizeof codec_stream_cmds / sizeof codec_stream_cmds[0])

int codec_stream_lookup(const char *name, size_t len)
{
    for (size_t i = 0; i < CODEC_STREAM_NCMDS; i++)
        if (strlen(codec_stream_cmds[i].name) == len && strncasecmp(codec_stream_cmds[i].name, name, len) == 0)
            return (int)codec_stream_cmds[i].cmd;
    return -1;
}

void codec_stream_free(struct codec_stream *q)
{
    free(q->stream);
    q->stream = NULL;
}

static int codec_stream_name(const char *s, size_t len, const struct codec_limits *lim, struct codec_stream *out,
                             char err[CODEC_ERR_LEN])
{
    char inner[CODEC_ERR_LEN];
    if (codec_check_stream_name(s, len, lim, inner) != 0)
        return codec_fail(err, "invalid 'stream': %s", inner);
    out->stream = xstrndup(s, len);
    return 0;
}

/* An optional field: absent leaves *has false; null (when `nullable`)
 * sets it with 0; else an integer within [min, max]. */
static int codec_stream_setting(json_t *root, const char *field, bool nullable, uint64_t min, uint64_t max,
                                bool *has, uint64_t *out, char err[CODEC_ERR_LEN])
{
    json_t *v = json_object_get(root, field);
    if (v == NULL)
        return 0;
    *has = true;
    if (nullable && json_is_null(v)) {
        *out = 0;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) < min ||
        (uint64_t)json_integer_value(v) > max)
        return codec_fail(err, "invalid '%s': expected %san integer from %llu to %llu", field,
                          nullable ? "null or " : "", (unsigned long long)min, (unsigned long long)max);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int codec_stream_object(json_t *root, const struct codec_limits *lim, const char *const *fields,
                               struct codec_stream *out, char err[CODEC_ERR_LEN])
{
    if (codec_check_fields(root, fields, err) != 0)
        return -1;
    json_t *name = json_object_get(root, "stream");
    if (name == NULL)
        return codec_fail(err, "missing field 'stream'");
    if (!json_is_string(name))
        return codec_fail(err, "invalid 'stream': expected a string");
    if (out->cmd == CODEC_STREAM_DELETE) {
        json_t *hard = json_object_get(root, "hard");
        if (hard != NULL && !json_is_boolean(hard))
            return codec_fail(err, "invalid 'hard': expected true or false");
        out->hard = json_is_true(hard);
    } else if (out->cmd == CODEC_STREAM_SETMETA) {
        if (codec_stream_setting(root, "max_age", true, 1, CODEC_STREAM_MAX_AGE_MAX, &out->has_max_age,
                                 &out->max_age_s, err) != 0 ||
            codec_stream_setting(root, "max_count", true, 1, CODEC_STREAM_MAX_COUNT_MAX, &out->has_max_count,
                                 &out->max_count, err) != 0 ||
            codec_stream_setting(root, "truncate_before", false, 0, UINT64_MAX >> 1, &out->has_truncate_before,
                                 &out->truncate_before, err) != 0)
            return -1;
        if (!out->has_max_age && !out->has_max_count && !out->has_truncate_before)
            return codec_fail(err, "STREAM SETMETA needs max_age, max_count or truncate_before");
    }
    return codec_stream_name(json_string_value(name), json_string_length(name), lim, out, err);
}

int codec_parse_stream(enum codec_stream_cmd cmd, const char *arg, size_t len, const struct codec_limits *lim,
                       struct codec_stream *out, char err[CODEC_ERR_LEN])
{
    struct codec_limits def;
    lim = codec_limits_or_default(lim, &def);
    memset(out, 0, sizeof *out);
    out->cmd = cmd;
    size_t i = 0;
    while (i < CODEC_STREAM_NCMDS && codec_stream_cmds[i].cmd != cmd)
        i++;
    if (i == CODEC_STREAM_NCMDS)
        return codec_fail(err, "unknown STREAM subcommand");
    if (arg == NULL)
        return codec_fail(err, "STREAM %s needs an argument", codec_stream_cmds[i].name);
    size_t lead = 0;
    while (lead < len && (arg[lead] == ' ' || arg[lead] == '\t' || arg[lead] == '\n' || arg[lead] == '\r'))
        lead++;
    if (lead == len || arg[lead] != '{') {
        /* A bare name, for the subcommands that need nothing else. */
        if (cmd != CODEC_STREAM_META)
            return codec_fail(err, "STREAM %s takes a JSON object", codec_stream_cmds[i].name);
        return codec_stream_name(arg, len, lim, out, err);
    }
    json_t *root = codec_load_object(arg, len, err);
    if (root == NULL)
        return -1;
    int rc = codec_stream_object(root, lim, codec_stream_cmds[i].fields, out, err);
    codec_unload(root);
    if (rc != 0)
        codec_stream_free(out);
    return rc;
}
