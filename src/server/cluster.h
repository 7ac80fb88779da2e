/* cluster.h - the CLUSTER command family (see cluster.c and
 * cluster_change.c). Loop thread only. */
#ifndef EVENTFLOW_CLUSTER_H
#define EVENTFLOW_CLUSTER_H

#include <stdbool.h>

#include "common/buf.h"
#include "protocol/resp_parser.h"

struct conn;

/* CLUSTER MEMBERS | STATUS | ADD | REGISTER | PROMOTE | DEMOTE | REMOVE |
 * TRANSFER (cluster.c lists them). */
void cluster_command(struct conn *c, const struct resp_command *cmd);

/* The subcommands that change the membership (cluster_change.c). */
void cluster_change(struct conn *c, const struct resp_command *cmd);

/* True on the leader; elsewhere writes -MOVED to the leader (or -NOLEADER)
 * into out and returns false. */
bool cluster_require_leader(struct conn *c, struct buf *out);

#endif
