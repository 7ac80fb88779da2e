/* rawresp.c - see rawresp.h. */
#include "rawresp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until the deadline: 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int rv = poll(&p, 1, (int)left);
        if (rv < 0 && errno == EINTR)
            continue;
        return rv < 0 ? -1 : rv;
    }
}

static int parse_address(const char *address, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(address, ':');
    if (colon == NULL || (size_t)(colon - address) >= sizeof host)
        return -1;
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = '\0';
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)atoi(colon + 1));
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static int connect_bounded(const struct sockaddr_in *sa, int rcvbuf, long long deadline, char *err, size_t errlen)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    /* Before connect, so that the window offered is small from the start. */
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) != 0 && errno != EINPROGRESS) {
        snprintf(err, errlen, "connect: %s", strerror(errno));
        close(fd);
        return -1;
    }
    int rv = wait_fd(fd, POLLOUT, deadline);
    int so_error = 0;
    socklen_t len = sizeof so_error;
    if (rv <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0 || so_error != 0) {
        snprintf(err, errlen, "connect: %s", rv == 0 ? "timed out" : strerror(so_error ? so_error : errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void append_bulk(struct buf *b, const char *s, size_t n)
{
    buf_printf(b, "$%zu\r\n", n);
    buf_append(b, s, n);
    buf_append(b, "\r\n", 2);
}

int rawresp_open(struct rawresp_conn *c, const char *address, int timeout_ms, int rcvbuf, char *err, size_t errlen)
{
    struct sockaddr_in sa;
    c->fd = -1;
    if (parse_address(address, &sa) != 0) {
        snprintf(err, errlen, "bad address %s", address);
        return -1;
    }
    c->fd = connect_bounded(&sa, rcvbuf, now_ms() + timeout_ms, err, errlen);
    if (c->fd < 0)
        return -1;
    resp_reader_init(&c->rd, NULL);
    return 0;
}

void rawresp_close(struct rawresp_conn *c)
{
    if (c->fd < 0)
        return;
    close(c->fd);
    c->fd = -1;
    resp_reader_free(&c->rd);
}

int rawresp_send(struct rawresp_conn *c, int argc, const char *const *argv, int timeout_ms, char *err,
                 size_t errlen)
{
    long long deadline = now_ms() + timeout_ms;
    struct buf req;
    buf_init(&req);
    buf_printf(&req, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++)
        append_bulk(&req, argv[i], strlen(argv[i]));
    int rc = 0;
    size_t sent = 0;
    while (sent < req.len) {
        if (wait_fd(c->fd, POLLOUT, deadline) <= 0) {
            snprintf(err, errlen, "send: timed out");
            rc = -1;
            break;
        }
        ssize_t n = send(c->fd, req.data + sent, req.len - sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n < 0) {
            snprintf(err, errlen, "send: %s", strerror(errno));
            rc = -1;
            break;
        }
        sent += (size_t)n;
    }
    buf_free(&req);
    return rc;
}

int rawresp_read(struct rawresp_conn *c, int timeout_ms, struct resp_value *out, char *err, size_t errlen)
{
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        int got = resp_reader_next(&c->rd, out);
        if (got == 1)
            return 1;
        if (got < 0) {
            snprintf(err, errlen, "protocol error in the reply");
            return -1;
        }
        int ready = wait_fd(c->fd, POLLIN, deadline);
        if (ready == 0)
            return 0;
        if (ready < 0) {
            snprintf(err, errlen, "poll: %s", strerror(errno));
            return -1;
        }
        char chunk[65536];
        ssize_t n = recv(c->fd, chunk, sizeof chunk, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "%s", n == 0 ? "connection closed" : strerror(errno));
            return -1;
        }
        resp_reader_feed(&c->rd, chunk, (size_t)n);
    }
}

int rawresp_call(const char *address, const char *name, const char *arg, int timeout_ms,
                 struct resp_value *out, char *err, size_t errlen)
{
    long long deadline = now_ms() + timeout_ms;
    struct rawresp_conn c;
    if (rawresp_open(&c, address, timeout_ms, 0, err, errlen) != 0)
        return -1;

    /* name may hold a subcommand ("CLUSTER MEMBERS"): one bulk per word. */
    char words[64];
    snprintf(words, sizeof words, "%s", name);
    const char *argv[3] = {words};
    int argc = 1;
    char *w2 = strchr(words, ' ');
    if (w2 != NULL) {
        *w2++ = '\0';
        argv[argc++] = w2;
    }
    if (arg != NULL)
        argv[argc++] = arg;

    int rc = -1;
    if (rawresp_send(&c, argc, argv, timeout_ms, err, errlen) == 0) {
        long long left = deadline - now_ms();
        int got = left > 0 ? rawresp_read(&c, (int)left, out, err, errlen) : 0;
        if (got == 0)
            snprintf(err, errlen, "reply: timed out");
        else if (got < 0 && strncmp(err, "protocol", 8) != 0) {
            char why[200];
            snprintf(why, sizeof why, "%s", err);
            snprintf(err, errlen, "reply: %s", why);
        }
        rc = got == 1 ? 0 : -1;
    }
    rawresp_close(&c);
    return rc;
}

json_t *rawresp_status(const char *address, int timeout_ms, char *err, size_t errlen)
{
    struct resp_value v;
    if (rawresp_call(address, "STATUS", NULL, timeout_ms, &v, err, errlen) != 0)
        return NULL;
    json_t *j = NULL;
    if (v.type == RESP_T_BULK || v.type == RESP_T_SIMPLE) {
        json_error_t je;
        j = json_loadb(v.str, v.len, 0, &je);
        if (j == NULL)
            snprintf(err, errlen, "STATUS is not JSON: %s", je.text);
    } else {
        snprintf(err, errlen, "STATUS: %s", v.type == RESP_T_ERROR ? v.str : "unexpected reply");
    }
    resp_value_free(&v);
    return j;
}
