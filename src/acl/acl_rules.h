/* acl_rules.h - a user's rights, parsed from the rule words ACL SETUSER
 * takes and the users table keeps (docs/protocol.md, "Users and ACLs"):
 *
 *   admin               CLUSTER changes, CONFIG SET, SNAPSHOT, ACL, and the
 *                       GROUP operations that create, destroy or move a
 *                       group
 *   all                 the global log: GETALL, SUBSCRIBE $all, groups over
 *                       the global log, LISTSTREAMS
 *   read:<prefix>       GET, and groups, of streams whose name starts so
 *   write:<prefix>      ADD to streams whose name starts so
 *   subscribe:<prefix>  SUBSCRIBE to streams whose name starts so
 *
 * "*" as the prefix means every stream. Pure code: any thread. */
#ifndef EVENTFLOW_ACL_RULES_H
#define EVENTFLOW_ACL_RULES_H

#include <stdbool.h>
#include <stddef.h>

#define ACL_MAX_RULES 64
#define ACL_MAX_PREFIX 256
#define ACL_ERR_LEN 160

enum acl_right { ACL_READ, ACL_WRITE, ACL_SUBSCRIBE, ACL_N_RIGHTS };

enum {
    ACL_ADMIN = 1 << 0,
    ACL_ALL = 1 << 1,
};

struct acl_prefix {
    char *p; /* owned, NUL-terminated */
    size_t len;
};

struct acl_rules {
    unsigned flags;                      /* ACL_ADMIN, ACL_ALL */
    bool any[ACL_N_RIGHTS];              /* a "*" rule: every stream */
    struct acl_prefix *prefixes[ACL_N_RIGHTS]; /* owned */
    size_t n_prefixes[ACL_N_RIGHTS];
    size_t n_rules;
};

/* An empty set of rules (no right at all). */
void acl_rules_init(struct acl_rules *r);
void acl_rules_free(struct acl_rules *r);

/* Add the rule word w[0..len). Returns 0, or -1 with a message in err for
 * a word that is not a rule (nothing is added). */
int acl_rules_add(struct acl_rules *r, const char *w, size_t len, char err[ACL_ERR_LEN]);

/* Whether r grants `right` on the stream name[0..len). */
bool acl_rules_allow(const struct acl_rules *r, enum acl_right right, const char *name, size_t len);

#endif
