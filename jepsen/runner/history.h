/* history.h - the run's history: one JSON object per line.
 *
 * Every client operation is written twice, as in Jepsen: an "invoke" line
 * before the request is sent and an "ok", "fail" or "info" line after the
 * answer (info: the outcome is unknown). Both carry the same "op" number.
 * Nemesis actions are "info" lines with "f":"nemesis". Times are
 * nanoseconds of CLOCK_MONOTONIC since the run started, taken before the
 * request is sent and after the answer arrived, so every operation's real
 * interval lies inside the recorded one.
 *
 * Thread-safe: workers and the nemesis write concurrently. Lines are
 * flushed as they are written, so a crashed runner leaves a readable
 * history (operations without a completion count as unknown). */
#ifndef JEPSEN_HISTORY_H
#define JEPSEN_HISTORY_H

#include <jansson.h>
#include <stdint.h>

/* Open path for writing; the run's clock starts now. 0 or -1 (errno). */
int history_open(const char *path);
void history_close(void);

/* Nanoseconds since history_open. */
int64_t history_now(void);

/* Write obj as one line, adding "index". Takes the reference to obj. */
void history_write(json_t *obj);

/* A new operation number (unique in the run). */
int64_t history_next_op(void);

/* Record a nemesis action: {"type":"info","process":-1,"f":"nemesis",
 * "fault":fault,"phase":phase,"nodes":[...],"value":value}. nodes may be
 * NULL (a json array otherwise; the reference is taken). Also printed on
 * stderr, so the operator can follow the run. */
void history_nemesis(const char *fault, const char *phase, json_t *nodes, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The same with more members: fields (a JSON object, reference taken, may
 * be NULL) is merged into the line, e.g. {"verified": false}. */
void history_nemesis_fields(const char *fault, const char *phase, json_t *nodes, json_t *fields, const char *fmt,
                            ...) __attribute__((format(printf, 5, 6)));

#endif
