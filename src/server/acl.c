/* acl.c - the ACL command (acl.h). */
#include "server/acl.h"

#include <stdlib.h>
#include <string.h>

#include "acl/acl_hash.h"
#include "acl/acl_rules.h"
#include "common/log.h"
#include "common/mem.h"
#include "eventflow.pb-c.h"
#include "node/node.h"
#include "protocol/resp_writer.h"
#include "server/acl_conn.h"
#include "server/cluster.h"
#include "server/commands.h"
#include "server/conn.h"
#include "server/server.h"
#include "store/store.h"

#define ACL_PASSWORD_MAX 1024

/* One SETUSER or DELUSER, from its arrival to its reply: hashed on the
 * thread pool (SETUSER), then proposed. Owns every copy it holds. */
struct acl_req {
    uv_work_t work;
    struct conn *conn;      /* referenced through the slot */
    struct conn_slot *slot; /* owned by conn */
    char name[ACL_CONN_NAME_MAX + 1];
    bool set;
    char *password;         /* owned; wiped after hashing */
    size_t password_len;
    char **rules;           /* owned, n_rules of them */
    size_t n_rules;
    uint8_t salt[ACL_SALT_BYTES];
    uint8_t hash[ACL_HASH_BYTES];
    int hash_rc;
};

static void req_free(struct acl_req *r)
{
    if (r->password != NULL) {
        explicit_bzero(r->password, r->password_len);
        free(r->password);
    }
    for (size_t i = 0; i < r->n_rules; i++)
        free(r->rules[i]);
    free(r->rules);
    free(r);
}

static void req_finish(struct acl_req *r)
{
    conn_complete(r->conn, r->slot);
    req_free(r);
}

/* Letters, digits, '_', '-', '.': names are printed in replies and logs. */
static bool name_valid(const struct resp_arg *a)
{
    if (a->len == 0 || a->len > ACL_CONN_NAME_MAX)
        return false;
    for (size_t i = 0; i < a->len; i++) {
        char ch = a->ptr[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
                  ch == '-' || ch == '.';
        if (!ok)
            return false;
    }
    return true;
}

/* The checks SETUSER and DELUSER share: the admin right, authentication
 * on, a valid name. False once the refusal is written. */
static bool change_allowed(struct conn *c, const struct resp_command *cmd, const char *what)
{
    if (!acl_conn_admin(c, what))
        return false;
    if (c->srv->cfg->password == NULL) {
        resp_write_error(conn_reply_buf(c), "users need --password: without it authentication is off and no rule "
                                            "would bind anyone; nothing was done");
        return false;
    }
    if (cmd->argv[2].len > 0 && cmd->argv[2].ptr[0] == '@') {
        resp_write_error(conn_reply_buf(c), "names starting with '@' are the nodes' own; nothing was done");
        return false;
    }
    if (!name_valid(&cmd->argv[2])) {
        resp_write_errorf(conn_reply_buf(c),
                          "invalid user name: 1 to %d letters, digits, '_', '-' or '.'; nothing was done",
                          ACL_CONN_NAME_MAX);
        return false;
    }
    return true;
}

static void proposal_done(void *data, int status, const char *why)
{
    struct acl_req *r = data;
    struct buf *out = &r->slot->out;
    if (status == 0) {
        log_info("user '%s' %s", r->name, r->set ? "set" : "deleted");
        resp_write_simple(out, "OK");
    } else if (status == NODE_EUNKNOWN) {
        resp_write_error(out, "UNKNOWN leadership was lost before the change committed; it may still take effect: "
                              "check ACL LIST");
    } else {
        resp_write_errorf(out, "IOERR raft: %s", why != NULL ? why : "the entry failed");
    }
    req_finish(r);
}

static void propose(struct acl_req *r)
{
    Eventflow__UserRecord rec = EVENTFLOW__USER_RECORD__INIT;
    Eventflow__UserOp op = EVENTFLOW__USER_OP__INIT;
    op.name = r->name;
    if (r->set) {
        rec.salt = (ProtobufCBinaryData){.len = sizeof r->salt, .data = r->salt};
        rec.hash = (ProtobufCBinaryData){.len = sizeof r->hash, .data = r->hash};
        rec.iterations = ACL_HASH_ITERATIONS;
        rec.rules = r->rules;
        rec.n_rules = r->n_rules;
        op.set = &rec;
    }
    Eventflow__Entry entry = EVENTFLOW__ENTRY__INIT;
    entry.command_case = EVENTFLOW__ENTRY__COMMAND_USER;
    entry.user = &op;
    int rc = node_propose_entry(r->conn->srv->node, &entry, proposal_done, r);
    if (rc != 0) {
        commands_write_refusal(r->conn, &r->slot->out, rc);
        req_finish(r);
    }
}

static void hash_run(uv_work_t *work)
{
    struct acl_req *r = work->data;
    r->hash_rc = acl_hash_new(r->password, r->password_len, ACL_HASH_ITERATIONS, r->salt, r->hash);
}

static void hash_done(uv_work_t *work, int status)
{
    struct acl_req *r = work->data;
    explicit_bzero(r->password, r->password_len);
    if (status != 0 || r->hash_rc != 0) {
        resp_write_error(&r->slot->out, "IOERR hashing the password failed; nothing was done");
        req_finish(r);
        return;
    }
    propose(r);
}

/* A request in a slot, answered at once if this node is not the leader. */
static struct acl_req *req_new(struct conn *c, const struct resp_arg *name)
{
    struct acl_req *r = xcalloc(1, sizeof *r);
    r->work.data = r;
    r->conn = c;
    memcpy(r->name, name->ptr, name->len);
    r->slot = conn_defer(c, false);
    if (!cluster_require_leader(c, &r->slot->out)) {
        req_finish(r);
        return NULL;
    }
    return r;
}

static void acl_setuser(struct conn *c, const struct resp_command *cmd)
{
    if (cmd->argc < 4) {
        resp_write_error(conn_reply_buf(c), "usage: ACL SETUSER <user> <password> [rule ...]");
        return;
    }
    if (!change_allowed(c, cmd, "ACL SETUSER"))
        return;
    const struct resp_arg *user = &cmd->argv[2], *pw = &cmd->argv[3];
    if (pw->len == 0 || pw->len > ACL_PASSWORD_MAX) {
        resp_write_errorf(conn_reply_buf(c), "a password has 1 to %d bytes; nothing was done", ACL_PASSWORD_MAX);
        return;
    }
    /* Every rule is checked before anything is proposed. */
    struct acl_rules rules;
    acl_rules_init(&rules);
    char err[ACL_ERR_LEN];
    for (size_t i = 4; i < cmd->argc; i++) {
        if (acl_rules_add(&rules, cmd->argv[i].ptr, cmd->argv[i].len, err) != 0) {
            acl_rules_free(&rules);
            resp_write_errorf(conn_reply_buf(c), "%s; nothing was done", err);
            return;
        }
    }
    acl_rules_free(&rules);
    struct acl_req *r = req_new(c, user);
    if (r == NULL)
        return;
    r->set = true;
    r->password = xmalloc(pw->len);
    memcpy(r->password, pw->ptr, pw->len);
    r->password_len = pw->len;
    r->n_rules = cmd->argc - 4;
    r->rules = xcalloc(r->n_rules ? r->n_rules : 1, sizeof *r->rules);
    for (size_t i = 0; i < r->n_rules; i++) {
        const struct resp_arg *a = &cmd->argv[i + 4];
        r->rules[i] = xmalloc(a->len + 1);
        memcpy(r->rules[i], a->ptr, a->len);
        r->rules[i][a->len] = '\0';
    }
    int rc = uv_queue_work(c->srv->loop, &r->work, hash_run, hash_done);
    if (rc != 0) {
        resp_write_errorf(&r->slot->out, "IOERR cannot hash the password now: %s; nothing was done",
                          uv_strerror(rc));
        req_finish(r);
    }
}

static void acl_deluser(struct conn *c, const struct resp_command *cmd)
{
    if (cmd->argc != 3) {
        resp_write_error(conn_reply_buf(c), "usage: ACL DELUSER <user>");
        return;
    }
    if (!change_allowed(c, cmd, "ACL DELUSER"))
        return;
    char name[ACL_CONN_NAME_MAX + 1];
    memcpy(name, cmd->argv[2].ptr, cmd->argv[2].len);
    name[cmd->argv[2].len] = '\0';
    Eventflow__UserRecord *u = NULL;
    struct store *store = node_store(c->srv->node);
    int rc = store_user_get(store, name, &u);
    if (rc == STORE_ENOENT) {
        resp_write_errorf(conn_reply_buf(c), "no such user '%s'; nothing was done", name);
        return;
    }
    if (rc != 0) {
        resp_write_errorf(conn_reply_buf(c), "IOERR reading the users table: %s", store_errmsg(store));
        return;
    }
    eventflow__user_record__free_unpacked(u, NULL);
    struct acl_req *r = req_new(c, &cmd->argv[2]);
    if (r != NULL)
        propose(r);
}

/* ACL LIST: the rules, never the hashes. */
static int list_user(void *data, const char *name, size_t len, const Eventflow__UserRecord *u)
{
    struct buf *out = data;
    size_t off = resp_bulk_begin(out);
    buf_append(out, name, len);
    for (size_t i = 0; i < u->n_rules; i++) {
        buf_append_char(out, ' ');
        buf_append_str(out, u->rules[i]);
    }
    resp_bulk_end(out, off);
    return 0;
}

static int count_user(void *data, const char *name, size_t len, const Eventflow__UserRecord *u)
{
    (void)name, (void)len, (void)u;
    (*(size_t *)data)++;
    return 0;
}

static void acl_list(struct conn *c)
{
    if (!acl_conn_admin(c, "ACL LIST"))
        return;
    struct store *store = node_store(c->srv->node);
    size_t n = 0;
    if (store_user_list(store, count_user, &n) != 0) {
        resp_write_errorf(conn_reply_buf(c), "IOERR reading the users table: %s", store_errmsg(store));
        return;
    }
    struct buf *out = conn_reply_buf(c);
    resp_write_array_header(out, n);
    /* The same read of the same state: nothing applies in between (loop
     * thread), so it lists the n users counted. */
    if (store_user_list(store, list_user, out) != 0)
        log_error("ACL LIST: %s", store_errmsg(store));
}

void acl_command(struct conn *c, const struct resp_command *cmd)
{
    const struct resp_arg *sub = &cmd->argv[1];
    if (resp_arg_is(sub, "WHOAMI") && cmd->argc == 2)
        resp_write_bulk_str(conn_reply_buf(c), c->user[0] != '\0' ? c->user : "default");
    else if (resp_arg_is(sub, "LIST") && cmd->argc == 2)
        acl_list(c);
    else if (resp_arg_is(sub, "SETUSER"))
        acl_setuser(c, cmd);
    else if (resp_arg_is(sub, "DELUSER"))
        acl_deluser(c, cmd);
    else
        resp_write_error(conn_reply_buf(c), "unknown ACL subcommand: SETUSER, DELUSER, LIST or WHOAMI");
}
