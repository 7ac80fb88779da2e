/* main.c - eventflowd: configuration, the loop, signals, orderly shutdown.
 *
 * One libuv loop on one thread owns everything: the client listeners (RESP,
 * and HTTP on top of it) and their connections, raft (raft_uv storage + raft_uv_tcp transport) and the LMDB
 * write transactions. SIGHUP reloads the TLS files for new clients.
 * Shutdown on SIGTERM/SIGINT: a leader hands leadership
 * to another voter first; then stop accepting and close
 * client connections (HTTP's first: its requests run on the server's
 * connections), then close raft (which fails requests still in flight
 * with "outcome unknown") and the store (which commits and syncs). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "common/log.h"
#include "common/mutant.h"
#include "http/http.h"
#include "server/affinity.h"
#include "server/config.h"
#include "node/node.h"
#include "server/server.h"

struct daemon {
    struct config cfg;
    uv_loop_t loop;
    struct node *node;    /* owned; freed once the loop has run out */
    struct server server;
    struct http *http;    /* owned; NULL without an HTTP listener */
    uv_signal_t sigterm;
    uv_signal_t sigint;
    uv_signal_t sighup;   /* reloads the TLS files */
    bool stopping;
    int exit_code;
};

/* The signal handlers stay installed until the node has closed, so that a
 * second SIGTERM during shutdown is ignored instead of killing us halfway. */
static void on_node_closed(void *data)
{
    struct daemon *d = data;
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sighup, NULL);
}

static void daemon_shutdown(void *data)
{
    struct daemon *d = data;
    http_close(d->http);
    server_close(&d->server);
    node_close(d->node, on_node_closed, d);
}

/* A leader first hands leadership to another voter (node_handover), still
 * serving reads and telling writers to retry meanwhile, so that the
 * cluster has a new leader before this one is gone. */
static void daemon_stop(struct daemon *d)
{
    if (d->stopping)
        return;
    d->stopping = true;
    if (node_handover(d->node, daemon_shutdown, d) != 0)
        daemon_shutdown(d);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct daemon *d = h->data;
    const char *name = signum == SIGTERM ? "SIGTERM" : "SIGINT";
    if (d->stopping) {
        log_info("received %s again; already shutting down", name);
        return;
    }
    log_info("received %s, shutting down", name);
    daemon_stop(d);
}

/* New connections get the files as they are now; open ones, and the
 * cluster, are not touched. */
static void on_sighup(uv_signal_t *h, int signum)
{
    struct daemon *d = h->data;
    (void)signum;
    if (d->stopping)
        return;
    server_tls_reload(&d->server);
    http_tls_reload(d->http);
    char err[512];
    if (d->node != NULL && d->cfg.raft_tls_on) {
        if (node_reload_tls(d->node, err, sizeof err) != 0)
            log_error("SIGHUP: raft TLS files not reloaded, new raft connections still use the previous ones: %s",
                      err);
        else
            log_info("SIGHUP: raft TLS certificate, key and CA reloaded for new raft connections");
    }
}

/* The node could not start (identity check refused, raft failed). */
static void on_start_failed(void *data)
{
    struct daemon *d = data;
    d->exit_code = 1;
    daemon_stop(d);
}

int main(int argc, char **argv)
{
    static struct daemon d;
    char err[512];

    int rc = config_load(argc, argv, &d.cfg, err, sizeof err);
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "eventflowd: %s\n", err);
        config_free(&d.cfg);
        return rc < 0 ? 2 : 0;
    }
    log_setup(d.cfg.id, (enum log_level)d.cfg.log_level, node_log_role);
    if (mutant_select(getenv("EVENTFLOW_MUTANT"), err, sizeof err) != 0) {
        fprintf(stderr, "eventflowd: EVENTFLOW_MUTANT: %s\n", err);
        config_free(&d.cfg);
        return 2;
    }
#ifdef EVENTFLOW_MUTANTS
    log_warn("#### MUTANT BUILD (-Dmutants=true): planted bug '%s' is active; never use this build for data ####",
             mutant_name(mutant_current()));
#endif
    /* A client that disconnects while we write must not kill the process. */
    signal(SIGPIPE, SIG_IGN);

    if (uv_loop_init(&d.loop) != 0) {
        log_error("cannot create the event loop");
        return 1;
    }
    /* Catch SIGTERM/SIGINT from the start: one that arrives while the store
     * opens is handled as soon as the loop runs, instead of killing us. */
    uv_signal_init(&d.loop, &d.sigterm);
    uv_signal_init(&d.loop, &d.sigint);
    uv_signal_init(&d.loop, &d.sighup);
    d.sigterm.data = d.sigint.data = d.sighup.data = &d;
    uv_signal_start(&d.sigterm, on_signal, SIGTERM);
    uv_signal_start(&d.sigint, on_signal, SIGINT);
    uv_signal_start(&d.sighup, on_sighup, SIGHUP);
    struct node_config ncfg;
    config_node(&d.cfg, &ncfg);
    d.node = node_new(&ncfg, &d.loop);
    if (d.node == NULL)
        goto err_loop;
    /* After node_init, which created the data directory "disk" looks at. */
    char shared[300];
    bool sharing = config_shares_machine(&d.cfg, shared, sizeof shared);
    if (affinity_apply(&d.cfg.cpu_affinity, d.cfg.data_dir, sharing ? shared : NULL, &d.loop) != 0)
        goto err_node;
    if (server_init(&d.server, &d.cfg, d.node, &d.loop) != 0)
        goto err_node;
    if (http_open(&d.server, &d.cfg, &d.loop, &d.http) != 0) {
        d.exit_code = 1;
        daemon_stop(&d);
    } else if (node_start(d.node, on_start_failed, &d) != 0) {
        d.exit_code = 1;
        daemon_stop(&d);
    }

    uv_run(&d.loop, UV_RUN_DEFAULT);
    http_free(d.http);
    node_free(d.node);
    rc = uv_loop_close(&d.loop);
    if (rc != 0)
        log_warn("event loop closed with handles open: %s", uv_strerror(rc));
    config_free(&d.cfg);
    return d.exit_code;

err_node:
    node_close(d.node, NULL, NULL);
err_loop:
    uv_close((uv_handle_t *)&d.sigterm, NULL);
    uv_close((uv_handle_t *)&d.sigint, NULL);
    uv_close((uv_handle_t *)&d.sighup, NULL);
    uv_run(&d.loop, UV_RUN_DEFAULT);
    node_free(d.node);
    uv_loop_close(&d.loop);
    config_free(&d.cfg);
    return 1;
}
