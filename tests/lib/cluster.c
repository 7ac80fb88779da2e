/* cluster.c - helpers for tests that run several eventflowd nodes as one
 * cluster (see cluster.h). */
#include "cluster.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

void cluster_poll_pause(void)
{
    struct timespec ts = {0, 20 * 1000000};
    nanosleep(&ts, NULL); /* poll interval of a condition wait */
}

/* Create and start n nodes that bootstrap together; args[i] are node i's
 * extra flags (args or args[i] may be NULL). */
void cluster_start_opts(struct cluster *c, struct harness_fixture *f, size_t n, const struct harness_node_opts *opts)
{
    memset(c, 0, sizeof *c);
    c->f = f;
    c->count = n;
    for (size_t i = 0; i < n; i++) {
        struct harness_node_opts o = opts != NULL ? opts[i] : (struct harness_node_opts){0};
        o.id = (unsigned)(i + 1);
        c->n[i] = harness_add_node(f, &o);
    }
    for (size_t i = 0; i < n; i++) {
        char *m = harness_node_member(c->n[i]);
        if (i > 0)
            strcat(c->members, ",");
        strcat(c->members, m);
        free(m);
    }
    for (size_t i = 0; i < n; i++) {
        harness_node_set_cluster(c->n[i], c->members);
        assert_int_equal(harness_node_start(c->n[i]), 0);
    }
}

void cluster_start_each(struct cluster *c, struct harness_fixture *f, size_t n, const char *const *const *args)
{
    struct harness_node_opts opts[HARNESS_MAX_NODES];
    memset(opts, 0, sizeof opts);
    for (size_t i = 0; i < n; i++)
        opts[i].args = args != NULL ? args[i] : NULL;
    cluster_start_opts(c, f, n, opts);
}

void cluster_start(struct cluster *c, struct harness_fixture *f, size_t n, const char *const *args)
{
    const char *const *each[HARNESS_MAX_NODES];
    for (size_t i = 0; i < n; i++)
        each[i] = args;
    cluster_start_each(c, f, n, each);
}

bool cluster_has_leader(const json_t *st, void *arg)
{
    (void)arg;
    json_int_t leader = json_integer_value(json_object_get(st, "leader_id"));
    return leader != 0;
}

void cluster_endpoints(const struct cluster *c, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < c->count && used < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s127.0.0.1:%u", i > 0 ? "," : "", c->n[i]->port);
}

/* Index of the ready leader among the running nodes, waiting for one. */
size_t cluster_leader(struct cluster *c)
{
    int64_t deadline = harness_now_ms() + CLUSTER_WAIT_MS;
    while (harness_now_ms() < deadline) {
        for (size_t i = 0; i < c->count; i++) {
            if (c->n[i] == NULL || c->n[i]->pid == 0)
                continue;
            json_t *st = harness_status(c->n[i]);
            if (st == NULL)
                continue;
            const char *state = json_string_value(json_object_get(st, "state"));
            bool ok = state != NULL && strcmp(state, "leader") == 0 &&
                      json_is_true(json_object_get(st, "ready"));
            json_decref(st);
            if (ok)
                return i;
        }
        cluster_poll_pause();
    }
    fail_msg("no ready leader within %d ms", CLUSTER_WAIT_MS);
    return 0;
}

char *cluster_add_json(const char *stream, const char *version, const char *type)
{
    char *s = malloc(256);
    snprintf(s, 256, "{\"stream\":\"%s\",\"version\":%s,\"events\":[{\"type\":\"%s\",\"data\":{\"n\":1}}]}",
             stream, version, type);
    return s;
}

/* ADD through node i; returns the reply (caller frees). */
int cluster_node_add(struct harness_node *n, const char *stream, const char *version, const char *type,
               struct resp_value *out)
{
    struct harness_conn *conn = harness_connect(n);
    if (conn == NULL)
        return -1;
    char *arg = cluster_add_json(stream, version, type);
    int rc = harness_cmd(conn, out, "ADD", arg, NULL);
    free(arg);
    harness_close(conn);
    return rc;
}

/* ADD on the leader, asserting success; returns the stored event's id. */
char *cluster_add_ok(struct cluster *c, const char *stream, const char *version, const char *type)
{
    struct resp_value v;
    size_t l = cluster_leader(c);
    assert_int_equal(cluster_node_add(c->n[l], stream, version, type, &v), 0);
    json_t *events = harness_assert_events(&v);
    resp_value_free(&v);
    assert_int_equal(json_array_size(events), 1);
    char *id = strdup(json_string_value(json_object_get(json_array_get(events, 0), "id")));
    json_decref(events);
    return id;
}

char *cluster_node_checksum(struct harness_node *n)
{
    /* As the admin where there are users: else every node would answer
     * the same refusal. */
    struct harness_conn *conn = harness_connect_auth(n);
    assert_non_null(conn);
    char *r = harness_cmd_repr(conn, "CHECKSUM", NULL);
    harness_close(conn);
    return r;
}

struct applied_arg {
    const char *last_id;
};

static bool cluster_applied_id(const json_t *st, void *arg)
{
    struct applied_arg *a = arg;
    const char *last = json_string_value(json_object_get(st, "last_id"));
    return last != NULL && strcmp(last, a->last_id) >= 0;
}

/* One node's CHECKSUM STATE: applied index, digest, where it starts. */
struct state_digest {
    int64_t index, since;
    char digest[32];
};

/* False while the node refuses (a restarted node is STALE until it has
 * applied again what it had answered from before). */
static bool node_state_digest(struct harness_node *n, struct state_digest *out)
{
    struct harness_conn *conn = harness_connect_auth(n);
    assert_non_null(conn);
    struct resp_value v;
    assert_int_equal(harness_cmd(conn, &v, "CHECKSUM", "STATE", NULL), 0);
    harness_close(conn);
    if (v.type == RESP_T_ERROR) {
        fprintf(stderr, "cluster: node %u: CHECKSUM STATE: %s\n", n->id, v.str);
        resp_value_free(&v);
        return false;
    }
    assert_int_equal(v.type, RESP_T_ARRAY);
    assert_int_equal(v.n, 3);
    assert_int_equal(v.elems[0].type, RESP_T_INT);
    assert_int_equal(v.elems[1].type, RESP_T_BULK);
    assert_true(v.elems[1].len < sizeof out->digest);
    out->index = v.elems[0].integer;
    memcpy(out->digest, v.elems[1].str, v.elems[1].len);
    out->digest[v.elems[1].len] = '\0';
    out->since = v.elems[2].integer;
    resp_value_free(&v);
    return true;
}

void cluster_assert_state_converged(struct cluster *c)
{
    int64_t deadline = harness_now_ms() + CLUSTER_WAIT_MS;
    for (;;) {
        struct state_digest first = {.index = -1}, d;
        bool same = true;
        for (size_t i = 0; i < c->count && same; i++) {
            if (c->n[i] == NULL || c->n[i]->pid == 0)
                continue;
            if (!node_state_digest(c->n[i], &d)) {
                same = false;
            } else if (first.index < 0) {
                first = d;
            } else if (d.index != first.index) {
                same = false; /* one is still applying: ask again */
            } else {
                assert_string_equal(d.digest, first.digest);
                assert_int_equal(d.since, first.since);
            }
        }
        if (same)
            return;
        assert_true(harness_now_ms() < deadline);
        cluster_poll_pause();
    }
}

/* Wait until every running node has applied last_id, then check that all
 * report the same CHECKSUM, and the same state digest at one index. */
void cluster_assert_converged(struct cluster *c, const char *last_id)
{
    struct applied_arg a = {last_id};
    char *first = NULL;
    for (size_t i = 0; i < c->count; i++) {
        if (c->n[i] == NULL || c->n[i]->pid == 0)
            continue;
        assert_int_equal(harness_wait_status(c->n[i], cluster_applied_id, &a, CLUSTER_WAIT_MS), 0);
        /* Members' raft messages all pass the frame checks (raft_frame.h):
         * one refused would be a check stricter than raft's encoding. */
        assert_int_equal(cluster_node_status_int(c->n[i], "raft_frames_refused"), 0);
        char *sum = cluster_node_checksum(c->n[i]);
        if (first == NULL) {
            first = sum;
        } else {
            assert_string_equal(sum, first);
            free(sum);
        }
    }
    free(first);
    cluster_assert_state_converged(c);
}

json_t *cluster_node_get(struct harness_node *n, const char *arg)
{
    struct harness_conn *conn = harness_connect(n);
    assert_non_null(conn);
    struct resp_value v;
    assert_int_equal(harness_cmd(conn, &v, "GET", arg, NULL), 0);
    json_t *events = harness_assert_events(&v);
    resp_value_free(&v);
    harness_close(conn);
    return events;
}

struct counter_at_least {
    const char *key;
    int64_t want;
};

static bool counter_reached(const json_t *st, void *arg)
{
    const struct counter_at_least *c = arg;
    return json_integer_value(json_object_get(st, c->key)) >= c->want;
}

void cluster_node_wait_counter(struct harness_node *n, const char *key, int64_t want)
{
    struct counter_at_least c = {key, want};
    assert_int_equal(harness_wait_status(n, counter_reached, &c, CLUSTER_WAIT_MS), 0);
}

int64_t cluster_node_status_int(struct harness_node *n, const char *key)
{
    json_t *st = harness_status(n);
    assert_non_null(st);
    const json_t *v = json_object_get(st, key);
    assert_true(json_is_integer(v));
    int64_t out = json_integer_value(v);
    json_decref(st);
    return out;
}

/* ADD `count` events to `stream` through n, pipelined; returns the id of
 * the last one (caller frees). */
char *cluster_node_write_events(struct harness_node *n, const char *stream, int count)
{
    struct harness_conn *conn = harness_connect_auth(n);
    assert_non_null(conn);
    for (int i = 0; i < count; i++) {
        char *arg = cluster_add_json(stream, "\"any\"", "Written");
        harness_queue(conn, "ADD", arg, NULL);
        free(arg);
    }
    size_t want = (size_t)count;
    struct harness_conn *conns[1] = {conn};
    assert_int_equal(harness_pump(conns, 1, &want, CLUSTER_WAIT_MS), 0);
    char *last = NULL;
    for (int i = 0; i < count; i++) {
        struct resp_value v;
        assert_int_equal(harness_read(conn, &v), 1);
        json_t *events = harness_assert_events(&v);
        if (i == count - 1)
            last = strdup(json_string_value(json_object_get(json_array_get(events, 0), "id")));
        json_decref(events);
        resp_value_free(&v);
    }
    harness_close(conn);
    return last;
}

bool cluster_node_member_count(struct harness_node *n, size_t want, const char *role)
{
    struct harness_conn *conn = harness_connect(n);
    if (conn == NULL)
        return false;
    struct resp_value v;
    bool ok = false;
    if (harness_cmd(conn, &v, "CLUSTER", "MEMBERS", NULL) == 0 && v.type == RESP_T_ARRAY) {
        size_t count = 0;
        for (size_t i = 0; i < v.n; i++)
            if (role == NULL || strstr(v.elems[i].str, role) != NULL)
                count++;
        ok = count == want;
        resp_value_free(&v);
    }
    harness_close(conn);
    return ok;
}

/* Whether n's CLUSTER MEMBERS lists `want` members, each with a client
 * address, in a committed configuration. */
bool cluster_node_members_addressed(struct harness_node *n, size_t want)
{
    struct harness_conn *conn = harness_connect(n);
    if (conn == NULL)
        return false;
    struct resp_value v;
    bool ok = false;
    if (harness_cmd(conn, &v, "CLUSTER", "MEMBERS", NULL) == 0 && v.type == RESP_T_ARRAY) {
        ok = v.n == want;
        for (size_t i = 0; i < v.n; i++)
            if (strstr(v.elems[i].str, "\"client_address\":\"\"") != NULL ||
                strstr(v.elems[i].str, "\"committed\":true") == NULL)
                ok = false;
        resp_value_free(&v);
    }
    harness_close(conn);
    return ok;
}

/* Poll until n's CLUSTER MEMBERS lists `want` addressed members in a
 * committed configuration; fails the test after CLUSTER_WAIT_MS. */
void cluster_node_wait_members_addressed(struct harness_node *n, size_t want)
{
    int64_t until = harness_now_ms() + CLUSTER_WAIT_MS;
    while (!cluster_node_members_addressed(n, want)) {
        assert_true(harness_now_ms() < until);
        cluster_poll_pause();
    }
}

void cluster_node_expect_ok(struct harness_node *n, const char *a0, const char *a1, const char *a2, const char *a3,
                      const char *a4)
{
    struct harness_conn *conn = harness_connect(n);
    assert_non_null(conn);
    char *r = harness_cmd_repr(conn, a0, a1, a2, a3, a4, NULL);
    assert_string_equal(r, "+OK");
    free(r);
    harness_close(conn);
}

/* Move leadership to member `target` (its index in c->n). The node answers
 * -TRYAGAIN when leadership did not move within an election timeout (the
 * target was still catching up, or a loaded machine was slow): then ask
 * the current leader again, unless leadership reached the target anyway. */
void cluster_transfer_ok(struct cluster *c, size_t target)
{
    char id[16];
    snprintf(id, sizeof id, "%zu", target + 1);
    int64_t until = harness_now_ms() + CLUSTER_WAIT_MS;
    for (;;) {
        size_t l = cluster_leader(c);
        if (l == target)
            return;
        struct harness_conn *conn = harness_connect(c->n[l]);
        assert_non_null(conn);
        char *r = harness_cmd_repr(conn, "CLUSTER", "TRANSFER", id, NULL);
        harness_close(conn);
        bool again = strncmp(r, "-TRYAGAIN", 9) == 0;
        if (!again || harness_now_ms() >= until) {
            assert_string_equal(r, "+OK");
            free(r);
            return;
        }
        free(r);
    }
}


void cluster_assert_foreign_refused(struct cluster *c, struct harness_node *foreign, unsigned events)
{
    json_t *before = harness_status(foreign);
    assert_non_null(before);
    size_t l = cluster_leader(c);
    char raft[32], client[32], id[16], holds[48], to[64];
    snprintf(raft, sizeof raft, "127.0.0.1:%u", foreign->raft_port);
    snprintf(client, sizeof client, "127.0.0.1:%u", foreign->port);
    snprintf(id, sizeof id, "%u", foreign->id);
    snprintf(holds, sizeof holds, "holds %u events", events);
    snprintf(to, sizeof to, "refusing a raft connection to node %u", foreign->id);
    struct harness_conn *conn = harness_connect(c->n[l]);
    assert_non_null(conn);
    struct resp_value v;
    assert_int_equal(harness_cmd(conn, &v, "CLUSTER", "ADD", id, raft, client, NULL), 0);
    harness_assert_error_prefix(&v, "REFUSED the node at 127.0.0.1:");
    assert_non_null(strstr(v.str, "belongs to another cluster"));
    assert_non_null(strstr(v.str, holds));
    resp_value_free(&v);
    assert_true(cluster_node_member_count(c->n[l], c->count, NULL));

    /* Added with a client address nobody answers at, the check cannot
     * see it: raft's connections are what keep it out. The promotion's
     * catch-up never reaches it, and the error says where to look. */
    unsigned nobody;
    assert_int_equal(harness_free_port(&nobody), 0);
    snprintf(client, sizeof client, "127.0.0.1:%u", nobody);
    assert_int_equal(harness_cmd(conn, &v, "CLUSTER", "ADD", id, raft, client, NULL), 0);
    harness_assert_simple(&v, "OK");
    resp_value_free(&v);
    assert_int_equal(harness_cmd(conn, &v, "CLUSTER", "PROMOTE", id, NULL), 0);
    harness_assert_error_prefix(&v, "the membership change failed: member ");
    assert_non_null(strstr(v.str, "could not be reached"));
    assert_non_null(strstr(v.str, "raft_hellos_refused"));
    resp_value_free(&v);
    assert_true(cluster_node_status_int(foreign, "raft_hellos_refused") > 0);
    assert_true(cluster_node_status_int(c->n[l], "raft_hellos_refused") > 0);
    assert_true(harness_node_log_says(foreign, "refusing a raft connection from node"));
    assert_true(harness_node_log_says(c->n[l], to));

    /* Removed again; the cluster carries on, the foreign node is as it was. */
    assert_int_equal(harness_cmd(conn, &v, "CLUSTER", "REMOVE", id, NULL), 0);
    harness_assert_simple(&v, "OK");
    resp_value_free(&v);
    harness_close(conn);
    json_t *after = harness_status(foreign);
    assert_non_null(after);
    static const char *const same[] = {"state", "term", "events", "checksum", "cluster_id", "leader_id"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        assert_true(json_equal(json_object_get(before, same[i]), json_object_get(after, same[i])));
    assert_string_not_equal(json_string_value(json_object_get(after, "cluster_id")), "");
    json_decref(before);
    json_decref(after);
}
