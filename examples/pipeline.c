/* pipeline.c - append many events with many appends in flight, and report
 * the throughput.
 *
 *   EVENTFLOW_ENDPOINTS=127.0.0.1:6543 ./pipeline [<appends> [<in flight> [<events per append>]]]
 *
 * Each append goes to its own stream "pipeline-<n % 64>" with version
 * "any"; the program exits 1 if any append failed. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c17 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <eventflow/eventflow.h>

struct tally {
    size_t ok;
    size_t failed;
    int first_error;
};

static void on_append(void *arg, int status, const struct eventflow_event_list *stored)
{
    struct tally *t = arg;
    (void)stored;
    if (status == EF_OK) {
        t->ok++;
    } else {
        if (t->failed++ == 0)
            t->first_error = status;
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    unsigned long appends = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
    unsigned long window = argc > 2 ? strtoul(argv[2], NULL, 10) : 256;
    unsigned long per = argc > 3 ? strtoul(argv[3], NULL, 10) : 1;
    if (appends == 0 || per == 0 || per > 1000) {
        fprintf(stderr, "usage: %s [<appends> [<in flight> [<events per append (1..1000)>]]]\n", argv[0]);
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
    struct eventflow_pipeline *p;
    rc = eventflow_pipeline_new(c, (unsigned)window, &p);
    if (rc != EF_OK) {
        fprintf(stderr, "pipeline: %s\n", eventflow_strerror(rc));
        eventflow_client_free(c);
        return 1;
    }
    static const char payload[] = "{\"amount\":42,\"currency\":\"EUR\",\"note\":\"example payload\"}";
    struct eventflow_new_event *evs = calloc(per, sizeof *evs);
    if (evs == NULL) {
        eventflow_pipeline_free(p);
        eventflow_client_free(c);
        return 1;
    }
    for (unsigned long k = 0; k < per; k++) {
        evs[k].type = "Deposited";
        evs[k].data.kind = EF_PAYLOAD_JSON;
        evs[k].data.bytes = payload;
        evs[k].data.len = sizeof payload - 1;
    }
    struct tally t = {0};
    double t0 = now_s();
    for (unsigned long i = 0; i < appends; i++) {
        char stream[32];
        snprintf(stream, sizeof stream, "pipeline-%lu", i % 64);
        rc = eventflow_pipeline_append(p, stream, EF_VERSION_ANY, evs, per, on_append, &t);
        if (rc != EF_OK) {
            fprintf(stderr, "append: %s\n", eventflow_client_last_error(c));
            break;
        }
    }
    (void)eventflow_pipeline_flush(p);
    double secs = now_s() - t0;
    printf("%zu appends (%lu events each) in %.3f s: %.0f appends/s, %.0f events/s, %zu failed\n",
           t.ok, per, secs, (double)t.ok / secs, (double)(t.ok * per) / secs, t.failed);
    if (t.failed > 0)
        fprintf(stderr, "first failure: %s: %s\n", eventflow_err_name(t.first_error),
                eventflow_client_last_error(c));
    free(evs);
    eventflow_pipeline_free(p);
    eventflow_client_free(c);
    return t.failed > 0 || t.ok != appends ? 1 : 0;
}
