/* backup.c - eventflow_backup (see eventflow/backup.h): one member's store
 * image, read over one connection of its own (an image lives on the member
 * that wrote it, so a session never moves to another node), written to fd
 * between the backup file's header and trailer (common/backup_file.h). */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/internal.h"
#include "common/backup_file.h"
#include "common/ulid.h"
#include "eventflow/backup.h"

/* The image is read in chunks of this many bytes (the server's largest). */
#define BACKUP_CHUNK ((uint64_t)1 << 20)
/* BEGIN answers once the member has written its whole image: minutes for
 * a store of many GB, on top of the request timeout. */
#define BACKUP_BEGIN_WAIT_MS (60 * 60 * 1000)

struct session {
    struct eventflow_client *c;
    struct ef_conn conn;
    struct ef_endpoint ep;
    char id[17];  /* the image's id, as BEGIN named it; "" before */
};

/* Send argv on the session's connection and read its reply within wait_ms
 * (an error reply is the caller's to judge). */
static int session_call(struct session *s, size_t argc, const char *const *argv, int wait_ms,
                        struct resp_value *reply)
{
    struct eventflow_client *c = s->c;
    int64_t deadline = ef_now_ms() + c->request_timeout_ms + wait_ms;
    char why[200];
    ef_conn_queue(&s->conn, argc, argv, NULL);
    if (ef_conn_flush(&s->conn, deadline, why, sizeof why) != 0)
        return ef_fail(c, EF_EUNAVAILABLE, "%s: %s", s->ep.addr, why);
    if (ef_conn_read(&s->conn, reply, deadline) != EF_IO_REPLY)
        return ef_fail(c, EF_EUNAVAILABLE, "%s: no reply to SNAPSHOT %s", s->ep.addr, argv[1]);
    if (reply->type == RESP_T_ERROR) {
        int rc = ef_reply_fail(c, reply);
        resp_value_free(reply);
        return rc;
    }
    return EF_OK;
}

/* A follower that answers CLUSTER STATUS, else the leader. */
static int backup_pick(struct eventflow_client *c, char out[EF_ADDR_MAX])
{
    struct eventflow_status_list l;
    int rc = eventflow_cluster_status(c, &l);
    if (rc != EF_OK)
        return rc;
    const char *leader = NULL, *follower = NULL;
    for (size_t i = 0; i < l.n; i++) {
        const struct eventflow_node_status *n = &l.nodes[i];
        if (strcmp(n->state, "follower") == 0 && !n->stale && follower == NULL)
            follower = n->client_address;
        else if (strcmp(n->state, "leader") == 0)
            leader = n->client_address;
    }
    const char *pick = follower != NULL ? follower : leader;
    if (pick != NULL)
        snprintf(out, EF_ADDR_MAX, "%s", pick);
    eventflow_status_list_free(&l);
    if (pick == NULL)
        return ef_fail(c, EF_EUNAVAILABLE, "no member is a leader or an up-to-date follower");
    return EF_OK;
}

static int hex_id(const char *s, uint8_t out[BACKUP_ID_BYTES])
{
    memset(out, 0, BACKUP_ID_BYTES);
    if (*s == '\0')
        return 0;
    if (strlen(s) != 2 * BACKUP_ID_BYTES)
        return -1;
    for (size_t i = 0; i < BACKUP_ID_BYTES; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

/* SNAPSHOT INFO's JSON into the file's header and *out. */
static int backup_describe(struct session *s, const struct resp_value *reply, struct backup_header *h,
                           struct eventflow_backup_info *out)
{
    char err[EF_ERR_LEN];
    if (reply->type != RESP_T_BULK)
        return ef_fail(s->c, EF_EPROTO, "%s: SNAPSHOT INFO: not a bulk string", s->ep.addr);
    json_t *o = ef_json_load_object(reply->str, reply->len, err);
    if (o == NULL)
        return ef_fail(s->c, EF_EPROTO, "%s: SNAPSHOT INFO: %s", s->ep.addr, err);
    json_t *size = json_object_get(o, "size"), *crc = json_object_get(o, "crc");
    json_t *applied = json_object_get(o, "applied_index"), *term = json_object_get(o, "term");
    json_t *events = json_object_get(o, "events"), *streams = json_object_get(o, "streams");
    json_t *sum = json_object_get(o, "checksum"), *fmt = json_object_get(o, "store_format");
    const char *last_id = json_string_value(json_object_get(o, "last_id"));
    const char *cluster_id = json_string_value(json_object_get(o, "cluster_id"));
    const char *version = json_string_value(json_object_get(o, "version"));
    const char *sum_text = json_string_value(json_object_get(o, "checksum_text"));
    int rc = EF_OK;
    memset(h, 0, sizeof *h);
    if (!json_is_integer(size) || !json_is_integer(crc) || !json_is_integer(applied) || !json_is_integer(term) ||
        !json_is_integer(events) || !json_is_integer(streams) || !json_is_integer(sum) || !json_is_integer(fmt) ||
        last_id == NULL || cluster_id == NULL || version == NULL || sum_text == NULL || hex_id(cluster_id, h->cluster_id) != 0 ||
        (*last_id != '\0' && ulid_parse(last_id, strlen(last_id), h->last_id) != 0)) {
        rc = ef_fail(s->c, EF_EPROTO, "%s: SNAPSHOT INFO: missing or malformed fields", s->ep.addr);
        goto out;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    h->version = BACKUP_VERSION;
    h->store_format = (uint32_t)json_integer_value(fmt);
    h->applied_index = (uint64_t)json_integer_value(applied);
    h->term = (uint64_t)json_integer_value(term);
    h->event_count = (uint64_t)json_integer_value(events);
    h->stream_count = (uint64_t)json_integer_value(streams);
    h->image_bytes = (uint64_t)json_integer_value(size);
    h->created_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    h->checksum = (uint32_t)json_integer_value(sum);
    h->image_crc = (uint32_t)json_integer_value(crc);
    snprintf(h->eventflow_version, sizeof h->eventflow_version, "%s", version);

    snprintf(out->node, sizeof out->node, "%s", s->ep.addr);
    out->applied_index = h->applied_index;
    out->term = h->term;
    out->events = h->event_count;
    out->streams = h->stream_count;
    snprintf(out->checksum, sizeof out->checksum, "%s", sum_text);
    snprintf(out->last_id, sizeof out->last_id, "%s", last_id);
    out->store_format = h->store_format;
    snprintf(out->version, sizeof out->version, "%s", version);
    out->image_bytes = h->image_bytes;
out:
    json_decref(o);
    return rc;
}

static int write_all(struct eventflow_client *c, int fd, const void *p, size_t len)
{
    const char *b = p;
    while (len > 0) {
        ssize_t n = write(fd, b, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return ef_fail(c, EF_ESERVER, "writing the backup: %s", strerror(errno));
        b += n;
        len -= (size_t)n;
    }
    return EF_OK;
}

/* The image, chunk by chunk, after the header; then the trailer. */
static int backup_copy(struct session *s, const struct backup_header *h, int fd,
                       eventflow_backup_progress_fn progress, void *arg, uint64_t *written)
{
    uint8_t head[BACKUP_HEADER_BYTES];
    backup_header_encode(h, head);
    int rc = write_all(s->c, fd, head, sizeof head);
    if (rc != EF_OK)
        return rc;
    uint32_t file_crc = backup_crc(0, head, sizeof head), image_crc = 0;
    uint64_t off = 0;
    while (off < h->image_bytes) {
        char offs[24], counts[24];
        uint64_t want = h->image_bytes - off < BACKUP_CHUNK ? h->image_bytes - off : BACKUP_CHUNK;
        snprintf(offs, sizeof offs, "%" PRIu64, off);
        snprintf(counts, sizeof counts, "%" PRIu64, want);
        const char *argv[] = {"SNAPSHOT", "READ", s->id, offs, counts};
        struct resp_value reply;
        if ((rc = session_call(s, 5, argv, 0, &reply)) != EF_OK)
            return rc;
        if (reply.type != RESP_T_BULK || reply.len != want) {
            resp_value_free(&reply);
            return ef_fail(s->c, EF_EPROTO, "%s: SNAPSHOT READ at %" PRIu64 ": not the %" PRIu64 " bytes asked for",
                           s->ep.addr, off, want);
        }
        image_crc = backup_crc(image_crc, reply.str, reply.len);
        file_crc = backup_crc(file_crc, reply.str, reply.len);
        rc = write_all(s->c, fd, reply.str, reply.len);
        resp_value_free(&reply);
        if (rc != EF_OK)
            return rc;
        off += want;
        if (progress != NULL)
            progress(arg, off, h->image_bytes);
    }
    if (image_crc != h->image_crc)
        return ef_fail(s->c, EF_EPROTO, "%s: the image read does not match its CRC-32 (%08" PRIx32 ", not %08" PRIx32 ")",
                       s->ep.addr, image_crc, h->image_crc);
    uint8_t tail[BACKUP_TRAILER_BYTES];
    backup_trailer_encode(file_crc, tail);
    if ((rc = write_all(s->c, fd, tail, sizeof tail)) != EF_OK)
        return rc;
    *written = BACKUP_HEADER_BYTES + h->image_bytes + BACKUP_TRAILER_BYTES;
    return EF_OK;
}

int eventflow_backup(struct eventflow_client *c, const char *address, int fd,
                     eventflow_backup_progress_fn progress, void *arg, struct eventflow_backup_info *out)
{
    memset(out, 0, sizeof *out);
    if (fd < 0)
        return ef_fail(c, EF_EINVAL, "no file to write the backup to");
    char picked[EF_ADDR_MAX];
    if (address == NULL) {
        int rc = backup_pick(c, picked);
        if (rc != EF_OK)
            return rc;
        address = picked;
    }
    struct session s = {.c = c};
    if (ef_endpoint_parse(address, strlen(address), &s.ep) != 0)
        return ef_fail(c, EF_EINVAL, "invalid address \"%s\"", address);
    ef_conn_init(&s.conn);
    int rc = ef_conn_connect(c, &s.conn, &s.ep, ef_now_ms() + c->connect_timeout_ms);
    if (rc != EF_OK)
        return rc;
    struct resp_value reply;
    const char *begin[] = {"SNAPSHOT", "BEGIN"};
    if (progress != NULL)
        progress(arg, 0, 0);
    if ((rc = session_call(&s, 2, begin, BACKUP_BEGIN_WAIT_MS, &reply)) != EF_OK)
        goto out;
    if (reply.type != RESP_T_ARRAY || reply.n < 1 || reply.elems[0].type != RESP_T_BULK ||
        reply.elems[0].len >= sizeof s.id) {
        resp_value_free(&reply);
        rc = ef_fail(c, EF_EPROTO, "%s: SNAPSHOT BEGIN: unexpected reply", s.ep.addr);
        goto out;
    }
    memcpy(s.id, reply.elems[0].str, reply.elems[0].len);
    s.id[reply.elems[0].len] = '\0';
    resp_value_free(&reply);

    const char *info[] = {"SNAPSHOT", "INFO", s.id};
    struct backup_header h;
    if ((rc = session_call(&s, 3, info, 0, &reply)) != EF_OK)
        goto end;
    rc = backup_describe(&s, &reply, &h, out);
    resp_value_free(&reply);
    if (rc == EF_OK)
        rc = backup_copy(&s, &h, fd, progress, arg, &out->file_bytes);
end:
    /* Release the member's image (it would expire after a minute anyway);
     * a failure here changes nothing about the backup. */
    if (ef_conn_is_open(&s.conn)) {
        const char *end[] = {"SNAPSHOT", "END", s.id};
        if (session_call(&s, 3, end, 0, &reply) == EF_OK)
            resp_value_free(&reply);
    }
out:
    ef_conn_close(&s.conn);
    if (rc == EF_OK)
        snprintf(c->last_node, sizeof c->last_node, "%s", s.ep.addr);
    return rc;
}
