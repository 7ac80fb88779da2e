/* settings.c - CONFIG, in Redis's shape so every Redis client can call it:
 *
 *   CONFIG GET <name|*>       [name, value, ...] for the matching settings
 *   CONFIG SET <name> <value> leader only; +OK once the change is applied
 *
 * Unlike Redis's CONFIG, these settings belong to the cluster, not to the
 * node answering: they shape the replicated state (which idempotency keys
 * are still remembered decides whether a retry appends), so a change is a
 * Settings entry in the log and every replica applies it at the same
 * index. A node's own options are its flags (eventflowd --help).
 *
 *   dedup-window   idempotency keys remembered, the newest ones (1..2^30)
 */
#include "server/settings.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "eventflow.pb-c.h"
#include "protocol/resp_writer.h"
#include "server/acl_conn.h"
#include "server/cluster.h"
#include "server/conn.h"
#include "node/node.h"
#include "server/server.h"
#include "store/store.h"

static const char DEDUP_WINDOW[] = "dedup-window";

static void settings_get(struct conn *c, const struct resp_command *cmd)
{
    struct buf *out = conn_reply_buf(c);
    if (cmd->argc != 3) {
        resp_write_error(out, "usage: CONFIG GET <name>|*");
        return;
    }
    const struct resp_arg *name = &cmd->argv[2];
    /* Redis answers an unknown name with an empty list. */
    if (!resp_arg_is(name, DEDUP_WINDOW) && !resp_arg_is(name, "*")) {
        resp_write_array_header(out, 0);
        return;
    }
    struct store_stats st;
    struct store *store = node_store(c->srv->node);
    if (store_stats(store, &st) != 0) {
        resp_write_errorf(out, "IOERR %s", store_errmsg(store));
        return;
    }
    char value[24];
    snprintf(value, sizeof value, "%" PRIu64, st.dedup_window);
    resp_write_array_header(out, 2);
    resp_write_bulk(out, DEDUP_WINDOW, strlen(DEDUP_WINDOW));
    resp_write_bulk(out, value, strlen(value));
}

struct settings_req {
    struct conn *conn;
    struct conn_slot *slot;
};

static void settings_applied(void *data, int status, const char *why)
{
    struct settings_req *r = data;
    struct buf *out = &r->slot->out;
    if (status == 0)
        resp_write_simple(out, "OK");
    else if (status == NODE_EUNKNOWN)
        resp_write_error(out, "UNKNOWN leadership was lost before the change committed; it may still take effect: "
                              "check CONFIG GET");
    else
        resp_write_errorf(out, "IOERR raft: %s", why != NULL ? why : "the entry failed");
    conn_complete(r->conn, r->slot);
    free(r);
}

static void settings_set(struct conn *c, const struct resp_command *cmd)
{
    struct buf *out = conn_reply_buf(c);
    uint64_t window;
    if (cmd->argc != 4) {
        resp_write_error(out, "usage: CONFIG SET <name> <value>");
        return;
    }
    if (!resp_arg_is(&cmd->argv[2], DEDUP_WINDOW)) {
        int len = (int)(cmd->argv[2].len > 64 ? 64 : cmd->argv[2].len);
        resp_write_errorf(out, "unknown setting '%.*s' (settings: %s)", len, cmd->argv[2].ptr, DEDUP_WINDOW);
        return;
    }
    if (resp_arg_u64(&cmd->argv[3], 10, &window) != 0 || window == 0 || window > STORE_MAX_DEDUP_WINDOW) {
        resp_write_errorf(out, "invalid dedup-window: expected 1..%llu keys",
                          (unsigned long long)STORE_MAX_DEDUP_WINDOW);
        return;
    }
    struct settings_req *r = xcalloc(1, sizeof *r);
    r->conn = c;
    r->slot = conn_defer(c, false);
    if (!cluster_require_leader(c, &r->slot->out)) {
        conn_complete(r->conn, r->slot);
        free(r);
        return;
    }
    Eventflow__Settings settings = EVENTFLOW__SETTINGS__INIT;
    settings.dedup_window = window;
    Eventflow__Entry entry = EVENTFLOW__ENTRY__INIT;
    entry.command_case = EVENTFLOW__ENTRY__COMMAND_SETTINGS;
    entry.settings = &settings;
    if (node_propose_entry(c->srv->node, &entry, settings_applied, r) != 0) {
        resp_write_error(&r->slot->out, "TRYAGAIN could not propose the change; retry");
        conn_complete(r->conn, r->slot);
        free(r);
    }
}

void settings_command(struct conn *c, const struct resp_command *cmd)
{
    if (cmd->argc >= 2 && resp_arg_is(&cmd->argv[1], "GET"))
        settings_get(c, cmd);
    else if (cmd->argc >= 2 && resp_arg_is(&cmd->argv[1], "SET")) {
        if (acl_conn_admin(c, "CONFIG SET"))
            settings_set(c, cmd);
    }
    else
        resp_write_error(conn_reply_buf(c), "unknown CONFIG subcommand (GET, SET)");
}
