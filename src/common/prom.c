/* prom.c - the Prometheus text exposition format (see prom.h). */
#include "common/prom.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void prom_escape_label(struct buf *b, const char *value)
{
    for (const char *p = value; *p; p++) {
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
    for (const char *p = help; *p; p++) {
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
    buf_printf(b, "# HELP %s ", name);
    prom_escape_help(b, help);
    buf_printf(b, "\n# TYPE %s %s\n", name, type);
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
        buf_printf(b, "%s%s=\"", i > 0 ? "," : "", labels[i].name);
        prom_escape_label(b, labels[i].value);
        buf_append_char(b, '"');
    }
    if (le != NULL)
        buf_printf(b, "%sle=\"%s\"", n_labels > 0 ? "," : "", le);
    buf_append(b, "} ", 2);
}

void prom_u64(struct buf *b, const char *name, const struct prom_label *labels, unsigned n_labels, uint64_t v)
{
    sample_head(b, name, NULL, labels, n_labels, NULL);
    buf_printf(b, "%" PRIu64 "\n", v);
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
        buf_printf(b, "%" PRIu64 "\n", cumulative);
    }
    sample_head(b, name, "_sum", labels, n_labels, NULL);
    if (scale == 1.0)
        buf_printf(b, "%" PRIu64 "\n", h->sum);
    else
        buf_printf(b, "%.15g\n", (double)h->sum * scale);
    sample_head(b, name, "_count", labels, n_labels, NULL);
    buf_printf(b, "%" PRIu64 "\n", h->count);
}
