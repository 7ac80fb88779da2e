/* test_ctl.c - eventflowctl against real eventflowd nodes.
 *
 * eventflowctl ($EVENTFLOWCTL) runs as a child process; the tests check its
 * exit code, its standard output (tables, and JSON parsed field by field)
 * and that errors are one line on standard error:
 *   - help and usage errors, an endpoint nobody listens on;
 *   - status, health and watch of a healthy three-node cluster;
 *   - a killed follower shown unreachable (exit 1), then a majority down
 *     (exit 2), then everyone down (exit 3);
 *   - member add, promote, demote, remove and transfer;
 *   - append, get, getall, tail, subscribe, streams, count and checksum on
 *     a node with a password;
 *   - tail on a follower of a three-node cluster while writes go on and
 *     both followers are killed with kill -9 in turn: every event exactly
 *     once, in the leader's order;
 *   - group create, info, list, pending, parked, replay, seek, delconsumer
 *     and destroy
 *     around a worker that reads and parks over a raw connection, with
 *     -o json parsed field by field.
 *
 * Every wait polls an observable condition (an exit code, a line of output)
 * with a deadline. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define WAIT_MS 20000
/* Longest a single eventflowctl run may take before the test kills it. */
#define RUN_TIMEOUT_MS 30000
#define MAX_ARGS 24
/* An event id's length (the test does not include the client library). */
#define EF_ID_LEN_TEST 26

/* ---- running eventflowctl ------------------------------------------------- */

struct ctl {
    pid_t pid;
    int out_fd, err_fd; /* read ends, -1 once at EOF */
    struct buf out, err;
};

struct run {
    int code;  /* exit code; -1 if it did not exit normally */
    char *out; /* owned, NUL-terminated */
    char *err; /* owned, NUL-terminated */
};

static void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL); /* poll interval of a condition wait */
}

/* Start eventflowctl with argv (NULL-terminated) and, in its environment,
 * EVENTFLOW_ENDPOINTS=endpoints and EVENTFLOW_PASSWORD=password (NULL:
 * unset). */
static void ctl_spawn(struct ctl *c, const char *endpoints, const char *password, const char *const *argv)
{
    const char *path = getenv("EVENTFLOWCTL");
    assert_non_null(path);
    const char *args[MAX_ARGS + 2];
    size_t n = 0;
    args[n++] = path;
    for (size_t i = 0; argv[i] != NULL; i++) {
        assert_true(n < MAX_ARGS);
        args[n++] = argv[i];
    }
    args[n] = NULL;
    int out[2], err[2];
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    assert_int_equal(pipe2(err, O_CLOEXEC), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Die with the test, whatever happens to it. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(125);
        if (endpoints != NULL ? setenv("EVENTFLOW_ENDPOINTS", endpoints, 1) : unsetenv("EVENTFLOW_ENDPOINTS"))
            _exit(125);
        if (password != NULL ? setenv("EVENTFLOW_PASSWORD", password, 1) : unsetenv("EVENTFLOW_PASSWORD"))
            _exit(125);
        if (dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
            _exit(125);
        execv(path, (char *const *)args);
        dprintf(2, "exec %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    c->pid = pid;
    c->out_fd = out[0];
    c->err_fd = err[0];
    buf_init(&c->out);
    buf_init(&c->err);
}

/* Read what the child wrote, for up to timeout_ms or until both pipes are
 * at EOF. Returns true once both are. */
static bool ctl_pump(struct ctl *c, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    while (c->out_fd >= 0 || c->err_fd >= 0) {
        struct pollfd p[2] = {{.fd = c->out_fd, .events = POLLIN}, {.fd = c->err_fd, .events = POLLIN}};
        int64_t left = deadline - harness_now_ms();
        if (left < 0)
            return false;
        int k = poll(p, 2, (int)left);
        if (k < 0 && errno != EINTR)
            fail_msg("poll: %s", strerror(errno));
        if (k <= 0)
            continue;
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || (p[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
                continue;
            char tmp[4096];
            ssize_t got = read(p[i].fd, tmp, sizeof tmp);
            if (got > 0) {
                buf_append(i == 0 ? &c->out : &c->err, tmp, (size_t)got);
            } else if (got == 0 || errno != EINTR) {
                close(p[i].fd);
                if (i == 0)
                    c->out_fd = -1;
                else
                    c->err_fd = -1;
            }
        }
        /* A reader of partial output (tail) wants it back early. */
        if (timeout_ms == 0)
            return c->out_fd < 0 && c->err_fd < 0;
    }
    return true;
}

/* Collect the rest of the output and the exit status. */
static void ctl_finish(struct ctl *c, struct run *r)
{
    if (!ctl_pump(c, RUN_TIMEOUT_MS)) {
        kill(c->pid, SIGKILL);
        ctl_pump(c, RUN_TIMEOUT_MS);
    }
    int status = 0;
    while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR) {
    }
    r->code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    buf_append_char(&c->out, '\0');
    buf_append_char(&c->err, '\0');
    r->out = c->out.data;
    r->err = c->err.data;
}

/* Run eventflowctl to the end: ctl_run(&r, endpoints, password, args..., NULL). */
static int ctl_run(struct run *r, const char *endpoints, const char *password, ...) __attribute__((sentinel));

static int ctl_run(struct run *r, const char *endpoints, const char *password, ...)
{
    const char *argv[MAX_ARGS + 1];
    size_t n = 0;
    va_list ap;
    va_start(ap, password);
    for (const char *a = va_arg(ap, const char *); a != NULL; a = va_arg(ap, const char *)) {
        assert_true(n < MAX_ARGS);
        argv[n++] = a;
    }
    va_end(ap);
    argv[n] = NULL;
    struct ctl c;
    ctl_spawn(&c, endpoints, password, argv);
    ctl_finish(&c, r);
    return r->code;
}

/* Errors are one line on stderr, "eventflowctl: ...". */
static void assert_one_line_error(const struct run *r)
{
    assert_true(strncmp(r->err, "eventflowctl: ", 14) == 0);
    char *nl = strchr(r->err, '\n');
    assert_non_null(nl);
    assert_string_equal(nl + 1, "");
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static json_t *parse_json(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (j == NULL)
        fail_msg("not JSON (%s): %s", e.text, text);
    return j;
}

/* JSON Lines: an array of the objects, one per line. */
static json_t *parse_json_lines(const char *text)
{
    json_t *arr = json_array();
    const char *p = text;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        json_error_t e;
        json_t *j = json_loadb(p, (size_t)(nl - p), 0, &e);
        if (j == NULL)
            fail_msg("line is not JSON (%s): %.*s", e.text, (int)(nl - p), p);
        json_array_append_new(arr, j);
        p = nl + 1;
    }
    return arr;
}

static json_int_t int_of(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        fail_msg("\"%s\" is not an integer", key);
    return json_integer_value(v);
}

static const char *str_of(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (s == NULL) {
        fail_msg("\"%s\" is not a string", key);
        return "";
    }
    return s;
}

/* ---- clusters -------------------------------------------------------------- */

struct cluster {
    struct harness_node *n[HARNESS_MAX_NODES];
    size_t count;
    char members[1024];
    char endpoints[512]; /* every node's client address */
};

static void cluster_start(struct cluster *c, struct harness_fixture *f, size_t n)
{
    memset(c, 0, sizeof *c);
    c->count = n;
    for (size_t i = 0; i < n; i++) {
        struct harness_node_opts o = {.id = (unsigned)(i + 1)};
        c->n[i] = harness_add_node(f, &o);
        char *m = harness_node_member(c->n[i]);
        size_t used = strlen(c->members);
        snprintf(c->members + used, sizeof c->members - used, "%s%s", i ? "," : "", m);
        free(m);
        used = strlen(c->endpoints);
        snprintf(c->endpoints + used, sizeof c->endpoints - used, "%s127.0.0.1:%u", i ? "," : "", c->n[i]->port);
    }
    for (size_t i = 0; i < n; i++) {
        harness_node_set_cluster(c->n[i], c->members);
        assert_int_equal(harness_node_start(c->n[i]), 0);
    }
}

/* Poll `eventflowctl health` until it exits with want. */
static void wait_health(const char *endpoints, const char *password, int want)
{
    int64_t deadline = harness_now_ms() + WAIT_MS;
    struct run r = {0};
    for (;;) {
        int code = ctl_run(&r, endpoints, password, "health", NULL);
        if (code == want) {
            run_free(&r);
            return;
        }
        if (harness_now_ms() > deadline)
            fail_msg("health did not exit %d within %d ms; last: %d %s%s", want, WAIT_MS, code, r.out, r.err);
        run_free(&r);
        sleep_ms(50);
    }
}

/* Poll `eventflowctl status` until every member has applied event last_id. */
static void wait_applied(const char *endpoints, const char *last_id)
{
    int64_t deadline = harness_now_ms() + WAIT_MS;
    for (;;) {
        struct run r;
        ctl_run(&r, endpoints, NULL, "status", "-o", "json", NULL);
        bool all = r.code == 0;
        if (all) {
            json_t *st = parse_json(r.out);
            size_t i;
            json_t *m;
            json_array_foreach(json_object_get(st, "members"), i, m)
            {
                const char *id = json_string_value(json_object_get(m, "last_id"));
                all = all && id != NULL && strcmp(id, last_id) == 0;
            }
            json_decref(st);
        }
        run_free(&r);
        if (all)
            return;
        if (harness_now_ms() > deadline)
            fail_msg("not every member applied %s within %d ms", last_id, WAIT_MS);
        sleep_ms(50);
    }
}

/* The index of the node that is the leader, as eventflowctl sees it. */
static size_t ctl_leader(struct cluster *c)
{
    struct run r;
    assert_int_equal(ctl_run(&r, c->endpoints, NULL, "leader", "-o", "json", NULL), 0);
    json_t *j = parse_json(r.out);
    json_int_t id = int_of(j, "id");
    json_decref(j);
    run_free(&r);
    for (size_t i = 0; i < c->count; i++)
        if (c->n[i] != NULL && c->n[i]->id == (unsigned)id)
            return i;
    fail_msg("leader id %lld is not a node of the test", (long long)id);
    return 0;
}

static json_t *member_by_id(const json_t *members, json_int_t id)
{
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m)
    {
        if (int_of(m, "id") == id)
            return m;
    }
    fail_msg("no member %lld", (long long)id);
    return NULL;
}

/* ---- tests --------------------------------------------------------------- */

static void test_help_and_usage(void **state)
{
    struct run r;
    /* Every command has help with examples, on stdout, exit 0. */
    static const char *const commands[][2] = {
        {"status", NULL}, {"health", NULL}, {"watch", NULL}, {"leader", NULL}, {"members", NULL},
        {"member", "add"}, {"member", "promote"}, {"member", "demote"}, {"member", "remove"},
        {"transfer", NULL}, {"append", NULL}, {"get", NULL}, {"getall", NULL}, {"tail", NULL},
        {"subscribe", NULL}, {"streams", NULL}, {"count", NULL}, {"checksum", NULL},
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        const char *a0 = commands[i][0], *a1 = commands[i][1];
        if (a1 != NULL)
            ctl_run(&r, NULL, NULL, a0, a1, "--help", NULL);
        else
            ctl_run(&r, NULL, NULL, a0, "--help", NULL);
        assert_int_equal(r.code, 0);
        char usage[64];
        snprintf(usage, sizeof usage, "Usage: eventflowctl %s%s%s ", a0, a1 ? " " : "", a1 ? a1 : "");
        assert_true(strncmp(r.out, usage, strlen(usage)) == 0);
        assert_non_null(strstr(r.out, "Examples:\n  eventflowctl"));
        assert_string_equal(r.err, "");
        /* And the main help lists it. */
        run_free(&r);
    }
    assert_int_equal(ctl_run(&r, NULL, NULL, "--help", NULL), 0);
    assert_non_null(strstr(r.out, "  member promote "));
    assert_non_null(strstr(r.out, "Exit codes:"));
    run_free(&r);

    /* A group's help lists its subcommands with their arguments, not the
     * main help. */
    static const char *const group_help[][2] = {{"member", "--help"}, {"member", "-h"}, {"help", "member"}};
    for (size_t i = 0; i < sizeof group_help / sizeof group_help[0]; i++) {
        assert_int_equal(ctl_run(&r, NULL, NULL, group_help[i][0], group_help[i][1], NULL), 0);
        assert_true(strncmp(r.out, "Usage: eventflowctl member <subcommand>", 39) == 0);
        assert_non_null(strstr(r.out, "member add <id> <raft-address> <client-address>"));
        assert_non_null(strstr(r.out, "member promote <id> [voter|standby]"));
        assert_non_null(strstr(r.out, "member demote <id> [standby|spare]"));
        assert_non_null(strstr(r.out, "member remove <id>"));
        assert_null(strstr(r.out, "Exit codes:"));
        assert_string_equal(r.err, "");
        run_free(&r);
    }

    /* Usage errors: exit 3, nothing on stdout, one line on stderr. */
    static const char *const bad[][4] = {
        {"frobnicate", NULL, NULL, NULL},
        {"status", "--no-such-flag", NULL, NULL},
        {"status", "-o", "yaml", NULL},
        {"member", NULL, NULL, NULL},
        {"member", "add", "4", NULL},
        {"member", "remove", "zero", NULL},
        {"append", "s", NULL, NULL},
        {"append", "s", "T", "{not json"},
        {"watch", "--interval", "-5", NULL},
        {"subscribe", NULL, NULL, NULL},
        {"subscribe", "{\"all\":true", NULL, NULL},
        {"subscribe", "{\"all\":true,\"stream\":\"s\"}", NULL, NULL},
        {"subscribe", "{\"stream\":\"s\",\"sometime\":1}", NULL, NULL},
        {"subscribe", "s", "--read-from", "nowhere"},
        {"tail", "--after", "short", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ctl_run(&r, "127.0.0.1:1", NULL, bad[i][0], bad[i][1], bad[i][2], bad[i][3], NULL);
        if (r.code != 3)
            fail_msg("%s %s: exit %d, not 3: %s", bad[i][0], bad[i][1] ? bad[i][1] : "", r.code, r.err);
        assert_string_equal(r.out, "");
        assert_one_line_error(&r);
        run_free(&r);
    }
    assert_int_equal(ctl_run(&r, NULL, NULL, "version", NULL), 0);
    assert_true(strncmp(r.out, "eventflowctl ", 13) == 0);
    run_free(&r);

    /* Nobody listens: a connection error, exit 3, for status and commands. */
    unsigned port;
    assert_int_equal(harness_free_port(&port), 0);
    char ep[32];
    snprintf(ep, sizeof ep, "127.0.0.1:%u", port);
    static const char *const unreachable[][2] = {{"status", NULL}, {"health", NULL}, {"members", NULL},
                                                 {"count", NULL}, {"append", "s"}};
    for (size_t i = 0; i < sizeof unreachable / sizeof unreachable[0]; i++) {
        if (unreachable[i][1] != NULL)
            ctl_run(&r, NULL, NULL, "-e", ep, "--timeout", "500", unreachable[i][0], unreachable[i][1], "T", NULL);
        else
            ctl_run(&r, NULL, NULL, "-e", ep, "--timeout", "500", unreachable[i][0], NULL);
        if (r.code != 3)
            fail_msg("%s with no server: exit %d, not 3: %s", unreachable[i][0], r.code, r.err);
        assert_string_equal(r.out, "");
        assert_one_line_error(&r);
        assert_non_null(strstr(r.err, ep));
        run_free(&r);
    }
    harness_pass(*state);
}

static void test_status_of_healthy_cluster(void **state)
{
    struct cluster c;
    cluster_start(&c, *state, 3);
    wait_health(c.endpoints, NULL, 0);

    /* Some data, through the CLI (any endpoint: writes find the leader). */
    struct run r;
    char last_id[32] = "";
    for (int i = 0; i < 4; i++) {
        char data[32];
        snprintf(data, sizeof data, "{\"n\":%d}", i);
        assert_int_equal(ctl_run(&r, c.endpoints, NULL, "append", i % 2 ? "b" : "a", "T", data, "-o", "json", NULL), 0);
        json_t *ev = parse_json(r.out);
        snprintf(last_id, sizeof last_id, "%s", str_of(ev, "id"));
        json_decref(ev);
        run_free(&r);
    }
    /* Followers apply the last event a moment after the append returns. */
    wait_applied(c.endpoints, last_id);

    assert_int_equal(ctl_run(&r, c.endpoints, NULL, "status", "-o", "json", NULL), 0);
    json_t *st = parse_json(r.out);
    run_free(&r);
    assert_string_equal(str_of(st, "health"), "healthy");
    assert_int_equal(int_of(st, "exit_code"), 0);
    assert_int_equal(int_of(st, "voters"), 3);
    assert_int_equal(int_of(st, "voters_reachable"), 3);
    assert_int_equal(int_of(st, "members_reachable"), 3);
    assert_int_equal(int_of(st, "quorum"), 2);
    json_int_t leader = int_of(st, "leader_id");
    json_int_t term = int_of(st, "term");
    json_int_t commit = int_of(st, "commit_index");
    assert_true(strncmp(str_of(st, "summary"), "healthy: ", 9) == 0);
    /* The leader is who the leader says it is. */
    json_t *ls = harness_status(c.n[leader - 1]);
    assert_non_null(ls);
    assert_string_equal(str_of(ls, "state"), "leader");
    const char *version = str_of(ls, "version");

    json_t *members = json_object_get(st, "members");
    assert_int_equal(json_array_size(members), 3);
    const char *checksum = NULL;
    for (size_t i = 0; i < 3; i++) {
        const json_t *m = json_array_get(members, i);
        const struct harness_node *n = c.n[i];
        char addr[32];
        assert_int_equal(int_of(m, "id"), (json_int_t)n->id); /* sorted by id */
        snprintf(addr, sizeof addr, "127.0.0.1:%u", n->port);
        assert_string_equal(str_of(m, "client_address"), addr);
        snprintf(addr, sizeof addr, "127.0.0.1:%u", n->raft_port);
        assert_string_equal(str_of(m, "raft_address"), addr);
        assert_string_equal(str_of(m, "role"), "voter");
        bool is_leader = (json_int_t)n->id == leader;
        assert_string_equal(str_of(m, "state"), is_leader ? "leader" : "follower");
        assert_true(json_is_true(json_object_get(m, "reachable")));
        assert_true(json_is_boolean(json_object_get(m, "leader")));
        assert_int_equal(json_is_true(json_object_get(m, "leader")), is_leader);
        assert_int_equal(int_of(m, "term"), term);
        assert_int_equal(int_of(m, "leader_id"), leader);
        assert_true(int_of(m, "last_index") >= int_of(m, "commit_index"));
        assert_true(int_of(m, "commit_index") >= int_of(m, "applied_index"));
        assert_true(int_of(m, "applied_index") <= commit);
        assert_int_equal(int_of(m, "lag"), commit - int_of(m, "applied_index"));
        assert_true(int_of(m, "lag") <= 5);
        assert_int_equal(int_of(m, "events"), 4);
        assert_int_equal(int_of(m, "streams"), 2);
        assert_string_equal(str_of(m, "last_id"), last_id);
        if (checksum == NULL)
            checksum = str_of(m, "checksum");
        assert_string_equal(str_of(m, "checksum"), checksum);
        assert_false(json_is_true(json_object_get(m, "checksum_differs")));
        /* The group and user state's digest, compared like the checksum. */
        assert_int_equal(strlen(str_of(m, "state_digest")), 16);
        assert_false(json_is_true(json_object_get(m, "state_digest_differs")));
        assert_true(int_of(m, "snapshot_index") >= 0);
        assert_true(int_of(m, "store_applied_index") > 0);
        assert_true(int_of(m, "db_bytes") > 0);
        assert_true(int_of(m, "map_room_bytes") > 0 && int_of(m, "map_room_bytes") < int_of(m, "map_bytes"));
        assert_true(int_of(m, "uptime_ms") > 0);
        assert_true(int_of(m, "last_contact_ms") >= 0);
        assert_false(json_is_true(json_object_get(m, "stale")));
        assert_string_equal(str_of(m, "version"), version);
        assert_true(json_is_null(json_object_get(m, "error")));
        assert_true(json_is_null(json_object_get(m, "problems")));
    }
    /* The checksum is the one CHECKSUM reports. */
    struct harness_conn *conn = harness_connect(c.n[0]);
    assert_non_null(conn);
    char *sum = harness_cmd_repr(conn, "CHECKSUM", NULL);
    harness_close(conn);
    char want[128];
    snprintf(want, sizeof want, "[\"%s\", \"%s\"]", last_id, checksum);
    assert_string_equal(sum, want);
    free(sum);
    json_decref(ls);
    json_decref(st);

    /* The table: a header, one row per member, the verdict. */
    assert_int_equal(ctl_run(&r, c.endpoints, NULL, "status", NULL), 0);
    assert_true(strncmp(r.out, "ID  ADDRESS", 11) == 0);
    assert_int_equal(count_lines(r.out), 6);
    assert_non_null(strstr(r.out, " leader "));
    assert_non_null(strstr(r.out, "\nhealthy: leader "));
    run_free(&r);

    /* health: one line; the flag wins over the environment. */
    assert_int_equal(ctl_run(&r, "127.0.0.1:1", NULL, "-e", c.endpoints, "health", NULL), 0);
    assert_true(strncmp(r.out, "healthy: leader ", 16) == 0);
    assert_int_equal(count_lines(r.out), 1);
    run_free(&r);
    char one[32];
    snprintf(one, sizeof one, "127.0.0.1:%u", c.n[2]->port);
    assert_int_equal(ctl_run(&r, NULL, NULL, "health", "--local", "-e", one, NULL), 0);
    assert_true(strncmp(r.out, "healthy: node 3 ", 16) == 0);
    run_free(&r);

    /* watch: one JSON object per refresh. */
    assert_int_equal(ctl_run(&r, c.endpoints, NULL, "watch", "-o", "json", "--count", "2", "--interval", "50", NULL), 0);
    json_t *lines = parse_json_lines(r.out);
    assert_int_equal(json_array_size(lines), 2);
    assert_string_equal(str_of(json_array_get(lines, 1), "health"), "healthy");
    assert_int_equal(json_array_size(json_object_get(json_array_get(lines, 1), "members")), 3);
    json_decref(lines);
    run_free(&r);
    harness_pass(*state);
}

static void test_unreachable_and_no_quorum(void **state)
{
    struct cluster c;
    cluster_start(&c, *state, 3);
    wait_health(c.endpoints, NULL, 0);
    size_t l = ctl_leader(&c);
    size_t f = (l + 1) % 3, other = (l + 2) % 3;

    /* A killed follower: unreachable, degraded, exit 1. */
    harness_assert_kill(c.n[f]);
    struct run r;
    assert_int_equal(ctl_run(&r, c.endpoints, NULL, "status", "-o", "json", NULL), 1);
    json_t *st = parse_json(r.out);
    run_free(&r);
    assert_string_equal(str_of(st, "health"), "degraded");
    assert_int_equal(int_of(st, "exit_code"), 1);
    assert_int_equal(int_of(st, "leader_id"), (json_int_t)c.n[l]->id);
    assert_int_equal(int_of(st, "voters_reachable"), 2);
    json_t *members = json_object_get(st, "members");
    json_t *dead = member_by_id(members, c.n[f]->id);
    assert_string_equal(str_of(dead, "state"), "unreachable");
    assert_false(json_is_true(json_object_get(dead, "reachable")));
    assert_string_equal(str_of(dead, "role"), "voter");
    assert_true(json_is_null(json_object_get(dead, "term")));
    assert_true(json_is_null(json_object_get(dead, "applied_index")));
    assert_true(json_is_null(json_object_get(dead, "lag")));
    assert_true(strlen(str_of(dead, "error")) > 0);
    assert_true(strncmp(str_of(dead, "problems"), "unreachable: ", 13) == 0);
    json_t *alive = member_by_id(members, c.n[other]->id);
    assert_string_equal(str_of(alive, "state"), "follower");
    assert_true(json_is_null(json_object_get(alive, "problems")));
    json_decref(st);

    assert_int_equal(ctl_run(&r, c.endpoints, NULL, "status", NULL), 1);
    assert_non_null(strstr(r.out, " unreachable "));
    assert_non_null(strstr(r.out, "\ndegraded: "));
    run_free(&r);
    assert_int_equal(ctl_run(&r, c.endpoints, NULL, "health", NULL), 1);
    assert_true(strncmp(r.out, "degraded: ", 10) == 0);
    char node[32];
    snprintf(node, sizeof node, "node %u: unreachable", c.n[f]->id);
    assert_non_null(strstr(r.out, node));
    assert_int_equal(count_lines(r.out), 1);
    run_free(&r);

    /* The leader too: one voter of three is left, no quorum, exit 2. */
    harness_assert_kill(c.n[l]);
    assert_int_equal(ctl_run(&r, c.endpoints, NULL, "status", "-o", "json", NULL), 2);
    st = parse_json(r.out);
    run_free(&r);
    assert_string_equal(str_of(st, "health"), "unavailable");
    assert_int_equal(int_of(st, "voters_reachable"), 1);
    assert_int_equal(json_array_size(json_object_get(st, "members")), 3);
    json_decref(st);
    assert_int_equal(ctl_run(&r, c.endpoints, NULL, "health", NULL), 2);
    assert_true(strncmp(r.out, "unavailable: ", 13) == 0);
    run_free(&r);
    /* Eventually the survivor knows no leader: `leader` says so. */
    wait_health(c.endpoints, NULL, 2);
    int64_t deadline = harness_now_ms() + WAIT_MS;
    while (ctl_run(&r, c.endpoints, NULL, "leader", NULL) != 2 && harness_now_ms() < deadline) {
        run_free(&r);
        sleep_ms(50);
    }
    assert_int_equal(r.code, 2);
    assert_one_line_error(&r);
    run_free(&r);

    /* Nobody at all: the members cannot be had, exit 3. */
    harness_assert_kill(c.n[other]);
    assert_int_equal(ctl_run(&r, c.endpoints, NULL, "health", "--timeout", "500", NULL), 3);
    assert_one_line_error(&r);
    run_free(&r);
    harness_pass(*state);
}

static const char *role_of(struct cluster *c, json_int_t id, size_t *count)
{
    static char role[16];
    struct run r;
    assert_int_equal(ctl_run(&r, c->endpoints, NULL, "members", "-o", "json", NULL), 0);
    json_t *ms = parse_json(r.out);
    run_free(&r);
    *count = json_array_size(ms);
    role[0] = '\0';
    size_t i;
    json_t *m;
    json_array_foreach(ms, i, m)
    {
        if (int_of(m, "id") == id)
            snprintf(role, sizeof role, "%s", str_of(m, "role"));
    }
    json_decref(ms);
    return role;
}

static void test_membership_changes(void **state)
{
    struct cluster c;
    cluster_start(&c, *state, 3);
    wait_health(c.endpoints, NULL, 0);
    struct run r;
    size_t count;

    /* A fourth member that never runs: a spare, shown unreachable. */
    unsigned raft_port, client_port;
    assert_int_equal(harness_free_port(&raft_port), 0);
    assert_int_equal(harness_free_port(&client_port), 0);
    char raft[32], client[32];
    snprintf(raft, sizeof raft, "127.0.0.1:%u", raft_port);
    snprintf(client, sizeof client, "127.0.0.1:%u", client_port);
    assert_int_equal(ctl_run(&r, c.endpoints, NULL, "member", "add", "4", raft, client, NULL), 0);
    assert_true(strncmp(r.out, "added member 4 ", 15) == 0);
    run_free(&r);
    assert_string_equal(role_of(&c, 4, &count), "spare");
    assert_int_equal(count, 4);
    /* The same id again is refused by the cluster: exit 1. */
    assert_int_equal(ctl_run(&r, c.endpoints, NULL, "member", "add", "4", raft, client, NULL), 1);
    assert_one_line_error(&r);
    run_free(&r);

    assert_int_equal(ctl_run(&r, c.endpoints, NULL, "members", NULL), 0);
    char row[128];
    snprintf(row, sizeof row, " 4  spare  %s", raft);
    assert_non_null(strstr(r.out, row));
    run_free(&r);
    /* status shows it, unreachable: degraded. */
    assert_int_equal(ctl_run(&r, c.endpoints, NULL, "status", "-o", "json", NULL), 1);
    json_t *j = parse_json(r.out);
    run_free(&r);
    json_t *spare = member_by_id(json_object_get(j, "members"), 4);
    assert_string_equal(str_of(spare, "role"), "spare");
    assert_string_equal(str_of(spare, "state"), "unreachable");
    assert_string_equal(str_of(spare, "raft_address"), raft);
    assert_int_equal(int_of(j, "voters"), 3);
    assert_int_equal(int_of(j, "voters_reachable"), 3);
    json_decref(j);

    /* Demote a follower to standby and back. */
    size_t l = ctl_leader(&c);
    char id[8];
    snprintf(id, sizeof id, "%u", c.n[(l + 2) % 3]->id);
    assert_int_equal(ctl_run(&r, c.endpoints, NULL, "member", "demote", id, "standby", NULL), 0);
    run_free(&r);
    assert_string_equal(role_of(&c, c.n[(l + 2) % 3]->id, &count), "standby");
    assert_int_equal(ctl_run(&r, c.endpoints, NULL, "member", "promote", id, "-o", "json", NULL), 0);
    j = parse_json(r.out);
    assert_true(json_is_true(json_object_get(j, "ok")));
    assert_string_equal(str_of(j, "role"), "voter");
    json_decref(j);
    run_free(&r);
    assert_string_equal(role_of(&c, c.n[(l + 2) % 3]->id, &count), "voter");

    /* Leadership to a chosen follower. */
    l = ctl_leader(&c);
    size_t to = (l + 1) % 3;
    snprintf(id, sizeof id, "%u", c.n[to]->id);
    assert_int_equal(ctl_run(&r, c.endpoints, NULL, "transfer", id, NULL), 0);
    run_free(&r);
    assert_int_equal(ctl_leader(&c), to);

    /* Remove the spare; an unknown member is refused. */
    assert_int_equal(ctl_run(&r, c.endpoints, NULL, "member", "remove", "4", NULL), 0);
    run_free(&r);
    assert_string_equal(role_of(&c, 4, &count), "");
    assert_int_equal(count, 3);
    assert_int_equal(ctl_run(&r, c.endpoints, NULL, "member", "remove", "9", NULL), 1);
    assert_one_line_error(&r);
    run_free(&r);
    wait_health(c.endpoints, NULL, 0);
    harness_pass(*state);
}

/* Read the child's output until it contains needle. */
static void ctl_wait_output(struct ctl *t, const char *needle)
{
    int64_t deadline = harness_now_ms() + WAIT_MS;
    for (;;) {
        ctl_pump(t, 0);
        if (t->out.len > 0) {
            buf_append_char(&t->out, '\0');
            bool found = strstr(t->out.data, needle) != NULL;
            t->out.len--; /* keep the NUL out of the output */
            if (found)
                return;
        }
        if (harness_now_ms() > deadline)
            fail_msg("no \"%s\" in the output within %d ms", needle, WAIT_MS);
        struct pollfd p = {.fd = t->out_fd, .events = POLLIN};
        poll(&p, 1, 50);
    }
}

static void test_data_commands_with_password(void **state)
{
    struct harness_node_opts o = {.password = "s3cret"};
    struct harness_node *n = harness_start_single(*state, &o);
    char ep[32];
    snprintf(ep, sizeof ep, "127.0.0.1:%u", n->port);
    struct run r;

    /* Without the password: exit 3, saying so. */
    assert_int_equal(ctl_run(&r, ep, NULL, "status", NULL), 3);
    assert_one_line_error(&r);
    assert_non_null(strstr(r.err, "password"));
    run_free(&r);
    assert_int_equal(ctl_run(&r, ep, "wrong", "count", NULL), 3);
    assert_one_line_error(&r);
    run_free(&r);
    /* From the environment, or the flag. */
    assert_int_equal(ctl_run(&r, ep, "s3cret", "health", NULL), 0);
    run_free(&r);

    char ids[4][32];
    static const char *const data[] = {"{\"total\":42}", "[1,2]", "\"text\"", "7"};
    for (int i = 0; i < 4; i++) {
        char version[8];
        snprintf(version, sizeof version, "%d", i);
        assert_int_equal(ctl_run(&r, ep, NULL, "--password", "s3cret", "append", "order-7", "T", data[i],
                                 "--expected-version", version, "--metadata", "{\"by\":\"ops\"}", "-o", "json", NULL),
                         0);
        json_t *ev = parse_json(r.out);
        run_free(&r);
        assert_int_equal(int_of(ev, "version"), i);
        snprintf(ids[i], sizeof ids[i], "%s", str_of(ev, "id"));
        json_decref(ev);
    }
    /* A stale expected version: the cluster refuses, exit 1. */
    assert_int_equal(ctl_run(&r, ep, "s3cret", "append", "order-7", "T", "--expected-version", "1", NULL), 1);
    assert_one_line_error(&r);
    assert_non_null(strstr(r.err, "concurrent stream modification"));
    run_free(&r);
    assert_int_equal(ctl_run(&r, ep, "s3cret", "append", "notes", "Note", "plain words", "--string", NULL), 0);
    assert_non_null(strstr(r.out, "\"plain words\""));
    run_free(&r);

    /* get: every event of the stream, field by field. */
    assert_int_equal(ctl_run(&r, ep, "s3cret", "get", "order-7", "-o", "json", NULL), 0);
    json_t *evs = parse_json_lines(r.out);
    run_free(&r);
    assert_int_equal(json_array_size(evs), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *ev = json_array_get(evs, i);
        assert_string_equal(str_of(ev, "id"), ids[i]);
        assert_string_equal(str_of(ev, "stream"), "order-7");
        assert_int_equal(int_of(ev, "version"), (json_int_t)i);
        assert_string_equal(str_of(ev, "type"), "T");
        json_t *want = parse_json(data[i]);
        harness_assert_json_equal(json_object_get(ev, "data"), want);
        json_decref(want);
        assert_string_equal(str_of(json_object_get(ev, "metadata"), "by"), "ops");
        assert_string_equal(str_of(ev, "causation_id"), ids[i]);
        assert_string_equal(str_of(ev, "correlation_id"), ids[i]);
        const char *at = str_of(ev, "added_at");
        assert_true(strlen(at) >= 20 && at[strlen(at) - 1] == 'Z');
    }
    json_decref(evs);
    assert_int_equal(ctl_run(&r, ep, "s3cret", "get", "order-7", "--from", "1", "--limit", "2", NULL), 0);
    assert_int_equal(count_lines(r.out), 3); /* header + 2 */
    assert_non_null(strstr(r.out, ids[1]));
    assert_non_null(strstr(r.out, ids[2]));
    assert_null(strstr(r.out, ids[3]));
    run_free(&r);

    /* getall after an id, count, checksum, streams. */
    assert_int_equal(ctl_run(&r, ep, "s3cret", "getall", "--after", ids[1], "--limit", "2", "-o", "json", NULL), 0);
    evs = parse_json_lines(r.out);
    run_free(&r);
    assert_int_equal(json_array_size(evs), 2);
    assert_string_equal(str_of(json_array_get(evs, 0), "id"), ids[2]);
    assert_string_equal(str_of(json_array_get(evs, 1), "id"), ids[3]);
    json_decref(evs);
    assert_int_equal(ctl_run(&r, ep, "s3cret", "count", "-o", "json", NULL), 0);
    json_t *j = parse_json(r.out);
    run_free(&r);
    assert_int_equal(int_of(j, "events"), 5);
    assert_int_equal(int_of(j, "streams"), 2);
    assert_string_equal(str_of(j, "node"), ep);
    json_decref(j);
    assert_int_equal(ctl_run(&r, ep, "s3cret", "checksum", "-o", "json", NULL), 0);
    j = parse_json(r.out);
    run_free(&r);
    struct harness_conn *conn = harness_connect_auth(n);
    assert_non_null(conn);
    char *sum = harness_cmd_repr(conn, "CHECKSUM", NULL);
    harness_close(conn);
    char want[128];
    snprintf(want, sizeof want, "[\"%s\", \"%s\"]", str_of(j, "last_id"), str_of(j, "checksum"));
    assert_string_equal(sum, want);
    free(sum);
    json_decref(j);
    assert_int_equal(ctl_run(&r, ep, "s3cret", "streams", "-o", "json", NULL), 0);
    evs = parse_json_lines(r.out);
    run_free(&r);
    assert_int_equal(json_array_size(evs), 2);
    assert_string_equal(str_of(json_array_get(evs, 0), "id"), "notes");
    assert_int_equal(int_of(json_array_get(evs, 1), "events"), 4);
    json_decref(evs);

    /* tail follows the log: it prints its header once it has found the end,
     * then every event appended after that, until SIGTERM (exit 0). */
    const char *tail_args[] = {"tail", NULL};
    struct ctl t;
    ctl_spawn(&t, ep, "s3cret", tail_args);
    ctl_wait_output(&t, "ID ");
    assert_int_equal(ctl_run(&r, ep, "s3cret", "append", "late", "Late", "{\"x\":1}", "-o", "json", NULL), 0);
    j = parse_json(r.out);
    run_free(&r);
    ctl_wait_output(&t, str_of(j, "id"));
    json_decref(j);
    assert_int_equal(kill(t.pid, SIGTERM), 0);
    ctl_finish(&t, &r);
    assert_int_equal(r.code, 0);
    assert_int_equal(count_lines(r.out), 2);
    assert_non_null(strstr(r.out, " late "));
    run_free(&r);

    /* tail --after an id with a limit: stops by itself. */
    assert_int_equal(ctl_run(&r, ep, "s3cret", "tail", "--after", ids[2], "--limit", "1", "-o", "json", NULL), 0);
    j = parse_json(r.out);
    assert_string_equal(str_of(j, "id"), ids[3]);
    json_decref(j);
    run_free(&r);
    /* getall --follow catches up from the start, then would go on. */
    assert_int_equal(ctl_run(&r, ep, "s3cret", "getall", "--follow", "--limit", "5", "-o", "json", NULL), 0);
    evs = parse_json_lines(r.out);
    run_free(&r);
    assert_int_equal(json_array_size(evs), 5);
    assert_string_equal(str_of(json_array_get(evs, 0), "id"), ids[0]);
    assert_string_equal(str_of(json_array_get(evs, 4), "stream"), "notes");
    json_decref(evs);

    /* subscribe with a filter, from the start of the log: only type T. */
    assert_int_equal(ctl_run(&r, ep, "s3cret", "subscribe", "{\"all\":true,\"offset\":\"\",\"types\":[\"T\"]}",
                             "--limit", "4", "-o", "json", NULL),
                     0);
    evs = parse_json_lines(r.out);
    run_free(&r);
    assert_int_equal(json_array_size(evs), 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(str_of(json_array_get(evs, i), "id"), ids[i]);
    json_decref(evs);

    /* subscribe to a stream that does not exist yet, with markers: caught
     * up at once, then its first event, until SIGTERM. */
    const char *sub_args[] = {"subscribe", "{\"stream\":\"later\",\"markers\":true}", "-o", "json", NULL};
    ctl_spawn(&t, ep, "s3cret", sub_args);
    ctl_wait_output(&t, "caught_up");
    assert_int_equal(ctl_run(&r, ep, "s3cret", "append", "later", "Born", "-o", "json", NULL), 0);
    j = parse_json(r.out);
    run_free(&r);
    ctl_wait_output(&t, str_of(j, "id"));
    assert_int_equal(kill(t.pid, SIGTERM), 0);
    ctl_finish(&t, &r);
    assert_int_equal(r.code, 0);
    evs = parse_json_lines(r.out);
    run_free(&r);
    assert_int_equal(json_array_size(evs), 2);
    assert_string_equal(str_of(json_array_get(evs, 0), "marker"), "caught_up");
    assert_string_equal(str_of(json_array_get(evs, 0), "node"), ep);
    assert_string_equal(str_of(json_array_get(evs, 1), "id"), str_of(j, "id"));
    assert_int_equal(int_of(json_array_get(evs, 1), "version"), 0);
    json_decref(evs);
    json_decref(j);
    harness_pass(*state);
}

/* ADD one event to `stream` on the leader, finding it again (eventflowctl
 * leader) and retrying while a node answers that it does not lead. Returns
 * the event's id into id. */
static void add_on_leader(struct cluster *c, struct harness_conn **w, size_t *leader, const char *stream, char *id)
{
    char arg[128];
    snprintf(arg, sizeof arg, "{\"stream\":\"%s\",\"version\":\"any\",\"events\":[{\"type\":\"W\"}]}", stream);
    int64_t deadline = harness_now_ms() + WAIT_MS;
    for (;;) {
        struct resp_value v;
        if (*w != NULL && harness_cmd(*w, &v, "ADD", arg, NULL) == 0) {
            bool ok = v.type == RESP_T_ARRAY && v.n == 1 && v.elems[0].type == RESP_T_BULK;
            if (ok) {
                json_t *ev = parse_json(v.elems[0].str);
                snprintf(id, EF_ID_LEN_TEST + 1, "%s", str_of(ev, "id"));
                json_decref(ev);
            }
            resp_value_free(&v);
            if (ok)
                return;
        }
        if (harness_now_ms() > deadline)
            fail_msg("no leader took an ADD within %d ms", WAIT_MS);
        /* Not (or no longer) the leader: nothing was written; ask again. */
        harness_close(*w);
        *leader = ctl_leader(c);
        *w = harness_connect(c->n[*leader]);
    }
}

static void test_tail_across_kills(void **state)
{
    struct cluster c;
    cluster_start(&c, *state, 3);
    wait_health(c.endpoints, NULL, 0);
    size_t l = ctl_leader(&c);
    struct harness_conn *w = harness_connect(c.n[l]);
    assert_non_null(w);
    char start[EF_ID_LEN_TEST + 1];
    add_on_leader(&c, &w, &l, "before", start);

    /* tail from that event on, served by a follower. */
    const char *tail_args[] = {"tail", "--after", start, "--read-from", "follower", "-o", "json", NULL};
    struct ctl t;
    ctl_spawn(&t, c.endpoints, NULL, tail_args);
    enum { BATCH = 100 };
    char last[EF_ID_LEN_TEST + 1];
    for (int i = 0; i < BATCH; i++)
        add_on_leader(&c, &w, &l, "s0", last);
    ctl_wait_output(&t, last);

    /* Kill each follower in turn (one of them serves the tail) and write
     * while it is down; the first comes back before the second goes. The
     * tail is frozen meanwhile, so that it finds its node gone only after
     * the writes: going on from the live end would skip them. */
    size_t followers[2] = {(l + 1) % 3, (l + 2) % 3};
    for (int k = 0; k < 2; k++) {
        assert_int_equal(kill(t.pid, SIGSTOP), 0);
        harness_assert_kill(c.n[followers[k]]);
        for (int i = 0; i < BATCH; i++)
            add_on_leader(&c, &w, &l, k == 0 ? "s1" : "s2", last);
        assert_int_equal(kill(t.pid, SIGCONT), 0);
        ctl_wait_output(&t, last);
        assert_int_equal(harness_node_start(c.n[followers[k]]), 0);
        wait_health(c.endpoints, NULL, 0);
    }
    for (int i = 0; i < BATCH; i++)
        add_on_leader(&c, &w, &l, "s3", last);
    ctl_wait_output(&t, last);
    assert_int_equal(kill(t.pid, SIGTERM), 0);
    struct run r;
    ctl_finish(&t, &r);
    assert_int_equal(r.code, 0);
    json_t *got = parse_json_lines(r.out);
    run_free(&r);

    /* The leader's log after the first event, in one page. */
    char arg[128];
    snprintf(arg, sizeof arg, "{\"offset\":\"%s\",\"limit\":1000}", start);
    struct resp_value v;
    assert_int_equal(harness_cmd(w, &v, "GETALL", arg, NULL), 0);
    json_t *want = harness_assert_events(&v);
    resp_value_free(&v);
    assert_int_equal(json_array_size(want), 4 * BATCH);
    if (json_array_size(got) != json_array_size(want))
        fail_msg("tail printed %zu events, the leader has %zu", json_array_size(got), json_array_size(want));
    for (size_t i = 0; i < json_array_size(want); i++)
        assert_string_equal(str_of(json_array_get(got, i), "id"), str_of(json_array_get(want, i), "id"));
    json_decref(got);
    json_decref(want);
    harness_close(w);
    harness_pass(*state);
}

/* ---- consumer groups ------------------------------------------------------------ */

/* A GROUP command sent over a raw connection (what a worker would do),
 * and its reply. */
static struct resp_value group_cmd(struct harness_conn *h, const char *sub, const char *arg)
{
    struct resp_value v;
    if (harness_cmd(h, &v, "GROUP", sub, arg, (const char *)NULL) != 0)
        fail_msg("no reply to GROUP %s", sub);
    return v;
}

/* `group <args> -o json` with exit code 0, its output parsed as JSON
 * Lines (lines) or one object. */
static json_t *group_json(const char *ep, const char *sub, const char *a1, const char *a2, bool lines)
{
    struct run r;
    int code = ctl_run(&r, ep, NULL, "-o", "json", "group", sub, a1, a2, NULL);
    if (code != 0)
        fail_msg("group %s: exit %d: %s", sub, code, r.err);
    json_t *j = lines ? parse_json_lines(r.out) : parse_json(r.out);
    run_free(&r);
    return j;
}

static void test_group_commands(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    char ep[32];
    snprintf(ep, sizeof ep, "127.0.0.1:%u", n->port);
    struct run r;

    assert_int_equal(ctl_run(&r, ep, NULL, "-o", "json", "group", "create", "jobs", "work", "--ack-wait", "60000",
                             "--max-deliveries", "3", NULL),
                     0);
    json_t *j = parse_json(r.out);
    run_free(&r);
    assert_string_equal(str_of(j, "group"), "jobs");
    assert_true(json_is_true(json_object_get(j, "ok")));
    json_decref(j);
    /* Refusals: exit 1, one line, the library's code. */
    assert_int_equal(ctl_run(&r, ep, NULL, "group", "create", "jobs", "work", NULL), 1);
    assert_one_line_error(&r);
    assert_non_null(strstr(r.err, "EF_EEXISTS"));
    run_free(&r);
    assert_int_equal(ctl_run(&r, ep, NULL, "group", "create", "other", "work", "--from", "soon", NULL), 3);
    assert_one_line_error(&r);
    run_free(&r);
    assert_int_equal(ctl_run(&r, ep, NULL, "group", "create", "all", "$all", "--types", "A,B", "--stream-prefix",
                             "wo", "--max-deliveries", "0", "--max-ack-pending", "5", NULL),
                     0);
    assert_string_equal(r.out, "OK\n");
    run_free(&r);

    char ids[3][32];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ctl_run(&r, ep, NULL, "-o", "json", "append", "work", "Job", NULL), 0);
        j = parse_json(r.out);
        run_free(&r);
        snprintf(ids[i], sizeof ids[i], "%s", str_of(j, "id"));
        json_decref(j);
    }
    /* A worker takes two. */
    struct harness_conn *h = harness_connect(n);
    assert_non_null(h);
    struct resp_value v = group_cmd(h, "READ", "{\"group\":\"jobs\",\"consumer\":\"w1\",\"count\":2}");
    assert_int_equal(v.type, RESP_T_ARRAY);
    assert_int_equal(v.n, 2);
    resp_value_free(&v);

    j = group_json(ep, "pending", "jobs", NULL, true);
    assert_int_equal(json_array_size(j), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *p = json_array_get(j, i);
        assert_string_equal(str_of(p, "id"), ids[i]);
        assert_string_equal(str_of(p, "consumer"), "w1");
        assert_int_equal(int_of(p, "deliveries"), 1);
    }
    json_decref(j);

    j = group_json(ep, "info", "jobs", NULL, false);
    assert_string_equal(str_of(j, "stream"), "work");
    assert_int_equal(int_of(j, "ack_wait_ms"), 60000);
    assert_int_equal(int_of(j, "max_deliveries"), 3);
    assert_int_equal(int_of(j, "pending"), 2);
    assert_int_equal(int_of(j, "next_version"), 2);
    assert_int_equal(int_of(j, "lag"), 1);
    json_t *consumers = json_object_get(j, "consumers");
    assert_int_equal(json_array_size(consumers), 1);
    assert_string_equal(str_of(json_array_get(consumers, 0), "name"), "w1");
    json_decref(j);
    assert_int_equal(ctl_run(&r, ep, NULL, "group", "info", "jobs", NULL), 0);
    assert_non_null(strstr(r.out, "next version    2\n"));
    assert_non_null(strstr(r.out, "pending         2\n"));
    assert_non_null(strstr(r.out, "w1"));
    run_free(&r);

    /* Parked by the worker, listed, replayed. */
    char nack[128];
    snprintf(nack, sizeof nack, "{\"group\":\"jobs\",\"ids\":[\"%s\"],\"park\":true}", ids[0]);
    v = group_cmd(h, "NACK", nack);
    assert_int_equal(v.type, RESP_T_INT);
    resp_value_free(&v);
    j = group_json(ep, "parked", "jobs", NULL, true);
    assert_int_equal(json_array_size(j), 1);
    assert_string_equal(str_of(json_array_get(j, 0), "id"), ids[0]);
    assert_string_equal(str_of(json_array_get(j, 0), "reason"), "nack");
    json_decref(j);
    j = group_json(ep, "replay", "jobs", ids[0], false);
    assert_int_equal(int_of(j, "replayed"), 1);
    json_decref(j);
    j = group_json(ep, "parked", "jobs", NULL, true);
    assert_int_equal(json_array_size(j), 0);
    json_decref(j);

    j = group_json(ep, "list", NULL, NULL, true);
    assert_int_equal(json_array_size(j), 2);
    assert_string_equal(str_of(json_array_get(j, 0), "group"), "all");
    assert_true(json_is_true(json_object_get(json_array_get(j, 0), "all")));
    assert_string_equal(str_of(json_array_get(j, 0), "stream_prefix"), "wo");
    assert_int_equal(int_of(json_array_get(j, 0), "max_ack_pending"), 5);
    assert_string_equal(str_of(json_array_get(j, 1), "group"), "jobs");
    assert_int_equal(int_of(json_array_get(j, 1), "parked"), 0);
    json_decref(j);

    j = group_json(ep, "seek", "jobs", "start", false);
    json_decref(j);
    j = group_json(ep, "info", "jobs", NULL, false);
    assert_int_equal(int_of(j, "next_version"), 0);
    assert_int_equal(int_of(j, "lag"), 3);
    json_decref(j);

    assert_int_equal(ctl_run(&r, ep, NULL, "group", "info", "all", NULL), 0);
    assert_non_null(strstr(r.out, "max ack pending 5\n"));
    run_free(&r);

    /* w1 holds ids[1]: not deleted until it is acked. */
    assert_int_equal(ctl_run(&r, ep, NULL, "group", "delconsumer", "jobs", "w1", NULL), 1);
    assert_one_line_error(&r);
    assert_non_null(strstr(r.err, "EF_EINVAL"));
    assert_non_null(strstr(r.err, "holds 1 pending events"));
    run_free(&r);
    assert_int_equal(ctl_run(&r, ep, NULL, "group", "delconsumer", "jobs", "w9", NULL), 1);
    assert_non_null(strstr(r.err, "EF_ENOTFOUND"));
    run_free(&r);
    char ack[128];
    snprintf(ack, sizeof ack, "{\"group\":\"jobs\",\"ids\":[\"%s\"]}", ids[1]);
    v = group_cmd(h, "ACK", ack);
    assert_int_equal(v.type, RESP_T_INT);
    assert_int_equal(v.integer, 1);
    resp_value_free(&v);
    j = group_json(ep, "delconsumer", "jobs", "w1", false);
    assert_true(json_is_true(json_object_get(j, "ok")));
    json_decref(j);
    j = group_json(ep, "info", "jobs", NULL, false);
    assert_int_equal(json_array_size(json_object_get(j, "consumers")), 0);
    json_decref(j);

    assert_int_equal(ctl_run(&r, ep, NULL, "group", "destroy", "jobs", NULL), 0);
    run_free(&r);
    assert_int_equal(ctl_run(&r, ep, NULL, "group", "info", "jobs", NULL), 1);
    assert_one_line_error(&r);
    assert_non_null(strstr(r.err, "EF_ENOTFOUND"));
    run_free(&r);
    harness_close(h);
    harness_pass(*state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_help_and_usage, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_data_commands_with_password, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_status_of_healthy_cluster, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_and_no_quorum, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_membership_changes, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_tail_across_kills, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_group_commands, harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests_name("ctl", tests, NULL, NULL);
}
