/* groups.h - `eventflow-bench groups`: consumer groups (the GROUP command,
 * docs/protocol.md) measured the way ../shared/bench/redis_delivery.c's
 * `group` mode measures Redis's XREADGROUP + XACK, so the two compare one
 * to one.
 *
 *   groups.c      the modes (drain, writes): options, the leader, the
 *                 prefill, the groups, server CPU, the key=value report
 *   groups_consumers.c  the consumers' epoll loop (groups_consumers.h)
 *   groups_msg.c  the parts with no sockets, unit-tested
 *                 (tests/unit/test_bench_groups.c): the READ and ACK
 *                 requests, the scanner of their replies
 *
 * A consumer's cycle is redis_delivery.c's: GROUP READ {count, block_ms},
 * wait for the reply, then (if it held events) GROUP ACK of their ids and
 * wait for that reply; one request in flight per connection. Replies are
 * scanned in place and each ACK is written from the ids the READ returned
 * into buffers sized once for `count` events: nothing is allocated per
 * message. */
#ifndef EVENTFLOW_BENCH_GROUPS_H
#define EVENTFLOW_BENCH_GROUPS_H

#include <stddef.h>
#include <stdint.h>

/* An event id, a ULID: 26 characters. */
#define GR_ID_LEN 26
/* Longest group or consumer name (the server's limit). */
#define GR_NAME_MAX 128
/* Most events one READ may ask for (the server's limit). */
#define GR_COUNT_MAX 1000

/* A valid group or consumer name for these requests: 1..GR_NAME_MAX
 * printable ASCII characters, none that JSON would need escaped. */
int gr_name_ok(const char *name);

/* GROUP READ {"group":group,"consumer":consumer,"count":count,
 * "block_ms":block_ms} as a RESP command into out. Returns its length, or
 * 0 when it does not fit in cap. */
size_t gr_read_request(char *out, size_t cap, const char *group, const char *consumer, unsigned count,
                       unsigned block_ms);

/* Bytes gr_ack_request needs for n ids of a group named `group`. */
size_t gr_ack_request_size(const char *group, unsigned n);
/* GROUP ACK {"group":group,"ids":[ids...]} as a RESP command into out,
 * which holds gr_ack_request_size(group, n) bytes. Returns its length. */
size_t gr_ack_request(char *out, const char *group, const char (*ids)[GR_ID_LEN], unsigned n);

enum gr_reply_kind {
    GR_R_EVENTS,   /* READ's array of events */
    GR_R_INTEGER,  /* ACK's count */
    GR_R_ERROR,    /* -text */
};

struct gr_reply {
    enum gr_reply_kind kind;
    unsigned events;        /* EVENTS: how many */
    unsigned redelivered;   /* EVENTS: those with "deliveries" above 1 */
    long long integer;      /* INTEGER */
    const char *text;       /* ERROR: the text after '-' (borrowed) */
    size_t text_len;
};

/* Scan the reply at the start of p[0..n): an array of up to max_events
 * bulk strings, each an event JSON that starts {"id":"<26>" and ends
 * ,"deliveries":<n>} (copied to ids[i], no terminator); an integer; or an
 * error. Returns its length and fills *r when it is complete, 0 when more
 * bytes are needed, -1 when it is none of these. Reads nothing past p + n. */
long gr_reply_scan(const char *p, size_t n, char (*ids)[GR_ID_LEN], unsigned max_events, struct gr_reply *r);

/* groups.c: `eventflow-bench groups ...`, argv[0] being "groups". */
int bench_groups_main(int argc, char **argv);

#endif
