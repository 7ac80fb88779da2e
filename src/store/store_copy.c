/* store_copy.c - whole-state copies of the store: writing an image of the
 * committed state while the loop goes on, inspecting an image, and
 * replacing the store with one.
 *
 * This is how state moves between nodes once Raft snapshots are only
 * headers (store_snapshot.c): the serving node writes an image on a worker
 * thread (LMDB's copy holds one read transaction, so writers are never
 * blocked and memory stays at LMDB's copy buffers), and the receiving node
 * swaps its file for the image it fetched. */
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

struct store_copy {
    struct store *store; /* borrowed; its environment stays open until end */
};

int store_copy_begin(struct store *s, struct store_copy **out)
{
    if (s == NULL || out == NULL || s->env == NULL)
        return STORE_EINVAL;
    *out = NULL;
    /* The image holds committed data only: commit what is applied. */
    int rc = store_flush(s);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&s->copy_lock);
    s->copies++;
    pthread_mutex_unlock(&s->copy_lock);
    struct store_copy *c = xcalloc(1, sizeof *c);
    c->store = s;
    *out = c;
    return 0;
}

int store_copy_write(struct store_copy *c, int fd, char *err, size_t errlen)
{
    if (c == NULL || fd < 0)
        return STORE_EINVAL;
    /* Runs off the loop thread: report through err, not store_fail. */
    int rc = mdb_env_copyfd2(c->store->env, fd, MDB_CP_COMPACT);
    if (rc != 0) {
        snprintf(err, errlen, "copying the store: %s", mdb_strerror(rc));
        return store_code_from_mdb(rc);
    }
    return 0;
}

void store_copy_end(struct store_copy *c)
{
    if (c == NULL)
        return;
    struct store *s = c->store;
    pthread_mutex_lock(&s->copy_lock);
    s->copies--;
    pthread_cond_broadcast(&s->copy_done);
    pthread_mutex_unlock(&s->copy_lock);
    free(c);
}

void store_copy_wait(struct store *s)
{
    pthread_mutex_lock(&s->copy_lock);
    while (s->copies > 0)
        pthread_cond_wait(&s->copy_done, &s->copy_lock);
    pthread_mutex_unlock(&s->copy_lock);
}

int store_file_open(const char *path, size_t map_size, struct store_file *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    bool writable = map_size > 0;
    const char *what = "mdb_env_create";
    int rc = mdb_env_create(&f->env);
    if (rc != 0)
        goto fail_mdb;
    what = "mdb_env_set_maxdbs";
    if ((rc = mdb_env_set_maxdbs(f->env, STORE_MAX_DBS)) != 0)
        goto fail_mdb;
    what = "mdb_env_set_mapsize";
    if (writable && (rc = mdb_env_set_mapsize(f->env, map_size)) != 0)
        goto fail_mdb;
    /* Without the lock file: nothing else has this file open. Read-only
     * unless asked: inspecting it must not change it. */
    what = "mdb_env_open";
    if ((rc = mdb_env_open(f->env, path, MDB_NOSUBDIR | MDB_NOLOCK | (writable ? 0 : MDB_RDONLY), 0600)) != 0)
        goto fail_mdb;
    what = "mdb_txn_begin";
    if ((rc = mdb_txn_begin(f->env, NULL, writable ? 0 : MDB_RDONLY, &f->txn)) != 0)
        goto fail_mdb;
    what = "opening the meta table";
    if ((rc = mdb_dbi_open(f->txn, "meta", 0, &f->meta)) != 0)
        goto fail_mdb;
    uint32_t format = 0;
    int code = store_meta_format(f->txn, f->meta, &format);
    if (code == 0)
        code = store_meta_read(f->txn, f->meta, &f->m);
    if (code != 0 || format < STORE_FORMAT_OLDEST || format > STORE_FORMAT) {
        snprintf(err, errlen, "%s: %s", path, code != 0 ? "unreadable meta table" : "not a store of this format");
        store_file_close(f);
        return code != 0 ? code : STORE_ECORRUPT;
    }
    return 0;

fail_mdb:
    snprintf(err, errlen, "%s %s: %s", what, path, mdb_strerror(rc));
    store_file_close(f);
    return store_code_from_mdb(rc);
}

void store_file_close(struct store_file *f)
{
    if (f->txn != NULL)
        mdb_txn_abort(f->txn);
    if (f->env != NULL)
        mdb_env_close(f->env);
    f->txn = NULL;
    f->env = NULL;
}

int store_file_stats(const char *path, struct store_stats *out, char *err, size_t errlen)
{
    if (path == NULL || out == NULL)
        return STORE_EINVAL;
    memset(out, 0, sizeof *out);
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return STORE_EIO;
    }
    struct store_file f;
    int rc = store_file_open(path, 0, &f, err, errlen);
    if (rc != 0)
        return rc;
    store_stats_from_meta(&f.m, out);
    out->db_bytes = (uint64_t)st.st_size;
    store_file_close(&f);
    return 0;
}

int store_replace(struct store *s, const char *path)
{
    if (s == NULL || path == NULL)
        return STORE_EINVAL;
    char target[4096];
    int n = snprintf(target, sizeof target, "%s/data.mdb", s->dir);
    if (n < 0 || (size_t)n >= sizeof target)
        return store_fail(s, STORE_EINVAL, "store directory path too long");

    store_env_close(s);
    int saved = 0;
    /* The saved durable point describes the old file: an OS crash after the
     * rename must not apply it to the new one (without a point the store
     * starts empty, and raft's restore fetches the state again). */
    if ((n = store_durable_forget(s->dir)) != 0)
        saved = -n;
    else if (rename(path, target) != 0)
        saved = errno;
    else if ((n = store_fsync_dir(s->dir)) != 0)
        saved = -n;
    /* Reopen whatever is in place now: the new image, or the old file if
     * the rename failed. */
    char err[512];
    int rc = store_env_open(s, err, sizeof err);
    if (saved != 0)
        return store_fail(s, STORE_EIO, "moving %s to %s: %s%s", path, target, strerror(saved),
                          rc != 0 ? "; the old store did not reopen either" : "");
    if (rc != 0)
        return store_fail(s, rc, "opening the replaced store: %s", err);
    /* The saved durable point described the old file. */
    if ((rc = store_durable_point(s)) != 0)
        return rc;
    log_info("store replaced: applied index %" PRIu64 ", %" PRIu64 " events", s->committed.applied_index,
             s->committed.event_count);
    return 0;
}
