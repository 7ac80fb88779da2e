/* eventflow/backup.h - backups: a consistent copy of a member's store,
 * taken while the cluster runs and written as a backup file that
 * `eventflowd --restore` starts a new cluster from (docs/operations.md,
 * "Backups").
 *
 * The member writes an image of its committed store on a worker thread
 * (one LMDB read transaction: writers go on), then the image is read in
 * chunks of at most 1 MiB (SNAPSHOT BEGIN, INFO, READ, END; docs/
 * protocol.md), so the client's memory stays at one chunk whatever the
 * store's size.
 *
 * Threads and memory: as for the rest of the client (client.h). */
#ifndef EVENTFLOW_BACKUP_H
#define EVENTFLOW_BACKUP_H

#include <stdint.h>

#include "eventflow/client.h"
#include "eventflow/export.h"
#include "eventflow/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a backup holds (its file's header). */
struct eventflow_backup_info {
    char node[EF_ADDR_MAX];      /* the member that served it */
    uint64_t applied_index;      /* raft index of the copy in its cluster */
    uint64_t term;               /* the member's raft term when it began */
    uint64_t events;
    uint64_t streams;
    char checksum[16];           /* the chained checksum, as CHECKSUM shows it */
    char last_id[EF_ID_LEN + 1]; /* "" when empty */
    uint32_t store_format;
    char version[32];            /* the member's eventflowd version */
    uint64_t image_bytes;        /* the store image */
    uint64_t file_bytes;         /* all written to fd */
};

/* Called once with total 0 while the member writes its image (which may
 * take minutes on a large store), then after each chunk: image bytes
 * written so far, of total. */
typedef void (*eventflow_backup_progress_fn)(void *arg, uint64_t done, uint64_t total);

/* Write a backup file to fd (a regular file or a pipe, written in order
 * from where it stands). address: the member to copy from; NULL: a
 * follower that answers, else the leader (a follower's copy costs the
 * leader nothing). progress may be NULL. On success out describes it.
 * A failure may leave part of a file in fd: write to a temporary file
 * and rename it once this returns EF_OK.
 * Errors: EF_EINVAL (bad address or fd), EF_EUNAVAILABLE (no member
 * answered, or the member failed mid-copy), EF_EAUTH, EF_ESERVER (the
 * member could not write its image, or writing fd failed: see the last
 * error), EF_EPROTO (a reply the library does not understand, or the
 * image's bytes do not match its CRC-32). */
EF_API int eventflow_backup(struct eventflow_client *c, const char *address, int fd,
                            eventflow_backup_progress_fn progress, void *arg,
                            struct eventflow_backup_info *out);

#ifdef __cplusplus
}
#endif

#endif
