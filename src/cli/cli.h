/* cli.h - what the parts of eventflowctl share: exit codes, the settings
 * every command takes, the command table, flag values, and errors.
 *
 * main.c parses the command line into a struct cli and a struct cli_args and
 * runs the command; each command group (status.c, members.c, data.c,
 * groups.c, backup.c) defines its commands, with their flags and help, next to their
 * code.
 *
 * Errors go to stderr as one line, "eventflowctl: <command>: <message>". */
#ifndef EVENTFLOW_CLI_H
#define EVENTFLOW_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <eventflow/eventflow.h>

/* Exit codes, the same for every command (and the contract of `health`). */
enum cli_exit {
    CLI_EXIT_OK = 0,          /* done; for status: healthy */
    CLI_EXIT_DEGRADED = 1,    /* status: a member down, lagging or diverged;
                                 other commands: the cluster refused the request */
    CLI_EXIT_UNAVAILABLE = 2, /* no leader, or no quorum of voters */
    CLI_EXIT_USAGE = 3,       /* usage error, wrong password, no endpoint reachable */
};

enum cli_output {
    CLI_OUTPUT_TABLE = 0,
    CLI_OUTPUT_JSON = 1,
};

/* Settings every command takes (the global flags). */
struct cli {
    const char *command;   /* the command's name, for messages ("member add") */
    const char *endpoints; /* borrowed: --endpoints, $EVENTFLOW_ENDPOINTS or the default */
    const char *password;  /* borrowed: --password or $EVENTFLOW_PASSWORD; NULL: none */
    const char *user;      /* borrowed: --user or $EVENTFLOW_USER; NULL: the password's login */
    enum cli_output output;
    int timeout_ms;        /* --timeout; 0: the command's default */
    bool tls;              /* --tls or $EVENTFLOW_TLS=1: the endpoints are TLS ports */
    const char *cacert;    /* borrowed: --cacert or $EVENTFLOW_CACERT; NULL: the system's CAs */
    const char *cert;      /* borrowed: --cert or $EVENTFLOW_CERT; NULL: none */
    const char *key;       /* borrowed: --key or $EVENTFLOW_KEY; NULL: none */
};

/* A flag of one command. */
struct cli_flag {
    const char *name;  /* long name: --name; NULL ends a list */
    char short_name;   /* -x, or 0 */
    const char *value; /* name of its value in the help ("N"), NULL for a switch */
    const char *help;
};

#define CLI_MAX_FLAGS 16
#define CLI_MAX_ARGS 8

/* A parsed command line: the command's own flags and its positional
 * arguments. Every string is borrowed from argv. */
struct cli_args {
    const struct cli_flag *flags;      /* the command's flags */
    const char *values[CLI_MAX_FLAGS]; /* per flag: its value ("" for a switch), NULL if absent */
    const char *pos[CLI_MAX_ARGS];
    size_t n_pos;
};

struct cli_command {
    const char *name;     /* "status", "member add"; NULL ends a list */
    const char *synopsis; /* positional arguments, "<id> [voter|standby]" */
    size_t min_args, max_args;
    const char *summary;  /* one line for the command list */
    const char *help;     /* what it does, its output, exit codes, examples */
    const struct cli_flag *flags;
    int (*run)(struct cli *cli, const struct cli_args *args);
};

/* The command groups. */
extern const struct cli_command cli_status_commands[];
extern const struct cli_command cli_member_commands[];
extern const struct cli_command cli_data_commands[];
extern const struct cli_command cli_group_commands[];
extern const struct cli_command cli_backup_commands[];
extern const struct cli_command cli_user_commands[];
extern const struct cli_command cli_stream_commands[];

/* ---- flag values ---------------------------------------------------------- */

/* The value of flag `name` ("" for a switch that is set), or NULL if it was
 * not given. */
const char *cli_flag(const struct cli_args *a, const char *name);

/* A flag holding a non-negative integer of at most max: *out keeps its
 * default when the flag is absent. Returns 0, or -1 after printing a usage
 * error. */
int cli_flag_u64(struct cli *cli, const struct cli_args *a, const char *name, uint64_t max,
                 uint64_t *out);

/* Parse a positional argument as an integer in [min, max]; `what` names it
 * in the error. Returns 0, or -1 after printing a usage error. */
int cli_parse_u64(struct cli *cli, const char *what, const char *s, uint64_t min, uint64_t max,
                  uint64_t *out);

/* ---- errors --------------------------------------------------------------- */

/* Print "eventflowctl: <command>: <message> (see --help)" and return
 * CLI_EXIT_USAGE. */
int cli_usage(struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print "eventflowctl: <command>: <message>" and return code. */
int cli_fail(struct cli *cli, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Report a failed library call on client c (its last error) and return the
 * exit code for it: CLI_EXIT_USAGE for a wrong password or when no endpoint
 * answers at all, CLI_EXIT_UNAVAILABLE when nodes answer but none could serve
 * the request (no leader), CLI_EXIT_DEGRADED when the cluster refused it. */
int cli_fail_call(struct cli *cli, struct eventflow_client *c, int rc, const char *what);

/* The same for a failure that msg describes (a subscription's last error). */
int cli_fail_msg(struct cli *cli, int rc, const char *msg, const char *what);

/* ---- clients --------------------------------------------------------------- */

/* --timeout if given, else dflt_ms. */
int cli_timeout(const struct cli *cli, int dflt_ms);

/* Options with the configured password and TLS settings, every other
 * field its default (endpoints too: the caller names them). */
void cli_options(const struct cli *cli, struct eventflow_options *o);

/* The address of a member that this command's clients reach: its TLS
 * address under --tls, else its client address. */
const char *cli_member_address(const struct cli *cli, const struct eventflow_member *m);

/* A client for the configured endpoints and password, whose calls take at
 * most timeout_ms, retries included (a connect at most half of it and 1 s,
 * a request at most half of it and 5 s). Returns 0, or CLI_EXIT_USAGE after
 * printing why. */
int cli_client(struct cli *cli, enum eventflow_read_preference pref, int timeout_ms,
               struct eventflow_client **out);

/* The endpoints, split: at most cap copies into out (each EF_ADDR_MAX
 * bytes, entries that do not fit are cut). Returns how many. */
size_t cli_endpoint_list(const struct cli *cli, char (*out)[EF_ADDR_MAX], size_t cap);

/* ---- signals --------------------------------------------------------------- */

/* For commands that run until interrupted: block SIGINT and SIGTERM in this
 * thread (and the threads it creates later), so they are taken only by
 * cli_wait_interrupt. */
void cli_block_interrupts(void);

/* Wait up to ms for SIGINT or SIGTERM; true if one arrived (the command
 * should finish). Requires cli_block_interrupts. */
bool cli_wait_interrupt(int ms);

#endif
