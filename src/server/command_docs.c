/* command_docs.c - COMMAND (see command_docs.h). Each command is Redis
 * 7's ten-element description: name, arity, flags, first key, last key,
 * key step, ACL categories, tips, key specifications, subcommands. */
#include "server/command_docs.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "protocol/resp_writer.h"
#include "server/client_cmd.h"
#include "server/commands.h"
#include "server/conn.h"

/* name in lower case, appended as it is (no RESP framing). */
static void write_lower_into(struct buf *out, const char *name)
{
    for (const char *p = name; *p != '\0'; p++)
        buf_append_char(out, (char)tolower((unsigned char)*p));
}

static void write_lower(struct buf *out, const char *name)
{
    size_t off = resp_bulk_begin(out);
    write_lower_into(out, name);
    resp_bulk_end(out, off);
}

/* The space-separated words of s, as an array of simple strings, each
 * with prefix in front. */
static void write_words(struct buf *out, const char *s, const char *prefix)
{
    size_t n = 0;
    for (const char *p = s + strspn(s, " "); *p != '\0'; p += strspn(p, " ")) {
        p += strcspn(p, " ");
        n++;
    }
    resp_write_array_header(out, n);
    for (const char *p = s + strspn(s, " "); *p != '\0'; p += strspn(p, " ")) {
        size_t len = strcspn(p, " ");
        buf_printf(out, "+%s%.*s\r\n", prefix, (int)len, p);
        p += len;
    }
}

static const char *acl_categories(const struct command *k)
{
    if (strstr(k->redis_flags, "write") != NULL)
        return "write";
    if (strstr(k->redis_flags, "readonly") != NULL)
        return "read";
    if (strstr(k->redis_flags, "pubsub") != NULL)
        return "pubsub";
    if (strstr(k->redis_flags, "admin") != NULL)
        return "admin dangerous";
    return "connection";
}

/* The subcommands of CLUSTER, GROUP, STREAM and ACL, as Redis 7 lists a
 * container's ("cluster|add"): membership changes, the GROUP operations,
 * STREAM DELETE/SETMETA and the ACL changes that go through the log
 * write; CLUSTER MEMBERS/STATUS, the GROUP lists, STREAM META and ACL
 * LIST/WHOAMI read.
 * Clients route by the container's own row; these say what each does. */
struct subcommand {
    const char *container; /* the command table's name */
    const char *name;      /* lower case */
    const char *flags;
};

static const struct subcommand subcommands[] = {
    {"CLUSTER", "members", "readonly stale"},   {"CLUSTER", "status", "readonly stale"},
    {"CLUSTER", "add", "write admin"},          {"CLUSTER", "register", "write admin"},
    {"CLUSTER", "promote", "write admin"},      {"CLUSTER", "demote", "write admin"},
    {"CLUSTER", "remove", "write admin"},       {"CLUSTER", "transfer", "write admin"},
    {"CLUSTER", "slots", "stale"},              {"CLUSTER", "shards", "stale"},
    {"CLUSTER", "nodes", "stale"},              {"CLUSTER", "myid", "stale"},
    {"CLUSTER", "myshardid", "stale"},          {"CLUSTER", "info", "stale"},
    {"CLUSTER", "keyslot", "stale"},            {"GROUP", "create", "write"},
    {"GROUP", "destroy", "write"},              {"GROUP", "read", "write"},
    {"GROUP", "ack", "write"},                  {"GROUP", "nack", "write"},
    {"GROUP", "replay", "write"},               {"GROUP", "seek", "write"},
    {"GROUP", "info", "readonly"},              {"GROUP", "list", "readonly"},
    {"GROUP", "pending", "readonly"},           {"GROUP", "parked", "readonly"},
    {"GROUP", "delconsumer", "write"},
    {"STREAM", "delete", "write"},              {"STREAM", "setmeta", "write"},
    {"STREAM", "meta", "readonly"},
    {"ACL", "setuser", "write admin"},          {"ACL", "deluser", "write admin"},
    {"ACL", "list", "readonly admin"},          {"ACL", "whoami", "readonly"},
};

static void write_subcommands(struct buf *out, const char *container)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        n += strcmp(subcommands[i].container, container) == 0;
    resp_write_array_header(out, n);
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++) {
        const struct subcommand *s = &subcommands[i];
        if (strcmp(s->container, container) != 0)
            continue;
        resp_write_array_header(out, 10);
        size_t off = resp_bulk_begin(out);
        write_lower_into(out, container);
        buf_printf(out, "|%s", s->name);
        resp_bulk_end(out, off);
        resp_write_int(out, -2);
        write_words(out, s->flags, "");
        resp_write_int(out, 0);
        resp_write_int(out, 0);
        resp_write_int(out, 0);
        write_words(out, strstr(s->flags, "write") != NULL ? "write admin" : "read", "@");
        resp_write_array_header(out, 0);
        resp_write_array_header(out, 0);
        resp_write_array_header(out, 0);
    }
}

static void write_info(struct buf *out, const struct command *k, const char *name)
{
    resp_write_array_header(out, 10);
    write_lower(out, name);
    resp_write_int(out, k->arity);
    write_words(out, k->redis_flags, "");
    resp_write_int(out, k->first_key);
    resp_write_int(out, k->first_key);
    resp_write_int(out, k->first_key > 0 ? 1 : 0);
    write_words(out, acl_categories(k), "@");
    resp_write_array_header(out, 0); /* tips */
    resp_write_array_header(out, 0); /* key specifications */
    write_subcommands(out, k->name);
}

static void write_docs(struct conn *c, struct buf *out, const struct command *k, const char *name)
{
    write_lower(out, name);
    if (c->resp3)
        resp_write_map_header(out, 3);
    else
        resp_write_array_header(out, 6);
    resp_write_bulk_str(out, "summary");
    resp_write_bulk_str(out, k->summary);
    resp_write_bulk_str(out, "since");
    resp_write_bulk_str(out, "0.1.0");
    resp_write_bulk_str(out, "group");
    resp_write_bulk_str(out, "eventflow");
}

/* The row named a (by name or alias), with the spelling used; NULL if none. */
static const struct command *find(const struct resp_arg *a, const char **name)
{
    size_t n;
    const struct command *t = commands_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (resp_arg_is(a, t[i].name)) {
            *name = t[i].name;
            return &t[i];
        }
        if (t[i].alias != NULL && resp_arg_is(a, t[i].alias)) {
            *name = t[i].alias;
            return &t[i];
        }
    }
    return NULL;
}

static size_t count_names(void)
{
    size_t n, names = 0;
    const struct command *t = commands_table(&n);
    for (size_t i = 0; i < n; i++)
        names += t[i].alias != NULL ? 2 : 1;
    return names;
}

/* Every command and alias: info rows, docs pairs or bare names. */
enum listing { LIST_INFO, LIST_DOCS, LIST_NAMES };

static void write_all(struct conn *c, struct buf *out, enum listing how)
{
    size_t n;
    const struct command *t = commands_table(&n);
    size_t names = count_names();
    if (how == LIST_DOCS && c->resp3)
        resp_write_map_header(out, names);
    else
        resp_write_array_header(out, how == LIST_DOCS ? 2 * names : names);
    for (size_t i = 0; i < n; i++) {
        for (int a = 0; a < 2; a++) {
            const char *name = a == 0 ? t[i].name : t[i].alias;
            if (name == NULL)
                continue;
            if (how == LIST_INFO)
                write_info(out, &t[i], name);
            else if (how == LIST_DOCS)
                write_docs(c, out, &t[i], name);
            else
                write_lower(out, name);
        }
    }
}

static void command_named(struct conn *c, struct buf *out, const struct resp_command *cmd, bool docs)
{
    size_t argc = cmd->argc < RESP_MAX_ARGV ? cmd->argc : RESP_MAX_ARGV;
    if (!docs) {
        resp_write_array_header(out, argc - 2);
        for (size_t i = 2; i < argc; i++) {
            const char *name;
            const struct command *k = find(&cmd->argv[i], &name);
            if (k != NULL)
                write_info(out, k, name);
            else
                resp_write_null(out);
        }
        return;
    }
    /* DOCS leaves unknown names out. */
    size_t known = 0;
    for (size_t i = 2; i < argc; i++) {
        const char *name;
        known += find(&cmd->argv[i], &name) != NULL;
    }
    if (c->resp3)
        resp_write_map_header(out, known);
    else
        resp_write_array_header(out, 2 * known);
    for (size_t i = 2; i < argc; i++) {
        const char *name;
        const struct command *k = find(&cmd->argv[i], &name);
        if (k != NULL)
            write_docs(c, out, k, name);
    }
}

void command_docs_command(struct conn *c, const struct resp_command *cmd)
{
    struct buf *out = conn_reply_buf(c);
    c->redis_client = true;
    if (cmd->argc == 1) {
        write_all(c, out, LIST_INFO);
        return;
    }
    const struct resp_arg *sub = &cmd->argv[1];
    if (resp_arg_is(sub, "COUNT") && cmd->argc == 2) {
        resp_write_int(out, (int64_t)count_names());
    } else if (resp_arg_is(sub, "LIST") && cmd->argc == 2) {
        write_all(c, out, LIST_NAMES);
    } else if (resp_arg_is(sub, "INFO") || resp_arg_is(sub, "DOCS")) {
        bool docs = resp_arg_is(sub, "DOCS");
        if (cmd->argc == 2)
            write_all(c, out, docs ? LIST_DOCS : LIST_INFO);
        else
            command_named(c, out, cmd, docs);
    } else {
        static const char *const known[] = {"COUNT", "LIST", "INFO", "DOCS", NULL};
        client_subcommand_error(out, "COMMAND", known, sub);
    }
}
