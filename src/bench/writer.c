/* writer.c - the stamped ADD writer thread (see writer.h), as
 * ../shared/bench/redis_delivery.c's writer_run with ADD for XADD. */
#include "bench/writer.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/mem.h"

#define NS 1000000000ull
#define WRITER_RX 65536

struct bench_writer_conn {
    struct bench_conn c;        /* fd, reply reader, output */
    uint64_t *fifo;             /* sequence numbers in flight, oldest at head */
    size_t fcap, fhead, fn;
};

static void fifo_push(struct bench_writer_conn *w, uint64_t seq)
{
    if (w->fn == w->fcap) {
        size_t nc = w->fcap ? 2 * w->fcap : 1024;
        uint64_t *f = xmalloc(nc * sizeof *f);
        for (size_t i = 0; i < w->fn; i++)
            f[i] = w->fifo[(w->fhead + i) % w->fcap];
        free(w->fifo);
        w->fifo = f;
        w->fcap = nc;
        w->fhead = 0;
    }
    w->fifo[(w->fhead + w->fn++) % w->fcap] = seq;
}

static uint64_t fifo_pop(struct bench_writer_conn *w)
{
    uint64_t s = w->fifo[w->fhead];
    w->fhead = (w->fhead + 1) % w->fcap;
    w->fn--;
    return s;
}

/* Queue one ADD, stamped now (its send time). */
static void writer_queue(struct bench_writer *wr, struct bench_writer_conn *w, uint64_t seq)
{
    char *p = buf_reserve(&w->c.out, wr->tpl.len);
    uint64_t t = bench_now_ns();
    dl_add_stamp(&wr->tpl, p, seq, t);
    buf_commit(&w->c.out, wr->tpl.len);
    wr->send_ns[seq] = t;
    fifo_push(w, seq);
    atomic_store_explicit(&wr->sent, seq + 1, memory_order_release);
}

static void writer_flush(struct bench_writer_conn *w)
{
    while (w->c.out_sent < w->c.out.len) {
        ssize_t n = send(w->c.fd, w->c.out.data + w->c.out_sent, w->c.out.len - w->c.out_sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0)
            bench_fail("writer: send: %s", strerror(errno));
        w->c.out_sent += (size_t)n;
    }
    buf_reset(&w->c.out);
    w->c.out_sent = 0;
}

/* The thread. It never blocks on a send, so it reads replies while the
 * server is slow to read its requests. */
static void *writer_main(void *arg)
{
    struct bench_writer *wr = arg;
    const struct bench_writer_opts *o = &wr->o;
    unsigned nc = o->wconns;
    struct pollfd *pf = xcalloc(nc, sizeof *pf);
    char *rx = xmalloc(WRITER_RX);
    uint64_t sent = 0, inflight = 0, t_stop = 0;
    unsigned rr = 0;
    bool stop = false;
    uint64_t t0 = bench_now_ns(), deadline = t0 + (uint64_t)(o->secs * 1e9);

    wr->t_first = t0;
    for (unsigned i = 0; i < nc; i++)
        pf[i].fd = wr->conns[i].c.fd;
    if (o->rate <= 0)
        for (unsigned i = 0; i < nc && sent < o->maxn; i++, sent++, inflight++)
            writer_queue(wr, &wr->conns[i], sent);
    for (;;) {
        uint64_t now = bench_now_ns();
        if (!stop && (now >= deadline || sent >= o->maxn || atomic_load(&wr->stopreq))) {
            stop = true;
            t_stop = now;
        }
        if (!stop && o->rate > 0) {
            while (sent < o->maxn && inflight < BENCH_WRITER_WINDOW &&
                   now >= t0 + (uint64_t)((double)sent * 1e9 / o->rate)) {
                writer_queue(wr, &wr->conns[rr], sent++);
                inflight++;
                rr = (rr + 1) % nc;
            }
        }
        for (unsigned i = 0; i < nc; i++) {
            struct bench_writer_conn *w = &wr->conns[i];
            if (w->c.out.len > w->c.out_sent)
                writer_flush(w);
            pf[i].events = (short)(POLLIN | (w->c.out.len > w->c.out_sent ? POLLOUT : 0));
        }
        if (stop && inflight == 0)
            break;
        if (stop && now > t_stop + 10 * NS) {
            fprintf(stderr, "%s: writer: %" PRIu64 " replies missing 10 s after the last send\n", bench_prog,
                    inflight);
            break;
        }
        uint64_t wait = 100000000;
        if (!stop && o->rate > 0 && inflight < BENCH_WRITER_WINDOW) {
            uint64_t due = t0 + (uint64_t)((double)sent * 1e9 / o->rate);
            wait = due > now ? due - now : 0;
        }
        struct timespec ts = {.tv_sec = (time_t)(wait / NS), .tv_nsec = (long)(wait % NS)};
        int r = ppoll(pf, nc, &ts, NULL);
        if (r < 0 && errno != EINTR)
            bench_fail("writer: ppoll: %s", strerror(errno));
        if (r <= 0)
            continue;
        for (unsigned i = 0; i < nc; i++) {
            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            struct bench_writer_conn *w = &wr->conns[i];
            ssize_t n = recv(w->c.fd, rx, WRITER_RX, 0);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (n <= 0)
                bench_fail("writer: connection lost");
            uint64_t t = bench_now_ns();
            resp_reader_feed(&w->c.reader, rx, (size_t)n);
            struct resp_value v;
            int rc;
            while ((rc = resp_reader_next(&w->c.reader, &v)) == 1) {
                if (w->fn == 0)
                    bench_fail("writer: a reply to no request");
                uint64_t seq = fifo_pop(w);
                if (v.type == RESP_T_ARRAY && v.n == 1) {
                    atomic_store_explicit(&wr->ack_ns[seq], t, memory_order_release);
                    atomic_fetch_add(&wr->acked, 1);
                    wr->t_last_ack = t;
                } else if (atomic_fetch_add(&wr->errs, 1) < 3) {
                    fprintf(stderr, "%s: ADD failed: %.200s\n", bench_prog,
                            v.type == RESP_T_ERROR ? v.str : "(not one event)");
                }
                resp_value_free(&v);
                inflight--;
                if (o->rate <= 0 && !stop && sent < o->maxn && t < deadline) {
                    writer_queue(wr, w, sent++);
                    inflight++;
                }
            }
            if (rc < 0)
                bench_fail("writer: malformed reply");
        }
    }
    wr->cpu_s = bench_thread_cpu_s();
    free(pf);
    free(rx);
    atomic_store_explicit(&wr->done, true, memory_order_release);
    return NULL;
}

void bench_writer_init(struct bench_writer *wr, const struct bench_writer_opts *o)
{
    memset(wr, 0, sizeof *wr);
    wr->o = *o;
    dl_add_template_init(&wr->tpl, o->stream);
    wr->send_ns = xcalloc(o->maxn, sizeof *wr->send_ns);
    wr->ack_ns = xcalloc(o->maxn, sizeof *wr->ack_ns);
    wr->conns = xcalloc(o->wconns, sizeof *wr->conns);
    for (unsigned i = 0; i < o->wconns; i++) {
        if (bench_conn_open(&wr->conns[i].c, o->cfg) != 0)
            bench_fail("writer: cannot connect to port %u", o->cfg->port);
    }
}

void bench_writer_start(struct bench_writer *wr)
{
    int err = pthread_create(&wr->thread, NULL, writer_main, wr);
    if (err != 0)
        bench_fail("pthread_create: %s", strerror(err));
}

void bench_writer_stop(struct bench_writer *wr)
{
    atomic_store(&wr->stopreq, true);
}

void bench_writer_join(struct bench_writer *wr)
{
    int err = pthread_join(wr->thread, NULL);
    if (err != 0)
        bench_fail("pthread_join: %s", strerror(err));
}

void bench_writer_free(struct bench_writer *wr)
{
    for (unsigned i = 0; i < wr->o.wconns; i++) {
        bench_conn_close(&wr->conns[i].c);
        free(wr->conns[i].fifo);
    }
    free(wr->conns);
    free(wr->send_ns);
    free(wr->ack_ns);
    dl_add_template_free(&wr->tpl);
}

double bench_writer_rate(const struct bench_writer *wr)
{
    double secs = (double)(wr->t_last_ack - wr->t_first) / 1e9;
    return secs > 0 ? (double)atomic_load(&wr->acked) / secs : NAN;
}

void bench_writer_latency(const struct bench_writer *wr, struct bench_hist *h)
{
    uint64_t nsent = atomic_load(&wr->sent);
    for (uint64_t i = 0; i < nsent; i++) {
        uint64_t a = atomic_load_explicit(&wr->ack_ns[i], memory_order_relaxed);
        if (a)
            bench_hist_record(h, a - wr->send_ns[i]);
    }
}
