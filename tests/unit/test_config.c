/* test_config.c - eventflowd's options (src/server/config.c): the defaults,
 * that each flag and environment variable lands in its own field, and the
 * messages for values refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "server/config.h"

/* Every option's environment variable: a test starts with none set. */
static const char *const env_names[] = {
    "NODE_ID", "BIND", "PORT", "ADVERTISE", "RAFT_ADDRESS", "RAFT_BIND", "CLUSTER", "JOIN", "CLUSTER_STATE",
    "DATA", "PASSWORD", "MAX_BULK", "MAX_CLIENTS", "MAX_EVENTS", "MAX_EVENT_SIZE", "MAX_READ", "MAP_SIZE",
    "MIN_FREE_DISK", "SNAPSHOT_THRESHOLD", "SNAPSHOT_TRAILING", "ELECTION_TIMEOUT", "HEARTBEAT_TIMEOUT",
    "MAX_STALENESS", "LOG_LEVEL", "CPU_AFFINITY", "DEDUP_WINDOW", "HTTP_PORT", "HTTP_BIND", "HTTP_ADVERTISE",
    "HTTP_OPEN_HEALTH", "CLUSTER_SECRET", "CLUSTER_SECRET_FILE", "RESTORE", "TLS_ADVERTISE",
    "RAFT_TLS", "TLS_PEER_CERT", "TLS_PEER_KEY", "TLS_PEER_CA",
};

static int clear_env(void **state)
{
    for (size_t i = 0; i < sizeof env_names / sizeof env_names[0]; i++)
        assert_int_equal(unsetenv(env_names[i]), 0);
    return 0;
}

/* config_load with argv = "eventflowd" followed by the NULL-terminated args. */
static int load(struct config *cfg, char *err, size_t errlen, const char *const *args)
{
    char *argv[64] = {"eventflowd"};
    int argc = 1;
    for (; args[argc - 1] != NULL; argc++) {
        assert_true(argc < 63);
        argv[argc] = (char *)args[argc - 1];
    }
    err[0] = '\0';
    return config_load(argc, argv, cfg, err, errlen);
}

/* Every field of got as in want (strings by content). */
static void assert_config(const struct config *got, const struct config *want)
{
    assert_int_equal(got->id, want->id);
    assert_string_equal(got->bind, want->bind);
    assert_int_equal(got->port, want->port);
    assert_string_equal(got->advertise, want->advertise);
    assert_string_equal(got->raft_address, want->raft_address);
    assert_string_equal(got->raft_bind, want->raft_bind);
    assert_string_equal(got->join, want->join);
    assert_int_equal(got->n_members, want->n_members);
    for (size_t i = 0; i < want->n_members; i++) {
        assert_int_equal(got->members[i].id, want->members[i].id);
        assert_string_equal(got->members[i].raft_address, want->members[i].raft_address);
        assert_string_equal(got->members[i].client_address, want->members[i].client_address);
    }
    assert_string_equal(got->data_dir, want->data_dir);
    if (want->password == NULL)
        assert_null(got->password);
    else
        assert_string_equal(got->password, want->password);
    assert_int_equal(got->max_bulk, want->max_bulk);
    assert_int_equal(got->max_clients, want->max_clients);
    assert_int_equal(got->max_pending, want->max_pending);
    assert_int_equal(got->max_output, want->max_output);
    assert_memory_equal(&got->codec, &want->codec, sizeof got->codec);
    assert_int_equal(got->map_size, want->map_size);
    assert_int_equal(got->min_free_disk, want->min_free_disk);
    assert_int_equal(got->snapshot_threshold, want->snapshot_threshold);
    assert_int_equal(got->snapshot_trailing, want->snapshot_trailing);
    assert_int_equal(got->election_timeout_ms, want->election_timeout_ms);
    assert_int_equal(got->heartbeat_timeout_ms, want->heartbeat_timeout_ms);
    assert_int_equal(got->max_staleness_ms, want->max_staleness_ms);
    assert_int_equal(got->log_level, want->log_level);
    assert_int_equal(got->cpu_affinity.mode, want->cpu_affinity.mode);
    assert_int_equal(got->dedup_window, want->dedup_window);
    assert_int_equal(got->dedup_window_set, want->dedup_window_set);
    assert_int_equal(got->cluster_state_existing, want->cluster_state_existing);
    assert_int_equal(got->http_port, want->http_port);
    assert_int_equal(got->http_port_set, want->http_port_set);
    assert_string_equal(got->http_bind, want->http_bind);
    assert_string_equal(got->http_advertise, want->http_advertise);
    assert_int_equal(got->http_open_health, want->http_open_health);
}

static void test_defaults(void **state)
{
    struct config cfg;
    char err[256];
    const char *const none[] = {NULL};
    assert_int_equal(load(&cfg, err, sizeof err, none), 0);
    struct node_member alone = {1, "127.0.0.1:7543", "127.0.0.1:6543"};
    const struct config want = {
        .id = 1,
        .bind = "127.0.0.1",
        .port = 6543,
        .advertise = "127.0.0.1:6543",
        .raft_address = "127.0.0.1:7543",
        .members = &alone,
        .n_members = 1,
        .data_dir = "./data",
        .max_bulk = 16u << 20,
        .max_clients = 10000,
        .max_pending = 1024,
        .max_output = 256u << 20,
        .codec = {.max_events = 1000, .max_event_size = 1u << 20, .max_stream_len = 256, .max_type_len = 256,
                  .max_read = 10000},
        .map_size = (size_t)64 << 30,
        .min_free_disk = (uint64_t)128 << 20,
        .snapshot_threshold = 131072,
        .snapshot_trailing = 32768,
        .election_timeout_ms = 1000,
        .heartbeat_timeout_ms = 100,
        .max_staleness_ms = 5000,
        .log_level = LOG_LEVEL_INFO,
        .cpu_affinity = {.mode = AFFINITY_AUTO},
        .dedup_window = STORE_DEFAULT_DEDUP_WINDOW,
        .http_port = 16543,
        .http_bind = "127.0.0.1",
        .http_advertise = "127.0.0.1:16543",
    };
    assert_config(&cfg, &want);
    /* The codec's own defaults (what it applies when given no limits: the
     * unit tests, the fuzzers, the client) are the option table's. */
    struct codec_limits codec;
    codec_limits_default(&codec);
    assert_int_equal(codec.max_events, cfg.codec.max_events);
    assert_int_equal(codec.max_event_size, cfg.codec.max_event_size);
    assert_int_equal(codec.max_stream_len, cfg.codec.max_stream_len);
    assert_int_equal(codec.max_type_len, cfg.codec.max_type_len);
    assert_int_equal(codec.max_read, cfg.codec.max_read);
    config_free(&cfg);
}

/* A value other than the default for every option: each must land in its
 * own field. */
static void test_every_flag(void **state)
{
    struct config cfg;
    char err[256];
    const char *const args[] = {
        "--id", "2", "--bind", "0.0.0.0", "--port", "7000", "--advertise", "h:1", "--raft-address", "r:2",
        "--raft-bind", "[::]:3", "--cluster", "2@r:2@h:1,3@x:4@y:5", "--join", "j:6", "--cluster-state",
        "existing", "--data", "d", "--password", "pw", "--max-bulk", "2048", "--max-clients", "5",
        "--max-events", "6", "--max-event-size", "100", "--max-read", "7", "--map-size", "2097152",
        "--min-free-disk", "0", "--snapshot-threshold", "4294967295", "--snapshot-trailing", "0",
        "--election-timeout", "500", "--heartbeat-timeout", "20", "--max-staleness", "0", "--log-level",
        "WARN", "--cpu-affinity", "0", "--dedup-window", "3", "--http-port", "0", "--http-bind", "::1",
        "--http-advertise", "w:8", "--http-open-health", "yes", NULL};
    assert_int_equal(load(&cfg, err, sizeof err, args), 0);
    struct node_member members[] = {{2, "r:2", "h:1"}, {3, "x:4", "y:5"}};
    const struct config want = {
        .id = 2,
        .bind = "0.0.0.0",
        .port = 7000,
        .advertise = "h:1",
        .raft_address = "r:2",
        .raft_bind = "[::]:3",
        .join = "j:6",
        .members = members,
        .n_members = 2,
        .data_dir = "d",
        .password = "pw",
        .max_bulk = 2048,
        .max_clients = 5,
        .max_pending = 1024,
        .max_output = 256u << 20,
        .codec = {.max_events = 6, .max_event_size = 100, .max_stream_len = 256, .max_type_len = 256,
                  .max_read = 7},
        .map_size = 2097152,
        .min_free_disk = 0,
        .snapshot_threshold = 4294967295u,
        .snapshot_trailing = 0,
        .election_timeout_ms = 500,
        .heartbeat_timeout_ms = 20,
        .max_staleness_ms = 0,
        .log_level = LOG_LEVEL_WARN,
        .cpu_affinity = {.mode = AFFINITY_LIST},
        .dedup_window = 3,
        .dedup_window_set = true,
        .cluster_state_existing = true,
        .http_port = 0,
        .http_port_set = true,
        .http_bind = "::1",
        .http_advertise = "w:8",
        .http_open_health = true,
    };
    assert_config(&cfg, &want);
    config_free(&cfg);
}

static void test_environment_and_flag(void **state)
{
    struct config cfg;
    char err[256];
    assert_int_equal(setenv("PORT", "7001", 1), 0);
    assert_int_equal(setenv("MAX_BULK", "4096", 1), 0);
    assert_int_equal(setenv("PASSWORD", "", 1), 0);
    assert_int_equal(setenv("DEDUP_WINDOW", "9", 1), 0);
    assert_int_equal(setenv("MAP_SIZE", "3145728", 1), 0);
    const char *const args[] = {"--port", "7002", "--map-size", "4194304", NULL};
    assert_int_equal(load(&cfg, err, sizeof err, args), 0);
    assert_int_equal(cfg.port, 7002);
    assert_int_equal(cfg.max_bulk, 4096);
    assert_null(cfg.password);
    assert_int_equal(cfg.dedup_window, 9);
    assert_true(cfg.dedup_window_set);
    assert_int_equal(cfg.map_size, 4194304);
    /* max_event_size follows a smaller max_bulk. */
    assert_int_equal(cfg.codec.max_event_size, 4096);
    config_free(&cfg);

    /* The HTTP address follows the advertised host, brackets kept. */
    assert_int_equal(setenv("HTTP_PORT", "8080", 1), 0);
    const char *const v6[] = {"--advertise", "[fd00::1]:6543", NULL};
    assert_int_equal(load(&cfg, err, sizeof err, v6), 0);
    assert_string_equal(cfg.http_advertise, "[fd00::1]:8080");
    assert_true(cfg.http_port_set);
    assert_null(cfg.restore);
    config_free(&cfg);

    /* --restore with this node alone in --cluster. */
    assert_int_equal(setenv("RESTORE", "env.efb", 1), 0);
    const char *const alone[] = {"--port", "6543", "--restore", "b.efb", "--cluster", "1@127.0.0.1:7543@127.0.0.1:6543",
                                 NULL};
    assert_int_equal(load(&cfg, err, sizeof err, alone), 0);
    assert_string_equal(cfg.restore, "b.efb");
    struct node_config ncfg;
    config_node(&cfg, &ncfg);
    assert_string_equal(ncfg.restore, "b.efb");
    config_free(&cfg);
    assert_int_equal(unsetenv("RESTORE"), 0);
}

/* The TLS address: --advertise's host with --tls-port unless given;
 * none without a TLS port. */
static void test_tls_advertise(void **state)
{
    struct config cfg;
    char err[256];
    const char *const none[] = {NULL};
    assert_int_equal(load(&cfg, err, sizeof err, none), 0);
    assert_string_equal(cfg.tls_advertise, "");
    config_free(&cfg);

    const char *const derived[] = {"--advertise", "[fd00::1]:6543", "--tls-port", "6643", "--tls-cert", "c",
                                   "--tls-key", "k", NULL};
    assert_int_equal(load(&cfg, err, sizeof err, derived), 0);
    assert_string_equal(cfg.tls_advertise, "[fd00::1]:6643");
    struct node_config nc;
    config_node(&cfg, &nc);
    assert_string_equal(nc.tls_advertise, "[fd00::1]:6643");
    config_free(&cfg);

    assert_int_equal(setenv("TLS_ADVERTISE", "tls.example:443", 1), 0);
    const char *const given[] = {"--tls-port", "6643", "--tls-cert", "c", "--tls-key", "k", NULL};
    assert_int_equal(load(&cfg, err, sizeof err, given), 0);
    assert_string_equal(cfg.tls_advertise, "tls.example:443");
    config_free(&cfg);
}

/* --raft-tls: auto is on with a TLS port and a CA, the peer files default
 * to the TLS port's, and the node is given them only when it is on. */
static void test_raft_tls(void **state)
{
    struct config cfg;
    struct node_config nc;
    char err[256];
    const char *const no_ca[] = {"--tls-port", "6643", "--tls-cert", "c", "--tls-key", "k", NULL};
    assert_int_equal(load(&cfg, err, sizeof err, no_ca), 0);
    assert_false(cfg.raft_tls_on);
    config_node(&cfg, &nc);
    assert_null(nc.peer_cert);
    config_free(&cfg);

    const char *const with_ca[] = {"--tls-port", "6643", "--tls-cert", "c", "--tls-key", "k", "--tls-ca", "a", NULL};
    assert_int_equal(load(&cfg, err, sizeof err, with_ca), 0);
    assert_true(cfg.raft_tls_on);
    config_node(&cfg, &nc);
    assert_string_equal(nc.peer_cert, "c");
    assert_string_equal(nc.peer_key, "k");
    assert_string_equal(nc.peer_ca, "a");
    config_free(&cfg);

    const char *const off[] = {"--tls-port", "6643", "--tls-cert", "c", "--tls-key", "k", "--tls-ca", "a",
                               "--raft-tls", "no", NULL};
    assert_int_equal(load(&cfg, err, sizeof err, off), 0);
    assert_false(cfg.raft_tls_on);
    config_free(&cfg);

    /* Without a TLS port, with files of its own. */
    assert_int_equal(setenv("TLS_PEER_CA", "pa", 1), 0);
    const char *const own[] = {"--raft-tls", "yes", "--tls-peer-cert", "pc", "--tls-peer-key", "pk", NULL};
    assert_int_equal(load(&cfg, err, sizeof err, own), 0);
    assert_true(cfg.raft_tls_on);
    config_node(&cfg, &nc);
    assert_string_equal(nc.peer_cert, "pc");
    assert_string_equal(nc.peer_ca, "pa");
    config_free(&cfg);
}

struct refused {
    const char *env; /* NAME=value, or NULL */
    const char *args[6];
    const char *message;
};

static const struct refused refused[] = {
    {NULL, {"--id", "0"}, "--id: invalid node id '0'"},
    {"NODE_ID=x", {NULL}, "NODE_ID: invalid node id 'x'"},
    {NULL, {"--bind", ""}, "--bind: invalid bind address"},
    {NULL, {"--port", "65536"}, "--port: invalid port '65536'"},
    {NULL, {"--advertise", "foo"}, "invalid --advertise 'foo': expected host:port"},
    {"RAFT_ADDRESS=x", {NULL}, "invalid RAFT_ADDRESS 'x': expected host:port"},
    {NULL, {"--raft-bind", "h:0"}, "invalid --raft-bind 'h:0': expected host:port"},
    {NULL, {"--join", "[::1]5"}, "invalid --join '[::1]5': expected host:port"},
    {NULL, {"--cluster", ""}, "empty member list"},
    {NULL, {"--cluster", "1@a:1@b:2,1@a:1@b:2"}, "member id 1 listed twice"},
    {NULL, {"--cluster", "1@a@b:2"}, "invalid member raft address 'a': expected host:port"},
    {NULL, {"--cluster-state", "old"}, "--cluster-state: expected new or existing, not 'old'"},
    {NULL, {"--cluster-secret", "short"}, "--cluster-secret: a cluster secret needs at least 16 bytes"},
    {"CLUSTER_SECRET_FILE=/nonexistent/secret", {NULL},
     "CLUSTER_SECRET_FILE: cannot read /nonexistent/secret: No such file or directory"},
    {"DATA=", {NULL}, "DATA: empty data directory"},
    {NULL, {"--max-bulk", "1023"}, "--max-bulk: expected 1024..1073741824 bytes"},
    {NULL, {"--max-clients", "1000001"}, "--max-clients: expected 1..1000000"},
    {NULL, {"--max-events", "0"}, "--max-events: expected 1..1000000"},
    {NULL, {"--max-event-size", "63"}, "--max-event-size: expected 64..1073741824 bytes"},
    {NULL, {"--max-read", "10000001"}, "--max-read: expected 1..10000000"},
    {NULL, {"--map-size", "1048575"}, "--map-size: expected at least 1 MiB"},
    {NULL, {"--min-free-disk", "-1"}, "--min-free-disk: expected a number of bytes"},
    {NULL, {"--snapshot-threshold", "4294967296"}, "--snapshot-threshold: expected at least 16"},
    {NULL, {"--snapshot-trailing", "x"}, "--snapshot-trailing: expected a number of entries"},
    {NULL, {"--election-timeout", "49"}, "--election-timeout: expected 50..600000 ms"},
    {NULL, {"--heartbeat-timeout", "600001"}, "--heartbeat-timeout: expected 10..600000 ms"},
    {"MAX_STALENESS=3600001", {NULL}, "MAX_STALENESS: expected 0..3600000 ms"},
    {NULL, {"--log-level", "loud"}, "--log-level: unknown log level 'loud'"},
    {NULL, {"--cpu-affinity", "0-"},
     "--cpu-affinity: invalid CPU affinity '0-' (auto, off, disk, or a CPU list such as 1 or 0,2-3)"},
    {NULL, {"--dedup-window", "1073741825"}, "--dedup-window: expected 1..1073741824 keys"},
    {NULL, {"--http-port", "65536"}, "--http-port: invalid port '65536'"},
    {"HTTP_OPEN_HEALTH=maybe", {NULL}, "HTTP_OPEN_HEALTH: expected yes or no, not 'maybe'"},
    {NULL, {"--http-advertise", "nope"}, "invalid --http-advertise 'nope': expected host:port"},
    {NULL, {"--nope"}, "unknown or incomplete option '--nope' (see --help)"},
    {NULL, {"--port"}, "unknown or incomplete option '--port' (see --help)"},
    {NULL, {"stray"}, "unexpected argument 'stray' (see --help)"},
    /* config_finish's checks across options */
    {NULL, {"--port", "64536"}, "--raft-address is required when --port > 64535"},
    {NULL, {"--cluster", "2@a:1@b:2"}, "--cluster does not list this node's id 1"},
    {NULL, {"--cluster", "1@a:1@b:2"}, "--cluster gives node 1 raft address a:1 but --raft-address is 127.0.0.1:7543"},
    {NULL, {"--heartbeat-timeout", "600"}, "--heartbeat-timeout must be at most half of --election-timeout"},
    {"RESTORE=", {NULL}, "RESTORE: empty backup file name"},
    {NULL, {"--restore", "b.efb", "--join", "j:6"}, "--restore starts a new cluster of this node alone: give it no --join, --cluster-state existing or other --cluster members; the others join it with --join"},
    {"RESTORE=b.efb", {"--cluster-state", "existing"}, "--restore starts a new cluster of this node alone: give it no --join, --cluster-state existing or other --cluster members; the others join it with --join"},
    {NULL, {"--restore", "b.efb", "--cluster", "1@127.0.0.1:7543@127.0.0.1:6543,2@x:1@y:2"}, "--restore starts a new cluster of this node alone: give it no --join, --cluster-state existing or other --cluster members; the others join it with --join"},
    {NULL, {"--tls-advertise", "t:1"}, "--tls-advertise, --tls-cert, --tls-key and --tls-ca need --tls-port"},
    {NULL, {"--tls-advertise", "t"}, "invalid --tls-advertise 't': expected host:port"},
    {NULL, {"--raft-tls", "maybe"}, "--raft-tls: expected auto, yes or no, not 'maybe'"},
    {NULL, {"--raft-tls", "yes", "--tls-peer-cert", "c"},
     "--raft-tls yes needs a certificate, key and CA: --tls-peer-cert, --tls-peer-key and --tls-peer-ca, or "
     "--tls-cert, --tls-key and --tls-ca"},
};

static void test_refused(void **state)
{
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        const struct refused *r = &refused[i];
        char name[64];
        const char *value = NULL;
        if (r->env != NULL) {
            value = strchr(r->env, '=') + 1;
            snprintf(name, sizeof name, "%.*s", (int)(value - 1 - r->env), r->env);
            assert_int_equal(setenv(name, value, 1), 0);
        }
        struct config cfg;
        char err[256];
        int rc = load(&cfg, err, sizeof err, r->args);
        config_free(&cfg);
        if (r->env != NULL)
            assert_int_equal(unsetenv(name), 0);
        if (rc != -1 || strcmp(err, r->message) != 0)
            fail_msg("case %zu: rc %d, message '%s', expected '%s'", i, rc, err, r->message);
    }
}

/* The secret from a file: its first line, without the newline; an empty
 * CLUSTER_SECRET is none. */
static void test_cluster_secret_file(void **state)
{
    (void)state;
    char path[] = "/tmp/ef-test-secret.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char text[] = "0123456789abcdef-from-a-file\nignored\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    struct config cfg;
    char err[256];
    const char *const args[] = {"--cluster-secret-file", path, NULL};
    assert_int_equal(load(&cfg, err, sizeof err, args), 0);
    assert_string_equal(cfg.cluster_secret, "0123456789abcdef-from-a-file");
    config_free(&cfg);
    unlink(path);
    assert_int_equal(setenv("CLUSTER_SECRET", "", 1), 0);
    const char *const none[] = {NULL};
    assert_int_equal(load(&cfg, err, sizeof err, none), 0);
    assert_null(cfg.cluster_secret);
    config_free(&cfg);
}

/* --cpu-affinity auto's question: does the configuration show another
 * member on this machine? */
static void test_shares_machine(void **state)
{
    (void)state;
    struct config cfg;
    char err[256], why[300];
    const char *const alone[] = {"--id", "1", "--cluster", "1@127.0.0.1:7543@127.0.0.1:6543,2@node2:7543@node2:6543", NULL};
    assert_int_equal(load(&cfg, err, sizeof err, alone), 0);
    assert_false(config_shares_machine(&cfg, why, sizeof why));
    config_free(&cfg);
    const char *const local[] = {"--id", "2", "--raft-address", "node2:7543", "--cluster",
                                 "1@127.0.0.1:7543@127.0.0.1:6543,2@node2:7543@node2:6543", NULL};
    assert_int_equal(load(&cfg, err, sizeof err, local), 0);
    assert_true(config_shares_machine(&cfg, why, sizeof why));
    assert_string_equal(why, "member 1 (127.0.0.1:7543) runs on this machine too");
    config_free(&cfg);
    const char *const join[] = {"--join", "[::1]:6543", NULL};
    assert_int_equal(load(&cfg, err, sizeof err, join), 0);
    assert_true(config_shares_machine(&cfg, why, sizeof why));
    assert_string_equal(why, "the member to join ([::1]:6543) runs on this machine too");
    config_free(&cfg);
    const char *const none[] = {NULL};
    assert_int_equal(load(&cfg, err, sizeof err, none), 0);
    assert_false(config_shares_machine(&cfg, why, sizeof why));
    config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, clear_env),
        cmocka_unit_test_setup(test_every_flag, clear_env),
        cmocka_unit_test_setup(test_environment_and_flag, clear_env),
        cmocka_unit_test_setup(test_tls_advertise, clear_env),
        cmocka_unit_test_setup(test_raft_tls, clear_env),
        cmocka_unit_test_setup(test_refused, clear_env),
        cmocka_unit_test_setup(test_cluster_secret_file, clear_env),
        cmocka_unit_test_setup(test_shares_machine, clear_env),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
