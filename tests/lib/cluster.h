/* cluster.h - several real eventflowd nodes run as one cluster by a cmocka
 * test (on top of harness.h): start them together, find the ready leader,
 * write through it, wait for every node to converge, and the membership
 * checks the cluster tests share.
 *
 * Every wait polls an observable condition (STATUS, CLUSTER MEMBERS) with
 * a deadline of CLUSTER_WAIT_MS; the helpers fail the current cmocka test
 * on failure unless they return a status. Loop of the test's main thread
 * only, like the harness. */
#ifndef EVENTFLOW_TEST_CLUSTER_H
#define EVENTFLOW_TEST_CLUSTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

#define CLUSTER_WAIT_MS 20000

/* Nodes of one cluster; n[i] is NULL once a test dropped it. */
struct cluster {
    struct harness_fixture *f;
    struct harness_node *n[HARNESS_MAX_NODES];
    size_t count;
    char members[1024]; /* the --cluster list they bootstrapped with */
};

/* Create and start n nodes that bootstrap together, node i with opts[i]
 * (its id is set to i + 1; opts may be NULL). Does not wait for a leader. */
void cluster_start_opts(struct cluster *c, struct harness_fixture *f, size_t n, const struct harness_node_opts *opts);
/* The same, with args[i] node i's extra flags (args or args[i] may be
 * NULL). */
void cluster_start_each(struct cluster *c, struct harness_fixture *f, size_t n,
                        const char *const *const *args);
/* The same extra flags (may be NULL) for every node. */
void cluster_start(struct cluster *c, struct harness_fixture *f, size_t n, const char *const *args);

/* The nodes' client addresses as an endpoint list ("127.0.0.1:p1,...")
 * into out (truncated to cap). */
void cluster_endpoints(const struct cluster *c, char *out, size_t cap);

/* Index of the ready leader among the running nodes, waiting for one. */
size_t cluster_leader(struct cluster *c);

/* ADD {stream, version, one event of `type`} on the leader, asserting
 * success; returns the stored event's id (caller frees). version is JSON:
 * "0", "\"any\"". */
char *cluster_add_ok(struct cluster *c, const char *stream, const char *version, const char *type);

/* Wait until every running node has applied last_id, then assert that all
 * report the same CHECKSUM and that none refused a raft message
 * (raft_frames_refused). */
void cluster_assert_converged(struct cluster *c, const char *last_id);
/* Poll every running node's CHECKSUM STATE until all stand at one applied
 * index, and check that they report one state digest (the groups' and
 * users' state, which CHECKSUM does not cover) from one start. */
void cluster_assert_state_converged(struct cluster *c);

/* Move leadership to c->n[target], asking again on -TRYAGAIN. */
void cluster_transfer_ok(struct cluster *c, size_t target);

/* STATUS predicate: a leader is known. */
bool cluster_has_leader(const json_t *st, void *arg);

/* The pause between two polls of a condition (20 ms). */
void cluster_poll_pause(void);

/* ---- one node --------------------------------------------------------- */

/* The ADD argument cluster_node_add sends (caller frees). */
char *cluster_add_json(const char *stream, const char *version, const char *type);
/* ADD through n; 0 with the reply in *out (caller frees), or -1. */
int cluster_node_add(struct harness_node *n, const char *stream, const char *version, const char *type,
                     struct resp_value *out);
/* ADD `count` events to `stream` through n, pipelined; returns the id of
 * the last one (caller frees). */
char *cluster_node_write_events(struct harness_node *n, const char *stream, int count);
/* GET with `arg` on n, as a JSON array of events (caller decrefs). */
json_t *cluster_node_get(struct harness_node *n, const char *arg);
/* n's CHECKSUM reply, rendered (caller frees). */
char *cluster_node_checksum(struct harness_node *n);
/* An integer field of n's STATUS. */
int64_t cluster_node_status_int(struct harness_node *n, const char *key);
/* Wait until the node's STATUS counter `key` is at least want. */
void cluster_node_wait_counter(struct harness_node *n, const char *key, int64_t want);
/* Send the command (unused trailing arguments NULL) and assert +OK. */
void cluster_node_expect_ok(struct harness_node *n, const char *a0, const char *a1, const char *a2, const char *a3,
                            const char *a4);

/* Whether n's CLUSTER MEMBERS lists `want` members (of that role, a
 * "\"role\":\"voter\"" substring, or any when NULL). */
bool cluster_node_member_count(struct harness_node *n, size_t want, const char *role);
/* Whether n's CLUSTER MEMBERS lists `want` members, each with a client
 * address, in a committed configuration. */
bool cluster_node_members_addressed(struct harness_node *n, size_t want);
/* Poll until cluster_node_members_addressed holds; fails after
 * CLUSTER_WAIT_MS. */
void cluster_node_wait_members_addressed(struct harness_node *n, size_t want);

/* `foreign`, a running node of another cluster holding `events` events, is
 * kept out of c: CLUSTER ADD on c's leader refuses it, naming why; added
 * anyway under a client address nobody answers at (so the check cannot
 * see it), its promotion fails because both ends refuse each other's raft
 * connections (both logs say so); removed again, foreign's state, term
 * and identity are as they were. */
void cluster_assert_foreign_refused(struct cluster *c, struct harness_node *foreign, unsigned events);

#endif
