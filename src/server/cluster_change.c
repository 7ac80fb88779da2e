/* cluster_change.c - changes to the membership, on the leader (others
 * answer -MOVED), one at a time (raft refuses a second: -BUSY).
 *
 *   CLUSTER ADD <id> <raft addr> <client addr> [<incarnation>]
 *                                           add as a spare, record its client address;
 *                                           answered once both are applied here. A node
 *                                           that answers at the client address with
 *                                           another cluster's history is refused.
 *   CLUSTER REGISTER <id> <client addr> <incarnation>
 *                                           record a member's address and incarnation
 *   CLUSTER PROMOTE <id> [voter|standby]    assign the role (a voter catches up first)
 *   CLUSTER DEMOTE <id> [standby|spare]     assign the role, if a majority stays reachable
 *   CLUSTER REMOVE <id>                     remove, if a majority stays reachable
 *   CLUSTER TRANSFER [<id>]                 hand leadership over (0 or none: raft picks) */
#include "server/cluster.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "common/mem.h"
#include "eventflow.pb-c.h"
#include "node/node.h"
#include "node/peer.h"
#include "protocol/resp_writer.h"
#include "server/conn.h"
#include "server/server.h"

/* A down member refuses the connection at once; a generous timeout only
 * costs time when one is cut off, and keeps a loaded machine from refusing
 * a safe change. */
#define QUORUM_CHECK_TIMEOUT_MS 5000
/* The new member's STATUS, asked before adding it: a node that is down or
 * not started yet does not answer at once, and is added anyway (its hello
 * still keeps it out if it turns out to be foreign, raftio/raft_tcp.h). */
#define ADD_CHECK_TIMEOUT_MS 2000

/* Member ids and incarnations are never 0. */
static int arg_u64(const struct resp_arg *a, uint64_t *out)
{
    uint64_t v;
    if (resp_arg_u64(a, 10, &v) != 0 || v == 0)
        return -1;
    *out = v;
    return 0;
}

static int arg_hex(const struct resp_arg *a, uint64_t *out)
{
    uint64_t v;
    if (a->len > 16 || resp_arg_u64(a, 16, &v) != 0 || v == 0)
        return -1;
    *out = v;
    return 0;
}

static int arg_address(const struct resp_arg *a, char *out, size_t cap)
{
    char host[CONFIG_ADDR_MAX];
    unsigned port;
    if (a->len == 0 || a->len >= cap)
        return -1;
    memcpy(out, a->ptr, a->len);
    out[a->len] = '\0';
    return addr_split(out, host, sizeof host, &port);
}

struct change_req {
    struct conn *conn;
    struct conn_slot *slot;
    uint64_t id;
    uint64_t incarnation;
    char client[CONFIG_ADDR_MAX];
    char tls[CONFIG_ADDR_MAX]; /* REGISTER's TLS client address; empty = none */
    char raft[CONFIG_ADDR_MAX];
};

static void change_reply_error(struct change_req *r, int status, const char *why, const char *what)
{
    struct buf *out = &r->slot->out;
    switch (status) {
    case NODE_EBUSY:
        resp_write_error(out, "BUSY another membership change is in progress; retry when it is done");
        break;
    case NODE_EUNKNOWN:
    case NODE_ENOTLEADER:
        /* The entry may still commit under the next leader: only that
         * leader's configuration, once committed, tells. */
        resp_write_errorf(out,
                          "UNKNOWN leadership was lost during %s; it may still take effect: check CLUSTER MEMBERS "
                          "on the leader until it says committed",
                          what);
        break;
    case NODE_EIDINUSE:
        resp_write_error(out, "member id already in use");
        break;
    case NODE_EADDRINUSE:
        resp_write_error(out, "member raft address already in use");
        break;
    case NODE_ENOMEMBER:
        resp_write_error(out, "no such member (or not eligible for this change)");
        break;
    case NODE_ESAMEROLE:
        resp_write_error(out, "member already has that role");
        break;
    case NODE_EUNREACHABLE:
        /* A promotion whose catch-up never reached the member. */
        resp_write_errorf(out,
                          "%s failed: member %" PRIu64 " could not be reached at its raft address: check that it "
                          "runs and listens there, and its log for \"refusing a raft connection\" (a node of "
                          "another cluster is refused; STATUS raft_hellos_refused counts it)",
                          what, r->id);
        break;
    default:
        resp_write_errorf(out, "%s failed: %s", what, why != NULL ? why : "see the server log");
        break;
    }
}

static void change_done(struct change_req *r)
{
    conn_complete(r->conn, r->slot);
    free(r);
}

static void change_cb(void *data, int status, const char *why)
{
    struct change_req *r = data;
    if (status == 0)
        resp_write_simple(&r->slot->out, "OK");
    else
        change_reply_error(r, status, why, "the membership change");
    change_done(r);
}

/* Propose a change; its outcome answers the request. */
static void change_start(struct change_req *r, enum node_change_kind kind, enum node_role role, node_done_cb cb,
                         const char *what)
{
    int rc = node_change_membership(r->conn->srv->node, kind, r->id, r->raft, role, cb, r);
    if (rc != 0) {
        change_reply_error(r, rc, NULL, what);
        change_done(r);
    }
}

/* Record a member's client addresses through the log, so that every node
 * can send clients to it; tls is "" when it has no TLS port; cb as
 * node_propose_entry's. */
static int publish_member_address(struct node *n, uint64_t id, const char *client, const char *tls,
                                  uint64_t incarnation, node_done_cb cb, void *data)
{
    Eventflow__MemberAddress ma = EVENTFLOW__MEMBER_ADDRESS__INIT;
    ma.id = id;
    ma.client_address = (char *)client;
    ma.tls_address = (char *)tls;
    ma.incarnation = incarnation;
    Eventflow__Entry entry = EVENTFLOW__ENTRY__INIT;
    entry.command_case = EVENTFLOW__ENTRY__COMMAND_MEMBER_ADDRESS;
    entry.member_address = &ma;
    return node_propose_entry(n, &entry, cb, data);
}

/* ---- CLUSTER ADD ---------------------------------------------------------- */

/* The new member's address is applied here: CLUSTER MEMBERS on this node
 * shows it from now on (and on the others once they apply it). */
static void add_address_cb(void *data, int status, const char *why)
{
    struct change_req *r = data;
    if (status == 0)
        resp_write_simple(&r->slot->out, "OK");
    else
        resp_write_errorf(&r->slot->out,
                          "UNKNOWN member %" PRIu64 " was added, but recording its client address did not "
                          "finish (%s); the member records it itself once it runs: check CLUSTER MEMBERS",
                          r->id, why != NULL ? why : "no longer the leader");
    change_done(r);
}

static void add_cb(void *data, int status, const char *why)
{
    struct change_req *r = data;
    if (status != 0) {
        change_reply_error(r, status, why, "adding the member");
        change_done(r);
        return;
    }
    int rv = publish_member_address(r->conn->srv->node, r->id, r->client, r->tls, r->incarnation, add_address_cb, r);
    if (rv != 0)
        add_address_cb(r, rv, NULL);
}

/* Why the node answering at the new member's client address must not be
 * added, into why (empty: it may be). A node with another cluster's
 * identity, or with a raft log and no identity (it bootstrapped a cluster
 * of its own), would bring a foreign history. */
static void add_check_reply(struct node *n, const struct resp_value *reply, char *why, size_t cap)
{
    why[0] = '\0';
    if (reply->type != RESP_T_BULK)
        return;
    json_t *st = json_loadb(reply->str, reply->len, 0, NULL);
    if (st == NULL)
        return;
    const char *theirs = json_string_value(json_object_get(st, "cluster_id"));
    json_int_t last_index = json_integer_value(json_object_get(st, "last_index"));
    json_int_t events = json_integer_value(json_object_get(st, "events"));
    struct store_stats mine;
    char ours[2 * STORE_CLUSTER_ID_BYTES + 1] = "";
    if (store_stats(node_store(n), &mine) == 0 && mine.has_cluster_id)
        node_cluster_id_hex(mine.cluster_id, ours);
    if (theirs != NULL && theirs[0] != '\0' && ours[0] != '\0' && strcmp(theirs, ours) != 0)
        snprintf(why, cap, "it belongs to another cluster (%s, this one is %s) and holds %lld events", theirs, ours,
                 (long long)events);
    else if ((theirs == NULL || theirs[0] == '\0') && last_index > 0)
        snprintf(why, cap, "its data directory already holds a raft log of its own (last index %lld, %lld events)",
                 (long long)last_index, (long long)events);
    json_decref(st);
}

static void add_check_cb(void *arg, int status, const struct resp_value *reply)
{
    struct change_req *r = arg;
    struct node *n = r->conn->srv->node;
    char why[256] = "";
    if (status == 0)
        add_check_reply(n, reply, why, sizeof why);
    if (why[0] != '\0') {
        resp_write_errorf(&r->slot->out,
                          "REFUSED the node at %s cannot be added: %s. Stop it, empty its data directory and "
                          "start it with --join or --cluster-state existing; nothing was changed",
                          r->client, why);
        change_done(r);
    } else if (!node_is_leader(n)) {
        change_reply_error(r, NODE_EUNKNOWN, NULL, "adding the member");
        change_done(r);
    } else {
        change_start(r, NODE_CHANGE_ADD, NODE_ROLE_SPARE, add_cb, "adding the member");
    }
}

static bool in_configuration(struct node *n, uint64_t id)
{
    struct node_server *conf;
    bool committed;
    size_t count = node_configuration(n, &conf, &committed);
    bool found = false;
    for (size_t i = 0; i < count && !found; i++)
        found = conf[i].id == id;
    free(conf);
    return found;
}

static void add_check_start(struct change_req *r)
{
    struct server *srv = r->conn->srv;
    /* A member already in the configuration (a joining node asking again)
     * has nothing to check: raft answers that its id is in use. */
    if (in_configuration(srv->node, r->id)) {
        change_start(r, NODE_CHANGE_ADD, NODE_ROLE_SPARE, add_cb, "adding the member");
        return;
    }
    const char *argv[] = {"STATUS"};
    int rv = peer_request(srv->loop, r->client, NULL, config_peer_token(srv->cfg), 1, argv, ADD_CHECK_TIMEOUT_MS,
                          add_check_cb, r);
    if (rv != 0)
        add_check_cb(r, rv, NULL);
}

/* ---- CLUSTER TRANSFER ----------------------------------------------------------- */

static void transfer_cb(void *data, int status, const char *why)
{
    struct change_req *r = data;
    if (status == 0)
        resp_write_simple(&r->slot->out, "OK");
    else if (status == NODE_ENOTMOVED)
        resp_write_error(&r->slot->out, "TRYAGAIN leadership did not move within the election timeout");
    else
        change_reply_error(r, status, why, "the transfer");
    change_done(r);
}

/* ---- a strict reconfiguration check ------------------------------------- */

/* Removing or demoting a voter is refused unless a majority of the voters
 * left would be reachable: otherwise raft appends the new configuration,
 * the leader cannot commit it, steps down, and the change may or may not
 * survive. The leader asks every other remaining voter for STATUS first. */
struct quorum_check {
    struct change_req *r;
    bool remove;        /* else demote to `role` */
    enum node_role role;
    unsigned pending;
    unsigned voters;    /* voters in the new configuration */
    unsigned reachable; /* of those, answering (this node included) */
};

static void quorum_check_finish(struct quorum_check *q)
{
    struct change_req *r = q->r;
    unsigned needed = q->voters / 2 + 1;
    if (q->voters > 0 && q->reachable < needed) {
        resp_write_errorf(&r->slot->out,
                          "UNSAFE after this change %u of %u voters would be reachable, and a majority (%u) is "
                          "needed: bring members back first; nothing was changed",
                          q->reachable, q->voters, needed);
        change_done(r);
    } else {
        change_start(r, q->remove ? NODE_CHANGE_REMOVE : NODE_CHANGE_ASSIGN, q->role, change_cb,
                     "the membership change");
    }
    free(q);
}

static void quorum_probe_cb(void *arg, int status, const struct resp_value *reply)
{
    struct quorum_check *q = arg;
    if (status == 0 && reply->type == RESP_T_BULK)
        q->reachable++;
    if (--q->pending == 0)
        quorum_check_finish(q);
}

static void quorum_check_start(struct change_req *r, bool remove, enum node_role role)
{
    struct server *srv = r->conn->srv;
    struct node_server *conf;
    bool committed;
    size_t count = node_configuration(srv->node, &conf, &committed);
    struct quorum_check *q = xcalloc(1, sizeof *q);
    q->r = r;
    q->remove = remove;
    q->role = role;
    q->pending = 1; /* held while asking */
    for (size_t i = 0; i < count; i++) {
        const struct node_server *s = &conf[i];
        if (s->role != NODE_ROLE_VOTER || s->id == r->id)
            continue;
        q->voters++;
        if (s->id == srv->cfg->id) {
            q->reachable++;
            continue;
        }
        char client[CONFIG_ADDR_MAX];
        struct raft_tls *tls;
        if (node_member_peer_address(srv->node, s->id, client, sizeof client, &tls) != 0)
            continue;
        q->pending++;
        const char *argv[] = {"STATUS"};
        int rv = peer_request(srv->loop, client, tls, config_peer_token(srv->cfg), 1, argv, QUORUM_CHECK_TIMEOUT_MS,
                              quorum_probe_cb, q);
        if (rv != 0)
            quorum_probe_cb(q, rv, NULL);
    }
    free(conf);
    if (--q->pending == 0)
        quorum_check_finish(q);
}

/* ---- dispatch ------------------------------------------------------------------ */

static bool parse_role(const struct resp_arg *a, enum node_role *role)
{
    if (resp_arg_is(a, "voter"))
        *role = NODE_ROLE_VOTER;
    else if (resp_arg_is(a, "standby"))
        *role = NODE_ROLE_STANDBY;
    else if (resp_arg_is(a, "spare"))
        *role = NODE_ROLE_SPARE;
    else
        return false;
    return true;
}

void cluster_change(struct conn *c, const struct resp_command *cmd)
{
    struct node *n = c->srv->node;
    const struct resp_arg *sub = &cmd->argv[1];
    size_t argc = cmd->argc < RESP_MAX_ARGV ? cmd->argc : RESP_MAX_ARGV;
    struct change_req *r = xcalloc(1, sizeof *r);
    r->conn = c;
    r->slot = conn_defer(c, false);
    struct buf *out = &r->slot->out;

    if (!cluster_require_leader(c, out)) {
        change_done(r);
        return;
    }
    if (resp_arg_is(sub, "TRANSFER")) {
        if (argc >= 3 && arg_u64(&cmd->argv[2], &r->id) != 0) {
            resp_write_error(out, "invalid member id");
            change_done(r);
            return;
        }
        int rc = node_transfer_leadership(n, r->id, transfer_cb, r);
        if (rc != 0) {
            change_reply_error(r, rc, NULL, "the transfer");
            change_done(r);
        }
        return;
    }
    if (argc < 3 || arg_u64(&cmd->argv[2], &r->id) != 0) {
        resp_write_error(out, "usage: CLUSTER ADD|PROMOTE|DEMOTE|REMOVE <id> ...");
        change_done(r);
        return;
    }
    if (resp_arg_is(sub, "ADD")) {
        if (argc < 5 || arg_address(&cmd->argv[3], r->raft, sizeof r->raft) != 0 ||
            arg_address(&cmd->argv[4], r->client, sizeof r->client) != 0) {
            resp_write_error(out, "usage: CLUSTER ADD <id> <raft host:port> <client host:port>");
            change_done(r);
        } else if (argc >= 6 && arg_hex(&cmd->argv[5], &r->incarnation) != 0) {
            resp_write_error(out, "invalid incarnation");
            change_done(r);
        } else {
            add_check_start(r);
        }
    } else if (resp_arg_is(sub, "PROMOTE") || resp_arg_is(sub, "DEMOTE")) {
        enum node_role role = resp_arg_is(sub, "PROMOTE") ? NODE_ROLE_VOTER : NODE_ROLE_SPARE;
        if (argc >= 4 && !parse_role(&cmd->argv[3], &role)) {
            resp_write_error(out, "role must be voter, standby or spare");
            change_done(r);
        } else if (role != NODE_ROLE_VOTER) {
            /* Demoting a voter shrinks the voting set: check it first. */
            quorum_check_start(r, false, role);
        } else {
            change_start(r, NODE_CHANGE_ASSIGN, role, change_cb, "the membership change");
        }
    } else if (resp_arg_is(sub, "REGISTER")) {
        /* A member records its client address, incarnation and TLS
         * address (absent: it has no TLS port). */
        if (argc < 5 || argc > 6 || arg_address(&cmd->argv[3], r->client, sizeof r->client) != 0 ||
            arg_hex(&cmd->argv[4], &r->incarnation) != 0 ||
            (argc == 6 && arg_address(&cmd->argv[5], r->tls, sizeof r->tls) != 0)) {
            resp_write_error(out, "usage: CLUSTER REGISTER <id> <client host:port> <incarnation> [<TLS host:port>]");
        } else if (publish_member_address(n, r->id, r->client, r->tls, r->incarnation, NULL, NULL) != 0) {
            resp_write_error(out, "TRYAGAIN could not propose the registration; retry");
        } else {
            resp_write_simple(out, "OK");
        }
        change_done(r);
    } else if (resp_arg_is(sub, "REMOVE")) {
        quorum_check_start(r, true, NODE_ROLE_SPARE);
    } else {
        resp_write_error(out, "unknown CLUSTER subcommand");
        change_done(r);
    }
}
