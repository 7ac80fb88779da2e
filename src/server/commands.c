/* commands.c - the command table and one handler per command.
 *
 * Dispatch checks, in this order, before any handler runs: the name (and
 * alias, case-insensitive), authentication, the required argument (or, for
 * Redis's own commands, the arity). Handlers either answer at once into
 * conn_reply_buf, or (ADD) take a deferred slot and answer when raft has
 * committed and applied the entry.
 *
 * Error replies have no "ERR " prefix (EventflowDB's wording); eventflow's
 * own errors start with a machine-readable word: MOVED, NOLEADER (told to
 * Redis clients as CLUSTERDOWN, redis_cluster.h), TRYAGAIN, UNKNOWN, FULL,
 * TOOBIG, SHUTDOWN, IOERR, KEYREUSE. The commands Redis clients send on
 * connecting (INFO, CLIENT, COMMAND, SELECT...) answer Redis's own errors,
 * "ERR " included. */
#include "server/commands.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/human.h"
#include "common/log.h"
#include "common/text.h"
#include "common/mem.h"
#include "version.h"
#include "protocol/resp_writer.h"
#include "server/acl.h"
#include "server/acl_auth.h"
#include "server/acl_conn.h"
#include "server/client_cmd.h"
#include "server/cluster.h"
#include "server/command_docs.h"
#include "server/info.h"
#include "server/redis_cluster.h"
#include "server/conn.h"
#include "server/metrics.h"
#include "server/groups.h"
#include "node/node.h"
#include "server/reads.h"
#include "server/server.h"
#include "server/settings.h"
#include "server/snapshot.h"
#include "server/streams.h"
#include "server/subscribe.h"
#include "store/checksum.h"
#include "protocol/codec.h"
#include "store/store.h"

static struct node *cmd_node(struct conn *c)
{
    return c->srv->node;
}

static const struct codec_limits *cmd_limits(struct conn *c)
{
    return &c->srv->cfg->codec;
}

/* ---- small replies --------------------------------------------------- */

static void cmd_ping(struct conn *c, const struct resp_command *cmd)
{
    struct buf *out = conn_reply_buf(c);
    if (c->n_subs == 0 || c->resp3) {
        resp_write_simple(out, "PONG");
        return;
    }
    /* Subscribed, RESP2: Redis's pub/sub shape, which clients' pub/sub
     * readers expect there. */
    resp_write_array_header(out, 2);
    resp_write_bulk_str(out, "pong");
    if (cmd->argc >= 2)
        resp_write_bulk(out, cmd->argv[1].ptr, cmd->argv[1].len);
    else
        resp_write_bulk(out, "", 0);
}

static void cmd_quit(struct conn *c, const struct resp_command *cmd)
{
    (void)cmd;
    resp_write_simple(conn_reply_buf(c), "OK");
    conn_close_after_write(c);
}

static void cmd_version(struct conn *c, const struct resp_command *cmd)
{
    (void)cmd;
    resp_write_simple(conn_reply_buf(c), EVENTFLOW_VERSION);
}

/* HELLO's reply, once authenticated: Redis 6's, as a Redis Cluster node
 * answers it (mode "cluster"), as a map in RESP3. */
static void hello_reply(struct conn *c, struct buf *out, const struct acl_auth_then *then)
{
    c->resp3 = then->resp3;
    c->redis_client = true;
    if (then->resp3)
        resp_write_map_header(out, 7);
    else
        resp_write_array_header(out, 14);
    resp_write_bulk_str(out, "server");
    resp_write_bulk_str(out, "eventflow");
    resp_write_bulk_str(out, "version");
    resp_write_bulk_str(out, EVENTFLOW_VERSION);
    resp_write_bulk_str(out, "proto");
    resp_write_int(out, then->resp3 ? 3 : 2);
    resp_write_bulk_str(out, "id");
    resp_write_int(out, (int64_t)c->id);
    resp_write_bulk_str(out, "mode");
    resp_write_bulk_str(out, "cluster");
    resp_write_bulk_str(out, "role");
    resp_write_bulk_str(out, node_is_leader(cmd_node(c)) ? "master" : "replica");
    resp_write_bulk_str(out, "modules");
    resp_write_array_header(out, 0);
}

/* HELLO [protover [AUTH username password] [SETNAME name]], as Redis 6+
 * clients send it on connecting: the protocol version (2, or 3 for push
 * frames and maps) and authentication in one step (as AUTH <user>
 * <password>, acl_auth.h). SETNAME names the connection (CLIENT GETNAME). */
static void cmd_hello(struct conn *c, const struct resp_command *cmd)
{
    size_t argc = cmd->argc < RESP_MAX_ARGV ? cmd->argc : RESP_MAX_ARGV;
    struct acl_auth_then then = {.ok = hello_reply, .resp3 = c->resp3};
    size_t i = 1;
    if (argc > 1) {
        uint64_t v;
        if (resp_arg_u64(&cmd->argv[1], 10, &v) != 0 || (v != 2 && v != 3)) {
            resp_write_error(conn_reply_buf(c), "NOPROTO unsupported protocol version: 2 or 3");
            return;
        }
        then.resp3 = v == 3;
        i = 2;
    }
    const struct resp_arg *user = NULL, *password = NULL, *name = NULL;
    for (; i < argc; i++) {
        if (resp_arg_is(&cmd->argv[i], "AUTH") && i + 2 < argc) {
            user = &cmd->argv[i + 1];
            password = &cmd->argv[i + 2];
            i += 2;
        } else if (resp_arg_is(&cmd->argv[i], "SETNAME") && i + 1 < argc) {
            name = &cmd->argv[++i];
        } else {
            resp_write_error(conn_reply_buf(c),
                             "syntax error: HELLO [2|3 [AUTH <user> <password>] [SETNAME <name>]]");
            return;
        }
    }
    if (!c->authenticated && user == NULL) {
        resp_write_error(conn_reply_buf(c), "unauthorized");
        return;
    }
    /* Named before an AUTH's outcome is known (a name grants nothing): a
     * bad one is refused before anything is checked. */
    if (name != NULL && !client_set_name(c, conn_reply_buf(c), name))
        return;
    if (user != NULL && c->srv->cfg->password != NULL) {
        acl_auth_login(c, user, password, &then);
        return;
    }
    c->authenticated = true;
    hello_reply(c, conn_reply_buf(c), &then);
}

/* The counters, CHECKSUM and SIZE answer from the local store, so they
 * wait for a restarted node to catch up as local reads do (reads.h):
 * false after writing the -STALE reply. They take no arguments, so there
 * is no stale_ok way around it. */
static bool cmd_local_ready(struct conn *c)
{
    return reads_local_ready(cmd_node(c), conn_reply_buf(c), false);
}

static void cmd_stats(struct conn *c, struct store_stats *st)
{
    if (store_stats(node_store(cmd_node(c)), st) != 0)
        memset(st, 0, sizeof *st);
}

/* EVENTCOUNT and EVENTCOUNTEST both answer the exact count: the state
 * machine keeps it, so the estimate costs nothing extra to make exact. */
static void cmd_eventcount(struct conn *c, const struct resp_command *cmd)
{
    struct store_stats st;
    (void)cmd;
    if (!cmd_local_ready(c))
        return;
    cmd_stats(c, &st);
    resp_write_int(conn_reply_buf(c), (int64_t)st.live_events);
}

static void cmd_streamcount(struct conn *c, const struct resp_command *cmd)
{
    struct store_stats st;
    (void)cmd;
    if (!cmd_local_ready(c))
        return;
    cmd_stats(c, &st);
    resp_write_int(conn_reply_buf(c), (int64_t)st.live_streams);
}

/* CHECKSUM: the last id and the chain over every event ever appended
 * (checksum.h), which removals leave as it was. CHECKSUM LIVE adds the
 * live checksum (an order-free sum over the events still stored, hex) and
 * the live event count: equal on two replicas at the same applied index.
 * CHECKSUM STATE: the groups' and users' state digest, with the applied
 * index it stands at (they change without a new event) and the index it
 * starts from. */
static void cmd_checksum(struct conn *c, const struct resp_command *cmd)
{
    struct store_stats st;
    char id[ULID_STR_LEN + 1];
    char sum[CHECKSUM_B32_LEN + 1];
    bool state = cmd->argc == 2 && resp_arg_is(&cmd->argv[1], "STATE");
    bool live = cmd->argc == 2 && resp_arg_is(&cmd->argv[1], "LIVE");
    if (cmd->argc > 2 || (cmd->argc == 2 && !state && !live)) {
        resp_write_error(conn_reply_buf(c), "syntax error: CHECKSUM [LIVE | STATE]");
        return;
    }
    if (!cmd_local_ready(c))
        return;
    cmd_stats(c, &st);
    if (state) {
        char digest[DIGEST_HEX_LEN + 1];
        digest_format(st.state_digest, digest);
        struct buf *out = conn_reply_buf(c);
        resp_write_array_header(out, 3);
        resp_write_int(out, (int64_t)st.applied_index);
        resp_write_bulk_str(out, digest);
        resp_write_int(out, (int64_t)st.state_digest_since);
        return;
    }
    ulid_format(st.last_id, id);
    checksum_format(st.checksum, sum);
    struct buf *out = conn_reply_buf(c);
    resp_write_array_header(out, live ? 4 : 2);
    resp_write_bulk_str(out, id);
    resp_write_bulk_str(out, sum);
    if (live) {
        char hex[17];
        snprintf(hex, sizeof hex, "%016" PRIx64, st.live_checksum);
        resp_write_bulk_str(out, hex);
        resp_write_int(out, (int64_t)st.live_events);
    }
}

static void cmd_size(struct conn *c, const struct resp_command *cmd)
{
    struct store_stats st;
    char human[32];
    (void)cmd;
    if (!cmd_local_ready(c))
        return;
    /* LMDB reports the size of its last commit: commit the open batch so
     * SIZE counts everything applied (SIZE is rare; the commit is cheap). */
    node_flush(cmd_node(c));
    cmd_stats(c, &st);
    /* The pages in use: the file's, less those removals freed (reused by
     * later writes before the file grows). */
    uint64_t free_bytes = 0;
    if (store_free_bytes(node_store(cmd_node(c)), &free_bytes) != 0 || free_bytes > st.db_bytes)
        free_bytes = 0;
    uint64_t used = st.db_bytes - free_bytes;
    human_bytes(used, HUMAN_EVENTFLOWDB, human, sizeof human);
    struct buf *out = conn_reply_buf(c);
    resp_write_array_header(out, 2);
    resp_write_int(out, (int64_t)used);
    resp_write_bulk_str(out, human);
}

static void cmd_uptime(struct conn *c, const struct resp_command *cmd)
{
    char human[64];
    (void)cmd;
    uint64_t ms = node_uptime_ms(cmd_node(c));
    human_duration(ms, HUMAN_EVENTFLOWDB, human, sizeof human);
    struct buf *out = conn_reply_buf(c);
    resp_write_array_header(out, 2);
    resp_write_int(out, (int64_t)ms);
    resp_write_bulk_str(out, human);
}

/* The Prometheus exposition (metrics.h) as one bulk string: what an HTTP
 * GET /metrics serves, for clients that speak RESP. */
static void cmd_metrics(struct conn *c, const struct resp_command *cmd)
{
    struct buf *out = conn_reply_buf(c);
    (void)cmd;
    size_t off = resp_bulk_begin(out);
    /* A part that could not be read is logged and left out; the rest is
     * still a valid exposition, worth answering. */
    (void)metrics_render(c->srv, out);
    resp_bulk_end(out, off);
}

static void cmd_status(struct conn *c, const struct resp_command *cmd)
{
    struct buf *out = conn_reply_buf(c);
    (void)cmd;
    size_t off = resp_bulk_begin(out);
    server_write_status(c->srv, out);
    resp_bulk_end(out, off);
}

/* ---- reads ----------------------------------------------------------- */

/* Reads decode here and are served by reads.c at the consistency the
 * request asks for. */
static void cmd_get(struct conn *c, const struct resp_command *cmd)
{
    struct read_request rq = {.kind = READ_GET};
    char err[CODEC_ERR_LEN];
    if (codec_parse_get(cmd->argv[1].ptr, cmd->argv[1].len, cmd_limits(c), &rq.u.get, err) != 0) {
        resp_write_error(conn_reply_buf(c), err);
        codec_get_free(&rq.u.get);
        return;
    }
    if (c->acl != NULL && !acl_conn_stream(c, ACL_READ, rq.u.get.stream, strlen(rq.u.get.stream))) {
        codec_get_free(&rq.u.get);
        return;
    }
    reads_submit(&c->srv->reads, c, &rq);
}

static void cmd_getall(struct conn *c, const struct resp_command *cmd)
{
    struct read_request rq = {.kind = READ_GETALL};
    char err[CODEC_ERR_LEN];
    if (codec_parse_getall(cmd->argv[1].ptr, cmd->argv[1].len, cmd_limits(c), &rq.u.getall, err) != 0) {
        resp_write_error(conn_reply_buf(c), err);
        return;
    }
    if (c->acl != NULL && !acl_conn_all(c, "GETALL"))
        return;
    reads_submit(&c->srv->reads, c, &rq);
}

static void cmd_liststreams(struct conn *c, const struct resp_command *cmd)
{
    struct read_request rq = {.kind = READ_LIST};
    char err[CODEC_ERR_LEN];
    const char *arg = cmd->argc >= 2 ? cmd->argv[1].ptr : NULL;
    size_t arg_len = cmd->argc >= 2 ? cmd->argv[1].len : 0;
    if (codec_parse_liststreams(arg, arg_len, cmd_limits(c), &rq.u.list, err) != 0) {
        resp_write_error(conn_reply_buf(c), err);
        return;
    }
    /* It names every stream, whatever the user may read of them. */
    if (c->acl != NULL && !acl_conn_all(c, "LISTSTREAMS"))
        return;
    reads_submit(&c->srv->reads, c, &rq);
}

/* ---- ADD ------------------------------------------------------------- */

struct add_request {
    struct node_proposal na;     /* first: the node calls back with &na */
    struct conn *conn;      /* holds a reference through the slot */
    struct conn_slot *slot; /* owned by conn */
};

static void add_applied(struct node_proposal *na, const struct store_outcome *o)
{
    struct add_request *req = na->data;
    struct buf *out = &req->slot->out;
    switch (o->status) {
    case STORE_APPLIED:
    case STORE_DUPLICATE: /* a retry: the original events, appended once */
        resp_write_array_header(out, o->n_events);
        for (size_t i = 0; i < o->n_events; i++) {
            size_t off = resp_bulk_begin(out);
            codec_write_event(out, o->events[i]);
            resp_bulk_end(out, off);
        }
        break;
    case STORE_VERSION_CONFLICT:
        resp_write_error(out, "concurrent stream modification");
        break;
    case STORE_VERSION_GAP:
        resp_write_error(out, "given version leaves gap in stream");
        break;
    case STORE_STREAM_DELETED:
        resp_write_error(out, "DELETED the stream was hard-deleted: appends are refused; nothing was written");
        break;
    case STORE_DUPLICATE_REMOVED:
        resp_write_errorf(out,
                          "REMOVED idempotency key \"%.*s\" was applied before, with an event since removed "
                          "(its stream deleted or truncated); nothing was written",
                          (int)o->reused_key_len, o->reused_key);
        break;
    case STORE_KEY_REUSE:
        /* Keys are printable ASCII without spaces (codec.c): safe to quote. */
        resp_write_errorf(out,
                          "KEYREUSE idempotency key \"%.*s\" was used before with %s; nothing was written. "
                          "A retry must resend the same ADD; a new event needs a new key",
                          (int)o->reused_key_len, o->reused_key, o->reuse_differs);
        break;
    default:
        resp_write_error(out, "IOERR the state machine rejected the entry (see the server log)");
        break;
    }
}

static void add_done(struct node_proposal *na, int status, const char *why)
{
    struct add_request *req = na->data;
    struct buf *out = &req->slot->out;
    if (status == 0 && !na->was_applied) {
        resp_write_error(out, "UNKNOWN the ADD was applied but its result was lost; read the stream");
    } else if (status == NODE_EUNKNOWN) {
        /* The entry may still be committed by the next leader. Saying
         * "failed" here would make clients retry and append twice. */
        resp_write_error(out, "UNKNOWN outcome unknown: leadership was lost before the ADD committed; "
                              "read the stream to find out");
    } else if (status != 0) {
        resp_write_errorf(out, "IOERR raft: %s", why != NULL ? why : "the entry failed");
    }
    conn_complete(req->conn, req->slot);
    free(req);
}

void commands_write_refusal(struct conn *c, struct buf *out, int rc)
{
    switch (rc) {
    case NODE_ENOTLEADER:
        redis_cluster_not_leader(c, out);
        break;
    case NODE_ENOLEADER:
        redis_cluster_no_leader(c, out);
        break;
    case NODE_ENOTREADY:
        resp_write_error(out, "TRYAGAIN the new leader is applying earlier entries; retry");
        break;
    case NODE_EHANDOVER:
        resp_write_error(out, "TRYAGAIN this leader is stopping and handing leadership over; retry");
        break;
    case NODE_EFULL:
        resp_write_errorf(out, "FULL %s; nothing was written", store_errmsg(node_store(cmd_node(c))));
        break;
    case NODE_EMEMBERFULL:
        resp_write_errorf(out,
                          "FULL member %" PRIu64 "'s store is nearly full (map_room_bytes in its STATUS); "
                          "nothing was written",
                          node_full_member(cmd_node(c)));
        break;
    case NODE_ETOOBIG:
        resp_write_error(out, "TOOBIG the ADD is too large for one log entry");
        break;
    case NODE_ESHUTDOWN:
        resp_write_error(out, "SHUTDOWN the server is shutting down");
        break;
    default:
        resp_write_error(out, "IOERR raft refused the entry (see the server log)");
        break;
    }
}

static void cmd_add(struct conn *c, const struct resp_command *cmd)
{
    struct codec_add add = {0};
    char err[CODEC_ERR_LEN];
    if (codec_parse_add(cmd->argv[1].ptr, cmd->argv[1].len, cmd_limits(c), &add, err) != 0) {
        resp_write_error(conn_reply_buf(c), err);
        codec_add_free(&add);
        return;
    }
    if (c->acl != NULL && !acl_conn_stream(c, ACL_WRITE, add.stream, strlen(add.stream))) {
        codec_add_free(&add);
        return;
    }
    struct add_request *req = xcalloc(1, sizeof *req);
    req->conn = c;
    req->na.data = req;
    req->na.applied = add_applied;
    req->na.done = add_done;
    /* The slot is taken before proposing, so the reply keeps its place in
     * the pipeline whatever completes first. */
    req->slot = conn_defer(c, true);
    int rc = node_propose_add(cmd_node(c), &add, &req->na);
    codec_add_free(&add);
    if (rc != 0) {
        commands_write_refusal(c, &req->slot->out, rc);
        conn_complete(c, req->slot);
        free(req);
    }
}

/* ---- dispatch -------------------------------------------------------- */

/* Columns: name, alias, arity and Redis flags and first key for COMMAND
 * (command_docs.c; arity as Redis counts it, the name included, negative
 * for "at least"), dispatch flags, handler, metrics slot, summary. The
 * JSON argument of ADD, GET, GETALL and LISTSTREAMS is declared as their
 * key: Redis Cluster clients then compute a slot for it (every slot is in
 * the one shard) and send reads flagged readonly to replicas, which they
 * do not do for keyless commands. */
static const struct command command_table[] = {
    {"PING", "P", -1, "fast stale", 0, CMD_SUBSCRIBED, cmd_ping, METRICS_UNTIMED, "answers PONG"},
    {"AUTH", NULL, -2, "fast no_auth noscript stale", 0, CMD_NOAUTH, acl_auth_command, METRICS_UNTIMED,
     "authenticates the connection, as the default user or as a user"},
    {"HELLO", NULL, -1, "fast no_auth noscript stale", 0, CMD_NOAUTH | CMD_SUBSCRIBED, cmd_hello, METRICS_UNTIMED,
     "chooses the protocol version (2 or 3) and authenticates"},
    {"QUIT", NULL, -1, "fast no_auth stale", 0, CMD_SUBSCRIBED, cmd_quit, METRICS_UNTIMED, "closes the connection"},
    {"SUBSCRIBE", NULL, -2, "pubsub noscript stale", 0, CMD_ARG | CMD_SUBSCRIBED | CMD_ALONE, subs_subscribe,
     METRICS_UNTIMED, "subscribes to streams or to the global log: catch-up, then live"},
    {"UNSUBSCRIBE", NULL, -1, "pubsub noscript stale", 0, CMD_SUBSCRIBED | CMD_ALONE, subs_unsubscribe,
     METRICS_UNTIMED, "ends subscriptions"},
    {"ADD", "A", 2, "write denyoom", 1, CMD_ARG, cmd_add, METRICS_ADD,
     "appends events to a stream (on the leader), once committed and applied"},
    {"GET", "G", 2, "readonly", 1, CMD_ARG, cmd_get, METRICS_GET, "reads a stream from a version"},
    {"GETALL", "GA", 2, "readonly", 1, CMD_ARG, cmd_getall, METRICS_GETALL, "reads the global log after an event id"},
    {"LISTSTREAMS", "LSTREAMS", -1, "readonly", 1, 0, cmd_liststreams, METRICS_UNTIMED, "lists streams"},
    {"EVENTCOUNT", "EC", 1, "readonly fast", 0, 0, cmd_eventcount, METRICS_UNTIMED, "counts events"},
    {"EVENTCOUNTEST", "ECE", 1, "readonly fast", 0, 0, cmd_eventcount, METRICS_UNTIMED, "counts events"},
    {"STREAMCOUNT", "SC", 1, "readonly fast", 0, 0, cmd_streamcount, METRICS_UNTIMED, "counts streams"},
    {"STREAMCOUNTEST", "SCE", 1, "readonly fast", 0, 0, cmd_streamcount, METRICS_UNTIMED, "counts streams"},
    {"CHECKSUM", "CH", -1, "readonly fast", 0, 0, cmd_checksum, METRICS_UNTIMED,
     "the last event id and the log's chained checksum; LIVE adds the live set's checksum and count; STATE: "
     "the groups' and users' state digest"},
    {"SIZE", "S", 1, "readonly", 0, 0, cmd_size, METRICS_UNTIMED, "the store's size"},
    {"UPTIME", "UP", 1, "readonly fast stale", 0, 0, cmd_uptime, METRICS_UNTIMED, "the node's uptime"},
    {"VERSION", "V", 1, "readonly fast stale", 0, 0, cmd_version, METRICS_UNTIMED, "the server's version"},
    {"STATUS", NULL, 1, "readonly stale", 0, 0, cmd_status, METRICS_UNTIMED, "this node's status as JSON"},
    {"METRICS", NULL, 1, "readonly stale", 0, 0, cmd_metrics, METRICS_UNTIMED,
     "this node's metrics, Prometheus text format"},
    {"CLUSTER", NULL, -2, "admin stale", 0, 0, cluster_command, METRICS_UNTIMED,
     "membership (MEMBERS, STATUS, ADD, PROMOTE, DEMOTE, REMOVE, TRANSFER) and the Redis Cluster view "
     "(SLOTS, SHARDS, NODES, MYID, INFO)"},
    {"CONFIG", NULL, -2, "admin", 0, CMD_ARG, settings_command, METRICS_UNTIMED, "cluster-wide settings"},
    {"SNAPSHOT", NULL, -2, "admin", 0, CMD_ADMIN, snapshot_command, METRICS_UNTIMED, "a copy of the store"},
    {"GROUP", NULL, -2, "write", 0, CMD_ARG, groups_command, METRICS_UNTIMED, "consumer groups"},
    {"STREAM", NULL, -3, "write", 0, CMD_ARG, streams_command, METRICS_UNTIMED,
     "deletes streams and sets their retention: DELETE, SETMETA, META"},
    {"ACL", NULL, -2, "admin noscript stale", 0, CMD_ARG, acl_command, METRICS_UNTIMED,
     "users and their rights: SETUSER, DELUSER, LIST, WHOAMI"},
    {"INFO", NULL, -1, "stale", 0, CMD_ARITY, info_command, METRICS_UNTIMED,
     "server, clients, replication and cluster sections, as Redis's INFO"},
    {"CLIENT", NULL, -2, "stale", 0, CMD_ARITY, client_command, METRICS_UNTIMED,
     "the connection: SETNAME, GETNAME, ID, INFO, LIST, SETINFO"},
    {"COMMAND", NULL, -1, "stale", 0, CMD_ARITY, command_docs_command, METRICS_UNTIMED,
     "the command table: COUNT, INFO, DOCS, LIST"},
    {"READONLY", NULL, 1, "fast stale", 0, CMD_ARITY, client_readonly, METRICS_UNTIMED,
     "accepted: every node serves reads"},
    {"READWRITE", NULL, 1, "fast stale", 0, CMD_ARITY, client_readonly, METRICS_UNTIMED, "accepted"},
    {"ASKING", NULL, 1, "fast stale", 0, CMD_ARITY, client_readonly, METRICS_UNTIMED,
     "accepted: slots never migrate"},
    {"SELECT", NULL, 2, "fast stale", 0, CMD_ARITY, client_select, METRICS_UNTIMED, "database 0 only"},
    {"ECHO", NULL, 2, "fast stale", 0, CMD_ARITY, client_echo, METRICS_UNTIMED, "answers its argument"},
    {"TIME", NULL, 1, "fast stale", 0, CMD_ARITY, client_time, METRICS_UNTIMED, "the node's clock"},
    {"DBSIZE", NULL, 1, "readonly fast", 0, CMD_ARITY, cmd_streamcount, METRICS_UNTIMED,
     "the number of streams (Redis's keys), as STREAMCOUNT"},
};

const struct command *commands_table(size_t *n)
{
    *n = sizeof command_table / sizeof command_table[0];
    return command_table;
}

static bool name_is(const struct resp_arg *a, const char *name)
{
    return name != NULL && resp_arg_is(a, name);
}

static const struct command *command_lookup(const struct resp_arg *a)
{
    for (size_t i = 0; i < sizeof command_table / sizeof command_table[0]; i++) {
        const struct command *cmd = &command_table[i];
        if (name_is(a, cmd->name) || name_is(a, cmd->alias))
            return cmd;
    }
    return NULL;
}

bool commands_may_start(const struct conn *c, const struct resp_command *cmd)
{
    /* Whoever sent them, they run as the AUTH before them decides. */
    if (acl_auth_pending(c))
        return false;
    if (c->writes_pending == 0 && c->others_pending == 0)
        return true;
    if (cmd->argc == 0)
        return true;
    const struct command *command = command_lookup(&cmd->argv[0]);
    /* Writes through the log (ADD, the GROUP operations that change a
     * group) keep their order in it: they may go along together. */
    if (command != NULL && (command->handler == cmd_add ||
                            (command->handler == groups_command && groups_command_is_write(cmd)) ||
                            (command->handler == streams_command && streams_command_is_write(cmd))))
        return c->others_pending == 0;
    /* A subscription's messages go straight to the output: its
     * confirmation must not wait behind a deferred reply they would
     * overtake. */
    if (command != NULL && (command->flags & CMD_ALONE))
        return false;
    return c->writes_pending == 0;
}

/* A known command: checks, then its handler. */
static void dispatch_known(struct conn *c, const struct command *command, const struct resp_command *cmd)
{
    acl_conn_refresh(c);
    if (!c->authenticated && !(command->flags & CMD_NOAUTH)) {
        resp_write_error(conn_reply_buf(c), "unauthorized");
        return;
    }
    if ((command->flags & CMD_ADMIN) && !acl_conn_admin(c, command->name))
        return;
    if ((command->flags & CMD_ARITY) &&
        (command->arity >= 0 ? cmd->argc != (size_t)command->arity : cmd->argc < (size_t)-command->arity)) {
        char low[16];
        size_t i = 0;
        for (; command->name[i] != '\0' && i < sizeof low - 1; i++)
            low[i] = (char)tolower((unsigned char)command->name[i]);
        low[i] = '\0';
        resp_write_errorf(conn_reply_buf(c), "ERR wrong number of arguments for '%s' command", low);
        return;
    }
    if ((command->flags & CMD_ARG) && cmd->argc < 2) {
        resp_write_error(conn_reply_buf(c), "insufficient arguments");
        return;
    }
    if (c->n_subs > 0 && !c->resp3 && !(command->flags & CMD_SUBSCRIBED)) {
        /* RESP2 clients read a subscribed connection as a stream of
         * messages; a reply of another shape would confuse them. */
        resp_write_error(conn_reply_buf(c),
                         "SUBSCRIBED only SUBSCRIBE, UNSUBSCRIBE, PING and QUIT are allowed on a subscribed "
                         "connection (RESP2); use another connection, or HELLO 3 to mix");
        return;
    }
    c->key_arg = command->first_key > 0 && cmd->argc > (size_t)command->first_key ? &cmd->argv[command->first_key]
                                                                                    : NULL;
    command->handler(c, cmd);
    c->key_arg = NULL;
}

void commands_dispatch(struct conn *c, const struct resp_command *cmd)
{
    if (cmd->argc == 0)
        return;
    const struct command *command = command_lookup(&cmd->argv[0]);
    if (command == NULL) {
        resp_write_error(conn_reply_buf(c), c->authenticated ? "unknown command" : "unauthorized");
        return;
    }
    /* Refusals count too: an ADD refused -unauthorized is an ADD that
     * failed, as the client sees it. */
    conn_time_begin(c, command->timed);
    dispatch_known(c, command, cmd);
    conn_time_end(c);
}
