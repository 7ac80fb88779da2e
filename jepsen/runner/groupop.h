/* groupop.h - one GROUP request of the group workload (groups.h): sent
 * over a consumer's own connection to one node, recorded in the history as
 * an operation (an "invoke" line, then "ok", "fail" or "info"), its reply
 * classified.
 *
 * Spoken over raw RESP (rawresp.h), as the subscribers do, so that the node
 * that answered is known exactly: the checker needs it (a redelivery after
 * a leader change is judged against what the previous leader served).
 *
 * Outcomes, as the checker reads them:
 *   ok    the reply was not an error: the operation took effect;
 *   fail  an error that promises nothing changed (docs/protocol.md, GROUP:
 *         MOVED, NOLEADER, TRYAGAIN, FULL, NOGROUP, EXISTS, NOTDELIVERED,
 *         NOTPENDING, a malformed argument), or no connection at all;
 *   info  anything else: UNKNOWN (leadership lost), IOERR, no reply within
 *         the timeout, a broken connection, a reply abandoned on purpose
 *         (a consumer that "crashes" mid-request). It may or may not have
 *         taken effect. */
#ifndef JEPSEN_GROUPOP_H
#define JEPSEN_GROUPOP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "nodes.h"
#include "rawresp.h"

/* One consumer's connection: to nodes->addresses[node], opened on demand. */
struct gconn {
    const struct run_nodes *nodes;
    int node; /* the node the next request goes to (0-based), -1: none chosen */
    bool open;
    struct rawresp_conn c;
};

/* A JSON value built for the history; NULL (out of memory, a bad format)
 * would leave a hole in it: stop. */
static inline json_t *json_must(json_t *j)
{
    if (j == NULL)
        abort();
    return j;
}

enum gop_type { GOP_OK, GOP_FAIL, GOP_INFO };

/* One operation from its invoke to its completion line. */
struct gop {
    enum gop_type type;
    struct resp_value reply; /* GOP_OK: the reply (freed by gop_finish) */
    bool has_reply;
    char error[32];          /* fail, info: the error's first word, or "timeout", "connection", ... */
    char message[256];
    int moved;               /* MOVED: the leader's node index, -1 if not one of ours */
    int64_t op;
    int process;
    char f[24];
    int node;                /* the node it was sent to */
    json_t *fields;          /* the invoke line's fields, repeated on the completion */
};

/* Open the connection if it is not (to c->node, a random choice being the
 * caller's). 0, or -1 with err: nothing was sent, nothing recorded. */
int gconn_ensure(struct gconn *c, char *err, size_t errlen);
void gconn_close(struct gconn *c);

/* Record {"type":"invoke", process, op, f, time, node, <request fields>,
 * <extra fields>}, send `GROUP sub <request as JSON>` and wait up to
 * timeout_ms for the reply; 0 sends and abandons the reply on purpose
 * (info, error "abandoned"). On a timeout or a broken connection the
 * connection is closed: a late reply would otherwise answer the next
 * request. request and extra are borrowed (extra may be NULL). The caller
 * then writes the completion with gop_finish. */
void gop_call(struct gconn *c, int process, const char *f, const char *sub, json_t *request, json_t *extra,
              int timeout_ms, struct gop *g);

/* Write the completion line: g's type, the invoke's fields, the node, and
 * error/message (fail, info) or `result` (ok; reference taken, may be
 * NULL) merged in. Frees the reply. */
void gop_finish(struct gop *g, json_t *result);

/* For a one-line request that is no operation (INFO, PENDING, PARKED):
 * `GROUP sub arg` to address, the reply's bulk string parsed as JSON, or
 * for an array reply a JSON array of its parsed elements. NULL with err. */
json_t *gop_query(const char *address, const char *sub, const char *arg, int timeout_ms, char *err, size_t errlen);

#endif
