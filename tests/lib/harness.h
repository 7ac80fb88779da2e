/* harness.h - run real eventflowd processes from cmocka tests.
 *
 * A test gets a fixture (harness_setup/harness_teardown as the cmocka
 * setup/teardown of every test), starts one or more nodes in it, talks to
 * them over a synchronous RESP client or through redis-cli, and may stop,
 * kill -9 and restart them. Every node runs on free 127.0.0.1 ports with its
 * own temporary directory (data directory plus the node's stderr log).
 *
 * Nothing is left behind: the teardown stops every node the fixture owns and
 * closes every connection still open (also when an assertion failed, since
 * cmocka runs the teardown after a failed test); an atexit handler kills any
 * node still running when the process exits; and every child process gets
 * PR_SET_PDEATHSIG, so even a test process killed by a timeout takes its
 * nodes with it.
 *
 * Nothing here waits by sleeping for something to happen: waits poll an
 * observable condition (a process state, a STATUS reply) with a deadline, and
 * every socket has send and receive timeouts, so a test fails instead of
 * hanging.
 *
 * Errors: functions returning int return 0 on success and -1 on failure after
 * printing a one-line reason to stderr; functions returning a pointer return
 * NULL on failure, likewise. The harness_assert_* and harness_json_*
 * macros, harness_add_node and harness_start_single fail the current cmocka
 * test instead, reporting the caller's file and line.
 *
 * Thread-safety: none. Use the harness from the test's main thread only
 * (concurrency is done with many connections and harness_pump, not threads).
 *
 * Environment:
 *   EVENTFLOWD             path of the eventflowd binary (set by meson)
 *   TMPDIR                 where the temporary directories go (default /tmp)
 *   EVENTFLOW_ITEST_KEEP   if set, temporary directories are kept
 *   EVENTFLOW_ITEST_LOGS   if set, node logs are printed even for passed tests
 *   EVENTFLOW_ITEST_LOG_LEVEL  if set, passed to every node as --log-level */
#ifndef EVENTFLOW_TEST_HARNESS_H
#define EVENTFLOW_TEST_HARNESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"
#include "protocol/resp_reader.h"

#define HARNESS_MAX_NODES 8
/* Send/receive timeout of harness connections, and the default of waits. */
#define HARNESS_IO_TIMEOUT_MS 10000
/* How long a node gets to come up (bootstrap, election, first barrier). */
#define HARNESS_READY_TIMEOUT_MS 20000
/* How long a node gets to exit after SIGTERM before it is killed. */
#define HARNESS_STOP_TIMEOUT_MS 15000

/* ---- ports ------------------------------------------------------------ */

/* Find a free TCP port on 127.0.0.1 into *port. Candidates come from below
 * the kernel's ephemeral range (so that no outgoing connection can take the
 * port while a node is down between a kill and a restart), are checked by
 * binding them, are never handed out twice in one process, and are reserved
 * against other test processes by a file $TMPDIR/eventflow-ports/<port>
 * (released by harness_node_free for a node's ports, else at exit). Falls
 * back to binding port 0 if that range is unusable. Returns 0 or -1. */
int harness_free_port(unsigned *port);

/* ---- nodes ------------------------------------------------------------ */

/* How to run a node. Every pointer is borrowed for the duration of the call
 * only: harness_node_new copies what it needs. */
struct harness_node_opts {
    unsigned id;               /* --id; 0 means 1 */
    const char *cluster;       /* --cluster; NULL: a one-voter cluster */
    const char *password;      /* given as env PASSWORD (the EventflowDB way);
                                  harness_status/wait AUTH with it */
    const char *const *args;   /* extra flags, NULL-terminated, or NULL */
    const char *const *env;    /* extra "NAME=value" entries, NULL-terminated, or NULL;
                                  set after PASSWORD, so they may override it */
};

/* One eventflowd process, running or not. Fields are read-only for tests. */
struct harness_node {
    unsigned id;
    unsigned port;       /* client (RESP) port */
    unsigned raft_port;  /* raft port */
    unsigned http_port;  /* HTTP port (--http-port) */
    pid_t pid;           /* 0 while not running */
    char *dir;           /* owned: temporary directory, removed by harness_node_free */
    char *data_dir;      /* owned: dir/data, the --data directory */
    char *log_path;      /* owned: dir/eventflowd.log, stderr of every run, appended */
    char *password;      /* owned, or NULL */
    char *cluster;       /* owned, or NULL */
    char **args;         /* owned, NULL-terminated */
    char **env;          /* owned, NULL-terminated */
    int exit_status;     /* waitpid status of the last run that ended, -1 if none */
    bool failed;         /* a run ended unexpectedly (crash, bad exit code) */
    struct harness_node *next_live; /* private: registry of all nodes */
};

/* Pick the two ports, create the temporary directory; does not start the
 * process. Returns the node (free with harness_node_free) or NULL. */
struct harness_node *harness_node_new(const struct harness_node_opts *opts);

/* Stop the node if it runs (SIGTERM, then SIGKILL after the deadline),
 * remove its directory (unless EVENTFLOW_ITEST_KEEP) and free it. NULL is a
 * no-op. */
void harness_node_free(struct harness_node *n);

/* Replace the --cluster value (NULL: none) for the next start. */
void harness_node_set_cluster(struct harness_node *n, const char *cluster);

/* The --cluster entry of this node: "id@127.0.0.1:raft@127.0.0.1:port".
 * Returns a malloc'd string the caller frees. */
char *harness_node_member(const struct harness_node *n);

/* fork/exec $EVENTFLOWD with the node's flags and environment, stdout and
 * stderr appended to log_path. Returns once the process exists (not once it
 * is ready: see harness_wait_ready). Starting on the same node again after
 * a stop or kill is a restart on the same directory and ports. Returns 0, or
 * -1 if the node already runs, $EVENTFLOWD is not executable, or the log
 * cannot be opened or fork failed. */
int harness_node_start(struct harness_node *n);

/* Clean stop: SIGTERM (and SIGCONT, in case the test froze it with
 * SIGSTOP), wait for the exit up to HARNESS_STOP_TIMEOUT_MS, then SIGKILL.
 * Returns 0 if the process exited with status 0 in time; -1 (and prints the
 * log tail) if it was not running, had already died, exited with another
 * status, or had to be killed. The node is stopped either way. */
int harness_node_stop(struct harness_node *n);

/* kill -9: SIGKILL and reap it. Returns 0 if it was running until killed,
 * -1 if it had already exited on its own (which marks the node failed). */
int harness_node_kill(struct harness_node *n);

/* True if the process is running (reaps it, recording the status, if it has
 * exited; an exit nobody asked for marks the node failed). */
bool harness_node_alive(struct harness_node *n);

/* Whether a line of the node's log contains `what`. */
bool harness_node_log_says(const struct harness_node *n, const char *what);

/* Print the last `lines` lines of the node's log to stderr. */
void harness_node_print_log(const struct harness_node *n, unsigned lines);

/* The first line of the node's log (every run's) containing `text`, copied
 * into out (NULL: not copied); false if no line has it. */
bool harness_node_log_line(const struct harness_node *n, const char *text, char *out, size_t outlen);

/* ---- connections ------------------------------------------------------- */

/* A blocking client connection with send/receive timeouts of
 * HARNESS_IO_TIMEOUT_MS. Fields are read-only for tests. */
struct harness_conn {
    int fd;
    struct resp_reader reader;
    struct buf out;              /* queued by harness_queue*, not yet sent */
    struct resp_value *replies;  /* owned: received by harness_pump, not yet read */
    size_t replies_head;         /* index of the next reply harness_read returns */
    size_t n_replies;
    size_t cap_replies;
    bool eof;                    /* the server closed the connection */
    struct harness_conn *prev_open, *next_open; /* private: open connections */
};

/* A blocking socket connected to 127.0.0.1:port with the harness's send and
 * receive timeouts and TCP_NODELAY; -1 on failure (printed unless quiet). */
int harness_dial(unsigned port, bool quiet);

/* Connect to 127.0.0.1:port. Returns the connection (close with
 * harness_close) or NULL if it could not connect. */
struct harness_conn *harness_connect_port(unsigned port);
/* Same, to a node's client port. */
struct harness_conn *harness_connect(const struct harness_node *n);
/* Connect and AUTH with the node's password if it has one; NULL on failure. */
struct harness_conn *harness_connect_auth(const struct harness_node *n);

/* Close and free. NULL is a no-op. Replies not read are dropped. */
void harness_close(struct harness_conn *c);

/* Send one command as a RESP multibulk array: argc arguments of the given
 * lengths (lens NULL: each argv[i] is a NUL-terminated string). Blocks until
 * everything queued before and this command are sent. Returns 0 or -1. */
int harness_send_argv(struct harness_conn *c, size_t argc, const char *const *argv,
                      const size_t *lens);
/* Same with NUL-terminated arguments given as a NULL-terminated list. */
int harness_send(struct harness_conn *c, const char *arg0, ...) __attribute__((sentinel));
/* Send bytes exactly as given (after anything already queued). */
int harness_send_raw(struct harness_conn *c, const void *p, size_t n);

/* The next reply: first those harness_pump already received, then from the
 * socket, waiting up to the receive timeout. Returns 1 with *out filled
 * (free with resp_value_free), 0 if the server closed the connection before
 * a whole reply arrived, -1 on timeout, I/O error or a malformed reply. */
int harness_read(struct harness_conn *c, struct resp_value *out);

/* Send a command (NUL-terminated arguments, NULL-terminated list) and read
 * its reply into *out. Returns 0, or -1 (nothing in *out) on any failure. */
int harness_cmd(struct harness_conn *c, struct resp_value *out, const char *arg0, ...)
    __attribute__((sentinel));

/* Render a reply as one line of text, for assert_string_equal:
 *   simple +PONG   error -unauthorized   integer :5   null (nil)
 *   bulk "text" (with \" \\ \r \n \t and \xNN escaped)   array [a, b]
 *   RESP3 push >[a, b]   RESP3 map %[k, v]
 * Returns a malloc'd string the caller frees. */
char *harness_repr(const struct resp_value *v);

/* Send a command, read the reply and render it with harness_repr; on a
 * failure the text says so ("<no reply: ...>"), so comparing it fails with
 * a useful message. Never NULL; the caller frees. */
char *harness_cmd_repr(struct harness_conn *c, const char *arg0, ...) __attribute__((sentinel));

/* Assert that `conn` answers the command with a reply whose repr is
 * `expected`, e.g. HARNESS_EXPECT(c, "+PONG", "PING"). */
#define HARNESS_EXPECT(conn, expected, ...)                                                        \
    do {                                                                                           \
        char *harness_repr_ = harness_cmd_repr((conn), __VA_ARGS__, (const char *)NULL);          \
        assert_string_equal(harness_repr_, (expected));                                            \
        free(harness_repr_);                                                                       \
    } while (0)

/* ---- pipelining ------------------------------------------------------- */

/* Queue a command without sending it (harness_pump or any send sends it). */
void harness_queue_argv(struct harness_conn *c, size_t argc, const char *const *argv,
                        const size_t *lens);
void harness_queue(struct harness_conn *c, const char *arg0, ...) __attribute__((sentinel));

/* Drive n connections at once: send what each has queued and receive
 * replies, without ever blocking on one connection while another could make
 * progress, until connection i holds at least want[i] unread replies (want
 * NULL: until everything queued is sent). Replies are kept in order for
 * harness_read. Returns 0 once done; -1 on the timeout, an I/O error, or if a
 * connection was closed by the server before its want was met (its eof is
 * set; the replies it got before are kept). */
int harness_pump(struct harness_conn *const *conns, size_t n, const size_t *want, int timeout_ms);

/* Unread replies harness_pump has received on c. */
size_t harness_unread(const struct harness_conn *c);

/* ---- reply checks (fail the cmocka test) --------------------------------- */

/* Each check is a macro, so a failure names the test's own line. */
#define harness_assert_simple(v, text) harness_assert_simple_at((v), (text), __FILE__, __LINE__)
#define harness_assert_error(v, text) harness_assert_error_at((v), (text), __FILE__, __LINE__)
/* An error whose text starts with prefix. */
#define harness_assert_error_prefix(v, prefix)                                                     \
    harness_assert_error_prefix_at((v), (prefix), __FILE__, __LINE__)
#define harness_assert_int(v, n) harness_assert_int_at((v), (n), __FILE__, __LINE__)

/* Parse a bulk string holding a JSON value. Asserts it is a bulk with valid
 * JSON; returns a new reference the caller json_decref's. */
#define harness_assert_json(v) harness_assert_json_at((v), __FILE__, __LINE__)

/* An events reply: asserts v is an array of bulk strings, each a JSON
 * object; returns a JSON array of them (new reference). */
#define harness_assert_events(v) harness_assert_events_at((v), __FILE__, __LINE__)

/* Assert that two JSON values are equal; on a mismatch both are printed. */
#define harness_assert_json_equal(got, expected)                                                   \
    harness_assert_json_equal_at((got), (expected), __FILE__, __LINE__)

/* Run name (GET, GETALL, ...) with arg and assert the reply is an array of
 * events: returns them as a JSON array (new reference). */
#define harness_events(c, name, arg) harness_events_at((c), (name), (arg), __FILE__, __LINE__)
/* The node's whole global log, paged with GETALL (new reference). */
#define harness_getall(c) harness_getall_at((c), __FILE__, __LINE__)

/* A field of a JSON object that must be there with that type: a string
 * (borrowed from obj) or an integer. */
#define harness_json_str(obj, key) harness_json_str_at((obj), (key), __FILE__, __LINE__)
#define harness_json_int(obj, key) harness_json_int_at((obj), (key), __FILE__, __LINE__)

void harness_assert_simple_at(const struct resp_value *v, const char *text, const char *file,
                              int line);
void harness_assert_error_at(const struct resp_value *v, const char *text, const char *file,
                             int line);
void harness_assert_error_prefix_at(const struct resp_value *v, const char *prefix,
                                    const char *file, int line);
void harness_assert_int_at(const struct resp_value *v, int64_t n, const char *file, int line);
json_t *harness_assert_json_at(const struct resp_value *v, const char *file, int line);
json_t *harness_assert_events_at(const struct resp_value *v, const char *file, int line);
json_t *harness_events_at(struct harness_conn *c, const char *name, const char *arg, const char *file, int line);
json_t *harness_getall_at(struct harness_conn *c, const char *file, int line);
void harness_assert_json_equal_at(const json_t *got, const json_t *expected, const char *file,
                                  int line);
const char *harness_json_str_at(const json_t *obj, const char *key, const char *file, int line);
json_int_t harness_json_int_at(const json_t *obj, const char *key, const char *file, int line);

/* ---- node state ------------------------------------------------------- */

/* One STATUS of the node (AUTH first if it has a password). Returns the
 * parsed object (new reference) or NULL if it could not be had. */
json_t *harness_status(const struct harness_node *n);

/* A condition on a STATUS object; `arg` is passed through. */
typedef bool (*harness_status_pred)(const json_t *status, void *arg);

/* Poll STATUS every 20 ms until pred holds, the node's process exits, or
 * timeout_ms passes. Returns 0 once pred held; -1 otherwise, after printing
 * the last status seen and the node's log tail. */
int harness_wait_status(struct harness_node *n, harness_status_pred pred, void *arg,
                        int timeout_ms);

/* harness_wait_status for: "state" is "leader" and "ready" is true. */
int harness_wait_ready(struct harness_node *n, int timeout_ms);

/* ---- redis-cli -------------------------------------------------------- */

/* Run `redis-cli -h 127.0.0.1 -p <port> ARGS...` (from PATH; the arguments
 * follow exit_code, NULL-terminated, possibly none) with `input`
 * (NULL: nothing) on its standard input, capture its standard output (its
 * standard error goes to ours). *exit_code (may be NULL) receives its exit
 * code, or -1 if it did not exit normally within HARNESS_IO_TIMEOUT_MS (it is
 * killed). Returns the output, malloc'd, NUL-terminated; NULL if it could
 * not be run. */
char *harness_redis_cli(const struct harness_node *n, const char *input, int *exit_code, ...)
    __attribute__((sentinel));

/* ---- cmocka fixture ------------------------------------------------------ */

/* State of one test: the nodes it owns. */
struct harness_fixture {
    struct harness_node *nodes[HARNESS_MAX_NODES]; /* owned */
    size_t n_nodes;
    bool passed; /* set by harness_pass: the teardown prints logs if unset */
};

/* cmocka setup: allocate an empty fixture into *state; 0 or -1. */
int harness_setup(void **state);

/* cmocka teardown: close open connections, stop and free every node,
 * printing node log tails if the test did not reach harness_pass. Returns
 * -1 (failing the test) if a node crashed, exited with a non-zero status or
 * did not stop cleanly; else 0. */
int harness_teardown(void **state);

/* Throwaway TLS certificates, made at test time by
 * tests/integration/tls_certs.sh (which lists them) in a new temporary
 * directory whose path goes into dir. 0, or -1 (printed). */
int harness_make_certs(char *dir, size_t cap);

/* dir/name in one of eight buffers used in turn (valid until eight more
 * calls). */
const char *harness_cert_path(const char *dir, const char *name);

/* cp from to; 0 or -1. */
int harness_copy_file(const char *from, const char *to);

/* Remove that directory (kept with EVENTFLOW_ITEST_KEEP); 0 or -1. An
 * empty dir (never made) is nothing to do. */
int harness_remove_certs(const char *dir);

/* Mark the test as having reached its end (so node logs are not printed). */
void harness_pass(struct harness_fixture *f);

/* Create a node owned by the fixture (not started). Asserts on failure. */
#define harness_add_node(f, opts) harness_add_node_at((f), (opts), __FILE__, __LINE__)

/* Create, start and wait until ready a single node owned by the fixture.
 * opts may be NULL for the defaults. Asserts on failure. */
#define harness_start_single(f, opts) harness_start_single_at((f), (opts), __FILE__, __LINE__)

/* Assert-wrappers for the common node steps; restart = start + wait ready. */
#define harness_assert_restart(n) harness_assert_restart_at((n), __FILE__, __LINE__)
#define harness_assert_stop(n) harness_assert_stop_at((n), __FILE__, __LINE__)
#define harness_assert_kill(n) harness_assert_kill_at((n), __FILE__, __LINE__)

struct harness_node *harness_add_node_at(struct harness_fixture *f,
                                         const struct harness_node_opts *opts, const char *file,
                                         int line);
struct harness_node *harness_start_single_at(struct harness_fixture *f,
                                             const struct harness_node_opts *opts,
                                             const char *file, int line);
void harness_assert_restart_at(struct harness_node *n, const char *file, int line);
void harness_assert_stop_at(struct harness_node *n, const char *file, int line);
void harness_assert_kill_at(struct harness_node *n, const char *file, int line);

/* Monotonic clock in milliseconds, for deadlines. */
int64_t harness_now_ms(void);

#endif
