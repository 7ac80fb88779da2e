/* workload.c - see workload.h. */
#include "workload.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eventflow/eventflow.h"
#include "history.h"
#include "rng.h"

#define MAX_WORKERS 64
#define MAX_STREAM_SLOTS 32
#define STREAM_NAME 48
#define KNOWN 16
#define MAX_BATCH 3
#define READ_ALL_LIMIT 100

static const char *const pref_names[] = {"leader", "follower", "any"};
static const enum eventflow_read_preference prefs[] = {EF_READ_LEADER, EF_READ_FOLLOWER, EF_READ_ANY};

/* ---- the shared stream pool ------------------------------------------------ */

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static char pool_name[MAX_STREAM_SLOTS][STREAM_NAME];
static int pool_events[MAX_STREAM_SLOTS];
static uint64_t pool_next;

/* A stream to append n events to: a slot's stream, retired and replaced
 * when it would grow past the limit. */
static void pool_for_append(const struct workload_config *cfg, struct rng *r, int n, char *out)
{
    int k = (int)rng_below(r, (uint64_t)cfg->stream_slots);
    pthread_mutex_lock(&pool_mu);
    if (pool_events[k] + n > cfg->stream_max_events) {
        snprintf(pool_name[k], STREAM_NAME, "s%" PRIu64, pool_next++);
        pool_events[k] = 0;
    }
    pool_events[k] += n;
    memcpy(out, pool_name[k], STREAM_NAME);
    pthread_mutex_unlock(&pool_mu);
}

static void pool_for_read(const struct workload_config *cfg, struct rng *r, char *out)
{
    int k = (int)rng_below(r, (uint64_t)cfg->stream_slots);
    pthread_mutex_lock(&pool_mu);
    memcpy(out, pool_name[k], STREAM_NAME);
    pthread_mutex_unlock(&pool_mu);
}

static const struct workload_config *pool_cfg;

void workload_pick_stream(struct rng *r, char *out, size_t len)
{
    char name[STREAM_NAME];
    pool_for_read(pool_cfg, r, name);
    snprintf(out, len, "%s", name);
}

/* ---- workers ------------------------------------------------------------------ */

struct worker {
    int id;
    pthread_t thread;
    const struct workload_config *cfg;
    struct rng rng;
    struct eventflow_client *main, *lin, *local;
    uint64_t seq;
    /* what this worker last saw of a few streams: for expected versions */
    char known_name[KNOWN][STREAM_NAME];
    int64_t known_len[KNOWN];
    int known_next;
    char cursor[EF_ID_LEN + 1]; /* GETALL offset: the last id seen */
    char acked_key[64];         /* the first key of the last acknowledged append; "" before one */
};

static struct worker workers[MAX_WORKERS];
static int n_workers;
static atomic_bool stopping;
static atomic_uint_fast64_t completed;

static int64_t known_get(struct worker *w, const char *stream)
{
    for (int i = 0; i < KNOWN; i++)
        if (strcmp(w->known_name[i], stream) == 0)
            return w->known_len[i];
    return 0;
}

static void known_set(struct worker *w, const char *stream, int64_t len)
{
    for (int i = 0; i < KNOWN; i++) {
        if (strcmp(w->known_name[i], stream) == 0) {
            if (len > w->known_len[i])
                w->known_len[i] = len;
            return;
        }
    }
    int i = w->known_next++ % KNOWN;
    snprintf(w->known_name[i], STREAM_NAME, "%s", stream);
    w->known_len[i] = len;
}

static json_t *op_entry(const struct worker *w, const char *type, int64_t op, const char *f)
{
    json_t *e = json_pack("{s:s, s:i, s:I, s:s, s:I}", "type", type, "process", w->id, "op", (json_int_t)op,
                          "f", f, "time", (json_int_t)history_now());
    if (e == NULL)
        abort();
    return e;
}

/* Completion type of an append that failed: only errors that promise
 * nothing was written are "fail"; anything else is unknown. */
static const char *append_failure_type(int rc)
{
    switch (rc) {
    case EF_EINVAL:
    case EF_EUNAVAILABLE:
    case EF_EAUTH:
    case EF_ECONFLICT:
    case EF_EGAP:
    case EF_EKEYREUSE:
    case EF_EFULL:
    case EF_ETOOBIG:
        return "fail";
    default:
        return "info";
    }
}

static void set_error(json_t *e, struct eventflow_client *c, int rc)
{
    json_object_set_new(e, "error", json_string(eventflow_err_name(rc)));
    json_object_set_new(e, "message", json_string(eventflow_client_last_error(c)));
    const char *node = eventflow_client_last_node(c);
    if (node[0] != '\0')
        json_object_set_new(e, "node", json_string(node));
}

static void do_append(struct worker *w)
{
    char stream[STREAM_NAME];
    int n = 1 + (int)rng_below(&w->rng, MAX_BATCH);
    bool reuse = w->acked_key[0] != '\0' && (int)rng_below(&w->rng, 100) < w->cfg->key_reuse_pct;
    if (reuse)
        n = 1;
    pool_for_append(w->cfg, &w->rng, n, stream);
    int64_t expected = rng_below(&w->rng, 2) ? known_get(w, stream) : EF_VERSION_ANY;

    char values[MAX_BATCH][48], keys[MAX_BATCH][64];
    struct eventflow_new_event evs[MAX_BATCH];
    memset(evs, 0, sizeof evs);
    uint64_t seq = w->seq++;
    json_t *jv = json_array(), *jk = json_array();
    for (int j = 0; j < n; j++) {
        snprintf(values[j], sizeof values[j], "w%d-%" PRIu64 "-%d", w->id, seq, j);
        if (reuse)
            snprintf(keys[j], sizeof keys[j], "%s", w->acked_key);
        else
            snprintf(keys[j], sizeof keys[j], "k%" PRIu64 "-w%d-%" PRIu64 "-%d", w->cfg->seed, w->id, seq, j);
        evs[j].type = "jepsen";
        evs[j].data.kind = EF_PAYLOAD_STRING;
        evs[j].data.bytes = values[j];
        evs[j].data.len = strlen(values[j]);
        evs[j].key = keys[j];
        json_array_append_new(jv, json_string(values[j]));
        json_array_append_new(jk, json_string(keys[j]));
    }

    int64_t op = history_next_op();
    json_t *inv = op_entry(w, "invoke", op, "append");
    json_object_set_new(inv, "stream", json_string(stream));
    json_object_set_new(inv, "expected", json_integer(expected));
    json_object_set(inv, "values", jv);
    json_object_set(inv, "keys", jk);
    history_write(inv);

    struct eventflow_event_list out = {0};
    int rc = eventflow_append(w->main, stream, expected, evs, (size_t)n, &out);

    json_t *done = op_entry(w, rc == EF_OK ? "ok" : append_failure_type(rc), op, "append");
    json_object_set_new(done, "stream", json_string(stream));
    json_object_set_new(done, "expected", json_integer(expected));
    json_object_set_new(done, "values", jv);
    json_object_set_new(done, "keys", jk);
    if (rc == EF_OK) {
        json_t *acked = json_array();
        for (size_t j = 0; j < out.n; j++)
            json_array_append_new(acked, json_pack("{s:s, s:I}", "id", out.events[j].id, "version",
                                                   (json_int_t)out.events[j].version));
        json_object_set_new(done, "events", acked);
        json_object_set_new(done, "node", json_string(eventflow_client_last_node(w->main)));
        if (out.n > 0)
            known_set(w, stream, (int64_t)out.events[out.n - 1].version + 1);
        snprintf(w->acked_key, sizeof w->acked_key, "%s", keys[0]);
    } else {
        set_error(done, w->main, rc);
    }
    history_write(done);
    eventflow_event_list_free(&out);
}

/* mode 0: linearizable, 1: local, 2: read-your-writes */
static struct eventflow_client *mode_client(struct worker *w, int mode, const char **name)
{
    static const char *const names[] = {"linearizable", "local", "ryw"};
    *name = names[mode];
    return mode == 0 ? w->lin : mode == 1 ? w->local : w->main;
}

static json_t *read_events(const struct eventflow_event_list *l)
{
    json_t *a = json_array();
    for (size_t i = 0; i < l->n; i++) {
        const struct eventflow_event *ev = &l->events[i];
        json_t *v = ev->data.kind == EF_PAYLOAD_NULL ? json_null() : json_stringn(ev->data.bytes, ev->data.len);
        json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:o}", "id", ev->id, "stream", ev->stream,
                                           "version", (json_int_t)ev->version, "value", v));
    }
    return a;
}

static void do_read(struct worker *w)
{
    char stream[STREAM_NAME];
    pool_for_read(w->cfg, &w->rng, stream);
    const char *mode;
    struct eventflow_client *c = mode_client(w, (int)rng_below(&w->rng, 3), &mode);

    int64_t op = history_next_op();
    json_t *inv = op_entry(w, "invoke", op, "read");
    json_object_set_new(inv, "stream", json_string(stream));
    json_object_set_new(inv, "mode", json_string(mode));
    json_object_set_new(inv, "pref", json_string(pref_names[w->id % 3]));
    history_write(inv);

    struct eventflow_event_list out = {0};
    int rc = eventflow_read_stream(c, stream, 0, 0, &out);

    json_t *done = op_entry(w, rc == EF_OK ? "ok" : "fail", op, "read");
    json_object_set_new(done, "stream", json_string(stream));
    json_object_set_new(done, "mode", json_string(mode));
    if (rc == EF_OK) {
        json_object_set_new(done, "node", json_string(eventflow_client_last_node(c)));
        json_object_set_new(done, "read", read_events(&out));
        known_set(w, stream, (int64_t)out.n);
    } else {
        set_error(done, c, rc);
    }
    history_write(done);
    eventflow_event_list_free(&out);
}

static void do_read_all(struct worker *w)
{
    const char *mode;
    struct eventflow_client *c = mode_client(w, (int)rng_below(&w->rng, 3), &mode);
    char after[EF_ID_LEN + 1] = "";
    if (rng_below(&w->rng, 10) != 0)
        memcpy(after, w->cursor, sizeof after);

    int64_t op = history_next_op();
    json_t *inv = op_entry(w, "invoke", op, "read_all");
    json_object_set_new(inv, "after", json_string(after));
    json_object_set_new(inv, "limit", json_integer(READ_ALL_LIMIT));
    json_object_set_new(inv, "mode", json_string(mode));
    json_object_set_new(inv, "pref", json_string(pref_names[w->id % 3]));
    history_write(inv);

    struct eventflow_event_list out = {0};
    int rc = eventflow_read_all(c, after, READ_ALL_LIMIT, &out);

    json_t *done = op_entry(w, rc == EF_OK ? "ok" : "fail", op, "read_all");
    json_object_set_new(done, "after", json_string(after));
    json_object_set_new(done, "limit", json_integer(READ_ALL_LIMIT));
    json_object_set_new(done, "mode", json_string(mode));
    if (rc == EF_OK) {
        json_object_set_new(done, "node", json_string(eventflow_client_last_node(c)));
        json_object_set_new(done, "read", read_events(&out));
        /* Move on only forwards: a lagging node's page ends earlier. */
        if (out.n > 0 && strcmp(out.events[out.n - 1].id, w->cursor) > 0)
            memcpy(w->cursor, out.events[out.n - 1].id, sizeof w->cursor);
    } else {
        set_error(done, c, rc);
    }
    history_write(done);
    eventflow_event_list_free(&out);
}

static void think(struct worker *w)
{
    if (w->cfg->think_ms <= 0)
        return;
    long ms = (long)rng_below(&w->rng, (uint64_t)w->cfg->think_ms + 1);
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    while (!atomic_load(&stopping)) {
        uint64_t dice = rng_below(&w->rng, 100);
        if (dice < 50)
            do_append(w);
        else if (dice < 80)
            do_read(w);
        else
            do_read_all(w);
        atomic_fetch_add(&completed, 1);
        think(w);
    }
    return NULL;
}

static struct eventflow_client *make_client(const struct workload_config *cfg, enum eventflow_read_preference pref,
                                            enum eventflow_consistency cons)
{
    struct eventflow_options o;
    eventflow_options_init(&o);
    o.endpoints = cfg->endpoints;
    o.connect_timeout_ms = 500;
    o.request_timeout_ms = cfg->request_timeout_ms;
    o.retry_deadline_ms = cfg->retry_deadline_ms;
    o.read_preference = pref;
    o.consistency = cons;
    struct eventflow_client *c = NULL;
    int rc = eventflow_client_new(&o, &c);
    if (rc != EF_OK) {
        fprintf(stderr, "runner: eventflow_client_new: %s\n", eventflow_strerror(rc));
        return NULL;
    }
    return c;
}

int workload_start(const struct workload_config *cfg)
{
    if (cfg->workers < 1 || cfg->workers > MAX_WORKERS || cfg->stream_slots < 1 ||
        cfg->stream_slots > MAX_STREAM_SLOTS) {
        fprintf(stderr, "runner: workers 1..%d, stream slots 1..%d\n", MAX_WORKERS, MAX_STREAM_SLOTS);
        return -1;
    }
    for (int k = 0; k < cfg->stream_slots; k++)
        snprintf(pool_name[k], STREAM_NAME, "s%" PRIu64, pool_next++);
    pool_cfg = cfg;
    atomic_store(&stopping, false);
    for (int i = 0; i < cfg->workers; i++) {
        struct worker *w = &workers[i];
        memset(w, 0, sizeof *w);
        w->id = i;
        w->cfg = cfg;
        rng_seed(&w->rng, cfg->seed * 1000003u + (uint64_t)i + 1);
        enum eventflow_read_preference pref = prefs[i % 3];
        w->main = make_client(cfg, pref, EF_CONSISTENCY_READ_YOUR_WRITES);
        w->lin = make_client(cfg, pref, EF_CONSISTENCY_LINEARIZABLE);
        w->local = make_client(cfg, pref, EF_CONSISTENCY_LOCAL);
        if (w->main == NULL || w->lin == NULL || w->local == NULL)
            return -1;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            fprintf(stderr, "runner: pthread_create failed\n");
            return -1;
        }
        n_workers = i + 1;
    }
    return 0;
}

void workload_stop(void)
{
    atomic_store(&stopping, true);
    for (int i = 0; i < n_workers; i++) {
        struct worker *w = &workers[i];
        pthread_join(w->thread, NULL);
        eventflow_client_free(w->main);
        eventflow_client_free(w->lin);
        eventflow_client_free(w->local);
    }
    n_workers = 0;
}

uint64_t workload_completed(void)
{
    return atomic_load(&completed);
}
