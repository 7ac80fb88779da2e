/* cluster.h - the eventflowd processes under test and the faults applied
 * to them.
 *
 * A cluster has N slots. Slot i lives in network namespace efj-TAG-ni
 * (made by netctl.sh) at address PREFIX.(10+i); its data directory is a
 * size-limited tmpfs mounted under the run's data root, so that the disk
 * nemesis can fill it. The runner is the parent of every eventflowd
 * (started through `ip netns exec`, which execs, so the pid is the
 * server's): it kills, pauses and reaps them by pid and records every exit
 * in nodes/exits.jsonl. Children get PR_SET_PDEATHSIG, so nothing survives
 * a crashed runner.
 *
 * Everything here runs on the runner's main thread (the nemesis thread of
 * the design): PR_SET_PDEATHSIG fires when the *thread* that forked a
 * child exits, so only the main thread may start nodes. */
#ifndef JEPSEN_CLUSTER_H
#define JEPSEN_CLUSTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CLUSTER_MAX 9

enum clock_mode { CLOCK_NORMAL = 0, CLOCK_FAKE };

struct slot {
    int index;             /* 1..N */
    char name[8];          /* "n1" */
    char ns[64];           /* network namespace */
    char host[32];         /* "10.77.0.11" */
    char client_addr[48];  /* host:6543 */
    char raft_addr[48];    /* host:7543 */
    uint64_t id;           /* raft id of the current data directory */
    bool member;           /* in the configuration as far as the runner knows */
    bool joined;           /* its directory entered the cluster with --join */
    int generation;        /* data directory generation (wipes start a new one) */
    pid_t pid;             /* 0: not running */
    bool paused;
    bool kill_expected;    /* the runner sent the signal that will end it */
    char mount_dir[512];   /* the tmpfs */
    char data_dir[600];    /* mount_dir/gN */
    enum clock_mode clock;
    char faketime_file[600];
    bool disk_full;
    char filler[600];
};

struct cluster_config {
    const char *tag;
    int n;                     /* slots */
    const char *prefix;        /* "10.77.0" */
    const char *eventflowd;
    const char *run_dir;       /* results folder: nodes/ logs go there */
    const char *data_root;     /* tmpfs mounts go here */
    const char *faketime_lib;  /* libfaketime.so.1, or NULL */
    int election_timeout_ms;
    int snapshot_threshold;
    int snapshot_trailing;
    int disk_mb;               /* tmpfs size of each data directory */
    const char *tls_certs;     /* raft inside mutual TLS with this directory's server.crt/.key, ca.crt; NULL: off */
};

struct cluster {
    struct cluster_config cfg;
    struct slot slots[CLUSTER_MAX + 1]; /* 1-based */
    uint64_t next_id;                   /* ids for re-joining slots */
    char initial_members[2048];         /* --cluster list */
};

/* Mount the data directories and prepare the slots. 0 or -1. */
int cluster_init(struct cluster *c, const struct cluster_config *cfg);

/* Start slot i's eventflowd (a no-op if running). 0 or -1. */
int cluster_start(struct cluster *c, int i);
/* kill -9, wait for the exit (recorded as expected). */
void cluster_kill(struct cluster *c, int i);
/* SIGTERM, then SIGKILL after timeout_ms. */
void cluster_stop(struct cluster *c, int i, int timeout_ms);
void cluster_pause(struct cluster *c, int i);
void cluster_resume(struct cluster *c, int i);

/* Reap exited nodes (non-blocking) and record their exits. Call often. */
void cluster_reap(struct cluster *c);

/* Slots of the current members, running or not. */
int cluster_members(const struct cluster *c, int *out);

/* The leader's slot as the running nodes report it (the claim of the
 * highest term wins), or 0 if none answers as leader. */
int cluster_leader(struct cluster *c);

/* Endpoints list of every slot ("h:p,h:p,...") for libeventflow. */
void cluster_endpoints(const struct cluster *c, char *out, size_t len);

/* ---- network faults (iptables inside the node namespaces) -------------- */

/* Drop every packet from slot `from` arriving at slot `to` (one way). */
int cluster_drop(struct cluster *c, int to, int from);

/* Slot `to` answers every TCP packet from slot `from` with a reset: unlike
 * a drop, this ends the connections already open, so nothing queued in
 * their socket buffers arrives after the heal. 0 or -1. */
int cluster_reset_link(struct cluster *c, int to, int from);
/* Remove every rule: all links work again. */
void cluster_heal_network(struct cluster *c);

/* ---- clock ---------------------------------------------------------------- */

/* Restart slot i under libfaketime, its fake time read from a file that
 * cluster_set_clock rewrites while it runs. dont_fake_monotonic: only the
 * wall clock moves. */
int cluster_start_faketime(struct cluster *c, int i, const char *spec, bool dont_fake_monotonic);
int cluster_set_clock(struct cluster *c, int i, const char *spec);

/* ---- disk ----------------------------------------------------------------- */

/* Fill slot i's data filesystem to the last byte. Returns bytes written. */
long long cluster_fill_disk(struct cluster *c, int i);
void cluster_free_disk(struct cluster *c, int i);

/* ---- membership ----------------------------------------------------------- */

/* Kill slot i and delete its data directory; the next cluster_start makes
 * a fresh one under a new id that joins through a member. */
void cluster_wipe(struct cluster *c, int i);

/* ---- teardown --------------------------------------------------------------- */

/* Stop every node, unmount the data directories. */
void cluster_destroy(struct cluster *c);

/* JSON array of slot names, for history_nemesis. */
json_t *cluster_names(const struct cluster *c, const int *slots, int n);

#endif
