/* transfer.h - images of this node's store for peers that need the state
 * behind a snapshot (the other half is fetch.c; the SNAPSHOT command that
 * serves them over the client port is server/snapshot.c).
 *
 * An image is a compacted copy of the committed store, written on a worker
 * thread to an unlinked temporary file under DATA/transfer, so nothing is
 * left behind by a crash; an image nobody reads for a minute is released.
 * At most TRANSFER_MAX_SESSIONS images exist at once.
 *
 * Loop thread only (the copy itself runs on libuv's thread pool). */
#ifndef EVENTFLOW_TRANSFER_H
#define EVENTFLOW_TRANSFER_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct node;
struct transfer;

/* Largest read served, bytes. */
#define TRANSFER_CHUNK_MAX ((uint64_t)1 << 20)

enum {
    TRANSFER_EBUSY = -1,    /* too many images at once */
    TRANSFER_ESTOPPED = -2, /* the node is stopping */
    TRANSFER_EIO = -3,      /* a file or store error (the message says) */
    TRANSFER_ENOENT = -4,   /* no such image (expired, ended, never begun) */
    TRANSFER_ERANGE = -5,   /* beyond the end of the image */
};

/* A ready image. */
struct transfer_image {
    uint64_t id;
    uint64_t size;
    uint32_t crc;       /* CRC-32 of its bytes */
    uint64_t min_index; /* the store's applied index is at least this */
    uint64_t term;      /* this node's raft term when the copy began */
    struct store_stats stats; /* what the image itself records (a backup's header) */
};

struct transfer *transfer_new(struct node *n);
/* Release every image; images still being written end with
 * TRANSFER_ESTOPPED. */
void transfer_stop(struct transfer *t);
/* Free once copies in flight have finished (their callbacks run later on
 * the loop). NULL is a no-op. */
void transfer_free(struct transfer *t);
/* Images released by transfer_end: the fetching side ends one once it has
 * every byte, or to give up on a source. */
uint64_t transfer_served(const struct transfer *t);

/* Write an image for `peer` (named in the log). Returns 0, and later
 * cb(data, 0, NULL, image) or cb(data, TRANSFER_E*, why, NULL); or a
 * TRANSFER_E* code at once with the reason in err (cb never runs). */
typedef void (*transfer_begin_cb)(void *data, int status, const char *why, const struct transfer_image *image);
int transfer_begin(struct transfer *t, const char *peer, transfer_begin_cb cb, void *data, char *err, size_t errlen);

/* The size of ready image id: 0, or TRANSFER_ENOENT. */
int transfer_size(struct transfer *t, uint64_t id, uint64_t *size);

/* What ready image id holds: 0, or TRANSFER_ENOENT. */
int transfer_info(struct transfer *t, uint64_t id, struct transfer_image *out);

/* Copy len bytes of image id at off into dst: 0, TRANSFER_ENOENT,
 * TRANSFER_ERANGE (off + len beyond its end), or TRANSFER_EIO (err says). */
int transfer_read(struct transfer *t, uint64_t id, uint64_t off, void *dst, size_t len, char *err, size_t errlen);

/* Release image id: 0, or TRANSFER_ENOENT. */
int transfer_end(struct transfer *t, uint64_t id);

#endif
