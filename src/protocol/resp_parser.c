/* resp_parser.c - incremental, bounded parser of RESP2 requests; see resp_parser.h.
 *
 * A request is either a multibulk array ("*<n>\r\n" then n times
 * "$<len>\r\n<len bytes>\r\n") or an inline line ending in "\n" (an optional
 * "\r" before it is dropped). The first byte decides: '*' means multibulk.
 *
 * Resuming. The caller hands us the whole unconsumed input on every call, and
 * that buffer may have moved (it is realloc'ed) since the last call. So the
 * parser keeps offsets, never pointers, between calls:
 *   - multibulk: `pos` is the offset of the next unread byte of the command
 *     (the start of a bulk header, or of a body whose length is in
 *     `bulk_len`), and argv_off[] holds the offsets of stored arguments;
 *     pointers are made from `in` only when the whole command is there. A
 *     header line is at most a couple of dozen bytes, so re-reading an
 *     incomplete one on the next call costs O(1); a bulk body is never
 *     re-read, only its length compared.
 *   - inline: `pos` is how far we already looked for the "\n".
 * Either way each input byte is looked at a bounded number of times, so a
 * command fed one byte per call costs O(length).
 *
 * Bounds. Numbers are read one digit at a time and checked against the limit
 * after every digit, so "*99999999999" is refused as soon as the digit that
 * crosses the limit arrives, never after waiting for (or allocating) the
 * body. An inline line longer than max_inline is refused as soon as that many
 * bytes have arrived without its "\n". Since both checks run in input order,
 * feeding a stream whole or in pieces gives the same commands and the same
 * first error. */
#include "protocol/resp_parser.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"
#include "common/text.h"

/* A length needs at most 19 digits: anything longer cannot fit the limits,
 * and 19 decimal digits always fit in uint64_t, so accumulating never
 * overflows. */
#define MAX_LEN_DIGITS 19

static const char ERR_MBULK_LEN[] = "Protocol error: invalid multibulk length";
static const char ERR_BULK_LEN[] = "Protocol error: invalid bulk length";
static const char ERR_BULK_LIMIT[] = "Protocol error: bulk length exceeds the limit";
static const char ERR_BULK_CRLF[] = "Protocol error: bulk data not followed by CRLF";
static const char ERR_INLINE_SIZE[] = "Protocol error: too big inline request";
static const char ERR_QUOTES[] = "Protocol error: unbalanced quotes in request";
static const char ERR_DOLLAR[] = "Protocol error: expected '$'";

/* "Protocol error: expected '$', got 'x'" for every printable ASCII x, built
 * at compile time so *errmsg can stay a static string as the header
 * promises. Other bytes get ERR_DOLLAR, without the byte itself: putting a NUL
 * or a control byte in an error reply helps nobody. */
#define DOLLAR_FIRST 0x20
#define DOLLAR_COUNT 95 /* 0x20 ' ' .. 0x7e '~' */
#define DOLLAR_MSG(c)                                                                        \
    {'P', 'r', 'o', 't', 'o', 'c', 'o', 'l', ' ', 'e', 'r', 'r', 'o', 'r', ':', ' ', 'e',   \
     'x', 'p', 'e', 'c', 't', 'e', 'd', ' ', '\'', '$', '\'', ',', ' ', 'g', 'o', 't', ' ', \
     '\'', (char)(DOLLAR_FIRST + (c)), '\'', '\0'}
#define DOLLAR_MSG5(c) \
    DOLLAR_MSG(c), DOLLAR_MSG((c) + 1), DOLLAR_MSG((c) + 2), DOLLAR_MSG((c) + 3), DOLLAR_MSG((c) + 4)
#define DOLLAR_MSG25(c) \
    DOLLAR_MSG5(c), DOLLAR_MSG5((c) + 5), DOLLAR_MSG5((c) + 10), DOLLAR_MSG5((c) + 15), DOLLAR_MSG5((c) + 20)

static const char dollar_msgs[DOLLAR_COUNT][38] = {
    DOLLAR_MSG25(0), DOLLAR_MSG25(25), DOLLAR_MSG25(50), DOLLAR_MSG5(75),
    DOLLAR_MSG5(80), DOLLAR_MSG5(85), DOLLAR_MSG5(90),
};

static const char *expected_dollar_error(unsigned char got)
{
    if (got >= DOLLAR_FIRST && got < DOLLAR_FIRST + DOLLAR_COUNT)
        return dollar_msgs[got - DOLLAR_FIRST];
    return ERR_DOLLAR;
}

enum step {
    STEP_ERROR = -1,
    STEP_WAIT = 0, /* the input ends before this item does */
    STEP_DONE = 1,
};

static void parser_reset(struct resp_parser *p)
{
    p->pos = 0;
    p->pending = -1;
    p->bulk_len = -1;
    p->argc = 0;
}

void resp_parser_init(struct resp_parser *p, const struct resp_limits *limits)
{
    p->limits = limits;
    p->scratch = NULL;
    p->scratch_cap = 0;
    memset(p->argv, 0, sizeof p->argv);
    memset(p->argv_off, 0, sizeof p->argv_off);
    parser_reset(p);
}

void resp_parser_free(struct resp_parser *p)
{
    free(p->scratch);
    p->scratch = NULL;
    p->scratch_cap = 0;
}

/* ---- multibulk ---------------------------------------------------------- */

/* Read a "<prefix><number>\r\n" line at `s` (`avail` bytes available).
 * Accepts a plain decimal without sign or leading zeros, up to `limit`, and
 * "-1" when `allow_minus_one` (then *out is -1). Returns STEP_DONE with the
 * value and the line's length, STEP_WAIT when the line is a valid prefix so
 * far, or STEP_ERROR with *err set. */
static enum step read_length_line(const char *s, size_t avail, uint64_t limit, bool allow_minus_one,
                                  const char *bad_msg, const char *limit_msg, long long *out,
                                  size_t *line_len, const char **err)
{
    size_t i = 1; /* s[0] is the '*' or '$' the caller already checked */
    bool minus = false;
    uint64_t value = 0;
    size_t digits = 0;

    if (limit > LLONG_MAX) /* so that *out always fits */
        limit = LLONG_MAX;
    if (i < avail && s[i] == '-') {
        if (!allow_minus_one) {
            *err = bad_msg;
            return STEP_ERROR;
        }
        minus = true;
        i++;
    }
    for (; i < avail && s[i] >= '0' && s[i] <= '9'; i++) {
        if (digits == 1 && value == 0) { /* leading zero */
            *err = bad_msg;
            return STEP_ERROR;
        }
        if (++digits > MAX_LEN_DIGITS) {
            *err = bad_msg;
            return STEP_ERROR;
        }
        value = value * 10 + (uint64_t)(s[i] - '0');
        if (minus && value != 1) { /* the only negative allowed is -1 */
            *err = bad_msg;
            return STEP_ERROR;
        }
        if (!minus && value > limit) {
            *err = limit_msg;
            return STEP_ERROR;
        }
    }
    if (i == avail)
        return STEP_WAIT;
    if (digits == 0 || s[i] != '\r') {
        *err = bad_msg;
        return STEP_ERROR;
    }
    if (i + 1 == avail)
        return STEP_WAIT;
    if (s[i + 1] != '\n') {
        *err = bad_msg;
        return STEP_ERROR;
    }
    *out = minus ? -1 : (long long)value;
    *line_len = i + 2;
    return STEP_DONE;
}

/* Parse one bulk argument at p->pos. Once its header is read, p->pos moves
 * to the body and p->bulk_len holds its length, so waiting for a long body
 * costs one comparison per call. On STEP_DONE p->pos is past the argument. */
static enum step parse_bulk(struct resp_parser *p, const char *in, size_t len, const char **err)
{
    if (p->bulk_len < 0) {
        const char *s = in + p->pos;
        size_t avail = len - p->pos;
        if (avail == 0)
            return STEP_WAIT;
        if (s[0] != '$') {
            *err = expected_dollar_error((unsigned char)s[0]);
            return STEP_ERROR;
        }
        long long n;
        size_t header;
        enum step st = read_length_line(s, avail, p->limits->max_bulk, false, ERR_BULK_LEN,
                                        ERR_BULK_LIMIT, &n, &header, err);
        if (st != STEP_DONE)
            return st;
        p->pos += header;
        p->bulk_len = n;
    }

    /* The body and its CRLF. Written so that nothing overflows even when
     * max_bulk is SIZE_MAX. */
    size_t body = (size_t)p->bulk_len;
    size_t avail = len - p->pos;
    if (avail < 2 || avail - 2 < body)
        return STEP_WAIT;
    if (in[p->pos + body] != '\r' || in[p->pos + body + 1] != '\n') {
        *err = ERR_BULK_CRLF;
        return STEP_ERROR;
    }
    if (p->argc < RESP_MAX_ARGV) {
        p->argv_off[p->argc] = p->pos;
        p->argv[p->argc].len = body;
    }
    p->argc++;
    p->pos += body + 2;
    p->bulk_len = -1;
    return STEP_DONE;
}

static enum resp_status parse_multibulk(struct resp_parser *p, const char *in, size_t len,
                                        struct resp_command *cmd, const char **err)
{
    if (p->pending < 0) {
        long long n;
        size_t header;
        enum step st = read_length_line(in, len, p->limits->max_args, true, ERR_MBULK_LEN,
                                        ERR_MBULK_LEN, &n, &header, err);
        if (st == STEP_ERROR)
            return RESP_ERROR;
        if (st == STEP_WAIT)
            return RESP_INCOMPLETE;
        p->pos = header;
        if (n <= 0) { /* "*0" and "*-1": nothing to run, as redis does */
            cmd->consumed = header;
            return RESP_EMPTY;
        }
        p->pending = n;
    }

    while (p->pending > 0) {
        enum step st = parse_bulk(p, in, len, err);
        if (st == STEP_ERROR)
            return RESP_ERROR;
        if (st == STEP_WAIT)
            return RESP_INCOMPLETE;
        p->pending--;
    }

    size_t stored = p->argc < RESP_MAX_ARGV ? p->argc : RESP_MAX_ARGV;
    for (size_t i = 0; i < stored; i++) {
        cmd->argv[i].ptr = in + p->argv_off[i];
        cmd->argv[i].len = p->argv[i].len;
    }
    cmd->argc = p->argc;
    cmd->consumed = p->pos;
    return RESP_COMMAND;
}

/* ---- inline ------------------------------------------------------------- */

static bool is_inline_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Decode the quoted token starting at line[*i] (the opening quote) into
 * `out`, which has room for the raw token, and move *i past it. Fails when the
 * closing quote is missing or is not followed by a space or the end of the
 * line (redis-cli rejects `"a"b` the same way). */
static bool decode_quoted(const char *line, size_t line_len, size_t *i, char *out, size_t *out_len)
{
    char quote = line[*i];
    size_t j = *i + 1;
    size_t n = 0;

    for (;;) {
        if (j >= line_len)
            return false;
        char c = line[j];
        if (c == quote) {
            j++;
            break;
        }
        if (c == '\\' && j + 1 < line_len) {
            char e = line[j + 1];
            if (quote == '\'') {
                /* Single quotes: only \' is an escape, as in redis-cli. */
                if (e == '\'') {
                    c = '\'';
                    j++;
                }
            } else if (e == 'x' && j + 3 < line_len && text_hex_value(line[j + 2]) >= 0 &&
                       text_hex_value(line[j + 3]) >= 0) {
                c = (char)(text_hex_value(line[j + 2]) * 16 + text_hex_value(line[j + 3]));
                j += 3;
            } else {
                switch (e) {
                case 'n': c = '\n'; break;
                case 'r': c = '\r'; break;
                case 't': c = '\t'; break;
                case 'b': c = '\b'; break;
                case 'a': c = '\a'; break;
                default: c = e; break; /* \" \\ and any other \c mean c */
                }
                j++;
            }
        }
        out[n++] = c;
        j++;
    }
    if (j < line_len && !is_inline_space(line[j]))
        return false;
    *i = j;
    *out_len = n;
    return true;
}

/* Split a complete inline line (without its "\n" or "\r\n"). Unquoted
 * tokens point into `line`; quoted ones are decoded into p->scratch, which is
 * sized for the whole line first so it never moves while tokens point into it. */
static enum resp_status split_inline(struct resp_parser *p, const char *line, size_t line_len,
                                     struct resp_command *cmd, const char **err)
{
    if (p->scratch_cap < line_len) {
        p->scratch = xrealloc(p->scratch, line_len);
        p->scratch_cap = line_len;
    }
    size_t used = 0;
    size_t argc = 0;
    size_t i = 0;

    for (;;) {
        while (i < line_len && is_inline_space(line[i]))
            i++;
        if (i == line_len)
            break;
        const char *ptr;
        size_t n;
        if (line[i] == '"' || line[i] == '\'') {
            char *out = p->scratch + used;
            if (!decode_quoted(line, line_len, &i, out, &n)) {
                *err = ERR_QUOTES;
                return RESP_ERROR;
            }
            ptr = out;
            used += n;
        } else {
            size_t start = i;
            while (i < line_len && !is_inline_space(line[i]))
                i++;
            ptr = line + start;
            n = i - start;
        }
        if (argc < RESP_MAX_ARGV) {
            cmd->argv[argc].ptr = ptr;
            cmd->argv[argc].len = n;
        }
        argc++;
    }
    cmd->argc = argc;
    return argc == 0 ? RESP_EMPTY : RESP_COMMAND;
}

static enum resp_status parse_inline(struct resp_parser *p, const char *in, size_t len,
                                     struct resp_command *cmd, const char **err)
{
    /* Look for the "\n" only in bytes not searched by earlier calls. */
    const char *nl = memchr(in + p->pos, '\n', len - p->pos);
    if (nl == NULL) {
        /* The line will be at least this long (a trailing "\r" may still
         * turn out to be part of the terminator). */
        size_t at_least = len - (in[len - 1] == '\r');
        if (at_least > p->limits->max_inline) {
            *err = ERR_INLINE_SIZE;
            return RESP_ERROR;
        }
        p->pos = len;
        return RESP_INCOMPLETE;
    }
    size_t line_len = (size_t)(nl - in);
    size_t consumed = line_len + 1;
    if (line_len > 0 && in[line_len - 1] == '\r')
        line_len--;
    if (line_len > p->limits->max_inline) {
        *err = ERR_INLINE_SIZE;
        return RESP_ERROR;
    }
    enum resp_status st = split_inline(p, in, line_len, cmd, err);
    if (st != RESP_ERROR)
        cmd->consumed = consumed;
    return st;
}

/* ---- entry point -------------------------------------------------------- */

enum resp_status resp_parser_parse(struct resp_parser *p, const char *in, size_t len,
                                   struct resp_command *cmd, const char **errmsg)
{
    cmd->argc = 0;
    cmd->consumed = 0;
    if (len == 0)
        return RESP_INCOMPLETE;
    if (p->pos > len) {
        /* The caller broke the contract (it dropped bytes we had seen).
         * Starting over from its input is still correct, only slower. */
        parser_reset(p);
    }

    const char *err = NULL;
    enum resp_status st;
    if (in[0] == '*')
        st = parse_multibulk(p, in, len, cmd, &err);
    else
        st = parse_inline(p, in, len, cmd, &err);

    switch (st) {
    case RESP_COMMAND:
    case RESP_EMPTY:
        parser_reset(p);
        break;
    case RESP_ERROR:
        cmd->argc = 0;
        cmd->consumed = 0;
        if (errmsg != NULL)
            *errmsg = err;
        break;
    case RESP_INCOMPLETE:
        break;
    }
    return st;
}

/* ---- arguments ------------------------------------------------------------- */

bool resp_arg_is(const struct resp_arg *a, const char *word)
{
    return strlen(word) == a->len && strncasecmp(a->ptr, word, a->len) == 0;
}

int resp_arg_u64(const struct resp_arg *a, int base, uint64_t *out)
{
    char tmp[24];
    if (a->len == 0 || a->len >= sizeof tmp || !isxdigit((unsigned char)a->ptr[0]))
        return -1;
    memcpy(tmp, a->ptr, a->len);
    tmp[a->len] = '\0';
    char *end;
    errno = 0;
    unsigned long long v = strtoull(tmp, &end, base);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}
