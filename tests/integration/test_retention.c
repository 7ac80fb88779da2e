/* test_retention.c - stream deletion and retention on a real 3-node
 * cluster: truncate_before, max_count, max_age (expired by the leader's
 * clock), soft and hard delete, each checked on every node (GET,
 * LISTSTREAMS, the counters, STREAM META, the live checksum), with the
 * removed rows reclaimed everywhere; then again after a leader change (a
 * max_age expired by the new leader) and after a follower's restart. A
 * group and a subscription positioned in a removed range go on at the
 * first live event (the subscription told by a marker, also live when its
 * filter passed over the removed events). Bad input gets a clear error
 * and changes nothing; a follower answers -MOVED. eventflowctl and the
 * HTTP routes reach the same commands.
 *
 * One cluster serves every step, to keep the test short. Waits poll STATUS
 * with a deadline; nothing sleeps in place of a condition. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "cluster.h"
#include "harness.h"
#include "http_client.h"

/* STREAM sub arg on n; the reply in *v (caller frees). */
static void stream_cmd(struct harness_node *n, struct resp_value *v, const char *sub, const char *arg)
{
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    assert_int_equal(harness_cmd(c, v, "STREAM", sub, arg, NULL), 0);
    harness_close(c);
}

static void stream_ok(struct harness_node *n, const char *sub, const char *arg)
{
    struct resp_value v;
    stream_cmd(n, &v, sub, arg);
    harness_assert_simple(&v, "OK");
    resp_value_free(&v);
}

static void stream_error(struct harness_node *n, const char *sub, const char *arg, const char *prefix)
{
    struct resp_value v;
    stream_cmd(n, &v, sub, arg);
    harness_assert_error_prefix(&v, prefix);
    resp_value_free(&v);
}

/* A reply that is an integer. */
static int64_t node_int(struct harness_node *n, const char *cmd)
{
    struct harness_conn *c = harness_connect(n);
    struct resp_value v;
    assert_int_equal(harness_cmd(c, &v, cmd, NULL), 0);
    assert_int_equal(v.type, RESP_T_INT);
    int64_t x = v.integer;
    resp_value_free(&v);
    harness_close(c);
    return x;
}

/* The versions GET returns for stream on n, as "3,4,5". */
static void versions(struct harness_node *n, const char *stream, char *out, size_t cap)
{
    struct harness_conn *c = harness_connect(n);
    char arg[128];
    snprintf(arg, sizeof arg, "{\"stream\":\"%s\",\"version\":0,\"limit\":1000}", stream);
    json_t *events = harness_events(c, "GET", arg);
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < json_array_size(events) && used < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s%lld", i > 0 ? "," : "",
                                 (long long)harness_json_int(json_array_get(events, i), "version"));
    json_decref(events);
    harness_close(c);
}

static void assert_versions(struct harness_node *n, const char *stream, const char *want)
{
    char got[256];
    versions(n, stream, got, sizeof got);
    if (strcmp(got, want) != 0)
        fail_msg("node %u: GET %s: versions [%s], expected [%s]", n->port, stream, got, want);
}

/* The names LISTSTREAMS returns on n, as "a,b". */
static void list_names(struct harness_node *n, char *out, size_t cap)
{
    struct harness_conn *c = harness_connect(n);
    json_t *streams = harness_events(c, "LISTSTREAMS", "{}");
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < json_array_size(streams) && used < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s%s", i > 0 ? "," : "",
                                 harness_json_str(json_array_get(streams, i), "id"));
    json_decref(streams);
    harness_close(c);
}

/* "live_events reclaim_pending live_checksum checksum" of n's STATUS. */
static void settle_state(struct harness_node *n, char *out, size_t cap)
{
    json_t *st = harness_status(n);
    if (st == NULL) {
        snprintf(out, cap, "(no STATUS)");
        return;
    }
    snprintf(out, cap, "%lld %lld %s %s", (long long)harness_json_int(st, "live_events"),
             (long long)harness_json_int(st, "reclaim_pending"), harness_json_str(st, "live_checksum"),
             harness_json_str(st, "checksum"));
    json_decref(st);
}

/* Wait until every running node holds `live` live events with every
 * removed row reclaimed, and they agree on both checksums. */
static void wait_settled(struct cluster *cl, int64_t live)
{
    char want_prefix[32];
    snprintf(want_prefix, sizeof want_prefix, "%lld 0 ", (long long)live);
    int64_t deadline = harness_now_ms() + CLUSTER_WAIT_MS;
    for (;;) {
        char first[128] = "", got[3][128];
        bool same = true;
        for (size_t i = 0; i < cl->count; i++) {
            settle_state(cl->n[i], got[i], sizeof got[i]);
            if (i == 0)
                memcpy(first, got[i], sizeof first);
            same = same && strcmp(got[i], first) == 0;
        }
        if (same && strncmp(first, want_prefix, strlen(want_prefix)) == 0)
            return;
        if (harness_now_ms() > deadline)
            fail_msg("nodes never settled at %lld live events: [%s] [%s] [%s]", (long long)live, got[0], got[1],
                     got[2]);
        cluster_poll_pause();
    }
}

/* The JSON of the next subscription message on c (caller decrefs). */
static json_t *next_message(struct harness_conn *c)
{
    struct resp_value v;
    assert_int_equal(harness_read(c, &v), 1);
    if (v.type != RESP_T_ARRAY || v.n != 3 || v.elems[0].type != RESP_T_BULK || strcmp(v.elems[0].str, "message") != 0)
        fail_msg("not a message: %s", harness_repr(&v));
    json_t *j = harness_assert_json(&v.elems[2]);
    resp_value_free(&v);
    return j;
}

/* GROUP sub arg on n: the reply's JSON events (caller decrefs). */
static json_t *group_events(struct harness_node *n, const char *sub, const char *arg)
{
    struct harness_conn *c = harness_connect(n);
    json_t *events = NULL;
    struct resp_value v;
    assert_int_equal(harness_cmd(c, &v, "GROUP", sub, arg, NULL), 0);
    events = harness_assert_events(&v);
    resp_value_free(&v);
    harness_close(c);
    return events;
}

/* A group positioned inside a removed range goes on at the first live
 * event; its pending events that were removed are dropped when they come
 * due, and an ack of one counts nothing. A subscription from a removed
 * version starts at the first live one, told by a "removed" marker. */
static void check_group_and_subscription(struct harness_node *leader, const char *held_id)
{
    json_t *got = group_events(leader, "READ", "{\"group\":\"g\",\"consumer\":\"b\",\"count\":100}");
    assert_int_equal(json_array_size(got), 6);
    assert_int_equal(harness_json_int(json_array_get(got, 0), "version"), 4);
    json_decref(got);
    struct harness_conn *c = harness_connect(leader);
    struct resp_value v;
    assert_int_equal(harness_cmd(c, &v, "GROUP", "INFO", "g", NULL), 0);
    json_t *info = harness_assert_json(&v);
    assert_int_equal(harness_json_int(info, "pending"), 6);
    json_decref(info);
    resp_value_free(&v);
    char ack[128];
    snprintf(ack, sizeof ack, "{\"group\":\"g\",\"ids\":[\"%s\"]}", held_id);
    assert_int_equal(harness_cmd(c, &v, "GROUP", "ACK", ack, NULL), 0);
    harness_assert_int(&v, 0);
    resp_value_free(&v);

    assert_int_equal(harness_send(c, "SUBSCRIBE", "{\"stream\":\"trunc\",\"version\":1,\"markers\":true}", NULL), 0);
    assert_int_equal(harness_read(c, &v), 1); /* the confirmation */
    resp_value_free(&v);
    json_t *m = next_message(c);
    assert_string_equal(harness_json_str(m, "marker"), "removed");
    assert_int_equal(harness_json_int(m, "from_version"), 1);
    assert_int_equal(harness_json_int(m, "to_version"), 4);
    json_decref(m);
    m = next_message(c);
    assert_int_equal(harness_json_int(m, "version"), 4);
    json_decref(m);
    harness_close(c);
}

/* Run eventflowctl against the cluster's endpoints with `args` (shell
 * words of our own, no user input); its stdout into out. Returns its exit
 * status. */
static int ctl(const struct cluster *cl, const char *args, char *out, size_t cap)
{
    const char *path = getenv("EVENTFLOWCTL");
    assert_non_null(path);
    char endpoints[256], cmd[1024];
    cluster_endpoints(cl, endpoints, sizeof endpoints);
    snprintf(cmd, sizeof cmd, "'%s' -e %s %s", path, endpoints, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* What every node must show after the first round of removals. */
static void check_first_round(struct harness_node *n)
{
    assert_versions(n, "trunc", "4,5,6,7,8,9");
    assert_versions(n, "cnt", "4,5");
    assert_versions(n, "soft", "");
    assert_versions(n, "hard", "");
    assert_versions(n, "age", "");
    char names[256];
    list_names(n, names, sizeof names);
    assert_string_equal(names, "age,cnt,trunc");
    assert_int_equal(node_int(n, "STREAMCOUNT"), 3);
    assert_int_equal(node_int(n, "EVENTCOUNT"), 8);
    struct resp_value v;
    stream_cmd(n, &v, "META", "hard");
    json_t *m = harness_assert_json(&v);
    assert_true(json_is_true(json_object_get(m, "hard_deleted")));
    assert_int_equal(harness_json_int(m, "reclaimed_below"), 3);
    json_decref(m);
    resp_value_free(&v);
}

static void test_retention_on_every_node(void **state)
{
    struct cluster cl;
    cluster_start(&cl, *state, 3, NULL);
    size_t l = cluster_leader(&cl);
    struct harness_node *leader = cl.n[l], *follower = cl.n[(l + 1) % 3];
    free(cluster_node_write_events(leader, "trunc", 10));
    free(cluster_node_write_events(leader, "cnt", 6));
    free(cluster_node_write_events(leader, "soft", 5));
    free(cluster_node_write_events(leader, "hard", 3));
    free(cluster_node_write_events(leader, "age", 3));
    int64_t before = node_int(leader, "EVENTCOUNT");
    assert_int_equal(before, 27);
    /* A group that handed out versions 0 and 1, soon due again. */
    struct harness_conn *gc = harness_connect(leader);
    struct resp_value gv;
    assert_int_equal(
        harness_cmd(gc, &gv, "GROUP", "CREATE", "{\"group\":\"g\",\"stream\":\"trunc\",\"ack_wait_ms\":1}", NULL), 0);
    harness_assert_simple(&gv, "OK");
    resp_value_free(&gv);
    harness_close(gc);
    json_t *held = group_events(leader, "READ", "{\"group\":\"g\",\"consumer\":\"a\",\"count\":2}");
    assert_int_equal(json_array_size(held), 2);
    char held_id[64];
    snprintf(held_id, sizeof held_id, "%s", harness_json_str(json_array_get(held, 0), "id"));
    json_decref(held);

    /* Bad input: a clear error, nothing changed. */
    stream_error(leader, "SETMETA", "{\"stream\":\"trunc\",\"truncate_before\":11}", "BEYOND");
    stream_error(leader, "SETMETA", "{\"stream\":\"nope\",\"max_count\":1}", "NOSTREAM");
    stream_error(leader, "SETMETA", "{\"stream\":\"trunc\",\"max_count\":-1}", "invalid 'max_count'");
    stream_error(leader, "SETMETA", "{\"stream\":\"trunc\",\"colour\":1}", "unknown field");
    stream_error(leader, "SETMETA", "{\"stream\":\"trunc\"}", "STREAM SETMETA needs");
    stream_error(leader, "DELETE", "{\"stream\":", "invalid JSON");
    stream_error(leader, "DELETE", "{\"stream\":\"trunc\",\"hard\":1}", "invalid 'hard'");
    stream_error(leader, "META", "nope", "NOSTREAM");
    char moved[64];
    snprintf(moved, sizeof moved, "MOVED 0 127.0.0.1:%u", leader->port);
    stream_error(follower, "DELETE", "{\"stream\":\"trunc\"}", moved);
    assert_int_equal(node_int(leader, "EVENTCOUNT"), before);

    /* The first round: one of each rule. */
    stream_ok(leader, "SETMETA", "{\"stream\":\"trunc\",\"truncate_before\":4}");
    stream_ok(leader, "SETMETA", "{\"stream\":\"cnt\",\"max_count\":2}");
    stream_ok(leader, "DELETE", "{\"stream\":\"soft\"}");
    stream_ok(leader, "DELETE", "{\"stream\":\"hard\",\"hard\":true}");
    stream_ok(leader, "SETMETA", "{\"stream\":\"age\",\"max_age\":1}");
    /* The age stream's events expire a second after they were added, by
     * the leader's clock: wait for it, on every node. */
    wait_settled(&cl, 8);
    for (size_t i = 0; i < 3; i++)
        check_first_round(cl.n[i]);
    check_group_and_subscription(leader, held_id);

    /* Appends: refused on the hard-deleted stream, continuing the soft
     * one's numbering (which brings it back), max_count kept. */
    struct resp_value v;
    assert_int_equal(cluster_node_add(leader, "hard", "\"any\"", "T", &v), 0);
    harness_assert_error_prefix(&v, "DELETED");
    resp_value_free(&v);
    assert_int_equal(cluster_node_add(leader, "soft", "0", "T", &v), 0);
    harness_assert_error(&v, "concurrent stream modification");
    resp_value_free(&v);
    free(cluster_add_ok(&cl, "soft", "5", "T"));
    free(cluster_add_ok(&cl, "cnt", "6", "T"));
    wait_settled(&cl, 9);
    for (size_t i = 0; i < 3; i++) {
        assert_versions(cl.n[i], "soft", "5");
        assert_versions(cl.n[i], "cnt", "5,6");
        assert_int_equal(node_int(cl.n[i], "STREAMCOUNT"), 4);
    }

    /* A leader change: the new leader goes on where the old one was. */
    size_t next = (l + 1) % 3;
    cluster_transfer_ok(&cl, next);
    l = cluster_leader(&cl);
    leader = cl.n[l];
    stream_ok(leader, "SETMETA", "{\"stream\":\"trunc\",\"truncate_before\":8,\"max_count\":null}");
    free(cluster_add_ok(&cl, "cnt", "7", "T"));
    /* max_age by the new leader's clock: age2's two events expire too. */
    free(cluster_node_write_events(leader, "age2", 2));
    stream_ok(leader, "SETMETA", "{\"stream\":\"age2\",\"max_age\":1}");
    wait_settled(&cl, 5);
    for (size_t i = 0; i < 3; i++)
        assert_versions(cl.n[i], "age2", "");
    for (size_t i = 0; i < 3; i++) {
        assert_versions(cl.n[i], "trunc", "8,9");
        assert_versions(cl.n[i], "cnt", "6,7");
    }

    /* A follower restarted: its store comes back as it was. */
    size_t r = (l + 1) % 3;
    harness_assert_stop(cl.n[r]);
    assert_int_equal(harness_node_start(cl.n[r]), 0);
    wait_settled(&cl, 5);
    assert_versions(cl.n[r], "trunc", "8,9");
    assert_versions(cl.n[r], "soft", "5");
    assert_versions(cl.n[r], "hard", "");
    assert_int_equal(node_int(cl.n[r], "EVENTCOUNT"), 5);

    /* eventflowctl, through libeventflow. */
    char out[1024];
    assert_int_equal(ctl(&cl, "stream setmeta cnt --max-count none --truncate-before 7", out, sizeof out), 0);
    assert_int_equal(ctl(&cl, "-o json stream meta cnt", out, sizeof out), 0);
    json_error_t je;
    json_t *m = json_loads(out, 0, &je);
    assert_non_null(m);
    assert_int_equal(harness_json_int(m, "first_version"), 7);
    assert_int_equal(harness_json_int(m, "max_count"), 0);
    json_decref(m);
    assert_int_equal(ctl(&cl, "stream delete cnt --hard", out, sizeof out), 0);
    assert_int_equal(ctl(&cl, "stream meta nope", out, sizeof out), 1);
    assert_int_equal(ctl(&cl, "append cnt T", out, sizeof out), 1);
    wait_settled(&cl, 3);

    /* HTTP: the same commands, STREAM's errors with their statuses. */
    l = cluster_leader(&cl);
    struct http_reply hr;
    assert_int_equal(http_request_once(cl.n[l]->http_port, "POST", "/api/stream/meta", NULL, "{\"stream\":\"trunc\"}",
                                       &hr),
                     0);
    assert_int_equal(hr.status, 200);
    assert_non_null(hr.json);
    assert_int_equal(harness_json_int(json_object_get(hr.json, "result"), "first_version"), 8);
    http_reply_free(&hr);
    assert_int_equal(http_request_once(cl.n[l]->http_port, "POST", "/api/add", NULL,
                                       "{\"stream\":\"cnt\",\"version\":\"any\",\"events\":[{\"type\":\"T\"}]}", &hr),
                     0);
    assert_int_equal(hr.status, 410);
    http_reply_free(&hr);
    assert_int_equal(http_request_once(cl.n[l]->http_port, "POST", "/api/stream/delete", NULL, "{\"stream\":\"nope\"}",
                                       &hr),
                     0);
    assert_int_equal(hr.status, 404);
    http_reply_free(&hr);

    /* A live subscription whose filter passed over events it then finds
     * removed is told, once the removal applies. */
    free(cluster_node_write_events(cl.n[l], "live", 3));
    struct harness_conn *sc = harness_connect(cl.n[l]);
    struct resp_value sv;
    assert_int_equal(harness_send(sc, "SUBSCRIBE", "{\"stream\":\"live\",\"types\":[\"Other\"],\"markers\":true}", NULL), 0);
    assert_int_equal(harness_read(sc, &sv), 1); /* the confirmation */
    resp_value_free(&sv);
    json_t *mk = next_message(sc);
    assert_string_equal(harness_json_str(mk, "marker"), "caught_up");
    json_decref(mk);
    free(cluster_node_write_events(cl.n[l], "live", 2)); /* versions 3 and 4, not of its type */
    stream_ok(cl.n[l], "SETMETA", "{\"stream\":\"live\",\"truncate_before\":5}");
    mk = next_message(sc);
    assert_string_equal(harness_json_str(mk, "marker"), "removed");
    assert_int_equal(harness_json_int(mk, "from_version"), 3);
    assert_int_equal(harness_json_int(mk, "to_version"), 5);
    json_decref(mk);
    harness_close(sc);
    harness_pass(*state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retention_on_every_node, harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
