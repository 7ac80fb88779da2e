/* login.h - who an HTTP request runs as.
 *
 * With --password, every route but the open ones needs credentials:
 *   Authorization: Bearer <password>    the user "default", as RESP's
 *                                       AUTH <password>
 *   Authorization: Basic <user:pass>    the user <user>, as RESP's
 *                                       AUTH <user> <pass>; a name that is
 *                                       no user ("any", or empty) with the
 *                                       --password is "default", so
 *                                       `curl -u any:<password>` keeps working
 *   ?access_token=<password>            "default", on the EventSource routes
 * A user with a record in the users table is checked against its PBKDF2
 * hash on libuv's thread pool (acl_hash.h: tens of milliseconds), once:
 * the credentials that passed are remembered, as an HMAC under a key
 * drawn at start, until the users table changes (store_users_generation),
 * so a client that sends the same header on every request pays the hash
 * on its first only. A name that is no user costs the same hash when its
 * password is wrong, so timing does not tell which names exist.
 *
 * At most LOGIN_MAX_CHECKS hashes run at once: beyond that a request is
 * answered 429 unchecked, so guessing passwords over HTTP cannot take the
 * thread pool from AUTH, snapshots and backups. Refusals are logged at
 * most once every few seconds. Loop thread only. */
#ifndef EVENTFLOW_HTTP_LOGIN_H
#define EVENTFLOW_HTTP_LOGIN_H

struct http;
struct http_request;
struct route;

#define LOGIN_MAX_CHECKS 4

/* The cache and counters, owned by h (h->login); login_free(NULL) is a
 * no-op. login_new aborts on allocation failure, as xmalloc does. */
struct login *login_new(void);
void login_free(struct login *l);

/* rq (whose route is rq->match->route) may run: then(rq) with rq->user
 * set; the call is at once or, after a hash check, later, and not at all
 * when the request went away meanwhile. A refusal is answered here (401,
 * 429, or 503 once the listener is closing). */
typedef void login_then(struct http_request *rq);
void login_request(struct http_request *rq, login_then *then);

#endif
