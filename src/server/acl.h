/* acl.h - the ACL command: users and their rights, kept in the replicated
 * store (store_user.c) and changed through the log, so every node enforces
 * the same rules from the same index on (docs/protocol.md, "Users and
 * ACLs"):
 *
 *   ACL SETUSER <user> <password> [rule ...]  creates or replaces the user
 *                                             (leader only; admin)
 *   ACL DELUSER <user>                        (leader only; admin)
 *   ACL LIST                                  one "<user> <rule> ..." line
 *                                             per user (admin)
 *   ACL WHOAMI                                the connection's user
 *
 * The leader hashes the password (acl_hash.h) on libuv's thread pool
 * before it proposes: only the salted hash reaches the log and the store.
 * Users need --password: without it authentication is off and there is
 * nobody for a rule to bind. Names starting with '@' are the nodes' own
 * (acl_peer.h) and cannot be set. Loop thread only. */
#ifndef EVENTFLOW_ACL_H
#define EVENTFLOW_ACL_H

#include "protocol/resp_parser.h"

struct conn;

void acl_command(struct conn *c, const struct resp_command *cmd);

#endif
