/* store_rebase.c - turning a store image into the first state of a new
 * cluster (see store_file_rebase in store.h).
 *
 * The image's applied index counts entries of the old cluster's raft log;
 * a restored node bootstraps a new log whose entries start at 1, and
 * store_apply skips every entry at or below the applied index, so the
 * index must go back to 0. The identity is new so that no member of the
 * old cluster can talk raft to the new one (raft_tcp.h's hello). Ids stay
 * monotonic without help: a new leader's id generator starts past the
 * store's last id (role.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store.h"
#include "store/store_internal.h"

/* Room for the meta rewrite and the freed members pages. */
#define REBASE_MAP_SLACK ((size_t)64 << 20)

int store_file_rebase(const char *path, const uint8_t cluster_id[STORE_CLUSTER_ID_BYTES], char *err,
                      size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return STORE_EIO;
    }
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi meta, members;
    const char *what = "mdb_env_create";
    int rc = mdb_env_create(&env);
    if (rc != 0)
        goto fail_mdb;
    what = "mdb_env_set_maxdbs";
    if ((rc = mdb_env_set_maxdbs(env, STORE_MAX_DBS)) != 0)
        goto fail_mdb;
    what = "mdb_env_set_mapsize";
    if ((rc = mdb_env_set_mapsize(env, (size_t)st.st_size + REBASE_MAP_SLACK)) != 0)
        goto fail_mdb;
    /* Without the lock file: the image is not in a store directory yet and
     * nothing else has it open. */
    what = "mdb_env_open";
    if ((rc = mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOLOCK, 0600)) != 0)
        goto fail_mdb;
    what = "mdb_txn_begin";
    if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
        goto fail_mdb;
    what = "opening the meta table";
    if ((rc = mdb_dbi_open(txn, "meta", 0, &meta)) != 0)
        goto fail_mdb;
    struct store_meta m;
    uint32_t format = 0;
    int code = store_meta_format(txn, meta, &format);
    if (code == 0)
        code = store_meta_read(txn, meta, &m);
    if (code != 0 || format < STORE_FORMAT_OLDEST || format > STORE_FORMAT) {
        snprintf(err, errlen, "%s: %s", path, code != 0 ? "unreadable meta table" : "not a store of this format");
        rc = code != 0 ? code : STORE_ECORRUPT;
        goto out;
    }
    m.applied_index = 0;
    memcpy(m.cluster_id, cluster_id, STORE_CLUSTER_ID_BYTES);
    what = "writing the meta table";
    if ((rc = store_meta_write(txn, meta, &m)) != 0)
        goto fail_mdb;
    /* The old members' client addresses name machines of the old cluster;
     * the new one's members record theirs as they start. */
    what = "opening the members table";
    rc = mdb_dbi_open(txn, "members", 0, &members);
    if (rc == 0) {
        what = "emptying the members table";
        if ((rc = mdb_drop(txn, members, 0)) != 0)
            goto fail_mdb;
    } else if (rc != MDB_NOTFOUND) {
        goto fail_mdb;
    }
    what = "mdb_txn_commit";
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0)
        goto fail_mdb;
    what = "mdb_env_sync";
    if ((rc = mdb_env_sync(env, 1)) != 0)
        goto fail_mdb;
    rc = 0;
    goto out;

fail_mdb:
    snprintf(err, errlen, "%s %s: %s", what, path, mdb_strerror(rc));
    rc = store_code_from_mdb(rc);
out:
    if (txn != NULL)
        mdb_txn_abort(txn);
    if (env != NULL)
        mdb_env_close(env);
    return rc;
}
