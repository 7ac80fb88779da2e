/* rawresp.h - one RESP command to one exact node.
 *
 * libeventflow decides itself which node serves a request; the runner
 * sometimes needs a particular node (its STATUS, its own copy of the log
 * after healing, a subscription), so it speaks RESP directly here: connect,
 * send one command, read one reply, close; or keep a connection open and
 * read what the node pushes. Every step is bounded by timeout_ms. */
#ifndef JEPSEN_RAWRESP_H
#define JEPSEN_RAWRESP_H

#include <jansson.h>
#include <stddef.h>

#include "protocol/resp_reader.h"

/* Send "name [arg]" to host:port and read one reply into *out (free with
 * resp_value_free). Returns 0, or -1 with a reason in err (connection
 * refused, timeout, protocol error). An error reply (-...) is a success
 * here: out->type is RESP_T_ERROR. */
int rawresp_call(const char *address, const char *name, const char *arg, int timeout_ms,
                 struct resp_value *out, char *err, size_t errlen);

/* A connection kept open (a subscription: the node pushes messages on it
 * until it closes). One thread uses it. */
struct rawresp_conn {
    int fd;
    struct resp_reader rd;
};

/* Connect within timeout_ms; rcvbuf > 0 sets SO_RCVBUF first (a small
 * window makes a slow reader's data pile up in the server). 0 or -1. */
int rawresp_open(struct rawresp_conn *c, const char *address, int timeout_ms, int rcvbuf, char *err, size_t errlen);
/* Send one command of argc words. 0 or -1. */
int rawresp_send(struct rawresp_conn *c, int argc, const char *const *argv, int timeout_ms, char *err,
                 size_t errlen);
/* The next reply or pushed message: 1 (in *out, free with resp_value_free),
 * 0 when none came within timeout_ms, -1 when the connection broke (err:
 * "connection closed", a socket error, a protocol error). */
int rawresp_read(struct rawresp_conn *c, int timeout_ms, struct resp_value *out, char *err, size_t errlen);
/* Close (a no-op on a connection that failed to open). */
void rawresp_close(struct rawresp_conn *c);

/* STATUS of a node as a JSON object (caller decrefs), or NULL with err. */
json_t *rawresp_status(const char *address, int timeout_ms, char *err, size_t errlen);

#endif
