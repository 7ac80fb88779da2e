/* fetch.c - copying a peer's store into this node (see fetch.h).
 *
 * The requests go over libeventflow's blocking connection (client/conn.h):
 * non-blocking sockets driven by poll() with a deadline per request, so a
 * peer that stops answering costs a timeout, not a hang.
 *
 * With raft TLS on, the copy comes over TLS from the members' TLS ports,
 * with this node's peer certificate and the peer CA (as peer.h's requests):
 * the leader's first, then every member's this node knows the id of. Only
 * when no member has a TLS address (a cluster without TLS ports) does it
 * fall back to the plaintext client addresses, which are all it has
 * otherwise (the snapshot's sources, the configured members, --join). */
#include "node/fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acl/acl_peer.h"
#include "client/conn.h"
#include "client/tls.h"
#include "common/log.h"
#include "common/mem.h"
#include "protocol/resp_reader.h"
#include "node/node_internal.h"
#include "node/transfer.h"
#include "store/checksum.h"

#define FETCH_CONNECT_MS 3000
#define FETCH_READ_MS 30000
/* The source writes the whole image before it answers BEGIN. */
#define FETCH_BEGIN_MS 600000
#define FETCH_RETRY_MS 1000
#define FETCH_MAX_SOURCES 32

/* Send argv and read one reply. Returns 0 (the reply may be an error
 * reply; free it with resp_value_free), or -1 with err set. */
static int fetch_call(struct ef_conn *cn, int timeout_ms, struct resp_value *reply, char *err, size_t errlen,
                      int argc, const char *const *argv)
{
    int64_t deadline = ef_now_ms() + timeout_ms;
    ef_conn_queue(cn, (size_t)argc, argv, NULL);
    if (ef_conn_flush(cn, deadline, err, errlen) != 0)
        return -1;
    int rc = ef_conn_read(cn, reply, deadline);
    if (rc == EF_IO_REPLY)
        return 0;
    snprintf(err, errlen, "%s %s: %s", argv[0], argc > 1 ? argv[1] : "",
             rc == EF_IO_EOF       ? "connection closed"
             : rc == EF_IO_TIMEOUT ? "timed out"
             : rc == EF_IO_PROTO   ? "malformed reply"
                                   : strerror(errno));
    return -1;
}

/* The reply must be of `type`; an error reply becomes err. */
static int fetch_expect(const struct resp_value *v, enum resp_type type, char *err, size_t errlen)
{
    if (v->type == type)
        return 0;
    if (v->type == RESP_T_ERROR)
        snprintf(err, errlen, "%s", v->str);
    else
        snprintf(err, errlen, "unexpected reply");
    return -1;
}

/* Copy the image from one source into `path`. Returns 0, or -1 with err. */
static int fetch_from(struct node *n, const char *address, const struct ef_tls *tls,
                      const struct store_snapshot_info *info, const char *path, uint64_t *bytes, char *err,
                      size_t errlen)
{
    struct ef_endpoint ep;
    struct ef_conn fc;
    struct resp_value v = {0};
    int fd = -1, rc = -1;
    char id[32] = "";
    if (ef_endpoint_parse(address, strlen(address), &ep) != 0) {
        snprintf(err, errlen, "bad address");
        return -1;
    }
    ef_conn_init(&fc);
    if (ef_conn_open(&fc, &ep, tls, ef_now_ms() + FETCH_CONNECT_MS, err, errlen) != 0)
        return -1;
    if (n->cfg->peer_token != NULL) {
        const char *auth[] = {"AUTH", ACL_PEER_USER, n->cfg->peer_token};
        if (fetch_call(&fc, FETCH_READ_MS, &v, err, errlen, 3, auth) != 0)
            goto out;
        if (fetch_expect(&v, RESP_T_SIMPLE, err, errlen) != 0)
            goto out;
        resp_value_free(&v);
    }
    const char *begin[] = {"SNAPSHOT", "BEGIN"};
    if (fetch_call(&fc, FETCH_BEGIN_MS, &v, err, errlen, 2, begin) != 0 ||
        fetch_expect(&v, RESP_T_ARRAY, err, errlen) != 0)
        goto out;
    if (v.n != 4 || v.elems[0].type != RESP_T_BULK || v.elems[0].len >= sizeof id ||
        v.elems[1].type != RESP_T_INT || v.elems[2].type != RESP_T_INT || v.elems[3].type != RESP_T_INT ||
        v.elems[1].integer < 0) {
        snprintf(err, errlen, "SNAPSHOT BEGIN: unexpected reply");
        goto out;
    }
    memcpy(id, v.elems[0].str, v.elems[0].len + 1);
    uint64_t size = (uint64_t)v.elems[1].integer;
    uint32_t want_crc = (uint32_t)v.elems[2].integer;
    uint64_t min_index = (uint64_t)v.elems[3].integer;
    resp_value_free(&v);
    if (min_index < info->applied_index) {
        snprintf(err, errlen, "its store is at index %" PRIu64 ", behind the snapshot", min_index);
        goto end;
    }

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "creating the image file: %s", strerror(errno));
        goto end;
    }
    uint32_t crc = 0;
    uint64_t off = 0;
    while (off < size) {
        char off_s[24], len_s[24];
        snprintf(off_s, sizeof off_s, "%" PRIu64, off);
        snprintf(len_s, sizeof len_s, "%" PRIu64, TRANSFER_CHUNK_MAX);
        const char *read_argv[] = {"SNAPSHOT", "READ", id, off_s, len_s};
        if (fetch_call(&fc, FETCH_READ_MS, &v, err, errlen, 5, read_argv) != 0)
            goto out;
        if (fetch_expect(&v, RESP_T_BULK, err, errlen) != 0)
            goto end;
        if (v.len == 0 || v.len > size - off) {
            snprintf(err, errlen, "SNAPSHOT READ: a chunk of %zu bytes at %" PRIu64 " of %" PRIu64, v.len, off,
                     size);
            goto end;
        }
        for (size_t done = 0; done < v.len;) {
            ssize_t w = pwrite(fd, v.str + done, v.len - done, (off_t)(off + done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                snprintf(err, errlen, "writing the image: %s", w < 0 ? strerror(errno) : "no progress");
                goto end;
            }
            done += (size_t)w;
        }
        crc = checksum_update(crc, v.str, v.len);
        off += v.len;
        resp_value_free(&v);
    }
    if (crc != want_crc) {
        snprintf(err, errlen, "the image's CRC-32 is %08x, the source said %08x", (unsigned)crc,
                 (unsigned)want_crc);
        goto end;
    }
    /* store_replace makes the rename durable; the data must be first. */
    if (fsync(fd) != 0) {
        snprintf(err, errlen, "fsync of the image: %s", strerror(errno));
        goto end;
    }
    *bytes = size;
    rc = 0;

end:
    /* Release the source's image; a failure here only delays that. */
    resp_value_free(&v);
    if (id[0] != '\0') {
        const char *end_argv[] = {"SNAPSHOT", "END", id};
        char ignored[128];
        if (fetch_call(&fc, FETCH_READ_MS, &v, ignored, sizeof ignored, 3, end_argv) == 0)
            resp_value_free(&v);
    }
out:
    resp_value_free(&v);
    if (fd >= 0)
        close(fd);
    ef_conn_close(&fc);
    return rc;
}

/* Whether the copy at `path` belongs to another cluster than this node's
 * store (logged): a snapshot's sources are told by raft, but the copy
 * comes over the client port, which the raft hello does not guard. */
static bool fetch_foreign(struct node *n, const char *path, const char *source)
{
    struct store_stats mine, copy;
    char err[256];
    if (store_stats(n->store, &mine) != 0 || !mine.has_cluster_id)
        return false;
    if (store_file_stats(path, &copy, err, sizeof err) != 0) {
        log_warn("fetch: the copy from %s: %s", source, err);
        return true;
    }
    if (!copy.has_cluster_id || memcmp(copy.cluster_id, mine.cluster_id, sizeof mine.cluster_id) == 0)
        return false;
    char theirs[2 * STORE_CLUSTER_ID_BYTES + 1], ours[2 * STORE_CLUSTER_ID_BYTES + 1];
    node_cluster_id_hex(copy.cluster_id, theirs);
    node_cluster_id_hex(mine.cluster_id, ours);
    log_error("fetch: the copy from %s belongs to cluster %s, this node to cluster %s: not installed", source,
              theirs, ours);
    return true;
}

static size_t fetch_add_source(char **list, size_t count, const char *addr, const char *self)
{
    if (addr == NULL || addr[0] == '\0' || strcmp(addr, self) == 0 || count >= FETCH_MAX_SOURCES)
        return count;
    for (size_t i = 0; i < count; i++)
        if (strcmp(list[i], addr) == 0)
            return count;
    list[count] = xstrdup(addr);
    return count + 1;
}

/* The members' TLS addresses, the leader's first; count of sources. */
static size_t fetch_tls_sources(struct node *n, char **list)
{
    size_t count = 0;
    char addr[NODE_ADDR_MAX];
    if (node_leader_tls_address(n, addr, sizeof addr) == 0)
        count = fetch_add_source(list, count, addr, n->cfg->tls_advertise);
    const struct raft_configuration *conf = &n->raft.configuration;
    for (unsigned i = 0; i < conf->n; i++)
        if (node_member_tls_address(n, conf->servers[i].id, addr, sizeof addr) == 0)
            count = fetch_add_source(list, count, addr, n->cfg->tls_advertise);
    for (size_t i = 0; i < n->cfg->n_members; i++)
        if (node_member_tls_address(n, n->cfg->members[i].id, addr, sizeof addr) == 0)
            count = fetch_add_source(list, count, addr, n->cfg->tls_advertise);
    return count;
}

/* The peers' TLS context for the copy (files read now, so a SIGHUP's new
 * ones count), or NULL without raft TLS or when they cannot be read. */
static struct ef_tls *fetch_tls(const struct node_config *cfg)
{
    if (cfg->peer_cert == NULL)
        return NULL;
    char err[256];
    struct ef_tls *tls = ef_tls_new(cfg->peer_ca, cfg->peer_cert, cfg->peer_key, false, err, sizeof err);
    if (tls == NULL)
        log_error("fetch: the peer TLS files: %s", err);
    return tls;
}

int fetch_state(struct node *n, const struct store_snapshot_info *info)
{
    const struct node_config *cfg = n->cfg;
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/fetch", cfg->data_dir);
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        log_error("fetch: creating %s: %s", dir, strerror(errno));
        return -1;
    }

    char *sources[FETCH_MAX_SOURCES];
    size_t count = 0;
    struct ef_tls *tls = fetch_tls(cfg);
    if (tls != NULL)
        count = fetch_tls_sources(n, sources);
    if (count == 0) {
        ef_tls_free(tls);
        tls = NULL;
        char leader[NODE_ADDR_MAX];
        if (node_leader_client_address(n, leader, sizeof leader) == 0)
            count = fetch_add_source(sources, count, leader, cfg->advertise);
        for (size_t i = 0; i < info->n_sources; i++)
            count = fetch_add_source(sources, count, info->sources[i], cfg->advertise);
        for (size_t i = 0; i < cfg->n_members; i++)
            count = fetch_add_source(sources, count, cfg->members[i].client_address, cfg->advertise);
        count = fetch_add_source(sources, count, cfg->join, cfg->advertise);
    }
    if (count == 0) {
        log_error("fetch: no other member is known to copy the state from");
        return -1;
    }

    int rc = -1;
    int64_t start = ef_now_ms();
    while (rc != 0) {
        for (size_t i = 0; i < count && rc != 0; i++) {
            char err[512];
            uint64_t bytes = 0;
            int64_t t0 = ef_now_ms();
            if (fetch_from(n, sources[i], tls, info, path, &bytes, err, sizeof err) != 0) {
                log_warn("fetch: from %s: %s", sources[i], err);
                continue;
            }
            if (fetch_foreign(n, path, sources[i]))
                continue;
            if (store_replace(n->store, path) != 0) {
                log_error("fetch: installing the copy from %s: %s", sources[i], store_errmsg(n->store));
                goto out; /* the store may be closed: give up */
            }
            node_identity_refresh(n);
            if (n->apply_watch.reset != NULL)
                n->apply_watch.reset(n->apply_watch.data);
            n->state_fetches++;
            n->state_fetched_bytes += bytes;
            log_info("fetch: copied %" PRIu64 " bytes of state from %s%s in %" PRId64 " ms", bytes, sources[i],
                     tls != NULL ? " over TLS" : "", ef_now_ms() - t0);
            rc = 0;
        }
        if (rc == 0 || ef_now_ms() - start >= FETCH_GIVE_UP_MS)
            break;
        /* Every source failed: the leader may still be elected, or a peer
         * restarting. Try again shortly. */
        ef_sleep_ms(FETCH_RETRY_MS);
    }
out:
    (void)unlink(path);
    for (size_t i = 0; i < count; i++)
        free(sources[i]);
    ef_tls_free(tls);
    return rc;
}
