/* redis_cluster.c - the Redis Cluster view of the cluster (see
 * redis_cluster.h): one shard of every slot, led by the raft leader.
 *
 * Formats are Redis 7.0's: CLUSTER SLOTS (one range, the primary then the
 * replicas, each [host, port, id, {}]), CLUSTER SHARDS (slots and nodes,
 * maps in RESP3, flat key/value arrays in RESP2), CLUSTER NODES (one line
 * per node, "myself" on this node's), CLUSTER INFO. The bus port Redis
 * shows after '@' is the member's raft port; the epochs are the raft term. */
#include "server/redis_cluster.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "node/node.h"
#include "protocol/resp_writer.h"
#include "server/conn.h"
#include "server/server.h"
#include "store/store.h"

void redis_cluster_node_id(struct node *n, uint64_t raft_id, char out[REDIS_NODE_ID_LEN + 1])
{
    char cluster[2 * STORE_CLUSTER_ID_BYTES + 1];
    struct store_stats st;
    if (store_stats(node_store(n), &st) == 0 && st.has_cluster_id)
        node_cluster_id_hex(st.cluster_id, cluster);
    else
        memset(cluster, '0', sizeof cluster - 1), cluster[sizeof cluster - 1] = '\0';
    snprintf(out, REDIS_NODE_ID_LEN + 1, "%s%08" PRIx32, cluster, (uint32_t)raft_id);
}

unsigned redis_cluster_key_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open != NULL) {
        size_t after = (size_t)(open - key) + 1;
        const char *close = memchr(open + 1, '}', len - after);
        if (close != NULL && close > open + 1) {
            key = open + 1;
            len = (size_t)(close - key);
        }
    }
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((unsigned char)key[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc & (REDIS_CLUSTER_SLOTS - 1);
}

/* ---- the topology ------------------------------------------------------- */

/* The address of member id that clients on c's port reach: a TLS client
 * is only ever sent to a TLS port, as Redis announces its TLS ports to
 * TLS clients (tls-cluster). */
static int member_address(struct conn *c, uint64_t id, char *out, size_t cap)
{
    if (c->tls != NULL)
        return node_member_tls_address(c->srv->node, id, out, cap);
    return node_member_client_address(c->srv->node, id, out, cap);
}

static int leader_address(struct conn *c, char *out, size_t cap)
{
    if (c->tls != NULL)
        return node_leader_tls_address(c->srv->node, out, cap);
    return node_leader_client_address(c->srv->node, out, cap);
}

void redis_view_free(struct redis_view *v)
{
    free(v->m);
}

static void peer_offset(void *arg, const struct node_peer_lag *p)
{
    struct redis_view *v = arg;
    for (size_t i = 0; i < v->n; i++)
        if (v->m[i].id == p->id)
            v->m[i].offset = p->match_index;
}

/* Without a known leader this node names itself primary, so that a client
 * keeps a map covering every slot and sends writes here, where they get
 * -CLUSTERDOWN, which it retries after reloading the map. */
void redis_view_load(struct conn *c, struct redis_view *v)
{
    struct node *n = c->srv->node;
    struct node_metrics nm;
    node_read_metrics(n, &nm);
    char leader_addr[CONFIG_ADDR_MAX];
    v->has_leader = nm.leader_id != 0 && leader_address(c, leader_addr, sizeof leader_addr) == 0;
    uint64_t primary = v->has_leader ? nm.leader_id : c->srv->cfg->id;
    v->term = nm.term;
    v->applied = nm.applied_index;

    struct node_server *conf;
    bool committed;
    size_t count = node_configuration(n, &conf, &committed);
    v->m = calloc(count ? count : 1, sizeof *v->m);
    if (v->m == NULL)
        abort();
    v->n = 0;
    for (size_t i = 0; i < count; i++) {
        const struct node_server *s = &conf[i];
        if (s->role == NODE_ROLE_SPARE && s->id != primary)
            continue;
        struct redis_member *m = &v->m[v->n++];
        m->id = s->id;
        m->primary = s->id == primary;
        m->myself = s->id == c->srv->cfg->id;
        char addr[CONFIG_ADDR_MAX];
        if (member_address(c, s->id, addr, sizeof addr) != 0 ||
            addr_split(addr, m->host, sizeof m->host, &m->port) != 0) {
            m->host[0] = '\0';
            m->port = 0;
        }
        char raft_host[CONFIG_ADDR_MAX];
        if (addr_split(s->raft_address, raft_host, sizeof raft_host, &m->cport) != 0)
            m->cport = 0;
        redis_cluster_node_id(n, s->id, m->node_id);
        m->offset = m->myself ? v->applied : 0;
        if (m->primary && v->n > 1) {
            struct redis_member t = v->m[0];
            v->m[0] = *m;
            *m = t;
        }
    }
    free(conf);
    (void)node_each_peer(n, peer_offset, v); /* on the leader only */
}

/* ---- the replies -------------------------------------------------------- */

/* A map of n pairs: RESP3's map, RESP2's flat array, as Redis answers. */
static void write_map(struct conn *c, struct buf *out, size_t n)
{
    if (c->resp3)
        resp_write_map_header(out, n);
    else
        resp_write_array_header(out, 2 * n);
}

static void cluster_slots(struct conn *c, const struct redis_view *v)
{
    struct buf *out = conn_reply_buf(c);
    resp_write_array_header(out, 1);
    resp_write_array_header(out, 2 + v->n);
    resp_write_int(out, 0);
    resp_write_int(out, REDIS_CLUSTER_SLOTS - 1);
    for (size_t i = 0; i < v->n; i++) {
        const struct redis_member *m = &v->m[i];
        resp_write_array_header(out, 4);
        resp_write_bulk_str(out, m->host);
        resp_write_int(out, m->port);
        resp_write_bulk_str(out, m->node_id);
        write_map(c, out, 0); /* networking metadata: none */
    }
}

static void cluster_shards(struct conn *c, const struct redis_view *v)
{
    struct buf *out = conn_reply_buf(c);
    resp_write_array_header(out, 1);
    write_map(c, out, 2);
    resp_write_bulk_str(out, "slots");
    resp_write_array_header(out, 2);
    resp_write_int(out, 0);
    resp_write_int(out, REDIS_CLUSTER_SLOTS - 1);
    resp_write_bulk_str(out, "nodes");
    resp_write_array_header(out, v->n);
    for (size_t i = 0; i < v->n; i++) {
        const struct redis_member *m = &v->m[i];
        write_map(c, out, 7);
        resp_write_bulk_str(out, "id");
        resp_write_bulk_str(out, m->node_id);
        resp_write_bulk_str(out, "port");
        resp_write_int(out, m->port);
        resp_write_bulk_str(out, "ip");
        resp_write_bulk_str(out, m->host);
        resp_write_bulk_str(out, "endpoint");
        resp_write_bulk_str(out, m->host);
        resp_write_bulk_str(out, "role");
        resp_write_bulk_str(out, m->primary ? "master" : "replica");
        resp_write_bulk_str(out, "replication-offset");
        resp_write_int(out, (int64_t)m->offset);
        resp_write_bulk_str(out, "health");
        resp_write_bulk_str(out, m->port != 0 ? "online" : "fail");
    }
}

static void cluster_nodes(struct conn *c, const struct redis_view *v)
{
    struct buf *out = conn_reply_buf(c);
    size_t off = resp_bulk_begin(out);
    for (size_t i = 0; i < v->n; i++) {
        const struct redis_member *m = &v->m[i];
        const char *role = m->primary ? "master" : "slave";
        buf_printf(out, "%s %s:%u@%u %s%s%s %s 0 0 %" PRIu64 " connected", m->node_id, m->host, m->port, m->cport,
                   m->myself ? "myself," : "", role, m->port == 0 ? ",noaddr" : "",
                   m->primary ? "-" : v->m[0].node_id, v->term);
        if (m->primary)
            buf_printf(out, " 0-%u", REDIS_CLUSTER_SLOTS - 1);
        buf_append_char(out, '\n');
    }
    resp_bulk_end(out, off);
}

static void cluster_info(struct conn *c, const struct redis_view *v)
{
    struct buf *out = conn_reply_buf(c);
    size_t off = resp_bulk_begin(out);
    buf_printf(out,
               "cluster_state:%s\r\n"
               "cluster_slots_assigned:%u\r\n"
               "cluster_slots_ok:%u\r\n"
               "cluster_slots_pfail:0\r\n"
               "cluster_slots_fail:%u\r\n"
               "cluster_known_nodes:%zu\r\n"
               "cluster_size:1\r\n"
               "cluster_current_epoch:%" PRIu64 "\r\n"
               "cluster_my_epoch:%" PRIu64 "\r\n"
               "cluster_stats_messages_sent:0\r\n"
               "cluster_stats_messages_received:0\r\n"
               "total_cluster_links_buffer_limit_exceeded:0\r\n",
               v->has_leader ? "ok" : "fail", REDIS_CLUSTER_SLOTS, v->has_leader ? REDIS_CLUSTER_SLOTS : 0,
               v->has_leader ? 0 : REDIS_CLUSTER_SLOTS, v->n, v->term, v->term);
    resp_bulk_end(out, off);
}

static void cluster_keyslot(struct conn *c, const struct resp_command *cmd)
{
    struct buf *out = conn_reply_buf(c);
    if (cmd->argc != 3) {
        resp_write_error(out, "ERR wrong number of arguments for 'cluster|keyslot' command");
        return;
    }
    resp_write_int(out, redis_cluster_key_slot(cmd->argv[2].ptr, cmd->argv[2].len));
}

bool redis_cluster_command(struct conn *c, const struct resp_command *cmd)
{
    const struct resp_arg *sub = &cmd->argv[1];
    void (*reply)(struct conn *, const struct redis_view *) = NULL;
    if (resp_arg_is(sub, "SLOTS"))
        reply = cluster_slots;
    else if (resp_arg_is(sub, "SHARDS"))
        reply = cluster_shards;
    else if (resp_arg_is(sub, "NODES"))
        reply = cluster_nodes;
    else if (resp_arg_is(sub, "INFO"))
        reply = cluster_info;
    else if (resp_arg_is(sub, "KEYSLOT")) {
        cluster_keyslot(c, cmd);
        return true;
    } else if (resp_arg_is(sub, "MYID") || resp_arg_is(sub, "MYSHARDID")) {
        char id[REDIS_NODE_ID_LEN + 1];
        /* The one shard's id: the cluster identity, then zeros (no member
         * has raft id 0). */
        redis_cluster_node_id(c->srv->node, resp_arg_is(sub, "MYID") ? c->srv->cfg->id : 0, id);
        resp_write_bulk_str(conn_reply_buf(c), id);
    } else {
        return false;
    }
    c->redis_client = true;
    if (reply != NULL) {
        struct redis_view v;
        redis_view_load(c, &v);
        reply(c, &v);
        redis_view_free(&v);
    }
    return true;
}

/* ---- not the leader ----------------------------------------------------- */

void redis_cluster_no_leader(struct conn *c, struct buf *out)
{
    /* A connection without a socket (HTTP) maps NOLEADER to its status. */
    if (c->redis_client && c->sink == NULL)
        resp_write_error(out, "CLUSTERDOWN The cluster is down: no leader is elected right now; retry");
    else
        resp_write_error(out, "NOLEADER no leader is elected right now; retry");
}

void redis_cluster_not_leader(struct conn *c, struct buf *out)
{
    char leader[CONFIG_ADDR_MAX];
    if (leader_address(c, leader, sizeof leader) != 0) {
        redis_cluster_no_leader(c, out);
        return;
    }
    unsigned slot = 0;
    if (c->key_arg != NULL && c->sink == NULL)
        slot = redis_cluster_key_slot(c->key_arg->ptr, c->key_arg->len);
    resp_write_errorf(out, "MOVED %u %s", slot, leader);
}
