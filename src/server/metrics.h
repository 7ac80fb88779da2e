/* metrics.h - what eventflowd counts for the METRICS exposition, and the
 * exposition itself (Prometheus text format, docs/operations.md
 * "Metrics" lists every family).
 *
 * Counters that exist nowhere else live here: ADD, GET and GETALL per
 * outcome with their latency, from dispatch to the reply being complete
 * (conn.c times them). Everything else is read where it already lives at
 * the time of the scrape: the node's raft figures and log writes
 * (node_read_metrics), the store's counts and room, subscriptions,
 * consumer groups, connections.
 *
 * Loop thread only: every observation and the scrape run on it, so the
 * counters are plain integers (common/hist.h says why that holds). */
#ifndef EVENTFLOW_METRICS_H
#define EVENTFLOW_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/hist.h"

struct server;

/* The timed commands; METRICS_UNTIMED for the rest. */
enum metrics_command { METRICS_UNTIMED = -1, METRICS_ADD, METRICS_GET, METRICS_GETALL, METRICS_N_COMMANDS };

/* What a reply said: ok, or the error's kind. The machine-readable first
 * word of eventflow's errors (docs/protocol.md), the two version errors
 * of EventflowDB's wording, and `invalid` for every other error (bad
 * arguments). A fixed set, so the label's cardinality is bounded. */
enum metrics_outcome {
    METRICS_OK,
    METRICS_CONFLICT,
    METRICS_GAP,
    METRICS_MOVED,
    METRICS_NOLEADER,
    METRICS_TRYAGAIN,
    METRICS_UNKNOWN,
    METRICS_FULL,
    METRICS_TOOBIG,
    METRICS_SHUTDOWN,
    METRICS_IOERR,
    METRICS_KEYREUSE,
    METRICS_STALE,
    METRICS_UNAUTHORIZED,
    METRICS_INVALID,
    METRICS_N_OUTCOMES
};

/* Per-group families are written side by side in one pass over the
 * groups, each into its own scratch buffer, then appended in order. */
#define METRICS_GROUP_FAMILIES 5

struct metrics {
    struct hist latency_ns[METRICS_N_COMMANDS];
    uint64_t outcomes[METRICS_N_COMMANDS][METRICS_N_OUTCOMES];
    struct buf group_scratch[METRICS_GROUP_FAMILIES]; /* owned; kept between scrapes */
    uint64_t render_ns;   /* how long the last metrics_render took */
    size_t render_bytes;  /* how much it wrote: the next one reserves as much */
    uint64_t renders;
};

void metrics_init(struct metrics *m);
void metrics_free(struct metrics *m);

/* The outcome a RESP reply (its bytes from the start) stands for. */
enum metrics_outcome metrics_outcome_of(const char *reply, size_t len);
const char *metrics_outcome_name(enum metrics_outcome o);
const char *metrics_command_name(enum metrics_command c);

/* A timed command's reply is complete: count it by outcome and observe
 * how long it took (ns). */
void metrics_command_done(struct metrics *m, enum metrics_command c, uint64_t ns, const char *reply, size_t len);

/* Append the whole exposition to out. Returns 0, or -1 if part of the
 * state could not be read (logged): out is then still a valid exposition,
 * without the families that needed it. */
int metrics_render(struct server *srv, struct buf *out);

#endif
