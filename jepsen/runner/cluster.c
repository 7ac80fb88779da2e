/* cluster.c - see cluster.h. */
#include "cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "history.h"
#include "rawresp.h"

#define CLIENT_PORT 6543
#define RAFT_PORT 7543
#define TLS_PORT "6643"
#define STATUS_TIMEOUT_MS 700

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Run argv to completion, output to the runner's stderr only on failure
 * (it goes to the run's runner.log). Returns the exit status or -1. */
static int run_cmd(char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, STDOUT_FILENO);
        execvp(argv[0], argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (rc != 0) {
        fprintf(stderr, "runner: command failed (%d):", rc);
        for (int i = 0; argv[i] != NULL; i++)
            fprintf(stderr, " %s", argv[i]);
        fputc('\n', stderr);
    }
    return rc;
}

static void record_exit(struct cluster *c, struct slot *s, int st, const char *why)
{
    char path[700];
    snprintf(path, sizeof path, "%s/nodes/exits.jsonl", c->cfg.run_dir);
    FILE *f = fopen(path, "a");
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    int sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    if (f != NULL) {
        fprintf(f,
                "{\"node\":\"%s\",\"pid\":%d,\"time\":%lld,\"exit_code\":%d,\"signal\":%d,"
                "\"expected\":%s,\"why\":\"%s\",\"disk_full\":%s}\n",
                s->name, (int)s->pid, (long long)history_now(), code, sig,
                s->kill_expected ? "true" : "false", why, s->disk_full ? "true" : "false");
        if (fclose(f) != 0)
            perror("exits.jsonl");
    }
    if (!s->kill_expected)
        fprintf(stderr, "[%8.2fs] node %s (pid %d) exited by itself: status %d signal %d%s\n",
                (double)history_now() / 1e9, s->name, (int)s->pid, code, sig,
                s->disk_full ? " (its disk is full)" : "");
    s->pid = 0;
    s->paused = false;
    s->kill_expected = false;
}

int cluster_init(struct cluster *c, const struct cluster_config *cfg)
{
    memset(c, 0, sizeof *c);
    c->cfg = *cfg;
    c->next_id = (uint64_t)cfg->n + 1;
    char size[32];
    snprintf(size, sizeof size, "size=%dm", cfg->disk_mb);
    size_t used = 0;
    for (int i = 1; i <= cfg->n; i++) {
        struct slot *s = &c->slots[i];
        s->index = i;
        /* Built in locals: gcc's -Wrestrict cannot tell the fields apart. */
        char host[32], mount[512];
        snprintf(host, sizeof host, "%s.%d", cfg->prefix, 10 + i);
        snprintf(mount, sizeof mount, "%s/n%d", cfg->data_root, i);
        snprintf(s->name, sizeof s->name, "n%d", i % 100);
        snprintf(s->ns, sizeof s->ns, "efj-%s-n%d", cfg->tag, i);
        snprintf(s->host, sizeof s->host, "%s", host);
        snprintf(s->client_addr, sizeof s->client_addr, "%s:%d", host, CLIENT_PORT);
        snprintf(s->raft_addr, sizeof s->raft_addr, "%s:%d", host, RAFT_PORT);
        s->id = (uint64_t)i;
        s->member = true;
        snprintf(s->mount_dir, sizeof s->mount_dir, "%s", mount);
        snprintf(s->data_dir, sizeof s->data_dir, "%s/g0", mount);
        snprintf(s->faketime_file, sizeof s->faketime_file, "%s/faketime-n%d", cfg->data_root, i);
        snprintf(s->filler, sizeof s->filler, "%s/filler", mount);
        if (mkdir(s->mount_dir, 0755) != 0 && errno != EEXIST) {
            perror(s->mount_dir);
            return -1;
        }
        char *mount_argv[] = {"mount", "-t", "tmpfs", "-o", size, "tmpfs", s->mount_dir, NULL};
        if (run_cmd(mount_argv) != 0)
            return -1;
        used += (size_t)snprintf(c->initial_members + used, sizeof c->initial_members - used, "%s%d@%s@%s",
                                 i > 1 ? "," : "", i, s->raft_addr, s->client_addr);
    }
    return 0;
}

/* A member's client address to join through: the leader if known, else
 * any running member other than slot i. */
static const char *join_target(struct cluster *c, int i)
{
    int leader = cluster_leader(c);
    if (leader != 0 && leader != i)
        return c->slots[leader].client_addr;
    for (int j = 1; j <= c->cfg.n; j++)
        if (j != i && c->slots[j].member && c->slots[j].pid != 0)
            return c->slots[j].client_addr;
    return NULL;
}

static int start_process(struct cluster *c, int i, const char *faketime_spec, bool dont_fake_monotonic)
{
    struct slot *s = &c->slots[i];
    if (s->pid != 0)
        return 0;
    if (mkdir(s->data_dir, 0755) != 0 && errno != EEXIST) {
        perror(s->data_dir);
        return -1;
    }
    char id[24], et[16], st[16], sk[16];
    snprintf(id, sizeof id, "%llu", (unsigned long long)s->id);
    snprintf(et, sizeof et, "%d", c->cfg.election_timeout_ms);
    snprintf(st, sizeof st, "%d", c->cfg.snapshot_threshold);
    snprintf(sk, sizeof sk, "%d", c->cfg.snapshot_trailing);
    char preload[600], tsfile[700];
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", c->cfg.faketime_lib ? c->cfg.faketime_lib : "");
    snprintf(tsfile, sizeof tsfile, "FAKETIME_TIMESTAMP_FILE=%s", s->faketime_file);

    const char *argv[64];
    int n = 0;
    argv[n++] = "ip";
    argv[n++] = "netns";
    argv[n++] = "exec";
    argv[n++] = s->ns;
    argv[n++] = "env";
    if (faketime_spec != NULL) {
        argv[n++] = preload;
        argv[n++] = tsfile;
        /* Re-read the file every second, so the clock can jump while the
         * node runs. */
        argv[n++] = "FAKETIME_CACHE_DURATION=1";
        if (dont_fake_monotonic)
            argv[n++] = "FAKETIME_DONT_FAKE_MONOTONIC=1";
    }
    argv[n++] = c->cfg.eventflowd;
    argv[n++] = "--id";
    argv[n++] = id;
    argv[n++] = "--bind";
    argv[n++] = "0.0.0.0";
    argv[n++] = "--advertise";
    argv[n++] = s->client_addr;
    argv[n++] = "--raft-address";
    argv[n++] = s->raft_addr;
    argv[n++] = "--data";
    argv[n++] = s->data_dir;
    argv[n++] = "--election-timeout";
    argv[n++] = et;
    argv[n++] = "--snapshot-threshold";
    argv[n++] = st;
    argv[n++] = "--snapshot-trailing";
    argv[n++] = sk;
    /* The nodes' raft ports listen on 0.0.0.0 in their namespaces: every
     * raft connection proves the cluster secret, as production's should
     * (docs/operations.md, "The raft port"). */
    argv[n++] = "--cluster-secret";
    argv[n++] = "jepsen-runner-cluster-secret";
    /* --tls-certs: raft inside mutual TLS too, the secret's hello inside
     * it, and a TLS port, so that the nodes' own requests to each other
     * (free-space reports, store copies) go over TLS as well
     * (docs/operations.md, "TLS between nodes"). */
    char peer_cert[600], peer_key[600], peer_ca[600];
    if (c->cfg.tls_certs != NULL) {
        snprintf(peer_cert, sizeof peer_cert, "%s/server.crt", c->cfg.tls_certs);
        snprintf(peer_key, sizeof peer_key, "%s/server.key", c->cfg.tls_certs);
        snprintf(peer_ca, sizeof peer_ca, "%s/ca.crt", c->cfg.tls_certs);
        argv[n++] = "--raft-tls";
        argv[n++] = "yes";
        argv[n++] = "--tls-peer-cert";
        argv[n++] = peer_cert;
        argv[n++] = "--tls-peer-key";
        argv[n++] = peer_key;
        argv[n++] = "--tls-peer-ca";
        argv[n++] = peer_ca;
        argv[n++] = "--tls-port";
        argv[n++] = TLS_PORT;
        argv[n++] = "--tls-cert";
        argv[n++] = peer_cert;
        argv[n++] = "--tls-key";
        argv[n++] = peer_key;
    }
    /* The nodes share this machine under addresses of their own, which
     * --cpu-affinity auto takes for separate machines: it would pin every
     * node to the disk's interrupt CPU. */
    argv[n++] = "--cpu-affinity";
    argv[n++] = "off";
    if (s->joined) {
        const char *target = join_target(c, i);
        if (target == NULL) {
            fprintf(stderr, "runner: %s cannot join: no member is running\n", s->name);
            return -1;
        }
        argv[n++] = "--join";
        argv[n++] = target;
    } else {
        argv[n++] = "--cluster";
        argv[n++] = c->initial_members;
    }
    argv[n] = NULL;

    char logpath[700];
    snprintf(logpath, sizeof logpath, "%s/nodes/%s.log", c->cfg.run_dir, s->name);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return -1;
    }
    if (pid == 0) {
        /* The node dies with the runner, whatever kills the runner. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(126);
        int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0)
            _exit(126);
        dprintf(fd, "==== jepsen t=%.3fs: %s starts as id %s (pid %d)%s%s\n", (double)history_now() / 1e9,
                s->name, id, (int)getpid(), faketime_spec ? " under libfaketime " : "",
                faketime_spec ? faketime_spec : "");
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2(null, STDIN_FILENO);
        execvp("ip", (char *const *)argv);
        _exit(127);
    }
    s->pid = pid;
    s->paused = false;
    s->kill_expected = false;
    s->clock = faketime_spec != NULL ? CLOCK_FAKE : CLOCK_NORMAL;
    s->member = true;
    return 0;
}

int cluster_start(struct cluster *c, int i)
{
    return start_process(c, i, NULL, false);
}

static void wait_exit(struct cluster *c, struct slot *s, const char *why)
{
    int st;
    while (waitpid(s->pid, &st, 0) < 0) {
        if (errno != EINTR) {
            perror("waitpid");
            s->pid = 0;
            return;
        }
    }
    record_exit(c, s, st, why);
}

void cluster_kill(struct cluster *c, int i)
{
    struct slot *s = &c->slots[i];
    if (s->pid == 0)
        return;
    s->kill_expected = true;
    if (kill(s->pid, SIGKILL) != 0)
        perror("kill");
    wait_exit(c, s, "kill -9 by the runner");
}

void cluster_stop(struct cluster *c, int i, int timeout_ms)
{
    struct slot *s = &c->slots[i];
    if (s->pid == 0)
        return;
    s->kill_expected = true;
    if (s->paused)
        kill(s->pid, SIGCONT);
    kill(s->pid, SIGTERM);
    for (int waited = 0; waited < timeout_ms; waited += 50) {
        int st;
        pid_t r = waitpid(s->pid, &st, WNOHANG);
        if (r == s->pid) {
            record_exit(c, s, st, "SIGTERM by the runner");
            return;
        }
        sleep_ms(50);
    }
    fprintf(stderr, "runner: %s did not stop within %d ms after SIGTERM: kill -9\n", s->name, timeout_ms);
    kill(s->pid, SIGKILL);
    wait_exit(c, s, "kill -9 after SIGTERM timed out");
}

void cluster_pause(struct cluster *c, int i)
{
    struct slot *s = &c->slots[i];
    if (s->pid != 0 && !s->paused && kill(s->pid, SIGSTOP) == 0)
        s->paused = true;
}

void cluster_resume(struct cluster *c, int i)
{
    struct slot *s = &c->slots[i];
    if (s->pid != 0 && s->paused && kill(s->pid, SIGCONT) == 0)
        s->paused = false;
}

void cluster_reap(struct cluster *c)
{
    for (int i = 1; i <= c->cfg.n; i++) {
        struct slot *s = &c->slots[i];
        int st;
        if (s->pid != 0 && waitpid(s->pid, &st, WNOHANG) == s->pid)
            record_exit(c, s, st, s->kill_expected ? "signalled by the runner" : "exited by itself");
    }
}

int cluster_members(const struct cluster *c, int *out)
{
    int n = 0;
    for (int i = 1; i <= c->cfg.n; i++)
        if (c->slots[i].member)
            out[n++] = i;
    return n;
}

int cluster_leader(struct cluster *c)
{
    int best = 0;
    json_int_t best_term = -1;
    for (int i = 1; i <= c->cfg.n; i++) {
        struct slot *s = &c->slots[i];
        if (s->pid == 0 || s->paused)
            continue;
        char err[256];
        json_t *st = rawresp_status(s->client_addr, STATUS_TIMEOUT_MS, err, sizeof err);
        if (st == NULL)
            continue;
        const char *state = json_string_value(json_object_get(st, "state"));
        json_int_t term = json_integer_value(json_object_get(st, "term"));
        if (state != NULL && strcmp(state, "leader") == 0 && term > best_term) {
            best = i;
            best_term = term;
        }
        json_decref(st);
    }
    return best;
}

void cluster_endpoints(const struct cluster *c, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 1; i <= c->cfg.n && used < len; i++)
        used += (size_t)snprintf(out + used, len - used, "%s%s", i > 1 ? "," : "", c->slots[i].client_addr);
}

int cluster_drop(struct cluster *c, int to, int from)
{
    char *argv[] = {"ip", "netns", "exec", c->slots[to].ns, "iptables", "-w", "-A", "INPUT",
                    "-s", c->slots[from].host, "-j", "DROP", NULL};
    return run_cmd(argv);
}

int cluster_reset_link(struct cluster *c, int to, int from)
{
    /* Resets themselves pass: the other side's rule sends them, and a
     * reset that cannot arrive would leave its connection hanging. */
    char *argv[] = {"ip", "netns", "exec", c->slots[to].ns, "iptables", "-w", "-A", "INPUT", "-s", c->slots[from].host,
                    "-p", "tcp", "--tcp-flags", "RST", "NONE", "-j", "REJECT", "--reject-with", "tcp-reset", NULL};
    return run_cmd(argv);
}

void cluster_heal_network(struct cluster *c)
{
    for (int i = 1; i <= c->cfg.n; i++) {
        char *argv[] = {"ip", "netns", "exec", c->slots[i].ns, "iptables", "-w", "-F", "INPUT", NULL};
        run_cmd(argv);
    }
}

static int write_file_atomically(const char *path, const char *text)
{
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    bool ok = fputs(text, f) >= 0;
    ok = fclose(f) == 0 && ok;
    return ok && rename(tmp, path) == 0 ? 0 : -1;
}

int cluster_start_faketime(struct cluster *c, int i, const char *spec, bool dont_fake_monotonic)
{
    if (c->cfg.faketime_lib == NULL)
        return -1;
    if (write_file_atomically(c->slots[i].faketime_file, spec) != 0)
        return -1;
    cluster_kill(c, i);
    return start_process(c, i, spec, dont_fake_monotonic);
}

int cluster_set_clock(struct cluster *c, int i, const char *spec)
{
    return write_file_atomically(c->slots[i].faketime_file, spec);
}

long long cluster_fill_disk(struct cluster *c, int i)
{
    struct slot *s = &c->slots[i];
    int fd = open(s->filler, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    s->disk_full = true;
    static char chunk[1 << 20];
    long long total = 0;
    /* Big writes first, then small ones to take the last pages too. */
    for (size_t size = sizeof chunk; size >= 4096; size /= 16) {
        for (;;) {
            ssize_t n = write(fd, chunk, size);
            if (n <= 0)
                break;
            total += n;
        }
    }
    close(fd);
    return total;
}

void cluster_free_disk(struct cluster *c, int i)
{
    struct slot *s = &c->slots[i];
    if (unlink(s->filler) != 0 && errno != ENOENT)
        perror(s->filler);
    s->disk_full = false;
}

void cluster_wipe(struct cluster *c, int i)
{
    struct slot *s = &c->slots[i];
    cluster_kill(c, i);
    char *argv[] = {"rm", "-rf", s->data_dir, NULL};
    run_cmd(argv);
    s->generation++;
    char dir[sizeof s->data_dir];
    snprintf(dir, sizeof dir, "%s/g%d", s->mount_dir, s->generation);
    memcpy(s->data_dir, dir, sizeof dir);
    s->id = c->next_id++;
    s->joined = true;
    s->member = false;
}

void cluster_destroy(struct cluster *c)
{
    for (int i = 1; i <= c->cfg.n; i++)
        cluster_resume(c, i);
    for (int i = 1; i <= c->cfg.n; i++)
        cluster_stop(c, i, 10000);
    for (int i = 1; i <= c->cfg.n; i++) {
        struct slot *s = &c->slots[i];
        if (s->mount_dir[0] == '\0')
            continue;
        char *argv[] = {"umount", s->mount_dir, NULL};
        if (run_cmd(argv) == 0)
            rmdir(s->mount_dir);
        unlink(s->faketime_file);
    }
}

json_t *cluster_names(const struct cluster *c, const int *slots, int n)
{
    json_t *a = json_array();
    for (int k = 0; k < n; k++)
        json_array_append_new(a, json_string(c->slots[slots[k]].name));
    return a;
}
