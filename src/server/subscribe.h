/* subscribe.h - SUBSCRIBE and UNSUBSCRIBE: events pushed to clients as they
 * are applied, in Redis's pub/sub message shape, so redis-cli and every
 * Redis client library's pub/sub API consume them unchanged.
 *
 *   SUBSCRIBE <spec> [<spec> ...]   ["subscribe", spec, count] per spec, then
 *                                   ["message", spec, <event JSON>] per event
 *   UNSUBSCRIBE [<spec> ...]        ["unsubscribe", spec, count] per spec
 *
 * A spec is a stream name, "$all", or a JSON object saying where to start
 * and what to filter (protocol/codec.h, codec_parse_subscription). On a
 * RESP3 connection (HELLO 3) the same messages are push frames.
 *
 * Each subscription is either live, fed by every entry this node applies
 * (node_watch_applied), or catching up, reading the store in pages from its
 * position. It starts catching up when it starts at a past position, and
 * falls back to it whenever its connection's unsent output passes
 * SUBS_HIGH_WATER: a slow consumer then costs a bounded buffer, loses
 * nothing, and is never disconnected for being slow. Once a read finds
 * nothing more, it is live again. Events are delivered only once applied on
 * this node, which happens only after a quorum committed them.
 *
 * Loop thread only. */
#ifndef EVENTFLOW_SUBSCRIBE_H
#define EVENTFLOW_SUBSCRIBE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "protocol/resp_parser.h"

struct conn;
struct server;
struct subs;

/* Subscriptions one connection may hold. */
#define SUBS_MAX_PER_CONN 256
/* A live subscription stops pushing once its connection has this much
 * output unsent, and reads the store instead once the output is below
 * SUBS_LOW_WATER again; a read stops adding at SUBS_PAGE_BYTES. So a
 * connection's output stays below SUBS_HIGH_WATER plus one message. */
#define SUBS_HIGH_WATER ((size_t)256 << 10)
#define SUBS_LOW_WATER ((size_t)64 << 10)
#define SUBS_PAGE_BYTES ((size_t)128 << 10)
/* The kernel's send buffer of a subscribed connection. Left alone, Linux
 * grows it up to tcp_wmem's maximum (4 MiB by default), all filled before
 * SUBS_HIGH_WATER is ever reached: a stalled subscriber would cost that in
 * kernel memory. Fixed, autotuning is off for that socket (Linux doubles
 * the value for its bookkeeping). */
#define SUBS_SOCKET_SNDBUF (256 << 10)

/* The server's subscriptions; they watch srv->node's applied entries. */
struct subs *subs_new(struct server *srv);
/* Every subscription must be gone (its connections closed). NULL: no-op. */
void subs_free(struct subs *s);

void subs_subscribe(struct conn *c, const struct resp_command *cmd);
void subs_unsubscribe(struct conn *c, const struct resp_command *cmd);

/* The connection is closing: its subscriptions end. */
void subs_conn_closed(struct conn *c);

/* Append the subscriptions' STATUS fields, each followed by a comma:
 * subscriptions, subscriptions_catching_up, subscriber_output_bytes (unsent
 * output of subscribed connections, in all) and subscriber_output_max_bytes
 * (of the fullest one). */
void subs_write_status(struct subs *s, struct buf *b);

/* The subscriptions' figures for METRICS: how many are live and catching
 * up, their connections' unsent output (in all, and the fullest one's),
 * and how far the furthest behind is from the newest applied event, by
 * the times in the event ids (ms; live ones count 0, as do ones that have
 * not passed an event yet). */
struct subs_metrics {
    size_t live, catching_up;
    size_t output_bytes, output_max_bytes;
    uint64_t lag_max_ms;
};
void subs_read_metrics(struct subs *s, struct subs_metrics *m);

/* Once per loop turn (server_turn_end): subscriptions catching up read the
 * store as far as their connections take it, and subscriptions with
 * markers hear of a change of staleness. */
void subs_feed(struct subs *s);

/* After the turn's output was written (server_turn_end): whether a
 * subscription catching up can go on at once, without waiting for an
 * event to wake the loop. */
void subs_schedule(struct subs *s);

#endif
