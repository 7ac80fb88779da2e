/* eventflow/client.h - the eventflow client: one object that makes a
 * cluster look like one server.
 *
 * A client knows a list of seed endpoints. On first use it asks any
 * reachable seed for the cluster's members (CLUSTER MEMBERS) and leader
 * (STATUS), then sends writes to the leader and reads where the read
 * preference says. It follows -MOVED redirects, refreshes its view after
 * -NOLEADER, -TRYAGAIN and lost connections, and retries with exponential
 * backoff and jitter until the retry deadline; after that the call fails
 * with EF_EUNAVAILABLE. A call never waits (much) past its deadline.
 *
 * Safe retries of writes. Every appended event carries an idempotency key
 * (yours, or one the library generates). When an append's outcome is
 * unknown (the connection dropped after it was sent, or the server
 * answered -UNKNOWN) the library sends the same append again: the server
 * recognises the keys and answers with the events it stored the first time
 * instead of appending them twice. So an append either returns the stored
 * events exactly once, or fails with an error that says whether anything
 * may have been written (EF_EUNKNOWN) or not (every other error).
 * Membership changes are not idempotent and are never resent after they
 * may have reached the server.
 *
 * Threads. A client, and every iterator and pipeline made from it, must be
 * used by one thread at a time: the library takes no locks. Give each
 * thread its own client (clients share nothing). Functions that take no
 * client (eventflow_options_init, eventflow_strerror, the *_free functions
 * of lists) are thread-safe. A client must not be used in a child process
 * after fork().
 *
 * Signals. Sockets are written with MSG_NOSIGNAL: a dropped connection
 * never raises SIGPIPE. A call interrupted by a signal handler resumes.
 *
 * Errors. Functions returning int return EF_OK (0) or a negative
 * EF_E* code (eventflow/errors.h); the client keeps a message about the
 * last failure for eventflow_client_last_error. Output arguments are left
 * empty (lists) or untouched (scalars) on failure.
 *
 * Memory. Like the rest of eventflow, the library treats running out of
 * memory as fatal: it aborts the process rather than return EF_ENOMEM
 * (which is reserved). The library never prints, except that one line
 * before aborting. */
#ifndef EVENTFLOW_CLIENT_H
#define EVENTFLOW_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eventflow/errors.h"
#include "eventflow/export.h"
#include "eventflow/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The environment variable read when no endpoints are given:
 * comma-separated host:port, e.g. "10.0.0.1:6543,10.0.0.2:6543". */
#define EF_ENDPOINTS_ENV "EVENTFLOW_ENDPOINTS"
/* The endpoint used when neither options nor environment give one. */
#define EF_DEFAULT_ENDPOINT "127.0.0.1:6543"

/* Which node serves reads (GET, GETALL, LISTSTREAMS, counters, CHECKSUM).
 * The client keeps reading from the node it picked until that node fails,
 * so one client does not spread its reads; many clients do, since each
 * picks at random. */
enum eventflow_read_preference {
    EF_READ_LEADER = 0,   /* the leader (the default) */
    EF_READ_FOLLOWER = 1, /* a node other than the leader; the leader when no other answers */
    EF_READ_ANY = 2,      /* any member */
};

/* What a read (GET, GETALL, LISTSTREAMS) is guaranteed to see. */
enum eventflow_consistency {
    /* The default. The read sees every event this client has appended
     * (including through its pipelines): it carries "min_id", the id of
     * the last event written, so a node that has not applied it yet waits
     * for it (and the library tries another node if it waits too long). */
    EF_CONSISTENCY_READ_YOUR_WRITES = 0,
    /* Whatever the serving node has applied: fastest, may lag. */
    EF_CONSISTENCY_LOCAL = 1,
    /* The leader confirms it is still the leader after the request
     * arrived (a raft barrier): sees every write acknowledged to anyone
     * before the read started. Always served by the leader, whatever the
     * read preference. */
    EF_CONSISTENCY_LINEARIZABLE = 2,
};

/* Options of a client. A zeroed struct (or eventflow_options_init) means
 * every default. Pointers are borrowed for the duration of
 * eventflow_client_new only. */
struct eventflow_options {
    /* Seed endpoints: comma-separated "host:port" (IPv6 as "[addr]:port";
     * a missing ":port" means 6543). NULL or "": $EVENTFLOW_ENDPOINTS,
     * and if that is unset too, EF_DEFAULT_ENDPOINT. At most 64. */
    const char *endpoints;
    /* The server's password (AUTH), or NULL when it has none. */
    const char *password;
    /* One TCP connect plus AUTH. 0: 1000 ms. */
    int connect_timeout_ms;
    /* Waiting for one reply; when it passes the connection is dropped and
     * the request's outcome is unknown. 0: 5000 ms. */
    int request_timeout_ms;
    /* The whole call, every retry included. 0: 15000 ms. The default
     * covers a leader failover with a good margin. */
    int retry_deadline_ms;
    enum eventflow_read_preference read_preference;
    enum eventflow_consistency consistency;
    /* Do not send idempotency keys (for servers without the dedup index).
     * Then an append whose outcome is unknown is not retried: it fails
     * with EF_EUNKNOWN. */
    bool no_idempotency_keys;

    /* TLS (docs/client.md, "TLS"). When on, every connection is TLS: the
     * endpoints are the nodes' TLS ports (--tls-port), and the client
     * follows the TLS addresses the cluster names (CLUSTER MEMBERS'
     * tls_address, -MOVED on a TLS connection). Off unless tls is set or
     * $EVENTFLOW_TLS is "1"; a CA, certificate or key given (here or by
     * environment) does not turn it on by itself. The files are read once,
     * by eventflow_client_new: a client made before a CA or certificate
     * was renewed keeps the old one (make a new client). Subscriptions
     * made from the client share what it read. */
    bool tls;
    /* PEM CA certificates the servers' certificates must chain to. NULL:
     * $EVENTFLOW_CACERT, and if that is unset, the system's default CAs. */
    const char *tls_ca_file;
    /* The client's PEM certificate chain and key, for servers that ask
     * for one (--tls-client-auth). NULL: $EVENTFLOW_CERT and
     * $EVENTFLOW_KEY; give both or neither. */
    const char *tls_cert_file;
    const char *tls_key_file;
    /* Do not check that the server's certificate names the host of the
     * endpoint (an IP address against its IP entries, a name against its
     * DNS names). The chain to the CA is checked regardless. */
    bool tls_no_verify_name;
    /* The user to AUTH as (`AUTH <user> <password>`, docs/protocol.md
     * "Users and ACLs"), or NULL for the password's own login (the user
     * "default"). Added last: a program built against an older header
     * must be rebuilt. */
    const char *user;
};

/* Environment variables of the TLS options (see above). */
#define EF_TLS_ENV "EVENTFLOW_TLS"
#define EF_TLS_CA_ENV "EVENTFLOW_CACERT"
#define EF_TLS_CERT_ENV "EVENTFLOW_CERT"
#define EF_TLS_KEY_ENV "EVENTFLOW_KEY"

/* Set every field to its default (all zero). */
EF_API void eventflow_options_init(struct eventflow_options *opts);

struct eventflow_client;

/* Create a client. opts may be NULL for every default. No connection is
 * made yet (see eventflow_client_connect). On success *out holds the
 * client, which the caller frees with eventflow_client_free.
 * Errors: EF_EINVAL (bad endpoint list or option, or with TLS on, a CA,
 * certificate or key file that cannot be read or does not match; *out is
 * set to NULL and there is no client to ask for a message, so the reason
 * is the only thing lost: check the list format above and the files),
 * EF_ENOMEM.
 * TLS failures later: a server certificate that does not verify against
 * the CAs (or does not name the endpoint's host), or a client
 * certificate the server refuses, fail a call at once with EF_EAUTH and
 * the reason in the last error; a node that does not speak TLS on the
 * endpoint counts as unreachable (EF_EUNAVAILABLE after the retries). */
EF_API int eventflow_client_new(const struct eventflow_options *opts,
                                struct eventflow_client **out);

/* Close every connection and free the client (the password is wiped
 * first). Iterators and pipelines made from it must be freed first. NULL
 * is a no-op. */
EF_API void eventflow_client_free(struct eventflow_client *c);

/* A one-line message about why the last call on this client failed,
 * with the node's address and the server's words where there were any.
 * Meaningful right after a call returned an error; valid until the next
 * call on the client. */
EF_API const char *eventflow_client_last_error(const struct eventflow_client *c);

/* The address ("host:port") of the node that answered the last request
 * sent, or "" if none yet. Valid until the next call on the client. */
EF_API const char *eventflow_client_last_node(const struct eventflow_client *c);

/* The leader's client address as far as the client knows, or "" if no
 * leader is known. Valid until the next call on the client. */
EF_API const char *eventflow_client_leader(const struct eventflow_client *c);

/* The id of the last event this client has appended ("" if none): what
 * read-your-writes reads wait for. */
EF_API const char *eventflow_client_last_written_id(const struct eventflow_client *c);

/* Learn the members and the leader now rather than on first use, retrying
 * until the deadline. Errors: EF_EUNAVAILABLE (no seed answered, or none
 * knows a leader), EF_EAUTH, EF_EPROTO. */
EF_API int eventflow_client_connect(struct eventflow_client *c);

/* ---- writes ---------------------------------------------------------- */

/* Append events[0..n) to stream, atomically.
 * expected_version: the stream's length before the append (0 for a new
 * stream), or EF_VERSION_ANY to skip the check.
 * out: NULL, or receives the stored events (ids, versions, timestamps) in
 * the order given; the caller frees it with eventflow_event_list_free.
 * A retried append whose first attempt was applied returns the events of
 * that first attempt, even if the stream has moved on since.
 * Errors: EF_EINVAL (no events, empty type, bad id, key or payload; or the
 * server refused the request), EF_ECONFLICT, EF_EGAP, EF_EKEYREUSE,
 * EF_EFULL, EF_ETOOBIG, EF_EAUTH, EF_EUNAVAILABLE (nothing written),
 * EF_EUNKNOWN (may have been written), EF_EPROTO, EF_ESERVER. */
EF_API int eventflow_append(struct eventflow_client *c, const char *stream,
                            int64_t expected_version,
                            const struct eventflow_new_event *events, size_t n,
                            struct eventflow_event_list *out);

/* ---- reads ----------------------------------------------------------- */

/* Events of stream with version >= from_version, at most limit (0: the
 * server's page maximum, 10000 by default; larger limits are clamped to
 * it). An unknown stream gives an empty list. The caller frees *out.
 * Errors: EF_EINVAL, EF_EAUTH, EF_EUNAVAILABLE, EF_EPROTO, EF_ESERVER. */
EF_API int eventflow_read_stream(struct eventflow_client *c, const char *stream,
                                 uint64_t from_version, uint32_t limit,
                                 struct eventflow_event_list *out);

/* The global log strictly after event id after_id (NULL or "": from the
 * start), at most limit (0: 10; clamped to the server's page maximum).
 * Errors as eventflow_read_stream. */
EF_API int eventflow_read_all(struct eventflow_client *c, const char *after_id,
                              uint32_t limit, struct eventflow_event_list *out);

/* Streams in name order, skipping the first skip, at most limit (0: 25).
 * Errors as eventflow_read_stream. */
EF_API int eventflow_list_streams(struct eventflow_client *c, uint64_t skip, uint32_t limit,
                                  struct eventflow_stream_list *out);

/* Exact counts, as the read-preference node has applied them (they carry
 * no read-your-writes wait: use EF_READ_LEADER for fresh figures).
 * Errors: EF_EAUTH, EF_EUNAVAILABLE, EF_EPROTO, EF_ESERVER. */
EF_API int eventflow_event_count(struct eventflow_client *c, uint64_t *out);
EF_API int eventflow_stream_count(struct eventflow_client *c, uint64_t *out);

/* The read-preference node's checksum. Errors as eventflow_event_count. */
EF_API int eventflow_checksum(struct eventflow_client *c, struct eventflow_checksum *out);

/* ---- iterators ------------------------------------------------------- */

struct eventflow_iter;

/* An iterator over a stream from from_version, or over the global log
 * after after_id (NULL or "": from the start), fetching page_size events
 * per request (0: 1000). Nothing is sent until the first
 * eventflow_iter_next. The client must outlive the iterator.
 * Errors: EF_EINVAL, EF_ENOMEM. */
EF_API int eventflow_iter_stream(struct eventflow_client *c, const char *stream,
                                 uint64_t from_version, uint32_t page_size,
                                 struct eventflow_iter **out);
EF_API int eventflow_iter_all(struct eventflow_client *c, const char *after_id,
                              uint32_t page_size, struct eventflow_iter **out);

/* The next event: returns 1 with *ev pointing at it (owned by the
 * iterator, valid until the next eventflow_iter_next or
 * eventflow_iter_free), 0 at the current end, or a negative error (as
 * eventflow_read_stream) after which calling again retries the same page.
 * After 0, calling again asks the server again, so an iterator also tails
 * a stream or the log. */
EF_API int eventflow_iter_next(struct eventflow_iter *it, const struct eventflow_event **ev);

/* NULL is a no-op. */
EF_API void eventflow_iter_free(struct eventflow_iter *it);

/* ---- pipelined appends ----------------------------------------------- */

/* A pipeline keeps many appends in flight on its own connection to the
 * leader, for throughput; it shares the client's view of the cluster and
 * its options. Appends are answered through callbacks, called on the
 * caller's thread from inside eventflow_pipeline_append,
 * eventflow_pipeline_flush or eventflow_pipeline_free.
 *
 * Retries work as in eventflow_append, per append, each with its own
 * deadline counted from its eventflow_pipeline_append. When appends are
 * retried (after a failover) they may be applied in a different order
 * than submitted: give expected versions when order within a stream
 * matters (a reordered append then fails with EF_ECONFLICT or EF_EGAP
 * rather than landing out of order). */
struct eventflow_pipeline;

/* Called once per append. status is EF_OK with the stored events, or an
 * error as eventflow_append's (stored is then empty). stored is owned by
 * the pipeline and valid during the call only. The callback may call
 * functions on the client, but not on this pipeline. */
typedef void (*eventflow_append_cb)(void *arg, int status,
                                    const struct eventflow_event_list *stored);

/* Create a pipeline with at most max_in_flight appends outstanding
 * (0: 256). The client must outlive it. Errors: EF_ENOMEM. */
EF_API int eventflow_pipeline_new(struct eventflow_client *c, unsigned max_in_flight,
                                  struct eventflow_pipeline **out);

/* Queue an append (arguments as eventflow_append; they are copied). When
 * max_in_flight appends are outstanding this first waits until one
 * completes. Returns EF_OK, or EF_EINVAL for an invalid request, in which
 * case cb is not called. */
EF_API int eventflow_pipeline_append(struct eventflow_pipeline *p, const char *stream,
                                     int64_t expected_version,
                                     const struct eventflow_new_event *events, size_t n,
                                     eventflow_append_cb cb, void *arg);

/* Wait until every queued append has completed (its callback has run).
 * Returns EF_OK if all of those completed since the last flush succeeded,
 * else the error of the first that failed. */
EF_API int eventflow_pipeline_flush(struct eventflow_pipeline *p);

/* Appends queued and not yet completed. */
EF_API size_t eventflow_pipeline_pending(const struct eventflow_pipeline *p);

/* Free the pipeline without waiting: appends not completed get their
 * callback with EF_ECANCELED (those already sent may still be applied).
 * Call eventflow_pipeline_flush first to wait for them. NULL is a no-op. */
EF_API void eventflow_pipeline_free(struct eventflow_pipeline *p);

/* ---- cluster --------------------------------------------------------- */

/* STATUS of one node: address "host:port" of a member, or NULL for the
 * leader. Not retried on another node when an address is given.
 * Errors: EF_EINVAL, EF_EAUTH, EF_EUNAVAILABLE, EF_EPROTO. */
EF_API int eventflow_node_status(struct eventflow_client *c, const char *address,
                                 struct eventflow_node_status *out);

/* CLUSTER STATUS: every member's STATUS as one node gathers it (members
 * that do not answer are listed with state "unreachable"). The caller
 * frees *out. Errors as eventflow_node_status. */
EF_API int eventflow_cluster_status(struct eventflow_client *c, struct eventflow_status_list *out);

/* CLUSTER MEMBERS: the configuration as the node the read preference
 * picks has it (the leader by default), possibly a change not yet
 * committed (each member's `committed` says). The caller frees *out. */
EF_API int eventflow_cluster_members(struct eventflow_client *c, struct eventflow_member_list *out);

/* Membership changes, sent to the leader; one change at a time in the
 * cluster (a change in progress is waited out until the deadline). They
 * are not idempotent: if the outcome is unknown they fail with
 * EF_EUNKNOWN, and the change may still take effect once a quorum holds
 * it: the outcome is the leader's eventflow_cluster_members list once its
 * members say committed (with the default read preference the leader
 * answers; a follower's list can be older).
 * Errors: EF_EINVAL (bad argument, or refused by the server: id or address
 * in use, no such member...; the message has the server's words),
 * EF_EAUTH, EF_EUNAVAILABLE, EF_EUNKNOWN, EF_ESERVER, EF_EPROTO. */
/* Add a member as a spare (then assign it a role). */
EF_API int eventflow_member_add(struct eventflow_client *c, uint64_t id,
                                const char *raft_address, const char *client_address);
/* Give a member a role: voter, standby or spare. */
EF_API int eventflow_member_assign(struct eventflow_client *c, uint64_t id,
                                   enum eventflow_role role);
EF_API int eventflow_member_remove(struct eventflow_client *c, uint64_t id);
/* Hand leadership to member id (0: a voter the leader picks). */
EF_API int eventflow_leader_transfer(struct eventflow_client *c, uint64_t id);

#ifdef __cplusplus
}
#endif

#endif
