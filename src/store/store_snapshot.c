/* store_snapshot.c - the Raft snapshot of the store: a header, not a copy.
 *
 * An event store only grows, so serializing it into every snapshot would
 * cost time and memory in proportion to everything ever written. Instead a
 * snapshot records where the store is (its applied index, counters and
 * checksum) after making that state durable in LMDB itself; Raft may then
 * drop the log entries behind it. A node that is sent a snapshot beyond its
 * own state copies a peer's LMDB file (store_copy.c, fetch.c).
 *
 * Format: the 8 bytes "EFSNAP02", then a packed eventflow.SnapshotHeader. */
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "store/store.h"
#include "store/store_internal.h"

static const uint8_t SNAP_MAGIC[8] = {'E', 'F', 'S', 'N', 'A', 'P', '0', '2'};

int store_snapshot_take(struct store *s, const char *const *sources, size_t n_sources, void **out,
                        size_t *len)
{
    if (s == NULL || out == NULL || len == NULL || (sources == NULL && n_sources != 0))
        return STORE_EINVAL;
    int rc = store_sync(s);
    if (rc != 0)
        return rc;
    Eventflow__SnapshotHeader h = EVENTFLOW__SNAPSHOT_HEADER__INIT;
    h.format = STORE_FORMAT;
    h.applied_index = s->committed.applied_index;
    h.event_count = s->committed.event_count;
    h.checksum = s->committed.checksum;
    h.n_sources = n_sources;
    h.sources = (char **)sources; /* only read by the packer */
    size_t body = eventflow__snapshot_header__get_packed_size(&h);
    uint8_t *buf = xmalloc(sizeof SNAP_MAGIC + body);
    memcpy(buf, SNAP_MAGIC, sizeof SNAP_MAGIC);
    eventflow__snapshot_header__pack(&h, buf + sizeof SNAP_MAGIC);
    *out = buf;
    *len = sizeof SNAP_MAGIC + body;
    return 0;
}

int store_snapshot_parse(const void *data, size_t len, struct store_snapshot_info *info)
{
    if (info == NULL || (data == NULL && len != 0))
        return STORE_EINVAL;
    memset(info, 0, sizeof *info);
    if (len < sizeof SNAP_MAGIC || memcmp(data, SNAP_MAGIC, sizeof SNAP_MAGIC) != 0)
        return STORE_ECORRUPT;
    Eventflow__SnapshotHeader *h = eventflow__snapshot_header__unpack(
        NULL, len - sizeof SNAP_MAGIC, (const uint8_t *)data + sizeof SNAP_MAGIC);
    if (h == NULL)
        return STORE_ECORRUPT;
    info->format = h->format;
    info->applied_index = h->applied_index;
    info->event_count = h->event_count;
    info->checksum = h->checksum;
    info->n_sources = h->n_sources;
    info->sources = xcalloc(h->n_sources ? h->n_sources : 1, sizeof *info->sources);
    for (size_t i = 0; i < h->n_sources; i++)
        info->sources[i] = xstrdup(h->sources[i]);
    eventflow__snapshot_header__free_unpacked(h, NULL);
    return 0;
}

void store_snapshot_info_free(struct store_snapshot_info *info)
{
    if (info == NULL)
        return;
    for (size_t i = 0; i < info->n_sources; i++)
        free(info->sources[i]);
    free(info->sources);
    memset(info, 0, sizeof *info);
}
