/* info.h - INFO, in Redis's format: the sections Redis Cluster clients and
 * tools read (server, clients, replication, cluster, keyspace). Loop
 * thread only. */
#ifndef EVENTFLOW_INFO_H
#define EVENTFLOW_INFO_H

#include "protocol/resp_parser.h"

struct conn;

/* INFO [section ...]: no section, "default", "all" or "everything" give
 * every section; an unknown section adds nothing, as in Redis. */
void info_command(struct conn *c, const struct resp_command *cmd);

#endif
