/* membership.h - node identity (DATA/node-id), the start-up check that a
 * wiped directory does not rejoin under its old id, joining a running
 * cluster (--join), and registering this node's client address and
 * incarnation in the replicated members table. Loop thread only. */
#ifndef EVENTFLOW_MEMBERSHIP_H
#define EVENTFLOW_MEMBERSHIP_H

struct node;

typedef void (*membership_cb)(struct node *n, int status);

/* Read DATA/node-id, or draw a new incarnation for an empty directory
 * (n->pristine). Returns 0, or -1 (logged) when the directory belongs to
 * another node id or cannot be read. */
int membership_load_identity(struct node *n);

/* For an empty directory, ask the other members whether they know this id
 * from an earlier directory; cb(n, 0) to go on (the identity file is then
 * written), cb(n, -1) to refuse (logged with what to do instead). */
void membership_preflight(struct node *n, membership_cb cb);

/* Start the periodic join/register work; stop it before closing raft. */
void membership_start(struct node *n);
void membership_stop(struct node *n);

#endif
