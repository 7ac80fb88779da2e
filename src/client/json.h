/* json.h - the JSON side of libeventflow: command arguments out, replies in.
 *
 * Requests are written by hand into a struct buf (escaping and UTF-8
 * checks here), so building one allocates nothing but the buffer. Replies
 * are parsed with jansson into the public structs of eventflow/types.h;
 * JSON payloads are returned as the exact bytes the server sent.
 *
 * Functions returning int return EF_OK or an EF_E* code (EF_EINVAL for a
 * bad request, EF_EPROTO for a reply not as documented) with a one-line
 * reason in err. Nothing here keeps state: thread-safe. */
#ifndef EVENTFLOW_CLIENT_JSON_H
#define EVENTFLOW_CLIENT_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "eventflow/types.h"
#include "protocol/resp_reader.h"

#define EF_ERR_LEN 256
/* A generated idempotency key: 32 hex digits. */
#define EF_GEN_KEY_LEN 32

/* Format a reason into err and return code (for one-line returns). */
int ef_json_fail(char err[EF_ERR_LEN], int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Parse text[0..len) as one JSON object (a new reference), or NULL with
 * err set (EF_EPROTO). */
json_t *ef_json_load_object(const char *text, size_t len, char err[EF_ERR_LEN]);

/* EF_OK if reply is an array of strings (bulk or simple), else EF_EPROTO
 * with err set. */
int ef_json_check_bulk_array(const struct resp_value *reply, char err[EF_ERR_LEN]);

/* Fills out[EF_GEN_KEY_LEN + 1] with a fresh key. */
typedef void (*ef_keygen_fn)(void *ctx, char *out);

/* Append the ADD argument {"stream","version","events":[...]} to out.
 * keygen: NULL sends no keys at all; otherwise events without a key get
 * one from it. On error out may hold a partial argument: discard it. */
int ef_json_add(struct buf *out, const char *stream, int64_t expected_version,
                const struct eventflow_new_event *events, size_t n, ef_keygen_fn keygen,
                void *keygen_ctx, char err[EF_ERR_LEN]);

/* Read options sent beside GET/GETALL/LISTSTREAMS fields. */
struct ef_read_opts {
    const char *min_id;  /* NULL or "": none */
    bool linearizable;
    uint32_t timeout_ms; /* 0: the server's default */
};

int ef_json_get(struct buf *out, const char *stream, uint64_t from_version, uint32_t limit,
                const struct ef_read_opts *o, char err[EF_ERR_LEN]);
int ef_json_getall(struct buf *out, const char *after_id, uint32_t limit,
                   const struct ef_read_opts *o, char err[EF_ERR_LEN]);
void ef_json_liststreams(struct buf *out, uint64_t skip, uint32_t limit,
                         const struct ef_read_opts *o);

/* Append s (len bytes) as a JSON string. Returns -1, having appended
 * nothing, if s is not valid UTF-8. */
int ef_json_put_string(struct buf *out, const char *s, size_t len);

/* True if s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
bool ef_utf8_valid(const char *s, size_t len);

/* An events reply (array of bulk JSON objects) into *out (replaced; the
 * caller frees it). */
int ef_json_events(const struct resp_value *reply, struct eventflow_event_list *out,
                   char err[EF_ERR_LEN]);

/* One event object (text) into *ev, whose strings are malloc'd: release
 * them with ef_event_clear. */
int ef_json_event(const char *text, size_t len, struct eventflow_event *ev, char err[EF_ERR_LEN]);
void ef_event_clear(struct eventflow_event *ev);

/* LISTSTREAMS reply into *out. */
int ef_json_streams(const struct resp_value *reply, struct eventflow_stream_list *out,
                    char err[EF_ERR_LEN]);

/* One STATUS object (text) into *out (zeroed first). Unknown keys are
 * ignored, so newer servers may add fields. */
int ef_json_status(const char *text, size_t len, struct eventflow_node_status *out,
                   char err[EF_ERR_LEN]);

/* CLUSTER STATUS reply (array of bulk STATUS objects) into *out. */
int ef_json_status_list(const struct resp_value *reply, struct eventflow_status_list *out,
                        char err[EF_ERR_LEN]);

/* CLUSTER MEMBERS reply into *out. */
int ef_json_members(const struct resp_value *reply, struct eventflow_member_list *out,
                    char err[EF_ERR_LEN]);

#endif
