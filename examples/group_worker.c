/* group_worker.c - one worker of a consumer group: events of a stream are
 * shared among however many workers run, each event handled by one of
 * them and acknowledged once done. Start several with different consumer
 * names; kill one and what it held goes to the others after the group's
 * ack wait. A leader failover is handled by the library: the worker
 * carries on with the new leader.
 *
 *   EVENTFLOW_ENDPOINTS=127.0.0.1:6543 ./group_worker <group> <consumer> [<stream> [<count>]]
 *
 * With <stream>, the group is created over it first (if it exists
 * already, it is used as it is). Stops after <count> events when given,
 * else runs until Ctrl-C. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <eventflow/eventflow.h>

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

struct worker {
    uint64_t handled;
    uint64_t limit; /* 0: no limit */
};

static enum eventflow_group_verdict handle(void *arg, const struct eventflow_group_event *ev)
{
    struct worker *w = arg;
    bool done = interrupted || (w->limit > 0 && w->handled >= w->limit);
    if (ev == NULL || done)
        /* On an event, STOP gives it back for another worker. */
        return done ? EF_GROUP_STOP : EF_GROUP_ACK;
    const struct eventflow_event *e = &ev->event;
    printf("%s %s %" PRIu64 " %s (delivery %" PRIu32 ")\n", e->id, e->stream, e->version, e->type, ev->deliveries);
    fflush(stdout);
    w->handled++;
    /* The real work goes here: return EF_GROUP_NACK to have the event
     * delivered again (to any worker), EF_GROUP_PARK to set it aside. */
    return EF_GROUP_ACK;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <group> <consumer> [<stream> [<count>]]\n", argv[0]);
        return 2;
    }
    struct eventflow_options opts;
    eventflow_options_init(&opts);
    opts.password = getenv("EVENTFLOW_PASSWORD");
    struct eventflow_client *c;
    int rc = eventflow_client_new(&opts, &c);
    if (rc != EF_OK) {
        fprintf(stderr, "client: %s\n", eventflow_strerror(rc));
        return 1;
    }
    if (argc > 3) {
        struct eventflow_group_spec spec = {.group = argv[1], .stream = argv[3]};
        rc = eventflow_group_create(c, &spec);
        if (rc != EF_OK && rc != EF_EEXISTS) {
            fprintf(stderr, "create: %s: %s\n", eventflow_err_name(rc), eventflow_client_last_error(c));
            eventflow_client_free(c);
            return 1;
        }
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    struct worker w = {.limit = argc > 4 ? strtoull(argv[4], NULL, 10) : 0};
    struct eventflow_consume_options o = {.group = argv[1], .consumer = argv[2], .count = 10, .arg = &w};
    struct eventflow_consume_stats st;
    rc = eventflow_group_consume(c, &o, handle, &st);
    if (rc != EF_OK)
        fprintf(stderr, "consume: %s: %s\n", eventflow_err_name(rc), eventflow_client_last_error(c));
    fprintf(stderr, "handled %" PRIu64 ", acknowledged %" PRIu64 ", %" PRIu64 " leader changes\n", st.handled,
            st.acked, st.reconnects);
    eventflow_client_free(c);
    return rc == EF_OK ? 0 : 1;
}
