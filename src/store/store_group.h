/* store_group.h - what the consumer groups' apply (store_group.c) and reads
 * (store_group_read.c) share. Internal to src/store.
 *
 * Keys of the group tables start with the group's name and a 0x00 (names
 * hold no NUL), so one group's records are adjacent and a prefix walk finds
 * them; store.h lists the tables. */
#ifndef EVENTFLOW_STORE_GROUP_H
#define EVENTFLOW_STORE_GROUP_H

#include "store/store_internal.h"

/* Room for the longest key: a name, the 0x00, a deadline and an id (or a
 * consumer's name). */
#define STORE_GROUP_KEY_MAX (2 * STORE_GROUP_NAME_MAX + 2)

/* name + 0x00 + suffix into key; returns the key's length. glen and slen
 * must each be at most STORE_GROUP_NAME_MAX. */
static inline size_t store_group_key(uint8_t key[STORE_GROUP_KEY_MAX], const char *g, size_t glen, const void *suf,
                                     size_t slen)
{
    memcpy(key, g, glen);
    key[glen] = 0;
    if (slen > 0)
        memcpy(key + glen + 1, suf, slen);
    return glen + 1 + slen;
}

/* A group_deadlines key: name + 0x00 + deadline (u64 BE) + the pending
 * range's key. */
static inline size_t store_group_deadline_key(uint8_t key[STORE_GROUP_KEY_MAX], const char *g, size_t glen,
                                              int64_t deadline, const uint8_t id[ULID_BYTES])
{
    uint8_t suffix[8 + ULID_BYTES];
    be64_put(suffix, (uint64_t)deadline);
    memcpy(suffix + 8, id, ULID_BYTES);
    return store_group_key(key, g, glen, suffix, sizeof suffix);
}

/* Whether k is one of group g's keys. */
static inline bool store_group_key_of(const MDB_val *k, const char *g, size_t glen)
{
    return k->mv_size > glen && memcmp(k->mv_data, g, glen) == 0 && ((const uint8_t *)k->mv_data)[glen] == 0;
}

/* Whether a name may name a group or a consumer: 1..STORE_GROUP_NAME_MAX
 * bytes, no NUL (protobuf strings reach here NUL-terminated). */
static inline bool store_group_name_ok(const char *name, bool empty_ok)
{
    if (name == NULL)
        return false;
    size_t len = strlen(name);
    return (empty_ok || len > 0) && len <= STORE_GROUP_NAME_MAX;
}

/* Load group g's record through txn into arena a: *out NULL when there
 * is none. Returns 0 or a STORE_E* code (with a message). */
int store_group_load(struct store *s, MDB_txn *txn, struct store_arena *a, const char *g, size_t glen,
                     Eventflow__GroupRecord **out);

/* Whether an event is one the group delivers (its stream, prefix, types). */
bool store_group_matches(const Eventflow__GroupRecord *g, const Eventflow__StoredEvent *ev);

/* Events past the group's position (see store_group_visitor). `index` is a
 * stream_index cursor in the same transaction; `m` the meta it sees. */
int store_group_lag(MDB_cursor *index, const struct store_meta *m, const Eventflow__GroupRecord *g, uint64_t *lag);

/* When a pending event with this deadline may be handed out again: a
 * deadline of 0 (given back) at once; otherwise not before the deadline,
 * nor before a whole ack wait after the current leader's first group
 * entry (leader_since), which is what keeps a new leader whose clock runs
 * ahead of the old one's from redelivering early. */
static inline int64_t store_group_due(const struct store_meta *m, const Eventflow__GroupRecord *g, int64_t deadline)
{
    if (deadline == 0)
        return 0;
    int64_t grace = m->group_leader_since_ms + (int64_t)g->spec->ack_wait_ms;
    return deadline > grace ? deadline : grace;
}

/* ---- pending ranges (store_group_range.c) --------------------------------------

 * A group_pending row is a range: events handed to one consumer together,
 * sharing holder, delivery count and deadline, keyed by the first of them
 * and indexed once in group_deadlines (group, deadline, key). Ranges never
 * overlap: each spans [key, its last id], and no other row's key falls in
 * that span, so the row holding an event is the last row keyed at or
 * before it. A READ of n new events then writes two rows instead of 2n,
 * and an ACK of them deletes two. */

/* Events in one range at most: a READ of 1,000 writes 16 rows of 1 KiB
 * (no LMDB overflow pages), and an ack of part of one rewrites 1 KiB. */
#define GROUP_RANGE_MAX 64

/* One range, loaded into the apply arena. `ids` is a private copy that
 * the caller may shrink or split before group_range_save. */
struct group_range {
    uint8_t key[ULID_BYTES];
    Eventflow__PendingRecord *p; /* holder, deliveries, deadline */
    uint8_t (*ids)[ULID_BYTES];
    size_t n;
};

/* The range whose span holds `id` (an event at or after its key and at
 * or before its last): *found false when there is none. Whether `id` is
 * still in it: group_range_index. */
int group_range_find(struct store *s, const char *g, size_t glen, const uint8_t id[ULID_BYTES], struct group_range *r,
                     bool *found);
/* The range keyed `key` (a group_deadlines key names one): *found false
 * when there is none. */
int group_range_get(struct store *s, const char *g, size_t glen, const uint8_t key[ULID_BYTES], struct group_range *r,
                    bool *found);
/* Where `id` is in r's ids, or -1. */
long group_range_index(const struct group_range *r, const uint8_t id[ULID_BYTES]);
/* Write r (its ids, r->p's holder, deliveries and deadline) and its
 * group_deadlines key; `old_deadline` is the deadline key it had (-1: a
 * new row). A range left with no ids is deleted instead. */
int group_range_save(struct store *s, const char *g, size_t glen, struct group_range *r, int64_t old_deadline);
/* Make `id` belong to no range and lie in no range's span, splitting the
 * range that spans it; *was, if non-NULL, gets a copy of that range's
 * record when `id` was pending in it (NULL otherwise), so that the caller
 * can count it out. Then a one-event range keyed `id` may be written. */
int group_range_cut(struct store *s, const char *g, size_t glen, const uint8_t id[ULID_BYTES],
                    Eventflow__PendingRecord **was);
/* Whether new ranges starting at `first` lie past every range of group g
 * (always, unless a SEEK took the group back over pending events). */
int group_range_past_all(struct store *s, const char *g, size_t glen, const uint8_t first[ULID_BYTES], bool *past);

#endif
