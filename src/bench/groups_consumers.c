/* groups_consumers.c - the consumers of `eventflow-bench groups` (see
 * groups_consumers.h). Each consumer owns buffers sized once for `count`
 * events: its READ request (built once), its ACK request (written from
 * the ids the READ returned), those ids and one reply; a reply is scanned
 * in place (groups_msg.c). Nothing is allocated per message, so fifty of
 * them in one thread cost the client little next to the servers. */
#include "bench/groups_consumers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/mem.h"

/* A consumer's receive buffer per event asked for: a returned event is
 * its input (200 bytes) plus ~300 of id, stream, version, times and the
 * RESP framing. */
#define GR_RX_PER_EVENT 2048
#define GR_RX_BASE 4096
/* How long consumers may take to finish their cycle once told to stop. */
#define GR_FINISH_NS (5 * 1000000000ull)

/* C_ACK_READ: an ACK and the next READ sent together (--pipeline); their
 * replies come in that order. */
enum gr_cstate { C_READ, C_ACK, C_ACK_READ, C_DONE };

struct gr_consumer {
    int fd;
    const char *group;           /* borrowed from the names */
    char *read_req;              /* owned: this consumer's READ, built once */
    size_t read_len;
    char *ack_req;               /* owned: room for an ACK of `count` ids, and
                                  * the READ after it (--pipeline) */
    char (*ids)[GR_ID_LEN];      /* owned: the last READ's ids */
    char *rx;                    /* owned: one reply at a time */
    size_t rx_cap, have;
    enum gr_cstate state;
    uint64_t t_read, t_ack;      /* when the request in flight was sent */
    uint64_t t_next_read;        /* C_ACK_READ: when the READ behind the ACK was */
};

static void send_req(struct gr_consumer *c, const char *p, size_t n)
{
    if (bench_send_all(c->fd, p, n) != 0)
        bench_fail("consumer: send: %s", strerror(errno));
}

void gr_consumers_open(struct gr_consumers *cs, const struct bench_config *cfg, const char (*names)[GR_NAME_MAX + 1],
                       unsigned n_groups, unsigned per_group, unsigned count, unsigned block_ms)
{
    memset(cs, 0, sizeof *cs);
    cs->n = n_groups * per_group;
    cs->count = count;
    cs->c = xcalloc(cs->n, sizeof *cs->c);
    bench_hist_init(&cs->st.cycle);
    bench_hist_init(&cs->st.read);
    bench_hist_init(&cs->st.ack);
    cs->ep = epoll_create1(EPOLL_CLOEXEC);
    if (cs->ep < 0)
        bench_fail("epoll_create1: %s", strerror(errno));
    for (unsigned i = 0; i < cs->n; i++) {
        struct gr_consumer *c = &cs->c[i];
        char cname[32];
        size_t cap = GR_NAME_MAX * 2 + 128;
        snprintf(cname, sizeof cname, "c%u", i % per_group + 1);
        c->group = names[i / per_group];
        c->read_req = xmalloc(cap);
        c->read_len = gr_read_request(c->read_req, cap, c->group, cname, count, block_ms);
        if (c->read_len == 0)
            bench_fail("the READ request does not fit");
        c->ack_req = xmalloc(gr_ack_request_size(c->group, count) + c->read_len);
        c->ids = xcalloc(count, sizeof *c->ids);
        c->rx_cap = GR_RX_BASE + (size_t)count * GR_RX_PER_EVENT;
        c->rx = xmalloc(c->rx_cap);
        c->fd = bench_connect_fd(cfg);
        c->state = C_DONE;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
        if (epoll_ctl(cs->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
            bench_fail("epoll_ctl: %s", strerror(errno));
    }
}

void gr_consumers_free(struct gr_consumers *cs)
{
    for (unsigned i = 0; i < cs->n; i++) {
        struct gr_consumer *c = &cs->c[i];
        close(c->fd);
        free(c->read_req);
        free(c->ack_req);
        free(c->ids);
        free(c->rx);
    }
    free(cs->c);
    close(cs->ep);
}

static void send_read(struct gr_consumer *c)
{
    c->state = C_READ;
    c->t_read = bench_now_ns();
    send_req(c, c->read_req, c->read_len);
}

static void consumer_done(struct gr_consumers *cs, struct gr_consumer *c)
{
    c->state = C_DONE;
    cs->active--;
}

/* The reply to c's request, whole in r: the next request, or done. */
static void consumer_reply(struct gr_consumers *cs, struct gr_consumer *c, const struct gr_reply *r, uint64_t now)
{
    struct gr_stats *st = &cs->st;
    if (r->kind == GR_R_ERROR)
        bench_fail("GROUP %s of group %s: %.*s", c->state == C_READ ? "READ" : "ACK", c->group,
                   (int)(r->text_len > 200 ? 200 : r->text_len), r->text);
    if (c->state == C_READ) {
        if (r->kind != GR_R_EVENTS)
            bench_fail("GROUP READ: not an array of events");
        st->reads++;
        if (r->events == 0) {
            st->empty++;
            if (cs->stop)
                consumer_done(cs, c);
            else
                send_read(c);
            return;
        }
        /* Events read after the stop are still acked: none is left pending. */
        st->consumed += r->events;
        st->redelivered += r->redelivered;
        bench_hist_record(&st->read, now - c->t_read);
        size_t len = gr_ack_request(c->ack_req, c->group, (const char(*)[GR_ID_LEN])c->ids, r->events);
        c->t_ack = bench_now_ns();
        if (cs->pipeline && !cs->stop) {
            /* The next READ goes with the ACK: the leader takes both in
             * one turn, so one entry (one commit) carries them. */
            memcpy(c->ack_req + len, c->read_req, c->read_len);
            c->state = C_ACK_READ;
            c->t_next_read = c->t_ack;
            send_req(c, c->ack_req, len + c->read_len);
            return;
        }
        c->state = C_ACK;
        send_req(c, c->ack_req, len);
        return;
    }
    if (r->kind != GR_R_INTEGER || r->integer < 0)
        bench_fail("GROUP ACK: not a count");
    st->acks++;
    st->acked += (uint64_t)r->integer;
    bench_hist_record(&st->ack, now - c->t_ack);
    bench_hist_record(&st->cycle, now - c->t_read);
    if (cs->target > 0 && st->acked >= cs->target)
        cs->stop = true;
    if (c->state == C_ACK_READ) {
        /* Its READ is in flight already: the next reply answers it. */
        c->state = C_READ;
        c->t_read = c->t_next_read;
        return;
    }
    if (cs->stop)
        consumer_done(cs, c);
    else
        send_read(c);
}

static void consumer_input(struct gr_consumers *cs, struct gr_consumer *c)
{
    if (c->state == C_DONE)
        bench_fail("consumer: data with no request in flight");
    ssize_t n = recv(c->fd, c->rx + c->have, c->rx_cap - c->have, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0)
        bench_fail("consumer: connection lost%s", n == 0 ? " (closed by the server)" : "");
    uint64_t now = bench_now_ns();
    c->have += (size_t)n;
    /* One request in flight, or an ACK and a READ (--pipeline): at most
     * two replies, in order. */
    size_t off = 0;
    while (off < c->have && c->state != C_DONE) {
        struct gr_reply r;
        long l = gr_reply_scan(c->rx + off, c->have - off, c->ids, cs->count, &r);
        if (l == 0)
            break;
        if (l < 0)
            bench_fail("consumer: malformed reply: %.*s", (int)(c->have - off < 100 ? c->have - off : 100),
                       c->rx + off);
        off += (size_t)l;
        consumer_reply(cs, c, &r, now);
    }
    if (off < c->have && c->state == C_DONE)
        bench_fail("consumer: bytes after the last reply");
    if (off == 0 && c->have == c->rx_cap)
        bench_fail("consumer: a reply longer than %zu bytes", c->rx_cap);
    memmove(c->rx, c->rx + off, c->have - off);
    c->have -= off;
}

uint64_t gr_consumers_run(struct gr_consumers *cs, uint64_t deadline, const _Atomic bool *stop_when)
{
    struct epoll_event evs[256];
    uint64_t t_stop = 0;
    cs->active = cs->n;
    for (unsigned i = 0; i < cs->n; i++)
        send_read(&cs->c[i]);
    while (cs->active > 0) {
        int n = epoll_wait(cs->ep, evs, 256, 50);
        if (n < 0 && errno != EINTR)
            bench_fail("epoll_wait: %s", strerror(errno));
        for (int e = 0; e < n; e++)
            consumer_input(cs, &cs->c[evs[e].data.u32]);
        uint64_t now = bench_now_ns();
        if (!cs->stop && (now >= deadline || (stop_when && atomic_load(stop_when))))
            cs->stop = true;
        if (cs->stop && t_stop == 0)
            t_stop = now;
        if (cs->stop && now - t_stop > GR_FINISH_NS) {
            fprintf(stderr, "%s: %u consumers still waiting 5 s after the end\n", bench_prog, cs->active);
            break;
        }
    }
    return bench_now_ns();
}

