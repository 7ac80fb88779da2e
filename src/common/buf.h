/* buf.h - a growable byte buffer.
 *
 * The struct is public so it can be embedded, but its fields are only read
 * by callers; only buf_* functions change them. A buf owns `data`. It is
 * not thread-safe. Growth aborts on out-of-memory (see mem.h). */
#ifndef EVENTFLOW_BUF_H
#define EVENTFLOW_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data; /* owned; NULL until the first growth */
    size_t len; /* bytes in use */
    size_t cap; /* bytes allocated */
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);

/* Make room for `extra` more bytes beyond len; returns data + len. */
char *buf_reserve(struct buf *b, size_t extra);
/* Mark `n` bytes written after buf_reserve. */
void buf_commit(struct buf *b, size_t n);

void buf_append(struct buf *b, const void *p, size_t n);
void buf_append_str(struct buf *b, const char *s);
void buf_append_char(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Drop the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
/* len = 0; keeps the allocation. */
void buf_reset(struct buf *b);
/* Give the allocation back if it grew past `keep` bytes while idle. */
void buf_shrink(struct buf *b, size_t keep);

#endif
