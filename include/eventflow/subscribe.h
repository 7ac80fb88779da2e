/* eventflow/subscribe.h - subscriptions: the events of a stream or of the
 * global log, pushed by a node as it applies them, resumed elsewhere when
 * that node fails.
 *
 * A subscription catches up from where it starts (the store is read in
 * pages on the server), then goes live; it delivers each matching event
 * once, in order (a stream's by version, the log's by id, which is commit
 * order), and only events a quorum has committed. It is served by one node
 * at a time, chosen like a read (followers by default), over a connection
 * of its own. When that connection breaks, the node dies, stops answering
 * (a PING after a second of silence goes unanswered for the request
 * timeout) or says it has lost the leader, the library subscribes again on
 * another node from the last event it delivered: the next event follows,
 * with no gap and no duplicate. The caller sees none of this unless it asks
 * for markers.
 *
 * Threads. eventflow_subscribe reads the client (its options and its view
 * of the cluster), so call it on the client's thread. The subscription
 * then stands alone: it keeps its own copy of what it took from the client
 * and may be used on another thread, and outlive the client. One thread at
 * a time per subscription (no locks are taken); one thread may drive many
 * subscriptions with short timeouts. Blocking calls are bounded: see
 * eventflow_subscription_next.
 *
 * Errors, memory and signals as client.h says. */
#ifndef EVENTFLOW_SUBSCRIBE_H
#define EVENTFLOW_SUBSCRIBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eventflow/client.h"
#include "eventflow/export.h"
#include "eventflow/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most event types one subscription may filter on. */
#define EF_SUB_MAX_TYPES 32

/* Where a subscription starts. */
enum eventflow_sub_from {
    EF_SUB_FROM_END = 0,     /* events applied after it starts (the serving node's live end) */
    EF_SUB_FROM_START = 1,   /* every event: a stream from version 0, the log from its first */
    EF_SUB_FROM_VERSION = 2, /* a stream's events from `version` on */
    EF_SUB_AFTER_ID = 3,     /* the global log strictly after event `after_id` */
};

/* Which node serves it, like enum eventflow_read_preference but with
 * followers first: subscriptions scale out with the replicas. */
enum eventflow_sub_node {
    EF_SUB_ON_FOLLOWER = 0, /* a follower; the leader when no follower answers */
    EF_SUB_ON_ANY = 1,      /* any member */
    EF_SUB_ON_LEADER = 2,   /* the leader as it was when the subscription (re)started */
};

/* What to follow. A zeroed struct is the global log from the live end,
 * every event, on a follower. Pointers are borrowed for the duration of
 * eventflow_subscribe only. */
struct eventflow_sub_spec {
    const char *stream;        /* NULL: the global log */
    enum eventflow_sub_from from;
    uint64_t version;          /* EF_SUB_FROM_VERSION: the first version delivered */
    const char *after_id;      /* EF_SUB_AFTER_ID: the last event id not delivered */
    const char *const *types;  /* only events of these n_types types; NULL: every type */
    size_t n_types;            /* at most EF_SUB_MAX_TYPES, each non-empty */
    const char *stream_prefix; /* the global log only: only streams whose names begin
                                  with it; NULL: every stream */
    bool markers;              /* also deliver EF_SUB_CAUGHT_UP, EF_SUB_STALE and
                                  EF_SUB_CURRENT messages */
    enum eventflow_sub_node node;
};

/* What eventflow_subscription_next delivered. */
enum eventflow_sub_kind {
    EF_SUB_EVENT = 0,     /* `event` is the next event */
    /* The subscription has delivered everything the serving node had
     * applied: what follows is live. Again after each resume, and after a
     * consumer that fell behind has caught up. */
    EF_SUB_CAUGHT_UP = 1,
    /* The serving node has had no contact with a leader for longer than
     * its --max-staleness, so what it delivers may lag the cluster. The
     * library looks for a node that is current (again every two seconds)
     * and meanwhile keeps delivering what this one applies. */
    EF_SUB_STALE = 2,
    /* No longer stale: the node heard from a leader again, or the
     * subscription moved to a node that has. Only after EF_SUB_STALE. */
    EF_SUB_CURRENT = 3,
};

struct eventflow_sub_message {
    enum eventflow_sub_kind kind;
    const struct eventflow_event *event; /* EF_SUB_EVENT; else NULL */
    const char *node;                    /* "host:port" of the node that sent it */
    uint64_t last_contact_ms;            /* EF_SUB_STALE: the node's time without a leader */
};

struct eventflow_subscription;

/* Subscribe, and return once a node has confirmed it: events applied on
 * that node after this returns are delivered (with EF_SUB_FROM_END, those
 * before are not). Retries on other nodes until the client's retry
 * deadline. On success *out holds the subscription, freed with
 * eventflow_subscription_free; on failure *out is NULL and the client's
 * last error says why.
 * Errors: EF_EINVAL (the spec: a stream and an after_id, the log and a
 * version, a bad id, too many or empty types, a prefix on a stream,
 * invalid UTF-8; or the server refused it, in its words), EF_EAUTH,
 * EF_EUNAVAILABLE (no node subscribed it before the deadline). */
EF_API int eventflow_subscribe(struct eventflow_client *c, const struct eventflow_sub_spec *spec,
                               struct eventflow_subscription **out);

/* The next message: the next event, or with markers a notice. Waits up to
 * timeout_ms for it (negative: until one comes or an error); resubscribing
 * on another node, when needed, may add up to the connect and request
 * timeouts per node tried. Returns EF_OK with *msg pointing at the message
 * (owned by the subscription, valid until the next call on it), or:
 *   EF_ETIMEDOUT     nothing within timeout_ms; call again;
 *   EF_EUNAVAILABLE  no node has served the subscription for the client's
 *                    retry deadline; it keeps its position and keeps
 *                    trying: call again (it says so again after another
 *                    retry deadline);
 *   EF_EAUTH, EF_EINVAL  a node refused to subscribe it: the password or
 *                    the spec (a newer server's rules); calling again
 *                    tries again;
 *   EF_EPROTO        a node sent what the library does not understand; it
 *                    was dropped and calling again resumes elsewhere.
 * eventflow_subscription_last_error says more. */
EF_API int eventflow_subscription_next(struct eventflow_subscription *sub,
                                       const struct eventflow_sub_message **msg, int timeout_ms);

/* The serving node's "host:port", or "" while none serves it. Valid until
 * the next call on the subscription. */
EF_API const char *eventflow_subscription_node(const struct eventflow_subscription *sub);

/* Why the last call failed, or the last time the subscription lost its
 * node and why (empty if neither happened). Valid until the next call. */
EF_API const char *eventflow_subscription_last_error(const struct eventflow_subscription *sub);

/* How many times the subscription has subscribed again after losing its
 * node or leaving a stale one (0 while the first node serves it). */
EF_API uint64_t eventflow_subscription_resumes(const struct eventflow_subscription *sub);

/* Close the connection and free. NULL is a no-op. */
EF_API void eventflow_subscription_free(struct eventflow_subscription *sub);

#ifdef __cplusplus
}
#endif

#endif
