/* codec.h - the JSON side of the protocol: decoding command arguments into
 * plain C requests, and encoding stored events and streams as JSON.
 *
 * Decoding uses jansson (strict: duplicate keys, unknown fields, wrong types
 * and out-of-range numbers are rejected with a message naming the field);
 * a plain ADD takes a jansson-free path with the same result
 * (codec_fast.h).
 * Encoding is hand-written for speed: it writes straight into a struct buf.
 *
 * Every parse function returns 0 on success, or -1 with a one-line message in
 * err (never containing CR/LF) suitable as a RESP error text. On success the
 * request owns its strings; free it with the matching *_free (safe on a
 * zeroed or failed request). Functions are thread-safe (no shared state). */
#ifndef EVENTFLOW_CODEC_H
#define EVENTFLOW_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "eventflow.pb-c.h"
#include "common/ulid.h"

#define CODEC_ERR_LEN 256

struct codec_limits {
    size_t max_events;      /* events per ADD, default 1000 */
    size_t max_event_size;  /* bytes of type + data + metadata per event, default 1 MiB */
    size_t max_stream_len;  /* bytes of a stream name, default 256 */
    size_t max_type_len;    /* bytes of an event type, default 256 */
    uint64_t max_read;      /* largest GET/GETALL/LISTSTREAMS limit, default 10000 */
};

/* The defaults above, for callers without options (tests, fuzzers); the
 * server takes its limits from its option table (server/config.c), whose
 * defaults test_config checks against these. */
void codec_limits_default(struct codec_limits *l);

/* An opaque payload, as it arrived (see PayloadKind in eventflow.proto). */
struct codec_payload {
    Eventflow__PayloadKind kind;
    char *bytes; /* owned; NULL for PAYLOAD_NULL */
    size_t len;
};

struct codec_event {
    char *type; /* owned, NUL-terminated, non-empty, no NUL inside */
    struct codec_payload data;
    struct codec_payload metadata;
    bool has_causation_id;
    uint8_t causation_id[ULID_BYTES];
    bool has_correlation_id;
    uint8_t correlation_id[ULID_BYTES];
    char *key; /* owned idempotency key ("key"), or NULL */
};

/* Longest idempotency key accepted. */
#define CODEC_KEY_MAX 64

/* ADD {"stream": s, "version": n | "any", "events": [...]}.
 * Checks, in EventflowDB's order: JSON and types; stream (non-empty,
 * printable ASCII 0x20..0x7E, at most max_stream_len, not the all-zero
 * UUID); events non-empty ("list of events is empty") and at most
 * max_events; each event's type non-empty ("event type cannot be empty"). */
struct codec_add {
    char *stream; /* owned, NUL-terminated */
    size_t stream_len;
    bool any_version;
    uint64_t expected_version;
    size_t n_events;
    struct codec_event *events; /* owned */
};
int codec_parse_add(const char *json, size_t len, const struct codec_limits *lim,
                    struct codec_add *out, char err[CODEC_ERR_LEN]);
void codec_add_free(struct codec_add *a);

/* Read options, accepted by GET, GETALL and LISTSTREAMS beside their own
 * fields (eventflow extensions; all optional):
 *   "min_id": ULID        answer only once this node has applied the event
 *                         with this id (read-your-writes on any node)
 *   "consistency": "local" (default) | "linearizable"
 *                         linearizable reads are served by the leader after
 *                         a barrier; other nodes redirect
 *   "stale_ok": bool      serve even if this node lost contact with the leader
 *   "timeout_ms": n       bound on any wait, 1..60000 (default 1000) */
struct codec_read_opts {
    bool has_min_id;
    uint8_t min_id[ULID_BYTES];
    bool linearizable;
    bool stale_ok;
    uint32_t timeout_ms;
};

/* GET {"stream": s, "version": n (default 0), "limit": n (0 = max_read)}. */
struct codec_get {
    char *stream; /* owned */
    size_t stream_len;
    uint64_t version;
    uint64_t limit; /* resolved: 1..max_read */
    struct codec_read_opts opts;
};
int codec_parse_get(const char *json, size_t len, const struct codec_limits *lim,
                    struct codec_get *out, char err[CODEC_ERR_LEN]);
void codec_get_free(struct codec_get *g);

/* GETALL {"offset": ULID (optional), "limit": n (0 or omitted = 10)}. */
struct codec_getall {
    bool has_offset;
    uint8_t offset[ULID_BYTES];
    uint64_t limit; /* resolved: 1..max_read */
    struct codec_read_opts opts;
};
int codec_parse_getall(const char *json, size_t len, const struct codec_limits *lim,
                       struct codec_getall *out, char err[CODEC_ERR_LEN]);

/* LISTSTREAMS, argument optional: {"skip": n, "limit": n (0 = 25)}.
 * json may be NULL (no argument). */
struct codec_liststreams {
    uint64_t skip;
    uint64_t limit; /* resolved: 1..max_read */
    struct codec_read_opts opts;
};
int codec_parse_liststreams(const char *json, size_t len, const struct codec_limits *lim,
                            struct codec_liststreams *out, char err[CODEC_ERR_LEN]);

/* Append a stored event as one JSON object, keys in the order
 * id, stream, version, type, data, metadata, causation_id, correlation_id,
 * added_at; ids as 26-char ULIDs; added_at as RFC 3339 UTC with 9 fractional
 * digits ("2026-11-23T12:00:00.123456789Z"). */
void codec_write_event(struct buf *b, const Eventflow__StoredEvent *ev);

/* Append {"id": name, "events": length, "added_at": created}. */
void codec_write_stream(struct buf *b, const char *name, size_t name_len,
                        const Eventflow__StreamInfo *info);

/* RFC 3339 with nanoseconds, UTC, into out (at least 31 bytes + NUL). */
void codec_format_time(int64_t ns, char out[40]);

/* Append a JSON string (quotes included, escaped as needed). */
void codec_write_json_string(struct buf *b, const char *s, size_t len);

/* SUBSCRIBE's argument: what one subscription follows, and from where.
 *   "$all"                       the global log, from the live end
 *   <stream name>                that stream, from the live end
 *   {"stream": s, "version": n}  that stream from version n (0: from its
 *                                start; no version: from the live end)
 *   {"all": true, "offset": id}  the global log strictly after that event
 *                                id ("": from the start; none: the live end)
 * Beside those: "types": [t, ...] delivers only events of those types (at
 * most CODEC_SUB_MAX_TYPES); "stream_prefix": p (the global log only) only
 * events of streams whose names begin with p; "markers": true adds the
 * caught-up and staleness messages (docs/protocol.md, "Subscriptions"). */
#define CODEC_SUB_MAX_TYPES 32

enum codec_sub_from {
    CODEC_SUB_FROM_END,     /* events applied after the subscription starts */
    CODEC_SUB_FROM_VERSION, /* a stream's events from `version` */
    CODEC_SUB_FROM_START,   /* the whole global log */
    CODEC_SUB_AFTER_ID,     /* the global log after `after` */
};

struct codec_subscription {
    bool all;                 /* the global log; else `stream` */
    char *stream;             /* owned, NUL-terminated; NULL for the global log */
    size_t stream_len;
    enum codec_sub_from from;
    uint64_t version;         /* CODEC_SUB_FROM_VERSION */
    uint8_t after[ULID_BYTES]; /* CODEC_SUB_AFTER_ID */
    char *stream_prefix;      /* owned, or NULL */
    size_t stream_prefix_len;
    char **types;             /* owned, n_types of them (NUL-terminated) */
    size_t n_types;
    bool markers;
};
int codec_parse_subscription(const char *arg, size_t len, const struct codec_limits *lim,
                             struct codec_subscription *out, char err[CODEC_ERR_LEN]);
void codec_subscription_free(struct codec_subscription *s);

#endif
