/* affinity.c - the CPUs the loop thread runs on (see affinity.h). */
#include "server/affinity.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "common/log.h"

int affinity_cpulist_parse(const char *s, cpu_set_t *set)
{
    CPU_ZERO(set);
    const char *p = s;
    int n = 0;
    for (;;) {
        char *end;
        if (*p < '0' || *p > '9')
            return -1;
        unsigned long lo = strtoul(p, &end, 10), hi = lo;
        p = end;
        if (*p == '-') {
            p++;
            if (*p < '0' || *p > '9')
                return -1;
            hi = strtoul(p, &end, 10);
            p = end;
        }
        if (lo > hi || hi >= CPU_SETSIZE)
            return -1;
        for (unsigned long c = lo; c <= hi; c++)
            CPU_SET(c, set);
        n++;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == '\n')
            p++;
        return *p == '\0' && n > 0 ? 0 : -1;
    }
}

void affinity_cpulist_format(const cpu_set_t *set, char *buf, size_t buflen)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (!CPU_ISSET(c, set))
            continue;
        int hi = c;
        while (hi + 1 < CPU_SETSIZE && CPU_ISSET(hi + 1, set))
            hi++;
        int w = hi == c ? snprintf(buf + used, buflen - used, "%s%d", used ? "," : "", c)
                        : snprintf(buf + used, buflen - used, "%s%d-%d", used ? "," : "", c, hi);
        if (w < 0 || (size_t)w >= buflen - used)
            return; /* truncated, still terminated */
        used += (size_t)w;
        c = hi;
    }
}

int affinity_parse(const char *s, struct affinity_spec *spec, char *err, size_t errlen)
{
    CPU_ZERO(&spec->cpus);
    if (strcmp(s, "auto") == 0) {
        spec->mode = AFFINITY_AUTO;
        return 0;
    }
    if (strcmp(s, "off") == 0) {
        spec->mode = AFFINITY_OFF;
        return 0;
    }
    if (strcmp(s, "disk") == 0) {
        spec->mode = AFFINITY_DISK;
        return 0;
    }
    if (affinity_cpulist_parse(s, &spec->cpus) != 0) {
        snprintf(err, errlen, "invalid CPU affinity '%s' (auto, off, disk, or a CPU list such as 1 or 0,2-3)", s);
        return -1;
    }
    spec->mode = AFFINITY_LIST;
    return 0;
}

/* Read a small sysfs/procfs file into buf; returns 0 or -1. */
static int read_small(const char *path, char *buf, size_t buflen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, buflen - 1, f);
    int failed = ferror(f);
    fclose(f);
    if (failed || n == 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

/* OR the CPUs serving interrupt irq into out; returns 0 or -1. The
 * effective affinity is where the kernel delivers it now; the configured
 * mask is the fallback on kernels without it. */
static int add_irq_cpus(const char *proc_root, unsigned long irq, cpu_set_t *out)
{
    static const char *const files[] = {"effective_affinity_list", "smp_affinity_list"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[PATH_MAX], list[1024];
        cpu_set_t set;
        if (snprintf(path, sizeof path, "%s/irq/%lu/%s", proc_root, irq, files[i]) >= (int)sizeof path)
            return -1;
        if (read_small(path, list, sizeof list) != 0 || affinity_cpulist_parse(list, &set) != 0)
            continue;
        CPU_OR(out, out, &set);
        return 0;
    }
    return -1;
}

/* The interrupts of the device at dir: its MSI vectors, or its one legacy
 * line. Returns how many were found with a readable affinity. */
static int device_irqs(const char *dir, const char *proc_root, cpu_set_t *out)
{
    char path[PATH_MAX];
    int found = 0;
    if (snprintf(path, sizeof path, "%s/msi_irqs", dir) >= (int)sizeof path)
        return 0;
    DIR *d = opendir(path);
    if (d != NULL) {
        const struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            char *end;
            unsigned long irq = strtoul(e->d_name, &end, 10);
            if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && *end == '\0' && add_irq_cpus(proc_root, irq, out) == 0)
                found++;
        }
        closedir(d);
        return found;
    }
    char buf[32];
    if (snprintf(path, sizeof path, "%s/irq", dir) >= (int)sizeof path)
        return 0;
    if (read_small(path, buf, sizeof buf) == 0) {
        unsigned long irq = strtoul(buf, NULL, 10);
        if (irq != 0 && add_irq_cpus(proc_root, irq, out) == 0)
            found++;
    }
    return found;
}

int affinity_disk_cpus(const char *sys_root, const char *proc_root, dev_t dev, cpu_set_t *out, char *why,
                       size_t whylen)
{
    char link[PATH_MAX], dir[PATH_MAX];
    CPU_ZERO(out);
    if (snprintf(link, sizeof link, "%s/dev/block/%u:%u", sys_root, major(dev), minor(dev)) >= (int)sizeof link ||
        realpath(link, dir) == NULL) {
        snprintf(why, whylen, "device %u:%u is not a block device (overlay, tmpfs or network filesystem?)",
                 major(dev), minor(dev));
        return -1;
    }
    char top[PATH_MAX];
    if (realpath(sys_root, top) == NULL) {
        snprintf(why, whylen, "%s: %s", sys_root, strerror(errno));
        return -1;
    }
    /* Walk from the block device (or partition) up to the bus device that
     * raises its interrupts: the first ancestor with any. */
    size_t toplen = strlen(top);
    while (strlen(dir) > toplen && strncmp(dir, top, toplen) == 0) {
        if (device_irqs(dir, proc_root, out) > 0)
            return 0;
        char *slash = strrchr(dir, '/');
        if (slash == NULL || slash == dir)
            break;
        *slash = '\0';
    }
    snprintf(why, whylen, "no interrupt found for device %u:%u (device-mapper, md or a virtual device?)",
             major(dev), minor(dev));
    return -1;
}

static void pool_start_work(uv_work_t *w)
{
    (void)w;
}

static void pool_start_done(uv_work_t *w, int status)
{
    (void)w;
    (void)status;
}

int affinity_apply(const struct affinity_spec *spec, const char *data_dir, const char *shared, uv_loop_t *loop)
{
    if (spec->mode == AFFINITY_OFF)
        return 0;
    const char *mode = spec->mode == AFFINITY_AUTO ? "auto" : "disk";
    if (spec->mode == AFFINITY_AUTO && shared != NULL) {
        log_info("cpu affinity auto: %s; not pinning (--cpu-affinity disk pins anyway)", shared);
        return 0;
    }
    cpu_set_t allowed, want;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
        log_error("sched_getaffinity: %s", strerror(errno));
        return -1;
    }
    char allowed_s[256], want_s[256];
    affinity_cpulist_format(&allowed, allowed_s, sizeof allowed_s);
    if (spec->mode == AFFINITY_LIST) {
        CPU_AND(&want, &spec->cpus, &allowed);
        affinity_cpulist_format(&spec->cpus, want_s, sizeof want_s);
        if (CPU_COUNT(&want) == 0) {
            log_error("cpu affinity %s: none of these CPUs is available to this process (it may use %s)", want_s,
                      allowed_s);
            return -1;
        }
    } else {
        struct stat st;
        char why[256];
        cpu_set_t disk;
        if (stat(data_dir, &st) != 0) {
            log_warn("cpu affinity %s: %s: %s; not pinning", mode, data_dir, strerror(errno));
            return 0;
        }
        if (affinity_disk_cpus("/sys", "/proc", st.st_dev, &disk, why, sizeof why) != 0) {
            if (spec->mode == AFFINITY_AUTO)
                log_info("cpu affinity auto: %s; not pinning", why);
            else
                log_warn("cpu affinity disk: %s; not pinning", why);
            return 0;
        }
        CPU_AND(&want, &disk, &allowed);
        affinity_cpulist_format(&disk, want_s, sizeof want_s);
        if (CPU_COUNT(&want) == 0 || CPU_EQUAL(&want, &allowed)) {
            log_info("cpu affinity %s: the data disk's interrupts go to CPUs %s, this node may use %s; not pinning",
                     mode, want_s, allowed_s);
            return 0;
        }
    }
    /* libuv creates its pool's threads on the first request, from the
     * calling thread, whose CPU set they inherit: queue one before
     * pinning. The request completes on a later loop turn. */
    static uv_work_t pool_start;
    int rv = uv_queue_work(loop, &pool_start, pool_start_work, pool_start_done);
    if (rv != 0) {
        log_error("cannot start the thread pool before pinning the loop thread: %s", uv_strerror(rv));
        return -1;
    }
    rv = pthread_setaffinity_np(pthread_self(), sizeof want, &want);
    if (rv != 0) {
        log_error("pinning the loop thread: %s", strerror(rv));
        return -1;
    }
    affinity_cpulist_format(&want, want_s, sizeof want_s);
    log_info("loop thread pinned to CPUs %s%s", want_s,
             spec->mode == AFFINITY_DISK   ? " (where the data disk's interrupts go)"
             : spec->mode == AFFINITY_AUTO ? " (where the data disk's interrupts go; --cpu-affinity auto, as this "
                                             "node has no fellow member on this machine: set off if others share it)"
                                           : "");
    return 0;
}
