/* bench_workload.c - what each benchmark request is, and whether its reply
 * is the right answer (see bench.h).
 *
 * Requests are RESP arrays of a command name and one JSON argument, the
 * shape eventflowd expects (docs: /work/shared/reference/protocol.md):
 *   ADD    {"stream":"bench:<n>","version":"any","events":[<event>,...]}
 *   GET    {"stream":"bench:<n>","version":0,"limit":<get-limit>}
 *   GETALL {"offset":"<ULID>","limit":<get-limit>}   (offset only after a prefill)
 *   PING
 * Every event is the same JSON object of exactly --event-size bytes:
 *   {"type":"BenchEvent","data":"<letters>"}
 * so the data string is the padding.
 *
 * A reply counts as a success only if it is what the request asked for:
 * ADD must return exactly the events it sent, reads an array of bulk
 * strings within the limit (and, for a prefilled stream, at least the
 * prefilled events). Anything else is a failure, counted under a word. */
#include "bench/bench.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "common/mem.h"

#define EVENT_HEAD "{\"type\":\"" BENCH_EVENT_TYPE "\",\"data\":\""
#define EVENT_TAIL "\"}"

/* splitmix64: tiny, fast, and good enough to pick streams and ops. */
void bench_rng_seed(struct bench_rng *rng, uint64_t seed)
{
    rng->state = seed;
}

uint64_t bench_rng_next(struct bench_rng *rng)
{
    uint64_t z = (rng->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint32_t bench_rng_below(struct bench_rng *rng, uint32_t n)
{
    /* Multiply-shift maps 32 random bits onto [0, n) with a bias below
     * n / 2^32, far under anything a benchmark could notice. */
    uint64_t r = bench_rng_next(rng) >> 32;
    return (uint32_t)((r * n) >> 32);
}

size_t bench_payload_min_size(void)
{
    return strlen(EVENT_HEAD) + strlen(EVENT_TAIL);
}

char *bench_payload_new(const struct bench_config *cfg)
{
    size_t head = strlen(EVENT_HEAD), tail = strlen(EVENT_TAIL);
    size_t pad = cfg->event_size - head - tail;
    char *p = xmalloc(cfg->event_size + 1);
    struct bench_rng rng;

    /* Letters need no JSON escaping; drawing them from the seed keeps the
     * payload reproducible without being one repeated byte. */
    bench_rng_seed(&rng, cfg->seed ^ 0x5eedull);
    memcpy(p, EVENT_HEAD, head);
    for (size_t i = 0; i < pad; i++)
        p[head + i] = (char)('a' + bench_rng_below(&rng, 26));
    memcpy(p + head + pad, EVENT_TAIL, tail);
    p[cfg->event_size] = '\0';
    return p;
}

const char *bench_op_name(enum bench_op op)
{
    switch (op) {
    case BENCH_OP_PING:
        return "ping";
    case BENCH_OP_ADD:
        return "add";
    case BENCH_OP_GET:
        return "get";
    case BENCH_OP_GETALL:
        return "getall";
    case BENCH_OP_COUNT:
        break;
    }
    return "?";
}

/* Frame `json` as the RESP array [name, json]. */
static void put_command(struct buf *out, const char *name, const struct buf *json)
{
    buf_printf(out, "*2\r\n$%zu\r\n%s\r\n$%zu\r\n", strlen(name), name, json->len);
    buf_append(out, json->data, json->len);
    buf_append(out, "\r\n", 2);
}

static void put_add(const struct bench_plan *plan, uint32_t stream, uint32_t n_events,
                    struct buf *scratch, struct buf *out, struct bench_req *req)
{
    buf_reset(scratch);
    buf_printf(scratch, "{\"stream\":\"bench:%" PRIu32 "\",\"version\":\"any\",\"events\":[",
               stream);
    for (uint32_t i = 0; i < n_events; i++) {
        if (i > 0)
            buf_append_char(scratch, ',');
        buf_append(scratch, plan->payload, plan->cfg->event_size);
    }
    buf_append_str(scratch, "]}");
    put_command(out, "ADD", scratch);
    req->op = BENCH_OP_ADD;
    req->events = n_events;
}

static void put_get(const struct bench_plan *plan, struct bench_rng *rng, struct buf *scratch,
                    struct buf *out, struct bench_req *req)
{
    const struct bench_config *cfg = plan->cfg;
    uint32_t stream;

    /* After a prefill, read the prefilled streams: each is known to hold at
     * least cfg->prefill events, so a short answer is caught. */
    if (cfg->prefill > 0) {
        uint64_t floor = cfg->prefill;
        stream = bench_rng_below(rng, cfg->prefill_streams);
        if (cfg->get_limit > 0 && floor > cfg->get_limit)
            floor = cfg->get_limit;
        req->min_events = floor > UINT32_MAX ? UINT32_MAX : (uint32_t)floor;
    } else {
        stream = bench_rng_below(rng, cfg->streams);
    }
    buf_reset(scratch);
    buf_printf(scratch, "{\"stream\":\"bench:%" PRIu32 "\",\"version\":0,\"limit\":%u}", stream,
               cfg->get_limit);
    put_command(out, "GET", scratch);
    req->op = BENCH_OP_GET;
    req->limit = cfg->get_limit;
}

static void put_getall(const struct bench_plan *plan, struct bench_rng *rng, struct buf *scratch,
                       struct buf *out, struct bench_req *req)
{
    unsigned limit = plan->cfg->get_limit;

    buf_reset(scratch);
    if (plan->n_offsets > 0) {
        uint32_t i = bench_rng_below(rng, (uint32_t)plan->n_offsets);
        buf_printf(scratch, "{\"offset\":\"%s\",\"limit\":%u}", plan->offsets[i], limit);
    } else {
        buf_printf(scratch, "{\"limit\":%u}", limit);
    }
    put_command(out, "GETALL", scratch);
    req->op = BENCH_OP_GETALL;
    req->limit = limit > 0 ? limit : 10; /* the protocol's default page */
}

static enum bench_op pick_op(const struct bench_config *cfg, struct bench_rng *rng)
{
    switch (cfg->workload) {
    case BENCH_W_PING:
        return BENCH_OP_PING;
    case BENCH_W_ADD:
        return BENCH_OP_ADD;
    case BENCH_W_GET:
        return BENCH_OP_GET;
    case BENCH_W_GETALL:
        return BENCH_OP_GETALL;
    case BENCH_W_MIXED:
        break;
    }
    unsigned total = 0;
    for (unsigned i = 0; i < BENCH_OP_COUNT; i++)
        total += cfg->mix[i];
    uint32_t r = bench_rng_below(rng, total);
    for (unsigned i = 0; i < BENCH_OP_COUNT; i++) {
        if (r < cfg->mix[i])
            return (enum bench_op)i;
        r -= cfg->mix[i];
    }
    return BENCH_OP_ADD; /* unreachable: the weights sum to total */
}

void bench_encode_load(const struct bench_plan *plan, struct bench_rng *rng, struct buf *scratch,
                       struct buf *out, struct bench_req *req)
{
    const struct bench_config *cfg = plan->cfg;

    switch (pick_op(cfg, rng)) {
    case BENCH_OP_PING:
        buf_append_str(out, "*1\r\n$4\r\nPING\r\n");
        req->op = BENCH_OP_PING;
        break;
    case BENCH_OP_ADD:
        put_add(plan, bench_rng_below(rng, cfg->streams), cfg->events_per_add, scratch, out, req);
        break;
    case BENCH_OP_GET:
        put_get(plan, rng, scratch, out, req);
        break;
    case BENCH_OP_GETALL:
    case BENCH_OP_COUNT:
        put_getall(plan, rng, scratch, out, req);
        break;
    }
}

/* Events per prefill ADD: large events make smaller batches, so that no
 * request nears a server's bulk limit. */
static uint32_t prefill_batch(const struct bench_config *cfg)
{
    size_t n = BENCH_PREFILL_BATCH_BYTES / cfg->event_size;
    if (n < 1)
        n = 1;
    return n < BENCH_PREFILL_BATCH ? (uint32_t)n : BENCH_PREFILL_BATCH;
}

uint64_t bench_prefill_jobs(const struct bench_config *cfg)
{
    uint32_t batch = prefill_batch(cfg);
    uint64_t per_stream = (cfg->prefill + batch - 1) / batch;
    return per_stream * cfg->prefill_streams;
}

void bench_encode_prefill(const struct bench_plan *plan, uint64_t job, struct buf *scratch,
                          struct buf *out, struct bench_req *req)
{
    const struct bench_config *cfg = plan->cfg;
    /* Round-robin over the streams, so the K streams fill evenly and a run
     * cut short still leaves them comparable. */
    uint32_t batch = prefill_batch(cfg);
    uint32_t stream = (uint32_t)(job % cfg->prefill_streams);
    uint64_t written = (job / cfg->prefill_streams) * batch;
    uint64_t left = cfg->prefill - written;
    uint32_t n = left < batch ? (uint32_t)left : batch;

    put_add(plan, stream, n, scratch, out, req);
    req->want_id = true;
}

/* First word of an error reply, e.g. "MOVED" or "concurrent". */
static void error_word(const struct resp_value *v, char word[BENCH_WORD_MAX])
{
    size_t n = 0;
    while (n < v->len && n < BENCH_WORD_MAX - 1 && v->str[n] != ' ')
        n++;
    if (n == 0) {
        snprintf(word, BENCH_WORD_MAX, "<empty-error>");
        return;
    }
    memcpy(word, v->str, n);
    word[n] = '\0';
}

static void fail(char word[BENCH_WORD_MAX], const char *reason)
{
    snprintf(word, BENCH_WORD_MAX, "%s", reason);
}

/* The "id" of a returned event, which must be a JSON object. */
static int event_id(const struct resp_value *ev, char *id)
{
    json_error_t err;
    json_t *obj = json_loadb(ev->str, ev->len, 0, &err);
    const char *s = json_string_value(json_object_get(obj, "id"));
    int rc = -1;

    if (s != NULL && strlen(s) == BENCH_ULID_LEN) {
        memcpy(id, s, BENCH_ULID_LEN + 1);
        rc = 0;
    }
    json_decref(obj);
    return rc;
}

int bench_check_reply(const struct bench_req *req, const struct resp_value *v, uint64_t *events,
                      uint64_t *payload_bytes, char *id, char word[BENCH_WORD_MAX])
{
    *events = 0;
    *payload_bytes = 0;
    if (v->type == RESP_T_ERROR) {
        error_word(v, word);
        return -1;
    }
    if (req->op == BENCH_OP_PING) {
        if (v->type == RESP_T_SIMPLE && v->len == 4 && memcmp(v->str, "PONG", 4) == 0)
            return 0;
        fail(word, "<bad-reply>");
        return -1;
    }

    /* ADD, GET and GETALL all answer with an array of events, each a
     * non-empty bulk string holding the event's JSON. */
    if (v->type != RESP_T_ARRAY) {
        fail(word, "<bad-reply>");
        return -1;
    }
    uint64_t bytes = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (v->elems[i].type != RESP_T_BULK || v->elems[i].len == 0) {
            fail(word, "<bad-event>");
            return -1;
        }
        bytes += v->elems[i].len;
    }
    if (req->op == BENCH_OP_ADD && v->n != req->events) {
        fail(word, "<wrong-count>");
        return -1;
    }
    if (req->limit > 0 && v->n > req->limit) {
        fail(word, "<too-many>");
        return -1;
    }
    if (v->n < req->min_events) {
        fail(word, "<short-read>");
        return -1;
    }
    if (req->want_id && (v->n == 0 || event_id(&v->elems[0], id) != 0)) {
        fail(word, "<bad-event>");
        return -1;
    }
    *events = v->n;
    *payload_bytes = bytes;
    return 0;
}
