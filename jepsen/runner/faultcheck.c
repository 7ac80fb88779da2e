/* faultcheck.c - see faultcheck.h. */
#include "faultcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "history.h"
#include "rawresp.h"

/* A paused node's kernel still accepts connections; only the answer
 * never comes. A second is many round trips on the run's bridge. */
#define SILENT_MS 1000
#define CONNECT_MS 1000

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

bool faultcheck_gone(struct cluster *c, int i, char *what, size_t len)
{
    struct slot *s = &c->slots[i];
    if (s->pid != 0) {
        snprintf(what, len, "%s still runs (pid %d)", s->name, (int)s->pid);
        return false;
    }
    char err[256];
    json_t *st = rawresp_status(s->client_addr, SILENT_MS, err, sizeof err);
    if (st != NULL) {
        json_decref(st);
        snprintf(what, len, "%s was killed, yet its address still answers STATUS", s->name);
        return false;
    }
    snprintf(what, len, "%s is gone: process reaped, STATUS fails (%s)", s->name, err);
    return true;
}

bool faultcheck_answers(struct cluster *c, int i, int timeout_ms, char *what, size_t len)
{
    struct slot *s = &c->slots[i];
    int64_t deadline = history_now() + (int64_t)timeout_ms * 1000000;
    char err[256] = "not tried";
    for (;;) {
        if (s->pid == 0) {
            snprintf(what, len, "%s is not running (last: %s)", s->name, err);
            return false;
        }
        json_t *st = rawresp_status(s->client_addr, SILENT_MS, err, sizeof err);
        if (st != NULL) {
            json_decref(st);
            snprintf(what, len, "%s answers STATUS", s->name);
            return true;
        }
        if (history_now() >= deadline) {
            snprintf(what, len, "%s did not answer STATUS within %d ms: %s", s->name, timeout_ms, err);
            return false;
        }
        sleep_ms(200);
    }
}

/* The state letter of /proc/<pid>/stat ('T' when stopped), or '?'. */
static char proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return '?';
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return '?';
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the name may hold spaces */
    return p != NULL && p[1] == ' ' ? p[2] : '?';
}

bool faultcheck_silent(struct cluster *c, int i, char *what, size_t len)
{
    struct slot *s = &c->slots[i];
    if (s->pid == 0) {
        snprintf(what, len, "%s is not running: nothing to pause", s->name);
        return false;
    }
    char err[256];
    json_t *st = rawresp_status(s->client_addr, SILENT_MS, err, sizeof err);
    /* ip netns exec execs eventflowd, so the pid is the node's. Read after
     * the STATUS attempt: SIGSTOP is delivered when the process is next
     * scheduled, which on a busy machine can be after kill() returned (a
     * state read at once said R, a false "not applied"). */
    char state = proc_state(s->pid);
    if (st != NULL) {
        json_decref(st);
        snprintf(what, len, "%s still answers STATUS (process state %c)", s->name, state);
        return false;
    }
    if (state != 'T' && state != 't') {
        snprintf(what, len, "%s does not answer, but its process is in state %c, not stopped", s->name, state);
        return false;
    }
    snprintf(what, len, "%s is stopped (state %c) and STATUS gets no answer (%s)", s->name, state, err);
    return true;
}

bool faultcheck_blocked(struct cluster *c, int from, int to, bool reset, char *what, size_t len)
{
    struct slot *a = &c->slots[from], *b = &c->slots[to];
    /* raft_addr is host:port; bash's /dev/tcp wants host/port. */
    char target[96], script[160];
    snprintf(target, sizeof target, "%s", b->raft_addr);
    char *colon = strrchr(target, ':');
    if (colon == NULL) {
        snprintf(what, len, "bad raft address %s", b->raft_addr);
        return false;
    }
    *colon = '/';
    snprintf(script, sizeof script, "exec 3<>/dev/tcp/%s", target);
    char secs[16];
    snprintf(secs, sizeof secs, "%.1f", CONNECT_MS / 1000.0);
    char *argv[] = {"ip", "netns", "exec", a->ns, "timeout", secs, "bash", "-c", script, NULL};
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(what, len, "fork: %s", strerror(errno));
        return false;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            snprintf(what, len, "waitpid: %s", strerror(errno));
            return false;
        }
    }
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (rc == 0) {
        snprintf(what, len, "%s still reaches %s's raft port", a->name, b->name);
        return false;
    }
    if (reset) {
        /* A reset refuses at once: bash says "Connection refused", 1. */
        if (rc != 1) {
            snprintf(what, len, "connecting from %s to %s was not refused (status %d)", a->name, b->name, rc);
            return false;
        }
        snprintf(what, len, "%s cannot reach %s (connection reset)", a->name, b->name);
        return true;
    }
    if (rc != 124) {
        /* Refused is not dropped: a DROP rule makes the SYN go unanswered. */
        snprintf(what, len, "connecting from %s to %s failed, but not by timing out (status %d)", a->name, b->name,
                 rc);
        return false;
    }
    snprintf(what, len, "%s cannot reach %s (connection timed out)", a->name, b->name);
    return true;
}

static void log_path(struct cluster *c, int i, char *out, size_t len)
{
    snprintf(out, len, "%s/nodes/%s.log", c->cfg.run_dir, c->slots[i].name);
}

long faultcheck_log_size(struct cluster *c, int i)
{
    char path[700];
    log_path(c, i, path, sizeof path);
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* Whether the log at path holds `text` past offset from. */
static bool log_has(const char *path, long from, const char *text)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    bool found = false;
    char line[4096];
    if (fseek(f, from, SEEK_SET) == 0)
        while (!found && fgets(line, sizeof line, f) != NULL)
            found = strstr(line, text) != NULL;
    fclose(f);
    return found;
}

bool faultcheck_logged(struct cluster *c, int i, long from, const char *text, int timeout_ms, char *what,
                       size_t len)
{
    char path[700];
    log_path(c, i, path, sizeof path);
    int64_t deadline = history_now() + (int64_t)timeout_ms * 1000000;
    for (;;) {
        if (log_has(path, from, text)) {
            snprintf(what, len, "%s logged \"%s\"", c->slots[i].name, text);
            return true;
        }
        if (history_now() >= deadline) {
            snprintf(what, len, "%s did not log \"%s\" within %d ms", c->slots[i].name, text, timeout_ms);
            return false;
        }
        sleep_ms(200);
    }
}

bool faultcheck_disk_full(struct cluster *c, int i, char *what, size_t len)
{
    struct slot *s = &c->slots[i];
    struct statvfs v;
    if (statvfs(s->mount_dir, &v) != 0) {
        snprintf(what, len, "statvfs %s: %s", s->mount_dir, strerror(errno));
        return false;
    }
    unsigned long long avail = (unsigned long long)v.f_bavail * v.f_frsize;
    if (avail != 0) {
        snprintf(what, len, "%s's data filesystem still has %llu bytes free", s->name, avail);
        return false;
    }
    snprintf(what, len, "%s's data filesystem is full (0 bytes free)", s->name);
    return true;
}
