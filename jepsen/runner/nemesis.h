/* nemesis.h - the faults, and the seeded schedule that applies them.
 *
 * The schedule alternates calm (2-5 s) and one fault held for a while
 * (4-10 s; pauses at least three election timeouts; the snapshot fault
 * until the isolated follower is far enough behind), then healed. Every
 * start and stop is recorded in the history with the nodes it touched.
 * Choices come from a generator seeded with the run's seed; what they land
 * on (which node leads) comes from the cluster, so a seed reproduces the
 * same schedule of fault kinds and timings, not necessarily the same
 * victims.
 *
 * Fault names (for --nemesis; a group name enables all of its members):
 *   kill       kill-one kill-leader kill-majority kill-all   (kill -9, restart on heal)
 *   pause      pause-one pause-leader                        (SIGSTOP ... SIGCONT)
 *   partition  partition-leader partition-half partition-ring
 *              partition-bridge partition-oneway             (iptables DROP)
 *   member     a membership change (leader transfer; demote a voter to
 *              standby and back; remove a follower, wipe its directory
 *              and let it join again under a new id) while another
 *              enabled fault is active
 *   clock      restart a node under libfaketime: wall clock jumps (that
 *              then jump again while it runs) or a fast/slow clock;
 *              each is checked through the node's STATUS time_ms (it
 *              answers, its clock is off by the offset or runs at the
 *              rate set; "verified" in the history), then leadership is
 *              moved to the node (CLUSTER TRANSFER; "transferred"), so
 *              that every clock fault makes a leader's clock disagree
 *              with the ids already issued
 *   disk       fill one node's data filesystem; free it on heal
 *   snapshot   isolate a follower until the others have written more than
 *              the snapshot threshold + trailing entries, so that it needs
 *              a snapshot install when it comes back
 *   all        everything above
 *
 * Every fault is checked right after it is injected (faultcheck.h) and
 * the check recorded with "verified": a kill leaves no process and no
 * answer, and the restart answers again; a pause leaves a stopped process
 * that does not answer, and the resume answers; a partition stops a TCP
 * connection across a link it cut; a full disk has no byte free; a
 * membership change the leader acknowledged shows in the configuration
 * (or leadership); the clock checks below. */
#ifndef JEPSEN_NEMESIS_H
#define JEPSEN_NEMESIS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster.h"

struct nemesis;

/* list: comma-separated fault or group names ("" or "none": no faults).
 * Returns NULL with a message in err on an unknown name. */
struct nemesis *nemesis_new(struct cluster *c, const char *list, uint64_t seed, const char *endpoints,
                            char *err, size_t errlen);
void nemesis_free(struct nemesis *n);

/* For testing the fault checks themselves: the faults in list (names or
 * groups) are announced, recorded and checked as usual, but not injected
 * (no kill, no SIGSTOP, no iptables rule left, a clock offset of +0 s, no
 * filler), so their checks fail and the run must be invalid. 0, or -1 on
 * an unknown name. */
int nemesis_disable(struct nemesis *n, const char *list, char *err, size_t errlen);

/* Run the schedule until history_now() reaches end_ns or *stop is set.
 * Every fault started is healed before this returns. */
void nemesis_run(struct nemesis *n, int64_t end_ns, const atomic_bool *stop);

/* Heal everything, whatever the schedule did: network, pauses, clocks,
 * disks, membership; start every node that should run. */
void nemesis_heal_all(struct nemesis *n);

/* After healing: a removal whose outcome was unknown, and which did not
 * look taken when the nemesis checked, may have taken effect since (it
 * commits once a quorum holds it). If the leader's committed
 * configuration lacks that id, the slot was removed: it is wiped and joins
 * again as a new member, as after any removal, so the final convergence
 * check covers it. Logs what it found in the history; does nothing when
 * no removal was left unsettled. */
void nemesis_reconcile_members(struct nemesis *n);

/* Sleep ms in small steps, reaping exited nodes meanwhile; returns early
 * once *stop is set. */
void nemesis_idle(struct nemesis *n, int ms, const atomic_bool *stop);

#endif
