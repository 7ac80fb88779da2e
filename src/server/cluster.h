/* cluster.h - the CLUSTER command family (see cluster.c). Loop thread only. */
#ifndef EVENTFLOW_CLUSTER_H
#define EVENTFLOW_CLUSTER_H

#include "protocol/resp_parser.h"

struct conn;

void cluster_command(struct conn *c, const struct resp_command *cmd);

#endif
