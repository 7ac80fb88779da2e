/* served.h - the highest applied index this node has answered from, kept
 * across restarts, so that its local reads never go back in time.
 *
 * Why: reads see the store's open batch (node.c), which a kill -9 loses;
 * the entries are safe in raft's log and are applied again after the
 * restart, but only once the node hears the commit index from a leader.
 * Until then the store is behind what this node already answered, and a
 * client reading from it twice would see events disappear (the fault
 * tests' session checker caught exactly that). So before replies go out,
 * the applied index they may reflect is written to DATA/served-index (no
 * fsync: a process crash keeps the page cache; after an OS crash raft's
 * replay covers the same ground), and after a restart local reads answer
 * -STALE until the node has applied that far again.
 *
 * Loop thread only. */
#ifndef EVENTFLOW_SERVED_H
#define EVENTFLOW_SERVED_H

#include <stdbool.h>
#include <stdint.h>

struct served {
    int fd;            /* DATA/served-index, owned; -1 when closed */
    uint64_t mark;     /* what the file holds */
    uint64_t boot;     /* what it held at open: the index to reach again */
    bool caught_up;    /* applied reached `boot` once; stays true */
};

/* Open (creating) DATA/served-index and read the mark left by the last
 * run. Returns 0, or -1 after logging why. */
int served_open(struct served *s, const char *data_dir);

/* Record that replies about to be written may reflect everything up to
 * `applied`. A failed write stops the process (as a failed store commit
 * does): serving on without the mark could break the guarantee. */
void served_note(struct served *s, uint64_t applied);

/* Whether local reads may be answered: `applied` has reached the mark of
 * the previous run. */
bool served_caught_up(struct served *s, uint64_t applied);

void served_close(struct served *s);

#endif
