/* codec_internal.h - what codec.c shares with the other decoders of the
 * protocol's JSON arguments (codec_subscribe.c). Not part of the codec's
 * interface: nothing outside src/protocol/ includes it. */
#ifndef EVENTFLOW_CODEC_INTERNAL_H
#define EVENTFLOW_CODEC_INTERNAL_H

#include <jansson.h>

#include "protocol/codec.h"

/* Format a one-line message into err (control characters replaced by
 * spaces, so it can go out as a RESP error) and return -1. */
int codec_fail(char err[CODEC_ERR_LEN], const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse a JSON object (strict: duplicate keys refused) into memory of the
 * thread's JSON arena; NULL with err set if it is not one. Release with
 * codec_unload: whatever a decoder keeps, it copies out first. */
json_t *codec_load_object(const char *json, size_t len, char err[CODEC_ERR_LEN]);
void codec_unload(json_t *root);

/* Refuse any top-level key of obj that is not in the NULL-terminated
 * `known` list, naming it. */
int codec_check_fields(json_t *obj, const char *const *known, char err[CODEC_ERR_LEN]);

/* An optional non-negative integer field: 0 whether or not present (out
 * untouched when absent), -1 with err on a wrong type or a negative value. */
int codec_get_uint(json_t *obj, const char *name, uint64_t *out, char err[CODEC_ERR_LEN]);

/* A stream name's rules (see codec_parse_add). */
int codec_check_stream_name(const char *s, size_t len, const struct codec_limits *lim, char err[CODEC_ERR_LEN]);

/* lim, or the defaults written into def when lim is NULL. */
const struct codec_limits *codec_limits_or_default(const struct codec_limits *lim, struct codec_limits *def);

#endif
