/* commands.h - the EventflowDB command set (plus STATUS), dispatched from a
 * parsed request. Loop thread only. */
#ifndef EVENTFLOW_COMMANDS_H
#define EVENTFLOW_COMMANDS_H

#include <stdbool.h>

#include "protocol/resp_parser.h"

struct conn;

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
