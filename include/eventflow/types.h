/* eventflow/types.h - the plain C values libeventflow takes and returns.
 *
 * Inputs are borrowed: the library copies what it needs before the call
 * returns, so the caller may free or reuse them at once.
 *
 * Outputs come in lists (eventflow_event_list and friends) that own every
 * string their entries point to. The caller frees a list with its *_free
 * function, which also resets it to empty, so freeing twice is harmless. A
 * zeroed list is valid and empty. On a failed call the output list is left
 * empty. */
#ifndef EVENTFLOW_TYPES_H
#define EVENTFLOW_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eventflow/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Length of an event id: a ULID in Crockford base32 text. */
#define EF_ID_LEN 26
/* Longest idempotency key, in bytes. */
#define EF_KEY_MAX 64
/* Room for a "host:port" address, NUL included. */
#define EF_ADDR_MAX 272
/* Room for an RFC 3339 timestamp with nanoseconds, NUL included. */
#define EF_TIME_MAX 40
/* The expected version that skips the check ("version": "any"). */
#define EF_VERSION_ANY INT64_C(-1)

/* How an opaque payload (event data or metadata) is carried. The server
 * returns each payload as it was sent. */
enum eventflow_payload_kind {
    EF_PAYLOAD_NULL = 0,   /* none: bytes and len are ignored (in) / NULL and 0 (out) */
    EF_PAYLOAD_STRING = 1, /* bytes are a string: must be valid UTF-8, may contain NUL */
    EF_PAYLOAD_JSON = 2,   /* bytes are one JSON value (object, array, number,
                              true, false); validated before sending */
};

struct eventflow_payload {
    enum eventflow_payload_kind kind;
    const char *bytes; /* in: borrowed; out: owned by the list, NUL-terminated
                          after len bytes */
    size_t len;
};

/* One event to append. Zero-initialize and set what you need. */
struct eventflow_new_event {
    const char *type;                  /* required, non-empty */
    struct eventflow_payload data;     /* zeroed: null */
    struct eventflow_payload metadata; /* zeroed: null */
    const char *causation_id;          /* an event id (ULID), or NULL: the event's own id */
    const char *correlation_id;        /* an event id (ULID), or NULL: the causation id */
    /* Idempotency key: 1..EF_KEY_MAX bytes of printable ASCII (0x20..0x7E),
     * unique per event you mean to write once. NULL: the library generates
     * one (128 random bits, hex). Give your own when you want to retry
     * yourself after EF_EUNKNOWN, e.g. across process restarts. */
    const char *key;
};

/* One stored event. Every pointer is owned by the list it came in. */
struct eventflow_event {
    char id[EF_ID_LEN + 1];             /* ULID; ids grow in commit order */
    const char *stream;
    uint64_t version;                   /* 0-based position in its stream */
    const char *type;
    struct eventflow_payload data;
    struct eventflow_payload metadata;
    char causation_id[EF_ID_LEN + 1];
    char correlation_id[EF_ID_LEN + 1];
    char added_at[EF_TIME_MAX];         /* RFC 3339, UTC, nanoseconds */
    const char *key;                    /* idempotency key if the server returned one, else NULL */
};

struct eventflow_event_list {
    struct eventflow_event *events; /* owned: n entries */
    size_t n;
};
EF_API void eventflow_event_list_free(struct eventflow_event_list *list);

/* One stream as LISTSTREAMS reports it. */
struct eventflow_stream_info {
    const char *name;              /* owned by the list */
    uint64_t events;               /* the stream's length */
    char added_at[EF_TIME_MAX];    /* time of its first event */
};

struct eventflow_stream_list {
    struct eventflow_stream_info *streams; /* owned: n entries */
    size_t n;
};
EF_API void eventflow_stream_list_free(struct eventflow_stream_list *list);

/* CHECKSUM: the replica checksum after the latest event. */
struct eventflow_checksum {
    char last_id[EF_ID_LEN + 1]; /* all zeroes for an empty store */
    char checksum[16];           /* base32 CRC-32, e.g. "AAAAAAA=" */
};

/* One node as STATUS (or CLUSTER STATUS) reports it. Fields the node did
 * not report are zero or empty. */
struct eventflow_node_status {
    uint64_t id;
    char state[16];    /* "leader", "follower", "candidate", "unavailable";
                          "unreachable" in a cluster status for a member that
                          did not answer (see error) */
    char role[16];     /* "voter", "standby", "spare": cluster status only */
    bool ready;        /* a leader that has applied its predecessors' entries */
    bool stale;        /* no leader contact for longer than --max-staleness */
    uint64_t last_contact_ms;
    uint64_t leader_id;
    char leader_address[EF_ADDR_MAX];
    char client_address[EF_ADDR_MAX];
    char raft_address[EF_ADDR_MAX];
    uint64_t term;
    uint64_t last_index;
    uint64_t commit_index;
    uint64_t applied_index;
    uint64_t snapshot_index;
    uint64_t store_applied_index;
    uint64_t events;
    uint64_t streams;
    char checksum[16];
    char last_id[EF_ID_LEN + 1];
    uint64_t db_bytes;
    uint64_t map_bytes;      /* --map-size */
    uint64_t map_room_bytes; /* what the store can still take (map or disk);
                                the leader refuses ADDs near 0 (-FULL) */
    uint64_t uptime_ms;
    char version[32];
    char error[128];   /* why an unreachable member did not answer */
    char tls_address[EF_ADDR_MAX];        /* its --tls-advertise; empty without TLS */
    char leader_tls_address[EF_ADDR_MAX]; /* the leader's; empty when unknown */
    char state_digest[17];       /* hex digest of group and user state (CHECKSUM STATE);
                                    empty from a server that does not keep one */
    uint64_t state_digest_since; /* the applied index it starts from */
};

struct eventflow_status_list {
    struct eventflow_node_status *nodes; /* owned: n entries */
    size_t n;
};
EF_API void eventflow_status_list_free(struct eventflow_status_list *list);

enum eventflow_role {
    EF_ROLE_UNKNOWN = 0,
    EF_ROLE_VOTER = 1,   /* votes and replicates */
    EF_ROLE_STANDBY = 2, /* replicates, does not vote */
    EF_ROLE_SPARE = 3,   /* neither: a placeholder in the configuration */
};

/* One member of the cluster configuration (CLUSTER MEMBERS). */
struct eventflow_member {
    uint64_t id;
    char raft_address[EF_ADDR_MAX];
    char client_address[EF_ADDR_MAX]; /* empty while the member has not registered it */
    enum eventflow_role role;
    char incarnation[17];             /* hex; empty when unknown */
    bool committed;                   /* false while this configuration is a change
                                       * not yet committed by a quorum (servers that
                                       * do not say are taken as committed) */
    char tls_address[EF_ADDR_MAX];    /* TLS client address; empty without one */
};

struct eventflow_member_list {
    struct eventflow_member *members; /* owned: n entries */
    size_t n;
};
EF_API void eventflow_member_list_free(struct eventflow_member_list *list);

#ifdef __cplusplus
}
#endif

#endif
