/* test_raft_port.c - the raft port refuses outsiders and checks members'
 * messages (src/raftio/raft_tcp.h; docs/operations.md, "The raft port").
 *
 * The test speaks to a node's raft port as raft_uv_tcp does: its
 * handshake (u64 protocol 1, u64 server id, u64 address length padded to
 * 8, the address), then raft messages (raft_frame.h). An outsider who
 * sends a well-formed AppendEntries at a high term is refused before raft
 * reads it; a peer that proves the secret and then sends an AppendEntries
 * whose batch header claims 2^31 entries (which crashes raft 0.22.1's
 * decoder) is cut off; nodes with different secrets never talk. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "cluster.h"
#include "harness.h"
#include "raft_wire.h"
#include "raftio/raft_auth.h"

#define SECRET "raft-port-test-secret-1"
#define OTHER_SECRET "raft-port-test-secret-2"
#define OUTSIDER_ID 9
#define HELLO_BYTES 32

static const char *const with_secret[] = {"--cluster-secret", SECRET, NULL};
static const char *const with_other_secret[] = {"--cluster-secret", OTHER_SECRET, NULL};

static void send_all(int fd, const void *p, size_t n)
{
    assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static int read_exact(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t r = recv(fd, p, n, 0);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static size_t handshake(uint8_t *out)
{
    return raft_wire_handshake(out, OUTSIDER_ID);
}

static size_t append_entries(uint8_t *out, uint64_t term)
{
    return raft_wire_append_entries(out, term);
}

/* The crash: a 40-byte AppendEntries header whose batch claims 2^31
 * entries. */
static size_t crash_frame(uint8_t *out)
{
    memset(out, 0, 16 + 40);
    raft_wire_put64(out, 1);
    raft_wire_put64(out + 8, 40);
    raft_wire_put64(out + 16, 5);
    raft_wire_put64(out + 16 + 32, (uint64_t)1 << 31);
    return 16 + 40;
}

/* Whether the node closes fd within CLUSTER_WAIT_MS (what it sends before
 * is read and dropped). */
static bool closed_by_node(int fd)
{
    int64_t deadline = harness_now_ms() + CLUSTER_WAIT_MS;
    uint8_t sink[256];
    while (harness_now_ms() < deadline) {
        ssize_t r = recv(fd, sink, sizeof sink, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            return true;
    }
    return false;
}

/* The cluster's term and leader, as the leader sees them. */
struct reign {
    size_t leader;
    int64_t term;
};

static struct reign reign_now(struct cluster *c)
{
    size_t l = cluster_leader(c);
    return (struct reign){l, cluster_node_status_int(c->n[l], "term")};
}

static void assert_reign_unchanged(struct cluster *c, struct reign before)
{
    struct reign after = reign_now(c);
    assert_int_equal(after.leader, before.leader);
    assert_int_equal(after.term, before.term);
    for (size_t i = 0; i < c->count; i++) {
        assert_true(harness_node_alive(c->n[i]));
        assert_int_equal(cluster_node_status_int(c->n[i], "term"), before.term);
    }
}

/* An outsider's well-formed handshake and AppendEntries at term 99, in one
 * write as the attack sent them: refused, logged, counted; the term and
 * the leader stay, and the cluster still commits. */
static void test_outsider_refused(void **state)
{
    struct harness_fixture *fx = *state;
    struct cluster c;
    cluster_start(&c, fx, 3, with_secret);
    struct reign before = reign_now(&c);
    free(cluster_add_ok(&c, "before", "0", "T"));
    struct harness_node *leader = c.n[before.leader];

    int fd = harness_dial(leader->raft_port, false);
    assert_true(fd >= 0);
    uint8_t msg[256];
    size_t len = handshake(msg);
    len += append_entries(msg + len, 99);
    send_all(fd, msg, len);
    assert_true(closed_by_node(fd));
    close(fd);

    cluster_node_wait_counter(leader, "raft_peers_unauthenticated", 1);
    assert_true(harness_node_log_says(leader, "it sent raft messages without a hello"));
    assert_reign_unchanged(&c, before);
    char *last = cluster_add_ok(&c, "after", "0", "T");
    cluster_assert_converged(&c, last);
    free(last);
    harness_pass(fx);
}

/* A peer that proves the secret (as raft_tcp's connector does) and then
 * sends the crash frame: the connection is closed before raft decodes it,
 * the node lives, the term and leader stay. */
static void test_crash_frame_from_peer(void **state)
{
    struct harness_fixture *fx = *state;
    struct cluster c;
    cluster_start(&c, fx, 3, with_secret);
    struct reign before = reign_now(&c);
    struct harness_node *leader = c.n[before.leader];

    int fd = harness_dial(leader->raft_port, false);
    assert_true(fd >= 0);
    uint8_t buf[256];
    send_all(fd, buf, handshake(buf));
    /* The acceptor's hello and nonce. */
    uint8_t acceptor_hello[RAFT_AUTH_HELLO_BYTES];
    assert_int_equal(read_exact(fd, acceptor_hello, sizeof acceptor_hello), 0);
    assert_memory_equal(acceptor_hello, "EFHELLO1", 8);
    assert_int_equal(acceptor_hello[9], 2);
    /* Ours: no identity known (accepted by any), a nonce, a proof. */
    uint8_t mine[RAFT_AUTH_HELLO_BYTES + RAFT_AUTH_PROOF_BYTES] = {0};
    memcpy(mine, "EFHELLO1", 8);
    mine[9] = 2;
    assert_int_equal(raft_auth_nonce(mine + HELLO_BYTES), 0);
    struct raft_auth_transcript tr = {.connector_id = OUTSIDER_ID,
                                      .acceptor_id = leader->id,
                                      .acceptor_hello = acceptor_hello,
                                      .connector_hello = mine};
    assert_int_equal(raft_auth_prove((const uint8_t *)SECRET, strlen(SECRET), RAFT_AUTH_CONNECTOR, &tr,
                                     mine + RAFT_AUTH_HELLO_BYTES),
                     0);
    send_all(fd, mine, sizeof mine);
    uint8_t proof[RAFT_AUTH_PROOF_BYTES];
    assert_int_equal(read_exact(fd, proof, sizeof proof), 0);
    assert_true(raft_auth_check((const uint8_t *)SECRET, strlen(SECRET), RAFT_AUTH_ACCEPTOR, &tr, proof));
    /* Accepted as a member: raft reads what follows, after the checks. */
    send_all(fd, buf, crash_frame(buf));
    assert_true(closed_by_node(fd));
    close(fd);

    cluster_node_wait_counter(leader, "raft_frames_refused", 1);
    assert_int_equal(cluster_node_status_int(leader, "raft_peers_unauthenticated"), 0);
    assert_true(harness_node_log_says(leader, "AppendEntries with too many entries"));
    assert_reign_unchanged(&c, before);
    /* The leader still commits (cluster_assert_converged would count the
     * refusal this test caused). */
    free(cluster_add_ok(&c, "after", "0", "T"));
    harness_pass(fx);
}

/* Node 3 has another secret: the other two elect a leader and commit
 * without it; every connection between it and them is refused at both
 * ends, and it never gets an entry. */
static void test_other_secret_never_joins(void **state)
{
    struct harness_fixture *fx = *state;
    struct cluster c;
    const char *const *each[] = {with_secret, with_secret, with_other_secret};
    cluster_start_each(&c, fx, 3, each);
    struct reign r = reign_now(&c);
    assert_true(r.leader != 2);
    free(cluster_add_ok(&c, "ours", "0", "T"));
    /* Refused more than once: it kept trying, and kept being refused. */
    cluster_node_wait_counter(c.n[2], "raft_peers_unauthenticated", 2);
    cluster_node_wait_counter(c.n[r.leader], "raft_peers_unauthenticated", 1);
    assert_true(harness_node_log_says(c.n[2], "proof of the cluster secret is wrong"));
    assert_int_equal(cluster_node_status_int(c.n[2], "events"), 0);
    assert_int_equal(cluster_node_status_int(c.n[2], "leader_id"), 0);
    assert_true(cluster_node_status_int(c.n[r.leader], "events") >= 1);
    harness_pass(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_outsider_refused, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_crash_frame_from_peer, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_other_secret_never_joins, harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests_name("raft_port", tests, NULL, NULL);
}
