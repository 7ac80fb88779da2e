/* fuzz_resp_reader.c - fuzz target for the reply parser (resp_reader.h).
 *
 * Input: one control byte, then the bytes a server sends. The control byte
 * picks a set of limits. The stream is read twice: fed whole, and fed in
 * pieces whose sizes come from a generator seeded by a hash of the input,
 * taking replies after every piece. Both must give the same replies and end
 * the same way. Every reply is checked against the limits and the value
 * invariants, and written back (with resp_writer where it can express the
 * value) and read again to the same value. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "protocol/resp_reader.h"
#include "protocol/resp_writer.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct resp_reader_limits limit_sets[] = {
    {.max_bulk = 8, .max_elems = 3, .max_depth = 2},
    {0}, /* the defaults */
    {.max_bulk = 1, .max_elems = 1, .max_depth = 1},
    {.max_bulk = 64, .max_elems = 64, .max_depth = 32},
};
#define N_LIMIT_SETS (sizeof limit_sets / sizeof limit_sets[0])

/* The limits as the reader applies them (zero fields mean the defaults). */
static struct resp_reader_limits effective(const struct resp_reader_limits *l)
{
    struct resp_reader_limits e = *l;
    if (e.max_bulk == 0)
        e.max_bulk = (size_t)512 << 20;
    if (e.max_elems == 0)
        e.max_elems = (size_t)16 << 20;
    if (e.max_depth == 0)
        e.max_depth = 8;
    return e;
}

/* Check a value and append a binary-safe description of it. `depth` is the
 * number of arrays around it. */
static void describe(struct buf *out, const struct resp_value *v,
                     const struct resp_reader_limits *lim, unsigned depth)
{
    buf_printf(out, "%d", (int)v->type);
    switch (v->type) {
    case RESP_T_SIMPLE:
    case RESP_T_ERROR:
    case RESP_T_BULK:
        CHECK(v->str != NULL);
        CHECK(v->len <= lim->max_bulk);
        CHECK(v->str[v->len] == '\0');
        CHECK(v->n == 0 && v->elems == NULL);
        if (v->type != RESP_T_BULK)
            CHECK(memchr(v->str, '\n', v->len) == NULL);
        buf_printf(out, "%zu:", v->len);
        buf_append(out, v->str, v->len);
        break;
    case RESP_T_INT:
        CHECK(v->str == NULL && v->elems == NULL);
        buf_printf(out, "%lld", (long long)v->integer);
        break;
    case RESP_T_NULL:
        CHECK(v->str == NULL && v->elems == NULL && v->n == 0);
        break;
    case RESP_T_ARRAY:
    case RESP_T_PUSH:
    case RESP_T_MAP:
        CHECK(depth < lim->max_depth);
        CHECK(v->n <= lim->max_elems);
        CHECK((v->n == 0) == (v->elems == NULL));
        CHECK(v->type != RESP_T_MAP || v->n % 2 == 0);
        buf_printf(out, "[%zu", v->n);
        for (size_t i = 0; i < v->n; i++)
            describe(out, &v->elems[i], lim, depth + 1);
        buf_append_char(out, ']');
        break;
    default:
        CHECK(!"unknown type");
    }
}

static void encode(struct buf *b, const struct resp_value *v)
{
    switch (v->type) {
    case RESP_T_SIMPLE:
    case RESP_T_ERROR:
        if (memchr(v->str, '\r', v->len) == NULL && strlen(v->str) == v->len) {
            if (v->type == RESP_T_SIMPLE)
                resp_write_simple(b, v->str);
            else
                resp_write_error(b, v->str);
        } else {
            /* The writer would blank the CR (or stop at a NUL); the reader
             * accepts both, so write the bytes as they came. */
            buf_append_char(b, v->type == RESP_T_SIMPLE ? '+' : '-');
            buf_append(b, v->str, v->len);
            buf_append(b, "\r\n", 2);
        }
        break;
    case RESP_T_INT:
        resp_write_int(b, v->integer);
        break;
    case RESP_T_BULK:
        resp_write_bulk(b, v->str, v->len);
        break;
    case RESP_T_NULL:
        resp_write_null(b);
        break;
    case RESP_T_ARRAY:
    case RESP_T_PUSH:
        resp_write_push_header(b, v->n, v->type == RESP_T_PUSH);
        for (size_t i = 0; i < v->n; i++)
            encode(b, &v->elems[i]);
        break;
    case RESP_T_MAP:
        resp_write_map_header(b, v->n / 2);
        for (size_t i = 0; i < v->n; i++)
            encode(b, &v->elems[i]);
        break;
    }
}

static void check_round_trip(const struct resp_reader_limits *lim, const struct resp_value *v,
                             const char *want, size_t want_len)
{
    struct buf b;
    buf_init(&b);
    encode(&b, v);
    struct resp_reader r;
    resp_reader_init(&r, lim);
    resp_reader_feed(&r, b.data, b.len);
    struct resp_value again;
    CHECK(resp_reader_next(&r, &again) == 1);
    struct resp_reader_limits e = effective(lim);
    struct buf d;
    buf_init(&d);
    describe(&d, &again, &e, 0);
    CHECK(d.len == want_len && memcmp(d.data, want, want_len) == 0);
    resp_value_free(&again);
    CHECK(resp_reader_next(&r, &again) == 0);
    buf_free(&d);
    resp_reader_free(&r);
    buf_free(&b);
}

static void run(const struct resp_reader_limits *lim, const char *stream, size_t len, bool pieces,
                uint64_t seed, struct buf *trace)
{
    struct resp_reader_limits e = effective(lim);
    struct resp_reader r;
    resp_reader_init(&r, lim);
    size_t fed = 0;
    int rc = 0;
    do {
        size_t piece = len - fed;
        if (pieces) {
            size_t want = fuzz_piece_size(&seed);
            if (want < piece)
                piece = want;
        }
        resp_reader_feed(&r, stream + fed, piece);
        fed += piece;
        struct resp_value v;
        while ((rc = resp_reader_next(&r, &v)) == 1) {
            size_t start = trace->len;
            describe(trace, &v, &e, 0);
            if (!pieces)
                check_round_trip(lim, &v, trace->data + start, trace->len - start);
            buf_append_char(trace, ';');
            resp_value_free(&v);
        }
        CHECK(rc == 0 || rc == -1);
        /* A failed next leaves *out empty and safe to free. */
        CHECK(v.type == 0 && v.str == NULL && v.elems == NULL);
    } while (rc == 0 && fed < len);
    buf_append_str(trace, rc < 0 ? "error" : "end");
    resp_reader_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const struct resp_reader_limits *lim = &limit_sets[data[0] % N_LIMIT_SETS];
    const char *stream = (const char *)data + 1;
    size_t len = size - 1;

    struct buf whole, pieces;
    buf_init(&whole);
    buf_init(&pieces);
    run(lim, stream, len, false, 0, &whole);
    run(lim, stream, len, true, fuzz_hash(data, size), &pieces);
    CHECK(whole.len == pieces.len);
    CHECK(memcmp(whole.data, pieces.data, whole.len) == 0);
    buf_free(&whole);
    buf_free(&pieces);
    return 0;
}
