/* test_client.c - libeventflow against real eventflowd nodes.
 *
 *   api             every blocking call on one node: appends with expected
 *                   versions, conflicts, payload round trips, idempotency
 *                   keys, reads, iterators, counters, status, members
 *   pipeline        pipelined appends: order, results, errors, free
 *   password        a wrong or missing password fails fast with EF_EAUTH
 *   seeds_down      nothing listening: EF_EUNAVAILABLE within the deadline
 *   connection_cut  a proxy drops the reply of an ADD the server applied:
 *                   the retried append is not duplicated (and without keys
 *                   it is reported as EF_EUNKNOWN, not retried)
 *   failover        appends from several threads (blocking and pipelined)
 *                   while the leader is killed and restarted three times:
 *                   every acknowledged event is stored exactly once, in
 *                   order, and appends resume without caller action
 *   followers       read-your-writes on followers, linearizable reads,
 *                   discovery from one seed, membership and transfer
 *   install         meson install into a temporary directory, compile the
 *                   examples with the installed pkg-config file (shared
 *                   and static), run them against a node
 *
 * Worker threads use only the library; the harness is used from the main
 * thread. Every wait is on an observable condition with a deadline. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <eventflow/eventflow.h>

#include "client_check.h"
#include "cluster.h"
#include "harness.h"

#define WAIT_MS 20000

static struct eventflow_client *client_new(const struct eventflow_options *o)
{
    struct eventflow_client *c = NULL;
    assert_int_equal(eventflow_client_new(o, &c), EF_OK);
    return c;
}

static char *node_addr(const struct harness_node *n)
{
    char *s = malloc(32);
    assert_non_null(s);
    snprintf(s, 32, "127.0.0.1:%u", n->port);
    return s;
}

static struct eventflow_payload string_payload(const char *s)
{
    struct eventflow_payload p = {.kind = EF_PAYLOAD_STRING, .bytes = s, .len = strlen(s)};
    return p;
}

/* Every event of a stream, through an iterator (so paging is exercised). */
static void read_whole_stream(struct eventflow_client *c, const char *stream,
                              struct eventflow_event_list *out)
{
    struct eventflow_iter *it;
    EF_CHECK(c, eventflow_iter_stream(c, stream, 0, 97, &it));
    size_t cap = 64;
    out->events = calloc(cap, sizeof *out->events);
    out->n = 0;
    const struct eventflow_event *e;
    int rc;
    while ((rc = eventflow_iter_next(it, &e)) == 1) {
        if (out->n == cap) {
            cap *= 2;
            out->events = realloc(out->events, cap * sizeof *out->events);
            assert_non_null(out->events);
        }
        /* Keep what the checks need; the iterator owns e's strings. */
        struct eventflow_event *copy = &out->events[out->n++];
        memset(copy, 0, sizeof *copy);
        memcpy(copy->id, e->id, sizeof copy->id);
        copy->version = e->version;
        copy->stream = strdup(e->stream);
        copy->type = strdup(e->type);
        copy->data.kind = e->data.kind;
        copy->data.len = e->data.len;
        copy->data.bytes = e->data.bytes != NULL ? strndup(e->data.bytes, e->data.len) : NULL;
    }
    if (rc < 0)
        fail_msg("iterating %s: %s", stream, eventflow_client_last_error(c));
    eventflow_iter_free(it);
}

/* ---- clusters ------------------------------------------------------------ */

/* ---- api ----------------------------------------------------------------- */

static void expect_payload(const struct eventflow_payload *got, enum eventflow_payload_kind kind,
                           const char *bytes, size_t len)
{
    assert_int_equal(got->kind, kind);
    assert_int_equal(got->len, len);
    if (len > 0)
        assert_memory_equal(got->bytes, bytes, len);
}

static void test_api(void **state)
{
    struct harness_fixture *f = *state;
    struct harness_node *n = harness_start_single(f, NULL);
    char *addr = node_addr(n);
    struct eventflow_options o;
    eventflow_options_init(&o);
    o.endpoints = addr;
    struct eventflow_client *c = client_new(&o);

    EF_CHECK(c, eventflow_client_connect(c));
    assert_string_equal(eventflow_client_leader(c), addr);

    /* Two events at version 0, every kind of payload. */
    struct eventflow_new_event evs[2] = {
        {.type = "Opened",
         .data = {EF_PAYLOAD_STRING, "bin\0ary\r\n", 9},
         .metadata = {EF_PAYLOAD_JSON, "{\"x\":0.1,\"y\":[1,\"}\"]}", 21}},
        {.type = "Renamed", .data = {EF_PAYLOAD_JSON, "[1,2,{\"a\":\"b\"}]", 15}},
    };
    struct eventflow_event_list out;
    EF_CHECK(c, eventflow_append(c, "acct-1", 0, evs, 2, &out));
    assert_int_equal(out.n, 2);
    assert_string_equal(out.events[0].stream, "acct-1");
    assert_int_equal(out.events[0].version, 0);
    assert_int_equal(out.events[1].version, 1);
    assert_string_equal(out.events[1].type, "Renamed");
    assert_true(strcmp(out.events[0].id, out.events[1].id) < 0);
    /* Defaults: causation is the event itself, correlation the causation. */
    assert_string_equal(out.events[0].causation_id, out.events[0].id);
    assert_string_equal(out.events[0].correlation_id, out.events[0].id);
    assert_string_equal(eventflow_client_last_written_id(c), out.events[1].id);
    expect_payload(&out.events[0].data, EF_PAYLOAD_STRING, "bin\0ary\r\n", 9);
    expect_payload(&out.events[0].metadata, EF_PAYLOAD_JSON, "{\"x\":0.1,\"y\":[1,\"}\"]}", 21);
    expect_payload(&out.events[1].data, EF_PAYLOAD_JSON, "[1,2,{\"a\":\"b\"}]", 15);
    expect_payload(&out.events[1].metadata, EF_PAYLOAD_NULL, NULL, 0);
    char first_id[EF_ID_LEN + 1];
    memcpy(first_id, out.events[0].id, sizeof first_id);

    /* Causation and correlation given. */
    struct eventflow_new_event caused = {.type = "Audited", .causation_id = first_id,
                                         .correlation_id = out.events[1].id};
    struct eventflow_event_list out2;
    EF_CHECK(c, eventflow_append(c, "audit", EF_VERSION_ANY, &caused, 1, &out2));
    assert_string_equal(out2.events[0].causation_id, first_id);
    assert_string_equal(out2.events[0].correlation_id, out.events[1].id);
    eventflow_event_list_free(&out2);
    eventflow_event_list_free(&out);

    /* Version checks. */
    assert_int_equal(eventflow_append(c, "acct-1", 1, evs, 1, NULL), EF_ECONFLICT);
    assert_non_null(strstr(eventflow_client_last_error(c), "concurrent stream modification"));
    assert_int_equal(eventflow_append(c, "acct-1", 5, evs, 1, NULL), EF_EGAP);
    /* The server's own validation comes back as EF_EINVAL with its text. */
    struct eventflow_new_event untyped = {.type = ""};
    assert_int_equal(eventflow_append(c, "acct-1", EF_VERSION_ANY, &untyped, 1, NULL), EF_EINVAL);
    assert_non_null(strstr(eventflow_client_last_error(c), "event type cannot be empty"));
    assert_int_equal(eventflow_append(c, "acct-1", EF_VERSION_ANY, evs, 0, NULL), EF_EINVAL);

    /* An idempotency key of our own: the second append returns the first's
     * event although the expected version no longer matches. */
    struct eventflow_new_event keyed = {.type = "Keyed", .key = "order-42-created"};
    struct eventflow_event_list a, b;
    EF_CHECK(c, eventflow_append(c, "acct-2", 0, &keyed, 1, &a));
    EF_CHECK(c, eventflow_append(c, "acct-2", 0, &keyed, 1, &b));
    assert_string_equal(a.events[0].id, b.events[0].id);
    assert_int_equal(b.events[0].version, 0);
    eventflow_event_list_free(&a);
    eventflow_event_list_free(&b);
    struct eventflow_new_event mixed[2] = {{.type = "Keyed", .key = "order-42-created"},
                                           {.type = "Keyed", .key = "order-43-created"}};
    assert_int_equal(eventflow_append(c, "acct-2", EF_VERSION_ANY, mixed, 2, NULL), EF_EKEYREUSE);

    /* Reads. */
    struct eventflow_event_list l;
    EF_CHECK(c, eventflow_read_stream(c, "acct-1", 0, 0, &l));
    assert_int_equal(l.n, 2);
    assert_string_equal(l.events[0].id, first_id);
    expect_payload(&l.events[0].data, EF_PAYLOAD_STRING, "bin\0ary\r\n", 9);
    expect_payload(&l.events[0].metadata, EF_PAYLOAD_JSON, "{\"x\":0.1,\"y\":[1,\"}\"]}", 21);
    eventflow_event_list_free(&l);
    EF_CHECK(c, eventflow_read_stream(c, "acct-1", 1, 1, &l));
    assert_int_equal(l.n, 1);
    assert_int_equal(l.events[0].version, 1);
    eventflow_event_list_free(&l);
    EF_CHECK(c, eventflow_read_stream(c, "nothing-here", 0, 0, &l));
    assert_int_equal(l.n, 0);
    EF_CHECK(c, eventflow_read_all(c, NULL, 100, &l));
    assert_int_equal(l.n, 4);
    assert_string_equal(l.events[0].id, first_id);
    eventflow_event_list_free(&l);
    EF_CHECK(c, eventflow_read_all(c, first_id, 100, &l));
    assert_int_equal(l.n, 3);
    eventflow_event_list_free(&l);

    /* Iterators page through a stream and the log, and tail it. */
    struct eventflow_new_event many[25];
    for (size_t i = 0; i < 25; i++)
        many[i] = (struct eventflow_new_event){.type = "Tick"};
    EF_CHECK(c, eventflow_append(c, "ticks", 0, many, 25, NULL));
    struct eventflow_iter *it;
    const struct eventflow_event *e;
    EF_CHECK(c, eventflow_iter_stream(c, "ticks", 3, 4, &it));
    uint64_t want = 3;
    while (eventflow_iter_next(it, &e) == 1)
        assert_int_equal(e->version, want++);
    assert_int_equal(want, 25);
    eventflow_iter_free(it);
    EF_CHECK(c, eventflow_iter_all(c, NULL, 7, &it));
    char prev[EF_ID_LEN + 1] = "";
    size_t total = 0;
    int rc;
    while ((rc = eventflow_iter_next(it, &e)) == 1) {
        assert_true(strcmp(prev, e->id) < 0);
        memcpy(prev, e->id, sizeof prev);
        total++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(total, 29);
    struct eventflow_new_event late = {.type = "Late"};
    EF_CHECK(c, eventflow_append(c, "ticks", EF_VERSION_ANY, &late, 1, NULL));
    assert_int_equal(eventflow_iter_next(it, &e), 1);
    assert_string_equal(e->type, "Late");
    assert_int_equal(eventflow_iter_next(it, &e), 0);
    eventflow_iter_free(it);

    /* Streams, counters, checksum, status, members. */
    struct eventflow_stream_list sl;
    EF_CHECK(c, eventflow_list_streams(c, 0, 0, &sl));
    assert_int_equal(sl.n, 4);
    assert_string_equal(sl.streams[0].name, "acct-1");
    assert_int_equal(sl.streams[0].events, 2);
    assert_string_equal(sl.streams[3].name, "ticks");
    assert_int_equal(sl.streams[3].events, 26);
    eventflow_stream_list_free(&sl);
    uint64_t count = 0;
    EF_CHECK(c, eventflow_event_count(c, &count));
    assert_int_equal(count, 30);
    EF_CHECK(c, eventflow_stream_count(c, &count));
    assert_int_equal(count, 4);
    struct eventflow_checksum sum;
    EF_CHECK(c, eventflow_checksum(c, &sum));
    assert_string_equal(sum.last_id, eventflow_client_last_written_id(c));
    struct eventflow_node_status st;
    EF_CHECK(c, eventflow_node_status(c, NULL, &st));
    assert_string_equal(st.state, "leader");
    assert_true(st.ready);
    assert_int_equal(st.events, 30);
    assert_string_equal(st.checksum, sum.checksum);
    EF_CHECK(c, eventflow_node_status(c, addr, &st));
    assert_int_equal(st.id, 1);
    struct eventflow_member_list ml;
    EF_CHECK(c, eventflow_cluster_members(c, &ml));
    assert_int_equal(ml.n, 1);
    assert_int_equal(ml.members[0].role, EF_ROLE_VOTER);
    assert_string_equal(ml.members[0].client_address, addr);
    eventflow_member_list_free(&ml);
    struct eventflow_status_list stl;
    EF_CHECK(c, eventflow_cluster_status(c, &stl));
    assert_int_equal(stl.n, 1);
    assert_string_equal(stl.nodes[0].state, "leader");
    assert_string_equal(stl.nodes[0].role, "voter");
    eventflow_status_list_free(&stl);

    eventflow_client_free(c);
    free(addr);
    harness_pass(f);
}

/* ---- pipeline ------------------------------------------------------------- */

struct pl_result {
    int status;
    uint64_t version;
    char id[EF_ID_LEN + 1];
    bool called;
};

struct pl_slot {
    struct pl_result *results;
    size_t i;
};

static void pl_done(void *arg, int status, const struct eventflow_event_list *stored)
{
    struct pl_slot *s = arg;
    struct pl_result *r = &s->results[s->i];
    r->called = true;
    r->status = status;
    if (status == EF_OK && stored->n == 1) {
        r->version = stored->events[0].version;
        memcpy(r->id, stored->events[0].id, sizeof r->id);
    }
}

static void test_pipeline(void **state)
{
    struct harness_fixture *f = *state;
    struct harness_node *n = harness_start_single(f, NULL);
    char *addr = node_addr(n);
    struct eventflow_options o;
    eventflow_options_init(&o);
    o.endpoints = addr;
    struct eventflow_client *c = client_new(&o);
    struct eventflow_pipeline *p;
    EF_CHECK(c, eventflow_pipeline_new(c, 32, &p));

    /* 500 appends over 5 streams, each with its expected version: on a
     * healthy node they apply in submission order, so all succeed. */
    enum { TOTAL = 500, STREAMS = 5 };
    struct pl_result *results = calloc(TOTAL + 1, sizeof *results);
    struct pl_slot *slots = calloc(TOTAL + 1, sizeof *slots);
    assert_non_null(results);
    assert_non_null(slots);
    for (size_t i = 0; i < TOTAL; i++) {
        char stream[16], data[16];
        snprintf(stream, sizeof stream, "p%zu", i % STREAMS);
        snprintf(data, sizeof data, "%zu", i);
        struct eventflow_new_event ev = {.type = "P", .data = string_payload(data)};
        slots[i] = (struct pl_slot){results, i};
        EF_CHECK(c, eventflow_pipeline_append(p, stream, (int64_t)(i / STREAMS), &ev, 1, pl_done,
                                              &slots[i]));
        assert_true(eventflow_pipeline_pending(p) <= 32);
    }
    EF_CHECK(c, eventflow_pipeline_flush(p));
    assert_int_equal(eventflow_pipeline_pending(p), 0);
    for (size_t i = 0; i < TOTAL; i++) {
        assert_true(results[i].called);
        assert_int_equal(results[i].status, EF_OK);
        assert_int_equal(results[i].version, i / STREAMS);
        if (i > 0)
            assert_true(strcmp(results[i - 1].id, results[i].id) < 0);
    }
    assert_string_equal(eventflow_client_last_written_id(c), results[TOTAL - 1].id);
    struct eventflow_event_list l;
    EF_CHECK(c, eventflow_read_stream(c, "p3", 0, 0, &l));
    assert_int_equal(l.n, TOTAL / STREAMS);
    for (size_t v = 0; v < l.n; v++) {
        char data[16];
        snprintf(data, sizeof data, "%zu", v * STREAMS + 3);
        expect_payload(&l.events[v].data, EF_PAYLOAD_STRING, data, strlen(data));
    }
    eventflow_event_list_free(&l);

    /* A failing append reaches its callback and the flush result. */
    struct eventflow_new_event ev = {.type = "P"};
    memset(results, 0, sizeof *results);
    slots[0] = (struct pl_slot){results, 0};
    EF_CHECK(c, eventflow_pipeline_append(p, "p0", 0, &ev, 1, pl_done, &slots[0]));
    assert_int_equal(eventflow_pipeline_flush(p), EF_ECONFLICT);
    assert_int_equal(results[0].status, EF_ECONFLICT);
    EF_CHECK(c, eventflow_pipeline_flush(p)); /* the error was reported once */
    /* An invalid append is refused at once and never calls back. */
    struct eventflow_new_event bad = {.type = NULL};
    results[0].called = false;
    assert_int_equal(eventflow_pipeline_append(p, "p0", 0, &bad, 1, pl_done, &slots[0]), EF_EINVAL);
    assert_false(results[0].called);

    /* Freeing with appends outstanding calls every callback exactly once. */
    memset(results, 0, (TOTAL + 1) * sizeof *results);
    for (size_t i = 0; i < 20; i++) {
        slots[i] = (struct pl_slot){results, i};
        EF_CHECK(c, eventflow_pipeline_append(p, "p9", EF_VERSION_ANY, &ev, 1, pl_done, &slots[i]));
    }
    eventflow_pipeline_free(p);
    for (size_t i = 0; i < 20; i++) {
        assert_true(results[i].called);
        assert_true(results[i].status == EF_OK || results[i].status == EF_ECANCELED);
    }

    free(results);
    free(slots);
    eventflow_client_free(c);
    free(addr);
    harness_pass(f);
}

/* ---- password ------------------------------------------------------------- */

static void count_status(void *arg, int status, const struct eventflow_event_list *stored)
{
    (void)stored;
    *(int *)arg = status;
}

static void test_password(void **state)
{
    struct harness_fixture *f = *state;
    struct harness_node_opts no = {.password = "s3cret"};
    struct harness_node *n = harness_start_single(f, &no);
    char *addr = node_addr(n);
    struct eventflow_new_event ev = {.type = "T"};
    struct eventflow_options o;
    eventflow_options_init(&o);
    o.endpoints = addr;

    /* Wrong and missing passwords fail at once: waiting cannot fix them. */
    const char *wrong[] = {"s3cre", NULL};
    for (size_t i = 0; i < 2; i++) {
        o.password = wrong[i];
        struct eventflow_client *c = client_new(&o);
        int64_t t0 = harness_now_ms();
        assert_int_equal(eventflow_append(c, "s", EF_VERSION_ANY, &ev, 1, NULL), EF_EAUTH);
        assert_true(harness_now_ms() - t0 < 3000);
        assert_non_null(strstr(eventflow_client_last_error(c), "unauthorized"));
        struct eventflow_event_list l;
        assert_int_equal(eventflow_read_all(c, NULL, 0, &l), EF_EAUTH);
        struct eventflow_pipeline *p;
        EF_CHECK(c, eventflow_pipeline_new(c, 0, &p));
        int status = 1;
        EF_CHECK(c, eventflow_pipeline_append(p, "s", EF_VERSION_ANY, &ev, 1, count_status, &status));
        assert_int_equal(eventflow_pipeline_flush(p), EF_EAUTH);
        assert_int_equal(status, EF_EAUTH);
        eventflow_pipeline_free(p);
        eventflow_client_free(c);
    }

    o.password = "s3cret";
    struct eventflow_client *c = client_new(&o);
    EF_CHECK(c, eventflow_append(c, "s", EF_VERSION_ANY, &ev, 1, NULL));
    uint64_t count = 0;
    EF_CHECK(c, eventflow_event_count(c, &count));
    assert_int_equal(count, 1);
    eventflow_client_free(c);
    free(addr);
    harness_pass(f);
}

/* ---- seeds down ------------------------------------------------------------ */

static void test_seeds_down(void **state)
{
    struct harness_fixture *f = *state;
    unsigned p1, p2;
    assert_int_equal(harness_free_port(&p1), 0);
    assert_int_equal(harness_free_port(&p2), 0);
    char eps[64];
    snprintf(eps, sizeof eps, "127.0.0.1:%u,127.0.0.1:%u", p1, p2);
    struct eventflow_options o;
    eventflow_options_init(&o);
    o.endpoints = eps;
    o.retry_deadline_ms = 1000;
    o.connect_timeout_ms = 200;
    struct eventflow_client *c = client_new(&o);
    struct eventflow_new_event ev = {.type = "T"};

    int64_t t0 = harness_now_ms();
    assert_int_equal(eventflow_append(c, "s", EF_VERSION_ANY, &ev, 1, NULL), EF_EUNAVAILABLE);
    int64_t took = harness_now_ms() - t0;
    /* It kept trying until the deadline, and not much longer. */
    if (took < 900 || took > 1500)
        fail_msg("gave up after %lld ms with a 1000 ms deadline", (long long)took);
    assert_non_null(strstr(eventflow_client_last_error(c), "within 1000 ms"));

    struct eventflow_event_list l;
    t0 = harness_now_ms();
    assert_int_equal(eventflow_read_stream(c, "s", 0, 0, &l), EF_EUNAVAILABLE);
    assert_true(harness_now_ms() - t0 < 1500);

    struct eventflow_pipeline *p;
    EF_CHECK(c, eventflow_pipeline_new(c, 0, &p));
    int status = 1;
    t0 = harness_now_ms();
    EF_CHECK(c, eventflow_pipeline_append(p, "s", EF_VERSION_ANY, &ev, 1, count_status, &status));
    assert_int_equal(eventflow_pipeline_flush(p), EF_EUNAVAILABLE);
    assert_int_equal(status, EF_EUNAVAILABLE);
    assert_true(harness_now_ms() - t0 < 1500);
    eventflow_pipeline_free(p);
    eventflow_client_free(c);
    harness_pass(f);
}

/* ---- connection cut --------------------------------------------------------- */

/* A TCP proxy in front of one node. Armed, it forwards the next chunk
 * holding an ADD, waits for the server's reply, and then closes both
 * sides without forwarding it: the server applied the ADD, the client
 * never hears so. */
struct proxy {
    int listen_fd;
    unsigned port;
    unsigned target;
    int wake[2];
    pthread_t thread;
    atomic_int armed;
    atomic_int cuts;
};

enum { PROXY_MAX_PAIRS = 32 };

struct proxy_pair {
    int cfd, sfd;
    bool cutting;
};

static bool send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static int connect_local(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static void pair_close(struct proxy_pair *pp)
{
    close(pp->cfd);
    close(pp->sfd);
    pp->cfd = pp->sfd = -1;
}

static void *proxy_main(void *arg)
{
    struct proxy *px = arg;
    struct proxy_pair pairs[PROXY_MAX_PAIRS];
    for (size_t i = 0; i < PROXY_MAX_PAIRS; i++)
        pairs[i].cfd = pairs[i].sfd = -1;
    char chunk[65536];
    for (;;) {
        struct pollfd pfds[2 + 2 * PROXY_MAX_PAIRS];
        size_t nf = 0;
        pfds[nf++] = (struct pollfd){.fd = px->wake[0], .events = POLLIN};
        pfds[nf++] = (struct pollfd){.fd = px->listen_fd, .events = POLLIN};
        for (size_t i = 0; i < PROXY_MAX_PAIRS; i++) {
            pfds[nf++] = (struct pollfd){.fd = pairs[i].cfd, .events = POLLIN};
            pfds[nf++] = (struct pollfd){.fd = pairs[i].sfd, .events = POLLIN};
        }
        if (poll(pfds, nf, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfds[0].revents)
            break;
        if (pfds[1].revents & POLLIN) {
            int cfd = accept4(px->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            int sfd = cfd >= 0 ? connect_local(px->target) : -1;
            size_t i = 0;
            while (i < PROXY_MAX_PAIRS && pairs[i].cfd >= 0)
                i++;
            if (cfd >= 0 && sfd >= 0 && i < PROXY_MAX_PAIRS) {
                pairs[i] = (struct proxy_pair){cfd, sfd, false};
            } else {
                if (cfd >= 0)
                    close(cfd);
                if (sfd >= 0)
                    close(sfd);
            }
        }
        for (size_t i = 0; i < PROXY_MAX_PAIRS; i++) {
            struct proxy_pair *pp = &pairs[i];
            short crev = pfds[2 + 2 * i].revents, srev = pfds[3 + 2 * i].revents;
            if (pp->cfd < 0)
                continue;
            if (crev) {
                ssize_t r = recv(pp->cfd, chunk, sizeof chunk, 0);
                if (r <= 0) {
                    pair_close(pp);
                    continue;
                }
                if (memmem(chunk, (size_t)r, "ADD", 3) != NULL && atomic_exchange(&px->armed, 0))
                    pp->cutting = true;
                if (!send_all(pp->sfd, chunk, (size_t)r)) {
                    pair_close(pp);
                    continue;
                }
            }
            if (srev) {
                ssize_t r = recv(pp->sfd, chunk, sizeof chunk, 0);
                if (r <= 0 || pp->cutting) {
                    if (pp->cutting && r > 0)
                        atomic_fetch_add(&px->cuts, 1);
                    pair_close(pp);
                    continue;
                }
                if (!send_all(pp->cfd, chunk, (size_t)r))
                    pair_close(pp);
            }
        }
    }
    for (size_t i = 0; i < PROXY_MAX_PAIRS; i++)
        if (pairs[i].cfd >= 0)
            pair_close(&pairs[i]);
    return NULL;
}

/* Listen on a free port (the target is set before proxy_run). */
static void proxy_listen(struct proxy *px)
{
    memset(px, 0, sizeof *px);
    assert_int_equal(harness_free_port(&px->port), 0);
    px->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(px->listen_fd >= 0);
    int one = 1;
    setsockopt(px->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)px->port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(px->listen_fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(px->listen_fd, 16), 0);
    assert_int_equal(pipe(px->wake), 0);
}

static void proxy_run(struct proxy *px, unsigned target)
{
    px->target = target;
    assert_int_equal(pthread_create(&px->thread, NULL, proxy_main, px), 0);
}

static void proxy_stop(struct proxy *px)
{
    assert_int_equal(write(px->wake[1], "x", 1), 1);
    pthread_join(px->thread, NULL);
    close(px->wake[0]);
    close(px->wake[1]);
    close(px->listen_fd);
}

static size_t stream_length(struct harness_node *n, const char *stream)
{
    struct harness_conn *hc = harness_connect(n);
    assert_non_null(hc);
    char arg[128];
    snprintf(arg, sizeof arg, "{\"stream\":\"%s\"}", stream);
    struct resp_value v;
    assert_int_equal(harness_cmd(hc, &v, "GET", arg, NULL), 0);
    assert_int_equal(v.type, RESP_T_ARRAY);
    size_t len = v.n;
    resp_value_free(&v);
    harness_close(hc);
    return len;
}

static void test_connection_cut(void **state)
{
    struct harness_fixture *f = *state;
    struct proxy px;
    proxy_listen(&px);
    char advertise[32];
    snprintf(advertise, sizeof advertise, "127.0.0.1:%u", px.port);
    /* The node tells clients (STATUS, CLUSTER MEMBERS) to come through the
     * proxy, so discovery does not route around it. */
    const char *args[] = {"--advertise", advertise, NULL};
    struct harness_node_opts no = {.args = args};
    struct harness_node *n = harness_start_single(f, &no);
    proxy_run(&px, n->port);

    struct eventflow_options o;
    eventflow_options_init(&o);
    o.endpoints = advertise;
    struct eventflow_client *c = client_new(&o);
    EF_CHECK(c, eventflow_client_connect(c));
    assert_string_equal(eventflow_client_leader(c), advertise);

    /* With keys: the library resends, the server recognises the key. */
    struct eventflow_new_event ev = {.type = "Once", .data = string_payload("exactly once")};
    struct eventflow_event_list out;
    atomic_store(&px.armed, 1);
    EF_CHECK(c, eventflow_append(c, "cut", 0, &ev, 1, &out));
    assert_int_equal(atomic_load(&px.cuts), 1);
    assert_int_equal(stream_length(n, "cut"), 1);
    struct eventflow_event_list l;
    EF_CHECK(c, eventflow_read_stream(c, "cut", 0, 0, &l));
    assert_int_equal(l.n, 1);
    assert_string_equal(l.events[0].id, out.events[0].id);
    eventflow_event_list_free(&l);
    eventflow_event_list_free(&out);

    /* Without keys the outcome is reported unknown and nothing is resent. */
    o.no_idempotency_keys = true;
    struct eventflow_client *c2 = client_new(&o);
    atomic_store(&px.armed, 1);
    assert_int_equal(eventflow_append(c2, "cut-nokey", EF_VERSION_ANY, &ev, 1, NULL), EF_EUNKNOWN);
    assert_int_equal(atomic_load(&px.cuts), 2);
    assert_int_equal(stream_length(n, "cut-nokey"), 1);
    eventflow_client_free(c2);

    /* The pipeline: the cut loses a window of replies; every append still
     * succeeds once. */
    enum { TOTAL = 300 };
    struct pl_result *results = calloc(TOTAL, sizeof *results);
    struct pl_slot *slots = calloc(TOTAL, sizeof *slots);
    struct eventflow_pipeline *p;
    EF_CHECK(c, eventflow_pipeline_new(c, 64, &p));
    atomic_store(&px.armed, 1);
    for (size_t i = 0; i < TOTAL; i++) {
        char data[16];
        snprintf(data, sizeof data, "%zu", i);
        struct eventflow_new_event pe = {.type = "P", .data = string_payload(data)};
        slots[i] = (struct pl_slot){results, i};
        EF_CHECK(c, eventflow_pipeline_append(p, "cut-pipe", EF_VERSION_ANY, &pe, 1, pl_done,
                                              &slots[i]));
    }
    EF_CHECK(c, eventflow_pipeline_flush(p));
    assert_int_equal(atomic_load(&px.cuts), 3);
    for (size_t i = 0; i < TOTAL; i++)
        assert_int_equal(results[i].status, EF_OK);
    struct eventflow_event_list all;
    read_whole_stream(c, "cut-pipe", &all);
    assert_int_equal(all.n, TOTAL);
    bool *seen = calloc(TOTAL, sizeof *seen);
    for (size_t i = 0; i < all.n; i++) {
        size_t k = strtoul(all.events[i].data.bytes, NULL, 10);
        assert_true(k < TOTAL);
        assert_false(seen[k]);
        seen[k] = true;
        /* The callback got the stored event, not a second copy. */
        assert_string_equal(results[k].id, all.events[i].id);
    }
    free(seen);
    eventflow_event_list_free(&all);
    eventflow_pipeline_free(p);
    free(results);
    free(slots);

    eventflow_client_free(c);
    proxy_stop(&px);
    harness_pass(f);
}

/* ---- failover -------------------------------------------------------------- */

struct progress {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    size_t acked;
};

static void progress_add(struct progress *pg)
{
    pthread_mutex_lock(&pg->mu);
    pg->acked++;
    pthread_cond_broadcast(&pg->cond);
    pthread_mutex_unlock(&pg->mu);
}

static size_t progress_get(struct progress *pg)
{
    pthread_mutex_lock(&pg->mu);
    size_t n = pg->acked;
    pthread_mutex_unlock(&pg->mu);
    return n;
}

/* Wait until at least target appends were acknowledged in all. */
static bool progress_wait(struct progress *pg, size_t target, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&pg->mu);
    int rc = 0;
    while (pg->acked < target && rc == 0)
        rc = pthread_cond_timedwait(&pg->cond, &pg->mu, &until);
    bool ok = pg->acked >= target;
    pthread_mutex_unlock(&pg->mu);
    return ok;
}

struct worker {
    const char *endpoints;
    unsigned id;
    bool pipelined;
    atomic_bool *stop;
    struct progress *pg;
    size_t acked;
    bool *acked_flags; /* pipelined: which appends were acknowledged */
    size_t max;        /* pipelined: room in acked_flags */
    int error;
    char errmsg[600];
};

struct pipe_ack {
    struct worker *w;
    size_t i;
};

static void worker_fail(struct worker *w, int code, const char *what, struct eventflow_client *c)
{
    if (w->error != EF_OK)
        return;
    w->error = code != EF_OK ? code : EF_EPROTO;
    snprintf(w->errmsg, sizeof w->errmsg, "worker %u: %s: %s: %s", w->id, what,
             eventflow_err_name(code), c != NULL ? eventflow_client_last_error(c) : "");
}

static void pipe_done(void *arg, int status, const struct eventflow_event_list *stored)
{
    struct pipe_ack *a = arg;
    struct worker *w = a->w;
    (void)stored;
    if (status != EF_OK) {
        if (w->error == EF_OK) {
            w->error = status;
            snprintf(w->errmsg, sizeof w->errmsg, "pipelined append %zu: %s", a->i,
                     eventflow_err_name(status));
        }
    } else {
        w->acked_flags[a->i] = true;
        w->acked++;
        progress_add(w->pg);
    }
    free(a);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct eventflow_options o;
    eventflow_options_init(&o);
    o.endpoints = w->endpoints;
    struct eventflow_client *c;
    if (eventflow_client_new(&o, &c) != EF_OK) {
        worker_fail(w, EF_EINVAL, "client", NULL);
        return NULL;
    }
    char stream[32];
    snprintf(stream, sizeof stream, "w%u", w->id);
    if (!w->pipelined) {
        /* Expected versions: a duplicate or a lost acknowledged append
         * would show as a version mismatch or a gap. */
        for (size_t i = 0; !atomic_load(w->stop); i++) {
            char data[48];
            snprintf(data, sizeof data, "w%u-%zu", w->id, i);
            struct eventflow_new_event ev = {.type = "Tick", .data = string_payload(data)};
            struct eventflow_event_list out;
            int rc = eventflow_append(c, stream, (int64_t)i, &ev, 1, &out);
            if (rc != EF_OK) {
                worker_fail(w, rc, "append", c);
                break;
            }
            bool ok = out.n == 1 && out.events[0].version == i;
            eventflow_event_list_free(&out);
            if (!ok) {
                worker_fail(w, EF_EPROTO, "stored at an unexpected version", c);
                break;
            }
            w->acked++;
            progress_add(w->pg);
        }
    } else {
        struct eventflow_pipeline *p;
        if (eventflow_pipeline_new(c, 16, &p) != EF_OK) {
            worker_fail(w, EF_EINVAL, "pipeline", c);
            eventflow_client_free(c);
            return NULL;
        }
        for (size_t i = 0; i < w->max && !atomic_load(w->stop) && w->error == EF_OK; i++) {
            char data[48];
            snprintf(data, sizeof data, "%zu", i);
            struct eventflow_new_event ev = {.type = "Piped", .data = string_payload(data)};
            struct pipe_ack *a = malloc(sizeof *a);
            *a = (struct pipe_ack){w, i};
            int rc = eventflow_pipeline_append(p, stream, EF_VERSION_ANY, &ev, 1, pipe_done, a);
            if (rc != EF_OK) {
                free(a);
                worker_fail(w, rc, "pipeline append", c);
                break;
            }
        }
        (void)eventflow_pipeline_flush(p);
        eventflow_pipeline_free(p);
    }
    eventflow_client_free(c);
    return NULL;
}

static void test_failover(void **state)
{
    struct harness_fixture *f = *state;
    struct cluster cl;
    cluster_start(&cl, f, 3, NULL);
    (void)cluster_leader(&cl);
    char endpoints[256];
    cluster_endpoints(&cl, endpoints, sizeof endpoints);

    enum { BLOCKING = 3, WORKERS = 4, ROUNDS = 3, STEP = 25, PIPE_MAX = 200000 };
    atomic_bool stop = false;
    struct progress pg = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct worker w[WORKERS];
    pthread_t th[WORKERS];
    for (unsigned i = 0; i < WORKERS; i++) {
        w[i] = (struct worker){.endpoints = endpoints, .id = i, .pipelined = i >= BLOCKING,
                               .stop = &stop, .pg = &pg};
        if (w[i].pipelined) {
            w[i].max = PIPE_MAX;
            w[i].acked_flags = calloc(PIPE_MAX, sizeof(bool));
        }
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }

    /* Kill the leader while appends flow; each time, appends must go on
     * (through the new leader) before the next round. */
    for (int round = 0; round < ROUNDS; round++) {
        assert_true(progress_wait(&pg, progress_get(&pg) + STEP, WAIT_MS));
        size_t leader = cluster_leader(&cl);
        harness_assert_kill(cl.n[leader]);
        size_t before = progress_get(&pg);
        if (!progress_wait(&pg, before + STEP, WAIT_MS))
            fail_msg("round %d: appends did not resume after killing node %u", round,
                     cl.n[leader]->id);
        assert_int_equal(harness_node_start(cl.n[leader]), 0);
    }
    assert_true(progress_wait(&pg, progress_get(&pg) + STEP, WAIT_MS));
    atomic_store(&stop, true);
    for (unsigned i = 0; i < WORKERS; i++)
        pthread_join(th[i], NULL);
    for (unsigned i = 0; i < WORKERS; i++)
        if (w[i].error != EF_OK)
            fail_msg("%s", w[i].errmsg);

    /* Check every stream through a client that reads linearizably. */
    struct eventflow_options o;
    eventflow_options_init(&o);
    o.endpoints = endpoints;
    o.consistency = EF_CONSISTENCY_LINEARIZABLE;
    struct eventflow_client *c = client_new(&o);
    size_t total = 0;
    for (unsigned i = 0; i < WORKERS; i++) {
        char stream[32];
        snprintf(stream, sizeof stream, "w%u", i);
        struct eventflow_event_list l;
        read_whole_stream(c, stream, &l);
        if (!w[i].pipelined) {
            /* Exactly the acknowledged appends, in order, once each. */
            assert_int_equal(l.n, w[i].acked);
            for (size_t v = 0; v < l.n; v++) {
                char data[48];
                snprintf(data, sizeof data, "w%u-%zu", i, v);
                assert_int_equal(l.events[v].version, v);
                assert_string_equal(l.events[v].data.bytes, data);
            }
        } else {
            /* Each acknowledged append once; nothing unacknowledged (every
             * append was acknowledged, or the worker recorded an error). */
            bool *seen = calloc(w[i].max, sizeof *seen);
            for (size_t k = 0; k < l.n; k++) {
                size_t idx = strtoul(l.events[k].data.bytes, NULL, 10);
                assert_true(idx < w[i].max);
                if (seen[idx])
                    fail_msg("pipelined append %zu stored twice", idx);
                seen[idx] = true;
                assert_true(w[i].acked_flags[idx]);
            }
            assert_int_equal(l.n, w[i].acked);
            free(seen);
            free(w[i].acked_flags);
        }
        total += l.n;
        eventflow_event_list_free(&l);
    }
    uint64_t count = 0;
    EF_CHECK(c, eventflow_event_count(c, &count));
    assert_int_equal(count, total);
    assert_int_equal(total, progress_get(&pg));
    fprintf(stderr, "failover: %zu appends acknowledged across %d leader kills\n", total, ROUNDS);
    eventflow_client_free(c);
    harness_pass(f);
}

/* ---- followers ------------------------------------------------------------- */

static void test_followers(void **state)
{
    struct harness_fixture *f = *state;
    struct cluster cl;
    cluster_start(&cl, f, 3, NULL);
    size_t leader = cluster_leader(&cl);
    size_t follower = (leader + 1) % 3;
    char *leader_addr = node_addr(cl.n[leader]);
    char *follower_addr = node_addr(cl.n[follower]);

    /* Seeded with one follower only: discovery finds the leader. Reads go
     * to followers and still see this client's writes at once. */
    struct eventflow_options o;
    eventflow_options_init(&o);
    o.endpoints = follower_addr;
    o.read_preference = EF_READ_FOLLOWER;
    struct eventflow_client *c = client_new(&o);
    for (int64_t i = 0; i < 100; i++) {
        struct eventflow_new_event ev = {.type = "Seen"};
        EF_CHECK(c, eventflow_append(c, "ryw", i, &ev, 1, NULL));
        assert_string_equal(eventflow_client_last_node(c), leader_addr);
        struct eventflow_event_list l;
        EF_CHECK(c, eventflow_read_stream(c, "ryw", (uint64_t)i, 0, &l));
        if (l.n != 1)
            fail_msg("read %lld after writing it: %zu events", (long long)i, l.n);
        assert_int_equal(l.events[0].version, i);
        eventflow_event_list_free(&l);
        assert_string_not_equal(eventflow_client_last_node(c), leader_addr);
    }
    assert_string_equal(eventflow_client_leader(c), leader_addr);

    /* Linearizable reads are served by the leader whatever the preference. */
    o.consistency = EF_CONSISTENCY_LINEARIZABLE;
    struct eventflow_client *lin = client_new(&o);
    struct eventflow_event_list l;
    EF_CHECK(lin, eventflow_read_stream(lin, "ryw", 0, 0, &l));
    assert_int_equal(l.n, 100);
    assert_string_equal(eventflow_client_last_node(lin), leader_addr);
    eventflow_event_list_free(&l);

    /* Cluster views. */
    struct eventflow_member_list ml;
    EF_CHECK(c, eventflow_cluster_members(c, &ml));
    assert_int_equal(ml.n, 3);
    for (size_t i = 0; i < ml.n; i++)
        assert_int_equal(ml.members[i].role, EF_ROLE_VOTER);
    eventflow_member_list_free(&ml);
    struct eventflow_status_list sl;
    EF_CHECK(c, eventflow_cluster_status(c, &sl));
    assert_int_equal(sl.n, 3);
    size_t leaders = 0;
    for (size_t i = 0; i < sl.n; i++)
        leaders += strcmp(sl.nodes[i].state, "leader") == 0;
    assert_int_equal(leaders, 1);
    eventflow_status_list_free(&sl);

    /* Membership: a spare comes and goes. */
    EF_CHECK(c, eventflow_member_add(c, 9, "127.0.0.1:1", "127.0.0.1:2"));
    EF_CHECK(c, eventflow_cluster_members(c, &ml));
    assert_int_equal(ml.n, 4);
    bool found = false;
    for (size_t i = 0; i < ml.n; i++)
        if (ml.members[i].id == 9)
            found = ml.members[i].role == EF_ROLE_SPARE;
    assert_true(found);
    eventflow_member_list_free(&ml);
    assert_int_equal(eventflow_member_add(c, 9, "127.0.0.1:1", "127.0.0.1:2"), EF_EINVAL);
    EF_CHECK(c, eventflow_member_remove(c, 9));
    EF_CHECK(c, eventflow_cluster_members(c, &ml));
    assert_int_equal(ml.n, 3);
    eventflow_member_list_free(&ml);

    /* Leadership moves to the follower; the next append follows it. */
    EF_CHECK(c, eventflow_leader_transfer(c, cl.n[follower]->id));
    struct eventflow_new_event ev = {.type = "After"};
    EF_CHECK(c, eventflow_append(c, "ryw", 100, &ev, 1, NULL));
    assert_string_equal(eventflow_client_leader(c), follower_addr);
    assert_string_equal(eventflow_client_last_node(c), follower_addr);

    eventflow_client_free(lin);
    eventflow_client_free(c);
    free(leader_addr);
    free(follower_addr);
    harness_pass(f);
}

/* ---- install ----------------------------------------------------------------- */

static void test_install(void **state)
{
    struct harness_fixture *f = *state;
    const char *src = getenv("EF_SOURCE_ROOT");
    if (src == NULL || getenv("EF_BUILD_ROOT") == NULL || getenv("EF_MESON") == NULL) {
        fprintf(stderr, "install: EF_SOURCE_ROOT/EF_BUILD_ROOT/EF_MESON not set (run through meson test)\n");
        skip();
    }
    struct harness_node *n = harness_start_single(f, NULL);
    char *addr = node_addr(n);
    char dir[] = "/tmp/eventflow-install-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "EVENTFLOW_ENDPOINTS=%s sh %s/tests/integration/client_install.sh %s", addr,
             src, dir);
    int status = system(cmd);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (getenv("EVENTFLOW_ITEST_KEEP") == NULL && system(cmd) != 0)
        fprintf(stderr, "install: could not remove %s\n", dir);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("client_install.sh failed (status %d)", status);

    /* The installed examples wrote through the node: two appends. */
    struct eventflow_options o;
    eventflow_options_init(&o);
    o.endpoints = addr;
    struct eventflow_client *c = client_new(&o);
    struct eventflow_event_list l;
    EF_CHECK(c, eventflow_read_stream(c, "installed", 0, 0, &l));
    assert_int_equal(l.n, 2);
    eventflow_event_list_free(&l);
    eventflow_client_free(c);
    free(addr);
    harness_pass(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_api, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_pipeline, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_password, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_seeds_down, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_connection_cut, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_failover, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_followers, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_install, harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
