/* cluster.c - the CLUSTER command family: the members, every member's
 * status, and (cluster_change.c) changes to the membership.
 *
 *   CLUSTER MEMBERS                         members as JSON objects
 *   CLUSTER STATUS                          every member's STATUS (asked directly)
 *   CLUSTER ADD|REGISTER|PROMOTE|DEMOTE|REMOVE|TRANSFER ...
 *                                           see cluster_change.c
 *   CLUSTER SLOTS|SHARDS|NODES|MYID|MYSHARDID|INFO|KEYSLOT
 *                                           the Redis Cluster view, see
 *                                           redis_cluster.c */
#include "server/cluster.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "node/node.h"
#include "node/peer.h"
#include "protocol/resp_writer.h"
#include "server/acl_conn.h"
#include "server/conn.h"
#include "server/redis_cluster.h"
#include "server/server.h"

#define CLUSTER_STATUS_TIMEOUT_MS 1000

/* Append one configuration member as a JSON object. */
static void write_member(struct node *n, struct buf *b, const struct node_server *s, bool committed)
{
    char client[CONFIG_ADDR_MAX];
    char stored[CONFIG_ADDR_MAX];
    char tls[CONFIG_ADDR_MAX];
    uint64_t inc = 0;
    (void)node_member_client_address(n, s->id, client, sizeof client);
    (void)store_member_get(node_store(n), s->id, stored, sizeof stored, &inc);
    buf_printf(b, "{\"id\":%" PRIu64 ",\"raft_address\":\"%s\",\"client_address\":\"%s\",\"role\":\"%s\"",
               s->id, s->raft_address, client, node_role_name(s->role));
    if (node_member_tls_address(n, s->id, tls, sizeof tls) == 0)
        buf_printf(b, ",\"tls_address\":\"%s\"", tls);
    if (inc != 0)
        buf_printf(b, ",\"incarnation\":\"%016" PRIx64 "\"", inc);
    /* The configuration shown may be a change still waiting for a quorum. */
    buf_printf(b, ",\"committed\":%s", committed ? "true" : "false");
    buf_append_char(b, '}');
}

static void cluster_members(struct conn *c)
{
    struct node *n = c->srv->node;
    struct buf *out = conn_reply_buf(c);
    struct node_server *conf;
    bool committed;
    size_t count = node_configuration(n, &conf, &committed);
    resp_write_array_header(out, count);
    for (size_t i = 0; i < count; i++) {
        size_t off = resp_bulk_begin(out);
        write_member(n, out, &conf[i], committed);
        resp_bulk_end(out, off);
    }
    free(conf);
}

/* ---- CLUSTER STATUS: ask every member ------------------------------------ */

struct status_fanout {
    struct conn *conn;
    struct conn_slot *slot;
    unsigned n;            /* members asked */
    unsigned pending;      /* answers still expected */
    struct buf *answers;   /* one JSON object per member, in configuration order */
};

struct status_probe {
    struct status_fanout *fan;
    unsigned i;
    uint64_t id;
    char client[CONFIG_ADDR_MAX];
    char raft[CONFIG_ADDR_MAX];
    char role[16];
};

static void fanout_finish(struct status_fanout *f)
{
    struct buf *out = &f->slot->out;
    resp_write_array_header(out, f->n);
    for (unsigned i = 0; i < f->n; i++) {
        resp_write_bulk(out, f->answers[i].data, f->answers[i].len);
        buf_free(&f->answers[i]);
    }
    free(f->answers);
    conn_complete(f->conn, f->slot);
    free(f);
}

static void status_probe_cb(void *arg, int status, const struct resp_value *reply)
{
    struct status_probe *p = arg;
    struct status_fanout *f = p->fan;
    struct buf *b = &f->answers[p->i];
    if (status == 0 && reply->type == RESP_T_BULK && reply->len > 2 && reply->str[0] == '{') {
        /* Splice our view of the member's role into its own status. */
        buf_printf(b, "{\"role\":\"%s\",", p->role);
        buf_append(b, reply->str + 1, reply->len - 1);
    } else {
        const char *why = status != 0 ? uv_strerror(status)
                          : reply->type == RESP_T_ERROR ? reply->str
                                                        : "unexpected reply";
        buf_printf(b,
                   "{\"role\":\"%s\",\"id\":%" PRIu64 ",\"state\":\"unreachable\",\"client_address\":\"%s\","
                   "\"raft_address\":\"%s\",\"error\":\"",
                   p->role, p->id, p->client, p->raft);
        for (const char *q = why; *q; q++)
            if (*q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
                buf_append_char(b, *q);
        buf_append_str(b, "\"}");
    }
    free(p);
    if (--f->pending == 0)
        fanout_finish(f);
}

static void cluster_status(struct conn *c)
{
    struct node *n = c->srv->node;
    struct node_server *conf;
    bool committed;
    size_t count = node_configuration(n, &conf, &committed);
    struct status_fanout *f = xcalloc(1, sizeof *f);
    f->conn = c;
    f->slot = conn_defer(c, false);
    f->n = (unsigned)count;
    f->answers = xcalloc(count ? count : 1, sizeof *f->answers);
    f->pending = 1; /* held until every probe is sent */
    for (unsigned i = 0; i < count; i++) {
        const struct node_server *s = &conf[i];
        buf_init(&f->answers[i]);
        struct status_probe *p = xcalloc(1, sizeof *p);
        p->fan = f;
        p->i = i;
        p->id = s->id;
        snprintf(p->raft, sizeof p->raft, "%s", s->raft_address);
        snprintf(p->role, sizeof p->role, "%s", node_role_name(s->role));
        (void)node_member_client_address(n, s->id, p->client, sizeof p->client);
        if (s->id == c->srv->cfg->id) {
            struct buf *b = &f->answers[i];
            buf_printf(b, "{\"role\":\"%s\",", p->role);
            struct buf self;
            buf_init(&self);
            server_write_status(c->srv, &self);
            buf_append(b, self.data + 1, self.len - 1);
            buf_free(&self);
            free(p);
            continue;
        }
        f->pending++;
        const char *argv[] = {"STATUS"};
        /* Over TLS when this node and the member both can (peer.h). */
        char to[CONFIG_ADDR_MAX];
        struct raft_tls *tls = NULL;
        if (node_member_peer_address(n, s->id, to, sizeof to, &tls) != 0)
            snprintf(to, sizeof to, "%s", p->client);
        int rv = peer_request(c->srv->loop, to, tls, config_peer_token(c->srv->cfg), 1, argv,
                              CLUSTER_STATUS_TIMEOUT_MS, status_probe_cb, p);
        if (rv != 0)
            status_probe_cb(p, rv, NULL);
    }
    free(conf);
    if (--f->pending == 0)
        fanout_finish(f);
}

bool cluster_require_leader(struct conn *c, struct buf *out)
{
    struct node *n = c->srv->node;
    if (node_is_leader(n))
        return true;
    redis_cluster_not_leader(c, out);
    return false;
}

void cluster_command(struct conn *c, const struct resp_command *cmd)
{
    if (cmd->argc < 2) {
        resp_write_error(conn_reply_buf(c), "insufficient arguments");
        return;
    }
    const struct resp_arg *sub = &cmd->argv[1];
    if (resp_arg_is(sub, "MEMBERS"))
        cluster_members(c);
    else if (resp_arg_is(sub, "STATUS"))
        cluster_status(c);
    else if (redis_cluster_command(c, cmd))
        return;
    else if (acl_conn_admin(c, "CLUSTER changes"))
        cluster_change(c, cmd);
}
