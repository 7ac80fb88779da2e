/* acl.c - the ACL commands of eventflow/acl.h, through the client's retry
 * loop (ef_ask). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "common/mem.h"
#include "eventflow/acl.h"

static int answer_ok(struct eventflow_client *c, const char *what, const struct resp_value *reply, void *out)
{
    (void)out;
    if (reply->type != RESP_T_SIMPLE)
        return ef_fail(c, EF_EPROTO, "%s: unexpected reply to %s", c->last_node, what);
    return EF_OK;
}

struct lines {
    char **lines;
    size_t n;
};

static int answer_lines(struct eventflow_client *c, const char *what, const struct resp_value *reply, void *out)
{
    struct lines *l = out;
    if (reply->type != RESP_T_ARRAY)
        return ef_fail(c, EF_EPROTO, "%s: unexpected reply to %s", c->last_node, what);
    for (size_t i = 0; i < reply->n; i++)
        if (reply->elems[i].type != RESP_T_BULK)
            return ef_fail(c, EF_EPROTO, "%s: unexpected reply to %s", c->last_node, what);
    l->lines = xcalloc(reply->n ? reply->n : 1, sizeof *l->lines);
    for (size_t i = 0; i < reply->n; i++) {
        l->lines[i] = xmalloc(reply->elems[i].len + 1);
        memcpy(l->lines[i], reply->elems[i].str, reply->elems[i].len);
        l->lines[i][reply->elems[i].len] = '\0';
    }
    l->n = reply->n;
    return EF_OK;
}

/* SETUSER or DELUSER: leader only, never resent once it may have run. */
static int change(struct eventflow_client *c, size_t argc, const char *const *argv, const char *what)
{
    struct ef_call call = {.route = EF_ROUTE_LEADER, .argc = argc, .argv = argv, .idempotent = false,
                           .is_write = true};
    return ef_ask(c, &call, what, answer_ok, NULL);
}

int eventflow_user_set(struct eventflow_client *c, const char *user, const char *password,
                       const char *const *rules, size_t n_rules)
{
    if (user == NULL || password == NULL || (rules == NULL && n_rules > 0))
        return ef_fail(c, EF_EINVAL, "user set needs a user name and a password");
    const char **argv = xcalloc(4 + n_rules, sizeof *argv);
    argv[0] = "ACL";
    argv[1] = "SETUSER";
    argv[2] = user;
    argv[3] = password;
    for (size_t i = 0; i < n_rules; i++)
        argv[4 + i] = rules[i];
    int rc = change(c, 4 + n_rules, argv, "ACL SETUSER");
    free(argv);
    return rc;
}

int eventflow_user_delete(struct eventflow_client *c, const char *user)
{
    if (user == NULL)
        return ef_fail(c, EF_EINVAL, "user delete needs a user name");
    const char *argv[] = {"ACL", "DELUSER", user};
    return change(c, 3, argv, "ACL DELUSER");
}

int eventflow_user_list(struct eventflow_client *c, char ***lines, size_t *n)
{
    *lines = NULL;
    *n = 0;
    const char *argv[] = {"ACL", "LIST"};
    struct ef_call call = {.route = EF_ROUTE_READ, .argc = 2, .argv = argv, .idempotent = true};
    struct lines l = {0};
    int rc = ef_ask(c, &call, "ACL LIST", answer_lines, &l);
    if (rc == EF_OK) {
        *lines = l.lines;
        *n = l.n;
    }
    return rc;
}

void eventflow_user_list_free(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

static int answer_name(struct eventflow_client *c, const char *what, const struct resp_value *reply, void *out)
{
    struct lines *l = out;
    if (reply->type != RESP_T_BULK)
        return ef_fail(c, EF_EPROTO, "%s: unexpected reply to %s", c->last_node, what);
    l->lines = xcalloc(1, sizeof *l->lines);
    l->lines[0] = xmalloc(reply->len + 1);
    memcpy(l->lines[0], reply->str, reply->len);
    l->lines[0][reply->len] = '\0';
    l->n = 1;
    return EF_OK;
}

int eventflow_user_whoami(struct eventflow_client *c, char *out, size_t cap)
{
    if (cap > 0)
        out[0] = '\0';
    const char *argv[] = {"ACL", "WHOAMI"};
    struct ef_call call = {.route = EF_ROUTE_READ, .argc = 2, .argv = argv, .idempotent = true};
    struct lines l = {0};
    int rc = ef_ask(c, &call, "ACL WHOAMI", answer_name, &l);
    if (rc == EF_OK && cap > 0)
        snprintf(out, cap, "%s", l.lines[0]);
    eventflow_user_list_free(l.lines, l.n);
    return rc;
}
