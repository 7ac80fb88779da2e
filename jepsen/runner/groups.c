/* groups.c - the consumer threads of the group workload (see groups.h);
 * the end-of-run state is groups_final.c's. */
#include "groups.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "mono.h"
#include "rng.h"
#include "workload.h"

#define MAX_CONSUMERS 32
#define READ_MAX 64        /* events one READ asks for at most (the drain's count) */
#define READ_SLACK_MS 3000 /* a READ may answer block_ms late: a commit under faults */
#define CALL_MS 3000       /* ACK, NACK, CREATE: no reply within this, a paused node */
#define ACK_ATTEMPTS 10
#define CREATE_MS 30000    /* the first groups' creation, retried this long */
#define POISON_EVERY 50    /* events whose id hashes to 0 mod this are never acked */
#define ID_LEN 26

struct group_def {
    char name[32];
    bool all;
    char stream[48];
    int ack_wait_ms;
};

/* The groups created so far; an entry never changes once n_defs counts it. */
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct group_def defs[GROUPS_MAX];
static int n_defs;

struct held {
    char id[ID_LEN + 1];
};

struct consumer {
    int k;
    int process;
    pthread_t thread;
    struct rng rng;
    const struct groups_config *cfg;
    char name[32];
    int lives;
    struct gconn conn;
    unsigned rr;          /* draining: the next group in turn */
    long long next_group; /* consumer 0: when to create the next stream group */
};

static struct consumer consumers[MAX_CONSUMERS];
static int n_consumers;
/* The next stream group's number: each name is tried with one stream only,
 * so that a creation whose outcome was unknown cannot leave a group under
 * a name the runner later registers for another stream. */
static int next_stream_group;
static atomic_bool stopping, draining;
static atomic_uint_fast64_t delivered_total, acked_total, crashes_total;

/* ---- the groups ------------------------------------------------------------------ */

static void register_group(const struct group_def *d)
{
    pthread_mutex_lock(&reg_mu);
    if (n_defs < GROUPS_MAX)
        defs[n_defs++] = *d;
    pthread_mutex_unlock(&reg_mu);
}

static int group_count(void)
{
    pthread_mutex_lock(&reg_mu);
    int n = n_defs;
    pthread_mutex_unlock(&reg_mu);
    return n;
}

static struct group_def group_at(int i)
{
    pthread_mutex_lock(&reg_mu);
    struct group_def d = defs[i];
    pthread_mutex_unlock(&reg_mu);
    return d;
}

int groups_names(char out[][32], int max)
{
    pthread_mutex_lock(&reg_mu);
    int n = n_defs < max ? n_defs : max;
    for (int i = 0; i < n; i++)
        memcpy(out[i], defs[i].name, sizeof out[i]);
    pthread_mutex_unlock(&reg_mu);
    return n;
}

/* ---- talking to a node --------------------------------------------------------------- */

/* Open a connection if none is; false (after a short pause, with another
 * node chosen) when the node refuses. */
static bool connected(struct gconn *c, struct rng *r)
{
    char err[256];
    if (c->node < 0)
        c->node = run_nodes_other(r, c->nodes, -1);
    if (gconn_ensure(c, err, sizeof err) == 0)
        return true;
    c->node = run_nodes_other(r, c->nodes, c->node);
    sleep_ms(rng_range(r, 100, 400));
    return false;
}

static bool retryable(const struct gop *g)
{
    return g->type == GOP_INFO || strcmp(g->error, "MOVED") == 0 || strcmp(g->error, "NOLEADER") == 0 ||
           strcmp(g->error, "TRYAGAIN") == 0 || strcmp(g->error, "FULL") == 0;
}

/* Where the next request goes after a failed one. */
static void react(struct gconn *c, struct rng *r, const struct gop *g)
{
    if (g->type == GOP_OK)
        return;
    if (strcmp(g->error, "MOVED") == 0) {
        gconn_close(c);
        c->node = g->moved >= 0 ? g->moved : run_nodes_other(r, c->nodes, c->node);
    } else if (strcmp(g->error, "NOLEADER") == 0 || strcmp(g->error, "TRYAGAIN") == 0 ||
               strcmp(g->error, "FULL") == 0) {
        /* A node cut off from the majority says NOLEADER for as long as
         * the cut lasts: sometimes ask another. */
        sleep_ms(rng_range(r, 200, 500));
        if (rng_below(r, 2) == 0) {
            gconn_close(c);
            c->node = run_nodes_other(r, c->nodes, c->node);
        }
    } else if (g->type == GOP_INFO && !c->open) {
        c->node = run_nodes_other(r, c->nodes, c->node);
        sleep_ms(rng_range(r, 50, 200));
    }
}

/* An ACK's or NACK's reply is an integer; anything else is a server bug
 * the checker must see: recorded as an unknown outcome, error bad_reply. */
static json_t *int_result(struct gop *g, const char *key)
{
    if (g->type != GOP_OK)
        return NULL;
    if (g->reply.type != RESP_T_INT) {
        g->type = GOP_INFO;
        snprintf(g->error, sizeof g->error, "bad_reply");
        snprintf(g->message, sizeof g->message, "the reply is not an integer");
        return NULL;
    }
    return json_must(json_pack("{s:I}", key, (json_int_t)g->reply.integer));
}

/* ---- CREATE ------------------------------------------------------------------------ */

static json_t *create_request(const struct groups_config *cfg, const struct group_def *d)
{
    json_t *req = json_must(json_pack("{s:s, s:i, s:i}", "group", d->name, "ack_wait_ms", d->ack_wait_ms,
                                      "max_deliveries",
                                      d->all ? cfg->all_max_deliveries : cfg->stream_max_deliveries));
    if (d->all)
        json_object_set_new(req, "all", json_true());
    else
        json_object_set_new(req, "stream", json_string(d->stream));
    return req;
}

/* Create a group through whichever node leads, retried for budget_ms;
 * registered once it is known to exist (+OK, or -EXISTS after an attempt
 * whose outcome was unknown). */
static bool create_group(const struct groups_config *cfg, struct gconn *c, int process, struct rng *r,
                         const struct group_def *d, int budget_ms)
{
    json_t *req = create_request(cfg, d);
    long long end = mono_ms() + budget_ms;
    bool made = false;
    while (!made && mono_ms() < end && !atomic_load(&stopping)) {
        if (!connected(c, r))
            continue;
        struct gop g;
        gop_call(c, process, "group_create", "CREATE", req, NULL, CALL_MS, &g);
        made = g.type == GOP_OK || strcmp(g.error, "EXISTS") == 0;
        react(c, r, &g);
        bool again = retryable(&g);
        gop_finish(&g, NULL);
        if (!made && !again)
            break;
    }
    json_decref(req);
    if (made)
        register_group(d);
    return made;
}

static void new_stream_group(struct consumer *cs)
{
    const struct groups_config *cfg = cs->cfg;
    struct group_def d = {.ack_wait_ms = cfg->stream_ack_wait_ms};
    snprintf(d.name, sizeof d.name, "gst%d", next_stream_group++);
    workload_pick_stream(&cs->rng, d.stream, sizeof d.stream);
    (void)create_group(cfg, &cs->conn, cs->process, &cs->rng, &d, 10000);
}

/* ---- READ ---------------------------------------------------------------------------- */

/* The events of a READ's reply, as history entries and ids. false: the
 * reply is not what docs/protocol.md promises. */
static bool parse_delivered(const struct resp_value *v, json_t *out, struct held *held, int *n, int max)
{
    if (v->type != RESP_T_ARRAY || v->n > (size_t)max)
        return false;
    for (size_t i = 0; i < v->n; i++) {
        const struct resp_value *el = &v->elems[i];
        if (el->type != RESP_T_BULK)
            return false;
        json_t *ev = json_loadb(el->str, el->len, 0, NULL);
        const char *id = json_string_value(json_object_get(ev, "id"));
        const char *stream = json_string_value(json_object_get(ev, "stream"));
        json_t *version = json_object_get(ev, "version"), *deliveries = json_object_get(ev, "deliveries");
        if (id == NULL || strlen(id) != ID_LEN || stream == NULL || !json_is_integer(version) ||
            !json_is_integer(deliveries)) {
            json_decref(ev);
            return false;
        }
        json_t *data = json_object_get(ev, "data");
        json_t *got = json_pack("{s:s, s:s, s:O, s:O, s:O}", "id", id, "stream", stream, "version", version, "value",
                                json_is_string(data) ? data : json_null(), "deliveries", deliveries);
        json_array_append_new(out, json_must(got));
        memcpy(held[*n].id, id, ID_LEN + 1);
        (*n)++;
        json_decref(ev);
    }
    return true;
}

static void write_crash(struct consumer *cs, const char *group, const struct held *held, int n, bool mid_read)
{
    json_t *e = json_must(json_pack("{s:s, s:i, s:s, s:I, s:s, s:s}", "type", "info", "process", cs->process, "f",
                                    "group_crash", "time", (json_int_t)history_now(), "consumer", cs->name, "node",
                                    cs->cfg->nodes.names[cs->conn.node]));
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_must(json_pack("{s:s, s:s}", "group", group, "id", held[i].id)));
    json_object_set_new(e, "held", a);
    if (mid_read)
        json_object_set_new(e, "mid_read", json_true());
    history_write(e);
    atomic_fetch_add(&crashes_total, 1);
}

/* The consumer is gone for a while, then back on a random node, under its
 * old name or a new one. */
static void come_back(struct consumer *cs)
{
    gconn_close(&cs->conn);
    sleep_ms(rng_range(&cs->rng, 300, 3000));
    if (rng_below(&cs->rng, 2) == 0)
        snprintf(cs->name, sizeof cs->name, "c%d.%d", cs->k, ++cs->lives);
    cs->conn.node = run_nodes_other(&cs->rng, &cs->cfg->nodes, cs->conn.node);
}

/* One READ, following MOVED a few times. Returns the number of events got
 * (into held), or -1 when the consumer crashed mid-read. */
static int read_group(struct consumer *cs, const struct group_def *d, struct held *held)
{
    bool drain = atomic_load(&draining);
    /* The global log's group must keep up with six writers; a stream
     * group gets a few events a second while its stream is written, and
     * nothing after it retired: short blocks there. */
    int count = drain ? READ_MAX : rng_range(&cs->rng, 1, d->all ? 32 : 8);
    int block = drain ? 0 : d->all ? rng_range(&cs->rng, 100, 800) : rng_range(&cs->rng, 20, 200);
    bool crash = !drain && rng_below(&cs->rng, 300) == 0;
    for (int hop = 0; hop < 3; hop++) {
        if (!connected(&cs->conn, &cs->rng))
            return 0;
        json_t *req = json_must(json_pack("{s:s, s:s, s:i, s:i}", "group", d->name, "consumer", cs->name, "count",
                                          count, "block_ms", block));
        struct gop g;
        gop_call(&cs->conn, cs->process, "group_read", "READ", req, NULL, crash ? 0 : block + READ_SLACK_MS, &g);
        json_decref(req);
        int n = 0;
        json_t *result = NULL;
        if (g.type == GOP_OK) {
            json_t *got = json_array();
            if (parse_delivered(&g.reply, got, held, &n, count)) {
                result = json_must(json_pack("{s:o}", "delivered", got));
            } else {
                json_decref(got);
                n = 0;
                g.type = GOP_INFO;
                snprintf(g.error, sizeof g.error, "bad_reply");
                snprintf(g.message, sizeof g.message, "the reply is not an array of at most %d events", count);
            }
        }
        bool moved = strcmp(g.error, "MOVED") == 0;
        react(&cs->conn, &cs->rng, &g);
        gop_finish(&g, result);
        if (crash) {
            write_crash(cs, d->name, NULL, 0, true);
            come_back(cs);
            return -1;
        }
        atomic_fetch_add(&delivered_total, (uint64_t)n);
        if (!moved)
            return n;
    }
    return 0;
}

/* ---- ACK and NACK ----------------------------------------------------------------------- */

static json_t *id_array(const struct held *ids, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_string(ids[i].id));
    return a;
}

/* ACK, retried until it is known to have taken effect: acking again is
 * harmless (an event already acked counts 0). */
static void ack(struct consumer *cs, const char *group, const struct held *ids, int n)
{
    json_t *req = json_must(json_pack("{s:s, s:o}", "group", group, "ids", id_array(ids, n)));
    json_t *extra = json_must(json_pack("{s:s}", "consumer", cs->name));
    for (int attempt = 0; attempt < ACK_ATTEMPTS && !atomic_load(&stopping); attempt++) {
        if (!connected(&cs->conn, &cs->rng))
            continue;
        struct gop g;
        gop_call(&cs->conn, cs->process, "group_ack", "ACK", req, extra, CALL_MS, &g);
        json_t *result = int_result(&g, "acked");
        bool done = g.type == GOP_OK, again = retryable(&g) && strcmp(g.error, "bad_reply") != 0;
        if (done)
            atomic_fetch_add(&acked_total, (uint64_t)g.reply.integer);
        react(&cs->conn, &cs->rng, &g);
        gop_finish(&g, result);
        if (done || !again)
            break;
    }
    json_decref(extra);
    json_decref(req);
}

/* NACK, sent once (and once more on the leader after a MOVED): giving
 * back again could give back someone else's delivery of the event. */
static void nack(struct consumer *cs, const char *group, const struct held *ids, int n, bool park)
{
    json_t *req = json_must(json_pack("{s:s, s:o, s:b}", "group", group, "ids", id_array(ids, n), "park", park));
    json_t *extra = json_must(json_pack("{s:s}", "consumer", cs->name));
    for (int hop = 0; hop < 2; hop++) {
        if (!connected(&cs->conn, &cs->rng))
            break;
        struct gop g;
        gop_call(&cs->conn, cs->process, "group_nack", "NACK", req, extra, CALL_MS, &g);
        json_t *result = int_result(&g, "returned");
        bool moved = strcmp(g.error, "MOVED") == 0;
        react(&cs->conn, &cs->rng, &g);
        gop_finish(&g, result);
        if (!moved)
            break;
    }
    json_decref(extra);
    json_decref(req);
}

/* ---- the consumer --------------------------------------------------------------------- */

static bool poison(const char *id)
{
    uint32_t h = 2166136261u;
    for (const char *p = id; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return h % POISON_EVERY == 0;
}

static int pick_group(struct consumer *cs)
{
    int n = group_count();
    if (atomic_load(&draining))
        return (int)(cs->rr++ % (unsigned)n);
    uint64_t dice = rng_below(&cs->rng, 100);
    if (n == 1 || dice < 70)
        return 0;
    /* The newest stream group is the one whose stream is still written;
     * the older ones have only redeliveries left. */
    return dice < 90 ? n - 1 : 1 + (int)rng_below(&cs->rng, (uint64_t)n - 1);
}

/* What the consumer does with what one READ got. */
static void answer(struct consumer *cs, const struct group_def *d, const struct held *got, int n)
{
    bool drain = atomic_load(&draining);
    if (!drain && rng_below(&cs->rng, 150) == 0) {
        write_crash(cs, d->name, got, n, false);
        come_back(cs);
        return;
    }
    /* Now and then slower than the ack wait: the events go to someone
     * else meanwhile, and the late ack finds them taken or acked. */
    if (!drain && rng_below(&cs->rng, 150) == 0)
        sleep_ms(d->ack_wait_ms + rng_range(&cs->rng, 100, 1000));
    else
        sleep_ms(rng_range(&cs->rng, 0, 20));
    struct held acks[READ_MAX], backs[READ_MAX], parks[READ_MAX];
    int na = 0, nb = 0, np = 0;
    for (int i = 0; i < n; i++) {
        int dice = (int)rng_below(&cs->rng, 100);
        if (poison(got[i].id)) {
            if (drain || dice < 50)
                backs[nb++] = got[i];
        } else if (drain || dice >= 8) {
            acks[na++] = got[i];
        } else if (dice < 3) {
            backs[nb++] = got[i];
        } else if (dice < 4) {
            parks[np++] = got[i];
        } /* else forgotten: delivered again after the ack wait */
    }
    if (na > 0)
        ack(cs, d->name, acks, na);
    if (nb > 0)
        nack(cs, d->name, backs, nb, false);
    if (np > 0)
        nack(cs, d->name, parks, np, true);
}

static void *consumer_main(void *arg)
{
    struct consumer *cs = arg;
    const struct groups_config *cfg = cs->cfg;
    while (!atomic_load(&stopping)) {
        if (cs->k == 0 && !atomic_load(&draining) && mono_ms() >= cs->next_group &&
            next_stream_group < cfg->stream_groups_max && group_count() < GROUPS_MAX) {
            new_stream_group(cs);
            cs->next_group = mono_ms() + cfg->stream_group_every_ms;
        }
        struct group_def d = group_at(pick_group(cs));
        struct held got[READ_MAX];
        int n = read_group(cs, &d, got);
        if (n > 0)
            answer(cs, &d, got, n);
        /* The drain reads without blocking: pause when it found nothing. */
        sleep_ms(n == 0 && atomic_load(&draining) ? 30 : rng_range(&cs->rng, 0, 20));
    }
    gconn_close(&cs->conn);
    return NULL;
}

int groups_start(const struct groups_config *cfg)
{
    if (cfg->consumers <= 0)
        return 0;
    if (cfg->consumers > MAX_CONSUMERS || cfg->nodes.n < 1 || cfg->stream_groups_max < 0) {
        fprintf(stderr, "runner: group consumers 0..%d\n", MAX_CONSUMERS);
        return -1;
    }
    atomic_store(&stopping, false);
    atomic_store(&draining, false);
    /* The first groups, on consumer 0's process before its thread runs. */
    struct rng r;
    rng_seed(&r, cfg->seed * 6151u + 9000u);
    struct gconn c = {.nodes = &cfg->nodes, .node = -1};
    struct group_def all = {.name = "gall", .all = true, .ack_wait_ms = cfg->all_ack_wait_ms};
    struct group_def first = {.name = "gst0", .ack_wait_ms = cfg->stream_ack_wait_ms};
    next_stream_group = 1;
    workload_pick_stream(&r, first.stream, sizeof first.stream);
    bool ok = create_group(cfg, &c, cfg->first_process, &r, &all, CREATE_MS);
    if (ok && cfg->stream_groups_max > 0)
        (void)create_group(cfg, &c, cfg->first_process, &r, &first, CREATE_MS);
    gconn_close(&c);
    if (!ok) {
        fprintf(stderr, "runner: could not create the group gall within %d s\n", CREATE_MS / 1000);
        return -1;
    }
    for (int i = 0; i < cfg->consumers; i++) {
        struct consumer *cs = &consumers[i];
        memset(cs, 0, sizeof *cs);
        cs->k = i;
        cs->process = cfg->first_process + i;
        cs->cfg = cfg;
        cs->conn = (struct gconn){.nodes = &cfg->nodes, .node = -1};
        cs->next_group = mono_ms() + cfg->stream_group_every_ms;
        snprintf(cs->name, sizeof cs->name, "c%d", i);
        rng_seed(&cs->rng, cfg->seed * 6151u + 9001u + (uint64_t)i);
        if (pthread_create(&cs->thread, NULL, consumer_main, cs) != 0) {
            fprintf(stderr, "runner: pthread_create failed\n");
            return -1;
        }
        n_consumers = i + 1;
    }
    return 0;
}

void groups_drain_begin(void)
{
    if (n_consumers == 0)
        return;
    history_write(json_must(json_pack("{s:s, s:i, s:s, s:I, s:s}", "type", "info", "process", -1, "f",
                                      "group_drain", "time", (json_int_t)history_now(), "phase", "start")));
    atomic_store(&draining, true);
}

void groups_stop(bool settled)
{
    if (n_consumers == 0)
        return;
    atomic_store(&stopping, true);
    for (int i = 0; i < n_consumers; i++)
        pthread_join(consumers[i].thread, NULL);
    n_consumers = 0;
    history_write(json_must(json_pack("{s:s, s:i, s:s, s:I, s:s, s:b}", "type", "info", "process", -1, "f",
                                      "group_drain", "time", (json_int_t)history_now(), "phase", "stop", "drained",
                                      settled)));
}

uint64_t groups_delivered(void)
{
    return atomic_load(&delivered_total);
}

uint64_t groups_acked(void)
{
    return atomic_load(&acked_total);
}

uint64_t groups_crashes(void)
{
    return atomic_load(&crashes_total);
}
