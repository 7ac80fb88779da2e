/* eventflow/stream.h - deleting streams and setting their retention
 * (docs/protocol.md, "STREAM"): the STREAM commands.
 *
 * Routing and retries are the client's (client.h): delete and set_meta go
 * to the leader, following -MOVED and retrying after -NOLEADER and
 * -TRYAGAIN; set_meta and a hard delete are resent when their outcome is
 * unknown (doing them twice is doing them once), a soft delete is not
 * (EF_EUNKNOWN then: read the stream's meta to find out). A stream that
 * does not exist (or, for a soft delete, is already deleted) is
 * EF_ENOTFOUND; a hard-deleted one EF_EDELETED; a bad setting or a
 * truncate_before past the end EF_EINVAL, with the server's message
 * (eventflow_client_last_error). Nothing is changed on any error. */
#ifndef EVENTFLOW_STREAM_H
#define EVENTFLOW_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "eventflow/export.h"

#ifdef __cplusplus
extern "C" {
#endif

struct eventflow_client;

/* Delete stream: soft (it reads as absent until its next append, which
 * continues its numbering) or hard (appends refused for good). Returns
 * once applied on the leader. */
EF_API int eventflow_stream_delete(struct eventflow_client *c, const char *stream, bool hard);

/* Retention settings to change; a field whose set_* is false is left as
 * it is. max_age_s and max_count of 0 clear the setting. */
struct eventflow_stream_settings {
    bool set_max_age;
    uint64_t max_age_s;        /* events older than this (seconds) are removed */
    bool set_max_count;
    uint64_t max_count;        /* only the newest max_count events are kept */
    bool set_truncate_before;
    uint64_t truncate_before;  /* versions below it are removed */
};

EF_API int eventflow_stream_set_meta(struct eventflow_client *c, const char *stream,
                                     const struct eventflow_stream_settings *settings);

/* A stream's retention state, as the node read from applied it. */
struct eventflow_stream_meta {
    uint64_t length;          /* the version its next event gets */
    uint64_t first_version;   /* the first live version */
    uint64_t live_events;
    uint64_t reclaimed_below; /* versions below have left the store */
    bool deleted;             /* soft-deleted, not appended to since */
    bool hard_deleted;
    uint64_t max_age_s, max_count, truncate_before; /* 0: none */
    int64_t created_at_ns;
};

/* Read stream's meta (from a node chosen by the read preference). */
EF_API int eventflow_stream_meta(struct eventflow_client *c, const char *stream, struct eventflow_stream_meta *out);

#ifdef __cplusplus
}
#endif

#endif
