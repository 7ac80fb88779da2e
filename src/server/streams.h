/* streams.h - the STREAM command: deleting streams and setting their
 * retention (docs/protocol.md "Deleting and retaining streams").
 *
 *   STREAM DELETE  {"stream", "hard"}    leader; +OK once applied
 *   STREAM SETMETA {"stream", "max_age", "max_count", "truncate_before"}
 *                                        leader; +OK once applied
 *   STREAM META    {"stream"} | <name>   any node: the stream's record, JSON
 *
 * The writes are StreamOp entries (store_stream.c): the state machine
 * decides their outcome at apply, alike on every replica, and the reply
 * says what it decided. Rights: the write right on the stream for DELETE
 * and SETMETA, the read right for META. */
#ifndef EVENTFLOW_STREAMS_H
#define EVENTFLOW_STREAMS_H

#include <stdbool.h>

struct conn;
struct resp_command;

void streams_command(struct conn *c, const struct resp_command *cmd);

/* Whether cmd is a STREAM write (kept in order with ADDs). */
bool streams_command_is_write(const struct resp_command *cmd);

#endif
