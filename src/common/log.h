/* log.h - operator-facing log lines on stderr.
 *
 * Every line carries: UTC time with milliseconds, level, node id and the
 * node's current raft role, e.g.
 *   2026-11-23T12:00:00.123Z INFO  node=1 role=leader  applied snapshot 42
 * The level is checked before the message is formatted. Loop thread and
 * worker threads may both log: each line is written with one write(2). */
#ifndef EVENTFLOW_LOG_H
#define EVENTFLOW_LOG_H

#include <stdint.h>

enum log_level { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

extern enum log_level log_min_level;

/* Set once at startup (not thread-safe). `role_fn` returns a short static
 * string naming the node's role; it is called under no lock, so it must only
 * read a word-sized variable. */
void log_setup(uint64_t node_id, enum log_level min, const char *(*role_fn)(void));
/* Parse "debug", "info", "warn", "error"; returns -1 if unknown. */
int log_level_parse(const char *s);

void log_emit(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG_AT(lvl, ...)                                                                           \
    do {                                                                                           \
        if ((lvl) >= log_min_level)                                                                \
            log_emit((lvl), __VA_ARGS__);                                                          \
    } while (0)
#define log_debug(...) LOG_AT(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) LOG_AT(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) LOG_AT(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) LOG_AT(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
