/* store_group_read.c - reading consumer groups' state (GROUP INFO, LIST,
 * PENDING, PARKED) on any node, and what the leader asks before it wakes a
 * blocked read (store_group_ready). */
#include <string.h>

#include "store/store.h"
#include "store/store_group.h"
#include "store/store_internal.h"

bool store_group_matches(const Eventflow__GroupRecord *g, const Eventflow__StoredEvent *ev)
{
    const Eventflow__GroupCreate *spec = g->spec;
    if (ev->stream == NULL || ev->type == NULL)
        return false;
    if (!spec->all && strcmp(ev->stream, spec->stream) != 0)
        return false;
    size_t plen = strlen(spec->stream_prefix);
    if (plen > 0 && strncmp(ev->stream, spec->stream_prefix, plen) != 0)
        return false;
    if (spec->n_types == 0)
        return true;
    for (size_t i = 0; i < spec->n_types; i++)
        if (strcmp(ev->type, spec->types[i]) == 0)
            return true;
    return false;
}

int store_group_lag(MDB_cursor *index, const struct store_meta *m, const Eventflow__GroupRecord *g, uint64_t *lag)
{
    *lag = 0;
    if (g->spec->all) {
        *lag = m->event_count > g->last_position ? m->event_count - g->last_position : 0;
        return 0;
    }
    uint64_t length;
    int rc = store_index_length(index, g->spec->stream, strlen(g->spec->stream), &length);
    if (rc == 0 && length > g->next_version)
        *lag = length - g->next_version;
    return rc;
}

/* A read transaction, its meta, and a stream_index cursor for lags. */
struct group_reader {
    struct store *s;
    MDB_txn *txn;
    MDB_cursor *index;
    struct store_meta meta;
};

static int reader_begin(struct store *s, struct group_reader *r)
{
    memset(r, 0, sizeof *r);
    r->s = s;
    int rc = store_read_txn_begin(s, &r->txn);
    if (rc != 0)
        return rc;
    if ((rc = store_meta_view(s, r->txn, &r->meta)) != 0) {
        store_read_txn_end(s, r->txn);
        return store_fail(s, rc, "reading meta");
    }
    if ((rc = mdb_cursor_open(r->txn, s->stream_index, &r->index)) != 0) {
        store_read_txn_end(s, r->txn);
        return store_fail_mdb(s, rc, "opening a stream_index cursor");
    }
    return 0;
}

static void reader_end(struct group_reader *r)
{
    mdb_cursor_close(r->index);
    store_read_txn_end(r->s, r->txn);
    store_arena_reset(&r->s->read_arena);
}

static int visit_group(struct group_reader *r, const char *name, size_t len, const Eventflow__GroupRecord *g,
                       const struct store_group_visitor *v)
{
    uint64_t lag;
    int rc = store_group_lag(r->index, &r->meta, g, &lag);
    if (rc != 0)
        return store_fail_mdb(r->s, rc, "reading stream_index");
    return v->group != NULL ? v->group(v->arg, name, len, g, lag) : 0;
}

static bool name_ok(const char *name, size_t len)
{
    return len > 0 && len <= STORE_GROUP_NAME_MAX && memchr(name, 0, len) == NULL;
}

/* Walk group g's keys in one table, from `from` (a suffix; NULL: the
 * first), handing each value to fn. fn returns non-zero to stop. `spans`:
 * start one row earlier, at the pending range that may hold `from`. */
typedef int (*group_walk_fn)(struct group_reader *r, const MDB_val *k, const MDB_val *v, size_t glen, void *arg);

static int group_walk(struct group_reader *r, MDB_dbi dbi, const char *g, size_t glen, const uint8_t *from,
                      size_t from_len, bool spans, group_walk_fn fn, void *arg)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(r->txn, dbi, &cur);
    if (rc != 0)
        return store_fail_mdb(r->s, rc, "opening a cursor");
    uint8_t key[STORE_GROUP_KEY_MAX];
    MDB_val k = {.mv_size = store_group_key(key, g, glen, from, from_len), .mv_data = key}, v;
    /* fn's non-zero return is passed on as it is; the cursor's errors
     * become STORE_E* codes. */
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (spans && (mrc == 0 || mrc == MDB_NOTFOUND)) {
        MDB_val pk, pv;
        int prc = mdb_cursor_get(cur, &pk, &pv, mrc == 0 ? MDB_PREV : MDB_LAST);
        if (prc == 0 && store_group_key_of(&pk, g, glen)) {
            k = pk;
            v = pv;
            mrc = 0;
        } else {
            k = (MDB_val){.mv_size = store_group_key(key, g, glen, from, from_len), .mv_data = key};
            mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        }
    }
    rc = 0;
    while (mrc == 0 && store_group_key_of(&k, g, glen)) {
        rc = fn(r, &k, &v, glen, arg);
        store_arena_reset(&r->s->read_arena);
        if (rc != 0)
            break;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = store_fail_mdb(r->s, mrc, "walking a group table");
    return rc;
}

/* ---- INFO and LIST ----------------------------------------------------------------- */

static int walk_consumer(struct group_reader *r, const MDB_val *k, const MDB_val *v, size_t glen, void *arg)
{
    const struct store_group_visitor *vis = arg;
    Eventflow__ConsumerRecord *c = eventflow__consumer_record__unpack(&r->s->read_arena.pb, v->mv_size, v->mv_data);
    if (c == NULL)
        return store_fail(r->s, STORE_ECORRUPT, "group_consumers: undecodable record");
    const char *name = (const char *)k->mv_data + glen + 1;
    return vis->consumer != NULL ? vis->consumer(vis->arg, name, k->mv_size - glen - 1, c) : 0;
}

int store_group_info(struct store *s, const char *name, size_t len, const struct store_group_visitor *v)
{
    if (s == NULL || v == NULL || !name_ok(name, len))
        return s != NULL && v != NULL ? STORE_ENOENT : STORE_EINVAL;
    struct group_reader r;
    int rc = reader_begin(s, &r);
    if (rc != 0)
        return rc;
    Eventflow__GroupRecord *g;
    if ((rc = store_group_load(s, r.txn, &s->read_arena, name, len, &g)) == 0) {
        if (g == NULL)
            rc = STORE_ENOENT;
        else if ((rc = visit_group(&r, name, len, g, v)) == 0)
            rc = group_walk(&r, s->group_consumers, name, len, NULL, 0, false, walk_consumer, (void *)v);
    }
    reader_end(&r);
    return rc;
}

int store_group_list(struct store *s, const struct store_group_visitor *v)
{
    if (s == NULL || v == NULL)
        return STORE_EINVAL;
    struct group_reader r;
    int rc = reader_begin(s, &r);
    if (rc != 0)
        return rc;
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(r.txn, s->groups, &cur)) != 0) {
        reader_end(&r);
        return store_fail_mdb(s, rc, "opening a groups cursor");
    }
    MDB_val k, val;
    int mrc = mdb_cursor_get(cur, &k, &val, MDB_FIRST);
    while (mrc == 0) {
        Eventflow__GroupRecord *g = eventflow__group_record__unpack(&s->read_arena.pb, val.mv_size, val.mv_data);
        if (g == NULL || g->spec == NULL) {
            rc = store_fail(s, STORE_ECORRUPT, "groups: undecodable record");
            break;
        }
        rc = visit_group(&r, k.mv_data, k.mv_size, g, v);
        store_arena_reset(&s->read_arena);
        if (rc != 0)
            break;
        mrc = mdb_cursor_get(cur, &k, &val, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    reader_end(&r);
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = store_fail_mdb(s, mrc, "walking groups");
    return rc;
}

/* ---- PENDING and PARKED ------------------------------------------------------------- */

struct walk_list {
    const struct store_group_visitor *v;
    const char *consumer; /* PENDING: only this holder's; NULL any */
    const uint8_t *after; /* skip this id itself */
    uint64_t limit, n;
    bool full;  /* stopped at the limit */
    bool spans; /* the table holds ranges (group_pending) */
};

/* What PENDING and PARKED do with each row before its record: stop at the
 * limit, check the key (group, 0, id), skip `after`. Returns 0 and *id to
 * visit the row, *id NULL to skip it, 1 to stop, or a store error. */
static int walk_list_row(struct group_reader *r, struct walk_list *w, const MDB_val *k, size_t glen, const char *table,
                         const uint8_t **id)
{
    *id = NULL;
    if (w->n >= w->limit) {
        w->full = true;
        return 1;
    }
    if (k->mv_size != glen + 1 + ULID_BYTES)
        return store_fail(r->s, STORE_ECORRUPT, "%s: bad key", table);
    const uint8_t *row = (const uint8_t *)k->mv_data + glen + 1;
    if (w->after == NULL || memcmp(row, w->after, ULID_BYTES) != 0)
        *id = row;
    return 0;
}

/* A pending row is a range (store_group.h): each of its events is one
 * entry of the list, with the range's holder, deliveries and deadline. */
static int walk_pending(struct group_reader *r, const MDB_val *k, const MDB_val *v, size_t glen, void *arg)
{
    struct walk_list *w = arg;
    if (k->mv_size != glen + 1 + ULID_BYTES)
        return store_fail(r->s, STORE_ECORRUPT, "group_pending: bad key");
    Eventflow__PendingRecord *p = eventflow__pending_record__unpack(&r->s->read_arena.pb, v->mv_size, v->mv_data);
    if (p == NULL || p->ids.len % ULID_BYTES != 0)
        return store_fail(r->s, STORE_ECORRUPT, "group_pending: undecodable record");
    if (w->consumer != NULL && strcmp(p->consumer, w->consumer) != 0)
        return 0;
    const uint8_t *ids = p->ids.len == 0 ? (const uint8_t *)k->mv_data + glen + 1 : p->ids.data;
    size_t n = p->ids.len == 0 ? 1 : p->ids.len / ULID_BYTES;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *id = ids + i * ULID_BYTES;
        if (w->after != NULL && memcmp(id, w->after, ULID_BYTES) <= 0)
            continue;
        if (w->n >= w->limit) {
            w->full = true;
            return 1;
        }
        w->n++;
        int rc = w->v->pending != NULL ? w->v->pending(w->v->arg, id, p) : 0;
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int walk_parked(struct group_reader *r, const MDB_val *k, const MDB_val *v, size_t glen, void *arg)
{
    struct walk_list *w = arg;
    const uint8_t *id;
    int rc = walk_list_row(r, w, k, glen, "group_parked", &id);
    if (rc != 0 || id == NULL)
        return rc;
    Eventflow__ParkedRecord *p = eventflow__parked_record__unpack(&r->s->read_arena.pb, v->mv_size, v->mv_data);
    if (p == NULL)
        return store_fail(r->s, STORE_ECORRUPT, "group_parked: undecodable record");
    w->n++;
    return w->v->parked != NULL ? w->v->parked(w->v->arg, id, p) : 0;
}

static int group_list_table(struct store *s, MDB_dbi dbi, const char *name, size_t len, group_walk_fn fn,
                            struct walk_list *w)
{
    if (s == NULL || w->v == NULL)
        return STORE_EINVAL;
    if (!name_ok(name, len))
        return STORE_ENOENT;
    struct group_reader r;
    int rc = reader_begin(s, &r);
    if (rc != 0)
        return rc;
    Eventflow__GroupRecord *g;
    if ((rc = store_group_load(s, r.txn, &s->read_arena, name, len, &g)) == 0) {
        if (g == NULL) {
            rc = STORE_ENOENT;
        } else {
            store_arena_reset(&s->read_arena);
            rc = group_walk(&r, dbi, name, len, w->after, w->after != NULL ? ULID_BYTES : 0,
                            w->spans && w->after != NULL, fn, w);
            if (w->full)
                rc = 0;
        }
    }
    reader_end(&r);
    return rc;
}

int store_group_pending(struct store *s, const char *name, size_t len, const char *consumer, const uint8_t *after,
                        uint64_t limit, const struct store_group_visitor *v)
{
    struct walk_list w = {.v = v, .consumer = consumer, .after = after, .limit = limit, .spans = true};
    return group_list_table(s, s != NULL ? s->group_pending : 0, name, len, walk_pending, &w);
}

int store_group_parked(struct store *s, const char *name, size_t len, const uint8_t *after, uint64_t limit,
                       const struct store_group_visitor *v)
{
    struct walk_list w = {.v = v, .after = after, .limit = limit};
    return group_list_table(s, s != NULL ? s->group_parked : 0, name, len, walk_parked, &w);
}

/* ---- the leader's wake-up check ------------------------------------------------------- */

int store_group_ready(struct store *s, const char *name, size_t len, int64_t now_ms, bool *ready, int64_t *wake_ms)
{
    if (s == NULL || ready == NULL || wake_ms == NULL)
        return STORE_EINVAL;
    *ready = false;
    *wake_ms = 0;
    if (!name_ok(name, len))
        return STORE_ENOENT;
    struct group_reader r;
    int rc = reader_begin(s, &r);
    if (rc != 0)
        return rc;
    Eventflow__GroupRecord *g;
    uint64_t lag = 0;
    if ((rc = store_group_load(s, r.txn, &s->read_arena, name, len, &g)) != 0)
        goto out;
    if (g == NULL) {
        rc = STORE_ENOENT;
        goto out;
    }
    if ((rc = store_group_lag(r.index, &r.meta, g, &lag)) != 0) {
        rc = store_fail_mdb(s, rc, "reading stream_index");
        goto out;
    }
    /* New events wake a read unless the group holds all the pending
     * events it may: then only an ack (a new applied index, which has
     * this asked again) or a deadline does. */
    if (lag > 0 && (g->spec->max_ack_pending == 0 || g->pending < g->spec->max_ack_pending)) {
        *ready = true;
        goto out;
    }
    /* The first deadline is the first to come due (store_group_due keeps
     * the deadlines' order). */
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(r.txn, s->group_deadlines, &cur)) != 0) {
        rc = store_fail_mdb(s, rc, "opening a group_deadlines cursor");
        goto out;
    }
    uint8_t key[STORE_GROUP_KEY_MAX];
    MDB_val k = {.mv_size = store_group_key(key, name, len, NULL, 0), .mv_data = key}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && store_group_key_of(&k, name, len) && k.mv_size == len + 1 + 8 + ULID_BYTES) {
        int64_t due = store_group_due(&r.meta, g, (int64_t)be64_get((uint8_t *)k.mv_data + len + 1));
        if (due <= now_ms)
            *ready = true;
        else
            *wake_ms = due;
    }
    mdb_cursor_close(cur);
    rc = rc == 0 || rc == MDB_NOTFOUND ? 0 : store_fail_mdb(s, rc, "walking group_deadlines");
out:
    reader_end(&r);
    return rc;
}
