/* status.c - status, health, watch and leader: the cluster as each member
 * reports itself, and a verdict on it.
 *
 * The members come from CLUSTER MEMBERS through any endpoint; then every
 * member is asked for its STATUS directly, at its client address, all at
 * once (one thread and one client per member, since a client belongs to
 * one thread). A member that does not answer is shown as unreachable; the
 * command does not fail because of it.
 *
 * The verdict (the exit code):
 *   0 healthy      a leader answers, and every member answers, is caught up,
 *                  is in contact with the leader, and agrees on the checksum
 *   1 degraded     a leader and a majority of voters answer, but some member
 *                  does not, or lags, is stale, or diverged
 *   2 unavailable  no member that answers is the leader, or fewer than a
 *                  majority of the voters answer
 *   3              the members could not be had from any endpoint
 *
 * Lag is measured against one reference: the leader's commit index as the
 * leader reported it. A member is caught up when its applied index is at
 * most --max-lag entries behind it. Under a steady stream of writes a
 * follower is always a little behind a sample taken a moment earlier, so a
 * member found lagging is asked again a few times, RECHECK_PAUSE_MS apart,
 * before it is reported: one that is merely a moment behind catches up with
 * the reference, one that is really behind does not. */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "common/human.h"
#include "common/mem.h"

/* How long each member gets to answer STATUS. */
#define STATUS_TIMEOUT_MS 2000
#define DEFAULT_MAX_LAG 5
#define RECHECKS 5
#define RECHECK_PAUSE_MS 100
#define DEFAULT_WATCH_INTERVAL_MS 1000

enum verdict {
    VERDICT_HEALTHY = CLI_EXIT_OK,
    VERDICT_DEGRADED = CLI_EXIT_DEGRADED,
    VERDICT_UNAVAILABLE = CLI_EXIT_UNAVAILABLE,
};

/* One member: its configuration, and what it said about itself. */
struct member_view {
    struct eventflow_member cfg;     /* from CLUSTER MEMBERS */
    struct eventflow_node_status st; /* its STATUS; valid if reachable */
    bool reachable;
    char error[512];                 /* why it is not reachable */
    bool lag_known;                  /* reachable, replicates, and a reference exists */
    uint64_t lag;                    /* reference commit - its applied index */
    /* What members at the same position must agree on: the checksum at
     * one last_id, the state digest at one applied index (from one start). */
    struct agreement {
        char position[48];
        char value[24];
        bool differs;
    } agree[2];
    char problems[768];              /* "; "-separated; "" when none */
};

struct cluster_view {
    struct member_view *m; /* owned: n members, by id */
    size_t n;
    int leader;            /* index of the reachable leader, -1 if none */
    uint64_t commit;       /* the reference: the leader's commit index */
    size_t reachable;
    size_t voters, voters_up, quorum;
    uint64_t max_lag;
    enum verdict verdict;
    char summary[1024];    /* the one-line verdict, as `health` prints it */
};

static void view_free(struct cluster_view *v)
{
    free(v->m);
    memset(v, 0, sizeof *v);
}

/* ---- asking the members ----------------------------------------------------- */

struct probe {
    const struct cli *cli;   /* borrowed: endpoints are not used, password is */
    int timeout_ms;
    struct member_view *mv;  /* borrowed: the result goes here */
    pthread_t thread;
    bool started;
};

/* STATUS of one member at its client address, with a client of its own. */
static void *probe_run(void *arg)
{
    struct probe *p = arg;
    struct member_view *mv = p->mv;
    int half = p->timeout_ms / 2 > 0 ? p->timeout_ms / 2 : 1;
    const char *addr = cli_member_address(p->cli, &mv->cfg);
    struct eventflow_options o;
    cli_options(p->cli, &o);
    o.endpoints = addr;
    o.connect_timeout_ms = half;
    o.request_timeout_ms = half;
    o.retry_deadline_ms = p->timeout_ms;
    struct eventflow_client *c;
    int rc = eventflow_client_new(&o, &c);
    if (rc != EF_OK) {
        snprintf(mv->error, sizeof mv->error, "invalid client address \"%s\"", addr);
        mv->reachable = false;
        return NULL;
    }
    struct eventflow_node_status st;
    rc = eventflow_node_status(c, addr, &st);
    if (rc == EF_OK) {
        mv->st = st;
        mv->reachable = true;
        mv->error[0] = '\0';
    } else {
        mv->reachable = false;
        snprintf(mv->error, sizeof mv->error, "%s", eventflow_client_last_error(c));
        if (mv->error[0] == '\0')
            snprintf(mv->error, sizeof mv->error, "%s", eventflow_strerror(rc));
    }
    eventflow_client_free(c);
    return NULL;
}

/* Ask the members whose `which` flag is set, all at once. */
static void probe_members(const struct cli *cli, struct cluster_view *v, const bool *which)
{
    struct probe *probes = xcalloc(v->n, sizeof *probes);
    int timeout = cli_timeout(cli, STATUS_TIMEOUT_MS);
    for (size_t i = 0; i < v->n; i++) {
        if (!which[i])
            continue;
        struct member_view *mv = &v->m[i];
        if (cli_member_address(cli, &mv->cfg)[0] == '\0') {
            mv->reachable = false;
            snprintf(mv->error, sizeof mv->error, "no %s address registered", cli->tls ? "TLS" : "client");
            continue;
        }
        probes[i] = (struct probe){.cli = cli, .timeout_ms = timeout, .mv = mv};
        probes[i].started = pthread_create(&probes[i].thread, NULL, probe_run, &probes[i]) == 0;
        if (!probes[i].started) /* no thread to spare: ask it from here */
            probe_run(&probes[i]);
    }
    for (size_t i = 0; i < v->n; i++)
        if (probes[i].started)
            (void)pthread_join(probes[i].thread, NULL);
    free(probes);
}

static int member_cmp(const void *a, const void *b)
{
    const struct member_view *x = a, *y = b;
    return x->cfg.id < y->cfg.id ? -1 : x->cfg.id > y->cfg.id;
}

/* The configuration, through any endpoint that answers. */
static int fetch_members(struct cli *cli, struct cluster_view *v)
{
    struct eventflow_client *c;
    /* Long enough to try a few endpoints that do not answer. */
    int rc = cli_client(cli, EF_READ_ANY, 2 * cli_timeout(cli, STATUS_TIMEOUT_MS), &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    struct eventflow_member_list ml = {0};
    rc = eventflow_cluster_members(c, &ml);
    if (rc != EF_OK) {
        int code = cli_fail_call(cli, c, rc, "cannot list the members");
        eventflow_client_free(c);
        return code;
    }
    eventflow_client_free(c);
    v->n = ml.n;
    v->m = xcalloc(ml.n ? ml.n : 1, sizeof *v->m);
    for (size_t i = 0; i < ml.n; i++)
        v->m[i].cfg = ml.members[i];
    eventflow_member_list_free(&ml);
    qsort(v->m, v->n, sizeof *v->m, member_cmp);
    return CLI_EXIT_OK;
}

/* ---- the verdict -------------------------------------------------------------- */

static bool is_state(const struct member_view *mv, const char *state)
{
    return mv->reachable && strcmp(mv->st.state, state) == 0;
}

/* The reachable leader (the newest term if a deposed one still thinks it
 * leads) and the commit index lag is measured against. */
static void find_reference(struct cluster_view *v)
{
    v->leader = -1;
    v->commit = 0;
    for (size_t i = 0; i < v->n; i++)
        if (is_state(&v->m[i], "leader") && (v->leader < 0 || v->m[i].st.term > v->m[v->leader].st.term))
            v->leader = (int)i;
    if (v->leader >= 0)
        v->commit = v->m[v->leader].st.commit_index;
}

/* Lag of every reachable member that replicates (spares do not). */
static void compute_lag(struct cluster_view *v)
{
    for (size_t i = 0; i < v->n; i++) {
        struct member_view *mv = &v->m[i];
        mv->lag_known = v->leader >= 0 && mv->reachable && mv->cfg.role != EF_ROLE_SPARE;
        mv->lag = 0;
        if (mv->lag_known && v->commit > mv->st.applied_index)
            mv->lag = v->commit - mv->st.applied_index;
    }
}

enum { AGREE_CHECKSUM, AGREE_DIGEST };

/* Fill each reachable member's positions and values; an empty position
 * (no event yet, a server without a digest) takes no part. */
static void agreement_fill(struct cluster_view *v)
{
    for (size_t i = 0; i < v->n; i++) {
        struct member_view *mv = &v->m[i];
        memset(mv->agree, 0, sizeof mv->agree);
        if (!mv->reachable)
            continue;
        const struct eventflow_node_status *st = &mv->st;
        struct agreement *sum = &mv->agree[AGREE_CHECKSUM], *dig = &mv->agree[AGREE_DIGEST];
        snprintf(sum->position, sizeof sum->position, "%s", st->last_id);
        snprintf(sum->value, sizeof sum->value, "%s", st->checksum);
        if (st->state_digest[0] != '\0') {
            snprintf(dig->position, sizeof dig->position, "%" PRIu64 "/%" PRIu64, st->applied_index,
                     st->state_digest_since);
            snprintf(dig->value, sizeof dig->value, "%s", st->state_digest);
        }
    }
}

/* Members taking part in agreement k at position pos whose value is val
 * (NULL: any). */
static size_t count_at(const struct cluster_view *v, int k, const char *pos, const char *val)
{
    size_t n = 0;
    for (size_t i = 0; i < v->n; i++) {
        const struct agreement *a = &v->m[i].agree[k];
        n += a->position[0] != '\0' && strcmp(a->position, pos) == 0 && (val == NULL || strcmp(a->value, val) == 0);
    }
    return n;
}

/* Members at the same position must hold the same value. Within each
 * group of members at one position, those outside the most common value
 * are flagged; with no single most common one, the whole group. */
static void agreement_check(struct cluster_view *v, int k)
{
    for (size_t i = 0; i < v->n; i++) {
        struct agreement *a = &v->m[i].agree[k];
        if (a->position[0] == '\0')
            continue;
        size_t mine = count_at(v, k, a->position, a->value);
        if (mine == count_at(v, k, a->position, NULL))
            continue; /* everyone at this position agrees */
        for (size_t j = 0; j < v->n && !a->differs; j++) {
            const struct agreement *b = &v->m[j].agree[k];
            if (strcmp(b->position, a->position) == 0 && strcmp(b->value, a->value) != 0)
                a->differs = count_at(v, k, b->position, b->value) >= mine;
        }
    }
}

static void add_problem(struct member_view *mv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add_problem(struct member_view *mv, const char *fmt, ...)
{
    size_t used = strlen(mv->problems);
    if (used > 0 && used + 2 < sizeof mv->problems) {
        memcpy(mv->problems + used, "; ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(mv->problems + used, sizeof mv->problems - used, fmt, ap);
    va_end(ap);
}

static void find_problems(struct cluster_view *v)
{
    for (size_t i = 0; i < v->n; i++) {
        struct member_view *mv = &v->m[i];
        mv->problems[0] = '\0';
        if (!mv->reachable) {
            add_problem(mv, "unreachable: %s", mv->error);
            continue;
        }
        const struct eventflow_node_status *st = &mv->st;
        if (st->id != mv->cfg.id)
            add_problem(mv, "the node at %s says it is node %" PRIu64, mv->cfg.client_address, st->id);
        if (strcmp(st->state, "unavailable") == 0)
            add_problem(mv, "raft is not running on it");
        if (mv->cfg.role == EF_ROLE_SPARE) /* gets no heartbeats nor entries */
            continue;
        if (is_state(mv, "leader") && (int)i == v->leader && !st->ready)
            add_problem(mv, "leader not ready yet (applying earlier entries)");
        else if (is_state(mv, "leader") && (int)i != v->leader)
            add_problem(mv, "thinks it leads in old term %" PRIu64, st->term);
        else if (!is_state(mv, "leader") && st->leader_id == 0)
            add_problem(mv, "knows no leader (%s)", st->state);
        if (st->stale) {
            char age[16];
            human_duration(st->last_contact_ms, HUMAN_SHORT, age, sizeof age);
            add_problem(mv, "stale: no contact with a leader for %s", age);
        }
        if (mv->lag_known && mv->lag > v->max_lag)
            add_problem(mv, "lagging %" PRIu64 " entries behind the leader's commit", mv->lag);
        if (mv->agree[AGREE_CHECKSUM].differs)
            add_problem(mv, "checksum %s differs from other members' at event %s", st->checksum, st->last_id);
        if (mv->agree[AGREE_DIGEST].differs)
            add_problem(mv, "state digest %s differs from other members' at applied index %" PRIu64,
                        st->state_digest, st->applied_index);
    }
}

/* Append "; node N: problems" for each member with problems. */
static void summary_problems(const struct cluster_view *v, char *out, size_t cap)
{
    for (size_t i = 0; i < v->n; i++) {
        if (v->m[i].problems[0] == '\0')
            continue;
        size_t used = strlen(out);
        if (used + 1 >= cap)
            return;
        snprintf(out + used, cap - used, "; node %" PRIu64 ": %s", v->m[i].cfg.id, v->m[i].problems);
    }
}

static void decide(struct cluster_view *v)
{
    agreement_fill(v);
    agreement_check(v, AGREE_CHECKSUM);
    agreement_check(v, AGREE_DIGEST);
    find_problems(v);
    v->reachable = v->voters = v->voters_up = 0;
    bool problems = false;
    for (size_t i = 0; i < v->n; i++) {
        const struct member_view *mv = &v->m[i];
        v->reachable += mv->reachable;
        if (mv->cfg.role == EF_ROLE_VOTER) {
            v->voters++;
            v->voters_up += mv->reachable;
        }
        problems = problems || mv->problems[0] != '\0';
    }
    v->quorum = v->voters / 2 + 1;
    if (v->leader < 0 || v->voters_up < v->quorum) {
        v->verdict = VERDICT_UNAVAILABLE;
        snprintf(v->summary, sizeof v->summary, "unavailable: %s, %zu/%zu voters reachable (quorum %zu)",
                 v->leader < 0 ? "no reachable member is the leader" : "no quorum", v->voters_up, v->voters,
                 v->quorum);
    } else {
        const struct member_view *l = &v->m[v->leader];
        v->verdict = problems ? VERDICT_DEGRADED : VERDICT_HEALTHY;
        snprintf(v->summary, sizeof v->summary,
                 "%s: leader %" PRIu64 " (%s), term %" PRIu64 ", %zu/%zu members reachable, commit %" PRIu64,
                 problems ? "degraded" : "healthy", l->cfg.id, l->cfg.client_address, l->st.term, v->reachable,
                 v->n, v->commit);
    }
    summary_problems(v, v->summary, sizeof v->summary);
}

/* Members, their statuses, the verdict. Returns CLI_EXIT_OK with *v filled
 * (the caller frees it with view_free), or the exit code after printing why
 * the members could not be had. */
static int view_gather(struct cli *cli, uint64_t max_lag, struct cluster_view *v)
{
    memset(v, 0, sizeof *v);
    v->max_lag = max_lag;
    int rc = fetch_members(cli, v);
    if (rc != CLI_EXIT_OK)
        return rc;
    bool *which = xcalloc(v->n ? v->n : 1, sizeof *which);
    for (size_t i = 0; i < v->n; i++)
        which[i] = true;
    probe_members(cli, v, which);
    find_reference(v);
    compute_lag(v);
    for (int round = 0; round < RECHECKS; round++) {
        bool again = false;
        for (size_t i = 0; i < v->n; i++) {
            which[i] = v->m[i].lag_known && v->m[i].lag > max_lag;
            again = again || which[i];
        }
        if (!again)
            break;
        struct timespec pause = {0, RECHECK_PAUSE_MS * 1000000L};
        nanosleep(&pause, NULL); /* give a member a moment behind time to catch up */
        probe_members(cli, v, which);
        compute_lag(v);
    }
    free(which);
    decide(v);
    return CLI_EXIT_OK;
}

/* ---- rendering ------------------------------------------------------------------ */

static json_t *member_json(const struct cluster_view *v, const struct member_view *mv)
{
    const struct eventflow_node_status *st = &mv->st;
    bool r = mv->reachable;
    json_t *o = json_object();
    json_object_set_new(o, "id", output_json_u64(mv->cfg.id));
    json_object_set_new(o, "client_address", json_string(mv->cfg.client_address));
    json_object_set_new(o, "tls_address", mv->cfg.tls_address[0] ? json_string(mv->cfg.tls_address) : json_null());
    json_object_set_new(o, "raft_address", json_string(mv->cfg.raft_address));
    json_object_set_new(o, "role", json_string(output_role_name(mv->cfg.role)));
    json_object_set_new(o, "state", json_string(r ? st->state : "unreachable"));
    json_object_set_new(o, "reachable", json_boolean(r));
    json_object_set_new(o, "leader", json_boolean(v->leader >= 0 && mv == &v->m[v->leader]));
    json_object_set_new(o, "term", r ? output_json_u64(st->term) : json_null());
    json_object_set_new(o, "last_index", r ? output_json_u64(st->last_index) : json_null());
    json_object_set_new(o, "commit_index", r ? output_json_u64(st->commit_index) : json_null());
    json_object_set_new(o, "applied_index", r ? output_json_u64(st->applied_index) : json_null());
    json_object_set_new(o, "lag", mv->lag_known ? output_json_u64(mv->lag) : json_null());
    json_object_set_new(o, "last_contact_ms", r ? output_json_u64(st->last_contact_ms) : json_null());
    json_object_set_new(o, "stale", r ? json_boolean(st->stale) : json_null());
    json_object_set_new(o, "ready", r ? json_boolean(st->ready) : json_null());
    json_object_set_new(o, "leader_id", r ? output_json_u64(st->leader_id) : json_null());
    json_object_set_new(o, "snapshot_index", r ? output_json_u64(st->snapshot_index) : json_null());
    json_object_set_new(o, "store_applied_index", r ? output_json_u64(st->store_applied_index) : json_null());
    json_object_set_new(o, "events", r ? output_json_u64(st->events) : json_null());
    json_object_set_new(o, "streams", r ? output_json_u64(st->streams) : json_null());
    json_object_set_new(o, "db_bytes", r ? output_json_u64(st->db_bytes) : json_null());
    json_object_set_new(o, "map_bytes", r ? output_json_u64(st->map_bytes) : json_null());
    json_object_set_new(o, "map_room_bytes", r ? output_json_u64(st->map_room_bytes) : json_null());
    json_object_set_new(o, "last_id", r ? json_string(st->last_id) : json_null());
    json_object_set_new(o, "checksum", r ? json_string(st->checksum) : json_null());
    json_object_set_new(o, "checksum_differs", json_boolean(mv->agree[AGREE_CHECKSUM].differs));
    json_object_set_new(o, "state_digest", r && st->state_digest[0] ? json_string(st->state_digest) : json_null());
    json_object_set_new(o, "state_digest_differs", json_boolean(mv->agree[AGREE_DIGEST].differs));
    json_object_set_new(o, "version", r ? json_string(st->version) : json_null());
    json_object_set_new(o, "uptime_ms", r ? output_json_u64(st->uptime_ms) : json_null());
    json_object_set_new(o, "error", r ? json_null() : json_string(mv->error));
    json_object_set_new(o, "problems", mv->problems[0] ? json_string(mv->problems) : json_null());
    return o;
}

static const char *verdict_name(enum verdict vd)
{
    switch (vd) {
    case VERDICT_HEALTHY:
        return "healthy";
    case VERDICT_DEGRADED:
        return "degraded";
    default:
        return "unavailable";
    }
}

static json_t *view_json(const struct cluster_view *v)
{
    json_t *o = json_object();
    json_object_set_new(o, "health", json_string(verdict_name(v->verdict)));
    json_object_set_new(o, "exit_code", json_integer(v->verdict));
    json_object_set_new(o, "summary", json_string(v->summary));
    json_object_set_new(o, "leader_id", v->leader >= 0 ? output_json_u64(v->m[v->leader].cfg.id) : json_null());
    json_object_set_new(o, "term", v->leader >= 0 ? output_json_u64(v->m[v->leader].st.term) : json_null());
    json_object_set_new(o, "commit_index", v->leader >= 0 ? output_json_u64(v->commit) : json_null());
    json_object_set_new(o, "members_reachable", output_json_u64(v->reachable));
    json_object_set_new(o, "voters", output_json_u64(v->voters));
    json_object_set_new(o, "voters_reachable", output_json_u64(v->voters_up));
    json_object_set_new(o, "quorum", output_json_u64(v->quorum));
    json_object_set_new(o, "max_lag", output_json_u64(v->max_lag));
    json_t *members = json_array();
    for (size_t i = 0; i < v->n; i++)
        json_array_append_new(members, member_json(v, &v->m[i]));
    json_object_set_new(o, "members", members);
    return o;
}

enum {
    C_ID, C_ADDR, C_RAFT, C_ROLE, C_STATE, C_TERM, C_LAST, C_COMMIT, C_APPLIED, C_LAG, C_CONTACT,
    C_SNAPSHOT, C_EVENTS, C_STREAMS, C_SIZE, C_ROOM, C_CHECKSUM, C_VERSION, C_UPTIME, C_ERRORS, C_COUNT
};

static void view_table(const struct cluster_view *v, FILE *out)
{
    static const char *const headers[C_COUNT] = {
        "ID", "ADDRESS", "RAFT ADDRESS", "ROLE", "STATE", "TERM", "LAST", "COMMIT", "APPLIED", "LAG",
        "CONTACT", "SNAPSHOT", "EVENTS", "STREAMS", "DB SIZE", "ROOM", "CHECKSUM", "VERSION", "UPTIME", "ERRORS",
    };
    struct table *t = table_new(C_COUNT, headers);
    static const int right[] = {C_ID, C_TERM, C_LAST, C_COMMIT, C_APPLIED, C_LAG, C_CONTACT, C_SNAPSHOT,
                                C_EVENTS, C_STREAMS, C_SIZE, C_ROOM, C_UPTIME};
    for (size_t i = 0; i < sizeof right / sizeof right[0]; i++)
        table_align_right(t, (size_t)right[i]);
    for (size_t i = 0; i < v->n; i++) {
        const struct member_view *mv = &v->m[i];
        const struct eventflow_node_status *st = &mv->st;
        table_row(t);
        table_set(t, C_ID, "%" PRIu64, mv->cfg.id);
        table_set(t, C_ADDR, "%s", mv->cfg.client_address[0] ? mv->cfg.client_address : "-");
        table_set(t, C_RAFT, "%s", mv->cfg.raft_address);
        table_set(t, C_ROLE, "%s", output_role_name(mv->cfg.role));
        table_set(t, C_STATE, "%s", mv->reachable ? st->state : "unreachable");
        table_set(t, C_ERRORS, "%s", mv->problems[0] ? mv->problems : "-");
        if (!mv->reachable) {
            for (int c = C_TERM; c <= C_UPTIME; c++)
                table_set(t, (size_t)c, "-");
            continue;
        }
        char contact[16], size[16], room[16], uptime[16];
        human_duration(st->last_contact_ms, HUMAN_SHORT, contact, sizeof contact);
        human_bytes(st->db_bytes, HUMAN_SHORT, size, sizeof size);
        human_bytes(st->map_room_bytes, HUMAN_SHORT, room, sizeof room);
        human_duration(st->uptime_ms, HUMAN_SHORT, uptime, sizeof uptime);
        table_set(t, C_TERM, "%" PRIu64, st->term);
        table_set(t, C_LAST, "%" PRIu64, st->last_index);
        table_set(t, C_COMMIT, "%" PRIu64, st->commit_index);
        table_set(t, C_APPLIED, "%" PRIu64, st->applied_index);
        if (mv->lag_known)
            table_set(t, C_LAG, "%" PRIu64, mv->lag);
        else
            table_set(t, C_LAG, "-");
        /* A leader is the one others keep contact with. */
        if (strcmp(st->state, "leader") == 0)
            table_set(t, C_CONTACT, "-");
        else
            table_set(t, C_CONTACT, "%s", contact);
        table_set(t, C_SNAPSHOT, "%" PRIu64, st->snapshot_index);
        table_set(t, C_EVENTS, "%" PRIu64, st->events);
        table_set(t, C_STREAMS, "%" PRIu64, st->streams);
        table_set(t, C_SIZE, "%s", size);
        table_set(t, C_ROOM, "%s", room);
        table_set(t, C_CHECKSUM, "%s%s", st->checksum, mv->agree[AGREE_CHECKSUM].differs ? " (DIFFERS)" : "");
        table_set(t, C_VERSION, "%s", st->version);
        table_set(t, C_UPTIME, "%s", uptime);
    }
    table_print(t, out);
    table_free(t);
}

static int view_print(const struct cli *cli, const struct cluster_view *v, bool pretty)
{
    if (cli->output == CLI_OUTPUT_JSON) {
        json_t *j = view_json(v);
        int rc = output_json(stdout, j, pretty);
        json_decref(j);
        return rc;
    }
    view_table(v, stdout);
    printf("\n%s\n", v->summary);
    return 0;
}

/* ---- commands ------------------------------------------------------------------- */

static int max_lag_flag(struct cli *cli, const struct cli_args *a, uint64_t *max_lag)
{
    *max_lag = DEFAULT_MAX_LAG;
    return cli_flag_u64(cli, a, "max-lag", UINT32_MAX, max_lag);
}

static int cmd_status(struct cli *cli, const struct cli_args *a)
{
    uint64_t max_lag;
    if (max_lag_flag(cli, a, &max_lag) != 0)
        return CLI_EXIT_USAGE;
    struct cluster_view v;
    int rc = view_gather(cli, max_lag, &v);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = view_print(cli, &v, true) == 0 ? (int)v.verdict : CLI_EXIT_USAGE;
    view_free(&v);
    return rc;
}

/* health --local: only the first endpoint, about itself. */
static int health_local(struct cli *cli)
{
    char eps[1][EF_ADDR_MAX];
    if (cli_endpoint_list(cli, eps, 1) == 0)
        return cli_usage(cli, "no endpoint given");
    struct eventflow_client *c;
    int rc = cli_client(cli, EF_READ_ANY, cli_timeout(cli, STATUS_TIMEOUT_MS), &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    struct eventflow_node_status st;
    rc = eventflow_node_status(c, eps[0], &st);
    if (rc != EF_OK) {
        printf("unreachable: %s: %s\n", eps[0], eventflow_client_last_error(c));
        eventflow_client_free(c);
        return CLI_EXIT_USAGE;
    }
    eventflow_client_free(c);
    bool leads = strcmp(st.state, "leader") == 0;
    if (st.leader_id == 0 || st.stale || (leads && !st.ready)) {
        printf("unavailable: node %" PRIu64 " (%s) %s\n", st.id, st.state,
               st.leader_id == 0 ? "knows no leader"
               : st.stale        ? "has lost contact with the leader"
                                 : "leads but is not ready yet");
        return CLI_EXIT_UNAVAILABLE;
    }
    printf("healthy: node %" PRIu64 " is %s, leader %" PRIu64 ", term %" PRIu64 ", applied %" PRIu64 "\n", st.id,
           st.state, st.leader_id, st.term, st.applied_index);
    return CLI_EXIT_OK;
}

static int cmd_health(struct cli *cli, const struct cli_args *a)
{
    uint64_t max_lag;
    if (max_lag_flag(cli, a, &max_lag) != 0)
        return CLI_EXIT_USAGE;
    if (cli_flag(a, "local") != NULL)
        return health_local(cli);
    struct cluster_view v;
    int rc = view_gather(cli, max_lag, &v);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (cli->output == CLI_OUTPUT_JSON) {
        json_t *j = json_pack("{s:s, s:i, s:s}", "health", verdict_name(v.verdict), "exit_code", (int)v.verdict,
                              "summary", v.summary);
        if (j == NULL || output_json(stdout, j, false) != 0)
            rc = CLI_EXIT_USAGE;
        json_decref(j);
    } else {
        printf("%s\n", v.summary);
    }
    if (rc == CLI_EXIT_OK)
        rc = (int)v.verdict;
    view_free(&v);
    return rc;
}

static int cmd_watch(struct cli *cli, const struct cli_args *a)
{
    uint64_t max_lag, interval = DEFAULT_WATCH_INTERVAL_MS, count = 0;
    if (max_lag_flag(cli, a, &max_lag) != 0 || cli_flag_u64(cli, a, "interval", 3600 * 1000, &interval) != 0 ||
        cli_flag_u64(cli, a, "count", UINT32_MAX, &count) != 0)
        return CLI_EXIT_USAGE;
    if (interval == 0)
        return cli_usage(cli, "--interval must be at least 1 ms");
    cli_block_interrupts();
    bool tty = cli->output == CLI_OUTPUT_TABLE && isatty(STDOUT_FILENO);
    int rc = CLI_EXIT_OK;
    for (uint64_t n = 0; count == 0 || n < count; n++) {
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        struct cluster_view v;
        rc = view_gather(cli, max_lag, &v);
        if (rc == CLI_EXIT_OK) {
            if (cli->output == CLI_OUTPUT_TABLE) {
                char when[32];
                time_t now = time(NULL);
                struct tm tm;
                strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
                /* On a terminal, redraw in place; in a pipe, one block per refresh. */
                printf("%s%severy %" PRIu64 " ms, %s (Ctrl-C to stop)\n", tty ? "\033[H\033[2J" : "",
                       n > 0 && !tty ? "\n" : "", interval, when);
            }
            if (view_print(cli, &v, false) != 0) {
                view_free(&v);
                return CLI_EXIT_USAGE;
            }
            rc = (int)v.verdict;
            view_free(&v);
        }
        if (fflush(stdout) != 0)
            return CLI_EXIT_USAGE;
        if (count != 0 && n + 1 == count)
            break;
        struct timespec end;
        clock_gettime(CLOCK_MONOTONIC, &end);
        int64_t spent = (int64_t)(end.tv_sec - start.tv_sec) * 1000 + (end.tv_nsec - start.tv_nsec) / 1000000;
        int64_t left = (int64_t)interval - spent;
        if (cli_wait_interrupt(left > 0 ? (int)left : 0))
            break;
    }
    return rc;
}

static int cmd_leader(struct cli *cli, const struct cli_args *a)
{
    (void)a;
    struct cluster_view v;
    int rc = view_gather(cli, DEFAULT_MAX_LAG, &v);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (v.leader < 0) {
        rc = cli_fail(cli, CLI_EXIT_UNAVAILABLE, "%s", v.summary);
        view_free(&v);
        return rc;
    }
    const struct member_view *l = &v.m[v.leader];
    if (cli->output == CLI_OUTPUT_JSON) {
        json_t *j = json_object();
        json_object_set_new(j, "id", output_json_u64(l->cfg.id));
        json_object_set_new(j, "client_address", json_string(l->cfg.client_address));
        json_object_set_new(j, "raft_address", json_string(l->cfg.raft_address));
        json_object_set_new(j, "term", output_json_u64(l->st.term));
        json_object_set_new(j, "commit_index", output_json_u64(l->st.commit_index));
        rc = output_json(stdout, j, true) == 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        json_decref(j);
    } else {
        static const char *const headers[] = {"ID", "ADDRESS", "RAFT ADDRESS", "TERM", "COMMIT"};
        struct table *t = table_new(5, headers);
        table_align_right(t, 0);
        table_row(t);
        table_set(t, 0, "%" PRIu64, l->cfg.id);
        table_set(t, 1, "%s", l->cfg.client_address);
        table_set(t, 2, "%s", l->cfg.raft_address);
        table_set(t, 3, "%" PRIu64, l->st.term);
        table_set(t, 4, "%" PRIu64, l->st.commit_index);
        table_print(t, stdout);
        table_free(t);
    }
    view_free(&v);
    return rc;
}

/* ---- the commands' table --------------------------------------------------------- */

#define MAX_LAG_FLAG \
    {"max-lag", 0, "N", "entries a member may be behind the leader's commit and count as caught up (default 5)"}

static const struct cli_flag status_flags[] = {
    MAX_LAG_FLAG,
    {NULL, 0, NULL, NULL},
};

static const struct cli_flag health_flags[] = {
    MAX_LAG_FLAG,
    {"local", 0, NULL, "judge only the first endpoint's node: it answers, knows a leader, is not stale"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_flag watch_flags[] = {
    MAX_LAG_FLAG,
    {"interval", 0, "MS", "time between refreshes (default 1000)"},
    {"count", 0, "N", "stop after N refreshes (default: until interrupted)"},
    {NULL, 0, NULL, NULL},
};

#define VERDICT_HELP                                                                              \
    "Every member of the configuration (CLUSTER MEMBERS, through any endpoint) is\n"                \
    "asked for its STATUS directly; members that do not answer within --timeout\n"                  \
    "(default 2000 ms each) are shown as unreachable.\n"                                           \
    "\n"                                                                                          \
    "Lag is the leader's commit index minus the member's applied index. A member\n"                 \
    "is caught up when its lag is at most --max-lag entries (default 5); one found\n"               \
    "further behind is asked again up to 5 times, 100 ms apart, against the same\n"                \
    "commit index, so a member only a moment behind under load is not reported.\n"                  \
    "Members at the same applied event (last_id) must report the same checksum,\n"                 \
    "and members at the same applied index the same state digest (groups and\n"                  \
    "users); those that differ from the others are flagged.\n"                                    \
    "\n"                                                                                          \
    "Exit codes:\n"                                                                               \
    "  0  healthy: a leader answers; every member answers, is caught up, in contact\n"              \
    "     with the leader, and agrees on the checksum\n"                                          \
    "  1  degraded: a leader and a majority of voters answer, but a member is\n"                    \
    "     unreachable, lagging, stale or diverged\n"                                              \
    "  2  unavailable: no reachable member is the leader, or fewer than a majority\n"               \
    "     of the voters answer\n"                                                                  \
    "  3  usage error, wrong password, or no endpoint answered\n"

const struct cli_command cli_status_commands[] = {
    {"status", "", 0, 0, "every member's state, indexes, lag, size and checksum",
     "One row per member: id, client and raft addresses, role (voter, standby,\n"
     "spare), state (leader, follower, candidate, unreachable), term, last log\n"
     "index, commit and applied index, lag, time since the last leader contact,\n"
     "snapshot index, events, streams, database size, checksum at the applied\n"
     "position, version, uptime, and what is wrong with it. A summary line\n"
     "follows. -o json prints one object: the verdict (health, exit_code,\n"
     "summary, leader_id, term, commit_index, voters, quorum) and \"members\",\n"
     "with the fields of STATUS plus role, reachable, lag, checksum_differs,\n"
     "state_digest, state_digest_differs, error and problems (null for figures\n"
     "of an unreachable member).\n"
     "\n" VERDICT_HELP
     "\n"
     "Examples:\n"
     "  eventflowctl status\n"
     "  eventflowctl -e 10.0.0.1:6543 status -o json | jq '.members[] | {id, state, lag}'\n"
     "  eventflowctl status --max-lag 100 --timeout 500",
     status_flags, cmd_status},
    {"health", "", 0, 0, "one line and an exit code: healthy, degraded or unavailable",
     "The verdict of `status` as one line (the summary), for scripts and\n"
     "healthchecks; the exit code is the same as status's.\n"
     "\n"
     "With --local only the node at the first endpoint is judged, about itself:\n"
     "0 if it answers, knows a leader and is not stale (a leader: ready),\n"
     "2 if it does not, 3 if it cannot be reached. That suits a per-container\n"
     "healthcheck, which should not fail because another node is down.\n"
     "\n" VERDICT_HELP
     "\n"
     "Examples:\n"
     "  eventflowctl health && echo ok\n"
     "  eventflowctl health --local -e 127.0.0.1:6543     # a docker HEALTHCHECK",
     health_flags, cmd_health},
    {"watch", "", 0, 0, "status, refreshed every second until interrupted",
     "Runs `status` every --interval until Ctrl-C (SIGINT) or SIGTERM, or\n"
     "--count refreshes. On a terminal the table is redrawn in place; in a pipe\n"
     "each refresh is printed after the previous one; with -o json each\n"
     "refresh is one JSON object on one line. Exits with the code of the last\n"
     "refresh (see `status --help`).\n"
     "\n"
     "Examples:\n"
     "  eventflowctl watch\n"
     "  eventflowctl watch -o json --interval 5000 >> cluster-status.jsonl",
     watch_flags, cmd_watch},
    {"leader", "", 0, 0, "the leader's id and addresses",
     "Asks every member (as `status` does) and prints the member that leads in\n"
     "the newest term: id, client address, raft address, term, commit index.\n"
     "Exit code 2 if no reachable member leads.\n"
     "\n"
     "Examples:\n"
     "  eventflowctl leader\n"
     "  eventflowctl leader -o json | jq -r .client_address",
     NULL, cmd_leader},
    {NULL, NULL, 0, 0, NULL, NULL, NULL, NULL},
};
