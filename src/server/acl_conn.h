/* acl_conn.h - what a connection's user may do, checked per command.
 *
 * A connection resolves its user's rules once, at AUTH, and again only
 * when the users table has changed since (store_users_generation): so a
 * rule an admin changes binds every open connection, on every node, from
 * its next command. A check is then a flag test, or a prefix compare on
 * the stream name (acl_rules.h). A refusal answers
 *   -NOPERM user '<name>' has no <right> right on ...
 * and the command does nothing. A user deleted while connected is logged
 * out: its next command answers -unauthorized. Loop thread only. */
#ifndef EVENTFLOW_ACL_CONN_H
#define EVENTFLOW_ACL_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include "acl/acl_rules.h"

struct conn;

/* c is now user `name` (NULL: nobody), rules resolved at its next check. */
void acl_conn_set_user(struct conn *c, const char *name);

/* Resolve c's rules again if the users table changed since they were
 * (dispatch calls it before each command; the checks below trust it). A
 * deleted user is logged out here. */
void acl_conn_refresh(struct conn *c);

/* Whether c may run an admin command; if not, answers -NOPERM naming
 * `what` (conn_reply_buf: check before taking the reply's buffer). */
bool acl_conn_admin(struct conn *c, const char *what);

/* Whether c may read the global log (GETALL, $all, LISTSTREAMS...). */
bool acl_conn_all(struct conn *c, const char *what);

/* Whether c has `right` on the stream name[0..len). */
bool acl_conn_stream(struct conn *c, enum acl_right right, const char *name, size_t len);


#endif
