/* reply.h - a command's RESP reply as an HTTP status and a JSON body.
 *
 *   success   {"result": <value>}: a simple string or bulk becomes a JSON
 *             string, except that a bulk holding a JSON object or array
 *             (events, STATUS, GROUP replies) is embedded as JSON; an
 *             integer a number; an array an array; a map an object; nil
 *             null.
 *   error     {"error": {"code": "...", "message": "..."}}: the code is the
 *             error's leading upper-case word (MOVED, NOLEADER, FULL, ...)
 *             or a name for EventflowDB's wordings ("conflict" for
 *             "concurrent stream modification"), "bad_request" otherwise;
 *             the status follows the code (reply_status_of): MOVED (a
 *             write sent to a follower) is 421 Misdirected Request, its
 *             message naming the leader's RESP address (call.c turns it
 *             into a 307 when it can: redirect.c).
 *
 * Pure: no h2o, so the unit tests and the fuzz target drive it. */
#ifndef EVENTFLOW_HTTP_REPLY_H
#define EVENTFLOW_HTTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

/* One RESP reply resp[0..len) into body (appended); returns the status.
 * A reply that does not parse as exactly one whole RESP value answers 500
 * with an "internal" error. With trusted, a bulk that starts with '{' or
 * '[' is taken to be the server's own JSON (the codec's rendering of
 * events, STATUS...) and is embedded without being parsed again: parsing
 * every event of every reply once more was a fifth of an HTTP append's
 * cost. Without it (PING echoes the client's bytes) each such bulk is
 * checked first. */
int reply_to_json(const char *resp, size_t len, bool trusted, struct buf *body);

/* An error body {"error":{"code","message"}} with message[0..len). */
void reply_error(struct buf *body, const char *code, const char *message, size_t len);

/* The code and status of an error message (as a RESP error's text):
 * *code points into a static string, or into message for a leading
 * upper-case word (then *code_len tells its length). */
int reply_status_of(const char *message, size_t len, const char **code, size_t *code_len);

#endif
