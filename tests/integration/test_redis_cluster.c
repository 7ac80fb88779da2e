/* test_redis_cluster.c - three real eventflowd nodes answering as a Redis 7
 * Cluster of one shard (src/server/redis_cluster.c, info.c, client_cmd.c,
 * command_docs.c): the exact shapes of CLUSTER SLOTS/SHARDS/NODES/MYID/
 * INFO, INFO's role, HELLO, CLIENT, COMMAND, SELECT, ECHO, TIME, Redis's
 * error texts; the topology following a leadership transfer; node ids
 * surviving a restart; -MOVED with the key's slot; -CLUSTERDOWN to Redis
 * clients (and -NOLEADER to others) without a leader.
 *
 * Every wait polls an observable condition with a deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cluster.h"
#include "harness.h"

enum { N = 3 };

static bool is_node_id(const char *s, size_t len)
{
    if (len != 40)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* n's CLUSTER MYID (caller frees). */
static char *myid(struct harness_node *n)
{
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    struct resp_value v;
    assert_int_equal(harness_cmd(c, &v, "CLUSTER", "MYID", NULL), 0);
    assert_int_equal(v.type, RESP_T_BULK);
    assert_true(is_node_id(v.str, v.len));
    char *id = strdup(v.str);
    resp_value_free(&v);
    harness_close(c);
    return id;
}

/* A bulk reply of n to the command, as a string (caller frees). */
static char *bulk(struct harness_node *n, const char *a0, const char *a1)
{
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    struct resp_value v;
    assert_int_equal(harness_cmd(c, &v, a0, a1, NULL), 0);
    assert_int_equal(v.type, RESP_T_BULK);
    char *s = strdup(v.str);
    resp_value_free(&v);
    harness_close(c);
    return s;
}

/* CLUSTER SLOTS from n: one range 0-16383 whose first node is the member
 * on `primary_port`, then the two others, each [host, port, 40-hex id, []]. */
static void assert_slots(struct harness_node *n, unsigned primary_port)
{
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    struct resp_value v;
    assert_int_equal(harness_cmd(c, &v, "CLUSTER", "SLOTS", NULL), 0);
    assert_int_equal(v.type, RESP_T_ARRAY);
    assert_int_equal(v.n, 1);
    const struct resp_value *r = &v.elems[0];
    assert_int_equal(r->n, 2 + N);
    harness_assert_int(&r->elems[0], 0);
    harness_assert_int(&r->elems[1], 16383);
    for (size_t i = 2; i < r->n; i++) {
        const struct resp_value *node = &r->elems[i];
        assert_int_equal(node->n, 4);
        assert_string_equal(node->elems[0].str, "127.0.0.1");
        assert_int_equal(node->elems[1].type, RESP_T_INT);
        assert_true(is_node_id(node->elems[2].str, node->elems[2].len));
        assert_int_equal(node->elems[3].n, 0);
        if (i == 2)
            assert_int_equal(node->elems[1].integer, primary_port);
        else
            assert_int_not_equal(node->elems[1].integer, primary_port);
    }
    resp_value_free(&v);
    harness_close(c);
}

/* Whether a node's STATUS names leader *(uint64_t *)arg. */
static bool knows_leader(const json_t *st, void *arg)
{
    return (uint64_t)json_integer_value(json_object_get(st, "leader_id")) == *(uint64_t *)arg;
}

static bool myid_set(const json_t *st, void *arg)
{
    (void)arg;
    const char *id = json_string_value(json_object_get(st, "cluster_id"));
    return id != NULL && strlen(id) == 32;
}

static void test_topology(void **state)
{
    struct cluster c;
    cluster_start(&c, *state, N, NULL);
    size_t l = cluster_leader(&c);
    size_t f = (l + 1) % N;
    for (size_t i = 0; i < N; i++)
        assert_int_equal(harness_wait_status(c.n[i], myid_set, NULL, CLUSTER_WAIT_MS), 0);

    /* Ids: the cluster identity then the raft id, alike on every node. */
    char *lid = myid(c.n[l]);
    json_t *st = harness_status(c.n[f]);
    assert_memory_equal(lid, json_string_value(json_object_get(st, "cluster_id")), 32);
    json_decref(st);
    char tail[9];
    snprintf(tail, sizeof tail, "%08zx", l + 1);
    assert_string_equal(lid + 32, tail);

    assert_slots(c.n[f], c.n[l]->port);
    assert_slots(c.n[l], c.n[l]->port);

    /* CLUSTER NODES from the follower: its own line says myself,slave and
     * names the leader's id as its master; the leader's holds the slots. */
    char *nodes = bulk(c.n[f], "CLUSTER", "NODES");
    char *fid = myid(c.n[f]);
    char line[256];
    snprintf(line, sizeof line, "%s 127.0.0.1:%u@", fid, c.n[f]->port);
    char *mine = strstr(nodes, line);
    assert_non_null(mine);
    snprintf(line, sizeof line, " myself,slave %s 0 0 ", lid);
    assert_non_null(strstr(mine, line));
    snprintf(line, sizeof line, "%s 127.0.0.1:%u@", lid, c.n[l]->port);
    char *leader_line = strstr(nodes, line);
    assert_non_null(leader_line);
    assert_non_null(strstr(leader_line, " master - 0 0 "));
    assert_non_null(strstr(leader_line, " connected 0-16383\n"));
    size_t lines = 0;
    for (const char *p = nodes; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, N);
    free(nodes);

    char *info = bulk(c.n[f], "CLUSTER", "INFO");
    assert_non_null(strstr(info, "cluster_state:ok\r\n"));
    assert_non_null(strstr(info, "cluster_slots_assigned:16384\r\n"));
    assert_non_null(strstr(info, "cluster_known_nodes:3\r\n"));
    assert_non_null(strstr(info, "cluster_size:1\r\n"));
    free(info);

    /* INFO: role:master on the leader, role:slave naming it elsewhere. */
    info = bulk(c.n[l], "INFO", "replication");
    assert_non_null(strstr(info, "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n"));
    assert_null(strstr(info, "# Server"));
    free(info);
    info = bulk(c.n[f], "INFO", NULL);
    snprintf(line, sizeof line, "role:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:%u\r\nmaster_link_status:up\r\n",
             c.n[l]->port);
    assert_non_null(strstr(info, line));
    assert_non_null(strstr(info, "# Cluster\r\ncluster_enabled:1\r\n"));
    assert_non_null(strstr(info, "redis_mode:cluster\r\n"));
    free(info);

    /* CLUSTER SHARDS, RESP2: one shard, the leader first as master. */
    struct harness_conn *fc = harness_connect(c.n[f]);
    struct resp_value v;
    assert_int_equal(harness_cmd(fc, &v, "CLUSTER", "SHARDS", NULL), 0);
    assert_int_equal(v.n, 1);
    const struct resp_value *shard = &v.elems[0];
    assert_int_equal(shard->n, 4);
    assert_string_equal(shard->elems[0].str, "slots");
    assert_string_equal(shard->elems[2].str, "nodes");
    assert_int_equal(shard->elems[3].n, N);
    const struct resp_value *first = &shard->elems[3].elems[0];
    assert_int_equal(first->n, 14);
    assert_string_equal(first->elems[0].str, "id");
    assert_string_equal(first->elems[1].str, lid);
    assert_string_equal(first->elems[8].str, "role");
    assert_string_equal(first->elems[9].str, "master");
    assert_string_equal(shard->elems[3].elems[1].elems[9].str, "replica");
    resp_value_free(&v);
    harness_close(fc);

    /* The leader knows every replica's position (its match index). */
    struct harness_conn *lc = harness_connect(c.n[l]);
    assert_int_equal(harness_cmd(lc, &v, "CLUSTER", "SHARDS", NULL), 0);
    for (size_t i = 0; i < N; i++) {
        const struct resp_value *node = &v.elems[0].elems[3].elems[i];
        assert_string_equal(node->elems[10].str, "replication-offset");
        assert_true(node->elems[11].integer > 0);
    }
    resp_value_free(&v);
    harness_close(lc);

    /* Leadership moves: the map follows. */
    size_t target = (l + 2) % N;
    cluster_transfer_ok(&c, target);
    /* TRANSFER answers before the follower has heard from the new leader:
     * the map follows once it has. */
    uint64_t target_id = c.n[target]->id;
    assert_int_equal(harness_wait_status(c.n[f], knows_leader, &target_id, CLUSTER_WAIT_MS), 0);
    assert_slots(c.n[f], c.n[target]->port);

    /* Ids survive a restart. */
    assert_int_equal(harness_node_stop(c.n[f]), 0);
    assert_int_equal(harness_node_start(c.n[f]), 0);
    assert_int_equal(harness_wait_status(c.n[f], myid_set, NULL, CLUSTER_WAIT_MS), 0);
    char *again = myid(c.n[f]);
    assert_string_equal(again, fid);
    free(again);
    free(fid);
    free(lid);
    harness_pass(*state);
}

static void test_handshake(void **state)
{
    struct cluster c;
    cluster_start(&c, *state, N, NULL);
    struct harness_conn *conn = harness_connect(c.n[cluster_leader(&c)]);
    assert_non_null(conn);
    struct resp_value v;

    HARNESS_EXPECT(conn, "+OK", "CLIENT", "SETNAME", "worker-1");
    HARNESS_EXPECT(conn, "\"worker-1\"", "CLIENT", "GETNAME");
    HARNESS_EXPECT(conn, "+OK", "CLIENT", "SETINFO", "LIB-NAME", "go-redis(,go1.26)");
    HARNESS_EXPECT(conn, "+OK", "CLIENT", "SETINFO", "lib-ver", "9.23.0");
    HARNESS_EXPECT(conn, "-ERR Unrecognized option 'colour'", "CLIENT", "SETINFO", "colour", "x");
    HARNESS_EXPECT(conn, "-ERR Client names cannot contain spaces, newlines or special characters.", "CLIENT",
                   "SETNAME", "a b");
    HARNESS_EXPECT(conn, "-ERR unknown subcommand 'KILLALL'. Try CLIENT HELP.",
                   "CLIENT", "KILLALL");
    assert_int_equal(harness_cmd(conn, &v, "CLIENT", "INFO", NULL), 0);
    assert_int_equal(v.type, RESP_T_BULK);
    assert_non_null(strstr(v.str, " name=worker-1 "));
    assert_non_null(strstr(v.str, " lib-name=go-redis(,go1.26) lib-ver=9.23.0\n"));
    resp_value_free(&v);
    assert_int_equal(harness_cmd(conn, &v, "CLIENT", "ID", NULL), 0);
    assert_int_equal(v.type, RESP_T_INT);
    resp_value_free(&v);

    /* Bad input: Redis's errors, and the connection goes on. */
    char long_name[80];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    HARNESS_EXPECT(conn, "-ERR the value is longer than 63 bytes", "CLIENT", "SETNAME", long_name);
    HARNESS_EXPECT(conn, "-ERR wrong number of arguments for 'cluster|keyslot' command", "CLUSTER", "KEYSLOT");
    HARNESS_EXPECT(conn, "-ERR wrong number of arguments for 'client' command", "CLIENT");
    HARNESS_EXPECT(conn, "-ERR value is not an integer or out of range", "SELECT", "99999999999");
    HARNESS_EXPECT(conn, "\"\"", "INFO", "nosuchsection");
    HARNESS_EXPECT(conn, ":12182", "CLUSTER", "KEYSLOT", "foo");
    HARNESS_EXPECT(conn, ":12182", "CLUSTER", "KEYSLOT", "{foo}.bar");
    HARNESS_EXPECT(conn, "+OK", "SELECT", "0");
    HARNESS_EXPECT(conn, "-ERR SELECT is not allowed in cluster mode", "SELECT", "1");
    HARNESS_EXPECT(conn, "-ERR value is not an integer or out of range", "SELECT", "x");
    HARNESS_EXPECT(conn, "-ERR wrong number of arguments for 'select' command", "SELECT");
    HARNESS_EXPECT(conn, "\"hello\"", "ECHO", "hello");
    HARNESS_EXPECT(conn, "-ERR wrong number of arguments for 'echo' command", "ECHO");
    HARNESS_EXPECT(conn, "+OK", "READONLY");
    HARNESS_EXPECT(conn, "+OK", "READWRITE");
    assert_int_equal(harness_cmd(conn, &v, "TIME", NULL), 0);
    assert_int_equal(v.n, 2);
    assert_true(strtoll(v.elems[0].str, NULL, 10) > 1700000000);
    resp_value_free(&v);

    /* COMMAND: COUNT agrees with the listing; ADD writes, GET reads, and
     * both take their JSON argument as the key; an unknown name is nil. */
    assert_int_equal(harness_cmd(conn, &v, "COMMAND", "COUNT", NULL), 0);
    int64_t count = v.integer;
    resp_value_free(&v);
    assert_int_equal(harness_cmd(conn, &v, "COMMAND", NULL), 0);
    assert_int_equal((int64_t)v.n, count);
    resp_value_free(&v);
    assert_int_equal(harness_cmd(conn, &v, "COMMAND", "INFO", "add", "GET", "nosuch", NULL), 0);
    assert_int_equal(v.n, 3);
    const struct resp_value *add = &v.elems[0];
    assert_int_equal(add->n, 10);
    assert_string_equal(add->elems[0].str, "add");
    harness_assert_int(&add->elems[1], 2);
    assert_string_equal(add->elems[2].elems[0].str, "write");
    harness_assert_int(&add->elems[3], 1);
    harness_assert_int(&add->elems[4], 1);
    harness_assert_int(&add->elems[5], 1);
    assert_string_equal(v.elems[1].elems[2].elems[0].str, "readonly");
    assert_int_equal(v.elems[2].type, RESP_T_NULL);
    resp_value_free(&v);
    HARNESS_EXPECT(conn, "-ERR unknown subcommand 'GETKEYSANDFLAGS'. Try COMMAND HELP.", "COMMAND",
                   "GETKEYSANDFLAGS");
    HARNESS_EXPECT(conn, "-ERR wrong number of arguments for 'command|count' command", "COMMAND", "COUNT", "x");
    HARNESS_EXPECT(conn, "-ERR wrong number of arguments for 'client|getname' command", "CLIENT", "GETNAME", "x");

    /* Membership changes are CLUSTER's subcommands that write. */
    assert_int_equal(harness_cmd(conn, &v, "COMMAND", "INFO", "cluster", NULL), 0);
    const struct resp_value *subs = &v.elems[0].elems[9];
    bool found = false;
    for (size_t i = 0; i < subs->n; i++)
        if (strcmp(subs->elems[i].elems[0].str, "cluster|add") == 0) {
            assert_string_equal(subs->elems[i].elems[2].elems[0].str, "write");
            found = true;
        }
    assert_true(found);
    resp_value_free(&v);
    assert_int_equal(harness_cmd(conn, &v, "COMMAND", "DOCS", "get", "nosuch", NULL), 0);
    assert_int_equal(v.n, 2); /* RESP2: name, then its fields; unknown names left out */
    assert_string_equal(v.elems[0].str, "get");
    assert_int_equal(v.elems[1].n, 6);
    assert_string_equal(v.elems[1].elems[0].str, "summary");
    assert_string_equal(v.elems[1].elems[1].str, "reads a stream from a version");
    resp_value_free(&v);

    /* HELLO 3: Redis's map, in cluster mode; SETNAME names the connection. */
    assert_int_equal(harness_cmd(conn, &v, "HELLO", "3", "SETNAME", "h", NULL), 0);
    assert_int_equal(v.type, RESP_T_MAP);
    assert_int_equal(v.n, 14);
    assert_string_equal(v.elems[8].str, "mode");
    assert_string_equal(v.elems[9].str, "cluster");
    assert_string_equal(v.elems[11].str, "master");
    resp_value_free(&v);
    HARNESS_EXPECT(conn, "\"h\"", "CLIENT", "GETNAME");
    harness_close(conn);
    harness_pass(*state);
}

/* Without a leader, a write is -CLUSTERDOWN to a client that introduced
 * itself as a Redis client and -NOLEADER to eventflow's own clients. */
static void test_no_leader(void **state)
{
    struct cluster c;
    cluster_start(&c, *state, N, NULL);
    size_t l = cluster_leader(&c);
    size_t f = (l + 1) % N;
    assert_int_equal(harness_node_stop(c.n[l]), 0);
    assert_int_equal(harness_node_stop(c.n[(l + 2) % N]), 0);
    char *json = cluster_add_json("down", "0", "T");
    struct harness_conn *redis = harness_connect(c.n[f]), *plain = harness_connect(c.n[f]);
    assert_non_null(redis);
    assert_non_null(plain);
    HARNESS_EXPECT(redis, "+OK", "READONLY");
    struct resp_value v;
    int64_t deadline = harness_now_ms() + CLUSTER_WAIT_MS;
    for (;;) {
        assert_int_equal(harness_cmd(redis, &v, "ADD", json, NULL), 0);
        assert_int_equal(v.type, RESP_T_ERROR);
        if (strncmp(v.str, "CLUSTERDOWN ", 12) == 0)
            break;
        assert_true(harness_now_ms() < deadline);
        resp_value_free(&v);
        cluster_poll_pause();
    }
    resp_value_free(&v);
    assert_int_equal(harness_cmd(plain, &v, "ADD", json, NULL), 0);
    harness_assert_error_prefix(&v, "NOLEADER ");
    resp_value_free(&v);
    char *info = bulk(c.n[f], "CLUSTER", "INFO");
    assert_non_null(strstr(info, "cluster_state:fail\r\n"));
    free(info);
    free(json);
    harness_close(redis);
    harness_close(plain);
    harness_pass(*state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_topology, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_handshake, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_no_leader, harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests_name("redis_cluster", tests, NULL, NULL);
}
