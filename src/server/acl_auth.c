/* acl_auth.c - AUTH (acl_auth.h). */
#include "server/acl_auth.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl_hash.h"
#include "acl/acl_peer.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/text.h"
#include "node/node.h"
#include "protocol/resp_writer.h"
#include "server/acl_conn.h"
#include "server/conn.h"
#include "server/server.h"
#include "store/store.h"

/* One AUTH checked on the thread pool. Owns its copies of the secret
 * material; the slot holds the connection. */
struct auth_work {
    uv_work_t req;
    struct conn *conn;
    struct conn_slot *slot;
    struct acl_auth_then then;
    bool named;                      /* a user other than "default": -WRONGPASS */
    char user[ACL_CONN_NAME_MAX + 1];
    struct acl_hash_check check;
};

bool acl_auth_pending(const struct conn *c)
{
    return c->auth_pending;
}

static void auth_succeeded(struct conn *c, struct buf *out, const char *user, const struct acl_auth_then *then)
{
    c->authenticated = true;
    c->auth_failures = 0;
    acl_conn_set_user(c, user);
    then->ok(c, out, then);
}

static void close_for_failures(struct conn *c)
{
    log_warn("client %s: %u failed AUTH attempts; closing the connection", c->peer, c->auth_failures);
    conn_close_after_write(c);
}

static void auth_failed(struct conn *c, struct buf *out, bool named)
{
    c->authenticated = false;
    acl_conn_set_user(c, NULL);
    c->auth_failures++;
    if (named)
        resp_write_error(out, "WRONGPASS invalid username-password pair");
    else
        resp_write_error(out, "unauthorized");
    if (c->auth_failures >= ACL_AUTH_MAX_FAILURES) {
        close_for_failures(c);
        return;
    }
    if (c->auth_failures < ACL_AUTH_FREE_FAILURES)
        return;
    unsigned shift = c->auth_failures - ACL_AUTH_FREE_FAILURES;
    uint64_t delay = (uint64_t)ACL_AUTH_FIRST_DELAY_MS << shift;
    if (delay > ACL_AUTH_MAX_DELAY_MS)
        delay = ACL_AUTH_MAX_DELAY_MS;
    c->auth_retry_ms = uv_now(c->srv->loop) + delay;
    if (c->auth_failures == ACL_AUTH_FREE_FAILURES)
        log_warn("client %s: %u failed AUTH attempts; further attempts are throttled", c->peer, c->auth_failures);
}

static void auth_work_run(uv_work_t *req)
{
    struct auth_work *w = req->data;
    acl_hash_check_run(&w->check);
}

/* Whether the record still holds the hash that was checked: a password
 * changed while the hash ran must not let the old one in. */
static bool record_unchanged(struct conn *c, const struct auth_work *w)
{
    Eventflow__UserRecord *u = NULL;
    if (store_user_get(node_store(c->srv->node), w->user, &u) != 0)
        return false;
    bool same = u->hash.len == ACL_HASH_BYTES && memcmp(u->hash.data, w->check.hash, ACL_HASH_BYTES) == 0;
    eventflow__user_record__free_unpacked(u, NULL);
    return same;
}

static void auth_work_done(uv_work_t *req, int status)
{
    struct auth_work *w = req->data;
    struct conn *c = w->conn;
    struct buf *out = &w->slot->out;
    c->auth_pending = false;
    if (status == 0 && w->check.ok && record_unchanged(c, w))
        auth_succeeded(c, out, w->user, &w->then);
    else
        auth_failed(c, out, w->named);
    acl_hash_check_clear(&w->check);
    conn_complete(c, w->slot);
    free(w);
}

/* Check user's password against its record off the loop; unknown users go
 * through a dummy record (known = false). */
static void auth_queue(struct conn *c, const char *user, bool named, const struct resp_arg *password,
                       const Eventflow__UserRecord *u, const struct acl_auth_then *then)
{
    struct auth_work *w = xcalloc(1, sizeof *w);
    w->req.data = w;
    w->conn = c;
    w->then = *then;
    w->named = named;
    snprintf(w->user, sizeof w->user, "%s", user);
    if (u != NULL)
        acl_hash_check_init(&w->check, password->ptr, password->len, u->salt.data, u->salt.len, u->hash.data,
                            u->hash.len, u->iterations);
    else
        acl_hash_check_init(&w->check, password->ptr, password->len, NULL, 0, NULL, 0, 0);
    w->slot = conn_defer(c, false);
    c->auth_pending = true;
    int rc = uv_queue_work(c->srv->loop, &w->req, auth_work_run, auth_work_done);
    if (rc != 0) {
        log_error("AUTH: cannot queue the password check: %s", uv_strerror(rc));
        c->auth_pending = false;
        resp_write_error(&w->slot->out, "IOERR cannot check the password now; retry");
        acl_hash_check_clear(&w->check);
        conn_complete(c, w->slot);
        free(w);
    }
}

static bool arg_is_name(const struct resp_arg *a)
{
    return a->len > 0 && a->len <= ACL_CONN_NAME_MAX && memchr(a->ptr, '\0', a->len) == NULL;
}

void acl_auth_login(struct conn *c, const struct resp_arg *user, const struct resp_arg *password,
                    const struct acl_auth_then *then)
{
    struct server *s = c->srv;
    bool named = user != NULL;
    uint64_t now = uv_now(s->loop);
    if (c->auth_retry_ms > now) {
        /* An attempt that did not wait counts as a failure: a guesser that
         * ignores the delay reaches the close sooner. */
        resp_write_errorf(conn_reply_buf(c),
                          "TOOMANY failed AUTH attempts on this connection; nothing was checked: retry in %" PRIu64
                          " ms",
                          c->auth_retry_ms - now);
        if (++c->auth_failures >= ACL_AUTH_MAX_FAILURES)
            close_for_failures(c);
        return;
    }
    char name[ACL_CONN_NAME_MAX + 1] = "default";
    if (named) {
        if (!arg_is_name(user)) {
            auth_failed(c, conn_reply_buf(c), true);
            return;
        }
        memcpy(name, user->ptr, user->len);
        name[user->len] = '\0';
        /* "default" keeps the single password's -unauthorized. */
        named = strcmp(name, "default") != 0;
    }
    if (strcmp(name, ACL_PEER_USER) == 0) {
        if (text_secret_equal(s->cfg->peer_token, password->ptr, password->len))
            auth_succeeded(c, conn_reply_buf(c), name, then);
        else
            auth_failed(c, conn_reply_buf(c), named);
        return;
    }
    Eventflow__UserRecord *u = NULL;
    int rc = store_user_get(node_store(s->node), name, &u);
    if (rc == STORE_ENOENT && strcmp(name, "default") == 0) {
        /* The --password login, fast: the password is the cluster's own
         * secret, not a user's. */
        if (text_secret_equal(s->cfg->password, password->ptr, password->len))
            auth_succeeded(c, conn_reply_buf(c), name, then);
        else
            auth_failed(c, conn_reply_buf(c), named);
        return;
    }
    if (rc != 0 && rc != STORE_ENOENT) {
        resp_write_errorf(conn_reply_buf(c), "IOERR reading the users table: %s", store_errmsg(node_store(s->node)));
        return;
    }
    auth_queue(c, name, named, password, u, then);
    if (u != NULL)
        eventflow__user_record__free_unpacked(u, NULL);
}

static void auth_ok(struct conn *c, struct buf *out, const struct acl_auth_then *then)
{
    (void)c;
    (void)then;
    resp_write_simple(out, "OK");
}

void acl_auth_command(struct conn *c, const struct resp_command *cmd)
{
    if (c->srv->cfg->password == NULL) {
        resp_write_simple(conn_reply_buf(c), "OK");
        return;
    }
    if (cmd->argc < 2 || cmd->argc > 3) {
        resp_write_error(conn_reply_buf(c), cmd->argc < 2 ? "insufficient arguments"
                                                          : "syntax error: AUTH [<user>] <password>");
        return;
    }
    const struct acl_auth_then then = {.ok = auth_ok};
    if (cmd->argc == 2)
        acl_auth_login(c, NULL, &cmd->argv[1], &then);
    else
        acl_auth_login(c, &cmd->argv[1], &cmd->argv[2], &then);
}
