/* members.c - the configuration and changes to it: members, member
 * add|promote|demote|remove, transfer.
 *
 * Changes go to the leader through the library, one at a time in the
 * cluster. They are not idempotent, so the library never resends one whose
 * outcome it lost: such a change fails with EF_EUNKNOWN and the operator
 * checks `eventflowctl members`. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/output.h"

/* Membership changes wait out a change in progress and a catch-up. */
#define CHANGE_TIMEOUT_MS 30000
#define MEMBERS_TIMEOUT_MS 5000

static int role_parse(struct cli *cli, const char *s, enum eventflow_role *out)
{
    if (strcmp(s, "voter") == 0)
        *out = EF_ROLE_VOTER;
    else if (strcmp(s, "standby") == 0)
        *out = EF_ROLE_STANDBY;
    else if (strcmp(s, "spare") == 0)
        *out = EF_ROLE_SPARE;
    else
        return cli_usage(cli, "role must be voter, standby or spare, not \"%s\"", s);
    return CLI_EXIT_OK;
}

static int member_id(struct cli *cli, const char *s, uint64_t *id)
{
    return cli_parse_u64(cli, "the member id", s, 1, UINT64_MAX, id) == 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

/* Print the outcome of a change: a line, or {"ok":true,...} with -o json. */
/* ---- members ------------------------------------------------------------------ */

/* CLUSTER MEMBERS from a node of the given preference. */
static int members_from(struct cli *cli, enum eventflow_read_preference pref, int timeout_ms,
                        struct eventflow_member_list *ml, bool quiet)
{
    struct eventflow_client *c;
    int rc = cli_client(cli, pref, timeout_ms, &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = eventflow_cluster_members(c, ml);
    if (rc != EF_OK)
        rc = quiet ? CLI_EXIT_UNAVAILABLE : cli_fail_call(cli, c, rc, "cannot list the members");
    eventflow_client_free(c);
    return rc;
}

static int cmd_members(struct cli *cli, const struct cli_args *a)
{
    (void)a;
    /* The leader's view first: a change it just made (member add waits
     * until the new member's address is applied there) shows at once.
     * Without a leader, any member's view. */
    int budget = cli_timeout(cli, MEMBERS_TIMEOUT_MS);
    struct eventflow_member_list ml = {0};
    int rc = members_from(cli, EF_READ_LEADER, budget / 2 > 0 ? budget / 2 : 1, &ml, true);
    if (rc != CLI_EXIT_OK) {
        eventflow_member_list_free(&ml);
        memset(&ml, 0, sizeof ml);
        rc = members_from(cli, EF_READ_ANY, budget / 2 > 0 ? budget / 2 : 1, &ml, false);
        if (rc != CLI_EXIT_OK)
            return rc;
    }
    if (cli->output == CLI_OUTPUT_JSON) {
        json_t *arr = json_array();
        for (size_t i = 0; i < ml.n; i++) {
            const struct eventflow_member *m = &ml.members[i];
            json_t *o = json_object();
            json_object_set_new(o, "id", output_json_u64(m->id));
            json_object_set_new(o, "role", json_string(output_role_name(m->role)));
            json_object_set_new(o, "raft_address", json_string(m->raft_address));
            json_object_set_new(o, "client_address", json_string(m->client_address));
            json_object_set_new(o, "tls_address", m->tls_address[0] ? json_string(m->tls_address) : json_null());
            json_object_set_new(o, "incarnation", m->incarnation[0] ? json_string(m->incarnation) : json_null());
            json_object_set_new(o, "committed", json_boolean(m->committed));
            json_array_append_new(arr, o);
        }
        rc = output_json(stdout, arr, true) == 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        json_decref(arr);
    } else {
        static const char *const headers[] = {"ID", "ROLE", "RAFT ADDRESS", "CLIENT ADDRESS", "INCARNATION"};
        struct table *t = table_new(5, headers);
        table_align_right(t, 0);
        for (size_t i = 0; i < ml.n; i++) {
            const struct eventflow_member *m = &ml.members[i];
            table_row(t);
            table_set(t, 0, "%" PRIu64, m->id);
            table_set(t, 1, "%s", output_role_name(m->role));
            table_set(t, 2, "%s", m->raft_address);
            table_set(t, 3, "%s", m->client_address[0] ? m->client_address : "-");
            table_set(t, 4, "%s", m->incarnation[0] ? m->incarnation : "-");
        }
        table_print(t, stdout);
        table_free(t);
        if (ml.n > 0 && !ml.members[0].committed)
            printf("(a configuration change is in progress: not yet committed by a quorum)\n");
    }
    eventflow_member_list_free(&ml);
    return rc;
}

/* ---- changes -------------------------------------------------------------------- */

static int change_client(struct cli *cli, struct eventflow_client **c)
{
    return cli_client(cli, EF_READ_LEADER, cli_timeout(cli, CHANGE_TIMEOUT_MS), c);
}

static int cmd_member_add(struct cli *cli, const struct cli_args *a)
{
    uint64_t id;
    enum eventflow_role role = EF_ROLE_SPARE;
    const char *role_arg = cli_flag(a, "role");
    if (member_id(cli, a->pos[0], &id) != CLI_EXIT_OK ||
        (role_arg != NULL && role_parse(cli, role_arg, &role) != CLI_EXIT_OK))
        return CLI_EXIT_USAGE;
    if (strchr(a->pos[1], ':') == NULL || strchr(a->pos[2], ':') == NULL)
        return cli_usage(cli, "addresses must be host:port");
    struct eventflow_client *c;
    int rc = change_client(cli, &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = eventflow_member_add(c, id, a->pos[1], a->pos[2]);
    if (rc != EF_OK) {
        rc = cli_fail_call(cli, c, rc, "cannot add the member");
        eventflow_client_free(c);
        return rc;
    }
    if (role != EF_ROLE_SPARE) {
        rc = eventflow_member_assign(c, id, role);
        if (rc != EF_OK) {
            rc = cli_fail_call(cli, c, rc, "added as a spare, but cannot assign the role");
            eventflow_client_free(c);
            return rc;
        }
    }
    eventflow_client_free(c);
    const char *name = output_role_name(role);
    return output_done(cli->output == CLI_OUTPUT_JSON, json_pack("{s:I, s:s}", "id", (json_int_t)id, "role", name),
                "added member %" PRIu64 " (raft %s, clients %s) as %s", id, a->pos[1], a->pos[2],
                name);
}

/* promote and demote: assign a role, with each its default. */
static int assign(struct cli *cli, const struct cli_args *a, enum eventflow_role dflt, bool promote)
{
    uint64_t id;
    enum eventflow_role role = dflt;
    if (member_id(cli, a->pos[0], &id) != CLI_EXIT_OK ||
        (a->n_pos > 1 && role_parse(cli, a->pos[1], &role) != CLI_EXIT_OK))
        return CLI_EXIT_USAGE;
    if (promote && role == EF_ROLE_SPARE)
        return cli_usage(cli, "promote to voter or standby (use demote for spare)");
    if (!promote && role == EF_ROLE_VOTER)
        return cli_usage(cli, "demote to standby or spare (use promote for voter)");
    struct eventflow_client *c;
    int rc = change_client(cli, &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = eventflow_member_assign(c, id, role);
    if (rc != EF_OK) {
        rc = cli_fail_call(cli, c, rc, promote ? "cannot promote the member" : "cannot demote the member");
        eventflow_client_free(c);
        return rc;
    }
    eventflow_client_free(c);
    const char *name = output_role_name(role);
    return output_done(cli->output == CLI_OUTPUT_JSON, json_pack("{s:I, s:s}", "id", (json_int_t)id, "role", name),
                "member %" PRIu64 " is now a %s", id, name);
}

static int cmd_member_promote(struct cli *cli, const struct cli_args *a)
{
    return assign(cli, a, EF_ROLE_VOTER, true);
}

static int cmd_member_demote(struct cli *cli, const struct cli_args *a)
{
    return assign(cli, a, EF_ROLE_SPARE, false);
}

static int cmd_member_remove(struct cli *cli, const struct cli_args *a)
{
    uint64_t id;
    if (member_id(cli, a->pos[0], &id) != CLI_EXIT_OK)
        return CLI_EXIT_USAGE;
    struct eventflow_client *c;
    int rc = change_client(cli, &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = eventflow_member_remove(c, id);
    if (rc != EF_OK) {
        rc = cli_fail_call(cli, c, rc, "cannot remove the member");
        eventflow_client_free(c);
        return rc;
    }
    eventflow_client_free(c);
    return output_done(cli->output == CLI_OUTPUT_JSON, json_pack("{s:I}", "id", (json_int_t)id), "removed member %" PRIu64, id);
}

static int cmd_transfer(struct cli *cli, const struct cli_args *a)
{
    uint64_t id = 0;
    if (a->n_pos > 0 && member_id(cli, a->pos[0], &id) != CLI_EXIT_OK)
        return CLI_EXIT_USAGE;
    struct eventflow_client *c;
    int rc = change_client(cli, &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    /* raft refuses a transfer to itself; for the operator that is done. */
    struct eventflow_node_status before;
    if (id != 0 && eventflow_node_status(c, NULL, &before) == EF_OK && before.id == id) {
        eventflow_client_free(c);
        return output_done(cli->output == CLI_OUTPUT_JSON, json_pack("{s:I, s:s}", "leader_id", (json_int_t)id, "client_address", before.client_address),
                    "member %" PRIu64 " (%s) already leads", id, before.client_address);
    }
    rc = eventflow_leader_transfer(c, id);
    if (rc != EF_OK) {
        rc = cli_fail_call(cli, c, rc, "cannot transfer leadership");
        eventflow_client_free(c);
        return rc;
    }
    /* Who leads now: the library forgot the old leader and looks again. */
    struct eventflow_node_status st;
    rc = eventflow_node_status(c, NULL, &st);
    eventflow_client_free(c);
    if (rc != EF_OK)
        return output_done(cli->output == CLI_OUTPUT_JSON, json_pack("{s:n}", "leader_id"), "leadership transferred");
    return output_done(cli->output == CLI_OUTPUT_JSON, json_pack("{s:I, s:s}", "leader_id", (json_int_t)st.id, "client_address", st.client_address),
                "leadership transferred to member %" PRIu64 " (%s)", st.id, st.client_address);
}

/* ---- the commands' table --------------------------------------------------------- */

static const struct cli_flag add_flags[] = {
    {"role", 0, "ROLE", "voter, standby or spare (default spare: add, then promote once it runs)"},
    {NULL, 0, NULL, NULL},
};

#define CHANGE_HELP                                                                              \
    "The change is sent to the leader (found through any endpoint) and waits up\n"                 \
    "to --timeout (default 30000 ms), also for a change already in progress.\n"                   \
    "Exit code 1 if the cluster refuses it (no such member, id in use...) or its\n"               \
    "outcome is unknown (check `eventflowctl members`), 2 if there is no leader.\n"

const struct cli_command cli_member_commands[] = {
    {"members", "", 0, 0, "the configuration: ids, roles, addresses",
     "The cluster's configuration as a member reports it (CLUSTER MEMBERS):\n"
     "id, role, raft address, client address and the incarnation of its data\n"
     "directory. The leader answers when there is one, so a change just made\n"
     "shows; without a leader, any endpoint answers.\n"
     "\n"
     "Examples:\n"
     "  eventflowctl members\n"
     "  eventflowctl members -o json | jq '.[] | select(.role == \"voter\") | .id'",
     NULL, cmd_members},
    {"member add", "<id> <raft-address> <client-address>", 3, 3, "add a member (as a spare by default)",
     "Adds a member to the configuration as a spare, then, with --role, gives it\n"
     "that role, and returns once the leader has recorded its client address.\n"
     "Start the new node first, on an empty data directory with\n"
     "--cluster-state existing (or give it --join instead of using this command);\n"
     "raft catches a voter up before it counts it. A node that answers at the\n"
     "client address with a history of its own (it bootstrapped a cluster) is\n"
     "refused: it would bring another cluster's events.\n"
     "\n" CHANGE_HELP
     "\n"
     "Examples:\n"
     "  eventflowctl member add 4 10.0.0.4:7543 10.0.0.4:6543\n"
     "  eventflowctl member add 4 10.0.0.4:7543 10.0.0.4:6543 --role voter",
     add_flags, cmd_member_add},
    {"member promote", "<id> [voter|standby]", 1, 2, "make a member a voter (or a standby)",
     "Assigns the role (default voter). A new voter is caught up from the log or\n"
     "a snapshot first.\n"
     "\n" CHANGE_HELP
     "\n"
     "Examples:\n"
     "  eventflowctl member promote 4\n"
     "  eventflowctl member promote 4 standby",
     NULL, cmd_member_promote},
    {"member demote", "<id> [standby|spare]", 1, 2, "make a member a spare (or a standby)",
     "Assigns the role (default spare). A standby keeps replicating without\n"
     "voting; a spare does neither.\n"
     "\n" CHANGE_HELP
     "\n"
     "Examples:\n"
     "  eventflowctl member demote 3\n"
     "  eventflowctl member demote 3 standby",
     NULL, cmd_member_demote},
    {"member remove", "<id>", 1, 1, "remove a member from the configuration",
     "Removes the member. Stop its process afterwards; a node whose data\n"
     "directory was lost must be removed and started with a new --id (see\n"
     "docs/operations.md).\n"
     "\n" CHANGE_HELP
     "\n"
     "Examples:\n"
     "  eventflowctl member remove 3",
     NULL, cmd_member_remove},
    {"transfer", "[id]", 0, 1, "hand leadership to a voter (default: any)",
     "Asks the leader to hand leadership to member id, or to a voter of its\n"
     "choice, and prints the new leader.\n"
     "\n" CHANGE_HELP
     "\n"
     "Examples:\n"
     "  eventflowctl transfer 2\n"
     "  eventflowctl transfer        # before restarting the leader's machine",
     NULL, cmd_transfer},
    {NULL, NULL, 0, 0, NULL, NULL, NULL, NULL},
};
