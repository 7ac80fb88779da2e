/* codec_group.h - the GROUP command's arguments (consumer groups,
 * docs/protocol.md "Consumer groups"): `GROUP <subcommand> <argument>`,
 * where the argument is a JSON object, or for subcommands that need only
 * the group, its bare name.
 *
 * Decoding checks everything a request can get wrong on its own (types,
 * ranges, names, ids); what depends on the state (does the group exist,
 * is that event pending) is the state machine's to say. On error the
 * struct holds nothing to free and err says what is wrong, naming the
 * field. Any thread (jansson and the JSON arena are per-thread). */
#ifndef EVENTFLOW_CODEC_GROUP_H
#define EVENTFLOW_CODEC_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ulid.h"
#include "protocol/codec.h"

enum codec_group_cmd {
    CODEC_GROUP_CREATE,
    CODEC_GROUP_DESTROY,
    CODEC_GROUP_INFO,
    CODEC_GROUP_LIST,
    CODEC_GROUP_READ,
    CODEC_GROUP_ACK,
    CODEC_GROUP_NACK,
    CODEC_GROUP_PENDING,
    CODEC_GROUP_PARKED,
    CODEC_GROUP_REPLAY,
    CODEC_GROUP_SEEK,
    CODEC_GROUP_DELCONSUMER,
};

/* Defaults and limits, as docs/protocol.md states them. */
#define CODEC_GROUP_NAME_MAX 128           /* a group's or a consumer's name, bytes */
#define CODEC_GROUP_ACK_WAIT_DEFAULT 30000 /* ms */
#define CODEC_GROUP_ACK_WAIT_MAX 86400000  /* a day */
#define CODEC_GROUP_MAX_DELIVERIES_DEFAULT 10
#define CODEC_GROUP_READ_DEFAULT 10
#define CODEC_GROUP_READ_MAX 1000          /* events one READ hands out */
#define CODEC_GROUP_BLOCK_MAX 3600000      /* ms a READ may wait: an hour */
#define CODEC_GROUP_IDS_MAX 1000           /* ids one ACK, NACK or REPLAY names */
#define CODEC_GROUP_LIST_DEFAULT 100       /* PENDING and PARKED */
#define CODEC_GROUP_LIST_MAX 10000

/* Where CREATE starts, or SEEK moves to. */
enum codec_group_from {
    CODEC_GROUP_FROM_START,   /* the stream's or the log's first event */
    CODEC_GROUP_FROM_END,     /* past its last event, as applied */
    CODEC_GROUP_FROM_VERSION, /* a stream's group: this version first */
    CODEC_GROUP_AFTER_ID,     /* a global group: strictly after this event */
};

struct codec_group {
    enum codec_group_cmd cmd;
    char *group;                /* owned; NULL only for LIST */
    /* READ: who reads; PENDING: only this holder's (NULL: anyone's);
     * DELCONSUMER: who is forgotten. */
    char *consumer;
    /* CREATE */
    bool all;
    char *stream;               /* owned; NULL for a global group */
    char *stream_prefix;        /* owned, or NULL */
    char **types;               /* owned, n_types (NUL-terminated) */
    size_t n_types;
    uint32_t ack_wait_ms;
    uint32_t max_deliveries;    /* 0: never park */
    uint32_t max_ack_pending;   /* 0: no limit on events pending at once */
    /* CREATE and SEEK */
    enum codec_group_from from;
    uint64_t version;
    uint8_t after[ULID_BYTES];
    /* READ: events wanted; PENDING, PARKED: entries listed; REPLAY
     * without ids: parked events replayed */
    uint32_t count;
    uint64_t block_ms;          /* READ: 0 = answer at once */
    /* ACK, NACK, REPLAY */
    uint8_t (*ids)[ULID_BYTES]; /* owned, n_ids */
    size_t n_ids;
    bool park;                  /* NACK */
    /* PENDING, PARKED: list after this event */
    bool has_after;
};

/* The subcommand named by `name` (case-insensitive); -1 if none. */
int codec_group_lookup(const char *name, size_t len);

/* Whether a subcommand changes the group (goes through the log, on the
 * leader) rather than reading it. */
bool codec_group_is_write(enum codec_group_cmd cmd);

/* Whether a name may name a group or a consumer: 1..CODEC_GROUP_NAME_MAX
 * bytes with a stream name's rules. */
bool codec_group_name_ok(const char *s, size_t len, const struct codec_limits *lim);

/* Decode the argument of `cmd` (arg may be NULL for LIST). */
int codec_parse_group(enum codec_group_cmd cmd, const char *arg, size_t len, const struct codec_limits *lim,
                      struct codec_group *out, char err[CODEC_ERR_LEN]);
void codec_group_free(struct codec_group *g);

#endif
