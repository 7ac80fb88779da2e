/* append.c - append one event to a stream, then read the stream back.
 *
 *   EVENTFLOW_ENDPOINTS=127.0.0.1:6543 ./append <stream> <type> [<data>]
 *
 * The data is sent as a string; the stream is printed one event a line. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <eventflow/eventflow.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <stream> <type> [<data>]\n", argv[0]);
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

    struct eventflow_new_event ev = {.type = argv[2]};
    if (argc > 3) {
        ev.data.kind = EF_PAYLOAD_STRING;
        ev.data.bytes = argv[3];
        ev.data.len = strlen(argv[3]);
    }
    struct eventflow_event_list stored;
    rc = eventflow_append(c, argv[1], EF_VERSION_ANY, &ev, 1, &stored);
    if (rc != EF_OK) {
        fprintf(stderr, "append: %s: %s\n", eventflow_err_name(rc), eventflow_client_last_error(c));
        eventflow_client_free(c);
        return 1;
    }
    printf("appended %s at version %" PRIu64 "\n", stored.events[0].id, stored.events[0].version);
    eventflow_event_list_free(&stored);

    struct eventflow_event_list events;
    rc = eventflow_read_stream(c, argv[1], 0, 0, &events);
    if (rc != EF_OK) {
        fprintf(stderr, "read: %s: %s\n", eventflow_err_name(rc), eventflow_client_last_error(c));
        eventflow_client_free(c);
        return 1;
    }
    for (size_t i = 0; i < events.n; i++) {
        const struct eventflow_event *e = &events.events[i];
        printf("%s %s %" PRIu64 " %s", e->id, e->stream, e->version, e->type);
        if (e->data.kind != EF_PAYLOAD_NULL)
            printf(" %.*s", (int)e->data.len, e->data.bytes);
        printf("\n");
    }
    eventflow_event_list_free(&events);
    eventflow_client_free(c);
    return 0;
}
