/* tail.c - print the global log, one event a line, paging with an
 * iterator.
 *
 *   EVENTFLOW_ENDPOINTS=127.0.0.1:6543 ./tail [<after id>] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <eventflow/eventflow.h>

int main(int argc, char **argv)
{
    struct eventflow_options opts;
    eventflow_options_init(&opts);
    opts.password = getenv("EVENTFLOW_PASSWORD");
    opts.consistency = EF_CONSISTENCY_LOCAL;
    opts.read_preference = EF_READ_ANY; /* any member can serve the log */
    struct eventflow_client *c;
    int rc = eventflow_client_new(&opts, &c);
    if (rc != EF_OK) {
        fprintf(stderr, "client: %s\n", eventflow_strerror(rc));
        return 1;
    }
    struct eventflow_iter *it;
    rc = eventflow_iter_all(c, argc > 1 ? argv[1] : NULL, 500, &it);
    if (rc != EF_OK) {
        fprintf(stderr, "iter: %s\n", eventflow_client_last_error(c));
        eventflow_client_free(c);
        return 1;
    }
    const struct eventflow_event *e;
    size_t n = 0;
    while ((rc = eventflow_iter_next(it, &e)) == 1) {
        printf("%s %s %" PRIu64 " %s\n", e->id, e->stream, e->version, e->type);
        n++;
    }
    if (rc < 0)
        fprintf(stderr, "read: %s: %s\n", eventflow_err_name(rc), eventflow_client_last_error(c));
    else
        fprintf(stderr, "%zu events\n", n);
    eventflow_iter_free(it);
    eventflow_client_free(c);
    return rc < 0 ? 1 : 0;
}
