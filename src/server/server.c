/* server.c - the client listener and the end of a loop turn (see server.h). */
#include "server/server.h"

#include <inttypes.h>
#include <string.h>

#include "common/log.h"
#include "server/conn.h"
#include "server/groups.h"
#include "server/subscribe.h"
#include "server/tls.h"
#include "node/node.h"

static void server_on_connection(uv_stream_t *listener, int status)
{
    struct server *s = listener->data;
    if (status < 0) {
        log_warn("accept: %s", uv_strerror(status));
        return;
    }
    struct tls_server *tls = listener == (uv_stream_t *)&s->tls_listener ? s->tls : NULL;
    (void)conn_accept(s, listener, tls);
}

/* The end of every loop turn, in this order. libuv runs a turn as: due
 * timers; the I/O callbacks (clients' requests parsed and dispatched, raft's
 * messages and disk completions, which is when raft commits and "applies"
 * entries: fsm.c only queues them); this prepare handle, right before the
 * loop blocks; then, after the next poll's I/O callbacks, the check
 * handles of raftio/turn_end.c. Each step relies on the ones before it:
 *
 *   1. apply the entries raft committed (fsm_drain): after raft_uv started
 *      its next log write in the I/O callbacks, so applying overlaps the
 *      disk; every ADD applied renders its reply;
 *   2. finish the ADDs both applied and committed (their replies complete);
 *   3. commit the store's batch if it has grown large (a timer commits it
 *      every second otherwise; reads see it uncommitted either way), and
 *      stop the process if a commit failed;
 *   4. record how far the replies about to leave may reach (served.h), so
 *      a restart never reads back in time;
 *   5. notice a change of raft role (a new leader proposes its barrier);
 *   6. serve the reads that waited for an event to be applied (min_id);
 *   7. feed the subscriptions catching up from the store (live ones were
 *      fed in step 1, as each entry applied; subscribe.h);
 *   8. propose the turn's consumer-group operations as one entry, with the
 *      waiting group reads that have something now (groups.h);
 *   9. write every connection's replies and messages;
 *  10. if a subscription catching up has room left now that its output was
 *      written, keep the loop from blocking so that step 7 runs again;
 *  11. (check phase, raftio/turn_end.c) appendq and sendq hand raft's log
 *      appends and AppendEntries of the turn to raft_uv, each as one.
 *
 * Reads see every applied entry (the store reads through its open batch),
 * so a client that has seen an ADD acknowledged can never read a state
 * without it. */
static void server_turn_end(uv_prepare_t *h)
{
    struct server *s = h->data;
    node_apply_committed(s->node);  /* 1 */
    node_finish_requests(s->node);  /* 2 */
    node_commit_batch(s->node);     /* 3 */
    node_note_served(s->node);      /* 4 */
    node_watch_role(s->node);       /* 5 */
    reads_poll(&s->reads);          /* 6 */
    subs_feed(s->subs);             /* 7 */
    groups_turn_end(s->groups);     /* 8 */
    while (s->dirty != NULL) {      /* 9 */
        struct conn *c = s->dirty;
        s->dirty = c->next_dirty;
        c->next_dirty = NULL;
        c->dirty = false;
        conn_flush(c);
    }
    subs_schedule(s->subs);         /* 10 */
}

void server_write_status(struct server *s, struct buf *b)
{
    size_t start = b->len;
    node_write_status(s->node, b);
    /* Reopen the object before its closing brace. */
    if (b->len > start && b->data[b->len - 1] == '}') {
        b->len--;
        buf_printf(b, ",\"clients\":%zu,", s->n_conns);
        if (s->http_address != NULL)
            buf_printf(b, "\"http_address\":\"%s\",", s->http_address);
        if (s->tls != NULL)
            buf_printf(b, "\"tls_port\":%u,\"tls_failures\":%" PRIu64 ",", s->cfg->tls_port,
                       tls_server_failures(s->tls));
        subs_write_status(s->subs, b);
        groups_write_status(s->groups, b);
        b->data[b->len - 1] = '}';
    }
}

void server_mark_dirty(struct server *s, struct conn *c)
{
    if (c->dirty)
        return;
    c->dirty = true;
    c->next_dirty = s->dirty;
    s->dirty = c;
}

/* Bind and listen on cfg->bind:port. Returns 0 or -1 (logged). */
static int server_listen(struct server *s, uv_tcp_t *listener, unsigned port)
{
    const struct config *cfg = s->cfg;
    struct sockaddr_storage addr;
    int rv = uv_ip4_addr(cfg->bind, (int)port, (struct sockaddr_in *)&addr);
    if (rv != 0)
        rv = uv_ip6_addr(cfg->bind, (int)port, (struct sockaddr_in6 *)&addr);
    if (rv != 0) {
        log_error("invalid bind address %s: expected an IPv4 or IPv6 literal", cfg->bind);
        return -1;
    }
    rv = uv_tcp_init(s->loop, listener);
    if (rv != 0) {
        log_error("listener: %s", uv_strerror(rv));
        return -1;
    }
    listener->data = s;
    rv = uv_tcp_bind(listener, (const struct sockaddr *)&addr, 0);
    if (rv == 0)
        rv = uv_listen((uv_stream_t *)listener, 511, server_on_connection);
    if (rv != 0) {
        log_error("cannot listen on %s:%u: %s", cfg->bind, port, uv_strerror(rv));
        uv_close((uv_handle_t *)listener, NULL);
        return -1;
    }
    return 0;
}

/* The TLS context first: a node whose certificate cannot be loaded does
 * not start. */
static int server_tls_open(struct server *s)
{
    const struct config *cfg = s->cfg;
    struct tls_options o = {
        .cert = cfg->tls_cert,
        .key = cfg->tls_key,
        .ca = cfg->tls_ca,
        .client_auth = (enum tls_client_auth)cfg->tls_client_auth,
    };
    char err[512];
    s->tls = tls_server_new(&o, err, sizeof err);
    if (s->tls == NULL) {
        log_error("TLS: %s", err);
        return -1;
    }
    if (server_listen(s, &s->tls_listener, cfg->tls_port) != 0) {
        tls_server_free(s->tls);
        s->tls = NULL;
        return -1;
    }
    log_info("listening for TLS clients on %s:%u", cfg->bind, cfg->tls_port);
    return 0;
}

void server_tls_reload(struct server *s)
{
    if (s->tls == NULL) {
        log_info("SIGHUP: no --tls-port, nothing to reload");
        return;
    }
    char err[512];
    if (tls_server_reload(s->tls, err, sizeof err) != 0) {
        log_error("SIGHUP: TLS files not reloaded, still serving the previous ones: %s", err);
        return;
    }
    log_info("SIGHUP: TLS certificate, key and CA reloaded for new connections");
}

int server_init(struct server *s, const struct config *cfg, struct node *node, uv_loop_t *loop)
{
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->node = node;
    s->loop = loop;
    metrics_init(&s->metrics);
    reads_init(&s->reads, s);
    s->limits.max_bulk = cfg->max_bulk;
    s->limits.max_args = 1024;
    s->limits.max_inline = 64u << 10;
    /* AUTH needs one short argument: anything bigger before AUTH is not a
     * client we will talk to. */
    s->limits_preauth.max_bulk = 4096;
    s->limits_preauth.max_args = 8;
    s->limits_preauth.max_inline = 4096;

    if (server_listen(s, &s->listener, cfg->port) != 0)
        return -1;
    if (cfg->tls_port != 0 && server_tls_open(s) != 0) {
        uv_close((uv_handle_t *)&s->listener, NULL);
        return -1;
    }
    s->subs = subs_new(s);
    s->groups = groups_new(s);
    uv_prepare_init(loop, &s->before_sleep);
    s->before_sleep.data = s;
    uv_prepare_start(&s->before_sleep, server_turn_end);
    log_info("listening for clients on %s:%u", cfg->bind, cfg->port);
    return 0;
}

void server_close(struct server *s)
{
    reads_close(&s->reads);
    groups_free(s->groups);
    s->groups = NULL;
    uv_close((uv_handle_t *)&s->listener, NULL);
    if (s->tls != NULL)
        uv_close((uv_handle_t *)&s->tls_listener, NULL);
    uv_prepare_stop(&s->before_sleep);
    uv_close((uv_handle_t *)&s->before_sleep, NULL);
    while (s->conns != NULL)
        conn_close(s->conns);
    /* After the connections: their sessions are gone, and their deadline
     * timers are closing, never to fire. */
    tls_server_free(s->tls);
    s->tls = NULL;
    subs_free(s->subs);
    s->subs = NULL;
    metrics_free(&s->metrics);
}
