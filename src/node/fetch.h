/* fetch.h - getting a copy of a peer's store when a snapshot is beyond
 * this node's own state (the other half is transfer.c).
 *
 * Called from raft's restore, which must return with the state in place,
 * so the fetch is synchronous: the loop thread blocks on plain sockets
 * while the image streams to DATA/fetch/data.mdb in chunks of at most
 * TRANSFER_CHUNK_MAX bytes (memory stays bounded whatever the store's
 * size), is checked (CRC-32, its applied index), fsynced and moved over the
 * store (store_replace). This node is a follower that was sent a snapshot,
 * or one starting up with its store lost: it has nothing else to do.
 *
 * Sources are tried in turn: the snapshot's list of members, the leader,
 * the configured members and the --join address, never this node itself;
 * rounds repeat until FETCH_GIVE_UP_MS pass without success. */
#ifndef EVENTFLOW_FETCH_H
#define EVENTFLOW_FETCH_H

#include "store/store.h"

struct node;

#define FETCH_GIVE_UP_MS 120000

/* Replace n's store with a peer's copy at or past info->applied_index.
 * Returns 0, or -1 after logging why no source could provide it. Loop
 * thread (blocks it). */
int fetch_state(struct node *n, const struct store_snapshot_info *info);

#endif
