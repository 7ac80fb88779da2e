/* groups.h - the GROUP command: consumer groups (docs/protocol.md,
 * "Consumer groups").
 *
 * Operations that change a group (CREATE, DESTROY, READ, ACK, NACK,
 * REPLAY, SEEK) run on the leader, through the log: every one a loop turn
 * takes joins a single GroupOps entry, proposed at the turn's end
 * (groups_turn_end), so many consumers' reads and acks cost one raft entry
 * and one fsync. The state machine decides what each one does
 * (store_group.c); its reply is rendered from the entry's outcome once the
 * entry is committed and applied, so a consumer is handed an event only
 * after a quorum has recorded whom it was handed to.
 *
 * A READ that finds nothing and may block (block_ms) waits here, on the
 * leader: at each turn's end after new entries applied, and when the
 * first pending event's ack wait runs out, the waiting reads whose group
 * has something for them are proposed again. They give up with an empty
 * reply at their deadline, and with -MOVED when this node stops leading.
 *
 * Operations that read a group (INFO, LIST, PENDING, PARKED) are answered
 * by any node from its own store, like GET.
 *
 * Loop thread only. */
#ifndef EVENTFLOW_GROUPS_H
#define EVENTFLOW_GROUPS_H

#include <stdbool.h>

#include "common/buf.h"
#include "protocol/resp_parser.h"

struct conn;
struct server;
struct groups;

struct groups *groups_new(struct server *srv);
/* Answer waiting and queued requests (SHUTDOWN) and let go: the struct
 * itself is freed once the entries still in raft are done (node_close
 * applies and finishes them after the server closed). */
void groups_free(struct groups *gs);

/* GROUP <subcommand> <argument>: the handler in the command table. */
void groups_command(struct conn *c, const struct resp_command *cmd);

/* Whether cmd (a GROUP command) changes a group: such requests pipeline
 * with ADDs on a connection (commands_may_start). */
bool groups_command_is_write(const struct resp_command *cmd);

/* At the end of a loop turn (server.c): wake the waiting reads that have
 * something now, and propose the turn's operations as one entry. */
void groups_turn_end(struct groups *gs);

/* GROUP READs blocked, waiting for events. */
size_t groups_waiting(const struct groups *gs);

/* STATUS fields: "group_reads_waiting":n, (with a trailing comma). */
void groups_write_status(struct groups *gs, struct buf *b);

#endif
