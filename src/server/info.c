/* info.c - INFO (see info.h). role is master on the raft leader and slave
 * elsewhere, with the leader as master_host/master_port: the line Redis
 * clients and tools read to tell a primary from a replica. */
#include "server/info.h"

#include <inttypes.h>
#include <unistd.h>

#include "node/node.h"
#include "protocol/resp_writer.h"
#include "server/conn.h"
#include "server/redis_cluster.h"
#include "server/server.h"
#include "version.h"

/* The Redis version INFO and HELLO claim: the level of Redis 7.0's
 * protocol and cluster formats that eventflow answers in. */
#define INFO_REDIS_VERSION "7.0.0"

static void section_server(struct conn *c, struct buf *b)
{
    uint64_t up = node_uptime_ms(c->srv->node) / 1000;
    buf_printf(b,
               "# Server\r\n"
               "redis_version:" INFO_REDIS_VERSION "\r\n"
               "eventflow_version:" EVENTFLOW_VERSION "\r\n"
               "redis_mode:cluster\r\n"
               "arch_bits:%d\r\n"
               "process_id:%ld\r\n"
               "tcp_port:%u\r\n"
               "uptime_in_seconds:%" PRIu64 "\r\n"
               "uptime_in_days:%" PRIu64 "\r\n",
               (int)(sizeof(void *) * 8), (long)getpid(), c->srv->cfg->port, up, up / 86400);
}

static void section_clients(struct conn *c, struct buf *b)
{
    buf_printf(b,
               "# Clients\r\n"
               "connected_clients:%zu\r\n"
               "maxclients:%zu\r\n"
               "blocked_clients:0\r\n",
               c->srv->n_conns, (size_t)c->srv->cfg->max_clients);
}

static void section_replication(struct conn *c, struct buf *b, const struct redis_view *v)
{
    const struct redis_member *primary = v->n > 0 ? &v->m[0] : NULL;
    buf_printf(b, "# Replication\r\n");
    if (primary != NULL && primary->myself && v->has_leader) {
        buf_printf(b, "role:master\r\nconnected_slaves:%zu\r\n", v->n - 1);
        for (size_t i = 1; i < v->n; i++)
            buf_printf(b, "slave%zu:ip=%s,port=%u,state=online,offset=%" PRIu64 ",lag=0\r\n", i - 1, v->m[i].host,
                       v->m[i].port, v->m[i].offset);
    } else {
        buf_printf(b,
                   "role:slave\r\n"
                   "master_host:%s\r\n"
                   "master_port:%u\r\n"
                   "master_link_status:%s\r\n"
                   "master_sync_in_progress:0\r\n"
                   "slave_repl_offset:%" PRIu64 "\r\n"
                   "slave_read_only:1\r\n"
                   "connected_slaves:0\r\n",
                   v->has_leader && primary != NULL ? primary->host : "",
                   v->has_leader && primary != NULL ? primary->port : 0, v->has_leader ? "up" : "down", v->applied);
    }
    char shard[REDIS_NODE_ID_LEN + 1];
    redis_cluster_node_id(c->srv->node, 0, shard);
    buf_printf(b, "master_replid:%s\r\nmaster_repl_offset:%" PRIu64 "\r\n", shard, v->applied);
}

enum { SEC_SERVER = 1, SEC_CLIENTS = 2, SEC_REPLICATION = 4, SEC_CLUSTER = 8, SEC_KEYSPACE = 16, SEC_ALL = 31 };

static unsigned section_bit(const struct resp_arg *a)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {
        {"server", SEC_SERVER},   {"clients", SEC_CLIENTS}, {"replication", SEC_REPLICATION},
        {"cluster", SEC_CLUSTER}, {"keyspace", SEC_KEYSPACE}, {"all", SEC_ALL},
        {"everything", SEC_ALL},  {"default", SEC_ALL},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (resp_arg_is(a, names[i].name))
            return names[i].bit;
    return 0;
}

void info_command(struct conn *c, const struct resp_command *cmd)
{
    unsigned want = cmd->argc < 2 ? SEC_ALL : 0;
    for (size_t i = 1; i < cmd->argc && i < RESP_MAX_ARGV; i++)
        want |= section_bit(&cmd->argv[i]);
    c->redis_client = true;
    struct buf *out = conn_reply_buf(c);
    size_t off = resp_bulk_begin(out);
    bool first = true;
    /* Sections are separated by an empty line, as Redis writes them. */
#define SECTION(bit, call)                                                                                         \
    if (want & (bit)) {                                                                                            \
        if (!first)                                                                                                \
            buf_append_str(out, "\r\n");                                                                           \
        first = false;                                                                                             \
        call;                                                                                                      \
    }
    SECTION(SEC_SERVER, section_server(c, out))
    SECTION(SEC_CLIENTS, section_clients(c, out))
    if (want & SEC_REPLICATION) {
        struct redis_view v;
        redis_view_load(c, &v);
        SECTION(SEC_REPLICATION, section_replication(c, out, &v))
        redis_view_free(&v);
    }
    SECTION(SEC_CLUSTER, buf_append_str(out, "# Cluster\r\ncluster_enabled:1\r\n"))
    SECTION(SEC_KEYSPACE, buf_append_str(out, "# Keyspace\r\n"))
#undef SECTION
    resp_bulk_end(out, off);
}
