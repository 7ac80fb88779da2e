/* test_groups.c - consumer groups against real nodes: consumers sharing a
 * group (each event to exactly one), one turn's operations coalesced into
 * one raft entry, redelivery to another consumer after the ack wait of one
 * that died, parking at max_deliveries and replay, blocking reads woken by
 * an ADD or ended by their deadline, max_ack_pending (a full group's read
 * woken by an ack, not by new events), bad input refused with nothing
 * changed, followers answering -MOVED for group writes and serving INFO,
 * the leader killed with events pending (the new leader serves the group
 * from where it was), and every node restarted.
 *
 * Waits read with the harness's socket timeouts (a blocking GROUP READ
 * answers when its condition holds) or poll GROUP INFO / STATUS with a
 * deadline; nothing sleeps in place of a condition. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cluster.h"
#include "harness.h"

/* ---- helpers ------------------------------------------------------------------ */

/* GROUP sub arg on c; the reply in *v (caller frees). */
static void group_cmd(struct harness_conn *c, struct resp_value *v, const char *sub, const char *arg)
{
    int rc = arg != NULL ? harness_cmd(c, v, "GROUP", sub, arg, NULL) : harness_cmd(c, v, "GROUP", sub, NULL);
    assert_int_equal(rc, 0);
}

static void group_ok(struct harness_conn *c, const char *sub, const char *arg)
{
    struct resp_value v;
    group_cmd(c, &v, sub, arg);
    if (v.type != RESP_T_SIMPLE) {
        char *got = harness_repr(&v);
        fail_msg("GROUP %s %s: %s", sub, arg, got);
    }
    resp_value_free(&v);
}

/* GROUP INFO as JSON (caller decrefs). */
static json_t *group_info(struct harness_conn *c, const char *group)
{
    struct resp_value v;
    group_cmd(c, &v, "INFO", group);
    json_t *j = harness_assert_json(&v);
    resp_value_free(&v);
    return j;
}

static json_int_t info_int(struct harness_conn *c, const char *group, const char *key)
{
    json_t *j = group_info(c, group);
    json_int_t n = harness_json_int(j, key);
    json_decref(j);
    return n;
}

/* GROUP READ for consumer: the events handed out (caller decrefs). */
static json_t *group_read(struct harness_conn *c, const char *group, const char *consumer, int count, int block_ms)
{
    char arg[256];
    snprintf(arg, sizeof arg, "{\"group\":\"%s\",\"consumer\":\"%s\",\"count\":%d,\"block_ms\":%d}", group, consumer,
             count, block_ms);
    struct resp_value v;
    group_cmd(c, &v, "READ", arg);
    json_t *events = harness_assert_events(&v);
    resp_value_free(&v);
    return events;
}

/* The ids of events (a JSON array of events) as one GROUP ACK/NACK
 * argument. */
static char *ids_arg(const char *group, json_t *events, const char *extra)
{
    size_t cap = 128 + 32 * json_array_size(events);
    char *s = malloc(cap);
    assert_non_null(s);
    int n = snprintf(s, cap, "{\"group\":\"%s\"%s,\"ids\":[", group, extra != NULL ? extra : "");
    for (size_t i = 0; i < json_array_size(events); i++)
        n += snprintf(s + n, cap - (size_t)n, "%s\"%s\"", i > 0 ? "," : "",
                      harness_json_str(json_array_get(events, i), "id"));
    snprintf(s + n, cap - (size_t)n, "]}");
    return s;
}

static int64_t group_ack(struct harness_conn *c, const char *group, json_t *events)
{
    char *arg = ids_arg(group, events, NULL);
    struct resp_value v;
    group_cmd(c, &v, "ACK", arg);
    free(arg);
    assert_int_equal(v.type, RESP_T_INT);
    int64_t n = v.integer;
    resp_value_free(&v);
    return n;
}

static void write_events(struct harness_node *n, const char *stream, int count)
{
    free(cluster_node_write_events(n, stream, count));
}

/* Wait until `want` GROUP READs are parked on node n. */
static void wait_reads_waiting(struct harness_node *n, int64_t want)
{
    int64_t deadline = harness_now_ms() + 10000;
    while (cluster_node_status_int(n, "group_reads_waiting") != want) {
        assert_true(harness_now_ms() < deadline);
        cluster_poll_pause();
    }
}

/* ---- tests --------------------------------------------------------------------- */

/* Two consumers take turns on one group: every event goes to exactly one
 * of them, in order, and once both acked everything nothing is pending. */
static void test_consumers_share_a_group(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    write_events(n, "orders", 100);
    struct harness_conn *a = harness_connect(n), *b = harness_connect(n);
    assert_non_null(a);
    assert_non_null(b);
    group_ok(a, "CREATE", "{\"group\":\"billing\",\"stream\":\"orders\"}");

    bool seen[100] = {0};
    int total = 0;
    for (int round = 0; total < 100; round++) {
        struct harness_conn *c = round % 2 == 0 ? a : b;
        json_t *events = group_read(c, "billing", round % 2 == 0 ? "a" : "b", 7, 0);
        assert_true(json_array_size(events) > 0);
        for (size_t i = 0; i < json_array_size(events); i++) {
            json_t *ev = json_array_get(events, i);
            json_int_t version = harness_json_int(ev, "version");
            assert_int_equal(version, total);
            assert_false(seen[version]);
            seen[version] = true;
            assert_int_equal(harness_json_int(ev, "deliveries"), 1);
            total++;
        }
        assert_int_equal(group_ack(c, "billing", events), (int64_t)json_array_size(events));
        json_decref(events);
    }
    json_t *none = group_read(a, "billing", "a", 10, 0);
    assert_int_equal(json_array_size(none), 0);
    json_decref(none);

    json_t *info = group_info(b, "billing");
    assert_int_equal(harness_json_int(info, "pending"), 0);
    assert_int_equal(harness_json_int(info, "acked"), 100);
    assert_int_equal(harness_json_int(info, "next_version"), 100);
    assert_int_equal(harness_json_int(info, "lag"), 0);
    json_t *consumers = json_object_get(info, "consumers");
    assert_int_equal(json_array_size(consumers), 2);
    assert_int_equal(harness_json_int(json_array_get(consumers, 0), "acked") +
                         harness_json_int(json_array_get(consumers, 1), "acked"),
                     100);
    json_decref(info);
    harness_close(a);
    harness_close(b);
    harness_pass(*state);
}

/* Operations sent together reach the log together: 40 pipelined reads
 * from 40 connections cost a handful of raft entries, not 40. */
static void test_one_turn_one_entry(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    write_events(n, "s", 200);
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    group_ok(c, "CREATE", "{\"group\":\"g\",\"stream\":\"s\"}");
    enum { CONNS = 40 };
    struct harness_conn *conns[CONNS];
    size_t want[CONNS];
    for (int i = 0; i < CONNS; i++) {
        conns[i] = harness_connect(n);
        assert_non_null(conns[i]);
        char arg[128];
        snprintf(arg, sizeof arg, "{\"group\":\"g\",\"consumer\":\"c%d\",\"count\":5}", i);
        harness_queue(conns[i], "GROUP", "READ", arg, NULL);
        want[i] = 1;
    }
    int64_t before = cluster_node_status_int(n, "applied_index");
    assert_int_equal(harness_pump(conns, CONNS, want, 20000), 0);
    int64_t entries = cluster_node_status_int(n, "applied_index") - before;
    size_t got = 0;
    for (int i = 0; i < CONNS; i++) {
        struct resp_value v;
        assert_int_equal(harness_read(conns[i], &v), 1);
        json_t *events = harness_assert_events(&v);
        got += json_array_size(events);
        json_decref(events);
        resp_value_free(&v);
        harness_close(conns[i]);
    }
    assert_int_equal(got, 200);
    /* The requests arrive over a few loop turns at most; one entry each
     * would be 40. */
    assert_true(entries >= 1 && entries < CONNS / 2);
    assert_int_equal(info_int(c, "g", "pending"), 200);
    harness_close(c);
    harness_pass(*state);
}

/* A consumer that dies holding events: another consumer, blocked on the
 * group, gets them once their ack wait is over, as second deliveries. */
static void test_redelivered_after_ack_wait(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    write_events(n, "s", 5);
    struct harness_conn *a = harness_connect(n), *b = harness_connect(n);
    group_ok(a, "CREATE", "{\"group\":\"g\",\"stream\":\"s\",\"ack_wait_ms\":500}");
    json_t *held = group_read(a, "g", "a", 5, 0);
    assert_int_equal(json_array_size(held), 5);
    harness_close(a); /* a dies without acking */
    /* Not due yet: nothing for b at once. */
    json_t *none = group_read(b, "g", "b", 10, 0);
    assert_int_equal(json_array_size(none), 0);
    json_decref(none);
    json_t *again = group_read(b, "g", "b", 10, 5000);
    assert_int_equal(json_array_size(again), 5);
    for (size_t i = 0; i < 5; i++) {
        json_t *ev = json_array_get(again, i);
        assert_string_equal(harness_json_str(ev, "id"), harness_json_str(json_array_get(held, i), "id"));
        assert_int_equal(harness_json_int(ev, "deliveries"), 2);
    }
    json_t *info = group_info(b, "g");
    json_t *consumers = json_object_get(info, "consumers");
    assert_string_equal(harness_json_str(json_array_get(consumers, 0), "name"), "a");
    assert_int_equal(harness_json_int(json_array_get(consumers, 0), "pending"), 0);
    assert_int_equal(harness_json_int(json_array_get(consumers, 1), "pending"), 5);
    json_decref(info);
    assert_int_equal(group_ack(b, "g", again), 5);
    json_decref(again);
    json_decref(held);
    harness_close(b);
    harness_pass(*state);
}

/* An event delivered max_deliveries times without an ack is parked; it can
 * be listed, replayed (delivered afresh) and acked. */
static void test_parked_and_replayed(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    write_events(n, "s", 1);
    struct harness_conn *c = harness_connect(n);
    group_ok(c, "CREATE", "{\"group\":\"g\",\"stream\":\"s\",\"ack_wait_ms\":100,\"max_deliveries\":2}");
    json_t *first = group_read(c, "g", "a", 1, 0);
    assert_int_equal(json_array_size(first), 1);
    json_t *second = group_read(c, "g", "a", 1, 5000);
    assert_int_equal(json_array_size(second), 1);
    assert_int_equal(harness_json_int(json_array_get(second, 0), "deliveries"), 2);
    json_decref(second);
    /* The third time it is due, it is parked instead: poll INFO. */
    int64_t deadline = harness_now_ms() + 10000;
    while (info_int(c, "g", "parked") == 0) {
        assert_true(harness_now_ms() < deadline);
        json_t *none = group_read(c, "g", "a", 1, 200);
        assert_int_equal(json_array_size(none), 0);
        json_decref(none);
    }
    assert_int_equal(info_int(c, "g", "pending"), 0);
    struct resp_value v;
    group_cmd(c, &v, "PARKED", "g");
    json_t *parked = harness_assert_events(&v);
    resp_value_free(&v);
    assert_int_equal(json_array_size(parked), 1);
    json_t *p = json_array_get(parked, 0);
    assert_string_equal(harness_json_str(p, "id"), harness_json_str(json_array_get(first, 0), "id"));
    assert_string_equal(harness_json_str(p, "reason"), "max_deliveries");
    assert_int_equal(harness_json_int(p, "deliveries"), 2);
    json_decref(parked);

    group_cmd(c, &v, "REPLAY", "{\"group\":\"g\"}");
    harness_assert_int(&v, 1);
    resp_value_free(&v);
    json_t *replayed = group_read(c, "g", "b", 1, 0);
    assert_int_equal(json_array_size(replayed), 1);
    assert_int_equal(harness_json_int(json_array_get(replayed, 0), "deliveries"), 1);
    assert_int_equal(group_ack(c, "g", replayed), 1);
    assert_int_equal(info_int(c, "g", "parked"), 0);
    assert_int_equal(info_int(c, "g", "pending"), 0);
    json_decref(replayed);
    json_decref(first);
    harness_close(c);
    harness_pass(*state);
}

/* A blocked READ answers when an ADD brings an event, and answers an
 * empty array when its block_ms runs out. */
static void test_blocking_read(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    struct harness_conn *c = harness_connect(n), *w = harness_connect(n);
    group_ok(c, "CREATE", "{\"group\":\"g\",\"all\":true,\"from\":\"end\",\"stream_prefix\":\"order-\"}");
    assert_int_equal(harness_send(c, "GROUP", "READ", "{\"group\":\"g\",\"consumer\":\"a\",\"block_ms\":8000}", NULL),
                     0);
    /* Wait until the read is parked on the leader, then write: events the
     * filter skips do not answer it, one it takes does. */
    wait_reads_waiting(n, 1);
    write_events(n, "user-1", 3);
    char *id = cluster_add_json("order-9", "\"any\"", "Placed");
    struct resp_value v;
    assert_int_equal(harness_cmd(w, &v, "ADD", id, NULL), 0);
    resp_value_free(&v);
    free(id);
    assert_int_equal(harness_read(c, &v), 1);
    json_t *events = harness_assert_events(&v);
    resp_value_free(&v);
    assert_int_equal(json_array_size(events), 1);
    assert_string_equal(harness_json_str(json_array_get(events, 0), "stream"), "order-9");
    json_decref(events);

    int64_t t0 = harness_now_ms();
    json_t *none = group_read(c, "g", "a", 10, 300);
    assert_int_equal(json_array_size(none), 0);
    assert_true(harness_now_ms() - t0 >= 300);
    json_decref(none);
    assert_int_equal(cluster_node_status_int(n, "group_reads_waiting"), 0);
    harness_close(c);
    harness_close(w);
    harness_pass(*state);
}

/* max_ack_pending: a worker that reads without acking gets no more than
 * the limit; a READ blocked at the limit answers when an ack makes room,
 * not when events arrive. */
static void test_max_ack_pending(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    struct harness_conn *c = harness_connect(n), *w = harness_connect(n);
    write_events(n, "jobs", 5);
    group_ok(c, "CREATE", "{\"group\":\"g\",\"stream\":\"jobs\",\"max_ack_pending\":2}");
    assert_int_equal(info_int(c, "g", "max_ack_pending"), 2);
    json_t *held = group_read(c, "g", "a", 10, 0);
    assert_int_equal(json_array_size(held), 2);
    json_t *none = group_read(c, "g", "b", 10, 0);
    assert_int_equal(json_array_size(none), 0);
    json_decref(none);

    assert_int_equal(harness_send(c, "GROUP", "READ", "{\"group\":\"g\",\"consumer\":\"b\",\"block_ms\":8000}", NULL),
                     0);
    wait_reads_waiting(n, 1);
    /* More events do not answer it: the group is full. An ADD's apply
     * rechecks waiting reads, so once the ADD is acknowledged the read has
     * been looked at and left waiting. */
    write_events(n, "jobs", 1);
    assert_int_equal(cluster_node_status_int(n, "group_reads_waiting"), 1);
    assert_int_equal(group_ack(w, "g", held), 2);
    json_decref(held);
    struct resp_value v;
    assert_int_equal(harness_read(c, &v), 1);
    json_t *events = harness_assert_events(&v);
    resp_value_free(&v);
    assert_int_equal(json_array_size(events), 2);
    assert_int_equal(harness_json_int(json_array_get(events, 0), "version"), 2);
    json_decref(events);
    assert_int_equal(info_int(c, "g", "pending"), 2);
    harness_close(c);
    harness_close(w);
    harness_pass(*state);
}

/* GROUP DELCONSUMER refuses a consumer that holds events and forgets one
 * that holds none, on every node's INFO. */
static void test_delete_consumer(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    struct harness_conn *c = harness_connect(n);
    write_events(n, "jobs", 2);
    group_ok(c, "CREATE", "{\"group\":\"g\",\"stream\":\"jobs\"}");
    json_t *held = group_read(c, "g", "a", 1, 0);
    json_decref(group_read(c, "g", "b", 1, 0));
    struct resp_value v;
    group_cmd(c, &v, "DELCONSUMER", "{\"group\":\"g\",\"consumer\":\"a\"}");
    harness_assert_error_prefix(&v, "HOLDING consumer \"a\" holds 1 pending events of group \"g\"");
    resp_value_free(&v);
    group_cmd(c, &v, "DELCONSUMER", "{\"group\":\"g\",\"consumer\":\"z\"}");
    harness_assert_error_prefix(&v, "NOCONSUMER group \"g\" has no consumer named \"z\"");
    resp_value_free(&v);
    group_cmd(c, &v, "DELCONSUMER", "{\"group\":\"g\"}");
    harness_assert_error_prefix(&v, "missing field 'consumer'");
    resp_value_free(&v);

    assert_int_equal(group_ack(c, "g", held), 1);
    json_decref(held);
    group_ok(c, "DELCONSUMER", "{\"group\":\"g\",\"consumer\":\"a\"}");
    json_t *info = group_info(c, "g");
    json_t *consumers = json_object_get(info, "consumers");
    assert_int_equal(json_array_size(consumers), 1);
    assert_string_equal(harness_json_str(json_array_get(consumers, 0), "name"), "b");
    json_decref(info);
    harness_close(c);
    harness_pass(*state);
}

/* Each refusal is a clear error and changes nothing. */
static void test_bad_input_changes_nothing(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    write_events(n, "s", 3);
    struct harness_conn *c = harness_connect(n);
    group_ok(c, "CREATE", "{\"group\":\"g\",\"stream\":\"s\"}");
    json_t *held = group_read(c, "g", "a", 1, 0);
    json_t *before = group_info(c, "g");
    static const struct {
        const char *sub, *arg, *error;
    } cases[] = {
        {"CREATE", "{\"group\":\"g\",\"stream\":\"s\"}", "EXISTS a group named \"g\" exists already"},
        {"CREATE", "{\"group\":\"h\",\"stream\":\"s\",\"all\":true}", "give either 'stream' or 'all': true"},
        {"CREATE", "{\"group\":\"h\",\"stream\":\"s\",\"ack_wait_ms\":0}",
         "invalid 'ack_wait_ms': expected an integer from 1 to 86400000"},
        {"CREATE", "{\"group\":\"h\",\"stream\":\"s\",\"from\":-1}",
         "invalid 'from': expected a version (a non-negative integer), \"start\" or \"end\""},
        {"CREATE", "{\"group\":\"h\",\"all\":true,\"from\":\"nope\"}",
         "invalid 'from': expected an event id, \"start\" or \"end\""},
        {"CREATE", "{\"group\":\"h\",\"stream\":\"s\",\"colour\":1}", "unknown field 'colour'"},
        {"CREATE", "{\"group\":\"h\",", NULL},
        {"READ", "{\"group\":\"g\",\"consumer\":\"a\",\"count\":0}",
         "invalid 'count': expected an integer from 1 to 1000"},
        {"READ", "{\"group\":\"g\",\"consumer\":7}", "invalid 'consumer': expected a string"},
        {"READ", "{\"group\":\"nope\",\"consumer\":\"a\"}", "NOGROUP no group named \"nope\""},
        {"ACK", "{\"group\":\"g\",\"ids\":[\"not-an-id\"]}", NULL},
        {"ACK", "{\"group\":\"g\",\"ids\":[]}", "invalid 'ids': expected an array of 1 to 1000 event ids"},
        {"ACK", "{\"group\":\"g\",\"ids\":[\"01ARZ3NDEKTSV4RRFFQ69G5FAV\"]}",
         "NOTDELIVERED event 01ARZ3NDEKTSV4RRFFQ69G5FAV was never delivered by group \"g\"; nothing was acked"},
        {"NACK", "{\"group\":\"g\",\"ids\":[\"01ARZ3NDEKTSV4RRFFQ69G5FAV\"]}",
         "NOTPENDING event 01ARZ3NDEKTSV4RRFFQ69G5FAV is not pending in group \"g\"; nothing was changed"},
        {"SEEK", "{\"group\":\"g\",\"to\":\"01ARZ3NDEKTSV4RRFFQ69G5FAV\"}",
         "invalid 'to': group \"g\" takes a version for a stream's group, an event id for the global log's"},
        {"DESTROY", "nope", "NOGROUP no group named \"nope\""},
        {"INFO", "{\"group\":\"g\",\"x\":1}", "unknown field 'x'"},
        {"FROB", "g", NULL},
        {"READ", "g", "GROUP READ takes a JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct resp_value v;
        group_cmd(c, &v, cases[i].sub, cases[i].arg);
        if (v.type != RESP_T_ERROR) {
            char *got = harness_repr(&v);
            fail_msg("GROUP %s %s: expected an error, got %s", cases[i].sub, cases[i].arg, got);
        }
        if (cases[i].error != NULL)
            assert_string_equal(v.str, cases[i].error);
        resp_value_free(&v);
    }
    /* An ack naming a pending event and one never delivered acks neither. */
    char arg[256];
    snprintf(arg, sizeof arg, "{\"group\":\"g\",\"ids\":[\"%s\",\"01ARZ3NDEKTSV4RRFFQ69G5FAV\"]}",
             harness_json_str(json_array_get(held, 0), "id"));
    struct resp_value v;
    group_cmd(c, &v, "ACK", arg);
    harness_assert_error_prefix(&v, "NOTDELIVERED event 01ARZ3NDEKTSV4RRFFQ69G5FAV");
    resp_value_free(&v);
    json_t *after = group_info(c, "g");
    json_object_del(before, "consumers");
    json_object_del(after, "consumers");
    harness_assert_json_equal(after, before);
    assert_int_equal(harness_json_int(after, "pending"), 1);
    group_cmd(c, &v, "LIST", NULL);
    json_t *list = harness_assert_events(&v);
    resp_value_free(&v);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    json_decref(before);
    json_decref(after);
    json_decref(held);
    harness_close(c);
    harness_pass(*state);
}

/* Followers answer group writes with -MOVED to the leader and serve INFO
 * from their own store. */
static void test_followers(void **state)
{
    struct cluster cl;
    cluster_start(&cl, *state, 3, NULL);
    size_t l = cluster_leader(&cl);
    size_t f = (l + 1) % 3;
    write_events(cl.n[l], "s", 10);
    struct harness_conn *lc = harness_connect(cl.n[l]), *fc = harness_connect(cl.n[f]);
    group_ok(lc, "CREATE", "{\"group\":\"g\",\"stream\":\"s\"}");
    json_t *events = group_read(lc, "g", "a", 4, 0);
    json_decref(events);
    struct resp_value v;
    group_cmd(fc, &v, "READ", "{\"group\":\"g\",\"consumer\":\"a\"}");
    char moved[64];
    snprintf(moved, sizeof moved, "MOVED 0 127.0.0.1:%u", cl.n[l]->port);
    harness_assert_error(&v, moved);
    resp_value_free(&v);
    /* The follower applies the group's entries as they commit. */
    int64_t deadline = harness_now_ms() + CLUSTER_WAIT_MS;
    while (info_int(fc, "g", "pending") != 4) {
        assert_true(harness_now_ms() < deadline);
        cluster_poll_pause();
    }
    assert_int_equal(info_int(fc, "g", "next_version"), 4);
    /* And its STATUS counts the group and shows the group clock. */
    assert_int_equal(cluster_node_status_int(cl.n[f], "groups"), 1);
    assert_true(cluster_node_status_int(cl.n[f], "group_clock_ms") > 0);
    /* Every node applied the group's operations alike: one state digest
     * at one applied index (CHECKSUM covers events alone). */
    cluster_assert_state_converged(&cl);
    harness_close(lc);
    harness_close(fc);
    harness_pass(*state);
}

/* Poll n's GROUP INFO until `key` reads `want`. */
static void wait_info(struct harness_node *n, const char *group, const char *key, json_int_t want)
{
    int64_t deadline = harness_now_ms() + CLUSTER_WAIT_MS;
    for (;;) {
        struct harness_conn *c = harness_connect(n);
        if (c != NULL) {
            struct resp_value v;
            if (harness_cmd(c, &v, "GROUP", "INFO", group, NULL) == 0) {
                if (v.type == RESP_T_BULK) {
                    json_t *j = harness_assert_json(&v);
                    json_t *x = json_object_get(j, key);
                    bool ok = json_is_integer(x) && json_integer_value(x) == want;
                    json_decref(j);
                    resp_value_free(&v);
                    harness_close(c);
                    if (ok)
                        return;
                } else {
                    resp_value_free(&v);
                    harness_close(c);
                }
            } else {
                harness_close(c);
            }
        }
        if (harness_now_ms() > deadline)
            fail_msg("GROUP INFO %s: %s never became %lld", group, key, (long long)want);
        cluster_poll_pause();
    }
}

/* The leader dies with events pending: the new leader serves the group
 * from exactly where it was (same position, same pending set), does not
 * hand the pending events to another consumer before their ack wait, and
 * takes their acks. */
static void test_leader_killed_with_pending(void **state)
{
    struct cluster cl;
    cluster_start(&cl, *state, 3, NULL);
    size_t l = cluster_leader(&cl);
    write_events(cl.n[l], "s", 20);
    struct harness_conn *c = harness_connect(cl.n[l]);
    group_ok(c, "CREATE", "{\"group\":\"g\",\"stream\":\"s\",\"ack_wait_ms\":60000}");
    json_t *held = group_read(c, "g", "a", 10, 0);
    assert_int_equal(json_array_size(held), 10);
    json_t *first3 = json_array();
    for (size_t i = 0; i < 3; i++)
        json_array_append(first3, json_array_get(held, i));
    assert_int_equal(group_ack(c, "g", first3), 3);
    harness_close(c);
    harness_assert_kill(cl.n[l]);

    size_t l2 = cluster_leader(&cl);
    wait_info(cl.n[l2], "g", "next_version", 10);
    c = harness_connect(cl.n[l2]);
    json_t *info = group_info(c, "g");
    assert_int_equal(harness_json_int(info, "pending"), 7);
    assert_int_equal(harness_json_int(info, "acked"), 3);
    json_decref(info);
    struct resp_value v;
    group_cmd(c, &v, "PENDING", "g");
    json_t *pending = harness_assert_events(&v);
    resp_value_free(&v);
    assert_int_equal(json_array_size(pending), 7);
    for (size_t i = 0; i < 7; i++)
        assert_string_equal(harness_json_str(json_array_get(pending, i), "id"),
                            harness_json_str(json_array_get(held, i + 3), "id"));
    json_decref(pending);
    /* Another consumer gets the next ten, none of the pending ones. */
    json_t *next = group_read(c, "g", "b", 100, 0);
    assert_int_equal(json_array_size(next), 10);
    assert_int_equal(harness_json_int(json_array_get(next, 0), "version"), 10);
    json_decref(next);
    /* a comes back (through the new leader) and acks what it held. */
    json_t *rest = json_array();
    for (size_t i = 3; i < 10; i++)
        json_array_append(rest, json_array_get(held, i));
    assert_int_equal(group_ack(c, "g", rest), 7);
    assert_int_equal(info_int(c, "g", "pending"), 10);
    json_decref(rest);
    json_decref(first3);
    json_decref(held);
    harness_close(c);
    assert_int_equal(harness_node_start(cl.n[l]), 0);
    wait_info(cl.n[l], "g", "pending", 10);
    cluster_assert_state_converged(&cl);
    harness_pass(*state);
}

/* Every node killed and restarted: the group's state is as it was. */
static void test_restart_all_nodes(void **state)
{
    struct cluster cl;
    cluster_start(&cl, *state, 3, NULL);
    size_t l = cluster_leader(&cl);
    write_events(cl.n[l], "s", 6);
    struct harness_conn *c = harness_connect(cl.n[l]);
    group_ok(c, "CREATE", "{\"group\":\"g\",\"stream\":\"s\",\"max_deliveries\":3}");
    json_t *held = group_read(c, "g", "a", 4, 0);
    json_t *one = json_array();
    json_array_append(one, json_array_get(held, 0));
    assert_int_equal(group_ack(c, "g", one), 1);
    char nack[256];
    snprintf(nack, sizeof nack, "{\"group\":\"g\",\"park\":true,\"ids\":[\"%s\"]}",
             harness_json_str(json_array_get(held, 1), "id"));
    struct resp_value v;
    group_cmd(c, &v, "NACK", nack);
    harness_assert_int(&v, 1);
    resp_value_free(&v);
    json_t *before = group_info(c, "g");
    harness_close(c);
    for (size_t i = 0; i < 3; i++)
        harness_assert_kill(cl.n[i]);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(harness_node_start(cl.n[i]), 0);
    l = cluster_leader(&cl);
    wait_info(cl.n[l], "g", "parked", 1);
    c = harness_connect(cl.n[l]);
    json_t *after = group_info(c, "g");
    /* Idle times moved on; the rest is the same. */
    json_object_del(before, "consumers");
    json_object_del(after, "consumers");
    harness_assert_json_equal(after, before);
    json_decref(after);
    json_decref(before);
    json_decref(one);
    json_decref(held);
    harness_close(c);
    cluster_assert_state_converged(&cl);
    harness_pass(*state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_consumers_share_a_group, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_one_turn_one_entry, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_redelivered_after_ack_wait, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_parked_and_replayed, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_blocking_read, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_max_ack_pending, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_delete_consumer, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input_changes_nothing, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_followers, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_leader_killed_with_pending, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_restart_all_nodes, harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests_name("groups", tests, NULL, NULL);
}
