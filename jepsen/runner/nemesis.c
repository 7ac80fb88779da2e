/* nemesis.c - see nemesis.h. */
#include "nemesis.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eventflow/eventflow.h"
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
};

struct nemesis {
    struct cluster *c;
    struct rng rng;
    bool enabled[F_COUNT];
    int n_enabled;
    struct eventflow_client *admin; /* membership changes */
    bool demoted[CLUSTER_MAX + 1];
    /* Per slot: the id of a removal whose outcome was unknown and which
     * did not look taken at the time (0: none); settled after healing. */
    uint64_t unsettled_removal[CLUSTER_MAX + 1];
};

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

struct nemesis *nemesis_new(struct cluster *c, const char *list, uint64_t seed, const char *endpoints,
                            char *err, size_t errlen)
{
    struct nemesis *n = calloc(1, sizeof *n);
    if (n == NULL)
        abort();
    n->c = c;
    rng_seed(&n->rng, seed ^ UINT64_C(0x6e656d65736973));
    char copy[512];
    snprintf(copy, sizeof copy, "%s", list);
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "none") == 0)
            continue;
        bool found = false;
        for (int f = 0; f < F_COUNT; f++) {
            if (strcmp(tok, fault_names[f]) == 0) {
                n->enabled[f] = found = true;
            }
        }
        for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
            if (strcmp(tok, groups[g].name) == 0) {
                for (int f = (int)groups[g].first; f <= (int)groups[g].last; f++)
                    n->enabled[f] = true;
                found = true;
            }
        }
        if (!found) {
            snprintf(err, errlen, "unknown nemesis '%s'", tok);
            free(n);
            return NULL;
        }
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
        a->slots[0] = l;
        a->n = 1;
        describe_groups(desc, sizeof desc, c, &l, 1, rest, r);
        break;
    }
    case F_PART_HALF: {
        /* 1 .. k/2 nodes on the minority side */
        int minority = 1 + (int)rng_below(&n->rng, (uint64_t)(k / 2 > 0 ? k / 2 : 1));
        cut_groups(n, all, minority, all + minority, k - minority);
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
        a->slots[0] = bridge;
        a->n = 1;
        snprintf(desc, sizeof desc, "bridge %s between ", c->slots[bridge].name);
        describe_groups(desc + strlen(desc), sizeof desc - strlen(desc), c, all, half, all + half + 1, k - half - 1);
        break;
    }
    case F_PART_ONEWAY: {
        int x = rng_below(&n->rng, 2) ? leader_or_random(n) : all[0];
        for (int i = 0; i < k; i++)
            if (all[i] != x)
                cluster_drop(c, x, all[i]);
        a->slots[0] = x;
        a->n = 1;
        snprintf(desc, sizeof desc, "%s hears nobody (its packets still go out)", c->slots[x].name);
        break;
    }
    default:
        break;
    }
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
        break;
    case M_DEMOTE:
        rc = eventflow_member_assign(n->admin, s->id, EF_ROLE_STANDBY);
        a->member_done = rc == EF_OK || rc == EF_EUNKNOWN;
        n->demoted[victim] = a->member_done;
        history_nemesis("member", "start", names1(n, victim), "demote %s (id %" PRIu64 ") to standby: %s %s",
                        s->name, s->id, eventflow_err_name(rc), rc ? eventflow_client_last_error(n->admin) : "");
        break;
    default: {
        /* Every other member must be present, or removing one more could
         * leave the cluster without a majority for good. */
        int all[CLUSTER_MAX];
        if (cluster_members(c, all) < c->cfg.n) {
            history_nemesis("member", "start", names1(n, victim), "replace %s skipped: a slot is still out", s->name);
            return;
        }
        uint64_t old = s->id;
        rc = eventflow_member_remove(n->admin, old);
        char why[512];
        snprintf(why, sizeof why, "%s", rc ? eventflow_client_last_error(n->admin) : "");
        bool removed = rc == EF_OK || (rc == EF_EUNKNOWN && !is_member_id(n, old));
        history_nemesis("member", "start", names1(n, victim), "remove %s (id %" PRIu64 "): %s %s%s", s->name, old,
                        eventflow_err_name(rc), why, rc == EF_EUNKNOWN ? (removed ? " (it is gone)" : " (still a member)") : "");
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

/* ---- the faults ---------------------------------------------------------------- */

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
            cluster_kill(c, s[i]);
        }
        history_nemesis(fault_names[a->f], "start", cluster_names(c, a->slots, a->n), "kill -9");
        break;
    case F_PAUSE_ONE:
    case F_PAUSE_LEADER:
        s[0] = a->f == F_PAUSE_LEADER ? leader_or_random(n) : random_member(n);
        if (s[0] != 0) {
            cluster_pause(c, s[0]);
            a->slots[a->n++] = s[0];
        }
        history_nemesis(fault_names[a->f], "start", cluster_names(c, a->slots, a->n), "SIGSTOP");
        break;
    case F_PART_LEADER:
    case F_PART_HALF:
    case F_PART_RING:
    case F_PART_BRIDGE:
    case F_PART_ONEWAY:
        start_partition(n, a);
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
        if (jump) {
            int secs = rng_range(&n->rng, 5, 300);
            snprintf(spec, sizeof spec, "%c%ds", rng_below(&n->rng, 2) ? '+' : '-', secs);
        } else {
            static const char *const rates[] = {"0.5", "0.75", "1.5", "2.0"};
            snprintf(spec, sizeof spec, "+0 x%s", rates[rng_below(&n->rng, 4)]);
        }
        int rc = cluster_start_faketime(c, v, spec, jump);
        a->slots[a->n++] = v;
        a->clock_jump = jump && rc == 0;
        history_nemesis("clock", "start", names1(n, v), "restarted under libfaketime \"%s\" (%s)%s", spec,
                        jump ? "wall clock only" : "wall and monotonic clocks", rc ? ": FAILED" : "");
        break;
    }
    case F_DISK: {
        int v = rng_below(&n->rng, 2) ? leader_or_random(n) : random_member(n);
        if (v == 0)
            break;
        long long bytes = cluster_fill_disk(c, v);
        a->slots[a->n++] = v;
        history_nemesis("disk", "start", names1(n, v), "data filesystem filled (%lld bytes of filler)", bytes);
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
        for (int i = 0; i < k; i++)
            if (all[i] != v)
                cut_both(n, v, all[i]);
        a->slots[a->n++] = v;
        history_nemesis("snapshot", "start", names1(n, v), "isolated at applied index %" PRIu64 " until it needs a snapshot",
                        a->snap_from);
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
    snprintf(spec, sizeof spec, "%c%ds", rng_below(&n->rng, 2) ? '+' : '-', rng_range(&n->rng, 5, 300));
    int rc = cluster_set_clock(n->c, a->slots[0], spec);
    history_nemesis("clock", "jump", names1(n, a->slots[0]), "wall clock now \"%s\" while running%s", spec,
                    rc ? ": FAILED" : "");
}

/* The snapshot fault holds until the rest of the cluster has applied more
 * than threshold + trailing entries past the follower, so that the entries
 * it misses have been compacted away. */
static void hold_snapshot(struct nemesis *n, struct active *a, int max_ms, const atomic_bool *stop)
{
    /* raft keeps `trailing` entries before its snapshot: the follower
     * needs the snapshot once that window starts past it. */
    uint64_t need = a->snap_from + (uint64_t)n->c->cfg.snapshot_trailing + 1;
    for (int waited = 0; waited < max_ms && !stopped(stop); waited += 500) {
        int l = cluster_leader(n->c);
        if (l != 0 && l != a->slots[0]) {
            char err[256];
            json_t *st = rawresp_status(n->c->slots[l].client_addr, 1000, err, sizeof err);
            uint64_t applied = st ? (uint64_t)json_integer_value(json_object_get(st, "applied_index")) : 0;
            uint64_t snap = st ? (uint64_t)json_integer_value(json_object_get(st, "snapshot_index")) : 0;
            json_decref(st);
            if (applied >= need && snap >= need) {
                a->snap_from = snap;
                return;
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
        break;
    case F_PAUSE_ONE:
    case F_PAUSE_LEADER:
        for (int i = 0; i < a->n; i++)
            cluster_resume(c, a->slots[i]);
        history_nemesis(fault_names[a->f], "stop", cluster_names(c, a->slots, a->n), "SIGCONT");
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
            cluster_kill(c, a->slots[i]);
            cluster_start(c, a->slots[i]);
        }
        history_nemesis("clock", "stop", cluster_names(c, a->slots, a->n), "restarted with the true clock");
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
    case F_SNAPSHOT:
        cluster_heal_network(c);
        history_nemesis("snapshot", "stop", cluster_names(c, a->slots, a->n),
                        "network healed; the leader's snapshot is at index %" PRIu64, a->snap_from);
        break;
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
