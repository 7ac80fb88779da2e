/* fuzz_add.c - the JSON codec against arbitrary input.
 *
 * Every input goes through all the argument decoders (ADD, GET, GETALL,
 * LISTSTREAMS, SUBSCRIBE's spec, and each GROUP subcommand's). Whatever they
 * accept must satisfy the documented limits, and every decoded ADD event,
 * stored and encoded back as JSON, must read back as what the client sent:
 * the same type and stream, and data/metadata equal to the input values. A
 * refusal must come with a one-line message. Whatever the jansson-free
 * fast path decodes, the jansson path must decode identically. Any
 * violation aborts. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "protocol/codec.h"
#include "protocol/codec_fast.h"
#include "protocol/codec_group.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_read_opts(const struct codec_read_opts *o)
{
    CHECK(o->timeout_ms >= 1 && o->timeout_ms <= 60000);
}

static void check_error_text(const char *err)
{
    size_t len = strnlen(err, CODEC_ERR_LEN);
    CHECK(len > 0 && len < CODEC_ERR_LEN);
    CHECK(strchr(err, '\r') == NULL && strchr(err, '\n') == NULL);
}

static json_t *load(const void *text, size_t len)
{
    json_error_t je;
    return json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
}

static void check_string(json_t *v, const char *bytes, size_t len)
{
    CHECK(json_is_string(v));
    CHECK(json_string_length(v) == len);
    CHECK(len == 0 || memcmp(json_string_value(v), bytes, len) == 0);
}

/* `out` is the encoded payload; `sent` the value in the client's input
 * (NULL if the field was absent). */
static void check_payload(const struct codec_payload *p, json_t *out, json_t *sent)
{
    switch (p->kind) {
    case EVENTFLOW__PAYLOAD_KIND__PAYLOAD_NULL:
        CHECK(p->bytes == NULL && p->len == 0);
        CHECK(json_is_null(out));
        CHECK(sent == NULL || json_is_null(sent));
        break;
    case EVENTFLOW__PAYLOAD_KIND__PAYLOAD_STRING:
        check_string(out, p->bytes, p->len);
        CHECK(sent != NULL && json_equal(out, sent));
        break;
    case EVENTFLOW__PAYLOAD_KIND__PAYLOAD_JSON: {
        /* The stored text is itself JSON equal to what was sent. */
        json_t *stored = load(p->bytes, p->len);
        CHECK(stored != NULL);
        CHECK(sent != NULL && json_equal(stored, sent));
        CHECK(json_equal(out, sent));
        CHECK(!json_is_string(sent) && !json_is_null(sent));
        json_decref(stored);
        break;
    }
    default:
        CHECK(!"unknown payload kind");
    }
}

static const char *const event_keys[] = {"id",           "stream",         "version",
                                         "type",         "data",           "metadata",
                                         "causation_id", "correlation_id", "added_at"};

static void check_event(const struct codec_add *add, size_t i, json_t *sent_event,
                        const struct codec_limits *lim)
{
    const struct codec_event *e = &add->events[i];
    size_t type_len = strlen(e->type);
    CHECK(type_len > 0 && type_len <= lim->max_type_len);
    CHECK(type_len + e->data.len + e->metadata.len <= lim->max_event_size);

    uint8_t id[ULID_BYTES] = {0};
    id[ULID_BYTES - 1] = (uint8_t)i;
    Eventflow__StoredEvent ev = EVENTFLOW__STORED_EVENT__INIT;
    ev.id.data = id;
    ev.id.len = ULID_BYTES;
    ev.stream = add->stream;
    ev.version = add->expected_version + i;
    ev.type = e->type;
    ev.data_kind = e->data.kind;
    ev.data.data = (uint8_t *)e->data.bytes;
    ev.data.len = e->data.len;
    ev.metadata_kind = e->metadata.kind;
    ev.metadata.data = (uint8_t *)e->metadata.bytes;
    ev.metadata.len = e->metadata.len;
    uint8_t causation[ULID_BYTES];
    uint8_t correlation[ULID_BYTES];
    if (e->has_causation_id) {
        memcpy(causation, e->causation_id, ULID_BYTES);
        ev.causation_id.data = causation;
        ev.causation_id.len = ULID_BYTES;
    }
    if (e->has_correlation_id) {
        memcpy(correlation, e->correlation_id, ULID_BYTES);
        ev.correlation_id.data = correlation;
        ev.correlation_id.len = ULID_BYTES;
    }
    ev.added_at_ns = (int64_t)(add->expected_version * 7919u + i);

    struct buf b;
    buf_init(&b);
    codec_write_event(&b, &ev);
    json_t *out = load(b.data, b.len);
    CHECK(out != NULL && json_is_object(out));
    size_t k = 0;
    for (void *it = json_object_iter(out); it != NULL; it = json_object_iter_next(out, it), k++) {
        CHECK(k < 9);
        CHECK(strcmp(json_object_iter_key(it), event_keys[k]) == 0);
    }
    CHECK(k == 9);
    check_string(json_object_get(out, "type"), e->type, type_len);
    check_string(json_object_get(out, "stream"), add->stream, add->stream_len);
    CHECK(json_equal(json_object_get(out, "type"), json_object_get(sent_event, "type")));
    check_payload(&e->data, json_object_get(out, "data"), json_object_get(sent_event, "data"));
    check_payload(&e->metadata, json_object_get(out, "metadata"),
                  json_object_get(sent_event, "metadata"));

    /* Ids come back as the ULIDs that were sent, or the defaults. */
    uint8_t back[ULID_BYTES];
    json_t *c = json_object_get(out, "causation_id");
    CHECK(json_is_string(c));
    CHECK(ulid_parse(json_string_value(c), json_string_length(c), back) == 0);
    CHECK(memcmp(back, e->has_causation_id ? e->causation_id : id, ULID_BYTES) == 0);
    json_t *r = json_object_get(out, "correlation_id");
    CHECK(json_is_string(r));
    CHECK(ulid_parse(json_string_value(r), json_string_length(r), back) == 0);
    CHECK(memcmp(back, e->has_correlation_id ? e->correlation_id
                       : e->has_causation_id ? e->causation_id
                                             : id,
                 ULID_BYTES) == 0);
    json_decref(out);
    buf_free(&b);
}

static void check_add(const struct codec_add *add, const uint8_t *data, size_t size,
                      const struct codec_limits *lim)
{
    CHECK(add->stream_len > 0 && add->stream_len <= lim->max_stream_len);
    CHECK(strlen(add->stream) == add->stream_len);
    for (size_t i = 0; i < add->stream_len; i++)
        CHECK(add->stream[i] >= 0x20 && add->stream[i] <= 0x7e);
    CHECK(add->n_events > 0 && add->n_events <= lim->max_events);

    /* Idempotency keys: on every event or none, distinct, printable. */
    size_t keyed = 0;
    for (size_t i = 0; i < add->n_events; i++) {
        const char *key = add->events[i].key;
        if (key == NULL)
            continue;
        keyed++;
        size_t klen = strlen(key);
        CHECK(klen >= 1 && klen <= CODEC_KEY_MAX);
        for (size_t k = 0; k < klen; k++)
            CHECK(key[k] > 0x20 && key[k] <= 0x7e);
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(add->events[j].key, key) != 0);
    }
    CHECK(keyed == 0 || keyed == add->n_events);

    /* The client's view of the same input, to compare payloads with. */
    json_t *sent = load(data, size);
    CHECK(sent != NULL);
    json_t *events = json_object_get(sent, "events");
    CHECK(json_array_size(events) == add->n_events);
    for (size_t i = 0; i < add->n_events; i++)
        check_event(add, i, json_array_get(events, i), lim);
    json_decref(sent);

    Eventflow__StreamInfo info = EVENTFLOW__STREAM_INFO__INIT;
    info.length = add->n_events;
    info.created_at_ns = -(int64_t)add->expected_version;
    struct buf b;
    buf_init(&b);
    codec_write_stream(&b, add->stream, add->stream_len, &info);
    json_t *s = load(b.data, b.len);
    CHECK(s != NULL && json_object_size(s) == 3);
    check_string(json_object_get(s, "id"), add->stream, add->stream_len);
    CHECK(json_integer_value(json_object_get(s, "events")) == (json_int_t)add->n_events);
    json_decref(s);
    buf_free(&b);
}

static void check_same_payload(const struct codec_payload *a, const struct codec_payload *b)
{
    CHECK(a->kind == b->kind && a->len == b->len);
    CHECK(a->len == 0 || memcmp(a->bytes, b->bytes, a->len) == 0);
    CHECK((a->bytes == NULL) == (b->bytes == NULL));
}

/* The fast path (codec_fast.c) may only take inputs the jansson path
 * accepts, and must then produce exactly what it produces. */
static void check_fast_path(const char *json, size_t size, const struct codec_limits *lim)
{
    struct codec_add fast, slow;
    char err[CODEC_ERR_LEN];
    if (!codec_fast_parse_add(json, size, lim, &fast)) {
        CHECK(fast.n_events == 0 && fast.events == NULL && fast.stream == NULL);
        return;
    }
    int rc = codec_jansson_parse_add(json, size, lim, &slow, err);
    if (rc != 0)
        fprintf(stderr, "fuzz_add: the fast path took an input jansson refuses: %s\n", err);
    CHECK(rc == 0);
    CHECK(fast.stream_len == slow.stream_len && strcmp(fast.stream, slow.stream) == 0);
    CHECK(fast.any_version == slow.any_version && fast.expected_version == slow.expected_version);
    CHECK(fast.n_events == slow.n_events);
    for (size_t i = 0; i < fast.n_events; i++) {
        const struct codec_event *a = &fast.events[i], *b = &slow.events[i];
        CHECK(strcmp(a->type, b->type) == 0);
        check_same_payload(&a->data, &b->data);
        check_same_payload(&a->metadata, &b->metadata);
        CHECK(a->has_causation_id == b->has_causation_id && a->has_correlation_id == b->has_correlation_id);
        CHECK(!a->has_causation_id || memcmp(a->causation_id, b->causation_id, ULID_BYTES) == 0);
        CHECK(!a->has_correlation_id || memcmp(a->correlation_id, b->correlation_id, ULID_BYTES) == 0);
        CHECK((a->key == NULL) == (b->key == NULL));
        CHECK(a->key == NULL || strcmp(a->key, b->key) == 0);
    }
    codec_add_free(&fast);
    codec_add_free(&slow);
}

/* An accepted SUBSCRIBE spec follows exactly one thing, from a start its
 * kind allows, with filters within their limits. */
static void check_subscription(const struct codec_subscription *s, const struct codec_limits *lim)
{
    CHECK(s->all == (s->stream == NULL));
    if (s->all) {
        CHECK(s->from == CODEC_SUB_FROM_END || s->from == CODEC_SUB_FROM_START || s->from == CODEC_SUB_AFTER_ID);
    } else {
        CHECK(s->stream_len > 0 && s->stream_len <= lim->max_stream_len);
        CHECK(strlen(s->stream) == s->stream_len);
        for (size_t i = 0; i < s->stream_len; i++)
            CHECK(s->stream[i] >= 0x20 && s->stream[i] <= 0x7e);
        CHECK(s->from == CODEC_SUB_FROM_END || s->from == CODEC_SUB_FROM_VERSION);
        CHECK(s->stream_prefix == NULL);
    }
    CHECK(s->n_types <= CODEC_SUB_MAX_TYPES);
    for (size_t i = 0; i < s->n_types; i++)
        CHECK(s->types[i][0] != '\0' && strlen(s->types[i]) <= lim->max_type_len);
    CHECK((s->stream_prefix == NULL) == (s->stream_prefix_len == 0));
}

static void check_name(const char *name, bool required)
{
    if (name == NULL) {
        CHECK(!required);
        return;
    }
    size_t len = strlen(name);
    CHECK(len > 0 && len <= CODEC_GROUP_NAME_MAX);
    for (size_t i = 0; i < len; i++)
        CHECK(name[i] >= 0x20 && name[i] <= 0x7e);
}

static void check_group(const struct codec_group *g, const struct codec_limits *lim)
{
    check_name(g->group, g->cmd != CODEC_GROUP_LIST);
    check_name(g->consumer, g->cmd == CODEC_GROUP_READ);
    switch (g->cmd) {
    case CODEC_GROUP_CREATE:
        CHECK(g->all == (g->stream == NULL));
        CHECK(g->ack_wait_ms >= 1 && g->ack_wait_ms <= CODEC_GROUP_ACK_WAIT_MAX);
        CHECK(g->all || g->stream_prefix == NULL);
        CHECK(g->all ? g->from != CODEC_GROUP_FROM_VERSION : g->from != CODEC_GROUP_AFTER_ID);
        CHECK(g->n_types <= CODEC_SUB_MAX_TYPES);
        for (size_t i = 0; i < g->n_types; i++)
            CHECK(g->types[i][0] != '\0' && strlen(g->types[i]) <= lim->max_type_len);
        break;
    case CODEC_GROUP_READ:
        CHECK(g->count >= 1 && g->count <= CODEC_GROUP_READ_MAX);
        CHECK(g->block_ms <= CODEC_GROUP_BLOCK_MAX);
        break;
    case CODEC_GROUP_ACK:
    case CODEC_GROUP_NACK:
        CHECK(g->n_ids >= 1 && g->n_ids <= CODEC_GROUP_IDS_MAX && g->ids != NULL);
        break;
    case CODEC_GROUP_REPLAY:
        CHECK(g->n_ids <= CODEC_GROUP_IDS_MAX);
        CHECK((g->n_ids == 0) == (g->count != 0));
        break;
    case CODEC_GROUP_PENDING:
    case CODEC_GROUP_PARKED:
        CHECK(g->count >= 1 && g->count <= CODEC_GROUP_LIST_MAX);
        break;
    default:
        break;
    }
}

/* What the fast path decodes, jansson's path decodes identically. */
static void check_group_paths(enum codec_group_cmd cmd, const char *json, size_t size, const struct codec_limits *lim)
{
    struct codec_group fast, slow;
    char err[CODEC_ERR_LEN];
    if (!codec_fast_parse_group(cmd, json, size, lim, &fast))
        return;
    CHECK(codec_jansson_parse_group(cmd, json, size, lim, &slow, err) == 0);
    CHECK(strcmp(fast.group, slow.group) == 0);
    CHECK((fast.consumer == NULL) == (slow.consumer == NULL));
    CHECK(fast.consumer == NULL || strcmp(fast.consumer, slow.consumer) == 0);
    CHECK(fast.count == slow.count && fast.block_ms == slow.block_ms);
    CHECK(fast.n_ids == slow.n_ids);
    CHECK(fast.n_ids == 0 || memcmp(fast.ids, slow.ids, fast.n_ids * ULID_BYTES) == 0);
    codec_group_free(&fast);
    codec_group_free(&slow);
}

static void fuzz_groups(const char *json, size_t size, const struct codec_limits *lim)
{
    check_group_paths(CODEC_GROUP_READ, json, size, lim);
    check_group_paths(CODEC_GROUP_ACK, json, size, lim);
    static const char *const names[] = {"create", "DESTROY", "info", "LIST", "read", "ack",
                                        "nack",   "pending", "parked", "replay", "seek"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int cmd = codec_group_lookup(names[i], strlen(names[i]));
        CHECK(cmd >= 0);
        struct codec_group g;
        char err[CODEC_ERR_LEN];
        if (codec_parse_group((enum codec_group_cmd)cmd, json, size, lim, &g, err) == 0)
            check_group(&g, lim);
        else
            check_error_text(err);
        codec_group_free(&g);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *json = (const char *)data;
    struct codec_limits lim;
    codec_limits_default(&lim);
    /* Small limits so the fuzzer reaches them with short inputs. */
    lim.max_events = 16;
    lim.max_event_size = 512;
    lim.max_stream_len = 40;
    lim.max_type_len = 32;
    lim.max_read = 50;
    char err[CODEC_ERR_LEN];

    check_fast_path(json, size, &lim);
    struct codec_add add;
    if (codec_parse_add(json, size, &lim, &add, err) == 0)
        check_add(&add, data, size, &lim);
    else
        check_error_text(err);
    codec_add_free(&add);

    struct codec_get get;
    if (codec_parse_get(json, size, &lim, &get, err) == 0) {
        CHECK(get.stream != NULL && get.stream_len > 0);
        CHECK(get.limit >= 1 && get.limit <= lim.max_read);
        check_read_opts(&get.opts);
    } else {
        check_error_text(err);
        CHECK(get.stream == NULL);
    }
    codec_get_free(&get);

    struct codec_getall all;
    if (codec_parse_getall(json, size, &lim, &all, err) == 0) {
        CHECK(all.limit >= 1 && all.limit <= lim.max_read);
        check_read_opts(&all.opts);
    } else {
        check_error_text(err);
    }

    struct codec_liststreams ls;
    if (codec_parse_liststreams(json, size, &lim, &ls, err) == 0) {
        CHECK(ls.limit >= 1 && ls.limit <= lim.max_read);
        check_read_opts(&ls.opts);
    } else {
        check_error_text(err);
    }
    struct codec_subscription sub;
    if (codec_parse_subscription(json, size, &lim, &sub, err) == 0)
        check_subscription(&sub, &lim);
    else
        check_error_text(err);
    codec_subscription_free(&sub);
    fuzz_groups(json, size, &lim);
    return 0;
}
