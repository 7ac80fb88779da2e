/* commands.h - the EventflowDB command set (plus STATUS), dispatched from a
 * parsed request. Loop thread only. */
#ifndef EVENTFLOW_COMMANDS_H
#define EVENTFLOW_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

#include "protocol/resp_parser.h"

struct conn;

enum {
    CMD_ARG = 1 << 0,        /* needs one argument: "insufficient arguments" */
    CMD_NOAUTH = 1 << 1,     /* allowed before AUTH (AUTH, and HELLO with AUTH) */
    CMD_SUBSCRIBED = 1 << 2, /* allowed on a subscribed RESP2 connection */
    CMD_ALONE = 1 << 3,      /* waits until nothing is in flight on the connection */
    CMD_ARITY = 1 << 4,      /* dispatch checks the arity, with Redis's error (Redis's own commands) */
    CMD_ADMIN = 1 << 5,      /* needs the admin right (acl_conn.h); other commands check theirs */
};

/* One row of the command table (commands.c lists them). */
struct command {
    const char *name;
    const char *alias;
    int arity;               /* as Redis's COMMAND counts it: the name included, negative = at least */
    const char *redis_flags; /* COMMAND's flags, space-separated: write, readonly, fast, ... */
    int first_key;           /* COMMAND's first key position: 0 = keyless, 1 = the JSON argument */
    unsigned flags;          /* CMD_* */
    void (*handler)(struct conn *c, const struct resp_command *cmd);
    int timed; /* enum metrics_command: counted and timed for METRICS (0 = ADD, so set on every row) */
    const char *summary;     /* COMMAND DOCS */
};

/* The table, *n rows, for COMMAND. */
const struct command *commands_table(size_t *n);

/* Run one request; its reply goes to c in request order. The argument
 * slices in cmd are only valid during the call. */
void commands_dispatch(struct conn *c, const struct resp_command *cmd);

/* The error reply for a write the node refused to propose (a NODE_E*
 * code from node_propose_*): -MOVED to the leader, -NOLEADER, -TRYAGAIN,
 * -FULL, ... as docs/protocol.md lists them. */
struct buf;
void commands_write_refusal(struct conn *c, struct buf *out, int rc);

/* Whether cmd may start now, given the requests of c still in flight:
 * requests take effect in the order they were sent, except that an ADD may
 * start while earlier ADDs are in flight (raft keeps their order). */
bool commands_may_start(const struct conn *c, const struct resp_command *cmd);

#endif
