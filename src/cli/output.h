/* output.h - how eventflowctl prints: aligned tables, JSON documents, events
 * and role names (sizes and durations: common/human.h, HUMAN_SHORT).
 *
 * Everything goes to stdout; errors are not printed here (see cli.h). */
#ifndef EVENTFLOW_CLI_OUTPUT_H
#define EVENTFLOW_CLI_OUTPUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <eventflow/eventflow.h>

/* ---- tables ------------------------------------------------------------- */

/* A table filled row by row, printed with every column as wide as its widest
 * cell, two spaces apart. */
struct table;

/* A table with ncols columns named by headers (borrowed: they must outlive
 * the table). */
struct table *table_new(size_t ncols, const char *const *headers);
void table_free(struct table *t);

/* Align column col to the right (numbers). */
void table_align_right(struct table *t, size_t col);

/* Start a new row; its cells are empty until set. */
void table_row(struct table *t);

/* Set cell col of the last row (printf-style; the text is copied). */
void table_set(struct table *t, size_t col, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

void table_print(const struct table *t, FILE *out);

/* ---- JSON --------------------------------------------------------------- */

/* Print v to out followed by a newline: indented when pretty, else on one
 * line (JSON Lines). Returns 0, or -1 if it could not be written. */
int output_json(FILE *out, const json_t *v, bool pretty);

/* A change's outcome: with -o json, j with "ok": true added, on one line;
 * else the message. Takes j's reference; returns CLI_EXIT_OK, or
 * CLI_EXIT_USAGE if it could not be written. */
int output_done(bool json, json_t *j, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A JSON integer from a uint64_t (values above INT64_MAX are clamped: the
 * server never reports such counts). New reference. */
json_t *output_json_u64(uint64_t v);

/* ---- events ------------------------------------------------------------- */

/* An event as the server returns it: {"id","stream","version","type","data",
 * "metadata","causation_id","correlation_id","added_at"}. New reference. */
json_t *output_event_json(const struct eventflow_event *ev);

/* The header line of the event table (see output_event_row). */
void output_event_header(FILE *out);

/* One event as one line of the event table: id, stream, version, type,
 * added_at, and data (compact, cut after a few dozen characters). The
 * columns have fixed widths, so rows printed as events arrive line up. */
void output_event_row(FILE *out, const struct eventflow_event *ev);

/* ---- names ---------------------------------------------------------------- */

/* "voter", "standby", "spare" (as the server and `member add` spell them),
 * "unknown" for any other value. */
const char *output_role_name(enum eventflow_role r);

#endif
