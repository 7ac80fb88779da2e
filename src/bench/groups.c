/* groups.c - `eventflow-bench groups`: consumer groups on eventflowd, with
 * ../shared/bench/redis_delivery.c's definitions (see groups.h and usage()
 * below), so that each figure compares one to one with Redis 7's
 * XREADGROUP + XACK.
 *
 * drain: a backlog (the prefill) is drained by one group's C consumers,
 *   each its own connection, all in this thread's epoll loop, until the
 *   backlog is acked or --secs; optionally while the writer thread ADDs at
 *   --wrate/s (redis_delivery_baseline.sh's step 4, both runs).
 * writes: the closed-loop writer alone for --secs, then again while
 *   --groups groups of --consumers each consume the same stream from its
 *   start: the ADD rate they leave, against the rate alone.
 *
 * Every GROUP request goes to the leader (found from STATUS). Server CPU
 * is utime+stime of --pids (every eventflowd) from /proc/PID/stat over the
 * measured window. */
#include "bench/groups.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/groups_consumers.h"
#include "bench/writer.h"
#include "common/buf.h"
#include "common/mem.h"

#define GR_MAX_PIDS 16
/* The stream the prefill writes (bench_workload.c's first stream). */
#define GR_STREAM "bench:0"

enum gr_mode { GR_DRAIN, GR_WRITES };

struct gr_opts {
    enum gr_mode mode;
    const char *mode_name;
    struct bench_config cfg;     /* the leader, once found */
    char leader_host[64];        /* cfg.host when found through STATUS */
    pid_t pids[GR_MAX_PIDS];
    unsigned n_pids;
    uint64_t prefill;
    const char *group;           /* drain: the group; writes: the prefix of its groups */
    char (*names)[GR_NAME_MAX + 1]; /* owned: the groups, drain's one or writes' g1..gG */
    unsigned n_names;
    const char *from;            /* CREATE's "from": start or end */
    unsigned groups;             /* writes */
    unsigned consumers;          /* drain: in all; writes: per group */
    unsigned count;
    unsigned block_ms;
    bool pipeline;               /* each ACK goes with the next READ */
    double secs;
    uint64_t target;             /* drain: acked events to stop at; 0 = the group's lag */
    double wrate;                /* ADDs/s; 0: none (drain), closed loop (writes) */
    unsigned wconns;
    uint64_t wmax;
};

static uint64_t now_ns(void)
{
    return bench_now_ns();
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

/* ---- requests on a control connection --------------------------------------- */

struct gr_ctl {
    int fd;
    struct resp_reader rd;
    double timeout;
};

static void ctl_open(struct gr_ctl *c, const struct bench_config *cfg)
{
    c->fd = bench_connect_fd(cfg);
    c->timeout = cfg->timeout;
    resp_reader_init(&c->rd, NULL);
}

static void ctl_close(struct gr_ctl *c)
{
    close(c->fd);
    resp_reader_free(&c->rd);
}

/* `name` alone, or `name arg1 arg2` when arg1 is not NULL: the reply in *v. */
static void ctl_cmd(struct gr_ctl *c, const char *name, const char *arg1, const char *arg2, struct resp_value *v)
{
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "*%d\r\n$%zu\r\n%s\r\n", arg1 ? 3 : 1, strlen(name), name);
    if (arg1 != NULL)
        buf_printf(&b, "$%zu\r\n%s\r\n$%zu\r\n%s\r\n", strlen(arg1), arg1, strlen(arg2), arg2);
    bench_roundtrip(c->fd, &c->rd, b.data, b.len, c->timeout, v);
    buf_free(&b);
}

/* A bulk string reply holding a JSON object, parsed; exits otherwise. */
static json_t *ctl_json(struct gr_ctl *c, const char *name, const char *arg1, const char *arg2)
{
    struct resp_value v;
    json_error_t err = {.text = "not an object"};
    ctl_cmd(c, name, arg1, arg2, &v);
    if (v.type != RESP_T_BULK)
        bench_fail("%s %s: %.200s", name, arg1 ? arg1 : "", v.type == RESP_T_ERROR ? v.str : "unexpected reply");
    json_t *j = json_loadb(v.str, v.len, 0, &err);
    if (!json_is_object(j))
        bench_fail("%s %s: not a JSON object: %s", name, arg1 ? arg1 : "", err.text);
    resp_value_free(&v);
    return j;
}

static uint64_t json_u64(const json_t *o, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(o, key));
    return v > 0 ? (uint64_t)v : 0;
}

/* ---- the leader ---------------------------------------------------------------- */

/* Point cfg at "host:port" (a node's client address). -1 if it is not one
 * this benchmark may target (bench_parse_host says why). */
static int cfg_point_at(struct gr_opts *o, const char *addr)
{
    const char *colon = strrchr(addr, ':');
    uint64_t port;
    if (colon == NULL || bench_parse_u64("port", colon + 1, 1, 65535, &port) != 0)
        return -1;
    const char *h = addr;
    size_t hl = (size_t)(colon - addr);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof o->leader_host)
        return -1;
    memcpy(o->leader_host, h, hl);
    o->leader_host[hl] = '\0';
    o->cfg.host = o->leader_host;
    o->cfg.port = (unsigned)port;
    return bench_parse_host(&o->cfg);
}

/* Move cfg to the cluster's leader, once it is ready for writes: ask the
 * node cfg names, follow its leader_address, wait while there is none. */
static void find_leader(struct gr_opts *o)
{
    uint64_t deadline = now_ns() + (uint64_t)(o->cfg.timeout * 1e9);
    unsigned hops = 0;
    for (;;) {
        struct gr_ctl c;
        ctl_open(&c, &o->cfg);
        json_t *st = ctl_json(&c, "STATUS", NULL, NULL);
        ctl_close(&c);
        const char *state = json_string_value(json_object_get(st, "state"));
        const char *leader = json_string_value(json_object_get(st, "leader_address"));
        const char *self = json_string_value(json_object_get(st, "client_address"));
        bool ready = json_is_true(json_object_get(st, "ready"));
        bool is_leader = state != NULL && strcmp(state, "leader") == 0;
        bool elsewhere = !is_leader && leader != NULL && leader[0] != '\0' && (self == NULL || strcmp(leader, self) != 0);
        if (elsewhere && cfg_point_at(o, leader) != 0)
            bench_fail("the leader's address \"%s\" is not one to target", leader);
        json_decref(st);
        if (is_leader && ready)
            return;
        if (now_ns() > deadline)
            bench_fail("no leader ready for writes after %g s", o->cfg.timeout);
        /* Follow a redirect at once, but not round a loop of stale ones. */
        if (!elsewhere || ++hops > 3) {
            /* An election or the leader's first entry under way: ask again. */
            struct timespec ts = {.tv_sec = 0, .tv_nsec = 100000000};
            nanosleep(&ts, NULL);
        }
    }
}

/* ---- prefill and groups ------------------------------------------------------- */

static void prefill(const struct gr_opts *o)
{
    struct bench_config pc = o->cfg;
    struct bench_result res;
    double secs;
    pc.workload = BENCH_W_PING;
    pc.connections = 4;
    pc.threads = 2;
    pc.pipeline = 1;
    pc.seed = 1;
    pc.event_size = 200;
    pc.events_per_add = 1;
    pc.streams = 1;
    pc.prefill = o->prefill;
    pc.prefill_streams = 1;
    char *payload = bench_payload_new(&pc);
    struct bench_conn *conns = xcalloc(pc.connections, sizeof *conns);
    bench_result_init(&res);
    int rc = 0;
    for (unsigned i = 0; i < pc.connections && rc == 0; i++)
        rc = bench_conn_open(&conns[i], &pc);
    if (rc == 0)
        rc = bench_prefill(&pc, payload, conns, &res, &secs);
    for (unsigned i = 0; i < pc.connections; i++)
        bench_conn_close(&conns[i]);
    free(conns);
    free(payload);
    bench_result_free(&res);
    if (rc != 0)
        bench_fail("the prefill failed");
}

static void group_create(struct gr_ctl *c, const struct gr_opts *o, const char *group)
{
    char arg[GR_NAME_MAX + 128];
    struct resp_value v;
    snprintf(arg, sizeof arg, "{\"group\":\"%s\",\"stream\":\"" GR_STREAM "\",\"from\":\"%s\"}", group, o->from);
    ctl_cmd(c, "GROUP", "CREATE", arg, &v);
    if (v.type != RESP_T_SIMPLE)
        bench_fail("GROUP CREATE %s: %.200s", group, v.type == RESP_T_ERROR ? v.str : "unexpected reply");
    resp_value_free(&v);
}

/* ---- the report ----------------------------------------------------------------- */

/* The groups' INFO summed: pending, lag, acked. */
struct gr_info {
    uint64_t pending, lag, acked, parked;
};

static void groups_info(const struct gr_opts *o, struct gr_info *gi)
{
    struct gr_ctl c;
    memset(gi, 0, sizeof *gi);
    ctl_open(&c, &o->cfg);
    for (unsigned g = 0; g < o->n_names; g++) {
        json_t *j = ctl_json(&c, "GROUP", "INFO", o->names[g]);
        gi->pending += json_u64(j, "pending");
        gi->lag += json_u64(j, "lag");
        gi->acked += json_u64(j, "acked");
        gi->parked += json_u64(j, "parked");
        json_decref(j);
    }
    ctl_close(&c);
}

static void print_consumers(const struct gr_consumers *cs, double secs)
{
    const struct gr_stats *st = &cs->st;
    printf(" consumed=%" PRIu64 " acked=%" PRIu64 " acked_per_s=%.1f reads=%" PRIu64 " empty_reads=%" PRIu64
           " redelivered=%" PRIu64 " events_per_read=%.2f cycle_p50_ms=%.3f cycle_p90_ms=%.3f cycle_p99_ms=%.3f"
           " cycle_max_ms=%.3f read_p50_ms=%.3f read_p99_ms=%.3f ack_p50_ms=%.3f ack_p99_ms=%.3f",
           st->consumed, st->acked, secs > 0 ? (double)st->acked / secs : NAN, st->reads, st->empty,
           st->redelivered, st->reads > st->empty ? (double)st->consumed / (double)(st->reads - st->empty) : NAN,
           ms(bench_hist_percentile(&st->cycle, 50)), ms(bench_hist_percentile(&st->cycle, 90)),
           ms(bench_hist_percentile(&st->cycle, 99)), ms(st->cycle.max), ms(bench_hist_percentile(&st->read, 50)),
           ms(bench_hist_percentile(&st->read, 99)), ms(bench_hist_percentile(&st->ack, 50)),
           ms(bench_hist_percentile(&st->ack, 99)));
}

/* ---- drain ---------------------------------------------------------------------- */

static int mode_drain(const struct gr_opts *o)
{
    struct gr_ctl ctl;
    struct gr_consumers cs;
    struct bench_writer wr;
    struct gr_info gi;
    uint64_t target = o->target;

    ctl_open(&ctl, &o->cfg);
    group_create(&ctl, o, o->names[0]);
    if (target == 0) {
        json_t *j = ctl_json(&ctl, "GROUP", "INFO", o->group);
        target = json_u64(j, "lag");
        json_decref(j);
        if (target == 0)
            bench_fail("nothing to consume: group %s has no backlog (--prefill)", o->group);
    }
    ctl_close(&ctl);
    gr_consumers_open(&cs, &o->cfg, (const char(*)[GR_NAME_MAX + 1])o->names, 1, o->consumers, o->count,
                      o->block_ms);
    cs.target = target;
    if (o->wrate > 0) {
        struct bench_writer_opts wo = {.cfg = &o->cfg, .stream = GR_STREAM, .wconns = o->wconns, .rate = o->wrate,
                                       .secs = o->secs, .maxn = o->wmax ? o->wmax : (uint64_t)(o->wrate * o->secs) + 1000};
        bench_writer_init(&wr, &wo);
    }

    double cpu0 = bench_pids_cpu_s(o->pids, o->n_pids), ccpu0 = bench_thread_cpu_s();
    uint64_t t0 = now_ns();
    if (o->wrate > 0)
        bench_writer_start(&wr);
    cs.pipeline = o->pipeline;
    uint64_t t1 = gr_consumers_run(&cs, t0 + (uint64_t)(o->secs * 1e9), NULL);
    double cpu1 = bench_pids_cpu_s(o->pids, o->n_pids), ccpu1 = bench_thread_cpu_s();
    uint64_t written = 0, werrs = 0;
    double wrate = NAN, wcpu = 0;
    if (o->wrate > 0) {
        bench_writer_stop(&wr);
        bench_writer_join(&wr);
        written = atomic_load(&wr.acked);
        werrs = atomic_load(&wr.errs);
        wrate = bench_writer_rate(&wr);
        wcpu = wr.cpu_s;
        bench_writer_free(&wr);
    }
    groups_info(o, &gi);

    double secs = (double)(t1 - t0) / 1e9, dsrv = cpu1 - cpu0;
    const struct gr_stats *st = &cs.st;
    printf("mode=drain C=%u group=%s count=%u block_ms=%u pipeline=%d target=%" PRIu64 " secs=%.3f", o->consumers,
           o->group, o->count, o->block_ms, o->pipeline, target, secs);
    print_consumers(&cs, secs);
    printf(" pending_end=%" PRIu64 " lag_end=%" PRIu64 " info_acked=%" PRIu64 " parked=%" PRIu64 " w_rate=%.1f"
           " written=%" PRIu64 " werrs=%" PRIu64 " srv_cpu_s=%.2f srv_cores=%.2f srv_us_per_entry=%.3f"
           " consumer_cpu_s=%.2f writer_cpu_s=%.2f\n",
           gi.pending, gi.lag, gi.acked, gi.parked, wrate, written, werrs, dsrv, dsrv / secs,
           st->acked ? dsrv * 1e6 / (double)st->acked : NAN, ccpu1 - ccpu0, wcpu);
    fflush(stdout);

    int rc = 0;
    if (st->acked < target) {
        fprintf(stderr, "%s: %" PRIu64 " of %" PRIu64 " events acked in %.1f s\n", bench_prog, st->acked, target,
                secs);
        rc = 1;
    }
    if (gi.acked != st->acked || gi.pending != 0) {
        fprintf(stderr, "%s: the group says %" PRIu64 " acked and %" PRIu64 " pending; the consumers acked %" PRIu64
                "\n", bench_prog, gi.acked, gi.pending, st->acked);
        rc = 1;
    }
    if (werrs) {
        fprintf(stderr, "%s: %" PRIu64 " ADDs failed\n", bench_prog, werrs);
        rc = 1;
    }
    gr_consumers_free(&cs);
    return rc;
}

/* ---- writes --------------------------------------------------------------------- */

struct gr_wphase {
    double w_rate, add_p50_ms, add_p99_ms, srv_cpu_s, srv_us_per_write, writer_cpu_s;
    uint64_t written, errs;
};

/* One closed-loop (or --wrate) writer run of --secs; with consumers when
 * cs is not NULL, stopped when the writer is done. */
static void writes_phase(const struct gr_opts *o, struct gr_consumers *cs, struct gr_wphase *ph, uint64_t *t_end)
{
    struct bench_writer wr;
    struct bench_writer_opts wo = {.cfg = &o->cfg, .stream = GR_STREAM, .wconns = o->wconns, .rate = o->wrate,
                                   .secs = o->secs,
                                   .maxn = o->wmax ? o->wmax
                                                   : (o->wrate > 0 ? (uint64_t)(o->wrate * o->secs) + 1000 : 2000000)};
    struct bench_hist add;
    bench_writer_init(&wr, &wo);
    double cpu0 = bench_pids_cpu_s(o->pids, o->n_pids);
    bench_writer_start(&wr);
    if (cs != NULL) {
        cs->pipeline = o->pipeline;
        *t_end = gr_consumers_run(cs, UINT64_MAX, &wr.done);
    }
    bench_writer_join(&wr);
    double cpu1 = bench_pids_cpu_s(o->pids, o->n_pids);
    bench_hist_init(&add);
    bench_writer_latency(&wr, &add);
    ph->written = atomic_load(&wr.acked);
    ph->errs = atomic_load(&wr.errs);
    ph->w_rate = bench_writer_rate(&wr);
    ph->add_p50_ms = ms(bench_hist_percentile(&add, 50));
    ph->add_p99_ms = ms(bench_hist_percentile(&add, 99));
    ph->srv_cpu_s = cpu1 - cpu0;
    ph->srv_us_per_write = ph->written ? ph->srv_cpu_s * 1e6 / (double)ph->written : NAN;
    ph->writer_cpu_s = wr.cpu_s;
    bench_writer_free(&wr);
}

static int mode_writes(const struct gr_opts *o)
{
    struct gr_wphase alone, with;
    struct gr_consumers cs;
    struct gr_info gi;
    uint64_t t_end = 0;

    writes_phase(o, NULL, &alone, NULL);
    printf("mode=writes groups=0 wconns=%u rate=%g secs=%g w_rate=%.1f written=%" PRIu64 " errs=%" PRIu64
           " add_p50_ms=%.3f add_p99_ms=%.3f srv_cpu_s=%.2f srv_us_per_write=%.3f\n",
           o->wconns, o->wrate, o->secs, alone.w_rate, alone.written, alone.errs, alone.add_p50_ms, alone.add_p99_ms,
           alone.srv_cpu_s, alone.srv_us_per_write);
    fflush(stdout);
    if (o->groups == 0)
        return alone.errs ? 1 : 0;

    gr_consumers_open(&cs, &o->cfg, (const char(*)[GR_NAME_MAX + 1])o->names, o->n_names, o->consumers, o->count,
                      o->block_ms);
    struct gr_ctl ctl;
    ctl_open(&ctl, &o->cfg);
    for (unsigned g = 0; g < o->n_names; g++)
        group_create(&ctl, o, o->names[g]);
    ctl_close(&ctl);
    double ccpu0 = bench_thread_cpu_s();
    uint64_t t0 = now_ns();
    writes_phase(o, &cs, &with, &t_end);
    double ccpu1 = bench_thread_cpu_s();
    groups_info(o, &gi);
    double secs = (double)(t_end - t0) / 1e9;
    printf("mode=writes groups=%u C=%u count=%u block_ms=%u pipeline=%d wconns=%u rate=%g secs=%g w_rate=%.1f"
           " written=%" PRIu64 " errs=%" PRIu64 " add_p50_ms=%.3f add_p99_ms=%.3f w_rate_alone=%.1f w_rate_vs_alone_pct=%.1f"
           " add_p50_ms_alone=%.3f add_p99_ms_alone=%.3f",
           o->groups, o->consumers, o->count, o->block_ms, o->pipeline, o->wconns, o->wrate, o->secs, with.w_rate,
           with.written,
           with.errs, with.add_p50_ms, with.add_p99_ms, alone.w_rate, 100 * with.w_rate / alone.w_rate,
           alone.add_p50_ms, alone.add_p99_ms);
    print_consumers(&cs, secs);
    printf(" pending_end=%" PRIu64 " lag_end=%" PRIu64 " info_acked=%" PRIu64 " srv_cpu_s=%.2f"
           " srv_us_per_write=%.3f srv_us_per_write_alone=%.3f srv_us_per_op=%.3f consumer_cpu_s=%.2f"
           " writer_cpu_s=%.2f\n",
           gi.pending, gi.lag, gi.acked, with.srv_cpu_s, with.srv_us_per_write, alone.srv_us_per_write,
           with.written + cs.st.acked ? with.srv_cpu_s * 1e6 / (double)(with.written + cs.st.acked) : NAN,
           ccpu1 - ccpu0, with.writer_cpu_s);
    fflush(stdout);
    int rc = 0;
    if (alone.errs || with.errs) {
        fprintf(stderr, "%s: %" PRIu64 " ADDs failed\n", bench_prog, alone.errs + with.errs);
        rc = 1;
    }
    if (gi.acked != cs.st.acked || gi.pending != 0) {
        fprintf(stderr, "%s: the groups say %" PRIu64 " acked and %" PRIu64 " pending; the consumers acked %" PRIu64
                "\n", bench_prog, gi.acked, gi.pending, cs.st.acked);
        rc = 1;
    }
    gr_consumers_free(&cs);
    return rc;
}

/* ---- options --------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
"usage: eventflow-bench groups [drain|writes] [options]\n"
"Measures eventflowd's consumer groups (GROUP READ + GROUP ACK) with the\n"
"definitions of ../shared/bench/redis_delivery.c's group mode for Redis\n"
"streams (XREADGROUP + XACK). Prints key=value lines starting mode=.\n"
"Every request goes to the leader, found from the node on --port.\n"
"\n"
"  drain     (the default) --prefill N events to stream " GR_STREAM " (not\n"
"            timed; 0: use what it holds), GROUP CREATE --group over it\n"
"            from --from, then --consumers C connections each loop: GROUP\n"
"            READ {count, block_ms}, and GROUP ACK of the ids it got, one\n"
"            request in flight, until --target events are acked (default:\n"
"            the group's lag when created) or --secs. With --wrate W a\n"
"            writer ADDs to the stream at W/s meanwhile (open loop).\n"
"            acked_per_s = acked / the consumers' time; cycle = READ sent ->\n"
"            its ACK answered; srv_us_per_entry = server CPU / acked.\n"
"  writes    --prefill as above; the writer alone, closed loop on --wconns\n"
"            connections for --secs; then --groups groups g1..gG (--group\n"
"            is the prefix) of --consumers each, created from --from on\n"
"            the same stream, consume as in drain while the writer runs\n"
"            again. w_rate_vs_alone_pct = the ADD rate with the groups over\n"
"            the rate alone.\n"
"\n"
"  --port N          any node of the cluster (default 6543)\n"
"  --host ADDR       its loopback address (default 127.0.0.1)\n"
"  --password PW     AUTH on every connection\n"
"  --pids P,P,...    every server process: their CPU is summed (srv_*)\n"
"  --prefill N       events written first (default 0)\n"
"  --group NAME      (default g1; writes: wg, its groups wg1..wgG)\n"
"  --from start|end  where groups begin (default start)\n"
"  --groups G        writes: groups (default 10)\n"
"  --consumers C     drain: consumers (default 50); writes: per group\n"
"                    (default 5)\n"
"  --count N         events per READ, 1..1000 (default 10)\n"
"  --block-ms MS     a READ's wait when there is nothing (default 100)\n"
"  --pipeline        send each ACK together with the next READ (one\n"
"                    round trip and, on the leader, one entry per cycle)\n"
"  --secs S          drain: the time limit (default 60); writes: each\n"
"                    phase (default 5)\n"
"  --target N        drain: acked events to stop at\n"
"  --wrate W         ADDs/s, open loop; writes: 0 = closed loop (default)\n"
"  --wconns N        writer connections (default drain 1, writes 50)\n"
"  --wmax N          the writer's most ADDs (default wrate x secs + 1000;\n"
"                    closed loop 2000000)\n"
"  --timeout S       connecting, finding the leader, control replies\n"
"                    (default 10)\n"
"\n"
"Exit status: 0; 1 when fewer than the target were acked, the groups'\n"
"INFO disagrees with the consumers' count or shows events still pending,\n"
"an ADD failed, or the run failed; 2 bad usage.\n");
}

enum {
    O_PORT = 1000,
    O_HOST,
    O_PASSWORD,
    O_PIDS,
    O_PREFILL,
    O_GROUP,
    O_FROM,
    O_GROUPS,
    O_CONSUMERS,
    O_COUNT,
    O_BLOCK_MS,
    O_PIPELINE,
    O_SECS,
    O_TARGET,
    O_WRATE,
    O_WCONNS,
    O_WMAX,
    O_TIMEOUT,
};

static const struct option gr_options[] = {
    {"port", required_argument, NULL, O_PORT},
    {"host", required_argument, NULL, O_HOST},
    {"password", required_argument, NULL, O_PASSWORD},
    {"pids", required_argument, NULL, O_PIDS},
    {"prefill", required_argument, NULL, O_PREFILL},
    {"group", required_argument, NULL, O_GROUP},
    {"from", required_argument, NULL, O_FROM},
    {"groups", required_argument, NULL, O_GROUPS},
    {"consumers", required_argument, NULL, O_CONSUMERS},
    {"count", required_argument, NULL, O_COUNT},
    {"block-ms", required_argument, NULL, O_BLOCK_MS},
    {"pipeline", no_argument, NULL, O_PIPELINE},
    {"secs", required_argument, NULL, O_SECS},
    {"target", required_argument, NULL, O_TARGET},
    {"wrate", required_argument, NULL, O_WRATE},
    {"wconns", required_argument, NULL, O_WCONNS},
    {"wmax", required_argument, NULL, O_WMAX},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Returns 0, 1 for --help, or -1 after printing why. */
static int parse(int argc, char **argv, struct gr_opts *o)
{
    uint64_t v;
    bool consumers_set = false, secs_set = false, wconns_set = false;
    int opt, rc = 0;

    memset(o, 0, sizeof *o);
    o->cfg.host = "127.0.0.1";
    o->cfg.port = 6543;
    o->cfg.timeout = 10;
    o->cfg.pipeline = 1;
    o->mode = GR_DRAIN;
    o->mode_name = "drain";
    o->from = "start";
    o->groups = 10;
    o->count = 10;
    o->block_ms = 100;
    if (argc > 1 && argv[1][0] != '-') {
        o->mode_name = argv[1];
        argv++;
        argc--;
    }
    if (strcmp(o->mode_name, "writes") == 0) {
        o->mode = GR_WRITES;
    } else if (strcmp(o->mode_name, "drain") != 0) {
        fprintf(stderr, "%s: the mode is drain or writes, not \"%s\"\n", bench_prog, o->mode_name);
        return -1;
    }
    optind = 1;
    while (rc == 0 && (opt = getopt_long(argc, argv, "h", gr_options, NULL)) != -1) {
        switch (opt) {
        case O_PORT:
            rc = bench_parse_uint("port", optarg, 1, 65535, &o->cfg.port);
            break;
        case O_HOST:
            o->cfg.host = optarg;
            break;
        case O_PASSWORD:
            o->cfg.password = optarg;
            break;
        case O_PIDS:
            rc = bench_parse_pids(optarg, o->pids, GR_MAX_PIDS, &o->n_pids);
            break;
        case O_PREFILL:
            rc = bench_parse_u64("prefill", optarg, 0, UINT32_MAX, &o->prefill);
            break;
        case O_GROUP:
            o->group = optarg;
            break;
        case O_FROM:
            o->from = optarg;
            break;
        case O_GROUPS:
            rc = bench_parse_uint("groups", optarg, 0, 1000, &o->groups);
            break;
        case O_CONSUMERS:
            rc = bench_parse_uint("consumers", optarg, 1, 10000, &o->consumers);
            consumers_set = true;
            break;
        case O_COUNT:
            rc = bench_parse_uint("count", optarg, 1, GR_COUNT_MAX, &o->count);
            break;
        case O_PIPELINE:
            o->pipeline = true;
            break;
        case O_BLOCK_MS:
            rc = bench_parse_uint("block-ms", optarg, 0, 3600000, &o->block_ms);
            break;
        case O_SECS:
            rc = bench_parse_seconds("secs", optarg, 0.001, &o->secs);
            secs_set = true;
            break;
        case O_TARGET:
            rc = bench_parse_u64("target", optarg, 1, UINT64_MAX / 2, &o->target);
            break;
        case O_WRATE:
            if ((rc = bench_parse_u64("wrate", optarg, 0, 10000000, &v)) == 0)
                o->wrate = (double)v;
            break;
        case O_WCONNS:
            rc = bench_parse_uint("wconns", optarg, 1, 10000, &o->wconns);
            wconns_set = true;
            break;
        case O_WMAX:
            rc = bench_parse_u64("wmax", optarg, 1, 50000000, &o->wmax);
            break;
        case O_TIMEOUT:
            rc = bench_parse_seconds("timeout", optarg, 0.01, &o->cfg.timeout);
            break;
        case 'h':
            return 1;
        default:
            return -1;
        }
    }
    if (rc != 0)
        return -1;
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument \"%s\"\n", bench_prog, argv[optind]);
        return -1;
    }
    bool writes = o->mode == GR_WRITES;
    if (!consumers_set)
        o->consumers = writes ? 5 : 50;
    if (!secs_set)
        o->secs = writes ? 5 : 60;
    if (!wconns_set)
        o->wconns = writes ? 50 : 1;
    if (o->group == NULL)
        o->group = writes ? "wg" : "g1";
    /* writes names its groups <group><n>: room for the number. */
    if (!gr_name_ok(o->group) || strlen(o->group) > GR_NAME_MAX - 8) {
        fprintf(stderr, "%s: --group wants up to %d printable characters, no quote or backslash\n", bench_prog,
                GR_NAME_MAX - 8);
        return -1;
    }
    if (strcmp(o->from, "start") != 0 && strcmp(o->from, "end") != 0) {
        fprintf(stderr, "%s: --from is start or end, not \"%s\"\n", bench_prog, o->from);
        return -1;
    }
    return bench_parse_host(&o->cfg);
}

int bench_groups_main(int argc, char **argv)
{
    struct gr_opts o;
    bench_prog = "eventflow-bench groups";
    int rc = parse(argc, argv, &o);
    if (rc == 1) {
        usage(stdout);
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "try eventflow-bench groups --help\n");
        return 2;
    }
    o.n_names = o.mode == GR_WRITES ? o.groups : 1;
    o.names = xcalloc(o.n_names ? o.n_names : 1, sizeof *o.names);
    for (unsigned g = 0; g < o.n_names; g++) {
        if (o.mode == GR_WRITES)
            snprintf(o.names[g], sizeof o.names[g], "%s%u", o.group, g + 1);
        else
            snprintf(o.names[g], sizeof o.names[g], "%s", o.group);
    }
    find_leader(&o);
    if (o.prefill > 0)
        prefill(&o);
    rc = o.mode == GR_WRITES ? mode_writes(&o) : mode_drain(&o);
    free(o.names);
    return rc;
}
