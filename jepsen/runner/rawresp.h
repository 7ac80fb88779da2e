/* rawresp.h - one RESP command to one exact node.
 *
 * libeventflow decides itself which node serves a request; the runner
 * sometimes needs a particular node (its STATUS, its own copy of the log
 * after healing), so it speaks RESP directly here: connect, send one
 * command, read one reply, close. Every step is bounded by timeout_ms. */
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

/* STATUS of a node as a JSON object (caller decrefs), or NULL with err. */
json_t *rawresp_status(const char *address, int timeout_ms, char *err, size_t errlen);

#endif
