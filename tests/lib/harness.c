/* harness.c - run real eventflowd processes from cmocka tests (see harness.h). */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "common/mem.h"

#define POLL_INTERVAL_MS 20
#define LOG_TAIL_LINES 60

/* Every variable the server reads from the environment. A child gets none of
 * them from the test's own environment, so a PASSWORD or PORT exported in the
 * developer's shell cannot change what a test runs. */
static const char *const server_env_names[] = {
    "NODE_ID", "BIND", "PORT", "ADVERTISE", "RAFT_ADDRESS", "RAFT_BIND", "CLUSTER", "DATA",
    "PASSWORD", "MAX_BULK", "MAX_CLIENTS", "MAX_EVENTS", "MAX_EVENT_SIZE", "MAX_READ",
    "MAP_SIZE", "SNAPSHOT_THRESHOLD", "SNAPSHOT_TRAILING", "ELECTION_TIMEOUT",
    "HEARTBEAT_TIMEOUT", "LOG_LEVEL",
};

/* Registries, so that nothing outlives a failed test or the process. */
static struct harness_node *all_nodes;     /* every node not yet freed */
static struct harness_conn *open_conns;    /* every connection not yet closed */
static bool atexit_installed;

/* Ports handed out by this process: never handed out twice. `held` means
 * this process holds the port's reservation file (see port_reserve). */
static struct {
    unsigned port;
    bool held;
} used_ports[512];
static size_t n_used_ports;

/* ---- small helpers ------------------------------------------------------ */

/* A variable set to something (an empty value counts as unset). */
static bool env_set(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0';
}

int64_t harness_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The pause between two polls of a condition (never used to wait for an
 * event to have happened). */
static void poll_pause(void)
{
    struct timespec ts = {0, POLL_INTERVAL_MS * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *str_printf(const char *fmt, ...)
{
    struct buf b;
    buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    buf_append_char(&b, '\0');
    return b.data;
}

/* NULL-terminated deep copy of a NULL-terminated list (NULL: empty list). */
static char **strv_copy(const char *const *v)
{
    size_t n = 0;
    while (v != NULL && v[n] != NULL)
        n++;
    char **out = xcalloc(n + 1, sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = xstrdup(v[i]);
    return out;
}

static void strv_free(char **v)
{
    if (v == NULL)
        return;
    for (size_t i = 0; v[i] != NULL; i++)
        free(v[i]);
    free(v);
}

/* Collect a NULL-terminated variadic list of strings into a malloc'd array
 * (the array is owned, the strings are borrowed). */
static const char **argv_from_va(const char *arg0, va_list ap, size_t *argc)
{
    size_t n = 0, cap = 8;
    const char **argv = xmalloc(cap * sizeof *argv);
    for (const char *a = arg0; a != NULL; a = va_arg(ap, const char *)) {
        if (n + 1 >= cap) {
            cap *= 2;
            argv = xrealloc(argv, cap * sizeof *argv);
        }
        argv[n++] = a;
    }
    argv[n] = NULL;
    *argc = n;
    return argv;
}

static void child_common_setup(pid_t parent)
{
    /* Die with the test process, even if it is killed by a timeout. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(126);
    /* The harness ignores SIGPIPE; exec keeps ignored signals ignored, and
     * the child should start with default dispositions. */
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* ---- ports ------------------------------------------------------------ */

static bool port_taken_here(unsigned port)
{
    for (size_t i = 0; i < n_used_ports; i++)
        if (used_ports[i].port == port)
            return true;
    return false;
}

/* Test processes running side by side (several developers' suites on one
 * machine) must not pick the same port: a node that is down between a kill
 * and its restart leaves its port free to bind, yet still needs it. So a
 * port is reserved across processes, for as long as its node may run, by a
 * file named after it holding the owner's pid; files of dead owners are
 * taken over. */
static void port_file(unsigned port, char *out, size_t cap)
{
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || *tmp == '\0')
        tmp = "/tmp";
    snprintf(out, cap, "%s/eventflow-ports/%u", tmp, port);
}

/* Returns true if this process now holds the reservation of `port`. */
static bool port_reserve(unsigned port)
{
    char path[4096];
    port_file(port, path, sizeof path);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return true; /* no place for reservations: rely on the bind check */
    *slash = '/';
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0) {
            dprintf(fd, "%d\n", (int)getpid());
            close(fd);
            return true;
        }
        if (errno != EEXIST)
            return true;
        /* Held: by a live process, or left behind by a dead one. */
        FILE *f = fopen(path, "r");
        int owner = 0;
        if (f != NULL) {
            if (fscanf(f, "%d", &owner) != 1)
                owner = 0;
            fclose(f);
        }
        if (owner > 0 && (kill(owner, 0) == 0 || errno != ESRCH))
            return false;
        if (owner <= 0)
            return false; /* being written right now, or unreadable */
        unlink(path);
    }
    return false;
}

static void port_unreserve(unsigned port)
{
    char path[4096];
    port_file(port, path, sizeof path);
    unlink(path);
}

/* Give up this process's reservation of a port it handed out. */
static void port_release(unsigned port)
{
    for (size_t i = 0; i < n_used_ports; i++) {
        if (used_ports[i].port == port && used_ports[i].held) {
            port_unreserve(port);
            used_ports[i].held = false;
        }
    }
}

static void port_take(unsigned port)
{
    used_ports[n_used_ports].port = port;
    used_ports[n_used_ports].held = true;
    n_used_ports++;
}

/* Bind 127.0.0.1:port (0 = any) and report the port bound; 0 or -1. */
static int try_bind(unsigned port, unsigned *bound)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    int rc = -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0) {
        *bound = ntohs(sa.sin_port);
        rc = 0;
    }
    close(fd);
    return rc;
}

static unsigned ephemeral_low(void)
{
    unsigned lo = 32768, hi = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f != NULL) {
        if (fscanf(f, "%u %u", &lo, &hi) != 2)
            lo = 32768;
        fclose(f);
    }
    return lo;
}

int harness_free_port(unsigned *port)
{
    static bool seeded;
    if (!seeded) {
        srandom((unsigned)getpid() ^ (unsigned)harness_now_ms());
        seeded = true;
    }
    if (n_used_ports == sizeof used_ports / sizeof used_ports[0]) {
        fprintf(stderr, "harness: out of port slots\n");
        return -1;
    }
    const unsigned base = 10000;
    unsigned lo = ephemeral_low();
    for (int attempt = 0; lo > base + 1000 && attempt < 500; attempt++) {
        unsigned cand = base + (unsigned)random() % (lo - base), bound;
        if (port_taken_here(cand) || !port_reserve(cand))
            continue;
        if (try_bind(cand, &bound) != 0) {
            port_unreserve(cand); /* someone outside the harness uses it */
            continue;
        }
        port_take(cand);
        *port = cand;
        return 0;
    }
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned bound;
        if (try_bind(0, &bound) != 0 || port_taken_here(bound) || !port_reserve(bound))
            continue;
        port_take(bound);
        *port = bound;
        return 0;
    }
    fprintf(stderr, "harness: no free port found\n");
    return -1;
}

/* ---- temporary directories --------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    if (remove(path) != 0 && errno != ENOENT)
        fprintf(stderr, "harness: cannot remove %s: %s\n", path, strerror(errno));
    return 0;
}

static void rm_tree(const char *dir)
{
    if (env_set("EVENTFLOW_ITEST_KEEP")) {
        fprintf(stderr, "harness: keeping %s\n", dir);
        return;
    }
    if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
        fprintf(stderr, "harness: cannot remove %s: %s\n", dir, strerror(errno));
}

/* ---- nodes ------------------------------------------------------------ */

static void kill_all_nodes(void)
{
    for (struct harness_node *n = all_nodes; n != NULL; n = n->next_live) {
        if (n->pid > 0) {
            kill(n->pid, SIGKILL);
            waitpid(n->pid, NULL, 0);
            n->pid = 0;
        }
        rm_tree(n->dir);
    }
    for (size_t i = 0; i < n_used_ports; i++)
        port_release(used_ports[i].port);
}

static void install_atexit(void)
{
    if (!atexit_installed && atexit(kill_all_nodes) == 0)
        atexit_installed = true;
}

static const char *eventflowd_path(void)
{
    const char *p = getenv("EVENTFLOWD");
    return (p != NULL && *p != '\0') ? p : "build/src/daemon/eventflowd";
}

struct harness_node *harness_node_new(const struct harness_node_opts *opts)
{
    static const struct harness_node_opts defaults = {0};
    if (opts == NULL)
        opts = &defaults;
    install_atexit();

    struct harness_node *n = xcalloc(1, sizeof *n);
    n->id = opts->id ? opts->id : 1;
    n->exit_status = -1;
    if (harness_free_port(&n->port) != 0 || harness_free_port(&n->raft_port) != 0 ||
        harness_free_port(&n->http_port) != 0) {
        port_release(n->port);
        port_release(n->raft_port);
        free(n);
        return NULL;
    }
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || *tmp == '\0')
        tmp = "/tmp";
    n->dir = str_printf("%s/eventflow-itest-XXXXXX", tmp);
    if (mkdtemp(n->dir) == NULL) {
        fprintf(stderr, "harness: mkdtemp %s: %s\n", n->dir, strerror(errno));
        port_release(n->port);
        port_release(n->raft_port);
        port_release(n->http_port);
        free(n->dir);
        free(n);
        return NULL;
    }
    n->data_dir = str_printf("%s/data", n->dir);
    n->log_path = str_printf("%s/eventflowd.log", n->dir);
    n->password = opts->password ? xstrdup(opts->password) : NULL;
    n->cluster = opts->cluster ? xstrdup(opts->cluster) : NULL;
    n->args = strv_copy(opts->args);
    n->env = strv_copy(opts->env);
    n->next_live = all_nodes;
    all_nodes = n;
    return n;
}

void harness_node_free(struct harness_node *n)
{
    if (n == NULL)
        return;
    if (n->pid > 0)
        harness_node_stop(n);
    for (struct harness_node **p = &all_nodes; *p != NULL; p = &(*p)->next_live) {
        if (*p == n) {
            *p = n->next_live;
            break;
        }
    }
    port_release(n->port);
    port_release(n->raft_port);
    port_release(n->http_port);
    rm_tree(n->dir);
    free(n->dir);
    free(n->data_dir);
    free(n->log_path);
    free(n->password);
    free(n->cluster);
    strv_free(n->args);
    strv_free(n->env);
    free(n);
}

void harness_node_set_cluster(struct harness_node *n, const char *cluster)
{
    free(n->cluster);
    n->cluster = cluster ? xstrdup(cluster) : NULL;
}

char *harness_node_member(const struct harness_node *n)
{
    return str_printf("%u@127.0.0.1:%u@127.0.0.1:%u", n->id, n->raft_port, n->port);
}

int harness_node_start(struct harness_node *n)
{
    if (n->pid > 0) {
        fprintf(stderr, "harness: node %u already runs (pid %d)\n", n->id, (int)n->pid);
        return -1;
    }
    const char *bin = eventflowd_path();
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "harness: cannot execute %s (set EVENTFLOWD): %s\n", bin, strerror(errno));
        return -1;
    }

    /* Everything the child needs is built before fork, so the child only
     * calls async-signal-safe functions plus setenv/unsetenv on its own
     * copy of the environment. */
    char *id = str_printf("%u", n->id);
    char *port = str_printf("%u", n->port);
    char *raft = str_printf("127.0.0.1:%u", n->raft_port);
    char *http = str_printf("%u", n->http_port);
    size_t n_extra = 0;
    while (n->args[n_extra] != NULL)
        n_extra++;
    const char **argv = xcalloc(18 + n_extra, sizeof *argv);
    size_t argc = 0;
    argv[argc++] = bin;
    argv[argc++] = "--id";
    argv[argc++] = id;
    argv[argc++] = "--bind";
    argv[argc++] = "127.0.0.1";
    argv[argc++] = "--port";
    argv[argc++] = port;
    argv[argc++] = "--raft-address";
    argv[argc++] = raft;
    argv[argc++] = "--http-port";
    argv[argc++] = http;
    argv[argc++] = "--data";
    argv[argc++] = n->data_dir;
    if (n->cluster != NULL) {
        argv[argc++] = "--cluster";
        argv[argc++] = n->cluster;
    }
    if (env_set("EVENTFLOW_ITEST_LOG_LEVEL")) {
        argv[argc++] = "--log-level";
        argv[argc++] = getenv("EVENTFLOW_ITEST_LOG_LEVEL");
    }
    for (size_t i = 0; i < n_extra; i++)
        argv[argc++] = n->args[i];
    argv[argc] = NULL;

    int rc = -1;
    int logfd = open(n->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (logfd < 0 || nullfd < 0) {
        fprintf(stderr, "harness: open %s: %s\n", n->log_path, strerror(errno));
        goto out;
    }
    dprintf(logfd, "=== harness: starting node %u on port %u (raft %u)\n", n->id, n->port,
            n->raft_port);

    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "harness: fork: %s\n", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        child_common_setup(parent);
        if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
            _exit(126);
        for (size_t i = 0; i < sizeof server_env_names / sizeof server_env_names[0]; i++)
            unsetenv(server_env_names[i]);
        if (n->password != NULL)
            setenv("PASSWORD", n->password, 1);
        for (size_t i = 0; n->env[i] != NULL; i++)
            putenv(n->env[i]);
        execv(bin, (char *const *)argv);
        dprintf(2, "harness: exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    n->pid = pid;
    rc = 0;
out:
    if (logfd >= 0)
        close(logfd);
    if (nullfd >= 0)
        close(nullfd);
    free(argv);
    free(id);
    free(port);
    free(raft);
    free(http);
    return rc;
}

/* Reap the process if it has ended (block: wait for it). Returns true if it
 * was reaped now. */
static bool node_reap(struct harness_node *n, bool block)
{
    if (n->pid <= 0)
        return false;
    int st;
    pid_t r;
    do {
        r = waitpid(n->pid, &st, block ? 0 : WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r != n->pid)
        return false;
    n->exit_status = st;
    n->pid = 0;
    return true;
}

static void describe_status(int st, char *out, size_t cap)
{
    if (WIFEXITED(st))
        snprintf(out, cap, "exited with status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(out, cap, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        snprintf(out, cap, "ended with wait status %#x", (unsigned)st);
}

/* The process ended without being asked to. */
static void node_unexpected_exit(struct harness_node *n)
{
    char how[96];
    describe_status(n->exit_status, how, sizeof how);
    fprintf(stderr, "harness: node %u %s unexpectedly\n", n->id, how);
    n->failed = true;
    harness_node_print_log(n, LOG_TAIL_LINES);
}

bool harness_node_alive(struct harness_node *n)
{
    if (n->pid <= 0)
        return false;
    if (node_reap(n, false)) {
        node_unexpected_exit(n);
        return false;
    }
    return true;
}

int harness_node_stop(struct harness_node *n)
{
    if (n->pid <= 0) {
        fprintf(stderr, "harness: stop: node %u is not running\n", n->id);
        return -1;
    }
    if (node_reap(n, false)) {
        node_unexpected_exit(n);
        return -1;
    }
    kill(n->pid, SIGTERM);
    /* A test may have frozen the node with SIGSTOP; it must run to exit. */
    kill(n->pid, SIGCONT);
    int64_t deadline = harness_now_ms() + HARNESS_STOP_TIMEOUT_MS;
    while (!node_reap(n, false)) {
        if (harness_now_ms() > deadline) {
            kill(n->pid, SIGKILL);
            node_reap(n, true);
            fprintf(stderr, "harness: node %u did not exit within %d ms of SIGTERM\n", n->id,
                    HARNESS_STOP_TIMEOUT_MS);
            n->failed = true;
            harness_node_print_log(n, LOG_TAIL_LINES);
            return -1;
        }
        poll_pause();
    }
    if (!WIFEXITED(n->exit_status) || WEXITSTATUS(n->exit_status) != 0) {
        char how[96];
        describe_status(n->exit_status, how, sizeof how);
        fprintf(stderr, "harness: node %u %s after SIGTERM (expected status 0)\n", n->id, how);
        n->failed = true;
        harness_node_print_log(n, LOG_TAIL_LINES);
        return -1;
    }
    return 0;
}

int harness_node_kill(struct harness_node *n)
{
    if (n->pid <= 0) {
        fprintf(stderr, "harness: kill: node %u is not running\n", n->id);
        return -1;
    }
    if (node_reap(n, false)) {
        node_unexpected_exit(n);
        return -1;
    }
    kill(n->pid, SIGKILL);
    node_reap(n, true);
    return 0;
}

bool harness_node_log_line(const struct harness_node *n, const char *text, char *out, size_t outlen)
{
    FILE *f = fopen(n->log_path, "r");
    if (f == NULL)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f) != NULL)
        found = strstr(line, text) != NULL;
    fclose(f);
    if (found && out != NULL)
        snprintf(out, outlen, "%s", line);
    return found;
}

bool harness_node_log_says(const struct harness_node *n, const char *what)
{
    return harness_node_log_line(n, what, NULL, 0);
}

void harness_node_print_log(const struct harness_node *n, unsigned lines)
{
    FILE *f = fopen(n->log_path, "r");
    if (f == NULL) {
        fprintf(stderr, "harness: no log for node %u (%s)\n", n->id, n->log_path);
        return;
    }
    /* The tail of a long log is in its last 64 KiB. */
    char *text = xmalloc(65536 + 1);
    long start = 0;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        start = size > 65536 ? size - 65536 : 0;
    }
    size_t len = 0;
    if (fseek(f, start, SEEK_SET) == 0)
        len = fread(text, 1, 65536, f);
    fclose(f);
    text[len] = '\0';
    /* Walk back over `lines` line breaks, not counting the final one. */
    const char *p = text + len;
    if (p > text && p[-1] == '\n')
        p--;
    unsigned seen = 0;
    while (p > text && !(p[-1] == '\n' && ++seen == lines))
        p--;
    fprintf(stderr, "---- node %u log tail (%s) ----\n%s%s---- end of node %u log ----\n", n->id,
            n->log_path, p, (len > 0 && text[len - 1] != '\n') ? "\n" : "", n->id);
    free(text);
}

/* ---- connections ------------------------------------------------------- */

int harness_dial(unsigned port, bool quiet)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "harness: socket: %s\n", strerror(errno));
        return -1;
    }
    struct timeval tv = {HARNESS_IO_TIMEOUT_MS / 1000, (HARNESS_IO_TIMEOUT_MS % 1000) * 1000};
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
        fprintf(stderr, "harness: setsockopt: %s\n", strerror(errno));
        close(fd);
        return -1;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc;
    do {
        rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        if (!quiet)
            fprintf(stderr, "harness: connect 127.0.0.1:%u: %s\n", port, strerror(errno));
        close(fd);
        return -1;
    }
    /* While nobody listens, TCP may connect a socket to itself when the
     * kernel happens to pick the target port as the local one. */
    struct sockaddr_in local;
    socklen_t len = sizeof local;
    if (getsockname(fd, (struct sockaddr *)&local, &len) == 0 && ntohs(local.sin_port) == port) {
        close(fd);
        return -1;
    }
    return fd;
}

static struct harness_conn *connect_port(unsigned port, bool quiet)
{
    int fd = harness_dial(port, quiet);
    if (fd < 0)
        return NULL;
    struct harness_conn *c = xcalloc(1, sizeof *c);
    c->fd = fd;
    resp_reader_init(&c->reader, NULL);
    buf_init(&c->out);
    c->next_open = open_conns;
    if (open_conns != NULL)
        open_conns->prev_open = c;
    open_conns = c;
    return c;
}

struct harness_conn *harness_connect_port(unsigned port)
{
    return connect_port(port, false);
}

struct harness_conn *harness_connect(const struct harness_node *n)
{
    return connect_port(n->port, false);
}

struct harness_conn *harness_connect_auth(const struct harness_node *n)
{
    struct harness_conn *c = connect_port(n->port, false);
    if (c == NULL || n->password == NULL)
        return c;
    struct resp_value v;
    if (harness_cmd(c, &v, "AUTH", n->password, NULL) != 0) {
        harness_close(c);
        return NULL;
    }
    bool ok = v.type == RESP_T_SIMPLE && strcmp(v.str, "OK") == 0;
    resp_value_free(&v);
    if (!ok) {
        fprintf(stderr, "harness: AUTH to node %u refused\n", n->id);
        harness_close(c);
        return NULL;
    }
    return c;
}

void harness_close(struct harness_conn *c)
{
    if (c == NULL)
        return;
    if (c->prev_open != NULL)
        c->prev_open->next_open = c->next_open;
    else
        open_conns = c->next_open;
    if (c->next_open != NULL)
        c->next_open->prev_open = c->prev_open;
    close(c->fd);
    resp_reader_free(&c->reader);
    buf_free(&c->out);
    for (size_t i = c->replies_head; i < c->n_replies; i++)
        resp_value_free(&c->replies[i]);
    free(c->replies);
    free(c);
}

void harness_queue_argv(struct harness_conn *c, size_t argc, const char *const *argv,
                        const size_t *lens)
{
    buf_printf(&c->out, "*%zu\r\n", argc);
    for (size_t i = 0; i < argc; i++) {
        size_t len = lens ? lens[i] : strlen(argv[i]);
        buf_printf(&c->out, "$%zu\r\n", len);
        buf_append(&c->out, argv[i], len);
        buf_append(&c->out, "\r\n", 2);
    }
}

void harness_queue(struct harness_conn *c, const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    size_t argc;
    const char **argv = argv_from_va(arg0, ap, &argc);
    va_end(ap);
    harness_queue_argv(c, argc, argv, NULL);
    free(argv);
}

/* Send everything queued, blocking (up to the send timeout per call). */
static int conn_flush(struct harness_conn *c)
{
    while (c->out.len > 0) {
        ssize_t k = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            fprintf(stderr, "harness: send: %s\n",
                    errno == EAGAIN ? "timed out (the server does not read)" : strerror(errno));
            return -1;
        }
        buf_consume(&c->out, (size_t)k);
    }
    return 0;
}

int harness_send_argv(struct harness_conn *c, size_t argc, const char *const *argv,
                      const size_t *lens)
{
    harness_queue_argv(c, argc, argv, lens);
    return conn_flush(c);
}

int harness_send(struct harness_conn *c, const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    size_t argc;
    const char **argv = argv_from_va(arg0, ap, &argc);
    va_end(ap);
    int rc = harness_send_argv(c, argc, argv, NULL);
    free(argv);
    return rc;
}

int harness_send_raw(struct harness_conn *c, const void *p, size_t n)
{
    buf_append(&c->out, p, n);
    return conn_flush(c);
}

size_t harness_unread(const struct harness_conn *c)
{
    return c->n_replies - c->replies_head;
}

static void push_reply(struct harness_conn *c, const struct resp_value *v)
{
    if (c->replies_head > 0 && c->replies_head == c->n_replies) {
        c->replies_head = 0;
        c->n_replies = 0;
    }
    if (c->n_replies == c->cap_replies) {
        c->cap_replies = c->cap_replies ? c->cap_replies * 2 : 64;
        c->replies = xrealloc(c->replies, c->cap_replies * sizeof *c->replies);
    }
    c->replies[c->n_replies++] = *v;
}

/* Move every complete reply from the reader to the reply queue; 0 or -1 on
 * a malformed reply. */
static int drain_reader(struct harness_conn *c)
{
    for (;;) {
        struct resp_value v;
        int r = resp_reader_next(&c->reader, &v);
        if (r == 0)
            return 0;
        if (r < 0) {
            fprintf(stderr, "harness: malformed reply from the server\n");
            return -1;
        }
        push_reply(c, &v);
    }
}

int harness_read(struct harness_conn *c, struct resp_value *out)
{
    if (c->replies_head < c->n_replies) {
        *out = c->replies[c->replies_head++];
        return 1;
    }
    for (;;) {
        int r = resp_reader_next(&c->reader, out);
        if (r == 1)
            return 1;
        if (r < 0) {
            fprintf(stderr, "harness: malformed reply from the server\n");
            return -1;
        }
        if (c->eof)
            return 0;
        char tmp[65536];
        ssize_t k = recv(c->fd, tmp, sizeof tmp, 0);
        if (k > 0) {
            resp_reader_feed(&c->reader, tmp, (size_t)k);
        } else if (k == 0 || (k < 0 && errno == ECONNRESET)) {
            c->eof = true;
        } else if (errno != EINTR) {
            fprintf(stderr, "harness: recv: %s\n",
                    errno == EAGAIN ? "timed out waiting for a reply" : strerror(errno));
            return -1;
        }
    }
}

int harness_cmd(struct harness_conn *c, struct resp_value *out, const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    size_t argc;
    const char **argv = argv_from_va(arg0, ap, &argc);
    va_end(ap);
    int rc = harness_send_argv(c, argc, argv, NULL);
    free(argv);
    if (rc != 0)
        return -1;
    rc = harness_read(c, out);
    if (rc == 0)
        fprintf(stderr, "harness: the server closed the connection instead of replying\n");
    return rc == 1 ? 0 : -1;
}

/* ---- pipelining ------------------------------------------------------- */

/* Is connection i finished (1), failed (-1) or still busy (0)? */
static int pump_state(const struct harness_conn *c, const size_t *want, size_t i)
{
    bool sent = c->out.len == 0;
    bool received = want == NULL || (want[i] == SIZE_MAX ? c->eof : harness_unread(c) >= want[i]);
    if (sent && received)
        return 1;
    if (c->eof)
        return -1;
    return 0;
}

int harness_pump(struct harness_conn *const *conns, size_t n, const size_t *want, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    struct pollfd *pfds = xcalloc(n ? n : 1, sizeof *pfds);
    int rc = -1;
    for (;;) {
        bool all_done = true;
        for (size_t i = 0; i < n; i++) {
            struct harness_conn *c = conns[i];
            int st = pump_state(c, want, i);
            if (st < 0) {
                fprintf(stderr, "harness: pump: connection %zu closed by the server with %zu of %zu "
                        "replies\n", i, harness_unread(c), want ? want[i] : 0);
                goto out;
            }
            all_done = all_done && st == 1;
            /* Keep reading even when no reply is wanted: a server that
             * cannot send its replies stops reading our requests. */
            pfds[i].fd = c->eof ? -1 : c->fd;
            pfds[i].events = (short)(POLLIN | (c->out.len > 0 ? POLLOUT : 0));
            pfds[i].revents = 0;
        }
        if (all_done) {
            rc = 0;
            goto out;
        }
        int64_t left = deadline - harness_now_ms();
        if (left <= 0) {
            fprintf(stderr, "harness: pump: timed out after %d ms\n", timeout_ms);
            goto out;
        }
        int r = poll(pfds, n, (int)left);
        if (r < 0 && errno != EINTR) {
            fprintf(stderr, "harness: poll: %s\n", strerror(errno));
            goto out;
        }
        for (size_t i = 0; r > 0 && i < n; i++) {
            struct harness_conn *c = conns[i];
            if (pfds[i].revents & POLLOUT) {
                ssize_t k = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k > 0)
                    buf_consume(&c->out, (size_t)k);
                else if (k < 0 && errno != EAGAIN && errno != EINTR)
                    c->eof = true; /* reset by the server; what it sent is still read below */
            }
            if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                char tmp[65536];
                ssize_t k;
                /* Read all there is, so a closed connection is seen as eof
                 * only after its last reply. */
                while ((k = recv(c->fd, tmp, sizeof tmp, MSG_DONTWAIT)) > 0)
                    resp_reader_feed(&c->reader, tmp, (size_t)k);
                if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
                    c->eof = true;
                if (drain_reader(c) != 0)
                    goto out;
            }
        }
    }
out:
    free(pfds);
    return rc;
}

/* ---- rendering and checks ---------------------------------------------- */

static void repr_into(struct buf *b, const struct resp_value *v)
{
    switch (v->type) {
    case RESP_T_SIMPLE:
        buf_printf(b, "+%s", v->str);
        return;
    case RESP_T_ERROR:
        buf_printf(b, "-%s", v->str);
        return;
    case RESP_T_INT:
        buf_printf(b, ":%lld", (long long)v->integer);
        return;
    case RESP_T_NULL:
        buf_append_str(b, "(nil)");
        return;
    case RESP_T_BULK:
        buf_append_char(b, '"');
        for (size_t i = 0; i < v->len; i++) {
            unsigned char ch = (unsigned char)v->str[i];
            switch (ch) {
            case '"': buf_append_str(b, "\\\""); break;
            case '\\': buf_append_str(b, "\\\\"); break;
            case '\r': buf_append_str(b, "\\r"); break;
            case '\n': buf_append_str(b, "\\n"); break;
            case '\t': buf_append_str(b, "\\t"); break;
            default:
                if (ch < 0x20 || ch >= 0x7f)
                    buf_printf(b, "\\x%02x", ch);
                else
                    buf_append_char(b, (char)ch);
            }
        }
        buf_append_char(b, '"');
        return;
    case RESP_T_ARRAY:
    case RESP_T_PUSH:
    case RESP_T_MAP:
        /* A push shows as >[...], a map as %[k, v, ...]. */
        if (v->type != RESP_T_ARRAY)
            buf_append_char(b, v->type == RESP_T_PUSH ? '>' : '%');
        buf_append_char(b, '[');
        for (size_t i = 0; i < v->n; i++) {
            if (i > 0)
                buf_append_str(b, ", ");
            repr_into(b, &v->elems[i]);
        }
        buf_append_char(b, ']');
        return;
    }
    buf_printf(b, "<unknown reply type %d>", (int)v->type);
}

char *harness_repr(const struct resp_value *v)
{
    struct buf b;
    buf_init(&b);
    repr_into(&b, v);
    buf_append_char(&b, '\0');
    return b.data;
}

char *harness_cmd_repr(struct harness_conn *c, const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    size_t argc;
    const char **argv = argv_from_va(arg0, ap, &argc);
    va_end(ap);
    int rc = harness_send_argv(c, argc, argv, NULL);
    free(argv);
    if (rc != 0)
        return xstrdup("<no reply: send failed>");
    struct resp_value v;
    rc = harness_read(c, &v);
    if (rc == 0)
        return xstrdup("<no reply: connection closed>");
    if (rc < 0)
        return xstrdup("<no reply: timeout or malformed reply>");
    char *s = harness_repr(&v);
    resp_value_free(&v);
    return s;
}

static const char *type_name(enum resp_type t)
{
    switch (t) {
    case RESP_T_SIMPLE: return "simple string";
    case RESP_T_ERROR: return "error";
    case RESP_T_INT: return "integer";
    case RESP_T_BULK: return "bulk string";
    case RESP_T_NULL: return "null";
    case RESP_T_ARRAY: return "array";
    case RESP_T_PUSH: return "push";
    case RESP_T_MAP: return "map";
    }
    return "unknown";
}

/* Fail the current test, reporting the caller's file and line (the
 * harness_assert_* macros pass them), not a line in this file. */
static void fail_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail_at(const char *file, int line, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    print_error("ERROR: %s\n", msg);
    _fail(file, line);
}

/* Fail the test with the reply shown, if `ok` is false. */
static void check_reply(bool ok, const struct resp_value *v, const char *expected,
                        const char *file, int line)
{
    if (ok)
        return;
    char *got = harness_repr(v);
    char msg[1024];
    snprintf(msg, sizeof msg, "%.400s, got %.400s (%s)", expected, got, type_name(v->type));
    free(got);
    fail_at(file, line, "expected %s", msg);
}

void harness_assert_simple_at(const struct resp_value *v, const char *text, const char *file,
                              int line)
{
    char want[512];
    snprintf(want, sizeof want, "+%s", text);
    check_reply(v->type == RESP_T_SIMPLE && strcmp(v->str, text) == 0, v, want, file, line);
}

void harness_assert_error_at(const struct resp_value *v, const char *text, const char *file,
                             int line)
{
    char want[512];
    snprintf(want, sizeof want, "-%s", text);
    check_reply(v->type == RESP_T_ERROR && strcmp(v->str, text) == 0, v, want, file, line);
}

void harness_assert_error_prefix_at(const struct resp_value *v, const char *prefix,
                                    const char *file, int line)
{
    char want[512];
    snprintf(want, sizeof want, "-%s...", prefix);
    check_reply(v->type == RESP_T_ERROR && strncmp(v->str, prefix, strlen(prefix)) == 0, v, want,
                file, line);
}

void harness_assert_int_at(const struct resp_value *v, int64_t n, const char *file, int line)
{
    char want[64];
    snprintf(want, sizeof want, ":%lld", (long long)n);
    check_reply(v->type == RESP_T_INT && v->integer == n, v, want, file, line);
}

json_t *harness_assert_json_at(const struct resp_value *v, const char *file, int line)
{
    check_reply(v->type == RESP_T_BULK, v, "a bulk string holding JSON", file, line);
    json_error_t err;
    json_t *j = json_loadb(v->str, v->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (j == NULL)
        fail_at(file, line, "invalid JSON (%s at %d): %.*s", err.text, err.position, (int)v->len,
                v->str);
    return j;
}

json_t *harness_assert_events_at(const struct resp_value *v, const char *file, int line)
{
    check_reply(v->type == RESP_T_ARRAY, v, "an array of events", file, line);
    json_t *events = json_array();
    for (size_t i = 0; i < v->n; i++) {
        json_t *e = harness_assert_json_at(&v->elems[i], file, line);
        if (!json_is_object(e))
            fail_at(file, line, "event %zu is not a JSON object: %.*s", i, (int)v->elems[i].len,
                    v->elems[i].str);
        json_array_append_new(events, e);
    }
    return events;
}

json_t *harness_events_at(struct harness_conn *c, const char *name, const char *arg, const char *file, int line)
{
    struct resp_value v;
    if (harness_cmd(c, &v, name, arg, NULL) != 0)
        fail_at(file, line, "%s: no reply", name);
    json_t *events = harness_assert_events_at(&v, file, line);
    resp_value_free(&v);
    return events;
}

json_t *harness_getall_at(struct harness_conn *c, const char *file, int line)
{
    json_t *all = json_array();
    char offset[27] = "00000000000000000000000000";
    for (;;) {
        char req[96];
        snprintf(req, sizeof req, "{\"offset\":\"%s\",\"limit\":1000}", offset);
        json_t *page = harness_events_at(c, "GETALL", req, file, line);
        size_t k = json_array_size(page);
        if (k > 0)
            snprintf(offset, sizeof offset, "%s", harness_json_str_at(json_array_get(page, k - 1), "id", file, line));
        json_array_extend(all, page);
        json_decref(page);
        if (k == 0)
            return all;
    }
}

void harness_assert_json_equal_at(const json_t *got, const json_t *expected, const char *file,
                                  int line)
{
    if (json_equal(got, expected))
        return;
    char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
    char *e = json_dumps(expected, JSON_COMPACT | JSON_ENCODE_ANY);
    fprintf(stderr, "expected JSON: %s\ngot JSON:      %s\n", e ? e : "(null)", g ? g : "(null)");
    free(g);
    free(e);
    fail_at(file, line, "JSON values differ");
}

const char *harness_json_str_at(const json_t *obj, const char *key, const char *file, int line)
{
    const char *s = json_string_value(json_object_get(obj, key));
    if (s == NULL)
        fail_at(file, line, "key '%s' is missing or not a string", key);
    return s;
}

json_int_t harness_json_int_at(const json_t *obj, const char *key, const char *file, int line)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        fail_at(file, line, "key '%s' is missing or not an integer", key);
    return json_integer_value(v);
}

/* ---- node state ------------------------------------------------------- */

/* One STATUS; on failure *why says what happened (malloc'd). */
static json_t *status_once(const struct harness_node *n, char **why)
{
    *why = NULL;
    struct harness_conn *c = connect_port(n->port, true);
    if (c == NULL) {
        *why = xstrdup("cannot connect");
        return NULL;
    }
    json_t *st = NULL;
    struct resp_value v;
    if (n->password != NULL) {
        if (harness_cmd(c, &v, "AUTH", n->password, NULL) != 0) {
            *why = xstrdup("no reply to AUTH");
            goto out;
        }
        bool ok = v.type == RESP_T_SIMPLE && strcmp(v.str, "OK") == 0;
        if (!ok)
            *why = str_printf("AUTH answered %s", v.str ? v.str : "a non-string");
        resp_value_free(&v);
        if (!ok)
            goto out;
    }
    if (harness_cmd(c, &v, "STATUS", NULL) != 0) {
        *why = xstrdup("no reply to STATUS");
        goto out;
    }
    if (v.type == RESP_T_BULK) {
        json_error_t err;
        st = json_loadb(v.str, v.len, 0, &err);
        if (st == NULL || !json_is_object(st)) {
            json_decref(st);
            st = NULL;
            *why = str_printf("STATUS is not a JSON object: %.200s", v.str);
        }
    } else {
        *why = harness_repr(&v);
    }
    resp_value_free(&v);
out:
    harness_close(c);
    return st;
}

json_t *harness_status(const struct harness_node *n)
{
    char *why;
    json_t *st = status_once(n, &why);
    if (st == NULL)
        fprintf(stderr, "harness: STATUS of node %u: %s\n", n->id, why);
    free(why);
    return st;
}

int harness_wait_status(struct harness_node *n, harness_status_pred pred, void *arg,
                        int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    char *last = NULL;
    for (;;) {
        if (!harness_node_alive(n)) {
            fprintf(stderr, "harness: node %u is not running while waiting for its status\n", n->id);
            free(last);
            return -1;
        }
        char *why;
        json_t *st = status_once(n, &why);
        if (st != NULL) {
            bool ok = pred(st, arg);
            free(why);
            why = json_dumps(st, JSON_COMPACT);
            json_decref(st);
            if (ok) {
                free(why);
                free(last);
                return 0;
            }
        }
        free(last);
        last = why;
        if (harness_now_ms() > deadline)
            break;
        poll_pause();
    }
    fprintf(stderr, "harness: node %u: condition not reached within %d ms; last status: %s\n",
            n->id, timeout_ms, last ? last : "(none)");
    free(last);
    harness_node_print_log(n, LOG_TAIL_LINES);
    return -1;
}

static bool is_ready_leader(const json_t *st, void *arg)
{
    const char *state = json_string_value(json_object_get(st, "state"));
    return state != NULL && strcmp(state, "leader") == 0 && json_is_true(json_object_get(st, "ready"));
}

int harness_wait_ready(struct harness_node *n, int timeout_ms)
{
    return harness_wait_status(n, is_ready_leader, NULL, timeout_ms);
}

/* ---- redis-cli -------------------------------------------------------- */

char *harness_redis_cli(const struct harness_node *n, const char *input, int *exit_code, ...)
{
    if (exit_code != NULL)
        *exit_code = -1;
    va_list ap;
    va_start(ap, exit_code);
    size_t n_args;
    const char *arg0 = va_arg(ap, const char *);
    const char **args = argv_from_va(arg0, ap, &n_args);
    va_end(ap);

    char *port = str_printf("%u", n->port);
    const char **argv = xcalloc(n_args + 6, sizeof *argv);
    size_t argc = 0;
    argv[argc++] = "redis-cli";
    argv[argc++] = "-h";
    argv[argc++] = "127.0.0.1";
    argv[argc++] = "-p";
    argv[argc++] = port;
    for (size_t i = 0; i < n_args; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;

    char *result = NULL;
    struct buf out;
    buf_init(&out);
    int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1};
    if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0) {
        fprintf(stderr, "harness: pipe: %s\n", strerror(errno));
        goto out;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "harness: fork: %s\n", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        child_common_setup(parent);
        if (dup2(in_pipe[0], 0) < 0 || dup2(out_pipe[1], 1) < 0)
            _exit(126);
        execvp("redis-cli", (char *const *)argv);
        dprintf(2, "harness: exec redis-cli: %s\n", strerror(errno));
        _exit(127);
    }
    close(in_pipe[0]);
    close(out_pipe[1]);
    in_pipe[0] = out_pipe[1] = -1;
    if (fcntl(in_pipe[1], F_SETFL, O_NONBLOCK) != 0 || fcntl(out_pipe[0], F_SETFL, O_NONBLOCK) != 0)
        fprintf(stderr, "harness: fcntl: %s\n", strerror(errno));

    /* Feed stdin and collect stdout together, so neither side can block
     * the other. */
    size_t in_len = input ? strlen(input) : 0, in_off = 0;
    if (in_len == 0) {
        close(in_pipe[1]);
        in_pipe[1] = -1;
    }
    int64_t deadline = harness_now_ms() + HARNESS_IO_TIMEOUT_MS;
    bool timed_out = false;
    while (out_pipe[0] >= 0) {
        struct pollfd p[2] = {{.fd = out_pipe[0], .events = POLLIN}, {.fd = in_pipe[1], .events = POLLOUT}};
        int64_t left = deadline - harness_now_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        if (poll(p, 2, (int)left) < 0 && errno != EINTR)
            break;
        if (p[1].revents & (POLLOUT | POLLERR | POLLHUP)) {
            ssize_t k = write(in_pipe[1], input + in_off, in_len - in_off);
            if (k > 0)
                in_off += (size_t)k;
            if ((k < 0 && errno != EAGAIN && errno != EINTR) || in_off == in_len) {
                close(in_pipe[1]);
                in_pipe[1] = -1;
            }
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            char *dst = buf_reserve(&out, 4096);
            ssize_t k = read(out_pipe[0], dst, 4096);
            if (k > 0) {
                buf_commit(&out, (size_t)k);
            } else if (k == 0 || (errno != EAGAIN && errno != EINTR)) {
                close(out_pipe[0]);
                out_pipe[0] = -1;
            }
        }
    }
    if (timed_out) {
        fprintf(stderr, "harness: redis-cli did not finish within %d ms\n", HARNESS_IO_TIMEOUT_MS);
        kill(pid, SIGKILL);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (!timed_out && WIFEXITED(st) && exit_code != NULL)
        *exit_code = WEXITSTATUS(st);
    buf_append_char(&out, '\0');
    result = out.data;
    buf_init(&out);
out:
    for (int i = 0; i < 2; i++) {
        if (in_pipe[i] >= 0)
            close(in_pipe[i]);
        if (out_pipe[i] >= 0)
            close(out_pipe[i]);
    }
    buf_free(&out);
    free(argv);
    free(args);
    free(port);
    return result;
}

/* ---- cmocka fixture ------------------------------------------------------ */

int harness_setup(void **state)
{
    /* A server closing a connection must fail a send, not kill the test. */
    signal(SIGPIPE, SIG_IGN);
    install_atexit();
    *state = xcalloc(1, sizeof(struct harness_fixture));
    return 0;
}

int harness_teardown(void **state)
{
    struct harness_fixture *f = *state;
    int rc = 0;
    while (open_conns != NULL)
        harness_close(open_conns);
    bool show_logs = !f->passed || env_set("EVENTFLOW_ITEST_LOGS");
    for (size_t i = 0; i < f->n_nodes; i++) {
        struct harness_node *n = f->nodes[i];
        if (n->pid > 0 && harness_node_stop(n) != 0)
            rc = -1;
        if (n->failed)
            rc = -1;
        if (show_logs && !n->failed)
            harness_node_print_log(n, LOG_TAIL_LINES);
        harness_node_free(n);
    }
    free(f);
    *state = NULL;
    return rc;
}

void harness_pass(struct harness_fixture *f)
{
    f->passed = true;
}

struct harness_node *harness_add_node_at(struct harness_fixture *f,
                                         const struct harness_node_opts *opts, const char *file,
                                         int line)
{
    if (f->n_nodes == HARNESS_MAX_NODES)
        fail_at(file, line, "a fixture holds at most %d nodes", HARNESS_MAX_NODES);
    struct harness_node *n = harness_node_new(opts);
    if (n == NULL)
        fail_at(file, line, "cannot create a node (ports or temporary directory)");
    f->nodes[f->n_nodes++] = n;
    return n;
}

struct harness_node *harness_start_single_at(struct harness_fixture *f,
                                             const struct harness_node_opts *opts,
                                             const char *file, int line)
{
    struct harness_node *n = harness_add_node_at(f, opts, file, line);
    harness_assert_restart_at(n, file, line);
    return n;
}

void harness_assert_restart_at(struct harness_node *n, const char *file, int line)
{
    if (harness_node_start(n) != 0)
        fail_at(file, line, "node %u did not start", n->id);
    if (harness_wait_ready(n, HARNESS_READY_TIMEOUT_MS) != 0)
        fail_at(file, line, "node %u did not become a ready leader within %d ms", n->id,
                HARNESS_READY_TIMEOUT_MS);
}

void harness_assert_stop_at(struct harness_node *n, const char *file, int line)
{
    if (harness_node_stop(n) != 0)
        fail_at(file, line, "node %u did not stop cleanly", n->id);
}

void harness_assert_kill_at(struct harness_node *n, const char *file, int line)
{
    if (harness_node_kill(n) != 0)
        fail_at(file, line, "node %u was not running when killed", n->id);
}

int harness_make_certs(char *dir, size_t cap)
{
    const char *tmp = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
    snprintf(dir, cap, "%s/eventflow-certs-XXXXXX", tmp);
    if (mkdtemp(dir) == NULL) {
        fprintf(stderr, "harness: mkdtemp %s: %s\n", dir, strerror(errno));
        dir[0] = '\0';
        return -1;
    }
    const char *root = getenv("EF_SOURCE_ROOT");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "sh '%s/tests/integration/tls_certs.sh' '%s'", root != NULL ? root : ".", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "harness: %s failed\n", cmd);
        return -1;
    }
    return 0;
}

const char *harness_cert_path(const char *dir, const char *name)
{
    static char paths[8][1024];
    static unsigned next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", dir, name);
    return p;
}

int harness_copy_file(const char *from, const char *to)
{
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    return system(cmd) == 0 ? 0 : -1;
}

int harness_remove_certs(const char *dir)
{
    if (getenv("EVENTFLOW_ITEST_KEEP") != NULL || dir[0] == '\0')
        return 0;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}
