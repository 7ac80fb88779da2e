/* test_membership.c - changing a running cluster's members: a node that
 * joins with --join and is promoted, demoted and made leader; removals, and
 * the refusal of one that would leave no reachable majority; the refusal of
 * a node whose data directory was wiped; a node added by hand (started with
 * --cluster-state existing) whose client address shows as soon as
 * CLUSTER ADD answers; and a node with another cluster's history, refused
 * by CLUSTER ADD and, when added anyway, by every raft connection.
 *
 * Every wait polls an observable condition (STATUS, CLUSTER MEMBERS) with a
 * deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "cluster.h"
#include "harness.h"

enum { N = 3 };

static void test_membership_join_promote_remove_transfer(void **state)
{
    struct harness_fixture *fx = *state;
    struct cluster c;
    cluster_start(&c, fx, N, NULL);
    char *last = cluster_add_ok(&c, "members", "0", "Before");

    /* A fourth node joins through a follower (the request is redirected). */
    size_t l = cluster_leader(&c);
    size_t f = (l + 1) % N;
    char join[64];
    snprintf(join, sizeof join, "127.0.0.1:%u", c.n[f]->port);
    const char *args[] = {"--join", join, NULL};
    struct harness_node_opts o = {.id = 4, .args = args};
    c.n[3] = harness_add_node(fx, &o);
    c.count = 4;
    assert_int_equal(harness_node_start(c.n[3]), 0);
    int64_t deadline = harness_now_ms() + CLUSTER_WAIT_MS;
    while (!cluster_node_member_count(c.n[l], 4, "\"role\":\"voter\"") && harness_now_ms() < deadline) {
        cluster_poll_pause();
    }
    assert_true(cluster_node_member_count(c.n[l], 4, "\"role\":\"voter\""));
    cluster_assert_converged(&c, last);

    /* Demote to spare, promote back, transfer leadership to it. The
     * joiner's promotion may be appended but not yet committed when the
     * leader first lists it as a voter, and raft refuses a second change
     * until then (-BUSY): wait for the committed configuration first. */
    l = cluster_leader(&c);
    cluster_node_wait_members_addressed(c.n[l], 4);
    cluster_node_expect_ok(c.n[l], "CLUSTER", "DEMOTE", "4", "spare", NULL);
    assert_true(cluster_node_member_count(c.n[l], 3, "\"role\":\"voter\""));
    cluster_node_expect_ok(c.n[l], "CLUSTER", "PROMOTE", "4", NULL, NULL);
    cluster_transfer_ok(&c, 3);
    assert_int_equal(cluster_leader(&c), 3);

    /* Remove a member; a second change while one runs is refused by raft,
     * not tested here because it is a race. Node 4 checks that the smaller
     * configuration keeps a reachable majority by asking the members at
     * their client addresses, which it learns from their registrations
     * (replicated in the background): wait until it knows them all. */
    cluster_node_wait_members_addressed(c.n[3], 4);
    cluster_node_expect_ok(c.n[3], "CLUSTER", "REMOVE", "1", NULL, NULL);
    assert_true(cluster_node_member_count(c.n[3], 3, NULL));
    harness_assert_stop(c.n[0]);
    c.n[0] = NULL;
    free(last);
    last = cluster_add_ok(&c, "members", "1", "AfterRemove");
    cluster_assert_converged(&c, last);
    free(last);
    harness_pass(fx);
}

/* Removing a voter while another is down would leave the new configuration
 * without a reachable majority: refused, and nothing changes. */
static void test_remove_refused_without_quorum(void **state)
{
    struct cluster c;
    cluster_start(&c, *state, N, NULL);
    size_t l = cluster_leader(&c);
    size_t down = (l + 1) % N, other = (l + 2) % N;
    harness_assert_kill(c.n[down]);
    struct harness_conn *conn = harness_connect(c.n[l]);
    assert_non_null(conn);
    char id[16];
    snprintf(id, sizeof id, "%u", c.n[other]->id);
    struct resp_value v;
    assert_int_equal(harness_cmd(conn, &v, "CLUSTER", "REMOVE", id, NULL), 0);
    harness_assert_error_prefix(&v, "UNSAFE ");
    resp_value_free(&v);
    harness_close(conn);
    assert_true(cluster_node_member_count(c.n[l], 3, "\"role\":\"voter\""));
    /* The cluster still works: the remaining two keep committing. */
    char *last = cluster_add_ok(&c, "unsafe", "0", "StillWorks");
    free(last);
    assert_int_equal(harness_node_start(c.n[down]), 0);
    assert_int_equal(harness_wait_status(c.n[down], cluster_has_leader, NULL, CLUSTER_WAIT_MS), 0);
    harness_pass(*state);
}

static void test_wiped_directory_refused(void **state)
{
    struct cluster c;
    cluster_start(&c, *state, N, NULL);
    char *last = cluster_add_ok(&c, "wiped", "0", "T");
    cluster_assert_converged(&c, last);
    free(last);
    size_t l = cluster_leader(&c);
    size_t f = (l + 1) % N;
    /* Registration of the follower's incarnation happens in the background:
     * wait until the leader knows it before wiping. */
    int64_t deadline = harness_now_ms() + CLUSTER_WAIT_MS;
    char want[32];
    snprintf(want, sizeof want, "\"id\":%u,", c.n[f]->id);
    for (;;) {
        struct harness_conn *conn = harness_connect(c.n[l]);
        assert_non_null(conn);
        struct resp_value v;
        bool known = false;
        if (harness_cmd(conn, &v, "CLUSTER", "MEMBERS", NULL) == 0) {
            for (size_t i = 0; v.type == RESP_T_ARRAY && i < v.n; i++)
                if (strstr(v.elems[i].str, want) != NULL && strstr(v.elems[i].str, "incarnation") != NULL)
                    known = true;
            resp_value_free(&v);
        }
        harness_close(conn);
        if (known)
            break;
        assert_true(harness_now_ms() < deadline);
        cluster_poll_pause();
    }
    harness_assert_stop(c.n[f]);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", c.n[f]->data_dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(harness_node_start(c.n[f]), 0);
    /* It must exit by itself, with status 1, saying why. */
    deadline = harness_now_ms() + CLUSTER_WAIT_MS;
    while (harness_node_alive(c.n[f]) && harness_now_ms() < deadline) {
        cluster_poll_pause();
    }
    assert_false(harness_node_alive(c.n[f]));
    assert_true(WIFEXITED(c.n[f]->exit_status));
    assert_int_equal(WEXITSTATUS(c.n[f]->exit_status), 1);
    assert_true(harness_node_log_line(c.n[f], "must not rejoin under its old id", NULL, 0));
    c.n[f]->failed = false; /* the exit was the expected outcome */
    harness_pass(*state);
}

static bool answers(const json_t *st, void *arg)
{
    (void)st;
    (void)arg;
    return true;
}

/* The JSON object of member `id` in n's CLUSTER MEMBERS (caller decrefs),
 * or NULL if it is not listed. */
static json_t *member_of(struct harness_node *n, unsigned id)
{
    struct harness_conn *conn = harness_connect(n);
    assert_non_null(conn);
    struct resp_value v;
    assert_int_equal(harness_cmd(conn, &v, "CLUSTER", "MEMBERS", NULL), 0);
    harness_close(conn);
    assert_int_equal(v.type, RESP_T_ARRAY);
    json_t *found = NULL;
    for (size_t i = 0; i < v.n && found == NULL; i++) {
        json_t *m = harness_assert_json(&v.elems[i]);
        if (json_integer_value(json_object_get(m, "id")) == (json_int_t)id)
            found = m;
        else
            json_decref(m);
    }
    resp_value_free(&v);
    return found;
}

/* eventflowctl's members, as JSON, through endpoint `port`. */
static json_t *ctl_members(unsigned port)
{
    const char *ctl = getenv("EVENTFLOWCTL");
    assert_non_null(ctl);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "'%s' -e 127.0.0.1:%u members -o json", ctl, port);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    json_error_t je;
    json_t *j = json_loadf(p, 0, &je);
    assert_int_equal(pclose(p), 0);
    if (j == NULL)
        fail_msg("eventflowctl members: %s", je.text);
    return j;
}

/* A node started on an empty directory with --cluster-state existing waits
 * to be added. CLUSTER ADD answers once the new member's client address is
 * applied on the leader: the members listing shows it at once, through the
 * leader or through eventflowctl from any endpoint. */
static void test_member_added_by_hand(void **state)
{
    struct harness_fixture *fx = *state;
    struct cluster c;
    cluster_start(&c, fx, N, NULL);
    char *last = cluster_add_ok(&c, "by-hand", "0", "Before");
    static const char *const args[] = {"--cluster-state", "existing", NULL};
    struct harness_node_opts o = {.id = 4, .args = args};
    c.n[3] = harness_add_node(fx, &o);
    assert_int_equal(harness_node_start(c.n[3]), 0);
    assert_int_equal(harness_wait_status(c.n[3], answers, NULL, CLUSTER_WAIT_MS), 0);
    assert_true(harness_node_log_says(c.n[3], "waiting to be added to a cluster"));
    /* It bootstrapped nothing: no log, no leader, no identity. */
    assert_int_equal(cluster_node_status_int(c.n[3], "last_index"), 0);

    size_t l = cluster_leader(&c);
    char id[8], raft[32], client[32];
    snprintf(id, sizeof id, "%u", c.n[3]->id);
    snprintf(raft, sizeof raft, "127.0.0.1:%u", c.n[3]->raft_port);
    snprintf(client, sizeof client, "127.0.0.1:%u", c.n[3]->port);
    cluster_node_expect_ok(c.n[l], "CLUSTER", "ADD", id, raft, client);
    json_t *m = member_of(c.n[l], 4);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "client_address")), client);
    assert_string_equal(json_string_value(json_object_get(m, "role")), "spare");
    json_decref(m);
    json_t *listed = ctl_members(c.n[(l + 1) % N]->port);
    bool shown = false;
    size_t i;
    json_t *e;
    json_array_foreach(listed, i, e)
    {
        if (json_integer_value(json_object_get(e, "id")) == 4)
            shown = strcmp(json_string_value(json_object_get(e, "client_address")), client) == 0;
    }
    json_decref(listed);
    assert_true(shown);

    /* Promoted, it catches up and takes part. */
    cluster_node_expect_ok(c.n[l], "CLUSTER", "PROMOTE", id, NULL, NULL);
    c.count = 4;
    cluster_assert_converged(&c, last);
    free(last);
    last = cluster_add_ok(&c, "by-hand", "1", "After");
    cluster_assert_converged(&c, last);
    free(last);
    harness_pass(fx);
}

/* A node that bootstrapped a cluster of its own and took writes is never
 * let in: CLUSTER ADD refuses it, naming why; added anyway (the check could
 * not reach it), its raft port refuses the cluster's connections and the
 * cluster refuses its: its log, term and events stay its own. */
static void test_foreign_node_refused(void **state)
{
    struct harness_fixture *fx = *state;
    struct cluster c;
    cluster_start(&c, fx, N, NULL);
    char *last = cluster_add_ok(&c, "ours", "0", "Ours");
    struct harness_node_opts o = {.id = 4};
    struct harness_node *foreign = harness_add_node(fx, &o);
    assert_int_equal(harness_node_start(foreign), 0);
    assert_int_equal(harness_wait_ready(foreign, CLUSTER_WAIT_MS), 0);
    free(cluster_node_write_events(foreign, "theirs", 5));

    cluster_assert_foreign_refused(&c, foreign, 5);
    free(last);
    last = cluster_add_ok(&c, "ours", "1", "StillOurs");
    cluster_assert_converged(&c, last);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(cluster_node_status_int(c.n[i], "events"), 2);
    free(last);
    harness_pass(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_membership_join_promote_remove_transfer, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_remove_refused_without_quorum, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_wiped_directory_refused, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_member_added_by_hand, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_foreign_node_refused, harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests_name("membership", tests, NULL, NULL);
}
