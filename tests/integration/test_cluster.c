/* test_cluster.c - three real eventflowd nodes on 127.0.0.1.
 *
 * Replication (every node reaches the same CHECKSUM), follower reads,
 * redis-cli -c following -MOVED, leader kill -9 with no acknowledged event
 * lost, restart and catch-up, catch-up by snapshot install,
 * read-your-writes on a follower held back with SIGSTOP, linearizable reads
 * after a leader change, the -STALE guard, the leader refusing writes a
 * follower's smaller store could not take, idempotency keys across leader
 * changes and restarts, the replicated CONFIG settings, a stopping
 * leader handing leadership over, and a killed leader replaced within a
 * fraction of the election timeout. Membership is
 * in test_membership.c.
 *
 * Every wait polls an observable condition (STATUS) with a deadline. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "cluster.h"
#include "harness.h"

enum { N = 3 };

/* ---- tests --------------------------------------------------------------- */


static void test_replication_and_follower_reads(void **state)
{
    struct cluster c;
    cluster_start(&c, *state, N, NULL);
    char *last = NULL;
    for (int i = 0; i < 20; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        free(last);
        last = cluster_add_ok(&c, "repl", v, "Replicated");
    }
    cluster_assert_converged(&c, last);
    /* A pipelined burst: raft 0.22.1 produces one AppendEntries per entry
     * per follower while the follower is in pipeline mode, and sendq
     * (src/raftio/sendq.c) sends what one loop turn produced as one
     * message; the entries still arrive whole and in order. A follower
     * that answered nothing during one leader tick is put back in probe
     * mode, where raft itself sends one batched message per heartbeat; a
     * burst that lands then shows no per-entry messages to coalesce, so
     * the check is made on a burst raft sent entry by entry (bounded). */
    size_t l = cluster_leader(&c);
    bool coalesced = false;
    int bursts = 0;
    while (!coalesced && bursts < 5) {
        int64_t produced0 = cluster_node_status_int(c.n[l], "append_messages");
        int64_t sent0 = cluster_node_status_int(c.n[l], "append_messages_sent");
        int64_t appends0 = cluster_node_status_int(c.n[l], "log_appends");
        int64_t written0 = cluster_node_status_int(c.n[l], "log_appends_written");
        free(last);
        last = cluster_node_write_events(c.n[l], "burst", 300);
        bursts++;
        cluster_assert_converged(&c, last);
        int64_t produced = cluster_node_status_int(c.n[l], "append_messages") - produced0;
        int64_t sent = cluster_node_status_int(c.n[l], "append_messages_sent") - sent0;
        assert_true(sent <= produced);
        /* The leader's own log: raft asked for one append per entry, and
         * appendq (src/raftio/appendq.c) handed raft_uv those of a loop
         * turn as one; 300 pipelined ADDs arrive in a few turns. */
        int64_t appends = cluster_node_status_int(c.n[l], "log_appends") - appends0;
        int64_t written = cluster_node_status_int(c.n[l], "log_appends_written") - written0;
        assert_true(appends >= 300);
        assert_true(written >= 1 && written * 4 <= appends);
        if (produced >= 2 * 300) {
            assert_true(sent < produced / 4);
            coalesced = true;
        }
    }
    assert_true(coalesced);
    /* Every node serves the streams from its own store. */
    for (size_t i = 0; i < N; i++) {
        json_t *events = cluster_node_get(c.n[i], "{\"stream\":\"repl\"}");
        assert_int_equal(json_array_size(events), 20);
        json_decref(events);
        events = cluster_node_get(c.n[i], "{\"stream\":\"burst\",\"limit\":2000}");
        assert_int_equal(json_array_size(events), (size_t)bursts * 300);
        for (size_t k = 0; k < json_array_size(events); k++)
            assert_int_equal(json_integer_value(json_object_get(json_array_get(events, k), "version")), k);
        json_decref(events);
    }
    free(last);
    harness_pass(*state);
}

static void test_follower_redirects(void **state)
{
    struct cluster c;
    cluster_start(&c, *state, N, NULL);
    size_t l = cluster_leader(&c);
    size_t f = (l + 1) % N;
    struct resp_value v;
    assert_int_equal(cluster_node_add(c.n[f], "moved", "0", "T", &v), 0);
    /* The slot is the one a Redis Cluster client computes for the ADD's
     * JSON argument, its key in COMMAND (docs/protocol.md). */
    char *json = cluster_add_json("moved", "0", "T");
    struct harness_conn *fc = harness_connect(c.n[f]);
    assert_non_null(fc);
    struct resp_value slot;
    assert_int_equal(harness_cmd(fc, &slot, "CLUSTER", "KEYSLOT", json, NULL), 0);
    assert_int_equal(slot.type, RESP_T_INT);
    harness_close(fc);
    free(json);
    char expected[64];
    snprintf(expected, sizeof expected, "MOVED %" PRId64 " 127.0.0.1:%u", slot.integer, c.n[l]->port);
    harness_assert_error(&v, expected);
    resp_value_free(&v);
    resp_value_free(&slot);

    /* redis-cli -c follows the redirect to the leader. */
    char *arg = cluster_add_json("moved", "0", "ViaRedirect");
    int code = -1;
    char *out = harness_redis_cli(c.n[f], NULL, &code, "-c", "ADD", arg, NULL);
    free(arg);
    assert_non_null(out);
    assert_int_equal(code, 0);
    assert_non_null(strstr(out, "ViaRedirect"));
    free(out);
    harness_pass(*state);
}

static void test_leader_kill_no_loss_and_catch_up(void **state)
{
    struct cluster c;
    cluster_start(&c, *state, N, NULL);
    char *ids[40] = {0};
    for (int i = 0; i < 20; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        ids[i] = cluster_add_ok(&c, "failover", v, "BeforeKill");
    }
    size_t old = cluster_leader(&c);
    harness_assert_kill(c.n[old]);
    /* A new leader accepts writes without caller-visible loss. */
    for (int i = 20; i < 40; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        ids[i] = cluster_add_ok(&c, "failover", v, "AfterKill");
    }
    size_t now = cluster_leader(&c);
    assert_int_not_equal(now, old);
    json_t *events = cluster_node_get(c.n[now], "{\"stream\":\"failover\"}");
    assert_int_equal(json_array_size(events), 40);
    for (int i = 0; i < 40; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(events, (size_t)i), "id")), ids[i]);
    json_decref(events);

    /* The old leader restarts as a follower and catches up. */
    assert_int_equal(harness_node_start(c.n[old]), 0);
    cluster_assert_converged(&c, ids[39]);
    json_t *st = harness_status(c.n[old]);
    assert_non_null(st);
    assert_string_not_equal(json_string_value(json_object_get(st, "state")), "leader");
    json_decref(st);
    for (int i = 0; i < 40; i++)
        free(ids[i]);
    harness_pass(*state);
}

static bool snapshot_taken(const json_t *st, void *arg)
{
    (void)arg;
    return json_integer_value(json_object_get(st, "snapshot_index")) > 0;
}

/* arg: the int64_t snapshot index to reach. */
static bool snapshot_at_least(const json_t *st, void *arg)
{
    return json_integer_value(json_object_get(st, "snapshot_index")) >= *(const int64_t *)arg;
}

/* Snapshots every 64 entries keeping 16: a follower that misses a few
 * hundred writes needs a snapshot to catch up. */
static const char *const snapshot_often[] = {"--snapshot-threshold", "64", "--snapshot-trailing", "16", NULL};

static void test_catch_up_by_snapshot(void **state)
{
    struct cluster c;
    cluster_start(&c, *state, N, snapshot_often);
    size_t l = cluster_leader(&c);
    size_t f = (l + 1) % N;
    harness_assert_stop(c.n[f]);
    /* Far more entries than threshold + trailing while the follower is down:
     * the leader's log no longer holds what the follower misses. Written in
     * two rounds, each followed by a snapshot: AppendEntries raft queued
     * for the down follower early on (raft_uv keeps a few while it
     * reconnects) may still reach it and carry it some way, but not past
     * the second round, which the leader's log has dropped by then. */
    char *first = cluster_node_write_events(c.n[l], "snap", 300);
    free(first);
    assert_int_equal(harness_wait_status(c.n[l], snapshot_taken, NULL, CLUSTER_WAIT_MS), 0);
    int64_t first_snapshot = cluster_node_status_int(c.n[l], "snapshot_index");
    char *last = cluster_node_write_events(c.n[l], "snap", 300);
    int64_t later = first_snapshot + 200;
    assert_int_equal(harness_wait_status(c.n[l], snapshot_at_least, &later, CLUSTER_WAIT_MS), 0);

    assert_int_equal(harness_node_start(c.n[f]), 0);
    cluster_assert_converged(&c, last);
    /* It caught up through a snapshot install: its raft log starts at one. */
    assert_int_equal(harness_wait_status(c.n[f], snapshot_taken, NULL, CLUSTER_WAIT_MS), 0);
    json_t *events = cluster_node_get(c.n[f], "{\"stream\":\"snap\",\"limit\":1000}");
    assert_int_equal(json_array_size(events), 600);
    json_decref(events);
    /* The snapshot was a header: the state itself came as a copy of a
     * peer's store, fetched in bounded chunks. */
    assert_true(cluster_node_status_int(c.n[f], "state_fetches") >= 1);
    assert_true(cluster_node_status_int(c.n[f], "state_fetched_bytes") > 0);
    int64_t served = 0;
    for (size_t i = 0; i < N; i++)
        if (i != f)
            served += cluster_node_status_int(c.n[i], "state_copies_served");
    assert_true(served >= 1);
    free(last);
    harness_pass(*state);
}

/* A follower whose store was lost (its raft directory kept, the raft log
 * compacted behind a snapshot) gets the state back from a peer at start. */
static void test_lost_store_refetched(void **state)
{
    struct cluster c;
    cluster_start(&c, *state, N, snapshot_often);
    size_t l = cluster_leader(&c);
    size_t f = (l + 1) % N;
    /* Write until the follower has taken snapshots of its own, so its log
     * no longer holds the early entries (followers snapshot only after
     * steady contact with the leader, see fsm.c). */
    char *last = NULL;
    int written = 0;
    int64_t deadline = harness_now_ms() + CLUSTER_WAIT_MS;
    for (;;) {
        free(last);
        last = cluster_node_write_events(c.n[l], "lost", 40);
        written += 40;
        json_t *st = harness_status(c.n[f]);
        assert_non_null(st);
        bool snapped = json_integer_value(json_object_get(st, "snapshot_index")) > 64;
        json_decref(st);
        if (snapped)
            break;
        assert_true(harness_now_ms() < deadline);
    }
    cluster_assert_converged(&c, last);
    harness_assert_stop(c.n[f]);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/store'", c.n[f]->data_dir);
    assert_int_equal(system(cmd), 0);

    assert_int_equal(harness_node_start(c.n[f]), 0);
    cluster_assert_converged(&c, last);
    assert_int_equal(cluster_node_status_int(c.n[f], "state_fetches"), 1);
    /* Every event, counted (a GET answers at most --max-read, 10000, and a
     * slow machine writes more before the follower snapshots) and the
     * last one read. */
    assert_int_equal(cluster_node_status_int(c.n[f], "events"), written);
    char get_last[96];
    snprintf(get_last, sizeof get_last, "{\"stream\":\"lost\",\"version\":%d}", written - 1);
    json_t *events = cluster_node_get(c.n[f], get_last);
    assert_int_equal(json_array_size(events), 1);
    json_decref(events);
    free(last);
    harness_pass(*state);
}

static void test_read_your_writes_on_paused_follower(void **state)
{
    struct cluster c;
    cluster_start(&c, *state, N, NULL);
    size_t l = cluster_leader(&c);
    size_t f = (l + 1) % N;
    /* Hold the follower back: it is stopped while the write commits on the
     * other two, so it cannot have applied it when the read arrives. */
    assert_int_equal(kill(c.n[f]->pid, SIGSTOP), 0);
    char *id = cluster_add_ok(&c, "ryw", "0", "Mine");
    struct harness_conn *conn = harness_connect(c.n[f]); /* the kernel accepts it */
    assert_non_null(conn);
    char arg[256];
    snprintf(arg, sizeof arg, "{\"stream\":\"ryw\",\"min_id\":\"%s\",\"timeout_ms\":10000}", id);
    assert_int_equal(harness_send(conn, "GET", arg, NULL), 0);
    assert_int_equal(kill(c.n[f]->pid, SIGCONT), 0);
    struct resp_value v;
    assert_int_equal(harness_read(conn, &v), 1);
    json_t *events = harness_assert_events(&v);
    assert_int_equal(json_array_size(events), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(events, 0), "id")), id);
    json_decref(events);
    resp_value_free(&v);
    harness_close(conn);
    free(id);
    harness_pass(*state);
}

static void test_linearizable_read_after_leader_change(void **state)
{
    struct cluster c;
    cluster_start(&c, *state, N, NULL);
    char *ids[10];
    for (int i = 0; i < 10; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        ids[i] = cluster_add_ok(&c, "lin", v, "T");
    }
    size_t old = cluster_leader(&c);
    harness_assert_kill(c.n[old]);
    size_t now = cluster_leader(&c);
    /* The new leader answers with every acknowledged event. */
    json_t *events = cluster_node_get(c.n[now], "{\"stream\":\"lin\",\"consistency\":\"linearizable\"}");
    assert_int_equal(json_array_size(events), 10);
    assert_string_equal(json_string_value(json_object_get(json_array_get(events, 9), "id")), ids[9]);
    json_decref(events);
    /* A follower redirects linearizable reads to the leader. */
    size_t f = 0;
    while (f == old || f == now)
        f++;
    struct harness_conn *conn = harness_connect(c.n[f]);
    assert_non_null(conn);
    struct resp_value v;
    assert_int_equal(harness_cmd(conn, &v, "GET", "{\"stream\":\"lin\",\"consistency\":\"linearizable\"}", NULL), 0);
    harness_assert_error_prefix(&v, "MOVED ");
    resp_value_free(&v);
    harness_close(conn);
    for (int i = 0; i < 10; i++)
        free(ids[i]);
    /* The old leader comes back as a follower of the new one. */
    assert_int_equal(harness_node_start(c.n[old]), 0);
    assert_int_equal(harness_wait_status(c.n[old], cluster_has_leader, NULL, CLUSTER_WAIT_MS), 0);
    harness_pass(*state);
}

static bool is_stale(const json_t *st, void *arg)
{
    (void)arg;
    return json_is_true(json_object_get(st, "stale"));
}

/* SIGSTOP or SIGCONT two nodes: how a test takes every leader away from the
 * third node and gives it back. */
static void signal_two(struct cluster *c, size_t a, size_t b, int sig)
{
    assert_int_equal(kill(c->n[a]->pid, sig), 0);
    assert_int_equal(kill(c->n[b]->pid, sig), 0);
}

static bool answers(const json_t *st, void *arg)
{
    (void)st;
    (void)arg;
    return true;
}

static bool caught_up(const json_t *st, void *arg)
{
    (void)arg;
    return json_is_true(json_object_get(st, "caught_up"));
}

/* A node's reads see its store's open batch, which a kill -9 loses; the
 * entries come back from raft's log only once a leader tells the node the
 * commit index. Until it has applied again everything its replies
 * reflected (src/node/served.c), a restarted node refuses local reads
 * instead of answering from the past. */
static void test_restarted_node_never_reads_back_in_time(void **state)
{
    struct cluster c;
    cluster_start(&c, *state, N, NULL);
    size_t l = cluster_leader(&c);
    size_t f = (l + 1) % N, other = (l + 2) % N;
    char *last = cluster_node_write_events(c.n[l], "mono", 50);
    char arg[256];
    snprintf(arg, sizeof arg, "{\"stream\":\"mono\",\"min_id\":\"%s\",\"timeout_ms\":10000}", last);
    json_t *events = cluster_node_get(c.n[f], arg);
    assert_int_equal(json_array_size(events), 50);
    json_decref(events);

    /* Restart the follower with no leader reachable. */
    harness_assert_kill(c.n[f]);
    signal_two(&c, l, other, SIGSTOP);
    assert_int_equal(harness_node_start(c.n[f]), 0);
    assert_int_equal(harness_wait_status(c.n[f], answers, NULL, CLUSTER_WAIT_MS), 0);
    struct harness_conn *conn = harness_connect(c.n[f]);
    assert_non_null(conn);
    struct resp_value v;
    assert_int_equal(harness_cmd(conn, &v, "GET", "{\"stream\":\"mono\"}", NULL), 0);
    harness_assert_error_prefix(&v, "STALE this node restarted");
    resp_value_free(&v);
    /* The counters, CHECKSUM and SIZE would go back in time just the same
     * (they answered 50 events before the kill): refused too, and with no
     * stale_ok to offer, since they take no arguments. */
    static const char *const local_state[] = {"EVENTCOUNT", "EC",   "EVENTCOUNTEST", "STREAMCOUNT",
                                              "SCE",        "CHECKSUM", "SIZE"};
    for (size_t i = 0; i < sizeof local_state / sizeof local_state[0]; i++) {
        assert_int_equal(harness_cmd(conn, &v, local_state[i], NULL), 0);
        harness_assert_error_prefix(&v, "STALE this node restarted");
        assert_null(strstr(v.str, "stale_ok"));
        resp_value_free(&v);
    }
    json_t *st = harness_status(c.n[f]);
    assert_non_null(st);
    assert_false(caught_up(st, NULL));
    json_decref(st);

    /* Once the leader is back, the node re-applies and serves all 50. */
    signal_two(&c, l, other, SIGCONT);
    assert_int_equal(harness_wait_status(c.n[f], caught_up, NULL, CLUSTER_WAIT_MS), 0);
    assert_int_equal(harness_cmd(conn, &v, "GET", "{\"stream\":\"mono\",\"limit\":100}", NULL), 0);
    events = harness_assert_events(&v);
    assert_int_equal(json_array_size(events), 50);
    json_decref(events);
    resp_value_free(&v);
    HARNESS_EXPECT(conn, ":50", "EVENTCOUNT");
    harness_close(conn);
    free(last);
    harness_pass(*state);
}

static void test_stale_follower_says_so(void **state)
{
    static const char *const args[] = {"--max-staleness", "500", NULL};
    struct cluster c;
    cluster_start(&c, *state, N, args);
    char *id = cluster_add_ok(&c, "stale", "0", "T");
    cluster_assert_converged(&c, id);
    free(id);
    size_t l = cluster_leader(&c);
    size_t f = (l + 1) % N, other = (l + 2) % N;
    /* Cut the follower off from every leader: stop the other two. */
    signal_two(&c, l, other, SIGSTOP);
    assert_int_equal(harness_wait_status(c.n[f], is_stale, NULL, CLUSTER_WAIT_MS), 0);
    struct harness_conn *conn = harness_connect(c.n[f]);
    assert_non_null(conn);
    struct resp_value v;
    assert_int_equal(harness_cmd(conn, &v, "GET", "{\"stream\":\"stale\"}", NULL), 0);
    harness_assert_error_prefix(&v, "STALE ");
    resp_value_free(&v);
    assert_int_equal(harness_cmd(conn, &v, "GET", "{\"stream\":\"stale\",\"stale_ok\":true}", NULL), 0);
    json_t *events = harness_assert_events(&v);
    assert_int_equal(json_array_size(events), 1);
    json_decref(events);
    resp_value_free(&v);
    harness_close(conn);
    signal_two(&c, l, other, SIGCONT);
    assert_int_equal(harness_wait_status(c.n[f], cluster_has_leader, NULL, CLUSTER_WAIT_MS), 0);
    harness_pass(*state);
}

static bool room_reports_2(const json_t *st, void *arg)
{
    (void)arg;
    return json_integer_value(json_object_get(st, "member_room_reports")) == 2;
}

static bool leads_ready(const json_t *st, void *arg)
{
    (void)arg;
    const char *state = json_string_value(json_object_get(st, "state"));
    return state != NULL && strcmp(state, "leader") == 0 && json_is_true(json_object_get(st, "ready"));
}

/* SIGTERM on the leader hands leadership over before the process exits
 * (src/node/handover.c), to the voter most caught up: one follower is
 * frozen while writes commit without it, so the other is the only right
 * choice. The frozen one thaws once the old leader is gone, so that the
 * heir keeps a quorum. */
static void test_stopping_leader_hands_over(void **state)
{
    struct cluster c;
    cluster_start(&c, *state, N, NULL);
    size_t l = cluster_leader(&c);
    size_t frozen = (l + 1) % N, heir = (l + 2) % N;
    /* The leader hands over only to a member that answered its room poll
     * lately: wait until both have. */
    assert_int_equal(harness_wait_status(c.n[l], room_reports_2, NULL, CLUSTER_WAIT_MS), 0);
    assert_int_equal(kill(c.n[frozen]->pid, SIGSTOP), 0);
    /* Committed by the leader and the heir alone: the frozen member's log
     * is behind, so it cannot be the one chosen. */
    char *acked = cluster_node_write_events(c.n[l], "handover", 3);
    int64_t term = cluster_node_status_int(c.n[l], "term");

    harness_assert_stop(c.n[l]);
    assert_int_equal(kill(c.n[frozen]->pid, SIGCONT), 0);
    char want[64];
    snprintf(want, sizeof want, "handed leadership to node %u ", c.n[heir]->id);
    assert_true(harness_node_log_line(c.n[l], want, NULL, 0));
    assert_int_equal(harness_wait_status(c.n[heir], leads_ready, NULL, CLUSTER_WAIT_MS), 0);
    /* One election, the one the handover started. */
    assert_int_equal(cluster_node_status_int(c.n[heir], "term"), term + 1);

    /* Nothing acknowledged was lost, and the new leader takes writes. */
    char *next = cluster_node_write_events(c.n[heir], "handover", 1);
    json_t *got = cluster_node_get(c.n[heir], "{\"stream\":\"handover\"}");
    assert_int_equal(json_array_size(got), 4);
    assert_string_equal(json_string_value(json_object_get(json_array_get(got, 2), "id")), acked);
    assert_string_equal(json_string_value(json_object_get(json_array_get(got, 3), "id")), next);
    json_decref(got);
    free(acked);
    free(next);
    harness_pass(*state);
}

/* kill -9 of the leader: its followers see its connections close and
 * shorten their election timeout (src/node/role.c), so a new leader comes
 * well within the configured timeout, which alone would take 3 to 6 s
 * here. */
static void test_killed_leader_found_fast(void **state)
{
    static const char *const slow[] = {"--election-timeout", "3000", NULL};
    struct cluster c;
    cluster_start(&c, *state, N, slow);
    size_t l = cluster_leader(&c);
    char *acked = cluster_node_write_events(c.n[l], "fast", 5);
    int64_t term = cluster_node_status_int(c.n[l], "term");
    int64_t t0 = harness_now_ms();
    harness_assert_kill(c.n[l]);
    size_t a = (l + 1) % N, b = (l + 2) % N;
    /* The first campaign: a follower turned candidate (pre-vote included)
     * or already past the old term. Only when it starts is the feature's
     * to decide; how many rounds a split vote then takes is raft's. */
    int64_t campaign = -1;
    size_t heir = N;
    while (heir == N && harness_now_ms() - t0 < 20000) {
        json_t *st[2] = {harness_status(c.n[a]), harness_status(c.n[b])};
        for (int i = 0; i < 2; i++) {
            if (st[i] == NULL)
                continue;
            const char *role = json_string_value(json_object_get(st[i], "state"));
            bool campaigning = (role != NULL && strcmp(role, "follower") != 0) ||
                               json_integer_value(json_object_get(st[i], "term")) > term;
            if (campaign < 0 && campaigning)
                campaign = harness_now_ms() - t0;
            if (leads_ready(st[i], NULL))
                heir = i == 0 ? a : b;
            json_decref(st[i]);
        }
        if (heir == N)
            cluster_poll_pause();
    }
    assert_int_not_equal(heir, N);
    assert_true(campaign >= 0);
    /* The configured timeout cannot run out before 2900 ms (3000 after
     * the last heartbeat, which came at most 100 ms before the kill): only
     * the shortened one (600 to 1200 ms) starts a campaign sooner. */
    if (campaign >= 2900)
        fail_msg("the first campaign came %" PRId64 " ms after the kill", campaign);
    assert_true(cluster_node_status_int(c.n[heir], "term") > term);
    char want[64];
    snprintf(want, sizeof want, "the leader's (node %u) connection closed", c.n[l]->id);
    assert_true(harness_node_log_line(c.n[heir], want, NULL, 0));
    json_t *got = cluster_node_get(c.n[heir], "{\"stream\":\"fast\"}");
    assert_int_equal(json_array_size(got), 5);
    assert_string_equal(json_string_value(json_object_get(json_array_get(got, 4), "id")), acked);
    json_decref(got);
    free(acked);
    harness_pass(*state);
}

/* A follower whose store is far smaller than the leader's: the leader
 * refuses ADDs with -FULL naming it before it fills up. Without that check
 * the follower stops on the first entry it cannot apply, and again at every
 * restart, while the leader goes on acknowledging writes. */
static void test_full_follower_refuses_writes(void **state)
{
    static const char *const small[] = {"--map-size", "2097152", NULL};
    const char *const *args[N] = {NULL, NULL, small};
    struct cluster c;
    cluster_start_each(&c, *state, N, args);
    size_t l = cluster_leader(&c);
    if (l == 2) {
        cluster_transfer_ok(&c, 0);
        l = cluster_leader(&c);
    }
    assert_int_not_equal(l, 2);
    /* The leader counts a member once it holds its report. */
    assert_int_equal(harness_wait_status(c.n[l], room_reports_2, NULL, CLUSTER_WAIT_MS), 0);

    /* 1 KiB of data per event: node 3's 2 MiB map holds a few hundred. */
    char data[1100];
    memset(data, 'x', 1024);
    data[1024] = '\0';
    char arg[1400];
    struct harness_conn *conn = harness_connect(c.n[l]);
    assert_non_null(conn);
    int64_t acked = 0;
    char *last = NULL;
    bool full = false;
    for (int i = 0; i < 4000 && !full; i++) {
        snprintf(arg, sizeof arg, "{\"stream\":\"fill\",\"version\":%lld,\"events\":[{\"type\":\"T\",\"data\":\"%s\"}]}",
                 (long long)acked, data);
        struct resp_value v;
        assert_int_equal(harness_cmd(conn, &v, "ADD", arg, NULL), 0);
        if (v.type == RESP_T_ARRAY) {
            json_t *events = harness_assert_events(&v);
            free(last);
            last = strdup(json_string_value(json_object_get(json_array_get(events, 0), "id")));
            json_decref(events);
            acked++;
        } else {
            harness_assert_error_prefix(&v, "FULL member 3's store is nearly full");
            full = true;
        }
        resp_value_free(&v);
    }
    assert_true(full);
    assert_true(acked > 100);
    struct resp_value v;
    assert_int_equal(harness_cmd(conn, &v, "ADD", arg, NULL), 0);
    harness_assert_error_prefix(&v, "FULL member 3's");
    resp_value_free(&v);
    harness_close(conn);

    /* Node 3 applied everything acknowledged and is still running. */
    cluster_assert_converged(&c, last);
    assert_true(harness_node_alive(c.n[2]));
    for (size_t i = 0; i < N; i++)
        assert_int_equal(cluster_node_status_int(c.n[i], "events"), acked);
    free(last);
    harness_pass(*state);
}

/* The reply of the command on n, rendered (caller frees); "<no
 * connection>" while n does not accept connections. */
static char *node_cmd_repr(struct harness_node *n, const char *name, const char *a1, const char *a2, const char *a3)
{
    struct harness_conn *conn = harness_connect(n);
    if (conn == NULL)
        return strdup("<no connection>");
    char *r = harness_cmd_repr(conn, name, a1, a2, a3, NULL);
    harness_close(conn);
    return r;
}

static const char placed[] =
    "{\"stream\":\"orders-1\",\"version\":\"any\",\"events\":[{\"type\":\"OrderPlaced\",\"key\":\"k-1\"}]}";
static const char refund[] =
    "{\"stream\":\"refunds-9\",\"version\":0,\"events\":[{\"type\":\"RefundIssued\",\"key\":\"k-1\"}]}";

/* The id of the one event an ADD reply holds (caller frees). */
static char *only_event_id(const struct resp_value *v)
{
    json_t *events = harness_assert_events(v);
    assert_int_equal(json_array_size(events), 1);
    char *id = strdup(json_string_value(json_object_get(json_array_get(events, 0), "id")));
    json_decref(events);
    return id;
}

/* On node n (the leader): the key reused for another event is refused and
 * the retry of the first ADD answers with its first event, `first_id`. */
static void assert_key_answers(struct harness_node *n, const char *first_id)
{
    struct harness_conn *conn = harness_connect(n);
    assert_non_null(conn);
    struct resp_value v;
    assert_int_equal(harness_cmd(conn, &v, "ADD", refund, NULL), 0);
    harness_assert_error_prefix(&v, "KEYREUSE idempotency key \"k-1\" was used before with a different stream");
    resp_value_free(&v);
    assert_int_equal(harness_cmd(conn, &v, "ADD", placed, NULL), 0);
    char *id = only_event_id(&v);
    resp_value_free(&v);
    assert_string_equal(id, first_id);
    free(id);
    harness_close(conn);
}

/* Idempotency keys are part of the replicated state: after the leader that
 * applied a key is killed, the new leader refuses the key for another event
 * and answers the retry with the original; so does every node after the
 * whole cluster restarted, and no node holds the refused event. */
static void test_idempotency_keys_across_leader_changes(void **state)
{
    struct cluster c;
    cluster_start(&c, *state, N, NULL);
    size_t l = cluster_leader(&c);
    struct harness_conn *conn = harness_connect(c.n[l]);
    assert_non_null(conn);
    struct resp_value v;
    assert_int_equal(harness_cmd(conn, &v, "ADD", placed, NULL), 0);
    char *first = only_event_id(&v);
    resp_value_free(&v);
    harness_close(conn);

    harness_assert_kill(c.n[l]);
    size_t next = cluster_leader(&c);
    assert_key_answers(c.n[next], first);
    assert_int_equal(harness_node_start(c.n[l]), 0);
    cluster_assert_converged(&c, first);

    for (size_t i = 0; i < N; i++)
        harness_assert_stop(c.n[i]);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(harness_node_start(c.n[i]), 0);
    assert_key_answers(c.n[cluster_leader(&c)], first);
    char *last = cluster_add_ok(&c, "after", "0", "T");
    cluster_assert_converged(&c, last);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(cluster_node_status_int(c.n[i], "events"), 2);
        json_t *events = cluster_node_get(c.n[i], "{\"stream\":\"refunds-9\"}");
        assert_int_equal(json_array_size(events), 0);
        json_decref(events);
    }
    free(first);
    free(last);
    harness_pass(*state);
}

/* Poll until n answers CONFIG GET dedup-window with `want`. */
static void wait_window(struct harness_node *n, const char *want)
{
    char expect[64];
    snprintf(expect, sizeof expect, "[\"dedup-window\", \"%s\"]", want);
    int64_t until = harness_now_ms() + CLUSTER_WAIT_MS;
    for (;;) {
        char *r = node_cmd_repr(n, "CONFIG", "GET", "dedup-window", NULL);
        bool done = strcmp(r, expect) == 0;
        if (!done && harness_now_ms() >= until)
            assert_string_equal(r, expect);
        free(r);
        if (done)
            return;
        cluster_poll_pause();
    }
}

/* The idempotency-key window is the cluster's: the first leader records its
 * --dedup-window, CONFIG SET changes it on the leader only, every node
 * applies the change, and a key forgotten on one node is forgotten on all
 * (their checksums stay equal after re-appending it). */
static void test_config_settings_replicated(void **state)
{
    static const char *const window[] = {"--dedup-window", "3", NULL};
    struct cluster c;
    cluster_start(&c, *state, N, window);
    size_t l = cluster_leader(&c);
    for (size_t i = 0; i < N; i++)
        wait_window(c.n[i], "3");
    size_t f = (l + 1) % N;
    char *r = node_cmd_repr(c.n[f], "CONFIG", "SET", "dedup-window", "2");
    assert_true(strncmp(r, "-MOVED 0 127.0.0.1:", 19) == 0);
    free(r);
    r = node_cmd_repr(c.n[l], "CONFIG", "SET", "dedup-window", "2");
    assert_string_equal(r, "+OK");
    free(r);
    r = node_cmd_repr(c.n[l], "CONFIG", "GET", "dedup-window", NULL);
    assert_string_equal(r, "[\"dedup-window\", \"2\"]");
    free(r);
    for (size_t i = 0; i < N; i++)
        wait_window(c.n[i], "2");

    /* Three keys with a window of two: the first is forgotten everywhere,
     * so its ADD appends again; the last still answers as a retry. */
    static const char *const keyed[] = {
        "{\"stream\":\"w\",\"version\":\"any\",\"events\":[{\"type\":\"t\",\"key\":\"a\"}]}",
        "{\"stream\":\"w\",\"version\":\"any\",\"events\":[{\"type\":\"t\",\"key\":\"b\"}]}",
        "{\"stream\":\"w\",\"version\":\"any\",\"events\":[{\"type\":\"t\",\"key\":\"c\"}]}",
    };
    struct harness_conn *conn = harness_connect(c.n[l]);
    assert_non_null(conn);
    struct resp_value v;
    char *ids[3];
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(harness_cmd(conn, &v, "ADD", keyed[i], NULL), 0);
        ids[i] = only_event_id(&v);
        resp_value_free(&v);
    }
    assert_int_equal(harness_cmd(conn, &v, "ADD", keyed[0], NULL), 0);
    char *again = only_event_id(&v);
    resp_value_free(&v);
    assert_string_not_equal(again, ids[0]);
    assert_int_equal(harness_cmd(conn, &v, "ADD", keyed[2], NULL), 0);
    char *retry = only_event_id(&v);
    resp_value_free(&v);
    assert_string_equal(retry, ids[2]);
    harness_close(conn);
    cluster_assert_converged(&c, again);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(cluster_node_status_int(c.n[i], "events"), 4);
        assert_int_equal(cluster_node_status_int(c.n[i], "dedup_window"), 2);
    }

    /* A restarted follower keeps the window the log set. */
    harness_assert_stop(c.n[f]);
    assert_int_equal(harness_node_start(c.n[f]), 0);
    wait_window(c.n[f], "2");
    for (size_t i = 0; i < 3; i++)
        free(ids[i]);
    free(again);
    free(retry);
    harness_pass(*state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replication_and_follower_reads, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_follower_redirects, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_leader_kill_no_loss_and_catch_up, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_catch_up_by_snapshot, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_lost_store_refetched, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_read_your_writes_on_paused_follower, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_linearizable_read_after_leader_change, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_restarted_node_never_reads_back_in_time, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_stale_follower_says_so, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_stopping_leader_hands_over, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_killed_leader_found_fast, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_full_follower_refuses_writes, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_idempotency_keys_across_leader_changes, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_config_settings_replicated, harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests_name("cluster", tests, NULL, NULL);
}
