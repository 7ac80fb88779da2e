/* store_group_range.c - the group_pending table's ranges (store_group.h
 * says what a range is): finding the one that holds an event, writing one
 * with its deadline key, and cutting one around an event. Runs inside the
 * apply's batch (s->wtxn); store_group.c decides what goes in them and
 * keeps the counters. Durable as every apply is: the batch commits these
 * rows with the applied index that covers their entry, and until a
 * snapshot's durable point the raft log holds the entry (store.h,
 * "Durability"). */
#include <string.h>

#include "store/store.h"
#include "store/store_group.h"
#include "store/store_internal.h"

/* Fill r from a row (key suffix and value), copying the ids into the
 * apply arena so that the caller may edit them and LMDB may move its
 * pages. */
static int range_decode(struct store *s, const MDB_val *k, const MDB_val *v, size_t glen, struct group_range *r)
{
    if (k->mv_size != glen + 1 + ULID_BYTES)
        return store_fail(s, STORE_ECORRUPT, "group_pending: bad key");
    memcpy(r->key, (const uint8_t *)k->mv_data + glen + 1, ULID_BYTES);
    r->p = eventflow__pending_record__unpack(&s->apply_arena.pb, v->mv_size, v->mv_data);
    if (r->p == NULL || r->p->ids.len % ULID_BYTES != 0)
        return store_fail(s, STORE_ECORRUPT, "group_pending: undecodable record");
    r->n = r->p->ids.len == 0 ? 1 : r->p->ids.len / ULID_BYTES;
    r->ids = store_arena_alloc(&s->apply_arena, r->n * ULID_BYTES);
    memcpy(r->ids, r->p->ids.len == 0 ? r->key : r->p->ids.data, r->n * ULID_BYTES);
    return 0;
}

int group_range_get(struct store *s, const char *g, size_t glen, const uint8_t key[ULID_BYTES], struct group_range *r,
                    bool *found)
{
    uint8_t kb[STORE_GROUP_KEY_MAX];
    MDB_val k = {.mv_size = store_group_key(kb, g, glen, key, ULID_BYTES), .mv_data = kb}, v;
    int rc = mdb_get(s->wtxn, s->group_pending, &k, &v);
    *found = rc == 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return store_fail_mdb(s, rc, "reading group_pending");
    return range_decode(s, &k, &v, glen, r);
}

/* The last row of group g keyed at or before `id` (*found false: none). */
static int range_at_or_before(struct store *s, const char *g, size_t glen, const uint8_t id[ULID_BYTES],
                              struct group_range *r, bool *found)
{
    *found = false;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(s->wtxn, s->group_pending, &cur);
    if (rc != 0)
        return store_fail_mdb(s, rc, "opening a group_pending cursor");
    uint8_t kb[STORE_GROUP_KEY_MAX];
    size_t klen = store_group_key(kb, g, glen, id, ULID_BYTES);
    MDB_val k = {.mv_size = klen, .mv_data = kb}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && !(k.mv_size == klen && memcmp(k.mv_data, kb, klen) == 0))
        rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    else if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    if (rc == 0 && store_group_key_of(&k, g, glen)) {
        *found = true;
        rc = range_decode(s, &k, &v, glen, r);
    } else if (rc == 0 || rc == MDB_NOTFOUND) {
        rc = 0;
    } else {
        rc = store_fail_mdb(s, rc, "walking group_pending");
    }
    mdb_cursor_close(cur);
    return rc;
}

int group_range_find(struct store *s, const char *g, size_t glen, const uint8_t id[ULID_BYTES], struct group_range *r,
                     bool *found)
{
    int rc = range_at_or_before(s, g, glen, id, r, found);
    if (rc == 0 && *found)
        *found = memcmp(r->ids[r->n - 1], id, ULID_BYTES) >= 0;
    return rc;
}

long group_range_index(const struct group_range *r, const uint8_t id[ULID_BYTES])
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(r->ids[mid], id, ULID_BYTES);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static int range_del(struct store *s, MDB_dbi dbi, const uint8_t *key, size_t klen, const char *what)
{
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    int rc = mdb_del(s->wtxn, dbi, &k, NULL);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_fail_mdb(s, rc, what);
}

int group_range_save(struct store *s, const char *g, size_t glen, struct group_range *r, int64_t old_deadline)
{
    uint8_t key[STORE_GROUP_KEY_MAX];
    int rc;
    if (old_deadline >= 0 &&
        (old_deadline != r->p->deadline_ms || r->n == 0) &&
        (rc = range_del(s, s->group_deadlines, key, store_group_deadline_key(key, g, glen, old_deadline, r->key),
                        "deleting from group_deadlines")) != 0)
        return rc;
    if (r->n == 0) {
        size_t klen = store_group_key(key, g, glen, r->key, ULID_BYTES);
        store_digest_fold(s, STORE_DIGEST_PENDING, key, klen, NULL, 0);
        return range_del(s, s->group_pending, key, klen, "deleting from group_pending");
    }
    if (old_deadline != r->p->deadline_ms) {
        MDB_val k = {.mv_size = store_group_deadline_key(key, g, glen, r->p->deadline_ms, r->key), .mv_data = key};
        MDB_val empty = {0};
        if ((rc = mdb_put(s->wtxn, s->group_deadlines, &k, &empty, 0)) != 0)
            return store_fail_mdb(s, rc, "writing group_deadlines");
    }
    /* One event under its own key is written as format 5 wrote it. */
    bool alone = r->n == 1 && memcmp(r->ids[0], r->key, ULID_BYTES) == 0;
    r->p->ids = alone ? (ProtobufCBinaryData){0}
                      : (ProtobufCBinaryData){.len = r->n * ULID_BYTES, .data = (uint8_t *)r->ids};
    MDB_val k = {.mv_size = store_group_key(key, g, glen, r->key, ULID_BYTES), .mv_data = key};
    MDB_val v = {.mv_size = protobuf_c_message_get_packed_size(&r->p->base)};
    if ((rc = mdb_put(s->wtxn, s->group_pending, &k, &v, MDB_RESERVE)) != 0)
        return store_fail_mdb(s, rc, "writing group_pending");
    protobuf_c_message_pack(&r->p->base, v.mv_data);
    store_digest_fold(s, STORE_DIGEST_PENDING, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
    return 0;
}

int group_range_cut(struct store *s, const char *g, size_t glen, const uint8_t id[ULID_BYTES],
                    Eventflow__PendingRecord **was)
{
    if (was != NULL)
        *was = NULL;
    struct group_range r;
    bool found;
    int rc = group_range_find(s, g, glen, id, &r, &found);
    if (rc != 0 || !found)
        return rc;
    long at = group_range_index(&r, id);
    /* The events before `id` stay under the range's key; those after it
     * become a range of their own, due when the range was. */
    size_t before = 0;
    while (before < r.n && memcmp(r.ids[before], id, ULID_BYTES) < 0)
        before++;
    size_t after = before + (at >= 0 ? 1 : 0);
    struct group_range tail = {.p = r.p, .ids = r.ids + after, .n = r.n - after};
    if (at >= 0 && was != NULL) {
        Eventflow__PendingRecord *copy = store_arena_alloc(&s->apply_arena, sizeof *copy);
        *copy = *r.p;
        copy->ids = (ProtobufCBinaryData){0};
        *was = copy;
    }
    int64_t deadline = r.p->deadline_ms;
    r.n = before;
    if ((rc = group_range_save(s, g, glen, &r, deadline)) != 0)
        return rc;
    if (tail.n == 0)
        return 0;
    memcpy(tail.key, tail.ids[0], ULID_BYTES);
    return group_range_save(s, g, glen, &tail, -1);
}

int group_range_past_all(struct store *s, const char *g, size_t glen, const uint8_t first[ULID_BYTES], bool *past)
{
    *past = true;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(s->wtxn, s->group_pending, &cur);
    if (rc != 0)
        return store_fail_mdb(s, rc, "opening a group_pending cursor");
    uint8_t kb[STORE_GROUP_KEY_MAX];
    MDB_val k = {.mv_size = store_group_key(kb, g, glen, first, ULID_BYTES), .mv_data = kb}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && store_group_key_of(&k, g, glen)) {
        *past = false; /* a row keyed at or after `first` */
    } else {
        /* Else the last row before it must end before it. */
        rc = rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_PREV) : rc == MDB_NOTFOUND ? mdb_cursor_get(cur, &k, &v, MDB_LAST) : rc;
        struct group_range r;
        if (rc == 0 && store_group_key_of(&k, g, glen)) {
            int drc = range_decode(s, &k, &v, glen, &r);
            mdb_cursor_close(cur);
            if (drc == 0)
                *past = memcmp(r.ids[r.n - 1], first, ULID_BYTES) < 0;
            return drc;
        }
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_fail_mdb(s, rc, "walking group_pending");
}
