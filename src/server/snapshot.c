/* snapshot.c - the SNAPSHOT command over node/transfer.h (see snapshot.h).
 * BEGIN's reply waits in a deferred slot while the image is written on a
 * worker thread; READ writes the image's bytes straight into the reply. */
#include "server/snapshot.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/ulid.h"
#include "node/node.h"
#include "node/transfer.h"
#include "protocol/resp_writer.h"
#include "server/conn.h"
#include "server/server.h"
#include "store/checksum.h"
#include "version.h"

static const char USAGE[] = "usage: SNAPSHOT BEGIN | INFO <id> | READ <id> <offset> <count> | END <id>";

struct begin_req {
    struct conn *conn;
    struct conn_slot *slot;
};

static void snapshot_written(void *data, int status, const char *why, const struct transfer_image *image)
{
    struct begin_req *r = data;
    struct buf *out = &r->slot->out;
    if (status == TRANSFER_ESTOPPED) {
        resp_write_error(out, "SHUTDOWN the node is stopping");
    } else if (status != 0) {
        resp_write_errorf(out, "IOERR copying the store failed: %s", why);
    } else {
        char id[17];
        snprintf(id, sizeof id, "%016" PRIx64, image->id);
        resp_write_array_header(out, 4);
        resp_write_bulk_str(out, id);
        resp_write_int(out, (int64_t)image->size);
        resp_write_int(out, (int64_t)image->crc);
        resp_write_int(out, (int64_t)image->min_index);
    }
    conn_complete(r->conn, r->slot);
    free(r);
}

static void snapshot_begin(struct conn *c, struct transfer *t)
{
    struct begin_req *r = xcalloc(1, sizeof *r);
    r->conn = c;
    r->slot = conn_defer(c, false);
    char err[512];
    int rc = transfer_begin(t, c->peer, snapshot_written, r, err, sizeof err);
    if (rc == 0)
        return;
    if (rc == TRANSFER_EBUSY)
        resp_write_errorf(&r->slot->out, "BUSY %s", err);
    else if (rc == TRANSFER_ESTOPPED)
        resp_write_errorf(&r->slot->out, "SHUTDOWN %s", err);
    else
        resp_write_errorf(&r->slot->out, "IOERR %s", err);
    conn_complete(c, r->slot);
    free(r);
}

static void snapshot_read(struct conn *c, struct transfer *t, const struct resp_command *cmd)
{
    struct buf *out = conn_reply_buf(c);
    uint64_t id, off, len, size;
    if (cmd->argc != 5 || resp_arg_u64(&cmd->argv[3], 10, &off) != 0 || resp_arg_u64(&cmd->argv[4], 10, &len) != 0) {
        resp_write_error(out, "usage: SNAPSHOT READ <id> <offset> <count>");
        return;
    }
    if (resp_arg_u64(&cmd->argv[2], 16, &id) != 0 || transfer_size(t, id, &size) != 0) {
        resp_write_error(out, "no such state transfer (expired or never begun)");
        return;
    }
    if (off > size) {
        resp_write_error(out, "offset beyond the end of the image");
        return;
    }
    if (len > TRANSFER_CHUNK_MAX)
        len = TRANSFER_CHUNK_MAX;
    if (len > size - off)
        len = size - off;
    /* Read straight into the reply buffer; commit only a complete reply. */
    char header[32];
    int hlen = snprintf(header, sizeof header, "$%" PRIu64 "\r\n", len);
    char *dst = buf_reserve(out, (size_t)hlen + (size_t)len + 2);
    char err[256];
    if (transfer_read(t, id, off, dst + hlen, (size_t)len, err, sizeof err) != 0) {
        resp_write_errorf(out, "IOERR %s", err);
        return;
    }
    memcpy(dst, header, (size_t)hlen);
    memcpy(dst + hlen + len, "\r\n", 2);
    buf_commit(out, (size_t)hlen + (size_t)len + 2);
}

/* What a backup's header records about the image, as one JSON object. */
static void snapshot_info(struct conn *c, struct transfer *t, const struct resp_command *cmd)
{
    struct buf *out = conn_reply_buf(c);
    uint64_t id;
    struct transfer_image im;
    if (cmd->argc != 3) {
        resp_write_error(out, "usage: SNAPSHOT INFO <id>");
        return;
    }
    if (resp_arg_u64(&cmd->argv[2], 16, &id) != 0 || transfer_info(t, id, &im) != 0) {
        resp_write_error(out, "no such state transfer (expired or never begun)");
        return;
    }
    char last_id[ULID_STR_LEN + 1] = "";
    if (!ulid_is_zero(im.stats.last_id))
        ulid_format(im.stats.last_id, last_id);
    char cluster_id[2 * STORE_CLUSTER_ID_BYTES + 1] = "";
    if (im.stats.has_cluster_id)
        node_cluster_id_hex(im.stats.cluster_id, cluster_id);
    char sum[CHECKSUM_B32_LEN + 1];
    checksum_format(im.stats.checksum, sum);
    char json[768];
    int n = snprintf(json, sizeof json,
                     "{\"size\":%" PRIu64 ",\"crc\":%" PRIu32 ",\"applied_index\":%" PRIu64
                     ",\"term\":%" PRIu64 ",\"events\":%" PRIu64 ",\"streams\":%" PRIu64
                     ",\"checksum\":%" PRIu32 ",\"checksum_text\":\"%s\",\"last_id\":\"%s\",\"cluster_id\":\"%s\""
                     ",\"store_format\":%" PRIu32 ",\"version\":\"%s\"}",
                     im.size, im.crc, im.stats.applied_index, im.term, im.stats.event_count,
                     im.stats.stream_count, im.stats.checksum, sum, last_id, cluster_id, store_format(),
                     EVENTFLOW_VERSION);
    resp_write_bulk(out, json, (size_t)n);
}

static void snapshot_end(struct conn *c, struct transfer *t, const struct resp_command *cmd)
{
    uint64_t id;
    if (cmd->argc != 3 || resp_arg_u64(&cmd->argv[2], 16, &id) != 0 || transfer_end(t, id) != 0)
        resp_write_error(conn_reply_buf(c), "no such state transfer");
    else
        resp_write_simple(conn_reply_buf(c), "OK");
}

void snapshot_command(struct conn *c, const struct resp_command *cmd)
{
    struct transfer *t = node_transfer(c->srv->node);
    const struct resp_arg *sub = cmd->argc >= 2 ? &cmd->argv[1] : NULL;
    if (sub != NULL && resp_arg_is(sub, "BEGIN") && cmd->argc == 2)
        snapshot_begin(c, t);
    else if (sub != NULL && resp_arg_is(sub, "INFO"))
        snapshot_info(c, t, cmd);
    else if (sub != NULL && resp_arg_is(sub, "READ"))
        snapshot_read(c, t, cmd);
    else if (sub != NULL && resp_arg_is(sub, "END"))
        snapshot_end(c, t, cmd);
    else
        resp_write_error(conn_reply_buf(c), USAGE);
}
