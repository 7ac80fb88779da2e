/* test_client_subscribe.c - libeventflow's subscriptions against real
 * eventflowd nodes:
 *
 *   catch_up_then_live   a stream from a version and the log after an id:
 *                        the past, the caught-up marker, then live events;
 *                        from the live end, only what comes after
 *   filters              types and stream_prefix, on the log and a stream
 *   before_the_stream    a stream that does not exist yet delivers from its
 *                        first event
 *   refused              bad specs (the library's checks and the server's),
 *                        no server at all
 *   resume               a writer keeps writing while the node serving a
 *                        subscription is killed with kill -9 (twice) and
 *                        frozen with SIGSTOP (no answer to PING): each time
 *                        the subscription goes on from another node, and
 *                        what it delivered is the leader's log (GETALL),
 *                        no gap, no duplicate
 *   resume_while_away    the consumer calls nothing while its node is
 *                        killed and events are written: it gets them all
 *   stale_markers        the serving node cut off from the others: STALE,
 *                        then CURRENT once it is back, nothing lost
 *
 * The writer thread uses the library only; the harness is used from the
 * main thread. Every wait polls an observable condition with a deadline. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <eventflow/eventflow.h>

#include "client_check.h"
#include "cluster.h"
#include "harness.h"

#define WAIT_MS 20000

static void node_address(const struct harness_node *n, char *out, size_t cap)
{
    snprintf(out, cap, "127.0.0.1:%u", n->port);
}

/* A single node, its address into addr, and a client of it. */
static struct eventflow_client *start_single(struct harness_fixture *f, char addr[32])
{
    struct harness_node *n = harness_start_single(f, NULL);
    node_address(n, addr, 32);
    return check_client_new(addr);
}

static struct eventflow_subscription *subscribe(struct eventflow_client *c,
                                                const struct eventflow_sub_spec *spec)
{
    struct eventflow_subscription *sub = NULL;
    EF_CHECK(c, eventflow_subscribe(c, spec, &sub));
    return sub;
}

/* The next message, which must come within WAIT_MS. */
static const struct eventflow_sub_message *next_msg(struct eventflow_subscription *sub)
{
    const struct eventflow_sub_message *m = NULL;
    int rc = eventflow_subscription_next(sub, &m, WAIT_MS);
    if (rc != EF_OK)
        fail_msg("subscription: %s: %s", eventflow_err_name(rc), eventflow_subscription_last_error(sub));
    return m;
}

static const struct eventflow_event *next_event(struct eventflow_subscription *sub)
{
    const struct eventflow_sub_message *m = next_msg(sub);
    if (m->kind != EF_SUB_EVENT)
        fail_msg("expected an event, got message kind %d", (int)m->kind);
    return m->event;
}

static void expect_kind(struct eventflow_subscription *sub, enum eventflow_sub_kind kind)
{
    const struct eventflow_sub_message *m = next_msg(sub);
    if (m->kind != kind)
        fail_msg("expected message kind %d, got %d", (int)kind, (int)m->kind);
}

/* Nothing more for a moment: EF_ETIMEDOUT. */
static void expect_quiet(struct eventflow_subscription *sub, int ms)
{
    const struct eventflow_sub_message *m = NULL;
    int rc = eventflow_subscription_next(sub, &m, ms);
    if (rc != EF_ETIMEDOUT)
        fail_msg("expected nothing, got %s (kind %d, %s)", eventflow_err_name(rc), m != NULL ? (int)m->kind : -1,
                 m != NULL && m->event != NULL ? m->event->id : "");
}

/* Append one event of `type` with data `data` (a string), returning its id
 * in id (may be NULL). */
static void append_one(struct eventflow_client *c, const char *stream, const char *type, const char *data,
                       char *id)
{
    struct eventflow_new_event ev = {.type = type,
                                     .data = {EF_PAYLOAD_STRING, data, data != NULL ? strlen(data) : 0}};
    if (data == NULL)
        ev.data.kind = EF_PAYLOAD_NULL;
    struct eventflow_event_list out;
    EF_CHECK(c, eventflow_append(c, stream, EF_VERSION_ANY, &ev, 1, &out));
    if (id != NULL)
        memcpy(id, out.events[0].id, EF_ID_LEN + 1);
    eventflow_event_list_free(&out);
}

/* ---- on one node ------------------------------------------------------------ */

static void test_catch_up_then_live(void **state)
{
    struct harness_fixture *f = *state;
    char addr[32];
    struct eventflow_client *c = start_single(f, addr);
    char ids[60][EF_ID_LEN + 1];
    for (int i = 0; i < 50; i++) {
        char data[16];
        snprintf(data, sizeof data, "n%d", i);
        append_one(c, "acct-1", "Tick", data, ids[i]);
    }

    /* A stream from version 10: 10..49 from the store, caught up, then
     * what is appended after. A single node serves whatever the preference. */
    struct eventflow_sub_spec spec = {.stream = "acct-1", .from = EF_SUB_FROM_VERSION, .version = 10,
                                      .markers = true};
    struct eventflow_subscription *sub = subscribe(c, &spec);
    assert_string_equal(eventflow_subscription_node(sub), addr);
    /* A subscription from the global log after the id of event 45. */
    struct eventflow_sub_spec after = {.from = EF_SUB_AFTER_ID, .after_id = ids[45]};
    struct eventflow_subscription *log = subscribe(c, &after);
    /* And one from the live end of the log. */
    struct eventflow_sub_spec end = {.markers = true};
    struct eventflow_subscription *live = subscribe(c, &end);
    expect_kind(live, EF_SUB_CAUGHT_UP);

    for (uint64_t v = 10; v < 50; v++) {
        const struct eventflow_event *e = next_event(sub);
        assert_int_equal(e->version, v);
        assert_string_equal(e->id, ids[v]);
        char data[16];
        snprintf(data, sizeof data, "n%d", (int)v);
        assert_int_equal(e->data.kind, EF_PAYLOAD_STRING);
        assert_string_equal(e->data.bytes, data);
    }
    const struct eventflow_sub_message *m = next_msg(sub);
    assert_int_equal(m->kind, EF_SUB_CAUGHT_UP);
    assert_string_equal(m->node, addr);
    assert_null(m->event);
    expect_quiet(sub, 200);
    expect_quiet(live, 0);

    for (int i = 50; i < 55; i++)
        append_one(c, "acct-1", "Tock", NULL, ids[i]);
    for (uint64_t v = 50; v < 55; v++) {
        const struct eventflow_event *e = next_event(sub);
        assert_int_equal(e->version, v);
        assert_string_equal(e->type, "Tock");
        assert_int_equal(e->data.kind, EF_PAYLOAD_NULL);
        assert_string_equal(next_event(live)->id, ids[v]);
    }
    for (int i = 46; i < 55; i++)
        assert_string_equal(next_event(log)->id, ids[i]);
    expect_quiet(sub, 0);
    expect_quiet(live, 0);
    expect_quiet(log, 0);
    assert_int_equal(eventflow_subscription_resumes(sub), 0);

    /* The subscriptions stand alone: the client may go first. */
    eventflow_client_free(c);
    struct eventflow_client *w = check_client_new(addr);
    append_one(w, "acct-1", "Last", NULL, NULL);
    assert_string_equal(next_event(sub)->type, "Last");
    assert_string_equal(next_event(log)->type, "Last");
    eventflow_client_free(w);
    eventflow_subscription_free(sub);
    eventflow_subscription_free(log);
    eventflow_subscription_free(live);
    harness_pass(f);
}

static void test_filters(void **state)
{
    struct harness_fixture *f = *state;
    char addr[32];
    struct eventflow_client *c = start_single(f, addr);
    static const char *const streams[] = {"acc-1", "other", "acc-2"};
    static const char *const kinds[] = {"Opened", "Closed", "Noted"};
    char want[40][EF_ID_LEN + 1];
    size_t n_want = 0;
    char want_stream[40][EF_ID_LEN + 1];
    size_t n_want_stream = 0;
    for (int i = 0; i < 30; i++) {
        const char *s = streams[i % 3], *t = kinds[(i / 3) % 3];
        char id[EF_ID_LEN + 1];
        append_one(c, s, t, NULL, id);
        if (strncmp(s, "acc-", 4) == 0 && strcmp(t, "Noted") != 0)
            memcpy(want[n_want++], id, sizeof id);
        if (strcmp(s, "other") == 0 && strcmp(t, "Closed") == 0)
            memcpy(want_stream[n_want_stream++], id, sizeof id);
    }
    assert_true(n_want > 0 && n_want_stream > 0);

    const char *types[] = {"Opened", "Closed"};
    struct eventflow_sub_spec spec = {.from = EF_SUB_FROM_START, .types = types, .n_types = 2,
                                      .stream_prefix = "acc-", .markers = true};
    struct eventflow_subscription *sub = subscribe(c, &spec);
    const char *closed[] = {"Closed"};
    struct eventflow_sub_spec sspec = {.stream = "other", .from = EF_SUB_FROM_START, .types = closed,
                                       .n_types = 1};
    struct eventflow_subscription *ssub = subscribe(c, &sspec);
    for (size_t i = 0; i < n_want; i++) {
        const struct eventflow_event *e = next_event(sub);
        assert_string_equal(e->id, want[i]);
    }
    expect_kind(sub, EF_SUB_CAUGHT_UP);
    for (size_t i = 0; i < n_want_stream; i++)
        assert_string_equal(next_event(ssub)->id, want_stream[i]);

    /* Live: what the filters leave out never arrives; the next match does. */
    append_one(c, "acc-9", "Noted", NULL, NULL);
    append_one(c, "zzz", "Opened", NULL, NULL);
    append_one(c, "other", "Opened", NULL, NULL);
    char id[EF_ID_LEN + 1], sid[EF_ID_LEN + 1];
    append_one(c, "acc-9", "Closed", NULL, id);
    append_one(c, "other", "Closed", NULL, sid);
    const struct eventflow_event *e = next_event(sub);
    assert_string_equal(e->id, id);
    assert_string_equal(e->stream, "acc-9");
    e = next_event(ssub);
    assert_string_equal(e->id, sid);
    assert_int_equal(e->version, 11);
    expect_quiet(sub, 200);
    expect_quiet(ssub, 0);
    eventflow_subscription_free(sub);
    eventflow_subscription_free(ssub);
    eventflow_client_free(c);
    harness_pass(f);
}

static void test_before_the_stream(void **state)
{
    struct harness_fixture *f = *state;
    char addr[32];
    struct eventflow_client *c = start_single(f, addr);
    /* From the live end of a stream that does not exist, and from its
     * version 0: both get its first event. */
    struct eventflow_sub_spec end = {.stream = "later", .markers = true};
    struct eventflow_subscription *a = subscribe(c, &end);
    struct eventflow_sub_spec start = {.stream = "later", .from = EF_SUB_FROM_START, .markers = true};
    struct eventflow_subscription *b = subscribe(c, &start);
    expect_kind(a, EF_SUB_CAUGHT_UP);
    expect_kind(b, EF_SUB_CAUGHT_UP);
    expect_quiet(a, 100);
    append_one(c, "elsewhere", "X", NULL, NULL);
    for (int i = 0; i < 3; i++)
        append_one(c, "later", "Born", NULL, NULL);
    for (uint64_t v = 0; v < 3; v++) {
        const struct eventflow_event *e = next_event(a);
        assert_string_equal(e->stream, "later");
        assert_int_equal(e->version, v);
        assert_int_equal(next_event(b)->version, v);
    }
    expect_quiet(a, 0);
    expect_quiet(b, 0);
    eventflow_subscription_free(a);
    eventflow_subscription_free(b);
    eventflow_client_free(c);
    harness_pass(f);
}

static void test_refused(void **state)
{
    struct harness_fixture *f = *state;
    char addr[32];
    struct eventflow_client *c = start_single(f, addr);
    struct eventflow_subscription *sub = (struct eventflow_subscription *)1;
    /* The library's own checks. */
    struct eventflow_sub_spec bad = {.stream = "s", .from = EF_SUB_AFTER_ID, .after_id = "01JDB8M2Z1M9W6Q4B3XJ8Y3T5R"};
    assert_int_equal(eventflow_subscribe(c, &bad, &sub), EF_EINVAL);
    assert_null(sub);
    assert_non_null(strstr(eventflow_client_last_error(c), "global log"));
    /* The server's, in its words: valid UTF-8, but not a stream name. */
    struct eventflow_sub_spec odd = {.stream = "caf\xc3\xa9"};
    assert_int_equal(eventflow_subscribe(c, &odd, &sub), EF_EINVAL);
    assert_null(sub);
    assert_non_null(strstr(eventflow_client_last_error(c), "printable ASCII"));
    eventflow_client_free(c);

    /* Nobody listening: EF_EUNAVAILABLE once the retry deadline passed. */
    unsigned port;
    assert_int_equal(harness_free_port(&port), 0);
    char nobody[32];
    snprintf(nobody, sizeof nobody, "127.0.0.1:%u", port);
    struct eventflow_options o;
    eventflow_options_init(&o);
    o.endpoints = nobody;
    o.retry_deadline_ms = 500;
    assert_int_equal(eventflow_client_new(&o, &c), EF_OK);
    int64_t t0 = harness_now_ms();
    struct eventflow_sub_spec all = {0};
    assert_int_equal(eventflow_subscribe(c, &all, &sub), EF_EUNAVAILABLE);
    assert_true(harness_now_ms() - t0 < 5000);
    assert_non_null(strstr(eventflow_client_last_error(c), nobody));
    eventflow_client_free(c);
    harness_pass(f);
}

/* ---- a cluster ----------------------------------------------------------------- */

/* What the writer has had acknowledged so far: a fence the subscriptions
 * must reach. */
struct fence {
    char last_id[EF_ID_LEN + 1]; /* the last event of the log */
    size_t w1;                   /* events of stream w1 */
};

struct writer {
    const char *endpoints;
    atomic_bool stop;
    atomic_size_t acked;
    pthread_mutex_t mu;
    struct fence acked_to; /* under mu */
    int error;
    char errmsg[600];
};

static struct fence writer_fence(struct writer *w)
{
    pthread_mutex_lock(&w->mu);
    struct fence f = w->acked_to;
    pthread_mutex_unlock(&w->mu);
    return f;
}

/* Append one event at a time to w0, w1, w2 in turn until told to stop. */
static void *writer_main(void *arg)
{
    struct writer *w = arg;
    struct eventflow_options o;
    eventflow_options_init(&o);
    o.endpoints = w->endpoints;
    struct eventflow_client *c;
    if (eventflow_client_new(&o, &c) != EF_OK) {
        w->error = EF_EINVAL;
        return NULL;
    }
    for (size_t i = 0; !atomic_load(&w->stop) && i < 200000; i++) {
        char stream[8], data[24];
        snprintf(stream, sizeof stream, "w%zu", i % 3);
        snprintf(data, sizeof data, "%zu", i);
        struct eventflow_new_event ev = {.type = "W", .data = {EF_PAYLOAD_STRING, data, strlen(data)}};
        struct eventflow_event_list out;
        int rc = eventflow_append(c, stream, EF_VERSION_ANY, &ev, 1, &out);
        if (rc != EF_OK) {
            w->error = rc;
            snprintf(w->errmsg, sizeof w->errmsg, "append %zu: %s: %s", i, eventflow_err_name(rc),
                     eventflow_client_last_error(c));
            break;
        }
        pthread_mutex_lock(&w->mu);
        memcpy(w->acked_to.last_id, out.events[0].id, EF_ID_LEN + 1);
        w->acked_to.w1 += i % 3 == 1;
        pthread_mutex_unlock(&w->mu);
        eventflow_event_list_free(&out);
        atomic_fetch_add(&w->acked, 1);
    }
    eventflow_client_free(c);
    return NULL;
}

/* What one subscription delivered, checked for order as it comes. */
struct collected {
    struct eventflow_subscription *sub;
    bool all;
    char (*ids)[EF_ID_LEN + 1];
    size_t n, cap;
};

/* One message if one comes within timeout_ms: true if one came. */
static bool collect_one(struct collected *col, int timeout_ms)
{
    const struct eventflow_sub_message *m;
    int rc = eventflow_subscription_next(col->sub, &m, timeout_ms);
    if (rc == EF_ETIMEDOUT)
        return false;
    if (rc != EF_OK)
        fail_msg("subscription: %s: %s", eventflow_err_name(rc), eventflow_subscription_last_error(col->sub));
    if (m->kind != EF_SUB_EVENT)
        return true;
    const struct eventflow_event *e = m->event;
    if (col->all && col->n > 0 && strcmp(e->id, col->ids[col->n - 1]) <= 0)
        fail_msg("event %zu: id %s after %s", col->n, e->id, col->ids[col->n - 1]);
    if (!col->all && e->version != col->n)
        fail_msg("event %zu of the stream has version %llu", col->n, (unsigned long long)e->version);
    if (col->n == col->cap) {
        col->cap = col->cap ? col->cap * 2 : 1024;
        col->ids = realloc(col->ids, col->cap * sizeof *col->ids);
        assert_non_null(col->ids);
    }
    memcpy(col->ids[col->n++], e->id, EF_ID_LEN + 1);
    return true;
}

/* Read both subscriptions until pred holds (or fail after WAIT_MS). */
typedef bool (*collected_pred)(struct collected *a, struct collected *b, void *arg);

static void collect_until(struct collected *a, struct collected *b, collected_pred pred, void *arg,
                          const char *what)
{
    int64_t deadline = harness_now_ms() + WAIT_MS;
    while (!pred(a, b, arg)) {
        if (harness_now_ms() > deadline)
            fail_msg("%s: not within %d ms (%zu events from %s and %zu from %s; last errors: %s / %s)", what,
                     WAIT_MS, a->n, eventflow_subscription_node(a->sub), b->n, eventflow_subscription_node(b->sub),
                     eventflow_subscription_last_error(a->sub), eventflow_subscription_last_error(b->sub));
        /* Whatever either has now; a short wait only when neither had any. */
        bool got_a = collect_one(a, 0);
        bool got_b = collect_one(b, 0);
        if (!got_a && !got_b) {
            collect_one(a, 10);
            collect_one(b, 10);
        }
    }
}

struct progress_goal {
    struct collected *watched;
    size_t events;     /* at least this many */
    uint64_t resumes;  /* and at least this many resumes */
};

static bool reached(struct collected *a, struct collected *b, void *arg)
{
    (void)a;
    (void)b;
    struct progress_goal *g = arg;
    return g->watched->n >= g->events && eventflow_subscription_resumes(g->watched->sub) >= g->resumes;
}

static size_t node_serving(struct cluster *cl, const struct eventflow_subscription *sub)
{
    const char *at = eventflow_subscription_node(sub);
    for (size_t i = 0; i < cl->count; i++) {
        char addr[32];
        node_address(cl->n[i], addr, sizeof addr);
        if (strcmp(addr, at) == 0)
            return i;
    }
    fail_msg("the subscription's node \"%s\" is not one of the test's", at);
    return 0;
}

/* Whether the log's subscription (a) and w1's (b) have delivered all that
 * the fence holds. */
static bool reached_fence(struct collected *a, struct collected *b, void *arg)
{
    const struct fence *f = arg;
    return a->n > 0 && strcmp(a->ids[a->n - 1], f->last_id) >= 0 && b->n >= f->w1;
}

/* Take the node serving `watched` away (kill -9, or SIGSTOP when freeze)
 * while the writer writes; the subscription must go on from another node.
 * First both subscriptions catch up with what was acknowledged: one still
 * draining what a node killed before had sent would not be served by the
 * node it names. */
static void lose_serving_node(struct cluster *cl, struct writer *w, struct collected *all,
                              struct collected *w1, bool watch_all, bool freeze)
{
    struct fence f = writer_fence(w);
    collect_until(all, w1, reached_fence, &f, "catching up before a node goes");
    struct collected *watched = watch_all ? all : w1;
    size_t i = node_serving(cl, watched->sub);
    char gone[32];
    node_address(cl->n[i], gone, sizeof gone);
    uint64_t resumes = eventflow_subscription_resumes(watched->sub);
    size_t before = watched->n;
    if (freeze)
        assert_int_equal(kill(cl->n[i]->pid, SIGSTOP), 0);
    else
        harness_assert_kill(cl->n[i]);
    struct progress_goal g = {watched, before + 30, resumes + 1};
    collect_until(all, w1, reached, &g, freeze ? "resume after SIGSTOP" : "resume after kill -9");
    assert_string_not_equal(eventflow_subscription_node(watched->sub), gone);
    if (freeze) {
        assert_int_equal(kill(cl->n[i]->pid, SIGCONT), 0);
    } else {
        assert_int_equal(harness_node_start(cl->n[i]), 0);
        assert_int_equal(harness_wait_status(cl->n[i], cluster_has_leader, NULL, WAIT_MS), 0);
    }
}

/* The whole log (or stream) as the leader has it, linearizably, through
 * GETALL (GET) pages. */
static char (*leader_ids(const char *endpoints, const char *stream, size_t *n))[EF_ID_LEN + 1]
{
    struct eventflow_options o;
    eventflow_options_init(&o);
    o.endpoints = endpoints;
    o.consistency = EF_CONSISTENCY_LINEARIZABLE;
    struct eventflow_client *c;
    assert_int_equal(eventflow_client_new(&o, &c), EF_OK);
    struct eventflow_iter *it;
    if (stream != NULL)
        EF_CHECK(c, eventflow_iter_stream(c, stream, 0, 1000, &it));
    else
        EF_CHECK(c, eventflow_iter_all(c, NULL, 1000, &it));
    size_t cap = 1024;
    char(*ids)[EF_ID_LEN + 1] = malloc(cap * sizeof *ids);
    *n = 0;
    const struct eventflow_event *e;
    int rc;
    while ((rc = eventflow_iter_next(it, &e)) == 1) {
        if (*n == cap) {
            cap *= 2;
            ids = realloc(ids, cap * sizeof *ids);
            assert_non_null(ids);
        }
        memcpy(ids[(*n)++], e->id, EF_ID_LEN + 1);
    }
    if (rc < 0)
        fail_msg("reading the leader's log: %s", eventflow_client_last_error(c));
    eventflow_iter_free(it);
    eventflow_client_free(c);
    return ids;
}

struct final_goal {
    const char *last_all;
    size_t stream_len;
};

static bool all_delivered(struct collected *a, struct collected *b, void *arg)
{
    struct final_goal *g = arg;
    return a->n > 0 && strcmp(a->ids[a->n - 1], g->last_all) >= 0 && b->n >= g->stream_len;
}

static void expect_same(const char *what, char (*got)[EF_ID_LEN + 1], size_t n_got, char (*want)[EF_ID_LEN + 1],
                        size_t n_want)
{
    size_t n = n_got < n_want ? n_got : n_want;
    for (size_t i = 0; i < n; i++)
        if (strcmp(got[i], want[i]) != 0)
            fail_msg("%s: event %zu is %s, the leader's is %s", what, i, got[i], want[i]);
    if (n_got != n_want)
        fail_msg("%s: %zu events delivered, the leader has %zu", what, n_got, n_want);
}

static void test_resume(void **state)
{
    struct harness_fixture *f = *state;
    struct cluster cl;
    cluster_start(&cl, f, 3, NULL);
    (void)cluster_leader(&cl);
    char endpoints[256];
    cluster_endpoints(&cl, endpoints, sizeof endpoints);

    struct writer w = {.endpoints = endpoints, .mu = PTHREAD_MUTEX_INITIALIZER};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);

    /* The log from its start and one stream from its start, on followers. */
    struct eventflow_client *c = check_client_new(endpoints);
    struct eventflow_sub_spec all_spec = {.from = EF_SUB_FROM_START};
    struct eventflow_sub_spec w1_spec = {.stream = "w1", .from = EF_SUB_FROM_START};
    struct collected all = {.sub = subscribe(c, &all_spec), .all = true};
    struct collected w1 = {.sub = subscribe(c, &w1_spec)};
    eventflow_client_free(c);
    struct progress_goal start = {&all, 100, 0};
    collect_until(&all, &w1, reached, &start, "first events");

    lose_serving_node(&cl, &w, &all, &w1, true, false);
    lose_serving_node(&cl, &w, &all, &w1, false, false);
    lose_serving_node(&cl, &w, &all, &w1, true, true);

    atomic_store(&w.stop, true);
    pthread_join(th, NULL);
    if (w.error != EF_OK)
        fail_msg("writer: %s", w.errmsg);

    size_t n_log = 0, n_w1 = 0;
    char(*log)[EF_ID_LEN + 1] = leader_ids(endpoints, NULL, &n_log);
    char(*w1_log)[EF_ID_LEN + 1] = leader_ids(endpoints, "w1", &n_w1);
    assert_int_equal(n_log, atomic_load(&w.acked));
    fprintf(stderr, "resume: the leader has %zu events, %zu in w1\n", n_log, n_w1);
    struct final_goal g = {log[n_log - 1], n_w1};
    collect_until(&all, &w1, all_delivered, &g, "the rest of the log");
    expect_same("the log", all.ids, all.n, log, n_log);
    expect_same("stream w1", w1.ids, w1.n, w1_log, n_w1);
    fprintf(stderr, "resume: %zu events of the log and %zu of w1 delivered once each across %llu + %llu resumes\n",
            all.n, w1.n, (unsigned long long)eventflow_subscription_resumes(all.sub),
            (unsigned long long)eventflow_subscription_resumes(w1.sub));
    free(log);
    free(w1_log);
    free(all.ids);
    free(w1.ids);
    eventflow_subscription_free(all.sub);
    eventflow_subscription_free(w1.sub);
    harness_pass(f);
}

/* The consumer is busy (it calls nothing) while its node dies and events
 * are written: when it comes back it gets them all, from another node. */
static void test_resume_while_away(void **state)
{
    struct harness_fixture *f = *state;
    struct cluster cl;
    cluster_start(&cl, f, 3, NULL);
    (void)cluster_leader(&cl);
    char endpoints[256];
    cluster_endpoints(&cl, endpoints, sizeof endpoints);
    struct eventflow_client *c = check_client_new(endpoints);
    char first[EF_ID_LEN + 1];
    append_one(c, "away", "First", NULL, first);
    struct eventflow_sub_spec spec = {.from = EF_SUB_AFTER_ID, .after_id = first};
    struct eventflow_subscription *sub = subscribe(c, &spec);
    char ids[100][EF_ID_LEN + 1];
    append_one(c, "away", "Seen", NULL, ids[0]);
    assert_string_equal(next_event(sub)->id, ids[0]);
    harness_assert_kill(cl.n[node_serving(&cl, sub)]);
    for (int i = 1; i < 100; i++)
        append_one(c, "away", "Missed?", NULL, ids[i]);
    for (int i = 1; i < 100; i++) {
        const struct eventflow_event *e = next_event(sub);
        if (strcmp(e->id, ids[i]) != 0)
            fail_msg("event %d: got %s (version %llu), want %s", i, e->id, (unsigned long long)e->version, ids[i]);
    }
    assert_int_equal(eventflow_subscription_resumes(sub), 1);
    eventflow_subscription_free(sub);
    eventflow_client_free(c);
    harness_pass(f);
}

static void test_stale_markers(void **state)
{
    struct harness_fixture *f = *state;
    static const char *const args[] = {"--max-staleness", "500", NULL};
    struct cluster cl;
    cluster_start(&cl, f, 3, args);
    size_t l = cluster_leader(&cl);
    char endpoints[256];
    cluster_endpoints(&cl, endpoints, sizeof endpoints);
    struct eventflow_client *c = check_client_new(endpoints);
    struct eventflow_sub_spec spec = {.markers = true};
    struct eventflow_subscription *sub = subscribe(c, &spec);
    expect_kind(sub, EF_SUB_CAUGHT_UP);
    size_t serving = node_serving(&cl, sub);
    assert_true(serving != l); /* followers by default */
    char before[EF_ID_LEN + 1];
    append_one(c, "s", "Before", NULL, before);
    assert_string_equal(next_event(sub)->id, before);

    /* Cut the serving node off: freeze the other two. */
    size_t other = 3 - l - serving;
    assert_int_equal(kill(cl.n[l]->pid, SIGSTOP), 0);
    assert_int_equal(kill(cl.n[other]->pid, SIGSTOP), 0);
    const struct eventflow_sub_message *m = next_msg(sub);
    assert_int_equal(m->kind, EF_SUB_STALE);
    assert_true(m->last_contact_ms >= 500);
    char stale_node[EF_ADDR_MAX];
    snprintf(stale_node, sizeof stale_node, "%s", m->node);
    /* It stays on that node (nobody else answers) and says so once. */
    expect_quiet(sub, 1500);
    assert_string_equal(eventflow_subscription_node(sub), stale_node);
    assert_int_equal(kill(cl.n[l]->pid, SIGCONT), 0);
    assert_int_equal(kill(cl.n[other]->pid, SIGCONT), 0);
    expect_kind(sub, EF_SUB_CURRENT);

    /* Nothing lost: what is written now arrives, and only that. */
    char after[EF_ID_LEN + 1];
    append_one(c, "s", "After", NULL, after);
    /* Markers may come first: after a move, the new node's caught-up; and
     * the thawed nodes may hold an election that leaves the serving node
     * without a leader for longer than --max-staleness again (stale, then
     * current). Only events count here. */
    m = next_msg(sub);
    while (m->kind != EF_SUB_EVENT)
        m = next_msg(sub);
    assert_string_equal(m->event->id, after);
    eventflow_subscription_free(sub);
    eventflow_client_free(c);
    harness_pass(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_catch_up_then_live, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_filters, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_before_the_stream, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_refused, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_resume, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_resume_while_away, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_stale_markers, harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests_name("client_subscribe", tests, NULL, NULL);
}
