/* discovery.c - the client's view of the cluster, and routing.
 *
 * The view is a table of nodes (the seeds until CLUSTER MEMBERS has
 * answered, then the members that serve clients), which of them leads,
 * and which one reads stick to. It is refreshed lazily: a failure marks it
 * stale, and the next request that needs routing asks the cluster again
 * (ef_view_refresh), so a burst of failures costs one refresh, not one
 * per request.
 *
 * Each node keeps at most one connection, opened on first use and kept
 * while healthy. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "common/mem.h"

/* ---- endpoints -------------------------------------------------------- */

int ef_endpoints_parse(const char *list, struct ef_endpoint **out, size_t *n, char *err,
                       size_t err_cap)
{
    *out = NULL;
    *n = 0;
    struct ef_endpoint *eps = xcalloc(EF_MAX_SEEDS, sizeof *eps);
    size_t count = 0;
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        bool blank = strspn(p, " \t") >= len;
        if (!blank) {
            if (count == EF_MAX_SEEDS) {
                snprintf(err, err_cap, "more than %d endpoints", EF_MAX_SEEDS);
                free(eps);
                return -1;
            }
            if (ef_endpoint_parse(p, len, &eps[count]) != 0) {
                snprintf(err, err_cap, "invalid endpoint \"%.*s\" (expected host:port)",
                         (int)(len > 100 ? 100 : len), p);
                free(eps);
                return -1;
            }
            /* The same node twice would only be asked twice. */
            bool dup = false;
            for (size_t i = 0; i < count; i++)
                dup = dup || strcmp(eps[i].addr, eps[count].addr) == 0;
            if (!dup)
                count++;
        }
        if (end == NULL)
            break;
        p = end + 1;
    }
    if (count == 0) {
        snprintf(err, err_cap, "no endpoint given");
        free(eps);
        return -1;
    }
    *out = eps;
    *n = count;
    return 0;
}

/* ---- the node table --------------------------------------------------- */

static int node_find(const struct eventflow_client *c, const char *addr)
{
    for (size_t i = 0; i < c->n_nodes; i++)
        if (strcmp(c->nodes[i].ep.addr, addr) == 0)
            return (int)i;
    return -1;
}

static int node_add(struct eventflow_client *c, const struct ef_endpoint *ep)
{
    c->nodes = xrealloc(c->nodes, (c->n_nodes + 1) * sizeof *c->nodes);
    struct ef_node *nd = &c->nodes[c->n_nodes];
    memset(nd, 0, sizeof *nd);
    nd->ep = *ep;
    ef_conn_init(&nd->conn);
    return (int)c->n_nodes++;
}

int ef_node_intern(struct eventflow_client *c, const char *addr)
{
    int i = node_find(c, addr);
    if (i >= 0)
        return i;
    struct ef_endpoint ep;
    if (ef_endpoint_parse(addr, strlen(addr), &ep) != 0)
        return -1;
    /* Parsing may normalize (brackets); look again under that name. */
    i = node_find(c, ep.addr);
    return i >= 0 ? i : node_add(c, &ep);
}

int ef_set_leader(struct eventflow_client *c, const char *addr)
{
    int i = ef_node_intern(c, addr);
    c->leader = i;
    snprintf(c->leader_addr, sizeof c->leader_addr, "%s", i >= 0 ? c->nodes[i].ep.addr : "");
    return i;
}

void ef_forget_leader(struct eventflow_client *c)
{
    c->leader = -1;
    c->leader_addr[0] = '\0';
}

void ef_node_failed(struct eventflow_client *c, int i)
{
    struct ef_node *nd = &c->nodes[i];
    ef_conn_close(&nd->conn);
    nd->failed_at = ef_now_ms();
    nd->failed_call = c->call_no;
    if (c->leader == i) {
        ef_forget_leader(c);
        c->view_stale = true;
    }
    if (c->reader == i)
        c->reader = -1;
}

const char *ef_member_address(const struct eventflow_client *c, const struct eventflow_member *m)
{
    return c->tls != NULL ? m->tls_address : m->client_address;
}

/* Replace the table with the members' client addresses, carrying over the
 * connections and failure marks of nodes that stay. Spares are left out:
 * they hold no replicated data to read. */
static void table_from_members(struct eventflow_client *c, const struct eventflow_member_list *ml)
{
    char leader[EF_ADDR_MAX], reader[EF_ADDR_MAX];
    snprintf(leader, sizeof leader, "%s", c->leader >= 0 ? c->nodes[c->leader].ep.addr : "");
    snprintf(reader, sizeof reader, "%s", c->reader >= 0 ? c->nodes[c->reader].ep.addr : "");

    struct ef_node *old = c->nodes;
    size_t n_old = c->n_nodes;
    c->nodes = NULL;
    c->n_nodes = 0;
    for (size_t m = 0; m < ml->n; m++) {
        const struct eventflow_member *mb = &ml->members[m];
        struct ef_endpoint ep;
        const char *addr = ef_member_address(c, mb);
        if (mb->role == EF_ROLE_SPARE || addr[0] == '\0' || ef_endpoint_parse(addr, strlen(addr), &ep) != 0 ||
            node_find(c, ep.addr) >= 0)
            continue;
        int i = node_add(c, &ep);
        c->nodes[i].id = mb->id;
        for (size_t k = 0; k < n_old; k++) {
            if (strcmp(old[k].ep.addr, ep.addr) == 0) {
                c->nodes[i].conn = old[k].conn;
                c->nodes[i].failed_at = old[k].failed_at;
                c->nodes[i].failed_call = old[k].failed_call;
                ef_conn_init(&old[k].conn); /* moved */
            }
        }
    }
    for (size_t k = 0; k < n_old; k++)
        ef_conn_close(&old[k].conn);
    free(old);
    c->members_known = c->n_nodes > 0;
    if (c->n_nodes == 0) { /* nobody serves clients?: keep asking the seeds */
        for (size_t s = 0; s < c->n_seeds; s++)
            node_add(c, &c->seeds[s]);
    }
    c->leader = leader[0] != '\0' ? node_find(c, leader) : -1;
    if (c->leader < 0)
        c->leader_addr[0] = '\0';
    c->reader = reader[0] != '\0' ? node_find(c, reader) : -1;
}

/* ---- connecting ------------------------------------------------------- */

int ef_conn_connect(struct eventflow_client *c, struct ef_conn *cn, const struct ef_endpoint *ep,
                    int64_t deadline_ms)
{
    int64_t cdl = ef_now_ms() + c->connect_timeout_ms;
    if (cdl > deadline_ms)
        cdl = deadline_ms;
    char why[400];
    int opened = ef_conn_open(cn, ep, c->tls, cdl, why, sizeof why);
    if (opened != 0)
        return ef_fail(c, opened == -2 ? EF_EAUTH : EF_EUNAVAILABLE, "%s", why);
    if (c->password == NULL)
        return EF_OK;
    /* AUTH <user> <password>, or AUTH <password> for the password's own
     * login. */
    const char *with_user[] = {"AUTH", c->user, c->password};
    const char *alone[] = {"AUTH", c->password};
    if (c->user != NULL)
        ef_conn_queue(cn, 3, with_user, NULL);
    else
        ef_conn_queue(cn, 2, alone, NULL);
    if (ef_conn_flush(cn, cdl, why, sizeof why) != 0) {
        ef_conn_close(cn);
        return ef_fail(c, EF_EUNAVAILABLE, "%s: AUTH: %s", ep->addr, why);
    }
    struct resp_value v;
    int rc = ef_conn_read(cn, &v, cdl);
    if (rc != EF_IO_REPLY) {
        ef_conn_close(cn);
        return ef_fail(c, EF_EUNAVAILABLE, "%s: no reply to AUTH", ep->addr);
    }
    int result = EF_OK;
    if (v.type == RESP_T_ERROR && ef_reply_error_code(v.str) == EF_EAUTH)
        result = ef_fail(c, EF_EAUTH, "%s: wrong user or password (AUTH answered -%s)", ep->addr, v.str);
    else if (v.type != RESP_T_SIMPLE || strcmp(v.str, "OK") != 0)
        result = ef_fail(c, EF_EUNAVAILABLE, "%s: AUTH answered %s", ep->addr,
                         v.type == RESP_T_ERROR ? v.str : "something unexpected");
    resp_value_free(&v);
    if (result != EF_OK)
        ef_conn_close(cn);
    return result;
}

int ef_node_connect(struct eventflow_client *c, int i, int64_t deadline_ms, bool verify)
{
    struct ef_node *nd = &c->nodes[i];
    if (ef_conn_is_open(&nd->conn) && !verify && ef_now_ms() - nd->used_at < EF_IDLE_CHECK_MS)
        return EF_OK;
    if (ef_conn_check_idle(&nd->conn))
        return EF_OK;
    int rc = ef_conn_connect(c, &nd->conn, &nd->ep, deadline_ms);
    if (rc == EF_EUNAVAILABLE)
        ef_node_failed(c, i);
    return rc;
}

/* ---- refreshing the view ---------------------------------------------- */

/* STATUS and CLUSTER MEMBERS of one node, on connection cn. */
static int ask_node(struct eventflow_client *c, struct ef_conn *cn, const char *addr,
                    int64_t deadline_ms, struct eventflow_node_status *st,
                    struct eventflow_member_list *members)
{
    const char *status_argv[] = {"STATUS"};
    const char *members_argv[] = {"CLUSTER", "MEMBERS"};
    ef_conn_queue(cn, 1, status_argv, NULL);
    ef_conn_queue(cn, 2, members_argv, NULL);
    int64_t rdl = ef_now_ms() + c->request_timeout_ms;
    if (rdl > deadline_ms)
        rdl = deadline_ms;
    char why[200];
    if (ef_conn_flush(cn, rdl, why, sizeof why) != 0)
        return ef_fail(c, EF_EUNAVAILABLE, "%s: %s", addr, why);
    struct resp_value sv, mv;
    if (ef_conn_read(cn, &sv, rdl) != EF_IO_REPLY)
        return ef_fail(c, EF_EUNAVAILABLE, "%s: no reply to STATUS", addr);
    if (ef_conn_read(cn, &mv, rdl) != EF_IO_REPLY) {
        resp_value_free(&sv);
        return ef_fail(c, EF_EUNAVAILABLE, "%s: no reply to CLUSTER MEMBERS", addr);
    }
    char err[EF_ERR_LEN];
    int rc = EF_OK;
    if (sv.type == RESP_T_ERROR)
        rc = ef_fail(c, ef_reply_error_code(sv.str) == EF_EAUTH ? EF_EAUTH : EF_EUNAVAILABLE,
                     "%s: STATUS answered -%s", addr, sv.str);
    else if (sv.type != RESP_T_BULK || ef_json_status(sv.str, sv.len, st, err) != EF_OK)
        rc = ef_fail(c, EF_EUNAVAILABLE, "%s: unreadable STATUS reply", addr);
    /* An old or odd node without CLUSTER MEMBERS still tells the leader. */
    if (rc == EF_OK && ef_json_members(&mv, members, err) != EF_OK)
        members->n = 0;
    resp_value_free(&sv);
    resp_value_free(&mv);
    return rc;
}

/* What one node said: update the table and the leader. Returns true if a
 * leader is now known. */
static bool apply_answer(struct eventflow_client *c, const char *asked,
                         const struct eventflow_node_status *st,
                         const struct eventflow_member_list *members)
{
    if (members->n > 0)
        table_from_members(c, members);
    const char *self = c->tls != NULL ? st->tls_address : st->client_address;
    const char *named = c->tls != NULL ? st->leader_tls_address : st->leader_address;
    const char *leader = NULL;
    if (strcmp(st->state, "leader") == 0)
        leader = self[0] != '\0' ? self : asked;
    else if (st->leader_id != 0 && named[0] != '\0')
        leader = named;
    if (leader == NULL)
        return false;
    return ef_set_leader(c, leader) >= 0;
}

int ef_view_refresh(struct eventflow_client *c, int64_t deadline_ms)
{
    /* Who to ask: the table (members, or seeds), then seeds not in it. The
     * list is copied: answers rebuild the table as we go. */
    size_t n_ask = 0;
    struct ef_endpoint *ask = xcalloc(c->n_nodes + c->n_seeds, sizeof *ask);
    /* Start at a random node so that many clients spread their questions,
     * but ask nodes that failed recently last. */
    size_t start = c->n_nodes > 0 ? (size_t)(ef_rng_next(&c->rng) % c->n_nodes) : 0;
    int64_t now = ef_now_ms();
    for (int pass = 0; pass < 2; pass++) {
        for (size_t k = 0; k < c->n_nodes; k++) {
            const struct ef_node *nd = &c->nodes[(start + k) % c->n_nodes];
            bool penalized = nd->failed_at != 0 && now - nd->failed_at < EF_NODE_PENALTY_MS;
            if (penalized == (pass == 1))
                ask[n_ask++] = nd->ep;
        }
    }
    for (size_t s = 0; s < c->n_seeds; s++)
        if (node_find(c, c->seeds[s].addr) < 0)
            ask[n_ask++] = c->seeds[s];

    bool answered = false;
    int rc = EF_EUNAVAILABLE;
    for (size_t k = 0; k < n_ask && ef_now_ms() < deadline_ms; k++) {
        struct eventflow_node_status st;
        struct eventflow_member_list members = {0};
        int i = node_find(c, ask[k].addr);
        struct ef_conn tmp;
        ef_conn_init(&tmp);
        struct ef_conn *cn = &tmp;
        if (i >= 0) {
            rc = ef_node_connect(c, i, deadline_ms, false);
            cn = &c->nodes[i].conn;
        } else {
            rc = ef_conn_connect(c, &tmp, &ask[k], deadline_ms);
        }
        if (rc == EF_OK) {
            rc = ask_node(c, cn, ask[k].addr, deadline_ms, &st, &members);
            if (rc != EF_OK && rc != EF_EAUTH && i >= 0)
                ef_node_failed(c, i);
            else if (i >= 0)
                c->nodes[i].used_at = ef_now_ms();
        }
        ef_conn_close(&tmp);
        if (rc == EF_EAUTH) {
            free(ask);
            return rc;
        }
        if (rc != EF_OK)
            continue;
        answered = true;
        bool have_leader = apply_answer(c, ask[k].addr, &st, &members);
        eventflow_member_list_free(&members);
        if (have_leader)
            break;
    }
    free(ask);
    char cause[sizeof c->err];
    if (!answered)
        return ef_fail(c, EF_EUNAVAILABLE, "no node answered (last: %s)",
                       ef_error_cause(c->err, cause, sizeof cause));
    c->view_stale = false;
    return EF_OK;
}

/* ---- routing ---------------------------------------------------------- */

static bool usable(const struct eventflow_client *c, int i)
{
    return c->nodes[i].failed_call != c->call_no;
}

/* A node for reads other than `except` (-1: none excluded), preferring
 * nodes that have not failed recently; -1 if every node failed this round. */
static int pick_reader(struct eventflow_client *c, int except)
{
    int64_t now = ef_now_ms();
    size_t n = c->n_nodes;
    size_t start = n > 0 ? (size_t)(ef_rng_next(&c->rng) % n) : 0;
    int fallback = -1;
    for (size_t k = 0; k < n; k++) {
        int i = (int)((start + k) % n);
        if (i == except || !usable(c, i))
            continue;
        const struct ef_node *nd = &c->nodes[i];
        if (nd->failed_at == 0 || now - nd->failed_at >= EF_NODE_PENALTY_MS)
            return i;
        if (fallback < 0)
            fallback = i;
    }
    return fallback;
}

int ef_route(struct eventflow_client *c, enum ef_route route, int64_t deadline_ms)
{
    if (c->view_stale || !c->members_known || (route == EF_ROUTE_LEADER && c->leader < 0)) {
        int rc = ef_view_refresh(c, deadline_ms);
        if (rc != EF_OK)
            return rc;
    }
    enum eventflow_read_preference pref =
        route == EF_ROUTE_LEADER ? EF_READ_LEADER : c->read_preference;
    char cause[sizeof c->err];
    switch (pref) {
    case EF_READ_LEADER:
        if (c->leader < 0)
            return ef_fail(c, EF_EUNAVAILABLE, "no leader is known (election in progress?)");
        if (!usable(c, c->leader))
            return ef_fail(c, EF_EUNAVAILABLE, "the leader %s failed", c->nodes[c->leader].ep.addr);
        return c->leader;
    case EF_READ_FOLLOWER:
        if (c->reader >= 0 && c->reader != c->leader && usable(c, c->reader))
            return c->reader;
        c->reader = pick_reader(c, c->leader);
        if (c->reader >= 0)
            return c->reader;
        if (c->leader >= 0 && usable(c, c->leader))
            return c->leader; /* no follower answers: the leader has the data too */
        return ef_fail(c, EF_EUNAVAILABLE, "no node could serve the read (last: %s)",
                       ef_error_cause(c->err, cause, sizeof cause));
    case EF_READ_ANY:
        if (c->reader >= 0 && usable(c, c->reader))
            return c->reader;
        c->reader = pick_reader(c, -1);
        if (c->reader >= 0)
            return c->reader;
        return ef_fail(c, EF_EUNAVAILABLE, "no node could serve the read (last: %s)",
                       ef_error_cause(c->err, cause, sizeof cause));
    }
    return ef_fail(c, EF_EINVAL, "unknown read preference");
}
