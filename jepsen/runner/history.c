/* history.c - see history.h. */
#include "history.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static pthread_mutex_t history_mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *history_file;
static int64_t history_index;
static int64_t history_op;
static int64_t history_t0;

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int history_open(const char *path)
{
    history_file = fopen(path, "w");
    if (history_file == NULL)
        return -1;
    history_t0 = monotonic_ns();
    return 0;
}

void history_close(void)
{
    pthread_mutex_lock(&history_mu);
    if (history_file != NULL) {
        if (fclose(history_file) != 0)
            perror("history: close");
        history_file = NULL;
    }
    pthread_mutex_unlock(&history_mu);
}

int64_t history_now(void)
{
    return monotonic_ns() - history_t0;
}

int64_t history_next_op(void)
{
    pthread_mutex_lock(&history_mu);
    int64_t op = ++history_op;
    pthread_mutex_unlock(&history_mu);
    return op;
}

void history_write(json_t *obj)
{
    pthread_mutex_lock(&history_mu);
    if (history_file != NULL) {
        json_object_set_new(obj, "index", json_integer(history_index++));
        /* JSON_COMPACT never emits a newline: one object per line. */
        char *line = json_dumps(obj, JSON_COMPACT);
        if (line == NULL || fprintf(history_file, "%s\n", line) < 0 || fflush(history_file) != 0) {
            /* A history with holes would mislead the checker: stop. */
            fprintf(stderr, "history: write failed: %s\n", line == NULL ? "encoding" : "I/O");
            abort();
        }
        free(line);
    }
    pthread_mutex_unlock(&history_mu);
    json_decref(obj);
}

static void nemesis_entry(const char *fault, const char *phase, json_t *nodes, json_t *fields, const char *fmt,
                          va_list ap) __attribute__((format(printf, 5, 0)));

static void nemesis_entry(const char *fault, const char *phase, json_t *nodes, json_t *fields, const char *fmt,
                          va_list ap)
{
    char value[1024];
    vsnprintf(value, sizeof value, fmt, ap);

    int64_t t = history_now();
    char *names = nodes != NULL ? json_dumps(nodes, JSON_COMPACT) : NULL;
    fprintf(stderr, "[%8.2fs] nemesis %-16s %-5s %s %s\n", (double)t / 1e9, fault, phase,
            names != NULL ? names : "", value);
    free(names);

    json_t *e = json_pack("{s:s, s:i, s:s, s:I, s:s, s:s, s:s}", "type", "info", "process", -1,
                          "f", "nemesis", "time", (json_int_t)t, "fault", fault, "phase", phase,
                          "value", value);
    if (e == NULL)
        abort();
    if (nodes != NULL)
        json_object_set_new(e, "nodes", nodes);
    if (fields != NULL) {
        if (json_object_update(e, fields) != 0)
            abort();
        json_decref(fields);
    }
    history_write(e);
}

void history_nemesis(const char *fault, const char *phase, json_t *nodes, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    nemesis_entry(fault, phase, nodes, NULL, fmt, ap);
    va_end(ap);
}

void history_nemesis_fields(const char *fault, const char *phase, json_t *nodes, json_t *fields, const char *fmt,
                            ...)
{
    va_list ap;
    va_start(ap, fmt);
    nemesis_entry(fault, phase, nodes, fields, fmt, ap);
    va_end(ap);
}
