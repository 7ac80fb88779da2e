/* resp_writer.c - RESP2 reply encoding; see resp_writer.h.
 *
 * Replies are built in the connection's output buffer, so every function
 * reserves what it needs once and writes in place. Numbers are formatted by
 * hand: a bulk header per event is the hot path of every read command. */
#include "protocol/resp_writer.h"

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

/* Enough for "-9223372036854775808" and for any size_t up to 2^64 - 1. */
#define NUM_MAX 20

/* Write the decimal digits of `v` at the end of `tmp` (NUM_MAX bytes) and
 * return where they start. */
static char *format_u64(char tmp[NUM_MAX], uint64_t v)
{
    char *p = tmp + NUM_MAX;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return p;
}

/* Append "<type><n>\r\n", the header shared by integers, bulks and arrays. */
static void write_header(struct buf *b, char type, bool negative, uint64_t magnitude)
{
    char tmp[NUM_MAX];
    char *digits = format_u64(tmp, magnitude);
    size_t ndigits = (size_t)(tmp + NUM_MAX - digits);
    char *out = buf_reserve(b, 1 + 1 + ndigits + 2);
    size_t n = 0;

    out[n++] = type;
    if (negative)
        out[n++] = '-';
    memcpy(out + n, digits, ndigits);
    n += ndigits;
    out[n++] = '\r';
    out[n++] = '\n';
    buf_commit(b, n);
}

/* CR or LF inside a simple string or an error would end the line early and
 * desynchronize the client, so they become spaces. */
static void blank_line_breaks(char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\r' || p[i] == '\n')
            p[i] = ' ';
    }
}

static void write_line(struct buf *b, char type, const char *text)
{
    size_t n = strlen(text);
    char *out = buf_reserve(b, 1 + n + 2);
    out[0] = type;
    memcpy(out + 1, text, n);
    blank_line_breaks(out + 1, n);
    out[1 + n] = '\r';
    out[2 + n] = '\n';
    buf_commit(b, 1 + n + 2);
}

void resp_write_simple(struct buf *b, const char *text)
{
    /* The header forbids CR/LF here; blanking them anyway keeps a caller's
     * mistake from breaking the framing. */
    write_line(b, '+', text);
}

void resp_write_error(struct buf *b, const char *text)
{
    write_line(b, '-', text);
}

void resp_write_errorf(struct buf *b, const char *fmt, ...)
{
    buf_append_char(b, '-');
    size_t start = b->len;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
    blank_line_breaks(b->data + start, b->len - start);
    buf_append(b, "\r\n", 2);
}

void resp_write_int(struct buf *b, int64_t n)
{
    /* Negate in unsigned arithmetic: -INT64_MIN does not fit an int64_t. */
    uint64_t magnitude = n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n;
    write_header(b, ':', n < 0, magnitude);
}

void resp_write_bulk(struct buf *b, const void *p, size_t len)
{
    write_header(b, '$', false, len);
    char *out = buf_reserve(b, len + 2);
    if (len > 0)
        memcpy(out, p, len);
    out[len] = '\r';
    out[len + 1] = '\n';
    buf_commit(b, len + 2);
}

void resp_write_bulk_str(struct buf *b, const char *s)
{
    resp_write_bulk(b, s, strlen(s));
}

void resp_write_null(struct buf *b)
{
    buf_append(b, "$-1\r\n", 5);
}

void resp_write_array_header(struct buf *b, size_t n)
{
    write_header(b, '*', false, n);
}

void resp_write_push_header(struct buf *b, size_t n, bool resp3)
{
    write_header(b, resp3 ? '>' : '*', false, n);
}

void resp_write_map_header(struct buf *b, size_t n)
{
    write_header(b, '%', false, n);
}

/* A bulk of unknown length. RESP has no way to say "length follows", and a
 * fixed-width header would need leading zeros or padding, which some
 * clients reject. So resp_bulk_begin reserves room for a typical header
 * and resp_bulk_end writes the exact one, moving the body only when its
 * length needs a different number of digits than guessed. */
/* The header room reserved up front: "$" + this many digits + CRLF. Most
 * bodies written this way are single events of 100..999 bytes, whose header
 * then needs no move at all. */
#define BULK_GUESS_DIGITS 3

size_t resp_bulk_begin(struct buf *b)
{
    size_t at = b->len;
    buf_reserve(b, 1 + BULK_GUESS_DIGITS + 2);
    buf_commit(b, 1 + BULK_GUESS_DIGITS + 2);
    return at;
}

void resp_bulk_end(struct buf *b, size_t begin_offset)
{
    const size_t guess = 1 + BULK_GUESS_DIGITS + 2;
    size_t body = b->len - begin_offset - guess;
    char tmp[NUM_MAX];
    char *digits = format_u64(tmp, body);
    size_t ndigits = (size_t)(tmp + NUM_MAX - digits);
    size_t header = 1 + ndigits + 2;

    buf_reserve(b, header + 2);
    char *start = b->data + begin_offset;
    if (header != guess) {
        /* Shorter or longer than guessed: move the body once. */
        memmove(start + header, start + guess, body);
        b->len = begin_offset + header + body;
    }
    start[0] = '$';
    memcpy(start + 1, digits, ndigits);
    start[1 + ndigits] = '\r';
    start[2 + ndigits] = '\n';
    start[header + body] = '\r';
    start[header + body + 1] = '\n';
    buf_commit(b, 2);
}
