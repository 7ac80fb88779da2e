/* login.c - who an HTTP request runs as (see login.h). */
#include "http/login.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl_hash.h"
#include "acl/acl_peer.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/text.h"
#include "http/auth.h"
#include "http/http_internal.h"
#include "http/query.h"
#include "http/routes.h"
#include "node/node.h"
#include "server/config.h"
#include "server/conn.h"
#include "server/server.h"
#include "store/store.h"

#define LOGIN_CACHE_SLOTS 64
#define LOGIN_MAC_BYTES 32
#define LOGIN_REFUSAL_LOG_EVERY_MS 5000

/* Credentials that passed their hash: the user's name and the HMAC of
 * name and password. Never the password itself. */
struct login_entry {
    char user[ACL_CONN_NAME_MAX + 1];
    uint8_t mac[LOGIN_MAC_BYTES];
    uint64_t used;   /* login->clock when last matched: the oldest goes first */
    bool valid;
};

struct login {
    uint8_t key[32];
    struct login_entry cache[LOGIN_CACHE_SLOTS];
    uint64_t generation; /* of the users table the cache was filled at */
    uint64_t clock;
    unsigned checks;     /* hashes running */
    uint64_t refusal_logged_ms;
    unsigned refusals;   /* since the last log line */
};

struct login *login_new(void)
{
    struct login *l = xcalloc(1, sizeof *l);
    if (RAND_bytes(l->key, sizeof l->key) != 1) {
        log_error("http: no random bytes for the login cache's key");
        abort();
    }
    return l;
}

void login_free(struct login *l)
{
    if (l == NULL)
        return;
    OPENSSL_cleanse(l, sizeof *l);
    free(l);
}

/* ---- the cache --------------------------------------------------------- */

static void login_mac(const struct login *l, const char *user, const char *password, size_t len,
                      uint8_t out[LOGIN_MAC_BYTES])
{
    unsigned n = LOGIN_MAC_BYTES;
    size_t ulen = strlen(user);
    size_t total = ulen + 1 + len;
    uint8_t *msg = xmalloc(total);
    memcpy(msg, user, ulen + 1);
    memcpy(msg + ulen + 1, password, len);
    if (HMAC(EVP_sha256(), l->key, (int)sizeof l->key, msg, total, out, &n) == NULL)
        memset(out, 0, LOGIN_MAC_BYTES); /* never matches: a zero MAC is never stored */
    OPENSSL_cleanse(msg, total);
    free(msg);
}

/* Forget everything once the users table has changed: a password changed
 * or a user deleted must not keep letting in what it let in before. */
static void cache_sync(struct login *l, uint64_t generation)
{
    if (l->generation == generation)
        return;
    memset(l->cache, 0, sizeof l->cache);
    l->generation = generation;
}

static bool cache_hit(struct login *l, const char *user, const uint8_t mac[LOGIN_MAC_BYTES])
{
    for (size_t i = 0; i < LOGIN_CACHE_SLOTS; i++) {
        struct login_entry *e = &l->cache[i];
        if (e->valid && strcmp(e->user, user) == 0 && CRYPTO_memcmp(e->mac, mac, LOGIN_MAC_BYTES) == 0) {
            e->used = ++l->clock;
            return true;
        }
    }
    return false;
}

static void cache_put(struct login *l, const char *user, const uint8_t mac[LOGIN_MAC_BYTES])
{
    struct login_entry *slot = &l->cache[0];
    for (size_t i = 0; i < LOGIN_CACHE_SLOTS && slot->valid; i++) {
        struct login_entry *e = &l->cache[i];
        if (!e->valid || e->used < slot->used)
            slot = e;
    }
    snprintf(slot->user, sizeof slot->user, "%s", user);
    memcpy(slot->mac, mac, LOGIN_MAC_BYTES);
    slot->used = ++l->clock;
    slot->valid = true;
}

/* ---- answers ------------------------------------------------------------ */

static void login_refuse(struct http_request *rq, const char *who)
{
    struct http *h = rq->http;
    struct login *l = h->login;
    uint64_t now = uv_now(h->loop);
    l->refusals++;
    if (l->refusal_logged_ms == 0 || now - l->refusal_logged_ms >= LOGIN_REFUSAL_LOG_EVERY_MS) {
        log_warn("http: refused credentials%s%s (%u refusal(s) since the last such line)", who ? " for user " : "",
                 who ? who : "", l->refusals);
        l->refusal_logged_ms = now;
        l->refusals = 0;
    }
    respond_error(rq, 401, "unauthorized",
                  "unauthorized: send Authorization: Bearer <password>, or Basic with a user name and its password");
}

static void login_grant(struct http_request *rq, const char *user, login_then *then)
{
    rq->user = h2o_mem_alloc_pool(&rq->req->pool, strlen(user) + 1);
    memcpy((char *)rq->user, user, strlen(user) + 1);
    then(rq);
}

/* ---- the hash, off the loop ------------------------------------------- */

struct login_work;

/* In the request's pool: lets its disposal tell a running check that
 * nobody waits for it any more. */
struct login_hold {
    struct login_work *work; /* NULL once the check is done */
};

struct login_work {
    uv_work_t req;
    struct http *http;
    struct http_request *rq;  /* NULL once the request went away */
    struct login_hold *hold;  /* NULL once the request went away */
    login_then *then;
    char user[ACL_CONN_NAME_MAX + 1];
    struct acl_hash_check check;
    uint64_t generation;      /* of the users table the record was read at */
};

static void hold_dispose(void *p)
{
    struct login_hold *hold = p;
    if (hold->work != NULL) {
        hold->work->rq = NULL;
        hold->work->hold = NULL;
    }
}

static void work_run(uv_work_t *req)
{
    struct login_work *w = req->data;
    acl_hash_check_run(&w->check);
}

static void work_free(struct login_work *w)
{
    acl_hash_check_clear(&w->check);
    free(w);
}

static void work_done(uv_work_t *req, int status)
{
    struct login_work *w = req->data;
    struct http *h = w->http;
    struct login *l = h->login;
    l->checks--;
    if (w->hold != NULL)
        w->hold->work = NULL;
    struct http_request *rq = w->rq;
    /* A users table changed while the hash ran: the record checked may be
     * gone or hold another password, so nothing is remembered or granted
     * on it. */
    uint64_t generation = store_users_generation(node_store(h->srv->node));
    bool ok = status == 0 && w->check.ok && w->generation == generation;
    if (ok) {
        uint8_t mac[LOGIN_MAC_BYTES];
        login_mac(l, w->user, w->check.password, w->check.password_len, mac);
        cache_sync(l, generation);
        cache_put(l, w->user, mac);
    }
    if (rq != NULL) {
        if (h->closing)
            respond_error(rq, 503, "SHUTDOWN", "SHUTDOWN the server is shutting down");
        else if (ok)
            login_grant(rq, w->user, w->then);
        else
            login_refuse(rq, w->user);
    }
    work_free(w);
}

static void login_queue(struct http_request *rq, const char *user, const struct auth_creds *c,
                        const Eventflow__UserRecord *u, uint64_t generation, login_then *then)
{
    struct http *h = rq->http;
    struct login_work *w = xcalloc(1, sizeof *w);
    w->req.data = w;
    w->http = h;
    w->rq = rq;
    w->then = then;
    snprintf(w->user, sizeof w->user, "%s", user);
    w->generation = generation;
    if (u != NULL)
        acl_hash_check_init(&w->check, c->password, c->password_len, u->salt.data, u->salt.len, u->hash.data,
                            u->hash.len, u->iterations);
    else
        acl_hash_check_init(&w->check, c->password, c->password_len, NULL, 0, NULL, 0, 0);
    int rc = uv_queue_work(h->loop, &w->req, work_run, work_done);
    if (rc != 0) {
        log_error("http: cannot queue a password check: %s", uv_strerror(rc));
        work_free(w);
        respond_error(rq, 503, "IOERR", "IOERR cannot check the password now; retry");
        return;
    }
    h->login->checks++;
    w->hold = h2o_mem_alloc_shared(&rq->req->pool, sizeof *w->hold, hold_dispose);
    w->hold->work = w;
}

/* ---- deciding ------------------------------------------------------------ */

static bool header_creds(struct http_request *rq, struct auth_creds *c)
{
    ssize_t i = h2o_find_header(&rq->req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i < 0)
        return false;
    const h2o_iovec_t *v = &rq->req->headers.entries[i].value;
    if (v->len > AUTH_HEADER_MAX + 16)
        return false;
    char *scratch = h2o_mem_alloc_pool(&rq->req->pool, v->len + 1);
    return auth_parse(v->base, v->len, scratch, c);
}

static bool valid_name(const char *p, size_t len)
{
    return len > 0 && len <= ACL_CONN_NAME_MAX && memchr(p, '\0', len) == NULL;
}

void login_request(struct http_request *rq, login_then *then)
{
    struct http *h = rq->http;
    const struct route *r = rq->match->route;
    const char *password = h->cfg->password;
    /* Without --password nobody logs in, as over RESP: every right. */
    if (password == NULL || (r->flags & ROUTE_PUBLIC) || ((r->flags & ROUTE_OPEN) && h->cfg->http_open_health)) {
        rq->user = NULL;
        then(rq);
        return;
    }
    struct auth_creds c;
    if (!header_creds(rq, &c)) {
        if ((r->flags & ROUTE_QUERY_TOKEN) && auth_check_query(rq->query, rq->query_len, password)) {
            login_grant(rq, "default", then);
            return;
        }
        login_refuse(rq, NULL);
        return;
    }
    char user[ACL_CONN_NAME_MAX + 1] = "default";
    bool named = false;
    if (c.user != NULL && c.user_len > 0) {
        if (!valid_name(c.user, c.user_len)) {
            login_refuse(rq, NULL);
            return;
        }
        memcpy(user, c.user, c.user_len);
        user[c.user_len] = '\0';
        named = strcmp(user, "default") != 0;
    }
    /* The nodes' own identity is for RESP between members only. */
    if (strcmp(user, ACL_PEER_USER) == 0) {
        login_refuse(rq, user);
        return;
    }
    struct store *st = node_store(h->srv->node);
    uint64_t generation = store_users_generation(st);
    cache_sync(h->login, generation);
    Eventflow__UserRecord *u = NULL;
    int rc = store_user_get(st, user, &u);
    if (rc != 0 && rc != STORE_ENOENT) {
        respond_error(rq, 503, "IOERR", "IOERR reading the users table; retry");
        return;
    }
    /* "default" without a record, or a name that is no user: the
     * --password holders, checked at once (the cluster's own secret, not
     * a user's), as "default". */
    if (rc == STORE_ENOENT && text_secret_equal(password, c.password, c.password_len)) {
        login_grant(rq, "default", then);
        return;
    }
    if (rc == STORE_ENOENT && !named) {
        login_refuse(rq, NULL);
        return;
    }
    if (u != NULL) {
        uint8_t mac[LOGIN_MAC_BYTES];
        login_mac(h->login, user, c.password, c.password_len, mac);
        if (cache_hit(h->login, user, mac)) {
            eventflow__user_record__free_unpacked(u, NULL);
            login_grant(rq, user, then);
            return;
        }
    }
    if (h->login->checks >= LOGIN_MAX_CHECKS) {
        if (u != NULL)
            eventflow__user_record__free_unpacked(u, NULL);
        respond_error(rq, 429, "TOOMANY", "TOOMANY password checks in progress; retry shortly");
        return;
    }
    /* A name that is no user goes through a dummy record: the same cost
     * as a wrong password, and never a match. */
    login_queue(rq, user, &c, u, generation, then);
    if (u != NULL)
        eventflow__user_record__free_unpacked(u, NULL);
}
