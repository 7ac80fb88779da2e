/* config.c - flags and environment to struct config (see config.h). */
#include "server/config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "common/log.h"
#include "common/mem.h"
#include "version.h"

enum {
    OPT_ID = 1000,
    OPT_BIND,
    OPT_PORT,
    OPT_ADVERTISE,
    OPT_RAFT_ADDRESS,
    OPT_RAFT_BIND,
    OPT_CLUSTER,
    OPT_JOIN,
    OPT_DATA,
    OPT_PASSWORD,
    OPT_MAX_BULK,
    OPT_MAX_CLIENTS,
    OPT_MAX_EVENTS,
    OPT_MAX_EVENT_SIZE,
    OPT_MAX_READ,
    OPT_MAP_SIZE,
    OPT_MIN_FREE_DISK,
    OPT_SNAPSHOT_THRESHOLD,
    OPT_SNAPSHOT_TRAILING,
    OPT_ELECTION_TIMEOUT,
    OPT_HEARTBEAT_TIMEOUT,
    OPT_MAX_STALENESS,
    OPT_LOG_LEVEL,
    OPT_CPU_AFFINITY,
    OPT_DEDUP_WINDOW,
    OPT_CLUSTER_STATE,
    OPT_HELP,
    OPT_VERSION,
};

/* One table drives flags, environment names and --help, so they cannot
 * drift apart. */
struct option_desc {
    const char *flag;
    int code;
    const char *env;
    const char *arg;
    const char *help;
};

static const struct option_desc option_descs[] = {
    {"id", OPT_ID, "NODE_ID", "N", "node id, >= 1 (default 1)"},
    {"bind", OPT_BIND, "BIND", "ADDR", "client listener address (default 127.0.0.1)"},
    {"port", OPT_PORT, "PORT", "N", "client (RESP) port (default 6543)"},
    {"advertise", OPT_ADVERTISE, "ADVERTISE", "HOST:PORT",
     "client address other nodes send clients to (default BIND:PORT)"},
    {"raft-address", OPT_RAFT_ADDRESS, "RAFT_ADDRESS", "HOST:PORT",
     "this node's raft address as peers reach it (default BIND:PORT+1000)"},
    {"raft-bind", OPT_RAFT_BIND, "RAFT_BIND", "IP:PORT",
     "raft listener, if it differs from --raft-address (e.g. 0.0.0.0:7543)"},
    {"cluster", OPT_CLUSTER, "CLUSTER", "LIST",
     "initial members: id@raft_host:port@client_host:port,... (default: this node alone)"},
    {"join", OPT_JOIN, "JOIN", "HOST:PORT",
     "with an empty data directory: join the cluster that this member (client address) belongs to"},
    {"cluster-state", OPT_CLUSTER_STATE, "CLUSTER_STATE", "new|existing",
     "with an empty data directory: bootstrap the --cluster members (new, the default), or wait to be "
     "added with 'member add' (existing)"},
    {"data", OPT_DATA, "DATA", "DIR", "data directory (default ./data)"},
    {"password", OPT_PASSWORD, "PASSWORD", "PW", "require AUTH with this password"},
    {"max-bulk", OPT_MAX_BULK, "MAX_BULK", "BYTES", "largest request argument (default 16 MiB)"},
    {"max-clients", OPT_MAX_CLIENTS, "MAX_CLIENTS", "N", "connections accepted at once (default 10000)"},
    {"max-events", OPT_MAX_EVENTS, "MAX_EVENTS", "N", "events per ADD (default 1000)"},
    {"max-event-size", OPT_MAX_EVENT_SIZE, "MAX_EVENT_SIZE", "BYTES",
     "type + data + metadata of one event (default 1 MiB)"},
    {"max-read", OPT_MAX_READ, "MAX_READ", "N",
     "largest page of GET/GETALL/LISTSTREAMS (default 10000)"},
    {"map-size", OPT_MAP_SIZE, "MAP_SIZE", "BYTES", "LMDB map size, the store's size limit (default 64 GiB)"},
    {"min-free-disk", OPT_MIN_FREE_DISK, "MIN_FREE_DISK", "BYTES",
     "refuse ADDs (-FULL) before the data directory's filesystem has less free (default 128 MiB)"},
    {"snapshot-threshold", OPT_SNAPSHOT_THRESHOLD, "SNAPSHOT_THRESHOLD", "N",
     "raft entries between snapshots (default 131072)"},
    {"snapshot-trailing", OPT_SNAPSHOT_TRAILING, "SNAPSHOT_TRAILING", "N",
     "raft entries kept after a snapshot (default 32768)"},
    {"election-timeout", OPT_ELECTION_TIMEOUT, "ELECTION_TIMEOUT", "MS", "raft election timeout (default 1000)"},
    {"heartbeat-timeout", OPT_HEARTBEAT_TIMEOUT, "HEARTBEAT_TIMEOUT", "MS",
     "raft heartbeat interval (default 100)"},
    {"max-staleness", OPT_MAX_STALENESS, "MAX_STALENESS", "MS",
     "refuse local reads (-STALE) after this long without contact with a leader; 0 = never (default 5000)"},
    {"log-level", OPT_LOG_LEVEL, "LOG_LEVEL", "LEVEL", "debug, info, warn or error (default info)"},
    {"cpu-affinity", OPT_CPU_AFFINITY, "CPU_AFFINITY", "off|disk|LIST",
     "CPUs of the loop thread: a list (0,2-3), or disk: those taking the data disk's interrupts (default off)"},
    {"dedup-window", OPT_DEDUP_WINDOW, "DEDUP_WINDOW", "N",
     "idempotency keys a new cluster remembers (default 1048576); later: CONFIG SET dedup-window"},
    {"help", OPT_HELP, NULL, NULL, "print this help"},
    {"version", OPT_VERSION, NULL, NULL, "print the version"},
};
#define N_OPTIONS (sizeof option_descs / sizeof option_descs[0])

void config_usage(FILE *out)
{
    fprintf(out,
            "usage: eventflowd [options]\n"
            "\n"
            "eventflow event store node: RESP on the client port, Raft between nodes.\n"
            "Every option can also be set by the environment variable shown.\n\n");
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option_desc *d = &option_descs[i];
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", d->flag, d->arg ? " " : "", d->arg ? d->arg : "");
        fprintf(out, "  %-32s %s%s%s%s\n", left, d->help, d->env ? " [" : "", d->env ? d->env : "",
                d->env ? "]" : "");
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

static void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->id = 1;
    snprintf(cfg->bind, sizeof cfg->bind, "127.0.0.1");
    cfg->port = 6543;
    cfg->data_dir = xstrdup("./data");
    cfg->max_bulk = 16u << 20;
    cfg->max_clients = 10000;
    cfg->max_pending = 1024;
    cfg->max_output = 256u << 20;
    codec_limits_default(&cfg->codec);
    cfg->map_size = (size_t)64 << 30;
    /* Room for raft's next segments (two prepared ahead of the open one,
     * 16 MiB each) and for the entries still in flight when ADDs stop. */
    cfg->min_free_disk = (uint64_t)128 << 20;
    /* An event store's state grows without bound, and a snapshot serializes
     * all of it: snapshot rarely, and keep enough trailing entries that a
     * follower which was briefly away catches up from the log, not by a
     * snapshot install. See docs/operations.md. */
    cfg->snapshot_threshold = 131072;
    cfg->snapshot_trailing = 32768;
    cfg->election_timeout_ms = 1000;
    cfg->heartbeat_timeout_ms = 100;
    cfg->max_staleness_ms = 5000;
    cfg->log_level = LOG_LEVEL_INFO;
    cfg->dedup_window = STORE_DEFAULT_DEDUP_WINDOW;
}

/* Apply one setting, from a flag or from the environment. */
static int config_set(struct config *cfg, int code, const char *val, const char *src, char *err,
                      size_t errlen)
{
    uint64_t n;
    switch (code) {
    case OPT_ID:
        if (parse_u64(val, 1, UINT64_MAX, &n) != 0)
            return config_fail(err, errlen, "%s: invalid node id '%s'", src, val);
        cfg->id = n;
        return 0;
    case OPT_BIND:
        if (strlen(val) == 0 || strlen(val) >= CONFIG_ADDR_MAX)
            return config_fail(err, errlen, "%s: invalid bind address", src);
        snprintf(cfg->bind, sizeof cfg->bind, "%s", val);
        return 0;
    case OPT_PORT:
        if (parse_u64(val, 1, 65535, &n) != 0)
            return config_fail(err, errlen, "%s: invalid port '%s'", src, val);
        cfg->port = (unsigned)n;
        return 0;
    case OPT_ADVERTISE:
        if (check_address(src, val, err, errlen) != 0)
            return -1;
        snprintf(cfg->advertise, sizeof cfg->advertise, "%s", val);
        return 0;
    case OPT_RAFT_ADDRESS:
        if (check_address(src, val, err, errlen) != 0)
            return -1;
        snprintf(cfg->raft_address, sizeof cfg->raft_address, "%s", val);
        return 0;
    case OPT_RAFT_BIND:
        if (check_address(src, val, err, errlen) != 0)
            return -1;
        snprintf(cfg->raft_bind, sizeof cfg->raft_bind, "%s", val);
        return 0;
    case OPT_CLUSTER:
        return config_parse_members(val, cfg, err, errlen);
    case OPT_JOIN:
        if (check_address(src, val, err, errlen) != 0)
            return -1;
        snprintf(cfg->join, sizeof cfg->join, "%s", val);
        return 0;
    case OPT_DATA:
        if (*val == '\0')
            return config_fail(err, errlen, "%s: empty data directory", src);
        free(cfg->data_dir);
        cfg->data_dir = xstrdup(val);
        return 0;
    case OPT_PASSWORD:
        free(cfg->password);
        cfg->password = *val ? xstrdup(val) : NULL;
        return 0;
    case OPT_MAX_BULK:
        if (parse_u64(val, 1024, 1u << 30, &n) != 0)
            return config_fail(err, errlen, "%s: expected 1024..1073741824 bytes", src);
        cfg->max_bulk = n;
        return 0;
    case OPT_MAX_CLIENTS:
        if (parse_u64(val, 1, 1000000, &n) != 0)
            return config_fail(err, errlen, "%s: expected 1..1000000", src);
        cfg->max_clients = n;
        return 0;
    case OPT_MAX_EVENTS:
        if (parse_u64(val, 1, 1000000, &n) != 0)
            return config_fail(err, errlen, "%s: expected 1..1000000", src);
        cfg->codec.max_events = n;
        return 0;
    case OPT_MAX_EVENT_SIZE:
        if (parse_u64(val, 64, 1u << 30, &n) != 0)
            return config_fail(err, errlen, "%s: expected 64..1073741824 bytes", src);
        cfg->codec.max_event_size = n;
        return 0;
    case OPT_MAX_READ:
        if (parse_u64(val, 1, 10000000, &n) != 0)
            return config_fail(err, errlen, "%s: expected 1..10000000", src);
        cfg->codec.max_read = n;
        return 0;
    case OPT_MAP_SIZE:
        if (parse_u64(val, 1u << 20, UINT64_MAX / 2, &n) != 0)
            return config_fail(err, errlen, "%s: expected at least 1 MiB", src);
        cfg->map_size = n;
        return 0;
    case OPT_MIN_FREE_DISK:
        if (parse_u64(val, 0, UINT64_MAX / 2, &n) != 0)
            return config_fail(err, errlen, "%s: expected a number of bytes", src);
        cfg->min_free_disk = n;
        return 0;
    case OPT_SNAPSHOT_THRESHOLD:
        if (parse_u64(val, 16, UINT_MAX, &n) != 0)
            return config_fail(err, errlen, "%s: expected at least 16", src);
        cfg->snapshot_threshold = (unsigned)n;
        return 0;
    case OPT_SNAPSHOT_TRAILING:
        if (parse_u64(val, 0, UINT_MAX, &n) != 0)
            return config_fail(err, errlen, "%s: expected a number of entries", src);
        cfg->snapshot_trailing = (unsigned)n;
        return 0;
    case OPT_ELECTION_TIMEOUT:
        if (parse_u64(val, 50, 600000, &n) != 0)
            return config_fail(err, errlen, "%s: expected 50..600000 ms", src);
        cfg->election_timeout_ms = (unsigned)n;
        return 0;
    case OPT_HEARTBEAT_TIMEOUT:
        if (parse_u64(val, 10, 600000, &n) != 0)
            return config_fail(err, errlen, "%s: expected 10..600000 ms", src);
        cfg->heartbeat_timeout_ms = (unsigned)n;
        return 0;
    case OPT_MAX_STALENESS:
        if (parse_u64(val, 0, 3600000, &n) != 0)
            return config_fail(err, errlen, "%s: expected 0..3600000 ms", src);
        cfg->max_staleness_ms = (unsigned)n;
        return 0;
    case OPT_LOG_LEVEL: {
        int lvl = log_level_parse(val);
        if (lvl < 0)
            return config_fail(err, errlen, "%s: unknown log level '%s'", src, val);
        cfg->log_level = lvl;
        return 0;
    }
    case OPT_DEDUP_WINDOW:
        if (parse_u64(val, 1, STORE_MAX_DEDUP_WINDOW, &n) != 0)
            return config_fail(err, errlen, "%s: expected 1..%llu keys", src, (unsigned long long)STORE_MAX_DEDUP_WINDOW);
        cfg->dedup_window = n;
        cfg->dedup_window_set = true;
        return 0;
    case OPT_CLUSTER_STATE:
        if (strcmp(val, "new") == 0)
            cfg->cluster_state_existing = false;
        else if (strcmp(val, "existing") == 0)
            cfg->cluster_state_existing = true;
        else
            return config_fail(err, errlen, "%s: expected new or existing, not '%s'", src, val);
        return 0;
    case OPT_CPU_AFFINITY: {
        char why[160];
        if (affinity_parse(val, &cfg->cpu_affinity, why, sizeof why) != 0)
            return config_fail(err, errlen, "%s: %s", src, why);
        return 0;
    }
    default:
        return config_fail(err, errlen, "internal: unknown option %d", code);
    }
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
    if (cfg->heartbeat_timeout_ms * 2 > cfg->election_timeout_ms)
        return config_fail(err, errlen, "--heartbeat-timeout must be at most half of --election-timeout");
    if (cfg->codec.max_event_size > cfg->max_bulk)
        cfg->codec.max_event_size = cfg->max_bulk;
    return 0;
}

int config_load(int argc, char **argv, struct config *cfg, char *err, size_t errlen)
{
    config_defaults(cfg);

    /* Environment first, so flags override it. */
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const char *env = option_descs[i].env;
        const char *val = env ? getenv(env) : NULL;
        if (val != NULL && config_set(cfg, option_descs[i].code, val, env, err, errlen) != 0)
            return -1;
    }

    struct option longopts[N_OPTIONS + 1];
    for (size_t i = 0; i < N_OPTIONS; i++) {
        longopts[i] = (struct option){option_descs[i].flag,
                                      option_descs[i].arg ? required_argument : no_argument, NULL,
                                      option_descs[i].code};
    }
    longopts[N_OPTIONS] = (struct option){0};

    optind = 1;
    opterr = 0;
    for (;;) {
        int code = getopt_long(argc, argv, "h", longopts, NULL);
        if (code == -1)
            break;
        if (code == OPT_HELP || code == 'h') {
            config_usage(stdout);
            return 1;
        }
        if (code == OPT_VERSION) {
            printf("eventflowd %s (malloc: %s)\n", EVENTFLOW_VERSION, EVENTFLOW_ALLOCATOR);
            return 1;
        }
        if (code == '?' || code == ':')
            return config_fail(err, errlen, "unknown or incomplete option '%s' (see --help)",
                               argv[optind - 1]);
        char src[64];
        snprintf(src, sizeof src, "--%s", longopts[0].name);
        for (size_t i = 0; i < N_OPTIONS; i++)
            if (option_descs[i].code == code)
                snprintf(src, sizeof src, "--%s", option_descs[i].flag);
        if (config_set(cfg, code, optarg, src, err, errlen) != 0)
            return -1;
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
    snprintf(out->raft_address, sizeof out->raft_address, "%s", cfg->raft_address);
    snprintf(out->raft_bind, sizeof out->raft_bind, "%s", cfg->raft_bind);
    snprintf(out->join, sizeof out->join, "%s", cfg->join);
    out->cluster_state_existing = cfg->cluster_state_existing;
    out->members = cfg->members;
    out->n_members = cfg->n_members;
    out->data_dir = cfg->data_dir;
    out->password = cfg->password;
    out->map_size = cfg->map_size;
    out->min_free_disk = cfg->min_free_disk;
    out->snapshot_threshold = cfg->snapshot_threshold;
    out->snapshot_trailing = cfg->snapshot_trailing;
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
    free(cfg->password);
    memset(cfg, 0, sizeof *cfg);
}
