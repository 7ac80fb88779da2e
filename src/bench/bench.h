/* bench.h - the parts of eventflow-bench and how they fit together.
 *
 *   bench.c           main: options, connecting, the prefill and load phases,
 *                     the report (text or JSON) naming the machine
 *   bench_workload.c  what each request is (ADD/GET/GETALL/PING encoding) and
 *                     whether its reply is the right answer
 *   bench_conn.c      opening connections (connect, TCP_NODELAY, AUTH)
 *   bench_loop.c      the worker threads: one epoll loop per thread over
 *                     non-blocking sockets, P requests in flight per
 *                     connection, latency from send to full reply
 *   bench_hist.c      the latency histogram
 *   bench_proc.c      CPU time of the servers (/proc/PID/stat) and threads
 *   delivery*.c       `eventflow-bench delivery`: subscriptions' delivery
 *                     latency, fan-out and catch-up (see delivery.h)
 *   writer.c          the stamped ADD writer thread of delivery and groups
 *                     (see writer.h)
 *   groups*.c         `eventflow-bench groups`: consumer groups draining a
 *                     backlog, and the ADD rate while groups consume (see
 *                     groups.h)
 *
 * A run is one or two phases over the same connections: an optional prefill
 * (writes N events to each of the first K streams, so reads find data), then
 * the load itself. A phase is described by a struct bench_plan that all
 * worker threads share read-only (except its atomic ticket counter); each
 * thread fills its own struct bench_result, merged by main after the join. */
#ifndef EVENTFLOW_BENCH_H
#define EVENTFLOW_BENCH_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "bench/bench_hist.h"
#include "common/buf.h"
#include "protocol/resp_reader.h"

/* The commands a request can be. */
enum bench_op {
    BENCH_OP_PING,
    BENCH_OP_ADD,
    BENCH_OP_GET,
    BENCH_OP_GETALL,
    BENCH_OP_COUNT
};

enum bench_workload {
    BENCH_W_PING,
    BENCH_W_ADD,
    BENCH_W_GET,
    BENCH_W_GETALL,
    BENCH_W_MIXED,
};

/* Everything the flags decide; filled by bench.c, read-only afterwards. */
struct bench_config {
    const char *host;                 /* borrowed from argv */
    struct sockaddr_storage addr;     /* host:port, a loopback address */
    socklen_t addr_len;
    unsigned port;
    const char *password;             /* borrowed from argv; NULL = no AUTH */
    enum bench_workload workload;
    unsigned mix[BENCH_OP_COUNT];     /* mixed: relative weight of each op */
    unsigned connections;
    unsigned pipeline;
    unsigned threads;
    uint64_t requests;                /* measured requests; 0 = no count bound */
    double duration;                  /* seconds of measurement; 0 = no time bound */
    double warmup;                    /* seconds of unmeasured load first */
    double timeout;                   /* seconds without progress = stalled */
    size_t event_size;                /* bytes of each event's input JSON */
    unsigned events_per_add;
    unsigned streams;
    unsigned get_limit;
    uint64_t prefill;                 /* events per prefilled stream; 0 = none */
    unsigned prefill_streams;         /* K: streams 0..K-1 are prefilled */
    uint64_t seed;
    bool json;
};

/* The "type" of every benchmark event; the event size counts it. */
#define BENCH_EVENT_TYPE "BenchEvent"
/* Prefill writes up to BATCH events (and at most BATCH_BYTES of them) per
 * ADD, and keeps PIPELINE ADDs in flight per connection. */
#define BENCH_PREFILL_BATCH 100
#define BENCH_PREFILL_BATCH_BYTES (1u << 20)
#define BENCH_PREFILL_PIPELINE 8
/* Length of a ULID, the GETALL offset. */
#define BENCH_ULID_LEN 26
/* Longest error word kept; longer first words are cut. */
#define BENCH_WORD_MAX 32

struct bench_rng {
    uint64_t state;
};

/* One request in flight on a connection. */
struct bench_req {
    uint64_t sent_ns;     /* CLOCK_MONOTONIC when it was queued for sending */
    uint8_t op;           /* enum bench_op */
    bool measured;        /* sent inside the measurement window */
    bool want_id;         /* prefill: keep the first event's id (GETALL offsets) */
    uint32_t events;      /* ADD: events sent, the reply must hold exactly these */
    uint32_t limit;       /* GET/GETALL: most events the reply may hold (0 = any) */
    uint32_t min_events;  /* GET: fewest events the reply must hold */
};

/* A phase of the run, shared read-only by all workers (but `tickets`). */
struct bench_plan {
    const struct bench_config *cfg;  /* borrowed */
    bool prefill;                    /* the prefill jobs instead of cfg->workload */
    unsigned pipeline;               /* requests in flight per connection */
    uint64_t max_tickets;            /* requests to send after warmup; 0 = unbounded */
    _Atomic uint64_t tickets;        /* taken so far */
    uint64_t measure_start_ns;       /* requests sent before this are warmup */
    uint64_t deadline_ns;            /* send nothing from here on; 0 = no deadline */
    const char *payload;             /* borrowed: one event's JSON, cfg->event_size bytes */
    const char (*offsets)[BENCH_ULID_LEN + 1]; /* borrowed: GETALL offsets (ids) */
    size_t n_offsets;                /* 0: GETALL from the start of the log */
};

struct bench_op_stats {
    uint64_t ok;             /* replies that were the right answer */
    uint64_t failed;         /* error replies, wrong replies, lost requests */
    uint64_t events;         /* events written (ADD) or returned (reads) by ok replies */
    uint64_t payload_bytes;  /* bytes of those events' JSON as returned */
    struct bench_hist latency_ns; /* ok replies only */
};

/* Failures by the first word of the error reply ("concurrent", "MOVED"),
 * or by a client-side reason in angle brackets ("<timeout>"), each with the
 * first whole error message seen under that word. */
#define BENCH_ERROR_KINDS 16
#define BENCH_EXAMPLE_MAX 128
struct bench_errors {
    unsigned n;
    struct {
        char word[BENCH_WORD_MAX];
        char example[BENCH_EXAMPLE_MAX]; /* "" for client-side reasons */
        uint64_t count;
    } kind[BENCH_ERROR_KINDS];
    uint64_t other;          /* failures beyond BENCH_ERROR_KINDS distinct words */
};

struct bench_result {
    struct bench_op_stats op[BENCH_OP_COUNT];
    struct bench_errors errors;
    uint64_t rx_bytes;        /* bytes received in the measurement window */
    uint64_t last_done_ns;    /* when the last measured request was answered or
                               * given up on; 0 = none */
    unsigned conns_lost;      /* connections closed by failure in this phase */
    char (*ids)[BENCH_ULID_LEN + 1]; /* owned: ids kept by want_id requests */
    size_t n_ids, cap_ids;
};

/* A client connection; owned by one worker thread while a phase runs. */
struct bench_conn {
    int fd;                   /* -1 once closed */
    struct resp_reader reader;
    struct buf out;           /* encoded requests not yet written */
    size_t out_sent;          /* bytes of `out` already written */
    bool want_write;          /* EPOLLOUT is armed */
    struct bench_req *ring;   /* owned: requests in flight, oldest at head */
    unsigned ring_cap, head, count;
    uint64_t last_progress_ns;
};

/* bench.c: option parsing shared with the modes. Each returns 0, or -1
 * after printing why. bench_parse_host resolves cfg->host (loopback only)
 * and cfg->port into cfg->addr. bench_parse_pids reads "P,P,..." into at
 * most `max` pids. */
int bench_parse_u64(const char *flag, const char *s, uint64_t min, uint64_t max, uint64_t *out);
int bench_parse_uint(const char *flag, const char *s, unsigned min, unsigned max, unsigned *out);
int bench_parse_seconds(const char *flag, const char *s, double min, double *out);
int bench_parse_host(struct bench_config *cfg);
int bench_parse_pids(const char *s, pid_t *pids, unsigned max, unsigned *n);
/* The name bench_fail's messages start with ("eventflow-bench delivery"):
 * a mode sets it once, before any thread starts. */
extern const char *bench_prog;
/* Print "<bench_prog>: <message>" and exit 1: for the modes, whose runs
 * mean nothing once a connection or a request has failed. */
noreturn void bench_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The prefill (see --prefill): cfg->prefill events to each of the first
 * cfg->prefill_streams streams, over `conns`; *secs its time. Returns 0
 * only if every event was written. */
int bench_prefill(const struct bench_config *cfg, const char *payload, struct bench_conn *conns,
                  struct bench_result *res, double *secs);

/* bench_workload.c */
void bench_rng_seed(struct bench_rng *rng, uint64_t seed);
uint64_t bench_rng_next(struct bench_rng *rng);
/* Uniform in [0, n), n >= 1. */
uint32_t bench_rng_below(struct bench_rng *rng, uint32_t n);
/* One event's input JSON of exactly cfg->event_size bytes (caller frees). */
char *bench_payload_new(const struct bench_config *cfg);
/* The smallest --event-size: the event JSON with an empty data string. */
size_t bench_payload_min_size(void);
/* Encode the next load request into `out` and describe it in `req`. */
void bench_encode_load(const struct bench_plan *plan, struct bench_rng *rng, struct buf *scratch,
                       struct buf *out, struct bench_req *req);
/* Encode prefill job `job` (0 <= job < bench_prefill_jobs()). */
void bench_encode_prefill(const struct bench_plan *plan, uint64_t job, struct buf *scratch,
                          struct buf *out, struct bench_req *req);
uint64_t bench_prefill_jobs(const struct bench_config *cfg);
/* Judge reply `v` to `req`. Returns 0 when it is the right answer, filling
 * *events, *payload_bytes and, for want_id, id (BENCH_ULID_LEN + 1 bytes).
 * Otherwise returns -1 with the word to count the failure under in `word`. */
int bench_check_reply(const struct bench_req *req, const struct resp_value *v, uint64_t *events,
                      uint64_t *payload_bytes, char *id, char word[BENCH_WORD_MAX]);
const char *bench_op_name(enum bench_op op);

/* bench_conn.c */
/* Connect (blocking), set TCP_NODELAY, AUTH if cfg->password, then make the
 * socket non-blocking. Returns 0, or -1 with a message on stderr; either
 * way `c` must be released with bench_conn_close. */
int bench_conn_open(struct bench_conn *c, const struct bench_config *cfg);
/* Close the socket and free everything; safe on a half-open or closed conn. */
void bench_conn_close(struct bench_conn *c);
/* bench_conn_open's socket alone (exits when it cannot connect). */
int bench_connect_fd(const struct bench_config *cfg);
/* Write all n bytes to a blocking or non-blocking socket, waiting for
 * room. 0, or -1 (errno set; a peer that takes nothing for 10 s fails). */
int bench_send_all(int fd, const char *p, size_t n);
/* Send req and wait up to `timeout` s for one whole reply read through rd
 * (which keeps what follows it) into *v; free it with resp_value_free.
 * Exits when it cannot. */
void bench_roundtrip(int fd, struct resp_reader *rd, const char *req, size_t n, double timeout,
                     struct resp_value *v);

/* bench_proc.c: CPU seconds (user + system) of a process, 0 when it cannot
 * be read; of several, summed; of the calling thread. */
double bench_proc_cpu_s(pid_t pid);
double bench_pids_cpu_s(const pid_t *pids, unsigned n);
double bench_thread_cpu_s(void);

/* bench_loop.c */
/* Run one phase: spread `conns` over cfg->threads workers, each looping
 * until the plan allows no more requests and its connections are idle or
 * lost. Fills *res with the merged results (free with bench_result_free).
 * Returns 0, or -1 if the workers could not be started. */
int bench_run(struct bench_plan *plan, struct bench_conn *conns, unsigned n_conns,
              struct bench_result *res);
void bench_result_init(struct bench_result *res);
void bench_result_free(struct bench_result *res);
/* Count `count` failures under `word`; `example` (may be NULL, need not be
 * NUL-terminated: example_len bytes) is kept if the word is new. */
void bench_errors_add(struct bench_errors *e, const char *word, const char *example,
                      size_t example_len, uint64_t count);
/* Set by SIGINT: stop sending, finish what is in flight, report. */
extern atomic_bool bench_interrupted;
uint64_t bench_now_ns(void);

#endif
