/* clockshift.c - an LD_PRELOAD library that shifts a process's wall clock.
 *
 *   LD_PRELOAD=libclockshift.so EF_CLOCK_OFFSET_MS=-600000 eventflowd ...
 *
 * clock_gettime(CLOCK_REALTIME and CLOCK_REALTIME_COARSE) answers the true
 * time plus EF_CLOCK_OFFSET_MS (a signed integer; absent or 0: no shift);
 * every other clock, the monotonic ones that raft's and libuv's timers use
 * included, is left alone. eventflowd reads the wall clock only through
 * clock_gettime (event ids, added_at, log lines, STATUS time_ms).
 *
 * Why not libfaketime: it calls malloc while it initialises from inside
 * the first clock_gettime, and jemalloc (eventflowd's default allocator)
 * calls clock_gettime while it initialises, so the two recurse into each
 * other and the process hangs ("libfaketime: Unexpected recursive calls to
 * clock_gettime()"). This library allocates nothing and calls no libc
 * function that might: the clock comes from the raw system call (no vDSO
 * lookup through dlsym) and the offset is parsed by hand, so it works in
 * every build, jemalloc or not.
 *
 * Under AddressSanitizer the preloaded library comes before the sanitizer
 * runtime in the library list, which ASan refuses unless the process runs
 * with ASAN_OPTIONS=verify_asan_link_order=0 (tests set it). */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The offset in ns, parsed on first use (getenv allocates nothing). */
static _Atomic int64_t offset_ns;
static atomic_bool offset_known;

static int64_t parse_offset_ns(void)
{
    const char *s = getenv("EF_CLOCK_OFFSET_MS");
    if (s == NULL)
        return 0;
    bool neg = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    int64_t ms = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        /* An offset beyond ~292 years cannot be meant: stop growing. */
        if (ms < INT64_MAX / 1000000 / 10)
            ms = ms * 10 + (*s - '0');
    }
    return (neg ? -ms : ms) * 1000000;
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
    /* syscall() returns -1 with errno set, as clock_gettime must. */
    long rc = syscall(SYS_clock_gettime, id, ts);
    if (rc != 0 || (id != CLOCK_REALTIME && id != CLOCK_REALTIME_COARSE))
        return (int)rc;
    if (!atomic_load(&offset_known)) {
        /* Two threads may both parse: they store the same value. */
        atomic_store(&offset_ns, parse_offset_ns());
        atomic_store(&offset_known, true);
    }
    int64_t ns = (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec + atomic_load(&offset_ns);
    ts->tv_sec = (time_t)(ns / 1000000000);
    ts->tv_nsec = (long)(ns % 1000000000);
    if (ts->tv_nsec < 0) {
        ts->tv_sec--;
        ts->tv_nsec += 1000000000;
    }
    return 0;
}
