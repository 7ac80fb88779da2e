/* sub_wire.h - what a subscription sends and receives, and the position it
 * resumes from: pure functions, kept apart from the I/O (subscribe.c) so
 * that they can be unit-tested.
 *
 *   - the caller's spec, checked and copied (ef_sub_spec_copy);
 *   - the SUBSCRIBE argument for a spec from a position (ef_sub_spec_json):
 *     always the JSON form, always with markers, since the caught-up
 *     marker is how a subscription from the live end learns its position;
 *   - what arrives on the connection (ef_sub_push_read): a confirmation, a
 *     message, the answer to a keepalive PING, and in a message an event
 *     or a marker (ef_sub_marker_read);
 *   - the position (struct ef_sub_pos): the next version owed (a stream)
 *     or the last id passed (the log), moved forward only, by events and
 *     caught-up markers; an event at or behind it is a duplicate.
 *
 * Functions returning int return EF_OK or an EF_E* code with a reason in
 * err. Nothing here keeps state: thread-safe. */
#ifndef EVENTFLOW_CLIENT_SUB_WIRE_H
#define EVENTFLOW_CLIENT_SUB_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/json.h"
#include "common/buf.h"
#include "eventflow/subscribe.h"
#include "protocol/resp_reader.h"

/* The caller's spec, owned. */
struct ef_sub_spec {
    bool all;            /* the global log; else `stream` */
    char *stream;        /* owned; NULL for the log */
    char **types;        /* owned, n_types of them */
    size_t n_types;
    char *stream_prefix; /* owned, or NULL */
    bool markers;        /* the caller wants the markers too */
    enum eventflow_sub_node node;
};

/* Where to resume. Before `known` (a subscription from the live end that
 * has not heard from its node yet) it resumes from the live end. */
struct ef_sub_pos {
    bool known;
    uint64_t version;     /* a stream: the next version owed */
    char id[EF_ID_LEN + 1]; /* the log: the last id passed; "": before the first */
};

/* Check in and copy it into *out (release with ef_sub_spec_free), and set
 * *pos to where it starts. Errors: EF_EINVAL. */
int ef_sub_spec_copy(const struct eventflow_sub_spec *in, struct ef_sub_spec *out,
                     struct ef_sub_pos *pos, char err[EF_ERR_LEN]);
void ef_sub_spec_free(struct ef_sub_spec *s);

/* Append SUBSCRIBE's argument for spec from pos to out. */
void ef_sub_spec_json(struct buf *out, const struct ef_sub_spec *spec, const struct ef_sub_pos *pos);

/* What one value read from a subscribed connection is. */
enum ef_push {
    EF_PUSH_SUBSCRIBED, /* ["subscribe", spec, count] */
    EF_PUSH_MESSAGE,    /* ["message", spec, json]: *json and *len point into v */
    EF_PUSH_PONG,       /* ["pong", ...]: the answer to a keepalive PING */
    EF_PUSH_ERROR,      /* an error reply */
    EF_PUSH_OTHER,      /* anything else: a protocol error */
};
enum ef_push ef_sub_push_read(const struct resp_value *v, const char **json, size_t *len);

/* A marker: a message whose JSON has "marker" instead of an event's fields. */
struct ef_sub_marker {
    enum eventflow_sub_kind kind; /* EF_SUB_CAUGHT_UP, EF_SUB_STALE or EF_SUB_CURRENT */
    char id[EF_ID_LEN + 1];       /* caught_up: the last id passed, "" for none */
    bool has_version;
    uint64_t version;             /* caught_up on a stream: the next version */
    uint64_t last_contact_ms;     /* stale, current */
};

/* Whether message JSON text[0..len) is a marker: 1 with *m filled, 0 if it
 * is not one (an event), or EF_EPROTO for JSON that is neither (an
 * unknown marker included: the server would have said so in the docs). */
int ef_sub_marker_read(const char *text, size_t len, struct ef_sub_marker *m, char err[EF_ERR_LEN]);

/* An event arrived: true if it is past pos (pos moves to it), false if it
 * is at or behind pos, a duplicate the consumer must not see. */
bool ef_sub_pos_event(struct ef_sub_pos *pos, bool all, const struct eventflow_event *ev);

/* A caught-up marker arrived: everything up to its position was passed on
 * this node, so pos moves there if that is ahead. */
void ef_sub_pos_caught_up(struct ef_sub_pos *pos, bool all, const struct ef_sub_marker *m);

#endif
