/* mutant.c - the registry of planted bugs (see mutant.h). */
#include "common/mutant.h"

#include <stdio.h>
#include <string.h>

static const char *const names[MUTANT_COUNT] = {
    [MUTANT_NONE] = "none",
    [MUTANT_ACK_BEFORE_COMMIT] = "ack-before-commit",
    [MUTANT_FOLLOWER_PARTIAL_APPLY] = "follower-partial-apply",
    [MUTANT_EXPECTED_VERSION_SKIPPED] = "expected-version-skipped",
    [MUTANT_MIN_ID_IGNORED] = "min-id-ignored",
    [MUTANT_READ_WITHOUT_BARRIER] = "read-without-barrier",
    [MUTANT_ID_WITHOUT_FLOOR] = "id-without-floor",
    [MUTANT_TRANSFER_DROPS_LAST_BATCH] = "transfer-drops-last-batch",
    [MUTANT_DEDUP_IGNORES_CONTENT] = "dedup-ignores-content",
    [MUTANT_SUB_SKIPS_AT_SWITCH] = "subscription-skips-at-switch",
    [MUTANT_GROUP_FORGETS_PENDING] = "group-forgets-pending",
};

#ifdef EVENTFLOW_MUTANTS
enum mutant mutant_active = MUTANT_NONE;
#endif

const char *mutant_name(enum mutant m)
{
    return m >= 0 && m < MUTANT_COUNT ? names[m] : "?";
}

enum mutant mutant_current(void)
{
#ifdef EVENTFLOW_MUTANTS
    return mutant_active;
#else
    return MUTANT_NONE;
#endif
}

int mutant_select(const char *name, char *err, size_t errlen)
{
    if (name == NULL || name[0] == '\0' || strcmp(name, names[MUTANT_NONE]) == 0) {
#ifdef EVENTFLOW_MUTANTS
        mutant_active = MUTANT_NONE;
#endif
        return 0;
    }
#ifdef EVENTFLOW_MUTANTS
    for (int m = 0; m < MUTANT_COUNT; m++) {
        if (strcmp(name, names[m]) == 0) {
            mutant_active = (enum mutant)m;
            return 0;
        }
    }
    size_t off = (size_t)snprintf(err, errlen, "unknown mutant '%s'; known:", name);
    for (int m = 0; m < MUTANT_COUNT && off < errlen; m++)
        off += (size_t)snprintf(err + off, errlen - off, " %s", names[m]);
    return -1;
#else
    snprintf(err, errlen, "mutant '%s' asked for, but this build has none (configure with -Dmutants=true)", name);
    return -1;
#endif
}
