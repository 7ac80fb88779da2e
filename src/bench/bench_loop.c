/* bench_loop.c - connections and worker threads of eventflow-bench (see
 * bench.h).
 *
 * Each worker owns a slice of the connections and one level-triggered
 * epoll set over them. A connection keeps up to plan->pipeline requests in
 * flight: whenever replies arrive, the freed slots are refilled at once and
 * written in one send(). RESP answers in request order, so the requests in
 * flight form a FIFO ring and each reply belongs to the oldest one.
 *
 * Latency is CLOCK_MONOTONIC from the moment a request is queued (just
 * before its send) to the moment the read that completed its reply
 * returned; time a request waits in our own send buffer counts, as it would
 * for a real client.
 *
 * Nothing here waits unboundedly: a connection with requests in flight and
 * no bytes received for cfg->timeout seconds is dropped as "<timeout>", and
 * epoll_wait wakes every TICK_MS to notice deadlines, stalls and SIGINT. */
#include "bench/bench.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "common/mem.h"

#define RX_CHUNK (64 * 1024)
#define MAX_EPOLL_EVENTS 64
#define TICK_MS 100
#define NS_PER_SEC 1000000000ull
#define NS_PER_MS 1000000ull

atomic_bool bench_interrupted;

struct worker {
    struct bench_plan *plan;      /* borrowed, shared */
    struct bench_conn **conns;    /* owned array of borrowed conns */
    unsigned n_conns;
    int epfd;
    struct bench_rng rng;
    bool exhausted;               /* the plan gives this worker no more requests */
    struct buf scratch;           /* JSON argument being encoded */
    char *rx;                     /* owned, RX_CHUNK bytes */
    struct bench_result res;
    pthread_t thread;
};

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    /* CLOCK_MONOTONIC cannot fail with a valid clock id and pointer. */
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* ---- results -------------------------------------------------------- */

void bench_result_init(struct bench_result *res)
{
    memset(res, 0, sizeof(*res));
    for (unsigned i = 0; i < BENCH_OP_COUNT; i++)
        bench_hist_init(&res->op[i].latency_ns);
}

void bench_result_free(struct bench_result *res)
{
    free(res->ids);
    res->ids = NULL;
    res->n_ids = res->cap_ids = 0;
}

void bench_errors_add(struct bench_errors *e, const char *word, const char *example,
                      size_t example_len, uint64_t count)
{
    for (unsigned i = 0; i < e->n; i++) {
        if (strcmp(e->kind[i].word, word) == 0) {
            e->kind[i].count += count;
            return;
        }
    }
    if (e->n == BENCH_ERROR_KINDS) {
        e->other += count;
        return;
    }
    snprintf(e->kind[e->n].word, BENCH_WORD_MAX, "%s", word);
    if (example_len >= BENCH_EXAMPLE_MAX)
        example_len = BENCH_EXAMPLE_MAX - 1;
    if (example == NULL)
        example_len = 0;
    /* Printable ASCII only: the message goes to a terminal and into JSON. */
    for (size_t i = 0; i < example_len; i++) {
        char ch = example[i];
        e->kind[e->n].example[i] = (ch >= 0x20 && ch < 0x7f) ? ch : '?';
    }
    e->kind[e->n].example[example_len] = '\0';
    e->kind[e->n].count = count;
    e->n++;
}

static void result_keep_id(struct bench_result *res, const char *id)
{
    if (res->n_ids == res->cap_ids) {
        res->cap_ids = res->cap_ids ? 2 * res->cap_ids : 64;
        res->ids = xrealloc(res->ids, res->cap_ids * sizeof(*res->ids));
    }
    memcpy(res->ids[res->n_ids++], id, BENCH_ULID_LEN + 1);
}

static void result_merge(struct bench_result *into, const struct bench_result *from)
{
    for (unsigned i = 0; i < BENCH_OP_COUNT; i++) {
        struct bench_op_stats *a = &into->op[i];
        const struct bench_op_stats *b = &from->op[i];
        a->ok += b->ok;
        a->failed += b->failed;
        a->events += b->events;
        a->payload_bytes += b->payload_bytes;
        bench_hist_merge(&a->latency_ns, &b->latency_ns);
    }
    for (unsigned i = 0; i < from->errors.n; i++)
        bench_errors_add(&into->errors, from->errors.kind[i].word, from->errors.kind[i].example,
                         strlen(from->errors.kind[i].example), from->errors.kind[i].count);
    into->errors.other += from->errors.other;
    into->rx_bytes += from->rx_bytes;
    if (from->last_done_ns > into->last_done_ns)
        into->last_done_ns = from->last_done_ns;
    into->conns_lost += from->conns_lost;
    for (size_t i = 0; i < from->n_ids; i++)
        result_keep_id(into, from->ids[i]);
}

/* ---- the worker loop ------------------------------------------------ */

/* Drop a connection that failed: every measured request still in flight on
 * it counts as failed under `reason`. The worker goes on with the others. */
static void conn_lost(struct worker *w, struct bench_conn *c, const char *reason)
{
    uint64_t lost = 0;

    for (unsigned i = 0; i < c->count; i++) {
        const struct bench_req *req = &c->ring[(c->head + i) % c->ring_cap];
        if (req->measured) {
            w->res.op[req->op].failed++;
            lost++;
        }
    }
    if (lost > 0) {
        /* Giving up ends these requests now: the time spent waiting for
         * them belongs in the measured window. */
        uint64_t now = bench_now_ns();
        bench_errors_add(&w->res.errors, reason, NULL, 0, lost);
        if (now > w->res.last_done_ns)
            w->res.last_done_ns = now;
    }
    fprintf(stderr, "eventflow-bench: connection lost (%s), %u requests in flight\n", reason,
            c->count);
    /* Closing the socket also takes it out of the epoll set. */
    close(c->fd);
    c->fd = -1;
    c->count = 0;
    buf_reset(&c->out);
    c->out_sent = 0;
    w->res.conns_lost++;
}

static void conn_arm_write(struct worker *w, struct bench_conn *c, bool on)
{
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0u), .data.ptr = c};

    if (c->want_write == on)
        return;
    if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
        conn_lost(w, c, "<epoll-error>");
        return;
    }
    c->want_write = on;
}

/* Write what is queued; what the socket does not take waits for EPOLLOUT. */
static void conn_flush(struct worker *w, struct bench_conn *c)
{
    while (c->out_sent < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_sent, c->out.len - c->out_sent, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_sent += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            conn_arm_write(w, c, true);
            return;
        } else {
            conn_lost(w, c, "<conn-error>");
            return;
        }
    }
    buf_reset(&c->out);
    c->out_sent = 0;
    conn_arm_write(w, c, false);
}

/* May this worker send another request now? Sets *measured, and *job to
 * the ticket taken (the prefill job number). */
static bool worker_next(struct worker *w, uint64_t now, bool *measured, uint64_t *job)
{
    struct bench_plan *plan = w->plan;

    if (w->exhausted)
        return false;
    if (atomic_load(&bench_interrupted) || (plan->deadline_ns != 0 && now >= plan->deadline_ns)) {
        w->exhausted = true;
        return false;
    }
    if (now < plan->measure_start_ns) {
        *measured = false; /* warmup: load without tickets or records */
        return true;
    }
    if (plan->max_tickets != 0) {
        uint64_t t = atomic_fetch_add(&plan->tickets, 1);
        if (t >= plan->max_tickets) {
            w->exhausted = true;
            return false;
        }
        *job = t;
    }
    *measured = true;
    return true;
}

/* Top the connection up to plan->pipeline requests in flight and send. */
static void conn_fill(struct worker *w, struct bench_conn *c)
{
    struct bench_plan *plan = w->plan;
    uint64_t now = bench_now_ns();

    while (c->count < plan->pipeline) {
        bool measured = false;
        uint64_t job = 0;
        if (!worker_next(w, now, &measured, &job))
            break;
        struct bench_req *req = &c->ring[(c->head + c->count) % c->ring_cap];
        memset(req, 0, sizeof(*req));
        if (plan->prefill)
            bench_encode_prefill(plan, job, &w->scratch, &c->out, req);
        else
            bench_encode_load(plan, &w->rng, &w->scratch, &c->out, req);
        req->sent_ns = now;
        req->measured = measured;
        /* The stall clock starts when a request goes out to an idle conn. */
        if (c->count == 0)
            c->last_progress_ns = now;
        c->count++;
    }
    if (c->out.len > c->out_sent)
        conn_flush(w, c);
}

static void worker_finish(struct worker *w, const struct bench_req *req,
                          const struct resp_value *v, uint64_t now)
{
    struct bench_op_stats *st = &w->res.op[req->op];
    uint64_t events, bytes;
    char id[BENCH_ULID_LEN + 1];
    char word[BENCH_WORD_MAX];

    if (!req->measured)
        return; /* warmup */
    if (bench_check_reply(req, v, &events, &bytes, id, word) == 0) {
        st->ok++;
        st->events += events;
        st->payload_bytes += bytes;
        bench_hist_record(&st->latency_ns, now - req->sent_ns);
        if (req->want_id)
            result_keep_id(&w->res, id);
    } else {
        st->failed++;
        if (v->type == RESP_T_ERROR)
            bench_errors_add(&w->res.errors, word, v->str, v->len, 1);
        else
            bench_errors_add(&w->res.errors, word, NULL, 0, 1);
    }
    if (now > w->res.last_done_ns)
        w->res.last_done_ns = now;
}

/* Hand every complete reply to its request. Returns -1 if the conn was lost. */
static int conn_take_replies(struct worker *w, struct bench_conn *c, uint64_t now)
{
    for (;;) {
        struct resp_value v;
        int rc = resp_reader_next(&c->reader, &v);
        if (rc == 0)
            return 0;
        if (rc < 0) {
            conn_lost(w, c, "<protocol-error>");
            return -1;
        }
        if (c->count == 0) {
            /* A reply nobody asked for: the FIFO pairing is gone. */
            resp_value_free(&v);
            conn_lost(w, c, "<unexpected-reply>");
            return -1;
        }
        struct bench_req req = c->ring[c->head];
        c->head = (c->head + 1) % c->ring_cap;
        c->count--;
        worker_finish(w, &req, &v, now);
        resp_value_free(&v);
    }
}

static void conn_read(struct worker *w, struct bench_conn *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, w->rx, RX_CHUNK, 0);
        if (n > 0) {
            uint64_t now = bench_now_ns();
            if (now >= w->plan->measure_start_ns)
                w->res.rx_bytes += (uint64_t)n;
            c->last_progress_ns = now;
            resp_reader_feed(&c->reader, w->rx, (size_t)n);
            if (conn_take_replies(w, c, now) != 0 || (size_t)n < RX_CHUNK)
                return;
        } else if (n == 0) {
            conn_lost(w, c, "<conn-closed>");
            return;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        } else {
            conn_lost(w, c, "<conn-error>");
            return;
        }
    }
}

static void worker_check_stalls(struct worker *w, uint64_t now)
{
    uint64_t limit = (uint64_t)(w->plan->cfg->timeout * (double)NS_PER_SEC);

    for (unsigned i = 0; i < w->n_conns; i++) {
        struct bench_conn *c = w->conns[i];
        if (c->fd >= 0 && c->count > 0 && now - c->last_progress_ns > limit)
            conn_lost(w, c, "<timeout>");
    }
}

/* Done when no connection has a request in flight: conn_fill refills a
 * conn whenever it can, so an empty one means the plan is exhausted. */
static bool worker_idle(const struct worker *w)
{
    for (unsigned i = 0; i < w->n_conns; i++) {
        if (w->conns[i]->fd >= 0 && w->conns[i]->count > 0)
            return false;
    }
    return true;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[MAX_EPOLL_EVENTS];
    uint64_t next_check = bench_now_ns() + TICK_MS * NS_PER_MS;

    for (unsigned i = 0; i < w->n_conns; i++) {
        if (w->conns[i]->fd >= 0)
            conn_fill(w, w->conns[i]);
    }
    while (!worker_idle(w)) {
        int n = epoll_wait(w->epfd, evs, MAX_EPOLL_EVENTS, TICK_MS);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "eventflow-bench: epoll_wait: %s\n", strerror(errno));
            for (unsigned i = 0; i < w->n_conns; i++) {
                if (w->conns[i]->fd >= 0)
                    conn_lost(w, w->conns[i], "<epoll-error>");
            }
            break;
        }
        for (int i = 0; i < n; i++) {
            struct bench_conn *c = evs[i].data.ptr;
            if (c->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                conn_read(w, c);
            if (c->fd >= 0 && (evs[i].events & EPOLLOUT))
                conn_flush(w, c);
            if (c->fd >= 0)
                conn_fill(w, c);
        }
        uint64_t now = bench_now_ns();
        if (now >= next_check) {
            worker_check_stalls(w, now);
            next_check = now + TICK_MS * NS_PER_MS;
        }
    }
    return NULL;
}

/* ---- running a phase ------------------------------------------------ */

static void worker_free(struct worker *w)
{
    if (w->epfd >= 0)
        close(w->epfd);
    free(w->conns);
    free(w->rx);
    buf_free(&w->scratch);
    bench_result_free(&w->res);
}

/* Worker `index` of `n` takes every n-th connection. */
static int worker_init(struct worker *w, struct bench_plan *plan, unsigned index, unsigned n,
                       struct bench_conn *conns, unsigned n_conns)
{
    memset(w, 0, sizeof(*w));
    w->plan = plan;
    w->epfd = -1;
    buf_init(&w->scratch);
    bench_result_init(&w->res);
    w->rx = xmalloc(RX_CHUNK);
    /* Worker i's choices start from the (i+1)-th draw of a generator seeded
     * with --seed: distinct per worker, reproducible per seed. */
    struct bench_rng seeder;
    uint64_t seed = 0;
    bench_rng_seed(&seeder, plan->cfg->seed);
    for (unsigned i = 0; i <= index; i++)
        seed = bench_rng_next(&seeder);
    bench_rng_seed(&w->rng, seed);
    w->conns = xcalloc(n_conns / n + 1, sizeof(*w->conns));
    for (unsigned i = index; i < n_conns; i += n)
        w->conns[w->n_conns++] = &conns[i];

    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0) {
        fprintf(stderr, "eventflow-bench: epoll_create1: %s\n", strerror(errno));
        return -1;
    }
    for (unsigned i = 0; i < w->n_conns; i++) {
        struct bench_conn *c = w->conns[i];
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (c->fd < 0)
            continue;
        c->want_write = false;
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
            fprintf(stderr, "eventflow-bench: epoll_ctl: %s\n", strerror(errno));
            return -1;
        }
    }
    return 0;
}

int bench_run(struct bench_plan *plan, struct bench_conn *conns, unsigned n_conns,
              struct bench_result *res)
{
    unsigned n = plan->cfg->threads < n_conns ? plan->cfg->threads : n_conns;
    struct worker *workers = xcalloc(n, sizeof(*workers));
    unsigned inited = 0, started = 0;
    int rc = 0;

    bench_result_init(res);
    while (rc == 0 && inited < n) {
        rc = worker_init(&workers[inited], plan, inited, n, conns, n_conns);
        inited++;
    }
    for (; rc == 0 && started < n; started++) {
        int err = pthread_create(&workers[started].thread, NULL, worker_main, &workers[started]);
        if (err != 0) {
            fprintf(stderr, "eventflow-bench: pthread_create: %s\n", strerror(err));
            /* The started workers see this and wind down. */
            atomic_store(&bench_interrupted, true);
            rc = -1;
            break;
        }
    }
    for (unsigned i = 0; i < started; i++) {
        int err = pthread_join(workers[i].thread, NULL);
        if (err != 0) {
            fprintf(stderr, "eventflow-bench: pthread_join: %s\n", strerror(err));
            abort(); /* a worker may still touch shared state: cannot go on */
        }
        result_merge(res, &workers[i].res);
    }
    for (unsigned i = 0; i < inited; i++)
        worker_free(&workers[i]);
    free(workers);
    return rc;
}
