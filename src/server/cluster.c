/* cluster.c - the CLUSTER command family: membership changes, leadership
 * transfer, and the cluster-wide status.
 *
 *   CLUSTER MEMBERS                         members as JSON objects
 *   CLUSTER STATUS                          every member's STATUS (asked directly)
 *   CLUSTER ADD <id> <raft addr> <client addr> [<incarnation>]
 *                                           add as a spare, record its client address;
 *                                           answered once both are applied here. A node
 *                                           that answers at the client address with
 *                                           another cluster's history is refused.
 *   CLUSTER REGISTER <id> <client addr> <incarnation>
 *                                           record a member's address and incarnation
 *   CLUSTER PROMOTE <id> [voter|standby]    raft_assign (a voter catches up first)
 *   CLUSTER DEMOTE <id> [standby|spare]     raft_assign
 *   CLUSTER REMOVE <id>                     raft_remove
 *   CLUSTER TRANSFER [<id>]                 raft_transfer (0 or none: raft picks)
 *
 * Changes run on the leader (others answer -MOVED) one at a time: raft
 * refuses a second one with RAFT_CANTCHANGE, answered as -BUSY. */
#include "server/cluster.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/mem.h"
#include "eventflow.pb-c.h"
#include "protocol/resp_writer.h"
#include "server/conn.h"
#include "node/node.h"
#include "node/peer.h"
#include "server/server.h"

#define CLUSTER_STATUS_TIMEOUT_MS 1000
/* A down member refuses the connection at once; a generous timeout only
 * costs time when one is cut off, and keeps a loaded machine from refusing
 * a safe change. */
#define QUORUM_CHECK_TIMEOUT_MS 5000
/* The new member's STATUS, asked before adding it: a node that is down or
 * not started yet does not answer at once, and is added anyway (its hello
 * still keeps it out if it turns out to be foreign, raft_tcp.h). */
#define ADD_CHECK_TIMEOUT_MS 2000

static const char *role_name(int role)
{
    switch (role) {
    case RAFT_VOTER:
        return "voter";
    case RAFT_STANDBY:
        return "standby";
    case RAFT_SPARE:
        return "spare";
    default:
        return "unknown";
    }
}

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
    return config_split_address(out, host, sizeof host, &port);
}

/* Append one configuration member as a JSON object. */
static void write_member(struct node *n, struct buf *b, const struct raft_server *s)
{
    char client[CONFIG_ADDR_MAX];
    char stored[CONFIG_ADDR_MAX];
    uint64_t inc = 0;
    (void)node_member_client_address(n, s->id, client, sizeof client);
    (void)store_member_get(n->store, s->id, stored, sizeof stored, &inc);
    buf_printf(b, "{\"id\":%" PRIu64 ",\"raft_address\":\"%s\",\"client_address\":\"%s\",\"role\":\"%s\"",
               (uint64_t)s->id, s->address, client, role_name(s->role));
    if (inc != 0)
        buf_printf(b, ",\"incarnation\":\"%016" PRIx64 "\"", inc);
    /* The configuration shown may be a change still waiting for a quorum. */
    buf_printf(b, ",\"committed\":%s", n->raft.configuration_uncommitted_index == 0 ? "true" : "false");
    buf_append_char(b, '}');
}

static void cluster_members(struct conn *c)
{
    struct node *n = c->srv->node;
    struct buf *out = conn_reply_buf(c);
    const struct raft_configuration *conf = &n->raft.configuration;
    resp_write_array_header(out, conf->n);
    for (unsigned i = 0; i < conf->n; i++) {
        size_t off = resp_bulk_begin(out);
        write_member(n, out, &conf->servers[i]);
        resp_bulk_end(out, off);
    }
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
    const struct raft_configuration *conf = &n->raft.configuration;
    struct status_fanout *f = xcalloc(1, sizeof *f);
    f->conn = c;
    f->slot = conn_defer(c, false);
    f->n = conf->n;
    f->answers = xcalloc(conf->n ? conf->n : 1, sizeof *f->answers);
    f->pending = 1; /* held until every probe is sent */
    for (unsigned i = 0; i < conf->n; i++) {
        const struct raft_server *s = &conf->servers[i];
        buf_init(&f->answers[i]);
        struct status_probe *p = xcalloc(1, sizeof *p);
        p->fan = f;
        p->i = i;
        p->id = s->id;
        snprintf(p->raft, sizeof p->raft, "%s", s->address);
        snprintf(p->role, sizeof p->role, "%s", role_name(s->role));
        (void)node_member_client_address(n, s->id, p->client, sizeof p->client);
        if (s->id == n->cfg->id) {
            struct buf *b = &f->answers[i];
            buf_printf(b, "{\"role\":\"%s\",", p->role);
            struct buf self;
            buf_init(&self);
            node_write_status(n, &self);
            buf_append(b, self.data + 1, self.len - 1);
            buf_free(&self);
            free(p);
            continue;
        }
        f->pending++;
        const char *argv[] = {"STATUS"};
        int rv = peer_request(n->loop, p->client, c->srv->cfg->password, 1, argv, CLUSTER_STATUS_TIMEOUT_MS,
                              status_probe_cb, p);
        if (rv != 0)
            status_probe_cb(p, rv, NULL);
    }
    if (--f->pending == 0)
        fanout_finish(f);
}

/* ---- membership changes ---------------------------------------------------- */

struct change_req {
    struct raft_change change;
    struct raft_transfer transfer;
    struct conn *conn;
    struct conn_slot *slot;
    uint64_t id;
    uint64_t incarnation;
    char client[CONFIG_ADDR_MAX];
};

static void change_reply_error(struct change_req *r, int rv, const char *what)
{
    struct buf *out = &r->slot->out;
    switch (rv) {
    case RAFT_CANTCHANGE:
        resp_write_error(out, "BUSY another membership change is in progress; retry when it is done");
        break;
    case RAFT_NOTLEADER:
    case RAFT_LEADERSHIPLOST:
        /* The entry may still commit under the next leader: only that
         * leader's configuration, once committed, tells. */
        resp_write_errorf(out,
                          "UNKNOWN leadership was lost during %s; it may still take effect: check CLUSTER MEMBERS "
                          "on the leader until it says committed",
                          what);
        break;
    case RAFT_DUPLICATEID:
        resp_write_error(out, "member id already in use");
        break;
    case RAFT_DUPLICATEADDRESS:
        resp_write_error(out, "member raft address already in use");
        break;
    case RAFT_BADID:
    case RAFT_NOTFOUND:
        resp_write_error(out, "no such member (or not eligible for this change)");
        break;
    case RAFT_BADROLE:
        resp_write_error(out, "member already has that role");
        break;
    case RAFT_NOCONNECTION:
        /* A promotion whose catch-up never reached the member. */
        resp_write_errorf(out,
                          "%s failed: member %" PRIu64 " could not be reached at its raft address: check that it "
                          "runs and listens there, and its log for \"refusing a raft connection\" (a node of "
                          "another cluster is refused; STATUS raft_hellos_refused counts it)",
                          what, r->id);
        break;
    default:
        resp_write_errorf(out, "%s failed: %s", what, raft_strerror(rv));
        break;
    }
}

static void change_done(struct change_req *r)
{
    conn_complete(r->conn, r->slot);
    free(r);
}

static void change_cb(struct raft_change *ch, int status)
{
    struct change_req *r = ch->data;
    if (status == 0)
        resp_write_simple(&r->slot->out, "OK");
    else
        change_reply_error(r, status, "the membership change");
    change_done(r);
}

/* Record a member's client address through the log, so that every node
 * can send clients to it; cb as node_propose_entry's. */
static int publish_member_address(struct node *n, uint64_t id, const char *client, uint64_t incarnation,
                                  node_entry_cb cb, void *data)
{
    Eventflow__MemberAddress ma = EVENTFLOW__MEMBER_ADDRESS__INIT;
    ma.id = id;
    ma.client_address = (char *)client;
    ma.incarnation = incarnation;
    Eventflow__Entry entry = EVENTFLOW__ENTRY__INIT;
    entry.command_case = EVENTFLOW__ENTRY__COMMAND_MEMBER_ADDRESS;
    entry.member_address = &ma;
    return node_propose_entry(n, &entry, cb, data);
}

/* The new member's address is applied here: CLUSTER MEMBERS on this node
 * shows it from now on (and on the others once they apply it). */
static void add_address_cb(void *data, int status)
{
    struct change_req *r = data;
    if (status == 0)
        resp_write_simple(&r->slot->out, "OK");
    else
        resp_write_errorf(&r->slot->out,
                          "UNKNOWN member %" PRIu64 " was added, but recording its client address did not "
                          "finish (%s); the member records it itself once it runs: check CLUSTER MEMBERS",
                          r->id, raft_strerror(status));
    change_done(r);
}

static void add_cb(struct raft_change *ch, int status)
{
    struct change_req *r = ch->data;
    if (status != 0) {
        change_reply_error(r, status, "adding the member");
        change_done(r);
        return;
    }
    int rv = publish_member_address(r->conn->srv->node, r->id, r->client, r->incarnation, add_address_cb, r);
    if (rv != 0)
        add_address_cb(r, RAFT_NOTLEADER);
}

/* ---- CLUSTER ADD: is the new member's history ours? ------------------- */

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
    if (store_stats(n->store, &mine) == 0 && mine.has_cluster_id)
        node_cluster_id_hex(mine.cluster_id, ours);
    if (theirs != NULL && theirs[0] != '\0' && ours[0] != '\0' && strcmp(theirs, ours) != 0)
        snprintf(why, cap, "it belongs to another cluster (%s, this one is %s) and holds %lld events", theirs, ours,
                 (long long)events);
    else if ((theirs == NULL || theirs[0] == '\0') && last_index > 0)
        snprintf(why, cap, "its data directory already holds a raft log of its own (last index %lld, %lld events)",
                 (long long)last_index, (long long)events);
    json_decref(st);
}

static void add_member(struct change_req *r, const char *raft_addr)
{
    int rv = raft_add(&r->conn->srv->node->raft, &r->change, r->id, raft_addr, add_cb);
    if (rv != 0) {
        change_reply_error(r, rv, "adding the member");
        change_done(r);
    }
}

struct add_check {
    struct change_req *r;
    char raft_addr[CONFIG_ADDR_MAX];
};

static void add_check_cb(void *arg, int status, const struct resp_value *reply)
{
    struct add_check *a = arg;
    struct change_req *r = a->r;
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
    } else if (raft_state(&n->raft) != RAFT_LEADER) {
        change_reply_error(r, RAFT_NOTLEADER, "adding the member");
        change_done(r);
    } else {
        add_member(r, a->raft_addr);
    }
    free(a);
}

static void add_check_start(struct change_req *r, const char *raft_addr)
{
    struct node *n = r->conn->srv->node;
    /* A member already in the configuration (a joining node asking again)
     * has nothing to check: raft answers that its id is in use. */
    const struct raft_configuration *conf = &n->raft.configuration;
    for (unsigned i = 0; i < conf->n; i++) {
        if (conf->servers[i].id == r->id) {
            add_member(r, raft_addr);
            return;
        }
    }
    struct add_check *a = xcalloc(1, sizeof *a);
    a->r = r;
    snprintf(a->raft_addr, sizeof a->raft_addr, "%s", raft_addr);
    const char *argv[] = {"STATUS"};
    int rv = peer_request(n->loop, r->client, r->conn->srv->cfg->password, 1, argv, ADD_CHECK_TIMEOUT_MS,
                          add_check_cb, a);
    if (rv != 0)
        add_check_cb(a, rv, NULL);
}

static void transfer_cb(struct raft_transfer *t)
{
    struct change_req *r = t->data;
    struct node *n = r->conn->srv->node;
    raft_id leader;
    const char *addr;
    raft_leader(&n->raft, &leader, &addr);
    if (leader != 0 && leader != n->cfg->id)
        resp_write_simple(&r->slot->out, "OK");
    else
        resp_write_error(&r->slot->out, "TRYAGAIN leadership did not move within the election timeout");
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
    int role;
    unsigned pending;
    unsigned voters;    /* voters in the new configuration */
    unsigned reachable; /* of those, answering (this node included) */
};

struct quorum_probe {
    struct quorum_check *q;
};

static void quorum_check_finish(struct quorum_check *q)
{
    struct change_req *r = q->r;
    struct node *n = r->conn->srv->node;
    unsigned needed = q->voters / 2 + 1;
    int rv;
    if (q->voters > 0 && q->reachable < needed) {
        resp_write_errorf(&r->slot->out,
                          "UNSAFE after this change %u of %u voters would be reachable, and a majority (%u) is "
                          "needed: bring members back first; nothing was changed",
                          q->reachable, q->voters, needed);
        change_done(r);
    } else {
        if (q->remove)
            rv = raft_remove(&n->raft, &r->change, r->id, change_cb);
        else
            rv = raft_assign(&n->raft, &r->change, r->id, q->role, change_cb);
        if (rv != 0) {
            change_reply_error(r, rv, "the membership change");
            change_done(r);
        }
    }
    free(q);
}

static void quorum_probe_cb(void *arg, int status, const struct resp_value *reply)
{
    struct quorum_probe *p = arg;
    struct quorum_check *q = p->q;
    if (status == 0 && reply->type == RESP_T_BULK)
        q->reachable++;
    free(p);
    if (--q->pending == 0)
        quorum_check_finish(q);
}

static void quorum_check_start(struct change_req *r, bool remove, int role)
{
    struct node *n = r->conn->srv->node;
    const struct raft_configuration *conf = &n->raft.configuration;
    struct quorum_check *q = xcalloc(1, sizeof *q);
    q->r = r;
    q->remove = remove;
    q->role = role;
    q->pending = 1; /* held while asking */
    for (unsigned i = 0; i < conf->n; i++) {
        const struct raft_server *s = &conf->servers[i];
        if (s->role != RAFT_VOTER || s->id == r->id)
            continue;
        q->voters++;
        if (s->id == n->cfg->id) {
            q->reachable++;
            continue;
        }
        char client[CONFIG_ADDR_MAX];
        if (node_member_client_address(n, s->id, client, sizeof client) != 0)
            continue;
        struct quorum_probe *p = xcalloc(1, sizeof *p);
        p->q = q;
        q->pending++;
        const char *argv[] = {"STATUS"};
        int rv = peer_request(n->loop, client, r->conn->srv->cfg->password, 1, argv, QUORUM_CHECK_TIMEOUT_MS,
                              quorum_probe_cb, p);
        if (rv != 0)
            quorum_probe_cb(p, rv, NULL);
    }
    if (--q->pending == 0)
        quorum_check_finish(q);
}

bool cluster_require_leader(struct conn *c, struct buf *out)
{
    struct node *n = c->srv->node;
    if (raft_state(&n->raft) == RAFT_LEADER)
        return true;
    char leader[CONFIG_ADDR_MAX];
    if (node_leader_client_address(n, leader, sizeof leader) == 0)
        resp_write_errorf(out, "MOVED 0 %s", leader);
    else
        resp_write_error(out, "NOLEADER no leader is elected right now; retry");
    return false;
}

static void cluster_change(struct conn *c, const struct resp_command *cmd)
{
    struct node *n = c->srv->node;
    const struct resp_arg *sub = &cmd->argv[1];
    size_t argc = cmd->argc < RESP_MAX_ARGV ? cmd->argc : RESP_MAX_ARGV;
    struct change_req *r = xcalloc(1, sizeof *r);
    r->conn = c;
    r->slot = conn_defer(c, false);
    r->change.data = r;
    r->transfer.data = r;
    struct buf *out = &r->slot->out;
    int rv;

    if (!cluster_require_leader(c, out)) {
        change_done(r);
        return;
    }
    if (resp_arg_is(sub, "TRANSFER")) {
        uint64_t id = 0;
        if (argc >= 3 && arg_u64(&cmd->argv[2], &id) != 0) {
            resp_write_error(out, "invalid member id");
            change_done(r);
            return;
        }
        rv = raft_transfer(&n->raft, &r->transfer, id, transfer_cb);
        if (rv != 0) {
            change_reply_error(r, rv, "the transfer");
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
        char raft_addr[CONFIG_ADDR_MAX];
        if (argc < 5 || arg_address(&cmd->argv[3], raft_addr, sizeof raft_addr) != 0 ||
            arg_address(&cmd->argv[4], r->client, sizeof r->client) != 0) {
            resp_write_error(out, "usage: CLUSTER ADD <id> <raft host:port> <client host:port>");
            change_done(r);
            return;
        }
        if (argc >= 6 && arg_hex(&cmd->argv[5], &r->incarnation) != 0) {
            resp_write_error(out, "invalid incarnation");
            change_done(r);
            return;
        }
        add_check_start(r, raft_addr);
        return;
    } else if (resp_arg_is(sub, "PROMOTE") || resp_arg_is(sub, "DEMOTE")) {
        bool promote = resp_arg_is(sub, "PROMOTE");
        int role = promote ? RAFT_VOTER : RAFT_SPARE;
        if (argc >= 4) {
            if (resp_arg_is(&cmd->argv[3], "voter"))
                role = RAFT_VOTER;
            else if (resp_arg_is(&cmd->argv[3], "standby"))
                role = RAFT_STANDBY;
            else if (resp_arg_is(&cmd->argv[3], "spare"))
                role = RAFT_SPARE;
            else {
                resp_write_error(out, "role must be voter, standby or spare");
                change_done(r);
                return;
            }
        }
        if (role != RAFT_VOTER) {
            /* Demoting a voter shrinks the voting set: check it first. */
            quorum_check_start(r, false, role);
            return;
        }
        rv = raft_assign(&n->raft, &r->change, r->id, role, change_cb);
    } else if (resp_arg_is(sub, "REGISTER")) {
        /* A member records its client address and incarnation. */
        if (argc < 5 || arg_address(&cmd->argv[3], r->client, sizeof r->client) != 0 ||
            arg_hex(&cmd->argv[4], &r->incarnation) != 0) {
            resp_write_error(out, "usage: CLUSTER REGISTER <id> <client host:port> <incarnation>");
        } else if (publish_member_address(n, r->id, r->client, r->incarnation, NULL, NULL) != 0) {
            resp_write_error(out, "TRYAGAIN could not propose the registration; retry");
        } else {
            resp_write_simple(out, "OK");
        }
        change_done(r);
        return;
    } else if (resp_arg_is(sub, "REMOVE")) {
        quorum_check_start(r, true, 0);
        return;
    } else {
        resp_write_error(out, "unknown CLUSTER subcommand");
        change_done(r);
        return;
    }
    if (rv != 0) {
        change_reply_error(r, rv, "the membership change");
        change_done(r);
    }
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
    else
        cluster_change(c, cmd);
}
