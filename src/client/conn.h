/* conn.h - one TCP connection to an eventflow node, plaintext or TLS
 * (tls.h), and the clock.
 *
 * Sockets are non-blocking; every wait is a poll() bounded by an absolute
 * deadline on the monotonic clock (milliseconds, ef_now_ms), so no call
 * here blocks past its deadline except name resolution (getaddrinfo),
 * which is only slow for names that are slow to resolve.
 *
 * Thread-safety: a connection belongs to one thread at a time. */
#ifndef EVENTFLOW_CLIENT_CONN_H
#define EVENTFLOW_CLIENT_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "eventflow/types.h"
#include "protocol/resp_reader.h"

/* A node's client endpoint. */
struct ef_endpoint {
    char host[256];          /* name or address, without IPv6 brackets */
    unsigned port;
    char addr[EF_ADDR_MAX];  /* "host:port" ("[v6]:port"): how the cluster names it */
};

/* Parse "host:port", "[v6addr]:port", or a host alone (port 6543) from
 * s[0..len), surrounding blanks ignored. Returns 0 or -1. */
int ef_endpoint_parse(const char *s, size_t len, struct ef_endpoint *ep);

/* Results of reads. */
enum {
    EF_IO_REPLY = 1,    /* a whole reply */
    EF_IO_EOF = 0,      /* the server closed the connection */
    EF_IO_TIMEOUT = -1, /* the deadline passed */
    EF_IO_ERROR = -2,   /* a socket error */
    EF_IO_PROTO = -3,   /* the bytes are not RESP */
};

struct ef_tls;

struct ef_conn {
    int fd;                    /* -1 while closed */
    struct ssl_st *ssl;        /* owned TLS session over fd; NULL: plaintext */
    struct resp_reader reader; /* initialized while open */
    struct buf out;            /* requests queued, not yet written */
};

/* A closed connection. */
void ef_conn_init(struct ef_conn *cn);

/* Close (if open) and drop anything queued or half-read. The connection can
 * be opened again. */
void ef_conn_close(struct ef_conn *cn);

/* Connect to ep before deadline_ms, with TLS when tls is not NULL.
 * Returns 0, or -1 with a reason in err, or -2 (TLS: a certificate was
 * refused, see tls.h) with a reason in err. */
int ef_conn_open(struct ef_conn *cn, const struct ef_endpoint *ep, const struct ef_tls *tls, int64_t deadline_ms,
                 char *err, size_t err_cap);

static inline bool ef_conn_is_open(const struct ef_conn *cn)
{
    return cn->fd >= 0;
}

/* An idle open connection can be reused when nothing is waiting on it: no
 * EOF, no error, no stray bytes. Closes it and returns false otherwise.
 * This catches a node that restarted since the last request before a
 * write is sent into a dead socket (whose outcome would be unknown). */
bool ef_conn_check_idle(struct ef_conn *cn);

/* Queue one command: argc arguments of the given lengths (lens NULL: each a
 * NUL-terminated string), as a RESP array of bulk strings. */
void ef_conn_queue(struct ef_conn *cn, size_t argc, const char *const *argv, const size_t *lens);

/* Write everything queued, waiting up to deadline_ms. Returns 0, or -1
 * with a reason in err (the connection should then be closed). */
int ef_conn_flush(struct ef_conn *cn, int64_t deadline_ms, char *err, size_t err_cap);

/* Wait for the next whole reply up to deadline_ms. Returns EF_IO_REPLY
 * with *v filled (the caller frees it with resp_value_free) or another
 * EF_IO_* value (the connection should then be closed). */
int ef_conn_read(struct ef_conn *cn, struct resp_value *v, int64_t deadline_ms);

/* Non-blocking pieces, for the pipeline's own poll loop. */
/* Write what the socket takes now: 0, or -1 on an error. */
int ef_conn_write_some(struct ef_conn *cn);
/* Read what has arrived into the reader: >0 bytes read, 0 nothing there
 * yet, -1 closed by the peer, -2 on an error. */
int ef_conn_read_some(struct ef_conn *cn);

/* Milliseconds on the monotonic clock. */
int64_t ef_now_ms(void);
/* Sleep ms milliseconds (resuming after signals). */
void ef_sleep_ms(int ms);

#endif
