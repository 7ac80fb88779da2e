/* affinity.h - the CPUs the loop thread runs on (--cpu-affinity).
 *
 * Why: raft_uv writes the log with O_DIRECT | O_DSYNC kernel AIO. On a
 * disk without FUA (virtio-blk, most virtual disks) the kernel finishes
 * such a write in a per-CPU kworker bound to the CPU that took the disk's
 * interrupt: it issues the cache flush, and again completes the AIO after
 * the flush. A bound kworker cannot move to an idle CPU, so when another
 * busy process runs on the interrupt CPU the write's completion waits for
 * that process's time slice to end. Measured with a client busy on that
 * CPU: 225 us median, 535 us p90 between the flush completing and the
 * loop seeing the write done, against about 100 us on the device
 * (docs/benchmarks.md). The loop thread sleeps between its short turns,
 * so when it is the process on the interrupt CPU the kworker runs almost
 * at once. A single-queue disk
 * delivers its interrupts to one CPU; a multi-queue disk (NVMe) completes
 * on the submitting CPU and needs nothing.
 *
 * What: "off" leaves placement to the scheduler; a CPU list ("1",
 * "0,2-3") pins the loop thread there; "disk" pins it to the CPUs that
 * serve the interrupts of the device holding the data directory, and does
 * nothing (with a log line saying why) when those reach every CPU the node
 * may use or cannot be found (device-mapper, overlay and network
 * filesystems have none of their own). Only the loop thread is pinned:
 * libuv's thread pool (raft's segment preparation, snapshot writes) is
 * started first and keeps the CPUs the process had.
 *
 * Pin one node per machine this way: nodes of one cluster sharing a
 * machine would all land on the same CPU. "auto" (the default) is "disk"
 * for a node that is alone on its machine as far as its configuration
 * shows, and "off" for one whose fellow members are on this machine
 * (config_shares_machine: loopback or local addresses). Nodes that share
 * a machine under addresses of their own (containers, network namespaces)
 * look alone: those deployments set "off" (docker-compose.yml and the
 * jepsen runner do).
 *
 * Loop thread only; no state outside the arguments except the pool
 * start-up request (affinity_apply). */
#ifndef EVENTFLOW_AFFINITY_H
#define EVENTFLOW_AFFINITY_H

#include <sched.h>
#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

enum affinity_mode { AFFINITY_AUTO, AFFINITY_OFF, AFFINITY_LIST, AFFINITY_DISK };

struct affinity_spec {
    enum affinity_mode mode;
    cpu_set_t cpus; /* AFFINITY_LIST */
};

/* Parse "auto", "off", "disk" or a CPU list into spec. Returns 0, or -1 with the
 * reason in err. */
int affinity_parse(const char *s, struct affinity_spec *spec, char *err, size_t errlen);

/* Parse a kernel CPU list ("0-3,8"; a trailing newline is allowed) into
 * set. Returns 0, or -1 if s is empty, malformed or names a CPU at or past
 * CPU_SETSIZE. */
int affinity_cpulist_parse(const char *s, cpu_set_t *set);

/* Write set as a CPU list into buf (truncated to buflen, always
 * terminated). */
void affinity_cpulist_format(const cpu_set_t *set, char *buf, size_t buflen);

/* The CPUs serving the interrupts of block device dev, read from sysfs
 * under sys_root and from proc_root/irq (normally "/sys" and "/proc";
 * tests pass a tree of their own). Returns 0 with at least one CPU in out,
 * or -1 with the reason in why. */
int affinity_disk_cpus(const char *sys_root, const char *proc_root, dev_t dev, cpu_set_t *out, char *why,
                       size_t whylen);

/* Start libuv's thread pool on loop (so its threads keep the process's
 * CPUs), then pin the calling thread as spec says, data_dir naming the
 * disk for AFFINITY_DISK and AFFINITY_AUTO; shared (or NULL) says why
 * this node shares its machine with other members, which makes "auto"
 * leave placement alone. Logs what it did. Returns 0, or -1 if a CPU list
 * names no CPU this process may use or the kernel refuses the pinning
 * (logged); "disk" and "auto" never fail, they fall back to no pinning. */
int affinity_apply(const struct affinity_spec *spec, const char *data_dir, const char *shared, uv_loop_t *loop);

#endif
