/* test_store_group.c - consumer groups in the state machine: what a read
 * hands out, acks, nacks, redelivery on the entry's clock, parking,
 * replays, seeks, the new leader's grace, and that every refusal changes
 * nothing. Ids are small numbers (tid) so that order is obvious. */
#include "test_store_util.h"

#define ACK_WAIT 100

/* Append n events to stream, of type `type` (NULL: type-<seq>). Returns
 * the first one's seq. */
static uint64_t add_events(struct tfx *f, const char *stream, size_t n, const char *type)
{
    Eventflow__NewEvent evs[64], *evp[64];
    uint8_t ids[64][ULID_BYTES];
    char types[64][32];
    assert_true(n <= 64);
    uint64_t first = f->seq;
    for (size_t i = 0; i < n; i++) {
        eventflow__new_event__init(&evs[i]);
        evp[i] = &evs[i];
        tid(f->seq, ids[i]);
        snprintf(types[i], sizeof types[i], "type-%llu", (unsigned long long)f->seq);
        f->seq++;
        evs[i].id = (ProtobufCBinaryData){.len = ULID_BYTES, .data = ids[i]};
        evs[i].type = type != NULL ? (char *)type : types[i];
    }
    Eventflow__AddCommand add = EVENTFLOW__ADD_COMMAND__INIT;
    add.stream = (char *)stream;
    add.any_version = true;
    add.added_at_ns = 1;
    add.n_events = n;
    add.events = evp;
    Eventflow__Entry e = EVENTFLOW__ENTRY__INIT;
    e.command_case = EVENTFLOW__ENTRY__COMMAND_ADD;
    e.add = &add;
    size_t len;
    uint8_t *buf = tpack_entry(&e, &len);
    assert_int_equal(tapply(f->s, f->index++, buf, len, NULL), STORE_APPLIED);
    return first;
}

/* Apply one GroupOps entry of n operations at group-clock time now. */
static const struct store_outcome *apply_ops(struct tfx *f, int64_t now, bool leader_start, Eventflow__GroupOp **ops,
                                             size_t n)
{
    Eventflow__GroupOps g = EVENTFLOW__GROUP_OPS__INIT;
    g.now_ms = now;
    g.leader_start = leader_start;
    g.n_ops = n;
    g.ops = ops;
    Eventflow__Entry e = EVENTFLOW__ENTRY__INIT;
    e.command_case = EVENTFLOW__ENTRY__COMMAND_GROUPS;
    e.groups = &g;
    size_t len;
    uint8_t *buf = tpack_entry(&e, &len);
    const struct store_outcome *o;
    assert_int_equal(tapply(f->s, f->index++, buf, len, &o), STORE_GROUPS_APPLIED);
    assert_int_equal(o->n_groups, n);
    return o;
}

static const struct store_group_result *apply_op(struct tfx *f, int64_t now, Eventflow__GroupOp *op)
{
    return &apply_ops(f, now, false, &op, 1)->groups[0];
}

static enum store_group_status create_group_limited(struct tfx *f, int64_t now, const char *group, const char *stream,
                                                    uint32_t max_deliveries, uint32_t max_ack_pending)
{
    Eventflow__GroupCreate c = EVENTFLOW__GROUP_CREATE__INIT;
    c.group = (char *)group;
    c.stream = stream != NULL ? (char *)stream : "";
    c.all = stream == NULL;
    c.ack_wait_ms = ACK_WAIT;
    c.max_deliveries = max_deliveries;
    c.max_ack_pending = max_ack_pending;
    Eventflow__GroupOp op = EVENTFLOW__GROUP_OP__INIT;
    op.op_case = EVENTFLOW__GROUP_OP__OP_CREATE;
    op.create = &c;
    return apply_op(f, now, &op)->status;
}

static enum store_group_status create_group(struct tfx *f, int64_t now, const char *group, const char *stream,
                                            uint32_t max_deliveries)
{
    return create_group_limited(f, now, group, stream, max_deliveries, 0);
}

static Eventflow__GroupRead read_of(const char *group, const char *consumer, uint32_t count)
{
    Eventflow__GroupRead rd = EVENTFLOW__GROUP_READ__INIT;
    rd.group = (char *)group;
    rd.consumer = (char *)consumer;
    rd.count = count;
    return rd;
}

/* A read; its ids as seqs into out (count returned). */
static size_t group_read(struct tfx *f, int64_t now, const char *group, const char *consumer, uint32_t count,
                         uint64_t *seqs, uint32_t *deliveries)
{
    Eventflow__GroupRead rd = read_of(group, consumer, count);
    Eventflow__GroupOp op = EVENTFLOW__GROUP_OP__INIT;
    op.op_case = EVENTFLOW__GROUP_OP__OP_READ;
    op.read = &rd;
    const struct store_group_result *r = apply_op(f, now, &op);
    assert_int_equal(r->status, STORE_GROUP_OK);
    for (size_t i = 0; i < r->count; i++) {
        uint64_t seq = 0;
        for (int b = 8; b < ULID_BYTES; b++)
            seq = seq << 8 | r->ids[i][b];
        if (seqs != NULL)
            seqs[i] = seq;
        if (deliveries != NULL)
            deliveries[i] = r->deliveries[i];
    }
    return (size_t)r->count;
}

/* ACK (park = -1), NACK (park 0/1) or REPLAY (park = 2) of ids given as seqs. */
static const struct store_group_result *ids_op(struct tfx *f, int64_t now, const char *group, int kind,
                                               const uint64_t *seqs, size_t n)
{
    static uint8_t ids[16][ULID_BYTES];
    static ProtobufCBinaryData bins[16];
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++) {
        tid(seqs[i], ids[i]);
        bins[i] = (ProtobufCBinaryData){.len = ULID_BYTES, .data = ids[i]};
    }
    Eventflow__GroupOp op = EVENTFLOW__GROUP_OP__INIT;
    Eventflow__GroupAck a = EVENTFLOW__GROUP_ACK__INIT;
    Eventflow__GroupNack nk = EVENTFLOW__GROUP_NACK__INIT;
    Eventflow__GroupReplay rp = EVENTFLOW__GROUP_REPLAY__INIT;
    if (kind < 0) {
        a.group = (char *)group;
        a.n_ids = n;
        a.ids = bins;
        op.op_case = EVENTFLOW__GROUP_OP__OP_ACK;
        op.ack = &a;
    } else if (kind <= 1) {
        nk.group = (char *)group;
        nk.n_ids = n;
        nk.ids = bins;
        nk.park = kind == 1;
        op.op_case = EVENTFLOW__GROUP_OP__OP_NACK;
        op.nack = &nk;
    } else {
        rp.group = (char *)group;
        rp.n_ids = n;
        rp.ids = bins;
        rp.limit = n == 0 ? 100 : 0;
        op.op_case = EVENTFLOW__GROUP_OP__OP_REPLAY;
        op.replay = &rp;
    }
    return apply_op(f, now, &op);
}

#define ACK(f, now, g, ...) ids_op(f, now, g, -1, (uint64_t[]){__VA_ARGS__}, sizeof((uint64_t[]){__VA_ARGS__}) / 8)
#define NACK(f, now, g, ...) ids_op(f, now, g, 0, (uint64_t[]){__VA_ARGS__}, sizeof((uint64_t[]){__VA_ARGS__}) / 8)
#define PARK(f, now, g, ...) ids_op(f, now, g, 1, (uint64_t[]){__VA_ARGS__}, sizeof((uint64_t[]){__VA_ARGS__}) / 8)

/* ---- what the reads see ------------------------------------------------------------ */

struct ginfo {
    bool found;
    Eventflow__GroupRecord rec; /* counters and position only */
    uint64_t lag;
    size_t n_consumers;
    char consumers[8][32];
    uint64_t consumer_pending[8];
    int64_t consumer_seen[8];
};

static int info_group(void *arg, const char *name, size_t len, const Eventflow__GroupRecord *g, uint64_t lag)
{
    struct ginfo *gi = arg;
    (void)name;
    (void)len;
    gi->found = true;
    gi->rec.next_version = g->next_version;
    gi->rec.last_position = g->last_position;
    gi->rec.pending = g->pending;
    gi->rec.parked = g->parked;
    gi->rec.delivered = g->delivered;
    gi->rec.acked = g->acked;
    gi->lag = lag;
    return 0;
}

static int info_consumer(void *arg, const char *name, size_t len, const Eventflow__ConsumerRecord *c)
{
    struct ginfo *gi = arg;
    assert_true(gi->n_consumers < 8 && len < 32);
    memcpy(gi->consumers[gi->n_consumers], name, len);
    gi->consumers[gi->n_consumers][len] = '\0';
    gi->consumer_pending[gi->n_consumers] = c->pending;
    gi->consumer_seen[gi->n_consumers] = c->last_seen_ms;
    gi->n_consumers++;
    return 0;
}

static struct ginfo group_info(struct tfx *f, const char *group)
{
    struct ginfo gi = {0};
    struct store_group_visitor v = {.arg = &gi, .group = info_group, .consumer = info_consumer};
    int rc = store_group_info(f->s, group, strlen(group), &v);
    assert_true(rc == 0 || rc == STORE_ENOENT);
    return gi;
}

struct idlist {
    size_t n;
    uint64_t seqs[64];
    char holders[64][32];
    uint32_t deliveries[64];
};

static uint64_t id_seq(const uint8_t id[ULID_BYTES])
{
    uint64_t seq = 0;
    for (int b = 8; b < ULID_BYTES; b++)
        seq = seq << 8 | id[b];
    return seq;
}

static int list_pending(void *arg, const uint8_t id[ULID_BYTES], const Eventflow__PendingRecord *p)
{
    struct idlist *l = arg;
    snprintf(l->holders[l->n], 32, "%s", p->consumer);
    l->deliveries[l->n] = p->deliveries;
    l->seqs[l->n++] = id_seq(id);
    return 0;
}

static int list_parked(void *arg, const uint8_t id[ULID_BYTES], const Eventflow__ParkedRecord *p)
{
    struct idlist *l = arg;
    snprintf(l->holders[l->n], 32, "%s", p->reason);
    l->deliveries[l->n] = p->deliveries;
    l->seqs[l->n++] = id_seq(id);
    return 0;
}

static struct idlist pending_of(struct tfx *f, const char *group, const char *consumer)
{
    struct idlist l = {0};
    struct store_group_visitor v = {.arg = &l, .pending = list_pending};
    assert_int_equal(store_group_pending(f->s, group, strlen(group), consumer, NULL, 64, &v), 0);
    return l;
}

static struct idlist parked_of(struct tfx *f, const char *group)
{
    struct idlist l = {0};
    struct store_group_visitor v = {.arg = &l, .parked = list_parked};
    assert_int_equal(store_group_parked(f->s, group, strlen(group), NULL, 64, &v), 0);
    return l;
}

/* ---- tests ------------------------------------------------------------------------- */

/* Two consumers share a stream's group: each event goes to exactly one,
 * in version order, and acks retire them. */
static void test_share_and_ack(void **state)
{
    struct tfx *f = *state;
    uint64_t first = add_events(f, "orders", 5, NULL);
    assert_int_equal(create_group(f, 1000, "billing", "orders", 0), STORE_GROUP_OK);
    assert_int_equal(create_group(f, 1000, "billing", "orders", 0), STORE_GROUP_EEXISTS);

    uint64_t a[8], b[8];
    uint32_t d[8];
    assert_int_equal(group_read(f, 1001, "billing", "a", 2, a, d), 2);
    assert_int_equal(group_read(f, 1001, "billing", "b", 10, b, NULL), 3);
    assert_int_equal(a[0], first);
    assert_int_equal(a[1], first + 1);
    assert_int_equal(d[0], 1);
    assert_int_equal(b[0], first + 2);
    assert_int_equal(b[2], first + 4);
    assert_int_equal(group_read(f, 1002, "billing", "a", 10, NULL, NULL), 0);

    struct ginfo gi = group_info(f, "billing");
    assert_true(gi.found);
    assert_int_equal(gi.rec.next_version, 5);
    assert_int_equal(gi.rec.pending, 5);
    assert_int_equal(gi.rec.delivered, 5);
    assert_int_equal(gi.lag, 0);
    assert_int_equal(gi.n_consumers, 2);
    assert_string_equal(gi.consumers[0], "a");
    assert_int_equal(gi.consumer_pending[0], 2);
    assert_int_equal(gi.consumer_seen[0], 1002);
    assert_int_equal(gi.consumer_pending[1], 3);

    struct idlist pa = pending_of(f, "billing", "a");
    assert_int_equal(pa.n, 2);
    assert_int_equal(pa.seqs[0], first);

    const struct store_group_result *r = ACK(f, 1003, "billing", first, first + 2);
    assert_int_equal(r->status, STORE_GROUP_OK);
    assert_int_equal(r->count, 2);
    /* A retried ack (its reply was lost) is no error, and acks nothing. */
    r = ACK(f, 1003, "billing", first);
    assert_int_equal(r->status, STORE_GROUP_OK);
    assert_int_equal(r->count, 0);
    gi = group_info(f, "billing");
    assert_int_equal(gi.rec.pending, 3);
    assert_int_equal(gi.rec.acked, 2);
    assert_int_equal(gi.consumer_pending[0], 1);
    assert_int_equal(gi.consumer_pending[1], 2);

    /* An id named twice in one ack is acked once. */
    r = ACK(f, 1003, "billing", first + 1, first + 1);
    assert_int_equal(r->count, 1);
    gi = group_info(f, "billing");
    assert_int_equal(gi.rec.pending, 2);
    assert_int_equal(gi.rec.acked, 3);
    assert_int_equal(gi.consumer_pending[0], 0);

    /* New events go on from the position. */
    uint64_t more = add_events(f, "orders", 1, NULL);
    assert_int_equal(group_read(f, 1004, "billing", "a", 10, a, NULL), 1);
    assert_int_equal(a[0], more);
}

/* An ack naming an event the group never delivered fails whole: the
 * pending events it also names stay pending. */
static void test_ack_refusals_change_nothing(void **state)
{
    struct tfx *f = *state;
    uint64_t first = add_events(f, "orders", 3, NULL);
    uint64_t other = add_events(f, "other", 1, NULL);
    assert_int_equal(create_group(f, 1000, "g", "orders", 0), STORE_GROUP_OK);
    assert_int_equal(group_read(f, 1000, "g", "a", 1, NULL, NULL), 1);

    const struct store_group_result *r = ACK(f, 1001, "g", first, first + 1);
    assert_int_equal(r->status, STORE_GROUP_ENOTDELIVERED);
    uint8_t bad[ULID_BYTES];
    tid(first + 1, bad);
    assert_memory_equal(r->bad_id, bad, ULID_BYTES);
    r = ACK(f, 1001, "g", other);
    assert_int_equal(r->status, STORE_GROUP_ENOTDELIVERED);
    r = ACK(f, 1001, "g", 999999);
    assert_int_equal(r->status, STORE_GROUP_ENOTDELIVERED);
    assert_int_equal(group_info(f, "g").rec.pending, 1);

    r = NACK(f, 1001, "g", first, first + 2);
    assert_int_equal(r->status, STORE_GROUP_ENOTPENDING);
    assert_int_equal(pending_of(f, "g", "a").n, 1);

    r = ACK(f, 1001, "nope", first);
    assert_int_equal(r->status, STORE_GROUP_ENOGROUP);
}

/* A read of 0 events, a name too long, or an operation without its body
 * is malformed: EINVALID, nothing changed. */
static void test_malformed_ops(void **state)
{
    struct tfx *f = *state;
    add_events(f, "orders", 2, NULL);
    assert_int_equal(create_group(f, 1000, "g", "orders", 0), STORE_GROUP_OK);
    Eventflow__GroupRead rd = read_of("g", "a", 0);
    Eventflow__GroupOp op = EVENTFLOW__GROUP_OP__INIT;
    op.op_case = EVENTFLOW__GROUP_OP__OP_READ;
    op.read = &rd;
    assert_int_equal(apply_op(f, 1000, &op)->status, STORE_GROUP_EINVALID);
    char longname[STORE_GROUP_NAME_MAX + 2];
    memset(longname, 'c', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    rd = read_of("g", longname, 1);
    assert_int_equal(apply_op(f, 1000, &op)->status, STORE_GROUP_EINVALID);
    op.read = NULL;
    assert_int_equal(apply_op(f, 1000, &op)->status, STORE_GROUP_EINVALID);
    assert_int_equal(create_group(f, 1000, "", "orders", 0), STORE_GROUP_EINVALID);
    assert_int_equal(group_info(f, "g").rec.pending, 0);
    assert_int_equal(group_info(f, "g").n_consumers, 0);
}

/* An event not acked within the ack wait goes to the next reader, with
 * its delivery count; before that, nobody else gets it. */
static void test_redelivery_after_ack_wait(void **state)
{
    struct tfx *f = *state;
    uint64_t first = add_events(f, "orders", 2, NULL);
    assert_int_equal(create_group(f, 1000, "g", "orders", 0), STORE_GROUP_OK);
    assert_int_equal(group_read(f, 1000, "g", "a", 2, NULL, NULL), 2);
    ACK(f, 1010, "g", first + 1);

    assert_int_equal(group_read(f, 1000 + ACK_WAIT - 1, "g", "b", 10, NULL, NULL), 0);
    bool ready;
    int64_t wake;
    assert_int_equal(store_group_ready(f->s, "g", 1, 1050, &ready, &wake), 0);
    assert_false(ready);
    assert_int_equal(wake, 1000 + ACK_WAIT);

    uint64_t got[4];
    uint32_t d[4];
    assert_int_equal(group_read(f, 1000 + ACK_WAIT, "g", "b", 10, got, d), 1);
    assert_int_equal(got[0], first);
    assert_int_equal(d[0], 2);
    struct idlist p = pending_of(f, "g", NULL);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.holders[0], "b");
    struct ginfo gi = group_info(f, "g");
    assert_int_equal(gi.consumer_pending[0], 0); /* a */
    assert_int_equal(gi.consumer_pending[1], 1); /* b */
    assert_int_equal(gi.rec.delivered, 3);
    /* a's late ack still counts: the work was done. */
    const struct store_group_result *r = ACK(f, 1200, "g", first);
    assert_int_equal(r->count, 1);
    assert_int_equal(group_info(f, "g").rec.pending, 0);
}

/* After max_deliveries the event is parked, not handed out again; a
 * replay hands it out afresh; an ack of a parked event retires it. */
static void test_max_deliveries_parks(void **state)
{
    struct tfx *f = *state;
    uint64_t first = add_events(f, "orders", 2, NULL);
    assert_int_equal(create_group(f, 1000, "g", "orders", 2), STORE_GROUP_OK);
    int64_t t = 1000;
    assert_int_equal(group_read(f, t, "g", "a", 2, NULL, NULL), 2);
    t += ACK_WAIT;
    assert_int_equal(group_read(f, t, "g", "a", 2, NULL, NULL), 2); /* second deliveries */
    t += ACK_WAIT;
    Eventflow__GroupRead rd = read_of("g", "a", 2);
    Eventflow__GroupOp op = EVENTFLOW__GROUP_OP__INIT;
    op.op_case = EVENTFLOW__GROUP_OP__OP_READ;
    op.read = &rd;
    const struct store_group_result *r = apply_op(f, t, &op);
    assert_int_equal(r->count, 0);
    assert_int_equal(r->parked, 2);

    struct idlist pk = parked_of(f, "g");
    assert_int_equal(pk.n, 2);
    assert_int_equal(pk.seqs[0], first);
    assert_string_equal(pk.holders[0], "max_deliveries");
    assert_int_equal(pk.deliveries[0], 2);
    struct ginfo gi = group_info(f, "g");
    assert_int_equal(gi.rec.parked, 2);
    assert_int_equal(gi.rec.pending, 0);
    assert_int_equal(gi.consumer_pending[0], 0);

    r = ids_op(f, t, "g", 2, (uint64_t[]){first}, 1); /* replay one */
    assert_int_equal(r->count, 1);
    uint64_t got[2];
    uint32_t d[2];
    assert_int_equal(group_read(f, t, "g", "b", 5, got, d), 1);
    assert_int_equal(got[0], first);
    assert_int_equal(d[0], 1);
    r = ACK(f, t, "g", first + 1); /* the other one, still parked */
    assert_int_equal(r->count, 1);
    gi = group_info(f, "g");
    assert_int_equal(gi.rec.parked, 0);
    assert_int_equal(gi.rec.pending, 1);
}

/* A nack hands an event straight to the next reader; a nack with park
 * parks it. */
static void test_nack(void **state)
{
    struct tfx *f = *state;
    uint64_t first = add_events(f, "orders", 2, NULL);
    assert_int_equal(create_group(f, 1000, "g", "orders", 0), STORE_GROUP_OK);
    assert_int_equal(group_read(f, 1000, "g", "a", 2, NULL, NULL), 2);
    assert_int_equal(NACK(f, 1001, "g", first)->count, 1);
    assert_int_equal(PARK(f, 1001, "g", first + 1)->count, 1);
    struct idlist p = pending_of(f, "g", "");
    assert_int_equal(p.n, 1);
    uint64_t got[2];
    uint32_t d[2];
    assert_int_equal(group_read(f, 1002, "g", "b", 5, got, d), 1);
    assert_int_equal(got[0], first);
    assert_int_equal(d[0], 2);
    struct idlist pk = parked_of(f, "g");
    assert_int_equal(pk.n, 1);
    assert_string_equal(pk.holders[0], "nack");
}

/* A global group takes the log in commit order, through its filters, and
 * its position moves past what the filters skip. */
static void test_all_group_filters(void **state)
{
    struct tfx *f = *state;
    uint64_t o1 = add_events(f, "order-1", 2, "Placed");
    add_events(f, "user-1", 2, "Placed");
    uint64_t o2 = add_events(f, "order-2", 2, "Shipped");
    uint64_t o3 = add_events(f, "order-3", 1, "Placed");

    Eventflow__GroupCreate c = EVENTFLOW__GROUP_CREATE__INIT;
    c.group = "placed";
    c.stream = "";
    c.all = true;
    c.stream_prefix = "order-";
    char *types[] = {"Placed"};
    c.n_types = 1;
    c.types = types;
    c.ack_wait_ms = ACK_WAIT;
    Eventflow__GroupOp op = EVENTFLOW__GROUP_OP__INIT;
    op.op_case = EVENTFLOW__GROUP_OP__OP_CREATE;
    op.create = &c;
    assert_int_equal(apply_op(f, 1000, &op)->status, STORE_GROUP_OK);

    uint64_t got[8];
    assert_int_equal(group_read(f, 1000, "placed", "a", 8, got, NULL), 3);
    assert_int_equal(got[0], o1);
    assert_int_equal(got[1], o1 + 1);
    assert_int_equal(got[2], o3);
    struct ginfo gi = group_info(f, "placed");
    assert_int_equal(gi.rec.last_position, 7);
    assert_int_equal(gi.lag, 0);
    /* Shipped events were never delivered: not ackable. */
    assert_int_equal(ACK(f, 1001, "placed", o2)->status, STORE_GROUP_ENOTDELIVERED);
}

/* From the end, from an id, and seeks. */
static void test_start_positions_and_seek(void **state)
{
    struct tfx *f = *state;
    uint64_t first = add_events(f, "s", 4, NULL);

    Eventflow__GroupCreate c = EVENTFLOW__GROUP_CREATE__INIT;
    c.group = "tail";
    c.stream = "";
    c.all = true;
    c.from_end = true;
    c.ack_wait_ms = ACK_WAIT;
    Eventflow__GroupOp op = EVENTFLOW__GROUP_OP__INIT;
    op.op_case = EVENTFLOW__GROUP_OP__OP_CREATE;
    op.create = &c;
    assert_int_equal(apply_op(f, 1000, &op)->status, STORE_GROUP_OK);
    assert_int_equal(group_read(f, 1000, "tail", "a", 8, NULL, NULL), 0);
    uint64_t next = add_events(f, "s", 1, NULL);
    uint64_t got[8];
    assert_int_equal(group_read(f, 1000, "tail", "a", 8, got, NULL), 1);
    assert_int_equal(got[0], next);

    uint8_t after[ULID_BYTES];
    tid(first + 1, after);
    c = (Eventflow__GroupCreate)EVENTFLOW__GROUP_CREATE__INIT;
    c.group = "mid";
    c.stream = "";
    c.all = true;
    c.after_id = (ProtobufCBinaryData){.len = ULID_BYTES, .data = after};
    c.ack_wait_ms = ACK_WAIT;
    assert_int_equal(apply_op(f, 1000, &op)->status, STORE_GROUP_OK);
    assert_int_equal(group_info(f, "mid").lag, 3);
    assert_int_equal(group_read(f, 1000, "mid", "a", 8, got, NULL), 3);
    assert_int_equal(got[0], first + 2);

    /* A stream group at version 3, then sought back to 1. */
    c = (Eventflow__GroupCreate)EVENTFLOW__GROUP_CREATE__INIT;
    c.group = "sv";
    c.stream = "s";
    c.version = 3;
    c.ack_wait_ms = ACK_WAIT;
    assert_int_equal(apply_op(f, 1000, &op)->status, STORE_GROUP_OK);
    assert_int_equal(group_read(f, 1000, "sv", "a", 8, got, NULL), 2);
    assert_int_equal(got[0], first + 3);
    Eventflow__GroupSeek sk = EVENTFLOW__GROUP_SEEK__INIT;
    sk.group = "sv";
    sk.version = 1;
    Eventflow__GroupOp sop = EVENTFLOW__GROUP_OP__INIT;
    sop.op_case = EVENTFLOW__GROUP_OP__OP_SEEK;
    sop.seek = &sk;
    assert_int_equal(apply_op(f, 1000, &sop)->status, STORE_GROUP_OK);
    assert_int_equal(group_info(f, "sv").lag, 4);
    /* A global group cannot seek to a version. */
    sk.group = "mid";
    assert_int_equal(apply_op(f, 1000, &sop)->status, STORE_GROUP_EINVALID);
}

/* A new leader's first group entry gives every earlier delivery a whole
 * ack wait from then: a leader whose clock runs ahead cannot redeliver
 * early. Deliveries it makes itself keep their own deadlines. */
static void test_new_leader_grace(void **state)
{
    struct tfx *f = *state;
    uint64_t first = add_events(f, "s", 2, NULL);
    assert_int_equal(create_group(f, 1000, "g", "s", 0), STORE_GROUP_OK);
    assert_int_equal(group_read(f, 1000, "g", "a", 1, NULL, NULL), 1); /* deadline 1100 */

    /* The new leader's clock says 5000: without the grace, first is long
     * overdue. */
    apply_ops(f, 5000, true, NULL, 0);
    uint64_t got[4];
    uint32_t d[4];
    assert_int_equal(group_read(f, 5000, "g", "b", 1, got, NULL), 1);
    assert_int_equal(got[0], first + 1); /* the new one, not the redelivery */
    assert_int_equal(group_read(f, 5000 + ACK_WAIT - 1, "g", "b", 1, NULL, NULL), 0);
    assert_int_equal(group_read(f, 5000 + ACK_WAIT, "g", "b", 2, got, d), 2);
    assert_int_equal(got[0], first);
    assert_int_equal(d[0], 2);

    /* And the group clock never runs backwards: an entry stamped earlier
     * is applied at the clock's time. */
    assert_int_equal(group_read(f, 10, "g", "c", 2, NULL, NULL), 0);
    assert_int_equal(tstats(f->s).group_clock_ms, 5000 + ACK_WAIT);
}

/* Several operations in one entry apply in order: two reads never get the
 * same event. */
static void test_ops_in_one_entry(void **state)
{
    struct tfx *f = *state;
    uint64_t first = add_events(f, "s", 3, NULL);
    assert_int_equal(create_group(f, 1000, "g", "s", 0), STORE_GROUP_OK);
    Eventflow__GroupRead r1 = read_of("g", "a", 2), r2 = read_of("g", "b", 2);
    Eventflow__GroupOp o1 = EVENTFLOW__GROUP_OP__INIT, o2 = EVENTFLOW__GROUP_OP__INIT;
    o1.op_case = o2.op_case = EVENTFLOW__GROUP_OP__OP_READ;
    o1.read = &r1;
    o2.read = &r2;
    Eventflow__GroupOp *ops[] = {&o1, &o2};
    const struct store_outcome *o = apply_ops(f, 1000, false, ops, 2);
    assert_int_equal(o->groups[0].count, 2);
    assert_int_equal(o->groups[1].count, 1);
    assert_int_equal(id_seq(o->groups[1].ids[0]), first + 2);
}

/* Group state survives a reopen; destroy removes all of it. */
static void test_persist_and_destroy(void **state)
{
    struct tfx *f = *state;
    add_events(f, "s", 3, NULL);
    assert_int_equal(create_group(f, 1000, "g", "s", 1), STORE_GROUP_OK);
    assert_int_equal(create_group(f, 1000, "h", "s", 0), STORE_GROUP_OK);
    assert_int_equal(group_read(f, 1000, "g", "a", 1, NULL, NULL), 1);
    assert_int_equal(group_read(f, 1050, "g", "a", 2, NULL, NULL), 2);
    assert_int_equal(group_read(f, 1000 + ACK_WAIT, "g", "a", 1, NULL, NULL), 0); /* parks the first */
    assert_int_equal(store_flush(f->s), 0);
    store_close(f->s);
    f->s = tstore_open(f->dir, TEST_MAP_SIZE);
    assert_int_equal(tstats(f->s).group_count, 2);
    struct ginfo gi = group_info(f, "g");
    assert_int_equal(gi.rec.pending, 2);
    assert_int_equal(gi.rec.parked, 1);
    assert_int_equal(tstats(f->s).group_clock_ms, 1000 + ACK_WAIT);

    Eventflow__GroupOp op = EVENTFLOW__GROUP_OP__INIT;
    op.op_case = EVENTFLOW__GROUP_OP__OP_DESTROY;
    op.destroy = "g";
    assert_int_equal(apply_op(f, 2000, &op)->status, STORE_GROUP_OK);
    assert_int_equal(apply_op(f, 2000, &op)->status, STORE_GROUP_ENOGROUP);
    assert_false(group_info(f, "g").found);
    assert_int_equal(tstats(f->s).group_count, 1);
    struct store_group_visitor v = {0};
    assert_int_equal(store_group_pending(f->s, "g", 1, NULL, NULL, 10, &v), STORE_ENOENT);
    /* The other group is untouched, and a group of the same name starts
     * empty. */
    assert_true(group_info(f, "h").found);
    assert_int_equal(create_group(f, 2000, "g", "s", 0), STORE_GROUP_OK);
    gi = group_info(f, "g");
    assert_int_equal(gi.rec.pending, 0);
    assert_int_equal(gi.rec.parked, 0);
    assert_int_equal(gi.n_consumers, 0);
}

/* Ready when events lie past the position; else the first due time. */
static void test_ready(void **state)
{
    struct tfx *f = *state;
    bool ready;
    int64_t wake;
    assert_int_equal(store_group_ready(f->s, "g", 1, 1000, &ready, &wake), STORE_ENOENT);
    assert_int_equal(create_group(f, 1000, "g", "s", 0), STORE_GROUP_OK);
    assert_int_equal(store_group_ready(f->s, "g", 1, 1000, &ready, &wake), 0);
    assert_false(ready);
    assert_int_equal(wake, 0);
    add_events(f, "s", 1, NULL);
    assert_int_equal(store_group_ready(f->s, "g", 1, 1000, &ready, &wake), 0);
    assert_true(ready);
}

/* max_ack_pending stops first deliveries while the group holds that many
 * pending events, in a READ and in what wakes a blocked one; an ack makes
 * room; redeliveries go on at the limit. */
static void test_max_ack_pending(void **state)
{
    struct tfx *f = *state;
    for (int all = 0; all <= 1; all++) {
        const char *group = all ? "ga" : "gs";
        size_t glen = strlen(group);
        int64_t t = 1000 + 1000 * all; /* the group clock never runs back */
        uint64_t first = add_events(f, all ? "other" : "limited", 10, NULL);
        assert_int_equal(create_group_limited(f, t, group, all ? NULL : "limited", 0, 3), STORE_GROUP_OK);
        if (all) /* the global group starts at the log's start: skip the stream group's events */
            first -= 10;
        uint64_t got[16];
        uint32_t d[16];
        assert_int_equal(group_read(f, t, group, "a", 10, got, NULL), 3);
        assert_int_equal(got[0], first);
        assert_int_equal(got[2], first + 2);
        bool ready;
        int64_t wake;
        assert_int_equal(store_group_ready(f->s, group, glen, t, &ready, &wake), 0);
        assert_false(ready); /* events wait past the position, but the group is full */
        assert_int_equal(wake, t + ACK_WAIT);
        assert_int_equal(group_read(f, t, group, "b", 10, NULL, NULL), 0);

        ACK(f, t, group, first);
        assert_int_equal(store_group_ready(f->s, group, glen, t, &ready, &wake), 0);
        assert_true(ready);
        assert_int_equal(group_read(f, t, group, "b", 10, got, NULL), 1);
        assert_int_equal(got[0], first + 3);
        assert_int_equal(group_info(f, group).rec.pending, 3);

        /* Their ack waits over: the three come again, nothing new. */
        assert_int_equal(group_read(f, t + ACK_WAIT, group, "c", 10, got, d), 3);
        for (int i = 0; i < 3; i++)
            assert_int_equal(d[i], 2);
        assert_int_equal(group_info(f, group).rec.pending, 3);
    }
}

/* ---- pending ranges: one READ's events share one row ---------------------------- */

/* Pending events of group g after `after` (a seq), at most limit. */
static struct idlist pending_after(struct tfx *f, const char *group, uint64_t after, uint64_t limit)
{
    struct idlist l = {0};
    uint8_t id[ULID_BYTES];
    tid(after, id);
    struct store_group_visitor v = {.arg = &l, .pending = list_pending};
    assert_int_equal(store_group_pending(f->s, group, strlen(group), NULL, id, limit, &v), 0);
    return l;
}

/* ACK of the n events from seq `first` on; returns how many it acked. */
static uint64_t ack_run(struct tfx *f, int64_t now, const char *group, uint64_t first, size_t n)
{
    uint64_t seqs[16];
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++)
        seqs[i] = first + i;
    const struct store_group_result *r = ids_op(f, now, group, -1, seqs, n);
    assert_int_equal(r->status, STORE_GROUP_OK);
    return r->count;
}

/* An ack of an event in the middle of a READ's run retires it alone: the
 * others stay pending with their holder, listed in order (also from
 * inside the run), and are acked later, once each. */
static void test_range_ack_middle(void **state)
{
    struct tfx *f = *state;
    uint64_t first = add_events(f, "orders", 10, NULL);
    assert_int_equal(create_group(f, 1000, "g", "orders", 0), STORE_GROUP_OK);
    assert_int_equal(group_read(f, 1000, "g", "a", 10, NULL, NULL), 10);
    assert_int_equal(ACK(f, 1001, "g", first + 4)->count, 1);
    struct idlist p = pending_of(f, "g", NULL);
    assert_int_equal(p.n, 9);
    assert_int_equal(p.seqs[3], first + 3);
    assert_int_equal(p.seqs[4], first + 5);
    assert_string_equal(p.holders[8], "a");
    p = pending_after(f, "g", first + 5, 2);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.seqs[0], first + 6);
    assert_int_equal(p.seqs[1], first + 7);
    p = pending_after(f, "g", first + 4, 64); /* the acked one itself */
    assert_int_equal(p.n, 5);
    assert_int_equal(p.seqs[0], first + 5);

    assert_int_equal(ACK(f, 1002, "g", first + 4)->count, 0); /* again: done before */
    assert_int_equal(ACK(f, 1002, "g", first, first + 3, first + 1, first + 3)->count, 3);
    assert_int_equal(ACK(f, 1002, "g", first + 9, first + 2, first + 5, first + 6, first + 7, first + 8)->count, 6);
    assert_int_equal(pending_of(f, "g", NULL).n, 0);
    struct ginfo gi = group_info(f, "g");
    assert_int_equal(gi.rec.pending, 0);
    assert_int_equal(gi.rec.acked, 10);
    assert_int_equal(gi.consumer_pending[0], 0);
    /* Nothing comes due again: every key went with its events. */
    assert_int_equal(group_read(f, 1000 + 10 * ACK_WAIT, "g", "b", 10, NULL, NULL), 0);
}

/* A redelivery with room for part of a run hands out its first events and
 * leaves the rest pending with their holder and deadline, for the next. */
static void test_range_partial_redelivery(void **state)
{
    struct tfx *f = *state;
    uint64_t first = add_events(f, "orders", 10, NULL);
    assert_int_equal(create_group(f, 1000, "g", "orders", 0), STORE_GROUP_OK);
    assert_int_equal(group_read(f, 1000, "g", "a", 10, NULL, NULL), 10);
    uint64_t got[10];
    uint32_t d[10];
    int64_t t = 1000 + ACK_WAIT;
    assert_int_equal(group_read(f, t, "g", "b", 4, got, d), 4);
    assert_int_equal(got[0], first);
    assert_int_equal(got[3], first + 3);
    assert_int_equal(d[3], 2);
    struct idlist p = pending_of(f, "g", NULL);
    assert_int_equal(p.n, 10);
    assert_string_equal(p.holders[3], "b");
    assert_string_equal(p.holders[4], "a");
    assert_int_equal(p.deliveries[4], 1);
    struct ginfo gi = group_info(f, "g");
    assert_int_equal(gi.consumer_pending[0], 6); /* a */
    assert_int_equal(gi.consumer_pending[1], 4); /* b */

    assert_int_equal(group_read(f, t, "g", "c", 10, got, d), 6);
    assert_int_equal(got[0], first + 4);
    assert_int_equal(got[5], first + 9);
    assert_int_equal(d[5], 2);
    /* b's four are not due again before their own deadline. */
    assert_int_equal(group_read(f, t + ACK_WAIT - 1, "g", "a", 10, NULL, NULL), 0);
    assert_int_equal(group_read(f, t + ACK_WAIT, "g", "a", 10, got, d), 10);
    assert_int_equal(d[0], 3);
    assert_int_equal(ack_run(f, t + ACK_WAIT, "g", first, 10), 10);
    gi = group_info(f, "g");
    assert_int_equal(gi.rec.pending, 0);
    assert_int_equal(gi.rec.delivered, 30);
    for (size_t i = 0; i < gi.n_consumers; i++)
        assert_int_equal(gi.consumer_pending[i], 0);
}

/* Parking or giving back one event of a run takes it alone out of it. */
static void test_range_park_one(void **state)
{
    struct tfx *f = *state;
    uint64_t first = add_events(f, "orders", 10, NULL);
    assert_int_equal(create_group(f, 1000, "g", "orders", 0), STORE_GROUP_OK);
    assert_int_equal(group_read(f, 1000, "g", "a", 10, NULL, NULL), 10);
    assert_int_equal(PARK(f, 1001, "g", first + 3)->count, 1);
    assert_int_equal(NACK(f, 1001, "g", first + 6)->count, 1);
    struct idlist pk = parked_of(f, "g");
    assert_int_equal(pk.n, 1);
    assert_int_equal(pk.seqs[0], first + 3);
    uint64_t got[10];
    uint32_t d[10];
    assert_int_equal(group_read(f, 1002, "g", "b", 10, got, d), 1); /* the one given back, nothing else */
    assert_int_equal(got[0], first + 6);
    assert_int_equal(d[0], 2);
    struct idlist p = pending_of(f, "g", NULL);
    assert_int_equal(p.n, 9);
    assert_int_equal(p.seqs[3], first + 4);
    assert_string_equal(p.holders[5], "b");
    assert_string_equal(p.holders[6], "a");
    assert_int_equal(NACK(f, 1002, "g", first + 3)->status, STORE_GROUP_ENOTPENDING);
    assert_int_equal(ack_run(f, 1003, "g", first, 10), 10);
    struct ginfo gi = group_info(f, "g");
    assert_int_equal(gi.rec.pending, 0);
    assert_int_equal(gi.rec.parked, 0);
    /* The rest of the run never comes due again. */
    assert_int_equal(group_read(f, 1000 + 10 * ACK_WAIT, "g", "b", 10, NULL, NULL), 0);
}

/* max_ack_pending counts events, not runs: acking two of a run of five
 * makes room for two. */
static void test_range_max_ack_pending_counts_events(void **state)
{
    struct tfx *f = *state;
    uint64_t first = add_events(f, "orders", 10, NULL);
    assert_int_equal(create_group_limited(f, 1000, "g", "orders", 0, 5), STORE_GROUP_OK);
    uint64_t got[10];
    assert_int_equal(group_read(f, 1000, "g", "a", 10, got, NULL), 5);
    assert_int_equal(group_read(f, 1000, "g", "b", 10, NULL, NULL), 0);
    assert_int_equal(ACK(f, 1000, "g", first + 1, first + 3)->count, 2);
    assert_int_equal(group_read(f, 1000, "g", "b", 10, got, NULL), 2);
    assert_int_equal(got[0], first + 5);
    assert_int_equal(got[1], first + 6);
    assert_int_equal(group_info(f, "g").rec.pending, 5);
}

/* A SEEK back over pending events hands them out again as new: each is
 * taken out of the run that held it and counted once. */
static void test_range_seek_back(void **state)
{
    struct tfx *f = *state;
    uint64_t first = add_events(f, "orders", 6, NULL);
    assert_int_equal(create_group(f, 1000, "g", "orders", 0), STORE_GROUP_OK);
    assert_int_equal(group_read(f, 1000, "g", "a", 4, NULL, NULL), 4);
    assert_int_equal(ACK(f, 1000, "g", first + 1)->count, 1);
    Eventflow__GroupSeek sk = EVENTFLOW__GROUP_SEEK__INIT;
    sk.group = "g";
    sk.version = 2;
    Eventflow__GroupOp op = EVENTFLOW__GROUP_OP__INIT;
    op.op_case = EVENTFLOW__GROUP_OP__OP_SEEK;
    op.seek = &sk;
    assert_int_equal(apply_op(f, 1000, &op)->status, STORE_GROUP_OK);
    uint64_t got[8];
    assert_int_equal(group_read(f, 1001, "g", "b", 8, got, NULL), 4);
    assert_int_equal(got[0], first + 2);
    struct idlist p = pending_of(f, "g", NULL);
    assert_int_equal(p.n, 5);
    assert_string_equal(p.holders[0], "a");
    assert_string_equal(p.holders[1], "b");
    struct ginfo gi = group_info(f, "g");
    assert_int_equal(gi.rec.pending, 5);
    assert_int_equal(gi.consumer_pending[0], 1); /* a: first */
    assert_int_equal(gi.consumer_pending[1], 4); /* b */
    /* Each comes due once, with one deadline key apiece. */
    assert_int_equal(group_read(f, 1001 + ACK_WAIT, "g", "c", 8, got, NULL), 5);
    assert_int_equal(group_read(f, 1001 + ACK_WAIT, "g", "c", 8, NULL, NULL), 0);
    assert_int_equal(ACK(f, 1002, "g", first, first + 2, first + 3, first + 4, first + 5)->count, 5);
    assert_int_equal(group_info(f, "g").rec.pending, 0);
}

/* ---- the state digest ------------------------------------------------------------ */

static uint64_t digest_of(struct tfx *f)
{
    struct store_stats st;
    assert_int_equal(store_stats(f->s, &st), 0);
    return st.state_digest;
}

/* The same group entries applied to two stores give one digest; an entry
 * one of them applied and the other did not shows; events alone do not
 * move it; it survives a reopen. */
static void test_state_digest(void **state)
{
    struct tfx *a = *state, *b;
    assert_int_equal(tfx_setup((void **)&b), 0);
    struct tfx *both[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        struct tfx *f = both[i];
        assert_int_equal(digest_of(f), 0);
        uint64_t first = add_events(f, "orders", 10, NULL);
        assert_int_equal(digest_of(f), 0);
        assert_int_equal(create_group(f, 1000, "g", "orders", 0), STORE_GROUP_OK);
        assert_int_equal(group_read(f, 1000, "g", "a", 6, NULL, NULL), 6);
        ACK(f, 1001, "g", first + 2);
    }
    uint64_t d = digest_of(a);
    assert_true(d != 0);
    assert_true(d == digest_of(b));
    /* A refused ack changes no table, but it is an outcome too. */
    assert_int_equal(ACK(b, 1002, "g", 99)->status, STORE_GROUP_ENOTDELIVERED);
    assert_true(digest_of(b) != d);
    assert_int_equal(ACK(a, 1002, "g", 99)->status, STORE_GROUP_ENOTDELIVERED);
    assert_true(digest_of(a) == digest_of(b));
    /* One replica hands out an event the other does not. */
    assert_int_equal(group_read(a, 1003, "g", "a", 1, NULL, NULL), 1);
    assert_int_equal(group_read(b, 1003, "g", "b", 1, NULL, NULL), 1);
    d = digest_of(a);
    assert_true(d != digest_of(b));
    assert_int_equal(store_flush(a->s), 0);
    store_close(a->s);
    a->s = tstore_open(a->dir, TEST_MAP_SIZE);
    assert_true(digest_of(a) == d);
    struct store_stats st;
    assert_int_equal(store_stats(a->s, &st), 0);
    assert_int_equal(st.state_digest_since, 0);
    tfx_teardown((void **)&b);
}

static const struct store_group_result *delconsumer(struct tfx *f, int64_t now, const char *group, const char *consumer)
{
    Eventflow__GroupDelConsumer dc = EVENTFLOW__GROUP_DEL_CONSUMER__INIT;
    dc.group = (char *)group;
    dc.consumer = (char *)consumer;
    Eventflow__GroupOp op = EVENTFLOW__GROUP_OP__INIT;
    op.op_case = EVENTFLOW__GROUP_OP__OP_DELCONSUMER;
    op.delconsumer = &dc;
    return apply_op(f, now, &op);
}

/* A consumer holding pending events is not deleted (nothing changes); once
 * it holds none it is, and only it. */
static void test_delete_consumer(void **state)
{
    struct tfx *f = *state;
    uint64_t first = add_events(f, "s", 3, NULL);
    assert_int_equal(delconsumer(f, 1000, "g", "a")->status, STORE_GROUP_ENOGROUP);
    assert_int_equal(create_group(f, 1000, "g", "s", 0), STORE_GROUP_OK);
    assert_int_equal(group_read(f, 1000, "g", "a", 2, NULL, NULL), 2);
    assert_int_equal(group_read(f, 1000, "g", "b", 1, NULL, NULL), 1);
    assert_int_equal(delconsumer(f, 1000, "g", "nobody")->status, STORE_GROUP_ENOCONSUMER);
    const struct store_group_result *r = delconsumer(f, 1000, "g", "a");
    assert_int_equal(r->status, STORE_GROUP_EHOLDING);
    assert_int_equal(r->count, 2);
    assert_int_equal(group_info(f, "g").n_consumers, 2);

    ACK(f, 1000, "g", first, first + 1);
    assert_int_equal(delconsumer(f, 1000, "g", "a")->status, STORE_GROUP_OK);
    struct ginfo gi = group_info(f, "g");
    assert_int_equal(gi.n_consumers, 1);
    assert_string_equal(gi.consumers[0], "b");
    assert_int_equal(gi.rec.pending, 1);
    assert_int_equal(delconsumer(f, 1000, "g", "a")->status, STORE_GROUP_ENOCONSUMER);
    assert_int_equal(delconsumer(f, 1000, "g", "")->status, STORE_GROUP_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_share_and_ack, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_ack_refusals_change_nothing, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_ops, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_redelivery_after_ack_wait, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_max_deliveries_parks, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_nack, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_all_group_filters, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_start_positions_and_seek, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_new_leader_grace, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_ops_in_one_entry, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_persist_and_destroy, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_ready, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_max_ack_pending, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_delete_consumer, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_range_ack_middle, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_range_partial_redelivery, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_range_park_one, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_range_max_ack_pending_counts_events, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_range_seek_back, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_state_digest, tfx_setup, tfx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
