/* test_tls.c - TLS on the client port (--tls-port; src/server/tls.h,
 * docs/operations.md "TLS").
 *
 * The certificates are made at test time by tls_certs.sh into a temporary
 * directory (a CA, two server certificates with different serials, a
 * client certificate, an expired one, one from another CA and one of
 * 70 KB), so nothing checked in ever expires. The test speaks TLS itself
 * through OpenSSL where it must see the server's certificate or stop
 * halfway through a handshake, and runs redis-cli --tls and
 * redis-benchmark --tls as users would. The HTTP port of a node with a TLS
 * port speaks HTTPS with the same files (--http-tls): curl checks it as
 * users would. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <eventflow/eventflow.h>

#include "cluster.h"
#include "harness.h"

#define SERVER_SERIAL 0x1001
#define RELOADED_SERIAL 0x2002

/* The certificates' directory, made once for the whole run. */
static char certs[256];

static const char *cert_path(const char *name)
{
    return harness_cert_path(certs, name);
}

static int make_certs(void **state)
{
    (void)state;
    return harness_make_certs(certs, sizeof certs);
}

static int remove_certs(void **state)
{
    (void)state;
    return harness_remove_certs(certs);
}


/* ---- a TLS client of our own ------------------------------------------ */

struct tls_client {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
};

/* Connect to port and complete a handshake that checks the server's
 * certificate against the test CA and 127.0.0.1; client names a client
 * certificate of the directory ("client", "expired", "wrongca") or is
 * NULL. Returns 0, or -1 if the handshake failed (the client is still to
 * be closed). */
static int tls_open(struct tls_client *t, unsigned port, const char *client)
{
    memset(t, 0, sizeof *t);
    t->fd = harness_dial(port, false);
    assert_true(t->fd >= 0);
    t->ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(t->ctx);
    assert_int_equal(SSL_CTX_load_verify_locations(t->ctx, cert_path("ca.crt"), NULL), 1);
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    if (client != NULL) {
        char name[64];
        snprintf(name, sizeof name, "%s.crt", client);
        assert_int_equal(SSL_CTX_use_certificate_file(t->ctx, cert_path(name), SSL_FILETYPE_PEM), 1);
        snprintf(name, sizeof name, "%s.key", client);
        assert_int_equal(SSL_CTX_use_PrivateKey_file(t->ctx, cert_path(name), SSL_FILETYPE_PEM), 1);
    }
    t->ssl = SSL_new(t->ctx);
    assert_non_null(t->ssl);
    assert_int_equal(X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), "127.0.0.1"), 1);
    assert_int_equal(SSL_set_fd(t->ssl, t->fd), 1);
    int rv = SSL_connect(t->ssl) == 1 ? 0 : -1;
    ERR_clear_error();
    return rv;
}

static void tls_close(struct tls_client *t)
{
    SSL_free(t->ssl);
    SSL_CTX_free(t->ctx);
    if (t->fd >= 0)
        close(t->fd);
    memset(t, 0, sizeof *t);
    t->fd = -1;
}

/* Read one line (without its CRLF) into out. Returns 0, or -1 if the
 * session failed or closed first. */
static int tls_line(struct tls_client *t, char *out, size_t outlen)
{
    size_t len = 0;
    while (len + 1 < outlen) {
        int r = SSL_read(t->ssl, out + len, 1);
        if (r <= 0) {
            ERR_clear_error();
            return -1;
        }
        len++;
        if (len >= 2 && out[len - 2] == '\r' && out[len - 1] == '\n') {
            out[len - 2] = '\0';
            return 0;
        }
    }
    return -1;
}

/* Send an inline command and read the first line of its reply into out.
 * Returns 0, or -1 if the session failed or closed first. */
static int tls_cmd(struct tls_client *t, const char *cmd, char *out, size_t outlen)
{
    char line[256];
    int n = snprintf(line, sizeof line, "%s\r\n", cmd);
    if (SSL_write(t->ssl, line, n) != n) {
        ERR_clear_error();
        return -1;
    }
    return tls_line(t, out, outlen);
}

static void assert_tls_pong(struct tls_client *t)
{
    char reply[64];
    assert_int_equal(tls_cmd(t, "PING", reply, sizeof reply), 0);
    assert_string_equal(reply, "+PONG");
}

/* A new connection completes its handshake and answers PING. */
static void assert_new_tls_pong(unsigned port, const char *client)
{
    struct tls_client t;
    assert_int_equal(tls_open(&t, port, client), 0);
    assert_tls_pong(&t);
    tls_close(&t);
}

static long tls_serial(struct tls_client *t)
{
    X509 *x = SSL_get1_peer_certificate(t->ssl);
    assert_non_null(x);
    long serial = ASN1_INTEGER_get(X509_get_serialNumber(x));
    X509_free(x);
    return serial;
}

/* A client refused: its handshake fails, or (TLS 1.3, where the server
 * checks the client's certificate after the client has finished) its
 * first request gets no reply. */
static bool tls_refused(unsigned port, const char *client)
{
    struct tls_client t;
    char reply[64];
    bool refused = tls_open(&t, port, client) != 0 || tls_cmd(&t, "PING", reply, sizeof reply) != 0;
    tls_close(&t);
    return refused;
}

/* ---- raw sockets --------------------------------------------------------- */

/* Read until the server closes fd or deadline_ms passes; what was read
 * (NUL-terminated, truncated) goes into got. True if it closed. */
static bool wait_closed(int fd, int deadline_ms, char *got, size_t gotlen)
{
    size_t len = 0;
    int64_t end = harness_now_ms() + deadline_ms;
    for (;;) {
        int64_t left = end - harness_now_ms();
        if (left <= 0)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        char b[512];
        ssize_t r = recv(fd, b, sizeof b, 0);
        if (r == 0 || (r < 0 && errno == ECONNRESET)) {
            got[len] = '\0';
            return true;
        }
        if (r < 0)
            break;
        size_t take = (size_t)r < gotlen - 1 - len ? (size_t)r : gotlen - 1 - len;
        memcpy(got + len, b, take);
        len += take;
    }
    got[len] = '\0';
    return false;
}

/* The first bytes a real client sends: its ClientHello, made by OpenSSL
 * into a memory BIO. */
static size_t client_hello(unsigned char *out, size_t cap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = SSL_new(ctx);
    BIO *rbio = BIO_new(BIO_s_mem());
    BIO *wbio = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, rbio, wbio);
    assert_int_equal(SSL_connect(ssl), -1); /* wants the server's reply */
    int n = BIO_read(wbio, out, (int)cap);
    assert_true(n > 100);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return (size_t)n;
}

/* Lines of the node's log that contain text. */
static unsigned log_count(const struct harness_node *n, const char *text)
{
    FILE *f = fopen(n->log_path, "r");
    assert_non_null(f);
    char line[4096];
    unsigned count = 0;
    while (fgets(line, sizeof line, f) != NULL)
        count += strstr(line, text) != NULL;
    fclose(f);
    return count;
}

/* Twenty clients send plaintext `request` to TLS port `port` of n: each
 * is closed with no `answer`. The log says `reason`, in fewer lines
 * (those with `counted`) than clients: at most one a second. */
static void plaintext_refused(const struct harness_node *n, unsigned port, const char *request, const char *answer,
                              const char *reason, const char *counted)
{
    for (int i = 0; i < 20; i++) {
        int fd = harness_dial(port, false);
        assert_true(fd >= 0);
        assert_int_equal(send(fd, request, strlen(request), MSG_NOSIGNAL), (ssize_t)strlen(request));
        char got[256];
        assert_true(wait_closed(fd, HARNESS_IO_TIMEOUT_MS, got, sizeof got));
        assert_null(strstr(got, answer));
        close(fd);
    }
    assert_true(harness_node_log_says(n, reason));
    unsigned logged = log_count(n, counted);
    assert_true(logged >= 1 && logged < 20);
}

/* Failures are logged at most once a second: retry the failing
 * connection until its reason is logged. */
static void refused_with_reason(struct harness_node *n, unsigned port, const char *client, const char *reason)
{
    int64_t end = harness_now_ms() + HARNESS_IO_TIMEOUT_MS;
    do {
        assert_true(tls_refused(port, client));
        if (harness_node_log_says(n, reason))
            return;
    } while (harness_now_ms() < end);
    fail_msg("the log never said '%s'", reason);
}

/* ---- nodes --------------------------------------------------------------- */

struct tls_node {
    struct harness_node *n;
    unsigned tls_port;
    char tls_port_text[16];
};

/* Start one node with TLS on a free port: the server certificate, and
 * extra flags (NULL-terminated, up to 6). */
static void start_tls_node(struct harness_fixture *fx, struct tls_node *tn, const char *cert, const char *key,
                           const char *const *extra)
{
    assert_int_equal(harness_free_port(&tn->tls_port), 0);
    snprintf(tn->tls_port_text, sizeof tn->tls_port_text, "%u", tn->tls_port);
    const char *args[16] = {"--tls-port", tn->tls_port_text, "--tls-cert", cert, "--tls-key", key};
    size_t argc = 6;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && argc < 15; i++)
        args[argc++] = extra[i];
    args[argc] = NULL;
    struct harness_node_opts o = {.args = args};
    tn->n = harness_start_single(fx, &o);
}

/* Run a shell command; its standard output (at most cap - 1 bytes) goes
 * into out. Returns its exit code. */
static int run_shell(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t len = fread(out, 1, cap - 1, p);
    out[len] = '\0';
    int status = pclose(p);
    assert_true(status != -1 && WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* redis-benchmark --tls with an ADD per request: exits 0 and reports. */
static void run_benchmark(const struct tls_node *tn, unsigned requests)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "timeout 60 redis-benchmark -h 127.0.0.1 -p %u --tls --cacert '%s' -n %u -c 5 -q "
             "ADD '{\"stream\":\"bench-__rand_int__\",\"version\":\"any\",\"events\":[{\"type\":\"B\"}]}' "
             "2>/dev/null",
             tn->tls_port, cert_path("ca.crt"), requests);
    char out[4096];
    assert_int_equal(run_shell(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "requests per second"));
}

/* ---- tests --------------------------------------------------------------- */

/* redis-cli and redis-benchmark over TLS; plaintext to the TLS port and
 * TLS to the plaintext port are closed; the node serves both throughout. */
static void test_tls_clients(void **state)
{
    struct harness_fixture *fx = *state;
    struct tls_node tn;
    start_tls_node(fx, &tn, cert_path("server.crt"), cert_path("server.key"), NULL);
    const char *ca = cert_path("ca.crt");

    int code;
    char *out = harness_redis_cli(tn.n, NULL, &code, "-p", tn.tls_port_text, "--tls", "--cacert", ca, "PING", NULL);
    assert_int_equal(code, 0);
    assert_string_equal(out, "PONG\n");
    free(out);
    out = harness_redis_cli(tn.n, NULL, &code, "-p", tn.tls_port_text, "--tls", "--cacert", ca, "ADD",
                            "{\"stream\":\"tls-1\",\"version\":0,\"events\":[{\"type\":\"Sealed\",\"data\":{\"n\":7}}]}",
                            NULL);
    assert_int_equal(code, 0);
    assert_non_null(strstr(out, "\"type\":\"Sealed\""));
    free(out);
    out = harness_redis_cli(tn.n, NULL, &code, "-p", tn.tls_port_text, "--tls", "--cacert", ca, "GET",
                            "{\"stream\":\"tls-1\"}", NULL);
    assert_int_equal(code, 0);
    assert_non_null(strstr(out, "\"data\":{\"n\":7}"));
    free(out);

    run_benchmark(&tn, 200);
    struct harness_conn *plain = harness_connect(tn.n);
    assert_non_null(plain);
    HARNESS_EXPECT(plain, ":201", "EVENTCOUNT");

    /* A subscription's messages leave through the same encryption. */
    struct tls_client sub;
    assert_int_equal(tls_open(&sub, tn.tls_port, NULL), 0);
    char line[4096];
    assert_int_equal(tls_cmd(&sub, "SUBSCRIBE tls-live", line, sizeof line), 0);
    assert_string_equal(line, "*3");
    struct resp_value added;
    assert_int_equal(harness_cmd(plain, &added, "ADD",
                                 "{\"stream\":\"tls-live\",\"version\":\"any\",\"events\":[{\"type\":\"Pushed\"}]}",
                                 (const char *)NULL),
                     0);
    resp_value_free(&added);
    bool pushed = false;
    for (int i = 0; i < 20 && !pushed && tls_line(&sub, line, sizeof line) == 0; i++)
        pushed = strstr(line, "\"type\":\"Pushed\"") != NULL;
    assert_true(pushed);
    tls_close(&sub);

    /* Plaintext on the TLS port: closed without an answer, and logged,
     * though only once a second however many clients do it. */
    plaintext_refused(tn.n, tn.tls_port, "PING\r\n", "PONG", "wrong version number", "TLS: client");
    json_t *status = harness_status(tn.n);
    assert_non_null(status);
    assert_int_equal(harness_json_int(status, "tls_port"), tn.tls_port);
    assert_int_equal(harness_json_int(status, "tls_failures"), 20);
    json_decref(status);

    /* TLS on the plaintext port: the handshake fails, the port serves on. */
    struct tls_client t;
    assert_int_equal(tls_open(&t, tn.n->port, NULL), -1);
    tls_close(&t);
    HARNESS_EXPECT(plain, "+PONG", "PING");
    assert_new_tls_pong(tn.tls_port, NULL);
    harness_pass(fx);
}

/* --tls-client-auth required refuses no certificate, an expired one, one
 * from another CA and one too big for the handshake bound, saying why;
 * optional takes no certificate but not a bad one. */
static void test_tls_client_auth(void **state)
{
    struct harness_fixture *fx = *state;
    struct tls_node req, opt;
    const char *const required[] = {"--tls-ca", cert_path("ca.crt"), "--tls-client-auth", "required", NULL};
    start_tls_node(fx, &req, cert_path("server.crt"), cert_path("server.key"), required);

    struct tls_client t;
    assert_int_equal(tls_open(&t, req.tls_port, "client"), 0);
    assert_tls_pong(&t);
    refused_with_reason(req.n, req.tls_port, "expired", "certificate has expired");
    refused_with_reason(req.n, req.tls_port, "wrongca", "unable to get local issuer certificate");
    refused_with_reason(req.n, req.tls_port, NULL, "peer did not return a certificate");
    /* Within OpenSSL's own limit on a certificate chain (100 KiB), over
     * the node's bound on a handshake. */
    refused_with_reason(req.n, req.tls_port, "big", "handshake over 65536 bytes");
    /* The connection made before is not disturbed. */
    assert_tls_pong(&t);
    tls_close(&t);

    const char *const optional[] = {"--tls-ca", cert_path("ca.crt"), "--tls-client-auth", "optional", NULL};
    start_tls_node(fx, &opt, cert_path("server.crt"), cert_path("server.key"), optional);
    assert_new_tls_pong(opt.tls_port, NULL);
    assert_true(tls_refused(opt.tls_port, "wrongca"));
    assert_new_tls_pong(opt.tls_port, "client");
    harness_pass(fx);
}

/* A client that connects and says nothing, and one that stops halfway
 * through its ClientHello (on the TLS port and on the HTTPS port), are
 * closed at --tls-handshake-timeout (far sooner than the harness's 10 s
 * receive timeout), and the node serves on. */
static void test_tls_handshake_deadline(void **state)
{
    struct harness_fixture *fx = *state;
    struct tls_node tn;
    const char *const deadline[] = {"--tls-handshake-timeout", "300", NULL};
    start_tls_node(fx, &tn, cert_path("server.crt"), cert_path("server.key"), deadline);

    unsigned char hello[2048];
    size_t hello_len = client_hello(hello, sizeof hello);
    int silent = harness_dial(tn.tls_port, false);
    int halfway = harness_dial(tn.tls_port, false);
    int https_halfway = harness_dial(tn.n->http_port, false);
    assert_true(silent >= 0 && halfway >= 0 && https_halfway >= 0);
    assert_int_equal(send(halfway, hello, hello_len / 2, MSG_NOSIGNAL), (ssize_t)(hello_len / 2));
    assert_int_equal(send(https_halfway, hello, hello_len / 2, MSG_NOSIGNAL), (ssize_t)(hello_len / 2));

    int64_t start = harness_now_ms();
    char got[256];
    assert_true(wait_closed(silent, 5000, got, sizeof got));
    assert_true(wait_closed(halfway, 5000, got, sizeof got));
    assert_true(wait_closed(https_halfway, 5000, got, sizeof got));
    assert_true(harness_now_ms() - start < 5000);
    close(silent);
    close(halfway);
    close(https_halfway);
    assert_true(harness_node_log_says(tn.n, "no TLS handshake within --tls-handshake-timeout"));
    assert_true(harness_node_log_says(tn.n, "HTTPS handshake not done within --tls-handshake-timeout"));
    assert_new_tls_pong(tn.tls_port, NULL);
    harness_pass(fx);
}

/* ---- HTTPS on the HTTP port ---------------------------------------------- */

/* curl over HTTPS to path on n's HTTP port, trusting the test CA, with
 * more curl arguments (shell words); what it printed goes into out.
 * Returns curl's exit code. */
static int https_curl(const struct harness_node *n, const char *args, const char *path, char *out, size_t cap)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "timeout 20 curl -sS --max-time 15 --cacert '%s' %s 'https://127.0.0.1:%u%s' 2>/dev/null",
             cert_path("ca.crt"), args, n->http_port, path);
    return run_shell(cmd, out, cap);
}

/* The serial of the certificate n's HTTP port shows a new connection. */
static long https_serial(const struct harness_node *n)
{
    struct tls_client t;
    assert_int_equal(tls_open(&t, n->http_port, NULL), 0);
    long serial = tls_serial(&t);
    tls_close(&t);
    return serial;
}

/* An event stream over HTTPS (HTTP/1.1 through our own client): once
 * subscribed, an event appended over HTTP/2 reaches it. */
static void check_https_events(const struct harness_node *n)
{
    struct tls_client sse;
    assert_int_equal(tls_open(&sse, n->http_port, NULL), 0);
    const char *get = "GET /all/subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    assert_int_equal(SSL_write(sse.ssl, get, (int)strlen(get)), (int)strlen(get));
    char line[4096];
    assert_int_equal(tls_line(&sse, line, sizeof line), 0);
    assert_string_equal(line, "HTTP/1.1 200 OK");
    /* The stream's first comment says the subscription is in place: an
     * event appended after it is delivered. */
    bool subscribed = false;
    for (int i = 0; i < 20 && !subscribed && tls_line(&sse, line, sizeof line) == 0; i++)
        subscribed = strstr(line, ": subscribed") != NULL;
    assert_true(subscribed);
    char out[4096];
    assert_int_equal(https_curl(n, "-X POST -H 'Content-Type: application/json' -d '{\"events\":[{\"type\":\"OverHttps\"}]}'",
                                "/streams/https-1", out, sizeof out),
                     0);
    assert_non_null(strstr(out, "\"type\":\"OverHttps\""));
    bool delivered = false;
    for (int i = 0; i < 20 && !delivered && tls_line(&sse, line, sizeof line) == 0; i++)
        delivered = strstr(line, "\"type\":\"OverHttps\"") != NULL;
    assert_true(delivered);
    tls_close(&sse);
}

/* With --tls-port the HTTP port speaks HTTPS with the TLS port's
 * certificate: HTTP/2 or HTTP/1.1 as ALPN chooses, appends, an event
 * stream. Plaintext HTTP is closed unanswered and logged at most once a
 * second; RESP is served throughout. */
static void test_https(void **state)
{
    struct harness_fixture *fx = *state;
    struct tls_node tn;
    start_tls_node(fx, &tn, cert_path("server.crt"), cert_path("server.key"), NULL);
    struct harness_conn *plain = harness_connect(tn.n);
    assert_non_null(plain);

    /* First, so that the first line the log gives failures is theirs. */
    plaintext_refused(tn.n, tn.n->http_port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "HTTP/1.1",
                      "HTTPS ssl handshake failure: http request", "HTTPS ssl handshake failure");
    HARNESS_EXPECT(plain, "+PONG", "PING");

    char out[4096];
    assert_int_equal(https_curl(tn.n, "-w ' %{http_version}'", "/health", out, sizeof out), 0);
    assert_non_null(strstr(out, "\"healthy\":true"));
    assert_non_null(strstr(out, "} 2"));
    assert_int_equal(https_curl(tn.n, "--http1.1 -w ' %{http_version}'", "/health", out, sizeof out), 0);
    assert_non_null(strstr(out, "\"healthy\":true"));
    assert_non_null(strstr(out, "} 1.1"));
    check_https_events(tn.n);

    HARNESS_EXPECT(plain, ":1", "EVENTCOUNT");
    harness_close(plain);
    assert_new_tls_pong(tn.tls_port, NULL);
    harness_pass(fx);
}

/* --tls-client-auth required holds on the HTTP port: no certificate, no
 * answer (and the log says why); the client certificate is served. */
static void test_https_client_auth(void **state)
{
    struct harness_fixture *fx = *state;
    struct tls_node tn;
    const char *const required[] = {"--tls-ca", cert_path("ca.crt"), "--tls-client-auth", "required", NULL};
    start_tls_node(fx, &tn, cert_path("server.crt"), cert_path("server.key"), required);

    char out[4096];
    assert_int_not_equal(https_curl(tn.n, "", "/health", out, sizeof out), 0);
    assert_null(strstr(out, "healthy"));
    refused_with_reason(tn.n, tn.n->http_port, NULL, "HTTPS ssl handshake failure: peer did not return a certificate");
    char args[1200];
    snprintf(args, sizeof args, "--cert '%s' --key '%s'", cert_path("client.crt"), cert_path("client.key"));
    assert_int_equal(https_curl(tn.n, args, "/health", out, sizeof out), 0);
    assert_non_null(strstr(out, "\"healthy\":true"));
    assert_new_tls_pong(tn.tls_port, "client");
    harness_pass(fx);
}

/* Send the node SIGHUP and wait for its log to say `outcome`. */
static void sighup(struct harness_node *n, const char *outcome)
{
    assert_int_equal(kill(n->pid, SIGHUP), 0);
    int64_t end = harness_now_ms() + HARNESS_IO_TIMEOUT_MS;
    while (!harness_node_log_says(n, outcome) && harness_now_ms() < end)
        poll(NULL, 0, 20);
    assert_true(harness_node_log_says(n, outcome));
}

/* SIGHUP: new connections get the new certificate, an open one keeps
 * working; a reload that fails keeps the certificate loaded before. */
static void test_tls_sighup_reload(void **state)
{
    struct harness_fixture *fx = *state;
    /* Copies: cert_path's buffers are reused after eight calls. */
    char cert[512], key[512];
    snprintf(cert, sizeof cert, "%s", cert_path("live.crt"));
    snprintf(key, sizeof key, "%s", cert_path("live.key"));
    assert_int_equal(harness_copy_file(cert_path("server.crt"), cert), 0);
    assert_int_equal(harness_copy_file(cert_path("server.key"), key), 0);
    struct tls_node tn;
    start_tls_node(fx, &tn, cert, key, NULL);

    struct tls_client before, after;
    assert_int_equal(tls_open(&before, tn.tls_port, NULL), 0);
    assert_int_equal(tls_serial(&before), SERVER_SERIAL);
    assert_tls_pong(&before);
    assert_int_equal(https_serial(tn.n), SERVER_SERIAL);

    assert_int_equal(harness_copy_file(cert_path("server2.crt"), cert), 0);
    assert_int_equal(harness_copy_file(cert_path("server2.key"), key), 0);
    /* The HTTP listener reloads after the TLS port: its line is the last. */
    sighup(tn.n, "HTTPS certificate, key and CA reloaded");
    assert_true(harness_node_log_says(tn.n, "TLS certificate, key and CA reloaded"));
    assert_int_equal(tls_open(&after, tn.tls_port, NULL), 0);
    assert_int_equal(tls_serial(&after), RELOADED_SERIAL);
    assert_tls_pong(&after);
    assert_tls_pong(&before);
    tls_close(&after);
    assert_int_equal(https_serial(tn.n), RELOADED_SERIAL);

    /* A certificate file cut short: refused, the last good one stays. */
    assert_int_equal(truncate(cert, 100), 0);
    sighup(tn.n, "HTTPS files not reloaded");
    assert_true(harness_node_log_says(tn.n, "TLS files not reloaded"));
    assert_int_equal(tls_open(&after, tn.tls_port, NULL), 0);
    assert_int_equal(tls_serial(&after), RELOADED_SERIAL);
    assert_tls_pong(&after);
    tls_close(&after);
    assert_int_equal(https_serial(tn.n), RELOADED_SERIAL);
    assert_tls_pong(&before);
    tls_close(&before);
    harness_pass(fx);
}


/* ---- a cluster with TLS on every node ------------------------------------ */

#define TLS_NODES 3

struct tls_cluster {
    struct cluster c;
    size_t n_tls;                      /* nodes [0, n_tls) have a TLS port */
    unsigned tls_port[TLS_NODES];      /* 0: none */
    char tls_port_text[TLS_NODES][16];
    size_t leader, follower;
};

/* Whether n's CLUSTER MEMBERS names every TLS address. */
static bool members_have_tls(struct tls_cluster *tc, struct harness_node *n)
{
    struct harness_conn *conn = harness_connect(n);
    assert_non_null(conn);
    char *members = harness_cmd_repr(conn, "CLUSTER", "MEMBERS", (const char *)NULL);
    harness_close(conn);
    bool all = members != NULL;
    for (size_t i = 0; all && i < tc->n_tls; i++) {
        char want[64];
        /* As harness_repr renders the JSON: its quotes escaped. */
        snprintf(want, sizeof want, "\\\"tls_address\\\":\\\"127.0.0.1:%u\\\"", tc->tls_port[i]);
        all = strstr(members, want) != NULL;
    }
    free(members);
    return all;
}

/* Wait until n has applied every TLS address's registration. */
static void wait_members_have_tls(struct tls_cluster *tc, struct harness_node *n)
{
    int64_t end = harness_now_ms() + CLUSTER_WAIT_MS;
    while (!members_have_tls(tc, n) && harness_now_ms() < end)
        cluster_poll_pause();
    assert_true(members_have_tls(tc, n));
}

/* Three nodes, the first n_tls with a TLS port. Returns once the follower
 * used by the test knows every TLS address. */
static void start_tls_cluster(struct harness_fixture *fx, struct tls_cluster *tc, size_t n_tls)
{
    const char *crt = cert_path("server.crt"), *key = cert_path("server.key");
    const char *args[TLS_NODES][7];
    const char *const *each[TLS_NODES] = {NULL};
    memset(tc, 0, sizeof *tc);
    tc->n_tls = n_tls;
    for (size_t i = 0; i < n_tls; i++) {
        assert_int_equal(harness_free_port(&tc->tls_port[i]), 0);
        snprintf(tc->tls_port_text[i], sizeof tc->tls_port_text[i], "%u", tc->tls_port[i]);
        const char *a[] = {"--tls-port", tc->tls_port_text[i], "--tls-cert", crt, "--tls-key", key, NULL};
        memcpy(args[i], a, sizeof a);
        each[i] = args[i];
    }
    cluster_start_each(&tc->c, fx, TLS_NODES, each);
    tc->leader = cluster_leader(&tc->c);
    tc->follower = (tc->leader + 1) % TLS_NODES;
    wait_members_have_tls(tc, tc->c.n[tc->follower]);
}

/* Whether redis-cli's rendering of a reply has `port` as a line of its own. */
static bool has_port_line(const char *out, unsigned port)
{
    char line[16];
    snprintf(line, sizeof line, "\n%u\n", port);
    return strstr(out, line) != NULL;
}

/* redis-cli ADD `add` on n, through its TLS port tls_port (with the test
 * CA) or, tls_port NULL, its plaintext port: the answer is the error
 * `error`, and names addr or (names false) does not. */
static void assert_add_answer(struct harness_node *n, const char *tls_port, const char *add, const char *error,
                              const char *addr, bool names)
{
    int code;
    char *out = tls_port != NULL ? harness_redis_cli(n, NULL, &code, "-p", tls_port, "--tls", "--cacert",
                                                     cert_path("ca.crt"), "ADD", add, NULL)
                                 : harness_redis_cli(n, NULL, &code, "ADD", add, NULL);
    assert_non_null(out);
    assert_non_null(strstr(out, error));
    assert_true((strstr(out, addr) != NULL) == names);
    free(out);
}

/* redis-cli on a follower: -MOVED names the leader's TLS address to a TLS
 * client and its plaintext one to a plaintext client; -c follows it over
 * TLS; CLUSTER SLOTS names the ports of the connection's kind only. */
static void check_redirects(struct tls_cluster *tc)
{
    struct harness_node *f = tc->c.n[tc->follower], *l = tc->c.n[tc->leader];
    const char *ca = cert_path("ca.crt");
    const char *tls_port = tc->tls_port_text[tc->follower];
    const char *add = "{\"stream\":\"tls-moved\",\"version\":\"any\",\"events\":[{\"type\":\"ViaMoved\"}]}";
    char leader_tls[64], leader_plain[64];
    snprintf(leader_tls, sizeof leader_tls, "127.0.0.1:%u", tc->tls_port[tc->leader]);
    snprintf(leader_plain, sizeof leader_plain, "127.0.0.1:%u", l->port);

    assert_add_answer(f, tls_port, add, "MOVED", leader_tls, true);
    assert_add_answer(f, NULL, add, "MOVED", leader_plain, true);

    int code;
    char *out = harness_redis_cli(f, NULL, &code, "-c", "-p", tls_port, "--tls", "--cacert", ca, "ADD", add, NULL);
    assert_int_equal(code, 0);
    assert_non_null(strstr(out, "\"type\":\"ViaMoved\""));
    free(out);

    char *tls_slots = harness_redis_cli(f, NULL, &code, "-p", tls_port, "--tls", "--cacert", ca, "CLUSTER", "SLOTS",
                                        NULL);
    assert_int_equal(code, 0);
    char *plain_slots = harness_redis_cli(f, NULL, &code, "CLUSTER", "SLOTS", NULL);
    assert_int_equal(code, 0);
    for (size_t i = 0; i < TLS_NODES; i++) {
        assert_true(has_port_line(tls_slots, tc->tls_port[i]));
        assert_false(has_port_line(tls_slots, tc->c.n[i]->port));
        assert_true(has_port_line(plain_slots, tc->c.n[i]->port));
        assert_false(has_port_line(plain_slots, tc->tls_port[i]));
    }
    free(tls_slots);
    free(plain_slots);

    /* An append over HTTPS to a follower is sent to the leader's HTTPS
     * address. */
    char location[512], want[128];
    assert_int_equal(https_curl(f, "-o /dev/null -w '%{redirect_url}' -X POST -d '[{\"type\":\"T\"}]'",
                                "/streams/tls-https-moved", location, sizeof location),
                     0);
    snprintf(want, sizeof want, "https://127.0.0.1:%u/streams/tls-https-moved", l->http_port);
    assert_string_equal(location, want);
}

/* A libeventflow client over TLS, seeded with the follower's TLS port and
 * the CA file ca. */
static int tls_lib_client(struct tls_cluster *tc, const char *ca, struct eventflow_client **out)
{
    char seed[64];
    snprintf(seed, sizeof seed, "127.0.0.1:%u", tc->tls_port[tc->follower]);
    struct eventflow_options o;
    eventflow_options_init(&o);
    o.endpoints = seed;
    o.tls = true;
    o.tls_ca_file = ca;
    o.retry_deadline_ms = 5000;
    return eventflow_client_new(&o, out);
}

/* libeventflow finds the leader over TLS from a follower and appends and
 * reads there; with the wrong CA it fails at once with EF_EAUTH, having
 * written nothing. */
static void check_library(struct tls_cluster *tc)
{
    struct eventflow_client *c;
    assert_int_equal(tls_lib_client(tc, cert_path("ca.crt"), &c), EF_OK);
    struct eventflow_new_event ev = {.type = "ViaLibrary"};
    struct eventflow_event_list added = {0}, read = {0};
    assert_int_equal(eventflow_append(c, "tls-lib", 0, &ev, 1, &added), EF_OK);
    assert_int_equal(added.n, 1);
    char leader_tls[64];
    snprintf(leader_tls, sizeof leader_tls, "127.0.0.1:%u", tc->tls_port[tc->leader]);
    assert_string_equal(eventflow_client_last_node(c), leader_tls);
    assert_int_equal(eventflow_read_stream(c, "tls-lib", 0, 10, &read), EF_OK);
    assert_int_equal(read.n, 1);
    assert_string_equal(read.events[0].type, "ViaLibrary");
    assert_string_equal(read.events[0].id, added.events[0].id);
    eventflow_event_list_free(&added);
    eventflow_event_list_free(&read);
    eventflow_client_free(c);

    struct harness_conn *plain = harness_connect(tc->c.n[tc->leader]);
    assert_non_null(plain);
    HARNESS_EXPECT(plain, ":2", "EVENTCOUNT"); /* ViaMoved and ViaLibrary */
    assert_int_equal(tls_lib_client(tc, cert_path("other-ca.crt"), &c), EF_OK);
    int64_t start = harness_now_ms();
    assert_int_equal(eventflow_append(c, "tls-wrong-ca", 0, &ev, 1, &added), EF_EAUTH);
    assert_true(harness_now_ms() - start < 4000); /* not retried to the deadline */
    assert_non_null(strstr(eventflow_client_last_error(c), "certificate is not trusted"));
    assert_int_equal(added.n, 0);
    eventflow_client_free(c);
    HARNESS_EXPECT(plain, ":2", "EVENTCOUNT");
    harness_close(plain);
}

/* eventflowctl CMD over TLS through the follower (flags, or the
 * environment when env is set); its stdout into out, its exit code back. */
static int ctl_tls(struct tls_cluster *tc, bool env, const char *ca, const char *cmd, char *out, size_t cap)
{
    const char *ctl = getenv("EVENTFLOWCTL");
    assert_non_null(ctl);
    char line[2048];
    if (env)
        snprintf(line, sizeof line,
                 "EVENTFLOW_ENDPOINTS=127.0.0.1:%u EVENTFLOW_TLS=1 EVENTFLOW_CACERT='%s' timeout 30 '%s' %s 2>&1",
                 tc->tls_port[tc->follower], ca, ctl, cmd);
    else
        snprintf(line, sizeof line, "timeout 30 '%s' -e 127.0.0.1:%u --tls --cacert '%s' %s 2>&1", ctl,
                 tc->tls_port[tc->follower], ca, cmd);
    return run_shell(line, out, cap);
}

/* eventflowctl over TLS: status asks every member at its TLS address;
 * append, get and tail through the follower; the wrong CA refused with
 * nothing written. */
static void check_ctl(struct tls_cluster *tc)
{
    const char *ca = cert_path("ca.crt");
    char out[8192];
    assert_int_equal(ctl_tls(tc, false, ca, "status", out, sizeof out), 0);
    assert_non_null(strstr(out, "healthy"));
    assert_int_equal(ctl_tls(tc, false, ca, "append tls-ctl ViaCtl '{\"n\":1}'", out, sizeof out), 0);
    assert_int_equal(ctl_tls(tc, true, ca, "get tls-ctl -o json", out, sizeof out), 0);
    assert_non_null(strstr(out, "ViaCtl"));
    /* A subscription, on a client of its own, served by a follower. */
    assert_int_equal(ctl_tls(tc, false, ca, "tail --from-start --limit 3 --read-from follower -o json", out,
                             sizeof out),
                     0);
    assert_non_null(strstr(out, "ViaMoved"));
    assert_non_null(strstr(out, "ViaCtl"));
    assert_int_equal(ctl_tls(tc, false, cert_path("other-ca.crt"), "append tls-ctl Refused", out, sizeof out), 3);
    assert_non_null(strstr(out, "certificate is not trusted"));
    assert_int_equal(ctl_tls(tc, true, ca, "get tls-ctl -o json", out, sizeof out), 0);
    assert_null(strstr(out, "Refused"));
}

/* TLS across a cluster: redirects, the Redis Cluster view, libeventflow
 * and eventflowctl. */
static void test_tls_cluster(void **state)
{
    struct harness_fixture *fx = *state;
    struct tls_cluster tc;
    start_tls_cluster(fx, &tc, TLS_NODES);
    check_redirects(&tc);
    check_library(&tc);
    check_ctl(&tc);
    harness_pass(fx);
}

/* STATUS predicate: the leader is member *(uint64_t *)arg. */
static bool leader_is(const json_t *st, void *arg)
{
    return (uint64_t)json_integer_value(json_object_get(st, "leader_id")) == *(uint64_t *)arg;
}

/* A leader without a TLS port: a TLS client is never sent to its
 * plaintext port. It is told there is no leader it can reach, which it
 * retries, and the Redis Cluster view lists the leader without an address;
 * plaintext clients are redirected as ever. */
static void test_tls_leader_without_tls(void **state)
{
    struct harness_fixture *fx = *state;
    struct tls_cluster tc;
    start_tls_cluster(fx, &tc, 2);
    size_t plain = 2;
    cluster_transfer_ok(&tc.c, plain);
    uint64_t plain_id = plain + 1;
    struct harness_node *f = tc.c.n[0];
    assert_int_equal(harness_wait_status(f, leader_is, &plain_id, CLUSTER_WAIT_MS), 0);
    wait_members_have_tls(&tc, f);

    const char *ca = cert_path("ca.crt");
    const char *add = "{\"stream\":\"tls-none\",\"version\":\"any\",\"events\":[{\"type\":\"T\"}]}";
    char leader_plain[64];
    snprintf(leader_plain, sizeof leader_plain, "127.0.0.1:%u", tc.c.n[plain]->port);
    assert_add_answer(f, tc.tls_port_text[0], add, "NOLEADER", leader_plain, false);
    assert_add_answer(f, NULL, add, "MOVED", leader_plain, true);
    int code;
    char *out = harness_redis_cli(f, NULL, &code, "-p", tc.tls_port_text[0], "--tls", "--cacert", ca, "CLUSTER", "SLOTS",
                            NULL);
    assert_int_equal(code, 0);
    if (!has_port_line(out, tc.tls_port[0]) || !has_port_line(out, tc.tls_port[1]) ||
        has_port_line(out, tc.c.n[plain]->port))
        fail_msg("CLUSTER SLOTS over TLS, TLS ports %u and %u, leader's plaintext port %u:\n%s", tc.tls_port[0],
                 tc.tls_port[1], tc.c.n[plain]->port, out);
    free(out);
    harness_pass(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tls_clients, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_tls_client_auth, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_tls_handshake_deadline, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_tls_sighup_reload, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_https, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_https_client_auth, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_tls_cluster, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_tls_leader_without_tls, harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests_name("tls", tests, make_certs, remove_certs);
}
