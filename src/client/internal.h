/* internal.h - the client object and the pieces of libeventflow that share
 * it: discovery.c (endpoints, the view of the cluster, routing), client.c
 * (the retry loop and the public calls), iter.c, pipeline.c,
 * subscribe.c, group.c and group_consume.c.
 *
 * Nothing here is exported from the library. */
#ifndef EVENTFLOW_CLIENT_INTERNAL_H
#define EVENTFLOW_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/conn.h"
#include "client/json.h"
#include "client/retry.h"
#include "client/tls.h"
#include "eventflow/eventflow.h"

#define EF_MAX_SEEDS 64
#define EF_DEFAULT_CONNECT_TIMEOUT_MS 1000
#define EF_DEFAULT_REQUEST_TIMEOUT_MS 5000
#define EF_DEFAULT_RETRY_DEADLINE_MS 15000
/* Backoff: 25 ms doubling up to 500 ms, so a client notices a new leader
 * within about half a second of its election. */
#define EF_BACKOFF_BASE_MS 25
#define EF_BACKOFF_CAP_MS 500
/* MOVED hops followed without a pause before backing off: more than this
 * means nodes disagree about the leader (an election is under way). */
#define EF_MAX_HOPS 3
/* A node that failed is avoided for reads this long when others exist. */
#define EF_NODE_PENALTY_MS 1000
/* A connection idle longer than this is checked before reuse. */
#define EF_IDLE_CHECK_MS 1000

/* One node the client may talk to: a member once the configuration is
 * known, a seed before that. */
struct ef_node {
    struct ef_endpoint ep;
    uint64_t id;          /* member id; 0 for a seed */
    struct ef_conn conn;  /* open and authenticated, or closed */
    int64_t failed_at;    /* ef_now_ms() of its last failure, 0 if none */
    int64_t used_at;      /* ef_now_ms() of the last reply on conn */
    uint64_t failed_call; /* the call (client->call_no) it last failed in */
};

/* Where a request goes. */
enum ef_route {
    EF_ROUTE_LEADER, /* writes, linearizable reads, membership changes */
    EF_ROUTE_READ,   /* by the read preference */
};

struct eventflow_client {
    /* options, resolved */
    char *password; /* owned, or NULL */
    char *user;     /* owned, or NULL: AUTH <password> alone */
    int connect_timeout_ms;
    int request_timeout_ms;
    int retry_deadline_ms;
    enum eventflow_read_preference read_preference;
    enum eventflow_consistency consistency;
    bool send_keys;
    struct ef_tls *tls; /* owned; NULL: plaintext */

    struct ef_endpoint *seeds; /* owned, n_seeds entries */
    size_t n_seeds;

    /* The view: nodes, who leads, where reads go. Indexes are into nodes
     * and are recomputed whenever the table is rebuilt. */
    struct ef_node *nodes; /* owned, n_nodes entries */
    size_t n_nodes;
    int leader;            /* -1: not known */
    int reader;            /* the node reads stick to, -1: none picked */
    bool members_known;    /* nodes came from CLUSTER MEMBERS */
    bool view_stale;       /* ask the cluster again before routing */

    uint64_t call_no; /* counts calls, and rounds of retries within one */
    struct ef_rng rng;

    char last_written[EF_ID_LEN + 1]; /* greatest id this client appended, "" */
    char last_node[EF_ADDR_MAX];      /* who answered the last request */
    char leader_addr[EF_ADDR_MAX];    /* for eventflow_client_leader */
    char err[512];                    /* eventflow_client_last_error */
};

/* A client of its own for an object that outlives or leaves the thread of
 * c (a subscription): c's options, seeds and view, without its
 * connections. Free with eventflow_client_free. */
struct eventflow_client *ef_client_clone(const struct eventflow_client *c);

/* Record a failure message and return code. */
int ef_fail(struct eventflow_client *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- discovery.c ------------------------------------------------------ */

/* Parse a comma-separated endpoint list into a new array (caller frees).
 * Empty entries are skipped; at least one endpoint, at most EF_MAX_SEEDS.
 * Returns 0, or -1 with the reason in err. */
int ef_endpoints_parse(const char *list, struct ef_endpoint **out, size_t *n, char *err,
                       size_t err_cap);

/* Index of the node with this address, adding it if absent. */
int ef_node_intern(struct eventflow_client *c, const char *addr);

/* Note that node i failed (closes its connection, forgets it as leader or
 * reader). */
void ef_node_failed(struct eventflow_client *c, int i);

/* Open cn to ep (TLS if the client has it) and AUTH if the client has a
 * password. Returns EF_OK, EF_EAUTH (also: a TLS certificate refused), or
 * EF_EUNAVAILABLE (message set). */
int ef_conn_connect(struct eventflow_client *c, struct ef_conn *cn, const struct ef_endpoint *ep,
                    int64_t deadline_ms);

/* Make node i's connection usable, reusing it if still healthy. A reused
 * connection is first checked for a close the server sent while it was
 * idle (a system call) when verify is set or it has been idle for
 * EF_IDLE_CHECK_MS: a request that may not be resent must not go into a
 * socket that is already dead. */
int ef_node_connect(struct eventflow_client *c, int i, int64_t deadline_ms, bool verify);

/* Ask the cluster for members and leader (STATUS and CLUSTER MEMBERS of
 * the first node that answers, going on while none knows a leader).
 * Returns EF_OK once some node answered, EF_EAUTH, or EF_EUNAVAILABLE. */
int ef_view_refresh(struct eventflow_client *c, int64_t deadline_ms);

/* The node for a request on this route: an index, or EF_EAUTH, or
 * EF_EUNAVAILABLE (no leader known / every node failed in this round;
 * the caller backs off and tries again). */
int ef_route(struct eventflow_client *c, enum ef_route route, int64_t deadline_ms);

/* The address a client reaches member m at: its TLS address when the
 * client speaks TLS, else its client address ("" when not registered). */
const char *ef_member_address(const struct eventflow_client *c, const struct eventflow_member *m);

/* The leader is the node at addr (from MOVED). Returns its index, or -1
 * if addr is not a valid address. May grow (move) the node table. */
int ef_set_leader(struct eventflow_client *c, const char *addr);

/* No leader is known any more. */
void ef_forget_leader(struct eventflow_client *c);

/* ---- client.c --------------------------------------------------------- */

struct ef_call {
    enum ef_route route;
    size_t argc;
    const char *const *argv;
    const size_t *lens; /* NULL: NUL-terminated arguments */
    bool idempotent;    /* may be sent again when its outcome is unknown */
    bool is_write;      /* changes state: a lost reply leaves the outcome unknown */
    int extra_wait_ms;  /* the server may take this long besides the request
                           timeout before it answers (a blocking GROUP READ) */
};

/* Send a request where its route says, retrying as described in client.h,
 * until a reply that is the answer: EF_OK with *reply filled (a value or a
 * final error reply; the caller frees it), or an EF_E* code (message set). */
int ef_call_run(struct eventflow_client *c, const struct ef_call *call, struct resp_value *reply);

/* Read the reply to a request sent on node i's connection, up to
 * deadline. EF_IO_REPLY: the node answered (it is the last node) and
 * *cls says what the reply means; a reply that is not the answer (not
 * EF_REPLY_OK or EF_REPLY_FINAL) is already freed, with the message set
 * and, for MOVED, the leader's address in moved. Any other EF_IO_* value:
 * the node failed (noted, message set). */
int ef_node_read_reply(struct eventflow_client *c, int i, int64_t deadline, struct resp_value *reply,
                       enum ef_reply_class *cls, char moved[EF_ADDR_MAX]);

/* Node i answered with a reply of class cls that is not the answer (not
 * EF_REPLY_OK or EF_REPLY_FINAL; moved: MOVED's address): update the view
 * as it says (the leader, staleness, the node's failure), count a MOVED
 * hop in *hops, and set *pause when the next attempt should back off. */
void ef_view_note_reply(struct eventflow_client *c, int i, enum ef_reply_class cls, const char *moved,
                        enum ef_route route, unsigned *hops, bool *pause);

/* Reads the answer to `what` ("GET", "CLUSTER STATUS": for messages) from
 * a reply that is not an error into *out, whose type the reader knows.
 * Returns EF_OK, or an EF_E* code with the message set. */
typedef int (*answer_fn)(struct eventflow_client *c, const char *what,
                         const struct resp_value *reply, void *out);

/* Run a call and read its answer into *out: an error reply fails with its
 * own code and message, anything else goes to read. */
int ef_ask(struct eventflow_client *c, const struct ef_call *call, const char *what, answer_fn read,
           void *out);

/* The code a decoder (json.c, group_wire.c) returned: EF_OK, or its error
 * with a message naming the node, the command and why (err). */
int ef_decoded(struct eventflow_client *c, int rc, const char *what, const char *err);

/* Map a final error reply to its code and message. */
int ef_reply_fail(struct eventflow_client *c, const struct resp_value *reply);

/* Generate an idempotency key (ef_keygen_fn over the client's rng). */
void ef_client_keygen(void *client, char *out);

/* Remember the greatest id among events as the last written. */
void ef_client_note_written(struct eventflow_client *c, const struct eventflow_event_list *l);

/* Read options for this client's consistency and request timeout. */
void ef_client_read_opts(const struct eventflow_client *c, struct ef_read_opts *o);

/* The route reads take under this client's consistency. */
enum ef_route ef_client_read_route(const struct eventflow_client *c);

#endif
