/* store_stream_work.c - what retention work a leader should propose next
 * (store_stream_work in store.h): reclaiming the rows of hidden events,
 * and expiring events older than a stream's max_age by the leader's clock.
 *
 * Only streams with a stream_meta record can have either, so the walk
 * visits that table alone. The proposal carries its result (a version, a
 * batch size), never the clock's reading alone, so every replica hides and
 * frees the same events. */
#include <string.h>

#include "store/store.h"
#include "store/store_internal.h"

/* The first version at or after `from`, below `length`, whose event was
 * added at or after `cutoff_ns`, looking at `batch` events at most: the
 * last version looked at plus one when all of those are older. */
static int work_expiry(struct store *s, MDB_txn *txn, const char *stream, size_t len, uint64_t from,
                       uint64_t length, int64_t cutoff_ns, uint32_t batch, uint64_t *before)
{
    uint8_t key[512];
    uint64_t v = from;
    for (; v < length && v - from < batch; v++) {
        MDB_val ik = {.mv_size = store_index_key(key, stream, len, v), .mv_data = key}, iv, ev;
        int rc = mdb_get(txn, s->stream_index, &ik, &iv);
        if (rc == 0)
            rc = mdb_get(txn, s->events, &iv, &ev);
        if (rc != 0)
            return store_fail_mdb(s, rc, "reading a stream for expiry");
        Eventflow__StoredEvent se;
        if (store_event_view(s, &ev, &se) != 0)
            return store_fail(s, STORE_ECORRUPT, "events: undecodable record");
        store_arena_reset(&s->read_arena);
        if (se.added_at_ns >= cutoff_ns)
            break;
    }
    *before = v;
    return 0;
}

/* Work for one stream's record, if it has any. */
static int work_stream(struct store *s, MDB_txn *txn, MDB_cursor *icur, const MDB_val *k,
                       const Eventflow__StreamRecord *rec, int64_t now_ns, uint32_t batch,
                       Eventflow__StreamOp *op, Eventflow__StreamReclaim *reclaim,
                       Eventflow__StreamExpire *expire, bool *found)
{
    if (rec->reclaimed_below < rec->first_version) {
        reclaim->max_events = batch;
        op->op_case = EVENTFLOW__STREAM_OP__OP_RECLAIM;
        op->reclaim = reclaim;
        *found = true;
        return 0;
    }
    if (rec->max_age_s == 0 || rec->tombstoned || rec->deleted)
        return 0;
    uint64_t length;
    int rc = store_index_length(icur, k->mv_data, k->mv_size, &length);
    if (rc != 0)
        return store_fail_mdb(s, rc, "reading stream_index");
    int64_t age_ns = rec->max_age_s > (uint64_t)INT64_MAX / 1000000000 ? INT64_MAX
                                                                        : (int64_t)rec->max_age_s * 1000000000;
    int64_t cutoff = now_ns - age_ns;
    uint64_t before = 0;
    if ((rc = work_expiry(s, txn, k->mv_data, k->mv_size, rec->first_version, length, cutoff, batch, &before)) != 0)
        return rc;
    if (before > rec->first_version) {
        expire->before_version = before;
        op->op_case = EVENTFLOW__STREAM_OP__OP_EXPIRE;
        op->expire = expire;
        *found = true;
    }
    return 0;
}

int store_stream_work(struct store *s, int64_t now_ns, uint32_t batch, uint32_t visits, const char *after, char *name,
                      size_t cap, Eventflow__StreamOp *op, Eventflow__StreamReclaim *reclaim,
                      Eventflow__StreamExpire *expire, bool *found, bool *more)
{
    *found = false;
    *more = false;
    eventflow__stream_op__init(op);
    eventflow__stream_reclaim__init(reclaim);
    eventflow__stream_expire__init(expire);
    MDB_txn *txn;
    int rc = store_read_txn_begin(s, &txn);
    if (rc != 0)
        return rc;
    MDB_cursor *cur = NULL, *icur = NULL;
    int mrc;
    if ((mrc = mdb_cursor_open(txn, s->stream_meta, &cur)) != 0 ||
        (mrc = mdb_cursor_open(txn, s->stream_index, &icur)) != 0) {
        rc = store_fail_mdb(s, mrc, "opening a cursor");
        goto out;
    }
    /* Two rounds: from `after` to the end, then from the start up to it. */
    size_t alen = after != NULL ? strlen(after) : 0;
    MDB_val k = {.mv_size = alen, .mv_data = (void *)after}, v;
    mrc = alen > 0 ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    if (mrc == 0 && alen > 0 && k.mv_size == alen && memcmp(k.mv_data, after, alen) == 0)
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    bool wrapped = alen == 0;
    for (uint32_t visited = 0;; visited++) {
        if (mrc == MDB_NOTFOUND) {
            if (wrapped)
                break;
            wrapped = true;
            mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
            continue;
        }
        if (mrc != 0) {
            rc = store_fail_mdb(s, mrc, "walking stream_meta");
            goto out;
        }
        if (k.mv_size >= cap) {
            rc = store_fail(s, STORE_ECORRUPT, "stream_meta: a key too long");
            goto out;
        }
        if (visited == visits) {
            /* The walk's share of this turn is spent: the caller goes on
             * after the last record looked at (`name`) in a later one. */
            *more = true;
            break;
        }
        /* A copy: looking at events below resets the read arena. */
        Eventflow__StreamRecord rec;
        if ((rc = store_stream_record_decode(s, &v, &rec)) != 0 ||
            (rc = work_stream(s, txn, icur, &k, &rec, now_ns, batch, op, reclaim, expire, found)) != 0)
            goto out;
        if (*found) {
            memcpy(name, k.mv_data, k.mv_size);
            name[k.mv_size] = '\0';
            op->stream = name;
            op->now_ns = now_ns;
            break;
        }
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = '\0';
        /* The second round ends where the first began. */
        if (wrapped && alen > 0 && k.mv_size == alen && memcmp(k.mv_data, after, alen) == 0)
            break;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
out:
    if (icur != NULL)
        mdb_cursor_close(icur);
    if (cur != NULL)
        mdb_cursor_close(cur);
    store_read_txn_end(s, txn);
    return rc;
}
