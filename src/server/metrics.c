/* metrics.c - the server's own counters: timed commands by outcome (see
 * metrics.h). The exposition is metrics_render.c. */
#include "server/metrics.h"

#include <string.h>

static const char *const outcome_names[METRICS_N_OUTCOMES] = {
    [METRICS_OK] = "ok",
    [METRICS_CONFLICT] = "conflict",
    [METRICS_GAP] = "gap",
    [METRICS_MOVED] = "moved",
    [METRICS_NOLEADER] = "noleader",
    [METRICS_TRYAGAIN] = "tryagain",
    [METRICS_UNKNOWN] = "unknown",
    [METRICS_FULL] = "full",
    [METRICS_TOOBIG] = "toobig",
    [METRICS_SHUTDOWN] = "shutdown",
    [METRICS_IOERR] = "ioerr",
    [METRICS_KEYREUSE] = "keyreuse",
    [METRICS_STALE] = "stale",
    [METRICS_UNAUTHORIZED] = "unauthorized",
    [METRICS_INVALID] = "invalid",
};

/* The first word of an error reply, as commands.c, reads.c and
 * docs/protocol.md spell it. */
static const struct {
    const char *word;
    enum metrics_outcome outcome;
} error_words[] = {
    {"concurrent", METRICS_CONFLICT}, /* "concurrent stream modification" */
    {"given", METRICS_GAP},           /* "given version leaves gap in stream" */
    {"MOVED", METRICS_MOVED},
    {"NOLEADER", METRICS_NOLEADER},
    {"CLUSTERDOWN", METRICS_NOLEADER}, /* NOLEADER as Redis clients are told it */
    {"TRYAGAIN", METRICS_TRYAGAIN},
    {"UNKNOWN", METRICS_UNKNOWN},
    {"FULL", METRICS_FULL},
    {"TOOBIG", METRICS_TOOBIG},
    {"SHUTDOWN", METRICS_SHUTDOWN},
    {"IOERR", METRICS_IOERR},
    {"KEYREUSE", METRICS_KEYREUSE},
    {"STALE", METRICS_STALE},
    {"unauthorized", METRICS_UNAUTHORIZED},
};

void metrics_init(struct metrics *m)
{
    memset(m, 0, sizeof *m);
    for (size_t i = 0; i < METRICS_GROUP_FAMILIES; i++)
        buf_init(&m->group_scratch[i]);
}

void metrics_free(struct metrics *m)
{
    for (size_t i = 0; i < METRICS_GROUP_FAMILIES; i++)
        buf_free(&m->group_scratch[i]);
}

const char *metrics_outcome_name(enum metrics_outcome o)
{
    return o >= 0 && o < METRICS_N_OUTCOMES ? outcome_names[o] : "invalid";
}

const char *metrics_command_name(enum metrics_command c)
{
    switch (c) {
    case METRICS_ADD:
        return "add";
    case METRICS_GET:
        return "get";
    case METRICS_GETALL:
        return "getall";
    default:
        return "other";
    }
}

enum metrics_outcome metrics_outcome_of(const char *reply, size_t len)
{
    /* Every error eventflowd writes is a simple error (resp_writer.c). */
    if (len == 0 || reply[0] != '-')
        return METRICS_OK;
    const char *p = reply + 1, *end = reply + len;
    size_t word = 0;
    while (p + word < end && p[word] != ' ' && p[word] != '\r')
        word++;
    for (size_t i = 0; i < sizeof error_words / sizeof error_words[0]; i++)
        if (strlen(error_words[i].word) == word && memcmp(p, error_words[i].word, word) == 0)
            return error_words[i].outcome;
    return METRICS_INVALID;
}

void metrics_command_done(struct metrics *m, enum metrics_command c, uint64_t ns, const char *reply, size_t len)
{
    if (c < 0 || c >= METRICS_N_COMMANDS)
        return;
    m->outcomes[c][metrics_outcome_of(reply, len)]++;
    hist_observe(&m->latency_ns[c], &hist_latency_ns, ns);
}
