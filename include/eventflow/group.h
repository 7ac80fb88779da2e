/* eventflow/group.h - consumer groups: a stream, or the global log, shared
 * among the instances of a consumer (docs/protocol.md, "GROUP").
 *
 * Each event of a group goes to one consumer at a time and stays pending
 * until it is acknowledged (ACK); one not acknowledged within the group's
 * ack wait goes to another consumer, and after max_deliveries deliveries
 * it is parked (dead-lettered) until an operator replays it.
 *
 * Most programs only call eventflow_group_consume: a worker loop that
 * reads events, hands each to a handler, and acknowledges or gives back
 * what the handler says, across leader failovers. The other calls are the
 * single GROUP commands, for setting groups up and for operators.
 *
 * Routing and retries are the client's (client.h): changes (create,
 * destroy, read, ack, nack, replay, seek) go to the leader, following
 * -MOVED and retrying after -NOLEADER and -TRYAGAIN until the client's
 * retry deadline; info, list, pending and parked are reads, served where
 * the client's read preference says. A change whose reply was lost is
 * resent only when that is harmless (ack, seek, read: a lost read's
 * events come back after the ack wait); otherwise it fails with
 * EF_EUNKNOWN.
 *
 * Errors (besides the client's EF_EUNAVAILABLE, EF_EAUTH, EF_EPROTO,
 * EF_ESERVER): EF_ENOTFOUND no group of that name; EF_EEXISTS (create) a
 * group of that name exists; EF_EINVAL a bad argument (checked by the
 * library or refused by the server, in its words), or an ack of an event
 * the group never delivered, or a nack of one that is not pending.
 * Nothing was changed by any of these.
 *
 * Threads and memory: as for the rest of the client (client.h). Inputs
 * are borrowed for the call; outputs are owned by the struct or list they
 * come in, freed with its *_free function (which leaves it empty, so a
 * second free is harmless). */
#ifndef EVENTFLOW_GROUP_H
#define EVENTFLOW_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eventflow/client.h"
#include "eventflow/errors.h"
#include "eventflow/export.h"
#include "eventflow/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest group or consumer name, in bytes (printable ASCII). */
#define EF_GROUP_NAME_MAX 128
/* Most events one read hands out. */
#define EF_GROUP_READ_MAX 1000
/* Most ids one ack, nack or replay names. */
#define EF_GROUP_IDS_MAX 1000
/* max_deliveries that never parks. */
#define EF_GROUP_NEVER_PARK (-1)

/* ---- setting a group up ------------------------------------------------ */

/* Where a group starts (create) or moves to (seek). */
enum eventflow_group_from {
    EF_GROUP_FROM_START = 0, /* the stream's or the log's first event (the default) */
    EF_GROUP_FROM_END = 1,   /* only events appended from now on */
    EF_GROUP_FROM_VERSION = 2, /* a stream's group: this version first */
    EF_GROUP_AFTER_ID = 3,   /* a group over the log: strictly after this event */
};

struct eventflow_group_position {
    enum eventflow_group_from from;
    uint64_t version;     /* EF_GROUP_FROM_VERSION */
    const char *after_id; /* EF_GROUP_AFTER_ID: an event id */
};

/* A new group. Zero-initialize and set what you need. */
struct eventflow_group_spec {
    const char *group;         /* required: 1..EF_GROUP_NAME_MAX bytes */
    const char *stream;        /* one stream's events, in version order; or */
    bool all;                  /* the global log, in commit order */
    const char *stream_prefix; /* all: only streams whose names start with it */
    const char *const *types;  /* only these event types (1..32), or NULL */
    size_t n_types;
    struct eventflow_group_position start; /* zeroed: from the start */
    uint32_t ack_wait_ms;      /* 0: the server's default, 30000 */
    /* Deliveries before an event is parked: 0 the server's default (10),
     * EF_GROUP_NEVER_PARK never. */
    int32_t max_deliveries;
    /* No first deliveries while this many events are pending (a worker
     * that reads without acking cannot pile up the stream); redeliveries
     * go on. 0: no limit. */
    uint32_t max_ack_pending;
};

/* GROUP CREATE. A stream that does not exist yet is a valid group.
 * Errors: EF_EEXISTS, EF_EINVAL, EF_EUNKNOWN, and the client's. */
EF_API int eventflow_group_create(struct eventflow_client *c,
                                  const struct eventflow_group_spec *spec);

/* GROUP DESTROY: the group and all its state (pending, parked).
 * Errors: EF_ENOTFOUND, EF_EUNKNOWN, and the client's. */
EF_API int eventflow_group_destroy(struct eventflow_client *c, const char *group);

/* GROUP DELCONSUMER: forget a consumer (its name, counters and last read,
 * as INFO lists them) that holds no pending event: consumers are
 * otherwise kept for good, so workers with throwaway names (a pod's) pile
 * up. Errors: EF_ENOTFOUND (no such group, or no such consumer), EF_EINVAL
 * (it holds pending events: ack or nack them, or let their ack wait run
 * out; nothing was changed), and the client's. */
EF_API int eventflow_group_delete_consumer(struct eventflow_client *c, const char *group,
                                           const char *consumer);

/* GROUP SEEK: move the position (pending and parked events stay as they
 * are; moving back delivers events again). EF_GROUP_FROM_VERSION for a
 * stream's group, EF_GROUP_AFTER_ID for the log's. Resent when its reply
 * is lost (it sets an absolute position). Errors: EF_ENOTFOUND, EF_EINVAL. */
EF_API int eventflow_group_seek(struct eventflow_client *c, const char *group,
                                const struct eventflow_group_position *to);

/* ---- looking at groups --------------------------------------------------- */

struct eventflow_group_consumer_info {
    const char *name;
    uint64_t pending, delivered, acked;
    char last_seen[EF_TIME_MAX]; /* its latest read, RFC 3339 */
    int64_t idle_ms;             /* since then */
};

/* A group as GROUP INFO (or LIST, without consumers) describes it. Every
 * pointer is owned by the struct (or the list it came in). */
struct eventflow_group_info {
    const char *group;
    bool all;
    const char *stream;        /* a stream's group; NULL for the log's */
    const char *stream_prefix; /* NULL if none */
    uint32_t ack_wait_ms;
    uint32_t max_deliveries;   /* 0: never parks */
    uint32_t max_ack_pending;  /* 0: no limit */
    char created_at[EF_TIME_MAX];
    uint64_t next_version;     /* a stream's group: the next version it delivers */
    char after_id[EF_ID_LEN + 1]; /* the log's: the last event passed, "" for none */
    uint64_t position;         /* the log's: that event's global position */
    uint64_t lag;              /* events past the position (an upper bound with filters) */
    uint64_t pending, parked, delivered, acked;
    struct eventflow_group_consumer_info *consumers; /* INFO only */
    size_t n_consumers;
    const char *json;          /* the server's JSON object, as sent */
};
EF_API void eventflow_group_info_free(struct eventflow_group_info *info);

struct eventflow_group_list {
    struct eventflow_group_info *groups; /* n entries, without consumers */
    size_t n;
};
EF_API void eventflow_group_list_free(struct eventflow_group_list *list);

/* GROUP INFO into *out (free with eventflow_group_info_free).
 * Errors: EF_ENOTFOUND, EF_EINVAL, and the client's. */
EF_API int eventflow_group_info(struct eventflow_client *c, const char *group,
                                struct eventflow_group_info *out);

/* GROUP LIST: every group, in name order. */
EF_API int eventflow_group_list(struct eventflow_client *c, struct eventflow_group_list *out);

/* One pending event (GROUP PENDING). */
struct eventflow_group_pending {
    char id[EF_ID_LEN + 1];
    const char *consumer;        /* its holder; NULL when given back */
    uint32_t deliveries;
    char delivered_at[EF_TIME_MAX]; /* "" if never */
    char deadline[EF_TIME_MAX];  /* when it goes to another consumer; "" if none */
    int64_t idle_ms;
    const char *json;            /* the server's object */
};

/* One parked event (GROUP PARKED). */
struct eventflow_group_parked {
    char id[EF_ID_LEN + 1];
    const char *consumer;        /* its last holder */
    uint32_t deliveries;
    char parked_at[EF_TIME_MAX];
    char reason[16];             /* "max_deliveries" or "nack" */
    const char *json;            /* the server's object */
};

struct eventflow_group_pending_list {
    struct eventflow_group_pending *entries;
    size_t n;
};
EF_API void eventflow_group_pending_list_free(struct eventflow_group_pending_list *list);

struct eventflow_group_parked_list {
    struct eventflow_group_parked *entries;
    size_t n;
};
EF_API void eventflow_group_parked_list_free(struct eventflow_group_parked_list *list);

/* GROUP PENDING: pending events in log order, only consumer's (NULL:
 * anyone's), after event id after (NULL: from the first), at most count
 * (0: 100; at most 10000). Errors: EF_ENOTFOUND, EF_EINVAL. */
EF_API int eventflow_group_pending(struct eventflow_client *c, const char *group,
                                   const char *consumer, const char *after, uint32_t count,
                                   struct eventflow_group_pending_list *out);

/* GROUP PARKED: parked events, after and count as for pending. */
EF_API int eventflow_group_parked(struct eventflow_client *c, const char *group,
                                  const char *after, uint32_t count,
                                  struct eventflow_group_parked_list *out);

/* ---- reading and acknowledging by hand ----------------------------------- */

/* An event a read handed out: the event, and how many times the group has
 * delivered it (1 the first time). */
struct eventflow_group_event {
    struct eventflow_event event; /* strings owned by the batch */
    uint32_t deliveries;
};

struct eventflow_group_batch {
    struct eventflow_group_event *events; /* n entries */
    size_t n;
};
EF_API void eventflow_group_batch_free(struct eventflow_group_batch *batch);

/* GROUP READ: up to count events (0: 10; at most EF_GROUP_READ_MAX) for
 * consumer, waiting up to block_ms (0: not at all; at most an hour) when
 * there is none; an empty batch when none came. Each becomes pending for
 * consumer until acked. Errors: EF_ENOTFOUND, EF_EINVAL, and the client's. */
EF_API int eventflow_group_read(struct eventflow_client *c, const char *group,
                                const char *consumer, uint32_t count, uint32_t block_ms,
                                struct eventflow_group_batch *out);

/* GROUP ACK: retire events ids[0..n) (1..EF_GROUP_IDS_MAX). *acked (may be
 * NULL) receives how many were acknowledged by this call: an event acked
 * before counts 0, so resending is harmless and the library does.
 * Errors: EF_EINVAL (an id the group never delivered: nothing acked),
 * EF_ENOTFOUND, and the client's. */
EF_API int eventflow_group_ack(struct eventflow_client *c, const char *group,
                               const char *const *ids, size_t n, uint64_t *acked);

/* GROUP NACK: give pending events back, to the next read at once, or with
 * park straight to the parked list. Errors: EF_EINVAL (an id that is not
 * pending: nothing changed), EF_ENOTFOUND, EF_EUNKNOWN, and the client's. */
EF_API int eventflow_group_nack(struct eventflow_client *c, const char *group,
                                const char *const *ids, size_t n, bool park, uint64_t *given_back);

/* GROUP REPLAY: parked events back to delivery, their count starting
 * again: ids[0..n), or with n 0 the count oldest (0: 100). *replayed may
 * be NULL. Errors: EF_ENOTFOUND, EF_EINVAL, EF_EUNKNOWN, and the client's. */
EF_API int eventflow_group_replay(struct eventflow_client *c, const char *group,
                                  const char *const *ids, size_t n, uint32_t count,
                                  uint64_t *replayed);

/* ---- the worker loop ----------------------------------------------------- */

/* What the handler says about an event. */
enum eventflow_group_verdict {
    EF_GROUP_ACK = 0,  /* done: acknowledge it */
    EF_GROUP_NACK = 1, /* failed: give it back, for the next read (any consumer) */
    EF_GROUP_PARK = 2, /* failed for good: park it at once */
    EF_GROUP_STOP = 3, /* stop: this event and the rest of the batch are given
                          back, what was handled is acknowledged, and
                          eventflow_group_consume returns EF_OK */
};

/* Called for each event read, in the group's order, on the thread that
 * called eventflow_group_consume. ev is owned by the loop and valid during
 * the call only. Also called with ev NULL when a read came back empty
 * after block_ms: return EF_GROUP_STOP to stop, anything else to go on.
 * The handler must not use the client the loop runs on. */
typedef enum eventflow_group_verdict (*eventflow_group_handler)(
    void *arg, const struct eventflow_group_event *ev);

/* Called once the server has confirmed an acknowledgement (optional):
 * ids[0..n) are retired for good. */
typedef void (*eventflow_group_acked_cb)(void *arg, const char *const *ids, size_t n);

struct eventflow_consume_options {
    const char *group;    /* required */
    const char *consumer; /* required: this worker's name in the group */
    uint32_t count;       /* events per read; 0: 10 */
    uint32_t block_ms;    /* a read's wait for events; 0: 1000 */
    eventflow_group_acked_cb acked; /* NULL: none */
    void *arg;            /* passed to the handler and to acked */
};

/* What a loop did, for metrics and tests. */
struct eventflow_consume_stats {
    uint64_t reads;      /* reads answered */
    uint64_t handled;    /* handler calls with an event */
    uint64_t acked;      /* acknowledgements the server confirmed */
    uint64_t nacked;     /* events given back or parked */
    uint64_t reconnects; /* times the loop lost its node and found the leader again */
};

/* Run the worker loop: read (blocking up to block_ms), call the handler
 * for each event, acknowledge or give back what it says. The
 * acknowledgement of a batch travels with the next read on the same
 * connection, so a cycle costs one round trip.
 *
 * Failover: when the leader fails or changes, the loop finds the new one
 * (following -MOVED, backing off after -NOLEADER and -TRYAGAIN), resends
 * the acknowledgements whose outcome it did not learn, and reads again;
 * events it was handed and never saw (a lost reply) come back after the
 * ack wait. A give-back whose outcome is unknown is not resent: the event
 * comes back after the ack wait anyway. So an event is handled again only
 * if its acknowledgement was not confirmed before it came back.
 *
 * Returns EF_OK once the handler said EF_GROUP_STOP (after acknowledging
 * what it handled), or an error: EF_EUNAVAILABLE when no leader could be
 * reached for the client's retry deadline (calling again resumes: what
 * was not acknowledged comes back after the ack wait), EF_ENOTFOUND (the
 * group does not exist, or was destroyed), EF_EINVAL, EF_EAUTH, EF_EPROTO,
 * EF_ESERVER. stats may be NULL; it is filled in either case.
 *
 * The loop uses c (its connection to the leader) for as long as it runs. */
EF_API int eventflow_group_consume(struct eventflow_client *c,
                                   const struct eventflow_consume_options *opts,
                                   eventflow_group_handler handler,
                                   struct eventflow_consume_stats *stats);

#ifdef __cplusplus
}
#endif

#endif
