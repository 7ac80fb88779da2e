/* client_cmd.h - the connection commands Redis clients send when they
 * connect or pick a node: CLIENT, READONLY, READWRITE, ASKING, SELECT,
 * ECHO, TIME. Each answers as Redis 7 does, with Redis's error text for
 * what it does not take. Loop thread only. */
#ifndef EVENTFLOW_CLIENT_CMD_H
#define EVENTFLOW_CLIENT_CMD_H

#include <stdbool.h>

#include "common/buf.h"
#include "protocol/resp_parser.h"

struct conn;

/* CLIENT SETNAME|GETNAME|ID|INFO|LIST|SETINFO|NO-EVICT|NO-TOUCH|HELP. */
void client_command(struct conn *c, const struct resp_command *cmd);
/* READONLY, READWRITE, ASKING: +OK (every node serves reads; slots never
 * move). */
void client_readonly(struct conn *c, const struct resp_command *cmd);
/* SELECT 0: +OK; any other database is refused, as in Redis Cluster. */
void client_select(struct conn *c, const struct resp_command *cmd);
void client_echo(struct conn *c, const struct resp_command *cmd);
/* TIME: [seconds, microseconds] of the node's wall clock. */
void client_time(struct conn *c, const struct resp_command *cmd);

/* Redis 7's error for a subcommand of `container` (upper case) that it
 * cannot run: "wrong number of arguments for 'client|setname' command" if
 * sub is one of `known` (NULL-terminated), else "unknown subcommand 'x'.
 * Try CLIENT HELP.". */
void client_subcommand_error(struct buf *out, const char *container, const char *const *known,
                             const struct resp_arg *sub);

/* Name the connection (CLIENT SETNAME, HELLO SETNAME): true, or false
 * after writing Redis's error into out for a name it refuses. */
bool client_set_name(struct conn *c, struct buf *out, const struct resp_arg *name);

#endif
