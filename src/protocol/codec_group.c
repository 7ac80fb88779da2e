/* codec_group.c - the GROUP command's arguments (see codec_group.h). */
#include "protocol/codec_group.h"

#include <string.h>
#include <strings.h>

#include "common/mem.h"
#include "protocol/codec_fast.h"
#include "protocol/codec_internal.h"

static const struct {
    const char *name;
    enum codec_group_cmd cmd;
    bool write;
    /* The JSON fields the subcommand takes, NULL-terminated. */
    const char *const fields[12];
} codec_group_cmds[] = {
    {"CREATE", CODEC_GROUP_CREATE, true,
     {"group", "stream", "all", "from", "stream_prefix", "types", "ack_wait_ms", "max_deliveries",
      "max_ack_pending", NULL}},
    {"DESTROY", CODEC_GROUP_DESTROY, true, {"group", NULL}},
    {"INFO", CODEC_GROUP_INFO, false, {"group", NULL}},
    {"LIST", CODEC_GROUP_LIST, false, {NULL}},
    {"READ", CODEC_GROUP_READ, true, {"group", "consumer", "count", "block_ms", NULL}},
    {"ACK", CODEC_GROUP_ACK, true, {"group", "ids", NULL}},
    {"NACK", CODEC_GROUP_NACK, true, {"group", "ids", "park", NULL}},
    {"PENDING", CODEC_GROUP_PENDING, false, {"group", "consumer", "after", "count", NULL}},
    {"PARKED", CODEC_GROUP_PARKED, false, {"group", "after", "count", NULL}},
    {"REPLAY", CODEC_GROUP_REPLAY, true, {"group", "ids", "count", NULL}},
    {"SEEK", CODEC_GROUP_SEEK, true, {"group", "to", NULL}},
    {"DELCONSUMER", CODEC_GROUP_DELCONSUMER, true, {"group", "consumer", NULL}},
};
#define CODEC_GROUP_NCMDS (sizeof codec_group_cmds / sizeof codec_group_cmds[0])

int codec_group_lookup(const char *name, size_t len)
{
    for (size_t i = 0; i < CODEC_GROUP_NCMDS; i++)
        if (strlen(codec_group_cmds[i].name) == len && strncasecmp(codec_group_cmds[i].name, name, len) == 0)
            return (int)codec_group_cmds[i].cmd;
    return -1;
}

bool codec_group_is_write(enum codec_group_cmd cmd)
{
    for (size_t i = 0; i < CODEC_GROUP_NCMDS; i++)
        if (codec_group_cmds[i].cmd == cmd)
            return codec_group_cmds[i].write;
    return false;
}

/* A group's or a consumer's name: the rules of a stream's name, shorter. */
static int codec_group_name(const char *s, size_t len, const struct codec_limits *lim, const char *what, char **out,
                            char err[CODEC_ERR_LEN])
{
    if (len == 0)
        return codec_fail(err, "invalid '%s': cannot be empty", what);
    if (len > CODEC_GROUP_NAME_MAX)
        return codec_fail(err, "invalid '%s': longer than %d bytes", what, CODEC_GROUP_NAME_MAX);
    char inner[CODEC_ERR_LEN];
    if (codec_check_stream_name(s, len, lim, inner) != 0)
        return codec_fail(err, "invalid '%s': must be printable ASCII", what);
    *out = xstrndup(s, len);
    return 0;
}

bool codec_group_name_ok(const char *s, size_t len, const struct codec_limits *lim)
{
    char unused[CODEC_ERR_LEN];
    return len > 0 && len <= CODEC_GROUP_NAME_MAX && codec_check_stream_name(s, len, lim, unused) == 0;
}

static int codec_group_string_field(json_t *root, const char *field, const struct codec_limits *lim, bool required,
                                    char **out, char err[CODEC_ERR_LEN])
{
    json_t *v = json_object_get(root, field);
    if (v == NULL)
        return required ? codec_fail(err, "missing field '%s'", field) : 0;
    if (!json_is_string(v))
        return codec_fail(err, "invalid '%s': expected a string", field);
    return codec_group_name(json_string_value(v), json_string_length(v), lim, field, out, err);
}

/* An optional integer field within [min, max]. */
static int codec_group_uint(json_t *root, const char *field, uint64_t min, uint64_t max, uint64_t *out,
                            char err[CODEC_ERR_LEN])
{
    json_t *v = json_object_get(root, field);
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) < min ||
        (uint64_t)json_integer_value(v) > max)
        return codec_fail(err, "invalid '%s': expected an integer from %llu to %llu", field, (unsigned long long)min,
                          (unsigned long long)max);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int codec_group_id(json_t *v, const char *what, uint8_t out[ULID_BYTES], char err[CODEC_ERR_LEN])
{
    if (!json_is_string(v) || ulid_parse(json_string_value(v), json_string_length(v), out) != 0)
        return codec_fail(err, "invalid %s: expected an event id (26 characters of Crockford base32)", what);
    return 0;
}

static int codec_group_ids(json_t *root, bool required, struct codec_group *out, char err[CODEC_ERR_LEN])
{
    json_t *ids = json_object_get(root, "ids");
    if (ids == NULL)
        return required ? codec_fail(err, "missing field 'ids'") : 0;
    size_t n = json_is_array(ids) ? json_array_size(ids) : 0;
    if (n == 0 || n > CODEC_GROUP_IDS_MAX)
        return codec_fail(err, "invalid 'ids': expected an array of 1 to %d event ids", CODEC_GROUP_IDS_MAX);
    out->ids = xcalloc(n, ULID_BYTES);
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        char what[32];
        snprintf(what, sizeof what, "'ids'[%zu]", i);
        if (codec_group_id(v, what, out->ids[i], err) != 0)
            return -1;
        out->n_ids++;
    }
    return 0;
}

static int codec_group_types(json_t *root, const struct codec_limits *lim, struct codec_group *out,
                             char err[CODEC_ERR_LEN])
{
    json_t *types = json_object_get(root, "types");
    if (types == NULL)
        return 0;
    size_t n = json_is_array(types) ? json_array_size(types) : 0;
    if (n == 0 || n > CODEC_SUB_MAX_TYPES)
        return codec_fail(err, "invalid 'types': expected an array of 1 to %d event types", CODEC_SUB_MAX_TYPES);
    out->types = xcalloc(n, sizeof *out->types);
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

/* "from" (CREATE) or "to" (SEEK): a version for a stream's group, an event
 * id for a global one, or "start" / "end". */
static int codec_group_position(json_t *root, const char *field, bool all, struct codec_group *out,
                                char err[CODEC_ERR_LEN])
{
    json_t *v = json_object_get(root, field);
    out->from = CODEC_GROUP_FROM_START;
    if (v == NULL)
        return 0;
    if (json_is_string(v) && strcmp(json_string_value(v), "start") == 0)
        return 0;
    if (json_is_string(v) && strcmp(json_string_value(v), "end") == 0) {
        out->from = CODEC_GROUP_FROM_END;
        return 0;
    }
    if (!all) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return codec_fail(err, "invalid '%s': expected a version (a non-negative integer), \"start\" or \"end\"",
                              field);
        out->from = CODEC_GROUP_FROM_VERSION;
        out->version = (uint64_t)json_integer_value(v);
        return 0;
    }
    char what[32];
    snprintf(what, sizeof what, "'%s'", field);
    if (json_is_string(v) && codec_group_id(v, what, out->after, err) == 0) {
        out->from = CODEC_GROUP_AFTER_ID;
        return 0;
    }
    return codec_fail(err, "invalid '%s': expected an event id, \"start\" or \"end\"", field);
}

static int codec_group_create(json_t *root, const struct codec_limits *lim, struct codec_group *out,
                              char err[CODEC_ERR_LEN])
{
    json_t *all = json_object_get(root, "all");
    json_t *stream = json_object_get(root, "stream");
    if (all != NULL && !json_is_true(all))
        return codec_fail(err, "invalid 'all': expected true (or give 'stream')");
    if ((all != NULL) == (stream != NULL))
        return codec_fail(err, "give either 'stream' or 'all': true");
    out->all = all != NULL;
    if (stream != NULL) {
        if (!json_is_string(stream))
            return codec_fail(err, "invalid 'stream': expected a string");
        if (codec_check_stream_name(json_string_value(stream), json_string_length(stream), lim, err) != 0)
            return -1;
        out->stream = xstrndup(json_string_value(stream), json_string_length(stream));
        if (json_object_get(root, "stream_prefix") != NULL)
            return codec_fail(err, "'stream_prefix' is for a group over the global log ('all': true)");
    }
    json_t *prefix = json_object_get(root, "stream_prefix");
    if (prefix != NULL) {
        if (!json_is_string(prefix) || json_string_length(prefix) == 0 ||
            json_string_length(prefix) > lim->max_stream_len)
            return codec_fail(err, "invalid 'stream_prefix': expected a non-empty string");
        out->stream_prefix = xstrndup(json_string_value(prefix), json_string_length(prefix));
    }
    uint64_t wait = CODEC_GROUP_ACK_WAIT_DEFAULT, maxd = CODEC_GROUP_MAX_DELIVERIES_DEFAULT, maxp = 0;
    if (codec_group_uint(root, "ack_wait_ms", 1, CODEC_GROUP_ACK_WAIT_MAX, &wait, err) != 0 ||
        codec_group_uint(root, "max_deliveries", 0, UINT32_MAX, &maxd, err) != 0 ||
        codec_group_uint(root, "max_ack_pending", 0, UINT32_MAX, &maxp, err) != 0)
        return -1;
    out->ack_wait_ms = (uint32_t)wait;
    out->max_deliveries = (uint32_t)maxd;
    out->max_ack_pending = (uint32_t)maxp;
    if (codec_group_position(root, "from", out->all, out, err) != 0)
        return -1;
    return codec_group_types(root, lim, out, err);
}

static int codec_group_read(json_t *root, const struct codec_limits *lim, struct codec_group *out,
                            char err[CODEC_ERR_LEN])
{
    if (codec_group_string_field(root, "consumer", lim, true, &out->consumer, err) != 0)
        return -1;
    uint64_t count = CODEC_GROUP_READ_DEFAULT, block = 0;
    if (codec_group_uint(root, "count", 1, CODEC_GROUP_READ_MAX, &count, err) != 0 ||
        codec_group_uint(root, "block_ms", 0, CODEC_GROUP_BLOCK_MAX, &block, err) != 0)
        return -1;
    out->count = (uint32_t)count;
    out->block_ms = block;
    return 0;
}

static int codec_group_listing(json_t *root, const struct codec_limits *lim, struct codec_group *out,
                               char err[CODEC_ERR_LEN])
{
    if (out->cmd == CODEC_GROUP_PENDING &&
        codec_group_string_field(root, "consumer", lim, false, &out->consumer, err) != 0)
        return -1;
    uint64_t count = CODEC_GROUP_LIST_DEFAULT;
    if (codec_group_uint(root, "count", 1, CODEC_GROUP_LIST_MAX, &count, err) != 0)
        return -1;
    out->count = (uint32_t)count;
    json_t *after = json_object_get(root, "after");
    if (after != NULL) {
        if (codec_group_id(after, "'after'", out->after, err) != 0)
            return -1;
        out->has_after = true;
    }
    return 0;
}

static int codec_group_object(json_t *root, const struct codec_limits *lim, const char *const *fields,
                              struct codec_group *out, char err[CODEC_ERR_LEN])
{
    if (codec_check_fields(root, fields, err) != 0)
        return -1;
    if (codec_group_string_field(root, "group", lim, true, &out->group, err) != 0)
        return -1;
    uint64_t count = 0;
    switch (out->cmd) {
    case CODEC_GROUP_CREATE:
        return codec_group_create(root, lim, out, err);
    case CODEC_GROUP_READ:
        return codec_group_read(root, lim, out, err);
    case CODEC_GROUP_ACK:
        return codec_group_ids(root, true, out, err);
    case CODEC_GROUP_NACK: {
        json_t *park = json_object_get(root, "park");
        if (park != NULL && !json_is_boolean(park))
            return codec_fail(err, "invalid 'park': expected true or false");
        out->park = json_is_true(park);
        return codec_group_ids(root, true, out, err);
    }
    case CODEC_GROUP_REPLAY:
        if (codec_group_ids(root, false, out, err) != 0 ||
            codec_group_uint(root, "count", 1, CODEC_GROUP_IDS_MAX, &count, err) != 0)
            return -1;
        if (out->n_ids > 0 && count != 0)
            return codec_fail(err, "give either 'ids' or 'count', not both");
        out->count = count != 0 ? (uint32_t)count : (out->n_ids == 0 ? CODEC_GROUP_LIST_DEFAULT : 0);
        return 0;
    case CODEC_GROUP_PENDING:
    case CODEC_GROUP_PARKED:
        return codec_group_listing(root, lim, out, err);
    case CODEC_GROUP_DELCONSUMER:
        return codec_group_string_field(root, "consumer", lim, true, &out->consumer, err);
    case CODEC_GROUP_SEEK: {
        /* Whether the group is a stream's or the log's is the state's to
         * say: an integer is a version, a string an id, "start" or "end". */
        json_t *to = json_object_get(root, "to");
        if (to == NULL)
            return codec_fail(err, "missing field 'to'");
        return codec_group_position(root, "to", !json_is_integer(to), out, err);
    }
    default:
        return 0;
    }
}

int codec_parse_group(enum codec_group_cmd cmd, const char *arg, size_t len, const struct codec_limits *lim,
                      struct codec_group *out, char err[CODEC_ERR_LEN])
{
    struct codec_limits def;
    lim = codec_limits_or_default(lim, &def);
    if (codec_fast_parse_group(cmd, arg, len, lim, out))
        return 0;
    return codec_jansson_parse_group(cmd, arg, len, lim, out, err);
}

int codec_jansson_parse_group(enum codec_group_cmd cmd, const char *arg, size_t len, const struct codec_limits *lim,
                              struct codec_group *out, char err[CODEC_ERR_LEN])
{
    struct codec_limits def;
    lim = codec_limits_or_default(lim, &def);
    memset(out, 0, sizeof *out);
    out->cmd = cmd;
    size_t i = 0;
    while (i < CODEC_GROUP_NCMDS && codec_group_cmds[i].cmd != cmd)
        i++;
    if (i == CODEC_GROUP_NCMDS)
        return codec_fail(err, "unknown GROUP subcommand");
    if (cmd == CODEC_GROUP_LIST)
        return 0;
    if (arg == NULL)
        return codec_fail(err, "GROUP %s needs an argument", codec_group_cmds[i].name);
    /* JSON allows whitespace before the object; the fast path skips it too,
     * so both paths must agree on what is an object. */
    size_t lead = 0;
    while (lead < len && (arg[lead] == ' ' || arg[lead] == '\t' || arg[lead] == '\n' || arg[lead] == '\r'))
        lead++;
    int rc;
    if (lead == len || arg[lead] != '{') {
        /* A bare name, for the subcommands that need nothing else. */
        if (cmd != CODEC_GROUP_DESTROY && cmd != CODEC_GROUP_INFO && cmd != CODEC_GROUP_PENDING &&
            cmd != CODEC_GROUP_PARKED)
            return codec_fail(err, "GROUP %s takes a JSON object", codec_group_cmds[i].name);
        rc = codec_group_name(arg, len, lim, "group", &out->group, err);
        out->count = CODEC_GROUP_LIST_DEFAULT;
    } else {
        json_t *root = codec_load_object(arg, len, err);
        if (root == NULL)
            return -1;
        rc = codec_group_object(root, lim, codec_group_cmds[i].fields, out, err);
        codec_unload(root);
    }
    if (rc != 0)
        codec_group_free(out);
    return rc;
}

void codec_group_free(struct codec_group *g)
{
    if (g == NULL)
        return;
    free(g->group);
    free(g->consumer);
    free(g->stream);
    free(g->stream_prefix);
    for (size_t i = 0; i < g->n_types; i++)
        free(g->types[i]);
    free(g->types);
    free(g->ids);
    memset(g, 0, sizeof *g);
}
