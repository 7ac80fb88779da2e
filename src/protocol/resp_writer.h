/* resp_writer.h - RESP reply encoding into a struct buf: RESP2, and the
 * RESP3 types eventflow sends after HELLO 3 (push, map).
 *
 * Each function appends one complete RESP value (or, for
 * resp_write_array_header, the header of an array whose n elements the
 * caller appends next). Nothing here can fail; growth aborts on OOM. */
#ifndef EVENTFLOW_RESP_WRITER_H
#define EVENTFLOW_RESP_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* +text\r\n ; text must not contain CR or LF. */
void resp_write_simple(struct buf *b, const char *text);
/* -text\r\n ; CR and LF in text are replaced by spaces. eventflow errors have
 * no "ERR " prefix; the first word is machine-readable (MOVED, NOLEADER...). */
void resp_write_error(struct buf *b, const char *text);
void resp_write_errorf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* :n\r\n */
void resp_write_int(struct buf *b, int64_t n);
/* $len\r\n<bytes>\r\n */
void resp_write_bulk(struct buf *b, const void *p, size_t len);
void resp_write_bulk_str(struct buf *b, const char *s);
/* $-1\r\n */
void resp_write_null(struct buf *b);
/* *n\r\n */
void resp_write_array_header(struct buf *b, size_t n);
/* An out-of-band message (pub/sub): >n\r\n in RESP3, *n\r\n in RESP2, where
 * pub/sub messages are plain arrays. */
void resp_write_push_header(struct buf *b, size_t n, bool resp3);
/* %n\r\n: a RESP3 map of n key/value pairs (HELLO's reply). */
void resp_write_map_header(struct buf *b, size_t n);

/* For a bulk whose length is only known after writing it: call
 * resp_bulk_begin (which reserves room for a typical header), append the
 * body with buf_* calls, then resp_bulk_end, which writes the exact
 * "$<len>\r\n" header in front of the body (moving the body once only when
 * its length has other than 3 digits) and appends the final CRLF. Nothing else may be appended to
 * `b` in between except the body. Returns the offset to pass to
 * resp_bulk_end. */
size_t resp_bulk_begin(struct buf *b);
void resp_bulk_end(struct buf *b, size_t begin_offset);

#endif
