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

#endif
