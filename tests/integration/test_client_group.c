/* test_client_group.c - libeventflow's consumer groups (eventflow/group.h)
 * against real eventflowd nodes:
 *
 *   share        two workers in eventflow_group_consume on one group, both
 *                waiting when the events arrive: every event is handled
 *                exactly once, by one of them, both take part, and every
 *                acknowledgement is confirmed (INFO agrees)
 *   nack_park    a handler that gives an event back sees it again at once
 *                (long before the ack wait) with its delivery count raised;
 *                one it parks is listed by PARKED and comes back after
 *                REPLAY, its count starting again; the single calls (info,
 *                list, pending, read, ack, seek, destroy) and their errors
 *   stop         a handler that stops mid-batch: what it handled is
 *                acknowledged, the rest given back for the next read
 *   failover     a worker consumes a three-node cluster's group while its
 *                leader is killed with kill -9: events added before and
 *                after are all handled, and none whose acknowledgement the
 *                server confirmed is handled again
 *
 * Workers run on threads of their own (the loop blocks), each with its own
 * client; the harness is used from the main thread. Every wait polls an
 * observable condition with a deadline. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <eventflow/eventflow.h>

#include "client_check.h"
#include "cluster.h"
#include "harness.h"

#define WAIT_MS 20000
#define MAX_EVENTS 512

/* Append n events to stream, their ids into ids (may be NULL). */
static void append_n(struct eventflow_client *c, const char *stream, size_t n, char (*ids)[EF_ID_LEN + 1])
{
    for (size_t i = 0; i < n; i++) {
        struct eventflow_new_event ev = {.type = "Job"};
        struct eventflow_event_list out;
        EF_CHECK(c, eventflow_append(c, stream, EF_VERSION_ANY, &ev, 1, &out));
        if (ids != NULL)
            memcpy(ids[i], out.events[0].id, EF_ID_LEN + 1);
        eventflow_event_list_free(&out);
    }
}

static void create_group(struct eventflow_client *c, const char *group, const char *stream, uint32_t ack_wait_ms)
{
    struct eventflow_group_spec spec = {.group = group, .stream = stream, .ack_wait_ms = ack_wait_ms};
    EF_CHECK(c, eventflow_group_create(c, &spec));
}

/* ---- what the handlers saw ------------------------------------------------- */

/* Per event id, across workers. */
struct seen_event {
    char id[EF_ID_LEN + 1];
    int handled;
    int acked;               /* acknowledgements confirmed by the server */
    int handled_after_ack;   /* handled while already confirmed acked: a bug */
    uint32_t last_deliveries;
};

/* How a handler treats an event: a verdict from its id and count. */
typedef enum eventflow_group_verdict (*policy_fn)(const char *id, uint32_t deliveries, void *arg);

struct tally {
    pthread_mutex_t mu;
    struct seen_event ev[MAX_EVENTS];
    size_t n;
    size_t n_acked;          /* distinct ids confirmed acked */
    unsigned by_worker[2];
    atomic_bool stop;        /* the workers stop at their next empty read */
    size_t stop_at_acked;    /* or once this many ids are acked (0: not) */
    int64_t give_up_at;      /* or then, whatever happened: the test fails */
    policy_fn policy;        /* NULL: acknowledge everything */
    void *policy_arg;
};

static void tally_init(struct tally *t)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    t->give_up_at = harness_now_ms() + 60000;
}

/* The entry of id (added if new); t->mu held. */
static struct seen_event *tally_find(struct tally *t, const char *id)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->ev[i].id, id) == 0)
            return &t->ev[i];
    if (t->n == MAX_EVENTS)
        return NULL;
    struct seen_event *e = &t->ev[t->n++];
    memcpy(e->id, id, EF_ID_LEN + 1);
    return e;
}

/* A copy of id's entry (zero if never seen). */
static struct seen_event tally_get(struct tally *t, const char *id)
{
    struct seen_event copy = {0};
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->ev[i].id, id) == 0)
            copy = t->ev[i];
    pthread_mutex_unlock(&t->mu);
    return copy;
}

static size_t tally_acked(struct tally *t)
{
    pthread_mutex_lock(&t->mu);
    size_t n = t->n_acked;
    pthread_mutex_unlock(&t->mu);
    return n;
}

struct worker {
    struct tally *t;
    int index;
    const char *endpoints;
    const char *group;
    char consumer[16];
    pthread_t th;
    struct eventflow_consume_stats stats;
    int rc;
    char err[512];
};

static enum eventflow_group_verdict on_event(void *arg, const struct eventflow_group_event *ev)
{
    struct worker *w = arg;
    struct tally *t = w->t;
    if (ev == NULL) {
        bool stop = atomic_load(&t->stop) || harness_now_ms() > t->give_up_at ||
                    (t->stop_at_acked > 0 && tally_acked(t) >= t->stop_at_acked);
        return stop ? EF_GROUP_STOP : EF_GROUP_ACK;
    }
    pthread_mutex_lock(&t->mu);
    struct seen_event *e = tally_find(t, ev->event.id);
    if (e != NULL) {
        e->handled++;
        e->handled_after_ack += e->acked > 0;
        e->last_deliveries = ev->deliveries;
    }
    t->by_worker[w->index]++;
    pthread_mutex_unlock(&t->mu);
    return t->policy != NULL ? t->policy(ev->event.id, ev->deliveries, t->policy_arg) : EF_GROUP_ACK;
}

static void on_acked(void *arg, const char *const *ids, size_t n)
{
    struct worker *w = arg;
    pthread_mutex_lock(&w->t->mu);
    for (size_t i = 0; i < n; i++) {
        struct seen_event *e = tally_find(w->t, ids[i]);
        if (e != NULL && e->acked++ == 0)
            w->t->n_acked++;
    }
    pthread_mutex_unlock(&w->t->mu);
}

/* Run the loop on the calling thread until the tally says stop. */
static void worker_run(struct worker *w)
{
    struct eventflow_client *c = check_client_new(w->endpoints);
    struct eventflow_consume_options o = {.group = w->group,
                                          .consumer = w->consumer,
                                          .count = 10,
                                          .block_ms = 200,
                                          .acked = on_acked,
                                          .arg = w};
    w->rc = eventflow_group_consume(c, &o, on_event, &w->stats);
    snprintf(w->err, sizeof w->err, "%s", eventflow_client_last_error(c));
    eventflow_client_free(c);
}

static void *worker_main(void *arg)
{
    worker_run(arg);
    return NULL;
}

static void worker_start(struct worker *w, struct tally *t, int index, const char *endpoints, const char *group)
{
    memset(w, 0, sizeof *w);
    w->t = t;
    w->index = index;
    w->endpoints = endpoints;
    w->group = group;
    snprintf(w->consumer, sizeof w->consumer, "worker-%d", index);
    assert_int_equal(pthread_create(&w->th, NULL, worker_main, w), 0);
}

static void worker_join(struct worker *w)
{
    assert_int_equal(pthread_join(w->th, NULL), 0);
    if (w->rc != EF_OK)
        fail_msg("%s: %s: %s", w->consumer, eventflow_err_name(w->rc), w->err);
}

/* Poll cond(arg) until it holds, or fail after timeout_ms naming what. */
static void poll_until(bool (*cond)(void *arg), void *arg, int timeout_ms, const char *what)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    while (!cond(arg)) {
        if (harness_now_ms() > deadline)
            fail_msg("timed out waiting for %s", what);
        cluster_poll_pause();
    }
}

struct acked_goal {
    struct tally *t;
    char (*ids)[EF_ID_LEN + 1];
    size_t n;
};

static bool all_acked(void *arg)
{
    struct acked_goal *g = arg;
    for (size_t i = 0; i < g->n; i++)
        if (tally_get(g->t, g->ids[i]).acked == 0)
            return false;
    return true;
}

static void wait_all_acked(struct tally *t, char (*ids)[EF_ID_LEN + 1], size_t n)
{
    struct acked_goal g = {t, ids, n};
    poll_until(all_acked, &g, 60000, "every event acknowledged");
}

/* Both workers' READs wait on the node (its STATUS says so). */
static bool two_reads_waiting(void *node)
{
    return cluster_node_status_int(node, "group_reads_waiting") == 2;
}

/* The first worker has handled some events. */
static bool some_handled(void *tally)
{
    struct tally *t = tally;
    pthread_mutex_lock(&t->mu);
    unsigned handled = t->by_worker[0];
    pthread_mutex_unlock(&t->mu);
    return handled >= 40;
}

/* One node (into *node, its address into addr), a client of it, and group
 * "jobs" over stream "work" with an ack wait far beyond the test: an event
 * handled twice was handed out twice, not redelivered. */
static struct eventflow_client *start_with_group(struct harness_fixture *f, char addr[32],
                                                 struct harness_node **node)
{
    *node = harness_start_single(f, NULL);
    snprintf(addr, 32, "127.0.0.1:%u", (*node)->port);
    struct eventflow_client *c = check_client_new(addr);
    create_group(c, "jobs", "work", 600000);
    return c;
}

/* ---- two workers share a group --------------------------------------------- */

static void test_share(void **state)
{
    struct harness_fixture *f = *state;
    char addr[32];
    struct harness_node *n;
    struct eventflow_client *c = start_with_group(f, addr, &n);

    static struct tally t;
    tally_init(&t);
    struct worker w[2];
    worker_start(&w[0], &t, 0, addr, "jobs");
    worker_start(&w[1], &t, 1, addr, "jobs");
    /* Both wait before the first event: each gets a share. */
    poll_until(two_reads_waiting, n, WAIT_MS, "two waiting GROUP READs");
    static char ids[200][EF_ID_LEN + 1];
    append_n(c, "work", 200, ids);
    wait_all_acked(&t, ids, 200);
    atomic_store(&t.stop, true);
    worker_join(&w[0]);
    worker_join(&w[1]);

    assert_int_equal(t.n, 200);
    for (size_t i = 0; i < 200; i++) {
        struct seen_event e = tally_get(&t, ids[i]);
        if (e.handled != 1 || e.acked != 1)
            fail_msg("event %zu (%s): handled %d times, acked %d", i, ids[i], e.handled, e.acked);
    }
    fprintf(stderr, "share: worker-0 handled %u, worker-1 %u\n", t.by_worker[0], t.by_worker[1]);
    assert_true(t.by_worker[0] > 0 && t.by_worker[1] > 0);
    assert_int_equal(w[0].stats.handled + w[1].stats.handled, 200);
    assert_int_equal(w[0].stats.acked + w[1].stats.acked, 200);

    struct eventflow_group_info info;
    EF_CHECK(c, eventflow_group_info(c, "jobs", &info));
    assert_string_equal(info.group, "jobs");
    assert_string_equal(info.stream, "work");
    assert_int_equal(info.acked, 200);
    assert_int_equal(info.pending, 0);
    assert_int_equal(info.next_version, 200);
    assert_int_equal(info.n_consumers, 2);
    assert_non_null(strstr(info.json, "\"consumers\""));
    eventflow_group_info_free(&info);
    eventflow_client_free(c);
    harness_pass(f);
}

/* ---- give back, park, replay; the single calls ---------------------------------- */

struct nack_park_policy {
    char (*ids)[EF_ID_LEN + 1];
    bool parked; /* once: a replayed event's count starts again at 1 */
};

/* The third event is given back on its first delivery, the fourth parked
 * the first time it comes. */
static enum eventflow_group_verdict nack_third_park_fourth(const char *id, uint32_t deliveries, void *arg)
{
    struct nack_park_policy *p = arg;
    if (strcmp(id, p->ids[2]) == 0 && deliveries == 1)
        return EF_GROUP_NACK;
    if (strcmp(id, p->ids[3]) == 0 && !p->parked) {
        p->parked = true;
        return EF_GROUP_PARK;
    }
    return EF_GROUP_ACK;
}

static void consume_until_acked(struct tally *t, const char *endpoints, size_t n_acked)
{
    t->stop_at_acked = n_acked;
    struct worker w = {.t = t, .endpoints = endpoints, .group = "jobs", .consumer = "solo"};
    worker_run(&w);
    if (w.rc != EF_OK)
        fail_msg("consume: %s: %s", eventflow_err_name(w.rc), w.err);
    if (tally_acked(t) < n_acked)
        fail_msg("consume stopped with %zu of %zu events acked", tally_acked(t), n_acked);
}

static void test_nack_park(void **state)
{
    struct harness_fixture *f = *state;
    char addr[32];
    struct harness_node *n;
    struct eventflow_client *c = start_with_group(f, addr, &n);
    struct eventflow_group_spec dup = {.group = "jobs", .stream = "work"};
    assert_int_equal(eventflow_group_create(c, &dup), EF_EEXISTS);
    char ids[5][EF_ID_LEN + 1];
    append_n(c, "work", 5, ids);

    static struct tally t;
    tally_init(&t);
    struct nack_park_policy policy = {.ids = ids};
    t.policy = nack_third_park_fourth;
    t.policy_arg = &policy;
    /* Four acked: the given-back one came back long before the ack wait. */
    consume_until_acked(&t, addr, 4);
    struct seen_event third = tally_get(&t, ids[2]), fourth = tally_get(&t, ids[3]);
    assert_int_equal(third.handled, 2);
    assert_int_equal(third.last_deliveries, 2);
    assert_int_equal(third.acked, 1);
    assert_int_equal(fourth.handled, 1);
    assert_int_equal(fourth.acked, 0);

    struct eventflow_group_parked_list parked;
    EF_CHECK(c, eventflow_group_parked(c, "jobs", NULL, 0, &parked));
    assert_int_equal(parked.n, 1);
    assert_string_equal(parked.entries[0].id, ids[3]);
    assert_string_equal(parked.entries[0].reason, "nack");
    assert_string_equal(parked.entries[0].consumer, "solo");
    eventflow_group_parked_list_free(&parked);

    const char *replay[] = {ids[3]};
    uint64_t replayed = 0;
    EF_CHECK(c, eventflow_group_replay(c, "jobs", replay, 1, 0, &replayed));
    assert_int_equal(replayed, 1);
    consume_until_acked(&t, addr, 5);
    fourth = tally_get(&t, ids[3]);
    assert_int_equal(fourth.handled, 2);
    assert_int_equal(fourth.last_deliveries, 1); /* replayed: counted afresh */

    /* By hand: seek back, read, see it pending, ack it. */
    struct eventflow_group_position start = {.from = EF_GROUP_FROM_VERSION, .version = 4};
    EF_CHECK(c, eventflow_group_seek(c, "jobs", &start));
    struct eventflow_group_batch b;
    EF_CHECK(c, eventflow_group_read(c, "jobs", "hand", 10, 0, &b));
    assert_int_equal(b.n, 1);
    assert_string_equal(b.events[0].event.id, ids[4]);
    assert_int_equal(b.events[0].event.version, 4);
    struct eventflow_group_pending_list pend;
    EF_CHECK(c, eventflow_group_pending(c, "jobs", "hand", NULL, 0, &pend));
    assert_int_equal(pend.n, 1);
    assert_string_equal(pend.entries[0].id, ids[4]);
    assert_string_equal(pend.entries[0].consumer, "hand");
    eventflow_group_pending_list_free(&pend);
    const char *ack[] = {ids[4]};
    uint64_t acked = 0;
    EF_CHECK(c, eventflow_group_ack(c, "jobs", ack, 1, &acked));
    assert_int_equal(acked, 1);
    EF_CHECK(c, eventflow_group_ack(c, "jobs", ack, 1, &acked)); /* again: harmless */
    assert_int_equal(acked, 0);
    eventflow_group_batch_free(&b);
    /* Nothing more: an empty batch after the wait. */
    EF_CHECK(c, eventflow_group_read(c, "jobs", "hand", 10, 100, &b));
    assert_int_equal(b.n, 0);

    struct eventflow_group_list list;
    EF_CHECK(c, eventflow_group_list(c, &list));
    assert_int_equal(list.n, 1);
    assert_string_equal(list.groups[0].group, "jobs");
    assert_int_equal(list.groups[0].pending, 0);
    assert_int_equal(list.groups[0].parked, 0);
    eventflow_group_list_free(&list);

    /* The errors of eventflow/group.h. */
    const char *bad[] = {"not-an-id"};
    assert_int_equal(eventflow_group_ack(c, "jobs", bad, 1, NULL), EF_EINVAL);
    const char *never[] = {"7ZZZZZZZZZZZZZZZZZZZZZZZZZ"};
    assert_int_equal(eventflow_group_ack(c, "jobs", never, 1, NULL), EF_EINVAL);
    assert_non_null(strstr(eventflow_client_last_error(c), "NOTDELIVERED"));
    assert_int_equal(eventflow_group_nack(c, "jobs", ack, 1, false, NULL), EF_EINVAL);
    struct eventflow_group_info info;
    assert_int_equal(eventflow_group_info(c, "nope", &info), EF_ENOTFOUND);
    assert_int_equal(eventflow_group_read(c, "jobs", "", 1, 0, &b), EF_EINVAL);
    EF_CHECK(c, eventflow_group_destroy(c, "jobs"));
    assert_int_equal(eventflow_group_destroy(c, "jobs"), EF_ENOTFOUND);
    struct worker w = {.t = &t, .endpoints = addr, .group = "jobs", .consumer = "late"};
    worker_run(&w);
    assert_int_equal(w.rc, EF_ENOTFOUND);
    eventflow_client_free(c);
    harness_pass(f);
}

/* ---- stopping ---------------------------------------------------------------------- */

/* Stop at the third event handed out. */
static enum eventflow_group_verdict stop_at_third(const char *id, uint32_t deliveries, void *arg)
{
    (void)id;
    (void)deliveries;
    unsigned *seen = arg;
    return ++*seen == 3 ? EF_GROUP_STOP : EF_GROUP_ACK;
}

/* A handler that says STOP in the middle of a batch: the loop returns
 * EF_OK, what was handled is acknowledged, the event it stopped at and
 * the rest of the batch are given back (pending, held by nobody). */
static void test_stop(void **state)
{
    struct harness_fixture *f = *state;
    char addr[32];
    struct harness_node *n;
    struct eventflow_client *c = start_with_group(f, addr, &n);
    char ids[5][EF_ID_LEN + 1];
    append_n(c, "work", 5, ids);
    static struct tally t;
    tally_init(&t);
    unsigned seen = 0;
    t.policy = stop_at_third;
    t.policy_arg = &seen;
    struct worker w = {.t = &t, .endpoints = addr, .group = "jobs", .consumer = "quitter"};
    worker_run(&w);
    if (w.rc != EF_OK)
        fail_msg("consume: %s: %s", eventflow_err_name(w.rc), w.err);
    assert_int_equal(w.stats.handled, 3);
    assert_int_equal(w.stats.acked, 2);
    assert_int_equal(w.stats.nacked, 3);
    assert_int_equal(tally_get(&t, ids[0]).acked, 1);
    assert_int_equal(tally_get(&t, ids[1]).acked, 1);

    struct eventflow_group_pending_list pend;
    EF_CHECK(c, eventflow_group_pending(c, "jobs", NULL, NULL, 0, &pend));
    assert_int_equal(pend.n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(pend.entries[i].id, ids[i + 2]);
        assert_null(pend.entries[i].consumer);
    }
    eventflow_group_pending_list_free(&pend);
    /* Given back: the next read gets them at once, far before the ack wait. */
    struct eventflow_group_batch b;
    EF_CHECK(c, eventflow_group_read(c, "jobs", "next", 10, 0, &b));
    assert_int_equal(b.n, 3);
    assert_string_equal(b.events[0].event.id, ids[2]);
    assert_int_equal(b.events[0].deliveries, 2);
    eventflow_group_batch_free(&b);
    eventflow_client_free(c);
    harness_pass(f);
}

/* ---- failover -------------------------------------------------------------------- */

/* A millisecond of work per event: the kill lands while events are still
 * coming (what the test asserts does not depend on it). */
static enum eventflow_group_verdict work_a_little(const char *id, uint32_t deliveries, void *arg)
{
    (void)id;
    (void)deliveries;
    (void)arg;
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
    return EF_GROUP_ACK;
}

static void test_failover(void **state)
{
    struct harness_fixture *f = *state;
    struct cluster cl;
    cluster_start(&cl, f, 3, NULL);
    size_t leader = cluster_leader(&cl);
    char endpoints[256];
    cluster_endpoints(&cl, endpoints, sizeof endpoints);
    struct eventflow_client *c = check_client_new(endpoints);
    /* A short ack wait: events handed out in a reply the kill lost come
     * back within the test. */
    create_group(c, "jobs", "work", 2000);
    static char ids[300][EF_ID_LEN + 1];
    append_n(c, "work", 150, ids);

    static struct tally t;
    tally_init(&t);
    t.policy = work_a_little;
    struct worker w;
    worker_start(&w, &t, 0, endpoints, "jobs");
    poll_until(some_handled, &t, WAIT_MS, "the first events handled");
    assert_int_equal(harness_node_kill(cl.n[leader]), 0);
    size_t next = cluster_leader(&cl);
    assert_true(next != leader);
    append_n(c, "work", 150, ids + 150);
    wait_all_acked(&t, ids, 300);
    atomic_store(&t.stop, true);
    worker_join(&w);

    size_t again = 0, twice = 0;
    for (size_t i = 0; i < 300; i++) {
        struct seen_event e = tally_get(&t, ids[i]);
        again += (size_t)e.handled_after_ack;
        twice += e.handled > 1;
    }
    fprintf(stderr, "failover: %zu events, %zu handled more than once (acks unconfirmed), %llu reconnects\n",
            t.n, twice, (unsigned long long)w.stats.reconnects);
    assert_int_equal(t.n, 300);
    assert_int_equal(again, 0);
    assert_true(w.stats.reconnects >= 1);
    eventflow_client_free(c);
    harness_pass(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_share, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_nack_park, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_stop, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_failover, harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests_name("client_group", tests, NULL, NULL);
}
