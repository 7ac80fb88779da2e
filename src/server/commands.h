/* commands.h - the EventflowDB command set (plus STATUS), dispatched from a
 * parsed request. Loop thread only. */
#ifndef EVENTFLOW_COMMANDS_H
#define EVENTFLOW_COMMANDS_H

#include "protocol/resp_parser.h"

struct conn;

/* Run one request; its reply goes to c in request order. The argument
 * slices in cmd are only valid during the call. */
void commands_dispatch(struct conn *c, const struct resp_command *cmd);

#endif
