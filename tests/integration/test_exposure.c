/* test_exposure.c - a running node as an outsider sees it: which ports
 * answer without credentials, and with what.
 *
 * One node runs with every protection on: a password, the cluster secret
 * on its raft port, TLS on its TLS port, HTTP. The test lists the TCP
 * ports the process listens on (from /proc: a listener added later
 * without a thought for who may reach it fails the test), then knocks on
 * each one as a stranger would and records what answers:
 *   - the client port: every command COMMAND LIST names, sent with no
 *     credentials (and AUTH with a wrong password), answers
 *     "-unauthorized"; HELLO may answer its own refusal, QUIT its
 *     goodbye, and nothing else answers anything;
 *   - the TLS port: plaintext gets no byte back and the connection ends;
 *   - the raft port: a stranger's bytes get nothing back, the connection
 *     ends, raft's term is unchanged (test_raft_port covers strangers who
 *     speak raft itself);
 *   - HTTP: the port speaks HTTPS (plaintext gets nothing back); every
 *     data route answers 401; only the web console's static files (no
 *     data in them) answer without a password.
 * The table of what answered is printed, so the test's log is the scan's
 * report. */
#include <dirent.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "cluster.h"
#include "harness.h"

#define PASSWORD "exposure-test-password"
#define SECRET "exposure-test-cluster-secret-0123456789"

static char certs[256];

static int make_certs(void **state)
{
    return harness_make_certs(certs, sizeof certs) == 0 ? harness_setup(state) : -1;
}

static int remove_certs(void **state)
{
    int rc = harness_teardown(state);
    return harness_remove_certs(certs) == 0 ? rc : -1;
}

/* ---- what the process listens on ------------------------------------------------ */

/* Whether pid holds a socket with this inode. */
static bool pid_has_inode(pid_t pid, unsigned long inode)
{
    char dir[64], want[64];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    snprintf(want, sizeof want, "socket:[%lu]", inode);
    DIR *d = opendir(dir);
    assert_non_null(d);
    bool found = false;
    const struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        char path[320], link[64];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        ssize_t n = readlink(path, link, sizeof link - 1);
        if (n > 0) {
            link[n] = '\0';
            found = strcmp(link, want) == 0;
        }
    }
    closedir(d);
    return found;
}

/* The TCP ports pid listens on (IPv4 and IPv6), into ports; how many. */
static size_t listening_ports(pid_t pid, unsigned *ports, size_t cap)
{
    static const char *const tables[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    size_t n = 0;
    for (size_t t = 0; t < 2; t++) {
        FILE *f = fopen(tables[t], "r");
        if (f == NULL)
            continue;
        char line[512];
        while (fgets(line, sizeof line, f) != NULL) {
            unsigned port, state;
            unsigned long inode;
            /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
            if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %*x:%*x %*x:%*x %*x %*u %*u %lu", &port,
                       &state, &inode) != 3 ||
                state != 0x0A || !pid_has_inode(pid, inode))
                continue;
            assert_true(n < cap);
            ports[n++] = port;
        }
        fclose(f);
    }
    return n;
}

static bool has_port(const unsigned *ports, size_t n, unsigned port)
{
    for (size_t i = 0; i < n; i++)
        if (ports[i] == port)
            return true;
    return false;
}

/* ---- knocking ----------------------------------------------------------------------- */

/* Send bytes to port on a fresh connection; how many bytes came back
 * before the server closed it or a second passed (the harness's receive
 * timeout is longer: a server that answers nothing is what we expect). */
static ssize_t knock(unsigned port, const char *bytes, size_t len)
{
    int fd = harness_dial(port, false);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = 1};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    assert_int_equal(send(fd, bytes, len, MSG_NOSIGNAL), (ssize_t)len);
    char buf[512];
    ssize_t got = 0, r;
    while ((r = recv(fd, buf, sizeof buf, 0)) > 0)
        got += r;
    close(fd);
    return got;
}

/* The status of one HTTPS request to port with no credentials (curl,
 * trusting the test CA); -1 if curl could not run. */
static int https_status(unsigned port, const char *method, const char *path)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "curl -s -o /dev/null -w '%%{http_code}' --max-time 5 --cacert '%s/ca.crt' -X %s %s "
             "'https://127.0.0.1:%u%s'",
             certs, method, strcmp(method, "POST") == 0 ? "--data '{}'" : "", port, path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    int status = -1;
    if (fscanf(p, "%d", &status) != 1)
        status = -1;
    pclose(p);
    return status;
}

/* The first line of a reply, for the report. */
static void first_line(const struct resp_value *v, char *out, size_t cap)
{
    char *repr = harness_repr(v);
    snprintf(out, cap, "%.*s", (int)strcspn(repr, "\r\n"), repr);
    free(repr);
}

static void test_outsider_view(void **state)
{
    unsigned tls_port;
    assert_int_equal(harness_free_port(&tls_port), 0);
    char tls_arg[16], cert[512], key[512];
    snprintf(tls_arg, sizeof tls_arg, "%u", tls_port);
    snprintf(cert, sizeof cert, "%s/server.crt", certs);
    snprintf(key, sizeof key, "%s/server.key", certs);
    const char *const args[] = {"--cluster-secret", SECRET, "--tls-port", tls_arg, "--tls-cert", cert,
                                "--tls-key",        key,    NULL};
    struct harness_node_opts o = {.password = PASSWORD, .args = args};
    struct harness_node *n = harness_start_single(*state, &o);

    /* Exactly four listeners: a fifth is a door nobody thought about. */
    unsigned ports[16];
    size_t np = listening_ports(n->pid, ports, 16);
    fprintf(stderr, "exposure: node listens on %zu TCP ports:", np);
    for (size_t i = 0; i < np; i++)
        fprintf(stderr, " %u", ports[i]);
    fprintf(stderr, "\n");
    assert_int_equal(np, 4);
    assert_true(has_port(ports, np, n->port));
    assert_true(has_port(ports, np, tls_port));
    assert_true(has_port(ports, np, n->raft_port));
    assert_true(has_port(ports, np, n->http_port));

    /* The client port: the command list, as an insider reads it. */
    struct harness_conn *in = harness_connect(n);
    assert_non_null(in);
    struct resp_value v;
    assert_int_equal(harness_cmd(in, &v, "AUTH", PASSWORD, NULL), 0);
    resp_value_free(&v);
    assert_int_equal(harness_cmd(in, &v, "COMMAND", "LIST", NULL), 0);
    assert_int_equal(v.type, RESP_T_ARRAY);
    assert_true(v.n >= 15);
    int64_t events = cluster_node_status_int(n, "events");
    size_t answered = 0;
    for (size_t i = 0; i < v.n; i++) {
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)v.elems[i].len, v.elems[i].str);
        struct harness_conn *out = harness_connect(n);
        assert_non_null(out);
        struct resp_value r;
        assert_int_equal(harness_cmd(out, &r, name, "x", NULL), 0);
        char line[160];
        first_line(&r, line, sizeof line);
        bool refused = r.type == RESP_T_ERROR && strncmp(r.str, "unauthorized", 12) == 0;
        if (!refused) {
            answered++;
            fprintf(stderr, "exposure: client port, %s without credentials: %s\n", name, line);
            /* AUTH and HELLO refuse the wrong password; QUIT says goodbye. */
            if (strcasecmp(name, "AUTH") == 0 || strcasecmp(name, "HELLO") == 0)
                assert_int_equal(r.type, RESP_T_ERROR);
            else
                assert_int_equal(strcasecmp(name, "quit"), 0);
        }
        resp_value_free(&r);
        harness_close(out);
    }
    fprintf(stderr, "exposure: client port, %zu commands refused, %zu answered otherwise\n", v.n - answered,
            answered);
    resp_value_free(&v);

    /* The TLS port: plaintext gets nothing and is cut off. */
    static const char ping[] = "*1\r\n$4\r\nPING\r\n";
    assert_int_equal(knock(tls_port, ping, sizeof ping - 1), 0);
    fprintf(stderr, "exposure: TLS port, plaintext PING: no answer, closed\n");

    /* The raft port: a stranger's bytes (not raft_uv's handshake, let
     * alone the cluster secret's proof) get nothing back, the connection
     * ends, and raft's state is as it was. */
    int64_t term = cluster_node_status_int(n, "term");
    static const char junk[] = "EFHELLO1 from a stranger, with no proof of the secret.....";
    assert_int_equal(knock(n->raft_port, junk, sizeof junk - 1), 0);
    static const char http_get[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(knock(n->raft_port, http_get, sizeof http_get - 1), 0);
    assert_int_equal(cluster_node_status_int(n, "term"), term);
    fprintf(stderr, "exposure: raft port, a stranger's bytes: no answer, closed, term unchanged\n");

    /* HTTP: the port speaks HTTPS (the TLS settings, --http-tls yes by
     * default), so plaintext gets nothing; over HTTPS every data route
     * wants the password. */
    static const char get_status[] = "GET /status HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(knock(n->http_port, get_status, sizeof get_status - 1), 0);
    fprintf(stderr, "exposure: HTTP port, plaintext GET /status: no answer, closed\n");
    static const char *const routes[][2] = {
        {"GET", "/status"},   {"GET", "/cluster"},         {"GET", "/health"},       {"GET", "/metrics"},
        {"GET", "/streams"},  {"GET", "/streams/s"},        {"GET", "/all"},          {"GET", "/all/subscribe"},
        {"POST", "/streams/s"}, {"POST", "/api/ADD"},       {"GET", "/api/STATUS"},   {"POST", "/api/GET"},
        {"GET", "/api/SNAPSHOT"},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int status = https_status(n->http_port, routes[i][0], routes[i][1]);
        fprintf(stderr, "exposure: HTTPS %s %s without credentials: %d\n", routes[i][0], routes[i][1], status);
        assert_int_equal(status, 401);
    }
    int page = https_status(n->http_port, "GET", "/");
    fprintf(stderr, "exposure: HTTPS GET / without credentials: %d (the console's static page, no data)\n", page);
    assert_int_equal(page, 200);

    /* Nothing a stranger sent changed the store. */
    assert_int_equal(cluster_node_status_int(n, "events"), events);
    harness_close(in);
    harness_pass(*state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_outsider_view, make_certs, remove_certs),
    };
    return cmocka_run_group_tests_name("exposure", tests, NULL, NULL);
}
