/* config.c - flags and environment to struct config (see config.h). */
#include "server/config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl_peer.h"
#include "common/addr.h"
#include "common/log.h"
#include "common/mem.h"
#include "server/tls.h"
#include "version.h"

struct option_row;

/* Parse val into cfg for option o. src names where val came from (the
 * flag, the environment variable or the default), for the message in err.
 * Returns 0, -1 on error, or 1 when the option printed something and the
 * process should exit (--help, --version). */
typedef int option_set_fn(struct config *cfg, const struct option_row *o, const char *val, const char *src,
                          char *err, size_t errlen);

/* Everything about one option, so that an option is written once: --help,
 * the environment, getopt and the defaults all read the table below. */
struct option_row {
    const char *flag;    /* without the leading "--" */
    const char *env;     /* NULL: none (--help, --version) */
    const char *arg;     /* the value's name in --help; NULL: the flag takes no value */
    const char *help;
    /* The default as --help shows it, and as it is applied: through set,
     * like a value given, except that a size may end in " MiB" or " GiB"
     * (default_value). NULL: no default. */
    const char *def;
    bool derived;        /* def only describes what config_finish derives from other options */
    /* How the value is parsed: set_number, set_text, set_string and
     * set_address serve many options and use the fields below; the others
     * belong to one option each. */
    option_set_fn *set;
    size_t offset;       /* where in struct config the value goes (FIELD) */
    size_t size;
    uint64_t min;        /* a number's range; for text, min is the shortest length */
    uint64_t max;
    const char *bad;     /* the message for a value out of range, after "SRC: "; a '%s' shows the value */
};

#define FIELD(name) .offset = offsetof(struct config, name), .size = sizeof(((struct config *)0)->name)
#define STRINGIFY(x) STRINGIFY_(x)
#define STRINGIFY_(x) #x

static option_set_fn set_number, set_text, set_string, set_address;
static option_set_fn set_http_port, set_yes_no, set_tls_client_auth, set_raft_tls;
static option_set_fn set_cluster, set_cluster_state, set_log_level, set_cpu_affinity, set_dedup_window;
static option_set_fn set_cluster_secret, set_cluster_secret_file;
static option_set_fn show_help, show_version;

/* set_dedup_window's message names the store's limit. */
_Static_assert(STORE_MAX_DEDUP_WINDOW == 1073741824, "update --dedup-window's message");

/* A row's first line is what the user sees, its second how the value is
 * parsed and stored. */
static const struct option_row options[] = {
    {"id", "NODE_ID", "N", "node id, >= 1", "1",
     .set = set_number, FIELD(id), .min = 1, .max = UINT64_MAX, .bad = "invalid node id '%s'"},
    {"bind", "BIND", "ADDR", "client listener address", "127.0.0.1",
     .set = set_text, FIELD(bind), .min = 1, .bad = "invalid bind address"},
    {"port", "PORT", "N", "client (RESP) port", "6543",
     .set = set_number, FIELD(port), .min = 1, .max = 65535, .bad = "invalid port '%s'"},
    {"advertise", "ADVERTISE", "HOST:PORT", "client address other nodes send clients to", "BIND:PORT",
     .derived = true, .set = set_address, FIELD(advertise)},
    {"raft-address", "RAFT_ADDRESS", "HOST:PORT", "this node's raft address as peers reach it", "BIND:PORT+1000",
     .derived = true, .set = set_address, FIELD(raft_address)},
    {"raft-bind", "RAFT_BIND", "IP:PORT", "raft listener, if it differs from --raft-address (e.g. 0.0.0.0:7543)",
     NULL,
     .set = set_address, FIELD(raft_bind)},
    {"cluster", "CLUSTER", "LIST", "initial members: id@raft_host:port@client_host:port,...", "this node alone",
     .derived = true, .set = set_cluster},
    {"join", "JOIN", "HOST:PORT",
     "with an empty data directory: join the cluster that this member (client address) belongs to", NULL,
     .set = set_address, FIELD(join)},
    {"cluster-state", "CLUSTER_STATE", "new|existing",
     "with an empty data directory: bootstrap the --cluster members (new), or wait to be added with "
     "'member add' (existing)", "new",
     .set = set_cluster_state},
    {"restore", "RESTORE", "FILE",
     "with an empty data directory: start a new one-node cluster from this backup (eventflowctl backup)", NULL,
     .set = set_string, FIELD(restore), .min = 1, .bad = "empty backup file name"},
    {"data", "DATA", "DIR", "data directory", "./data",
     .set = set_string, FIELD(data_dir), .min = 1, .bad = "empty data directory"},
    /* An empty password turns authentication off, as no password does. */
    {"password", "PASSWORD", "PW", "require AUTH with this password", NULL,
     .set = set_string, FIELD(password)},
    /* Not the password by default: docs/operations.md, "The raft port". */
    {"cluster-secret", "CLUSTER_SECRET", "SECRET",
     "every raft connection must prove this secret, the same on every member (16 bytes at least)", NULL,
     .set = set_cluster_secret, FIELD(cluster_secret), .min = NODE_MIN_CLUSTER_SECRET,
     .bad = "a cluster secret needs at least " STRINGIFY(NODE_MIN_CLUSTER_SECRET) " bytes"},
    {"cluster-secret-file", "CLUSTER_SECRET_FILE", "PATH",
     "read --cluster-secret from this file (its first line), out of sight of ps", NULL,
     .set = set_cluster_secret_file, FIELD(cluster_secret), .min = NODE_MIN_CLUSTER_SECRET,
     .bad = "a cluster secret needs at least " STRINGIFY(NODE_MIN_CLUSTER_SECRET) " bytes"},
    {"http-port", "HTTP_PORT", "N", "HTTP (JSON API) port; 0 = off", "16543",
     .set = set_http_port, FIELD(http_port), .min = 0, .max = 65535, .bad = "invalid port '%s'"},
    {"http-bind", "HTTP_BIND", "ADDR", "HTTP listener address", "BIND",
     .derived = true, .set = set_text, FIELD(http_bind), .min = 1, .bad = "invalid bind address"},
    {"http-advertise", "HTTP_ADVERTISE", "HOST:PORT", "HTTP address redirects to this node name",
     "ADVERTISE's host:HTTP_PORT", .derived = true, .set = set_address, FIELD(http_advertise)},
    {"http-open-health", "HTTP_OPEN_HEALTH", "yes|no", "answer /health and /metrics without the password", "no",
     .set = set_yes_no, FIELD(http_open_health)},
    {"http-tls", "HTTP_TLS", "yes|no",
     "with --tls-port: HTTPS on --http-port, with the TLS port's certificate, key, CA and client auth", "yes",
     .set = set_yes_no, FIELD(http_tls)},
    {"tls-port", "TLS_PORT", "N", "TLS client (RESP) port, beside --port; 0 = off", "0",
     .set = set_number, FIELD(tls_port), .min = 0, .max = 65535, .bad = "invalid port '%s'"},
    {"tls-advertise", "TLS_ADVERTISE", "HOST:PORT", "TLS address redirects on TLS connections name",
     "ADVERTISE's host:TLS_PORT", .derived = true, .set = set_address, FIELD(tls_advertise)},
    {"tls-cert", "TLS_CERT", "PATH", "PEM certificate chain of the TLS port (reloaded on SIGHUP)", NULL,
     .set = set_string, FIELD(tls_cert)},
    {"tls-key", "TLS_KEY", "PATH", "PEM private key of --tls-cert (reloaded on SIGHUP)", NULL,
     .set = set_string, FIELD(tls_key)},
    {"tls-ca", "TLS_CA", "PATH", "PEM CA certificates that client certificates must chain to", NULL,
     .set = set_string, FIELD(tls_ca)},
    {"tls-client-auth", "TLS_CLIENT_AUTH", "none|optional|required",
     "client certificates on the TLS port: not asked for, checked if given, or required", "none",
     .set = set_tls_client_auth},
    {"tls-handshake-timeout", "TLS_HANDSHAKE_TIMEOUT", "MS", "a TLS client not through its handshake by then is closed",
     "10000",
     .set = set_number, FIELD(tls_handshake_timeout_ms), .min = 100, .max = 600000, .bad = "expected 100..600000 ms"},
    {"raft-tls", "RAFT_TLS", "auto|yes|no",
     "raft connections inside mutual TLS; auto: with --tls-port and a CA. Every member must agree", "auto",
     .set = set_raft_tls},
    {"tls-peer-cert", "TLS_PEER_CERT", "PATH",
     "PEM certificate chain this node shows other nodes (raft, peer requests; reloaded on SIGHUP)", "TLS_CERT",
     .derived = true, .set = set_string, FIELD(tls_peer_cert)},
    {"tls-peer-key", "TLS_PEER_KEY", "PATH", "PEM private key of --tls-peer-cert (reloaded on SIGHUP)", "TLS_KEY",
     .derived = true, .set = set_string, FIELD(tls_peer_key)},
    {"tls-peer-ca", "TLS_PEER_CA", "PATH", "PEM CA that other nodes' certificates must chain to", "TLS_CA",
     .derived = true, .set = set_string, FIELD(tls_peer_ca)},
    {"max-bulk", "MAX_BULK", "BYTES", "largest request argument", "16 MiB",
     .set = set_number, FIELD(max_bulk), .min = 1024, .max = 1u << 30, .bad = "expected 1024..1073741824 bytes"},
    {"max-clients", "MAX_CLIENTS", "N", "connections accepted at once", "10000",
     .set = set_number, FIELD(max_clients), .min = 1, .max = 1000000, .bad = "expected 1..1000000"},
    {"max-events", "MAX_EVENTS", "N", "events per ADD", "1000",
     .set = set_number, FIELD(codec.max_events), .min = 1, .max = 1000000, .bad = "expected 1..1000000"},
    {"max-event-size", "MAX_EVENT_SIZE", "BYTES", "type + data + metadata of one event", "1 MiB",
     .set = set_number, FIELD(codec.max_event_size), .min = 64, .max = 1u << 30,
     .bad = "expected 64..1073741824 bytes"},
    {"max-read", "MAX_READ", "N", "largest page of GET/GETALL/LISTSTREAMS", "10000",
     .set = set_number, FIELD(codec.max_read), .min = 1, .max = 10000000, .bad = "expected 1..10000000"},
    {"map-size", "MAP_SIZE", "BYTES", "LMDB map size, the store's size limit", "64 GiB",
     .set = set_number, FIELD(map_size), .min = 1u << 20, .max = UINT64_MAX / 2, .bad = "expected at least 1 MiB"},
    /* The default leaves room for raft's next segments (two prepared ahead
     * of the open one, 16 MiB each) and for the entries still in flight
     * when ADDs stop. */
    {"min-free-disk", "MIN_FREE_DISK", "BYTES",
     "refuse ADDs (-FULL) before the data directory's filesystem has less free", "128 MiB",
     .set = set_number, FIELD(min_free_disk), .min = 0, .max = UINT64_MAX / 2, .bad = "expected a number of bytes"},
    /* An event store's state grows without bound, and a snapshot serializes
     * all of it: snapshot rarely, and keep enough trailing entries that a
     * follower which was briefly away catches up from the log, not by a
     * snapshot install. See docs/operations.md. */
    {"snapshot-threshold", "SNAPSHOT_THRESHOLD", "N", "raft entries between snapshots", "131072",
     .set = set_number, FIELD(snapshot_threshold), .min = 16, .max = UINT_MAX, .bad = "expected at least 16"},
    {"snapshot-trailing", "SNAPSHOT_TRAILING", "N", "raft entries kept after a snapshot", "32768",
     .set = set_number, FIELD(snapshot_trailing), .min = 0, .max = UINT_MAX, .bad = "expected a number of entries"},
    /* raft holds its log since the last snapshot in memory: large events
     * must not turn 131072 entries into gigabytes (node/log_budget.c). */
    {"snapshot-log-bytes", "SNAPSHOT_LOG_BYTES", "BYTES",
     "also snapshot once this many bytes of raft entries were applied since the last snapshot (0 = by count only)",
     "128 MiB", .set = set_number, FIELD(snapshot_log_bytes), .min = 0, .max = UINT64_MAX / 2,
     .bad = "expected a number of bytes"},
    {"election-timeout", "ELECTION_TIMEOUT", "MS", "raft election timeout", "1000",
     .set = set_number, FIELD(election_timeout_ms), .min = 50, .max = 600000, .bad = "expected 50..600000 ms"},
    {"heartbeat-timeout", "HEARTBEAT_TIMEOUT", "MS", "raft heartbeat interval", "100",
     .set = set_number, FIELD(heartbeat_timeout_ms), .min = 10, .max = 600000, .bad = "expected 10..600000 ms"},
    {"max-staleness", "MAX_STALENESS", "MS",
     "refuse local reads (-STALE) after this long without contact with a leader; 0 = never", "5000",
     .set = set_number, FIELD(max_staleness_ms), .min = 0, .max = 3600000, .bad = "expected 0..3600000 ms"},
    {"log-level", "LOG_LEVEL", "LEVEL", "debug, info, warn or error", "info",
     .set = set_log_level},
    {"cpu-affinity", "CPU_AFFINITY", "auto|off|disk|LIST",
     "CPUs of the loop thread: a list (0,2-3); disk: those taking the data disk's interrupts; auto: disk "
     "unless other members run on this machine", "auto",
     .set = set_cpu_affinity},
    /* The default is the store's own, spelled out by the preprocessor. */
    {"dedup-window", "DEDUP_WINDOW", "N",
     "idempotency keys a new cluster remembers; later: CONFIG SET dedup-window", STRINGIFY(STORE_DEFAULT_DEDUP_WINDOW),
     .set = set_dedup_window, FIELD(dedup_window), .min = 1, .max = STORE_MAX_DEDUP_WINDOW,
     .bad = "expected 1..1073741824 keys"},
    {"help", NULL, NULL, "print this help", NULL,
     .set = show_help},
    {"version", NULL, NULL, "print the version", NULL,
     .set = show_version},
};
#define N_OPTIONS (sizeof options / sizeof options[0])

/* getopt_long's code for options[i]: above every short option's. */
#define OPTION_CODE_BASE 1000

void config_usage(FILE *out)
{
    fprintf(out,
            "usage: eventflowd [options]\n"
            "\n"
            "eventflow event store node: RESP on the client port, Raft between nodes.\n"
            "Every option can also be set by the environment variable shown.\n\n");
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option_row *o = &options[i];
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", o->flag, o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(out, "  %-32s %s", left, o->help);
        if (o->def != NULL)
            fprintf(out, " (default %s)", o->def);
        if (o->env != NULL)
            fprintf(out, " [%s]", o->env);
        fputc('\n', out);
    }
    fprintf(out,
            "\nexamples:\n"
            "  eventflowd --data /var/lib/eventflow --port 6543\n"
            "  eventflowd --id 2 --port 6002 --raft-address 127.0.0.1:7002 --data d2 \\\n"
            "    --cluster 1@127.0.0.1:7001@127.0.0.1:6001,2@127.0.0.1:7002@127.0.0.1:6002,"
            "3@127.0.0.1:7003@127.0.0.1:6003\n");
}

static int config_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int config_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    if (s == NULL || *s == '\0' || *s == '-')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int check_address(const char *what, const char *addr, char *err, size_t errlen)
{
    char host[CONFIG_ADDR_MAX];
    unsigned port;
    if (strlen(addr) >= CONFIG_ADDR_MAX || addr_split(addr, host, sizeof host, &port) != 0)
        return config_fail(err, errlen, "invalid %s '%s': expected host:port", what, addr);
    return 0;
}

int config_parse_members(const char *spec, struct config *cfg, char *err, size_t errlen)
{
    char *copy = xstrdup(spec);
    char *save = NULL;
    int rc = 0;
    free(cfg->members);
    cfg->members = NULL;
    cfg->n_members = 0;
    for (char *item = strtok_r(copy, ", \t\n", &save); item != NULL;
         item = strtok_r(NULL, ", \t\n", &save)) {
        char *at1 = strchr(item, '@');
        char *at2 = at1 ? strchr(at1 + 1, '@') : NULL;
        struct node_member m = {0};
        if (at1 == NULL || at2 == NULL) {
            rc = config_fail(err, errlen, "invalid member '%s': expected id@raft_host:port@client_host:port",
                             item);
            break;
        }
        *at1 = '\0';
        *at2 = '\0';
        if (parse_u64(item, 1, UINT64_MAX, &m.id) != 0) {
            rc = config_fail(err, errlen, "invalid member id '%s'", item);
            break;
        }
        if (check_address("member raft address", at1 + 1, err, errlen) != 0 ||
            check_address("member client address", at2 + 1, err, errlen) != 0) {
            rc = -1;
            break;
        }
        snprintf(m.raft_address, sizeof m.raft_address, "%s", at1 + 1);
        snprintf(m.client_address, sizeof m.client_address, "%s", at2 + 1);
        for (size_t i = 0; i < cfg->n_members; i++) {
            if (cfg->members[i].id == m.id) {
                rc = config_fail(err, errlen, "member id %" PRIu64 " listed twice", m.id);
                break;
            }
        }
        if (rc != 0)
            break;
        cfg->members = xrealloc(cfg->members, (cfg->n_members + 1) * sizeof *cfg->members);
        cfg->members[cfg->n_members++] = m;
    }
    free(copy);
    if (rc == 0 && cfg->n_members == 0)
        rc = config_fail(err, errlen, "empty member list");
    return rc;
}

/* o->bad after "SRC: ", with val where it says '%s'. */
static int fail_bad(const struct option_row *o, const char *val, const char *src, char *err, size_t errlen)
{
    const char *at = strstr(o->bad, "%s");
    if (at == NULL)
        return config_fail(err, errlen, "%s: %s", src, o->bad);
    return config_fail(err, errlen, "%s: %.*s%s%s", src, (int)(at - o->bad), o->bad, val, at + 2);
}

/* Numbers live in uint64_t, size_t and unsigned fields. */
_Static_assert(sizeof(size_t) == sizeof(uint64_t), "set_number stores a size_t as a uint64_t");

static int set_number(struct config *cfg, const struct option_row *o, const char *val, const char *src,
                      char *err, size_t errlen)
{
    uint64_t n;
    if (parse_u64(val, o->min, o->max, &n) != 0)
        return fail_bad(o, val, src, err, errlen);
    char *field = (char *)cfg + o->offset;
    if (o->size == sizeof(uint64_t)) {
        memcpy(field, &n, sizeof n);
    } else if (o->size == sizeof(unsigned) && n <= UINT_MAX) {
        unsigned u = (unsigned)n;
        memcpy(field, &u, sizeof u);
    } else {
        return config_fail(err, errlen, "internal: --%s does not fit its field", o->flag);
    }
    return 0;
}

/* Into a char array of the struct. */
static int set_text(struct config *cfg, const struct option_row *o, const char *val, const char *src, char *err,
                    size_t errlen)
{
    size_t len = strlen(val);
    if (len < o->min || len >= o->size)
        return fail_bad(o, val, src, err, errlen);
    memcpy((char *)cfg + o->offset, val, len + 1);
    return 0;
}

/* Into an owned char pointer; an empty value leaves it NULL. */
static int set_string(struct config *cfg, const struct option_row *o, const char *val, const char *src,
                      char *err, size_t errlen)
{
    char **field = (char **)((char *)cfg + o->offset);
    if (strlen(val) < o->min)
        return fail_bad(o, val, src, err, errlen);
    free(*field);
    *field = *val != '\0' ? xstrdup(val) : NULL;
    return 0;
}

/* A host:port into a char array of the struct. */
static int set_address(struct config *cfg, const struct option_row *o, const char *val, const char *src,
                       char *err, size_t errlen)
{
    if (check_address(src, val, err, errlen) != 0)
        return -1;
    snprintf((char *)cfg + o->offset, o->size, "%s", val);
    return 0;
}

/* An empty secret is none, like an empty password; whichever of the two
 * options comes last (flags after the environment) wins. */
static int set_cluster_secret(struct config *cfg, const struct option_row *o, const char *val, const char *src,
                              char *err, size_t errlen)
{
    char **field = (char **)((char *)cfg + o->offset);
    if (*val == '\0') {
        free(*field);
        *field = NULL;
        return 0;
    }
    return set_string(cfg, o, val, src, err, errlen);
}

static int set_cluster_secret_file(struct config *cfg, const struct option_row *o, const char *val,
                                   const char *src, char *err, size_t errlen)
{
    FILE *f = fopen(val, "r");
    if (f == NULL)
        return config_fail(err, errlen, "%s: cannot read %s: %s", src, val, strerror(errno));
    char line[4096];
    if (fgets(line, sizeof line, f) == NULL)
        line[0] = '\0';
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (strlen(line) < o->min)
        return config_fail(err, errlen, "%s: %s: %s", src, val, o->bad);
    int rv = set_string(cfg, o, line, src, err, errlen);
    explicit_bzero(line, sizeof line);
    return rv;
}

static int set_cluster(struct config *cfg, const struct option_row *o, const char *val, const char *src,
                       char *err, size_t errlen)
{
    return config_parse_members(val, cfg, err, errlen);
}

static int set_cluster_state(struct config *cfg, const struct option_row *o, const char *val, const char *src,
                             char *err, size_t errlen)
{
    if (strcmp(val, "new") == 0)
        cfg->cluster_state_existing = false;
    else if (strcmp(val, "existing") == 0)
        cfg->cluster_state_existing = true;
    else
        return config_fail(err, errlen, "%s: expected new or existing, not '%s'", src, val);
    return 0;
}

static int set_log_level(struct config *cfg, const struct option_row *o, const char *val, const char *src,
                         char *err, size_t errlen)
{
    int lvl = log_level_parse(val);
    if (lvl < 0)
        return config_fail(err, errlen, "%s: unknown log level '%s'", src, val);
    cfg->log_level = lvl;
    return 0;
}

static int set_cpu_affinity(struct config *cfg, const struct option_row *o, const char *val, const char *src,
                            char *err, size_t errlen)
{
    char why[160];
    if (affinity_parse(val, &cfg->cpu_affinity, why, sizeof why) != 0)
        return config_fail(err, errlen, "%s: %s", src, why);
    return 0;
}

bool config_shares_machine(const struct config *cfg, char *why, size_t whylen)
{
    char host[CONFIG_ADDR_MAX];
    unsigned port;
    for (size_t i = 0; i < cfg->n_members; i++) {
        const struct node_member *m = &cfg->members[i];
        if (m->id != cfg->id && addr_split(m->raft_address, host, sizeof host, &port) == 0 &&
            addr_host_is_local(host)) {
            snprintf(why, whylen, "member %" PRIu64 " (%s) runs on this machine too", m->id, m->raft_address);
            return true;
        }
    }
    if (cfg->join[0] != '\0' && addr_split(cfg->join, host, sizeof host, &port) == 0 && addr_host_is_local(host)) {
        snprintf(why, whylen, "the member to join (%s) runs on this machine too", cfg->join);
        return true;
    }
    return false;
}

/* Only a port given explicitly must be had: the default one may be
 * another node's on a shared machine (http/listener.c). */
static int set_http_port(struct config *cfg, const struct option_row *o, const char *val, const char *src,
                         char *err, size_t errlen)
{
    if (set_number(cfg, o, val, src, err, errlen) != 0)
        return -1;
    cfg->http_port_set = true;
    return 0;
}

static int set_tls_client_auth(struct config *cfg, const struct option_row *o, const char *val, const char *src,
                               char *err, size_t errlen)
{
    if (strcmp(val, "none") == 0)
        cfg->tls_client_auth = TLS_CLIENT_AUTH_NONE;
    else if (strcmp(val, "optional") == 0)
        cfg->tls_client_auth = TLS_CLIENT_AUTH_OPTIONAL;
    else if (strcmp(val, "required") == 0)
        cfg->tls_client_auth = TLS_CLIENT_AUTH_REQUIRED;
    else
        return config_fail(err, errlen, "%s: expected none, optional or required, not '%s'", src, val);
    return 0;
}

static int set_raft_tls(struct config *cfg, const struct option_row *o, const char *val, const char *src,
                        char *err, size_t errlen)
{
    (void)o;
    if (strcmp(val, "auto") == 0)
        cfg->raft_tls = CONFIG_RAFT_TLS_AUTO;
    else if (strcmp(val, "yes") == 0)
        cfg->raft_tls = CONFIG_RAFT_TLS_YES;
    else if (strcmp(val, "no") == 0)
        cfg->raft_tls = CONFIG_RAFT_TLS_NO;
    else
        return config_fail(err, errlen, "%s: expected auto, yes or no, not '%s'", src, val);
    return 0;
}

/* A bool field. */
static int set_yes_no(struct config *cfg, const struct option_row *o, const char *val, const char *src,
                      char *err, size_t errlen)
{
    bool v;
    if (strcmp(val, "yes") == 0 || strcmp(val, "true") == 0 || strcmp(val, "1") == 0)
        v = true;
    else if (strcmp(val, "no") == 0 || strcmp(val, "false") == 0 || strcmp(val, "0") == 0)
        v = false;
    else
        return config_fail(err, errlen, "%s: expected yes or no, not '%s'", src, val);
    memcpy((char *)cfg + o->offset, &v, sizeof v);
    return 0;
}

/* Only a window given explicitly is held against the one the cluster
 * recorded (node.c); config_defaults clears the mark for its own. */
static int set_dedup_window(struct config *cfg, const struct option_row *o, const char *val, const char *src,
                            char *err, size_t errlen)
{
    if (set_number(cfg, o, val, src, err, errlen) != 0)
        return -1;
    cfg->dedup_window_set = true;
    return 0;
}

static int show_help(struct config *cfg, const struct option_row *o, const char *val, const char *src, char *err,
                     size_t errlen)
{
    config_usage(stdout);
    return 1;
}

static int show_version(struct config *cfg, const struct option_row *o, const char *val, const char *src,
                        char *err, size_t errlen)
{
    printf("eventflowd %s (malloc: %s)\n", EVENTFLOW_VERSION, EVENTFLOW_ALLOCATOR);
    return 1;
}

/* A default as its setter takes it: the table writes sizes in MiB or GiB,
 * as --help shows them, where a flag's value is in bytes. */
static const char *default_value(const char *def, char *buf, size_t buflen)
{
    char *end;
    unsigned long long n = strtoull(def, &end, 10);
    int shift = strcmp(end, " MiB") == 0 ? 20 : strcmp(end, " GiB") == 0 ? 30 : 0;
    if (end == def || shift == 0)
        return def;
    snprintf(buf, buflen, "%llu", n << shift);
    return buf;
}

static int config_defaults(struct config *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    /* Settings no option changes; codec's option limits are set below. */
    cfg->max_pending = 1024;
    cfg->max_output = 256u << 20;
    codec_limits_default(&cfg->codec);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option_row *o = &options[i];
        if (o->def == NULL || o->derived)
            continue;
        char buf[32];
        char src[64];
        snprintf(src, sizeof src, "default of --%s", o->flag);
        if (o->set(cfg, o, default_value(o->def, buf, sizeof buf), src, err, errlen) != 0)
            return -1;
    }
    /* Set by their setters above, but a default is no explicit choice. */
    cfg->dedup_window_set = false;
    cfg->http_port_set = false;
    return 0;
}

/* --advertise's host with another port, into out (CONFIG_ADDR_MAX bytes):
 * the default of the HTTP and TLS addresses. */
static int advertise_port(const struct config *cfg, unsigned port, char *out, const char *what, char *err,
                          size_t errlen)
{
    char host[CONFIG_ADDR_MAX], addr[CONFIG_ADDR_MAX + 16];
    unsigned ignored;
    if (addr_split(cfg->advertise, host, sizeof host, &ignored) != 0)
        return config_fail(err, errlen, "invalid --advertise '%s'", cfg->advertise);
    /* An IPv6 literal keeps its brackets in an address. */
    if (strchr(host, ':') != NULL)
        snprintf(addr, sizeof addr, "[%s]:%u", host, port);
    else
        snprintf(addr, sizeof addr, "%s:%u", host, port);
    if (strlen(addr) >= CONFIG_ADDR_MAX)
        return config_fail(err, errlen, "%s address too long", what);
    memcpy(out, addr, strlen(addr) + 1);
    return 0;
}

/* The peer files default to the TLS port's; raft TLS is on when asked
 * for, or by default with a TLS port and a CA to check peers against:
 * nodes that have certificates encrypt raft unless told not to. */
static int config_finish_raft_tls(struct config *cfg, char *err, size_t errlen)
{
    if (cfg->tls_peer_cert == NULL && cfg->tls_cert != NULL)
        cfg->tls_peer_cert = xstrdup(cfg->tls_cert);
    if (cfg->tls_peer_key == NULL && cfg->tls_key != NULL)
        cfg->tls_peer_key = xstrdup(cfg->tls_key);
    if (cfg->tls_peer_ca == NULL && cfg->tls_ca != NULL)
        cfg->tls_peer_ca = xstrdup(cfg->tls_ca);
    bool complete = cfg->tls_peer_cert != NULL && cfg->tls_peer_key != NULL && cfg->tls_peer_ca != NULL;
    if (cfg->raft_tls == CONFIG_RAFT_TLS_YES && !complete)
        return config_fail(err, errlen,
                           "--raft-tls yes needs a certificate, key and CA: --tls-peer-cert, --tls-peer-key and "
                           "--tls-peer-ca, or --tls-cert, --tls-key and --tls-ca");
    cfg->raft_tls_on = cfg->raft_tls == CONFIG_RAFT_TLS_YES ||
                       (cfg->raft_tls == CONFIG_RAFT_TLS_AUTO && cfg->tls_port != 0 && complete);
    return 0;
}

/* Fill what defaults to other settings, and check settings together. */
static int config_finish(struct config *cfg, char *err, size_t errlen)
{
    char addr[CONFIG_ADDR_MAX + 16];
    if (cfg->advertise[0] == '\0') {
        snprintf(addr, sizeof addr, "%s:%u", cfg->bind, cfg->port);
        if (strlen(addr) >= CONFIG_ADDR_MAX)
            return config_fail(err, errlen, "bind address too long");
        memcpy(cfg->advertise, addr, strlen(addr) + 1);
    }
    if (cfg->http_bind[0] == '\0')
        memcpy(cfg->http_bind, cfg->bind, sizeof cfg->http_bind);
    if (cfg->http_advertise[0] == '\0' &&
        advertise_port(cfg, cfg->http_port, cfg->http_advertise, "HTTP", err, errlen) != 0)
        return -1;
    if (cfg->tls_port != 0 && cfg->tls_advertise[0] == '\0' &&
        advertise_port(cfg, cfg->tls_port, cfg->tls_advertise, "TLS", err, errlen) != 0)
        return -1;
    if (cfg->raft_address[0] == '\0') {
        if (cfg->port + 1000 > 65535)
            return config_fail(err, errlen, "--raft-address is required when --port > 64535");
        snprintf(addr, sizeof addr, "%s:%u", cfg->bind, cfg->port + 1000);
        if (strlen(addr) >= CONFIG_ADDR_MAX)
            return config_fail(err, errlen, "bind address too long");
        memcpy(cfg->raft_address, addr, strlen(addr) + 1);
    }
    if (cfg->n_members == 0) {
        cfg->members = xcalloc(1, sizeof *cfg->members);
        cfg->n_members = 1;
        cfg->members[0].id = cfg->id;
        snprintf(cfg->members[0].raft_address, CONFIG_ADDR_MAX, "%s", cfg->raft_address);
        snprintf(cfg->members[0].client_address, CONFIG_ADDR_MAX, "%s", cfg->advertise);
    } else {
        /* This node's entry must agree with its own flags, or peers would
         * dial an address nobody listens on. */
        bool found = false;
        for (size_t i = 0; i < cfg->n_members; i++) {
            if (cfg->members[i].id != cfg->id)
                continue;
            found = true;
            if (strcmp(cfg->members[i].raft_address, cfg->raft_address) != 0)
                return config_fail(err, errlen,
                                   "--cluster gives node %" PRIu64 " raft address %s but --raft-address is %s",
                                   cfg->id, cfg->members[i].raft_address, cfg->raft_address);
        }
        if (!found)
            return config_fail(err, errlen, "--cluster does not list this node's id %" PRIu64, cfg->id);
    }
    if (cfg->tls_port != 0 && (cfg->tls_cert == NULL || cfg->tls_key == NULL))
        return config_fail(err, errlen, "--tls-port needs --tls-cert and --tls-key");
    if (cfg->tls_port == 0 &&
        (cfg->tls_cert != NULL || cfg->tls_key != NULL || cfg->tls_ca != NULL || cfg->tls_advertise[0] != '\0'))
        return config_fail(err, errlen, "--tls-advertise, --tls-cert, --tls-key and --tls-ca need --tls-port");
    if (cfg->tls_port != 0 && cfg->tls_port == cfg->port)
        return config_fail(err, errlen, "--tls-port must differ from --port");
    if (cfg->tls_client_auth != TLS_CLIENT_AUTH_NONE && cfg->tls_ca == NULL)
        return config_fail(err, errlen, "--tls-client-auth optional or required needs --tls-ca");
    if (config_finish_raft_tls(cfg, err, errlen) != 0)
        return -1;
    /* A restored store is the whole state of a new cluster: members that
     * bootstrapped beside it would hold none of it. */
    if (cfg->restore != NULL && (cfg->n_members > 1 || cfg->join[0] != '\0' || cfg->cluster_state_existing))
        return config_fail(err, errlen,
                           "--restore starts a new cluster of this node alone: give it no --join, "
                           "--cluster-state existing or other --cluster members; the others join it with --join");
    if (cfg->heartbeat_timeout_ms * 2 > cfg->election_timeout_ms)
        return config_fail(err, errlen, "--heartbeat-timeout must be at most half of --election-timeout");
    if (cfg->codec.max_event_size > cfg->max_bulk)
        cfg->codec.max_event_size = cfg->max_bulk;
    /* Nodes call each other as the peer identity, which no ACL rule binds
     * (acl_peer.h); without a password there is no authentication at all. */
    if (cfg->password != NULL &&
        acl_peer_token(cfg->cluster_secret != NULL ? cfg->cluster_secret : cfg->password, cfg->peer_token) != 0)
        return config_fail(err, errlen, "cannot derive the peer credential (libcrypto failed)");
    return 0;
}

int config_load(int argc, char **argv, struct config *cfg, char *err, size_t errlen)
{
    if (config_defaults(cfg, err, errlen) != 0)
        return -1;

    /* Environment first, so flags override it. */
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option_row *o = &options[i];
        const char *val = o->env ? getenv(o->env) : NULL;
        if (val != NULL && o->set(cfg, o, val, o->env, err, errlen) != 0)
            return -1;
    }

    struct option longopts[N_OPTIONS + 1];
    for (size_t i = 0; i < N_OPTIONS; i++) {
        longopts[i] = (struct option){options[i].flag, options[i].arg ? required_argument : no_argument, NULL,
                                      OPTION_CODE_BASE + (int)i};
    }
    longopts[N_OPTIONS] = (struct option){0};

    optind = 1;
    opterr = 0;
    for (;;) {
        int code = getopt_long(argc, argv, "h", longopts, NULL);
        if (code == -1)
            break;
        if (code == 'h') {
            config_usage(stdout);
            return 1;
        }
        if (code < OPTION_CODE_BASE || code >= OPTION_CODE_BASE + (int)N_OPTIONS)
            return config_fail(err, errlen, "unknown or incomplete option '%s' (see --help)",
                               argv[optind - 1]);
        const struct option_row *o = &options[code - OPTION_CODE_BASE];
        char src[64];
        snprintf(src, sizeof src, "--%s", o->flag);
        int rc = o->set(cfg, o, optarg, src, err, errlen);
        if (rc != 0)
            return rc;
    }
    if (optind < argc)
        return config_fail(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
    return config_finish(cfg, err, errlen);
}

void config_node(const struct config *cfg, struct node_config *out)
{
    memset(out, 0, sizeof *out);
    out->id = cfg->id;
    snprintf(out->advertise, sizeof out->advertise, "%s", cfg->advertise);
    snprintf(out->tls_advertise, sizeof out->tls_advertise, "%s", cfg->tls_advertise);
    snprintf(out->raft_address, sizeof out->raft_address, "%s", cfg->raft_address);
    snprintf(out->raft_bind, sizeof out->raft_bind, "%s", cfg->raft_bind);
    snprintf(out->join, sizeof out->join, "%s", cfg->join);
    out->cluster_state_existing = cfg->cluster_state_existing;
    out->members = cfg->members;
    out->n_members = cfg->n_members;
    out->data_dir = cfg->data_dir;
    out->restore = cfg->restore;
    out->peer_token = cfg->peer_token[0] != '\0' ? cfg->peer_token : NULL;
    out->cluster_secret = cfg->cluster_secret;
    if (cfg->raft_tls_on) {
        out->peer_cert = cfg->tls_peer_cert;
        out->peer_key = cfg->tls_peer_key;
        out->peer_ca = cfg->tls_peer_ca;
    }
    out->map_size = cfg->map_size;
    out->min_free_disk = cfg->min_free_disk;
    out->snapshot_threshold = cfg->snapshot_threshold;
    out->snapshot_trailing = cfg->snapshot_trailing;
    out->snapshot_log_bytes = cfg->snapshot_log_bytes;
    out->election_timeout_ms = cfg->election_timeout_ms;
    out->heartbeat_timeout_ms = cfg->heartbeat_timeout_ms;
    out->max_staleness_ms = cfg->max_staleness_ms;
    out->dedup_window = cfg->dedup_window;
    out->dedup_window_set = cfg->dedup_window_set;
}

void config_free(struct config *cfg)
{
    free(cfg->members);
    free(cfg->data_dir);
    free(cfg->restore);
    free(cfg->password);
    free(cfg->tls_cert);
    free(cfg->tls_key);
    free(cfg->tls_ca);
    free(cfg->tls_peer_cert);
    free(cfg->tls_peer_key);
    free(cfg->tls_peer_ca);
    explicit_bzero(cfg->peer_token, sizeof cfg->peer_token);
    if (cfg->cluster_secret != NULL)
        explicit_bzero(cfg->cluster_secret, strlen(cfg->cluster_secret));
    free(cfg->cluster_secret);
    memset(cfg, 0, sizeof *cfg);
}
