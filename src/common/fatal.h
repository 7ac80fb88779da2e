/* fatal.h - the one way out of eventflowd when carrying on could lose or
 * corrupt acknowledged data.
 *
 * Some failures leave the store behind what raft counts as applied: a batch
 * that failed to commit, an entry that could not be applied, the served
 * index that could not be recorded. Raft's log still holds those entries,
 * and a restart applies them again; serving on would not. So the process
 * logs why and stops at once, and the supervisor (systemd, docker's restart
 * policy) starts it again.
 *
 * _exit, not exit: no atexit handler, destructor or stdio flush may run,
 * and above all no loop callback: nothing may commit the store's batch or
 * answer a client on the way out. */
#ifndef EVENTFLOW_FATAL_H
#define EVENTFLOW_FATAL_H

/* Log the message at error level with "; stopping (a restart recovers)"
 * appended, then _exit(1). Any thread. */
_Noreturn void fatal_restart(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
