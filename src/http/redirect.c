/* redirect.c - a write sent to a follower (-MOVED 0 <leader's client
 * address>) answered 307 Temporary Redirect to the leader's HTTP address,
 * so an HTTP client follows it with the same method and body.
 *
 * Nodes know each other's client (RESP) addresses (membership records,
 * what -MOVED names) but not their HTTP ones, and the HTTP address is not
 * added to what they replicate: the follower asks the leader, at that
 * client address, for its STATUS, whose "http_address" the leader's HTTP
 * listener sets (--http-advertise), and keeps the answer for
 * REDIRECT_CACHE_MS. Requests arriving while the question is out wait for
 * it. A leader without an HTTP listener, or one that cannot be asked,
 * leaves the answer at 421 with the MOVED error. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "http/http_internal.h"
#include "http/reply.h"
#include "node/node.h"
#include "node/node_config.h"
#include "node/peer.h"
#include "server/config.h"
#include "server/server.h"

#define REDIRECT_CACHE_MS 10000
#define REDIRECT_ASK_TIMEOUT_MS 1000

/* A request waiting for the leader's HTTP address. Owned by the list of
 * waiters; the request's pool holds a pointer to it whose disposal (the
 * client gone) forgets the request. */
struct redirect_wait {
    struct http_request *rq;   /* NULL once the request is gone */
    char *moved;               /* owned: the MOVED error's text */
    size_t moved_len;
    struct redirect_wait **holder; /* in the request's pool, while rq is set */
    struct redirect_wait *next;
};

static void redirect_wait_free(struct redirect_wait *w)
{
    free(w->moved);
    free(w);
}

struct redirect {
    char client[NODE_ADDR_MAX];   /* the leader's client address asked */
    char http[NODE_ADDR_MAX];     /* its HTTP address; empty: it has none */
    uint64_t known_at;            /* uv_now when http was learned; 0: never */
    bool asking;
    struct redirect_wait *waiting;
};

/* The 421 answer: the MOVED error as it is. */
static void redirect_moved(struct http_request *rq, const char *moved, size_t len)
{
    struct buf body;
    buf_init(&body);
    reply_error(&body, "MOVED", moved, len);
    respond_json(rq, 421, body.data, body.len);
    buf_free(&body);
}

static void redirect_send(struct http_request *rq, const char *http, const char *moved, size_t len)
{
    h2o_req_t *req = rq->req;
    /* Every node of a cluster is given the same TLS settings: the leader
     * speaks what this node speaks. */
    const char *scheme = rq->http->tls != NULL ? "https" : "http";
    size_t n = strlen(scheme) + strlen("://") + strlen(http) + req->path.len + 1;
    char *location = h2o_mem_alloc_pool(&req->pool, n);
    snprintf(location, n, "%s://%s%.*s", scheme, http, (int)req->path.len, req->path.base);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LOCATION, NULL, location, strlen(location));
    struct buf body;
    buf_init(&body);
    reply_error(&body, "MOVED", moved, len);
    respond_json(rq, 307, body.data, body.len);
    buf_free(&body);
}

/* Whether a peer's HTTP address can go into a Location header as it is:
 * visible ASCII only (a host:port or [v6]:port), so nothing a peer says
 * can end the header or start another. */
static bool redirect_address_ok(const char *a)
{
    if (*a == '\0')
        return false;
    for (; *a != '\0'; a++) {
        if (*a <= ' ' || *a > '~')
            return false;
    }
    return true;
}

static void redirect_wait_dispose(void *p)
{
    struct redirect_wait *w = *(struct redirect_wait **)p;
    if (w != NULL)
        w->rq = NULL;
}

static void redirect_answered(void *arg, int status, const struct resp_value *reply)
{
    struct http *h = arg;
    struct redirect *r = h->redirect;
    r->asking = false;
    r->http[0] = '\0';
    if (status == 0 && reply->type == RESP_T_BULK) {
        json_t *st = json_loadb(reply->str, reply->len, 0, NULL);
        const char *http = json_string_value(json_object_get(st, "http_address"));
        if (http != NULL && strlen(http) < sizeof r->http && redirect_address_ok(http))
            memcpy(r->http, http, strlen(http) + 1);
        json_decref(st);
    } else if (status != 0) {
        log_debug("http: asking the leader %s for its HTTP address: %s", r->client, uv_strerror(status));
    }
    r->known_at = uv_now(h->loop) | 1;
    struct redirect_wait *w = r->waiting;
    r->waiting = NULL;
    while (w != NULL) {
        struct redirect_wait *next = w->next;
        struct http_request *rq = w->rq;
        if (rq != NULL) {
            *w->holder = NULL; /* answering may dispose of the request */
            w->rq = NULL;
            if (r->http[0] != '\0')
                redirect_send(rq, r->http, w->moved, w->moved_len);
            else
                redirect_moved(rq, w->moved, w->moved_len);
        }
        redirect_wait_free(w);
        w = next;
    }
}

void redirect_reply(struct http_request *rq, const char *moved, size_t len)
{
    struct http *h = rq->http;
    if (h->redirect == NULL)
        h->redirect = xcalloc(1, sizeof *h->redirect);
    struct redirect *r = h->redirect;
    /* "MOVED 0 host:port": the leader's client address. */
    static const char prefix[] = "MOVED 0 ";
    if (len <= sizeof prefix - 1 || len - (sizeof prefix - 1) >= sizeof r->client ||
        memcmp(moved, prefix, sizeof prefix - 1) != 0) {
        redirect_moved(rq, moved, len);
        return;
    }
    char client[NODE_ADDR_MAX];
    memcpy(client, moved + sizeof prefix - 1, len - (sizeof prefix - 1));
    client[len - (sizeof prefix - 1)] = '\0';
    bool same = strcmp(client, r->client) == 0;
    if (same && r->known_at != 0 && uv_now(h->loop) - r->known_at < REDIRECT_CACHE_MS) {
        if (r->http[0] != '\0')
            redirect_send(rq, r->http, moved, len);
        else
            redirect_moved(rq, moved, len);
        return;
    }
    if (r->asking && !same) {
        /* The leader changed while asking the old one: not worth a wait. */
        redirect_moved(rq, moved, len);
        return;
    }
    if (!r->asking) {
        memcpy(r->client, client, sizeof client);
        const char *argv[] = {"STATUS"};
        /* Over TLS to the leader's TLS port when the node runs raft TLS
         * (node/peer.h); the cache stays keyed by the client address. */
        char to[NODE_ADDR_MAX];
        struct raft_tls *tls = NULL;
        if (node_leader_peer_address(h->srv->node, to, sizeof to, &tls) != 0 || tls == NULL) {
            snprintf(to, sizeof to, "%s", client);
            tls = NULL;
        }
        int rv = peer_request(h->loop, to, tls, config_peer_token(h->cfg), 1, argv, REDIRECT_ASK_TIMEOUT_MS,
                              redirect_answered, h);
        if (rv != 0) {
            redirect_moved(rq, moved, len);
            return;
        }
        r->asking = true;
    }
    struct redirect_wait *w = xcalloc(1, sizeof *w);
    w->rq = rq;
    w->moved = xmemdup(moved, len);
    w->moved_len = len;
    w->holder = h2o_mem_alloc_shared(&rq->req->pool, sizeof *w->holder, redirect_wait_dispose);
    *w->holder = w;
    w->next = r->waiting;
    r->waiting = w;
}

void redirect_free(struct http *h)
{
    struct redirect *r = h->redirect;
    if (r == NULL)
        return;
    while (r->waiting != NULL) {
        struct redirect_wait *w = r->waiting;
        r->waiting = w->next;
        if (w->rq != NULL)
            *w->holder = NULL; /* its request, disposed later, must not reach w */
        redirect_wait_free(w);
    }
    free(r);
    h->redirect = NULL;
}
