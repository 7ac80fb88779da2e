/* group.c - the single GROUP commands of eventflow/group.h: encode the
 * argument (group_wire.c), run it through the client's retry loop
 * (ef_ask), decode the answer. */
#include <string.h>

#include "client/group_wire.h"
#include "client/internal.h"

/* ---- answers -------------------------------------------------------------- */

static int answer_ok(struct eventflow_client *c, const char *what, const struct resp_value *reply, void *out)
{
    (void)out;
    if (reply->type != RESP_T_SIMPLE)
        return ef_fail(c, EF_EPROTO, "%s: unexpected reply to %s", c->last_node, what);
    return EF_OK;
}

/* A count into a uint64_t, or nowhere when out is NULL. */
static int answer_count(struct eventflow_client *c, const char *what, const struct resp_value *reply,
                        void *out)
{
    if (reply->type != RESP_T_INT || reply->integer < 0)
        return ef_fail(c, EF_EPROTO, "%s: %s did not answer a count", c->last_node, what);
    if (out != NULL)
        *(uint64_t *)out = (uint64_t)reply->integer;
    return EF_OK;
}

static int answer_batch(struct eventflow_client *c, const char *what, const struct resp_value *reply,
                        void *out)
{
    char err[EF_ERR_LEN];
    return ef_decoded(c, ef_group_batch_read(reply, out, err), what, err);
}

static int answer_info(struct eventflow_client *c, const char *what, const struct resp_value *reply, void *out)
{
    char err[EF_ERR_LEN];
    return ef_decoded(c, ef_group_info_read(reply, out, err), what, err);
}

static int answer_list(struct eventflow_client *c, const char *what, const struct resp_value *reply, void *out)
{
    char err[EF_ERR_LEN];
    return ef_decoded(c, ef_group_list_read(reply, out, err), what, err);
}

static int answer_pending(struct eventflow_client *c, const char *what, const struct resp_value *reply,
                          void *out)
{
    char err[EF_ERR_LEN];
    return ef_decoded(c, ef_group_pending_read(reply, out, err), what, err);
}

static int answer_parked(struct eventflow_client *c, const char *what, const struct resp_value *reply,
                         void *out)
{
    char err[EF_ERR_LEN];
    return ef_decoded(c, ef_group_parked_read(reply, out, err), what, err);
}

/* ---- asking ------------------------------------------------------------------ */

/* How a subcommand travels. */
struct group_cmd {
    const char *sub;  /* "CREATE" */
    const char *what; /* "GROUP CREATE", for messages */
    bool write;       /* to the leader, through the log */
    bool idempotent;  /* may be resent after a lost reply */
};

static const struct group_cmd CREATE = {"CREATE", "GROUP CREATE", true, false};
static const struct group_cmd DESTROY = {"DESTROY", "GROUP DESTROY", true, false};
static const struct group_cmd SEEK = {"SEEK", "GROUP SEEK", true, true};
static const struct group_cmd READ = {"READ", "GROUP READ", true, true};
static const struct group_cmd ACK = {"ACK", "GROUP ACK", true, true};
static const struct group_cmd NACK = {"NACK", "GROUP NACK", true, false};
static const struct group_cmd REPLAY = {"REPLAY", "GROUP REPLAY", true, false};
/* Not resent after a lost reply, like DESTROY: a second try would answer
 * NOCONSUMER for a deletion that succeeded. */
static const struct group_cmd DELCONSUMER = {"DELCONSUMER", "GROUP DELCONSUMER", true, false};
static const struct group_cmd INFO = {"INFO", "GROUP INFO", false, true};
static const struct group_cmd LIST = {"LIST", "GROUP LIST", false, true};
static const struct group_cmd PENDING = {"PENDING", "GROUP PENDING", false, true};
static const struct group_cmd PARKED = {"PARKED", "GROUP PARKED", false, true};

/* Send GROUP <sub> [arg] (arg NULL: none) unless encoding it failed (rc,
 * err), and read the answer into out. Frees arg. */
static int group_ask(struct eventflow_client *c, const struct group_cmd *g, struct buf *arg, int rc,
                     const char *err, int extra_wait_ms, answer_fn read, void *out)
{
    if (rc != EF_OK) {
        buf_free(arg);
        return ef_fail(c, rc, "%s: %s", g->what, err);
    }
    const char *argv[] = {"GROUP", g->sub, arg->data};
    const size_t lens[] = {5, strlen(g->sub), arg->len};
    struct ef_call call = {.route = g->write ? EF_ROUTE_LEADER : ef_client_read_route(c),
                           .argc = arg->len > 0 ? 3 : 2,
                           .argv = argv,
                           .lens = lens,
                           .idempotent = g->idempotent,
                           .is_write = g->write,
                           .extra_wait_ms = extra_wait_ms};
    rc = ef_ask(c, &call, g->what, read, out);
    buf_free(arg);
    return rc;
}

/* ---- the calls ------------------------------------------------------------------ */

int eventflow_group_create(struct eventflow_client *c, const struct eventflow_group_spec *spec)
{
    struct buf arg;
    buf_init(&arg);
    char err[EF_ERR_LEN];
    int rc = ef_group_json_create(&arg, spec, err);
    return group_ask(c, &CREATE, &arg, rc, err, 0, answer_ok, NULL);
}

int eventflow_group_destroy(struct eventflow_client *c, const char *group)
{
    struct buf arg;
    buf_init(&arg);
    char err[EF_ERR_LEN];
    int rc = ef_group_json_name(&arg, group, err);
    return group_ask(c, &DESTROY, &arg, rc, err, 0, answer_ok, NULL);
}

int eventflow_group_delete_consumer(struct eventflow_client *c, const char *group, const char *consumer)
{
    struct buf arg;
    buf_init(&arg);
    char err[EF_ERR_LEN];
    int rc = ef_group_json_consumer(&arg, group, consumer, err);
    return group_ask(c, &DELCONSUMER, &arg, rc, err, 0, answer_ok, NULL);
}

int eventflow_group_seek(struct eventflow_client *c, const char *group, const struct eventflow_group_position *to)
{
    struct buf arg;
    buf_init(&arg);
    char err[EF_ERR_LEN];
    int rc = ef_group_json_seek(&arg, group, to, err);
    return group_ask(c, &SEEK, &arg, rc, err, 0, answer_ok, NULL);
}

int eventflow_group_info(struct eventflow_client *c, const char *group, struct eventflow_group_info *out)
{
    memset(out, 0, sizeof *out);
    struct buf arg;
    buf_init(&arg);
    char err[EF_ERR_LEN];
    int rc = ef_group_json_name(&arg, group, err);
    return group_ask(c, &INFO, &arg, rc, err, 0, answer_info, out);
}

int eventflow_group_list(struct eventflow_client *c, struct eventflow_group_list *out)
{
    out->groups = NULL;
    out->n = 0;
    struct buf arg;
    buf_init(&arg);
    return group_ask(c, &LIST, &arg, EF_OK, "", 0, answer_list, out);
}

int eventflow_group_pending(struct eventflow_client *c, const char *group, const char *consumer,
                            const char *after, uint32_t count, struct eventflow_group_pending_list *out)
{
    out->entries = NULL;
    out->n = 0;
    struct buf arg;
    buf_init(&arg);
    char err[EF_ERR_LEN];
    int rc = ef_group_json_list(&arg, group, consumer, after, count, err);
    return group_ask(c, &PENDING, &arg, rc, err, 0, answer_pending, out);
}

int eventflow_group_parked(struct eventflow_client *c, const char *group, const char *after, uint32_t count,
                           struct eventflow_group_parked_list *out)
{
    out->entries = NULL;
    out->n = 0;
    struct buf arg;
    buf_init(&arg);
    char err[EF_ERR_LEN];
    int rc = ef_group_json_list(&arg, group, NULL, after, count, err);
    return group_ask(c, &PARKED, &arg, rc, err, 0, answer_parked, out);
}

int eventflow_group_read(struct eventflow_client *c, const char *group, const char *consumer, uint32_t count,
                         uint32_t block_ms, struct eventflow_group_batch *out)
{
    out->events = NULL;
    out->n = 0;
    struct buf arg;
    buf_init(&arg);
    char err[EF_ERR_LEN];
    int rc = ef_group_json_read(&arg, group, consumer, count, block_ms, err);
    return group_ask(c, &READ, &arg, rc, err, (int)block_ms, answer_batch, out);
}

int eventflow_group_ack(struct eventflow_client *c, const char *group, const char *const *ids, size_t n,
                        uint64_t *acked)
{
    struct buf arg;
    buf_init(&arg);
    char err[EF_ERR_LEN];
    int rc = ef_group_json_ids(&arg, group, ids, n, false, err);
    return group_ask(c, &ACK, &arg, rc, err, 0, answer_count, acked);
}

int eventflow_group_nack(struct eventflow_client *c, const char *group, const char *const *ids, size_t n,
                         bool park, uint64_t *given_back)
{
    struct buf arg;
    buf_init(&arg);
    char err[EF_ERR_LEN];
    int rc = ef_group_json_ids(&arg, group, ids, n, park, err);
    return group_ask(c, &NACK, &arg, rc, err, 0, answer_count, given_back);
}

int eventflow_group_replay(struct eventflow_client *c, const char *group, const char *const *ids, size_t n,
                           uint32_t count, uint64_t *replayed)
{
    struct buf arg;
    buf_init(&arg);
    char err[EF_ERR_LEN];
    int rc = n > 0 ? ef_group_json_ids(&arg, group, ids, n, false, err)
                   : ef_group_json_replay_count(&arg, group, count, err);
    return group_ask(c, &REPLAY, &arg, rc, err, 0, answer_count, replayed);
}
