/* eventflow-jepsen - one fault-injection run against real eventflowd
 * processes (see jepsen/README.md).
 *
 *   eventflow-jepsen --tag TAG --run-dir DIR --eventflowd PATH [options]
 *
 * jepsen/run.sh is the way to call it: it creates the network namespaces
 * (netctl.sh), builds everything, calls this, then the checker, and cleans
 * up whatever happens. This program:
 *   1. enters the client namespace efj-TAG-c, from which every node is
 *      reachable (its threads and sockets live there; nothing it sends can
 *      leave the run's namespaces);
 *   2. mounts a tmpfs per node and starts the nodes (cluster.c);
 *   3. runs the workload threads (workload.c), the subscribers
 *      (subscriber.c), the group consumers (groups.c) and, on this
 *      thread, the nemesis schedule (nemesis.c) until the time limit;
 *   4. heals everything, settles membership changes whose outcome was
 *      unknown (nemesis_reconcile_members), lets the workload run a little
 *      longer, stops it;
 *   5. waits for the nodes to converge, lets the subscribers deliver up
 *      to the converged log's last event (30 s at most) and stops them,
 *      lets the group consumers drain every group (60 s at most) and
 *      records the groups' final state on every node (groups_final.c),
 *      waits for every node to stand at one applied index (CHECKSUM
 *      STATE), dumps each node's whole log,
 *      CHECKSUM, CHECKSUM STATE, EVENTCOUNT and STATUS into DIR/final/;
 *   6. stops the nodes and unmounts. History: DIR/history.jsonl; node
 *      logs: DIR/nodes/.
 * Exit status 0 when the run completed (the checker judges it), 1 when it
 * could not be carried out. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "eventflow/eventflow.h"
#include "groups.h"
#include "history.h"
#include "nemesis.h"
#include "rawresp.h"
#include "subscriber.h"
#include "workload.h"

#define DUMP_PAGE 10000
#define NODE_TIMEOUT_MS 3000
#define SUBSCRIBER_DRAIN_MS 30000
#define GROUP_DRAIN_MS 60000

struct options {
    const char *tag;
    const char *run_dir;
    const char *data_root;
    const char *eventflowd;
    const char *faketime_lib;
    const char *nemesis;
    const char *prefix;
    uint64_t seed;
    int nodes;
    int time_limit_s;
    int recovery_s;
    int converge_s;
    int workers;
    int think_ms;
    int election_timeout_ms;
    int snapshot_threshold;
    int snapshot_trailing;
    int disk_mb;
    int subscribers;
    int stream_subscribers;
    int group_consumers;
    int key_reuse_pct;
    const char *disable_faults;
    const char *tls_certs;
};

static atomic_bool interrupted;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&interrupted, true);
}

static void usage(void)
{
    fputs("usage: eventflow-jepsen --tag TAG --run-dir DIR --eventflowd PATH [--data-root DIR]\n"
          "         [--seed N] [--nodes 3|5] [--time-limit S] [--nemesis LIST] [--workers N]\n"
          "         [--think-ms MS] [--recovery S] [--converge S] [--election-timeout MS]\n"
          "         [--snapshot-threshold N] [--snapshot-trailing N] [--disk-mb MB]\n"
          "         [--faketime-lib PATH] [--prefix 10.77.0] [--subscribers N]\n"
          "         [--stream-subscribers N] [--group-consumers N] [--key-reuse-pct P]\n"
          "         [--disable-fault LIST (debug: announce and check these faults, inject nothing)]\n"
          "         [--tls-certs DIR (raft inside mutual TLS with DIR/server.crt, .key and ca.crt)]\n",
          stderr);
}

static int parse_options(int argc, char **argv, struct options *o)
{
    enum { O_TAG = 256, O_RUN, O_DATA, O_EFD, O_FT, O_NEM, O_PREFIX, O_SEED, O_NODES, O_TIME, O_REC, O_CONV,
           O_WORKERS, O_THINK, O_ET, O_ST, O_SK, O_DISK, O_SUBS, O_SSUBS, O_GROUPS, O_KEYREUSE, O_DISABLE, O_TLS };
    static const struct option longopts[] = {
        {"tag", required_argument, NULL, O_TAG},
        {"run-dir", required_argument, NULL, O_RUN},
        {"data-root", required_argument, NULL, O_DATA},
        {"eventflowd", required_argument, NULL, O_EFD},
        {"faketime-lib", required_argument, NULL, O_FT},
        {"nemesis", required_argument, NULL, O_NEM},
        {"prefix", required_argument, NULL, O_PREFIX},
        {"seed", required_argument, NULL, O_SEED},
        {"nodes", required_argument, NULL, O_NODES},
        {"time-limit", required_argument, NULL, O_TIME},
        {"recovery", required_argument, NULL, O_REC},
        {"converge", required_argument, NULL, O_CONV},
        {"workers", required_argument, NULL, O_WORKERS},
        {"think-ms", required_argument, NULL, O_THINK},
        {"election-timeout", required_argument, NULL, O_ET},
        {"snapshot-threshold", required_argument, NULL, O_ST},
        {"snapshot-trailing", required_argument, NULL, O_SK},
        {"disk-mb", required_argument, NULL, O_DISK},
        {"subscribers", required_argument, NULL, O_SUBS},
        {"stream-subscribers", required_argument, NULL, O_SSUBS},
        {"group-consumers", required_argument, NULL, O_GROUPS},
        {"key-reuse-pct", required_argument, NULL, O_KEYREUSE},
        {"disable-fault", required_argument, NULL, O_DISABLE},
        {"tls-certs", required_argument, NULL, O_TLS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (struct options){.nemesis = "kill,pause,partition", .prefix = "10.77.0", .seed = 1, .nodes = 3,
                          .time_limit_s = 60, .recovery_s = 5, .converge_s = 60, .workers = 6, .think_ms = 100,
                          .election_timeout_ms = 1000, .snapshot_threshold = 1024, .snapshot_trailing = 256,
                          .disk_mb = 768, .subscribers = 3, .stream_subscribers = 2,
                          .group_consumers = 3};
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case O_TAG: o->tag = optarg; break;
        case O_RUN: o->run_dir = optarg; break;
        case O_DATA: o->data_root = optarg; break;
        case O_EFD: o->eventflowd = optarg; break;
        case O_FT: o->faketime_lib = optarg[0] ? optarg : NULL; break;
        case O_NEM: o->nemesis = optarg; break;
        case O_PREFIX: o->prefix = optarg; break;
        case O_SEED: o->seed = strtoull(optarg, NULL, 10); break;
        case O_NODES: o->nodes = atoi(optarg); break;
        case O_TIME: o->time_limit_s = atoi(optarg); break;
        case O_REC: o->recovery_s = atoi(optarg); break;
        case O_CONV: o->converge_s = atoi(optarg); break;
        case O_WORKERS: o->workers = atoi(optarg); break;
        case O_THINK: o->think_ms = atoi(optarg); break;
        case O_ET: o->election_timeout_ms = atoi(optarg); break;
        case O_ST: o->snapshot_threshold = atoi(optarg); break;
        case O_SK: o->snapshot_trailing = atoi(optarg); break;
        case O_DISK: o->disk_mb = atoi(optarg); break;
        case O_SUBS: o->subscribers = atoi(optarg); break;
        case O_SSUBS: o->stream_subscribers = atoi(optarg); break;
        case O_GROUPS: o->group_consumers = atoi(optarg); break;
        case O_KEYREUSE: o->key_reuse_pct = atoi(optarg); break;
        case O_DISABLE: o->disable_faults = optarg; break;
        case O_TLS: o->tls_certs = optarg; break;
        default: usage(); return -1;
        }
    }
    if (o->tag == NULL || o->run_dir == NULL || o->eventflowd == NULL || o->nodes < 1 || o->nodes > CLUSTER_MAX ||
        o->time_limit_s < 1) {
        usage();
        return -1;
    }
    return 0;
}

/* Move this process (before any thread exists) into the client namespace. */
static int enter_client_namespace(const char *tag)
{
    char path[256];
    snprintf(path, sizeof path, "/var/run/netns/efj-%s-c", tag);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "runner: %s: %s (did netctl.sh up run?)\n", path, strerror(errno));
        return -1;
    }
    int rv = setns(fd, CLONE_NEWNET);
    close(fd);
    if (rv != 0) {
        fprintf(stderr, "runner: setns: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- convergence and the final dump -------------------------------------------- */

struct node_state {
    bool ok;
    char checksum[32];
    char last_id[32];
    uint64_t applied;
    /* CHECKSUM STATE: the groups' and users' state digest and the applied
     * index it stands at (empty and 0 from a build without it). */
    char state_digest[32];
    uint64_t state_index;
    char error[256];
};

static void node_checksum(const struct slot *s, struct node_state *st)
{
    struct resp_value v;
    memset(st, 0, sizeof *st);
    if (rawresp_call(s->client_addr, "CHECKSUM", NULL, NODE_TIMEOUT_MS, &v, st->error, sizeof st->error) != 0)
        return;
    if (v.type == RESP_T_ARRAY && v.n == 2 && v.elems[0].str && v.elems[1].str) {
        snprintf(st->last_id, sizeof st->last_id, "%s", v.elems[0].str);
        snprintf(st->checksum, sizeof st->checksum, "%s", v.elems[1].str);
        st->ok = true;
    } else {
        snprintf(st->error, sizeof st->error, "CHECKSUM: %s", v.type == RESP_T_ERROR ? v.str : "unexpected reply");
    }
    resp_value_free(&v);
    char err[256];
    if (st->ok && rawresp_call(s->client_addr, "CHECKSUM", "STATE", NODE_TIMEOUT_MS, &v, err, sizeof err) == 0) {
        if (v.type == RESP_T_ARRAY && v.n == 3 && v.elems[0].type == RESP_T_INT && v.elems[1].str) {
            st->state_index = (uint64_t)v.elems[0].integer;
            snprintf(st->state_digest, sizeof st->state_digest, "%s", v.elems[1].str);
        }
        resp_value_free(&v);
    }
    json_t *status = rawresp_status(s->client_addr, NODE_TIMEOUT_MS, st->error, sizeof st->error);
    if (status != NULL) {
        st->applied = (uint64_t)json_integer_value(json_object_get(status, "applied_index"));
        json_decref(status);
    }
}

/* Wait until every member answers with the same last id and checksum; with
 * `state`, also at the same applied index with the same state digest (only
 * once the group consumers stopped: their operations move the index
 * without adding events). */
static bool wait_convergence(struct cluster *c, int seconds, bool state)
{
    for (int waited = 0; waited < seconds * 1000; waited += 500) {
        cluster_reap(c);
        bool same = true;
        struct node_state first = {0};
        int members[CLUSTER_MAX];
        int m = cluster_members(c, members);
        for (int k = 0; k < m && same; k++) {
            struct node_state st;
            node_checksum(&c->slots[members[k]], &st);
            if (!st.ok)
                same = false;
            else if (k == 0)
                first = st;
            else if (strcmp(st.checksum, first.checksum) != 0 || strcmp(st.last_id, first.last_id) != 0 ||
                     (state && (st.state_index != first.state_index ||
                                strcmp(st.state_digest, first.state_digest) != 0)))
                same = false;
        }
        if (same && m > 0)
            return true;
        sleep_ms(500);
    }
    return false;
}

/* The last id of the first member that answers CHECKSUM (after
 * convergence every member's). */
static void converged_last_id(struct cluster *c, char *out, size_t len)
{
    int members[CLUSTER_MAX];
    int m = cluster_members(c, members);
    for (int k = 0; k < m; k++) {
        struct node_state st;
        node_checksum(&c->slots[members[k]], &st);
        if (st.ok) {
            snprintf(out, len, "%s", st.last_id);
            return;
        }
    }
}

/* Write one node's whole log, page by page, exactly as it sends events. */
static int dump_log(const struct slot *s, const char *path, uint64_t *count, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        snprintf(err, errlen, "%.600s: %.300s", path, strerror(errno));
        return -1;
    }
    char offset[64] = "";
    *count = 0;
    int rc = 0;
    for (;;) {
        char arg[256];
        snprintf(arg, sizeof arg, "{\"offset\":\"%s\",\"limit\":%d,\"stale_ok\":true,\"timeout_ms\":5000}", offset,
                 DUMP_PAGE);
        struct resp_value v;
        if (rawresp_call(s->client_addr, "GETALL", arg, 30000, &v, err, errlen) != 0) {
            rc = -1;
            break;
        }
        if (v.type != RESP_T_ARRAY) {
            snprintf(err, errlen, "GETALL: %s", v.type == RESP_T_ERROR ? v.str : "unexpected reply");
            resp_value_free(&v);
            rc = -1;
            break;
        }
        for (size_t i = 0; i < v.n; i++) {
            fwrite(v.elems[i].str, 1, v.elems[i].len, f);
            fputc('\n', f);
        }
        *count += v.n;
        bool more = v.n == DUMP_PAGE;
        if (more) {
            /* The next page starts after the last id: {"id":"<26 chars>",... */
            const char *last = v.elems[v.n - 1].str;
            const char *p = strstr(last, "\"id\":\"");
            if (p == NULL) {
                snprintf(err, errlen, "GETALL: an event without an id");
                resp_value_free(&v);
                rc = -1;
                break;
            }
            snprintf(offset, sizeof offset, "%.26s", p + 6);
        }
        resp_value_free(&v);
        if (!more)
            break;
    }
    if (fclose(f) != 0 && rc == 0) {
        snprintf(err, errlen, "%.600s: %.300s", path, strerror(errno));
        rc = -1;
    }
    return rc;
}

static uint64_t node_integer(const struct slot *s, const char *cmd)
{
    struct resp_value v;
    char err[256];
    uint64_t n = 0;
    if (rawresp_call(s->client_addr, cmd, NULL, NODE_TIMEOUT_MS, &v, err, sizeof err) == 0) {
        if (v.type == RESP_T_INT)
            n = (uint64_t)v.integer;
        resp_value_free(&v);
    }
    return n;
}

static int dump_final(struct cluster *c, const char *run_dir, bool converged)
{
    json_t *nodes = json_array();
    int members[CLUSTER_MAX];
    int m = cluster_members(c, members);
    for (int k = 0; k < m; k++) {
        struct slot *s = &c->slots[members[k]];
        struct node_state st;
        node_checksum(s, &st);
        char file[32], path[800], err[1024] = "";
        snprintf(file, sizeof file, "%s.jsonl", s->name);
        snprintf(path, sizeof path, "%s/final/%s", run_dir, file);
        uint64_t count = 0;
        bool reachable = st.ok && dump_log(s, path, &count, err, sizeof err) == 0;
        if (!st.ok)
            snprintf(err, sizeof err, "%s", st.error);
        json_t *j = json_pack("{s:s, s:I, s:s, s:b, s:s, s:s, s:I, s:I, s:s, s:I}", "name", s->name, "id",
                              (json_int_t)s->id, "address", s->client_addr, "reachable", reachable, "checksum",
                              st.checksum, "last_id", st.last_id, "events",
                              (json_int_t)(reachable ? node_integer(s, "EVENTCOUNT") : 0), "applied_index",
                              (json_int_t)st.applied, "log", reachable ? file : "", "dumped", (json_int_t)count);
        if (!reachable)
            json_object_set_new(j, "error", json_string(err));
        json_object_set_new(j, "state_digest", json_string(st.state_digest));
        json_object_set_new(j, "state_index", json_integer((json_int_t)st.state_index));
        json_array_append_new(nodes, j);
        fprintf(stderr, "runner: final %s: %s, %" PRIu64 " events, checksum %s, last id %s%s%s\n", s->name,
                reachable ? "dumped" : "UNREACHABLE", count, st.checksum, st.last_id, err[0] ? ": " : "", err);
    }
    /* The configuration as the first member that answers reports it. */
    json_t *config = json_array();
    for (int k = 0; k < m && json_array_size(config) == 0; k++) {
        struct resp_value v;
        char err[256];
        if (rawresp_call(c->slots[members[k]].client_addr, "CLUSTER MEMBERS", NULL, NODE_TIMEOUT_MS, &v, err,
                         sizeof err) != 0)
            continue;
        for (size_t i = 0; v.type == RESP_T_ARRAY && i < v.n; i++) {
            json_t *member = v.elems[i].str ? json_loadb(v.elems[i].str, v.elems[i].len, 0, NULL) : NULL;
            if (member != NULL)
                json_array_append_new(config, member);
        }
        resp_value_free(&v);
    }
    json_t *doc = json_pack("{s:o, s:b, s:o}", "nodes", nodes, "converged", converged, "configuration", config);
    char path[800];
    snprintf(path, sizeof path, "%s/final/nodes.json", run_dir);
    int rc = json_dump_file(doc, path, JSON_INDENT(2));
    json_decref(doc);
    return rc;
}

/* ---- the group workload's end ---------------------------------------------------------- */

/* The consumers drain until the leader reports every group settled
 * (GROUP_DRAIN_MS at most); then the groups' final state on every member. */
static void finish_groups(struct cluster *c, const struct run_nodes *nodes)
{
    bool settled = false;
    char why[512] = "no leader";
    for (int waited = 0; waited < GROUP_DRAIN_MS && !settled; waited += 500) {
        cluster_reap(c);
        int leader = cluster_leader(c);
        settled = leader != 0 && groups_settled(c->slots[leader].client_addr, why, sizeof why);
        if (!settled)
            sleep_ms(500);
    }
    groups_stop(settled);
    fprintf(stderr, "runner: group consumers stopped: %" PRIu64 " deliveries, %" PRIu64 " acked, %" PRIu64
            " crashes; %s%s\n", groups_delivered(), groups_acked(), groups_crashes(),
            settled ? "every group settled" : "groups NOT settled: ", settled ? "" : why);
    int members[CLUSTER_MAX];
    int m = cluster_members(c, members);
    for (int k = 0; k < m; k++)
        members[k]--; /* slots are 1-based, nodes 0-based */
    groups_record_final(nodes, members, m, cluster_leader(c) - 1);
}

/* ---- the run -------------------------------------------------------------------------- */

static int wait_leader(struct cluster *c, int seconds)
{
    for (int waited = 0; waited < seconds * 1000; waited += 250) {
        if (cluster_leader(c) != 0)
            return 0;
        cluster_reap(c);
        sleep_ms(250);
    }
    return -1;
}

int main(int argc, char **argv)
{
    struct options o;
    if (parse_options(argc, argv, &o) != 0)
        return 1;
    setvbuf(stderr, NULL, _IOLBF, 0);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (enter_client_namespace(o.tag) != 0)
        return 1;
    char path[800];
    snprintf(path, sizeof path, "%s/nodes", o.run_dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/final", o.run_dir);
    mkdir(path, 0755);
    char data_root[700];
    if (o.data_root == NULL) {
        snprintf(data_root, sizeof data_root, "%s/data", o.run_dir);
        o.data_root = data_root;
    }
    mkdir(o.data_root, 0755);
    snprintf(path, sizeof path, "%s/history.jsonl", o.run_dir);
    if (history_open(path) != 0) {
        perror(path);
        return 1;
    }

    struct cluster c;
    struct cluster_config cc = {
        .tag = o.tag,
        .n = o.nodes,
        .prefix = o.prefix,
        .eventflowd = o.eventflowd,
        .run_dir = o.run_dir,
        .data_root = o.data_root,
        .faketime_lib = o.faketime_lib,
        .election_timeout_ms = o.election_timeout_ms,
        .snapshot_threshold = o.snapshot_threshold,
        .snapshot_trailing = o.snapshot_trailing,
        .disk_mb = o.disk_mb,
        .tls_certs = o.tls_certs,
    };
    int status = 1;
    struct nemesis *nem = NULL;
    bool workload_running = false, subscribers_running = false, groups_running = false;
    if (cluster_init(&c, &cc) != 0)
        goto out;
    char endpoints[1024];
    cluster_endpoints(&c, endpoints, sizeof endpoints);
    char err[256];
    nem = nemesis_new(&c, o.nemesis, o.seed, endpoints, err, sizeof err);
    if (nem == NULL) {
        fprintf(stderr, "runner: %s\n", err);
        goto out;
    }
    if (o.disable_faults != NULL) {
        if (nemesis_disable(nem, o.disable_faults, err, sizeof err) != 0) {
            fprintf(stderr, "runner: --disable-fault: %s\n", err);
            goto out;
        }
        fprintf(stderr, "runner: DEBUG: faults %s are announced and checked but not injected\n", o.disable_faults);
    }

    fprintf(stderr, "runner: seed %" PRIu64 ", %d nodes, %d s, nemesis %s, %d workers\n", o.seed, o.nodes,
            o.time_limit_s, o.nemesis, o.workers);
    for (int i = 1; i <= o.nodes; i++)
        if (cluster_start(&c, i) != 0)
            goto out;
    if (wait_leader(&c, 30) != 0) {
        fprintf(stderr, "runner: no leader within 30 s of starting the cluster\n");
        goto out;
    }
    history_nemesis("setup", "stop", NULL, "cluster of %d nodes up, leader elected", o.nodes);

    struct workload_config wc = {
        .endpoints = endpoints,
        .workers = o.workers,
        .seed = o.seed,
        .think_ms = o.think_ms,
        .key_reuse_pct = o.key_reuse_pct,
        .stream_slots = 6,
        .stream_max_events = 50,
        .request_timeout_ms = 2000,
        .retry_deadline_ms = 6000,
    };
    if (workload_start(&wc) != 0)
        goto out;
    workload_running = true;

    /* Subscribers and group consumers pick their nodes themselves. */
    struct run_nodes nodes = {.n = o.nodes};
    for (int i = 0; i < o.nodes; i++) {
        snprintf(nodes.names[i], sizeof nodes.names[i], "%s", c.slots[i + 1].name);
        snprintf(nodes.addresses[i], sizeof nodes.addresses[i], "%s", c.slots[i + 1].client_addr);
    }
    struct subscriber_config sc = {
        .nodes = nodes,
        .all = o.subscribers,
        .streams = o.stream_subscribers,
        .first_process = o.workers,
        .seed = o.seed,
        .start_spread_ms = o.time_limit_s * 1000 / 2 < 40000 ? o.time_limit_s * 1000 / 2 : 40000,
        .idle_ms = 4000,
    };
    if (subscribers_start(&sc) != 0)
        goto out;
    subscribers_running = true;

    struct groups_config gc = {
        .nodes = nodes,
        .consumers = o.group_consumers,
        .first_process = o.workers + o.subscribers + o.stream_subscribers,
        .seed = o.seed,
        .all_ack_wait_ms = 2000,
        .all_max_deliveries = 5,
        .stream_ack_wait_ms = 1500,
        .stream_max_deliveries = 4,
        .stream_group_every_ms = 30000,
        .stream_groups_max = 8,
    };
    if (groups_start(&gc) != 0)
        goto out;
    groups_running = o.group_consumers > 0;

    int64_t end = (int64_t)o.time_limit_s * 1000000000;
    nemesis_run(nem, end, &interrupted);
    nemesis_heal_all(nem);
    if (wait_leader(&c, 30) != 0)
        fprintf(stderr, "runner: no leader within 30 s after healing\n");
    nemesis_reconcile_members(nem);
    nemesis_idle(nem, o.recovery_s * 1000, &interrupted);
    workload_stop();
    workload_running = false;
    fprintf(stderr, "runner: workload stopped after %" PRIu64 " operations\n", workload_completed());
    /* No event arrives any more: the consumers answer everything now. */
    groups_drain_begin();

    bool converged = wait_convergence(&c, o.converge_s, false);
    /* Subscribers go on until they have delivered the converged log's
     * last event (the checker holds it against them if they do not). */
    char last_id[32] = "";
    if (converged)
        converged_last_id(&c, last_id, sizeof last_id);
    subscribers_stop(last_id, SUBSCRIBER_DRAIN_MS);
    subscribers_running = false;
    fprintf(stderr, "runner: subscribers stopped: %" PRIu64 " events delivered, %" PRIu64 " resumes\n",
            subscribers_delivered(), subscribers_resumes());
    if (groups_running)
        finish_groups(&c, &gc.nodes);
    groups_running = false;
    /* Nothing proposes any more: every member reaches one applied index,
     * where the checker compares their state digests. */
    if (converged && !wait_convergence(&c, o.converge_s, true))
        fprintf(stderr, "runner: members did not reach one applied index with one state digest\n");
    history_nemesis("final", "stop", NULL, "nodes %s", converged ? "converged" : "did NOT converge");
    if (dump_final(&c, o.run_dir, converged) != 0)
        fprintf(stderr, "runner: could not write final/nodes.json\n");
    status = 0;
out:
    if (groups_running)
        groups_stop(false);
    if (subscribers_running)
        subscribers_stop(NULL, 0);
    if (workload_running)
        workload_stop();
    cluster_destroy(&c);
    nemesis_free(nem);
    history_close();
    return status;
}
