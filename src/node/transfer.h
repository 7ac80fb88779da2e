/* transfer.h - serving copies of this node's store to peers that need the
 * state behind a snapshot (the other half is fetch.c).
 *
 *   SNAPSHOT BEGIN               write an image of the store (worker thread),
 *                                then answer [id, size, crc32, min index]
 *   SNAPSHOT READ <id> <off> <n> up to n bytes (at most 1 MiB) of the image
 *   SNAPSHOT END <id>            release the image
 *
 * The image is an unlinked temporary file under DATA/transfer, so nothing
 * is left behind by a crash; an image nobody reads for a minute is
 * released. At most TRANSFER_MAX_SESSIONS images exist at once; more
 * BEGINs answer -BUSY. Memory: one READ reply at a time per request.
 *
 * Loop thread only. */
#ifndef EVENTFLOW_TRANSFER_H
#define EVENTFLOW_TRANSFER_H

#include <stdint.h>

#include "protocol/resp_parser.h"

struct conn;
struct node;
struct transfer;

/* Largest READ answered, bytes. */
#define TRANSFER_CHUNK_MAX ((uint64_t)1 << 20)

struct transfer *transfer_new(struct node *n);
/* Release every image; BEGINs still copying answer an error. */
void transfer_stop(struct transfer *t);
/* Free once copies in flight have finished (their callbacks run later on
 * the loop). NULL is a no-op. */
void transfer_free(struct transfer *t);
/* Images released by END: the fetching side sends it once it has every
 * byte, or to give up on a source. */
uint64_t transfer_served(const struct transfer *t);

/* The SNAPSHOT command. */
void transfer_command(struct conn *c, const struct resp_command *cmd);

#endif
