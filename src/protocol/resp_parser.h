/* resp_parser.h - incremental, bounded parser of RESP2 requests.
 *
 * Parses what a client sends: multibulk arrays of bulk strings
 * ("*2\r\n$3\r\nGET\r\n$2\r\n{}\r\n") and inline commands ("PING\r\n",
 * "GET {\"stream\":\"a\"}\r\n"). No I/O: the caller owns the input buffer and
 * feeds the whole unconsumed input on every call; the parser remembers how far
 * it got, so a command arriving byte by byte costs O(total bytes), not
 * O(bytes^2).
 *
 * Bounds are checked before anything is allocated or waited for: a declared
 * array or bulk length over the limit is an error at once. Arguments beyond
 * RESP_MAX_ARGV are consumed and counted but not stored (most eventflow
 * commands take one argument and ignore the rest; those that take a list
 * refuse one longer than RESP_MAX_ARGV).
 *
 * Inline commands split on spaces/tabs; an argument may be wrapped in double
 * quotes with redis-cli style escapes (\" \\ \n \r \t \xHH) or single quotes,
 * so `ADD {"stream":"a"}` (one token, no spaces) and
 * `ADD "{\"stream\": \"a\"}"` both work. Unquoted inline arguments are used
 * as written.
 *
 * Thread-safety: a parser is used by one thread. */
#ifndef EVENTFLOW_RESP_PARSER_H
#define EVENTFLOW_RESP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most commands take one argument; SUBSCRIBE takes a spec per subscription
 * (a Redis client subscribes its channels in one command). */
#define RESP_MAX_ARGV 64

struct resp_limits {
    size_t max_bulk;      /* largest bulk string accepted, bytes */
    size_t max_args;      /* largest multibulk element count accepted */
    size_t max_inline;    /* longest inline command line, bytes */
};

/* One argument. `ptr` points into the caller's input buffer, or into the
 * parser's own scratch space for quoted inline arguments; either way it is
 * valid until the caller consumes the command's bytes or calls the parser
 * again. Not NUL-terminated. */
struct resp_arg {
    const char *ptr;
    size_t len;
};

struct resp_command {
    size_t argc;                          /* arguments seen, may exceed RESP_MAX_ARGV */
    struct resp_arg argv[RESP_MAX_ARGV];  /* the first min(argc, RESP_MAX_ARGV) */
    size_t consumed;                      /* bytes of input this command used */
};

enum resp_status {
    RESP_INCOMPLETE = 0, /* need more input; nothing to consume yet */
    RESP_COMMAND = 1,    /* *cmd holds a command; consume cmd->consumed bytes */
    RESP_EMPTY = 2,      /* an empty line or empty array: consume cmd->consumed bytes, no reply */
    RESP_ERROR = -1,     /* protocol error: *errmsg says what; the connection must be closed */
};

struct resp_parser {
    /* private */
    const struct resp_limits *limits;
    size_t pos;            /* bytes of the current command parsed so far */
    long long pending;     /* multibulk elements still to read, -1 = not in a multibulk */
    long long bulk_len;    /* length of the bulk being read, -1 = reading its header */
    size_t argc;
    struct resp_arg argv[RESP_MAX_ARGV];
    size_t argv_off[RESP_MAX_ARGV]; /* offsets of multibulk args from the command start */
    char *scratch;         /* owned: decoded quoted inline arguments */
    size_t scratch_cap;
};

/* `limits` is borrowed and must outlive the parser. */
void resp_parser_init(struct resp_parser *p, const struct resp_limits *limits);
void resp_parser_free(struct resp_parser *p);

/* Parse the next command from `in` (all unconsumed input, `len` bytes).
 * On RESP_COMMAND or RESP_EMPTY the parser is reset for the next command; the
 * caller must drop cmd->consumed bytes from the front of its buffer before
 * the next call. On RESP_INCOMPLETE the caller must call again with the same
 * bytes plus whatever arrives. On RESP_ERROR, *errmsg is a static string
 * suitable for "-<errmsg>" and the parser must not be used again except to be
 * freed. */
enum resp_status resp_parser_parse(struct resp_parser *p, const char *in, size_t len,
                                   struct resp_command *cmd, const char **errmsg);

/* Whether argument a is `word`, ignoring ASCII case. */
bool resp_arg_is(const struct resp_arg *a, const char *word);
/* Argument a as an unsigned number in `base` (10 or 16): digits only, no
 * sign, no spaces, no overflow. Returns 0, or -1 and leaves *out alone. */
int resp_arg_u64(const struct resp_arg *a, int base, uint64_t *out);

#endif
