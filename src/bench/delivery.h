/* delivery.h - `eventflow-bench delivery`: how fast subscriptions deliver
 * events, measured the way ../shared/bench/redis_delivery.c measures Redis
 * streams (XREAD BLOCK), so the two compare one to one.
 *
 *   delivery.c      the modes (live, fanout, catchup): options, the writer
 *                   thread, the subscribers' epoll loop, server CPU, the
 *                   key=value report
 *   delivery_msg.c  the parts with no sockets, unit-tested
 *                   (tests/unit/test_bench_delivery.c): the ADD request
 *                   template and its stamp, the scanners of pushed messages
 *                   (RESP, or an HTTP event stream: head, chunks, SSE
 *                   messages), the stamp's parser, quantiles over negative
 *                   and positive latencies
 *
 * The event is scripts/bench-profiles/event-store-200.sh's 200-byte event,
 * {"type":"BenchEvent","data":"<169 bytes>"}, its data starting with the
 * stamp "<seq, 10 digits>:<send time, CLOCK_MONOTONIC ns, 19 digits>:" and
 * padded with the profile's letters, as redis_delivery.c's entries are.
 * Everything runs on one machine, so the writer's and the readers' clocks
 * are one clock. */
#ifndef EVENTFLOW_BENCH_DELIVERY_H
#define EVENTFLOW_BENCH_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bench/bench_hist.h"

#define DL_DATA_LEN 169
#define DL_STAMP_LEN 31 /* "%010llu:%019llu:" */
#define DL_SEQ_DIGITS 10
#define DL_TS_DIGITS 19

/* The ADD of one event to `stream`, as a RESP command, with a zero stamp;
 * dl_add_stamp writes a real one into a copy. */
struct dl_add_template {
    char *req;          /* owned */
    size_t len;
    size_t stamp_off;   /* offset of the stamp in req */
};

void dl_add_template_init(struct dl_add_template *t, const char *stream);
void dl_add_template_free(struct dl_add_template *t);
/* Copy the template to out (t->len bytes) with seq and ts in its stamp. */
void dl_add_stamp(const struct dl_add_template *t, char *out, uint64_t seq, uint64_t ts_ns);

/* One frame a subscriber's connection receives. */
enum dl_frame_kind {
    DL_F_MESSAGE,     /* ["message", spec, payload] */
    DL_F_SUBSCRIBE,   /* ["subscribe", spec, count] */
    DL_F_ERROR,       /* -text: payload is the text */
    DL_F_OTHER,       /* any other well-formed frame of up to 3 elements */
};

struct dl_frame {
    enum dl_frame_kind kind;
    const char *payload;  /* MESSAGE: the event JSON; ERROR: the text (borrowed) */
    size_t payload_len;
};

/* Scan the frame at the start of p[0..n): a RESP2 array or RESP3 push of
 * up to 3 bulk strings, integers or nulls, or an error. Returns its length
 * and fills *f when it is complete, 0 when more bytes are needed, -1 when
 * it is not such a frame. Reads nothing past p + n and copies nothing. */
long dl_frame_scan(const char *p, size_t n, struct dl_frame *f);

/* The decimal integer of a RESP line "<digits>\r\n" starting at p[*i] (a
 * leading '-' allowed, at most 18 digits); moves *i past the CRLF.
 * 1 done, 0 incomplete, -1 malformed. */
int dl_scan_int_line(const char *p, size_t n, size_t *i, long long *out);

/* The error reply "-<text>\r\n" at p[0..n) (p[0] is '-'): its length, the
 * text in *text and *len (borrowed), or 0 when its end is not there yet. */
long dl_scan_error(const char *p, size_t n, const char **text, size_t *len);

/* Subscribers over HTTP (--sse-port): GET /all/subscribe answered as a
 * text/event-stream (docs/http.md, "Server-sent events"), which h2o sends
 * with chunked transfer coding. Three steps, each fed as bytes arrive:
 * the response head, the chunks' data, the SSE messages in that data. */

/* The response head at p[0..n): its length once its empty line is there,
 * 0 before, -1 when it is not an HTTP/1.x head (or is over 64 KiB). Sets
 * *status and *chunked (Transfer-Encoding: chunked). */
long dl_http_head_scan(const char *p, size_t n, int *status, bool *chunked);

/* The decoder of a chunked body (RFC 9112, 7.1); zero it to start. */
struct dl_dechunk {
    uint64_t left;  /* bytes of the current chunk's data still to come */
    bool crlf;      /* the CRLF that ends a chunk's data comes next */
    bool ended;     /* the last (zero-size) chunk came: the body is over */
};

/* Decode what can be of p[0..n) into out, which has room for n bytes (the
 * data is never longer than its encoding); *out_len is what was written.
 * Returns the bytes of p consumed (a size line or CRLF cut short is left
 * for the next call, with what follows), or -1 when malformed. Consumes
 * nothing after the last chunk's size line. */
long dl_dechunk(struct dl_dechunk *d, const char *p, size_t n, char *out, size_t *out_len);

/* The SSE message at the start of p[0..n), its lines ended by "\n" (as
 * eventflowd writes them) and the message by an empty line: the comment
 * ": subscribed" is DL_F_SUBSCRIBE; a message with a data line and no
 * event type is DL_F_MESSAGE, its payload the first data line (eventflowd
 * writes an event's compact JSON, which is one line); anything else
 * (": heartbeat", markers) DL_F_OTHER. Returns its length with the empty
 * line, or 0 when it is not complete. Copies nothing. */
long dl_sse_scan(const char *p, size_t n, struct dl_frame *f);

/* The stamp of an event's JSON (its "data" string). 0, or -1 without one. */
int dl_event_stamp(const char *json, size_t len, uint64_t *seq, uint64_t *ts_ns);

/* Latencies that may be negative (a subscriber may hear of an event before
 * the writer hears its ADD acknowledged): the magnitudes of negative ones
 * and the positive ones, in nanoseconds, each in a log-linear histogram. */
struct dl_signed_hist {
    struct bench_hist neg, pos;
    int64_t min, max;     /* exact */
};

void dl_signed_hist_init(struct dl_signed_hist *h);
void dl_signed_hist_record(struct dl_signed_hist *h, int64_t ns);
uint64_t dl_signed_hist_count(const struct dl_signed_hist *h);
/* The q-quantile (0 <= q < 1), nearest rank as redis_delivery.c counts it:
 * the sample at 0-based rank floor(q * count), negatives first; in ns, to
 * a bucket's precision (bench_hist.h). 0 when empty. */
double dl_signed_hist_quantile(const struct dl_signed_hist *h, double q);

/* delivery.c: `eventflow-bench delivery ...`, argv[0] being "delivery". */
int bench_delivery_main(int argc, char **argv);

#endif
