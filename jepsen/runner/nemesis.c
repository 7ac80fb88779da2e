/* nemesis.c - see nemesis.h. */
#include "nemesis.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eventflow/eventflow.h"
#include "faultcheck.h"
#include "history.h"
#include "rawresp.h"
#include "rng.h"

enum fault {
    F_KILL_ONE,
    F_KILL_LEADER,
    F_KILL_MAJORITY,
    F_KILL_ALL,
    F_PAUSE_ONE,
    F_PAUSE_LEADER,
    F_PART_LEADER,
    F_PART_HALF,
    F_PART_RING,
    F_PART_BRIDGE,
    F_PART_ONEWAY,
    F_MEMBER,
    F_CLOCK,
    F_DISK,
    F_SNAPSHOT,
    F_COUNT
};

static const char *const fault_names[F_COUNT] = {
    "kill-one",       "kill-leader",    "kill-majority",  "kill-all",         "pause-one",
    "pause-leader",   "partition-leader", "partition-half", "partition-ring", "partition-bridge",
    "partition-oneway", "member",       "clock",          "disk",             "snapshot",
};

struct group {
    const char *name;
    enum fault first, last;
};
static const struct group groups[] = {
    {"kill", F_KILL_ONE, F_KILL_ALL},
    {"pause", F_PAUSE_ONE, F_PAUSE_LEADER},
    {"partition", F_PART_LEADER, F_PART_ONEWAY},
    {"all", F_KILL_ONE, F_SNAPSHOT},
};

enum member_action { M_TRANSFER, M_DEMOTE, M_REPLACE, M_COUNT };

/* What a started fault needs to be healed. */
struct active {
    enum fault f;
    int slots[CLUSTER_MAX];
    int n;
    enum member_action m;
    bool member_done;    /* the membership change took effect */
    uint64_t snap_from;  /* snapshot: the follower's applied index when cut off */
    bool clock_jump;     /* clock: a wall-clock offset, to be changed mid-hold */
    bool clock_up;       /* clock: the node came up with the clock it was given */
    int cut_from, cut_to; /* partitions: one link cut (to drops from's packets); 0: none */
    uint64_t removed_id;  /* member: the id a replacement removed */
    long log_from;        /* snapshot: the victim's node log size when cut off */
};

/* How long a node restarted after a kill gets to answer (a restart
 * replays its raft log; seconds on a loaded machine), and one resumed
 * after a pause. */
#define RESTART_ANSWER_MS 20000
#define RESUME_ANSWER_MS 10000
/* How long a follower healed after the snapshot fault gets to start
 * installing the snapshot it needs. */
#define SNAPSHOT_INSTALL_MS 20000

struct nemesis {
    struct cluster *c;
    struct rng rng;
    bool enabled[F_COUNT];
    int n_enabled;
    /* Debugging the checks themselves (--disable-fault): these faults are
     * announced and checked but not injected, so their checks must fail. */
    bool disabled[F_COUNT];
    struct eventflow_client *admin; /* membership changes */
    bool demoted[CLUSTER_MAX + 1];
    /* Per slot: the id of a removal whose outcome was unknown and which
     * did not look taken at the time (0: none); settled after healing. */
    uint64_t unsettled_removal[CLUSTER_MAX + 1];
};

static void fault_check(enum fault f, json_t *nodes, bool ok, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static bool stopped(const atomic_bool *stop)
{
    return stop != NULL && atomic_load(stop);
}

void nemesis_idle(struct nemesis *n, int ms, const atomic_bool *stop)
{
    for (int waited = 0; waited < ms && !stopped(stop); waited += 100) {
        cluster_reap(n->c);
        sleep_ms(ms - waited < 100 ? ms - waited : 100);
    }
    cluster_reap(n->c);
}

/* Fault and group names, comma-separated, into set[]. 0, or -1 with a
 * message. */
static int parse_faults(const char *list, bool set[F_COUNT], char *err, size_t errlen)
{
    char copy[512];
    snprintf(copy, sizeof copy, "%s", list);
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "none") == 0)
            continue;
        bool found = false;
        for (int f = 0; f < F_COUNT; f++) {
            if (strcmp(tok, fault_names[f]) == 0) {
                set[f] = found = true;
            }
        }
        for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
            if (strcmp(tok, groups[g].name) == 0) {
                for (int f = (int)groups[g].first; f <= (int)groups[g].last; f++)
                    set[f] = true;
                found = true;
            }
        }
        if (!found) {
            snprintf(err, errlen, "unknown nemesis '%s'", tok);
            return -1;
        }
    }
    return 0;
}

int nemesis_disable(struct nemesis *n, const char *list, char *err, size_t errlen)
{
    return parse_faults(list, n->disabled, err, errlen);
}

struct nemesis *nemesis_new(struct cluster *c, const char *list, uint64_t seed, const char *endpoints,
                            char *err, size_t errlen)
{
    struct nemesis *n = calloc(1, sizeof *n);
    if (n == NULL)
        abort();
    n->c = c;
    rng_seed(&n->rng, seed ^ UINT64_C(0x6e656d65736973));
    if (parse_faults(list, n->enabled, err, errlen) != 0) {
        free(n);
        return NULL;
    }
    for (int f = 0; f < F_COUNT; f++)
        n->n_enabled += n->enabled[f];
    if (n->enabled[F_CLOCK] && c->cfg.faketime_lib == NULL) {
        snprintf(err, errlen, "the clock nemesis needs libfaketime (--faketime-lib)");
        free(n);
        return NULL;
    }
    struct eventflow_options o;
    eventflow_options_init(&o);
    o.endpoints = endpoints;
    o.connect_timeout_ms = 500;
    o.request_timeout_ms = 3000;
    o.retry_deadline_ms = 10000;
    if (eventflow_client_new(&o, &n->admin) != EF_OK) {
        snprintf(err, errlen, "cannot create the membership client");
        free(n);
        return NULL;
    }
    return n;
}

void nemesis_free(struct nemesis *n)
{
    if (n == NULL)
        return;
    eventflow_client_free(n->admin);
    free(n);
}

/* ---- choosing victims --------------------------------------------------------- */

static void shuffle(struct nemesis *n, int *a, int len)
{
    for (int i = len - 1; i > 0; i--) {
        int j = (int)rng_below(&n->rng, (uint64_t)i + 1);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* Running members in random order. */
static int running_members(struct nemesis *n, int *out)
{
    int all[CLUSTER_MAX], k = 0;
    int m = cluster_members(n->c, all);
    for (int i = 0; i < m; i++)
        if (n->c->slots[all[i]].pid != 0)
            out[k++] = all[i];
    shuffle(n, out, k);
    return k;
}

static int random_member(struct nemesis *n)
{
    int s[CLUSTER_MAX];
    int k = running_members(n, s);
    return k > 0 ? s[0] : 0;
}

static int leader_or_random(struct nemesis *n)
{
    int l = cluster_leader(n->c);
    return l != 0 ? l : random_member(n);
}

/* A running member that is not the leader. */
static int random_follower(struct nemesis *n)
{
    int leader = cluster_leader(n->c);
    int s[CLUSTER_MAX];
    int k = running_members(n, s);
    for (int i = 0; i < k; i++)
        if (s[i] != leader)
            return s[i];
    return 0;
}

static json_t *names1(struct nemesis *n, int slot)
{
    return cluster_names(n->c, &slot, 1);
}

/* ---- partitions -------------------------------------------------------------- */

static void cut_both(struct nemesis *n, int a, int b)
{
    cluster_drop(n->c, a, b);
    cluster_drop(n->c, b, a);
}

/* Cut every link between group a and group b. */
static void cut_groups(struct nemesis *n, const int *a, int na, const int *b, int nb)
{
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++)
            cut_both(n, a[i], b[j]);
}

static void describe_groups(char *out, size_t len, struct cluster *c, const int *a, int na, const int *b, int nb)
{
    size_t used = 0;
    for (int i = 0; i < na; i++)
        used += (size_t)snprintf(out + used, len - used, "%s%s", i ? " " : "", c->slots[a[i]].name);
    used += (size_t)snprintf(out + used, len - used, " | ");
    for (int j = 0; j < nb; j++)
        used += (size_t)snprintf(out + used, len - used, "%s%s", j ? " " : "", c->slots[b[j]].name);
}

static void start_partition(struct nemesis *n, struct active *a)
{
    struct cluster *c = n->c;
    int all[CLUSTER_MAX];
    int k = cluster_members(c, all);
    shuffle(n, all, k);
    char desc[256] = "";
    switch (a->f) {
    case F_PART_LEADER: {
        int l = leader_or_random(n);
        int rest[CLUSTER_MAX], r = 0;
        for (int i = 0; i < k; i++)
            if (all[i] != l)
                rest[r++] = all[i];
        cut_groups(n, &l, 1, rest, r);
        a->cut_from = r > 0 ? rest[0] : 0;
        a->cut_to = l;
        a->slots[0] = l;
        a->n = 1;
        describe_groups(desc, sizeof desc, c, &l, 1, rest, r);
        break;
    }
    case F_PART_HALF: {
        /* 1 .. k/2 nodes on the minority side */
        int minority = 1 + (int)rng_below(&n->rng, (uint64_t)(k / 2 > 0 ? k / 2 : 1));
        cut_groups(n, all, minority, all + minority, k - minority);
        a->cut_from = minority < k ? all[minority] : 0;
        a->cut_to = all[0];
        memcpy(a->slots, all, sizeof(int) * (size_t)minority);
        a->n = minority;
        describe_groups(desc, sizeof desc, c, all, minority, all + minority, k - minority);
        break;
    }
    case F_PART_RING:
        if (k >= 5) {
            /* Each node keeps its two neighbours on a circle: every node
             * sees a majority, no two majorities agree. */
            for (int i = 0; i < k; i++)
                for (int j = i + 2; j < k; j++)
                    if (!(i == 0 && j == k - 1))
                        cut_both(n, all[i], all[j]);
            a->cut_from = all[2];
            a->cut_to = all[0];
            size_t used = 0;
            for (int i = 0; i < k; i++) {
                used += (size_t)snprintf(desc + used, sizeof desc - used, "%s-", c->slots[all[i]].name);
                a->slots[a->n++] = all[i];
            }
            snprintf(desc + used, sizeof desc - used, "%s (ring)", c->slots[all[0]].name);
            break;
        }
        /* With fewer than five nodes a ring is a bridge. */
        __attribute__((fallthrough));
    case F_PART_BRIDGE: {
        /* Two halves that only the middle node connects. */
        int half = (k - 1) / 2;
        int bridge = all[half];
        cut_groups(n, all, half, all + half + 1, k - half - 1);
        if (half > 0 && k - half - 1 > 0) {
            a->cut_from = all[half + 1];
            a->cut_to = all[0];
        }
        a->slots[0] = bridge;
        a->n = 1;
        snprintf(desc, sizeof desc, "bridge %s between ", c->slots[bridge].name);
        describe_groups(desc + strlen(desc), sizeof desc - strlen(desc), c, all, half, all + half + 1, k - half - 1);
        break;
    }
    case F_PART_ONEWAY: {
        int x = rng_below(&n->rng, 2) ? leader_or_random(n) : all[0];
        for (int i = 0; i < k; i++) {
            if (all[i] != x) {
                cluster_drop(c, x, all[i]);
                a->cut_from = all[i];
            }
        }
        a->cut_to = x;
        a->slots[0] = x;
        a->n = 1;
        snprintf(desc, sizeof desc, "%s hears nobody (its packets still go out)", c->slots[x].name);
        break;
    }
    default:
        break;
    }
    if (n->disabled[a->f])
        cluster_heal_network(c); /* --disable-fault: announced, never in force */
    history_nemesis(fault_names[a->f], "start", cluster_names(c, a->slots, a->n), "%s", desc);
}

/* ---- membership ----------------------------------------------------------------- */

static bool is_member_id(struct nemesis *n, uint64_t id)
{
    struct eventflow_member_list ml = {0};
    if (eventflow_cluster_members(n->admin, &ml) != EF_OK)
        return true; /* cannot tell: assume it still is */
    bool found = false;
    for (size_t i = 0; i < ml.n; i++)
        if (ml.members[i].id == id)
            found = true;
    eventflow_member_list_free(&ml);
    return found;
}

/* The configuration's entry for id, through any member: 1 found (role
 * and committed filled in), 0 absent, -1 no answer. */
static int member_lookup(struct nemesis *n, uint64_t id, enum eventflow_role *role, bool *committed)
{
    struct eventflow_member_list ml = {0};
    if (eventflow_cluster_members(n->admin, &ml) != EF_OK)
        return -1;
    int found = 0;
    for (size_t i = 0; i < ml.n; i++) {
        if (ml.members[i].id == id) {
            found = 1;
            *role = ml.members[i].role;
            *committed = ml.members[i].committed;
        }
    }
    eventflow_member_list_free(&ml);
    return found;
}

/* How long a leader transfer the leader acknowledged may take to show. */
#define TRANSFER_SHOW_MS 5000

/* A membership change's outcome, checked against the cluster: an
 * acknowledged transfer makes the target lead, an acknowledged demotion
 * leaves it a committed standby, an acknowledged removal leaves it out.
 * A refusal changed nothing, and an unknown outcome was settled by looking
 * (start_member; reconciled after healing): both are outcomes known. */
static void check_member(struct nemesis *n, const struct active *a, int rc)
{
    int victim = a->slots[0];
    struct slot *s = &n->c->slots[victim];
    char what[512];
    bool ok = true;
    if (rc != EF_OK) {
        snprintf(what, sizeof what, "outcome settled: %s (%s)", eventflow_err_name(rc),
                 rc == EF_EUNKNOWN ? "looked up in the configuration" : "refused, nothing changed");
    } else if (a->m == M_TRANSFER) {
        int64_t deadline = history_now() + (int64_t)TRANSFER_SHOW_MS * 1000000;
        while (cluster_leader(n->c) != victim && history_now() < deadline)
            nemesis_idle(n, 100, NULL);
        ok = cluster_leader(n->c) == victim;
        snprintf(what, sizeof what, "%s %s the leader within %d ms of the acknowledged transfer", s->name,
                 ok ? "became" : "did NOT become", TRANSFER_SHOW_MS);
    } else {
        enum eventflow_role role = EF_ROLE_VOTER;
        bool committed = false;
        int found = member_lookup(n, a->m == M_DEMOTE ? s->id : a->removed_id, &role, &committed);
        if (a->m == M_DEMOTE) {
            ok = found == 1 && role == EF_ROLE_STANDBY && committed;
            snprintf(what, sizeof what, "%s is %s", s->name,
                     ok ? "a committed standby" : found < 0 ? "unknown (no member answered)" : "NOT a committed standby");
        } else {
            ok = found == 0;
            snprintf(what, sizeof what, "id %" PRIu64 " is %s", a->removed_id,
                     ok ? "out of the configuration" : found < 0 ? "unknown (no member answered)" : "STILL a member");
        }
    }
    fault_check(F_MEMBER, names1(n, victim), ok, "%s", what);
}

/* Kill a removed member and delete its data directory; its next start
 * joins as a new member. */
static void wipe_slot(struct nemesis *n, int victim)
{
    struct slot *s = &n->c->slots[victim];
    cluster_wipe(n->c, victim);
    n->demoted[victim] = false; /* the new directory joins as a voter */
    /* The checker starts a new session epoch for this address. */
    json_t *addr = json_array();
    json_array_append_new(addr, json_string(s->client_addr));
    history_nemesis("wipe", "start", addr, "%s killed, data directory deleted; it rejoins as id %" PRIu64, s->name,
                    s->id);
}

/* The ids of the configuration the leader reports once it is committed
 * (no change pending), into ids[]; their count, or -1 when no leader
 * answered with one within timeout_ms. Only the leader's answer settles
 * it: a follower cut off from the leader still shows the configuration it
 * last heard of as committed. */
static int committed_configuration(struct nemesis *n, uint64_t *ids, int cap, int timeout_ms, char *why,
                                   size_t whylen)
{
    struct cluster *c = n->c;
    for (int waited = 0;; waited += 500) {
        int leader = cluster_leader(c);
        struct resp_value v;
        char err[256];
        if (leader == 0) {
            snprintf(why, whylen, "no node reports itself leader");
        } else if (rawresp_call(c->slots[leader].client_addr, "CLUSTER MEMBERS", NULL, 3000, &v, err, sizeof err) !=
                   0) {
            snprintf(why, whylen, "CLUSTER MEMBERS on %s: %s", c->slots[leader].name, err);
        } else {
            int k = v.type == RESP_T_ARRAY && v.n > 0 ? 0 : -1;
            snprintf(why, whylen, "CLUSTER MEMBERS on %s: %s", c->slots[leader].name,
                     k < 0 ? "not a list of members" : "a change is not committed yet");
            for (size_t i = 0; k >= 0 && i < v.n; i++) {
                json_t *m = v.elems[i].str ? json_loadb(v.elems[i].str, v.elems[i].len, 0, NULL) : NULL;
                if (m == NULL || !json_is_true(json_object_get(m, "committed")) || k == cap)
                    k = -1;
                else
                    ids[k++] = (uint64_t)json_integer_value(json_object_get(m, "id"));
                json_decref(m);
            }
            resp_value_free(&v);
            if (k >= 0)
                return k;
        }
        if (waited >= timeout_ms)
            return -1;
        nemesis_idle(n, 500, NULL);
    }
}

/* Whether slot i still holds the id of a removal left unsettled (a later
 * removal of the slot, a wipe, gave it a new id). */
static bool unsettled(const struct nemesis *n, int i)
{
    return n->unsettled_removal[i] != 0 && n->unsettled_removal[i] == n->c->slots[i].id;
}

void nemesis_reconcile_members(struct nemesis *n)
{
    struct cluster *c = n->c;
    bool any = false;
    for (int i = 1; i <= c->cfg.n; i++)
        any = any || unsettled(n, i);
    if (!any)
        return;
    uint64_t ids[2 * CLUSTER_MAX];
    char why[512];
    int k = committed_configuration(n, ids, (int)(sizeof ids / sizeof ids[0]), 30000, why, sizeof why);
    if (k < 0) {
        history_nemesis("member", "stop", NULL, "no leader reported a committed configuration within 30 s (last: %s)",
                        why);
        return;
    }
    for (int i = 1; i <= c->cfg.n; i++) {
        struct slot *s = &c->slots[i];
        bool removal_left = unsettled(n, i);
        n->unsettled_removal[i] = 0;
        bool listed = false;
        for (int j = 0; j < k; j++)
            listed = listed || ids[j] == s->id;
        if (!removal_left || listed)
            continue;
        history_nemesis("member", "stop", names1(n, i),
                        "%s (id %" PRIu64 ") is not in the committed configuration: its removal took effect", s->name,
                        s->id);
        wipe_slot(n, i);
        int rc = cluster_start(c, i);
        history_nemesis("member", "stop", names1(n, i), "%s started empty as id %" PRIu64 " with --join: %s",
                        s->name, s->id, rc == 0 ? "started" : "could not start");
    }
}

static void start_member(struct nemesis *n, struct active *a)
{
    struct cluster *c = n->c;
    a->m = (enum member_action)rng_below(&n->rng, M_COUNT);
    int victim = random_follower(n);
    if (victim == 0) {
        history_nemesis("member", "start", NULL, "no running follower: nothing changed");
        return;
    }
    struct slot *s = &c->slots[victim];
    a->slots[0] = victim;
    a->n = 1;
    int rc;
    switch (a->m) {
    case M_TRANSFER:
        rc = eventflow_leader_transfer(n->admin, s->id);
        history_nemesis("member", "start", names1(n, victim), "leader transfer to %s (id %" PRIu64 "): %s %s",
                        s->name, s->id, eventflow_err_name(rc), rc ? eventflow_client_last_error(n->admin) : "");
        check_member(n, a, rc);
        break;
    case M_DEMOTE:
        rc = eventflow_member_assign(n->admin, s->id, EF_ROLE_STANDBY);
        a->member_done = rc == EF_OK || rc == EF_EUNKNOWN;
        n->demoted[victim] = a->member_done;
        history_nemesis("member", "start", names1(n, victim), "demote %s (id %" PRIu64 ") to standby: %s %s",
                        s->name, s->id, eventflow_err_name(rc), rc ? eventflow_client_last_error(n->admin) : "");
        check_member(n, a, rc);
        break;
    default: {
        /* Every other member must be present, or removing one more could
         * leave the cluster without a majority for good. */
        int all[CLUSTER_MAX];
        if (cluster_members(c, all) < c->cfg.n) {
            history_nemesis("member", "start", names1(n, victim), "replace %s skipped: a slot is still out", s->name);
            fault_check(F_MEMBER, names1(n, victim), true, "outcome settled: nothing changed (skipped)");
            return;
        }
        uint64_t old = s->id;
        a->removed_id = old;
        rc = eventflow_member_remove(n->admin, old);
        char why[512];
        snprintf(why, sizeof why, "%s", rc ? eventflow_client_last_error(n->admin) : "");
        bool removed = rc == EF_OK || (rc == EF_EUNKNOWN && !is_member_id(n, old));
        history_nemesis("member", "start", names1(n, victim), "remove %s (id %" PRIu64 "): %s %s%s", s->name, old,
                        eventflow_err_name(rc), why, rc == EF_EUNKNOWN ? (removed ? " (it is gone)" : " (still a member)") : "");
        check_member(n, a, rc);
        if (!removed) {
            if (rc == EF_EUNKNOWN)
                n->unsettled_removal[victim] = old;
            return;
        }
        wipe_slot(n, victim);
        a->member_done = true;
        break;
    }
    }
}

static void stop_member(struct nemesis *n, struct active *a)
{
    struct cluster *c = n->c;
    if (a->n == 0 || !a->member_done)
        return;
    int victim = a->slots[0];
    struct slot *s = &c->slots[victim];
    if (a->m == M_DEMOTE) {
        int rc = eventflow_member_assign(n->admin, s->id, EF_ROLE_VOTER);
        if (rc == EF_OK)
            n->demoted[victim] = false;
        history_nemesis("member", "stop", names1(n, victim), "promote %s back to voter: %s %s", s->name,
                        eventflow_err_name(rc), rc ? eventflow_client_last_error(n->admin) : "");
    } else if (a->m == M_REPLACE) {
        int rc = cluster_start(c, victim);
        history_nemesis("member", "stop", names1(n, victim), "%s started empty as id %" PRIu64 " with --join: %s",
                        s->name, s->id, rc == 0 ? "started" : "could not start");
    }
}

/* ---- clock ---------------------------------------------------------------------- */

/* A clock fault must be real, or the run tests nothing while claiming it
 * did: with jemalloc linked in, a node under libfaketime hangs before it
 * listens, and each "clock" fault was a plain outage. So every clock fault
 * is checked through the node's STATUS time_ms (its wall clock): the node
 * answers, and its clock is off by what was set. A check that fails is
 * recorded with "verified": false, which makes the run invalid (the
 * checker's "faults" verdict).
 *
 * How long a node restarted under libfaketime gets to answer (a restart
 * replays its raft log; a few seconds on a loaded machine). */
#define CLOCK_ANSWER_MS 15000
/* libfaketime re-reads the offset file once its 1 s cache expires: a live
 * jump shows within about 2 s. */
#define CLOCK_JUMP_MS 5000
/* libfaketime applies an offset exactly; what a reading adds is the STATUS
 * round trip (its midpoint is taken) and scheduling. The smallest jump set
 * is 5 s. */
#define CLOCK_TOLERANCE_MS 1000
/* A rate is measured over this window; 0.15 tells the rate nearest to a
 * true clock (0.75) from 1.0 with room for round trips of 100 ms. */
#define CLOCK_RATE_WINDOW_MS 2000
#define CLOCK_RATE_TOLERANCE 0.15
/* How long moving leadership to the skewed node may take. */
#define TRANSFER_DEADLINE_MS 20000

/* The runner's wall clock (the runner never runs under libfaketime). */
static int64_t wall_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        abort();
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One reading of a node's wall clock. */
struct clock_reading {
    int64_t node_ms; /* STATUS time_ms */
    int64_t at_ms;   /* the runner's wall clock halfway through the request */
    int64_t skew_ms; /* node_ms - at_ms */
    char last_id[32];
};

static int read_clock(struct nemesis *n, int i, struct clock_reading *r, char *err, size_t errlen)
{
    int64_t before = wall_ms();
    json_t *st = rawresp_status(n->c->slots[i].client_addr, 1000, err, errlen);
    int64_t after = wall_ms();
    if (st == NULL)
        return -1;
    json_t *t = json_object_get(st, "time_ms");
    const char *last = json_string_value(json_object_get(st, "last_id"));
    int rc = -1;
    if (!json_is_integer(t)) {
        snprintf(err, errlen, "STATUS has no time_ms");
    } else {
        r->node_ms = (int64_t)json_integer_value(t);
        r->at_ms = before + (after - before) / 2;
        r->skew_ms = r->node_ms - r->at_ms;
        snprintf(r->last_id, sizeof r->last_id, "%s", last != NULL ? last : "");
        rc = 0;
    }
    json_decref(st);
    return rc;
}

/* Poll slot i's STATUS until it answers (any_offset) or answers with its
 * clock off by want_ms, for up to timeout_ms. True once seen; `what` tells
 * what was seen last either way. */
static bool wait_clock(struct nemesis *n, int i, bool any_offset, int64_t want_ms, int timeout_ms,
                       struct clock_reading *r, char *what, size_t len)
{
    struct slot *s = &n->c->slots[i];
    int64_t deadline = history_now() + (int64_t)timeout_ms * 1000000;
    snprintf(what, len, "%s never answered", s->name);
    for (;;) {
        if (s->pid == 0) {
            size_t used = strlen(what);
            snprintf(what + used, len - used, "; the process exited");
            return false;
        }
        char err[256];
        if (read_clock(n, i, r, err, sizeof err) != 0) {
            snprintf(what, len, "%s does not answer STATUS: %s", s->name, err);
        } else if (any_offset || llabs(r->skew_ms - want_ms) <= CLOCK_TOLERANCE_MS) {
            snprintf(what, len, "%s answers; its clock is off by %+.3f s", s->name, (double)r->skew_ms / 1000);
            return true;
        } else {
            snprintf(what, len, "%s answers, but its clock is off by %+.3f s, not %+.3f s", s->name,
                     (double)r->skew_ms / 1000, (double)want_ms / 1000);
        }
        if (history_now() >= deadline)
            return false;
        nemesis_idle(n, 200, NULL);
    }
}

/* The ms timestamp of a ULID's text form (its first 10 digits), or 0. */
static uint64_t ulid_text_ms(const char *id)
{
    static const char digits[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    if (strlen(id) != 26)
        return 0;
    uint64_t v = 0;
    for (int k = 0; k < 10; k++) {
        const char *p = strchr(digits, id[k]);
        if (p == NULL)
            return 0;
        v = (v << 5) | (uint64_t)(p - digits);
    }
    return v;
}

/* A check that fault f on `nodes` (taken) took effect: the history's
 * "verified" line, which the checker's "faults" verdict judges. */
static void fault_check(enum fault f, json_t *nodes, bool ok, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void fault_check(enum fault f, json_t *nodes, bool ok, const char *fmt, ...)
{
    char text[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    history_nemesis_fields(fault_names[f], "check", nodes, json_pack("{s:b}", "verified", ok), "%s%s",
                           ok ? "" : "NOT APPLIED: ", text);
}

/* Right after the restart under libfaketime: the node answers, and its
 * clock is off by the offset set (a jump) or runs at the rate set (a rate
 * fault: two readings CLOCK_RATE_WINDOW_MS apart). */
static bool check_clock_start(struct nemesis *n, int v, bool jump, int64_t offset_ms, double rate)
{
    struct clock_reading r1, r2;
    char what[512];
    if (jump) {
        bool ok = wait_clock(n, v, false, offset_ms, CLOCK_ANSWER_MS, &r1, what, sizeof what);
        fault_check(F_CLOCK, names1(n, v), ok, "%s (set: %+.0f s)", what, (double)offset_ms / 1000);
        return ok;
    }
    if (!wait_clock(n, v, true, 0, CLOCK_ANSWER_MS, &r1, what, sizeof what)) {
        fault_check(F_CLOCK, names1(n, v), false, "%s", what);
        return false;
    }
    /* The measurement window, not a wait for something to happen. */
    nemesis_idle(n, CLOCK_RATE_WINDOW_MS, NULL);
    char err[256];
    if (read_clock(n, v, &r2, err, sizeof err) != 0) {
        fault_check(F_CLOCK, names1(n, v), false, "%s stopped answering STATUS while its clock rate was measured: %s",
                     n->c->slots[v].name, err);
        return false;
    }
    double measured = r2.at_ms > r1.at_ms ? (double)(r2.node_ms - r1.node_ms) / (double)(r2.at_ms - r1.at_ms) : 0;
    double off = measured - rate;
    bool ok = off <= CLOCK_RATE_TOLERANCE && -off <= CLOCK_RATE_TOLERANCE;
    fault_check(F_CLOCK, names1(n, v), ok, "%s answers; its clock ran at x%.2f over %.1f s (set: x%.2f)", n->c->slots[v].name,
                 measured, (double)(r2.at_ms - r1.at_ms) / 1000, rate);
    return ok;
}

/* Move leadership to the skewed node, so that every clock fault exercises
 * a leader change between clocks that disagree: a leader behind the last
 * id applied must issue ids above it at once, and the leader after a
 * leader ahead must too (the id floor in src/node/role.c). CLUSTER
 * TRANSFER <id> goes to the leader; -TRYAGAIN (leadership did not move
 * within an election timeout, e.g. the target still catching up: eventflow's
 * documented "retry") is asked again, as are -MOVED, -NOLEADER and no
 * answer (the leader changed meanwhile), until the node reports itself the
 * ready leader or TRANSFER_DEADLINE_MS pass. The outcome is recorded with
 * "transferred". */
static void clock_transfer(struct nemesis *n, int v)
{
    struct cluster *c = n->c;
    struct slot *s = &c->slots[v];
    char idbuf[24];
    snprintf(idbuf, sizeof idbuf, "%" PRIu64, s->id);
    int64_t deadline = history_now() + (int64_t)TRANSFER_DEADLINE_MS * 1000000;
    int asked = 0, retried = 0;
    char last[300] = "no leader to ask";
    bool moved = false, gave_up = false;
    while (!moved && !gave_up && history_now() < deadline) {
        char err[256];
        json_t *st = rawresp_status(s->client_addr, 1000, err, sizeof err);
        const char *state = st ? json_string_value(json_object_get(st, "state")) : NULL;
        bool leads = state != NULL && strcmp(state, "leader") == 0;
        moved = leads && json_is_true(json_object_get(st, "ready"));
        json_decref(st);
        if (moved)
            break;
        int l = leads ? v : cluster_leader(c);
        if (l == 0 || l == v) {
            /* No leader yet, or v leads and is not ready yet: look again. */
            nemesis_idle(n, 100, NULL);
            continue;
        }
        struct resp_value r;
        asked++;
        if (rawresp_call(c->slots[l].client_addr, "CLUSTER TRANSFER", idbuf, 5000, &r, err, sizeof err) != 0) {
            snprintf(last, sizeof last, "%s: %s", c->slots[l].name, err);
            retried++;
            continue;
        }
        if (r.type == RESP_T_SIMPLE) {
            snprintf(last, sizeof last, "%s: +%s", c->slots[l].name, r.str);
        } else if (r.type == RESP_T_ERROR) {
            snprintf(last, sizeof last, "%s: -%s", c->slots[l].name, r.str);
            if (strncmp(r.str, "TRYAGAIN", 8) == 0 || strncmp(r.str, "MOVED", 5) == 0 ||
                strncmp(r.str, "NOLEADER", 8) == 0)
                retried++;
            else
                gave_up = true;
        } else {
            snprintf(last, sizeof last, "%s: unexpected reply", c->slots[l].name);
            gave_up = true;
        }
        resp_value_free(&r);
    }
    history_nemesis_fields("clock", "transfer", names1(n, v), json_pack("{s:b}", "transferred", moved),
                           "%s to %s (id %" PRIu64 "): %s after %d CLUSTER TRANSFER request(s), %d retried (last: %s)",
                           moved ? "leadership moved" : "leadership did NOT move", s->name, s->id,
                           moved ? "ready leader" : gave_up ? "refused" : "timed out", asked, retried, last);
}

/* ---- the faults ---------------------------------------------------------------- */

/* A partition is in force: one of the links it cut carries no traffic. */
static void check_cut(struct nemesis *n, const struct active *a)
{
    if (a->cut_from == 0 || a->cut_to == 0)
        return; /* nothing was cut: no member to cut off */
    char what[512];
    bool ok = faultcheck_blocked(n->c, a->cut_from, a->cut_to, a->f == F_SNAPSHOT, what, sizeof what);
    int both[2] = {a->cut_from, a->cut_to};
    fault_check(a->f, cluster_names(n->c, both, 2), ok, "%s", what);
}

static void start_fault(struct nemesis *n, struct active *a)
{
    struct cluster *c = n->c;
    int s[CLUSTER_MAX];
    int k;
    a->n = 0;
    switch (a->f) {
    case F_KILL_ONE:
    case F_KILL_LEADER:
    case F_KILL_MAJORITY:
    case F_KILL_ALL:
        k = running_members(n, s);
        if (a->f == F_KILL_LEADER) {
            s[0] = leader_or_random(n);
            k = s[0] != 0;
        } else if (a->f == F_KILL_ONE) {
            k = k > 0;
        } else if (a->f == F_KILL_MAJORITY) {
            int majority = c->cfg.n / 2 + 1;
            k = k < majority ? k : majority;
        }
        for (int i = 0; i < k; i++) {
            a->slots[a->n++] = s[i];
            if (!n->disabled[a->f])
                cluster_kill(c, s[i]);
        }
        history_nemesis(fault_names[a->f], "start", cluster_names(c, a->slots, a->n), "kill -9");
        for (int i = 0; i < a->n; i++) {
            char what[512];
            bool ok = faultcheck_gone(c, a->slots[i], what, sizeof what);
            fault_check(a->f, names1(n, a->slots[i]), ok, "%s", what);
        }
        break;
    case F_PAUSE_ONE:
    case F_PAUSE_LEADER:
        s[0] = a->f == F_PAUSE_LEADER ? leader_or_random(n) : random_member(n);
        if (s[0] != 0) {
            if (!n->disabled[a->f])
                cluster_pause(c, s[0]);
            a->slots[a->n++] = s[0];
        }
        history_nemesis(fault_names[a->f], "start", cluster_names(c, a->slots, a->n), "SIGSTOP");
        if (a->n > 0) {
            char what[512];
            bool ok = faultcheck_silent(c, a->slots[0], what, sizeof what);
            fault_check(a->f, names1(n, a->slots[0]), ok, "%s", what);
        }
        break;
    case F_PART_LEADER:
    case F_PART_HALF:
    case F_PART_RING:
    case F_PART_BRIDGE:
    case F_PART_ONEWAY:
        start_partition(n, a);
        check_cut(n, a);
        break;
    case F_MEMBER:
        start_member(n, a);
        break;
    case F_CLOCK: {
        int v = rng_below(&n->rng, 2) ? leader_or_random(n) : random_member(n);
        if (v == 0)
            break;
        char spec[64];
        bool jump = rng_below(&n->rng, 2) == 0;
        int64_t offset_ms = 0;
        double rate = 1.0;
        if (jump) {
            int secs = rng_range(&n->rng, 5, 300);
            bool ahead = rng_below(&n->rng, 2) != 0;
            snprintf(spec, sizeof spec, "%c%ds", ahead ? '+' : '-', secs);
            offset_ms = (ahead ? 1 : -1) * (int64_t)secs * 1000;
        } else {
            static const char *const rates[] = {"0.5", "0.75", "1.5", "2.0"};
            static const double rate_values[] = {0.5, 0.75, 1.5, 2.0};
            uint64_t which = rng_below(&n->rng, 4);
            snprintf(spec, sizeof spec, "+0 x%s", rates[which]);
            rate = rate_values[which];
        }
        if (n->disabled[F_CLOCK])
            snprintf(spec, sizeof spec, "%s", jump ? "+0s" : "+0 x1.0"); /* --disable-fault */
        int rc = cluster_start_faketime(c, v, spec, jump);
        a->slots[a->n++] = v;
        a->clock_jump = jump && rc == 0;
        history_nemesis("clock", "start", names1(n, v), "restarted under libfaketime \"%s\" (%s)%s", spec,
                        jump ? "wall clock only" : "wall and monotonic clocks", rc ? ": FAILED" : "");
        if (rc != 0) {
            fault_check(F_CLOCK, names1(n, v), false, "%s could not be started under libfaketime", c->slots[v].name);
            break;
        }
        a->clock_up = check_clock_start(n, v, jump, offset_ms, rate);
        if (a->clock_up)
            clock_transfer(n, v);
        break;
    }
    case F_DISK: {
        int v = rng_below(&n->rng, 2) ? leader_or_random(n) : random_member(n);
        if (v == 0)
            break;
        long long bytes = n->disabled[F_DISK] ? 0 : cluster_fill_disk(c, v);
        a->slots[a->n++] = v;
        history_nemesis("disk", "start", names1(n, v), "data filesystem filled (%lld bytes of filler)", bytes);
        char what[512];
        bool ok = faultcheck_disk_full(c, v, what, sizeof what);
        fault_check(F_DISK, names1(n, v), ok, "%s", what);
        break;
    }
    case F_SNAPSHOT: {
        int v = random_follower(n);
        if (v == 0)
            break;
        char err[256];
        json_t *st = rawresp_status(c->slots[v].client_addr, 1000, err, sizeof err);
        a->snap_from = st ? (uint64_t)json_integer_value(json_object_get(st, "applied_index")) : 0;
        json_decref(st);
        int all[CLUSTER_MAX];
        k = cluster_members(c, all);
        /* Resets, not drops: AppendEntries the leader sent before the cut
         * and that wait in the connection's socket buffers would otherwise
         * arrive after the heal and catch the follower up without the
         * snapshot this fault is about. */
        for (int i = 0; i < k; i++) {
            if (all[i] != v) {
                cluster_reset_link(c, v, all[i]);
                cluster_reset_link(c, all[i], v);
                a->cut_from = all[i];
            }
        }
        a->cut_to = v;
        a->log_from = faultcheck_log_size(c, v);
        if (n->disabled[F_SNAPSHOT])
            cluster_heal_network(c);
        a->slots[a->n++] = v;
        history_nemesis("snapshot", "start", names1(n, v), "isolated at applied index %" PRIu64 " until it needs a snapshot",
                        a->snap_from);
        check_cut(n, a);
        break;
    }
    default:
        break;
    }
}

/* Halfway through its hold, a wall-clock fault jumps again while the
 * node runs: to the other side of the true time. */
static void mid_fault(struct nemesis *n, struct active *a)
{
    if (a->f != F_CLOCK || !a->clock_jump)
        return;
    char spec[32];
    bool ahead = rng_below(&n->rng, 2) != 0;
    int secs = rng_range(&n->rng, 5, 300);
    snprintf(spec, sizeof spec, "%c%ds", ahead ? '+' : '-', secs);
    int v = a->slots[0];
    int rc = cluster_set_clock(n->c, v, spec);
    history_nemesis("clock", "jump", names1(n, v), "wall clock now \"%s\" while running%s", spec,
                    rc ? ": FAILED" : "");
    if (rc != 0) {
        fault_check(F_CLOCK, names1(n, v), false, "the offset file of %s could not be rewritten", n->c->slots[v].name);
        return;
    }
    int64_t offset_ms = (ahead ? 1 : -1) * (int64_t)secs * 1000;
    struct clock_reading r;
    char what[512];
    bool ok = wait_clock(n, v, false, offset_ms, CLOCK_JUMP_MS, &r, what, sizeof what);
    fault_check(F_CLOCK, names1(n, v), ok, "%s (set: %+.0f s, live)", what, (double)offset_ms / 1000);
}

/* The snapshot fault holds until the rest of the cluster has applied more
 * than threshold + trailing entries past the follower, so that the entries
 * it misses have been compacted away; and then once more past what the
 * leader's log held at that moment. The second round is for raft_uv's
 * queue of messages for a peer it cannot reach: it sends them once the
 * link is back, and those AppendEntries, built before the compaction,
 * carried the follower past the first snapshot's window every time. */
static void hold_snapshot(struct nemesis *n, struct active *a, int max_ms, const atomic_bool *stop)
{
    /* raft keeps `trailing` entries before its snapshot: the follower
     * needs the snapshot once that window starts past it. */
    uint64_t trailing = (uint64_t)n->c->cfg.snapshot_trailing;
    uint64_t need = a->snap_from + trailing + 1;
    bool second = false;
    for (int waited = 0; waited < max_ms && !stopped(stop); waited += 500) {
        int l = cluster_leader(n->c);
        if (l != 0 && l != a->slots[0]) {
            char err[256];
            json_t *st = rawresp_status(n->c->slots[l].client_addr, 1000, err, sizeof err);
            uint64_t applied = st ? (uint64_t)json_integer_value(json_object_get(st, "applied_index")) : 0;
            uint64_t snap = st ? (uint64_t)json_integer_value(json_object_get(st, "snapshot_index")) : 0;
            uint64_t last = st ? (uint64_t)json_integer_value(json_object_get(st, "last_index")) : 0;
            json_decref(st);
            if (applied >= need && snap >= need) {
                a->snap_from = snap;
                if (second)
                    return;
                second = true;
                need = last + trailing + 1;
            }
        }
        nemesis_idle(n, 500, stop);
    }
}

static void stop_fault(struct nemesis *n, struct active *a)
{
    struct cluster *c = n->c;
    switch (a->f) {
    case F_KILL_ONE:
    case F_KILL_LEADER:
    case F_KILL_MAJORITY:
    case F_KILL_ALL:
        for (int i = 0; i < a->n; i++)
            cluster_start(c, a->slots[i]);
        history_nemesis(fault_names[a->f], "stop", cluster_names(c, a->slots, a->n), "restarted");
        for (int i = 0; i < a->n; i++) {
            char what[512];
            bool ok = faultcheck_answers(c, a->slots[i], RESTART_ANSWER_MS, what, sizeof what);
            fault_check(a->f, names1(n, a->slots[i]), ok, "restarted: %s", what);
        }
        break;
    case F_PAUSE_ONE:
    case F_PAUSE_LEADER:
        for (int i = 0; i < a->n; i++)
            cluster_resume(c, a->slots[i]);
        history_nemesis(fault_names[a->f], "stop", cluster_names(c, a->slots, a->n), "SIGCONT");
        for (int i = 0; i < a->n; i++) {
            char what[512];
            bool ok = faultcheck_answers(c, a->slots[i], RESUME_ANSWER_MS, what, sizeof what);
            fault_check(a->f, names1(n, a->slots[i]), ok, "resumed: %s", what);
        }
        break;
    case F_PART_LEADER:
    case F_PART_HALF:
    case F_PART_RING:
    case F_PART_BRIDGE:
    case F_PART_ONEWAY:
        cluster_heal_network(c);
        history_nemesis(fault_names[a->f], "stop", NULL, "network healed");
        break;
    case F_MEMBER:
        stop_member(n, a);
        break;
    case F_CLOCK:
        for (int i = 0; i < a->n; i++) {
            int v = a->slots[i];
            /* Where the skewed node left the ids: the store's last id
             * against the true time (ahead: the next leader's clock is
             * behind it, and only the id floor keeps its ids above). */
            struct clock_reading before;
            char err[256], ids[128] = "";
            if (a->clock_up && read_clock(n, v, &before, err, sizeof err) == 0 && ulid_text_ms(before.last_id) != 0)
                snprintf(ids, sizeof ids, "; last id stamped %+.1f s from the true time",
                         ((double)ulid_text_ms(before.last_id) - (double)before.at_ms) / 1000);
            cluster_kill(c, v);
            int rc = cluster_start(c, v);
            struct clock_reading r;
            char what[512] = "could not be started";
            bool ok = rc == 0 && wait_clock(n, v, false, 0, CLOCK_ANSWER_MS, &r, what, sizeof what);
            history_nemesis_fields("clock", "stop", names1(n, v), json_pack("{s:b}", "verified", ok),
                                   "restarted with the true clock%s: %s%s", ids, ok ? "" : "NOT RESTORED: ", what);
        }
        break;
    case F_DISK:
        for (int i = 0; i < a->n; i++) {
            cluster_reap(c);
            bool crashed = c->slots[a->slots[i]].pid == 0;
            cluster_free_disk(c, a->slots[i]);
            if (crashed)
                cluster_start(c, a->slots[i]);
            history_nemesis("disk", "stop", names1(n, a->slots[i]), "filler removed%s",
                            crashed ? "; the node had stopped and was restarted" : "; the node kept running");
        }
        break;
    case F_SNAPSHOT: {
        cluster_heal_network(c);
        history_nemesis("snapshot", "stop", cluster_names(c, a->slots, a->n),
                        "network healed; the leader's snapshot is at index %" PRIu64, a->snap_from);
        /* The point of the fault: the follower has to install a snapshot
         * (fsm.c logs "restore: the store is at index ..." as it starts). */
        char what[512];
        bool ok = a->n > 0 && faultcheck_logged(c, a->slots[0], a->log_from, "restore: the store is at index",
                                                SNAPSHOT_INSTALL_MS, what, sizeof what);
        if (a->n > 0)
            fault_check(F_SNAPSHOT, names1(n, a->slots[0]), ok, "after the heal: %s", what);
        break;
    }
    default:
        break;
    }
}

/* A fault to run beside a membership change, or -1. */
static int companion_fault(struct nemesis *n)
{
    int options[F_COUNT], k = 0;
    for (int f = 0; f < F_COUNT; f++)
        if (n->enabled[f] && f != F_MEMBER && f != F_SNAPSHOT)
            options[k++] = f;
    if (k == 0 || rng_below(&n->rng, 10) < 3)
        return -1;
    return options[rng_below(&n->rng, (uint64_t)k)];
}

static enum fault pick(struct nemesis *n)
{
    uint64_t i = rng_below(&n->rng, (uint64_t)n->n_enabled);
    for (int f = 0; f < F_COUNT; f++)
        if (n->enabled[f] && i-- == 0)
            return (enum fault)f;
    return F_KILL_ONE;
}

void nemesis_run(struct nemesis *n, int64_t end_ns, const atomic_bool *stop)
{
    if (n->n_enabled == 0) {
        nemesis_idle(n, (int)((end_ns - history_now()) / 1000000), stop);
        return;
    }
    int pause_min = 3 * n->c->cfg.election_timeout_ms;
    for (;;) {
        nemesis_idle(n, rng_range(&n->rng, 2000, 5000), stop);
        if (history_now() >= end_ns || stopped(stop))
            return;
        struct active main = {.f = pick(n)};
        struct active side = {.f = F_COUNT};
        if (main.f == F_MEMBER) {
            int g = companion_fault(n);
            if (g >= 0) {
                side.f = (enum fault)g;
                start_fault(n, &side);
            }
        }
        start_fault(n, &main);
        int hold = rng_range(&n->rng, 4000, 10000);
        if (main.f == F_PAUSE_ONE || main.f == F_PAUSE_LEADER || side.f == F_PAUSE_ONE || side.f == F_PAUSE_LEADER)
            hold = hold < pause_min ? pause_min : hold;
        if (main.f == F_SNAPSHOT) {
            hold_snapshot(n, &main, 60000, stop);
        } else {
            int64_t left = (end_ns - history_now()) / 1000000;
            int ms = hold < left ? hold : (int)(left > 0 ? left : 0);
            nemesis_idle(n, ms / 2, stop);
            mid_fault(n, &main);
            mid_fault(n, &side);
            nemesis_idle(n, ms - ms / 2, stop);
        }
        stop_fault(n, &main);
        if (side.f != F_COUNT)
            stop_fault(n, &side);
    }
}

void nemesis_heal_all(struct nemesis *n)
{
    struct cluster *c = n->c;
    cluster_heal_network(c);
    for (int i = 1; i <= c->cfg.n; i++) {
        struct slot *s = &c->slots[i];
        cluster_resume(c, i);
        if (s->disk_full)
            cluster_free_disk(c, i);
        if (s->clock == CLOCK_FAKE)
            cluster_kill(c, i);
    }
    cluster_reap(c);
    /* Original members first, so that a re-joining slot finds a leader. */
    for (int i = 1; i <= c->cfg.n; i++)
        if (!c->slots[i].joined || c->slots[i].member)
            cluster_start(c, i);
    for (int i = 1; i <= c->cfg.n; i++)
        cluster_start(c, i);
    for (int i = 1; i <= c->cfg.n; i++) {
        if (n->demoted[i]) {
            int rc = eventflow_member_assign(n->admin, c->slots[i].id, EF_ROLE_VOTER);
            if (rc == EF_OK)
                n->demoted[i] = false;
            history_nemesis("member", "stop", names1(n, i), "promote %s back to voter: %s", c->slots[i].name,
                            eventflow_err_name(rc));
        }
    }
    history_nemesis("heal", "stop", NULL, "every fault healed, every node running");
}
