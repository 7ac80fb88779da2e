/* resp_reader.h - incremental parser of RESP replies (the client side):
 * RESP2, and RESP3's push frames, maps and null, which a server sends after
 * HELLO 3.
 *
 * Used by the benchmark tool, the tests and libeventflow. Feed it bytes as
 * they arrive; take out whole reply values. Nesting depth and sizes are
 * bounded so a hostile server cannot exhaust memory.
 *
 * Thread-safety: one reader per connection, used by one thread. */
#ifndef EVENTFLOW_RESP_READER_H
#define EVENTFLOW_RESP_READER_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

enum resp_type {
    RESP_T_SIMPLE = 1, /* +text */
    RESP_T_ERROR,      /* -text */
    RESP_T_INT,        /* :n */
    RESP_T_BULK,       /* $n */
    RESP_T_NULL,       /* $-1, *-1 or _ */
    RESP_T_ARRAY,      /* *n */
    RESP_T_PUSH,       /* >n: an out-of-band message (RESP3) */
    RESP_T_MAP,        /* %n: n key/value pairs, as 2n elements, keys first (RESP3) */
};

/* A parsed reply. A value owns everything below it: `str` (NUL-terminated,
 * may also contain NULs: use len) and `elems`. Free with resp_value_free. */
struct resp_value {
    enum resp_type type;
    int64_t integer;          /* RESP_T_INT */
    char *str;                /* SIMPLE, ERROR, BULK: owned */
    size_t len;               /* SIMPLE, ERROR, BULK */
    size_t n;                 /* ARRAY, PUSH, MAP: element count */
    struct resp_value *elems; /* ARRAY, PUSH, MAP: owned, n elements */
};

/* A zero field means its default. */
struct resp_reader_limits {
    size_t max_bulk;   /* default 512 MiB; also bounds simple strings and errors */
    size_t max_elems;  /* default 16M, per array */
    unsigned max_depth;/* default 8: arrays nested deeper (a top-level array is 1) are refused */
};

struct resp_reader {
    /* private */
    struct buf in;
    struct resp_reader_limits limits;
    /* Whether the next reply is complete is decided by a scan that resumes
     * where the previous call stopped, so a big reply arriving in small
     * pieces is scanned once, not once per piece. */
    size_t start;      /* offset in `in` of the next reply not yet returned */
    size_t scan;       /* bytes of that reply already scanned: whole elements */
    size_t line_scan;  /* bytes after `scan` already searched for a line end */
    unsigned depth;    /* arrays open at `scan` */
    size_t *left;      /* owned: elements still due in each open array, max_depth entries */
};

/* limits may be NULL for the defaults. */
void resp_reader_init(struct resp_reader *r, const struct resp_reader_limits *limits);
void resp_reader_free(struct resp_reader *r);

/* Append received bytes. */
void resp_reader_feed(struct resp_reader *r, const void *p, size_t n);

/* Take the next complete reply. Returns 1 and fills *out (caller frees with
 * resp_value_free) when one is complete, 0 when more bytes are needed, -1 on
 * a protocol violation (the connection should be dropped). */
int resp_reader_next(struct resp_reader *r, struct resp_value *out);

void resp_value_free(struct resp_value *v);

#endif
