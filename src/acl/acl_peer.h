/* acl_peer.h - the credential nodes present to each other's client port
 * (state transfer, status fan-out, space reports, membership checks): the
 * user "@peer" with a token derived from the cluster secret, or from the
 * password when there is no secret. ACL SETUSER cannot create or change a
 * name that starts with '@', so no rule can lock the nodes out of each
 * other. Pure code: any thread. */
#ifndef EVENTFLOW_ACL_PEER_H
#define EVENTFLOW_ACL_PEER_H

#define ACL_PEER_USER "@peer"
/* Hex of an HMAC-SHA256. */
#define ACL_PEER_TOKEN_LEN 64

/* The token for key (the cluster secret, or the password; non-empty) into
 * out, NUL-terminated. Returns 0, or -1 if libcrypto failed. */
int acl_peer_token(const char *key, char out[ACL_PEER_TOKEN_LEN + 1]);

#endif
