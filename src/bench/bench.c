/* bench.c - eventflow-bench: load generator for eventflowd (or any server
 * that answers the same RESP commands). See bench.h for the file tour and
 * usage() below for what is measured and how.
 *
 * main: parse flags -> connect every connection -> optional prefill phase
 * -> load phase -> report (text, or one JSON object with --json). */
#include "bench/bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "bench/delivery.h"
#include "bench/groups.h"
#include "common/mem.h"
#include "version.h"

enum {
    EXIT_USAGE = 2,
    EXIT_FAILED_REQUESTS = 3,
};

static void usage(FILE *f)
{
    fprintf(f,
"usage: eventflow-bench [options]\n"
"       eventflow-bench delivery live|fanout|catchup [options]  (--help there)\n"
"       eventflow-bench groups [drain|writes] [options]         (--help there)\n"
"Drives ADD, GET, GETALL or PING against a RESP server on this machine and\n"
"reports throughput, latency percentiles and failures.\n"
"\n"
"Target:\n"
"  --host ADDR          loopback address only: 127.0.0.0/8, ::1 or localhost\n"
"                       (default 127.0.0.1)\n"
"  --port N             (default 6543)\n"
"  --password PW        send AUTH PW on every connection first\n"
"Load:\n"
"  --workload W         add | get | getall | mixed | ping (default add)\n"
"  --mix A,G,GA         mixed: relative weights of ADD, GET, GETALL\n"
"                       (default 50,40,10)\n"
"  -c, --connections N  (default 50)\n"
"  -P, --pipeline P     requests in flight per connection (default 1)\n"
"  -t, --threads T      worker threads; connections are spread over them,\n"
"                       each runs an epoll loop (default 2)\n"
"  -n, --requests N     measured requests in total (stop when sent and answered)\n"
"  -d, --duration S     seconds of measurement (stop sending after S)\n"
"                       With both, whichever comes first; with neither, -d 10.\n"
"  --warmup S           seconds of unmeasured load first (default 0)\n"
"  --timeout S          a connection with requests in flight and nothing\n"
"                       received for S seconds is dropped (default 10)\n"
"  --seed N             seeds every random choice (default 1)\n"
"Data:\n"
"  --event-size BYTES   size of each event as sent: the JSON object\n"
"                       {\"type\":\"BenchEvent\",\"data\":\"<letters>\"} is exactly\n"
"                       BYTES long, the data string padding it out; at least\n"
"                       %zu (default 200). Stored events come back larger\n"
"                       (id, stream, version, added_at...).\n"
"  --events-per-add N   events per ADD (default 1)\n"
"  --streams N          ADD picks one of the streams bench:0..bench:N-1\n"
"                       uniformly at random, with version \"any\" (default 1000)\n"
"  --get-limit N        limit of each GET and GETALL (default 100; 0 means the\n"
"                       server's default)\n"
"  --prefill N          before the load, write N events to each of the first\n"
"                       K streams (up to %d events and 1 MiB per ADD,\n"
"                       pipelined); GET then reads those streams and fails a\n"
"                       reply holding fewer than min(N, get-limit) events;\n"
"                       GETALL starts at ids written by the prefill\n"
"                       (default 0: GET picks any stream, GETALL reads from\n"
"                       the start of the log)\n"
"  --prefill-streams K  (default min(streams, 100))\n"
"Output:\n"
"  --json               print the results as one JSON object\n"
"  -h, --help\n"
"\n"
"Latency is measured per request with CLOCK_MONOTONIC, from queueing it for\n"
"send to receiving the whole reply, for successful replies; percentiles come\n"
"from a log-linear histogram (error < 0.8%%). A reply is successful only if\n"
"it answers the request: ADD an array of exactly the events sent, GET/GETALL\n"
"an array of events within the limit, PING +PONG. Error replies are counted\n"
"by their first word, client-side failures as <reason>. events/s counts\n"
"events written (ADD) or returned (reads). rx is every byte received.\n"
"\n"
"Exit status: 0 all requests succeeded; 3 some failed (results printed);\n"
"1 the run could not be done; 2 bad usage.\n",
            bench_payload_min_size(), BENCH_PREFILL_BATCH);
}

/* ---- options -------------------------------------------------------- */

int bench_parse_u64(const char *flag, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max) {
        fprintf(stderr, "eventflow-bench: --%s wants an integer in %" PRIu64 "..%" PRIu64
                ", not \"%s\"\n", flag, min, max, s);
        return -1;
    }
    *out = v;
    return 0;
}

int bench_parse_pids(const char *s, pid_t *pids, unsigned max, unsigned *n)
{
    char *copy = xstrdup(s), *save = NULL;
    int rc = 0;
    *n = 0;
    for (char *t = strtok_r(copy, ", ", &save); t != NULL && rc == 0; t = strtok_r(NULL, ", ", &save)) {
        uint64_t v;
        if (*n == max) {
            fprintf(stderr, "eventflow-bench: at most %u --pids\n", max);
            rc = -1;
        } else if ((rc = bench_parse_u64("pids", t, 1, INT32_MAX, &v)) == 0) {
            pids[(*n)++] = (pid_t)v;
        }
    }
    free(copy);
    return rc;
}

const char *bench_prog = "eventflow-bench";

void bench_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", bench_prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

int bench_parse_uint(const char *flag, const char *s, unsigned min, unsigned max, unsigned *out)
{
    uint64_t v;
    if (bench_parse_u64(flag, s, min, max, &v) != 0)
        return -1;
    *out = (unsigned)v;
    return 0;
}

int bench_parse_seconds(const char *flag, const char *s, double min, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    /* The upper bound keeps every derived nanosecond count in a uint64_t. */
    if (errno != 0 || end == s || *end != '\0' || !(v >= min) || v > 1e6) {
        fprintf(stderr, "eventflow-bench: --%s wants seconds in %g..1e6, not \"%s\"\n", flag,
                min, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_workload(const char *s, enum bench_workload *out)
{
    static const struct {
        const char *name;
        enum bench_workload w;
    } names[] = {
        {"add", BENCH_W_ADD},       {"get", BENCH_W_GET}, {"getall", BENCH_W_GETALL},
        {"mixed", BENCH_W_MIXED},   {"ping", BENCH_W_PING},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].w;
            return 0;
        }
    }
    fprintf(stderr, "eventflow-bench: --workload is add, get, getall, mixed or ping, not \"%s\"\n",
            s);
    return -1;
}

static const char *workload_name(enum bench_workload w)
{
    switch (w) {
    case BENCH_W_PING:
        return "ping";
    case BENCH_W_ADD:
        return "add";
    case BENCH_W_GET:
        return "get";
    case BENCH_W_GETALL:
        return "getall";
    case BENCH_W_MIXED:
        return "mixed";
    }
    return "?";
}

static int parse_mix(const char *s, unsigned mix[BENCH_OP_COUNT])
{
    unsigned a, g, ga;
    int used = 0;
    if (sscanf(s, "%u,%u,%u%n", &a, &g, &ga, &used) != 3 || s[used] != '\0' || a > 1000000 ||
        g > 1000000 || ga > 1000000 || a + g + ga == 0) {
        fprintf(stderr, "eventflow-bench: --mix wants three weights A,G,GA, not \"%s\"\n", s);
        return -1;
    }
    memset(mix, 0, BENCH_OP_COUNT * sizeof(mix[0]));
    mix[BENCH_OP_ADD] = a;
    mix[BENCH_OP_GET] = g;
    mix[BENCH_OP_GETALL] = ga;
    return 0;
}

/* Benchmarks only ever target this machine: accept loopback addresses
 * given literally (and the name localhost), never anything resolved. */
int bench_parse_host(struct bench_config *cfg)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)&cfg->addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&cfg->addr;
    const char *host = strcmp(cfg->host, "localhost") == 0 ? "127.0.0.1" : cfg->host;

    memset(&cfg->addr, 0, sizeof(cfg->addr));
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        if ((ntohl(v4->sin_addr.s_addr) >> 24) == 127) {
            v4->sin_family = AF_INET;
            v4->sin_port = htons((uint16_t)cfg->port);
            cfg->addr_len = sizeof(*v4);
            return 0;
        }
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        if (IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) {
            v6->sin6_family = AF_INET6;
            v6->sin6_port = htons((uint16_t)cfg->port);
            cfg->addr_len = sizeof(*v6);
            return 0;
        }
    }
    fprintf(stderr, "eventflow-bench: --host %s refused: only loopback addresses "
            "(127.0.0.0/8, ::1, localhost) may be targeted\n", cfg->host);
    return -1;
}

enum {
    OPT_HOST = 1000,
    OPT_PORT,
    OPT_PASSWORD,
    OPT_WORKLOAD,
    OPT_MIX,
    OPT_WARMUP,
    OPT_TIMEOUT,
    OPT_SEED,
    OPT_EVENT_SIZE,
    OPT_EVENTS_PER_ADD,
    OPT_STREAMS,
    OPT_GET_LIMIT,
    OPT_PREFILL,
    OPT_PREFILL_STREAMS,
    OPT_JSON,
};

static const struct option long_options[] = {
    {"host", required_argument, NULL, OPT_HOST},
    {"port", required_argument, NULL, OPT_PORT},
    {"password", required_argument, NULL, OPT_PASSWORD},
    {"workload", required_argument, NULL, OPT_WORKLOAD},
    {"mix", required_argument, NULL, OPT_MIX},
    {"connections", required_argument, NULL, 'c'},
    {"pipeline", required_argument, NULL, 'P'},
    {"threads", required_argument, NULL, 't'},
    {"requests", required_argument, NULL, 'n'},
    {"duration", required_argument, NULL, 'd'},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"seed", required_argument, NULL, OPT_SEED},
    {"event-size", required_argument, NULL, OPT_EVENT_SIZE},
    {"events-per-add", required_argument, NULL, OPT_EVENTS_PER_ADD},
    {"streams", required_argument, NULL, OPT_STREAMS},
    {"get-limit", required_argument, NULL, OPT_GET_LIMIT},
    {"prefill", required_argument, NULL, OPT_PREFILL},
    {"prefill-streams", required_argument, NULL, OPT_PREFILL_STREAMS},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Upper bounds that keep one request well inside a server's --max-bulk
 * and the client's own memory reasonable. */
#define MAX_CONNECTIONS 10000
#define MAX_PIPELINE 10000
#define MAX_THREADS 256
#define MAX_EVENT_SIZE (16u << 20)
#define MAX_REQUEST_BYTES ((uint64_t)256 << 20)

/* Returns 0, or -1 after printing why (the caller exits EXIT_USAGE).
 * Sets *help when --help was asked for. */
static int parse_options(int argc, char **argv, struct bench_config *cfg, bool *help)
{
    uint64_t event_size = 200;
    bool prefill_streams_set = false;
    int opt, rc = 0;

    memset(cfg, 0, sizeof(*cfg));
    cfg->host = "127.0.0.1";
    cfg->port = 6543;
    cfg->workload = BENCH_W_ADD;
    cfg->mix[BENCH_OP_ADD] = 50;
    cfg->mix[BENCH_OP_GET] = 40;
    cfg->mix[BENCH_OP_GETALL] = 10;
    cfg->connections = 50;
    cfg->pipeline = 1;
    cfg->threads = 2;
    cfg->timeout = 10;
    cfg->seed = 1;
    cfg->events_per_add = 1;
    cfg->streams = 1000;
    cfg->get_limit = 100;
    *help = false;

    while (rc == 0 && (opt = getopt_long(argc, argv, "c:P:t:n:d:h", long_options, NULL)) != -1) {
        switch (opt) {
        case OPT_HOST:
            cfg->host = optarg;
            break;
        case OPT_PORT:
            rc = bench_parse_uint("port", optarg, 1, 65535, &cfg->port);
            break;
        case OPT_PASSWORD:
            cfg->password = optarg;
            break;
        case OPT_WORKLOAD:
            rc = parse_workload(optarg, &cfg->workload);
            break;
        case OPT_MIX:
            rc = parse_mix(optarg, cfg->mix);
            break;
        case 'c':
            rc = bench_parse_uint("connections", optarg, 1, MAX_CONNECTIONS, &cfg->connections);
            break;
        case 'P':
            rc = bench_parse_uint("pipeline", optarg, 1, MAX_PIPELINE, &cfg->pipeline);
            break;
        case 't':
            rc = bench_parse_uint("threads", optarg, 1, MAX_THREADS, &cfg->threads);
            break;
        case 'n':
            rc = bench_parse_u64("requests", optarg, 1, UINT64_MAX / 2, &cfg->requests);
            break;
        case 'd':
            rc = bench_parse_seconds("duration", optarg, 0.001, &cfg->duration);
            break;
        case OPT_WARMUP:
            rc = bench_parse_seconds("warmup", optarg, 0, &cfg->warmup);
            break;
        case OPT_TIMEOUT:
            rc = bench_parse_seconds("timeout", optarg, 0.01, &cfg->timeout);
            break;
        case OPT_SEED:
            rc = bench_parse_u64("seed", optarg, 0, UINT64_MAX, &cfg->seed);
            break;
        case OPT_EVENT_SIZE:
            rc = bench_parse_u64("event-size", optarg, bench_payload_min_size(), MAX_EVENT_SIZE,
                           &event_size);
            break;
        case OPT_EVENTS_PER_ADD:
            rc = bench_parse_uint("events-per-add", optarg, 1, 1000000, &cfg->events_per_add);
            break;
        case OPT_STREAMS:
            rc = bench_parse_uint("streams", optarg, 1, UINT32_MAX, &cfg->streams);
            break;
        case OPT_GET_LIMIT:
            rc = bench_parse_uint("get-limit", optarg, 0, UINT32_MAX, &cfg->get_limit);
            break;
        case OPT_PREFILL:
            rc = bench_parse_u64("prefill", optarg, 0, UINT32_MAX, &cfg->prefill);
            break;
        case OPT_PREFILL_STREAMS:
            rc = bench_parse_uint("prefill-streams", optarg, 1, UINT32_MAX, &cfg->prefill_streams);
            prefill_streams_set = true;
            break;
        case OPT_JSON:
            cfg->json = true;
            break;
        case 'h':
            *help = true;
            return 0;
        default:
            return -1; /* getopt printed why */
        }
    }
    if (rc != 0)
        return -1;
    if (optind < argc) {
        fprintf(stderr, "eventflow-bench: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    cfg->event_size = (size_t)event_size;
    if ((uint64_t)cfg->events_per_add * (cfg->event_size + 1) > MAX_REQUEST_BYTES) {
        fprintf(stderr, "eventflow-bench: --events-per-add x --event-size exceeds %" PRIu64
                " bytes per request\n", MAX_REQUEST_BYTES);
        return -1;
    }
    if (cfg->requests == 0 && cfg->duration == 0)
        cfg->duration = 10;
    if (!prefill_streams_set)
        cfg->prefill_streams = cfg->streams < 100 ? cfg->streams : 100;
    if (cfg->prefill_streams > cfg->streams) {
        fprintf(stderr, "eventflow-bench: --prefill-streams exceeds --streams\n");
        return -1;
    }
    return bench_parse_host(cfg);
}

/* ---- the machine ---------------------------------------------------- */

struct machine {
    char uname[256]; /* "Linux 6.1.0-18-amd64 x86_64", as uname -srm */
    long nproc;      /* CPUs this process may run on, as nproc */
    char cpu[128];   /* model name from /proc/cpuinfo */
};

static void machine_probe(struct machine *m)
{
    struct utsname u;
    cpu_set_t set;
    FILE *f;
    char line[512];

    if (uname(&u) == 0)
        snprintf(m->uname, sizeof(m->uname), "%s %s %s", u.sysname, u.release, u.machine);
    else
        snprintf(m->uname, sizeof(m->uname), "unknown");
    CPU_ZERO(&set);
    m->nproc = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : -1;
    snprintf(m->cpu, sizeof(m->cpu), "unknown");
    f = fopen("/proc/cpuinfo", "r");
    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) != 0 || colon == NULL)
            continue;
        colon += 1 + strspn(colon + 1, " \t");
        colon[strcspn(colon, "\n")] = '\0';
        snprintf(m->cpu, sizeof(m->cpu), "%s", colon);
        break;
    }
    fclose(f);
}

/* ---- reporting ------------------------------------------------------ */

struct summary {
    double elapsed_s;          /* measurement window */
    uint64_t ok, failed;
    uint64_t events;
    struct bench_hist all;     /* latency of every op together */
};

static double ns_to_ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

static double per_s(uint64_t n, double secs)
{
    return secs > 0 ? (double)n / secs : 0.0;
}

static const double percentiles[] = {50, 90, 99, 99.9};
static const char *const percentile_names[] = {"p50", "p90", "p99", "p99.9"};
#define N_PERCENTILES (sizeof(percentiles) / sizeof(percentiles[0]))

static void print_config(const struct bench_config *cfg, const struct machine *m)
{
    printf("eventflow-bench %s: workload=%s host=%s port=%u connections=%u pipeline=%u "
           "threads=%u", EVENTFLOW_VERSION, workload_name(cfg->workload), cfg->host, cfg->port,
           cfg->connections, cfg->pipeline, cfg->threads);
    if (cfg->requests)
        printf(" requests=%" PRIu64, cfg->requests);
    if (cfg->duration > 0)
        printf(" duration=%gs", cfg->duration);
    printf(" warmup=%gs event-size=%zu events-per-add=%u streams=%u get-limit=%u",
           cfg->warmup, cfg->event_size, cfg->events_per_add, cfg->streams, cfg->get_limit);
    if (cfg->prefill)
        printf(" prefill=%" PRIu64 "x%u", cfg->prefill, cfg->prefill_streams);
    if (cfg->workload == BENCH_W_MIXED)
        printf(" mix=%u,%u,%u", cfg->mix[BENCH_OP_ADD], cfg->mix[BENCH_OP_GET],
               cfg->mix[BENCH_OP_GETALL]);
    printf(" seed=%" PRIu64 "\n", cfg->seed);
    printf("machine: %s, nproc %ld, cpu %s\n", m->uname, m->nproc, m->cpu);
    fflush(stdout);
}

static void print_latency_row(const char *name, uint64_t ok, uint64_t failed, uint64_t events,
                              double secs, const struct bench_hist *h)
{
    printf("| %-6s | %10" PRIu64 " | %7" PRIu64 " | %11.1f | %11.1f |", name, ok, failed,
           per_s(ok, secs), per_s(events, secs));
    if (h->count == 0) {
        /* No successful request: no latency to show. */
        for (size_t i = 0; i <= N_PERCENTILES; i++)
            printf(" %8s |", "-");
        printf("\n");
        return;
    }
    for (size_t i = 0; i < N_PERCENTILES; i++)
        printf(" %8.3f |", ns_to_ms(bench_hist_percentile(h, percentiles[i])));
    printf(" %8.3f |\n", ns_to_ms(h->max));
}

static void print_text(const struct bench_result *res, const struct summary *s, bool interrupted)
{
    unsigned active = 0;

    printf("measured %.3f s%s: %" PRIu64 " requests ok, %" PRIu64
           " failed, %u connections lost\n", s->elapsed_s, interrupted ? " (interrupted)" : "",
           s->ok, s->failed, res->conns_lost);
    printf("throughput: %.1f requests/s, %.1f events/s, received %.2f MB/s\n",
           per_s(s->ok, s->elapsed_s), per_s(s->events, s->elapsed_s),
           per_s(res->rx_bytes, s->elapsed_s) / 1e6);
    printf("\n| op     |         ok |  failed |  requests/s |    events/s |  p50 ms  |"
           "  p90 ms  |  p99 ms  | p99.9 ms |  max ms  |\n");
    printf("|--------|-----------:|--------:|------------:|------------:|---------:|"
           "---------:|---------:|---------:|---------:|\n");
    for (unsigned i = 0; i < BENCH_OP_COUNT; i++) {
        const struct bench_op_stats *st = &res->op[i];
        if (st->ok + st->failed == 0)
            continue;
        active++;
        print_latency_row(bench_op_name((enum bench_op)i), st->ok, st->failed, st->events,
                          s->elapsed_s, &st->latency_ns);
    }
    if (active != 1)
        print_latency_row("all", s->ok, s->failed, s->events, s->elapsed_s, &s->all);
    printf("\nlatency mean %.3f ms over successful requests\n", bench_hist_mean(&s->all) / 1e6);
    if (res->errors.n == 0) {
        printf("errors: none\n");
        return;
    }
    printf("errors:\n");
    for (unsigned i = 0; i < res->errors.n; i++) {
        printf("  %-16s %10" PRIu64, res->errors.kind[i].word, res->errors.kind[i].count);
        if (res->errors.kind[i].example[0] != '\0')
            printf("  e.g. \"%s\"", res->errors.kind[i].example);
        printf("\n");
    }
    if (res->errors.other)
        printf("  %-16s %10" PRIu64 "\n", "(other words)", res->errors.other);
}

static json_t *latency_json(const struct bench_hist *h)
{
    json_t *o = json_object();
    for (size_t i = 0; i < N_PERCENTILES; i++)
        json_object_set_new(o, percentile_names[i],
                            json_real(ns_to_ms(bench_hist_percentile(h, percentiles[i]))));
    json_object_set_new(o, "max", json_real(ns_to_ms(h->max)));
    json_object_set_new(o, "mean", json_real(bench_hist_mean(h) / 1e6));
    return o;
}

static json_t *config_json(const struct bench_config *cfg)
{
    json_t *o = json_object();
    json_object_set_new(o, "host", json_string(cfg->host));
    json_object_set_new(o, "port", json_integer(cfg->port));
    json_object_set_new(o, "workload", json_string(workload_name(cfg->workload)));
    json_object_set_new(o, "connections", json_integer(cfg->connections));
    json_object_set_new(o, "pipeline", json_integer(cfg->pipeline));
    json_object_set_new(o, "threads", json_integer(cfg->threads));
    json_object_set_new(o, "requests", json_integer((json_int_t)cfg->requests));
    json_object_set_new(o, "duration_s", json_real(cfg->duration));
    json_object_set_new(o, "warmup_s", json_real(cfg->warmup));
    json_object_set_new(o, "event_size", json_integer((json_int_t)cfg->event_size));
    json_object_set_new(o, "events_per_add", json_integer(cfg->events_per_add));
    json_object_set_new(o, "streams", json_integer(cfg->streams));
    json_object_set_new(o, "get_limit", json_integer(cfg->get_limit));
    json_object_set_new(o, "prefill", json_integer((json_int_t)cfg->prefill));
    json_object_set_new(o, "prefill_streams", json_integer(cfg->prefill_streams));
    if (cfg->workload == BENCH_W_MIXED)
        json_object_set_new(o, "mix", json_pack("[iii]", cfg->mix[BENCH_OP_ADD],
                                                cfg->mix[BENCH_OP_GET],
                                                cfg->mix[BENCH_OP_GETALL]));
    json_object_set_new(o, "seed", json_integer((json_int_t)cfg->seed));
    return o;
}

static int print_json(const struct bench_config *cfg, const struct machine *m,
                      const struct bench_result *prefill, double prefill_s,
                      const struct bench_result *res, const struct summary *s, bool interrupted)
{
    json_t *root = json_object();
    json_t *ops = json_object();
    json_t *errors = json_object();
    json_t *examples = json_object();
    int rc;

    json_object_set_new(root, "tool", json_string("eventflow-bench"));
    json_object_set_new(root, "version", json_string(EVENTFLOW_VERSION));
    json_object_set_new(root, "machine", json_pack("{s:s, s:I, s:s}", "uname", m->uname, "nproc",
                                                   (json_int_t)m->nproc, "cpu", m->cpu));
    json_object_set_new(root, "config", config_json(cfg));
    if (prefill != NULL)
        json_object_set_new(root, "prefill",
                            json_pack("{s:I, s:f}", "events",
                                      (json_int_t)prefill->op[BENCH_OP_ADD].events, "seconds",
                                      prefill_s));
    json_object_set_new(root, "interrupted", json_boolean(interrupted));
    json_object_set_new(root, "elapsed_s", json_real(s->elapsed_s));
    json_object_set_new(root, "requests_ok", json_integer((json_int_t)s->ok));
    json_object_set_new(root, "requests_failed", json_integer((json_int_t)s->failed));
    json_object_set_new(root, "connections_lost", json_integer(res->conns_lost));
    json_object_set_new(root, "requests_per_s", json_real(per_s(s->ok, s->elapsed_s)));
    json_object_set_new(root, "events_per_s", json_real(per_s(s->events, s->elapsed_s)));
    json_object_set_new(root, "rx_bytes_per_s", json_real(per_s(res->rx_bytes, s->elapsed_s)));
    json_object_set_new(root, "latency_ms", latency_json(&s->all));
    for (unsigned i = 0; i < res->errors.n; i++)
        json_object_set_new(errors, res->errors.kind[i].word,
                            json_integer((json_int_t)res->errors.kind[i].count));
    if (res->errors.other)
        json_object_set_new(errors, "(other words)", json_integer((json_int_t)res->errors.other));
    json_object_set_new(root, "errors", errors);
    for (unsigned i = 0; i < res->errors.n; i++) {
        if (res->errors.kind[i].example[0] != '\0')
            json_object_set_new(examples, res->errors.kind[i].word,
                                json_string(res->errors.kind[i].example));
    }
    json_object_set_new(root, "error_examples", examples);
    for (unsigned i = 0; i < BENCH_OP_COUNT; i++) {
        const struct bench_op_stats *st = &res->op[i];
        if (st->ok + st->failed == 0)
            continue;
        json_t *o = json_object();
        json_object_set_new(o, "ok", json_integer((json_int_t)st->ok));
        json_object_set_new(o, "failed", json_integer((json_int_t)st->failed));
        json_object_set_new(o, "requests_per_s", json_real(per_s(st->ok, s->elapsed_s)));
        json_object_set_new(o, "events_per_s", json_real(per_s(st->events, s->elapsed_s)));
        json_object_set_new(o, "payload_bytes_per_s",
                            json_real(per_s(st->payload_bytes, s->elapsed_s)));
        json_object_set_new(o, "latency_ms", latency_json(&st->latency_ns));
        json_object_set_new(ops, bench_op_name((enum bench_op)i), o);
    }
    json_object_set_new(root, "ops", ops);
    rc = json_dumpf(root, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    json_decref(root);
    if (rc != 0 || putchar('\n') == EOF) {
        fprintf(stderr, "eventflow-bench: writing the JSON report failed\n");
        return -1;
    }
    return 0;
}

static void summarize(const struct bench_result *res, uint64_t measure_start_ns,
                      struct summary *s)
{
    memset(s, 0, sizeof(*s));
    bench_hist_init(&s->all);
    for (unsigned i = 0; i < BENCH_OP_COUNT; i++) {
        s->ok += res->op[i].ok;
        s->failed += res->op[i].failed;
        s->events += res->op[i].events;
        bench_hist_merge(&s->all, &res->op[i].latency_ns);
    }
    /* The window ends with the last measured request (those sent before a
     * --duration deadline are still answered and counted). */
    uint64_t end = res->last_done_ns > measure_start_ns ? res->last_done_ns : bench_now_ns();
    s->elapsed_s = end > measure_start_ns ? (double)(end - measure_start_ns) / 1e9 : 0.0;
}

/* ---- phases --------------------------------------------------------- */

static void on_sigint(int sig)
{
    (void)sig;
    atomic_store(&bench_interrupted, true);
}

int bench_prefill(const struct bench_config *cfg, const char *payload, struct bench_conn *conns,
                  struct bench_result *res, double *secs)
{
    struct bench_plan plan;
    struct summary s;
    uint64_t jobs = bench_prefill_jobs(cfg);

    memset(&plan, 0, sizeof(plan));
    plan.cfg = cfg;
    plan.prefill = true;
    plan.pipeline = BENCH_PREFILL_PIPELINE;
    plan.max_tickets = jobs;
    plan.payload = payload;
    plan.measure_start_ns = bench_now_ns();
    if (bench_run(&plan, conns, cfg->connections, res) != 0)
        return -1;
    summarize(res, plan.measure_start_ns, &s);
    *secs = s.elapsed_s;
    /* In text mode this line is part of the report; --json keeps stdout
     * for the one JSON object. */
    fprintf(cfg->json ? stderr : stdout, "prefill: %" PRIu64 " events in %" PRIu64
            " ADDs to %u streams, %.2f s (%.0f events/s), %" PRIu64 " failed\n",
            res->op[BENCH_OP_ADD].events, s.ok, cfg->prefill_streams, s.elapsed_s,
            per_s(s.events, s.elapsed_s), s.failed);
    if (s.ok != jobs || s.failed != 0 || res->conns_lost != 0) {
        for (unsigned i = 0; i < res->errors.n; i++)
            fprintf(stderr, "eventflow-bench: prefill error %s x %" PRIu64 " %s\n",
                    res->errors.kind[i].word, res->errors.kind[i].count,
                    res->errors.kind[i].example);
        fprintf(stderr, "eventflow-bench: prefill incomplete; reads would measure the wrong "
                "data, giving up\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct bench_config cfg;
    struct machine machine;
    struct bench_conn *conns;
    struct bench_result prefill_res, res;
    struct bench_plan plan;
    struct summary s;
    struct sigaction sa;
    double prefill_s = 0;
    char *payload;
    bool help;
    int status = EXIT_FAILURE;

    if (argc > 1 && strcmp(argv[1], "delivery") == 0)
        return bench_delivery_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "groups") == 0)
        return bench_groups_main(argc - 1, argv + 1);
    if (parse_options(argc, argv, &cfg, &help) != 0) {
        fprintf(stderr, "try eventflow-bench --help\n");
        return EXIT_USAGE;
    }
    if (help) {
        usage(stdout);
        return EXIT_SUCCESS;
    }
    machine_probe(&machine);
    if (!cfg.json)
        print_config(&cfg, &machine);

    /* Ctrl-C stops sending; what is in flight completes and is reported.
     * A second Ctrl-C kills (SA_RESETHAND). */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) != 0) {
        fprintf(stderr, "eventflow-bench: sigaction: %s\n", strerror(errno));
        return EXIT_FAILURE;
    }

    payload = bench_payload_new(&cfg);
    conns = xcalloc(cfg.connections, sizeof(*conns));
    bench_result_init(&prefill_res);
    bench_result_init(&res);
    unsigned opened = 0;
    for (unsigned i = 0; i < cfg.connections; i++) {
        int rc = bench_conn_open(&conns[i], &cfg);
        opened = i + 1; /* a failed open still needs bench_conn_close */
        if (rc != 0)
            goto out;
    }

    if (cfg.prefill > 0 && bench_prefill(&cfg, payload, conns, &prefill_res, &prefill_s) != 0)
        goto out;
    if (atomic_load(&bench_interrupted))
        goto out;

    memset(&plan, 0, sizeof(plan));
    plan.cfg = &cfg;
    plan.pipeline = cfg.pipeline;
    plan.max_tickets = cfg.requests;
    plan.payload = payload;
    plan.offsets = (const char(*)[BENCH_ULID_LEN + 1])prefill_res.ids;
    plan.n_offsets = prefill_res.n_ids;
    plan.measure_start_ns = bench_now_ns() + (uint64_t)(cfg.warmup * 1e9);
    if (cfg.duration > 0)
        plan.deadline_ns = plan.measure_start_ns + (uint64_t)(cfg.duration * 1e9);
    if (bench_run(&plan, conns, cfg.connections, &res) != 0)
        goto out;

    summarize(&res, plan.measure_start_ns, &s);
    bool interrupted = atomic_load(&bench_interrupted);
    if (cfg.json) {
        if (print_json(&cfg, &machine, cfg.prefill ? &prefill_res : NULL, prefill_s, &res, &s,
                       interrupted) != 0)
            goto out;
    } else {
        print_text(&res, &s, interrupted);
    }
    status = (s.failed == 0 && res.conns_lost == 0) ? EXIT_SUCCESS : EXIT_FAILED_REQUESTS;
    if (s.ok == 0)
        status = EXIT_FAILED_REQUESTS;
out:
    for (unsigned i = 0; i < opened; i++)
        bench_conn_close(&conns[i]);
    free(conns);
    free(payload);
    bench_result_free(&prefill_res);
    bench_result_free(&res);
    return status;
}
