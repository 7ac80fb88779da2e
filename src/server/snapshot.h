/* snapshot.h - the SNAPSHOT command, with which a node copies another's
 * store (node/fetch.c asks, node/transfer.c writes the images) and a
 * backup is taken (libeventflow's eventflow_backup):
 *
 *   SNAPSHOT BEGIN               write an image of the store, then answer
 *                                [id, size, crc32, min applied index]
 *   SNAPSHOT INFO <id>           what the image holds, as one JSON object
 *                                (a backup file's header)
 *   SNAPSHOT READ <id> <off> <n> up to n bytes (at most 1 MiB) of the image
 *   SNAPSHOT END <id>            release the image
 *
 * More BEGINs than the node serves at once answer -BUSY. Memory: one READ
 * reply at a time per request. Loop thread only. */
#ifndef EVENTFLOW_SNAPSHOT_H
#define EVENTFLOW_SNAPSHOT_H

#include "protocol/resp_parser.h"

struct conn;

void snapshot_command(struct conn *c, const struct resp_command *cmd);

#endif
