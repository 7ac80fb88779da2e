/* client_cmd.c - CLIENT and the other per-connection commands of Redis
 * (see client_cmd.h). */
#include "server/client_cmd.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "protocol/resp_writer.h"
#include "server/conn.h"
#include "server/server.h"

/* Redis's rule for names and library fields: printable ASCII without
 * spaces. */
static bool printable_word(const struct resp_arg *a)
{
    for (size_t i = 0; i < a->len; i++)
        if (a->ptr[i] <= ' ' || a->ptr[i] > '~')
            return false;
    return true;
}

static bool copy_field(struct buf *out, char *dst, size_t cap, const struct resp_arg *a, const char *what)
{
    if (!printable_word(a)) {
        resp_write_errorf(out, "ERR %s cannot contain spaces, newlines or special characters.", what);
        return false;
    }
    if (a->len >= cap) {
        resp_write_errorf(out, "ERR the value is longer than %zu bytes", cap - 1);
        return false;
    }
    memcpy(dst, a->ptr, a->len);
    dst[a->len] = '\0';
    return true;
}

bool client_set_name(struct conn *c, struct buf *out, const struct resp_arg *name)
{
    return copy_field(out, c->name, sizeof c->name, name, "Client names");
}

/* One line of CLIENT INFO / CLIENT LIST, in Redis's field order for the
 * fields eventflow has. */
static void client_line(struct buf *b, const struct conn *c, uint64_t now_ms)
{
    buf_printf(b,
               "id=%" PRIu64 " addr=%s name=%s age=%" PRIu64 " db=0 sub=%zu psub=0 ssub=0 multi=-1 "
               "user=%s resp=%d lib-name=%s lib-ver=%s\n",
               c->id, c->peer, c->name, (now_ms - c->opened_ms) / 1000, c->n_subs,
               c->user[0] != '\0' ? c->user : "default", c->resp3 ? 3 : 2, c->lib_name,
               c->lib_ver);
}

static void client_setinfo(struct conn *c, struct buf *out, const struct resp_command *cmd)
{
    if (cmd->argc != 4) {
        resp_write_error(out, "ERR wrong number of arguments for 'client|setinfo' command");
        return;
    }
    const struct resp_arg *attr = &cmd->argv[2];
    bool ok;
    if (resp_arg_is(attr, "LIB-NAME"))
        ok = copy_field(out, c->lib_name, sizeof c->lib_name, &cmd->argv[3], "lib-name");
    else if (resp_arg_is(attr, "LIB-VER"))
        ok = copy_field(out, c->lib_ver, sizeof c->lib_ver, &cmd->argv[3], "lib-ver");
    else {
        resp_write_errorf(out, "ERR Unrecognized option '%.*s'", (int)(attr->len > 64 ? 64 : attr->len), attr->ptr);
        return;
    }
    if (ok)
        resp_write_simple(out, "OK");
}

static void client_help(struct buf *out)
{
    static const char *const lines[] = {
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME", "    Return the name of the current connection.",
        "ID", "    Return the ID of the current connection.",
        "INFO", "    Return information about the current client connection.",
        "LIST", "    Return information about client connections.",
        "SETINFO <option> <value>", "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
        "SETNAME <name>", "    Assign the name <name> to the current connection.",
        "NO-EVICT (ON|OFF)", "    Accepted; eventflow evicts no client.",
        "NO-TOUCH (ON|OFF)", "    Accepted; eventflow keeps no LRU.",
    };
    resp_write_array_header(out, sizeof lines / sizeof lines[0]);
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        resp_write_simple(out, lines[i]);
}

void client_subcommand_error(struct buf *out, const char *container, const char *const *known,
                             const struct resp_arg *sub)
{
    int len = (int)(sub->len > 128 ? 128 : sub->len);
    for (size_t i = 0; known[i] != NULL; i++) {
        if (!resp_arg_is(sub, known[i]))
            continue;
        char full[64];
        int n = snprintf(full, sizeof full, "%s|%s", container, known[i]);
        for (int j = 0; j < n && j < (int)sizeof full; j++)
            full[j] = (char)tolower((unsigned char)full[j]);
        resp_write_errorf(out, "ERR wrong number of arguments for '%s' command", full);
        return;
    }
    resp_write_errorf(out, "ERR unknown subcommand '%.*s'. Try %s HELP.", len, sub->ptr, container);
}

void client_command(struct conn *c, const struct resp_command *cmd)
{
    struct buf *out = conn_reply_buf(c);
    const struct resp_arg *sub = &cmd->argv[1];
    uint64_t now = uv_now(c->srv->loop);
    c->redis_client = true;
    if (resp_arg_is(sub, "SETNAME") && cmd->argc == 3) {
        if (client_set_name(c, out, &cmd->argv[2]))
            resp_write_simple(out, "OK");
    } else if (resp_arg_is(sub, "GETNAME") && cmd->argc == 2) {
        if (c->name[0] != '\0')
            resp_write_bulk_str(out, c->name);
        else
            resp_write_null(out);
    } else if (resp_arg_is(sub, "ID") && cmd->argc == 2) {
        resp_write_int(out, (int64_t)c->id);
    } else if (resp_arg_is(sub, "INFO") && cmd->argc == 2) {
        size_t off = resp_bulk_begin(out);
        client_line(out, c, now);
        resp_bulk_end(out, off);
    } else if (resp_arg_is(sub, "LIST") && cmd->argc == 2) {
        size_t off = resp_bulk_begin(out);
        for (const struct conn *o = c->srv->conns; o != NULL; o = o->next)
            if (o->sink == NULL)
                client_line(out, o, now);
        resp_bulk_end(out, off);
    } else if (resp_arg_is(sub, "SETINFO")) {
        client_setinfo(c, out, cmd);
    } else if ((resp_arg_is(sub, "NO-EVICT") || resp_arg_is(sub, "NO-TOUCH")) && cmd->argc == 3 &&
               (resp_arg_is(&cmd->argv[2], "ON") || resp_arg_is(&cmd->argv[2], "OFF"))) {
        resp_write_simple(out, "OK");
    } else if (resp_arg_is(sub, "HELP") && cmd->argc == 2) {
        client_help(out);
    } else {
        static const char *const known[] = {"SETNAME", "GETNAME", "ID",       "INFO", "LIST",
                                            "SETINFO", "NO-EVICT", "NO-TOUCH", "HELP", NULL};
        client_subcommand_error(out, "CLIENT", known, sub);
    }
}

void client_readonly(struct conn *c, const struct resp_command *cmd)
{
    (void)cmd;
    c->redis_client = true;
    resp_write_simple(conn_reply_buf(c), "OK");
}

void client_select(struct conn *c, const struct resp_command *cmd)
{
    struct buf *out = conn_reply_buf(c);
    uint64_t db;
    c->redis_client = true;
    if (resp_arg_u64(&cmd->argv[1], 10, &db) != 0 || db > INT32_MAX)
        resp_write_error(out, "ERR value is not an integer or out of range");
    else if (db != 0)
        resp_write_error(out, "ERR SELECT is not allowed in cluster mode");
    else
        resp_write_simple(out, "OK");
}

void client_echo(struct conn *c, const struct resp_command *cmd)
{
    resp_write_bulk(conn_reply_buf(c), cmd->argv[1].ptr, cmd->argv[1].len);
}

void client_time(struct conn *c, const struct resp_command *cmd)
{
    struct timespec ts;
    char sec[24], usec[24];
    (void)cmd;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        ts.tv_sec = 0, ts.tv_nsec = 0;
    snprintf(sec, sizeof sec, "%lld", (long long)ts.tv_sec);
    snprintf(usec, sizeof usec, "%ld", ts.tv_nsec / 1000);
    struct buf *out = conn_reply_buf(c);
    resp_write_array_header(out, 2);
    resp_write_bulk_str(out, sec);
    resp_write_bulk_str(out, usec);
}
