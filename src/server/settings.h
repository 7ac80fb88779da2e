/* settings.h - CONFIG GET and CONFIG SET: the cluster-wide settings, read
 * from this node's store and changed through the log (see settings.c).
 * Loop thread only. */
#ifndef EVENTFLOW_SETTINGS_H
#define EVENTFLOW_SETTINGS_H

#include "protocol/resp_parser.h"

struct conn;

void settings_command(struct conn *c, const struct resp_command *cmd);

#endif
