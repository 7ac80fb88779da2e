/* codec_fast.h - a decoder for the common shape of ADD that never needs
 * jansson, and the jansson decoder it must agree with.
 *
 * jansson parses byte by byte through a stream callback and builds a tree
 * that the codec walks once and throws away: after its allocations went to
 * the JSON arena it was still a fifth of a single node's loop time per
 * 200-byte ADD, and a quarter of a pipelined leader's. Most ADDs are plain:
 * ASCII strings without escapes, integers, the documented fields. For those
 * codec_fast_parse_add scans the text once, checks everything the jansson
 * path checks, and fills the same struct codec_add.
 *
 * It never refuses anything itself. Whatever is outside its subset (an
 * escape, a byte above 0x7E in a string, a real number, nesting deeper
 * than 16, an object of more than 32 keys) or is not a valid ADD (a
 * syntax error, an unknown or duplicate field, a limit exceeded) makes it
 * return false, and codec_parse_add decodes the text with jansson, which
 * accepts it or produces the error message. So an ADD is accepted exactly
 * when jansson's path accepts it, with the same result: the fuzz target
 * (tests/fuzz/fuzz_add.c) checks that on every input the fast path takes.
 *
 * Both functions are internal to the codec; codec_parse_add is the API. */
#ifndef EVENTFLOW_CODEC_FAST_H
#define EVENTFLOW_CODEC_FAST_H

#include <stdbool.h>
#include <stddef.h>

#include "protocol/codec.h"
#include "protocol/codec_group.h"

/* Decode json as an ADD if it is in the subset and valid: returns true
 * with *out filled (free it with codec_add_free). Otherwise returns false
 * with *out zeroed and nothing allocated. lim must not be NULL. */
bool codec_fast_parse_add(const char *json, size_t len, const struct codec_limits *lim, struct codec_add *out);

/* codec_parse_add through jansson only (the fast path skipped). */
int codec_jansson_parse_add(const char *json, size_t len, const struct codec_limits *lim, struct codec_add *out,
                            char err[CODEC_ERR_LEN]);

/* The same for GROUP READ and GROUP ACK, the group operations consumers
 * send all the time (other subcommands always return false): true with
 * *out filled exactly as the jansson path would, or false with *out
 * zeroed but for cmd. lim must not be NULL. */
bool codec_fast_parse_group(enum codec_group_cmd cmd, const char *json, size_t len, const struct codec_limits *lim,
                            struct codec_group *out);

/* codec_parse_group through jansson only (codec_group.c). */
int codec_jansson_parse_group(enum codec_group_cmd cmd, const char *arg, size_t len, const struct codec_limits *lim,
                              struct codec_group *out, char err[CODEC_ERR_LEN]);

/* The rules both paths decide acceptance by (codec.c). */
bool codec_stream_ok(const char *s, size_t len, const struct codec_limits *lim);
bool codec_key_ok(const char *k, size_t len);
bool codec_event_size_ok(const struct codec_limits *lim, size_t type_len, size_t data_len, size_t metadata_len);

#endif
