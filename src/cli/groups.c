/* groups.c - consumer groups for operators: group create, destroy, info,
 * list, pending, parked, seek and replay (eventflow/group.h).
 *
 * Tables for people; with -o json the server's own objects (INFO's one
 * object, and one object per line for list, pending and parked), so that
 * scripts see every field the server reports, not only those shown. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "common/human.h"
#include "common/mem.h"

#define GROUP_TIMEOUT_MS 15000
#define MAX_TYPES 32

/* ---- shared --------------------------------------------------------------------- */

static int group_client(struct cli *cli, struct eventflow_client **c)
{
    return cli_client(cli, EF_READ_LEADER, cli_timeout(cli, GROUP_TIMEOUT_MS), c);
}

/* A JSON object the server sent, on one line. Returns 0 or -1. */
static int print_server_json(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, 0, &err);
    int rc = v != NULL ? output_json(stdout, v, false) : -1;
    json_decref(v);
    return rc;
}

/* A position: "start", "end", a version or an event id. Returns 0, or -1
 * after a usage error naming it `what`. */
static int position_arg(struct cli *cli, const char *what, const char *s, struct eventflow_group_position *out)
{
    memset(out, 0, sizeof *out);
    if (strcmp(s, "start") == 0) {
        out->from = EF_GROUP_FROM_START;
    } else if (strcmp(s, "end") == 0) {
        out->from = EF_GROUP_FROM_END;
    } else if (strlen(s) == EF_ID_LEN) {
        out->from = EF_GROUP_AFTER_ID;
        out->after_id = s;
    } else {
        out->from = EF_GROUP_FROM_VERSION;
        return cli_parse_u64(cli, what, s, 0, UINT64_MAX, &out->version);
    }
    return 0;
}

/* Run a change that answers nothing but success, then say so. */
static int report_done(struct cli *cli, struct eventflow_client *c, int rc, const char *group, const char *what)
{
    if (rc != EF_OK)
        return cli_fail_call(cli, c, rc, what);
    if (cli->output == CLI_OUTPUT_JSON) {
        json_t *j = json_pack("{s:s, s:b}", "group", group, "ok", 1);
        rc = j != NULL && output_json(stdout, j, false) == 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        json_decref(j);
        return rc;
    }
    printf("OK\n");
    return CLI_EXIT_OK;
}

/* ---- create, destroy, seek, replay ------------------------------------------------- */

/* --types A,B,C split into types (pointers into copy, which the caller
 * frees). Returns how many, or -1 after a usage error. */
static int types_arg(struct cli *cli, const char *list, char **copy, const char *types[MAX_TYPES])
{
    *copy = xstrdup(list);
    int n = 0;
    for (char *save = NULL, *t = strtok_r(*copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        if (n == MAX_TYPES) {
            cli_usage(cli, "--types takes at most %d event types", MAX_TYPES);
            return -1;
        }
        types[n++] = t;
    }
    if (n == 0) {
        cli_usage(cli, "--types needs at least one event type");
        return -1;
    }
    return n;
}

static int cmd_create(struct cli *cli, const struct cli_args *a)
{
    struct eventflow_group_spec spec = {.group = a->pos[0], .stream_prefix = cli_flag(a, "stream-prefix")};
    if (strcmp(a->pos[1], "$all") == 0)
        spec.all = true;
    else
        spec.stream = a->pos[1];
    const char *from = cli_flag(a, "from");
    uint64_t wait = 0, maxd = 0, maxp = 0;
    if ((from != NULL && position_arg(cli, "--from", from, &spec.start) != 0) ||
        cli_flag_u64(cli, a, "ack-wait", 86400000, &wait) != 0 ||
        cli_flag_u64(cli, a, "max-deliveries", INT32_MAX, &maxd) != 0 ||
        cli_flag_u64(cli, a, "max-ack-pending", UINT32_MAX, &maxp) != 0)
        return CLI_EXIT_USAGE;
    spec.ack_wait_ms = (uint32_t)wait;
    spec.max_ack_pending = (uint32_t)maxp;
    /* Without the flag the server's default; 0 asks never to park. */
    if (cli_flag(a, "max-deliveries") != NULL)
        spec.max_deliveries = maxd == 0 ? EF_GROUP_NEVER_PARK : (int32_t)maxd;
    const char *types[MAX_TYPES];
    char *copy = NULL;
    const char *list = cli_flag(a, "types");
    if (list != NULL) {
        int n = types_arg(cli, list, &copy, types);
        if (n < 0) {
            free(copy);
            return CLI_EXIT_USAGE;
        }
        spec.types = types;
        spec.n_types = (size_t)n;
    }
    struct eventflow_client *c;
    int rc = group_client(cli, &c);
    if (rc == CLI_EXIT_OK) {
        rc = report_done(cli, c, eventflow_group_create(c, &spec), spec.group, "cannot create the group");
        eventflow_client_free(c);
    }
    free(copy);
    return rc;
}

static int cmd_destroy(struct cli *cli, const struct cli_args *a)
{
    struct eventflow_client *c;
    int rc = group_client(cli, &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = report_done(cli, c, eventflow_group_destroy(c, a->pos[0]), a->pos[0], "cannot destroy the group");
    eventflow_client_free(c);
    return rc;
}

static int cmd_delconsumer(struct cli *cli, const struct cli_args *a)
{
    struct eventflow_client *c;
    int rc = group_client(cli, &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = report_done(cli, c, eventflow_group_delete_consumer(c, a->pos[0], a->pos[1]), a->pos[0],
                     "cannot delete the consumer");
    eventflow_client_free(c);
    return rc;
}

static int cmd_seek(struct cli *cli, const struct cli_args *a)
{
    struct eventflow_group_position to;
    if (position_arg(cli, "<to>", a->pos[1], &to) != 0)
        return CLI_EXIT_USAGE;
    struct eventflow_client *c;
    int rc = group_client(cli, &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = report_done(cli, c, eventflow_group_seek(c, a->pos[0], &to), a->pos[0], "cannot move the group");
    eventflow_client_free(c);
    return rc;
}

static int cmd_replay(struct cli *cli, const struct cli_args *a)
{
    uint64_t count = 0;
    if (cli_flag_u64(cli, a, "count", EF_GROUP_IDS_MAX, &count) != 0)
        return CLI_EXIT_USAGE;
    if (a->n_pos > 1 && count > 0)
        return cli_usage(cli, "give event ids or --count, not both");
    struct eventflow_client *c;
    int rc = group_client(cli, &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    uint64_t replayed = 0;
    rc = eventflow_group_replay(c, a->pos[0], a->pos + 1, a->n_pos - 1, (uint32_t)count, &replayed);
    if (rc != EF_OK) {
        rc = cli_fail_call(cli, c, rc, "cannot replay");
    } else if (cli->output == CLI_OUTPUT_JSON) {
        json_t *j = json_pack("{s:s, s:o}", "group", a->pos[0], "replayed", output_json_u64(replayed));
        rc = j != NULL && output_json(stdout, j, false) == 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        json_decref(j);
    } else {
        printf("%" PRIu64 " parked events back to delivery\n", replayed);
    }
    eventflow_client_free(c);
    return rc;
}

/* ---- info, list ---------------------------------------------------------------------- */

/* "stream s" or "$all" (with its prefix): where a group's events come from. */
static void source_of(const struct eventflow_group_info *g, char *out, size_t cap)
{
    if (!g->all)
        snprintf(out, cap, "%s", g->stream != NULL ? g->stream : "?");
    else if (g->stream_prefix != NULL)
        snprintf(out, cap, "$all (%s*)", g->stream_prefix);
    else
        snprintf(out, cap, "$all");
}

/* The types a group keeps, from its JSON, comma-separated ("" for all). */
static void types_of(const struct eventflow_group_info *g, char *out, size_t cap)
{
    out[0] = '\0';
    json_t *o = json_loads(g->json, 0, NULL);
    json_t *types = json_object_get(o, "types");
    size_t i, used = 0;
    json_t *t;
    json_array_foreach(types, i, t)
    {
        int n = snprintf(out + used, cap - used, "%s%s", i > 0 ? "," : "", json_string_value(t));
        if (n < 0 || (size_t)n >= cap - used)
            break;
        used += (size_t)n;
    }
    json_decref(o);
}

static void print_info_table(const struct eventflow_group_info *g)
{
    char source[300], types[512], wait[32];
    source_of(g, source, sizeof source);
    types_of(g, types, sizeof types);
    human_duration(g->ack_wait_ms, HUMAN_SHORT, wait, sizeof wait);
    printf("group           %s\nsource          %s\n", g->group, source);
    if (types[0] != '\0')
        printf("types           %s\n", types);
    printf("ack wait        %s\n", wait);
    if (g->max_deliveries > 0)
        printf("max deliveries  %" PRIu32 "\n", g->max_deliveries);
    else
        printf("max deliveries  never parks\n");
    if (g->max_ack_pending > 0)
        printf("max ack pending %" PRIu32 "\n", g->max_ack_pending);
    printf("created at      %s\n", g->created_at);
    if (g->all)
        printf("position        after %s (global position %" PRIu64 ")\n", g->after_id[0] ? g->after_id : "-",
               g->position);
    else
        printf("next version    %" PRIu64 "\n", g->next_version);
    printf("lag             %" PRIu64 "\npending         %" PRIu64 "\nparked          %" PRIu64
           "\ndelivered       %" PRIu64 "\nacked           %" PRIu64 "\n",
           g->lag, g->pending, g->parked, g->delivered, g->acked);
    if (g->n_consumers == 0)
        return;
    static const char *const headers[] = {"CONSUMER", "PENDING", "DELIVERED", "ACKED", "LAST SEEN", "IDLE"};
    struct table *t = table_new(6, headers);
    for (size_t col = 1; col <= 3; col++)
        table_align_right(t, col);
    for (size_t i = 0; i < g->n_consumers; i++) {
        const struct eventflow_group_consumer_info *ci = &g->consumers[i];
        char idle[32];
        human_duration(ci->idle_ms > 0 ? (uint64_t)ci->idle_ms : 0, HUMAN_SHORT, idle, sizeof idle);
        table_row(t);
        table_set(t, 0, "%s", ci->name);
        table_set(t, 1, "%" PRIu64, ci->pending);
        table_set(t, 2, "%" PRIu64, ci->delivered);
        table_set(t, 3, "%" PRIu64, ci->acked);
        table_set(t, 4, "%s", ci->last_seen);
        table_set(t, 5, "%s", idle);
    }
    printf("\n");
    table_print(t, stdout);
    table_free(t);
}

static int cmd_info(struct cli *cli, const struct cli_args *a)
{
    struct eventflow_client *c;
    int rc = group_client(cli, &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    struct eventflow_group_info g;
    rc = eventflow_group_info(c, a->pos[0], &g);
    if (rc != EF_OK) {
        rc = cli_fail_call(cli, c, rc, "cannot read the group");
    } else {
        if (cli->output == CLI_OUTPUT_JSON)
            rc = print_server_json(g.json) == 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        else
            print_info_table(&g);
        eventflow_group_info_free(&g);
    }
    eventflow_client_free(c);
    return rc;
}

/* Entry i of a list as a table row. */
typedef void (*row_fn)(struct table *t, const void *list, size_t i);
/* The server's JSON object of entry i. */
typedef const char *(*json_fn)(const void *list, size_t i);

/* n entries of a list: a table with ncols columns (numbers from column
 * first_num to last_num aligned right), or with -o json each entry's
 * server object on a line of its own. Returns CLI_EXIT_OK, or
 * CLI_EXIT_USAGE if the output could not be written. */
static int print_entries(const struct cli *cli, const char *const *headers, size_t ncols, size_t first_num,
                         size_t last_num, const void *list, size_t n, json_fn json_of, row_fn row)
{
    if (cli->output == CLI_OUTPUT_JSON) {
        for (size_t i = 0; i < n; i++)
            if (print_server_json(json_of(list, i)) != 0)
                return CLI_EXIT_USAGE;
        return CLI_EXIT_OK;
    }
    struct table *t = table_new(ncols, headers);
    for (size_t col = first_num; col <= last_num; col++)
        table_align_right(t, col);
    for (size_t i = 0; i < n; i++) {
        table_row(t);
        row(t, list, i);
    }
    table_print(t, stdout);
    table_free(t);
    return ferror(stdout) ? CLI_EXIT_USAGE : CLI_EXIT_OK;
}

static const char *group_json_of(const void *list, size_t i)
{
    return ((const struct eventflow_group_list *)list)->groups[i].json;
}

static void group_row(struct table *t, const void *list, size_t i)
{
    const struct eventflow_group_info *g = &((const struct eventflow_group_list *)list)->groups[i];
    char source[300];
    source_of(g, source, sizeof source);
    table_set(t, 0, "%s", g->group);
    table_set(t, 1, "%s", source);
    table_set(t, 2, "%" PRIu64, g->lag);
    table_set(t, 3, "%" PRIu64, g->pending);
    table_set(t, 4, "%" PRIu64, g->parked);
    table_set(t, 5, "%" PRIu64, g->delivered);
    table_set(t, 6, "%" PRIu64, g->acked);
}

static int cmd_list(struct cli *cli, const struct cli_args *a)
{
    (void)a;
    struct eventflow_client *c;
    int rc = group_client(cli, &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    struct eventflow_group_list gl;
    rc = eventflow_group_list(c, &gl);
    if (rc != EF_OK) {
        rc = cli_fail_call(cli, c, rc, "cannot list the groups");
    } else {
        static const char *const headers[] = {"GROUP", "SOURCE", "LAG", "PENDING", "PARKED", "DELIVERED", "ACKED"};
        rc = print_entries(cli, headers, 7, 2, 6, &gl, gl.n, group_json_of, group_row);
        eventflow_group_list_free(&gl);
    }
    eventflow_client_free(c);
    return rc;
}

/* ---- pending, parked ----------------------------------------------------------------- */

/* --after and --limit of pending and parked. Returns 0, or -1 after a
 * usage error. */
static int page_args(struct cli *cli, const struct cli_args *a, const char **after, uint32_t *count)
{
    uint64_t limit = 0;
    if (cli_flag_u64(cli, a, "limit", 10000, &limit) != 0)
        return -1;
    *count = (uint32_t)limit;
    *after = cli_flag(a, "after");
    if (*after != NULL && strlen(*after) != EF_ID_LEN) {
        cli_usage(cli, "--after must be an event id (%d characters)", EF_ID_LEN);
        return -1;
    }
    return 0;
}

static const char *pending_json_of(const void *list, size_t i)
{
    return ((const struct eventflow_group_pending_list *)list)->entries[i].json;
}

static void pending_row(struct table *t, const void *list, size_t i)
{
    const struct eventflow_group_pending *p = &((const struct eventflow_group_pending_list *)list)->entries[i];
    char idle[32];
    human_duration(p->idle_ms > 0 ? (uint64_t)p->idle_ms : 0, HUMAN_SHORT, idle, sizeof idle);
    table_set(t, 0, "%s", p->id);
    table_set(t, 1, "%s", p->consumer != NULL ? p->consumer : "- (given back)");
    table_set(t, 2, "%" PRIu32, p->deliveries);
    table_set(t, 3, "%s", idle);
    table_set(t, 4, "%s", p->deadline[0] ? p->deadline : "-");
}

static const char *parked_json_of(const void *list, size_t i)
{
    return ((const struct eventflow_group_parked_list *)list)->entries[i].json;
}

static void parked_row(struct table *t, const void *list, size_t i)
{
    const struct eventflow_group_parked *p = &((const struct eventflow_group_parked_list *)list)->entries[i];
    table_set(t, 0, "%s", p->id);
    table_set(t, 1, "%s", p->consumer != NULL ? p->consumer : "-");
    table_set(t, 2, "%" PRIu32, p->deliveries);
    table_set(t, 3, "%s", p->parked_at);
    table_set(t, 4, "%s", p->reason);
}

/* pending and parked: one page of entries. */
static int list_entries(struct cli *cli, const struct cli_args *a, bool parked)
{
    const char *after;
    uint32_t count;
    if (page_args(cli, a, &after, &count) != 0)
        return CLI_EXIT_USAGE;
    struct eventflow_client *c;
    int rc = group_client(cli, &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (parked) {
        struct eventflow_group_parked_list kl;
        rc = eventflow_group_parked(c, a->pos[0], after, count, &kl);
        static const char *const headers[] = {"ID", "CONSUMER", "DELIVERIES", "PARKED AT", "REASON"};
        if (rc == EF_OK)
            rc = print_entries(cli, headers, 5, 2, 2, &kl, kl.n, parked_json_of, parked_row);
        eventflow_group_parked_list_free(&kl);
    } else {
        struct eventflow_group_pending_list pl;
        rc = eventflow_group_pending(c, a->pos[0], cli_flag(a, "consumer"), after, count, &pl);
        static const char *const headers[] = {"ID", "CONSUMER", "DELIVERIES", "IDLE", "DEADLINE"};
        if (rc == EF_OK)
            rc = print_entries(cli, headers, 5, 2, 2, &pl, pl.n, pending_json_of, pending_row);
        eventflow_group_pending_list_free(&pl);
    }
    if (rc < 0)
        rc = cli_fail_call(cli, c, rc, parked ? "cannot list parked events" : "cannot list pending events");
    eventflow_client_free(c);
    return rc;
}

static int cmd_pending(struct cli *cli, const struct cli_args *a)
{
    return list_entries(cli, a, false);
}

static int cmd_parked(struct cli *cli, const struct cli_args *a)
{
    return list_entries(cli, a, true);
}

/* ---- the commands' table --------------------------------------------------------------- */

#define END_OF_FLAGS {NULL, 0, NULL, NULL}

static const struct cli_flag create_flags[] = {
    {"from", 0, "start|end|N|ID", "where it starts: the first event (default), new events only, a version "
                                  "(a stream's group) or after an event id ($all)"},
    {"types", 0, "T1,T2", "only these event types (at most 32)"},
    {"stream-prefix", 0, "P", "$all only: only streams whose names start with P"},
    {"ack-wait", 0, "MS", "time to acknowledge an event before it goes to another consumer (default 30000)"},
    {"max-deliveries", 0, "N", "deliveries before an event is parked; 0: never (default 10)"},
    {"max-ack-pending", 0, "N", "no new deliveries while N events are pending; 0: no limit (default)"},
    END_OF_FLAGS,
};

static const struct cli_flag page_flags[] = {
    {"after", 0, "ID", "list after this event id"},
    {"limit", 0, "N", "at most N entries (default 100, at most 10000)"},
    END_OF_FLAGS,
};

static const struct cli_flag pending_flags[] = {
    {"consumer", 0, "NAME", "only the events this consumer holds"},
    {"after", 0, "ID", "list after this event id"},
    {"limit", 0, "N", "at most N entries (default 100, at most 10000)"},
    END_OF_FLAGS,
};

static const struct cli_flag replay_flags[] = {
    {"count", 0, "N", "without ids: the N oldest parked events (default 100)"},
    END_OF_FLAGS,
};

static const struct cli_flag no_flags[] = {END_OF_FLAGS};

#define CHANGE_OUTPUT_HELP "Output: OK, or with -o json {\"group\":G,\"ok\":true}.\n"

const struct cli_command cli_group_commands[] = {
    {"group create", "<group> <stream|$all>", 2, 2, "create a consumer group",
     "Creates a consumer group (GROUP CREATE) over one stream, in version order,\n"
     "or over the global log ($all), in commit order. Each event goes to one of\n"
     "the group's consumers at a time and is pending until acknowledged; one not\n"
     "acknowledged within the ack wait goes to another consumer, and after\n"
     "--max-deliveries deliveries it is parked. A stream that does not exist\n"
     "yet is fine. Exit code 1 if a group of that name exists.\n"
     "\n" CHANGE_OUTPUT_HELP
     "\n"
     "Examples:\n"
     "  eventflowctl group create billing orders --ack-wait 60000\n"
     "  eventflowctl group create audit '$all' --stream-prefix order- --types OrderPlaced,OrderShipped --from end",
     create_flags, cmd_create},
    {"group destroy", "<group>", 1, 1, "delete a consumer group and its state",
     "Deletes the group (GROUP DESTROY): its position, pending and parked events.\n"
     "The events themselves stay. Exit code 1 if there is no such group.\n"
     "\n" CHANGE_OUTPUT_HELP
     "\n"
     "Example:\n"
     "  eventflowctl group destroy billing",
     no_flags, cmd_destroy},
    {"group info", "<group>", 1, 1, "a group's position, counts and consumers",
     "Shows the group (GROUP INFO): where its events come from, its settings,\n"
     "its position, lag (events past the position), pending, parked, delivered\n"
     "and acknowledged counts, and per consumer its pending events, counts, last\n"
     "read and idle time. -o json prints the server's object on one line.\n"
     "\n"
     "Examples:\n"
     "  eventflowctl group info billing\n"
     "  eventflowctl group info billing -o json | jq .lag",
     no_flags, cmd_info},
    {"group list", "", 0, 0, "every consumer group",
     "Lists the groups (GROUP LIST) in name order: source, lag and counts.\n"
     "-o json prints one object per line, as GROUP LIST returns them.\n"
     "\n"
     "Examples:\n"
     "  eventflowctl group list\n"
     "  eventflowctl group list -o json",
     no_flags, cmd_list},
    {"group pending", "<group>", 1, 1, "events handed out and not yet acknowledged",
     "Lists pending events (GROUP PENDING) in log order: the consumer holding\n"
     "each (none when it was given back), its deliveries, time since delivered,\n"
     "and when it goes to another consumer. -o json: one object per line.\n"
     "\n"
     "Examples:\n"
     "  eventflowctl group pending billing\n"
     "  eventflowctl group pending billing --consumer worker-2 -o json",
     pending_flags, cmd_pending},
    {"group parked", "<group>", 1, 1, "events parked (dead-lettered)",
     "Lists parked events (GROUP PARKED): their last consumer, deliveries, when\n"
     "and why they were parked (max_deliveries or nack). `group replay` sends\n"
     "them back to delivery. -o json: one object per line.\n"
     "\n"
     "Examples:\n"
     "  eventflowctl group parked billing\n"
     "  eventflowctl group parked billing --limit 10 -o json",
     page_flags, cmd_parked},
    {"group seek", "<group> <start|end|N|ID>", 2, 2, "move a group's position",
     "Moves the position (GROUP SEEK): to the start, to the end, to a version (a\n"
     "stream's group) or after an event id (a group over $all). Pending and\n"
     "parked events stay as they are; moving back delivers events again.\n"
     "\n" CHANGE_OUTPUT_HELP
     "\n"
     "Examples:\n"
     "  eventflowctl group seek billing end\n"
     "  eventflowctl group seek billing 1200",
     no_flags, cmd_seek},
    {"group replay", "<group> [id...]", 1, 7, "send parked events back to delivery",
     "Sends parked events back to delivery (GROUP REPLAY), their delivery count\n"
     "starting again: the ids given, or the --count oldest. Prints how many.\n"
     "-o json: {\"group\":G,\"replayed\":N}.\n"
     "\n"
     "Examples:\n"
     "  eventflowctl group replay billing 01JDB8M2Z1M9W6Q4B3XJ8Y3T5R\n"
     "  eventflowctl group replay billing --count 50",
     replay_flags, cmd_replay},
    {"group delconsumer", "<group> <consumer>", 2, 2, "forget a consumer that holds no events",
     "Deletes a consumer's record (GROUP DELCONSUMER): its name and counters, as\n"
     "group info lists them. Consumers are kept until deleted, so workers with\n"
     "throwaway names pile up without it. A consumer that holds pending events\n"
     "is refused (exit code 1): ack or nack them, or wait for their ack wait to\n"
     "run out (they go to other consumers). Exit code 1 also if there is no such\n"
     "group or consumer.\n"
     "\n" CHANGE_OUTPUT_HELP
     "\n"
     "Example:\n"
     "  eventflowctl group delconsumer billing worker-7f9c",
     no_flags, cmd_delconsumer},
    {NULL, NULL, 0, 0, NULL, NULL, NULL, NULL},
};
