/* store_user.c - the users table: applying UserOp entries, and reading
 * users back for AUTH, ACL LIST and the connections' rules.
 *
 * The store checks only the record's shape (a name, a salt, a hash, an
 * iteration count); what the rules mean is the server's (acl_rules.h). A
 * correct leader never proposes a malformed record, so one applies as an
 * invalid entry, alike on every replica. Users are not events: they do not
 * move the event count or the chained checksum. */
#include <string.h>

#include "store/store.h"
#include "store/store_internal.h"

/* Longest user name a record may have (the server allows less). */
#define STORE_USER_NAME_MAX 256

static bool user_op_valid(const Eventflow__UserOp *op)
{
    size_t len = op->name != NULL ? strlen(op->name) : 0;
    if (len == 0 || len > STORE_USER_NAME_MAX)
        return false;
    const Eventflow__UserRecord *u = op->set;
    return u == NULL || (u->salt.len > 0 && u->hash.len > 0 && u->iterations > 0);
}

int store_apply_user(struct store *s, const Eventflow__UserOp *op, enum store_status *status)
{
    if (!user_op_valid(op)) {
        *status = STORE_INVALID_ENTRY;
        return 0;
    }
    MDB_val k = {.mv_size = strlen(op->name), .mv_data = (void *)op->name};
    int rc;
    if (op->set == NULL) {
        rc = mdb_del(s->wtxn, s->users, &k, NULL);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return store_fail_mdb(s, rc, "deleting a user");
        store_digest_fold(s, STORE_DIGEST_USERS, k.mv_data, k.mv_size, NULL, 0);
    } else {
        MDB_val v = {.mv_size = eventflow__user_record__get_packed_size(op->set)};
        rc = mdb_put(s->wtxn, s->users, &k, &v, MDB_RESERVE);
        if (rc != 0)
            return store_fail_mdb(s, rc, "writing a user");
        eventflow__user_record__pack(op->set, v.mv_data);
        store_digest_fold(s, STORE_DIGEST_USERS, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
    }
    s->users_gen++;
    *status = STORE_USER_APPLIED;
    return 0;
}

uint64_t store_users_generation(const struct store *s)
{
    return s->users_gen;
}

int store_user_get(struct store *s, const char *name, Eventflow__UserRecord **out)
{
    *out = NULL;
    MDB_txn *txn;
    int rc = store_read_txn_begin(s, &txn);
    if (rc != 0)
        return rc;
    MDB_val k = {.mv_size = strlen(name), .mv_data = (void *)name}, v;
    rc = mdb_get(txn, s->users, &k, &v);
    if (rc == MDB_NOTFOUND) {
        rc = STORE_ENOENT;
    } else if (rc != 0) {
        rc = store_fail_mdb(s, rc, "reading a user");
    } else {
        *out = eventflow__user_record__unpack(NULL, v.mv_size, v.mv_data);
        rc = *out != NULL ? 0 : store_fail(s, STORE_ECORRUPT, "an undecodable user record");
    }
    store_read_txn_end(s, txn);
    return rc;
}

int store_user_list(struct store *s, store_user_visit_fn visit, void *data)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = store_read_txn_begin(s, &txn);
    if (rc != 0)
        return rc;
    if ((rc = mdb_cursor_open(txn, s->users, &cur)) != 0) {
        store_read_txn_end(s, txn);
        return store_fail_mdb(s, rc, "opening a users cursor");
    }
    MDB_val k, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    rc = 0;
    for (; mrc == 0 && rc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        Eventflow__UserRecord *u = eventflow__user_record__unpack(NULL, v.mv_size, v.mv_data);
        if (u == NULL) {
            rc = store_fail(s, STORE_ECORRUPT, "an undecodable user record");
            break;
        }
        rc = visit(data, k.mv_data, k.mv_size, u);
        eventflow__user_record__free_unpacked(u, NULL);
    }
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = store_fail_mdb(s, mrc, "listing users");
    mdb_cursor_close(cur);
    store_read_txn_end(s, txn);
    return rc;
}
