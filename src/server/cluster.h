/* cluster.h - the CLUSTER command family (see cluster.c). Loop thread only. */
#ifndef EVENTFLOW_CLUSTER_H
#define EVENTFLOW_CLUSTER_H

#include <stdbool.h>

#include "common/buf.h"
#include "protocol/resp_parser.h"

struct conn;

void cluster_command(struct conn *c, const struct resp_command *cmd);

/* True on the leader; elsewhere writes -MOVED to the leader (or -NOLEADER)
 * into out and returns false. */
bool cluster_require_leader(struct conn *c, struct buf *out);

#endif
