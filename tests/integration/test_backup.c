/* test_backup.c - eventflowctl backup and eventflowd --restore: a backup
 * taken from a follower while writes go on restores, on a new one-node
 * cluster, exactly the events the backup recorded (same CHECKSUM, same
 * log), with a new cluster identity and ids that go on past the backup's
 * last one, and a member joins the restored node as usual; damaged,
 * truncated, foreign and newer-format files and a non-empty data directory
 * are refused with the data directory left as it was; the old cluster and
 * the restored one refuse each other's raft connections.
 *
 * Every wait polls an observable condition (a process's exit, STATUS) with
 * a deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster.h"
#include "common/backup_file.h"
#include "harness.h"

extern char **environ;

#define CTL_WAIT_MS 60000
/* ADDs pipelined per round while a backup runs. */
#define LOAD_BATCH 20

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct buf b;
    buf_init(&b);
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        buf_append(&b, tmp, n);
    fclose(f);
    buf_append_char(&b, '\0');
    return b.data;
}

/* Start `eventflowctl -e endpoints -o json backup file`, its output in
 * dir/ctl.out and dir/ctl.err. */
static pid_t backup_spawn(const char *dir, const char *endpoints, const char *file)
{
    const char *ctl = getenv("EVENTFLOWCTL");
    assert_non_null(ctl);
    char out[4096], err[4096];
    snprintf(out, sizeof out, "%s/ctl.out", dir);
    snprintf(err, sizeof err, "%s/ctl.err", dir);
    posix_spawn_file_actions_t fa;
    assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
    assert_int_equal(posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
    assert_int_equal(posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
    const char *argv[] = {ctl, "-e", endpoints, "-o", "json", "backup", file, NULL};
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, ctl, &fa, NULL, (char *const *)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

/* Whether pid has exited; its exit code in *code (-1: killed). */
static bool ctl_exited(pid_t pid, int *code)
{
    int status;
    pid_t r = waitpid(pid, &status, WNOHANG);
    assert_true(r >= 0);
    if (r == 0)
        return false;
    *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return true;
}

/* The backup's description (-o json), after checking it exited 0. */
static json_t *backup_result(const char *dir, int code)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/ctl.err", dir);
    char *err = slurp(path);
    if (code != 0)
        fail_msg("eventflowctl backup exited %d: %s", code, err);
    free(err);
    snprintf(path, sizeof path, "%s/ctl.out", dir);
    char *out = slurp(path);
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    if (j == NULL)
        fail_msg("eventflowctl backup printed no JSON (%s): %s", jerr.text, out);
    free(out);
    return j;
}

/* A backup of the cluster at endpoints, taken while nothing else runs. */
static json_t *backup_now(const char *dir, const char *endpoints, const char *file)
{
    pid_t pid = backup_spawn(dir, endpoints, file);
    int code = -1;
    int64_t deadline = harness_now_ms() + CTL_WAIT_MS;
    while (!ctl_exited(pid, &code)) {
        if (harness_now_ms() > deadline) {
            kill(pid, SIGKILL);
            fail_msg("eventflowctl backup did not finish in %d ms", CTL_WAIT_MS);
        }
        cluster_poll_pause();
    }
    return backup_result(dir, code);
}

/* A node restored from file (not started). */
static struct harness_node *restore_node(struct harness_fixture *fx, unsigned id, const char *file)
{
    const char *args[] = {"--restore", file, NULL};
    struct harness_node_opts o = {.id = id, .args = args};
    return harness_add_node(fx, &o);
}

static void test_backup_under_writes_restores(void **state)
{
    struct harness_fixture *fx = *state;
    struct cluster c;
    cluster_start(&c, fx, 3, NULL);
    size_t l = cluster_leader(&c);
    free(cluster_node_write_events(c.n[l], "before", 2000));
    char endpoints[256], file[4096], leader[32];
    cluster_endpoints(&c, endpoints, sizeof endpoints);
    snprintf(file, sizeof file, "%s/cluster.efb", c.n[0]->dir);
    snprintf(leader, sizeof leader, "127.0.0.1:%u", c.n[l]->port);

    /* Writes go on through the leader for as long as the backup runs. */
    struct harness_conn *conn = harness_connect(c.n[l]);
    assert_non_null(conn);
    char *add = cluster_add_json("during", "\"any\"", "During");
    pid_t pid = backup_spawn(c.n[0]->dir, endpoints, file);
    int code = -1;
    int64_t deadline = harness_now_ms() + CTL_WAIT_MS;
    do {
        for (int i = 0; i < LOAD_BATCH; i++)
            harness_queue(conn, "ADD", add, NULL);
        size_t want = LOAD_BATCH;
        assert_int_equal(harness_pump(&conn, 1, &want, HARNESS_IO_TIMEOUT_MS), 0);
        for (int i = 0; i < LOAD_BATCH; i++) {
            struct resp_value v;
            assert_int_equal(harness_read(conn, &v), 1);
            assert_int_equal(v.type, RESP_T_ARRAY);
            resp_value_free(&v);
        }
        assert_true(harness_now_ms() < deadline);
    } while (!ctl_exited(pid, &code));
    json_t *b = backup_result(c.n[0]->dir, code);
    free(cluster_node_write_events(c.n[l], "after", 10));
    free(add);

    /* Taken from a follower, at a point between the writes. */
    assert_string_not_equal(harness_json_str(b, "node"), leader);
    json_int_t events = harness_json_int(b, "events");
    const char *last_id = harness_json_str(b, "last_id");
    json_t *source = harness_getall(conn);
    harness_close(conn);
    assert_true(events >= 2000 && (size_t)events < json_array_size(source));
    assert_string_equal(harness_json_str(json_array_get(source, (size_t)events - 1), "id"), last_id);
    json_t *st = harness_status(c.n[l]);
    assert_non_null(st);
    char *old_cluster = strdup(harness_json_str(st, "cluster_id"));
    json_decref(st);

    /* The restored node holds exactly the backup's events. */
    struct harness_node *r = restore_node(fx, 1, file);
    assert_int_equal(harness_node_start(r), 0);
    assert_int_equal(harness_wait_ready(r, CLUSTER_WAIT_MS), 0);
    char expect[128];
    snprintf(expect, sizeof expect, "[\"%s\", \"%s\"]", last_id, harness_json_str(b, "checksum"));
    char *sum = cluster_node_checksum(r);
    assert_string_equal(sum, expect);
    free(sum);
    conn = harness_connect(r);
    assert_non_null(conn);
    json_t *restored = harness_getall(conn);
    harness_close(conn);
    json_t *prefix = json_array();
    for (size_t i = 0; i < (size_t)events; i++)
        json_array_append(prefix, json_array_get(source, i));
    harness_assert_json_equal(restored, prefix);
    assert_true(harness_node_log_says(r, "this is a new cluster, identity"));
    st = harness_status(r);
    assert_non_null(st);
    assert_string_not_equal(harness_json_str(st, "cluster_id"), old_cluster);
    assert_string_not_equal(harness_json_str(st, "cluster_id"), "");
    json_decref(st);

    /* New events come after the backup's, and a member joins as usual. */
    char *next = cluster_node_write_events(r, "restored", 3);
    assert_true(strcmp(next, last_id) > 0);
    char join[32];
    snprintf(join, sizeof join, "127.0.0.1:%u", r->port);
    const char *args[] = {"--join", join, NULL};
    struct harness_node_opts o = {.id = 2, .args = args};
    struct cluster rc = {.f = fx, .n = {r, harness_add_node(fx, &o)}, .count = 2};
    assert_int_equal(harness_node_start(rc.n[1]), 0);
    cluster_assert_converged(&rc, next);
    assert_int_equal(cluster_node_status_int(rc.n[1], "events"), events + 3);

    /* Restarted with its settings unchanged (--restore still given), the
     * restored node starts from its store, not refused, not restored over. */
    harness_assert_stop(r);
    assert_int_equal(harness_node_start(r), 0); /* either node may lead now */
    cluster_assert_converged(&rc, next);
    assert_true(harness_node_log_says(r, "was restored from"));
    assert_true(harness_node_log_says(r, "already; starting from its store"));
    assert_int_equal(cluster_node_status_int(r, "events"), events + 3);

    free(next);
    free(old_cluster);
    json_decref(prefix);
    json_decref(restored);
    json_decref(source);
    json_decref(b);
    harness_pass(fx);
}

/* Write `len` bytes of `src`'s content, changed by `edit`, to dst. */
static void write_variant(const char *src, const char *dst, size_t len, void (*edit)(uint8_t *p, size_t len))
{
    struct stat st;
    assert_int_equal(stat(src, &st), 0);
    uint8_t *p = malloc((size_t)st.st_size);
    assert_non_null(p);
    FILE *f = fopen(src, "rb");
    assert_non_null(f);
    assert_int_equal(fread(p, 1, (size_t)st.st_size, f), (size_t)st.st_size);
    fclose(f);
    if (edit != NULL)
        edit(p, (size_t)st.st_size);
    f = fopen(dst, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, len < (size_t)st.st_size ? len : (size_t)st.st_size, f),
                     len < (size_t)st.st_size ? len : (size_t)st.st_size);
    assert_int_equal(fclose(f), 0);
    free(p);
}

static void flip_image_byte(uint8_t *p, size_t len)
{
    p[BACKUP_HEADER_BYTES + (len - BACKUP_HEADER_BYTES - BACKUP_TRAILER_BYTES) / 2] ^= 0x40;
}

static void newer_store_format(uint8_t *p, size_t len)
{
    struct backup_header h;
    char err[128];
    assert_int_equal(backup_header_decode(p, &h, err, sizeof err), 0);
    h.store_format = 99;
    backup_header_encode(&h, p);
}

static void not_a_backup(uint8_t *p, size_t len)
{
    memcpy(p, "SQLite f", 8);
}

static bool dir_empty_or_absent(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return errno == ENOENT;
    const struct dirent *e;
    bool empty = true;
    while ((e = readdir(d)) != NULL)
        empty = empty && (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0);
    closedir(d);
    return empty;
}

/* Start r, which must exit 1 at once with `why` in its log. */
static void assert_start_refused(struct harness_node *r, const char *why)
{
    assert_int_equal(harness_node_start(r), 0);
    int64_t deadline = harness_now_ms() + CLUSTER_WAIT_MS;
    while (harness_node_alive(r) && harness_now_ms() < deadline)
        cluster_poll_pause();
    assert_false(harness_node_alive(r));
    assert_true(WIFEXITED(r->exit_status));
    assert_int_equal(WEXITSTATUS(r->exit_status), 1);
    if (!harness_node_log_says(r, why)) {
        harness_node_print_log(r, 10);
        fail_msg("the log does not say \"%s\"", why);
    }
    r->failed = false; /* the exit was the expected outcome */
}

/* eventflowd --restore file is refused, and leaves its data directory as
 * it was: absent. */
static void assert_restore_refused(struct harness_fixture *fx, const char *file, const char *why)
{
    struct harness_node *r = restore_node(fx, 1, file);
    assert_start_refused(r, why);
    assert_true(dir_empty_or_absent(r->data_dir));
}

static void test_bad_backups_refused(void **state)
{
    struct harness_fixture *fx = *state;
    struct harness_node *n = harness_start_single(fx, NULL);
    free(cluster_node_write_events(n, "kept", 50));
    char endpoints[32], good[4096], bad[4096];
    snprintf(endpoints, sizeof endpoints, "127.0.0.1:%u", n->port);
    snprintf(good, sizeof good, "%s/good.efb", n->dir);
    json_decref(backup_now(n->dir, endpoints, good));
    /* SNAPSHOT INFO with no image, or no id: an error, nothing else. */
    struct harness_conn *conn = harness_connect(n);
    assert_non_null(conn);
    HARNESS_EXPECT(conn, "-usage: SNAPSHOT INFO <id>", "SNAPSHOT", "INFO");
    HARNESS_EXPECT(conn, "-no such state transfer (expired or never begun)", "SNAPSHOT", "INFO", "zz");
    HARNESS_EXPECT(conn, "-no such state transfer (expired or never begun)", "SNAPSHOT", "INFO", "1234");
    HARNESS_EXPECT(conn,
                   "-usage: SNAPSHOT BEGIN | INFO <id> | READ <id> <offset> <count> | END <id>",
                   "SNAPSHOT", "LIST");
    harness_close(conn);

    /* A backup never overwrites a file. */
    pid_t pid = backup_spawn(n->dir, endpoints, good);
    int code = -1;
    int64_t deadline = harness_now_ms() + CTL_WAIT_MS;
    while (!ctl_exited(pid, &code) && harness_now_ms() < deadline)
        cluster_poll_pause();
    assert_int_equal(code, 3);

    snprintf(bad, sizeof bad, "%s/damaged.efb", n->dir);
    write_variant(good, bad, SIZE_MAX, flip_image_byte);
    assert_restore_refused(fx, bad, "damaged.efb is damaged: its CRC-32 is");
    snprintf(bad, sizeof bad, "%s/truncated.efb", n->dir);
    write_variant(good, bad, 20000, NULL);
    assert_restore_refused(fx, bad, "truncated.efb is truncated: 20000 bytes");
    snprintf(bad, sizeof bad, "%s/newer.efb", n->dir);
    write_variant(good, bad, SIZE_MAX, newer_store_format);
    assert_restore_refused(fx, bad, "holds a store of format 99");
    snprintf(bad, sizeof bad, "%s/other.efb", n->dir);
    write_variant(good, bad, SIZE_MAX, not_a_backup);
    assert_restore_refused(fx, bad, "other.efb: not an eventflow backup");

    /* A good file, but the data directory holds something. */
    struct harness_node *r = restore_node(fx, 1, good);
    assert_int_equal(mkdir(r->data_dir, 0700), 0);
    char keep[4200];
    snprintf(keep, sizeof keep, "%s/keep-me", r->data_dir);
    FILE *f = fopen(keep, "w");
    assert_non_null(f);
    assert_int_equal(fclose(f), 0);
    assert_start_refused(r, "is not empty (it holds keep-me)");
    struct stat st;
    assert_int_equal(stat(keep, &st), 0);
    snprintf(keep, sizeof keep, "%s/store", r->data_dir);
    assert_int_not_equal(stat(keep, &st), 0);
    harness_pass(fx);
}

/* A restored node is a cluster of its own: the old cluster cannot take it
 * in, and neither side's raft port lets the other in. */
static void test_restored_refuses_old_cluster(void **state)
{
    struct harness_fixture *fx = *state;
    struct cluster c;
    cluster_start(&c, fx, 3, NULL);
    char *last = cluster_node_write_events(c.n[cluster_leader(&c)], "old", 7);
    cluster_assert_converged(&c, last);
    char endpoints[256], file[4096];
    cluster_endpoints(&c, endpoints, sizeof endpoints);
    snprintf(file, sizeof file, "%s/old.efb", c.n[0]->dir);
    json_t *b = backup_now(c.n[0]->dir, endpoints, file);
    assert_int_equal(harness_json_int(b, "events"), 7);
    json_decref(b);

    struct harness_node *r = restore_node(fx, 4, file);
    assert_int_equal(harness_node_start(r), 0);
    assert_int_equal(harness_wait_ready(r, CLUSTER_WAIT_MS), 0);
    cluster_assert_foreign_refused(&c, r, 7);
    free(last);
    harness_pass(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_backup_under_writes_restores, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_bad_backups_refused, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_restored_refuses_old_cluster, harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests_name("backup", tests, NULL, NULL);
}
