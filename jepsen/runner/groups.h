/* groups.h - the consumer-group workload: consumer threads that share
 * consumer groups (GROUP, docs/protocol.md), acknowledge most of what they
 * get, give some back, crash holding events, and resume on other nodes.
 *
 * Groups. At the start one group over the global log ("gall", from its
 * start) and one over a stream the workload writes ("gst0"); every
 * stream_group_every_ms another stream group over a stream being written
 * then ("gst1", ...), since a stream retires after 50 events. Each from
 * the start of what it follows, with a short ack wait and a few deliveries
 * before an event is parked, so that redelivery and parking happen often.
 *
 * Consumers. Each is one history process (numbered after the subscribers)
 * with one connection at a time (groupop.h) to one node, first a random
 * one; a -MOVED sends it to the leader. It loops: READ from a group (the
 * global log's half the time, else a stream group, mostly the newest) with
 * a short block_ms; "process" (a few ms; now and then longer than the ack
 * wait, so that the event goes to someone else meanwhile and the late ack
 * finds it taken); then for each event:
 *   ack            most, in one ACK per READ (retried on MOVED, NOLEADER,
 *                  TRYAGAIN and unknown outcomes: acking again is safe);
 *   nack           some, given back (one NACK);
 *   nack park      a few, parked at once;
 *   forget         a few, never answered: delivered again after the ack wait;
 *   poison         events whose id hashes to 0 mod 50 are never acked:
 *                  given back or forgotten, each time, until the group
 *                  parks them after max_deliveries.
 * Now and then a consumer crashes: it drops its connection holding what it
 * got without answering (or right after sending a READ, so that the events
 * that READ hands out reach nobody), stays away 0.3-3 s, and comes back on
 * a random node under its old name or a new one ("c<k>.<n>"). A timeout
 * (block_ms + 3 s for a READ, 3 s otherwise: a paused node) or a broken
 * connection also sends it to another node.
 *
 * The end. groups_drain_begin: consumers stop forgetting, crashing and
 * dawdling (poison events are still given back, so they park quickly) and
 * read every group in turn; the caller polls groups_settled on the leader
 * until nothing is pending and nothing is left to deliver, then calls
 * groups_stop and groups_record_final.
 *
 * History lines. Operations (invoke, then ok / fail / info; "node" the
 * node it was sent to; groupop.h says which errors are fail):
 *   f "group_create"  group, all | stream, ack_wait_ms, max_deliveries
 *   f "group_read"    group, consumer, count, block_ms; ok: "delivered":
 *                     [{id, stream, version, value, deliveries}]
 *   f "group_ack"     group, consumer, ids; ok: "acked" (the reply)
 *   f "group_nack"    group, consumer, ids, park; ok: "returned"
 * Other lines ("type":"info"):
 *   f "group_crash"   process, consumer, node, "held": [{group, id}] (the
 *                     events it dropped unanswered), "mid_read" if it
 *                     abandoned a READ's reply
 *   f "group_drain"   phase start | stop, "drained" (stop: whether the
 *                     groups settled in time)
 *   f "group_final"   group, node, "leader" (the leader's copy), "info"
 *                     (GROUP INFO), "pending" and "parked" (every entry of
 *                     GROUP PENDING and GROUP PARKED), "complete" (all
 *                     three read in full), or "error" */
#ifndef JEPSEN_GROUPS_H
#define JEPSEN_GROUPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "groupop.h"

#define GROUPS_MAX 16

struct groups_config {
    struct run_nodes nodes;
    int consumers;
    int first_process;
    uint64_t seed;
    int all_ack_wait_ms;      /* the global log's group */
    int all_max_deliveries;
    int stream_ack_wait_ms;   /* the stream groups */
    int stream_max_deliveries;
    int stream_group_every_ms;
    int stream_groups_max;
};

/* Create the first two groups (through the leader, recorded, retried for
 * up to 30 s) and start the consumers. 0, or -1 if the global log's group
 * could not be created. cfg must outlive the consumers. */
int groups_start(const struct groups_config *cfg);

/* The end of the run, step 1: every consumer drains (above). */
void groups_drain_begin(void);

/* Whether every group, as the node at address sees it, has nothing
 * pending and nothing past its position (false also when a node does not
 * answer; why says what is left). */
bool groups_settled(const char *address, char *why, size_t len);

/* Stop the consumers (each finishes what it holds) and join them. Records
 * a group_drain stop line saying whether the groups settled. */
void groups_stop(bool settled);

/* Record a group_final line per group and node: the leader's (index
 * leader into nodes; -1 none) first, then every other node in members
 * (indexes into nodes), each once it has applied what the leader had
 * committed (10 s at most for all of them). */
void groups_record_final(const struct run_nodes *nodes, const int *members, int n_members, int leader);

/* The groups created so far (names into out). */
int groups_names(char out[][32], int max);

/* Counters over all consumers, for the progress lines. */
uint64_t groups_delivered(void);
uint64_t groups_acked(void);
uint64_t groups_crashes(void);

#endif
