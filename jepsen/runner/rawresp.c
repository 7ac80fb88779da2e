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

static int connect_bounded(const struct sockaddr_in *sa, long long deadline, char *err, size_t errlen)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
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

int rawresp_call(const char *address, const char *name, const char *arg, int timeout_ms,
                 struct resp_value *out, char *err, size_t errlen)
{
    struct sockaddr_in sa;
    if (parse_address(address, &sa) != 0) {
        snprintf(err, errlen, "bad address %s", address);
        return -1;
    }
    long long deadline = now_ms() + timeout_ms;
    int fd = connect_bounded(&sa, deadline, err, errlen);
    if (fd < 0)
        return -1;

    /* name may hold a subcommand ("CLUSTER MEMBERS"): one bulk per word. */
    struct buf req;
    buf_init(&req);
    char words[64];
    snprintf(words, sizeof words, "%s", name);
    char *w2 = strchr(words, ' ');
    if (w2 != NULL)
        *w2++ = '\0';
    buf_printf(&req, "*%d\r\n", 1 + (w2 != NULL) + (arg != NULL));
    append_bulk(&req, words, strlen(words));
    if (w2 != NULL)
        append_bulk(&req, w2, strlen(w2));
    if (arg != NULL)
        append_bulk(&req, arg, strlen(arg));

    int rc = -1;
    size_t sent = 0;
    while (sent < req.len) {
        if (wait_fd(fd, POLLOUT, deadline) <= 0) {
            snprintf(err, errlen, "send: timed out");
            goto out;
        }
        ssize_t n = send(fd, req.data + sent, req.len - sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n < 0) {
            snprintf(err, errlen, "send: %s", strerror(errno));
            goto out;
        }
        sent += (size_t)n;
    }

    struct resp_reader rd;
    resp_reader_init(&rd, NULL);
    for (;;) {
        int got = resp_reader_next(&rd, out);
        if (got == 1) {
            rc = 0;
            break;
        }
        if (got < 0) {
            snprintf(err, errlen, "protocol error in the reply");
            break;
        }
        if (wait_fd(fd, POLLIN, deadline) <= 0) {
            snprintf(err, errlen, "reply: timed out");
            break;
        }
        char chunk[65536];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "reply: %s", n == 0 ? "connection closed" : strerror(errno));
            break;
        }
        resp_reader_feed(&rd, chunk, (size_t)n);
    }
    resp_reader_free(&rd);
out:
    buf_free(&req);
    close(fd);
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
