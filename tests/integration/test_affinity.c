/* test_affinity.c - --cpu-affinity places the loop thread, and only it.
 *
 * A CPU list pins the main (loop) thread to those CPUs while libuv's pool
 * threads keep the process's CPUs; "disk" either pins (and the loop
 * thread's CPUs are the ones it logged) or says why not, and the node
 * serves either way; the default, "auto", does the same for a node alone
 * and leaves one whose fellow member is on this machine unpinned; a list naming no usable CPU, or a malformed value,
 * keeps the node from starting. The CPUs are read from /proc/PID/task. */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define WAIT_MS 20000

/* The Cpus_allowed_list of thread tid of pid, into out. */
static void thread_cpus(pid_t pid, pid_t tid, char *out, size_t outlen)
{
    char path[128], line[512];
    snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)pid, (int)tid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    out[0] = '\0';
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "Cpus_allowed_list:", 18) == 0) {
            const char *v = line + 18;
            while (*v == ' ' || *v == '\t')
                v++;
            snprintf(out, outlen, "%.*s", (int)strcspn(v, "\n"), v);
        }
    fclose(f);
    assert_true(out[0] != '\0');
}

/* How many of pid's threads other than the main one run on `cpus`. */
static int other_threads_on(pid_t pid, const char *cpus)
{
    char cmd[128], tid[32], have[512];
    int n = 0;
    snprintf(cmd, sizeof cmd, "ls /proc/%d/task", (int)pid);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(tid, sizeof tid, p) != NULL) {
        pid_t t = (pid_t)atoi(tid);
        if (t == pid || t <= 0)
            continue;
        thread_cpus(pid, t, have, sizeof have);
        n += strcmp(have, cpus) == 0;
    }
    assert_int_equal(pclose(p), 0);
    return n;
}

/* The CPUs this test may use, as a kernel CPU list, and the first one. */
static int our_cpus(char *list, size_t listlen)
{
    thread_cpus(getpid(), getpid(), list, listlen);
    cpu_set_t set;
    assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set))
            return c;
    fail();
    return -1;
}

static void test_list_pins_loop_thread_only(void **state)
{
    char all[512];
    int cpu = our_cpus(all, sizeof all);
    char arg[16];
    snprintf(arg, sizeof arg, "%d", cpu);
    if (strcmp(all, arg) == 0) {
        fprintf(stderr, "SKIPPED: this test may use one CPU only, pinning to it changes nothing\n");
        skip();
    }
    const char *const args[] = {"--cpu-affinity", arg, NULL};
    struct harness_node_opts o = {.args = args};
    struct harness_node *n = harness_add_node(*state, &o);
    assert_int_equal(harness_node_start(n), 0);
    assert_int_equal(harness_wait_ready(n, WAIT_MS), 0);

    char have[512], line[2048], want_log[64];
    thread_cpus(n->pid, n->pid, have, sizeof have);
    assert_string_equal(have, arg);
    /* The pool threads were started before the pinning: they keep all. */
    assert_true(other_threads_on(n->pid, all) >= 1);
    assert_int_equal(other_threads_on(n->pid, arg), 0);
    snprintf(want_log, sizeof want_log, "loop thread pinned to CPUs %s", arg);
    assert_true(harness_node_log_line(n, want_log, line, sizeof line));
    /* And it serves. */
    struct harness_conn *c = harness_connect(n);
    char *r = harness_cmd_repr(c, "ADD", "{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"T\",\"data\":1}]}",
                               NULL);
    assert_non_null(strstr(r, "\\\"version\\\":0,")); /* the repr escapes the JSON's quotes */
    free(r);
    harness_assert_stop(n);
    harness_pass(*state);
}

/* A node started with args (NULL: none, the default "auto") either pins
 * its loop thread where the disk's interrupts go, or logs why not. */
static void pins_or_says_why(void **state, const char *const *args)
{
    struct harness_node_opts o = {.args = args};
    struct harness_node *n = harness_add_node(*state, &o);
    assert_int_equal(harness_node_start(n), 0);
    assert_int_equal(harness_wait_ready(n, WAIT_MS), 0);
    char line[2048], have[512], all[512];
    (void)our_cpus(all, sizeof all);
    thread_cpus(n->pid, n->pid, have, sizeof have);
    if (harness_node_log_line(n, "loop thread pinned to CPUs ", line, sizeof line)) {
        /* "... pinned to CPUs 1 (where ...)": the set it logged is the one
         * the thread has. */
        const char *v = strstr(line, "CPUs ") + 5;
        char logged[512];
        snprintf(logged, sizeof logged, "%.*s", (int)strcspn(v, " \n"), v);
        assert_string_equal(have, logged);
        assert_true(strstr(line, "data disk's interrupts") != NULL);
    } else {
        assert_true(harness_node_log_line(n, "not pinning", line, sizeof line));
        assert_string_equal(have, all);
    }
    harness_assert_stop(n);
    harness_pass(*state);
}

static void test_disk_pins_or_says_why(void **state)
{
    const char *const args[] = {"--cpu-affinity", "disk", NULL};
    pins_or_says_why(state, args);
}

/* The default, auto, is disk for a node alone on its machine. */
static void test_auto_alone_is_disk(void **state)
{
    pins_or_says_why(state, NULL);
}

/* auto leaves a node whose fellow member runs on this machine unpinned,
 * and says so; disk pins it anyway. */
static void test_auto_with_a_neighbour(void **state)
{
    unsigned port;
    assert_int_equal(harness_free_port(&port), 0);
    char target[32], want[160], line[2048], have[512], all[512];
    snprintf(target, sizeof target, "127.0.0.1:%u", port);
    (void)our_cpus(all, sizeof all);
    const char *const args[] = {"--join", target, NULL};
    struct harness_node_opts o = {.args = args};
    struct harness_node *n = harness_add_node(*state, &o);
    assert_int_equal(harness_node_start(n), 0);
    snprintf(want, sizeof want, "cpu affinity auto: the member to join (%s) runs on this machine too; not pinning",
             target);
    int64_t deadline = harness_now_ms() + WAIT_MS;
    while (!harness_node_log_line(n, want, line, sizeof line)) {
        assert_true(harness_now_ms() < deadline);
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
    thread_cpus(n->pid, n->pid, have, sizeof have);
    assert_string_equal(have, all);
    assert_false(harness_node_log_says(n, "loop thread pinned"));
    /* It is still trying to join: a stop then exits 1, so kill it. */
    assert_int_equal(harness_node_kill(n), 0);
    harness_pass(*state);
}

/* Start n and wait for it to exit by itself; returns its exit code. */
static int exit_code_of_start(struct harness_node *n)
{
    assert_int_equal(harness_node_start(n), 0);
    int64_t deadline = harness_now_ms() + WAIT_MS;
    while (harness_node_alive(n) && harness_now_ms() < deadline) {
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
    assert_false(harness_node_alive(n));
    assert_true(WIFEXITED(n->exit_status));
    n->failed = false; /* the exit was the expected outcome */
    return WEXITSTATUS(n->exit_status);
}

static void test_refused(void **state)
{
    char line[2048];
    /* CPU_SETSIZE - 1 exists in no cpuset this test runs under. */
    const char *const none[] = {"--cpu-affinity", "1023", NULL};
    struct harness_node_opts o = {.args = none};
    struct harness_node *n = harness_add_node(*state, &o);
    assert_int_equal(exit_code_of_start(n), 1);
    assert_true(harness_node_log_line(n, "cpu affinity 1023: none of these CPUs is available", line, sizeof line));

    const char *const bad[] = {"--cpu-affinity", "0-", NULL};
    o.args = bad;
    n = harness_add_node(*state, &o);
    assert_int_equal(exit_code_of_start(n), 2);
    assert_true(harness_node_log_line(n, "invalid CPU affinity '0-'", line, sizeof line));
    harness_pass(*state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_list_pins_loop_thread_only, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_disk_pins_or_says_why, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_auto_alone_is_disk, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_auto_with_a_neighbour, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_refused, harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests_name("affinity", tests, NULL, NULL);
}
