/* users.c - eventflowctl user add|del|list|whoami: the ACL commands
 * (eventflow/acl.h; docs/protocol.md, "Users and ACLs"). */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/output.h"

/* Changes go to the leader and wait for the commit. */
#define USER_CHANGE_TIMEOUT_MS 15000
#define USER_READ_TIMEOUT_MS 5000

static int user_client(struct cli *cli, int timeout_ms, struct eventflow_client **c)
{
    return cli_client(cli, EF_READ_LEADER, cli_timeout(cli, timeout_ms), c);
}

static int cmd_user_add(struct cli *cli, const struct cli_args *a)
{
    struct eventflow_client *c;
    int rc = user_client(cli, USER_CHANGE_TIMEOUT_MS, &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = eventflow_user_set(c, a->pos[0], a->pos[1], a->pos + 2, a->n_pos - 2);
    if (rc != EF_OK) {
        rc = cli_fail_call(cli, c, rc, "cannot set the user");
        eventflow_client_free(c);
        return rc;
    }
    eventflow_client_free(c);
    return output_done(cli->output == CLI_OUTPUT_JSON, json_pack("{s:s}", "user", a->pos[0]), "user %s set",
                       a->pos[0]);
}

static int cmd_user_del(struct cli *cli, const struct cli_args *a)
{
    struct eventflow_client *c;
    int rc = user_client(cli, USER_CHANGE_TIMEOUT_MS, &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = eventflow_user_delete(c, a->pos[0]);
    if (rc != EF_OK) {
        rc = cli_fail_call(cli, c, rc, "cannot delete the user");
        eventflow_client_free(c);
        return rc;
    }
    eventflow_client_free(c);
    return output_done(cli->output == CLI_OUTPUT_JSON, json_pack("{s:s}", "user", a->pos[0]), "user %s deleted",
                       a->pos[0]);
}

/* One line per user: its name and rules, as ACL LIST answers; with
 * -o json, {"user", "rules": [...]} per line. */
static int print_user(const char *line, bool json)
{
    if (!json)
        return printf("%s\n", line) < 0 ? -1 : 0;
    const char *sp = strchr(line, ' ');
    size_t nlen = sp != NULL ? (size_t)(sp - line) : strlen(line);
    json_t *rules = json_array();
    for (const char *p = sp; p != NULL && *p != '\0';) {
        p++;
        const char *end = strchr(p, ' ');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        json_array_append_new(rules, json_stringn(p, len));
        p = end;
    }
    json_t *o = json_pack("{s:s%, s:o}", "user", line, nlen, "rules", rules);
    int rc = output_json(stdout, o, false);
    json_decref(o);
    return rc;
}

static int cmd_user_list(struct cli *cli, const struct cli_args *a)
{
    (void)a;
    struct eventflow_client *c;
    int rc = user_client(cli, USER_READ_TIMEOUT_MS, &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    char **lines;
    size_t n;
    rc = eventflow_user_list(c, &lines, &n);
    if (rc != EF_OK) {
        rc = cli_fail_call(cli, c, rc, "cannot list the users");
        eventflow_client_free(c);
        return rc;
    }
    eventflow_client_free(c);
    rc = CLI_EXIT_OK;
    for (size_t i = 0; i < n && rc == CLI_EXIT_OK; i++)
        if (print_user(lines[i], cli->output == CLI_OUTPUT_JSON) != 0)
            rc = CLI_EXIT_USAGE;
    eventflow_user_list_free(lines, n);
    return rc;
}

static int cmd_user_whoami(struct cli *cli, const struct cli_args *a)
{
    (void)a;
    struct eventflow_client *c;
    int rc = user_client(cli, USER_READ_TIMEOUT_MS, &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    char name[128];
    rc = eventflow_user_whoami(c, name, sizeof name);
    if (rc != EF_OK) {
        rc = cli_fail_call(cli, c, rc, "cannot ask who this is");
        eventflow_client_free(c);
        return rc;
    }
    eventflow_client_free(c);
    if (cli->output != CLI_OUTPUT_JSON)
        return printf("%s\n", name) < 0 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    json_t *o = json_pack("{s:s}", "user", name);
    rc = output_json(stdout, o, false) != 0 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    json_decref(o);
    return rc;
}

#define RULES_HELP                                                                                              \
    "Rules: admin (cluster changes, CONFIG SET, SNAPSHOT, users, group\n"                                       \
    "administration), all (the global log), read:<prefix>, write:<prefix>,\n"                                   \
    "subscribe:<prefix> (streams whose name starts so; * is every stream).\n"                                   \
    "Log in as an admin: --user and --password (docs/protocol.md, \"Users and ACLs\").\n"

const struct cli_command cli_user_commands[] = {
    {"user add", "<user> <password> [rule ...]", 2, CLI_MAX_ARGS, "create a user or replace it whole",
     "Sets the user's password and rules (at most 6 here; ACL SETUSER takes 64),\n"
     "through the leader, once committed. The password is hashed by the leader;\n"
     "only the hash is stored.\n"
     "\n" RULES_HELP
     "\n"
     "Examples:\n"
     "  eventflowctl --user ops --password \"$OPS_PW\" user add billing \"$B_PW\" write:invoice- read:invoice-",
     NULL, cmd_user_add},
    {"user del", "<user>", 1, 1, "delete a user",
     "Deletes the user; its open connections are logged out.\n"
     "\n"
     "Examples:\n"
     "  eventflowctl user del billing",
     NULL, cmd_user_del},
    {"user list", "", 0, 0, "the users and their rules",
     "One line per user: its name, then its rules (never a password or a hash);\n"
     "-o json: {\"user\",\"rules\"} per line.\n"
     "\n"
     "Examples:\n"
     "  eventflowctl user list -o json",
     NULL, cmd_user_list},
    {"user whoami", "", 0, 0, "the user this command logs in as",
     "Prints the user the server sees (default: the password's own login).\n"
     "\n"
     "Examples:\n"
     "  eventflowctl --user billing --password \"$B_PW\" user whoami",
     NULL, cmd_user_whoami},
    {NULL, NULL, 0, 0, NULL, NULL, NULL, NULL},
};
