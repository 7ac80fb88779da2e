/* restore.c - installing a backup file as a new cluster's store (see
 * restore.h). The image is copied into DATA/store/restore.mdb, checked,
 * rebased and renamed to data.mdb, so a store directory holds a data.mdb
 * only once it is whole. */
#include "node/restore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/backup_file.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/ulid.h"
#include "node/node.h"
#include "store/store.h"

#define RESTORE_CHUNK ((size_t)1 << 20)
#define RESTORE_MARKER "restored"
/* Which backup the directory was restored from, kept for good: a node
 * restarted with the same --restore (a service's settings) starts from
 * its store instead of being refused for a non-empty directory. */
#define RESTORE_FROM "restored-from"

static int restore_marker_path(const char *data_dir, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/" RESTORE_MARKER, data_dir);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

bool restore_compaction_pending(const char *data_dir)
{
    char path[4200];
    return restore_marker_path(data_dir, path, sizeof path) == 0 && access(path, F_OK) == 0;
}

int restore_compaction_done(const char *data_dir)
{
    char path[4200];
    if (restore_marker_path(data_dir, path, sizeof path) != 0 || unlink(path) != 0) {
        log_error("removing %s/" RESTORE_MARKER ": %s", data_dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* Create the marker before the store is in place: a crash between the two
 * leaves a marker beside an empty store, which costs one early snapshot. */
static int restore_marker_create(const char *data_dir)
{
    char path[4200];
    int fd = restore_marker_path(data_dir, path, sizeof path) == 0
                 ? open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)
                 : -1;
    if (fd < 0 || fsync(fd) != 0) {
        log_error("--restore: creating %s/" RESTORE_MARKER ": %s", data_dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* 0 if dir is absent or empty; -1 (logged) otherwise. */
static int restore_dir_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL && errno == ENOENT)
        return 0;
    if (d == NULL) {
        log_error("--restore: cannot read the data directory %s: %s", dir, strerror(errno));
        return -1;
    }
    const struct dirent *e;
    char first[256] = "";
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(first, sizeof first, "%s", e->d_name);
            break;
        }
    }
    closedir(d);
    if (first[0] == '\0')
        return 0;
    log_error("--restore: the data directory %s is not empty (it holds %s): a restore starts a new cluster "
              "and never replaces a store; give it an empty or new --data directory",
              dir, first);
    return -1;
}

static int read_full(int fd, void *p, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, (char *)p + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        got += (size_t)n;
    }
    return 0;
}

static int write_full(int fd, const void *p, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, (const char *)p + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        done += (size_t)n;
    }
    return 0;
}

/* The header of the backup open on fd, checked against the file's length
 * and this build. */
static int restore_header(const char *file, int fd, struct backup_header *h)
{
    struct stat st;
    uint8_t head[BACKUP_HEADER_BYTES];
    char err[256];
    if (fstat(fd, &st) != 0) {
        log_error("--restore: %s: %s", file, strerror(errno));
        return -1;
    }
    if ((uint64_t)st.st_size < BACKUP_HEADER_BYTES + BACKUP_TRAILER_BYTES || read_full(fd, head, sizeof head) != 0) {
        log_error("--restore: %s is not an eventflow backup (%jd bytes: too short for one)", file,
                  (intmax_t)st.st_size);
        return -1;
    }
    if (backup_header_decode(head, h, err, sizeof err) != 0) {
        log_error("--restore: %s: %s", file, err);
        return -1;
    }
    if (h->store_format > store_format()) {
        log_error("--restore: %s holds a store of format %" PRIu32 " (eventflowd %s); this build reads formats "
                  "up to %" PRIu32 ": restore it with a newer eventflowd",
                  file, h->store_format, h->eventflow_version, store_format());
        return -1;
    }
    uint64_t want = BACKUP_HEADER_BYTES + h->image_bytes + BACKUP_TRAILER_BYTES;
    if (h->image_bytes > (uint64_t)st.st_size || (uint64_t)st.st_size != want) {
        log_error("--restore: %s is %s: %jd bytes, its header says %" PRIu64, file,
                  (uint64_t)st.st_size < want ? "truncated" : "longer than a backup", (intmax_t)st.st_size, want);
        return -1;
    }
    return 0;
}

/* Copy the image into out, checking both CRC-32s. */
static int restore_copy(const char *file, int fd, const struct backup_header *h, int out)
{
    uint8_t head[BACKUP_HEADER_BYTES], tail[BACKUP_TRAILER_BYTES];
    backup_header_encode(h, head);
    uint32_t file_crc = backup_crc(0, head, sizeof head), image_crc = 0, recorded;
    uint8_t *buf = xmalloc(RESTORE_CHUNK);
    int rc = 0;
    for (uint64_t left = h->image_bytes; left > 0 && rc == 0;) {
        size_t n = left < RESTORE_CHUNK ? (size_t)left : RESTORE_CHUNK;
        if ((rc = read_full(fd, buf, n)) != 0) {
            log_error("--restore: reading %s: %s", file, strerror(-rc));
        } else if ((rc = write_full(out, buf, n)) != 0) {
            log_error("--restore: writing the store: %s", strerror(-rc));
        } else {
            image_crc = backup_crc(image_crc, buf, n);
            file_crc = backup_crc(file_crc, buf, n);
            left -= n;
        }
    }
    free(buf);
    if (rc != 0)
        return -1;
    if (read_full(fd, tail, sizeof tail) != 0 || backup_trailer_decode(tail, &recorded) != 0) {
        log_error("--restore: %s is damaged: its trailer is missing", file);
        return -1;
    }
    if (recorded != file_crc || image_crc != h->image_crc) {
        log_error("--restore: %s is damaged: its CRC-32 is %08" PRIx32 ", recorded %08" PRIx32
                  " (image %08" PRIx32 ", recorded %08" PRIx32 ")",
                  file, file_crc, recorded, image_crc, h->image_crc);
        return -1;
    }
    if (fsync(out) != 0) {
        log_error("--restore: syncing the store: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* The image's own meta must say what the header says. */
static int restore_verify(const char *file, const char *path, const struct backup_header *h)
{
    struct store_stats st;
    char err[512];
    if (store_file_stats(path, &st, err, sizeof err) != 0) {
        log_error("--restore: %s holds no readable store: %s", file, err);
        return -1;
    }
    if (st.event_count != h->event_count || st.stream_count != h->stream_count || st.checksum != h->checksum ||
        st.applied_index != h->applied_index || memcmp(st.last_id, h->last_id, ULID_BYTES) != 0) {
        log_error("--restore: %s is damaged: its store holds %" PRIu64 " events at raft index %" PRIu64
                  ", its header says %" PRIu64 " at %" PRIu64,
                  file, st.event_count, st.applied_index, h->event_count, h->applied_index);
        return -1;
    }
    return 0;
}

static int restore_new_identity(uint8_t id[STORE_CLUSTER_ID_BYTES])
{
    static const uint8_t zero[STORE_CLUSTER_ID_BYTES];
    do {
        if (getrandom(id, STORE_CLUSTER_ID_BYTES, 0) != (ssize_t)STORE_CLUSTER_ID_BYTES) {
            log_error("--restore: getrandom: %s", strerror(errno));
            return -1;
        }
    } while (memcmp(id, zero, STORE_CLUSTER_ID_BYTES) == 0);
    return 0;
}

static int restore_sync_dir(const char *dir)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = dfd >= 0 && fsync(dfd) == 0 ? 0 : -1;
    if (rc != 0)
        log_error("--restore: syncing %s: %s", dir, strerror(errno));
    if (dfd >= 0)
        close(dfd);
    return rc;
}

/* The line DATA/restored-from holds for a backup: what tells it from
 * another (its image's CRC-32, raft index and time taken). */
static void restore_from_line(const struct backup_header *h, char *out, size_t cap)
{
    snprintf(out, cap, "image_crc=%08" PRIx32 " applied_index=%" PRIu64 " taken_ms=%" PRId64 "\n", h->image_crc,
             h->applied_index, h->created_ms);
}

static int restore_from_write(const char *data_dir, const struct backup_header *h)
{
    char path[4200], line[160];
    snprintf(path, sizeof path, "%s/" RESTORE_FROM, data_dir);
    restore_from_line(h, line, sizeof line);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t len = strlen(line);
    if (fd < 0 || write(fd, line, len) != (ssize_t)len || fsync(fd) != 0) {
        log_error("--restore: writing %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* 1 if data_dir was restored from the backup in `file` already, 0 if it
 * holds no record of a restore, -1 (logged) if it was restored from
 * another backup or the file cannot be read. */
static int restore_done_before(const char *file, const char *data_dir)
{
    char path[4200], had[160] = "", want[160];
    snprintf(path, sizeof path, "%s/" RESTORE_FROM, data_dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    bool read_ok = fgets(had, sizeof had, f) != NULL;
    fclose(f);
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        log_error("--restore: cannot open %s: %s", file, strerror(errno));
        return -1;
    }
    struct backup_header h;
    int rc = restore_header(file, fd, &h);
    close(fd);
    if (rc != 0)
        return -1;
    restore_from_line(&h, want, sizeof want);
    if (!read_ok || strcmp(had, want) != 0) {
        log_error("--restore: the data directory %s was restored from another backup (%.*s), not from %s: "
                  "a restore never replaces a store; give it an empty or new --data directory",
                  data_dir, (int)strcspn(had, "\n"), had, file);
        return -1;
    }
    log_info("--restore: the data directory %s was restored from %s already; starting from its store", data_dir,
             file);
    return 1;
}

static int restore_place(const char *file, const char *data_dir, const char *store_dir, int fd,
                         const struct backup_header *h, uint8_t id[STORE_CLUSTER_ID_BYTES])
{
    char tmp[4200], target[4200], err[512];
    snprintf(tmp, sizeof tmp, "%s/restore.mdb", store_dir);
    snprintf(target, sizeof target, "%s/data.mdb", store_dir);
    int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        log_error("--restore: creating %s: %s", tmp, strerror(errno));
        return -1;
    }
    int rc = restore_copy(file, fd, h, out);
    close(out);
    if (rc == 0)
        rc = restore_verify(file, tmp, h);
    if (rc == 0)
        rc = restore_new_identity(id);
    if (rc == 0 && store_file_rebase(tmp, id, err, sizeof err) != 0) {
        log_error("--restore: %s", err);
        rc = -1;
    }
    if (rc == 0)
        rc = restore_marker_create(data_dir);
    bool placed = false;
    if (rc == 0 && rename(tmp, target) != 0) {
        log_error("--restore: moving %s to %s: %s", tmp, target, strerror(errno));
        rc = -1;
    } else if (rc == 0) {
        placed = true;
        if (restore_from_write(data_dir, h) != 0 || restore_sync_dir(store_dir) != 0 ||
            restore_sync_dir(data_dir) != 0)
            rc = -1;
    }
    if (rc != 0) {
        /* Nothing of the restore stays behind. */
        (void)unlink(placed ? target : tmp);
        char marker[4200];
        if (restore_marker_path(data_dir, marker, sizeof marker) == 0)
            (void)unlink(marker);
        snprintf(marker, sizeof marker, "%s/" RESTORE_FROM, data_dir);
        (void)unlink(marker);
    }
    return rc;
}

static double restore_seconds_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

int restore_install(const char *file, const char *data_dir)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int before = restore_done_before(file, data_dir);
    if (before != 0)
        return before > 0 ? 0 : -1;
    if (restore_dir_empty(data_dir) != 0)
        return -1;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        log_error("--restore: cannot open %s: %s", file, strerror(errno));
        return -1;
    }
    struct backup_header h;
    if (restore_header(file, fd, &h) != 0) {
        close(fd);
        return -1;
    }
    char store_dir[4096];
    int len = snprintf(store_dir, sizeof store_dir, "%s/store", data_dir);
    if (len < 0 || (size_t)len >= sizeof store_dir) {
        log_error("--restore: data directory path too long");
        close(fd);
        return -1;
    }
    bool made_data = mkdir(data_dir, 0700) == 0;
    if (!made_data && errno != EEXIST) {
        log_error("--restore: cannot create %s: %s", data_dir, strerror(errno));
        close(fd);
        return -1;
    }
    uint8_t id[STORE_CLUSTER_ID_BYTES];
    int rc = -1;
    if (mkdir(store_dir, 0700) != 0)
        log_error("--restore: cannot create %s: %s", store_dir, strerror(errno));
    else
        rc = restore_place(file, data_dir, store_dir, fd, &h, id);
    close(fd);
    if (rc != 0) {
        /* Leave the data directory as it was: empty (or absent). */
        (void)rmdir(store_dir);
        if (made_data)
            (void)rmdir(data_dir);
        return -1;
    }
    char last[ULID_STR_LEN + 1] = "-", old[2 * STORE_CLUSTER_ID_BYTES + 1] = "-", fresh[2 * STORE_CLUSTER_ID_BYTES + 1];
    if (!ulid_is_zero(h.last_id))
        ulid_format(h.last_id, last);
    static const uint8_t zero[BACKUP_ID_BYTES];
    if (memcmp(h.cluster_id, zero, sizeof zero) != 0)
        node_cluster_id_hex(h.cluster_id, old);
    node_cluster_id_hex(id, fresh);
    log_info("restored %s in %.1f s: %" PRIu64 " events in %" PRIu64 " streams, last id %s, taken at raft index %" PRIu64
             " term %" PRIu64 " of cluster %s by eventflowd %s; this is a new cluster, identity %s",
             file, restore_seconds_since(&t0), h.event_count, h.stream_count, last, h.applied_index, h.term, old,
             h.eventflow_version, fresh);
    return 0;
}
