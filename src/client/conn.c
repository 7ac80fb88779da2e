/* conn.c - sockets, with every wait bounded by a deadline. */
#include "client/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client/tls.h"
#include "protocol/resp_writer.h"

/* Replies bigger than this are refused: the server's own page limits keep
 * real replies far below it (10000 events of at most 1 MiB is the worst). */
#define EF_MAX_REPLY_BULK (64u * 1024 * 1024)
#define EF_READ_CHUNK 16384

int64_t ef_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ef_sleep_ms(int ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Milliseconds left until deadline, for poll(): at least 0. */
static int remaining(int64_t deadline_ms)
{
    int64_t left = deadline_ms - ef_now_ms();
    if (left <= 0)
        return 0;
    return left > 1000000 ? 1000000 : (int)left;
}

int ef_endpoint_parse(const char *s, size_t len, struct ef_endpoint *ep)
{
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0)
        return -1;
    const char *host = s;
    size_t host_len;
    const char *rest;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (close == NULL)
            return -1;
        host = s + 1;
        host_len = (size_t)(close - host);
        rest = close + 1;
        if (rest < s + len && *rest != ':')
            return -1;
    } else {
        const char *colon = memchr(s, ':', len);
        host_len = colon != NULL ? (size_t)(colon - s) : len;
        rest = s + host_len;
        if (colon != NULL && memchr(colon + 1, ':', len - host_len - 1) != NULL)
            return -1; /* a bare IPv6 address: ambiguous, must be bracketed */
    }
    if (host_len == 0 || host_len >= sizeof ep->host)
        return -1;
    for (size_t i = 0; i < host_len; i++)
        if ((unsigned char)host[i] <= 0x20 || (unsigned char)host[i] > 0x7E || host[i] == ',' ||
            host[i] == '[' || host[i] == ']' || host[i] == '/')
            return -1;
    unsigned long port = 6543;
    if (rest < s + len) { /* ":port" */
        size_t plen = (size_t)(s + len - rest) - 1;
        if (plen == 0 || plen > 5)
            return -1;
        port = 0;
        for (size_t i = 0; i < plen; i++) {
            char c = rest[1 + i];
            if (c < '0' || c > '9')
                return -1;
            port = port * 10 + (unsigned long)(c - '0');
        }
        if (port == 0 || port > 65535)
            return -1;
    }
    memcpy(ep->host, host, host_len);
    ep->host[host_len] = '\0';
    ep->port = (unsigned)port;
    bool v6 = memchr(ep->host, ':', host_len) != NULL;
    snprintf(ep->addr, sizeof ep->addr, v6 ? "[%s]:%u" : "%s:%u", ep->host, ep->port);
    return 0;
}

void ef_conn_init(struct ef_conn *cn)
{
    cn->fd = -1;
    cn->ssl = NULL;
    memset(&cn->reader, 0, sizeof cn->reader);
    buf_init(&cn->out);
}

void ef_conn_close(struct ef_conn *cn)
{
    if (cn->fd >= 0) {
        ef_tls_close(cn->ssl);
        close(cn->fd);
        resp_reader_free(&cn->reader);
    }
    cn->ssl = NULL;
    cn->fd = -1;
    memset(&cn->reader, 0, sizeof cn->reader);
    buf_free(&cn->out);
}

/* One non-blocking connect attempt to one resolved address. */
static int connect_one(const struct addrinfo *ai, int64_t deadline_ms, char *err, size_t cap)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        snprintf(err, cap, "socket: %s", strerror(errno));
        return -1;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
        snprintf(err, cap, "connect: %s", strerror(errno));
        close(fd);
        return -1;
    }
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int n = poll(&pfd, 1, remaining(deadline_ms));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, cap, "connect: %s", n == 0 ? "timed out" : strerror(errno));
            close(fd);
            return -1;
        }
        break;
    }
    int so_error = 0;
    socklen_t len = sizeof so_error;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0 || so_error != 0) {
        snprintf(err, cap, "connect: %s", strerror(so_error != 0 ? so_error : errno));
        close(fd);
        return -1;
    }
    int one = 1;
    /* Requests are small and answered one by one: do not let Nagle hold
     * them back waiting for the previous reply's ACK. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

int ef_conn_open(struct ef_conn *cn, const struct ef_endpoint *ep, const struct ef_tls *tls, int64_t deadline_ms,
                 char *err, size_t err_cap)
{
    ef_conn_close(cn);
    char port[8];
    snprintf(port, sizeof port, "%u", ep->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(ep->host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, err_cap, "%s: cannot resolve: %s", ep->addr, gai_strerror(rc));
        return -1;
    }
    char why[160] = "no address";
    int fd = -1;
    for (const struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
        fd = connect_one(ai, deadline_ms, why, sizeof why);
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, err_cap, "%s: %s", ep->addr, why);
        return -1;
    }
    if (tls != NULL) {
        int rv = ef_tls_connect(tls, fd, ep->host, deadline_ms, &cn->ssl, why, sizeof why);
        if (rv != EF_TLS_OK) {
            close(fd);
            snprintf(err, err_cap, "%s: %s", ep->addr, why);
            return rv == EF_TLS_REFUSED ? -2 : -1;
        }
    }
    cn->fd = fd;
    struct resp_reader_limits limits = {.max_bulk = EF_MAX_REPLY_BULK};
    resp_reader_init(&cn->reader, &limits);
    return 0;
}

/* Stray bytes on an idle connection: it is closed anyway. */
static void discard(void *arg, const char *p, size_t n)
{
    (void)arg;
    (void)p;
    (void)n;
}

bool ef_conn_check_idle(struct ef_conn *cn)
{
    if (cn->fd < 0)
        return false;
    struct pollfd pfd = {.fd = cn->fd, .events = POLLIN};
    int n;
    do
        n = poll(&pfd, 1, 0);
    while (n < 0 && errno == EINTR);
    if (n == 0)
        return true;
    /* A TLS 1.3 server sends its session tickets after the handshake:
     * records that carry no data, which leave the connection idle. */
    if (n > 0 && cn->ssl != NULL && (pfd.revents & POLLIN) && ef_tls_read(cn->ssl, discard, NULL) == 0)
        return true;
    ef_conn_close(cn);
    return false;
}

void ef_conn_queue(struct ef_conn *cn, size_t argc, const char *const *argv, const size_t *lens)
{
    resp_write_array_header(&cn->out, argc);
    for (size_t i = 0; i < argc; i++)
        resp_write_bulk(&cn->out, argv[i], lens != NULL ? lens[i] : strlen(argv[i]));
}

int ef_conn_write_some(struct ef_conn *cn)
{
    while (cn->out.len > 0) {
        ssize_t n = cn->ssl != NULL ? ef_tls_write(cn->ssl, cn->out.data, cn->out.len)
                                    : send(cn->fd, cn->out.data, cn->out.len, MSG_NOSIGNAL);
        if (cn->ssl != NULL && n <= 0)
            return n == 0 ? 0 : -1;
        if (n > 0) {
            buf_consume(&cn->out, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        return -1;
    }
    buf_shrink(&cn->out, 1 << 20);
    return 0;
}

int ef_conn_flush(struct ef_conn *cn, int64_t deadline_ms, char *err, size_t err_cap)
{
    while (cn->out.len > 0) {
        if (ef_conn_write_some(cn) != 0) {
            snprintf(err, err_cap, "send: %s", strerror(errno));
            return -1;
        }
        if (cn->out.len == 0)
            break;
        struct pollfd pfd = {.fd = cn->fd, .events = POLLOUT};
        int n = poll(&pfd, 1, remaining(deadline_ms));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, err_cap, "send: %s", n == 0 ? "timed out" : strerror(errno));
            return -1;
        }
    }
    return 0;
}

static void feed(void *arg, const char *p, size_t n)
{
    resp_reader_feed(arg, p, n);
}

int ef_conn_read_some(struct ef_conn *cn)
{
    if (cn->ssl != NULL)
        return ef_tls_read(cn->ssl, feed, &cn->reader);
    char chunk[EF_READ_CHUNK];
    for (;;) {
        ssize_t n = recv(cn->fd, chunk, sizeof chunk, 0);
        if (n > 0) {
            resp_reader_feed(&cn->reader, chunk, (size_t)n);
            return (int)n;
        }
        if (n == 0)
            return -1;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return -2;
    }
}

int ef_conn_read(struct ef_conn *cn, struct resp_value *v, int64_t deadline_ms)
{
    for (;;) {
        int rc = resp_reader_next(&cn->reader, v);
        if (rc == 1)
            return EF_IO_REPLY;
        if (rc < 0)
            return EF_IO_PROTO;
        /* Wait first: right after a request the reply is not there yet, and
         * a recv that can only say EAGAIN is a wasted system call. */
        struct pollfd pfd = {.fd = cn->fd, .events = POLLIN};
        int pn = poll(&pfd, 1, remaining(deadline_ms));
        if (pn < 0 && errno == EINTR)
            continue;
        if (pn < 0)
            return EF_IO_ERROR;
        if (pn == 0)
            return EF_IO_TIMEOUT;
        int n = ef_conn_read_some(cn);
        if (n == -1)
            return EF_IO_EOF;
        if (n == -2)
            return EF_IO_ERROR;
    }
}
