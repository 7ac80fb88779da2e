/* test_limits.c - a full store refuses writes without losing anything.
 *
 * Two limits: a tiny LMDB map, and a small filesystem under the data
 * directory (a tmpfs mounted in a private mount namespace; root only). ADDs
 * are acknowledged until the leader sees the limit within its safety
 * margin; from then on every ADD is refused with -FULL before it is
 * proposed, the node keeps running, and every acknowledged event is still
 * there, also after a restart. */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

/* ADD events of `size` bytes of data to one stream until the node refuses
 * one; the refusal must start with `refusal`. Returns how many were
 * acknowledged. */
static int64_t fill_until_full(struct harness_node *n, size_t size, const char *refusal)
{
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    char *data = malloc(size + 1);
    assert_non_null(data);
    memset(data, 'x', size);
    data[size] = '\0';
    size_t cap = size + 128;
    char *arg = malloc(cap);
    assert_non_null(arg);
    int64_t acked = 0;
    bool full = false;
    for (int i = 0; i < 20000 && !full; i++) {
        snprintf(arg, cap, "{\"stream\":\"fill\",\"version\":%lld,\"events\":[{\"type\":\"T\",\"data\":\"%s\"}]}",
                 (long long)acked, data);
        struct resp_value v;
        assert_int_equal(harness_cmd(c, &v, "ADD", arg, NULL), 0);
        if (v.type == RESP_T_ARRAY) {
            acked++;
        } else {
            harness_assert_error_prefix(&v, refusal);
            full = true;
        }
        resp_value_free(&v);
    }
    assert_true(full);

    /* Still refused, still readable, nothing half-written. */
    struct resp_value v;
    assert_int_equal(harness_cmd(c, &v, "ADD", arg, NULL), 0);
    harness_assert_error_prefix(&v, refusal);
    resp_value_free(&v);
    assert_int_equal(harness_cmd(c, &v, "EC", NULL), 0);
    harness_assert_int(&v, acked);
    resp_value_free(&v);
    harness_close(c);
    free(arg);
    free(data);
    return acked;
}

/* After a restart the log replays into the same store: everything is there. */
static void assert_all_there_after_restart(struct harness_node *n, int64_t acked)
{
    harness_assert_stop(n);
    harness_assert_restart(n);
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    struct resp_value v;
    assert_int_equal(harness_cmd(c, &v, "EC", NULL), 0);
    harness_assert_int(&v, acked);
    resp_value_free(&v);
    assert_int_equal(harness_cmd(c, &v, "GET", "{\"stream\":\"fill\",\"version\":0,\"limit\":0}", NULL), 0);
    json_t *events = harness_assert_events(&v);
    assert_int_equal((int64_t)json_array_size(events), acked);
    json_decref(events);
    resp_value_free(&v);
    harness_close(c);
}

static void test_map_full(void **state)
{
    static const char *const args[] = {"--map-size", "2097152", NULL};
    struct harness_node_opts o = {.args = args};
    struct harness_node *n = harness_start_single(*state, &o);
    /* 1 KiB of data per event: a 2 MiB map fills within a few hundred. */
    int64_t acked = fill_until_full(n, 1024, "FULL the store is nearly full");
    assert_true(acked > 100);
    assert_all_there_after_restart(n, acked);
    harness_pass(*state);
}

/* The data directory on a 192 MiB tmpfs, 64 MiB of it kept free: raft's
 * three 16 MiB segments leave room for a few hundred 64 KiB events (each in
 * the raft log and in the store). Without the check the node would exit
 * when a write failed with ENOSPC (or not refuse at all). */
static void test_disk_full(void **state)
{
    if (geteuid() != 0) {
        fprintf(stderr, "SKIPPED: test_disk_full needs root to mount a small tmpfs\n");
        skip();
    }
    /* Our own mount namespace, private: the tmpfs is invisible outside the
     * test and goes away with it. */
    assert_int_equal(unshare(CLONE_NEWNS), 0);
    assert_int_equal(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
    static const char *const args[] = {"--min-free-disk", "67108864", NULL};
    struct harness_node_opts o = {.args = args};
    struct harness_node *n = harness_add_node(*state, &o);
    assert_true(mkdir(n->data_dir, 0700) == 0 || access(n->data_dir, F_OK) == 0);
    assert_int_equal(mount("tmpfs", n->data_dir, "tmpfs", 0, "size=192m,mode=0700"), 0);
    assert_int_equal(harness_node_start(n), 0);
    assert_int_equal(harness_wait_ready(n, 20000), 0);

    int64_t acked = fill_until_full(n, 64 * 1024, "FULL the disk is nearly full");
    assert_true(acked > 50);
    assert_true(harness_node_alive(n));
    assert_all_there_after_restart(n, acked);

    harness_assert_stop(n);
    assert_int_equal(umount2(n->data_dir, MNT_DETACH), 0);
    harness_pass(*state);
}

/* A number from n's METRICS exposition: the first sample of `name`. */
static uint64_t metric(struct harness_node *n, const char *name)
{
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    struct resp_value v;
    assert_int_equal(harness_cmd(c, &v, "METRICS", NULL), 0);
    assert_int_equal(v.type, RESP_T_BULK);
    char want[128];
    snprintf(want, sizeof want, "\n%s ", name);
    const char *at = strstr(v.str, want);
    if (at == NULL)
        fail_msg("no %s in METRICS", name);
    uint64_t value = strtoull(at + strlen(want), NULL, 10);
    resp_value_free(&v);
    harness_close(c);
    return value;
}

/* Large events: raft's log in memory is bounded by bytes, not only by
 * its entry count. 48 entries of 64 KiB against a 1 MiB budget: at least
 * two snapshots (none by count: the threshold is 131072 entries), and
 * never more than the budget and one entry held since the last. Nothing
 * acknowledged is lost across them and a restart. */
static void test_log_bytes(void **state)
{
    static const char *const args[] = {"--snapshot-log-bytes", "1048576", NULL};
    struct harness_node_opts o = {.args = args};
    struct harness_node *n = harness_start_single(*state, &o);
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    size_t size = 64 * 1024;
    char *arg = malloc(size + 128);
    assert_non_null(arg);
    int len = snprintf(arg, 128, "{\"stream\":\"fill\",\"version\":\"any\",\"events\":[{\"type\":\"T\",\"data\":\"");
    memset(arg + len, 'x', size);
    strcpy(arg + len + size, "\"}]}");
    for (int i = 0; i < 48; i++) {
        struct resp_value v;
        assert_int_equal(harness_cmd(c, &v, "ADD", arg, NULL), 0);
        assert_int_equal(v.type, RESP_T_ARRAY);
        resp_value_free(&v);
        assert_true(metric(n, "eventflow_raft_log_since_snapshot_bytes") < 1048576 + size + 1024);
    }
    harness_close(c);
    free(arg);
    assert_true(metric(n, "eventflow_snapshots_total") >= 2);
    assert_all_there_after_restart(n, 48);
    harness_pass(*state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_map_full, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_disk_full, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_log_bytes, harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests_name("limits", tests, NULL, NULL);
}
