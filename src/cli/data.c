/* data.c - operator access to the data: append, get, getall, tail,
 * subscribe, streams, count, checksum.
 *
 * Events print as a table (one line per event, fixed columns, so a tail
 * lines up as it grows) or, with -o json, as JSON Lines: one event object
 * per line, exactly as the server returns it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/output.h"

#define DATA_TIMEOUT_MS 15000
#define PAGE_SIZE 1000

/* --read-from, or dflt when it is not given. Returns 0, or -1 after a
 * usage error. */
static int read_from(struct cli *cli, const struct cli_args *a, enum eventflow_read_preference dflt,
                     enum eventflow_read_preference *out)
{
    const char *from = cli_flag(a, "read-from");
    if (from == NULL)
        *out = dflt;
    else if (strcmp(from, "leader") == 0)
        *out = EF_READ_LEADER;
    else if (strcmp(from, "follower") == 0)
        *out = EF_READ_FOLLOWER;
    else if (strcmp(from, "any") == 0)
        *out = EF_READ_ANY;
    else {
        cli_usage(cli, "--read-from must be leader, follower or any, not \"%s\"", from);
        return -1;
    }
    return 0;
}

/* A client reading where --read-from says (the leader by default). */
static int read_client(struct cli *cli, const struct cli_args *a, struct eventflow_client **c)
{
    enum eventflow_read_preference pref;
    if (read_from(cli, a, EF_READ_LEADER, &pref) != 0)
        return CLI_EXIT_USAGE;
    return cli_client(cli, pref, cli_timeout(cli, DATA_TIMEOUT_MS), c);
}

/* Print one event in the chosen format. Returns 0 or -1 (output failed). */
static int print_event(const struct cli *cli, const struct eventflow_event *ev)
{
    if (cli->output == CLI_OUTPUT_TABLE) {
        output_event_row(stdout, ev);
        return ferror(stdout) ? -1 : 0;
    }
    json_t *j = output_event_json(ev);
    int rc = output_json(stdout, j, false);
    json_decref(j);
    return rc;
}

/* ---- append ----------------------------------------------------------------------- */

/* A payload from the command line: JSON text (a JSON string becomes a string
 * payload, null none), or, as_string, the bytes as given. */
static int payload_arg(struct cli *cli, const char *what, const char *text, bool as_string,
                       struct eventflow_payload *out, json_t **keep)
{
    *keep = NULL;
    if (as_string) {
        *out = (struct eventflow_payload){EF_PAYLOAD_STRING, text, strlen(text)};
        return CLI_EXIT_OK;
    }
    json_error_t err;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
    if (v == NULL)
        return cli_usage(cli, "%s is not JSON (%s); give --string to send it as text", what, err.text);
    if (json_is_null(v)) {
        *out = (struct eventflow_payload){EF_PAYLOAD_NULL, NULL, 0};
        json_decref(v);
    } else if (json_is_string(v)) {
        *out = (struct eventflow_payload){EF_PAYLOAD_STRING, json_string_value(v), json_string_length(v)};
        *keep = v; /* owns the bytes */
    } else {
        *out = (struct eventflow_payload){EF_PAYLOAD_JSON, text, strlen(text)};
        json_decref(v);
    }
    return CLI_EXIT_OK;
}

static int cmd_append(struct cli *cli, const struct cli_args *a)
{
    int64_t expected = EF_VERSION_ANY;
    const char *ev_arg = cli_flag(a, "expected-version");
    if (ev_arg != NULL && strcmp(ev_arg, "any") != 0) {
        uint64_t v;
        if (cli_parse_u64(cli, "--expected-version", ev_arg, 0, INT64_MAX, &v) != 0)
            return CLI_EXIT_USAGE;
        expected = (int64_t)v;
    }
    struct eventflow_new_event ev = {.type = a->pos[1], .key = cli_flag(a, "key")};
    if (ev.type[0] == '\0')
        return cli_usage(cli, "the event type must not be empty");
    bool as_string = cli_flag(a, "string") != NULL;
    json_t *keep_data = NULL, *keep_meta = NULL;
    if (a->n_pos > 2 && payload_arg(cli, "DATA", a->pos[2], as_string, &ev.data, &keep_data) != CLI_EXIT_OK)
        return CLI_EXIT_USAGE;
    const char *meta = cli_flag(a, "metadata");
    if (meta != NULL && payload_arg(cli, "--metadata", meta, false, &ev.metadata, &keep_meta) != CLI_EXIT_OK) {
        json_decref(keep_data);
        return CLI_EXIT_USAGE;
    }
    struct eventflow_client *c;
    int rc = cli_client(cli, EF_READ_LEADER, cli_timeout(cli, DATA_TIMEOUT_MS), &c);
    if (rc == CLI_EXIT_OK) {
        struct eventflow_event_list stored = {0};
        rc = eventflow_append(c, a->pos[0], expected, &ev, 1, &stored);
        if (rc != EF_OK) {
            rc = cli_fail_call(cli, c, rc, "append failed");
        } else {
            if (cli->output == CLI_OUTPUT_TABLE)
                output_event_header(stdout);
            for (size_t i = 0; i < stored.n && rc == CLI_EXIT_OK; i++)
                if (print_event(cli, &stored.events[i]) != 0)
                    rc = CLI_EXIT_USAGE;
            eventflow_event_list_free(&stored);
        }
        eventflow_client_free(c);
    }
    json_decref(keep_data);
    json_decref(keep_meta);
    return rc;
}

/* ---- reading events ------------------------------------------------------------------ */

/* Print what an iterator yields, at most limit events (0: no limit). */
static int drain(struct cli *cli, struct eventflow_client *c, struct eventflow_iter *it, uint64_t limit)
{
    if (cli->output == CLI_OUTPUT_TABLE)
        output_event_header(stdout);
    uint64_t printed = 0;
    while (limit == 0 || printed < limit) {
        const struct eventflow_event *ev;
        int rc = eventflow_iter_next(it, &ev);
        if (rc < 0)
            return cli_fail_call(cli, c, rc, "read failed");
        if (rc == 0)
            break;
        if (print_event(cli, ev) != 0)
            return CLI_EXIT_USAGE;
        printed++;
    }
    return CLI_EXIT_OK;
}

static int cmd_get(struct cli *cli, const struct cli_args *a)
{
    uint64_t from = 0, limit = 0;
    if (cli_flag_u64(cli, a, "from", UINT64_MAX, &from) != 0 || cli_flag_u64(cli, a, "limit", UINT64_MAX, &limit) != 0)
        return CLI_EXIT_USAGE;
    struct eventflow_client *c;
    int rc = read_client(cli, a, &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    struct eventflow_iter *it;
    uint32_t page = limit > 0 && limit < PAGE_SIZE ? (uint32_t)limit : PAGE_SIZE;
    rc = eventflow_iter_stream(c, a->pos[0], from, page, &it);
    if (rc != EF_OK) {
        rc = cli_fail_call(cli, c, rc, "read failed");
    } else {
        rc = drain(cli, c, it, limit);
        eventflow_iter_free(it);
    }
    eventflow_client_free(c);
    return rc;
}

/* ---- following: tail, getall --follow, subscribe ------------------------------------------ */

/* The longest wait for an event before looking for Ctrl-C again. */
#define FOLLOW_WAIT_MS 100
/* Messages handled between two looks for Ctrl-C while they keep coming. */
#define FOLLOW_SIGNAL_EVERY 256

/* A marker, in the chosen format: {"marker","node"[,"last_contact_ms"]}
 * on its own line, or a line starting with "--" below the table. */
static int print_marker(const struct cli *cli, const struct eventflow_sub_message *m)
{
    const char *name = m->kind == EF_SUB_CAUGHT_UP ? "caught_up" : m->kind == EF_SUB_STALE ? "stale" : "current";
    if (cli->output == CLI_OUTPUT_TABLE) {
        if (m->kind == EF_SUB_STALE)
            printf("-- %s on %s (no leader for %" PRIu64 " ms)\n", name, m->node, m->last_contact_ms);
        else
            printf("-- %s on %s\n", name, m->node);
        return ferror(stdout) ? -1 : 0;
    }
    json_t *j = json_pack("{s:s, s:s}", "marker", name, "node", m->node);
    if (j != NULL && m->kind == EF_SUB_STALE)
        json_object_set_new(j, "last_contact_ms", output_json_u64(m->last_contact_ms));
    int rc = j != NULL ? output_json(stdout, j, false) : -1;
    json_decref(j);
    return rc;
}

/* Subscribe, then print what comes (events, and markers if the spec asks
 * for them) until limit events (0: no limit), Ctrl-C or SIGTERM. The
 * table's header is printed once subscribed: what commits after it shows. */
static int follow(struct cli *cli, struct eventflow_client *c, const struct eventflow_sub_spec *spec, uint64_t limit)
{
    cli_block_interrupts();
    struct eventflow_subscription *sub;
    int rc = eventflow_subscribe(c, spec, &sub);
    if (rc != EF_OK)
        return cli_fail_call(cli, c, rc, "cannot subscribe");
    if (cli->output == CLI_OUTPUT_TABLE)
        output_event_header(stdout);
    int result = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    uint64_t printed = 0;
    unsigned handled = 0;
    while (result == CLI_EXIT_OK && (limit == 0 || printed < limit)) {
        const struct eventflow_sub_message *m;
        rc = eventflow_subscription_next(sub, &m, 0);
        if (rc == EF_ETIMEDOUT) {
            /* Nothing waiting: show what was printed before waiting. */
            if (fflush(stdout) != 0) {
                result = CLI_EXIT_USAGE;
                break;
            }
            if (cli_wait_interrupt(0))
                break;
            rc = eventflow_subscription_next(sub, &m, FOLLOW_WAIT_MS);
            if (rc == EF_ETIMEDOUT)
                continue;
        }
        if (rc != EF_OK) {
            result = cli_fail_msg(cli, rc, eventflow_subscription_last_error(sub), "subscription failed");
            break;
        }
        if ((m->kind == EF_SUB_EVENT ? print_event(cli, m->event) : print_marker(cli, m)) != 0)
            result = CLI_EXIT_USAGE;
        printed += m->kind == EF_SUB_EVENT;
        if (++handled % FOLLOW_SIGNAL_EVERY == 0 && cli_wait_interrupt(0))
            break;
    }
    eventflow_subscription_free(sub);
    if (fflush(stdout) != 0 && result == CLI_EXIT_OK)
        result = CLI_EXIT_USAGE;
    return result;
}

/* The subscription node for --read-from (the leader by default, as for
 * reads). */
static enum eventflow_sub_node sub_node_of(enum eventflow_read_preference pref)
{
    return pref == EF_READ_FOLLOWER ? EF_SUB_ON_FOLLOWER : pref == EF_READ_ANY ? EF_SUB_ON_ANY : EF_SUB_ON_LEADER;
}

/* getall and tail: the global log after --after, paged with an iterator,
 * or followed through a subscription (tail, getall --follow). */
static int read_log(struct cli *cli, const struct cli_args *a, bool follow_it, bool from_end)
{
    uint64_t limit = 0, interval = 0;
    /* --interval is still checked, though nothing polls any more: scripts
     * that pass it keep working. */
    if (cli_flag_u64(cli, a, "limit", UINT64_MAX, &limit) != 0 ||
        cli_flag_u64(cli, a, "interval", 60000, &interval) != 0)
        return CLI_EXIT_USAGE;
    follow_it = follow_it || cli_flag(a, "follow") != NULL;
    const char *after = cli_flag(a, "after");
    if (after != NULL && after[0] != '\0' && strlen(after) != EF_ID_LEN)
        return cli_usage(cli, "--after must be an event id (%d characters)", EF_ID_LEN);
    enum eventflow_read_preference pref;
    if (read_from(cli, a, EF_READ_LEADER, &pref) != 0)
        return CLI_EXIT_USAGE;
    struct eventflow_client *c;
    int rc = cli_client(cli, pref, cli_timeout(cli, DATA_TIMEOUT_MS), &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (follow_it) {
        struct eventflow_sub_spec spec = {.node = sub_node_of(pref)};
        if (after != NULL && after[0] != '\0') {
            spec.from = EF_SUB_AFTER_ID;
            spec.after_id = after;
        } else if (after != NULL || !from_end) {
            spec.from = EF_SUB_FROM_START;
        }
        rc = follow(cli, c, &spec, limit);
    } else {
        struct eventflow_iter *it;
        uint32_t page = limit > 0 && limit < PAGE_SIZE ? (uint32_t)limit : PAGE_SIZE;
        rc = eventflow_iter_all(c, after, page, &it);
        if (rc != EF_OK) {
            rc = cli_fail_call(cli, c, rc, "read failed");
        } else {
            rc = drain(cli, c, it, limit);
            eventflow_iter_free(it);
        }
    }
    eventflow_client_free(c);
    return rc;
}

static int cmd_getall(struct cli *cli, const struct cli_args *a)
{
    return read_log(cli, a, false, false);
}

static int cmd_tail(struct cli *cli, const struct cli_args *a)
{
    return read_log(cli, a, true, cli_flag(a, "from-start") == NULL);
}

/* SUBSCRIBE's spec as docs/protocol.md writes it, into a library spec that
 * borrows from `json` and `types` (the caller releases json). */
struct spec_arg {
    struct eventflow_sub_spec spec;
    const char *types[EF_SUB_MAX_TYPES];
    json_t *json;
};

static int spec_field(struct cli *cli, struct spec_arg *s, const char *key, json_t *v, bool *all)
{
    struct eventflow_sub_spec *sp = &s->spec;
    if (strcmp(key, "stream") == 0 && json_is_string(v)) {
        sp->stream = json_string_value(v);
    } else if (strcmp(key, "version") == 0 && json_is_integer(v) && json_integer_value(v) >= 0) {
        sp->from = EF_SUB_FROM_VERSION;
        sp->version = (uint64_t)json_integer_value(v);
    } else if (strcmp(key, "all") == 0 && json_is_true(v)) {
        *all = true;
    } else if (strcmp(key, "offset") == 0 && (json_is_string(v) || json_is_null(v))) {
        const char *id = json_string_value(v);
        sp->from = id == NULL ? EF_SUB_FROM_END : id[0] == '\0' ? EF_SUB_FROM_START : EF_SUB_AFTER_ID;
        sp->after_id = id;
    } else if (strcmp(key, "types") == 0 && json_is_array(v) && json_array_size(v) <= EF_SUB_MAX_TYPES) {
        size_t i;
        json_t *t;
        json_array_foreach(v, i, t)
        {
            if (!json_is_string(t))
                return cli_usage(cli, "'types' must be an array of event types");
            s->types[i] = json_string_value(t);
        }
        sp->types = s->types;
        sp->n_types = json_array_size(v);
    } else if (strcmp(key, "stream_prefix") == 0 && json_is_string(v)) {
        sp->stream_prefix = json_string_value(v);
    } else if (strcmp(key, "markers") == 0 && json_is_boolean(v)) {
        sp->markers = json_is_true(v);
    } else {
        return cli_usage(cli, "unknown field or wrong value in the spec: \"%s\"", key);
    }
    return CLI_EXIT_OK;
}

static int spec_parse(struct cli *cli, const char *text, struct spec_arg *s)
{
    memset(s, 0, sizeof *s);
    if (strcmp(text, "$all") == 0)
        return CLI_EXIT_OK;
    if (text[0] != '{') {
        s->spec.stream = text;
        return CLI_EXIT_OK;
    }
    json_error_t err;
    s->json = json_loads(text, 0, &err);
    if (s->json == NULL || !json_is_object(s->json))
        return cli_usage(cli, "the spec is not a JSON object (%s)", s->json == NULL ? err.text : "another value");
    bool all = false;
    const char *key;
    json_t *v;
    json_object_foreach(s->json, key, v)
    {
        if (spec_field(cli, s, key, v, &all) != CLI_EXIT_OK)
            return CLI_EXIT_USAGE;
    }
    if (all == (s->spec.stream != NULL))
        return cli_usage(cli, "the spec needs either \"stream\" or \"all\": true");
    return CLI_EXIT_OK;
}

static int cmd_subscribe(struct cli *cli, const struct cli_args *a)
{
    uint64_t limit = 0;
    if (cli_flag_u64(cli, a, "limit", UINT64_MAX, &limit) != 0)
        return CLI_EXIT_USAGE;
    enum eventflow_read_preference pref;
    if (read_from(cli, a, EF_READ_FOLLOWER, &pref) != 0)
        return CLI_EXIT_USAGE;
    struct spec_arg s;
    int rc = spec_parse(cli, a->pos[0], &s);
    struct eventflow_client *c = NULL;
    if (rc == CLI_EXIT_OK)
        rc = cli_client(cli, pref, cli_timeout(cli, DATA_TIMEOUT_MS), &c);
    if (rc == CLI_EXIT_OK) {
        s.spec.node = sub_node_of(pref);
        rc = follow(cli, c, &s.spec, limit);
    }
    eventflow_client_free(c);
    json_decref(s.json);
    return rc;
}

/* ---- streams, count, checksum ------------------------------------------------------------ */

static int cmd_streams(struct cli *cli, const struct cli_args *a)
{
    uint64_t skip = 0, limit = 0;
    if (cli_flag_u64(cli, a, "skip", UINT64_MAX, &skip) != 0 || cli_flag_u64(cli, a, "limit", UINT64_MAX, &limit) != 0)
        return CLI_EXIT_USAGE;
    struct eventflow_client *c;
    int rc = read_client(cli, a, &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    static const char *const headers[] = {"STREAM", "EVENTS", "ADDED AT"};
    struct table *t = cli->output == CLI_OUTPUT_TABLE ? table_new(3, headers) : NULL;
    if (t != NULL)
        table_align_right(t, 1);
    uint64_t listed = 0;
    for (;;) {
        uint64_t want = limit == 0 || limit - listed > PAGE_SIZE ? PAGE_SIZE : limit - listed;
        struct eventflow_stream_list sl = {0};
        rc = eventflow_list_streams(c, skip + listed, (uint32_t)want, &sl);
        if (rc != EF_OK) {
            rc = cli_fail_call(cli, c, rc, "cannot list the streams");
            break;
        }
        for (size_t i = 0; i < sl.n; i++) {
            const struct eventflow_stream_info *s = &sl.streams[i];
            if (t != NULL) {
                table_row(t);
                table_set(t, 0, "%s", s->name);
                table_set(t, 1, "%" PRIu64, s->events);
                table_set(t, 2, "%s", s->added_at);
            } else {
                json_t *j = json_pack("{s:s, s:I, s:s}", "id", s->name, "events", (json_int_t)s->events,
                                      "added_at", s->added_at);
                int out = j != NULL ? output_json(stdout, j, false) : -1;
                json_decref(j);
                if (out != 0)
                    rc = CLI_EXIT_USAGE;
            }
        }
        listed += sl.n;
        bool last_page = sl.n < want;
        eventflow_stream_list_free(&sl);
        if (rc != EF_OK || last_page || (limit != 0 && listed >= limit))
            break;
    }
    if (t != NULL) {
        if (rc == EF_OK)
            table_print(t, stdout);
        table_free(t);
    }
    eventflow_client_free(c);
    return rc;
}

static int cmd_count(struct cli *cli, const struct cli_args *a)
{
    struct eventflow_client *c;
    int rc = read_client(cli, a, &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    uint64_t events = 0, streams = 0;
    rc = eventflow_event_count(c, &events);
    if (rc == EF_OK)
        rc = eventflow_stream_count(c, &streams);
    if (rc != EF_OK) {
        rc = cli_fail_call(cli, c, rc, "cannot count");
        eventflow_client_free(c);
        return rc;
    }
    if (cli->output == CLI_OUTPUT_JSON) {
        json_t *j = json_pack("{s:I, s:I, s:s}", "events", (json_int_t)events, "streams", (json_int_t)streams,
                              "node", eventflow_client_last_node(c));
        rc = j != NULL && output_json(stdout, j, false) == 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        json_decref(j);
    } else {
        printf("events   %" PRIu64 "\nstreams  %" PRIu64 "\n", events, streams);
    }
    eventflow_client_free(c);
    return rc;
}

static int cmd_checksum(struct cli *cli, const struct cli_args *a)
{
    struct eventflow_client *c;
    int rc = read_client(cli, a, &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    struct eventflow_checksum cs;
    rc = eventflow_checksum(c, &cs);
    if (rc != EF_OK) {
        rc = cli_fail_call(cli, c, rc, "cannot read the checksum");
        eventflow_client_free(c);
        return rc;
    }
    if (cli->output == CLI_OUTPUT_JSON) {
        json_t *j = json_pack("{s:s, s:s, s:s}", "last_id", cs.last_id, "checksum", cs.checksum, "node",
                              eventflow_client_last_node(c));
        rc = j != NULL && output_json(stdout, j, false) == 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        json_decref(j);
    } else {
        printf("%s %s (node %s)\n", cs.last_id, cs.checksum, eventflow_client_last_node(c));
    }
    eventflow_client_free(c);
    return rc;
}

/* ---- the commands' table ------------------------------------------------------------------ */

#define READ_FROM_FLAG {"read-from", 0, "leader|follower|any", "which node serves the read (default leader)"}
#define END_OF_FLAGS {NULL, 0, NULL, NULL}

static const struct cli_flag append_flags[] = {
    {"expected-version", 0, "N|any", "the stream's length before the append (default any: no check)"},
    {"metadata", 0, "JSON", "the event's metadata"},
    {"string", 0, NULL, "send DATA as a string, not as JSON"},
    {"key", 0, "KEY", "idempotency key (default: a random one)"},
    END_OF_FLAGS,
};

static const struct cli_flag get_flags[] = {
    {"from", 0, "N", "first version to show (default 0)"},
    {"limit", 0, "N", "at most N events (default 0: all)"},
    READ_FROM_FLAG,
    END_OF_FLAGS,
};

static const struct cli_flag getall_flags[] = {
    {"after", 0, "ID", "start after this event id (default: the beginning)"},
    {"limit", 0, "N", "at most N events (default 0: all)"},
    {"follow", 'f', NULL, "keep following the log as it grows, until interrupted"},
    {"interval", 0, "MS", "accepted and ignored: events now arrive as they commit"},
    READ_FROM_FLAG,
    END_OF_FLAGS,
};

static const struct cli_flag tail_flags[] = {
    {"after", 0, "ID", "start after this event id (default: the current end)"},
    {"from-start", 0, NULL, "start at the beginning of the log"},
    {"limit", 0, "N", "stop after N events (default 0: run until interrupted)"},
    {"interval", 0, "MS", "accepted and ignored: events now arrive as they commit"},
    READ_FROM_FLAG,
    END_OF_FLAGS,
};

static const struct cli_flag subscribe_flags[] = {
    {"limit", 0, "N", "stop after N events (default 0: run until interrupted)"},
    {"read-from", 0, "follower|any|leader", "which node serves the subscription (default follower)"},
    END_OF_FLAGS,
};

static const struct cli_flag streams_flags[] = {
    {"skip", 0, "N", "skip the first N streams (default 0)"},
    {"limit", 0, "N", "at most N streams (default 0: all)"},
    READ_FROM_FLAG,
    END_OF_FLAGS,
};

static const struct cli_flag read_flags[] = {
    READ_FROM_FLAG,
    END_OF_FLAGS,
};

#define EVENTS_OUTPUT_HELP                                                                        \
    "Output: a table, one event per line (data cut after 60 characters), or with\n"               \
    "-o json one event object per line, as the server returns it (JSON Lines).\n"

const struct cli_command cli_data_commands[] = {
    {"append", "<stream> <type> [data]", 2, 3, "append one event to a stream",
     "Appends one event (ADD) through the leader and prints it as stored, with\n"
     "its id, version and time. DATA and --metadata are JSON values: a JSON\n"
     "string is stored as that string, anything else as its JSON text; with\n"
     "--string DATA is sent as text. The append carries an idempotency key, so\n"
     "the library's retries never store it twice. Exit code 1 if the stream's\n"
     "length is not --expected-version.\n"
     "\n" EVENTS_OUTPUT_HELP
     "\n"
     "Examples:\n"
     "  eventflowctl append order-7 OrderPlaced '{\"total\":42}'\n"
     "  eventflowctl append order-7 OrderShipped --expected-version 1 --metadata '{\"by\":\"ops\"}'\n"
     "  eventflowctl append notes Note 'plain text' --string",
     append_flags, cmd_append},
    {"get", "<stream>", 1, 1, "the events of one stream",
     "Prints the stream's events from version --from on, page by page.\n"
     "An unknown stream prints no events.\n"
     "\n" EVENTS_OUTPUT_HELP
     "\n"
     "Examples:\n"
     "  eventflowctl get order-7\n"
     "  eventflowctl get order-7 --from 10 --limit 5 -o json",
     get_flags, cmd_get},
    {"getall", "", 0, 0, "the global log, in commit order",
     "Prints the global log after --after (default: from the beginning), page\n"
     "by page; with --follow it subscribes instead and keeps printing new events\n"
     "as they commit, like tail.\n"
     "\n" EVENTS_OUTPUT_HELP
     "\n"
     "Examples:\n"
     "  eventflowctl getall --limit 100\n"
     "  eventflowctl getall --after 01JDB8M2Z1M9W6Q4B3XJ8Y3T5R -o json",
     getall_flags, cmd_getall},
    {"tail", "", 0, 0, "follow the global log as it grows",
     "Prints every event committed from now on (or after --after, or from the\n"
     "start) as the serving node applies it, until Ctrl-C or SIGTERM (exit code\n"
     "0) or --limit events. It subscribes (see subscribe): when the serving node\n"
     "fails it goes on from another one, with no event missed or printed twice.\n"
     "In a table, the header line shows once the subscription is in place.\n"
     "\n" EVENTS_OUTPUT_HELP
     "\n"
     "Examples:\n"
     "  eventflowctl tail\n"
     "  eventflowctl tail -o json | jq -c 'select(.type == \"OrderPlaced\")'",
     tail_flags, cmd_tail},
    {"subscribe", "<spec>", 1, 1, "follow a stream or the log, with filters and markers",
     "Subscribes (SUBSCRIBE) and prints each event as the serving node applies\n"
     "it, until Ctrl-C or SIGTERM (exit code 0) or --limit events. <spec> is\n"
     "what SUBSCRIBE takes (docs/protocol.md): $all or a stream name (from now\n"
     "on), or a JSON object: {\"stream\":S,\"version\":N} (from version N),\n"
     "{\"all\":true,\"offset\":ID} (after that id; \"\": from the start), with\n"
     "\"types\":[...], \"stream_prefix\":P (the log only) and \"markers\":true. When\n"
     "the serving node fails, it goes on from another one after the last event\n"
     "printed: nothing is missed or printed twice.\n"
     "\n" EVENTS_OUTPUT_HELP
     "With markers, a line also says when the subscription has caught up (what\n"
     "follows is live) and when its node is stale or current again: -o json\n"
     "prints {\"marker\":\"caught_up\"|\"stale\"|\"current\",\"node\":...}, a table\n"
     "a line starting with \"--\".\n"
     "\n"
     "Examples:\n"
     "  eventflowctl subscribe order-7\n"
     "  eventflowctl subscribe '{\"stream\":\"order-7\",\"version\":0,\"markers\":true}' -o json\n"
     "  eventflowctl subscribe '{\"all\":true,\"offset\":\"\",\"types\":[\"OrderPlaced\"]}' --limit 10",
     subscribe_flags, cmd_subscribe},
    {"streams", "", 0, 0, "streams in name order, with their lengths",
     "Lists streams (LISTSTREAMS) in name order: name, number of events, time of\n"
     "the first event. -o json prints one object per line.\n"
     "\n"
     "Examples:\n"
     "  eventflowctl streams --limit 20\n"
     "  eventflowctl streams --skip 1000 --limit 1000 -o json",
     streams_flags, cmd_streams},
    {"count", "", 0, 0, "the number of events and streams",
     "Exact counts as the serving node has applied them (EVENTCOUNT,\n"
     "STREAMCOUNT); the leader by default.\n"
     "\n"
     "Examples:\n"
     "  eventflowctl count\n"
     "  eventflowctl count -o json --read-from follower",
     read_flags, cmd_count},
    {"checksum", "", 0, 0, "the replica checksum after the latest event",
     "The id of the latest event and the chained checksum of the serving node\n"
     "(CHECKSUM), and which node answered. Every replica at the same event has\n"
     "the same checksum; `eventflowctl status` compares all members at once.\n"
     "\n"
     "Examples:\n"
     "  eventflowctl checksum\n"
     "  eventflowctl checksum --read-from follower -o json",
     read_flags, cmd_checksum},
    {NULL, NULL, 0, 0, NULL, NULL, NULL, NULL},
};
