/* mono.h - the client threads' clock: CLOCK_MONOTONIC in milliseconds, and
 * a sleep that resumes after signals. */
#ifndef JEPSEN_MONO_H
#define JEPSEN_MONO_H

#include <errno.h>
#include <time.h>

static inline long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void sleep_ms(long long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

#endif
