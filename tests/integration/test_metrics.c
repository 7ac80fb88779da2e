/* test_metrics.c - METRICS, the Prometheus exposition (docs/operations.md,
 * "Metrics"), read from real eventflowd nodes and checked by real parsers:
 * `promtool check metrics` must accept it, and prometheus_client's parser
 * (metrics_parse.py) must read it; the values the parser read are then
 * compared with what the test did: ADDs counted by outcome, exactly; the
 * leader's role and one lag sample per follower; events; log writes; a
 * group's pending count under a name that needs escaping; subscriptions.
 *
 * No sleeps: every count the test asserts is taken before the reply it
 * counts leaves the node, and waits poll STATUS (cluster.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cluster.h"
#include "harness.h"

enum { N = 3 };

/* ---- scraping and parsing ----------------------------------------------------- */

/* Run `shell` with the file at `path` as stdin; its stdout (malloc'ed,
 * NUL-terminated) into *out if out is not NULL. Returns the exit status. */
static int run_with_stdin(const char *shell, const char *path, char **out)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s < '%s'", shell, path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t len = 0, cap = 4096;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t got;
    while ((got = fread(text + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len - 1 == 0) {
            cap *= 2;
            text = realloc(text, cap);
            assert_non_null(text);
        }
    }
    text[len] = '\0';
    int status = pclose(p);
    if (out != NULL)
        *out = text;
    else
        free(text);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* METRICS on n, checked by promtool and parsed by prometheus_client: the
 * parser's lines (metrics_parse.py; caller frees). */
static char *scrape(struct harness_node *n)
{
    struct harness_conn *conn = harness_connect_auth(n);
    assert_non_null(conn);
    struct resp_value v;
    assert_int_equal(harness_cmd(conn, &v, "METRICS", NULL), 0);
    harness_close(conn);
    if (v.type != RESP_T_BULK)
        fail_msg("METRICS answered %s", v.str != NULL ? v.str : "no bulk string");
    char path[] = "/tmp/eventflow-metrics-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, v.str, v.len), (ssize_t)v.len);
    assert_int_equal(close(fd), 0);
    resp_value_free(&v);

    char *lint = NULL;
    int rc = run_with_stdin("promtool check metrics 2>&1", path, &lint);
    if (rc != 0)
        fail_msg("promtool check metrics refused the exposition (%d): %s", rc, lint);
    free(lint);
    const char *root = getenv("EF_SOURCE_ROOT");
    assert_non_null(root);
    char parser[512];
    snprintf(parser, sizeof parser, "'%s/tests/integration/metrics_parse.py'", root);
    char *parsed = NULL;
    rc = run_with_stdin(parser, path, &parsed);
    if (rc != 0)
        fail_msg("prometheus_client's parser refused the exposition (%d)", rc);
    unlink(path);
    return parsed;
}

/* The value of sample `name` whose labels (metrics_parse.py's form)
 * contain `labels` ("" matches any); NAN if there is none. */
static double sample(const char *parsed, const char *name, const char *labels)
{
    size_t nlen = strlen(name);
    for (const char *line = parsed; *line != '\0';) {
        const char *end = strchr(line, '\n');
        if (end == NULL)
            end = line + strlen(line);
        if ((size_t)(end - line) > nlen && strncmp(line, name, nlen) == 0 && line[nlen] == '\t') {
            const char *lab = line + nlen + 1;
            const char *tab = memchr(lab, '\t', (size_t)(end - lab));
            assert_non_null(tab);
            char buf[512];
            size_t llen = (size_t)(tab - lab) < sizeof buf - 1 ? (size_t)(tab - lab) : sizeof buf - 1;
            memcpy(buf, lab, llen);
            buf[llen] = '\0';
            if (strstr(buf, labels) != NULL)
                return strtod(tab + 1, NULL);
        }
        line = *end == '\n' ? end + 1 : end;
    }
    return NAN;
}

/* A sample that must be there. */
#define VALUE(parsed, name, labels) value_at((parsed), (name), (labels), __LINE__)
static double value_at(const char *parsed, const char *name, const char *labels, int line)
{
    double v = sample(parsed, name, labels);
    if (isnan(v))
        fail_msg("line %d: no sample %s{%s} in:\n%s", line, name, labels, parsed);
    return v;
}

/* An error counter shows up once it counted something. */
static double count_or_zero(const char *parsed, const char *name, const char *labels)
{
    double v = sample(parsed, name, labels);
    return isnan(v) ? 0 : v;
}

static void expect_type(const char *parsed, const char *family, const char *type)
{
    char line[256];
    snprintf(line, sizeof line, "# TYPE %s %s\n", family, type);
    if (strstr(parsed, line) == NULL)
        fail_msg("no family %s of type %s", family, type);
}

/* ---- tests --------------------------------------------------------------------------- */

#define ADD_OK "command=\"add\",outcome=\"ok\""
#define ADD_CONFLICT "command=\"add\",outcome=\"conflict\""

static void test_cluster_metrics(void **state)
{
    struct cluster c;
    cluster_start(&c, *state, N, NULL);
    size_t l = cluster_leader(&c);
    struct harness_node *leader = c.n[l];

    char *before = scrape(leader);
    double add_ok0 = VALUE(before, "eventflow_commands_total", ADD_OK);
    double conflict0 = count_or_zero(before, "eventflow_commands_total", ADD_CONFLICT);
    double add_timed0 = VALUE(before, "eventflow_command_duration_seconds_count", "command=\"add\"");
    double get_ok0 = VALUE(before, "eventflow_commands_total", "command=\"get\",outcome=\"ok\"");
    double getall_ok0 = VALUE(before, "eventflow_commands_total", "command=\"getall\",outcome=\"ok\"");
    double events0 = VALUE(before, "eventflow_events", "");
    double writes0 = VALUE(before, "eventflow_raft_log_writes_total", "");
    double fsyncs0 = VALUE(before, "eventflow_raft_log_write_seconds_count", "");
    double entries0 = VALUE(before, "eventflow_raft_log_write_entries_sum", "");

    enum { ADDS = 7 };
    struct resp_value v;
    char *last = NULL;
    for (int i = 0; i < ADDS; i++) {
        char version[16];
        snprintf(version, sizeof version, "%d", i);
        assert_int_equal(cluster_node_add(leader, "metrics-1", version, "Counted", &v), 0);
        json_t *events = harness_assert_events(&v);
        free(last);
        last = strdup(json_string_value(json_object_get(json_array_get(events, 0), "id")));
        json_decref(events);
        resp_value_free(&v);
    }
    /* One conflict: an outcome of its own, not an ok. */
    assert_int_equal(cluster_node_add(leader, "metrics-1", "0", "Late", &v), 0);
    harness_assert_error(&v, "concurrent stream modification");
    resp_value_free(&v);
    for (int i = 0; i < 2; i++) {
        json_t *got = cluster_node_get(leader, "{\"stream\":\"metrics-1\"}");
        assert_int_equal(json_array_size(got), ADDS);
        json_decref(got);
    }
    struct harness_conn *conn = harness_connect(leader);
    assert_non_null(conn);
    assert_int_equal(harness_cmd(conn, &v, "GETALL", "{}", NULL), 0);
    resp_value_free(&v);
    harness_close(conn);

    char *after = scrape(leader);
    assert_int_equal(VALUE(after, "eventflow_commands_total", ADD_OK) - add_ok0, ADDS);
    assert_int_equal(count_or_zero(after, "eventflow_commands_total", ADD_CONFLICT) - conflict0, 1);
    assert_int_equal(VALUE(after, "eventflow_command_duration_seconds_count", "command=\"add\"") - add_timed0,
                     ADDS + 1);
    assert_int_equal(VALUE(after, "eventflow_command_duration_seconds_bucket", "command=\"add\",le=\"+Inf\"") -
                         add_timed0,
                     ADDS + 1);
    assert_int_equal(VALUE(after, "eventflow_commands_total", "command=\"get\",outcome=\"ok\"") - get_ok0, 2);
    assert_int_equal(VALUE(after, "eventflow_commands_total", "command=\"getall\",outcome=\"ok\"") - getall_ok0,
                     1);
    assert_int_equal(VALUE(after, "eventflow_events", "") - events0, ADDS);
    assert_true(VALUE(after, "eventflow_streams", "") >= 1);
    /* Every ADD was written to the leader's log before it was answered. */
    assert_true(VALUE(after, "eventflow_raft_log_writes_total", "") > writes0);
    assert_true(VALUE(after, "eventflow_raft_log_write_seconds_count", "") > fsyncs0);
    assert_true(VALUE(after, "eventflow_raft_log_write_entries_sum", "") - entries0 >= ADDS + 1);
    assert_true(VALUE(after, "eventflow_raft_commit_index", "") >= VALUE(before, "eventflow_raft_commit_index", "") + ADDS);
    /* The scrape reports its own cost: one render since `before`, and how
     * long that one took. */
    assert_int_equal(VALUE(after, "eventflow_metrics_renders_total", "") -
                         VALUE(before, "eventflow_metrics_renders_total", ""),
                     1);
    assert_true(VALUE(after, "eventflow_metrics_render_seconds", "") > 0);
    expect_type(after, "eventflow_command_duration_seconds", "histogram");
    expect_type(after, "eventflow_raft_log_write_seconds", "histogram");
    expect_type(after, "eventflow_commands", "counter");

    /* The leader says so, and reports every other member's lag. */
    assert_int_equal(VALUE(after, "eventflow_raft_role", "role=\"leader\""), 1);
    assert_int_equal(VALUE(after, "eventflow_raft_role", "role=\"follower\""), 0);
    assert_int_equal(VALUE(after, "eventflow_raft_leader_id", ""), leader->id);
    assert_true(VALUE(after, "eventflow_raft_elections_total", "") >= 1);
    for (size_t i = 0; i < N; i++) {
        char labels[128];
        snprintf(labels, sizeof labels, "peer_address=\"127.0.0.1:%u\",peer_id=\"%u\"", c.n[i]->raft_port,
                 c.n[i]->id);
        if (i == l) {
            assert_true(isnan(sample(after, "eventflow_raft_follower_lag_entries", labels)));
            continue;
        }
        double lag = VALUE(after, "eventflow_raft_follower_lag_entries", labels);
        double match = VALUE(after, "eventflow_raft_follower_match_index", labels);
        assert_true(lag >= 0);
        assert_int_equal(match + lag, VALUE(after, "eventflow_raft_last_index", ""));
    }

    /* A follower: its role, the leader it knows, the same events once it
     * applied them, and no lag samples of its own. */
    cluster_assert_converged(&c, last);
    /* With every follower caught up, the leader's lag samples come down to
     * 0: each follower's match index reaches the leader's last index. */
    for (int64_t deadline = harness_now_ms() + CLUSTER_WAIT_MS;;) {
        char *now = scrape(leader);
        double last_index = VALUE(now, "eventflow_raft_last_index", "");
        bool caught_up = true;
        for (size_t i = 0; i < N; i++) {
            if (i == l)
                continue;
            char labels[128];
            snprintf(labels, sizeof labels, "peer_address=\"127.0.0.1:%u\",peer_id=\"%u\"", c.n[i]->raft_port,
                     c.n[i]->id);
            caught_up = caught_up && VALUE(now, "eventflow_raft_follower_lag_entries", labels) == 0 &&
                        VALUE(now, "eventflow_raft_follower_match_index", labels) == last_index;
        }
        free(now);
        if (caught_up)
            break;
        assert_true(harness_now_ms() < deadline);
        cluster_poll_pause();
    }
    size_t f = (l + 1) % N;
    char *follower = scrape(c.n[f]);
    assert_int_equal(VALUE(follower, "eventflow_raft_role", "role=\"follower\""), 1);
    assert_int_equal(VALUE(follower, "eventflow_raft_role", "role=\"leader\""), 0);
    assert_int_equal(VALUE(follower, "eventflow_raft_leader_id", ""), leader->id);
    assert_int_equal(VALUE(follower, "eventflow_events", ""), VALUE(after, "eventflow_events", ""));
    assert_true(isnan(sample(follower, "eventflow_raft_follower_lag_entries", "")));
    assert_true(VALUE(follower, "eventflow_raft_leader_changes_total", "") >= 1);

    free(follower);
    free(after);
    free(before);
    free(last);
    harness_pass(*state);
}

/* A group whose name needs escaping as a label value, its pending count,
 * a subscription and the connections, on one node. */
static void test_groups_subscriptions_escaping(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    struct harness_conn *conn = harness_connect(n);
    assert_non_null(conn);
    HARNESS_EXPECT(conn, "+OK", "GROUP", "CREATE", "{\"group\":\"we\\\"ird\\\\name\",\"all\":true}");
    struct resp_value v;
    assert_int_equal(cluster_node_add(n, "escaped", "\"any\"", "Pending", &v), 0);
    resp_value_free(&v);
    assert_int_equal(harness_cmd(conn, &v, "GROUP", "READ",
                                 "{\"group\":\"we\\\"ird\\\\name\",\"consumer\":\"c1\",\"count\":10}", NULL),
                     0);
    json_t *events = harness_assert_events(&v);
    assert_int_equal(json_array_size(events), 1);
    json_decref(events);
    resp_value_free(&v);

    struct harness_conn *sub = harness_connect(n);
    assert_non_null(sub);
    assert_int_equal(harness_cmd(sub, &v, "SUBSCRIBE", "$all", NULL), 0);
    resp_value_free(&v);

    char *m = scrape(n);
    /* The parser gave the name back as it was created: escaping round-trips. */
    assert_int_equal(VALUE(m, "eventflow_group_pending", "group=\"we\\\"ird\\\\name\""), 1);
    assert_int_equal(VALUE(m, "eventflow_group_delivered_total", "group=\"we\\\"ird\\\\name\""), 1);
    assert_int_equal(VALUE(m, "eventflow_groups", ""), 1);
    assert_int_equal(VALUE(m, "eventflow_subscriptions", "state=\"live\"") +
                         VALUE(m, "eventflow_subscriptions", "state=\"catching_up\""),
                     1);
    assert_true(VALUE(m, "eventflow_connections", "") >= 2);
    assert_int_equal(VALUE(m, "eventflow_raft_role", "role=\"leader\""), 1);
    /* A lone voter elects itself. */
    assert_true(VALUE(m, "eventflow_raft_elections_total", "") >= 1);
    assert_true(VALUE(m, "eventflow_db_room_bytes", "") > 0);
    assert_true(VALUE(m, "eventflow_db_map_bytes", "") >= VALUE(m, "eventflow_db_bytes", ""));
    free(m);
    harness_close(sub);
    harness_close(conn);
    harness_pass(*state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cluster_metrics, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_groups_subscriptions_escaping, harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
