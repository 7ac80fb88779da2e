/* store_durable.c - when the LMDB file is durable, and how it comes back
 * after an operating-system crash.
 *
 * Commits use MDB_NOSYNC: an fsync per commit on the loop thread cost a
 * fifth of the write throughput and doubled p99 latency. Without it a
 * process crash loses nothing (the page cache survives), but an OS crash
 * may leave a meta page on disk whose pages are not, so the newest state
 * cannot be trusted. What can be trusted is a *durable point*, made at
 * every Raft snapshot (store_durable_point):
 *
 *   1. commit the batch and open a read transaction on that state: while
 *      it is open LMDB never reuses the pages it references, so they are
 *      not overwritten by later commits;
 *   2. fsync the file: those pages and the meta pages are on disk;
 *   3. save the two meta pages to DATA/store/durable-meta (written, fsynced,
 *      renamed), then release the previous point's read transaction.
 *
 * A marker file holding the kernel's boot id is written when the store
 * opens and removed at a clean close. Finding a marker of another boot at
 * open means the OS went down under a running node: the saved meta pages
 * are written back over the file's, which takes the store to the last
 * durable point, whose pages are intact by (1) and (2). Raft replays
 * everything after it: the point is made before Raft records the snapshot,
 * so the log still holds every later entry. Without a saved point there
 * was never a snapshot, Raft's log is whole, and the store starts empty. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "store/store.h"
#include "store/store_internal.h"

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"
#define BOOT_ID_MAX 64
#define MARKER "boot_id"
#define DURABLE_META "durable-meta"

static int durable_path(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* Read a short file whole (at most cap - 1 bytes, NUL-terminated). Returns
 * the byte count, or -errno. */
static ssize_t durable_read_file(const char *path, char *out, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t got = 0;
    while (got < cap - 1) {
        ssize_t n = read(fd, out + got, cap - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;
            close(fd);
            return -saved;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    out[got] = '\0';
    return (ssize_t)got;
}

/* Write `len` bytes to dir/name atomically and durably (tmp, fsync, rename,
 * fsync the directory). Returns 0 or -errno. */
static int durable_write_file(const char *dir, const char *name, const void *p, size_t len)
{
    char tmp[4200], path[4200];
    if (durable_path(tmp, sizeof tmp, dir, "tmp-durable") != 0 || durable_path(path, sizeof path, dir, name) != 0)
        return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, (const char *)p + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int saved = n < 0 ? errno : EIO;
            close(fd);
            return -saved;
        }
        done += (size_t)n;
    }
    if (fsync(fd) != 0) {
        int saved = errno;
        close(fd);
        return -saved;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0)
        return -errno;
    return store_fsync_dir(dir);
}

static int durable_unlink(const char *dir, const char *name)
{
    char path[4200];
    if (durable_path(path, sizeof path, dir, name) != 0)
        return -ENAMETOOLONG;
    return unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
}

/* Write the saved meta pages back over data.mdb's. */
static int durable_restore_meta(const char *dir, const char *saved, size_t len, char *err, size_t errlen)
{
    char path[4200];
    if (durable_path(path, sizeof path, dir, "data.mdb") != 0) {
        snprintf(err, errlen, "store directory path too long");
        return STORE_EINVAL;
    }
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || pwrite(fd, saved, len, 0) != (ssize_t)len || fsync(fd) != 0) {
        snprintf(err, errlen, "restoring the meta pages of %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return STORE_EIO;
    }
    close(fd);
    return 0;
}

int store_marker_open(const char *dir, char *err, size_t errlen)
{
    char boot[BOOT_ID_MAX], seen[BOOT_ID_MAX], path[4200];
    ssize_t n = durable_read_file(BOOT_ID_PATH, boot, sizeof boot);
    if (n < 0) {
        snprintf(err, errlen, "reading %s: %s", BOOT_ID_PATH, strerror((int)-n));
        return STORE_EIO;
    }
    boot[strcspn(boot, "\n")] = '\0';
    if (durable_path(path, sizeof path, dir, MARKER) != 0) {
        snprintf(err, errlen, "store directory path too long");
        return STORE_EINVAL;
    }
    n = durable_read_file(path, seen, sizeof seen);
    if (n >= 0) {
        seen[strcspn(seen, "\n")] = '\0';
        if (strcmp(seen, boot) != 0) {
            /* The OS went down while the store was open. */
            char *meta = xmalloc(STORE_META_SAVE_MAX);
            char mpath[4200];
            ssize_t len = durable_path(mpath, sizeof mpath, dir, DURABLE_META) == 0
                              ? durable_read_file(mpath, meta, STORE_META_SAVE_MAX)
                              : -ENAMETOOLONG;
            int rc = 0;
            if (len > 0) {
                log_warn("store %s was open when the machine went down (boot %s, now %s): "
                         "going back to its last durable point; raft replays what follows",
                         dir, seen, boot);
                rc = durable_restore_meta(dir, meta, (size_t)len, err, errlen);
            } else {
                log_warn("store %s was open when the machine went down and has no durable point: "
                         "starting it empty; raft replays its whole log", dir);
                if (durable_unlink(dir, "data.mdb") != 0 || durable_unlink(dir, "lock.mdb") != 0) {
                    snprintf(err, errlen, "removing the untrusted store in %s: %s", dir, strerror(errno));
                    rc = STORE_EIO;
                }
            }
            free(meta);
            if (rc != 0)
                return rc;
        }
    } else if (n != -ENOENT) {
        snprintf(err, errlen, "reading %s: %s", path, strerror((int)-n));
        return STORE_EIO;
    }
    /* Name this boot before LMDB is written to, so that an OS crash from
     * now on is noticed at the next open. */
    size_t blen = strlen(boot);
    boot[blen] = '\n';
    int rc = durable_write_file(dir, MARKER, boot, blen + 1);
    if (rc != 0) {
        snprintf(err, errlen, "writing the boot marker in %s: %s", dir, strerror(-rc));
        return STORE_EIO;
    }
    return 0;
}

void store_marker_close(const char *dir)
{
    /* Called after the final sync: the file no longer depends on the page
     * cache, so the next boot may trust it whatever happens meanwhile. */
    if (durable_unlink(dir, MARKER) != 0 || store_fsync_dir(dir) != 0)
        log_warn("store: removing the boot marker of %s failed", dir);
}

int store_durable_forget(const char *dir)
{
    int rc = durable_unlink(dir, DURABLE_META);
    if (rc == 0)
        rc = store_fsync_dir(dir);
    return rc;
}

int store_durable_point(struct store *s)
{
    int rc = store_flush(s);
    if (rc != 0)
        return rc;
    MDB_txn *pin = NULL;
    if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &pin)) != 0)
        return store_fail_mdb(s, rc, "pinning the durable point");
    if ((rc = mdb_env_sync(s->env, 1)) != 0) {
        mdb_txn_abort(pin);
        return store_fail_mdb(s, rc, "syncing");
    }
    /* The two meta pages, as the fsync left them on disk. */
    size_t len = 2 * s->page_size;
    if (len > STORE_META_SAVE_MAX) {
        mdb_txn_abort(pin);
        return store_fail(s, STORE_EINVAL, "page size %zu too large to save the meta pages", s->page_size);
    }
    char path[4200];
    char *meta = xmalloc(len);
    int fd = -1;
    if (durable_path(path, sizeof path, s->dir, "data.mdb") != 0 ||
        (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || pread(fd, meta, len, 0) != (ssize_t)len) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        free(meta);
        mdb_txn_abort(pin);
        return store_fail(s, STORE_EIO, "reading the meta pages: %s", strerror(saved));
    }
    close(fd);
    rc = durable_write_file(s->dir, DURABLE_META, meta, len);
    free(meta);
    if (rc != 0) {
        mdb_txn_abort(pin);
        return store_fail(s, STORE_EIO, "saving the durable point: %s", strerror(-rc));
    }
    /* The new point is saved: the old one's pages may be reused now. */
    if (s->pin != NULL)
        mdb_txn_abort(s->pin);
    s->pin = pin;
    return 0;
}

/* ---- the syncer ------------------------------------------------------------ */

static void *store_syncer_main(void *arg)
{
    struct store *s = arg;
    pthread_mutex_lock(&s->syncer_lock);
    for (;;) {
        while (!s->syncer_dirty && !s->syncer_stop)
            pthread_cond_wait(&s->syncer_wake, &s->syncer_lock);
        if (s->syncer_stop)
            break;
        s->syncer_dirty = false;
        pthread_mutex_unlock(&s->syncer_lock);
        /* Only an optimization: a failure shows again in the durable
         * point's own sync, which is checked. */
        (void)mdb_env_sync(s->env, 1);
        pthread_mutex_lock(&s->syncer_lock);
    }
    pthread_mutex_unlock(&s->syncer_lock);
    return NULL;
}

void store_syncer_start(struct store *s)
{
    s->syncer_dirty = false;
    s->syncer_stop = false;
    s->syncer_running = pthread_create(&s->syncer, NULL, store_syncer_main, s) == 0;
    if (!s->syncer_running)
        log_warn("store: no background syncer thread; snapshots will sync more on the loop thread");
}

void store_syncer_stop(struct store *s)
{
    if (!s->syncer_running)
        return;
    pthread_mutex_lock(&s->syncer_lock);
    s->syncer_stop = true;
    pthread_cond_signal(&s->syncer_wake);
    pthread_mutex_unlock(&s->syncer_lock);
    pthread_join(s->syncer, NULL);
    s->syncer_running = false;
}

void store_syncer_kick(struct store *s)
{
    if (!s->syncer_running)
        return;
    pthread_mutex_lock(&s->syncer_lock);
    s->syncer_dirty = true;
    pthread_cond_signal(&s->syncer_wake);
    pthread_mutex_unlock(&s->syncer_lock);
}
