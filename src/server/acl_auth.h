/* acl_auth.h - AUTH, and HELLO's AUTH: who a connection is.
 *
 *   AUTH <password>               the user "default"
 *   AUTH <user> <password>        Redis 6's form
 *   AUTH @peer <token>            the nodes' own identity (acl_peer.h)
 *
 * "default" without a record in the users table is the --password login,
 * checked at once. A user with a record is checked against its salted
 * PBKDF2 hash (acl_hash.h) on libuv's thread pool, its reply waiting in a
 * deferred slot; an unknown user costs the same hash, so timing does not
 * tell which names exist. Requests sent behind an AUTH wait for its
 * outcome.
 *
 * Brute force: after ACL_AUTH_FREE_FAILURES failed attempts on one
 * connection, each further AUTH is refused unchecked (-TOOMANY) until a
 * delay that doubles with every failure has passed; at ACL_AUTH_MAX_FAILURES
 * the connection is closed. The first throttling on a connection is
 * logged. Loop thread only. */
#ifndef EVENTFLOW_ACL_AUTH_H
#define EVENTFLOW_ACL_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "protocol/resp_parser.h"

#define ACL_AUTH_FREE_FAILURES 3
#define ACL_AUTH_MAX_FAILURES 10
#define ACL_AUTH_FIRST_DELAY_MS 1000
#define ACL_AUTH_MAX_DELAY_MS 30000

struct buf;
struct conn;

/* What to answer once the user is authenticated: AUTH's +OK, or HELLO's
 * map in the protocol it chose (copied, so it may live on the caller's
 * stack). */
struct acl_auth_then {
    void (*ok)(struct conn *c, struct buf *out, const struct acl_auth_then *then);
    bool resp3;
};

/* The AUTH command. */
void acl_auth_command(struct conn *c, const struct resp_command *cmd);

/* Authenticate c as user (NULL: "default") with password, then run
 * then->ok with the reply buffer; a failure answers the error itself. */
void acl_auth_login(struct conn *c, const struct resp_arg *user, const struct resp_arg *password,
                    const struct acl_auth_then *then);

/* Whether commands must wait: an AUTH's outcome is not known yet. */
bool acl_auth_pending(const struct conn *c);

#endif
