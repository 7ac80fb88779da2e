/* groups_consumers.h - the consumers of `eventflow-bench groups` (see
 * groups.h): connections that each cycle GROUP READ, then GROUP ACK of the
 * ids it got, one request in flight, all in the calling thread's epoll
 * loop, as redis_delivery.c's group mode runs its XREADGROUP consumers;
 * or, with `pipeline`, each ACK sent together with the next READ. */
#ifndef EVENTFLOW_BENCH_GROUPS_CONSUMERS_H
#define EVENTFLOW_BENCH_GROUPS_CONSUMERS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bench/bench.h"
#include "bench/groups.h"

struct gr_stats {
    uint64_t reads, consumed, empty, redelivered, acks, acked;
    struct bench_hist cycle;     /* READ sent -> its ACK answered, READs with events */
    struct bench_hist read;      /* READ sent -> answered, with events */
    struct bench_hist ack;       /* ACK sent -> answered */
};

struct gr_consumer;

struct gr_consumers {
    struct gr_consumer *c;       /* owned */
    unsigned n, active;
    unsigned count;              /* events per READ */
    int ep;
    bool stop;                   /* send no new READ */
    bool pipeline;               /* send each ACK with the next READ */
    uint64_t target;             /* stop once this many are acked; 0 = no target */
    struct gr_stats st;
};

/* Connect per_group consumers, named c1..cK, to each of the n_groups
 * groups `names` holds (borrowed until gr_consumers_free), each to READ
 * up to `count` events and wait up to block_ms for them. Exits when it
 * cannot. */
void gr_consumers_open(struct gr_consumers *cs, const struct bench_config *cfg, const char (*names)[GR_NAME_MAX + 1],
                       unsigned n_groups, unsigned per_group, unsigned count, unsigned block_ms);
void gr_consumers_free(struct gr_consumers *cs);
/* Every consumer READs, then cycles until the stop (`deadline` passed,
 * cs->target acked, or *stop_when set when it is not NULL); then each
 * finishes its cycle: events a READ brings after the stop are still
 * acked. Returns the time the last one finished (or gave up 5 s after the
 * stop). Exits on an error reply or a lost connection. */
uint64_t gr_consumers_run(struct gr_consumers *cs, uint64_t deadline, const _Atomic bool *stop_when);

#endif
