/* bench_conn.c - opening and closing benchmark connections (see bench.h).
 *
 * Opening is done once, before any phase, on blocking sockets: connect,
 * TCP_NODELAY, AUTH when a password is given; only then is the socket made
 * non-blocking for the worker loops. Socket timeouts of cfg->timeout bound
 * every wait here. */
#include "bench/bench.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/mem.h"

int bench_send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            /* A full buffer (or a blocking socket's timeout): wait for
             * room, but not for a server that reads nothing for 10 s. */
            struct pollfd q = {.fd = fd, .events = POLLOUT};
            int r = poll(&q, 1, 10000);
            if (r == 0 || (r < 0 && errno != EINTR))
                return -1;
            continue;
        }
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* AUTH on the still-blocking socket (its timeouts bound the wait). */
static int conn_auth(struct bench_conn *c, const struct bench_config *cfg)
{
    struct buf req;
    struct resp_value v;
    char rx[512];
    int rc;

    buf_init(&req);
    buf_printf(&req, "*2\r\n$4\r\nAUTH\r\n$%zu\r\n", strlen(cfg->password));
    buf_append_str(&req, cfg->password);
    buf_append(&req, "\r\n", 2);
    rc = bench_send_all(c->fd, req.data, req.len);
    buf_free(&req);
    if (rc != 0) {
        fprintf(stderr, "eventflow-bench: sending AUTH: %s\n", strerror(errno));
        return -1;
    }
    while ((rc = resp_reader_next(&c->reader, &v)) == 0) {
        ssize_t n = recv(c->fd, rx, sizeof(rx), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "eventflow-bench: no reply to AUTH: %s\n",
                    n == 0 ? "connection closed" : strerror(errno));
            return -1;
        }
        resp_reader_feed(&c->reader, rx, (size_t)n);
    }
    if (rc < 0) {
        fprintf(stderr, "eventflow-bench: malformed reply to AUTH\n");
        return -1;
    }
    rc = (v.type == RESP_T_SIMPLE && v.len == 2 && memcmp(v.str, "OK", 2) == 0) ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "eventflow-bench: AUTH refused: %.*s\n",
                v.str != NULL ? (int)v.len : 0, v.str != NULL ? v.str : "");
    resp_value_free(&v);
    return rc;
}

int bench_conn_open(struct bench_conn *c, const struct bench_config *cfg)
{
    int one = 1;
    struct timeval tv = {
        .tv_sec = (time_t)cfg->timeout,
        .tv_usec = (suseconds_t)((cfg->timeout - (double)(time_t)cfg->timeout) * 1e6),
    };

    memset(c, 0, sizeof(*c));
    resp_reader_init(&c->reader, NULL);
    buf_init(&c->out);
    c->ring_cap = cfg->pipeline > BENCH_PREFILL_PIPELINE ? cfg->pipeline : BENCH_PREFILL_PIPELINE;
    c->ring = xcalloc(c->ring_cap, sizeof(*c->ring));

    c->fd = socket(cfg->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        fprintf(stderr, "eventflow-bench: socket: %s\n", strerror(errno));
        return -1;
    }
    if (connect(c->fd, (const struct sockaddr *)&cfg->addr, cfg->addr_len) != 0) {
        fprintf(stderr, "eventflow-bench: connect to %s port %u: %s\n", cfg->host, cfg->port,
                strerror(errno));
        return -1;
    }
    /* Requests go out as soon as they are queued; Nagle would add delay
     * to exactly the small writes being measured. */
    if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
        setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
        setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
        fprintf(stderr, "eventflow-bench: setsockopt: %s\n", strerror(errno));
        return -1;
    }
    if (cfg->password != NULL && conn_auth(c, cfg) != 0)
        return -1;
    int flags = fcntl(c->fd, F_GETFL);
    if (flags < 0 || fcntl(c->fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        fprintf(stderr, "eventflow-bench: fcntl: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

void bench_conn_close(struct bench_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    resp_reader_free(&c->reader);
    buf_free(&c->out);
    free(c->ring);
    c->ring = NULL;
}

int bench_connect_fd(const struct bench_config *cfg)
{
    struct bench_conn c;
    int rc = bench_conn_open(&c, cfg);
    int fd = c.fd;
    if (rc == 0)
        c.fd = -1; /* keep the socket, free the rest */
    bench_conn_close(&c);
    if (rc != 0)
        bench_fail("cannot connect to port %u", cfg->port);
    return fd;
}

void bench_roundtrip(int fd, struct resp_reader *rd, const char *req, size_t n, double timeout,
                     struct resp_value *v)
{
    char rx[8192];
    int rc;
    uint64_t deadline = bench_now_ns() + (uint64_t)(timeout * 1e9);

    if (bench_send_all(fd, req, n) != 0)
        bench_fail("sending %.20s: %s", req, strerror(errno));
    while ((rc = resp_reader_next(rd, v)) == 0) {
        struct pollfd q = {.fd = fd, .events = POLLIN};
        if (bench_now_ns() > deadline)
            bench_fail("no reply in %g s", timeout);
        if (poll(&q, 1, 100) <= 0)
            continue;
        ssize_t got = recv(fd, rx, sizeof rx, 0);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR))
            bench_fail("connection lost waiting for a reply");
        if (got > 0)
            resp_reader_feed(rd, rx, (size_t)got);
    }
    if (rc < 0)
        bench_fail("malformed reply");
}
