/* streams.c - eventflowctl stream delete|setmeta|meta: deleting streams
 * and their retention (eventflow/stream.h; docs/protocol.md, "STREAM"). */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/output.h"

/* Changes go to the leader and wait for the commit. */
#define STREAM_CHANGE_TIMEOUT_MS 15000
#define STREAM_READ_TIMEOUT_MS 5000

static int cmd_stream_delete(struct cli *cli, const struct cli_args *a)
{
    bool hard = cli_flag(a, "hard") != NULL;
    struct eventflow_client *c;
    int rc = cli_client(cli, EF_READ_LEADER, cli_timeout(cli, STREAM_CHANGE_TIMEOUT_MS), &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = eventflow_stream_delete(c, a->pos[0], hard);
    if (rc != EF_OK) {
        rc = cli_fail_call(cli, c, rc, "cannot delete the stream");
        eventflow_client_free(c);
        return rc;
    }
    eventflow_client_free(c);
    return output_done(cli->output == CLI_OUTPUT_JSON, json_pack("{s:s,s:b}", "stream", a->pos[0], "hard", hard),
                       "stream %s deleted%s", a->pos[0], hard ? " (hard)" : "");
}

/* A setting's flag: absent leaves *set false; "none" clears it (0). */
static int setting_flag(struct cli *cli, const struct cli_args *a, const char *name, uint64_t max, bool *set,
                        uint64_t *out)
{
    const char *v = cli_flag(a, name);
    if (v == NULL)
        return 0;
    *set = true;
    if (strcmp(v, "none") == 0) {
        *out = 0;
        return 0;
    }
    return cli_parse_u64(cli, name, v, 1, max, out);
}

static int cmd_stream_setmeta(struct cli *cli, const struct cli_args *a)
{
    struct eventflow_stream_settings s = {0};
    if (setting_flag(cli, a, "max-age", 3155760000ull, &s.set_max_age, &s.max_age_s) != 0 ||
        setting_flag(cli, a, "max-count", 1ull << 62, &s.set_max_count, &s.max_count) != 0)
        return CLI_EXIT_USAGE;
    const char *tb = cli_flag(a, "truncate-before");
    if (tb != NULL) {
        s.set_truncate_before = true;
        if (cli_parse_u64(cli, "truncate-before", tb, 0, INT64_MAX, &s.truncate_before) != 0)
            return CLI_EXIT_USAGE;
    }
    if (!s.set_max_age && !s.set_max_count && !s.set_truncate_before)
        return cli_usage(cli, "give --max-age, --max-count or --truncate-before");
    struct eventflow_client *c;
    int rc = cli_client(cli, EF_READ_LEADER, cli_timeout(cli, STREAM_CHANGE_TIMEOUT_MS), &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = eventflow_stream_set_meta(c, a->pos[0], &s);
    if (rc != EF_OK) {
        rc = cli_fail_call(cli, c, rc, "cannot set the stream's retention");
        eventflow_client_free(c);
        return rc;
    }
    eventflow_client_free(c);
    return output_done(cli->output == CLI_OUTPUT_JSON, json_pack("{s:s}", "stream", a->pos[0]),
                       "stream %s retention set", a->pos[0]);
}

static int cmd_stream_meta(struct cli *cli, const struct cli_args *a)
{
    struct eventflow_client *c;
    int rc = cli_client(cli, EF_READ_LEADER, cli_timeout(cli, STREAM_READ_TIMEOUT_MS), &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    struct eventflow_stream_meta m;
    rc = eventflow_stream_meta(c, a->pos[0], &m);
    if (rc != EF_OK) {
        rc = cli_fail_call(cli, c, rc, "cannot read the stream's meta");
        eventflow_client_free(c);
        return rc;
    }
    eventflow_client_free(c);
    json_t *o = json_pack("{s:s,s:I,s:I,s:I,s:I,s:b,s:b,s:I,s:I,s:I}", "stream", a->pos[0], "length",
                          (json_int_t)m.length, "first_version", (json_int_t)m.first_version, "live_events",
                          (json_int_t)m.live_events, "reclaimed_below", (json_int_t)m.reclaimed_below, "deleted",
                          m.deleted, "hard_deleted", m.hard_deleted, "max_age", (json_int_t)m.max_age_s,
                          "max_count", (json_int_t)m.max_count, "truncate_before", (json_int_t)m.truncate_before);
    if (cli->output == CLI_OUTPUT_JSON) {
        rc = output_json(stdout, o, false) != 0 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    } else {
        const char *state = m.hard_deleted ? "hard-deleted" : m.deleted ? "deleted" : "live";
        rc = printf("%s: %s, versions %llu..%llu live (%llu events), rows below %llu reclaimed\n"
                    "max_age %llu s, max_count %llu, truncate_before %llu (0: none)\n",
                    a->pos[0], state, (unsigned long long)m.first_version, (unsigned long long)m.length,
                    (unsigned long long)m.live_events, (unsigned long long)m.reclaimed_below,
                    (unsigned long long)m.max_age_s, (unsigned long long)m.max_count,
                    (unsigned long long)m.truncate_before) < 0
                 ? CLI_EXIT_USAGE
                 : CLI_EXIT_OK;
    }
    json_decref(o);
    return rc;
}

static const struct cli_flag delete_flags[] = {
    {"hard", 0, NULL, "tombstone the name: appends are refused for good"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_flag setmeta_flags[] = {
    {"max-age", 0, "SECS|none", "remove events older than this, by the leader's clock"},
    {"max-count", 0, "N|none", "keep only the newest N events"},
    {"truncate-before", 0, "VERSION", "remove the versions below this one (never moves back)"},
    {NULL, 0, NULL, NULL},
};

const struct cli_command cli_stream_commands[] = {
    {"stream delete", "<stream>", 1, 1, "delete a stream (soft, or --hard)",
     "Soft: the stream reads as absent until its next append, which continues its\n"
     "numbering. --hard: appends are refused for good. Through the leader, once\n"
     "committed; the rows are reclaimed in the background.\n"
     "\n"
     "Examples:\n"
     "  eventflowctl stream delete order-7 --hard",
     delete_flags, cmd_stream_delete},
    {"stream setmeta", "<stream>", 1, 1, "set a stream's retention",
     "Changes only the settings given; none clears max-age or max-count.\n"
     "\n"
     "Examples:\n"
     "  eventflowctl stream setmeta sensor-1 --max-age 86400 --max-count none",
     setmeta_flags, cmd_stream_setmeta},
    {"stream meta", "<stream>", 1, 1, "a stream's retention state",
     "Its live versions, deleted flags, settings and how far rows were reclaimed;\n"
     "-o json: one object.\n"
     "\n"
     "Examples:\n"
     "  eventflowctl stream meta sensor-1 -o json",
     NULL, cmd_stream_meta},
    {NULL, NULL, 0, 0, NULL, NULL, NULL, NULL},
};
