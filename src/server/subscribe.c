/* subscribe.c - subscriptions (see subscribe.h for the design).
 *
 * Positions. A subscription to a stream knows the next version it owes; one
 * to the global log, the id of the last event it has passed (ids are the
 * global order). Both move forward only, by delivery or, while reading the
 * store, past events its filters leave out. Live events are matched against
 * the position too, so a subscription that starts at a position this node
 * has not applied yet (a consumer resuming here after another node) waits
 * for it instead of delivering anything twice.
 *
 * No gap at the switch from catch-up to live: both run on the loop thread;
 * a read sees every entry applied so far (the store reads through its open
 * batch), and the subscription goes live at the end of that read, so the
 * next entry applied reaches it through subs_applied. */
#include "server/subscribe.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/mutant.h"
#include "common/ulid.h"
#include "node/node.h"
#include "protocol/codec.h"
#include "protocol/resp_writer.h"
#include "server/acl_conn.h"
#include "server/conn.h"
#include "server/server.h"

/* Events one store read fetches. */
#define SUBS_READ_PAGE 256
/* Events all catching-up subscriptions together read in one loop turn, so
 * a thousand new subscribers replaying the log leave room for the rest. */
#define SUBS_TURN_EVENTS 4096

struct sub {
    struct subs *owner;
    struct conn *conn;
    struct sub *next_in_conn;        /* the connection's subscriptions, in order */
    struct sub *prev, *next;         /* in owner->live or owner->catching_up */
    bool live;
    bool just_live;                  /* no event fed live since the switch */
    char *name;                      /* the spec as sent, echoed in every message */
    size_t name_len;
    struct codec_subscription spec;
    uint64_t next_version;           /* a stream's: the next version owed */
    bool from_start;                 /* the global log's, before its first event */
    uint8_t last_id[ULID_BYTES];     /* the last event delivered or passed */
};

struct subs {
    struct server *srv;
    struct sub *live;                /* fed by subs_applied */
    struct sub *catching_up;         /* fed by subs_feed */
    size_t n_markers;                /* subscriptions that asked for markers */
    bool stale;                      /* as last told to them */
    struct buf event;                /* one event's JSON, encoded once for all */
    /* The whole message of the event being fed live, as the last
     * subscription it went to had it: subscribers of the same spec (a
     * thousand followers of $all) get one copy of these bytes each, with
     * no framing done per subscriber. */
    struct buf frame;
    const struct sub *frame_for;     /* whose spec and protocol it has; NULL: none */
    uv_idle_t idle;                  /* keeps turns coming while reads are cut short */
    bool idle_open;
};

/* ---- lists -------------------------------------------------------------------- */

static struct sub **list_of(struct sub *s)
{
    return s->live ? &s->owner->live : &s->owner->catching_up;
}

static void list_remove(struct sub *s)
{
    struct sub **head = list_of(s);
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        *head = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

static void list_push(struct sub *s)
{
    struct sub **head = list_of(s);
    s->prev = NULL;
    s->next = *head;
    if (*head != NULL)
        (*head)->prev = s;
    *head = s;
}

static void sub_set_live(struct sub *s, bool live)
{
    if (s->live == live)
        return;
    list_remove(s);
    s->live = live;
    s->just_live = live;
    list_push(s);
}

/* ---- messages ------------------------------------------------------------------- */

static void write_kind(struct buf *out, struct conn *c, const char *kind, size_t n)
{
    resp_write_push_header(out, n, c->resp3);
    resp_write_bulk_str(out, kind);
}

static void write_message(struct buf *out, const struct sub *s, const char *json, size_t len)
{
    write_kind(out, s->conn, "message", 3);
    resp_write_bulk(out, s->name, s->name_len);
    resp_write_bulk(out, json, len);
}

static void sub_write_event_json(struct sub *s, const char *json, size_t len)
{
    write_message(conn_push_buf(s->conn), s, json, len);
}

/* A marker is a message whose JSON has "marker" instead of an event's
 * fields; only subscriptions that asked for markers get them. */
static void sub_write_marker(struct sub *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sub_write_marker(struct sub *s, const char *fmt, ...)
{
    char json[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(json, sizeof json, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof json)
        sub_write_event_json(s, json, (size_t)n);
}

/* The subscription has delivered everything this node has applied. */
static void sub_mark_caught_up(struct sub *s)
{
    if (!s->spec.markers)
        return;
    char id[ULID_STR_LEN + 1] = "";
    if (!s->from_start && !ulid_is_zero(s->last_id))
        ulid_format(s->last_id, id);
    if (s->spec.all)
        sub_write_marker(s, "{\"marker\":\"caught_up\",\"id\":\"%s\"}", id);
    else
        sub_write_marker(s, "{\"marker\":\"caught_up\",\"id\":\"%s\",\"version\":%" PRIu64 "}", id, s->next_version);
}

static void sub_mark_stale(struct sub *s, bool stale, uint64_t age_ms)
{
    if (s->spec.markers)
        sub_write_marker(s, "{\"marker\":\"%s\",\"last_contact_ms\":%" PRIu64 "}", stale ? "stale" : "current",
                         age_ms);
}

/* ---- matching -------------------------------------------------------------------- */

static bool has_prefix(const char *s, const char *prefix, size_t prefix_len)
{
    return strncmp(s, prefix, prefix_len) == 0;
}

/* Does the spec's filter take ev (position aside)? */
static bool sub_filter(const struct sub *s, const Eventflow__StoredEvent *ev)
{
    if (s->spec.stream_prefix != NULL && !has_prefix(ev->stream, s->spec.stream_prefix, s->spec.stream_prefix_len))
        return false;
    if (s->spec.n_types == 0)
        return true;
    for (size_t i = 0; i < s->spec.n_types; i++)
        if (strcmp(ev->type, s->spec.types[i]) == 0)
            return true;
    return false;
}

/* Is ev past the position, in what the subscription follows? */
static bool sub_ahead(const struct sub *s, const Eventflow__StoredEvent *ev)
{
    if (!s->spec.all)
        return ev->version >= s->next_version && strcmp(ev->stream, s->spec.stream) == 0;
    return s->from_start || memcmp(ev->id.data, s->last_id, ULID_BYTES) > 0;
}

/* Versions [next_version, to) of a stream's subscription were removed (a
 * delete, a truncation, retention) before it had them: it goes on at `to`,
 * and says so to a subscriber that asked for markers. (The global log's
 * subscriptions skip removed events without a marker: they are not
 * numbered per stream there.) */
static void sub_skip_removed(struct sub *s, uint64_t to)
{
    if (s->spec.markers)
        sub_write_marker(s, "{\"marker\":\"removed\",\"from_version\":%" PRIu64 ",\"to_version\":%" PRIu64 "}",
                         s->next_version, to);
    s->next_version = to;
}

/* A catch-up read hands every event of the stream from the position on
 * (filters apply after): one past the position follows removed versions. */
static void sub_note_removed(struct sub *s, const Eventflow__StoredEvent *ev)
{
    if (!s->spec.all && ev->version > s->next_version)
        sub_skip_removed(s, ev->version);
}

/* An entry hid versions [from, to) of `stream`: a live subscription of it
 * positioned among them goes on at `to`. (Live subscriptions skip events
 * their filters leave out without moving, so a gap in what they receive
 * says nothing by itself.) */
static void subs_removed(struct subs *ss, const char *stream, uint64_t from, uint64_t to)
{
    for (struct sub *s = ss->live; s != NULL; s = s->next)
        if (!s->spec.all && s->next_version >= from && s->next_version < to && strcmp(s->spec.stream, stream) == 0)
            sub_skip_removed(s, to);
}

static void sub_pass(struct sub *s, const Eventflow__StoredEvent *ev)
{
    memcpy(s->last_id, ev->id.data, ULID_BYTES);
    s->from_start = false;
    if (!s->spec.all)
        s->next_version = ev->version + 1;
}

/* ---- live: every applied entry ------------------------------------------------------ */

static void subs_applied(void *data, const struct store_outcome *o)
{
    struct subs *ss = data;
    if (o->removed_to != 0 && o->removed_stream != NULL && ss->live != NULL)
        subs_removed(ss, o->removed_stream, o->removed_from, o->removed_to);
    if (o->status != STORE_APPLIED || ss->live == NULL)
        return;
    for (size_t i = 0; i < o->n_events; i++) {
        const Eventflow__StoredEvent *ev = o->events[i];
        bool encoded = false;
        ss->frame_for = NULL;
        struct sub *next;
        for (struct sub *s = ss->live; s != NULL; s = next) {
            next = s->next;
            if (!sub_ahead(s, ev) || !sub_filter(s, ev))
                continue;
            bool first_live = s->just_live;
            s->just_live = false;
            if (first_live && mutant_is(MUTANT_SUB_SKIPS_AT_SWITCH)) {
                sub_pass(s, ev);
                continue;
            }
            if (conn_unsent(s->conn) > SUBS_HIGH_WATER) {
                /* Too slow for live: read the store from here when the
                 * connection has drained. */
                sub_set_live(s, false);
                continue;
            }
            if (!encoded) {
                buf_reset(&ss->event);
                codec_write_event(&ss->event, ev);
                encoded = true;
            }
            const struct sub *f = ss->frame_for;
            if (f == NULL || f->conn->resp3 != s->conn->resp3 || f->name_len != s->name_len ||
                memcmp(f->name, s->name, s->name_len) != 0) {
                buf_reset(&ss->frame);
                write_message(&ss->frame, s, ss->event.data, ss->event.len);
                ss->frame_for = s;
            }
            buf_append(conn_push_buf(s->conn), ss->frame.data, ss->frame.len);
            sub_pass(s, ev);
        }
    }
}

/* The store was replaced by a peer's copy: entries between the positions
 * and the copy's state were never applied one at a time here. */
static void subs_reset(void *data)
{
    struct subs *ss = data;
    while (ss->live != NULL)
        sub_set_live(ss->live, false);
}

/* ---- catching up: reading the store --------------------------------------------------- */

struct sub_read {
    struct sub *sub;
    struct subs *owner;
    uint64_t seen; /* events the read visited */
};

/* The read stops (this value) once the connection holds a page's worth. */
#define SUB_READ_FULL 1

static int sub_read_event(void *arg, const Eventflow__StoredEvent *ev)
{
    struct sub_read *r = arg;
    struct sub *s = r->sub;
    r->seen++;
    sub_note_removed(s, ev);
    if (sub_filter(s, ev)) {
        struct buf *json = &r->owner->event;
        buf_reset(json);
        codec_write_event(json, ev);
        sub_write_event_json(s, json->data, json->len);
    }
    sub_pass(s, ev);
    return conn_unsent(s->conn) >= SUBS_PAGE_BYTES ? SUB_READ_FULL : 0;
}

static int sub_read_begin(void *arg, uint64_t n)
{
    (void)arg;
    (void)n;
    return 0;
}

/* Read up to `budget` events from the store after the position, a page at a
 * time, until the connection holds SUBS_PAGE_BYTES. Returns the events
 * read, or -1 when the store failed (logged). *done: nothing more to read. */
static int64_t sub_catch_up(struct sub *s, uint64_t budget, bool *done)
{
    struct store *store = node_store(s->owner->srv->node);
    struct sub_read r = {.sub = s, .owner = s->owner};
    struct store_visitor v = {.arg = &r, .begin = sub_read_begin, .event = sub_read_event};
    *done = false;
    while (r.seen < budget && conn_unsent(s->conn) < SUBS_PAGE_BYTES) {
        uint64_t before = r.seen;
        uint64_t page = budget - r.seen < SUBS_READ_PAGE ? budget - r.seen : SUBS_READ_PAGE;
        int rc = s->spec.all ? store_read_all(store, s->from_start ? NULL : s->last_id, page, &v)
                             : store_read_stream(store, s->spec.stream, s->spec.stream_len, s->next_version, page, &v);
        if (rc == SUB_READ_FULL)
            break;
        if (rc != 0) {
            log_warn("subscription of %s: reading the store: %s", s->conn->peer, store_errmsg(store));
            return -1;
        }
        if (r.seen - before < page) {
            *done = true;
            break;
        }
    }
    return (int64_t)r.seen;
}

static void subs_idle_cb(uv_idle_t *h)
{
    (void)h; /* only there to keep the loop from blocking */
}

void subs_feed(struct subs *ss)
{
    struct node *node = ss->srv->node;
    if (ss->n_markers > 0) {
        uint64_t age = 0;
        bool stale = node_is_stale(node, &age);
        if (stale != ss->stale) {
            ss->stale = stale;
            for (struct sub *s = ss->live; s != NULL; s = s->next)
                sub_mark_stale(s, stale, age);
            for (struct sub *s = ss->catching_up; s != NULL; s = s->next)
                sub_mark_stale(s, stale, age);
        }
    }
    uint64_t budget = SUBS_TURN_EVENTS;
    struct sub *next;
    for (struct sub *s = ss->catching_up; s != NULL; s = next) {
        next = s->next;
        if (conn_unsent(s->conn) > SUBS_LOW_WATER || budget == 0)
            continue; /* subs_schedule sees to the next turn */
        bool done;
        int64_t n = sub_catch_up(s, budget, &done);
        if (n < 0) {
            /* Ends every subscription of that connection, `next` perhaps
             * among them: start over (the ones done wait for room). */
            conn_close(s->conn);
            next = ss->catching_up;
            continue;
        }
        budget -= (uint64_t)n;
        if (done) {
            sub_set_live(s, true);
            sub_mark_caught_up(s);
        }
    }
}

void subs_schedule(struct subs *ss)
{
    /* A subscription whose output the socket has taken can read on at
     * once: keep the loop from blocking. One whose output still waits is
     * woken by its write's completion, a turn of its own. */
    for (struct sub *s = ss->catching_up; s != NULL; s = s->next) {
        if (conn_unsent(s->conn) <= SUBS_LOW_WATER) {
            uv_idle_start(&ss->idle, subs_idle_cb);
            return;
        }
    }
    uv_idle_stop(&ss->idle);
}

/* ---- the commands ------------------------------------------------------------------ */

static struct sub *conn_find(struct conn *c, const char *name, size_t len)
{
    for (struct sub *s = c->subs; s != NULL; s = s->next_in_conn)
        if (s->name_len == len && memcmp(s->name, name, len) == 0)
            return s;
    return NULL;
}

/* Where the new subscription starts, and whether it is live at once. */
static int sub_start(struct sub *s, struct store *store)
{
    const struct codec_subscription *sp = &s->spec;
    struct store_stats st;
    int rc = store_stats(store, &st);
    if (rc != 0)
        return rc;
    s->live = false;
    switch (sp->from) {
    case CODEC_SUB_FROM_END:
        memcpy(s->last_id, st.last_id, ULID_BYTES);
        if (!sp->all && (rc = store_stream_length(store, sp->stream, sp->stream_len, &s->next_version)) != 0)
            return rc;
        s->live = true;
        break;
    case CODEC_SUB_FROM_VERSION:
        s->next_version = sp->version;
        break;
    case CODEC_SUB_FROM_START:
        s->from_start = true;
        break;
    case CODEC_SUB_AFTER_ID:
        memcpy(s->last_id, sp->after, ULID_BYTES);
        break;
    }
    return 0;
}

static void sub_free(struct sub *s)
{
    codec_subscription_free(&s->spec);
    free(s->name);
    free(s);
}

static void write_count(struct buf *out, struct conn *c, const char *kind, const char *name, size_t len)
{
    write_kind(out, c, kind, 3);
    if (name != NULL)
        resp_write_bulk(out, name, len);
    else
        resp_write_null(out);
    resp_write_int(out, (int64_t)c->n_subs);
}

void subs_subscribe(struct conn *c, const struct resp_command *cmd)
{
    struct subs *ss = c->srv->subs;
    struct store *store = node_store(c->srv->node);
    if (cmd->argc > RESP_MAX_ARGV) {
        resp_write_errorf(conn_reply_buf(c), "at most %d subscriptions in one SUBSCRIBE; send several",
                          RESP_MAX_ARGV - 1);
        return;
    }
    size_t n = cmd->argc - 1;
    /* Every spec is checked before any is taken: a bad one changes nothing. */
    struct sub **new_subs = xcalloc(n, sizeof *new_subs);
    size_t adding = 0;
    for (size_t i = 0; i < n; i++) {
        const struct resp_arg *a = &cmd->argv[i + 1];
        char err[CODEC_ERR_LEN];
        struct codec_subscription spec;
        if (codec_parse_subscription(a->ptr, a->len, &c->srv->cfg->codec, &spec, err) != 0) {
            resp_write_errorf(conn_reply_buf(c), "invalid subscription %zu: %s", i + 1, err);
            goto refuse;
        }
        /* Rights are checked when a subscription starts (acl_conn.h). */
        if (c->acl != NULL && (spec.all ? !acl_conn_all(c, "a subscription to the global log")
                                        : !acl_conn_stream(c, ACL_SUBSCRIBE, spec.stream, spec.stream_len))) {
            codec_subscription_free(&spec);
            goto refuse;
        }
        bool known = conn_find(c, a->ptr, a->len) != NULL;
        for (size_t j = 0; j < adding && !known; j++)
            known = new_subs[j]->name_len == a->len && memcmp(new_subs[j]->name, a->ptr, a->len) == 0;
        if (known) {
            codec_subscription_free(&spec);
            continue;
        }
        struct sub *s = xcalloc(1, sizeof *s);
        s->owner = ss;
        s->conn = c;
        s->spec = spec;
        s->name = xmalloc(a->len ? a->len : 1);
        memcpy(s->name, a->ptr, a->len);
        s->name_len = a->len;
        new_subs[adding++] = s;
    }
    if (c->n_subs + adding > SUBS_MAX_PER_CONN) {
        resp_write_errorf(conn_reply_buf(c), "too many subscriptions on one connection (at most %d)",
                          SUBS_MAX_PER_CONN);
        goto refuse;
    }
    for (size_t i = 0; i < adding; i++) {
        if (sub_start(new_subs[i], store) != 0) {
            resp_write_errorf(conn_reply_buf(c), "IOERR reading the store: %s", store_errmsg(store));
            goto refuse;
        }
    }
    /* Taken: append to the connection's list, confirm each spec in order. */
    if (c->n_subs == 0 && adding > 0)
        conn_set_send_buffer(c, SUBS_SOCKET_SNDBUF);
    struct sub **tail = &c->subs;
    while (*tail != NULL)
        tail = &(*tail)->next_in_conn;
    size_t next_new = 0;
    struct buf *out = conn_reply_buf(c);
    for (size_t i = 0; i < n; i++) {
        const struct resp_arg *a = &cmd->argv[i + 1];
        struct sub *s = next_new < adding && new_subs[next_new]->name_len == a->len &&
                                memcmp(new_subs[next_new]->name, a->ptr, a->len) == 0
                            ? new_subs[next_new++]
                            : NULL;
        if (s != NULL) {
            *tail = s;
            tail = &s->next_in_conn;
            c->n_subs++;
            list_push(s);
            if (s->spec.markers)
                ss->n_markers++;
        }
        write_count(out, c, "subscribe", a->ptr, a->len);
        if (s != NULL && s->live)
            sub_mark_caught_up(s);
        uint64_t age = 0;
        if (s != NULL && s->spec.markers && node_is_stale(c->srv->node, &age))
            sub_mark_stale(s, true, age);
    }
    free(new_subs);
    return;

refuse:
    for (size_t i = 0; i < adding; i++)
        sub_free(new_subs[i]);
    free(new_subs);
}

/* Take s off the connection and the lists, and free it. */
static void sub_end(struct sub *s)
{
    struct conn *c = s->conn;
    struct sub **pp = &c->subs;
    while (*pp != s)
        pp = &(*pp)->next_in_conn;
    *pp = s->next_in_conn;
    c->n_subs--;
    list_remove(s);
    if (s->spec.markers)
        s->owner->n_markers--;
    sub_free(s);
}

void subs_unsubscribe(struct conn *c, const struct resp_command *cmd)
{
    struct buf *out = conn_reply_buf(c);
    if (cmd->argc > RESP_MAX_ARGV) {
        resp_write_errorf(out, "at most %d subscriptions in one UNSUBSCRIBE; send several", RESP_MAX_ARGV - 1);
        return;
    }
    size_t argc = cmd->argc;
    if (argc < 2) {
        /* All of them, in the order they were taken; Redis's answer when
         * there are none. */
        if (c->subs == NULL)
            write_count(out, c, "unsubscribe", NULL, 0);
        while (c->subs != NULL) {
            struct sub *s = c->subs;
            char *name = s->name;
            size_t len = s->name_len;
            s->name = NULL;
            sub_end(s);
            write_count(out, c, "unsubscribe", name, len);
            free(name);
        }
        return;
    }
    for (size_t i = 1; i < argc; i++) {
        const struct resp_arg *a = &cmd->argv[i];
        struct sub *s = conn_find(c, a->ptr, a->len);
        if (s != NULL)
            sub_end(s);
        write_count(out, c, "unsubscribe", a->ptr, a->len);
    }
}

void subs_conn_closed(struct conn *c)
{
    while (c->subs != NULL)
        sub_end(c->subs);
}

/* How far behind the newest applied event a subscription catching up
 * is, by the times in the ids (ms); 0 for one without a position yet. */
static uint64_t sub_lag_ms(const struct sub *s, uint64_t newest_ms)
{
    if (s->from_start || ulid_is_zero(s->last_id))
        return 0;
    uint64_t at = ulid_time_ms(s->last_id);
    return newest_ms > at ? newest_ms - at : 0;
}

void subs_read_metrics(struct subs *ss, struct subs_metrics *m)
{
    *m = (struct subs_metrics){0};
    for (struct sub *s = ss->live; s != NULL; s = s->next)
        m->live++;
    struct store_stats st;
    uint64_t newest_ms = 0;
    if (ss->catching_up != NULL && store_stats(node_store(ss->srv->node), &st) == 0 && !ulid_is_zero(st.last_id))
        newest_ms = ulid_time_ms(st.last_id);
    for (struct sub *s = ss->catching_up; s != NULL; s = s->next) {
        m->catching_up++;
        uint64_t lag = sub_lag_ms(s, newest_ms);
        m->lag_max_ms = lag > m->lag_max_ms ? lag : m->lag_max_ms;
    }
    for (struct conn *c = ss->srv->conns; c != NULL; c = c->next) {
        if (c->n_subs == 0)
            continue;
        size_t unsent = conn_unsent(c);
        m->output_bytes += unsent;
        m->output_max_bytes = unsent > m->output_max_bytes ? unsent : m->output_max_bytes;
    }
}

void subs_write_status(struct subs *ss, struct buf *b)
{
    struct subs_metrics m;
    subs_read_metrics(ss, &m);
    buf_printf(b,
               "\"subscriptions\":%zu,\"subscriptions_catching_up\":%zu,\"subscriber_output_bytes\":%zu,"
               "\"subscriber_output_max_bytes\":%zu,",
               m.live + m.catching_up, m.catching_up, m.output_bytes, m.output_max_bytes);
}

/* ---- the registry ------------------------------------------------------------------ */

struct subs *subs_new(struct server *srv)
{
    struct subs *ss = xcalloc(1, sizeof *ss);
    ss->srv = srv;
    buf_init(&ss->event);
    buf_init(&ss->frame);
    uv_idle_init(srv->loop, &ss->idle);
    ss->idle.data = ss;
    ss->idle_open = true;
    struct node_apply_watch w = {.applied = subs_applied, .reset = subs_reset, .data = ss};
    node_watch_applied(srv->node, &w);
    return ss;
}

static void subs_idle_closed(uv_handle_t *h)
{
    struct subs *ss = h->data;
    buf_free(&ss->event);
    buf_free(&ss->frame);
    free(ss);
}

void subs_free(struct subs *ss)
{
    if (ss == NULL)
        return;
    struct node_apply_watch none = {0};
    node_watch_applied(ss->srv->node, &none);
    uv_close((uv_handle_t *)&ss->idle, subs_idle_closed);
}
