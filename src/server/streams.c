/* streams.c - the STREAM command (see streams.h). */
#include "server/streams.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/mem.h"
#include "node/node.h"
#include "protocol/codec.h"
#include "protocol/codec_stream.h"
#include "protocol/resp_writer.h"
#include "server/acl_conn.h"
#include "server/commands.h"
#include "server/conn.h"
#include "server/reads.h"
#include "server/server.h"
#include "store/store.h"

/* A STREAM write from its proposal to its reply. */
struct stream_request {
    struct node_proposal np; /* np.data is this */
    struct conn *conn;       /* referenced through the slot */
    struct conn_slot *slot;  /* owned by conn */
    char *stream;            /* owned: for the reply */
};

static void stream_applied(struct node_proposal *np, const struct store_outcome *o)
{
    struct stream_request *r = np->data;
    struct buf *out = &r->slot->out;
    if (o->status != STORE_STREAM_OP_APPLIED) {
        resp_write_error(out, "IOERR the state machine rejected the entry (see the server log)");
        return;
    }
    switch (o->stream_result) {
    case STORE_STREAM_OK:
        resp_write_simple(out, "OK");
        break;
    case STORE_STREAM_ENOSTREAM:
        resp_write_errorf(out, "NOSTREAM no stream named \"%s\" (or it is already deleted); nothing changed",
                          r->stream);
        break;
    case STORE_STREAM_ETOMBSTONED:
        resp_write_errorf(out, "DELETED stream \"%s\" was hard-deleted; nothing changed", r->stream);
        break;
    case STORE_STREAM_EBEYOND:
        resp_write_errorf(out, "BEYOND truncate_before is past the end of stream \"%s\"; nothing changed",
                          r->stream);
        break;
    default:
        resp_write_error(out, "IOERR the state machine found the operation malformed (see the server log)");
        break;
    }
}

static void stream_done(struct node_proposal *np, int status, const char *why)
{
    struct stream_request *r = np->data;
    struct buf *out = &r->slot->out;
    if (status == 0 && !np->was_applied)
        resp_write_error(out, "UNKNOWN the change was applied but its result was lost; check STREAM META");
    else if (status == NODE_EUNKNOWN)
        resp_write_error(out, "UNKNOWN leadership was lost before the change committed; check STREAM META");
    else if (status != 0)
        resp_write_errorf(out, "IOERR raft: %s", why != NULL ? why : "the entry failed");
    if (status == 0)
        node_retention_kick(r->conn->srv->node);
    conn_complete(r->conn, r->slot);
    free(r->stream);
    free(r);
}

static void stream_write(struct conn *c, const struct codec_stream *q)
{
    Eventflow__StreamOp op = EVENTFLOW__STREAM_OP__INIT;
    Eventflow__StreamDelete del = EVENTFLOW__STREAM_DELETE__INIT;
    Eventflow__StreamMetaUpdate meta = EVENTFLOW__STREAM_META_UPDATE__INIT;
    op.stream = q->stream;
    if (q->cmd == CODEC_STREAM_DELETE) {
        del.hard = q->hard;
        op.op_case = EVENTFLOW__STREAM_OP__OP_DELETE;
        op.delete_ = &del;
    } else {
        meta.has_max_age = q->has_max_age;
        meta.max_age_s = q->max_age_s;
        meta.has_max_count = q->has_max_count;
        meta.max_count = q->max_count;
        meta.has_truncate_before = q->has_truncate_before;
        meta.truncate_before = q->truncate_before;
        op.op_case = EVENTFLOW__STREAM_OP__OP_SET_META;
        op.set_meta = &meta;
    }
    struct stream_request *r = xcalloc(1, sizeof *r);
    r->conn = c;
    r->stream = xstrdup(q->stream);
    r->np.data = r;
    r->np.applied = stream_applied;
    r->np.done = stream_done;
    r->slot = conn_defer(c, true);
    int rc = node_propose_stream(c->srv->node, &op, &r->np);
    if (rc != 0) {
        commands_write_refusal(c, &r->slot->out, rc);
        conn_complete(c, r->slot);
        free(r->stream);
        free(r);
    }
}

static void json_setting(struct buf *b, const char *key, uint64_t v)
{
    if (v == 0)
        buf_printf(b, ",\"%s\":null", key);
    else
        buf_printf(b, ",\"%s\":%" PRIu64, key, v);
}

/* META: the stream's record as this node applied it, as a JSON object. */
static void stream_meta(struct conn *c, const struct codec_stream *q)
{
    struct node *n = c->srv->node;
    struct buf *out = conn_reply_buf(c);
    if (!reads_local_ready(n, out, false))
        return;
    struct store *s = node_store(n);
    struct store_stream_meta m;
    int rc = store_stream_meta(s, q->stream, strlen(q->stream), &m);
    if (rc == STORE_ENOENT) {
        resp_write_errorf(out, "NOSTREAM no stream named \"%s\"", q->stream);
        return;
    }
    if (rc != 0) {
        resp_write_errorf(out, "IOERR %s", store_errmsg(s));
        return;
    }
    bool gone = m.deleted || m.tombstoned;
    size_t off = resp_bulk_begin(out);
    buf_append_str(out, "{\"stream\":");
    codec_write_json_string(out, q->stream, strlen(q->stream));
    buf_printf(out,
               ",\"length\":%" PRIu64 ",\"first_version\":%" PRIu64 ",\"live_events\":%" PRIu64
               ",\"reclaimed_below\":%" PRIu64 ",\"deleted\":%s,\"hard_deleted\":%s",
               m.length, m.first_version, gone ? 0 : m.length - m.first_version, m.reclaimed_below,
               m.deleted ? "true" : "false", m.tombstoned ? "true" : "false");
    json_setting(out, "max_age", m.max_age_s);
    json_setting(out, "max_count", m.max_count);
    json_setting(out, "truncate_before", m.truncate_before);
    buf_printf(out, ",\"created_at_ns\":%" PRId64 "}", m.created_at_ns);
    resp_bulk_end(out, off);
}

bool streams_command_is_write(const struct resp_command *cmd)
{
    if (cmd->argc < 2)
        return false;
    int sub = codec_stream_lookup(cmd->argv[1].ptr, cmd->argv[1].len);
    return sub == CODEC_STREAM_DELETE || sub == CODEC_STREAM_SETMETA;
}

void streams_command(struct conn *c, const struct resp_command *cmd)
{
    int sub = cmd->argc >= 2 ? codec_stream_lookup(cmd->argv[1].ptr, cmd->argv[1].len) : -1;
    if (sub < 0) {
        resp_write_error(conn_reply_buf(c), "unknown STREAM subcommand: expected DELETE, META or SETMETA");
        return;
    }
    if (cmd->argc != 3) {
        resp_write_error(conn_reply_buf(c), "wrong number of arguments: STREAM <subcommand> <argument>");
        return;
    }
    struct codec_stream q;
    char err[CODEC_ERR_LEN];
    if (codec_parse_stream((enum codec_stream_cmd)sub, cmd->argv[2].ptr, cmd->argv[2].len, &c->srv->cfg->codec, &q,
                           err) != 0) {
        resp_write_error(conn_reply_buf(c), err);
        return;
    }
    bool write = q.cmd != CODEC_STREAM_META;
    if (c->acl == NULL || acl_conn_stream(c, write ? ACL_WRITE : ACL_READ, q.stream, strlen(q.stream))) {
        if (write)
            stream_write(c, &q);
        else
            stream_meta(c, &q);
    }
    codec_stream_free(&q);
}
