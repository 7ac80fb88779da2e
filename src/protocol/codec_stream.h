/* codec_stream.h - the STREAM command's arguments (stream deletion and
 * retention, docs/protocol.md "Deleting and retaining streams"):
 *
 *   STREAM DELETE  {"stream": "s", "hard": false}
 *   STREAM META    {"stream": "s"}    (or the bare name)
 *   STREAM SETMETA {"stream": "s", "max_age": 3600, "max_count": null,
 *                   "truncate_before": 10}
 *
 * SETMETA changes only the fields it names; null clears max_age or
 * max_count (truncate_before cannot be taken back). Decoding checks what a
 * request can get wrong on its own (types, ranges, the name, unknown
 * fields); whether the stream exists and where it ends is the state
 * machine's to say. On error the struct holds nothing to free. Any thread. */
#ifndef EVENTFLOW_CODEC_STREAM_H
#define EVENTFLOW_CODEC_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/codec.h"

enum codec_stream_cmd {
    CODEC_STREAM_DELETE,
    CODEC_STREAM_META,
    CODEC_STREAM_SETMETA,
};

/* Largest max_age (seconds, 100 years) and max_count accepted. */
#define CODEC_STREAM_MAX_AGE_MAX 3155760000ull
#define CODEC_STREAM_MAX_COUNT_MAX (1ull << 62)

struct codec_stream {
    enum codec_stream_cmd cmd;
    char *stream; /* owned */
    bool hard;    /* DELETE */
    /* SETMETA: has_* says the field was given; a null one is given as 0. */
    bool has_max_age, has_max_count, has_truncate_before;
    uint64_t max_age_s, max_count, truncate_before;
};

/* The subcommand named (case-insensitive), or -1. */
int codec_stream_lookup(const char *name, size_t len);

int codec_parse_stream(enum codec_stream_cmd cmd, const char *arg, size_t len, const struct codec_limits *lim,
                       struct codec_stream *out, char err[CODEC_ERR_LEN]);
void codec_stream_free(struct codec_stream *q);

#endif
