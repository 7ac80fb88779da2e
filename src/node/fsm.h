/* fsm.h - the raft_fsm (version 3) that applies committed entries to the
 * LMDB store, and takes and restores snapshots of it. raft's apply only
 * queues an entry; fsm_drain applies the queue (see fsm.c for why). */
#ifndef EVENTFLOW_FSM_H
#define EVENTFLOW_FSM_H

#include <raft.h>

struct node;

/* Fill fsm for node n (which owns the store). Returns 0. */
int fsm_init(struct raft_fsm *fsm, struct node *n);
/* Release what a snapshot in progress holds, if any, and the queue of
 * entries not yet drained (raft's log still holds them). */
void fsm_close(struct raft_fsm *fsm);

/* Apply every entry raft has applied (committed) that the store has not
 * yet, in index order, delivering each outcome (node_entry_applied). Call
 * before reading state that must include all of them. Stops the process if
 * the store cannot apply one (a restart re-applies it). Loop thread only;
 * a call from inside a drain returns at once. */
void fsm_drain(struct raft_fsm *fsm);

#endif
