/* membership.c - a node's identity and how it enters a cluster.
 *
 * Identity. DATA/node-id holds "<id> <incarnation>": the node id the
 * directory belongs to and a random incarnation drawn when the directory was
 * first used. Every member records its incarnation, with its client and TLS
 * addresses, in the replicated members table (CLUSTER REGISTER, sent to the
 * leader until it is recorded).
 *
 * A wiped directory must not rejoin under its old id: it has forgotten its
 * votes and the entries it acknowledged, which can elect a second leader in a
 * term or lose committed entries. So a node starting on an empty directory
 * first asks the other members (CLUSTER MEMBERS): if any of them knows this
 * id with an incarnation, the directory was wiped and the node refuses to
 * start, saying how to remove it and add it back under a new id. If no peer
 * answers (the whole cluster is starting for the first time) it proceeds.
 *
 * Joining. A node started with --join HOST:PORT and an empty directory does
 * not bootstrap; it asks the cluster (following -MOVED to the leader) to add
 * it as a spare, then to promote it to voter. Raft catches it up from the
 * log or a snapshot before the promotion completes. */
#include "node/membership.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "node/node_internal.h"
#include "node/peer.h"

#define MEMBERSHIP_TICK_MS 1000
#define PREFLIGHT_TIMEOUT_MS 1500
#define JOIN_TIMEOUT_MS 10000
#define PROMOTE_TIMEOUT_MS 120000
#define MAX_REDIRECTS 4

/* ---- identity file ----------------------------------------------------- */

static int write_identity(const char *path, uint64_t id, uint64_t incarnation)
{
    char tmp[4200];
    char line[64];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int len = snprintf(line, sizeof line, "%" PRIu64 " %016" PRIx64 "\n", id, incarnation);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    bool ok = write(fd, line, (size_t)len) == len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0)
        return -1;
    return 0;
}

int membership_load_identity(struct node *n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/node-id", n->cfg->data_dir);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        unsigned long long id = 0, inc = 0;
        int got = fscanf(f, "%llu %llx", &id, &inc);
        fclose(f);
        if (got != 2 || id == 0) {
            log_error("%s is unreadable; refusing to guess this directory's identity", path);
            return -1;
        }
        if (id != n->cfg->id) {
            log_error("data directory %s belongs to node %llu, not node %" PRIu64
                      "; start with --id %llu or use another directory",
                      n->cfg->data_dir, id, n->cfg->id, id);
            return -1;
        }
        n->incarnation = inc;
        n->pristine = false;
        return 0;
    }
    if (errno != ENOENT) {
        log_error("cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    uint64_t inc = 0;
    while (inc == 0) {
        if (getrandom(&inc, sizeof inc, 0) != (ssize_t)sizeof inc) {
            log_error("getrandom: %s", strerror(errno));
            return -1;
        }
    }
    n->incarnation = inc;
    n->pristine = true;
    return 0;
}

static int persist_identity(struct node *n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/node-id", n->cfg->data_dir);
    if (write_identity(path, n->cfg->id, n->incarnation) != 0) {
        log_error("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- preflight: is this id known with another directory? ----------------- */

struct preflight {
    struct node *node;
    membership_cb cb;
    unsigned pending;
    bool refuse;
    uint64_t known_incarnation;
    char who[NODE_ADDR_MAX];
};

static void preflight_finish(struct preflight *p)
{
    struct node *n = p->node;
    int status = 0;
    if (p->refuse) {
        log_error("this node's data directory is empty, but the cluster (asked %s) already knows node %" PRIu64
                  " from an earlier data directory (incarnation %016" PRIx64
                  "). A wiped node must not rejoin under its old id: remove it with "
                  "'eventflowctl member remove %" PRIu64 "' (or CLUSTER REMOVE %" PRIu64
                  "), then start this node with a new --id and --join %s",
                  p->who, n->cfg->id, p->known_incarnation, n->cfg->id, n->cfg->id, p->who);
        status = -1;
    } else if (persist_identity(n) != 0) {
        status = -1;
    }
    membership_cb cb = p->cb;
    free(p);
    cb(n, status);
}

/* Does a CLUSTER MEMBERS reply list our id with an incarnation? */
static uint64_t reply_knows(const struct resp_value *reply, uint64_t id)
{
    if (reply->type != RESP_T_ARRAY)
        return 0;
    for (size_t i = 0; i < reply->n; i++) {
        const struct resp_value *e = &reply->elems[i];
        if (e->type != RESP_T_BULK)
            continue;
        json_t *j = json_loadb(e->str, e->len, 0, NULL);
        if (j == NULL)
            continue;
        uint64_t mid = (uint64_t)json_integer_value(json_object_get(j, "id"));
        const char *inc = json_string_value(json_object_get(j, "incarnation"));
        uint64_t v = 0;
        if (mid == id && inc != NULL)
            v = strtoull(inc, NULL, 16);
        json_decref(j);
        if (v != 0)
            return v;
    }
    return 0;
}

struct preflight_probe {
    struct preflight *p;
    char address[NODE_ADDR_MAX];
};

static void preflight_probe_cb(void *arg, int status, const struct resp_value *reply)
{
    struct preflight_probe *probe = arg;
    struct preflight *p = probe->p;
    if (status == 0) {
        uint64_t inc = reply_knows(reply, p->node->cfg->id);
        if (inc != 0 && inc != p->node->incarnation) {
            p->refuse = true;
            p->known_incarnation = inc;
            snprintf(p->who, sizeof p->who, "%s", probe->address);
        }
    }
    free(probe);
    if (--p->pending == 0)
        preflight_finish(p);
}

static void preflight_ask(struct preflight *p, const char *address)
{
    struct preflight_probe *probe = xcalloc(1, sizeof *probe);
    probe->p = p;
    snprintf(probe->address, sizeof probe->address, "%s", address);
    const char *argv[] = {"CLUSTER", "MEMBERS"};
    p->pending++;
    int rv = peer_request(p->node->loop, address, NULL, p->node->cfg->peer_token, 2, argv, PREFLIGHT_TIMEOUT_MS,
                          preflight_probe_cb, probe);
    if (rv != 0)
        preflight_probe_cb(probe, rv, NULL);
}

void membership_preflight(struct node *n, membership_cb cb)
{
    if (!n->pristine) {
        cb(n, 0);
        return;
    }
    struct preflight *p = xcalloc(1, sizeof *p);
    p->node = n;
    p->cb = cb;
    p->pending = 1; /* held while asking */
    for (size_t i = 0; i < n->cfg->n_members; i++)
        if (n->cfg->members[i].id != n->cfg->id)
            preflight_ask(p, n->cfg->members[i].client_address);
    if (n->cfg->join[0] != '\0')
        preflight_ask(p, n->cfg->join);
    if (--p->pending == 0)
        preflight_finish(p);
}

/* ---- join and register: retried every tick until done ------------------ */

enum join_step { JOIN_ADD, JOIN_PROMOTE, JOIN_DONE };

static void membership_send(struct node *n, const char *address, int redirects);

/* Pick the address of a "-MOVED <slot> host:port" error, if it is one. */
static bool moved_target(const struct resp_value *reply, char *out, size_t cap)
{
    if (reply->type != RESP_T_ERROR || strncmp(reply->str, "MOVED ", 6) != 0)
        return false;
    const char *sp = strchr(reply->str + 6, ' ');
    if (sp == NULL || strlen(sp + 1) >= cap)
        return false;
    snprintf(out, cap, "%s", sp + 1);
    return true;
}

struct membership_req {
    struct node *node;
    int redirects;
};

static void membership_reply(void *arg, int status, const struct resp_value *reply)
{
    struct membership_req *r = arg;
    struct node *n = r->node;
    int redirects = r->redirects;
    free(r);
    n->membership_busy = false;
    if (n->closing)
        return;
    if (status != 0) {
        log_debug("membership request: %s", uv_strerror(status));
        return;
    }
    char target[NODE_ADDR_MAX];
    if (moved_target(reply, target, sizeof target)) {
        if (redirects < MAX_REDIRECTS)
            membership_send(n, target, redirects + 1);
        return;
    }
    bool ok = reply->type == RESP_T_SIMPLE ||
              (reply->type == RESP_T_ERROR && (strstr(reply->str, "already in use") != NULL ||
                                               strstr(reply->str, "already has that role") != NULL));
    if (!ok) {
        log_info("membership request answered: %s", reply->str ? reply->str : "?");
        return;
    }
    if (n->join_step == JOIN_ADD) {
        log_info("added to the cluster as a spare; asking for promotion to voter");
        n->join_step = JOIN_PROMOTE;
        membership_send(n, n->cfg->join, 0);
    } else if (n->join_step == JOIN_PROMOTE) {
        log_info("promoted to voter");
        n->join_step = JOIN_DONE;
    }
}

static void membership_send(struct node *n, const char *address, int redirects)
{
    char id[24], inc[24];
    snprintf(id, sizeof id, "%" PRIu64, n->cfg->id);
    snprintf(inc, sizeof inc, "%016" PRIx64, n->incarnation);
    const char *argv[6];
    int argc;
    unsigned timeout = JOIN_TIMEOUT_MS;
    if (n->join_step == JOIN_ADD) {
        argv[0] = "CLUSTER", argv[1] = "ADD", argv[2] = id, argv[3] = n->cfg->raft_address;
        argv[4] = n->cfg->advertise, argv[5] = inc;
        argc = 6;
    } else if (n->join_step == JOIN_PROMOTE) {
        argv[0] = "CLUSTER", argv[1] = "PROMOTE", argv[2] = id, argv[3] = "voter";
        argc = 4;
        timeout = PROMOTE_TIMEOUT_MS; /* the leader answers after catch-up */
    } else {
        argv[0] = "CLUSTER", argv[1] = "REGISTER", argv[2] = id, argv[3] = n->cfg->advertise, argv[4] = inc;
        argc = 5;
        /* Only with one, so that a leader of a version before TLS
         * addresses, which takes five arguments, still registers us. */
        if (n->cfg->tls_advertise[0] != '\0')
            argv[argc++] = n->cfg->tls_advertise;
    }
    struct membership_req *r = xcalloc(1, sizeof *r);
    r->node = n;
    r->redirects = redirects;
    n->membership_busy = true;
    int rv = peer_request(n->loop, address, NULL, n->cfg->peer_token, argc, argv, timeout, membership_reply, r);
    if (rv != 0) {
        free(r);
        n->membership_busy = false;
    }
}

static void membership_tick(uv_timer_t *t)
{
    struct node *n = t->data;
    if (n->closing || n->membership_busy)
        return;
    if (n->join_step != JOIN_DONE) {
        membership_send(n, n->cfg->join, 0);
        return;
    }
    /* Registered once the replicated table holds our address and
     * incarnation. The leader records itself; others ask the leader. */
    if (node_registered(n))
        return;
    if (raft_state(&n->raft) == RAFT_LEADER) {
        if (n->ready)
            node_publish_self(n);
        return;
    }
    char leader[NODE_ADDR_MAX];
    if (node_leader_client_address(n, leader, sizeof leader) == 0)
        membership_send(n, leader, 0);
}

void membership_start(struct node *n)
{
    n->join_step = (n->pristine && n->cfg->join[0] != '\0') ? JOIN_ADD : JOIN_DONE;
    uv_timer_init(n->loop, &n->membership_timer);
    n->membership_timer.data = n;
    uv_timer_start(&n->membership_timer, membership_tick, n->join_step == JOIN_ADD ? 0 : MEMBERSHIP_TICK_MS,
                   MEMBERSHIP_TICK_MS);
}

void membership_stop(struct node *n)
{
    if (uv_is_active((uv_handle_t *)&n->membership_timer) || n->membership_timer.data != NULL) {
        uv_timer_stop(&n->membership_timer);
        uv_close((uv_handle_t *)&n->membership_timer, NULL);
        n->membership_timer.data = NULL;
    }
}
