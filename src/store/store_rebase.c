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
    struct store_file f;
    int rc = store_file_open(path, (size_t)st.st_size + REBASE_MAP_SLACK, &f, err, errlen);
    if (rc != 0)
        return rc;
    f.m.applied_index = 0;
    memcpy(f.m.cluster_id, cluster_id, STORE_CLUSTER_ID_BYTES);
    const char *what = "writing the meta table";
    MDB_dbi members;
    if ((rc = store_meta_write(f.txn, f.meta, &f.m)) != 0)
        goto fail_mdb;
    /* The old members' client addresses name machines of the old cluster;
     * the new one's members record theirs as they start. */
    what = "opening the members table";
    rc = mdb_dbi_open(f.txn, "members", 0, &members);
    if (rc == 0) {
        what = "emptying the members table";
        if ((rc = mdb_drop(f.txn, members, 0)) != 0)
            goto fail_mdb;
    } else if (rc != MDB_NOTFOUND) {
        goto fail_mdb;
    }
    what = "mdb_txn_commit";
    rc = mdb_txn_commit(f.txn);
    f.txn = NULL;
    if (rc != 0)
        goto fail_mdb;
    what = "mdb_env_sync";
    if ((rc = mdb_env_sync(f.env, 1)) != 0)
        goto fail_mdb;
    store_file_close(&f);
    return 0;

fail_mdb:
    snprintf(err, errlen, "%s %s: %s", what, path, mdb_strerror(rc));
    store_file_close(&f);
    return store_code_from_mdb(rc);
}
