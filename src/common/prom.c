/* prom.c - the Prometheus text exposition format (see prom.h). */
#include "common/prom.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Scrapes write thousands of samples (one per consumer group and family):
 * plain appends, not printf, which was most of a scrape's time. */
static void append_u64(struct buf *b, uint64_t v)
{
    char digits[20];
    size_t n = 0;
    do {
        digits[sizeof digits - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    buf_append(b, digits + sizeof digits - n, n);
}

void prom_escape_label(struct buf *b, const char *value)
{
    size_t plain = strcspn(value, "\\\"\n");
    buf_append(b, value, plain);
    for (const char *p = value + plain; *p; p++) {
        switch (*p) {
        case '\\':
            buf_append(b, "\\\\", 2);
            break;
        case '"':
            buf_append(b, "\\\"", 2);
            break;
        case '\n':
            buf_append(b, "\\n", 2);
            break;
        default:
            buf_append_char(b, *p);
        }
    }
}

void prom_escape_help(struct buf *b, const char *help)
{
    size_t plain = strcspn(help, "\\\n");
    buf_append(b, help, plain);
    for (const char *p = help + plain; *p; p++) {
        if (*p == '\\')
            buf_append(b, "\\\\", 2);
        else if (*p == '\n')
            buf_append(b, "\\n", 2);
        else
            buf_append_char(b, *p);
    }
}

void prom_family(struct buf *b, const char *name, const char *type, const char *help)
{
    buf_append_str(b, "# HELP ");
    buf_append_str(b, name);
    buf_append_char(b, ' ');
    prom_escape_help(b, help);
    buf_append_str(b, "\n# TYPE ");
    buf_append_str(b, name);
    buf_append_char(b, ' ');
    buf_append_str(b, type);
    buf_append_char(b, '\n');
}

/* name{a="x",le="y"} with `le` (may be NULL) last, as Prometheus writes it. */
static void sample_head(struct buf *b, const char *name, const char *suffix, const struct prom_label *labels,
                        unsigned n_labels, const char *le)
{
    buf_append_str(b, name);
    if (suffix != NULL)
        buf_append_str(b, suffix);
    if (n_labels == 0 && le == NULL) {
        buf_append_char(b, ' ');
        return;
    }
    buf_append_char(b, '{');
    for (unsigned i = 0; i < n_labels; i++) {
        if (i > 0)
            buf_append_char(b, ',');
        buf_append_str(b, labels[i].name);
        buf_append(b, "=\"", 2);
        prom_escape_label(b, labels[i].value);
        buf_append_char(b, '"');
    }
    if (le != NULL) {
        buf_append_str(b, n_labels > 0 ? ",le=\"" : "le=\"");
        buf_append_str(b, le);
        buf_append_char(b, '"');
    }
    buf_append(b, "} ", 2);
}

void prom_u64(struct buf *b, const char *name, const struct prom_label *labels, unsigned n_labels, uint64_t v)
{
    sample_head(b, name, NULL, labels, n_labels, NULL);
    append_u64(b, v);
    buf_append_char(b, '\n');
}

void prom_double(struct buf *b, const char *name, const struct prom_label *labels, unsigned n_labels, double v)
{
    sample_head(b, name, NULL, labels, n_labels, NULL);
    buf_printf(b, "%.15g\n", v);
}

void prom_hist(struct buf *b, const char *name, const struct prom_label *labels, unsigned n_labels,
               const struct hist *h, const struct hist_bounds *bounds, double scale)
{
    uint64_t cumulative = 0;
    char le[32];
    for (unsigned i = 0; i <= bounds->n; i++) {
        cumulative += h->buckets[i];
        if (i == bounds->n)
            memcpy(le, "+Inf", sizeof "+Inf");
        else if (scale == 1.0)
            snprintf(le, sizeof le, "%" PRIu64, bounds->le[i]);
        else
            snprintf(le, sizeof le, "%.9g", (double)bounds->le[i] * scale);
        sample_head(b, name, "_bucket", labels, n_labels, le);
        append_u64(b, cumulative);
        buf_append_char(b, '\n');
    }
    sample_head(b, name, "_sum", labels, n_labels, NULL);
    if (scale == 1.0) {
        append_u64(b, h->sum);
        buf_append_char(b, '\n');
    } else {
        buf_printf(b, "%.15g\n", (double)h->sum * scale);
    }
    sample_head(b, name, "_count", labels, n_labels, NULL);
    append_u64(b, h->count);
    buf_append_char(b, '\n');
}
