/* eventflow/acl.h - users and their rights (docs/protocol.md, "Users and
 * ACLs"): the ACL commands, for administration tools. Changing and
 * listing users needs a user with the admin right; whoami answers anyone.
 *
 * Routing and retries are the client's (client.h): set and delete go to
 * the leader, following -MOVED and retrying after -NOLEADER and -TRYAGAIN;
 * they are never resent once they may have run (EF_EUNKNOWN then: list the
 * users to find out). A refusal by the server (a bad name or rule, no such
 * user) is EF_EINVAL with the server's message (eventflow_client_last_error);
 * a user without the admin right gets EF_EAUTH. */
#ifndef EVENTFLOW_ACL_H
#define EVENTFLOW_ACL_H

#include <stddef.h>

#include "eventflow/export.h"

#ifdef __cplusplus
extern "C" {
#endif

struct eventflow_client;

/* Create user, or replace it whole: its password and its rules ("admin",
 * "all", "read:<prefix>", "write:<prefix>", "subscribe:<prefix>"; "*" as
 * the prefix is every stream). Returns once the change is applied on the
 * leader. */
EF_API int eventflow_user_set(struct eventflow_client *c, const char *user, const char *password,
                              const char *const *rules, size_t n_rules);

/* Delete user. */
EF_API int eventflow_user_delete(struct eventflow_client *c, const char *user);

/* Every user as "<user> <rule> ...", in name order: *lines is an array of
 * *n strings, all malloc'd; free with eventflow_user_list_free. */
EF_API int eventflow_user_list(struct eventflow_client *c, char ***lines, size_t *n);
EF_API void eventflow_user_list_free(char **lines, size_t n);

/* The user this client logs in as, as the server sees it, into out (cap
 * bytes, NUL-terminated). */
EF_API int eventflow_user_whoami(struct eventflow_client *c, char *out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
