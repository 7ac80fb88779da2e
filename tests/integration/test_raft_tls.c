/* test_raft_tls.c - raft's connections inside mutual TLS (src/raftio/
 * raft_tls.h; docs/operations.md, "TLS between nodes"), on one three-node
 * cluster with --raft-tls yes and a cluster secret:
 *
 *   - writes replicate (every raft byte went through the TLS links);
 *   - outsiders who open the raft port and send raft_uv_tcp's handshake
 *     are refused at the TLS handshake, logged and counted, and the term,
 *     the leader and the store stay: one with a certificate of another CA,
 *     one with none, one that sends a well-formed AppendEntries in
 *     plaintext;
 *   - one with a certificate of the right CA (a user's, say) gets through
 *     TLS and is refused by the hello inside it (the secret);
 *   - SIGHUP with new certificates: a new connection is served with the
 *     new one, and a restarted member rejoins and gets new writes;
 *   - the nodes' own RESP requests (the leader's free-space reports,
 *     CLUSTER STATUS's fan-out) go to the members' TLS ports over TLS;
 *   - a node whose raft listener is not on loopback warns at start when it
 *     has neither TLS nor a secret, and not when it has TLS. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "cluster.h"
#include "harness.h"
#include "raft_wire.h"

#define SECRET "raft-tls-test-secret-1"
#define OUTSIDER_ID 9

static char certs[400];

static const char *cert_path(const char *name)
{
    return harness_cert_path(certs, name);
}

static void send_all(int fd, const void *p, size_t n)
{
    assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Whether the node closes fd within CLUSTER_WAIT_MS (what it sends before
 * is read and dropped). */
static bool closed_by_node(int fd)
{
    int64_t deadline = harness_now_ms() + CLUSTER_WAIT_MS;
    uint8_t sink[256];
    while (harness_now_ms() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t r = recv(fd, sink, sizeof sink, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            return true;
    }
    return false;
}

/* An outsider at port: raft_uv_tcp's handshake in plaintext (what raft_uv_tcp
 * reads before our layers see the connection), then TLS with the client
 * certificate `client` of the test directory (NULL: none). Returns the
 * session if the handshake went through and the node did not refuse it
 * at once; NULL if it was refused. *fd_out gets the socket either way. */
static SSL *outsider_tls(unsigned port, const char *client, SSL_CTX **ctx_out, int *fd_out)
{
    int fd = harness_dial(port, false);
    assert_true(fd >= 0);
    *fd_out = fd;
    uint8_t hs[64];
    send_all(fd, hs, raft_wire_handshake(hs, OUTSIDER_ID));
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(ctx);
    *ctx_out = ctx;
    assert_int_equal(SSL_CTX_load_verify_locations(ctx, cert_path("ca.crt"), NULL), 1);
    if (client != NULL) {
        char crt[64], key[64];
        snprintf(crt, sizeof crt, "%s.crt", client);
        snprintf(key, sizeof key, "%s.key", client);
        assert_int_equal(SSL_CTX_use_certificate_file(ctx, cert_path(crt), SSL_FILETYPE_PEM), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, cert_path(key), SSL_FILETYPE_PEM), 1);
    }
    SSL *ssl = SSL_new(ctx);
    assert_non_null(ssl);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1) {
        ERR_clear_error();
        SSL_free(ssl);
        return NULL;
    }
    /* TLS 1.3: the client is through before the server has checked its
     * certificate; a refusal arrives as an alert on the first read. */
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 2000) == 1) {
        char b;
        int r = SSL_read(ssl, &b, 1);
        if (r <= 0 && SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ) {
            ERR_clear_error();
            SSL_free(ssl);
            return NULL;
        }
    }
    return ssl;
}

static void outsider_close(SSL *ssl, SSL_CTX *ctx, int fd)
{
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
}

static void assert_term_unchanged(struct cluster *c, size_t leader, int64_t term)
{
    assert_int_equal(cluster_leader(c), leader);
    for (size_t i = 0; i < c->count; i++) {
        assert_true(harness_node_alive(c->n[i]));
        assert_int_equal(cluster_node_status_int(c->n[i], "term"), term);
    }
}

static bool snapshot_at_least(const json_t *st, void *arg)
{
    return json_integer_value(json_object_get(st, "snapshot_index")) >= *(const int64_t *)arg;
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

/* The serial of the certificate the node showed, e.g. "2002". */
static void peer_serial(SSL *ssl, char *out, size_t cap)
{
    X509 *cert = SSL_get1_peer_certificate(ssl);
    assert_non_null(cert);
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = BN_bn2hex(bn);
    snprintf(out, cap, "%s", hex);
    OPENSSL_free(hex);
    BN_free(bn);
    X509_free(cert);
}

static void test_raft_tls(void **state)
{
    struct harness_fixture *fx = *state;
    /* The nodes' files are copies, replaced before the SIGHUP. */
    char crt[600], key[600];
    snprintf(crt, sizeof crt, "%s", cert_path("node.crt"));
    snprintf(key, sizeof key, "%s", cert_path("node.key"));
    assert_int_equal(harness_copy_file(cert_path("server.crt"), crt), 0);
    assert_int_equal(harness_copy_file(cert_path("server.key"), key), 0);
    /* Each node gets a TLS port (for the peer requests) of its own. */
    unsigned tls_port[3];
    char tls_port_text[3][8];
    const char *args[3][21];
    const char *const *each[3];
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(harness_free_port(&tls_port[i]), 0);
        snprintf(tls_port_text[i], sizeof tls_port_text[i], "%u", tls_port[i]);
        const char *a[] = {"--raft-tls", "yes", "--tls-peer-cert", crt, "--tls-peer-key", key,
                           "--tls-peer-ca", cert_path("ca.crt"), "--cluster-secret", SECRET,
                           "--tls-port", tls_port_text[i], "--tls-cert", crt, "--tls-key", key,
                           /* A follower that misses a few hundred writes catches up by a copy. */
                           "--snapshot-threshold", "64", "--snapshot-trailing", "16", NULL};
        _Static_assert(sizeof a == sizeof args[0], "one row of args");
        memcpy(args[i], a, sizeof a);
        each[i] = args[i];
    }
    struct cluster c;
    cluster_start_each(&c, fx, 3, each);
    size_t l = cluster_leader(&c);
    struct harness_node *leader = c.n[l];
    json_t *st = harness_status(leader);
    assert_non_null(st);
    assert_true(json_is_true(json_object_get(st, "raft_tls")));
    json_decref(st);
    char *last = cluster_add_ok(&c, "before", "0", "T");
    cluster_assert_converged(&c, last);
    free(last);
    /* The leader asks every member for its room twice a second: over TLS. */
    cluster_node_wait_counter(leader, "peer_tls_answers", 2);
    int64_t term = cluster_node_status_int(leader, "term");
    int64_t events = cluster_node_status_int(leader, "events");

    /* Another CA's certificate, then none: refused at the handshake. */
    SSL_CTX *ctx;
    int fd;
    SSL *ssl = outsider_tls(leader->raft_port, "wrongca", &ctx, &fd);
    assert_null(ssl);
    outsider_close(NULL, ctx, fd);
    cluster_node_wait_counter(leader, "raft_tls_refused", 1);
    assert_true(harness_node_log_says(leader, "refusing a raft connection from 127.0.0.1"));
    assert_true(harness_node_log_says(leader, "certificate"));
    ssl = outsider_tls(leader->raft_port, NULL, &ctx, &fd);
    assert_null(ssl);
    outsider_close(NULL, ctx, fd);
    cluster_node_wait_counter(leader, "raft_tls_refused", 2);

    /* A well-formed AppendEntries at term 99 in plaintext: not TLS. */
    fd = harness_dial(leader->raft_port, false);
    assert_true(fd >= 0);
    uint8_t msg[128];
    size_t len = raft_wire_handshake(msg, OUTSIDER_ID);
    len += raft_wire_append_entries(msg + len, 99);
    send_all(fd, msg, len);
    assert_true(closed_by_node(fd));
    close(fd);
    cluster_node_wait_counter(leader, "raft_tls_refused", 3);
    assert_term_unchanged(&c, l, term);
    assert_int_equal(cluster_node_status_int(leader, "events"), events);

    /* New certificates, reloaded by every node. */
    assert_int_equal(harness_copy_file(cert_path("server2.crt"), crt), 0);
    assert_int_equal(harness_copy_file(cert_path("server2.key"), key), 0);
    for (size_t i = 0; i < c.count; i++)
        sighup(c.n[i], "raft TLS certificate, key and CA reloaded");

    /* A certificate of the right CA gets through TLS (and sees the new
     * certificate), then meets the hello: raft without it is refused. */
    ssl = outsider_tls(leader->raft_port, "client", &ctx, &fd);
    assert_non_null(ssl);
    char serial[32];
    peer_serial(ssl, serial, sizeof serial);
    assert_string_equal(serial, "2002");
    len = raft_wire_append_entries(msg, 99);
    assert_int_equal(SSL_write(ssl, msg, (int)len), (int)len);
    assert_true(closed_by_node(fd));
    outsider_close(ssl, ctx, fd);
    cluster_node_wait_counter(leader, "raft_peers_unauthenticated", 1);
    assert_term_unchanged(&c, l, term);

    /* A member restarted after the reload reconnects with the new files
     * on both ends. It missed more than the leader's log keeps (two rounds
     * of writes, each followed by a snapshot), so it copies a peer's store:
     * over TLS, from a TLS port. */
    size_t f = (l + 1) % c.count;
    harness_assert_stop(c.n[f]);
    free(cluster_node_write_events(leader, "snap", 300));
    int64_t snap = 1;
    assert_int_equal(harness_wait_status(leader, snapshot_at_least, &snap, CLUSTER_WAIT_MS), 0);
    snap = cluster_node_status_int(leader, "snapshot_index") + 200;
    last = cluster_node_write_events(leader, "snap", 300);
    assert_int_equal(harness_wait_status(leader, snapshot_at_least, &snap, CLUSTER_WAIT_MS), 0);
    assert_int_equal(harness_node_start(c.n[f]), 0);
    cluster_assert_converged(&c, last);
    free(last);
    assert_true(cluster_node_status_int(c.n[f], "state_fetches") >= 1);
    assert_true(harness_node_log_says(c.n[f], "of state from 127.0.0.1:"));
    assert_true(harness_node_log_says(c.n[f], " over TLS in "));
    last = cluster_add_ok(&c, "after", "0", "T");
    cluster_assert_converged(&c, last);
    free(last);
    harness_pass(fx);
}

/* One node whose raft listens on every address, with extra flags. */
static struct harness_node *open_raft_node(struct harness_fixture *fx, const char *const *extra)
{
    unsigned port;
    assert_int_equal(harness_free_port(&port), 0);
    char bind[32];
    snprintf(bind, sizeof bind, "0.0.0.0:%u", port);
    const char *args[12] = {"--raft-bind", bind};
    size_t n = 2;
    for (; extra[n - 2] != NULL; n++) {
        assert_true(n < 11);
        args[n] = extra[n - 2];
    }
    args[n] = NULL;
    struct harness_node_opts o = {.args = args};
    return harness_start_single(fx, &o);
}

static void test_open_raft_warning(void **state)
{
    struct harness_fixture *fx = *state;
    const char *const none[] = {NULL};
    struct harness_node *open = open_raft_node(fx, none);
    assert_true(harness_node_log_says(open, "without TLS or a cluster secret"));
    const char *const tls[] = {"--raft-tls", "yes", "--tls-peer-cert", cert_path("server.crt"), "--tls-peer-key",
                               cert_path("server.key"), "--tls-peer-ca", cert_path("ca.crt"), NULL};
    struct harness_node *safe = open_raft_node(fx, tls);
    assert_true(harness_node_log_says(safe, "raft connections run inside mutual TLS"));
    assert_false(harness_node_log_says(safe, "without TLS or a cluster secret"));
    harness_pass(fx);
}

static int setup(void **state)
{
    if (harness_make_certs(certs, sizeof certs) != 0)
        return -1;
    return harness_setup(state);
}

static int teardown(void **state)
{
    int rc = harness_teardown(state);
    if (harness_remove_certs(certs) != 0)
        rc = -1;
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_raft_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_raft_warning, setup, teardown),
    };
    return cmocka_run_group_tests_name("raft_tls", tests, NULL, NULL);
}
