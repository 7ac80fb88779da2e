/* human.c - sizes and durations in the forms people read (human.h). */
#include "common/human.h"

#include <float.h>
#include <inttypes.h>
#include <stdio.h>

/* ---- sizes ---------------------------------------------------------------- */

struct byte_units {
    uint64_t base;
    const char *names[7];
    size_t n_names;
    double whole_from; /* from this value up, no decimal */
};

static const struct byte_units byte_units[] = {
    [HUMAN_EVENTFLOWDB] = {1000, {"B", "kB", "MB", "GB", "TB", "PB", "EB"}, 7, 10.0},
    [HUMAN_SHORT] = {1024, {"B", "KiB", "MiB", "GiB", "TiB", "PiB"}, 6, DBL_MAX},
};

void human_bytes(uint64_t n, enum human_style style, char *out, size_t cap)
{
    const struct byte_units *u = &byte_units[style];
    if (n < u->base) {
        snprintf(out, cap, "%" PRIu64 " B", n);
        return;
    }
    double v = (double)n;
    size_t i = 0;
    while (v >= (double)u->base && i + 1 < u->n_names) {
        v /= (double)u->base;
        i++;
    }
    snprintf(out, cap, "%.*f %s", v < u->whole_from ? 1 : 0, v, u->names[i]);
}

/* ---- durations ------------------------------------------------------------ */

/* Go's time.Duration.String() for whole milliseconds: hours and minutes
 * only when not zero, seconds with the fraction's trailing zeros cut. The
 * longest, of UINT64_MAX ms, is 24 characters. */
static void go_duration(uint64_t ms, char *out, size_t cap)
{
    if (ms == 0) {
        snprintf(out, cap, "0s");
        return;
    }
    if (ms < 1000) {
        snprintf(out, cap, "%" PRIu64 "ms", ms);
        return;
    }
    uint64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, frac = ms % 1000;
    size_t len = 0;
    if (h > 0)
        len += (size_t)snprintf(out + len, cap - len, "%" PRIu64 "h", h);
    if (h > 0 || m > 0)
        len += (size_t)snprintf(out + len, cap - len, "%" PRIu64 "m", m);
    if (frac == 0) {
        snprintf(out + len, cap - len, "%" PRIu64 "s", s);
    } else {
        char digits[4];
        snprintf(digits, sizeof digits, "%03" PRIu64, frac);
        for (int i = 2; i > 0 && digits[i] == '0'; i--)
            digits[i] = '\0';
        snprintf(out + len, cap - len, "%" PRIu64 ".%ss", s, digits);
    }
}

/* The largest unit and the next one, so a table column stays narrow. */
static void short_duration(uint64_t ms, char *out, size_t cap)
{
    const uint64_t s = ms / 1000, m = s / 60, h = m / 60, d = h / 24;
    if (ms < 1000)
        snprintf(out, cap, "%" PRIu64 "ms", ms);
    else if (s < 60)
        snprintf(out, cap, "%" PRIu64 ".%" PRIu64 "s", s, (ms % 1000) / 100);
    else if (m < 60)
        snprintf(out, cap, "%" PRIu64 "m%" PRIu64 "s", m, s % 60);
    else if (h < 24)
        snprintf(out, cap, "%" PRIu64 "h%" PRIu64 "m", h, m % 60);
    else
        snprintf(out, cap, "%" PRIu64 "d%" PRIu64 "h", d, h % 24);
}

void human_duration(uint64_t ms, enum human_style style, char *out, size_t cap)
{
    /* The Go form is written piece by piece, each after the last: build it
     * where every form fits, and cut only the copy. */
    char text[32] = "";
    switch (style) {
    case HUMAN_EVENTFLOWDB:
        go_duration(ms, text, sizeof text);
        break;
    case HUMAN_SHORT:
        short_duration(ms, text, sizeof text);
        break;
    }
    snprintf(out, cap, "%s", text);
}
