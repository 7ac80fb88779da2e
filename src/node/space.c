/* space.c - the leader's view of the room left in every member's store
 * (see space.h).
 *
 * What a member has not applied yet when it measures is not in its room.
 * Its report carries the index it had applied; the leader keeps, once per
 * poll, the pair (raft's last index, bytes proposed so far), and counts
 * against the member everything proposed after the newest pair at or below
 * that index: never less than what the member still has to apply. A member
 * further behind than the oldest pair (two minutes) is charged from the
 * oldest one. */
#include "node/space.h"

#include <jansson.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "node/node_config.h"
#include "node/node_internal.h"
#include "node/peer.h"

#define SPACE_POLL_MS 500
#define SPACE_REQUEST_TIMEOUT_MS 2000
#define SPACE_REPORT_MAX_AGE_MS 5000
/* What a member must keep free besides the entries: as store_space_check. */
#define SPACE_MARGIN ((uint64_t)1 << 20)

struct space_probe {
    struct space *sp;
    uint64_t id;
};

static struct space_report *space_report_of(struct space *sp, uint64_t id)
{
    for (size_t i = 0; i < sp->n_reports; i++)
        if (sp->reports[i].id == id)
            return &sp->reports[i];
    return NULL;
}

/* Members that apply entries: voters and standbys (a spare gets none). */
static bool space_applies(const struct raft_server *s)
{
    return s->role != RAFT_SPARE;
}

static bool space_member_applies(const struct node *n, uint64_t id)
{
    const struct raft_configuration *conf = &n->raft.configuration;
    for (unsigned i = 0; i < conf->n; i++)
        if (conf->servers[i].id == id)
            return space_applies(&conf->servers[i]);
    return false;
}

/* `proposed` as of raft index `applied`, rounded down to a poll, so that
 * what was proposed since is never under-counted (0 without marks: all of
 * it). Marks taken later have indexes at or past the leader's last one,
 * which no member's applied index exceeds: the answer stays valid, and is
 * computed once per report instead of for every ADD. */
static uint64_t space_proposed_at(const struct space *sp, uint64_t applied)
{
    if (sp->n_marks == 0)
        return 0;
    const struct space_mark *best = &sp->marks[sp->first_mark];
    for (size_t k = 0; k < sp->n_marks; k++) {
        const struct space_mark *m = &sp->marks[(sp->first_mark + k) % SPACE_MARKS];
        if (m->index > applied)
            break;
        best = m;
    }
    return best->proposed;
}

static void space_answer(void *arg, int status, const struct resp_value *reply)
{
    struct space_probe *p = arg;
    struct space *sp = p->sp;
    uint64_t id = p->id;
    free(p);
    struct space_report *r = space_report_of(sp, id);
    if (r == NULL)
        return;
    r->asking = false;
    if (!sp->open || status != 0 || reply->type != RESP_T_BULK)
        return;
    json_t *st = json_loadb(reply->str, reply->len, 0, NULL);
    if (st == NULL)
        return;
    json_t *room = json_object_get(st, "map_room_bytes");
    json_t *applied = json_object_get(st, "store_applied_index");
    /* An older member answers without the fields: it is not counted. */
    if ((uint64_t)json_integer_value(json_object_get(st, "id")) == id && json_is_integer(room) &&
        json_is_integer(applied)) {
        r->room = (uint64_t)json_integer_value(room);
        r->proposed_at = space_proposed_at(sp, (uint64_t)json_integer_value(applied));
        r->at_ms = uv_now(sp->node->loop);
    }
    json_decref(st);
}

static void space_ask(struct space *sp, uint64_t id)
{
    struct space_report *r = space_report_of(sp, id);
    if (r == NULL) {
        if (sp->n_reports == SPACE_MAX_MEMBERS)
            return;
        r = &sp->reports[sp->n_reports++];
        memset(r, 0, sizeof *r);
        r->id = id;
    }
    if (r->asking)
        return;
    char client[NODE_ADDR_MAX];
    struct raft_tls *tls;
    if (node_member_peer_address(sp->node, id, client, sizeof client, &tls) != 0 || client[0] == '\0')
        return;
    struct space_probe *p = xcalloc(1, sizeof *p);
    p->sp = sp;
    p->id = id;
    const char *argv[] = {"STATUS"};
    if (peer_request(sp->node->loop, client, tls, sp->node->cfg->peer_token, 1, argv, SPACE_REQUEST_TIMEOUT_MS,
                     space_answer, p) != 0) {
        free(p);
        return;
    }
    r->asking = true;
}

static void space_mark(struct space *sp)
{
    struct space_mark m = {.index = raft_last_index(&sp->node->raft), .proposed = sp->proposed};
    if (sp->n_marks < SPACE_MARKS) {
        sp->marks[(sp->first_mark + sp->n_marks++) % SPACE_MARKS] = m;
    } else {
        sp->marks[sp->first_mark] = m;
        sp->first_mark = (sp->first_mark + 1) % SPACE_MARKS;
    }
}

static void space_tick(uv_timer_t *t)
{
    struct space *sp = t->data;
    struct node *n = sp->node;
    bool leading = raft_state(&n->raft) == RAFT_LEADER;
    if (!leading || sp->term != n->raft.current_term) {
        /* Reports and marks belong to one term of ours: in between, another
         * leader appended entries that `proposed` does not count. Requests
         * in flight keep their slots until they answer. */
        for (size_t i = 0; i < sp->n_reports; i++)
            sp->reports[i].at_ms = 0;
        sp->n_marks = sp->first_mark = 0;
        sp->term = n->raft.current_term;
    }
    if (!leading)
        return;
    space_mark(sp);
    const struct raft_configuration *conf = &n->raft.configuration;
    for (unsigned i = 0; i < conf->n; i++)
        if (conf->servers[i].id != n->cfg->id && space_applies(&conf->servers[i]))
            space_ask(sp, conf->servers[i].id);
}

int space_start(struct space *sp, struct node *n)
{
    memset(sp, 0, sizeof *sp);
    sp->node = n;
    int rv = uv_timer_init(n->loop, &sp->timer);
    if (rv != 0)
        return rv;
    sp->timer.data = sp;
    sp->open = true;
    return uv_timer_start(&sp->timer, space_tick, SPACE_POLL_MS, SPACE_POLL_MS);
}

void space_close(struct space *sp)
{
    if (!sp->open)
        return;
    sp->open = false;
    uv_timer_stop(&sp->timer);
    uv_close((uv_handle_t *)&sp->timer, NULL);
}

void space_proposed(struct space *sp, uint64_t bytes)
{
    sp->proposed += bytes;
}

static bool space_counts(const struct space *sp, const struct space_report *r, uint64_t now)
{
    return r->at_ms != 0 && now - r->at_ms <= SPACE_REPORT_MAX_AGE_MS && space_member_applies(sp->node, r->id);
}

bool space_answered_within(const struct space *sp, uint64_t id, uint64_t max_age_ms)
{
    if (!sp->open || sp->term != sp->node->raft.current_term)
        return false;
    uint64_t now = uv_now(sp->node->loop);
    for (size_t i = 0; i < sp->n_reports; i++) {
        const struct space_report *r = &sp->reports[i];
        if (r->id == id)
            return r->at_ms != 0 && now - r->at_ms <= max_age_ms;
    }
    return false;
}

size_t space_reports(const struct space *sp)
{
    if (!sp->open || sp->term != sp->node->raft.current_term)
        return 0;
    uint64_t now = uv_now(sp->node->loop);
    size_t k = 0;
    for (size_t i = 0; i < sp->n_reports; i++)
        k += space_counts(sp, &sp->reports[i], now);
    return k;
}

int space_check(struct space *sp, uint64_t bytes, uint64_t *member)
{
    /* A new term's reports are not in yet (space_tick clears the old). */
    if (!sp->open || sp->term != sp->node->raft.current_term)
        return 0;
    uint64_t now = uv_now(sp->node->loop);
    for (size_t i = 0; i < sp->n_reports; i++) {
        const struct space_report *r = &sp->reports[i];
        if (!space_counts(sp, r, now))
            continue;
        /* Twice the bytes: LMDB's pages are not full, and a batch's commit
         * writes the pages it touched anew before the old ones are free. */
        uint64_t entries = bytes + (sp->proposed - r->proposed_at);
        uint64_t need = entries > (UINT64_MAX - SPACE_MARGIN) / 2 ? UINT64_MAX : 2 * entries + SPACE_MARGIN;
        if (r->room < need) {
            *member = r->id;
            return -1;
        }
    }
    return 0;
}
