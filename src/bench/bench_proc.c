/* bench_proc.c - CPU time of the servers being measured and of the
 * benchmark's own threads (see bench.h). A server's CPU comes from
 * /proc/PID/stat, as ../shared/bench/redis_delivery.c reads Redis's, so
 * "server CPU per event" means the same thing on both sides. */
#include "bench/bench.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

double bench_proc_cpu_s(pid_t pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    /* The command name in parentheses may hold spaces: skip past its end. */
    char *p = strrchr(line, ')');
    unsigned long long ut = 0, st = 0;
    /* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime stime */
    if (p == NULL || sscanf(p + 2, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

double bench_pids_cpu_s(const pid_t *pids, unsigned n)
{
    double s = 0;
    for (unsigned i = 0; i < n; i++)
        s += bench_proc_cpu_s(pids[i]);
    return s;
}

double bench_thread_cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}
