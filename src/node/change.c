/* change.c - the raft configuration as the server sees it, and changes to
 * it: adding, assigning a role to, and removing members, and handing
 * leadership over. raft allows one configuration change at a time and
 * refuses a second (RAFT_CANTCHANGE); what each refusal means to the
 * operator is node.h's NODE_E* codes, which the server words. */
#include "node/node_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"

static int role_to_raft(enum node_role role)
{
    switch (role) {
    case NODE_ROLE_VOTER:
        return RAFT_VOTER;
    case NODE_ROLE_STANDBY:
        return RAFT_STANDBY;
    default:
        return RAFT_SPARE;
    }
}

static enum node_role role_from_raft(int role)
{
    switch (role) {
    case RAFT_VOTER:
        return NODE_ROLE_VOTER;
    case RAFT_STANDBY:
        return NODE_ROLE_STANDBY;
    default:
        return NODE_ROLE_SPARE;
    }
}

const char *node_role_name(enum node_role role)
{
    switch (role) {
    case NODE_ROLE_VOTER:
        return "voter";
    case NODE_ROLE_STANDBY:
        return "standby";
    case NODE_ROLE_SPARE:
        return "spare";
    default:
        return "unknown";
    }
}

size_t node_configuration(struct node *n, struct node_server **out, bool *committed)
{
    const struct raft_configuration *conf = &n->raft.configuration;
    struct node_server *list = xcalloc(conf->n ? conf->n : 1, sizeof *list);
    for (unsigned i = 0; i < conf->n; i++) {
        list[i].id = conf->servers[i].id;
        snprintf(list[i].raft_address, sizeof list[i].raft_address, "%s", conf->servers[i].address);
        list[i].role = role_from_raft(conf->servers[i].role);
    }
    /* The configuration shown may be a change still waiting for a quorum. */
    *committed = n->raft.configuration_uncommitted_index == 0;
    *out = list;
    return conf->n;
}

/* A refusal of raft's, as the node's code. Leadership lost (or, returned at
 * once, a transfer under way): the change may still commit under the next
 * leader, so the outcome is unknown. */
static int change_status(int rv)
{
    switch (rv) {
    case 0:
        return 0;
    case RAFT_CANTCHANGE:
        return NODE_EBUSY;
    case RAFT_NOTLEADER:
    case RAFT_LEADERSHIPLOST:
    case RAFT_SHUTDOWN:
        return NODE_EUNKNOWN;
    case RAFT_DUPLICATEID:
        return NODE_EIDINUSE;
    case RAFT_DUPLICATEADDRESS:
        return NODE_EADDRINUSE;
    case RAFT_BADID:
    case RAFT_NOTFOUND:
        return NODE_ENOMEMBER;
    case RAFT_BADROLE:
        return NODE_ESAMEROLE;
    case RAFT_NOCONNECTION:
        return NODE_EUNREACHABLE;
    default:
        return NODE_EFAILED;
    }
}

struct node_change {
    struct raft_change change;
    struct raft_transfer transfer;
    struct node *node;
    node_done_cb cb;
    void *data;
};

static struct node_change *change_new(struct node *n, node_done_cb cb, void *data)
{
    struct node_change *c = xcalloc(1, sizeof *c);
    c->change.data = c;
    c->transfer.data = c;
    c->node = n;
    c->cb = cb;
    c->data = data;
    return c;
}

static void change_cb(struct raft_change *ch, int status)
{
    struct node_change *c = ch->data;
    node_done_cb cb = c->cb;
    void *data = c->data;
    free(c);
    cb(data, change_status(status), status != 0 ? raft_strerror(status) : NULL);
}

int node_change_membership(struct node *n, enum node_change_kind kind, uint64_t id, const char *raft_address,
                           enum node_role role, node_done_cb cb, void *data)
{
    /* A restored node's log still holds entries that do not carry its
     * store (restore.h): a member added now would be sent them instead of
     * a snapshot. The compaction comes within a second; joiners retry. */
    if (kind == NODE_CHANGE_ADD && n->restore_compacting)
        return NODE_EBUSY;
    struct node_change *c = change_new(n, cb, data);
    int rv;
    switch (kind) {
    case NODE_CHANGE_ADD:
        rv = raft_add(&n->raft, &c->change, id, raft_address, change_cb);
        break;
    case NODE_CHANGE_ASSIGN:
        rv = raft_assign(&n->raft, &c->change, id, role_to_raft(role), change_cb);
        break;
    default:
        rv = raft_remove(&n->raft, &c->change, id, change_cb);
        break;
    }
    if (rv != 0) {
        free(c);
        if (change_status(rv) == NODE_EFAILED)
            log_warn("configuration change: %s", raft_strerror(rv));
    }
    return change_status(rv);
}

static void transfer_cb(struct raft_transfer *t)
{
    struct node_change *c = t->data;
    raft_id leader;
    const char *addr;
    raft_leader(&c->node->raft, &leader, &addr);
    bool moved = leader != 0 && leader != c->node->cfg->id;
    node_done_cb cb = c->cb;
    void *data = c->data;
    free(c);
    cb(data, moved ? 0 : NODE_ENOTMOVED, NULL);
}

int node_transfer_leadership(struct node *n, uint64_t id, node_done_cb cb, void *data)
{
    struct node_change *c = change_new(n, cb, data);
    int rv = raft_transfer(&n->raft, &c->transfer, id, transfer_cb);
    if (rv != 0)
        free(c);
    return change_status(rv);
}
