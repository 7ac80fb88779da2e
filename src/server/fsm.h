/* fsm.h - the raft_fsm (version 3) that applies committed entries to the
 * LMDB store, and takes and restores snapshots of it. */
#ifndef EVENTFLOW_FSM_H
#define EVENTFLOW_FSM_H

#include <raft.h>

struct node;

/* Fill fsm for node n (which owns the store). Returns 0. */
int fsm_init(struct raft_fsm *fsm, struct node *n);
/* Release what a snapshot in progress holds, if any. */
void fsm_close(struct raft_fsm *fsm);

#endif
