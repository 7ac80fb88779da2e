/* faultcheck.h - does a fault really hold? Probes the nemesis runs right
 * after injecting a fault (and after healing one), so that a fault that
 * silently did nothing makes the run invalid instead of passing as
 * tested: a node killed is gone, a restarted one answers, a paused one
 * stops answering, a partition blocks traffic, a disk is full.
 *
 * Each probe returns true when it saw what it looked for, and writes what
 * it saw into `what` either way (for the history's check line). Runner
 * main thread only (the nemesis). */
#ifndef JEPSEN_FAULTCHECK_H
#define JEPSEN_FAULTCHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "cluster.h"

/* Slot i's process has exited and its client port refuses STATUS. */
bool faultcheck_gone(struct cluster *c, int i, char *what, size_t len);

/* Slot i answers STATUS within timeout_ms (polled). */
bool faultcheck_answers(struct cluster *c, int i, int timeout_ms, char *what, size_t len);

/* Slot i is stopped (SIGSTOP: state T in /proc) and STATUS gets no
 * answer within a second. */
bool faultcheck_silent(struct cluster *c, int i, char *what, size_t len);

/* A TCP connection from slot `from`'s namespace to slot `to`'s raft port
 * cannot be made within a second: it times out (to's INPUT chain drops
 * from's packets) or, with `reset`, is refused (it resets them). */
bool faultcheck_blocked(struct cluster *c, int from, int to, bool reset, char *what, size_t len);

/* Slot i's data filesystem has no block left for an unprivileged writer. */
bool faultcheck_disk_full(struct cluster *c, int i, char *what, size_t len);

/* The size of slot i's node log now (0 if none): where a later
 * faultcheck_logged looks from. */
long faultcheck_log_size(struct cluster *c, int i);

/* Slot i's node log gains a line containing `text` past offset `from`
 * within timeout_ms (polled). */
bool faultcheck_logged(struct cluster *c, int i, long from, const char *text, int timeout_ms, char *what,
                       size_t len);

#endif
