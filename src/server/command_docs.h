/* command_docs.h - COMMAND: the command table (commands.h) as Redis 7
 * describes its own, so that cluster clients know each command's arity,
 * its key position and whether it only reads (clients configured to read
 * from replicas send those to followers). Loop thread only. */
#ifndef EVENTFLOW_COMMAND_DOCS_H
#define EVENTFLOW_COMMAND_DOCS_H

#include "protocol/resp_parser.h"

struct conn;

/* COMMAND, COMMAND COUNT, COMMAND LIST, COMMAND INFO [name ...], COMMAND
 * DOCS [name ...]. Every alias is listed as a command of its own. */
void command_docs_command(struct conn *c, const struct resp_command *cmd);

#endif
