/* http_client.h - a small blocking HTTP/1.1 client over plain sockets for
 * the integration tests: one request at a time on a keep-alive
 * connection, Content-Length and chunked bodies. Every socket has the
 * harness's send and receive timeouts, so a test fails instead of hanging.
 *
 * Errors: functions returning int return 0 on success and -1 on failure
 * after printing a one-line reason to stderr. */
#ifndef EVENTFLOW_TEST_HTTP_CLIENT_H
#define EVENTFLOW_TEST_HTTP_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

struct http_client {
    int fd;
    struct buf in;   /* received, not yet consumed */
    struct buf events; /* an event stream's body, decoded from its chunks, not yet read */
    bool eof;
};

struct http_reply {
    int status;
    char *head;      /* owned: the status line and the headers, NUL-terminated */
    char *body;      /* owned, NUL-terminated */
    size_t body_len;
    json_t *json;    /* owned: the body parsed, or NULL if it is not JSON */
};

/* Connect to 127.0.0.1:port; NULL on failure. */
struct http_client *http_client_open(unsigned port);
void http_client_close(struct http_client *c);

/* Send one request: extra header lines ("Name: value", NULL-terminated
 * list or NULL) and a body (NULL: none; else with Content-Length). */
int http_client_send(struct http_client *c, const char *method, const char *path, const char *const *headers,
                     const char *body);
/* Send bytes exactly as given. */
int http_client_send_raw(struct http_client *c, const void *p, size_t n);

/* Read one response's head, then its body. */
int http_client_read(struct http_client *c, struct http_reply *out);
/* Read only the head (for an event stream: the body follows with
 * http_client_sse_next). */
int http_client_read_head(struct http_client *c, struct http_reply *out);

/* send + read. */
int http_client_request(struct http_client *c, const char *method, const char *path, const char *const *headers,
                        const char *body, struct http_reply *out);

/* One request on a fresh connection to port. */
int http_request_once(unsigned port, const char *method, const char *path, const char *const *headers,
                      const char *body, struct http_reply *out);

/* A header's value (case-insensitive name), malloc'd; NULL if absent. */
char *http_reply_header(const struct http_reply *r, const char *name);
void http_reply_free(struct http_reply *r);

/* One server-sent event of a chunked event stream: its id and data lines
 * (joined by '\n'), each malloc'd (NULL if it had none). Comments are
 * skipped; *comments counts them when not NULL. Returns 1 with an event,
 * 0 at the end of the stream, -1 on timeout or error. */
struct http_sse_event {
    char *id;
    char *data;
};
int http_client_sse_next(struct http_client *c, struct http_sse_event *ev, size_t *comments);
void http_sse_event_free(struct http_sse_event *ev);

#endif
