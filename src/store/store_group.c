/* store_group.c - applying GroupOps entries: consumer groups' positions,
 * pending and parked events, and consumers (the tables are in store.h).
 *
 * Every replica applies the same entry to the same state and so makes the
 * same decisions: which events a read hands to which consumer, which
 * pending events are due for redelivery (on the entry's clock, never the
 * replica's), which are parked. The leader only proposes what its clients
 * asked; it never decides on state it might not have applied yet, so two
 * reads in one turn, or a read racing an ack, cannot hand out one event
 * twice. A new leader finds each group exactly as the log left it.
 *
 * An operation either does all it says or, when its input is wrong (no
 * such group, an ack of an event never delivered), changes nothing: each
 * checks before it writes. An LMDB error fails the whole entry (store_apply
 * aborts the batch). */
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "common/mem.h"
#include "common/mutant.h"
#include "store/store.h"
#include "store/store_group.h"
#include "store/store_internal.h"

/* Events a read may pass over (filtered out) besides those it hands out,
 * so that one entry's apply stays short on a log the filter mostly skips;
 * the position still moves past them, and the next read goes on. */
#define GROUP_SCAN_EXTRA 4096
/* Due pending events a read may park (max_deliveries) besides those it
 * hands out. */
#define GROUP_PARK_EXTRA 1024

/* ---- records ------------------------------------------------------------------ */

int store_group_load(struct store *s, MDB_txn *txn, struct store_arena *a, const char *g, size_t glen,
                     Eventflow__GroupRecord **out)
{
    *out = NULL;
    MDB_val k = {.mv_size = glen, .mv_data = (void *)g}, v;
    int rc = mdb_get(txn, s->groups, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return store_fail_mdb(s, rc, "reading groups");
    Eventflow__GroupRecord *rec = eventflow__group_record__unpack(&a->pb, v.mv_size, v.mv_data);
    if (rec == NULL || rec->spec == NULL)
        return store_fail(s, STORE_ECORRUPT, "groups: undecodable record for %.*s", (int)glen, g);
    *out = rec;
    return 0;
}

/* Which of the group tables dbi is, for the state digest. */
static enum store_digest_tag group_digest_tag(const struct store *s, MDB_dbi dbi)
{
    return dbi == s->groups ? STORE_DIGEST_GROUPS : dbi == s->group_parked ? STORE_DIGEST_PARKED
                                                                            : STORE_DIGEST_CONSUMERS;
}

/* Pack a protobuf message into a table under key (MDB_RESERVE: packed
 * straight into LMDB's page). */
static int group_put(struct store *s, MDB_dbi dbi, const void *key, size_t klen, const ProtobufCMessage *msg,
                     const char *what)
{
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    MDB_val v = {.mv_size = protobuf_c_message_get_packed_size(msg)};
    int rc = mdb_put(s->wtxn, dbi, &k, &v, MDB_RESERVE);
    if (rc != 0)
        return store_fail_mdb(s, rc, what);
    protobuf_c_message_pack(msg, v.mv_data);
    store_digest_fold(s, group_digest_tag(s, dbi), key, klen, v.mv_data, v.mv_size);
    return 0;
}

static int group_del(struct store *s, MDB_dbi dbi, const void *key, size_t klen, const char *what)
{
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    int rc = mdb_del(s->wtxn, dbi, &k, NULL);
    if (rc == 0)
        store_digest_fold(s, group_digest_tag(s, dbi), key, klen, NULL, 0);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_fail_mdb(s, rc, what);
}

static int group_save(struct store *s, const char *g, size_t glen, const Eventflow__GroupRecord *rec)
{
    return group_put(s, s->groups, g, glen, &rec->base, "writing groups");
}

/* Change a consumer's counters, in the tally; `seen` (non-zero) is a
 * read's time. The empty name (an event given back, held by nobody) has no
 * record. */
static void consumer_adjust(struct store *s, const char *consumer, int64_t dpending, uint64_t delivered,
                            uint64_t acked, int64_t seen)
{
    if (consumer[0] == '\0')
        return;
    struct store_tally *t = &s->tally;
    size_t i = 0;
    while (i < t->n && strcmp(t->e[i].name, consumer) != 0)
        i++;
    if (i == t->n) {
        if (t->n == t->cap) {
            t->cap = t->cap ? 2 * t->cap : 8;
            t->e = xrealloc(t->e, t->cap * sizeof *t->e);
        }
        t->e[t->n++] = (struct store_tally_entry){.name = consumer};
    }
    t->e[i].dpending += dpending;
    t->e[i].delivered += delivered;
    t->e[i].acked += acked;
    if (seen != 0)
        t->e[i].seen = seen;
}

/* Write the tally's changes to the consumers' records, and empty it. */
static int consumers_flush(struct store *s, const char *g, size_t glen)
{
    struct store_tally *t = &s->tally;
    int rc = 0;
    for (size_t i = 0; i < t->n && rc == 0; i++) {
        const struct store_tally_entry *te = &t->e[i];
        uint8_t key[STORE_GROUP_KEY_MAX];
        MDB_val k = {.mv_size = store_group_key(key, g, glen, te->name, strlen(te->name)), .mv_data = key}, v;
        Eventflow__ConsumerRecord fresh = EVENTFLOW__CONSUMER_RECORD__INIT, *c = &fresh;
        int mrc = mdb_get(s->wtxn, s->group_consumers, &k, &v);
        if (mrc == 0) {
            c = eventflow__consumer_record__unpack(&s->apply_arena.pb, v.mv_size, v.mv_data);
            if (c == NULL) {
                rc = store_fail(s, STORE_ECORRUPT, "group_consumers: undecodable record");
                break;
            }
        } else if (mrc != MDB_NOTFOUND) {
            rc = store_fail_mdb(s, mrc, "reading group_consumers");
            break;
        }
        int64_t pending = (int64_t)c->pending + te->dpending;
        c->pending = pending > 0 ? (uint64_t)pending : 0;
        c->delivered += te->delivered;
        c->acked += te->acked;
        if (te->seen != 0)
            c->last_seen_ms = te->seen;
        rc = group_put(s, s->group_consumers, key, k.mv_size, &c->base, "writing group_consumers");
    }
    t->n = 0;
    return rc;
}

static int parked_save(struct store *s, const char *g, size_t glen, const uint8_t id[ULID_BYTES],
                       const Eventflow__PendingRecord *p, int64_t now, const char *reason)
{
    Eventflow__ParkedRecord pr = EVENTFLOW__PARKED_RECORD__INIT;
    pr.consumer = p->consumer;
    pr.deliveries = p->deliveries;
    pr.parked_at_ms = now;
    pr.reason = (char *)reason;
    uint8_t key[STORE_GROUP_KEY_MAX];
    return group_put(s, s->group_parked, key, store_group_key(key, g, glen, id, ULID_BYTES), &pr.base,
                     "writing group_parked");
}

/* Park one pending event, already cut out of its range (p: the range's
 * record as it was). */
static int pending_park(struct store *s, const char *g, size_t glen, Eventflow__GroupRecord *rec,
                        const uint8_t id[ULID_BYTES], const Eventflow__PendingRecord *p, int64_t now,
                        const char *reason)
{
    int rc = parked_save(s, g, glen, id, p, now, reason);
    if (rc != 0)
        return rc;
    consumer_adjust(s, p->consumer, -1, 0, 0, 0);
    rec->pending--;
    rec->parked++;
    return 0;
}

/* Whether a pending event has had all the deliveries its group allows. */
static bool group_exhausted(const Eventflow__GroupRecord *rec, const Eventflow__PendingRecord *p)
{
    return rec->spec->max_deliveries != 0 && p->deliveries >= rec->spec->max_deliveries;
}

/* ---- CREATE and DESTROY ------------------------------------------------------- */

static bool group_spec_ok(const struct store *s, const Eventflow__GroupCreate *c)
{
    if (!store_group_name_ok(c->group, false) || c->ack_wait_ms == 0 || c->stream == NULL ||
        c->stream_prefix == NULL || c->n_types > 64)
        return false;
    size_t slen = strlen(c->stream);
    if (c->all ? slen != 0 : (slen == 0 || slen > s->stream_max || c->stream_prefix[0] != '\0'))
        return false;
    if (c->after_id.len != 0 && (c->after_id.len != ULID_BYTES || !c->all))
        return false;
    for (size_t i = 0; i < c->n_types; i++)
        if (c->types[i] == NULL || c->types[i][0] == '\0')
            return false;
    return true;
}

/* The global position of the last event at or before `id` (0: none). */
static int position_at(struct store *s, const uint8_t id[ULID_BYTES], uint64_t *pos)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(s->wtxn, s->events, &cur);
    if (rc != 0)
        return store_fail_mdb(s, rc, "opening an events cursor");
    MDB_val k = {.mv_size = ULID_BYTES, .mv_data = (void *)id}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && memcmp(k.mv_data, id, ULID_BYTES) != 0)
        rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    else if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    *pos = 0;
    if (rc == 0) {
        Eventflow__StoredEvent ev;
        if (store_event_view(s, &v, &ev) != 0)
            rc = store_fail(s, STORE_ECORRUPT, "events: undecodable record");
        else
            *pos = ev.position;
        store_arena_reset(&s->read_arena);
    } else if (rc == MDB_NOTFOUND) {
        rc = 0;
    } else {
        rc = store_fail_mdb(s, rc, "walking events");
    }
    mdb_cursor_close(cur);
    return rc;
}

/* A stream's length and first live version (store_stream.c): a group
 * never hands out a removed event, and one positioned inside a removed
 * range goes on at the first live one. */
static int stream_length(struct store *s, const char *stream, uint64_t *length, uint64_t *first)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(s->wtxn, s->stream_index, &cur);
    if (rc != 0)
        return store_fail_mdb(s, rc, "opening a stream_index cursor");
    rc = store_index_length(cur, stream, strlen(stream), length);
    mdb_cursor_close(cur);
    if (rc != 0)
        return store_fail_mdb(s, rc, "reading stream_index");
    Eventflow__StreamRecord srec;
    bool found;
    if ((rc = store_stream_record(s, s->wtxn, stream, strlen(stream), &srec, &found)) != 0)
        return rc;
    if (srec.first_version > *length)
        *length = srec.first_version;
    if (first != NULL)
        *first = srec.first_version;
    return 0;
}

/* Set the group's position from a start (CREATE) or a target (SEEK):
 * `version` for a stream's group, `after_id` (empty: the start) for the
 * global log's, or the end as applied. */
static int group_position(struct store *s, Eventflow__GroupRecord *rec, bool to_end, uint64_t version,
                          const ProtobufCBinaryData *after_id)
{
    static uint8_t zero_id[ULID_BYTES];
    if (!rec->spec->all) {
        if (!to_end) {
            rec->next_version = version;
            return 0;
        }
        return stream_length(s, rec->spec->stream, &rec->next_version, NULL);
    }
    uint8_t *id = store_arena_alloc(&s->apply_arena, ULID_BYTES);
    if (to_end) {
        memcpy(id, s->pending.last_id, ULID_BYTES);
        rec->last_position = s->pending.event_count;
    } else if (after_id->len == ULID_BYTES) {
        memcpy(id, after_id->data, ULID_BYTES);
        int rc = position_at(s, id, &rec->last_position);
        if (rc != 0)
            return rc;
    } else {
        memcpy(id, zero_id, ULID_BYTES);
        rec->last_position = 0;
    }
    rec->last_id = (ProtobufCBinaryData){.len = ULID_BYTES, .data = id};
    return 0;
}

static int op_create(struct store *s, Eventflow__GroupCreate *c, int64_t now, struct store_group_result *r)
{
    if (!group_spec_ok(s, c)) {
        r->status = STORE_GROUP_EINVALID;
        return 0;
    }
    size_t glen = strlen(c->group);
    Eventflow__GroupRecord *old;
    int rc = store_group_load(s, s->wtxn, &s->apply_arena, c->group, glen, &old);
    if (rc != 0)
        return rc;
    if (old != NULL) {
        r->status = STORE_GROUP_EEXISTS;
        return 0;
    }
    Eventflow__GroupRecord rec = EVENTFLOW__GROUP_RECORD__INIT;
    rec.spec = c;
    rec.created_at_ms = now;
    if ((rc = group_position(s, &rec, c->from_end, c->version, &c->after_id)) != 0)
        return rc;
    /* The spec keeps where the group started, resolved. */
    c->from_end = false;
    c->version = rec.next_version;
    c->after_id = rec.last_id;
    if ((rc = group_save(s, c->group, glen, &rec)) != 0)
        return rc;
    s->pending.group_count++;
    return 0;
}

/* Delete every key of group g from a table. Seeks afresh for each key
 * (O(log n) apiece) rather than trusting a cursor across its own deletes. */
static int group_clear(struct store *s, MDB_dbi dbi, const char *g, size_t glen, const char *what)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(s->wtxn, dbi, &cur);
    if (rc != 0)
        return store_fail_mdb(s, rc, what);
    uint8_t key[STORE_GROUP_KEY_MAX];
    size_t klen = store_group_key(key, g, glen, NULL, 0);
    for (;;) {
        MDB_val k = {.mv_size = klen, .mv_data = key}, v;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc != 0 || !store_group_key_of(&k, g, glen))
            break;
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    store_digest_fold(s, STORE_DIGEST_CLEARED, key, klen, NULL, 0);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_fail_mdb(s, rc, what);
}

static int op_destroy(struct store *s, const char *g, struct store_group_result *r)
{
    if (!store_group_name_ok(g, false)) {
        r->status = STORE_GROUP_EINVALID;
        return 0;
    }
    size_t glen = strlen(g);
    Eventflow__GroupRecord *rec;
    int rc = store_group_load(s, s->wtxn, &s->apply_arena, g, glen, &rec);
    if (rc != 0)
        return rc;
    if (rec == NULL) {
        r->status = STORE_GROUP_ENOGROUP;
        return 0;
    }
    if ((rc = group_clear(s, s->group_pending, g, glen, "clearing group_pending")) != 0 ||
        (rc = group_clear(s, s->group_deadlines, g, glen, "clearing group_deadlines")) != 0 ||
        (rc = group_clear(s, s->group_parked, g, glen, "clearing group_parked")) != 0 ||
        (rc = group_clear(s, s->group_consumers, g, glen, "clearing group_consumers")) != 0 ||
        (rc = group_del(s, s->groups, g, glen, "deleting from groups")) != 0)
        return rc;
    s->pending.group_count--;
    r->count = rec->pending;
    return 0;
}

/* ---- READ ---------------------------------------------------------------------- */

/* A read's results, grown as it hands events out (apply arena). */
struct group_handout {
    struct store_group_result *r;
    uint8_t (*ids)[ULID_BYTES];
    uint32_t *deliveries;
};

static void handout(struct group_handout *h, const uint8_t id[ULID_BYTES], uint32_t deliveries)
{
    memcpy(h->ids[h->r->count], id, ULID_BYTES);
    h->deliveries[h->r->count] = deliveries;
    h->r->count++;
}

/* Hand out pending events that are due (given back, or their ack wait
 * over), earliest deadline first, a range at a time: the part of a range
 * the read has room for goes to its consumer, the rest keeps its holder
 * and deadline under a key of its own. A range with no delivery left is
 * parked (its events were delivered together, as often), as much of it
 * as the read may park. Each read hands out and parks the same events as
 * when each had a row of its own (store format 5), so members on either
 * build decide alike. */
static int read_due(struct store *s, const char *g, size_t glen, Eventflow__GroupRecord *rec, const char *consumer,
                    uint32_t count, int64_t now, struct group_handout *h)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(s->wtxn, s->group_deadlines, &cur);
    if (rc != 0)
        return store_fail_mdb(s, rc, "opening a group_deadlines cursor");
    uint8_t key[STORE_GROUP_KEY_MAX], id[ULID_BYTES];
    size_t klen = store_group_key(key, g, glen, NULL, 0);
    while (h->r->count < count && h->r->parked < GROUP_PARK_EXTRA) {
        /* Seek afresh each time: the loop rewrites the keys it passes. */
        MDB_val k = {.mv_size = klen, .mv_data = key}, v;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND || (rc == 0 && !store_group_key_of(&k, g, glen))) {
            rc = 0;
            break;
        }
        if (rc != 0) {
            rc = store_fail_mdb(s, rc, "walking group_deadlines");
            break;
        }
        if (k.mv_size != glen + 1 + 8 + ULID_BYTES) {
            rc = store_fail(s, STORE_ECORRUPT, "group_deadlines: bad key");
            break;
        }
        int64_t deadline = (int64_t)be64_get((uint8_t *)k.mv_data + glen + 1);
        if (store_group_due(&s->pending, rec, deadline) > now)
            break;
        memcpy(id, (uint8_t *)k.mv_data + glen + 1 + 8, ULID_BYTES);
        struct group_range r;
        bool found;
        if ((rc = group_range_get(s, g, glen, id, &r, &found)) != 0)
            break;
        if (!found || r.p->deadline_ms != deadline) {
            rc = store_fail(s, STORE_ECORRUPT, "group_deadlines: no matching pending record");
            break;
        }
        Eventflow__PendingRecord *p = r.p;
        /* Events removed since their delivery (a delete, retention) are
         * dropped here, at the group's next read: nothing is left to
         * redeliver, and every replica drops them at the same index. */
        if (s->pending.removed_count > 0) {
            size_t kept = 0;
            for (size_t i = 0; i < r.n && rc == 0; i++) {
                bool live = true;
                rc = store_event_id_live(s, s->wtxn, r.ids[i], &live);
                if (rc == 0 && live) {
                    if (kept != i)
                        memcpy(r.ids[kept], r.ids[i], ULID_BYTES);
                    kept++;
                }
            }
            if (rc != 0)
                break;
            if (kept < r.n) {
                consumer_adjust(s, p->consumer, -(int64_t)(r.n - kept), 0, 0, 0);
                rec->pending -= r.n - kept;
                r.n = kept;
                if ((rc = group_range_save(s, g, glen, &r, deadline)) != 0)
                    break;
                if (r.n == 0)
                    continue;
            }
        }
        if (mutant_is(MUTANT_GROUP_FORGETS_PENDING) && p->delivered_at_ms < s->pending.group_leader_since_ms) {
            consumer_adjust(s, p->consumer, -(int64_t)r.n, 0, 0, 0);
            rec->pending -= r.n;
            r.n = 0;
            if ((rc = group_range_save(s, g, glen, &r, deadline)) != 0)
                break;
            continue;
        }
        bool park = group_exhausted(rec, p);
        size_t room = park ? GROUP_PARK_EXTRA - h->r->parked : count - h->r->count;
        size_t take = room < r.n ? room : r.n;
        if (take < r.n) {
            /* The rest, split off first (it keeps the range's record as
             * it was, `p` is rewritten below): as many events go as when
             * each had a row of its own. */
            Eventflow__PendingRecord *rest_p = store_arena_alloc(&s->apply_arena, sizeof *rest_p);
            *rest_p = *p;
            struct group_range rest = {.p = rest_p, .ids = r.ids + take, .n = r.n - take};
            memcpy(rest.key, rest.ids[0], ULID_BYTES);
            if ((rc = group_range_save(s, g, glen, &rest, -1)) != 0)
                break;
            r.n = take;
        }
        if (park) {
            for (size_t i = 0; i < r.n && rc == 0; i++)
                rc = pending_park(s, g, glen, rec, r.ids[i], p, now, "max_deliveries");
            h->r->parked += (uint32_t)r.n;
            r.n = 0;
            if (rc != 0 || (rc = group_range_save(s, g, glen, &r, deadline)) != 0)
                break;
            continue;
        }
        if (strcmp(p->consumer, consumer) != 0) {
            consumer_adjust(s, p->consumer, -(int64_t)take, 0, 0, 0);
            consumer_adjust(s, consumer, (int64_t)take, 0, 0, 0);
            p->consumer = (char *)consumer;
        }
        p->deliveries++;
        p->delivered_at_ms = now;
        p->deadline_ms = now + (int64_t)rec->spec->ack_wait_ms;
        if ((rc = group_range_save(s, g, glen, &r, deadline)) != 0)
            break;
        rec->delivered += take;
        for (size_t i = 0; i < take; i++)
            handout(h, r.ids[i], p->deliveries);
    }
    mdb_cursor_close(cur);
    return rc;
}

/* Count a first delivery of event id to consumer; new_ranges writes it. */
static void deliver_new(struct store *s, Eventflow__GroupRecord *rec, const char *consumer,
                        const uint8_t id[ULID_BYTES], struct group_handout *h)
{
    consumer_adjust(s, consumer, 1, 0, 0, 0);
    rec->pending++;
    rec->delivered++;
    handout(h, id, 1);
}

/* Record the first deliveries a read made (its handout from `from` on) as
 * ranges of up to GROUP_RANGE_MAX. They follow the group's position, so
 * they lie past every range, unless a SEEK took the group back over
 * pending events: then each is cut out of the range that spans it (and
 * counted out of it if it was still pending) and written alone. */
static int new_ranges(struct store *s, const char *g, size_t glen, Eventflow__GroupRecord *rec, const char *consumer,
                      int64_t now, const struct group_handout *h, uint32_t from)
{
    uint32_t n = h->r->count - from;
    if (n == 0)
        return 0;
    uint8_t(*ids)[ULID_BYTES] = h->ids + from;
    bool past;
    int rc = group_range_past_all(s, g, glen, ids[0], &past);
    for (uint32_t i = 1; rc == 0 && past && i < n; i++)
        past = memcmp(ids[i - 1], ids[i], ULID_BYTES) < 0;
    if (rc != 0)
        return rc;
    Eventflow__PendingRecord p = EVENTFLOW__PENDING_RECORD__INIT;
    p.consumer = (char *)consumer;
    p.deliveries = 1;
    p.delivered_at_ms = now;
    p.deadline_ms = now + (int64_t)rec->spec->ack_wait_ms;
    size_t step = past ? GROUP_RANGE_MAX : 1;
    for (uint32_t i = 0; i < n && rc == 0; i += (uint32_t)step) {
        struct group_range r = {.p = &p, .ids = ids + i, .n = n - i < step ? n - i : step};
        memcpy(r.key, r.ids[0], ULID_BYTES);
        Eventflow__PendingRecord *was = NULL;
        if (!past && (rc = group_range_cut(s, g, glen, r.key, &was)) != 0)
            break;
        if (was != NULL) {
            consumer_adjust(s, was->consumer, -1, 0, 0, 0);
            rec->pending--;
        }
        rc = group_range_save(s, g, glen, &r, -1);
    }
    return rc;
}

/* Whether an event's type is one the group takes, read from its record
 * (only when the group filters by type). */
static int event_view_at(struct store *s, MDB_cursor *events, const uint8_t id[ULID_BYTES], MDB_val *val)
{
    MDB_val k = {.mv_size = ULID_BYTES, .mv_data = (void *)id};
    int rc = mdb_cursor_get(events, &k, val, MDB_SET);
    if (rc == MDB_NOTFOUND)
        return store_fail(s, STORE_ECORRUPT, "events: indexed event missing");
    return rc == 0 ? 0 : store_fail_mdb(s, rc, "reading events");
}

/* Hand out a stream group's next events, from next_version on. */
static int read_stream(struct store *s, const char *g, size_t glen, Eventflow__GroupRecord *rec, const char *consumer,
                       uint32_t count, int64_t now, struct group_handout *h)
{
    const char *stream = rec->spec->stream;
    size_t slen = strlen(stream);
    uint64_t length, first;
    int rc = stream_length(s, stream, &length, &first);
    if (rc != 0)
        return rc;
    if (rec->next_version < first)
        rec->next_version = first;
    MDB_cursor *index = NULL, *events = NULL;
    if ((rc = mdb_cursor_open(s->wtxn, s->stream_index, &index)) != 0 ||
        (rc = mdb_cursor_open(s->wtxn, s->events, &events)) != 0) {
        if (index != NULL)
            mdb_cursor_close(index);
        return store_fail_mdb(s, rc, "opening cursors");
    }
    uint64_t scanned = 0;
    while (rec->next_version < length && h->r->count < count && scanned < (uint64_t)count + GROUP_SCAN_EXTRA) {
        uint8_t key[512], id[ULID_BYTES];
        MDB_val k = {.mv_size = store_index_key(key, stream, slen, rec->next_version), .mv_data = key}, v;
        if ((rc = mdb_cursor_get(index, &k, &v, MDB_SET)) != 0 || v.mv_size != ULID_BYTES) {
            rc = rc != 0 ? store_fail_mdb(s, rc, "reading stream_index")
                         : store_fail(s, STORE_ECORRUPT, "stream_index: bad value");
            break;
        }
        memcpy(id, v.mv_data, ULID_BYTES);
        bool take = true;
        if (rec->spec->n_types > 0) {
            MDB_val ev_val;
            Eventflow__StoredEvent ev;
            if ((rc = event_view_at(s, events, id, &ev_val)) != 0)
                break;
            if (store_event_view(s, &ev_val, &ev) != 0) {
                rc = store_fail(s, STORE_ECORRUPT, "events: undecodable record");
                break;
            }
            take = store_group_matches(rec, &ev);
            store_arena_reset(&s->read_arena);
        }
        rec->next_version++;
        scanned++;
        if (take)
            deliver_new(s, rec, consumer, id, h);
    }
    mdb_cursor_close(events);
    mdb_cursor_close(index);
    return rc;
}

/* Hand out a global group's next events, after last_id. */
static int read_all(struct store *s, const char *g, size_t glen, Eventflow__GroupRecord *rec, const char *consumer,
                    uint32_t count, int64_t now, struct group_handout *h)
{
    if (rec->last_id.len != ULID_BYTES)
        return store_fail(s, STORE_ECORRUPT, "groups: %s has no position", g);
    if (rec->last_position >= s->pending.event_count)
        return 0;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(s->wtxn, s->events, &cur);
    if (rc != 0)
        return store_fail_mdb(s, rc, "opening an events cursor");
    uint8_t *last = store_arena_alloc(&s->apply_arena, ULID_BYTES);
    memcpy(last, rec->last_id.data, ULID_BYTES);
    rec->last_id.data = last;
    MDB_val k = {.mv_size = ULID_BYTES, .mv_data = last}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && memcmp(k.mv_data, last, ULID_BYTES) == 0)
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    uint64_t scanned = 0;
    struct store_live_cache live_cache = {.len = SIZE_MAX};
    while (rc == 0 && h->r->count < count && scanned < (uint64_t)count + GROUP_SCAN_EXTRA) {
        bool live = true;
        if (s->pending.removed_count > 0 && (rc = store_event_live(s, s->wtxn, &live_cache, &v, &live)) != 0)
            break;
        Eventflow__StoredEvent ev;
        if (store_event_view(s, &v, &ev) != 0) {
            rc = store_fail(s, STORE_ECORRUPT, "events: undecodable record");
            break;
        }
        bool take = live && store_group_matches(rec, &ev);
        memcpy(last, ev.id.data, ULID_BYTES);
        rec->last_position = ev.position;
        store_arena_reset(&s->read_arena);
        scanned++;
        /* Copied out above: the puts below may move LMDB's pages. */
        if (take)
            deliver_new(s, rec, consumer, last, h);
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    else if (rc > 0)
        rc = store_fail_mdb(s, rc, "walking events");
    return rc;
}

/* How many events a read may have handed out in all once it takes new
 * ones, having handed out `got` redeliveries: its count, less what would
 * take the group past max_ack_pending (redeliveries do not add to the
 * pending count; first deliveries do). */
static uint32_t read_room(const Eventflow__GroupRecord *rec, uint32_t got, uint32_t count)
{
    uint32_t max = rec->spec->max_ack_pending;
    if (max == 0)
        return count;
    uint64_t room = rec->pending < max ? max - rec->pending : 0;
    return room < (uint64_t)(count - got) ? got + (uint32_t)room : count;
}

static int op_read(struct store *s, const Eventflow__GroupRead *rd, int64_t now, struct store_group_result *r)
{
    if (!store_group_name_ok(rd->group, false) || !store_group_name_ok(rd->consumer, false) || rd->count == 0 ||
        rd->count > STORE_GROUP_READ_MAX) {
        r->status = STORE_GROUP_EINVALID;
        return 0;
    }
    size_t glen = strlen(rd->group);
    Eventflow__GroupRecord *rec;
    int rc = store_group_load(s, s->wtxn, &s->apply_arena, rd->group, glen, &rec);
    if (rc != 0)
        return rc;
    if (rec == NULL) {
        r->status = STORE_GROUP_ENOGROUP;
        return 0;
    }
    struct group_handout h = {
        .r = r,
        .ids = store_arena_alloc(&s->apply_arena, (size_t)rd->count * ULID_BYTES),
        .deliveries = store_arena_alloc(&s->apply_arena, (size_t)rd->count * sizeof(uint32_t)),
    };
    r->ids = (const uint8_t(*)[ULID_BYTES])h.ids;
    r->deliveries = h.deliveries;
    if ((rc = read_due(s, rd->group, glen, rec, rd->consumer, rd->count, now, &h)) != 0)
        return rc;
    uint32_t count = read_room(rec, r->count, rd->count), from = r->count;
    rc = rec->spec->all ? read_all(s, rd->group, glen, rec, rd->consumer, count, now, &h)
                        : read_stream(s, rd->group, glen, rec, rd->consumer, count, now, &h);
    if (rc != 0 || (rc = new_ranges(s, rd->group, glen, rec, rd->consumer, now, &h, from)) != 0)
        return rc;
    /* Every read is a sign of life, whatever it got. */
    consumer_adjust(s, rd->consumer, 0, r->count, 0, now);
    if ((rc = consumers_flush(s, rd->group, glen)) != 0)
        return rc;
    return group_save(s, rd->group, glen, rec);
}

/* ---- ACK, NACK, REPLAY, SEEK ------------------------------------------------------- */

static bool ids_ok(ProtobufCBinaryData *ids, size_t n, bool empty_ok)
{
    if ((n == 0 && !empty_ok) || n > STORE_GROUP_IDS_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (ids[i].len != ULID_BYTES)
            return false;
    return true;
}

static int parked_get(struct store *s, const char *g, size_t glen, const uint8_t id[ULID_BYTES], bool *found)
{
    uint8_t key[STORE_GROUP_KEY_MAX];
    MDB_val k = {.mv_size = store_group_key(key, g, glen, id, ULID_BYTES), .mv_data = key}, v;
    int rc = mdb_get(s->wtxn, s->group_parked, &k, &v);
    *found = rc == 0;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_fail_mdb(s, rc, "reading group_parked");
}

/* Whether an event that is neither pending nor parked was delivered by the
 * group (and so acknowledged since): one of its range, before its
 * position. */
static int delivered_before(struct store *s, const Eventflow__GroupRecord *rec, const uint8_t id[ULID_BYTES],
                            bool *yes)
{
    *yes = false;
    MDB_val k = {.mv_size = ULID_BYTES, .mv_data = (void *)id}, v;
    int rc = mdb_get(s->wtxn, s->events, &k, &v);
    if (rc == MDB_NOTFOUND) {
        /* Once events were removed, an id of the log's past that is gone
         * may be one the group delivered and dropped (read_due): an ack
         * of it counts nothing, as for one acknowledged before. */
        *yes = s->pending.removed_count > 0 && memcmp(id, s->pending.last_id, ULID_BYTES) <= 0;
        return 0;
    }
    if (rc != 0)
        return store_fail_mdb(s, rc, "reading events");
    Eventflow__StoredEvent ev;
    if (store_event_view(s, &v, &ev) != 0) {
        store_arena_reset(&s->read_arena);
        return store_fail(s, STORE_ECORRUPT, "events: undecodable record");
    }
    if (store_group_matches(rec, &ev))
        *yes = rec->spec->all ? ev.position <= rec->last_position : ev.version < rec->next_version;
    store_arena_reset(&s->read_arena);
    return 0;
}

/* The range an ACK or a NACK is at: loaded once for the ids in its span,
 * written back (group_range_save) before another is loaded, so the table
 * is up to date whenever a range is looked up. */
struct range_at {
    struct group_range r;
    int64_t deadline; /* its deadline key's */
    bool loaded, dirty;
};

static int range_at_flush(struct store *s, const char *g, size_t glen, struct range_at *c)
{
    int rc = c->dirty ? group_range_save(s, g, glen, &c->r, c->deadline) : 0;
    c->loaded = c->dirty = false;
    return rc;
}

/* Where `id` is in the range that spans it (*at -1: pending in none). */
static int range_at_find(struct store *s, const char *g, size_t glen, struct range_at *c, const uint8_t id[ULID_BYTES],
                         long *at)
{
    *at = -1;
    if (!c->loaded || c->r.n == 0 || memcmp(id, c->r.key, ULID_BYTES) < 0 ||
        memcmp(id, c->r.ids[c->r.n - 1], ULID_BYTES) > 0) {
        bool found;
        int rc = range_at_flush(s, g, glen, c);
        if (rc != 0 || (rc = group_range_find(s, g, glen, id, &c->r, &found)) != 0 || !found)
            return rc;
        c->loaded = true;
        c->deadline = c->r.p->deadline_ms;
    }
    *at = group_range_index(&c->r, id);
    return 0;
}

/* An ack names events the group delivered: pending ones are done with,
 * parked ones too (a consumer that finished the work late), and ones
 * acknowledged before count nothing (an ack retried after a lost reply
 * must not fail). Any other id fails the whole ack, before it changes
 * anything. The ids of one READ are one range: acking them all deletes
 * its two rows. */
static int op_ack(struct store *s, Eventflow__GroupAck *a, struct store_group_result *r)
{
    if (!store_group_name_ok(a->group, false) || !ids_ok(a->ids, a->n_ids, false)) {
        r->status = STORE_GROUP_EINVALID;
        return 0;
    }
    size_t glen = strlen(a->group);
    Eventflow__GroupRecord *rec;
    int rc = store_group_load(s, s->wtxn, &s->apply_arena, a->group, glen, &rec);
    if (rc != 0)
        return rc;
    if (rec == NULL) {
        r->status = STORE_GROUP_ENOGROUP;
        return 0;
    }
    /* First what each id is, checking before anything changes. */
    enum { ACK_PENDING, ACK_PARKED, ACK_DONE } *what = store_arena_alloc(&s->apply_arena, a->n_ids * sizeof *what);
    struct range_at c = {0};
    for (size_t i = 0; i < a->n_ids; i++) {
        const uint8_t *id = a->ids[i].data;
        bool parked = false, before;
        long at;
        if ((rc = range_at_find(s, a->group, glen, &c, id, &at)) != 0 ||
            (at < 0 && (rc = parked_get(s, a->group, glen, id, &parked)) != 0))
            return rc;
        what[i] = at >= 0 ? ACK_PENDING : parked ? ACK_PARKED : ACK_DONE;
        if (what[i] != ACK_DONE)
            continue;
        if ((rc = delivered_before(s, rec, id, &before)) != 0)
            return rc;
        if (!before) {
            r->status = STORE_GROUP_ENOTDELIVERED;
            memcpy(r->bad_id, id, ULID_BYTES);
            return 0;
        }
    }
    uint8_t key[STORE_GROUP_KEY_MAX];
    for (size_t i = 0; i < a->n_ids; i++) {
        const uint8_t *id = a->ids[i].data;
        if (what[i] == ACK_PENDING) {
            long at;
            if ((rc = range_at_find(s, a->group, glen, &c, id, &at)) != 0)
                return rc;
            if (at < 0) /* named twice: acked once */
                continue;
            memmove(c.r.ids[at], c.r.ids[at + 1], (c.r.n - (size_t)at - 1) * ULID_BYTES);
            c.r.n--;
            c.dirty = true;
            consumer_adjust(s, c.r.p->consumer, -1, 0, 1, 0);
            rec->pending--;
        } else if (what[i] == ACK_PARKED) {
            bool again = false;
            for (size_t j = 0; j < i && !again; j++)
                again = what[j] == ACK_PARKED && memcmp(a->ids[j].data, id, ULID_BYTES) == 0;
            if (again)
                continue;
            if ((rc = group_del(s, s->group_parked, key, store_group_key(key, a->group, glen, id, ULID_BYTES),
                                "deleting from group_parked")) != 0)
                return rc;
            rec->parked--;
        } else {
            continue;
        }
        rec->acked++;
        r->count++;
    }
    if ((rc = range_at_flush(s, a->group, glen, &c)) != 0 || (rc = consumers_flush(s, a->group, glen)) != 0)
        return rc;
    return r->count > 0 ? group_save(s, a->group, glen, rec) : 0;
}

/* A nack gives pending events back at once (deadline 0, held by nobody),
 * or parks them: asked to, or when they have no delivery left. Each is
 * cut out of its range first. */
static int op_nack(struct store *s, Eventflow__GroupNack *nk, int64_t now, struct store_group_result *r)
{
    if (!store_group_name_ok(nk->group, false) || !ids_ok(nk->ids, nk->n_ids, false)) {
        r->status = STORE_GROUP_EINVALID;
        return 0;
    }
    size_t glen = strlen(nk->group);
    Eventflow__GroupRecord *rec;
    int rc = store_group_load(s, s->wtxn, &s->apply_arena, nk->group, glen, &rec);
    if (rc != 0)
        return rc;
    if (rec == NULL) {
        r->status = STORE_GROUP_ENOGROUP;
        return 0;
    }
    struct range_at c = {0};
    for (size_t i = 0; i < nk->n_ids; i++) {
        long at;
        if ((rc = range_at_find(s, nk->group, glen, &c, nk->ids[i].data, &at)) != 0)
            return rc;
        if (at < 0) {
            r->status = STORE_GROUP_ENOTPENDING;
            memcpy(r->bad_id, nk->ids[i].data, ULID_BYTES);
            return 0;
        }
    }
    for (size_t i = 0; i < nk->n_ids; i++) {
        const uint8_t *id = nk->ids[i].data;
        Eventflow__PendingRecord *p;
        if ((rc = group_range_cut(s, nk->group, glen, id, &p)) != 0)
            return rc;
        if (p == NULL) /* named twice */
            continue;
        if (nk->park || group_exhausted(rec, p)) {
            rc = pending_park(s, nk->group, glen, rec, id, p, now, nk->park ? "nack" : "max_deliveries");
        } else {
            consumer_adjust(s, p->consumer, -1, 0, 0, 0);
            p->consumer = "";
            p->deadline_ms = 0;
            uint8_t one_id[ULID_BYTES];
            memcpy(one_id, id, ULID_BYTES);
            struct group_range one = {.p = p, .ids = &one_id, .n = 1};
            memcpy(one.key, id, ULID_BYTES);
            rc = group_range_save(s, nk->group, glen, &one, -1);
        }
        if (rc != 0)
            return rc;
        r->count++;
    }
    if ((rc = consumers_flush(s, nk->group, glen)) != 0)
        return rc;
    return group_save(s, nk->group, glen, rec);
}

/* Parked events go back to delivery as if new: held by nobody, due at
 * once, their delivery count started again. */
static int replay_one(struct store *s, const char *g, size_t glen, Eventflow__GroupRecord *rec,
                      const uint8_t id[ULID_BYTES])
{
    uint8_t key[STORE_GROUP_KEY_MAX];
    int rc = group_del(s, s->group_parked, key, store_group_key(key, g, glen, id, ULID_BYTES),
                       "deleting from group_parked");
    Eventflow__PendingRecord *was = NULL;
    if (rc != 0 || (rc = group_range_cut(s, g, glen, id, &was)) != 0)
        return rc;
    if (was != NULL) { /* also pending again since (a SEEK back) */
        consumer_adjust(s, was->consumer, -1, 0, 0, 0);
        rec->pending--;
    }
    Eventflow__PendingRecord p = EVENTFLOW__PENDING_RECORD__INIT;
    p.consumer = "";
    uint8_t one_id[ULID_BYTES];
    memcpy(one_id, id, ULID_BYTES);
    struct group_range one = {.p = &p, .ids = &one_id, .n = 1};
    memcpy(one.key, id, ULID_BYTES);
    if ((rc = group_range_save(s, g, glen, &one, -1)) != 0)
        return rc;
    rec->parked--;
    rec->pending++;
    return 0;
}

static int op_replay(struct store *s, Eventflow__GroupReplay *rp, struct store_group_result *r)
{
    if (!store_group_name_ok(rp->group, false) || !ids_ok(rp->ids, rp->n_ids, true) ||
        rp->limit > STORE_GROUP_IDS_MAX || (rp->n_ids == 0 && rp->limit == 0)) {
        r->status = STORE_GROUP_EINVALID;
        return 0;
    }
    size_t glen = strlen(rp->group);
    Eventflow__GroupRecord *rec;
    int rc = store_group_load(s, s->wtxn, &s->apply_arena, rp->group, glen, &rec);
    if (rc != 0)
        return rc;
    if (rec == NULL) {
        r->status = STORE_GROUP_ENOGROUP;
        return 0;
    }
    for (size_t i = 0; i < rp->n_ids; i++) {
        bool parked;
        if ((rc = parked_get(s, rp->group, glen, rp->ids[i].data, &parked)) != 0)
            return rc;
        if (parked) {
            if ((rc = replay_one(s, rp->group, glen, rec, rp->ids[i].data)) != 0)
                return rc;
            r->count++;
        }
    }
    while (rp->n_ids == 0 && r->count < rp->limit) {
        MDB_cursor *cur;
        if ((rc = mdb_cursor_open(s->wtxn, s->group_parked, &cur)) != 0)
            return store_fail_mdb(s, rc, "opening a group_parked cursor");
        uint8_t key[STORE_GROUP_KEY_MAX], id[ULID_BYTES];
        MDB_val k = {.mv_size = store_group_key(key, rp->group, glen, NULL, 0), .mv_data = key}, v;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        bool found = rc == 0 && store_group_key_of(&k, rp->group, glen) && k.mv_size == glen + 1 + ULID_BYTES;
        if (found)
            memcpy(id, (uint8_t *)k.mv_data + glen + 1, ULID_BYTES);
        mdb_cursor_close(cur);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return store_fail_mdb(s, rc, "walking group_parked");
        if (!found)
            break;
        if ((rc = replay_one(s, rp->group, glen, rec, id)) != 0)
            return rc;
        r->count++;
    }
    return r->count > 0 ? group_save(s, rp->group, glen, rec) : 0;
}

static int op_seek(struct store *s, Eventflow__GroupSeek *sk, struct store_group_result *r)
{
    if (!store_group_name_ok(sk->group, false) || (sk->after_id.len != 0 && sk->after_id.len != ULID_BYTES)) {
        r->status = STORE_GROUP_EINVALID;
        return 0;
    }
    size_t glen = strlen(sk->group);
    Eventflow__GroupRecord *rec;
    int rc = store_group_load(s, s->wtxn, &s->apply_arena, sk->group, glen, &rec);
    if (rc != 0)
        return rc;
    if (rec == NULL) {
        r->status = STORE_GROUP_ENOGROUP;
        return 0;
    }
    if ((rec->spec->all && sk->version != 0) || (!rec->spec->all && sk->after_id.len != 0)) {
        r->status = STORE_GROUP_EINVALID;
        return 0;
    }
    if ((rc = group_position(s, rec, sk->to_end, sk->version, &sk->after_id)) != 0)
        return rc;
    return group_save(s, sk->group, glen, rec);
}

/* ---- DELCONSUMER ------------------------------------------------------------------ */

/* A consumer that holds nothing is only a name and its counters; one that
 * holds pending events is refused: deleting it would leave them held by a
 * name nobody reads as (they would still come due, but INFO would lose
 * who holds them). Its events go to others as they come due, or by NACK. */
static int op_delconsumer(struct store *s, const Eventflow__GroupDelConsumer *dc, struct store_group_result *r)
{
    if (!store_group_name_ok(dc->group, false) || !store_group_name_ok(dc->consumer, false)) {
        r->status = STORE_GROUP_EINVALID;
        return 0;
    }
    size_t glen = strlen(dc->group);
    Eventflow__GroupRecord *rec;
    int rc = store_group_load(s, s->wtxn, &s->apply_arena, dc->group, glen, &rec);
    if (rc != 0)
        return rc;
    if (rec == NULL) {
        r->status = STORE_GROUP_ENOGROUP;
        return 0;
    }
    uint8_t key[STORE_GROUP_KEY_MAX];
    MDB_val k = {.mv_size = store_group_key(key, dc->group, glen, dc->consumer, strlen(dc->consumer)),
                 .mv_data = key},
            v;
    rc = mdb_get(s->wtxn, s->group_consumers, &k, &v);
    if (rc == MDB_NOTFOUND) {
        r->status = STORE_GROUP_ENOCONSUMER;
        return 0;
    }
    if (rc != 0)
        return store_fail_mdb(s, rc, "reading group_consumers");
    Eventflow__ConsumerRecord *c = eventflow__consumer_record__unpack(&s->apply_arena.pb, v.mv_size, v.mv_data);
    if (c == NULL)
        return store_fail(s, STORE_ECORRUPT, "group_consumers: undecodable record");
    if (c->pending > 0) {
        r->status = STORE_GROUP_EHOLDING;
        r->count = c->pending;
        return 0;
    }
    return group_del(s, s->group_consumers, key, k.mv_size, "deleting from group_consumers");
}

/* ---- the entry ------------------------------------------------------------------ */

/* An operation missing its body is malformed, like one with a bad field. */
static int group_op(struct store *s, Eventflow__GroupOp *op, int64_t now, struct store_group_result *r)
{
    s->tally.n = 0;
    r->status = STORE_GROUP_EINVALID;
    switch (op->op_case) {
    case EVENTFLOW__GROUP_OP__OP_CREATE:
        if (op->create == NULL)
            return 0;
        r->status = STORE_GROUP_OK;
        return op_create(s, op->create, now, r);
    case EVENTFLOW__GROUP_OP__OP_DESTROY:
        r->status = STORE_GROUP_OK;
        return op_destroy(s, op->destroy, r);
    case EVENTFLOW__GROUP_OP__OP_READ:
        if (op->read == NULL)
            return 0;
        r->status = STORE_GROUP_OK;
        return op_read(s, op->read, now, r);
    case EVENTFLOW__GROUP_OP__OP_ACK:
        if (op->ack == NULL)
            return 0;
        r->status = STORE_GROUP_OK;
        return op_ack(s, op->ack, r);
    case EVENTFLOW__GROUP_OP__OP_NACK:
        if (op->nack == NULL)
            return 0;
        r->status = STORE_GROUP_OK;
        return op_nack(s, op->nack, now, r);
    case EVENTFLOW__GROUP_OP__OP_SEEK:
        if (op->seek == NULL)
            return 0;
        r->status = STORE_GROUP_OK;
        return op_seek(s, op->seek, r);
    case EVENTFLOW__GROUP_OP__OP_REPLAY:
        if (op->replay == NULL)
            return 0;
        r->status = STORE_GROUP_OK;
        return op_replay(s, op->replay, r);
    case EVENTFLOW__GROUP_OP__OP_DELCONSUMER:
        if (op->delconsumer == NULL)
            return 0;
        r->status = STORE_GROUP_OK;
        return op_delconsumer(s, op->delconsumer, r);
    default:
        return 0;
    }
}

int store_apply_groups(struct store *s, const Eventflow__GroupOps *ops, enum store_status *status)
{
    /* The group clock never runs backwards, whatever the leaders' clocks. */
    int64_t now = ops->now_ms > s->pending.group_clock_ms ? ops->now_ms : s->pending.group_clock_ms;
    if (now <= 0) {
        *status = STORE_INVALID_ENTRY;
        return 0;
    }
    s->pending.group_clock_ms = now;
    if (ops->leader_start)
        s->pending.group_leader_since_ms = now;
    struct store_group_result *results =
        store_arena_alloc(&s->apply_arena, (ops->n_ops > 0 ? ops->n_ops : 1) * sizeof *results);
    memset(results, 0, (ops->n_ops > 0 ? ops->n_ops : 1) * sizeof *results);
    for (size_t i = 0; i < ops->n_ops; i++) {
        results[i].status = STORE_GROUP_EINVALID;
        if (ops->ops[i] == NULL)
            continue;
        int rc = group_op(s, ops->ops[i], now, &results[i]);
        if (rc != 0)
            return rc;
        /* What the operation answered, also when it changed nothing. */
        uint8_t outcome[3 * 8 + ULID_BYTES];
        be64_put(outcome, (uint64_t)results[i].status);
        be64_put(outcome + 8, results[i].count);
        be64_put(outcome + 16, results[i].parked);
        memcpy(outcome + 24, results[i].bad_id, ULID_BYTES);
        store_digest_fold(s, STORE_DIGEST_OUTCOME, outcome, sizeof outcome, outcome, 0);
    }
    s->outcome.n_groups = ops->n_ops;
    s->outcome.groups = results;
    *status = STORE_GROUPS_APPLIED;
    return 0;
}
