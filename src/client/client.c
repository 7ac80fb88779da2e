/* client.c - the client object, the retry loop, and the blocking calls.
 *
 * Every call goes through ef_call_run: route (discovery.c), connect, send,
 * read, and decide from the reply (retry.c) whether it is the answer or
 * whether to go elsewhere, wait and try again, or give up. The public
 * functions below only encode their request (json.c), ask (ask, ask_word,
 * ask_json), and name the answer_* function that reads the reply. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "common/mem.h"

int ef_fail(struct eventflow_client *c, int code, const char *fmt, ...)
{
    /* Format aside first: the arguments may point into c->err itself. */
    char msg[sizeof c->err];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(c->err, msg, sizeof msg);
    return code;
}

/* ---- lifecycle -------------------------------------------------------- */

void eventflow_options_init(struct eventflow_options *opts)
{
    memset(opts, 0, sizeof *opts);
}

static int resolve_timeout(int given, int dflt, int *out)
{
    if (given < 0)
        return -1;
    *out = given == 0 ? dflt : given;
    return 0;
}

/* An option, else its environment variable (NULL when neither). */
static const char *option_or_env(const char *given, const char *env)
{
    return given != NULL ? given : getenv(env);
}

/* The TLS context the options ask for into *out (NULL: plaintext).
 * Returns 0, or -1 if its files cannot be used. */
static int client_tls(const struct eventflow_options *opts, struct ef_tls **out)
{
    const char *on = getenv(EF_TLS_ENV);
    *out = NULL;
    if (!opts->tls && (on == NULL || strcmp(on, "1") != 0))
        return 0;
    char why[400];
    *out = ef_tls_new(option_or_env(opts->tls_ca_file, EF_TLS_CA_ENV),
                      option_or_env(opts->tls_cert_file, EF_TLS_CERT_ENV),
                      option_or_env(opts->tls_key_file, EF_TLS_KEY_ENV), !opts->tls_no_verify_name, why, sizeof why);
    return *out != NULL ? 0 : -1;
}

int eventflow_client_new(const struct eventflow_options *opts, struct eventflow_client **out)
{
    struct eventflow_options dflt;
    *out = NULL;
    if (opts == NULL) {
        eventflow_options_init(&dflt);
        opts = &dflt;
    }
    struct eventflow_client *c = xcalloc(1, sizeof *c);
    if (resolve_timeout(opts->connect_timeout_ms, EF_DEFAULT_CONNECT_TIMEOUT_MS,
                        &c->connect_timeout_ms) != 0 ||
        resolve_timeout(opts->request_timeout_ms, EF_DEFAULT_REQUEST_TIMEOUT_MS,
                        &c->request_timeout_ms) != 0 ||
        resolve_timeout(opts->retry_deadline_ms, EF_DEFAULT_RETRY_DEADLINE_MS,
                        &c->retry_deadline_ms) != 0 ||
        (unsigned)opts->read_preference > EF_READ_ANY ||
        (unsigned)opts->consistency > EF_CONSISTENCY_LINEARIZABLE) {
        free(c);
        return EF_EINVAL;
    }
    c->read_preference = opts->read_preference;
    c->consistency = opts->consistency;
    c->send_keys = !opts->no_idempotency_keys;

    const char *list = opts->endpoints;
    if (list == NULL || list[0] == '\0')
        list = getenv(EF_ENDPOINTS_ENV);
    if (list == NULL || list[0] == '\0')
        list = EF_DEFAULT_ENDPOINT;
    char why[200];
    if (ef_endpoints_parse(list, &c->seeds, &c->n_seeds, why, sizeof why) != 0) {
        free(c);
        return EF_EINVAL;
    }
    if (client_tls(opts, &c->tls) != 0) {
        free(c->seeds);
        free(c);
        return EF_EINVAL;
    }
    if (opts->password != NULL)
        c->password = xstrdup(opts->password);
    if (opts->user != NULL)
        c->user = xstrdup(opts->user);

    c->nodes = xcalloc(c->n_seeds, sizeof *c->nodes);
    for (size_t i = 0; i < c->n_seeds; i++) {
        c->nodes[i].ep = c->seeds[i];
        ef_conn_init(&c->nodes[i].conn);
    }
    c->n_nodes = c->n_seeds;
    c->leader = -1;
    c->reader = -1;
    c->view_stale = true;
    ef_rng_seed(&c->rng);
    *out = c;
    return EF_OK;
}

struct eventflow_client *ef_client_clone(const struct eventflow_client *c)
{
    struct eventflow_client *d = xcalloc(1, sizeof *d);
    d->connect_timeout_ms = c->connect_timeout_ms;
    d->request_timeout_ms = c->request_timeout_ms;
    d->retry_deadline_ms = c->retry_deadline_ms;
    d->read_preference = c->read_preference;
    d->consistency = c->consistency;
    d->send_keys = c->send_keys;
    d->tls = ef_tls_clone(c->tls);
    d->password = c->password != NULL ? xstrdup(c->password) : NULL;
    d->user = c->user != NULL ? xstrdup(c->user) : NULL;
    d->seeds = xcalloc(c->n_seeds, sizeof *d->seeds);
    memcpy(d->seeds, c->seeds, c->n_seeds * sizeof *d->seeds);
    d->n_seeds = c->n_seeds;
    /* The view without its connections: those stay with c. */
    d->nodes = xcalloc(c->n_nodes > 0 ? c->n_nodes : 1, sizeof *d->nodes);
    for (size_t i = 0; i < c->n_nodes; i++) {
        d->nodes[i].ep = c->nodes[i].ep;
        d->nodes[i].id = c->nodes[i].id;
        d->nodes[i].failed_at = c->nodes[i].failed_at;
        ef_conn_init(&d->nodes[i].conn);
    }
    d->n_nodes = c->n_nodes;
    d->leader = c->leader;
    d->reader = -1;
    d->members_known = c->members_known;
    d->view_stale = c->view_stale;
    memcpy(d->last_written, c->last_written, sizeof d->last_written);
    memcpy(d->leader_addr, c->leader_addr, sizeof d->leader_addr);
    ef_rng_seed(&d->rng);
    return d;
}

void eventflow_client_free(struct eventflow_client *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n_nodes; i++)
        ef_conn_close(&c->nodes[i].conn);
    free(c->nodes);
    free(c->seeds);
    ef_tls_free(c->tls);
    if (c->password != NULL) {
        /* Do not leave the password in freed memory. */
        volatile char *p = c->password;
        while (*p)
            *p++ = '\0';
        free(c->password);
    }
    free(c->user);
    free(c);
}

const char *eventflow_client_last_error(const struct eventflow_client *c)
{
    return c->err;
}

const char *eventflow_client_last_node(const struct eventflow_client *c)
{
    return c->last_node;
}

const char *eventflow_client_leader(const struct eventflow_client *c)
{
    return c->leader_addr;
}

const char *eventflow_client_last_written_id(const struct eventflow_client *c)
{
    return c->last_written;
}

/* ---- helpers shared with iter.c and pipeline.c ------------------------ */

void ef_client_keygen(void *client, char *out)
{
    struct eventflow_client *c = client;
    uint64_t a = ef_rng_next(&c->rng), b = ef_rng_next(&c->rng);
    snprintf(out, EF_GEN_KEY_LEN + 1, "%016" PRIx64 "%016" PRIx64, a, b);
}

void ef_client_note_written(struct eventflow_client *c, const struct eventflow_event_list *l)
{
    /* ULID text sorts like the ids themselves, which grow in commit order. */
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->events[i].id, c->last_written) > 0)
            memcpy(c->last_written, l->events[i].id, EF_ID_LEN + 1);
}

void ef_client_read_opts(const struct eventflow_client *c, struct ef_read_opts *o)
{
    memset(o, 0, sizeof *o);
    if (c->consistency == EF_CONSISTENCY_READ_YOUR_WRITES)
        o->min_id = c->last_written;
    o->linearizable = c->consistency == EF_CONSISTENCY_LINEARIZABLE;
    /* Let the server give up on a wait (min_id, barrier) before our own
     * request timeout does, so the answer is a clean -TIMEOUT and the
     * connection survives. */
    int t = c->request_timeout_ms * 3 / 4;
    o->timeout_ms = (uint32_t)(t < 1 ? 1 : t > 60000 ? 60000 : t);
}

enum ef_route ef_client_read_route(const struct eventflow_client *c)
{
    return c->consistency == EF_CONSISTENCY_LINEARIZABLE ? EF_ROUTE_LEADER : EF_ROUTE_READ;
}

int ef_reply_fail(struct eventflow_client *c, const struct resp_value *reply)
{
    if (reply->type != RESP_T_ERROR)
        return ef_fail(c, EF_EPROTO, "%s: unexpected reply type", c->last_node);
    return ef_fail(c, ef_reply_error_code(reply->str), "%s: -%s", c->last_node, reply->str);
}

/* ---- the retry loop --------------------------------------------------- */

/* ef_call_run's state between attempts. */
struct call_state {
    int64_t deadline;
    unsigned hops;      /* MOVED followed since the last pause */
    bool pause;         /* back off before the next attempt */
    bool maybe_applied; /* a write was sent and its outcome was lost */
};

#define EF_AGAIN 1 /* attempt(): not the answer, go round again */

static const char *io_text(int io)
{
    switch (io) {
    case EF_IO_EOF:
        return "connection closed by the server";
    case EF_IO_TIMEOUT:
        return "no reply within the request timeout";
    case EF_IO_PROTO:
        return "malformed reply";
    default:
        return "connection error";
    }
}

/* The request's outcome was lost with the connection (or the server said
 * UNKNOWN). Resending is only safe when the request is idempotent. */
static int outcome_lost(struct eventflow_client *c, const struct ef_call *call,
                        struct call_state *st)
{
    if (!call->idempotent)
        return ef_fail(c, EF_EUNKNOWN, "outcome unknown, not retried (not idempotent): %s", c->err);
    if (call->is_write)
        st->maybe_applied = true;
    st->pause = true;
    return EF_AGAIN;
}

/* One attempt on node i, whose connection is open. Returns EF_OK with the
 * answer in *reply, an EF_E* code to give up with, or EF_AGAIN. */
static int attempt(struct eventflow_client *c, const struct ef_call *call, int i,
                   struct call_state *st, struct resp_value *reply)
{
    char why[200];
    struct ef_conn *cn = &c->nodes[i].conn;

    ef_conn_queue(cn, call->argc, call->argv, call->lens);
    if (ef_conn_flush(cn, st->deadline, why, sizeof why) != 0) {
        /* Not all of it was written: the server cannot have run it. */
        ef_fail(c, EF_EUNAVAILABLE, "%s: %s", c->nodes[i].ep.addr, why);
        ef_node_failed(c, i);
        st->pause = call->route == EF_ROUTE_LEADER;
        return EF_AGAIN;
    }
    int64_t rdl = ef_now_ms() + c->request_timeout_ms + call->extra_wait_ms;
    char moved[EF_ADDR_MAX];
    enum ef_reply_class cls;
    if (ef_node_read_reply(c, i, rdl < st->deadline ? rdl : st->deadline, reply, &cls, moved) != EF_IO_REPLY) {
        int rc = outcome_lost(c, call, st);
        if (!call->is_write)
            st->pause = call->route == EF_ROUTE_LEADER;
        return rc;
    }
    if (cls == EF_REPLY_OK || cls == EF_REPLY_FINAL)
        return EF_OK;
    ef_view_note_reply(c, i, cls, moved, call->route, &st->hops, &st->pause);
    if (cls == EF_REPLY_UNKNOWN)
        return outcome_lost(c, call, st);
    return EF_AGAIN;
}

int ef_node_read_reply(struct eventflow_client *c, int i, int64_t deadline, struct resp_value *reply,
                       enum ef_reply_class *cls, char moved[EF_ADDR_MAX])
{
    char addr[EF_ADDR_MAX];
    memcpy(addr, c->nodes[i].ep.addr, sizeof addr);
    int io = ef_conn_read(&c->nodes[i].conn, reply, deadline);
    if (io != EF_IO_REPLY) {
        ef_fail(c, EF_EUNAVAILABLE, "%s: %s", addr, io_text(io));
        ef_node_failed(c, i);
        return io;
    }
    memcpy(c->last_node, addr, sizeof addr);
    c->nodes[i].used_at = ef_now_ms();
    *cls = ef_reply_classify(reply, moved, EF_ADDR_MAX);
    if (*cls != EF_REPLY_OK && *cls != EF_REPLY_FINAL) {
        ef_fail(c, EF_EUNAVAILABLE, "%s: -%s", addr, reply->str);
        resp_value_free(reply);
    }
    return io;
}

void ef_view_note_reply(struct eventflow_client *c, int i, enum ef_reply_class cls, const char *moved,
                        enum ef_route route, unsigned *hops, bool *pause)
{
    switch (cls) {
    case EF_REPLY_MOVED: {
        int to = ef_set_leader(c, moved);
        (*hops)++;
        *pause = to < 0 || to == i || *hops > EF_MAX_HOPS;
        if (*pause)
            c->view_stale = true;
        return;
    }
    case EF_REPLY_NOLEADER:
    case EF_REPLY_UNKNOWN:
        /* UNKNOWN: leadership was lost before the entry committed. */
        ef_forget_leader(c);
        c->view_stale = true;
        *pause = true;
        return;
    case EF_REPLY_TRYAGAIN:
        /* Usually the leader itself, not ready yet; asking again costs a
         * round trip and catches a leader that has meanwhile stepped down. */
        c->view_stale = true;
        *pause = true;
        return;
    case EF_REPLY_ELSEWHERE:
        /* Lagging, stale or stopping: fine, but not for this request now. */
        c->nodes[i].failed_at = ef_now_ms();
        c->nodes[i].failed_call = c->call_no;
        if (c->reader == i)
            c->reader = -1;
        if (route == EF_ROUTE_LEADER) {
            ef_forget_leader(c);
            c->view_stale = true;
        }
        *pause = route == EF_ROUTE_LEADER;
        return;
    default:
        return;
    }
}

int ef_call_run(struct eventflow_client *c, const struct ef_call *call, struct resp_value *reply)
{
    struct call_state st = {.deadline = ef_now_ms() + c->retry_deadline_ms + call->extra_wait_ms};
    unsigned backoffs = 0;
    c->err[0] = '\0';
    c->call_no++;
    for (;;) {
        st.pause = true;
        int i = ef_route(c, call->route, st.deadline);
        if (i == EF_EAUTH || i == EF_EINVAL)
            return i;
        if (i >= 0) {
            int rc = ef_node_connect(c, i, st.deadline, !call->idempotent);
            if (rc == EF_EAUTH)
                return rc;
            if (rc == EF_OK) {
                rc = attempt(c, call, i, &st, reply);
                if (rc != EF_AGAIN)
                    return rc;
            } else {
                /* A read can go to another node at once; a write waits
                 * for the cluster to elect or report a new leader. */
                st.pause = call->route == EF_ROUTE_LEADER;
            }
        }
        int64_t left = st.deadline - ef_now_ms();
        if (left <= 0)
            break;
        if (st.pause) {
            backoffs++;
            st.hops = 0;
            int ms = ef_backoff_ms(backoffs, EF_BACKOFF_BASE_MS, EF_BACKOFF_CAP_MS,
                                   ef_rng_next(&c->rng));
            ef_sleep_ms(ms < left ? ms : (int)left);
            c->call_no++; /* a new round: nodes that failed may be tried again */
        }
    }
    char cause[sizeof c->err];
    if (st.maybe_applied)
        return ef_fail(c, EF_EUNKNOWN,
                       "outcome unknown: an attempt may have been applied and no retry settled it "
                       "within %d ms (last: %s)",
                       c->retry_deadline_ms, ef_error_cause(c->err, cause, sizeof cause));
    return ef_fail(c, EF_EUNAVAILABLE, "no node could serve the request within %d ms (last: %s)",
                   c->retry_deadline_ms, ef_error_cause(c->err, cause, sizeof cause));
}

/* ---- asking ----------------------------------------------------------- */

/* Take the reply to `what` and free it: an error reply fails with its own
 * code and message, anything else goes to the reader. */
static int take_answer(struct eventflow_client *c, const char *what, struct resp_value *reply,
                       answer_fn read, void *out)
{
    int rc = reply->type == RESP_T_ERROR ? ef_reply_fail(c, reply) : read(c, what, reply, out);
    resp_value_free(reply);
    return rc;
}

int ef_ask(struct eventflow_client *c, const struct ef_call *call, const char *what, answer_fn read,
           void *out)
{
    struct resp_value reply;
    int rc = ef_call_run(c, call, &reply);
    if (rc != EF_OK)
        return rc;
    return take_answer(c, what, &reply, read, out);
}

/* A read of one command word, on the read route. */
static int ask_word(struct eventflow_client *c, const char *cmd, answer_fn read, void *out)
{
    const char *argv[] = {cmd};
    struct ef_call call = {.route = EF_ROUTE_READ, .argc = 1, .argv = argv, .idempotent = true};
    return ef_ask(c, &call, cmd, read, out);
}

/* A read of a command with one JSON argument, on the route the client's
 * consistency asks for. */
static int ask_json(struct eventflow_client *c, const char *cmd, const struct buf *arg,
                    answer_fn read, void *out)
{
    const char *argv[] = {cmd, arg->data};
    const size_t lens[] = {strlen(cmd), arg->len};
    struct ef_call call = {.route = ef_client_read_route(c), .argc = 2, .argv = argv,
                           .lens = lens, .idempotent = true};
    return ef_ask(c, &call, cmd, read, out);
}

/* ---- answers ---------------------------------------------------------- */

int ef_decoded(struct eventflow_client *c, int rc, const char *what, const char *err)
{
    return rc == EF_OK ? EF_OK : ef_fail(c, rc, "%s: %s reply: %s", c->last_node, what, err);
}

static int answer_events(struct eventflow_client *c, const char *what,
                         const struct resp_value *reply, void *out)
{
    char err[EF_ERR_LEN];
    return ef_decoded(c, ef_json_events(reply, out, err), what, err);
}

static int answer_streams(struct eventflow_client *c, const char *what,
                          const struct resp_value *reply, void *out)
{
    char err[EF_ERR_LEN];
    return ef_decoded(c, ef_json_streams(reply, out, err), what, err);
}

static int answer_status_list(struct eventflow_client *c, const char *what,
                              const struct resp_value *reply, void *out)
{
    char err[EF_ERR_LEN];
    return ef_decoded(c, ef_json_status_list(reply, out, err), what, err);
}

static int answer_members(struct eventflow_client *c, const char *what,
                          const struct resp_value *reply, void *out)
{
    char err[EF_ERR_LEN];
    return ef_decoded(c, ef_json_members(reply, out, err), what, err);
}

/* STATUS: one bulk string of JSON. */
static int answer_status(struct eventflow_client *c, const char *what,
                         const struct resp_value *reply, void *out)
{
    char err[EF_ERR_LEN];
    if (reply->type != RESP_T_BULK || ef_json_status(reply->str, reply->len, out, err) != EF_OK)
        return ef_fail(c, EF_EPROTO, "%s: unreadable %s reply", c->last_node, what);
    return EF_OK;
}

/* A count: a non-negative integer, into a uint64_t. */
static int answer_count(struct eventflow_client *c, const char *what,
                        const struct resp_value *reply, void *out)
{
    if (reply->type != RESP_T_INT || reply->integer < 0)
        return ef_fail(c, EF_EPROTO, "%s: %s did not answer a count", c->last_node, what);
    *(uint64_t *)out = (uint64_t)reply->integer;
    return EF_OK;
}

/* CHECKSUM: [last id, checksum], two bulk strings. */
static int answer_checksum(struct eventflow_client *c, const char *what,
                           const struct resp_value *reply, void *out)
{
    struct eventflow_checksum *sum = out;
    const struct resp_value *e = reply->elems;
    if (reply->type != RESP_T_ARRAY || reply->n != 2 || e[0].type != RESP_T_BULK ||
        e[1].type != RESP_T_BULK || e[0].len != EF_ID_LEN || e[1].len >= sizeof sum->checksum)
        return ef_fail(c, EF_EPROTO, "%s: unexpected %s reply", c->last_node, what);
    memcpy(sum->last_id, e[0].str, EF_ID_LEN + 1);
    memcpy(sum->checksum, e[1].str, e[1].len + 1);
    return EF_OK;
}

/* A membership change: +OK, nothing to read into (out is NULL). */
static int answer_changed(struct eventflow_client *c, const char *what,
                          const struct resp_value *reply, void *out)
{
    (void)out;
    /* The configuration (or the leader) changed: look again next time. */
    c->view_stale = true;
    if (reply->type != RESP_T_SIMPLE)
        return ef_fail(c, EF_EPROTO, "%s: unexpected reply to %s", c->last_node, what);
    return EF_OK;
}

/* ---- writes ----------------------------------------------------------- */

int eventflow_append(struct eventflow_client *c, const char *stream, int64_t expected_version,
                     const struct eventflow_new_event *events, size_t n,
                     struct eventflow_event_list *out)
{
    if (out != NULL) {
        out->events = NULL;
        out->n = 0;
    }
    struct buf arg;
    buf_init(&arg);
    char err[EF_ERR_LEN];
    int rc = ef_json_add(&arg, stream, expected_version, events, n,
                         c->send_keys ? ef_client_keygen : NULL, c, err);
    if (rc != EF_OK) {
        buf_free(&arg);
        return ef_fail(c, rc, "%s", err);
    }
    const char *argv[] = {"ADD", arg.data};
    const size_t lens[] = {3, arg.len};
    struct ef_call call = {.route = EF_ROUTE_LEADER, .argc = 2, .argv = argv, .lens = lens,
                           .idempotent = c->send_keys, .is_write = true};
    struct eventflow_event_list list;
    rc = ef_ask(c, &call, "ADD", answer_events, &list);
    buf_free(&arg);
    if (rc != EF_OK)
        return rc;
    if (list.n != n) {
        eventflow_event_list_free(&list);
        return ef_fail(c, EF_EPROTO, "%s: ADD stored %zu events, %zu were sent", c->last_node,
                       list.n, n);
    }
    ef_client_note_written(c, &list);
    if (out != NULL)
        *out = list;
    else
        eventflow_event_list_free(&list);
    return EF_OK;
}

/* ---- reads ------------------------------------------------------------ */

int eventflow_read_stream(struct eventflow_client *c, const char *stream, uint64_t from_version,
                          uint32_t limit, struct eventflow_event_list *out)
{
    out->events = NULL;
    out->n = 0;
    struct ef_read_opts o;
    ef_client_read_opts(c, &o);
    struct buf arg;
    buf_init(&arg);
    char err[EF_ERR_LEN];
    int rc = ef_json_get(&arg, stream, from_version, limit, &o, err);
    if (rc == EF_OK)
        rc = ask_json(c, "GET", &arg, answer_events, out);
    else
        ef_fail(c, rc, "%s", err);
    buf_free(&arg);
    return rc;
}

int eventflow_read_all(struct eventflow_client *c, const char *after_id, uint32_t limit,
                       struct eventflow_event_list *out)
{
    out->events = NULL;
    out->n = 0;
    struct ef_read_opts o;
    ef_client_read_opts(c, &o);
    struct buf arg;
    buf_init(&arg);
    char err[EF_ERR_LEN];
    int rc = ef_json_getall(&arg, after_id, limit, &o, err);
    if (rc == EF_OK)
        rc = ask_json(c, "GETALL", &arg, answer_events, out);
    else
        ef_fail(c, rc, "%s", err);
    buf_free(&arg);
    return rc;
}

int eventflow_list_streams(struct eventflow_client *c, uint64_t skip, uint32_t limit,
                           struct eventflow_stream_list *out)
{
    out->streams = NULL;
    out->n = 0;
    struct ef_read_opts o;
    ef_client_read_opts(c, &o);
    struct buf arg;
    buf_init(&arg);
    ef_json_liststreams(&arg, skip, limit, &o);
    int rc = ask_json(c, "LISTSTREAMS", &arg, answer_streams, out);
    buf_free(&arg);
    return rc;
}

int eventflow_event_count(struct eventflow_client *c, uint64_t *out)
{
    return ask_word(c, "EVENTCOUNT", answer_count, out);
}

int eventflow_stream_count(struct eventflow_client *c, uint64_t *out)
{
    return ask_word(c, "STREAMCOUNT", answer_count, out);
}

int eventflow_checksum(struct eventflow_client *c, struct eventflow_checksum *out)
{
    return ask_word(c, "CHECKSUM", answer_checksum, out);
}

/* ---- cluster ---------------------------------------------------------- */

/* STATUS of a node given by address: one connection, one try. */
static int status_of(struct eventflow_client *c, const char *address,
                     struct eventflow_node_status *out)
{
    struct ef_endpoint ep;
    if (ef_endpoint_parse(address, strlen(address), &ep) != 0)
        return ef_fail(c, EF_EINVAL, "invalid address \"%s\"", address);
    int64_t deadline = ef_now_ms() + c->connect_timeout_ms + c->request_timeout_ms;
    struct ef_conn cn;
    ef_conn_init(&cn);
    int rc = ef_conn_connect(c, &cn, &ep, deadline);
    if (rc != EF_OK)
        return rc;
    const char *argv[] = {"STATUS"};
    ef_conn_queue(&cn, 1, argv, NULL);
    char why[200];
    struct resp_value reply;
    if (ef_conn_flush(&cn, deadline, why, sizeof why) != 0) {
        rc = ef_fail(c, EF_EUNAVAILABLE, "%s: %s", ep.addr, why);
    } else if (ef_conn_read(&cn, &reply, deadline) != EF_IO_REPLY) {
        rc = ef_fail(c, EF_EUNAVAILABLE, "%s: no reply to STATUS", ep.addr);
    } else {
        snprintf(c->last_node, sizeof c->last_node, "%s", ep.addr);
        rc = take_answer(c, "STATUS", &reply, answer_status, out);
    }
    ef_conn_close(&cn);
    return rc;
}

int eventflow_node_status(struct eventflow_client *c, const char *address,
                          struct eventflow_node_status *out)
{
    if (address != NULL)
        return status_of(c, address, out);
    const char *argv[] = {"STATUS"};
    struct ef_call call = {.route = EF_ROUTE_LEADER, .argc = 1, .argv = argv, .idempotent = true};
    return ef_ask(c, &call, "STATUS", answer_status, out);
}

int eventflow_client_connect(struct eventflow_client *c)
{
    /* STATUS of the leader: proves discovery found one that answers. */
    struct eventflow_node_status st;
    return eventflow_node_status(c, NULL, &st);
}

int eventflow_cluster_status(struct eventflow_client *c, struct eventflow_status_list *out)
{
    out->nodes = NULL;
    out->n = 0;
    const char *argv[] = {"CLUSTER", "STATUS"};
    struct ef_call call = {.route = EF_ROUTE_READ, .argc = 2, .argv = argv, .idempotent = true};
    return ef_ask(c, &call, "CLUSTER STATUS", answer_status_list, out);
}

int eventflow_cluster_members(struct eventflow_client *c, struct eventflow_member_list *out)
{
    out->members = NULL;
    out->n = 0;
    const char *argv[] = {"CLUSTER", "MEMBERS"};
    struct ef_call call = {.route = EF_ROUTE_READ, .argc = 2, .argv = argv, .idempotent = true};
    return ef_ask(c, &call, "CLUSTER MEMBERS", answer_members, out);
}

/* A membership change, CLUSTER argv[1] ...: leader only, never resent once
 * it may have run. */
static int change(struct eventflow_client *c, size_t argc, const char *const *argv)
{
    char what[32];
    snprintf(what, sizeof what, "CLUSTER %s", argv[1]);
    struct ef_call call = {.route = EF_ROUTE_LEADER, .argc = argc, .argv = argv,
                           .idempotent = false, .is_write = true};
    return ef_ask(c, &call, what, answer_changed, NULL);
}

static bool address_ok(const char *a)
{
    struct ef_endpoint ep;
    return a != NULL && ef_endpoint_parse(a, strlen(a), &ep) == 0 && strchr(a, ':') != NULL;
}

int eventflow_member_add(struct eventflow_client *c, uint64_t id, const char *raft_address,
                         const char *client_address)
{
    if (id == 0 || !address_ok(raft_address) || !address_ok(client_address))
        return ef_fail(c, EF_EINVAL, "member add needs an id > 0 and two host:port addresses");
    char ids[24];
    snprintf(ids, sizeof ids, "%" PRIu64, id);
    const char *argv[] = {"CLUSTER", "ADD", ids, raft_address, client_address};
    return change(c, 5, argv);
}

int eventflow_member_assign(struct eventflow_client *c, uint64_t id, enum eventflow_role role)
{
    const char *name = role == EF_ROLE_VOTER     ? "voter"
                       : role == EF_ROLE_STANDBY ? "standby"
                       : role == EF_ROLE_SPARE   ? "spare"
                                                 : NULL;
    if (id == 0 || name == NULL)
        return ef_fail(c, EF_EINVAL, "member assign needs an id > 0 and a role");
    char ids[24];
    snprintf(ids, sizeof ids, "%" PRIu64, id);
    /* PROMOTE and DEMOTE both assign the role given. */
    const char *argv[] = {"CLUSTER", "PROMOTE", ids, name};
    return change(c, 4, argv);
}

int eventflow_member_remove(struct eventflow_client *c, uint64_t id)
{
    if (id == 0)
        return ef_fail(c, EF_EINVAL, "member remove needs an id > 0");
    char ids[24];
    snprintf(ids, sizeof ids, "%" PRIu64, id);
    const char *argv[] = {"CLUSTER", "REMOVE", ids};
    return change(c, 3, argv);
}

int eventflow_leader_transfer(struct eventflow_client *c, uint64_t id)
{
    char ids[24];
    snprintf(ids, sizeof ids, "%" PRIu64, id);
    const char *argv[] = {"CLUSTER", "TRANSFER", ids};
    int rc = change(c, id != 0 ? 3 : 2, argv);
    if (rc == EF_OK)
        ef_forget_leader(c);
    return rc;
}
