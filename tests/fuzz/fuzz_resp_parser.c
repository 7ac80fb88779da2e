/* fuzz_resp_parser.c - fuzz target for the request parser (resp_parser.h).
 *
 * Input: one control byte, then the bytes a client sends. The control byte
 * picks a set of limits. The stream is parsed twice:
 *   - whole: all bytes at once, taking commands until none is left;
 *   - in pieces: piece sizes drawn from a generator seeded by a hash of the
 *     input (so a run is deterministic), taking commands after every piece.
 * Every call gets a fresh, exactly sized copy of the unconsumed bytes, as
 * after a realloc, so a pointer kept across calls or a read past the end is
 * caught by the sanitizers. Both runs must report the same commands and the
 * same error. Each command is checked against the contract (consumed within
 * the input, argc within bounds, arguments inside the input or the parser's
 * scratch space) and, when it fits the limits, re-encoded with resp_writer
 * and parsed back to the same arguments. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/mem.h"
#include "protocol/resp_parser.h"
#include "protocol/resp_writer.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct resp_limits limit_sets[] = {
    {.max_bulk = 16, .max_args = 4, .max_inline = 32},
    {.max_bulk = 4096, .max_args = 1024, .max_inline = 4096},
    {.max_bulk = 1, .max_args = 1, .max_inline = 1},
    {.max_bulk = SIZE_MAX, .max_args = SIZE_MAX, .max_inline = SIZE_MAX},
};
#define N_LIMIT_SETS (sizeof limit_sets / sizeof limit_sets[0])

/* Is [p, p + n) within [base, base + base_len)? Compared as integers: the
 * pointers may belong to different objects. */
static bool inside(const char *p, size_t n, const char *base, size_t base_len)
{
    uintptr_t a = (uintptr_t)p;
    uintptr_t b = (uintptr_t)base;
    return base != NULL && a >= b && a - b <= base_len && n <= base_len - (a - b);
}

static void check_command(const struct resp_parser *p, const struct resp_limits *lim,
                          enum resp_status st, const struct resp_command *cmd, const char *in,
                          size_t len, const char *err)
{
    switch (st) {
    case RESP_INCOMPLETE:
        CHECK(cmd->consumed == 0);
        break;
    case RESP_ERROR:
        CHECK(err != NULL);
        CHECK(strncmp(err, "Protocol error", 14) == 0);
        break;
    case RESP_EMPTY:
        CHECK(cmd->consumed > 0 && cmd->consumed <= len);
        CHECK(cmd->argc == 0);
        break;
    case RESP_COMMAND: {
        CHECK(cmd->consumed > 0 && cmd->consumed <= len);
        CHECK(cmd->argc > 0);
        bool multibulk = in[0] == '*';
        if (multibulk) {
            CHECK(cmd->argc <= lim->max_args);
        } else {
            /* Every token takes at least one byte of the line. */
            CHECK(cmd->argc <= cmd->consumed);
            CHECK(in[cmd->consumed - 1] == '\n');
        }
        for (size_t i = 0; i < cmd->argc && i < RESP_MAX_ARGV; i++) {
            const struct resp_arg *a = &cmd->argv[i];
            if (multibulk)
                CHECK(a->len <= lim->max_bulk);
            CHECK(inside(a->ptr, a->len, in, cmd->consumed) ||
                  inside(a->ptr, a->len, p->scratch, p->scratch_cap));
        }
        break;
    }
    default:
        CHECK(!"unknown status");
    }
}

/* Append a binary-safe description of one result to `trace`. */
static void trace_result(struct buf *trace, enum resp_status st, const struct resp_command *cmd,
                         const char *err)
{
    buf_printf(trace, "%d/", (int)st);
    if (st == RESP_ERROR) {
        buf_append_str(trace, err);
        return;
    }
    buf_printf(trace, "%zu/%zu/", cmd->consumed, cmd->argc);
    for (size_t i = 0; i < cmd->argc && i < RESP_MAX_ARGV; i++) {
        buf_printf(trace, "%zu:", cmd->argv[i].len);
        buf_append(trace, cmd->argv[i].ptr, cmd->argv[i].len);
    }
}

/* A command that fits the limits, written back as multibulk, must parse to
 * the same arguments. */
static void check_round_trip(const struct resp_limits *lim, const struct resp_command *cmd)
{
    if (cmd->argc > RESP_MAX_ARGV || cmd->argc > lim->max_args)
        return;
    for (size_t i = 0; i < cmd->argc; i++) {
        if (cmd->argv[i].len > lim->max_bulk)
            return;
    }
    struct buf b;
    buf_init(&b);
    resp_write_array_header(&b, cmd->argc);
    for (size_t i = 0; i < cmd->argc; i++)
        resp_write_bulk(&b, cmd->argv[i].ptr, cmd->argv[i].len);

    struct resp_parser p;
    resp_parser_init(&p, lim);
    struct resp_command again;
    const char *err = NULL;
    CHECK(resp_parser_parse(&p, b.data, b.len, &again, &err) == RESP_COMMAND);
    CHECK(again.consumed == b.len);
    CHECK(again.argc == cmd->argc);
    for (size_t i = 0; i < cmd->argc; i++) {
        CHECK(again.argv[i].len == cmd->argv[i].len);
        CHECK(memcmp(again.argv[i].ptr, cmd->argv[i].ptr, cmd->argv[i].len) == 0);
    }
    resp_parser_free(&p);
    buf_free(&b);
}

/* Take every command available in stream[*done .. avail). Returns false
 * after an error (the run is over). */
static bool drain(struct resp_parser *p, const struct resp_limits *lim, const char *stream,
                  size_t avail, size_t *done, struct buf *trace, bool round_trip)
{
    for (;;) {
        size_t n = avail - *done;
        char *copy = xmalloc(n);
        if (n > 0)
            memcpy(copy, stream + *done, n);
        struct resp_command cmd;
        const char *err = NULL;
        enum resp_status st = resp_parser_parse(p, copy, n, &cmd, &err);
        check_command(p, lim, st, &cmd, copy, n, err);
        if (st != RESP_INCOMPLETE)
            trace_result(trace, st, &cmd, err);
        if (st == RESP_COMMAND && round_trip)
            check_round_trip(lim, &cmd);
        free(copy);
        if (st == RESP_ERROR)
            return false;
        if (st == RESP_INCOMPLETE)
            return true;
        *done += cmd.consumed;
    }
}

/* Parse `stream`; pieces == false: all at once. Returns the trace. */
static void run(const struct resp_limits *lim, const char *stream, size_t len, bool pieces,
                uint64_t seed, struct buf *trace)
{
    struct resp_parser p;
    resp_parser_init(&p, lim);
    size_t done = 0;
    size_t avail = 0;
    bool going = true;
    do {
        if (pieces) {
            size_t piece = fuzz_piece_size(&seed);
            avail = len - avail < piece ? len : avail + piece;
        } else {
            avail = len;
        }
        going = drain(&p, lim, stream, avail, &done, trace, !pieces);
    } while (going && avail < len);
    if (going)
        buf_printf(trace, "rest %zu", len - done);
    resp_parser_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const struct resp_limits *lim = &limit_sets[data[0] % N_LIMIT_SETS];
    const char *stream = (const char *)data + 1;
    size_t len = size - 1;

    struct buf whole, pieces;
    buf_init(&whole);
    buf_init(&pieces);
    run(lim, stream, len, false, 0, &whole);
    run(lim, stream, len, true, fuzz_hash(data, size), &pieces);
    CHECK(whole.len == pieces.len);
    CHECK(whole.len == 0 || memcmp(whole.data, pieces.data, whole.len) == 0);
    buf_free(&whole);
    buf_free(&pieces);
    return 0;
}
