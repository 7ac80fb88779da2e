/* subscriber.c - see subscriber.h. */
#include "subscriber.h"

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

#include "history.h"
#include "mono.h"
#include "rawresp.h"
#include "rng.h"
#include "workload.h"

#define MAX_SUBSCRIBERS 32
#define ID_LEN 26
#define CONNECT_MS 1000
#define CONFIRM_MS 3000   /* SUBSCRIBE's confirmation */
#define PING_EVERY_MS 1000
#define PONG_MS 2500      /* a PING unanswered this long: the node is stuck */
#define TICK_MS 200       /* how often the loop looks at its clocks */
#define STALL_RCVBUF 4096 /* the stalling subscriber's receive buffer */

struct subscriber {
    int k;
    int process;
    bool all;
    bool stalls; /* stops reading now and then */
    bool resp3;  /* HELLO 3 first: messages come as push frames */
    pthread_t thread;
    struct rng rng;
    const struct subscriber_config *cfg;
    /* the current subscription's life */
    char sub[32];
    int lives;            /* stream subscriber: streams followed so far */
    bool started;         /* its "start" line is written */
    char stream[48];
    uint64_t next_version;      /* stream: the next version owed */
    char last_id[ID_LEN + 1];   /* $all: the last id delivered ("": the start) */
    int node;                   /* slot index serving it now, -1 none */
    int idle_strikes;           /* stream: connections ended idle in a row */
    long long life_end;         /* stream: take another stream after this */
    long long next_move;        /* resume elsewhere on schedule after this */
    long long next_stall;
    char reason[256];           /* why the last subscribed connection ended */
    int connect_failures;       /* attempts that failed to connect since */
    char connect_error[256];    /* the last of them */
};

static struct subscriber subs[MAX_SUBSCRIBERS];
static int n_subs;
static atomic_bool stopping;
static atomic_bool draining;
static char drain_target[ID_LEN + 1];
static long long drain_deadline;
static atomic_uint_fast64_t delivered_total, resumes_total;

static json_t *line(const struct subscriber *s, const char *f)
{
    json_t *e = json_pack("{s:s, s:i, s:s, s:I, s:s}", "type", "info", "process", s->process, "f", f, "time",
                          (json_int_t)history_now(), "sub", s->sub);
    if (e == NULL)
        abort();
    if (s->node >= 0)
        json_object_set_new(e, "node", json_string(s->cfg->nodes.names[s->node]));
    return e;
}

/* The position the subscription (re)starts from, in the line and the spec. */
static void position(const struct subscriber *s, json_t *e, char *spec, size_t len)
{
    if (s->all) {
        json_object_set_new(e, "all", json_true());
        json_object_set_new(e, "offset", json_string(s->last_id));
        snprintf(spec, len, "{\"all\":true,\"offset\":\"%s\",\"markers\":true}", s->last_id);
    } else {
        json_object_set_new(e, "stream", json_string(s->stream));
        json_object_set_new(e, "version", json_integer((json_int_t)s->next_version));
        snprintf(spec, len, "{\"stream\":\"%s\",\"version\":%" PRIu64 ",\"markers\":true}", s->stream,
                 s->next_version);
    }
}

static bool drain_done(const struct subscriber *s)
{
    return !s->all || drain_target[0] == '\0' || strcmp(s->last_id, drain_target) >= 0 ||
           mono_ms() >= drain_deadline;
}

static bool should_stop(const struct subscriber *s)
{
    return atomic_load(&stopping) || (atomic_load(&draining) && drain_done(s));
}

static void write_stop(struct subscriber *s, const char *reason)
{
    json_t *e = line(s, "subscribe");
    json_object_set_new(e, "phase", json_string("stop"));
    json_object_set_new(e, "reason", json_string(reason));
    if (s->all) {
        json_object_set_new(e, "offset", json_string(s->last_id));
        if (atomic_load(&draining) && drain_target[0] != '\0') {
            json_object_set_new(e, "target", json_string(drain_target));
            json_object_set_new(e, "reached", json_boolean(strcmp(s->last_id, drain_target) >= 0));
        }
    } else {
        json_object_set_new(e, "stream", json_string(s->stream));
        json_object_set_new(e, "version", json_integer((json_int_t)s->next_version));
    }
    history_write(e);
}

/* A stream subscriber's next life: another stream, from version 0 or a few
 * versions in (a position that may not exist yet). */
static void new_stream_life(struct subscriber *s)
{
    snprintf(s->sub, sizeof s->sub, "st%d.%d", s->k, s->lives++);
    workload_pick_stream(&s->rng, s->stream, sizeof s->stream);
    s->next_version = rng_below(&s->rng, 2) ? 0 : 1 + rng_below(&s->rng, 8);
    s->started = false;
    s->idle_strikes = 0;
    s->life_end = mono_ms() + rng_range(&s->rng, 5000, 20000);
}

/* ---- one connection ------------------------------------------------------------- */

static const char *msg_kind(const struct resp_value *v)
{
    if ((v->type != RESP_T_ARRAY && v->type != RESP_T_PUSH) || v->n < 1 || v->elems[0].type != RESP_T_BULK)
        return NULL;
    return v->elems[0].str;
}

/* An event or a marker. false (with reason) ends the connection. */
static bool on_message(struct subscriber *s, const struct resp_value *v, bool *got_event)
{
    if (v->n != 3 || v->elems[2].type != RESP_T_BULK) {
        snprintf(s->reason, sizeof s->reason, "malformed message");
        return false;
    }
    json_error_t je;
    json_t *ev = json_loadb(v->elems[2].str, v->elems[2].len, 0, &je);
    if (!json_is_object(ev)) {
        snprintf(s->reason, sizeof s->reason, "message is not a JSON object: %.100s", je.text);
        json_decref(ev);
        return false;
    }
    json_t *marker = json_object_get(ev, "marker");
    if (marker != NULL) {
        json_t *e = line(s, "marker");
        json_object_set(e, "marker", ev);
        history_write(e);
        bool stale = json_is_string(marker) && strcmp(json_string_value(marker), "stale") == 0;
        json_decref(ev);
        if (stale) {
            snprintf(s->reason, sizeof s->reason, "the node says it is stale");
            return false;
        }
        return true;
    }
    const char *id = json_string_value(json_object_get(ev, "id"));
    const char *stream = json_string_value(json_object_get(ev, "stream"));
    json_t *version = json_object_get(ev, "version");
    if (id == NULL || strlen(id) != ID_LEN || stream == NULL || !json_is_integer(version)) {
        snprintf(s->reason, sizeof s->reason, "event without id, stream or version");
        json_decref(ev);
        return false;
    }
    json_t *data = json_object_get(ev, "data");
    json_t *value = json_is_string(data) ? json_incref(data) : json_null();
    json_t *e = line(s, "deliver");
    json_object_set_new(e, "event", json_pack("{s:s, s:s, s:O, s:o}", "id", id, "stream", stream, "version",
                                              version, "value", value));
    history_write(e);
    /* The resume point is the last event delivered, whatever it was: the
     * checker judges the sequence. */
    if (s->all)
        memcpy(s->last_id, id, ID_LEN + 1);
    else
        s->next_version = (uint64_t)json_integer_value(version) + 1;
    json_decref(ev);
    atomic_fetch_add(&delivered_total, 1);
    *got_event = true;
    return true;
}

/* Read nothing for a while (2-12 s): the node's output for this
 * connection waits in the kernel's buffers meanwhile (its send buffer grows
 * to 4 MiB by autotuning, so that the node's own slow-consumer limit of
 * 256 KiB is not reached at this workload's rate); afterwards everything
 * must still arrive, in order. */
static void stall(struct subscriber *s)
{
    long long until = mono_ms() + rng_range(&s->rng, 2000, 12000);
    while (mono_ms() < until && !atomic_load(&stopping) && !atomic_load(&draining))
        sleep_ms(TICK_MS);
}

/* Subscribe on s->node and read until the connection should end; the
 * reason is left in s->reason. */
static void run_connection(struct subscriber *s)
{
    const struct subscriber_config *cfg = s->cfg;
    char err[256];
    struct rawresp_conn c;
    if (rawresp_open(&c, cfg->nodes.addresses[s->node], CONNECT_MS, s->stalls ? STALL_RCVBUF : 0, err, sizeof err) !=
        0) {
        s->connect_failures++;
        snprintf(s->connect_error, sizeof s->connect_error, "%s: %.200s", cfg->nodes.names[s->node], err);
        return;
    }
    char spec[256];
    json_t *e = line(s, "subscribe");
    json_object_set_new(e, "phase", json_string(s->started ? "resume" : "start"));
    if (s->started)
        json_object_set_new(e, "reason", json_string(s->reason));
    if (s->connect_failures > 0) {
        json_object_set_new(e, "connect_failures", json_integer(s->connect_failures));
        json_object_set_new(e, "connect_error", json_string(s->connect_error));
        s->connect_failures = 0;
    }
    position(s, e, spec, sizeof spec);
    json_object_set_new(e, "spec", json_string(spec));
    if (s->started)
        atomic_fetch_add(&resumes_total, 1);
    s->started = true;
    history_write(e);

    long long t0 = mono_ms();
    bool confirmed = false, ping_out = false;
    long long last_msg = t0, last_ping = t0;
    const char *hello[] = {"HELLO", "3"};
    const char *sub_cmd[] = {"SUBSCRIBE", spec};
    const char *ping[] = {"PING"};
    bool hello_pending = s->resp3;
    if ((s->resp3 && rawresp_send(&c, 2, hello, CONNECT_MS, err, sizeof err) != 0) ||
        rawresp_send(&c, 2, sub_cmd, CONNECT_MS, err, sizeof err) != 0) {
        snprintf(s->reason, sizeof s->reason, "%s", err);
        goto out;
    }
    for (;;) {
        if (should_stop(s)) {
            snprintf(s->reason, sizeof s->reason, "stopping");
            break;
        }
        long long now = mono_ms();
        if (s->stalls && confirmed && now >= s->next_stall && !atomic_load(&draining)) {
            stall(s);
            s->next_stall = mono_ms() + rng_range(&s->rng, 10000, 30000);
            last_msg = last_ping = mono_ms();
            ping_out = false;
            continue;
        }
        if (!confirmed && now - t0 > CONFIRM_MS) {
            snprintf(s->reason, sizeof s->reason, "no answer to SUBSCRIBE within %d ms", CONFIRM_MS);
            break;
        }
        if (ping_out && now - last_ping > PONG_MS) {
            snprintf(s->reason, sizeof s->reason, "PING unanswered for %d ms", PONG_MS);
            break;
        }
        if (now - last_msg > cfg->idle_ms) {
            snprintf(s->reason, sizeof s->reason, "no message for %d ms", cfg->idle_ms);
            s->idle_strikes++;
            break;
        }
        if (now >= s->next_move && !atomic_load(&draining)) {
            snprintf(s->reason, sizeof s->reason, "moving on (scheduled)");
            s->next_move = now + rng_range(&s->rng, 8000, 20000);
            break;
        }
        if (!s->all && now >= s->life_end && !atomic_load(&draining)) {
            snprintf(s->reason, sizeof s->reason, "next stream");
            break;
        }
        if (confirmed && !ping_out && now - last_ping >= PING_EVERY_MS) {
            if (rawresp_send(&c, 1, ping, CONNECT_MS, err, sizeof err) != 0) {
                snprintf(s->reason, sizeof s->reason, "%s", err);
                break;
            }
            ping_out = true;
            last_ping = now;
        }
        struct resp_value v;
        int got = rawresp_read(&c, TICK_MS, &v, err, sizeof err);
        if (got < 0) {
            snprintf(s->reason, sizeof s->reason, "%s", err);
            break;
        }
        if (got == 0)
            continue;
        const char *kind = msg_kind(&v);
        bool ok = true, event = false;
        if (hello_pending) {
            hello_pending = false;
            if (v.type != RESP_T_MAP) {
                snprintf(s->reason, sizeof s->reason, "HELLO 3 refused: %.200s",
                         v.type == RESP_T_ERROR ? v.str : "unexpected reply");
                ok = false;
            }
        } else if (v.type == RESP_T_ERROR) {
            snprintf(s->reason, sizeof s->reason, "error reply: %.200s", v.str);
            ok = false;
        } else if (v.type == RESP_T_SIMPLE && strcmp(v.str, "PONG") == 0) {
            ping_out = false; /* RESP3 */
        } else if (kind != NULL && strcmp(kind, "pong") == 0) {
            ping_out = false; /* RESP2: ["pong", ""] */
        } else if (kind != NULL && strcmp(kind, "subscribe") == 0) {
            confirmed = true;
            last_msg = mono_ms();
        } else if (kind != NULL && strcmp(kind, "message") == 0) {
            ok = on_message(s, &v, &event);
            last_msg = mono_ms();
        } else {
            snprintf(s->reason, sizeof s->reason, "unexpected reply");
            ok = false;
        }
        resp_value_free(&v);
        if (event)
            s->idle_strikes = 0;
        if (!ok)
            break;
    }
out:
    rawresp_close(&c);
    /* Name the node: the next resume line says where this one ended. */
    char why[sizeof s->reason];
    snprintf(why, sizeof why, "%s", s->reason);
    snprintf(s->reason, sizeof s->reason, "%s: %.240s", cfg->nodes.names[s->node], why);
}

/* ---- the thread ----------------------------------------------------------------- */

static int pick_node(struct subscriber *s)
{
    return run_nodes_other(&s->rng, &s->cfg->nodes, s->node);
}

static void *subscriber_main(void *arg)
{
    struct subscriber *s = arg;
    long long start = mono_ms() + (s->all && s->k > 0 ? rng_range(&s->rng, 0, s->cfg->start_spread_ms) : 0);
    while (mono_ms() < start && !atomic_load(&stopping) && !atomic_load(&draining))
        sleep_ms(TICK_MS);
    if (atomic_load(&stopping) || atomic_load(&draining))
        return NULL;
    if (!s->all)
        new_stream_life(s);
    s->next_move = mono_ms() + rng_range(&s->rng, 8000, 20000);
    s->next_stall = mono_ms() + rng_range(&s->rng, 5000, 20000);
    while (!should_stop(s)) {
        if (!s->all && s->started && !atomic_load(&draining) &&
            (mono_ms() >= s->life_end || s->idle_strikes >= 2)) {
            write_stop(s, s->idle_strikes >= 2 ? "the stream went quiet" : "next stream");
            new_stream_life(s);
        }
        s->node = pick_node(s);
        long long t = mono_ms();
        run_connection(s);
        /* A connection refused at once (a dead node): do not spin. */
        if (mono_ms() - t < 100 && !should_stop(s))
            sleep_ms(rng_range(&s->rng, 100, 400));
    }
    write_stop(s, atomic_load(&draining) ? "the run ended" : "stopped");
    return NULL;
}

int subscribers_start(const struct subscriber_config *cfg)
{
    int total = cfg->all + cfg->streams;
    if (cfg->all < 0 || cfg->streams < 0 || total > MAX_SUBSCRIBERS || cfg->nodes.n < 1 ||
        cfg->nodes.n > RUN_NODES_MAX) {
        fprintf(stderr, "runner: subscribers 0..%d, nodes 1..%d\n", MAX_SUBSCRIBERS, RUN_NODES_MAX);
        return -1;
    }
    atomic_store(&stopping, false);
    atomic_store(&draining, false);
    for (int i = 0; i < total; i++) {
        struct subscriber *s = &subs[i];
        memset(s, 0, sizeof *s);
        s->cfg = cfg;
        s->all = i < cfg->all;
        s->k = s->all ? i : i - cfg->all;
        s->process = cfg->first_process + i;
        s->node = -1;
        s->stalls = s->all && s->k == 0;
        s->resp3 = i % 2 == 1;
        rng_seed(&s->rng, cfg->seed * 7919u + 5000u + (uint64_t)i);
        if (s->all)
            snprintf(s->sub, sizeof s->sub, "all%d", s->k);
        if (pthread_create(&s->thread, NULL, subscriber_main, s) != 0) {
            fprintf(stderr, "runner: pthread_create failed\n");
            return -1;
        }
        n_subs = i + 1;
    }
    return 0;
}

void subscribers_stop(const char *last_id, int timeout_ms)
{
    snprintf(drain_target, sizeof drain_target, "%s", last_id != NULL ? last_id : "");
    drain_deadline = mono_ms() + timeout_ms;
    atomic_store(&draining, true);
    for (int i = 0; i < n_subs; i++)
        pthread_join(subs[i].thread, NULL);
    n_subs = 0;
}

uint64_t subscribers_delivered(void)
{
    return atomic_load(&delivered_total);
}

uint64_t subscribers_resumes(void)
{
    return atomic_load(&resumes_total);
}
