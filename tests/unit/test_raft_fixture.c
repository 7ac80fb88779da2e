/* test_raft_fixture.c - the consensus guarantees eventflowd builds on,
 * checked against raft 0.22.1 itself, on raft's in-process fixture.
 *
 * eventflowd trusts raft for the properties below (docs/architecture.md,
 * src/node/node.c, src/node/fsm.c). Each test drives a cluster of
 * in-memory raft servers in virtual time and asserts its property; if raft,
 * or the way eventflowd drives it, stopped providing it, the test fails.
 *
 * 1. Leader change with entries in flight
 *    (test_leader_change_deposed, test_leader_change_cut_points).
 *    A leader that loses leadership with entries in flight fires their
 *    callbacks with RAFT_LEADERSHIPLOST, never with another failure, and such
 *    an entry may still be committed by the next leader: that is why
 *    eventflowd answers "-UNKNOWN" rather than "failed". An entry whose
 *    callback reported 0 sits at the index it was proposed at in every
 *    server's applied sequence. And once a new leader's raft_barrier has
 *    applied, every entry below the barrier that will ever commit is already
 *    applied on that leader: eventflowd starts its id generator above the last
 *    applied id at that point. The cut-points test cuts the leader off (by
 *    saturation, disconnection or kill) at every step of a window in which it
 *    proposes one entry after another, so that between them the runs cover
 *    entries committed before the cut, entries that were unknown and then
 *    committed, and entries that were unknown and then lost; it asserts that
 *    each of those outcomes occurred.
 * 2. Partition of the leader (test_partitioned_leader).
 *    The majority elects a new leader and commits; the cut-off leader commits
 *    nothing (no 0 status, no commit index advance), soon steps down and then
 *    refuses proposals; after healing every server applies the same sequence
 *    and the old leader follows the new one.
 * 3. Snapshot install (test_snapshot_install).
 *    With a low snapshot threshold and trailing, a follower cut off while many
 *    entries commit is brought back by InstallSnapshot: its fsm->restore runs
 *    (and owns the buffer, as fsm.c assumes: ASan checks that), it applies
 *    fewer entries than it missed, and its state equals the leader's.
 * 4. Apply index (every test, and test_apply_index_barriers_and_changes).
 *    Inside fsm->apply, raft_last_applied() + 1 is the index of the entry
 *    being applied (fsm.c computes the index that way). The FSM records that
 *    value with every entry, and the checks compare it with the index the
 *    entry got on the leader that proposed it (raft_last_index() + 1 just
 *    before raft_apply, cross-checked with req->index). The dedicated test
 *    puts barriers and configuration entries (raft_add, then raft_assign to
 *    voter) between commands and has the new server catch up through a
 *    snapshot, so the property is checked after gaps and after a restore.
 *
 * Notes on the 0.22.1 fixture, which shaped the tests:
 * - raft_fixture_step_until_has_leader waits for a "stable" leader, one that
 *   every connected server acknowledges. A server cut off with
 *   raft_fixture_disconnect still counts as connected, so while a server is
 *   cut off the tests wait for a new leader with their own predicate and use
 *   the fixture's helper only once everything is healed.
 * - A killed server does not tick, so a killed leader stays leader (and its
 *   requests stay pending) until it is revived and hears the new term.
 * - raft_fixture_saturate asserts that the link is connected, so a test uses
 *   one way of cutting a server off at a time.
 * - raft_fixture_close fires the callbacks of requests still pending, so the
 *   request records live in the cluster and are freed only after it.
 * - Time is virtual and every choice is fixed (randomized election timeouts
 *   set per server, fixed step counts), so every run is the same run; each
 *   wait is bounded in virtual milliseconds.
 *
 * The FSM is a version 2 raft_fsm (snapshot_finalize: the buffers stay ours,
 * as in fsm.c). Entries carry an 8-byte value; apply appends
 * (raft_last_applied() + 1, value) to a per-server array, and snapshots
 * serialize that array. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <raft.h>
#include <raft/fixture.h>

#define CLUSTER_MAX 5
#define MAX_PROPOSALS 256
#define MAX_BARRIERS 4
#define MAX_CHANGES 4

/* The payload of the k-th proposal of a cluster is VALUE_BASE + k: values
 * are unique, and a value leads back to its proposal. */
#define VALUE_BASE 1000u

/* Bound of every wait, in virtual milliseconds: many election timeouts
 * (1000 ms), far more than any wait below needs. */
#define WAIT_MS 30000u

/* ---- the test FSM ------------------------------------------------------ */

struct applied {
    raft_index index; /* raft_last_applied() + 1 when apply ran */
    uint64_t value;   /* the entry's payload */
};

struct test_fsm {
    struct raft *raft;   /* borrowed: the fixture server applying to us */
    struct applied *seq; /* owned: every entry applied, in order */
    size_t n;
    size_t cap;
    unsigned n_apply_calls;         /* apply calls (restores not counted) */
    unsigned n_applied_since_restore;
    unsigned n_snapshots;
    unsigned n_restores;
};

static void fsm_push(struct test_fsm *t, raft_index index, uint64_t value)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        struct applied *seq = realloc(t->seq, cap * sizeof *seq);
        if (seq == NULL)
            abort();
        t->seq = seq;
        t->cap = cap;
    }
    t->seq[t->n].index = index;
    t->seq[t->n].value = value;
    t->n++;
}

/* No assertions in here: a cmocka failure would longjmp out of raft. The
 * tests check what was recorded. */
static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    struct test_fsm *t = fsm->data;
    uint64_t value = 0; /* 0 is no proposal's value: a bad payload fails the checks */
    if (buf->len == sizeof value)
        memcpy(&value, buf->base, sizeof value);
    fsm_push(t, raft_last_applied(t->raft) + 1, value);
    t->n_apply_calls++;
    t->n_applied_since_restore++;
    *result = NULL;
    return 0;
}

/* Snapshot format: a uint64_t count, then count struct applied records. */
static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    struct test_fsm *t = fsm->data;
    uint64_t count = t->n;
    struct raft_buffer *out = malloc(sizeof *out);
    if (out == NULL)
        return RAFT_NOMEM;
    out->len = sizeof count + t->n * sizeof *t->seq;
    out->base = malloc(out->len);
    if (out->base == NULL) {
        free(out);
        return RAFT_NOMEM;
    }
    memcpy(out->base, &count, sizeof count);
    if (t->n > 0)
        memcpy((char *)out->base + sizeof count, t->seq, t->n * sizeof *t->seq);
    *bufs = out;
    *n_bufs = 1;
    t->n_snapshots++;
    return 0;
}

/* Version 2: raft leaves the snapshot buffers to us once it is done. */
static int fsm_snapshot_finalize(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    (void)fsm;
    if (*bufs != NULL) {
        for (unsigned i = 0; i < *n_bufs; i++)
            free((*bufs)[i].base);
        free(*bufs);
    }
    *bufs = NULL;
    *n_bufs = 0;
    return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    struct test_fsm *t = fsm->data;
    uint64_t count;
    if (buf->len < sizeof count)
        return RAFT_MALFORMED;
    memcpy(&count, buf->base, sizeof count);
    if (count > (buf->len - sizeof count) / sizeof *t->seq ||
        buf->len != sizeof count + count * sizeof *t->seq)
        return RAFT_MALFORMED;
    t->n = 0;
    for (uint64_t k = 0; k < count; k++) {
        struct applied a;
        memcpy(&a, (const char *)buf->base + sizeof count + k * sizeof a, sizeof a);
        fsm_push(t, a.index, a.value);
    }
    t->n_restores++;
    t->n_applied_since_restore = 0;
    /* On success restore owns the buffer (fsm.c relies on this too). */
    raft_free(buf->base);
    return 0;
}

/* ---- the cluster -------------------------------------------------------- */

/* One raft_apply request and what became of it. */
struct proposal {
    struct raft_apply req;
    uint64_t value;
    unsigned server;  /* fixture index of the proposing server */
    raft_index index; /* raft_last_index() + 1 on the proposer before raft_apply */
    int rv;           /* what raft_apply returned */
    int status;       /* callback status, valid once fired */
    unsigned fired;   /* callback invocations */
};

/* One raft_barrier request, and the applied sequence of its server at the
 * moment the callback ran. */
struct barrier {
    struct raft_barrier req;
    struct test_fsm *fsm; /* borrowed: the FSM of the barrier's server */
    raft_index index;     /* index of the barrier entry */
    int rv;
    int status;
    unsigned fired;
    struct applied *seen; /* owned */
    size_t n_seen;
};

struct change {
    struct raft_change req;
    int rv;
    int status;
    unsigned fired;
};

struct cluster_opts {
    unsigned snapshot_threshold; /* 0: raft's default */
    unsigned snapshot_trailing;  /* 0: raft's default */
};

struct cluster {
    struct raft_fixture f;
    bool initialized;
    unsigned n;
    struct cluster_opts opts;
    struct raft_fsm fsm[CLUSTER_MAX];
    struct test_fsm tfsm[CLUSTER_MAX];
    struct proposal props[MAX_PROPOSALS];
    unsigned n_props;
    struct barrier barriers[MAX_BARRIERS];
    unsigned n_barriers;
    struct change changes[MAX_CHANGES];
    unsigned n_changes;
};

static struct raft *cluster_raft(struct cluster *c, unsigned i)
{
    return raft_fixture_get(&c->f, i);
}

/* The fixture prints raft's info-level trace of every server to stderr;
 * that drowns cmocka's report, so it is on only when RAFT_FIXTURE_TRACE is
 * set (handy when a test fails). */
static void quiet_emit(struct raft_tracer *t, int type, const void *info)
{
    (void)t;
    (void)type;
    (void)info;
}

static struct raft_tracer quiet_tracer = {.impl = NULL, .version = 2, .emit = quiet_emit};

/* Add server c->n to the fixture, configured the way eventflowd configures
 * its raft (pre-vote on), with a fixed election timeout. */
static void cluster_grow(struct cluster *c)
{
    unsigned i = c->n;
    assert_true(i < CLUSTER_MAX);
    struct raft_fsm *fsm = &c->fsm[i];
    memset(fsm, 0, sizeof *fsm);
    fsm->version = 2;
    fsm->data = &c->tfsm[i];
    fsm->apply = fsm_apply;
    fsm->snapshot = fsm_snapshot;
    fsm->restore = fsm_restore;
    fsm->snapshot_finalize = fsm_snapshot_finalize;
    assert_int_equal(raft_fixture_grow(&c->f, fsm), 0);
    c->n++;

    struct raft *r = cluster_raft(c, i);
    c->tfsm[i].raft = r;
    if (getenv("RAFT_FIXTURE_TRACE") == NULL)
        r->tracer = &quiet_tracer;
    raft_set_pre_vote(r, true);
    if (c->opts.snapshot_threshold != 0)
        raft_set_snapshot_threshold(r, c->opts.snapshot_threshold);
    if (c->opts.snapshot_trailing != 0)
        raft_set_snapshot_trailing(r, c->opts.snapshot_trailing);
    /* Server 0 times out first and wins the first election. */
    raft_fixture_set_randomized_election_timeout(&c->f, i, 1000 + 100 * i);
}

/* Bootstrap n voters and start them. */
static void cluster_init(struct cluster *c, unsigned n, const struct cluster_opts *opts)
{
    struct raft_configuration conf;
    assert_false(c->initialized);
    assert_int_equal(raft_fixture_init(&c->f), 0);
    c->initialized = true;
    if (opts != NULL)
        c->opts = *opts;
    for (unsigned i = 0; i < n; i++)
        cluster_grow(c);
    assert_int_equal(raft_fixture_configuration(&c->f, n, &conf), 0);
    int rc = raft_fixture_bootstrap(&c->f, &conf);
    raft_configuration_close(&conf);
    assert_int_equal(rc, 0);
    assert_int_equal(raft_fixture_start(&c->f), 0);
}

static void cluster_close(struct cluster *c)
{
    if (!c->initialized)
        return;
    /* Closing fires pending callbacks into c->props and friends. */
    raft_fixture_close(&c->f);
    for (unsigned i = 0; i < c->n; i++)
        free(c->tfsm[i].seq);
    for (unsigned i = 0; i < c->n_barriers; i++)
        free(c->barriers[i].seen);
    memset(c, 0, sizeof *c);
}

static void proposal_cb(struct raft_apply *req, int status, void *result)
{
    struct proposal *p = req->data;
    (void)result;
    p->status = status;
    p->fired++;
}

/* Propose the next value on server i. Returns the proposal whatever
 * raft_apply said (see p->rv). */
static struct proposal *cluster_propose(struct cluster *c, unsigned i)
{
    assert_true(c->n_props < MAX_PROPOSALS);
    struct proposal *p = &c->props[c->n_props];
    struct raft *r = cluster_raft(c, i);
    struct raft_buffer buf;

    p->value = VALUE_BASE + c->n_props;
    p->server = i;
    p->index = raft_last_index(r) + 1;
    buf.len = sizeof p->value;
    buf.base = raft_malloc(buf.len);
    assert_non_null(buf.base);
    memcpy(buf.base, &p->value, buf.len);
    p->req.data = p;
    p->rv = raft_apply(r, &p->req, &buf, 1, proposal_cb);
    if (p->rv != 0) {
        /* On error the buffer is still ours and the callback never runs. */
        raft_free(buf.base);
    } else {
        assert_int_equal(p->req.index, p->index);
        assert_int_equal(raft_last_index(r), p->index);
    }
    c->n_props++;
    return p;
}

static const struct proposal *cluster_proposal_of(const struct cluster *c, uint64_t value)
{
    if (value < VALUE_BASE || value - VALUE_BASE >= c->n_props)
        return NULL;
    return &c->props[value - VALUE_BASE];
}

static void barrier_cb(struct raft_barrier *req, int status)
{
    struct barrier *b = req->data;
    b->status = status;
    b->fired++;
    if (b->fired == 1 && b->fsm->n > 0) {
        b->seen = malloc(b->fsm->n * sizeof *b->seen);
        if (b->seen == NULL)
            abort();
        memcpy(b->seen, b->fsm->seq, b->fsm->n * sizeof *b->seen);
        b->n_seen = b->fsm->n;
    }
}

static struct barrier *cluster_barrier(struct cluster *c, unsigned i)
{
    assert_true(c->n_barriers < MAX_BARRIERS);
    struct barrier *b = &c->barriers[c->n_barriers++];
    struct raft *r = cluster_raft(c, i);
    b->fsm = &c->tfsm[i];
    b->index = raft_last_index(r) + 1;
    b->req.data = b;
    b->rv = raft_barrier(r, &b->req, barrier_cb);
    if (b->rv == 0)
        assert_int_equal(raft_last_index(r), b->index);
    return b;
}

static void change_cb(struct raft_change *req, int status)
{
    struct change *ch = req->data;
    ch->status = status;
    ch->fired++;
}

static struct change *cluster_next_change(struct cluster *c)
{
    assert_true(c->n_changes < MAX_CHANGES);
    struct change *ch = &c->changes[c->n_changes++];
    ch->req.data = ch;
    return ch;
}

/* ---- stepping ----------------------------------------------------------- */

static bool proposal_fired(struct raft_fixture *f, void *arg)
{
    const struct proposal *p = arg;
    (void)f;
    return p->fired > 0;
}

static bool barrier_fired(struct raft_fixture *f, void *arg)
{
    const struct barrier *b = arg;
    (void)f;
    return b->fired > 0;
}

static bool change_fired(struct raft_fixture *f, void *arg)
{
    const struct change *ch = arg;
    (void)f;
    return ch->fired > 0;
}

/* A leader other than `old`, in a term above `old_term`. */
struct new_leader {
    unsigned old;
    raft_term old_term;
    unsigned found;
};

static bool has_new_leader(struct raft_fixture *f, void *arg)
{
    struct new_leader *w = arg;
    for (unsigned j = 0; j < raft_fixture_n(f); j++) {
        struct raft *r = raft_fixture_get(f, j);
        if (j != w->old && raft_fixture_alive(f, j) && raft_state(r) == RAFT_LEADER &&
            raft_current_term(r) > w->old_term) {
            w->found = j;
            return true;
        }
    }
    return false;
}

static bool is_not_leader(struct raft_fixture *f, void *arg)
{
    const unsigned *i = arg;
    return raft_state(raft_fixture_get(f, *i)) != RAFT_LEADER;
}

/* Wait for a stable leader and for its first entry of its term (the no-op
 * raft appends on election) to apply on it. Returns its index. */
static unsigned cluster_wait_leader(struct cluster *c)
{
    assert_true(raft_fixture_step_until_has_leader(&c->f, WAIT_MS));
    unsigned leader = raft_fixture_leader_index(&c->f);
    assert_true(leader < c->n);
    struct raft *r = cluster_raft(c, leader);
    assert_true(raft_fixture_step_until_applied(&c->f, leader, raft_last_index(r), WAIT_MS));
    return leader;
}

/* Propose on server i and wait until every server applied the entry. */
static struct proposal *cluster_commit(struct cluster *c, unsigned i)
{
    struct proposal *p = cluster_propose(c, i);
    assert_int_equal(p->rv, 0);
    assert_true(raft_fixture_step_until_applied(&c->f, c->n, p->index, WAIT_MS));
    assert_true(raft_fixture_step_until(&c->f, proposal_fired, p, WAIT_MS));
    assert_int_equal(p->status, 0);
    return p;
}

/* With the network healed: wait for a stable leader, commit one more entry
 * through it and wait until every server applied it, so that every server
 * has applied everything that will ever commit before it. Returns the
 * leader. */
static unsigned cluster_converge(struct cluster *c)
{
    unsigned leader = cluster_wait_leader(c);
    cluster_commit(c, leader);
    return leader;
}

/* Ways of cutting server i off from all others, and of healing it. */
enum cut_kind { CUT_SATURATE, CUT_DISCONNECT, CUT_KILL, CUT_KINDS };

static void cluster_cut(struct cluster *c, unsigned i, enum cut_kind kind)
{
    if (kind == CUT_KILL) {
        raft_fixture_kill(&c->f, i);
        return;
    }
    for (unsigned j = 0; j < c->n; j++) {
        if (j == i)
            continue;
        if (kind == CUT_SATURATE) {
            raft_fixture_saturate(&c->f, i, j);
            raft_fixture_saturate(&c->f, j, i);
        } else {
            raft_fixture_disconnect(&c->f, i, j);
            raft_fixture_disconnect(&c->f, j, i);
        }
    }
}

static void cluster_heal(struct cluster *c, unsigned i, enum cut_kind kind)
{
    if (kind == CUT_KILL) {
        raft_fixture_revive(&c->f, i);
        return;
    }
    for (unsigned j = 0; j < c->n; j++) {
        if (j == i)
            continue;
        if (kind == CUT_SATURATE) {
            raft_fixture_desaturate(&c->f, i, j);
            raft_fixture_desaturate(&c->f, j, i);
        } else {
            raft_fixture_reconnect(&c->f, i, j);
            raft_fixture_reconnect(&c->f, j, i);
        }
    }
}

/* ---- checks ------------------------------------------------------------- */

static bool seq_find(const struct applied *seq, size_t n, uint64_t value, raft_index *index)
{
    for (size_t k = 0; k < n; k++) {
        if (seq[k].value == value) {
            if (index != NULL)
                *index = seq[k].index;
            return true;
        }
    }
    return false;
}

static bool applied_anywhere(const struct cluster *c, uint64_t value)
{
    for (unsigned i = 0; i < c->n; i++)
        if (seq_find(c->tfsm[i].seq, c->tfsm[i].n, value, NULL))
            return true;
    return false;
}

/* Server i applied only accepted proposals, in increasing index order, each
 * at the index it was proposed at: the index apply computed from
 * raft_last_applied() + 1 is the entry's true index. */
static void check_sequence(const struct cluster *c, unsigned i)
{
    const struct test_fsm *t = &c->tfsm[i];
    for (size_t k = 0; k < t->n; k++) {
        const struct proposal *p = cluster_proposal_of(c, t->seq[k].value);
        assert_non_null(p);
        assert_int_equal(p->rv, 0);
        assert_int_equal(t->seq[k].index, p->index);
        if (k > 0)
            assert_true(t->seq[k].index > t->seq[k - 1].index);
    }
}

/* Every server applied exactly the same (index, value) sequence. */
static void check_same_sequences(const struct cluster *c)
{
    const struct test_fsm *ref = &c->tfsm[0];
    for (unsigned i = 1; i < c->n; i++) {
        const struct test_fsm *t = &c->tfsm[i];
        assert_int_equal(t->n, ref->n);
        for (size_t k = 0; k < t->n; k++) {
            assert_int_equal(t->seq[k].index, ref->seq[k].index);
            assert_int_equal(t->seq[k].value, ref->seq[k].value);
        }
    }
}

/* The apply callback contract eventflowd replies from: every accepted
 * proposal's callback fired exactly once; status 0 means committed (the
 * entry was applied); any other status is RAFT_LEADERSHIPLOST, "outcome
 * unknown", in particular whenever the entry did commit. A rejected proposal
 * never fires and never commits. Call after check_same_sequences. */
static void check_outcomes(const struct cluster *c)
{
    const struct test_fsm *t = &c->tfsm[0];
    for (unsigned k = 0; k < c->n_props; k++) {
        const struct proposal *p = &c->props[k];
        bool committed = seq_find(t->seq, t->n, p->value, NULL);
        if (p->rv != 0) {
            assert_int_equal(p->fired, 0);
            assert_false(committed);
            continue;
        }
        assert_int_equal(p->fired, 1);
        if (p->status == 0)
            assert_true(committed);
        else
            /* Committed or not, never a plain failure: raft cannot know. */
            assert_int_equal(p->status, RAFT_LEADERSHIPLOST);
    }
}

/* When barrier b's callback ran, its server had already applied every entry
 * below the barrier that ever committed (final sequence of server 0), and
 * what it had applied is a prefix of the final sequence. */
static void check_barrier(const struct cluster *c, const struct barrier *b)
{
    const struct test_fsm *t = &c->tfsm[0];
    assert_int_equal(b->rv, 0);
    assert_int_equal(b->fired, 1);
    assert_int_equal(b->status, 0);
    assert_true(b->n_seen <= t->n);
    for (size_t k = 0; k < b->n_seen; k++) {
        assert_int_equal(b->seen[k].index, t->seq[k].index);
        assert_int_equal(b->seen[k].value, t->seq[k].value);
    }
    for (size_t k = b->n_seen; k < t->n; k++)
        assert_true(t->seq[k].index > b->index);
}

static void check_all(const struct cluster *c)
{
    for (unsigned i = 0; i < c->n; i++)
        check_sequence(c, i);
    check_same_sequences(c);
    check_outcomes(c);
    for (unsigned k = 0; k < c->n_barriers; k++)
        check_barrier(c, &c->barriers[k]);
}

/* ---- 1. leader change with entries in flight ---------------------------- */

/* Deposed before its entries commit (the fixture drops the followers'
 * AppendEntries results, so the followers store the entries but the leader
 * never learns it): the callbacks say "lost leadership", and the next leader
 * commits the very same entries ahead of its barrier. */
static void test_leader_change_deposed(void **state)
{
    struct cluster *c = *state;
    enum { IN_FLIGHT = 4 };
    struct proposal *in_flight[IN_FLIGHT];

    cluster_init(c, 3, NULL);
    assert_int_equal(cluster_wait_leader(c), 0);
    cluster_commit(c, 0);

    raft_index commit = raft_commit_index(cluster_raft(c, 0));
    for (unsigned k = 0; k < IN_FLIGHT; k++) {
        in_flight[k] = cluster_propose(c, 0);
        assert_int_equal(in_flight[k]->rv, 0);
    }
    raft_fixture_depose(&c->f);

    /* Not committed, yet reported: outcome unknown. */
    assert_int_not_equal(raft_state(cluster_raft(c, 0)), RAFT_LEADER);
    assert_int_equal(raft_commit_index(cluster_raft(c, 0)), commit);
    for (unsigned k = 0; k < IN_FLIGHT; k++) {
        assert_int_equal(in_flight[k]->fired, 1);
        assert_int_equal(in_flight[k]->status, RAFT_LEADERSHIPLOST);
        assert_false(applied_anywhere(c, in_flight[k]->value));
    }
    /* The followers hold them. */
    assert_true(raft_last_index(cluster_raft(c, 1)) >= in_flight[IN_FLIGHT - 1]->index);

    raft_fixture_start_elect(&c->f, 1);
    assert_true(raft_fixture_step_until_has_leader(&c->f, WAIT_MS));
    assert_int_equal(raft_fixture_leader_index(&c->f), 1);
    struct barrier *b = cluster_barrier(c, 1);
    assert_int_equal(b->rv, 0);
    assert_true(raft_fixture_step_until(&c->f, barrier_fired, b, WAIT_MS));
    assert_int_equal(b->status, 0);

    /* The new leader committed the old term's entries, and applied them
     * before its barrier completed. */
    for (unsigned k = 0; k < IN_FLIGHT; k++)
        assert_true(seq_find(b->seen, b->n_seen, in_flight[k]->value, NULL));

    cluster_commit(c, 1);
    cluster_converge(c);
    check_all(c);
    for (unsigned k = 0; k < IN_FLIGHT; k++) {
        assert_true(applied_anywhere(c, in_flight[k]->value));
        assert_int_equal(in_flight[k]->fired, 1); /* no second callback */
    }
}

/* Over all cut points: how often each outcome of an in-flight entry
 * occurred. */
struct cut_stats {
    unsigned committed;        /* callback 0 */
    unsigned unknown_committed; /* RAFT_LEADERSHIPLOST, committed later */
    unsigned unknown_lost;     /* RAFT_LEADERSHIPLOST, never committed */
};

enum {
    CUT_PROPOSALS = 6,         /* proposals of the old leader in the window */
    CUT_PROPOSE_EVERY_MS = 15, /* virtual time between two of them */
    CUT_WINDOW_MS = 150,       /* virtual time the window lasts */
    CUT_MAX_STEPS = 10000,     /* bound on the steps of one window */
};

/* One run: the leader proposes CUT_PROPOSALS entries, one every
 * CUT_PROPOSE_EVERY_MS, and is cut off right before fixture step number
 * `cut` of the window (a step is one event: a tick, a disk write, a message
 * sent or delivered). Returns false if the window ended before that step; the
 * cut then comes after the window. */
static bool cut_run(struct cluster *c, enum cut_kind kind, unsigned cut, struct cut_stats *stats)
{
    struct proposal *window[CUT_PROPOSALS];
    unsigned n_window = 0;
    unsigned first_after_cut = 0;
    bool cut_in_window = false;

    cluster_init(c, 3, NULL);
    assert_int_equal(cluster_wait_leader(c), 0);
    cluster_commit(c, 0);
    struct raft *old = cluster_raft(c, 0);
    raft_term old_term = raft_current_term(old);

    raft_time start = raft_fixture_time(&c->f);
    for (unsigned s = 0; raft_fixture_time(&c->f) - start < CUT_WINDOW_MS; s++) {
        assert_true(s < CUT_MAX_STEPS);
        if (s == cut) {
            cluster_cut(c, 0, kind);
            cut_in_window = true;
            first_after_cut = n_window;
        }
        if (n_window < CUT_PROPOSALS &&
            raft_fixture_time(&c->f) - start >= n_window * CUT_PROPOSE_EVERY_MS) {
            /* The window is far shorter than an election timeout: the old
             * leader still leads, cut off or not. */
            assert_int_equal(raft_state(old), RAFT_LEADER);
            window[n_window] = cluster_propose(c, 0);
            assert_int_equal(window[n_window]->rv, 0);
            n_window++;
        }
        raft_fixture_step(&c->f);
    }
    if (!cut_in_window) {
        cluster_cut(c, 0, kind);
        first_after_cut = n_window;
    }
    assert_int_equal(n_window, CUT_PROPOSALS);

    struct new_leader w = {.old = 0, .old_term = old_term, .found = 0};
    assert_true(raft_fixture_step_until(&c->f, has_new_leader, &w, WAIT_MS));
    struct barrier *b = cluster_barrier(c, w.found);
    assert_int_equal(b->rv, 0);
    assert_true(raft_fixture_step_until(&c->f, barrier_fired, b, WAIT_MS));
    assert_int_equal(b->status, 0);
    struct proposal *p = cluster_propose(c, w.found);
    assert_int_equal(p->rv, 0);
    assert_true(raft_fixture_step_until(&c->f, proposal_fired, p, WAIT_MS));
    assert_int_equal(p->status, 0);

    /* Nothing the old leader proposed after the cut ever left it, so none of
     * it can have been reported committed. */
    for (unsigned k = first_after_cut; k < n_window; k++)
        assert_true(window[k]->fired == 0 || window[k]->status != 0);

    cluster_heal(c, 0, kind);
    unsigned leader = cluster_converge(c);
    check_all(c);

    /* The old leader stepped down and follows the new one. */
    raft_id leader_id;
    const char *leader_address;
    assert_int_not_equal(leader, 0);
    assert_int_equal(raft_state(old), RAFT_FOLLOWER);
    raft_leader(old, &leader_id, &leader_address);
    assert_int_equal(leader_id, cluster_raft(c, leader)->id);

    for (unsigned k = 0; k < n_window; k++) {
        bool committed = applied_anywhere(c, window[k]->value);
        if (k >= first_after_cut)
            assert_false(committed);
        if (window[k]->status == 0)
            stats->committed++;
        else if (committed)
            stats->unknown_committed++;
        else
            stats->unknown_lost++;
    }
    cluster_close(c);
    return cut_in_window;
}

static void test_leader_change_cut_points(void **state)
{
    struct cluster *c = *state;
    for (int kind = 0; kind < CUT_KINDS; kind++) {
        struct cut_stats stats = {0};
        unsigned cut = 0;
        while (cut_run(c, (enum cut_kind)kind, cut, &stats))
            cut++;
        /* The window is wide enough to produce every outcome; if it were
         * not, this test would prove less than it claims. */
        assert_true(stats.committed > 0);
        assert_true(stats.unknown_committed > 0);
        assert_true(stats.unknown_lost > 0);
    }
}

/* ---- 2. partition of the leader ----------------------------------------- */

static void test_partitioned_leader(void **state)
{
    struct cluster *c = *state;
    enum { OLD_PROPOSALS = 3, NEW_PROPOSALS = 5 };
    struct proposal *old_props[OLD_PROPOSALS];

    cluster_init(c, 3, NULL);
    assert_int_equal(cluster_wait_leader(c), 0);
    for (unsigned k = 0; k < 3; k++)
        cluster_commit(c, 0);
    struct raft *old = cluster_raft(c, 0);
    raft_term old_term = raft_current_term(old);
    raft_index old_commit = raft_commit_index(old);
    size_t old_applied = c->tfsm[0].n;

    cluster_cut(c, 0, CUT_DISCONNECT);
    for (unsigned k = 0; k < OLD_PROPOSALS; k++) {
        old_props[k] = cluster_propose(c, 0);
        assert_int_equal(old_props[k]->rv, 0); /* it still believes it leads */
    }

    struct new_leader w = {.old = 0, .old_term = old_term, .found = 0};
    assert_true(raft_fixture_step_until(&c->f, has_new_leader, &w, WAIT_MS));
    unsigned leader = w.found;
    struct proposal *last = NULL;
    for (unsigned k = 0; k < NEW_PROPOSALS; k++) {
        last = cluster_propose(c, leader);
        assert_int_equal(last->rv, 0);
    }
    for (unsigned j = 1; j < c->n; j++)
        assert_true(raft_fixture_step_until_applied(&c->f, j, last->index, WAIT_MS));
    for (unsigned k = 0; k < NEW_PROPOSALS; k++) {
        const struct proposal *p = &c->props[c->n_props - NEW_PROPOSALS + k];
        assert_int_equal(p->fired, 1);
        assert_int_equal(p->status, 0);
    }

    /* Let the partition last a few election timeouts: the old leader steps
     * down (it cannot reach a quorum) and commits nothing. */
    unsigned server0 = 0;
    assert_true(raft_fixture_step_until(&c->f, is_not_leader, &server0, WAIT_MS));
    raft_fixture_step_until_elapsed(&c->f, 3000);
    assert_int_not_equal(raft_state(old), RAFT_LEADER);
    assert_int_equal(raft_commit_index(old), old_commit);
    assert_int_equal(c->tfsm[0].n, old_applied);
    for (unsigned k = 0; k < OLD_PROPOSALS; k++) {
        assert_int_equal(old_props[k]->fired, 1);
        assert_int_equal(old_props[k]->status, RAFT_LEADERSHIPLOST);
        assert_false(applied_anywhere(c, old_props[k]->value));
    }
    struct proposal *refused = cluster_propose(c, 0);
    assert_int_equal(refused->rv, RAFT_NOTLEADER);

    cluster_heal(c, 0, CUT_DISCONNECT);
    leader = cluster_converge(c);
    check_all(c);
    assert_int_not_equal(leader, 0);
    assert_int_equal(raft_state(old), RAFT_FOLLOWER);
    raft_id leader_id;
    const char *leader_address;
    raft_leader(old, &leader_id, &leader_address);
    assert_int_equal(leader_id, cluster_raft(c, leader)->id);
    /* The old leader's uncommitted entries were replaced, not applied. */
    for (unsigned k = 0; k < OLD_PROPOSALS; k++)
        assert_false(applied_anywhere(c, old_props[k]->value));
}

/* ---- 3. snapshot install ------------------------------------------------- */

static void test_snapshot_install(void **state)
{
    struct cluster *c = *state;
    const struct cluster_opts opts = {.snapshot_threshold = 8, .snapshot_trailing = 2};
    enum { MISSED = 40 };

    cluster_init(c, 3, &opts);
    assert_int_equal(cluster_wait_leader(c), 0);
    for (unsigned k = 0; k < 3; k++)
        cluster_commit(c, 0);
    unsigned applied_before = c->tfsm[2].n_apply_calls;

    cluster_cut(c, 2, CUT_DISCONNECT);
    struct proposal *last = NULL;
    for (unsigned k = 0; k < MISSED; k++) {
        last = cluster_propose(c, 0);
        assert_int_equal(last->rv, 0);
    }
    assert_true(raft_fixture_step_until_applied(&c->f, 1, last->index, WAIT_MS));
    assert_true(raft_fixture_step_until(&c->f, proposal_fired, last, WAIT_MS));
    assert_int_equal(last->status, 0);
    /* The leader compacted its log past what the follower has. */
    assert_true(c->tfsm[0].n_snapshots > 0);
    assert_true(raft_last_applied(cluster_raft(c, 2)) < last->index);
    assert_int_equal(c->tfsm[2].n_restores, 0);

    cluster_heal(c, 2, CUT_DISCONNECT);
    assert_true(raft_fixture_step_until_applied(&c->f, 2, last->index, WAIT_MS));
    assert_true(raft_fixture_n_recv(&c->f, 2, RAFT_INSTALL_SNAPSHOT) > 0);
    assert_true(c->tfsm[2].n_restores > 0);
    /* It caught up without applying the missed entries one by one. */
    assert_true(c->tfsm[2].n_apply_calls - applied_before < MISSED);

    /* Entries after the restore apply at the right index too. */
    unsigned leader = cluster_wait_leader(c);
    for (unsigned k = 0; k < 3; k++)
        cluster_commit(c, leader);
    assert_true(c->tfsm[2].n_applied_since_restore > 0);
    cluster_converge(c);
    check_all(c);
}

/* ---- 4. apply index across barriers, configuration changes, restore ------ */

static void test_apply_index_barriers_and_changes(void **state)
{
    struct cluster *c = *state;
    const struct cluster_opts opts = {.snapshot_threshold = 8, .snapshot_trailing = 2};

    cluster_init(c, 3, &opts);
    assert_int_equal(cluster_wait_leader(c), 0);
    struct raft *leader = cluster_raft(c, 0);

    /* Enough history that the leader compacts its log: the server added
     * below has to start from a snapshot. */
    for (unsigned k = 0; k < 12; k++)
        cluster_commit(c, 0);
    assert_true(c->tfsm[0].n_snapshots > 0);

    /* command, barrier, command */
    struct proposal *c1 = cluster_propose(c, 0);
    struct barrier *b = cluster_barrier(c, 0);
    struct proposal *c2 = cluster_propose(c, 0);
    assert_int_equal(c1->rv, 0);
    assert_int_equal(b->rv, 0);
    assert_int_equal(c2->rv, 0);
    assert_int_equal(b->index, c1->index + 1);
    assert_int_equal(c2->index, b->index + 1);

    /* command, configuration change (add as spare), command */
    cluster_grow(c);
    unsigned added = c->n - 1;
    struct raft *added_raft = cluster_raft(c, added);
    assert_int_equal(raft_start(added_raft), 0);
    struct change *add = cluster_next_change(c);
    add->rv = raft_add(leader, &add->req, added_raft->id, added_raft->address, change_cb);
    assert_int_equal(add->rv, 0);
    raft_index add_index = raft_last_index(leader);
    struct proposal *c3 = cluster_propose(c, 0);
    assert_int_equal(c3->rv, 0);
    assert_int_equal(add_index, c2->index + 1);
    assert_int_equal(c3->index, add_index + 1);
    assert_true(raft_fixture_step_until(&c->f, change_fired, add, WAIT_MS));
    assert_int_equal(add->status, 0);

    /* promotion to voter: catch-up rounds, then a configuration entry
     * appended after the commands already proposed */
    struct change *promote = cluster_next_change(c);
    promote->rv = raft_assign(leader, &promote->req, added_raft->id, RAFT_VOTER, change_cb);
    assert_int_equal(promote->rv, 0);
    struct proposal *c4 = cluster_propose(c, 0);
    assert_int_equal(c4->rv, 0);
    assert_true(raft_fixture_step_until(&c->f, change_fired, promote, WAIT_MS));
    assert_int_equal(promote->status, 0);
    assert_int_equal(raft_role(added_raft), RAFT_VOTER);
    raft_index promote_index = leader->configuration_committed_index;
    assert_true(promote_index > c4->index);
    struct proposal *c5 = cluster_propose(c, 0);
    assert_int_equal(c5->rv, 0);
    assert_int_equal(c5->index, promote_index + 1);

    /* The new server started empty and caught up through a snapshot, then
     * applied entries across the configuration entries. */
    assert_true(raft_fixture_step_until_applied(&c->f, c->n, c5->index, WAIT_MS));
    assert_true(c->tfsm[added].n_restores > 0);
    assert_true(c->tfsm[added].n_applied_since_restore > 0);
    assert_true(seq_find(c->tfsm[added].seq, c->tfsm[added].n, c5->value, NULL));

    cluster_converge(c);
    check_all(c);
}

/* ---- main --------------------------------------------------------------- */

static int cluster_setup(void **state)
{
    struct cluster *c = calloc(1, sizeof *c);
    if (c == NULL)
        return -1;
    *state = c;
    return 0;
}

static int cluster_teardown(void **state)
{
    struct cluster *c = *state;
    cluster_close(c);
    free(c);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_leader_change_deposed, cluster_setup, cluster_teardown),
        cmocka_unit_test_setup_teardown(test_leader_change_cut_points, cluster_setup, cluster_teardown),
        cmocka_unit_test_setup_teardown(test_partitioned_leader, cluster_setup, cluster_teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_install, cluster_setup, cluster_teardown),
        cmocka_unit_test_setup_teardown(test_apply_index_barriers_and_changes, cluster_setup,
                                        cluster_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
