/* acl_conn.c - a connection's user and its rules (acl_conn.h). */
#include "server/acl_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl_peer.h"
#include "common/log.h"
#include "common/mem.h"
#include "node/node.h"
#include "protocol/resp_writer.h"
#include "server/conn.h"
#include "server/server.h"
#include "store/store.h"

static const char *const right_words[ACL_N_RIGHTS] = {"read", "write", "subscribe"};

static void drop_rules(struct conn *c)
{
    if (c->acl != NULL) {
        acl_rules_free(c->acl);
        free(c->acl);
        c->acl = NULL;
    }
}

void acl_conn_set_user(struct conn *c, const char *name)
{
    drop_rules(c);
    snprintf(c->user, sizeof c->user, "%s", name != NULL ? name : "");
    /* 0 is never a generation (the store counts from its first open), so
     * the next check resolves the rules. */
    c->acl_gen = 0;
}

/* The rules of c's user as the store has them now. */
static void resolve(struct conn *c, struct store *store, uint64_t gen)
{
    drop_rules(c);
    c->acl_gen = gen;
    if (strcmp(c->user, ACL_PEER_USER) == 0)
        return;
    Eventflow__UserRecord *u = NULL;
    int rc = store_user_get(store, c->user, &u);
    if (rc == STORE_ENOENT) {
        /* "default" without a record is the --password login, with every
         * right; any other user was deleted: log it out. */
        if (strcmp(c->user, "default") != 0) {
            c->authenticated = false;
            c->user[0] = '\0';
        }
        return;
    }
    c->acl = xmalloc(sizeof *c->acl);
    acl_rules_init(c->acl);
    if (rc != 0) {
        /* Unreadable: no right at all until the next change. */
        log_error("reading user '%s': %s", c->user, store_errmsg(store));
        return;
    }
    char err[ACL_ERR_LEN];
    for (size_t i = 0; i < u->n_rules; i++)
        if (acl_rules_add(c->acl, u->rules[i], strlen(u->rules[i]), err) != 0)
            log_warn("user '%s': %s (ignored)", c->user, err);
    eventflow__user_record__free_unpacked(u, NULL);
}

void acl_conn_refresh(struct conn *c)
{
    if (c->user[0] == '\0')
        return;
    struct store *store = node_store(c->srv->node);
    uint64_t gen = store_users_generation(store);
    if (c->acl_gen != gen)
        resolve(c, store, gen);
}

static bool refuse(struct conn *c, const char *what)
{
    resp_write_errorf(conn_reply_buf(c), "NOPERM user '%s' has no %s; nothing was done", c->user, what);
    return false;
}

/* Whether c's rules have `flag`; if not, -NOPERM naming the right. */
static bool has_flag(struct conn *c, unsigned flag, const char *right, const char *what)
{
    if (c->acl == NULL || (c->acl->flags & flag))
        return true;
    char why[128];
    snprintf(why, sizeof why, "%s right (%s)", right, what);
    return refuse(c, why);
}

bool acl_conn_admin(struct conn *c, const char *what)
{
    return has_flag(c, ACL_ADMIN, "admin", what);
}

bool acl_conn_all(struct conn *c, const char *what)
{
    return has_flag(c, ACL_ALL, "'all'", what);
}

bool acl_conn_stream(struct conn *c, enum acl_right right, const char *name, size_t len)
{
    if (c->acl == NULL || acl_rules_allow(c->acl, right, name, len))
        return true;
    char why[ACL_MAX_PREFIX + 64];
    int shown = (int)(len > ACL_MAX_PREFIX ? ACL_MAX_PREFIX : len);
    snprintf(why, sizeof why, "%s right on stream '%.*s'", right_words[right], shown, name);
    return refuse(c, why);
}
