/* delivery.c - `eventflow-bench delivery`: event delivery from eventflowd
 * to its subscribers, with ../shared/bench/redis_delivery.c's definitions
 * (see delivery.h and usage() below), so that each figure compares one to
 * one with Redis 7 streams read by XREAD BLOCK / XREAD COUNT 1000.
 *
 * live / fanout: R subscriber connections (this thread, one epoll loop)
 * SUBSCRIBE to the live end; once every one is confirmed, a writer thread
 * ADDs the 200-byte event to the leader, open loop at --rate or closed loop
 * on --wconns connections. Per (subscriber, event) delivery, at the read()
 * that completed the message:
 *   ack  = receive time - the writer's receipt of that ADD's reply
 *          (negative when the subscriber hears first),
 *   send = receive time - the writer's send time (the event's stamp).
 * catchup: R subscribers at once replay {"all":true,"offset":""} until each
 * has every event the node holds.
 * With --sse-port the subscribers GET /all/subscribe from the node's HTTP
 * listener instead (docs/http.md, "Server-sent events") and everything
 * else is the same: the same writer, the same clocks, the same report.
 *
 * Server CPU: utime+stime of --pids (every eventflowd: the cluster) and of
 * --sub-pid (the node serving the subscribers), from /proc/PID/stat over the
 * measured window. */
#include "bench/delivery.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/writer.h"
#include "common/mem.h"

#define DL_MAX_PIDS 16
#define DL_LIVE_RX (64 * 1024)
#define DL_CATCHUP_RX (1024 * 1024)
#define DL_PEND_MAX 16000000
#define NS 1000000000ull

enum dl_mode { DL_LIVE, DL_CATCHUP };

struct dl_opts {
    enum dl_mode mode;
    const char *mode_name;
    struct bench_config wcfg;   /* the writer's target: the leader */
    struct bench_config scfg;   /* the subscribers' node (its STATUS) */
    struct bench_config hcfg;   /* --sse-port: that node's HTTP listener */
    bool sse;                   /* subscribers over HTTP (hcfg) */
    pid_t pids[DL_MAX_PIDS];
    unsigned n_pids;
    pid_t sub_pid;
    unsigned readers;
    unsigned stalled;           /* of the readers: subscribed, never read */
    unsigned wconns;
    double rate;                /* ADDs/s, open loop; 0 = closed loop */
    double secs;
    uint64_t maxn;
    double drain;
    const char *spec;           /* SUBSCRIBE's argument; with sse the path */
    const char *stream;
    double max_secs;            /* catchup */
    uint64_t expect;            /* catchup; 0 = the node's event count */
};

static uint64_t now_ns(void)
{
    return bench_now_ns();
}

/* ---- memory ----------------------------------------------------------------- */

/* A "Name:  N kB" field of /proc/PID/status, in KiB (-1: none). */
static int64_t proc_status_kib(pid_t pid, const char *name)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    int64_t kib = -1;
    size_t nl = strlen(name);
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, name, nl) == 0 && line[nl] == ':') {
            kib = strtoll(line + nl + 1, NULL, 10);
            break;
        }
    fclose(f);
    return kib;
}

/* Bytes the kernel holds unsent on the server's end of every connection
 * to `port` (tx_queue in /proc/net/tcp and tcp6): the node's memory a
 * stalled subscriber costs outside the process. */
static int64_t server_send_queued(unsigned port)
{
    static const char *const files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    int64_t total = 0;
    for (size_t i = 0; i < 2; i++) {
        FILE *f = fopen(files[i], "r");
        if (f == NULL)
            continue;
        char line[512];
        while (fgets(line, sizeof line, f) != NULL) {
            unsigned lport, st;
            unsigned long tx;
            if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %lx:", &lport, &st, &tx) == 3 &&
                lport == port && st == 1 /* ESTABLISHED */)
                total += (int64_t)tx;
        }
        fclose(f);
    }
    return total;
}

static double servers_cpu_s(const struct dl_opts *o)
{
    return bench_pids_cpu_s(o->pids, o->n_pids);
}

/* Where the subscribers connect. */
static const struct bench_config *sub_cfg(const struct dl_opts *o)
{
    return o->sse ? &o->hcfg : &o->scfg;
}

/* STATUS on a fresh connection: the node's "events" count. */
static uint64_t node_events(const struct bench_config *cfg)
{
    static const char status[] = "*1\r\n$6\r\nSTATUS\r\n";
    int fd = bench_connect_fd(cfg);
    struct resp_reader rd;
    struct resp_value v;

    resp_reader_init(&rd, NULL);
    bench_roundtrip(fd, &rd, status, sizeof status - 1, cfg->timeout, &v);
    if (v.type != RESP_T_BULK)
        bench_fail("STATUS on port %u: unexpected reply", cfg->port);
    const char *p = strstr(v.str, "\"events\":");
    if (p == NULL)
        bench_fail("STATUS on port %u has no \"events\"", cfg->port);
    uint64_t events = strtoull(p + 9, NULL, 10);
    resp_value_free(&v);
    resp_reader_free(&rd);
    close(fd);
    return events;
}

/* ---- subscribers ----------------------------------------------------------- */

struct dl_reader {
    int fd;
    char *buf;                  /* bytes read, not yet scanned */
    size_t cap, have;
    bool sse;                   /* buf holds an HTTP response: */
    bool head_done;             /* its head is past */
    struct dl_dechunk dc;
    char *body;                 /* its chunks' data, not yet scanned */
    size_t body_cap, body_have;
    uint64_t received;          /* this run's events */
    uint64_t bytes;             /* every byte read */
    uint64_t lag_at_wend;
    uint64_t t_last;
    bool subscribed, done;
};

struct dl_pend {
    uint64_t seq, recv;
};

struct dl_live {
    struct bench_writer *wr;
    uint64_t t_start;           /* events stamped before were sent by someone else */
    struct dl_signed_hist ack, send;
    struct dl_pend *pend;
    size_t npend, cappend;
    uint64_t unresolved, badpayload, foreign;
};

static void readers_open(const struct dl_opts *o, struct dl_reader *rs, int ep, size_t cap)
{
    for (unsigned i = 0; i < o->readers; i++) {
        rs[i].fd = bench_connect_fd(sub_cfg(o));
        rs[i].cap = cap;
        rs[i].buf = xmalloc(cap);
        rs[i].sse = o->sse;
        rs[i].body_cap = o->sse ? cap : 0;
        rs[i].body = o->sse ? xmalloc(cap) : NULL;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, rs[i].fd, &ev) != 0)
            bench_fail("epoll_ctl: %s", strerror(errno));
    }
}

static void readers_free(const struct dl_opts *o, struct dl_reader *rs)
{
    for (unsigned i = 0; i < o->readers; i++) {
        close(rs[i].fd);
        free(rs[i].buf);
        free(rs[i].body);
    }
    free(rs);
}

static void reader_subscribe(const struct dl_opts *o, struct dl_reader *r)
{
    char req[1024];
    int n;
    if (o->sse) {
        const char *pw = o->wcfg.password;
        n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%u\r\nAccept: text/event-stream\r\n%s%s%s\r\n",
                     o->spec, o->hcfg.host, o->hcfg.port, pw ? "Authorization: Bearer " : "", pw ? pw : "",
                     pw ? "\r\n" : "");
    } else {
        n = snprintf(req, sizeof req, "*2\r\n$9\r\nSUBSCRIBE\r\n$%zu\r\n%s\r\n", strlen(o->spec), o->spec);
    }
    if (n < 0 || (size_t)n >= sizeof req)
        bench_fail("--spec is too long");
    if (bench_send_all(r->fd, req, (size_t)n) != 0)
        bench_fail("subscriber: send: %s", strerror(errno));
}

typedef void (*dl_message_fn)(void *arg, struct dl_reader *r, const char *json, size_t len, uint64_t recv);

static void reader_frame(struct dl_reader *r, const struct dl_frame *f, dl_message_fn fn, void *arg, uint64_t recv)
{
    if (f->kind == DL_F_MESSAGE)
        fn(arg, r, f->payload, f->payload_len, recv);
    else if (f->kind == DL_F_SUBSCRIBE)
        r->subscribed = true;
    else if (f->kind == DL_F_ERROR)
        bench_fail("subscriber: error: %.*s", (int)(f->payload_len > 200 ? 200 : f->payload_len), f->payload);
}

/* dl_frame_scan (RESP) or dl_sse_scan. */
typedef long (*dl_scan_fn)(const char *p, size_t n, struct dl_frame *f);

/* Every complete frame of p[0..n), as scan finds them, for r; returns the
 * bytes they took. */
static size_t reader_frames(struct dl_reader *r, dl_scan_fn scan, const char *p, size_t n, dl_message_fn fn,
                            void *arg, uint64_t recv)
{
    size_t off = 0;
    for (;;) {
        struct dl_frame f;
        long l = scan(p + off, n - off, &f);
        if (l == 0)
            break;
        if (l < 0)
            bench_fail("subscriber: malformed frame");
        off += (size_t)l;
        reader_frame(r, &f, fn, arg, recv);
    }
    return off;
}

/* r->buf as an HTTP response: its head once, then its chunks' data into
 * r->body and every complete SSE message there. Returns the bytes of
 * r->buf taken. */
static size_t sse_frames(struct dl_reader *r, dl_message_fn fn, void *arg, uint64_t recv)
{
    size_t off = 0;
    if (!r->head_done) {
        int status = 0;
        bool chunked = false;
        long l = dl_http_head_scan(r->buf, r->have, &status, &chunked);
        if (l == 0)
            return 0;
        if (l < 0 || status != 200 || !chunked)
            bench_fail("subscriber: not a chunked event stream: %.*s", (int)(r->have > 300 ? 300 : r->have), r->buf);
        r->head_done = true;
        off = (size_t)l;
    }
    if (r->body_cap - r->body_have < r->have - off) {
        r->body_cap = r->body_have + r->have - off + 4096;
        r->body = xrealloc(r->body, r->body_cap);
    }
    size_t got;
    long used = dl_dechunk(&r->dc, r->buf + off, r->have - off, r->body + r->body_have, &got);
    if (used < 0)
        bench_fail("subscriber: malformed chunked body");
    off += (size_t)used;
    r->body_have += got;
    size_t boff = reader_frames(r, dl_sse_scan, r->body, r->body_have, fn, arg, recv);
    memmove(r->body, r->body + boff, r->body_have - boff);
    r->body_have -= boff;
    if (r->dc.ended)
        bench_fail("subscriber: the server ended the event stream");
    return off;
}

/* One recv() into r's buffer, then every complete frame in it. Returns the
 * bytes read (0: nothing there). */
static ssize_t reader_take(struct dl_reader *r, dl_message_fn fn, void *arg)
{
    if (r->cap - r->have < 4096) {
        r->cap *= 2;
        r->buf = xrealloc(r->buf, r->cap);
    }
    ssize_t n = recv(r->fd, r->buf + r->have, r->cap - r->have, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0)
        bench_fail("subscriber: connection lost%s", n == 0 ? " (closed by the server)" : "");
    uint64_t recv_ns = now_ns();
    r->have += (size_t)n;
    r->bytes += (uint64_t)n;
    size_t off = r->sse ? sse_frames(r, fn, arg, recv_ns)
                        : reader_frames(r, dl_frame_scan, r->buf, r->have, fn, arg, recv_ns);
    if (off > 0) {
        memmove(r->buf, r->buf + off, r->have - off);
        r->have -= off;
    }
    return n;
}

/* Wait until the server has confirmed every subscription. */
static void readers_wait_subscribed(const struct dl_opts *o, struct dl_reader *rs, int ep, dl_message_fn fn,
                                    void *arg)
{
    struct epoll_event evs[1024];
    unsigned left = o->readers;
    uint64_t deadline = now_ns() + 20 * NS;
    while (left > 0) {
        if (now_ns() > deadline)
            bench_fail("%u subscriptions not confirmed in 20 s", left);
        int n = epoll_wait(ep, evs, 1024, 100);
        for (int e = 0; e < n; e++) {
            struct dl_reader *r = &rs[evs[e].data.u32];
            bool was = r->subscribed;
            reader_take(r, fn, arg);
            if (!was && r->subscribed)
                left--;
        }
    }
}

static void live_record(struct dl_live *L, uint64_t seq, uint64_t recv)
{
    uint64_t a = atomic_load_explicit(&L->wr->ack_ns[seq], memory_order_acquire);
    if (a != 0) {
        dl_signed_hist_record(&L->ack, (int64_t)(recv - a));
        return;
    }
    if (L->npend >= DL_PEND_MAX) {
        L->unresolved++;
        return;
    }
    if (L->npend == L->cappend) {
        L->cappend = L->cappend ? 2 * L->cappend : 65536;
        L->pend = xrealloc(L->pend, L->cappend * sizeof *L->pend);
    }
    L->pend[L->npend++] = (struct dl_pend){.seq = seq, .recv = recv};
}

static void live_message(void *arg, struct dl_reader *r, const char *json, size_t len, uint64_t recv)
{
    struct dl_live *L = arg;
    uint64_t seq, ts;
    if (dl_event_stamp(json, len, &seq, &ts) != 0) {
        L->badpayload++;
        return;
    }
    if (ts < L->t_start) {
        L->foreign++; /* an event from before this run */
        return;
    }
    if (seq >= atomic_load_explicit(&L->wr->sent, memory_order_acquire)) {
        L->badpayload++;
        return;
    }
    r->received++;
    r->t_last = recv;
    dl_signed_hist_record(&L->send, (int64_t)(recv - ts));
    live_record(L, seq, recv);
}

/* Deliveries seen before the writer had its reply: resolve those whose
 * reply has come in since. final: count the rest as unresolved. */
static void resolve_pending(struct dl_live *L, bool final)
{
    size_t k = 0;
    for (size_t i = 0; i < L->npend; i++) {
        uint64_t a = atomic_load_explicit(&L->wr->ack_ns[L->pend[i].seq], memory_order_acquire);
        if (a != 0)
            dl_signed_hist_record(&L->ack, (int64_t)(L->pend[i].recv - a));
        else if (final)
            L->unresolved++;
        else
            L->pend[k++] = L->pend[i];
    }
    L->npend = final ? 0 : k;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static double ms(double ns)
{
    return ns / 1e6;
}

static int mode_live(const struct dl_opts *o)
{
    unsigned R = o->readers;
    uint64_t maxn = o->maxn ? o->maxn : (o->rate > 0 ? (uint64_t)(o->rate * o->secs) + 1000 : 2000000);
    struct bench_writer_opts wo = {
        .cfg = &o->wcfg, .stream = o->stream, .wconns = o->wconns, .rate = o->rate, .secs = o->secs, .maxn = maxn};
    struct bench_writer wr;
    struct dl_live L;
    bench_writer_init(&wr, &wo);
    memset(&L, 0, sizeof L);
    L.wr = &wr;
    dl_signed_hist_init(&L.ack);
    dl_signed_hist_init(&L.send);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct dl_reader *rs = xcalloc(R ? R : 1, sizeof *rs);
    readers_open(o, rs, ep, DL_LIVE_RX);
    for (unsigned i = 0; i < R; i++)
        reader_subscribe(o, &rs[i]);
    L.t_start = now_ns();
    readers_wait_subscribed(o, rs, ep, live_message, &L);
    /* The stalled ones never read again: their output piles up on the
     * node, which must bound it (docs/protocol.md, "Slow consumers"). */
    unsigned active = R - o->stalled;
    for (unsigned i = active; i < R; i++)
        if (epoll_ctl(ep, EPOLL_CTL_DEL, rs[i].fd, NULL) != 0)
            bench_fail("epoll_ctl: %s", strerror(errno));
    int64_t rss0 = o->sub_pid > 0 ? proc_status_kib(o->sub_pid, "VmRSS") : -1, rss_max = rss0;
    int64_t anon0 = o->sub_pid > 0 ? proc_status_kib(o->sub_pid, "RssAnon") : -1, anon_max = anon0;
    int64_t kq_max = 0;
    uint64_t t_mem = 0;

    double cpu0 = servers_cpu_s(o), node0 = bench_proc_cpu_s(o->sub_pid), ccpu0 = bench_thread_cpu_s();
    L.t_start = now_ns();
    bench_writer_start(&wr);

    struct epoll_event evs[1024];
    bool wdone = false, drained = false;
    uint64_t written = 0, deliv_wend = 0, total = 0, t_wend = 0, t_end = 0;
    for (;;) {
        int n = epoll_wait(ep, evs, 1024, 5);
        if (n < 0 && errno != EINTR)
            bench_fail("epoll_wait: %s", strerror(errno));
        for (int e = 0; e < n; e++) {
            struct dl_reader *r = &rs[evs[e].data.u32];
            uint64_t before = r->received;
            reader_take(r, live_message, &L);
            total += r->received - before;
        }
        if (L.npend)
            resolve_pending(&L, false);
        uint64_t now = now_ns();
        if (o->stalled > 0 && o->sub_pid > 0 && now - t_mem > NS / 10) {
            t_mem = now;
            int64_t rss = proc_status_kib(o->sub_pid, "VmRSS"), anon = proc_status_kib(o->sub_pid, "RssAnon");
            int64_t kq = server_send_queued(sub_cfg(o)->port);
            rss_max = rss > rss_max ? rss : rss_max;
            anon_max = anon > anon_max ? anon : anon_max;
            kq_max = kq > kq_max ? kq : kq_max;
        }
        if (!wdone && atomic_load_explicit(&wr.done, memory_order_acquire)) {
            wdone = true;
            t_wend = now;
            written = atomic_load(&wr.acked);
            deliv_wend = total;
            for (unsigned i = 0; i < active; i++)
                rs[i].lag_at_wend = written > rs[i].received ? written - rs[i].received : 0;
        }
        if (wdone) {
            bool all = true;
            for (unsigned i = 0; i < active && all; i++)
                all = rs[i].received >= written;
            if (all) {
                drained = true;
                t_end = now;
                break;
            }
            if (now - t_wend > (uint64_t)(o->drain * 1e9)) {
                t_end = now;
                break;
            }
        }
    }
    double cpu1 = servers_cpu_s(o), node1 = bench_proc_cpu_s(o->sub_pid), ccpu1 = bench_thread_cpu_s();
    bench_writer_join(&wr);
    resolve_pending(&L, true);

    uint64_t acked = atomic_load(&wr.acked), errs = atomic_load(&wr.errs);
    double esecs = (double)(t_end - wr.t_first) / 1e9;
    double wrate = bench_writer_rate(&wr);
    /* The writer's own ADD latency, send -> reply. */
    struct bench_hist add;
    bench_hist_init(&add);
    bench_writer_latency(&wr, &add);
    /* Keeping up: within 100 ms of writes when the writer stopped. */
    uint64_t thr = isnan(wrate) || wrate < 10 ? 1 : (uint64_t)(wrate * 0.1);
    unsigned keep = 0, caught = 0;
    uint64_t *lags = xcalloc(R ? R : 1, sizeof *lags);
    for (unsigned i = 0; i < active; i++) {
        lags[i] = rs[i].lag_at_wend;
        keep += rs[i].lag_at_wend <= thr;
        caught += rs[i].received >= written;
    }
    qsort(lags, active, sizeof *lags, cmp_u64);
    double dsrv = cpu1 - cpu0, dnode = node1 - node0;
    printf("mode=%s R=%u wconns=%u rate=%g secs=%g cmd=%s spec=%s written=%" PRIu64 " errs=%" PRIu64
           " w_rate=%.1f add_p50_ms=%.3f add_p99_ms=%.3f add_max_ms=%.3f delivered=%" PRIu64,
           o->mode_name, R, o->wconns, o->rate, o->secs, o->sse ? "sse" : "subscribe", o->spec, acked, errs, wrate,
           ms((double)bench_hist_percentile(&add, 50)), ms((double)bench_hist_percentile(&add, 99)),
           ms((double)add.max), total);
    if (o->stalled > 0)
        printf(" stalled=%u node_rss0_kib=%" PRId64 " node_rss_max_kib=%" PRId64 " node_anon0_kib=%" PRId64
               " node_anon_max_kib=%" PRId64 " node_sendq_max_bytes=%" PRId64,
               o->stalled, rss0, rss_max, anon0, anon_max, kq_max);
    if (active > 0) {
        printf(" deliv_per_s=%.1f deliv_per_s_during_writes=%.1f per_reader_per_s=%.1f"
               " ack_p50_ms=%.3f ack_p90_ms=%.3f ack_p99_ms=%.3f ack_max_ms=%.3f ack_min_ms=%.3f"
               " send_p50_ms=%.3f send_p90_ms=%.3f send_p99_ms=%.3f send_max_ms=%.3f"
               " lag_end_p50=%" PRIu64 " lag_end_max=%" PRIu64 " keepup=%u keepup_thr=%" PRIu64
               " caught_up=%u drained=%d drain_ms=%.1f unresolved=%" PRIu64 " badpayload=%" PRIu64
               " foreign=%" PRIu64 " srv_us_per_delivery=%.3f node_us_per_delivery=%.3f",
               (double)total / esecs, (double)deliv_wend / ((double)(t_wend - wr.t_first) / 1e9),
               (double)total / esecs / active, ms(dl_signed_hist_quantile(&L.ack, 0.5)),
               ms(dl_signed_hist_quantile(&L.ack, 0.9)), ms(dl_signed_hist_quantile(&L.ack, 0.99)),
               ms((double)L.ack.max), ms((double)L.ack.min), ms(dl_signed_hist_quantile(&L.send, 0.5)),
               ms(dl_signed_hist_quantile(&L.send, 0.9)), ms(dl_signed_hist_quantile(&L.send, 0.99)),
               ms((double)L.send.max), lags[active / 2], lags[active - 1], keep, thr, caught, drained,
               (double)(t_end - t_wend) / 1e6, L.unresolved, L.badpayload, L.foreign,
               total ? dsrv * 1e6 / (double)total : NAN, total ? dnode * 1e6 / (double)total : NAN);
    }
    printf(" srv_cpu_s=%.2f srv_cores=%.2f srv_us_per_write=%.3f node_cpu_s=%.2f reader_cpu_s=%.2f"
           " writer_cpu_s=%.2f\n",
           dsrv, dsrv / esecs, acked ? dsrv * 1e6 / (double)acked : NAN, dnode, ccpu1 - ccpu0, wr.cpu_s);
    fflush(stdout);
    int rc = errs || L.unresolved || L.badpayload || (active > 0 && !drained) ? 1 : 0;
    if (errs)
        fprintf(stderr, "eventflow-bench delivery: %" PRIu64 " ADDs failed\n", errs);
    if (L.unresolved || L.badpayload)
        fprintf(stderr, "eventflow-bench delivery: %" PRIu64 " deliveries with no acknowledged ADD, %" PRIu64
                " without a stamp\n", L.unresolved, L.badpayload);
    if (active > 0 && !drained)
        fprintf(stderr, "eventflow-bench delivery: %u of %u subscribers short of the %" PRIu64
                " events %.1f s after the writer's end\n", active - caught, active, written, o->drain);
    free(lags);
    free(L.pend);
    readers_free(o, rs);
    close(ep);
    bench_writer_free(&wr);
    return rc;
}

/* ---- catch-up ------------------------------------------------------------- */

struct dl_catchup {
    uint64_t expect;
    unsigned left;
};

static void catchup_message(void *arg, struct dl_reader *r, const char *json, size_t len, uint64_t recv)
{
    struct dl_catchup *C = arg;
    (void)json;
    (void)len;
    if (++r->received >= C->expect && !r->done) {
        r->done = true;
        r->t_last = recv;
        C->left--;
    }
}

static int mode_catchup(const struct dl_opts *o)
{
    struct dl_catchup C = {.expect = o->expect};
    if (C.expect == 0) {
        /* Every event the leader holds, once the subscribers' node has
         * applied them all. */
        uint64_t want = node_events(&o->wcfg), have = node_events(&o->scfg);
        uint64_t deadline = now_ns() + 60 * NS;
        while (have < want && now_ns() < deadline) {
            usleep(100000);
            have = node_events(&o->scfg);
        }
        if (have < want)
            bench_fail("the node on port %u holds %" PRIu64 " events, the leader %" PRIu64, o->scfg.port, have, want);
        C.expect = have;
    }
    if (C.expect == 0)
        bench_fail("nothing to catch up on: the node holds no events");
    unsigned R = o->readers;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct dl_reader *rs = xcalloc(R, sizeof *rs);
    readers_open(o, rs, ep, DL_CATCHUP_RX);
    C.left = R;

    double cpu0 = servers_cpu_s(o), node0 = bench_proc_cpu_s(o->sub_pid), ccpu0 = bench_thread_cpu_s();
    uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)(o->max_secs * 1e9);
    for (unsigned i = 0; i < R; i++)
        reader_subscribe(o, &rs[i]);
    struct epoll_event evs[64];
    while (C.left > 0 && now_ns() < deadline) {
        int n = epoll_wait(ep, evs, 64, 100);
        if (n < 0 && errno != EINTR)
            bench_fail("epoll_wait: %s", strerror(errno));
        for (int e = 0; e < n; e++)
            reader_take(&rs[evs[e].data.u32], catchup_message, &C);
    }
    uint64_t t1 = now_ns();
    double cpu1 = servers_cpu_s(o), node1 = bench_proc_cpu_s(o->sub_pid), ccpu1 = bench_thread_cpu_s();
    double s = (double)(t1 - t0) / 1e9, per = 0;
    uint64_t total = 0, bytes = 0;
    for (unsigned i = 0; i < R; i++) {
        total += rs[i].received;
        bytes += rs[i].bytes;
        per += (double)rs[i].received / ((double)((rs[i].done ? rs[i].t_last : t1) - t0) / 1e9);
    }
    if (C.left)
        fprintf(stderr, "eventflow-bench delivery: %u of %u subscribers short of %" PRIu64 " events after %.1f s\n",
                C.left, R, C.expect, o->max_secs);
    printf("mode=catchup R=%u cmd=%s spec=%s expect=%" PRIu64 " entries=%" PRIu64
           " secs=%.3f finished=%u entries_per_s=%.1f per_reader_per_s=%.1f MB_per_s=%.1f"
           " bytes_per_entry=%.1f srv_cpu_s=%.2f srv_us_per_entry=%.3f node_cpu_s=%.2f node_us_per_entry=%.3f"
           " reader_cpu_s=%.2f\n",
           R, o->sse ? "sse" : "subscribe", o->spec, C.expect, total, s, R - C.left, (double)total / s, per / R,
           (double)bytes / s / 1e6,
           total ? (double)bytes / (double)total : NAN, cpu1 - cpu0,
           total ? (cpu1 - cpu0) * 1e6 / (double)total : NAN, node1 - node0,
           total ? (node1 - node0) * 1e6 / (double)total : NAN, ccpu1 - ccpu0);
    fflush(stdout);
    readers_free(o, rs);
    close(ep);
    return C.left ? 1 : 0;
}

/* ---- options --------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
"usage: eventflow-bench delivery live|fanout|catchup [options]\n"
"Measures how eventflowd delivers events to subscribers (SUBSCRIBE, or\n"
"server-sent events over HTTP with --sse-port), with\n"
"the definitions of ../shared/bench/redis_delivery.c for Redis streams.\n"
"Prints one line of key=value pairs (names as redis_delivery.c's).\n"
"\n"
"  live      --readers R subscribers SUBSCRIBE --spec at the live end of the\n"
"            node on --sub-port; then a writer ADDs the 200-byte event to\n"
"            --stream on --port (the leader): open loop at --rate/s over\n"
"            --wconns connections, or closed loop (--rate 0, one ADD in\n"
"            flight per connection), for --secs or --max ADDs. Subscribers\n"
"            read until each has every acknowledged event, or --drain s\n"
"            after the writer's end. Per (subscriber, event): ack = receive\n"
"            time - the writer's receipt of the ADD's reply (negative when\n"
"            the subscriber hears first), send = receive time - send time\n"
"            (CLOCK_MONOTONIC carried in the event's data).\n"
"  fanout    live with fan-out defaults: --readers 1000 --rate 10000.\n"
"            A subscriber keeps up if it lags at most 0.1 s of writes when\n"
"            the writer stops.\n"
"  catchup   --readers R subscribers at once replay --spec (default\n"
"            {\"all\":true,\"offset\":\"\"}) until each has --expect events\n"
"            (default: all the node holds, once it holds all the leader's).\n"
"\n"
"  --port N          the writer's node, the leader (default 6543)\n"
"  --sub-port N      the subscribers' node (default --port)\n"
"  --host ADDR       loopback address of both (default 127.0.0.1)\n"
"  --password PW     AUTH on every connection\n"
"  --pids P,P,...    every server process: their CPU is summed (srv_*)\n"
"  --sub-pid P       the subscribers' node's process (node_*)\n"
"  --readers R       (default 1; fanout 1000)\n"
"  --stalled K       live, fanout: K of the readers subscribe and never read;\n"
"                    reports the --sub-pid node's VmRSS and RssAnon (at the\n"
"                    start and their maximum, sampled every 100 ms) and the\n"
"                    most the kernel held unsent on its connections\n"
"  --wconns N        writer connections (default 1)\n"
"  --rate N          ADDs/s, open loop; 0 = closed loop (default 1000;\n"
"                    fanout 10000)\n"
"  --secs S          the writer's time (default 10)\n"
"  --max N           the writer's most ADDs (default rate x secs + 1000;\n"
"                    closed loop 2000000)\n"
"  --drain S         (default 10)\n"
"  --spec SPEC       the SUBSCRIBE argument (default $all; catchup\n"
"                    {\"all\":true,\"offset\":\"\"}); with --sse-port the path\n"
"                    to GET (default /all/subscribe; catchup\n"
"                    /all/subscribe?offset=)\n"
"  --sse-port N      subscribers over HTTP: GET --spec from the subscribers'\n"
"                    node's HTTP listener on port N, read as server-sent\n"
"                    events (docs/http.md), instead of SUBSCRIBE on --sub-port\n"
"                    (which still answers catchup's STATUS)\n"
"  --stream NAME     the writer's stream (default delivery)\n"
"  --max-secs S      catchup: give up after S (default 60)\n"
"  --expect N        catchup: events each subscriber must receive\n"
"  --timeout S       connecting and STATUS (default 10)\n"
"\n"
"Exit status: 0; 1 when an ADD failed, a delivery could not be matched, a\n"
"subscriber did not get every event in time, or the run failed; 2 bad usage.\n");
}

enum {
    O_PORT = 1000,
    O_SUB_PORT,
    O_HOST,
    O_PASSWORD,
    O_PIDS,
    O_SUB_PID,
    O_READERS,
    O_STALLED,
    O_WCONNS,
    O_RATE,
    O_SECS,
    O_MAX,
    O_DRAIN,
    O_SPEC,
    O_STREAM,
    O_MAX_SECS,
    O_EXPECT,
    O_TIMEOUT,
    O_MODE,
    O_SSE_PORT,
};

static const struct option dl_options[] = {
    {"port", required_argument, NULL, O_PORT},
    {"sub-port", required_argument, NULL, O_SUB_PORT},
    {"host", required_argument, NULL, O_HOST},
    {"password", required_argument, NULL, O_PASSWORD},
    {"pids", required_argument, NULL, O_PIDS},
    {"sub-pid", required_argument, NULL, O_SUB_PID},
    {"readers", required_argument, NULL, O_READERS},
    {"stalled", required_argument, NULL, O_STALLED},
    {"wconns", required_argument, NULL, O_WCONNS},
    {"rate", required_argument, NULL, O_RATE},
    {"secs", required_argument, NULL, O_SECS},
    {"max", required_argument, NULL, O_MAX},
    {"drain", required_argument, NULL, O_DRAIN},
    {"spec", required_argument, NULL, O_SPEC},
    {"stream", required_argument, NULL, O_STREAM},
    {"max-secs", required_argument, NULL, O_MAX_SECS},
    {"expect", required_argument, NULL, O_EXPECT},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"mode", required_argument, NULL, O_MODE},
    {"sse-port", required_argument, NULL, O_SSE_PORT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int set_mode(struct dl_opts *o, const char *m)
{
    o->mode_name = m;
    if (strcmp(m, "live") == 0 || strcmp(m, "fanout") == 0)
        o->mode = DL_LIVE;
    else if (strcmp(m, "catchup") == 0)
        o->mode = DL_CATCHUP;
    else {
        fprintf(stderr, "eventflow-bench delivery: the mode is live, fanout or catchup, not \"%s\"\n", m);
        return -1;
    }
    return 0;
}

static void cfg_defaults(struct bench_config *c)
{
    memset(c, 0, sizeof *c);
    c->host = "127.0.0.1";
    c->port = 6543;
    c->timeout = 10;
    c->pipeline = 1;
}

/* Returns 0, 1 for --help, or -1 after printing why. */
static int parse(int argc, char **argv, struct dl_opts *o)
{
    uint64_t v, sub_port = 0, sse_port = 0;
    bool readers_set = false, rate_set = false;
    int opt, rc = 0;
    const char *mode = NULL, *host = "127.0.0.1", *password = NULL;
    double timeout = 10;

    memset(o, 0, sizeof *o);
    cfg_defaults(&o->wcfg);
    o->readers = 1;
    o->wconns = 1;
    o->rate = 1000;
    o->secs = 10;
    o->drain = 10;
    o->stream = "delivery";
    o->max_secs = 60;
    if (argc > 1 && argv[1][0] != '-') {
        mode = argv[1];
        argv++;
        argc--;
    }
    optind = 1;
    while (rc == 0 && (opt = getopt_long(argc, argv, "h", dl_options, NULL)) != -1) {
        switch (opt) {
        case O_PORT:
            if ((rc = bench_parse_u64("port", optarg, 1, 65535, &v)) == 0)
                o->wcfg.port = (unsigned)v;
            break;
        case O_SUB_PORT:
            rc = bench_parse_u64("sub-port", optarg, 1, 65535, &sub_port);
            break;
        case O_HOST:
            host = optarg;
            break;
        case O_PASSWORD:
            password = optarg;
            break;
        case O_PIDS:
            rc = bench_parse_pids(optarg, o->pids, DL_MAX_PIDS, &o->n_pids);
            break;
        case O_SUB_PID:
            if ((rc = bench_parse_u64("sub-pid", optarg, 1, INT32_MAX, &v)) == 0)
                o->sub_pid = (pid_t)v;
            break;
        case O_STALLED:
            if ((rc = bench_parse_u64("stalled", optarg, 0, 100000, &v)) == 0)
                o->stalled = (unsigned)v;
            break;
        case O_READERS:
            if ((rc = bench_parse_u64("readers", optarg, 0, 100000, &v)) == 0)
                o->readers = (unsigned)v;
            readers_set = true;
            break;
        case O_WCONNS:
            if ((rc = bench_parse_u64("wconns", optarg, 1, 10000, &v)) == 0)
                o->wconns = (unsigned)v;
            break;
        case O_RATE:
            if ((rc = bench_parse_u64("rate", optarg, 0, 10000000, &v)) == 0)
                o->rate = (double)v;
            rate_set = true;
            break;
        case O_SECS:
            rc = bench_parse_seconds("secs", optarg, 0.001, &o->secs);
            break;
        case O_MAX:
            rc = bench_parse_u64("max", optarg, 1, 50000000, &o->maxn);
            break;
        case O_DRAIN:
            rc = bench_parse_seconds("drain", optarg, 0, &o->drain);
            break;
        case O_SPEC:
            o->spec = optarg;
            break;
        case O_STREAM:
            o->stream = optarg;
            break;
        case O_MAX_SECS:
            rc = bench_parse_seconds("max-secs", optarg, 0.001, &o->max_secs);
            break;
        case O_EXPECT:
            rc = bench_parse_u64("expect", optarg, 1, UINT64_MAX / 2, &o->expect);
            break;
        case O_TIMEOUT:
            rc = bench_parse_seconds("timeout", optarg, 0.01, &timeout);
            break;
        case O_MODE:
            mode = optarg;
            break;
        case O_SSE_PORT:
            rc = bench_parse_u64("sse-port", optarg, 1, 65535, &sse_port);
            break;
        case 'h':
            return 1;
        default:
            return -1;
        }
    }
    if (rc != 0)
        return -1;
    if (optind < argc) {
        fprintf(stderr, "eventflow-bench delivery: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    if (mode == NULL) {
        fprintf(stderr, "eventflow-bench delivery: which mode: live, fanout or catchup?\n");
        return -1;
    }
    if (set_mode(o, mode) != 0)
        return -1;
    if (strcmp(mode, "fanout") == 0) {
        if (!readers_set)
            o->readers = 1000;
        if (!rate_set)
            o->rate = 10000;
    }
    if (o->stalled > o->readers || (o->stalled > 0 && o->mode == DL_CATCHUP)) {
        fprintf(stderr, "eventflow-bench delivery: --stalled must be at most --readers, in live or fanout\n");
        return -1;
    }
    if (o->mode == DL_CATCHUP && o->readers == 0) {
        fprintf(stderr, "eventflow-bench delivery: catchup needs --readers >= 1\n");
        return -1;
    }
    o->sse = sse_port != 0;
    if (o->spec == NULL && o->sse)
        o->spec = o->mode == DL_CATCHUP ? "/all/subscribe?offset=" : "/all/subscribe";
    else if (o->spec == NULL)
        o->spec = o->mode == DL_CATCHUP ? "{\"all\":true,\"offset\":\"\"}" : "$all";
    o->wcfg.host = host;
    o->wcfg.password = password;
    o->wcfg.timeout = timeout;
    o->scfg = o->wcfg;
    o->scfg.port = sub_port ? (unsigned)sub_port : o->wcfg.port;
    /* The HTTP listener takes the password as a header, not RESP's AUTH. */
    o->hcfg = o->scfg;
    o->hcfg.port = (unsigned)sse_port;
    o->hcfg.password = NULL;
    if (bench_parse_host(&o->wcfg) != 0 || bench_parse_host(&o->scfg) != 0 ||
        (o->sse && bench_parse_host(&o->hcfg) != 0))
        return -1;
    return 0;
}

int bench_delivery_main(int argc, char **argv)
{
    struct dl_opts o;
    bench_prog = "eventflow-bench delivery";
    int rc = parse(argc, argv, &o);
    if (rc == 1) {
        usage(stdout);
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "try eventflow-bench delivery --help\n");
        return 2;
    }
    /* A thousand subscribers need a thousand descriptors. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    return o.mode == DL_CATCHUP ? mode_catchup(&o) : mode_live(&o);
}
