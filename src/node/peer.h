/* peer.h - one-shot RESP requests from a node to another node's client
 * port: cluster status fan-out, joining, and the start-up identity check.
 *
 * Each request resolves the address, connects, authenticates as the peer
 * identity (acl_peer.h) if authentication is on, sends one command, reads one reply and closes; the whole exchange
 * is bounded by a timeout. Loop thread only.
 *
 * With a TLS context (the peers' one, raft_tls.h; node_member_peer_address
 * says when), the connection runs TLS through a client link of the same
 * kind raft's connections use: this node shows its peer certificate and
 * checks the other's against the peer CA; the request and reply cross the
 * link's plaintext end. The @peer token is still what makes the request a
 * node's: the TLS port also takes users' certificates. */
#ifndef EVENTFLOW_PEER_H
#define EVENTFLOW_PEER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "protocol/resp_reader.h"

struct raft_tls;

/* status: 0 with the reply (an error reply is still status 0), or a
 * negative libuv error (UV_ETIMEDOUT, UV_ECONNREFUSED, ...) with reply NULL.
 * The reply is valid only during the callback. */
typedef void (*peer_cb)(void *arg, int status, const struct resp_value *reply);

/* Send argv[0..argc) to address ("host:port"), over TLS with tls (borrowed;
 * it must outlive the request) or in plaintext with NULL. Returns 0 and
 * later calls cb exactly once, or returns a negative libuv error and never
 * calls cb. Strings are copied; peer_token (acl_peer.h) may be NULL: no
 * AUTH. */
int peer_request(uv_loop_t *loop, const char *address, struct raft_tls *tls, const char *peer_token, int argc,
                 const char *const *argv, unsigned timeout_ms, peer_cb cb, void *arg);

/* Replies received over TLS since start (STATUS peer_tls_answers). */
uint64_t peer_tls_answers(void);

#endif
