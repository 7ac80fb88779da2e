/* mutant.h - planted bugs, for the fault suite's mutation run.
 *
 * Why: a fault-injection suite is only trusted once it is seen catching a
 * system known to be wrong. Each mutant below is one small, realistic
 * safety bug; jepsen/mutants.sh runs the suite against each in turn and
 * fails unless every one is caught (jepsen/README.md, "Mutants").
 *
 * Compiled in only with `meson setup -Dmutants=true` (which defines
 * EVENTFLOW_MUTANTS; meson refuses it in a release build). Otherwise
 * mutant_is() is a constant false and every hook compiles away. One build
 * serves every mutant: eventflowd picks at most one at start from the
 * environment, EVENTFLOW_MUTANT=<name>, refuses an unknown name, and logs
 * a banner naming the active one.
 *
 * Each hook is one check at the place the bug would live:
 * `if (mutant_is(MUTANT_X))`. Set once at start, read-only afterwards:
 * any thread may call mutant_is. */
#ifndef EVENTFLOW_MUTANT_H
#define EVENTFLOW_MUTANT_H

#include <stdbool.h>
#include <stddef.h>

enum mutant {
    MUTANT_NONE = 0,
    /* sendq: the leader counts an AppendEntries as acknowledged by the
     * follower as soon as it is sent, so an ADD is committed, applied and
     * answered with the leader's copy alone. */
    MUTANT_ACK_BEFORE_COMMIT,
    /* fsm: a follower skips every 16th entry it is told to apply. */
    MUTANT_FOLLOWER_PARTIAL_APPLY,
    /* store: an ADD's expected version is not compared with the stream's. */
    MUTANT_EXPECTED_VERSION_SKIPPED,
    /* reads: a read with min_id is served without waiting for that event. */
    MUTANT_MIN_ID_IGNORED,
    /* reads: a linearizable read is served locally, on any node, without a
     * leadership check or barrier. */
    MUTANT_READ_WITHOUT_BARRIER,
    /* role: a new leader's id generator starts from its own last id, not
     * from the last id applied (an earlier leader's). */
    MUTANT_ID_WITHOUT_FLOOR,
    /* fsm: a follower whose store is up to 1024 entries (a batch) behind a
     * snapshot it must install skips the state transfer, so that batch is
     * never applied there. */
    MUTANT_TRANSFER_DROPS_LAST_BATCH,
    /* store: a retried idempotency key is taken for a retry whatever the
     * event it now comes with. */
    MUTANT_DEDUP_IGNORES_CONTENT,
    /* subscribe: the first event after the catch-up/live switch is passed
     * over instead of delivered. */
    MUTANT_SUB_SKIPS_AT_SWITCH,
    /* store_group: a new leader drops deliveries pending from before its
     * takeover instead of redelivering them. */
    MUTANT_GROUP_FORGETS_PENDING,
    MUTANT_COUNT
};

#ifdef EVENTFLOW_MUTANTS
extern enum mutant mutant_active;
static inline bool mutant_is(enum mutant m)
{
    return mutant_active == m;
}
#else
static inline bool mutant_is(enum mutant m)
{
    (void)m;
    return false;
}
#endif

/* Choose the active mutant by name (NULL, "" or "none" for none). Returns 0, or
 * -1 with a message in err: an unknown name, or any name in a build
 * without mutants. */
int mutant_select(const char *name, char *err, size_t errlen);

/* The active mutant: MUTANT_NONE in a build without mutants. */
enum mutant mutant_current(void);

/* "ack-before-commit", ...; "none" for MUTANT_NONE. */
const char *mutant_name(enum mutant m);

#endif
