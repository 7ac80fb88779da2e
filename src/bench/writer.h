/* writer.h - the writer thread of `eventflow-bench delivery` and
 * `eventflow-bench groups`: ADDs of delivery.h's stamped 200-byte event to
 * one stream of the leader, as redis_delivery.c's writer XADDs, so that a
 * run with a writer compares one to one with Redis's.
 *
 * Open loop at `rate` ADDs/s round robin over `wconns` connections (at
 * most BENCH_WRITER_WINDOW unacknowledged), or closed loop (rate 0, one
 * ADD in flight per connection). It sends for `secs` or `maxn` ADDs, or
 * until bench_writer_stop, then waits up to 10 s for the replies due.
 * Every ADD's send time and the receipt of its reply are kept by sequence
 * number, so readers can match what they receive to its ADD. */
#ifndef EVENTFLOW_BENCH_WRITER_H
#define EVENTFLOW_BENCH_WRITER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bench/bench.h"
#include "bench/delivery.h"

/* Open loop: most ADDs sent and not yet acknowledged (redis_delivery.c's). */
#define BENCH_WRITER_WINDOW 10000

struct bench_writer_opts {
    const struct bench_config *cfg; /* the leader; borrowed for the writer's life */
    const char *stream;             /* borrowed */
    unsigned wconns;
    double rate;                    /* ADDs/s, open loop; 0 = closed loop */
    double secs;
    uint64_t maxn;                  /* most ADDs, >= 1 */
};

struct bench_writer_conn;

struct bench_writer {
    struct bench_writer_opts o;
    struct dl_add_template tpl;
    struct bench_writer_conn *conns; /* owned, o.wconns */
    uint64_t *send_ns;          /* by sequence number; written before `sent` moves */
    _Atomic uint64_t *ack_ns;   /* by sequence number; 0 = not acknowledged (yet) */
    _Atomic uint64_t sent, acked, errs;
    _Atomic bool done, stopreq;
    uint64_t t_first, t_last_ack; /* read once `done` */
    double cpu_s;               /* the thread's CPU, read once `done` */
    pthread_t thread;
};

/* Connect the writer's connections (exits when it cannot). */
void bench_writer_init(struct bench_writer *wr, const struct bench_writer_opts *o);
/* Start the thread (exits when it cannot). */
void bench_writer_start(struct bench_writer *wr);
/* Ask the thread to send nothing more; it still waits for its replies. */
void bench_writer_stop(struct bench_writer *wr);
void bench_writer_join(struct bench_writer *wr);
void bench_writer_free(struct bench_writer *wr);
/* After the join: acknowledged ADDs per second, first send to last reply
 * (NAN when there were fewer than two replies' worth of time). */
double bench_writer_rate(const struct bench_writer *wr);
/* After the join: every acknowledged ADD's send -> reply time into h. */
void bench_writer_latency(const struct bench_writer *wr, struct bench_hist *h);

#endif
