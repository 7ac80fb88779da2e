/* failover-client.c - libeventflow's own failover time, measured the way
 * examples/redis-cluster/go (failover mode) measures go-redis's: a client
 * seeded with one follower only appends, the leader is killed with SIGKILL,
 * and the client keeps appending until one is acknowledged. Prints
 * "failover_ms=N". Built and run by scripts/bench-redis-cluster.sh.
 *
 *   failover-client SEED LEADER_PID */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <eventflow/eventflow.h>

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int append(struct eventflow_client *c, const char *type)
{
    struct eventflow_new_event ev = {.type = type};
    struct eventflow_event_list stored;
    int rc = eventflow_append(c, "ef-failover", EF_VERSION_ANY, &ev, 1, &stored);
    if (rc == EF_OK)
        eventflow_event_list_free(&stored);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s SEED LEADER_PID\n", argv[0]);
        return 2;
    }
    struct eventflow_options opts;
    eventflow_options_init(&opts);
    opts.endpoints = argv[1];
    struct eventflow_client *c;
    if (eventflow_client_new(&opts, &c) != EF_OK)
        return 1;
    for (int i = 0; i < 20; i++)
        if (append(c, "Before") != EF_OK) {
            fprintf(stderr, "append: %s\n", eventflow_client_last_error(c));
            return 1;
        }
    if (kill((pid_t)atoi(argv[2]), SIGKILL) != 0) {
        perror("kill");
        return 1;
    }
    long long killed = now_ms();
    int errors = 0;
    while (append(c, "After") != EF_OK) {
        errors++;
        if (now_ms() - killed > 30000) {
            fprintf(stderr, "no append acknowledged within 30 s: %s\n", eventflow_client_last_error(c));
            return 1;
        }
    }
    printf("libeventflow: failover_ms=%lld (errors seen: %d)\n", now_ms() - killed, errors);
    eventflow_client_free(c);
    return 0;
}
