/* subscribe.c - follow a stream (or the global log) as it grows: catch up
 * from a version, then receive each event as the cluster commits it. If
 * the serving node fails, the library subscribes again on another one and
 * carries on after the last event printed.
 *
 *   EVENTFLOW_ENDPOINTS=127.0.0.1:6543 ./subscribe [<stream> [<from version> [<count>]]]
 *
 * No stream (or "$all"): the global log from its start. Stops after
 * <count> events when given, else runs until interrupted. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <eventflow/eventflow.h>

int main(int argc, char **argv)
{
    struct eventflow_options opts;
    eventflow_options_init(&opts);
    opts.password = getenv("EVENTFLOW_PASSWORD");
    struct eventflow_client *c;
    int rc = eventflow_client_new(&opts, &c);
    if (rc != EF_OK) {
        fprintf(stderr, "client: %s\n", eventflow_strerror(rc));
        return 1;
    }
    struct eventflow_sub_spec spec = {.markers = true}; /* followers serve it by default */
    if (argc > 1 && strcmp(argv[1], "$all") != 0) {
        spec.stream = argv[1];
        spec.from = EF_SUB_FROM_VERSION;
        spec.version = argc > 2 ? strtoull(argv[2], NULL, 10) : 0;
    } else {
        spec.from = EF_SUB_FROM_START;
    }
    uint64_t count = argc > 3 ? strtoull(argv[3], NULL, 10) : 0;

    struct eventflow_subscription *sub;
    rc = eventflow_subscribe(c, &spec, &sub);
    if (rc != EF_OK) {
        fprintf(stderr, "subscribe: %s: %s\n", eventflow_err_name(rc), eventflow_client_last_error(c));
        eventflow_client_free(c);
        return 1;
    }
    /* The subscription stands alone: the client is no longer needed. */
    eventflow_client_free(c);

    uint64_t seen = 0;
    while (count == 0 || seen < count) {
        const struct eventflow_sub_message *m;
        rc = eventflow_subscription_next(sub, &m, 1000);
        if (rc == EF_ETIMEDOUT)
            continue; /* a place to check for shutdown */
        if (rc == EF_EUNAVAILABLE) {
            /* It keeps trying; say so and go on waiting. */
            fprintf(stderr, "no node serves the subscription: %s\n", eventflow_subscription_last_error(sub));
            continue;
        }
        if (rc != EF_OK) {
            fprintf(stderr, "subscription: %s: %s\n", eventflow_err_name(rc),
                    eventflow_subscription_last_error(sub));
            break;
        }
        switch (m->kind) {
        case EF_SUB_EVENT:
            printf("%s %s %" PRIu64 " %s\n", m->event->id, m->event->stream, m->event->version,
                   m->event->type);
            fflush(stdout);
            seen++;
            break;
        case EF_SUB_CAUGHT_UP:
            fprintf(stderr, "caught up on %s; live from here\n", m->node);
            break;
        case EF_SUB_STALE:
            fprintf(stderr, "%s has had no leader for %" PRIu64 " ms: events may lag\n", m->node,
                    m->last_contact_ms);
            break;
        case EF_SUB_CURRENT:
            fprintf(stderr, "%s is current again\n", m->node);
            break;
        }
    }
    eventflow_subscription_free(sub);
    return rc == EF_OK || rc == EF_ETIMEDOUT ? 0 : 1;
}
