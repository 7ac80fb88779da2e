/* http_client.c - the tests' HTTP/1.1 client (see http_client.h). */
#include "http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/mem.h"
#include "harness.h"

struct http_client *http_client_open(unsigned port)
{
    int fd = harness_dial(port, false);
    if (fd < 0)
        return NULL;
    struct http_client *c = xcalloc(1, sizeof *c);
    c->fd = fd;
    buf_init(&c->in);
    buf_init(&c->events);
    return c;
}

void http_client_close(struct http_client *c)
{
    if (c == NULL)
        return;
    close(c->fd);
    buf_free(&c->in);
    buf_free(&c->events);
    free(c);
}

int http_client_send_raw(struct http_client *c, const void *p, size_t n)
{
    const char *at = p;
    while (n > 0) {
        ssize_t w = send(c->fd, at, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "http_client: send: %s\n", strerror(errno));
            return -1;
        }
        at += w;
        n -= (size_t)w;
    }
    return 0;
}

int http_client_send(struct http_client *c, const char *method, const char *path, const char *const *headers,
                     const char *body)
{
    struct buf req;
    buf_init(&req);
    buf_printf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n", method, path);
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        buf_printf(&req, "%s\r\n", headers[i]);
    if (body != NULL)
        buf_printf(&req, "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
    else
        buf_append_str(&req, "\r\n");
    int rc = http_client_send_raw(c, req.data, req.len);
    buf_free(&req);
    return rc;
}

/* Receive more bytes into c->in; -1 on timeout or error, 0 at EOF. */
static int http_client_fill(struct http_client *c)
{
    for (;;) {
        char *at = buf_reserve(&c->in, 16384);
        ssize_t n = recv(c->fd, at, 16384, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "http_client: recv: %s\n", strerror(errno));
            return -1;
        }
        if (n == 0) {
            c->eof = true;
            return 0;
        }
        buf_commit(&c->in, (size_t)n);
        return 1;
    }
}

static const char *find_crlf2(const struct buf *b)
{
    return b->len >= 4 ? memmem(b->data, b->len, "\r\n\r\n", 4) : NULL;
}

int http_client_read_head(struct http_client *c, struct http_reply *out)
{
    memset(out, 0, sizeof *out);
    const char *end;
    while ((end = find_crlf2(&c->in)) == NULL) {
        if (http_client_fill(c) <= 0) {
            fprintf(stderr, "http_client: no whole response head\n");
            return -1;
        }
    }
    size_t head_len = (size_t)(end - c->in.data);
    out->head = xstrndup(c->in.data, head_len);
    buf_consume(&c->in, head_len + 4);
    if (sscanf(out->head, "HTTP/1.%*d %d", &out->status) != 1) {
        fprintf(stderr, "http_client: bad status line: %.40s\n", out->head);
        return -1;
    }
    return 0;
}

char *http_reply_header(const struct http_reply *r, const char *name)
{
    size_t n = strlen(name);
    for (const char *line = r->head; line != NULL; line = strstr(line, "\r\n")) {
        if (line[0] == '\r')
            line += 2;
        if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            const char *e = strstr(v, "\r\n");
            return xstrndup(v, e != NULL ? (size_t)(e - v) : strlen(v));
        }
    }
    return NULL;
}

/* Exactly n bytes of c->in (receiving as needed) appended to out. */
static int http_client_take(struct http_client *c, size_t n, struct buf *out)
{
    while (c->in.len < n) {
        if (http_client_fill(c) <= 0)
            return -1;
    }
    buf_append(out, c->in.data, n);
    buf_consume(&c->in, n);
    return 0;
}

/* A line ending in CRLF, without it, into line (size cap). */
static int http_client_line(struct http_client *c, char *line, size_t cap)
{
    const char *e;
    while ((e = c->in.len > 0 ? memmem(c->in.data, c->in.len, "\r\n", 2) : NULL) == NULL) {
        if (http_client_fill(c) <= 0)
            return -1;
    }
    size_t n = (size_t)(e - c->in.data);
    if (n >= cap)
        return -1;
    memcpy(line, c->in.data, n);
    line[n] = '\0';
    buf_consume(&c->in, n + 2);
    return 0;
}

/* The next chunk of a chunked body appended to out: its size, 0 at the
 * end, -1 on error. */
static long http_client_chunk(struct http_client *c, struct buf *out)
{
    char line[64];
    if (http_client_line(c, line, sizeof line) != 0)
        return -1;
    long size = strtol(line, NULL, 16);
    if (size < 0)
        return -1;
    if (size == 0) {
        if (http_client_line(c, line, sizeof line) != 0)
            return -1;
        return 0;
    }
    if (http_client_take(c, (size_t)size, out) != 0 || http_client_line(c, line, sizeof line) != 0)
        return -1;
    return size;
}

int http_client_read(struct http_client *c, struct http_reply *out)
{
    if (http_client_read_head(c, out) != 0)
        return -1;
    struct buf body;
    buf_init(&body);
    char *te = http_reply_header(out, "transfer-encoding");
    char *cl = http_reply_header(out, "content-length");
    int rc = 0;
    if (te != NULL && strcasecmp(te, "chunked") == 0) {
        long n;
        while ((n = http_client_chunk(c, &body)) > 0) {
        }
        rc = n < 0 ? -1 : 0;
    } else if (cl != NULL) {
        rc = http_client_take(c, strtoul(cl, NULL, 10), &body);
    } else {
        while (http_client_fill(c) > 0) {
        }
        buf_append(&body, c->in.data, c->in.len);
        buf_reset(&c->in);
    }
    free(te);
    free(cl);
    buf_append_char(&body, '\0');
    out->body_len = body.len - 1;
    out->body = xstrndup(body.data, out->body_len);
    buf_free(&body);
    if (rc != 0) {
        fprintf(stderr, "http_client: incomplete body\n");
        return -1;
    }
    out->json = json_loadb(out->body, out->body_len, 0, NULL);
    return 0;
}

int http_client_request(struct http_client *c, const char *method, const char *path, const char *const *headers,
                        const char *body, struct http_reply *out)
{
    memset(out, 0, sizeof *out);
    if (http_client_send(c, method, path, headers, body) != 0)
        return -1;
    return http_client_read(c, out);
}

int http_request_once(unsigned port, const char *method, const char *path, const char *const *headers,
                      const char *body, struct http_reply *out)
{
    memset(out, 0, sizeof *out);
    struct http_client *c = http_client_open(port);
    if (c == NULL)
        return -1;
    int rc = http_client_request(c, method, path, headers, body, out);
    http_client_close(c);
    return rc;
}

void http_reply_free(struct http_reply *r)
{
    free(r->head);
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* ---- event streams --------------------------------------------------- */

int http_client_sse_next(struct http_client *c, struct http_sse_event *ev, size_t *comments)
{
    memset(ev, 0, sizeof *ev);
    struct buf *b = &c->events;
    for (;;) {
        const char *end = b->len >= 2 ? memmem(b->data, b->len, "\n\n", 2) : NULL;
        if (end != NULL) {
            size_t n = (size_t)(end - b->data);
            char *block = xstrndup(b->data, n);
            buf_consume(b, n + 2);
            bool any = false;
            char *save = NULL;
            for (char *line = strtok_r(block, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
                if (line[0] == ':') {
                    if (comments != NULL)
                        (*comments)++;
                } else if (strncmp(line, "id:", 3) == 0) {
                    free(ev->id);
                    ev->id = xstrdup(line + 3 + (line[3] == ' '));
                    any = true;
                } else if (strncmp(line, "data:", 5) == 0) {
                    const char *v = line + 5 + (line[5] == ' ');
                    if (ev->data == NULL) {
                        ev->data = xstrdup(v);
                    } else {
                        char *j = xmalloc(strlen(ev->data) + strlen(v) + 2);
                        sprintf(j, "%s\n%s", ev->data, v);
                        free(ev->data);
                        ev->data = j;
                    }
                    any = true;
                }
            }
            free(block);
            if (any)
                return 1;
            continue;
        }
        long n = http_client_chunk(c, b);
        if (n == 0)
            return 0;
        if (n < 0)
            return -1;
    }
}

void http_sse_event_free(struct http_sse_event *ev)
{
    free(ev->id);
    free(ev->data);
    memset(ev, 0, sizeof *ev);
}
