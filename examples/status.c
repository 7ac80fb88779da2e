/* status.c - the cluster as each member reports itself.
 *
 *   EVENTFLOW_ENDPOINTS=127.0.0.1:6543 ./status */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <eventflow/eventflow.h>

int main(void)
{
    struct eventflow_options opts;
    eventflow_options_init(&opts);
    opts.password = getenv("EVENTFLOW_PASSWORD");
    opts.read_preference = EF_READ_ANY;
    struct eventflow_client *c;
    int rc = eventflow_client_new(&opts, &c);
    if (rc != EF_OK) {
        fprintf(stderr, "client: %s\n", eventflow_strerror(rc));
        return 1;
    }
    struct eventflow_status_list st;
    rc = eventflow_cluster_status(c, &st);
    if (rc != EF_OK) {
        fprintf(stderr, "status: %s: %s\n", eventflow_err_name(rc), eventflow_client_last_error(c));
        eventflow_client_free(c);
        return 1;
    }
    printf("%-4s %-8s %-12s %-22s %8s %10s %s\n", "id", "role", "state", "address", "term",
           "applied", "checksum");
    for (size_t i = 0; i < st.n; i++) {
        const struct eventflow_node_status *s = &st.nodes[i];
        printf("%-4" PRIu64 " %-8s %-12s %-22s %8" PRIu64 " %10" PRIu64 " %s%s%s\n", s->id, s->role,
               s->state, s->client_address, s->term, s->applied_index, s->checksum,
               s->error[0] ? " " : "", s->error);
    }
    eventflow_status_list_free(&st);
    eventflow_client_free(c);
    return 0;
}
