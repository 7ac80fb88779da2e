/* cli.c - flag values, errors, clients and signals shared by every
 * eventflowctl command. */
#include "cli/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long the endpoint probe after a failed call gives each endpoint. */
#define PROBE_TIMEOUT_MS 1000

/* ---- flag values ---------------------------------------------------------- */

const char *cli_flag(const struct cli_args *a, const char *name)
{
    if (a->flags == NULL)
        return NULL;
    for (size_t i = 0; i < CLI_MAX_FLAGS && a->flags[i].name != NULL; i++)
        if (strcmp(a->flags[i].name, name) == 0)
            return a->values[i];
    return NULL;
}

int cli_parse_u64(struct cli *cli, const char *what, const char *s, uint64_t min, uint64_t max,
                  uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v < min || v > max) {
        cli_usage(cli, "%s must be an integer from %" PRIu64 " to %" PRIu64 ", not \"%s\"", what, min, max, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_flag_u64(struct cli *cli, const struct cli_args *a, const char *name, uint64_t max, uint64_t *out)
{
    const char *v = cli_flag(a, name);
    if (v == NULL)
        return 0;
    char what[64];
    snprintf(what, sizeof what, "--%s", name);
    return cli_parse_u64(cli, what, v, 0, max, out);
}

/* ---- errors --------------------------------------------------------------- */

static void vreport(const struct cli *cli, const char *fmt, va_list ap, const char *tail)
    __attribute__((format(printf, 2, 0)));

static void vreport(const struct cli *cli, const char *fmt, va_list ap, const char *tail)
{
    /* One line, however the message was made. */
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    if (cli->command != NULL)
        fprintf(stderr, "eventflowctl: %s: %s%s\n", cli->command, msg, tail);
    else
        fprintf(stderr, "eventflowctl: %s%s\n", msg, tail);
}

int cli_usage(struct cli *cli, const char *fmt, ...)
{
    char tail[96];
    snprintf(tail, sizeof tail, " (see 'eventflowctl %s%s--help')", cli->command ? cli->command : "",
             cli->command ? " " : "");
    va_list ap;
    va_start(ap, fmt);
    vreport(cli, fmt, ap, tail);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

int cli_fail(struct cli *cli, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(cli, fmt, ap, "");
    va_end(ap);
    return code;
}

/* Does any endpoint answer STATUS? Tells "no endpoint reachable" (a
 * connection error) from "reachable, but no leader" after a failed call. */
static bool any_endpoint_answers(const struct cli *cli)
{
    char eps[16][EF_ADDR_MAX];
    size_t n = cli_endpoint_list(cli, eps, 16);
    for (size_t i = 0; i < n; i++) {
        struct eventflow_options o;
        cli_options(cli, &o);
        o.endpoints = eps[i];
        o.connect_timeout_ms = PROBE_TIMEOUT_MS;
        o.request_timeout_ms = PROBE_TIMEOUT_MS;
        struct eventflow_client *c;
        if (eventflow_client_new(&o, &c) != EF_OK)
            continue;
        struct eventflow_node_status st;
        int rc = eventflow_node_status(c, eps[i], &st);
        eventflow_client_free(c);
        if (rc == EF_OK)
            return true;
    }
    return false;
}

int cli_fail_call(struct cli *cli, struct eventflow_client *c, int rc, const char *what)
{
    return cli_fail_msg(cli, rc, c != NULL ? eventflow_client_last_error(c) : "", what);
}

int cli_fail_msg(struct cli *cli, int rc, const char *msg, const char *what)
{
    if (msg[0] == '\0')
        msg = eventflow_strerror(rc);
    int code;
    switch (rc) {
    case EF_EAUTH:
        code = CLI_EXIT_USAGE;
        break;
    case EF_EUNAVAILABLE:
        code = any_endpoint_answers(cli) ? CLI_EXIT_UNAVAILABLE : CLI_EXIT_USAGE;
        break;
    default:
        code = CLI_EXIT_DEGRADED;
        break;
    }
    /* libeventflow's EF_EAUTH also stands for a TLS certificate refused. */
    if (rc == EF_EAUTH && cli->tls && strstr(msg, "TLS") != NULL)
        return cli_fail(cli, code, "%s: %s (--cacert, --cert, --key)", what, msg);
    if (rc == EF_EAUTH)
        return cli_fail(cli, code,
                        "%s: wrong or missing user or password, or the user may not do this (--user, --password): %s",
                        what, msg);
    if (code == CLI_EXIT_USAGE && rc == EF_EUNAVAILABLE)
        return cli_fail(cli, code, "%s: no endpoint could be reached (%s): %s", what, cli->endpoints, msg);
    return cli_fail(cli, code, "%s: %s: %s", what, eventflow_err_name(rc), msg);
}

/* ---- clients --------------------------------------------------------------- */

void cli_options(const struct cli *cli, struct eventflow_options *o)
{
    eventflow_options_init(o);
    o->password = cli->password;
    o->user = cli->user;
    o->tls = cli->tls;
    o->tls_ca_file = cli->cacert;
    o->tls_cert_file = cli->cert;
    o->tls_key_file = cli->key;
}

const char *cli_member_address(const struct cli *cli, const struct eventflow_member *m)
{
    return cli->tls ? m->tls_address : m->client_address;
}

int cli_timeout(const struct cli *cli, int dflt_ms)
{
    return cli->timeout_ms > 0 ? cli->timeout_ms : dflt_ms;
}

int cli_client(struct cli *cli, enum eventflow_read_preference pref, int timeout_ms,
               struct eventflow_client **out)
{
    int half = timeout_ms / 2 > 0 ? timeout_ms / 2 : 1;
    struct eventflow_options o;
    cli_options(cli, &o);
    o.endpoints = cli->endpoints;
    o.retry_deadline_ms = timeout_ms;
    o.connect_timeout_ms = half < 1000 ? half : 1000;
    o.request_timeout_ms = half < 5000 ? half : 5000;
    o.read_preference = pref;
    int rc = eventflow_client_new(&o, out);
    if (rc == EF_EINVAL && cli->tls)
        return cli_usage(cli, "invalid endpoint list \"%s\" (host:port,host:port,...), or TLS files that are not "
                         "PEM or do not match (--cacert, --cert, --key)", cli->endpoints);
    if (rc == EF_EINVAL)
        return cli_usage(cli, "invalid endpoint list \"%s\" (host:port,host:port,...)", cli->endpoints);
    if (rc != EF_OK)
        return cli_fail(cli, CLI_EXIT_USAGE, "cannot create a client: %s", eventflow_strerror(rc));
    return CLI_EXIT_OK;
}

size_t cli_endpoint_list(const struct cli *cli, char (*out)[EF_ADDR_MAX], size_t cap)
{
    size_t n = 0;
    const char *p = cli->endpoints;
    while (*p != '\0' && n < cap) {
        size_t len = strcspn(p, ",");
        const char *s = p;
        size_t l = len;
        while (l > 0 && (*s == ' ' || *s == '\t')) {
            s++;
            l--;
        }
        while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\t'))
            l--;
        if (l > 0) {
            if (l >= EF_ADDR_MAX)
                l = EF_ADDR_MAX - 1;
            memcpy(out[n], s, l);
            out[n][l] = '\0';
            n++;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return n;
}

/* ---- signals --------------------------------------------------------------- */

static void interrupt_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
}

void cli_block_interrupts(void)
{
    sigset_t set;
    interrupt_set(&set);
    /* Fails only for an invalid `how`. */
    (void)pthread_sigmask(SIG_BLOCK, &set, NULL);
}

bool cli_wait_interrupt(int ms)
{
    sigset_t set;
    interrupt_set(&set);
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    int sig = sigtimedwait(&set, NULL, &ts);
    /* -1: the time passed (EAGAIN), or another signal's handler ran (EINTR). */
    return sig > 0;
}
