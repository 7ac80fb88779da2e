/* prom.h - the Prometheus text exposition format (version 0.0.4), written
 * into a buf: one family's HELP and TYPE lines, then its samples.
 *
 * Names are the caller's constants and are not checked; label values and
 * help texts are escaped as the format requires (backslash, double quote in
 * label values, newline), so a stream's or a group's name can be a label
 * value whatever bytes it holds. */
#ifndef EVENTFLOW_PROM_H
#define EVENTFLOW_PROM_H

#include <stdint.h>

#include "common/buf.h"
#include "common/hist.h"

/* Labels of one sample, histograms' "le" not counted. */
#define PROM_MAX_LABELS 4

struct prom_label {
    const char *name;
    const char *value; /* NUL-terminated, any bytes */
};

/* "# HELP name help\n# TYPE name type\n"; type is counter, gauge,
 * histogram or untyped. */
void prom_family(struct buf *b, const char *name, const char *type, const char *help);

/* One sample: name{labels} value. n_labels may be 0 (labels NULL). */
void prom_u64(struct buf *b, const char *name, const struct prom_label *labels, unsigned n_labels, uint64_t v);
void prom_double(struct buf *b, const char *name, const struct prom_label *labels, unsigned n_labels, double v);

/* A histogram's samples: name_bucket per bound (cumulative) and +Inf,
 * name_sum and name_count. Bounds and the sum are multiplied by `scale`
 * (1e-9 turns nanoseconds into the seconds the name promises; 1 leaves
 * counts as they are). */
void prom_hist(struct buf *b, const char *name, const struct prom_label *labels, unsigned n_labels,
               const struct hist *h, const struct hist_bounds *bounds, double scale);

/* Escaped forms, exposed for tests. */
void prom_escape_label(struct buf *b, const char *value);
void prom_escape_help(struct buf *b, const char *help);

#endif
