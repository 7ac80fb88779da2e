/* main.c - eventflowctl: the command line, help, and dispatch.
 *
 *   eventflowctl [global flags] <command> [flags] [arguments]
 *
 * Global flags may appear anywhere on the line; a command's own flags after
 * its name. "--" ends the flags (for arguments that begin with '-'). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "version.h"

#define DEFAULT_ENDPOINTS EF_DEFAULT_ENDPOINT

static const struct cli_flag global_flags[] = {
    {"endpoints", 'e', "HOST:PORT,...",
     "members to ask first (default: $EVENTFLOW_ENDPOINTS, else " DEFAULT_ENDPOINTS ")"},
    {"password", 0, "PASSWORD", "the cluster's password, or --user's (default: $EVENTFLOW_PASSWORD)"},
    {"user", 0, "USER", "log in as this user of the ACL (default: $EVENTFLOW_USER, else the password's own)"},
    {"output", 'o', "table|json", "output format (default: table)"},
    {"timeout", 't', "MS", "time limit of the command's requests, retries included (see each command)"},
    {"tls", 0, NULL, "TLS to the nodes' TLS ports, named by -e (default: on if $EVENTFLOW_TLS is 1)"},
    {"cacert", 0, "PATH", "PEM CA certificates for TLS (default: $EVENTFLOW_CACERT, else the system's)"},
    {"cert", 0, "PATH", "PEM client certificate for TLS (default: $EVENTFLOW_CERT)"},
    {"key", 0, "PATH", "PEM key of --cert (default: $EVENTFLOW_KEY)"},
    {"help", 'h', NULL, "show help"},
    {NULL, 0, NULL, NULL},
};
enum { G_ENDPOINTS, G_PASSWORD, G_USER, G_OUTPUT, G_TIMEOUT, G_TLS, G_CACERT, G_CERT, G_KEY, G_HELP, G_COUNT };

static const struct cli_command *const groups[] = {
    cli_status_commands,
    cli_member_commands,
    cli_data_commands,
    cli_user_commands,
    cli_group_commands,
    cli_stream_commands,
    cli_backup_commands,
};
#define N_GROUPS (sizeof groups / sizeof groups[0])

/* ---- help ------------------------------------------------------------------- */

static void print_flags(FILE *out, const struct cli_flag *flags)
{
    for (const struct cli_flag *f = flags; f->name != NULL; f++) {
        char left[64];
        const char *sep = f->value != NULL ? " " : "";
        const char *value = f->value != NULL ? f->value : "";
        if (f->short_name != 0)
            snprintf(left, sizeof left, "-%c, --%s%s%s", f->short_name, f->name, sep, value);
        else
            snprintf(left, sizeof left, "    --%s%s%s", f->name, sep, value);
        fprintf(out, "  %-30s %s\n", left, f->help);
    }
}

static void print_main_help(FILE *out)
{
    fputs("Usage: eventflowctl [global flags] <command> [flags] [arguments]\n"
          "\n"
          "Cluster status, administration and operator data access for eventflow.\n"
          "\n"
          "Commands:\n",
          out);
    for (size_t g = 0; g < N_GROUPS; g++)
        for (const struct cli_command *c = groups[g]; c->name != NULL; c++)
            fprintf(out, "  %-16s %s\n", c->name, c->summary);
    fputs("  help [command]   show help (also: <command> --help)\n"
          "  version          show the versions of eventflowctl and libeventflow\n"
          "\nGlobal flags (any command):\n",
          out);
    print_flags(out, global_flags);
    fputs("\n"
          "Exit codes:\n"
          "  0  success; status and health: the cluster is healthy\n"
          "  1  status and health: degraded (a member unreachable, lagging, stale or\n"
          "     diverged); other commands: the cluster refused the request\n"
          "  2  no leader, or fewer than a majority of voters reachable\n"
          "  3  usage error, wrong password, or no endpoint could be reached\n"
          "\n"
          "Examples:\n"
          "  eventflowctl status\n"
          "  eventflowctl -e 10.0.0.1:6543,10.0.0.2:6543 status -o json\n"
          "  EVENTFLOW_ENDPOINTS=10.0.0.1:6543 eventflowctl member promote 4\n"
          "  eventflowctl -e 10.0.0.1:6544 --tls --cacert ca.crt status\n"
          "\n"
          "Run 'eventflowctl <command> --help' for a command's flags and examples.\n",
          out);
}

static void print_command_help(FILE *out, const struct cli_command *c)
{
    fprintf(out, "Usage: eventflowctl %s [flags]%s%s\n\n%s\n\n%s\n", c->name, c->synopsis[0] ? " " : "",
            c->synopsis, c->summary, c->help);
    if (c->flags != NULL && c->flags[0].name != NULL) {
        fputs("\nFlags:\n", out);
        print_flags(out, c->flags);
    }
    fputs("\nGlobal flags:\n", out);
    print_flags(out, global_flags);
}

/* ---- parsing ------------------------------------------------------------------ */

static int flag_index(const struct cli_flag *flags, const char *name, size_t name_len, char short_name)
{
    if (flags == NULL)
        return -1;
    for (int i = 0; flags[i].name != NULL; i++) {
        if (short_name != 0 ? flags[i].short_name == short_name
                            : strlen(flags[i].name) == name_len && strncmp(flags[i].name, name, name_len) == 0)
            return i;
    }
    return -1;
}

/* Where a parsed flag goes: the globals or the command's own. */
struct parse_state {
    const char *globals[G_COUNT];
    struct cli_args args;
    const struct cli_command *cmd; /* NULL until the command is known */
};

/* Take one flag at argv[*i] (which starts with '-'), and its value from the
 * same word or the next. Returns 0, or -1 after printing a usage error. */
static int take_flag(struct cli *cli, struct parse_state *ps, int argc, char **argv, int *i)
{
    const char *word = argv[*i];
    const char *name;
    size_t name_len;
    char short_name = 0;
    const char *inline_value = NULL;
    if (word[1] == '-') {
        name = word + 2;
        const char *eq = strchr(name, '=');
        name_len = eq != NULL ? (size_t)(eq - name) : strlen(name);
        if (eq != NULL)
            inline_value = eq + 1;
    } else {
        name = word + 1;
        name_len = 1;
        short_name = word[1];
        if (word[2] != '\0')
            inline_value = word + 2;
    }
    const struct cli_flag *flag;
    const char **slot;
    int gi = flag_index(global_flags, name, name_len, short_name);
    int ci = ps->cmd != NULL ? flag_index(ps->cmd->flags, name, name_len, short_name) : -1;
    if (gi >= 0) {
        flag = &global_flags[gi];
        slot = &ps->globals[gi];
    } else if (ci >= 0) {
        flag = &ps->cmd->flags[ci];
        slot = &ps->args.values[ci];
    } else {
        cli_usage(cli, "unknown flag %s", word);
        return -1;
    }
    if (flag->value == NULL) {
        if (inline_value != NULL && word[1] == '-') {
            cli_usage(cli, "flag --%s takes no value", flag->name);
            return -1;
        }
        if (inline_value != NULL) { /* -xy: not supported, say so */
            cli_usage(cli, "unknown flag %s", word);
            return -1;
        }
        *slot = "";
        return 0;
    }
    if (inline_value == NULL) {
        if (*i + 1 >= argc) {
            cli_usage(cli, "flag --%s needs a value (%s)", flag->name, flag->value);
            return -1;
        }
        inline_value = argv[++*i];
    }
    *slot = inline_value;
    return 0;
}

static const struct cli_command *find_command(const char *first, const char *second, bool *used_second)
{
    *used_second = false;
    size_t first_len = strlen(first);
    for (size_t g = 0; g < N_GROUPS; g++) {
        for (const struct cli_command *c = groups[g]; c->name != NULL; c++) {
            if (strcmp(c->name, first) == 0)
                return c;
            if (second != NULL && strncmp(c->name, first, first_len) == 0 && c->name[first_len] == ' ' &&
                strcmp(c->name + first_len + 1, second) == 0) {
                *used_second = true;
                return c;
            }
        }
    }
    return NULL;
}

/* Is word the first word of two-word commands ("member")? */
static bool is_group_word(const char *word)
{
    size_t len = strlen(word);
    for (size_t g = 0; g < N_GROUPS; g++)
        for (const struct cli_command *c = groups[g]; c->name != NULL; c++)
            if (strncmp(c->name, word, len) == 0 && c->name[len] == ' ')
                return true;
    return false;
}

/* `<group> --help` and `help <group>`: the group's subcommands, each with
 * its arguments and what it does. */
static void print_group_help(FILE *out, const char *word)
{
    size_t len = strlen(word);
    fprintf(out, "Usage: eventflowctl %s <subcommand> [flags] [arguments]\n\nSubcommands:\n", word);
    for (size_t g = 0; g < N_GROUPS; g++) {
        for (const struct cli_command *c = groups[g]; c->name != NULL; c++) {
            if (strncmp(c->name, word, len) != 0 || c->name[len] != ' ')
                continue;
            char left[96];
            snprintf(left, sizeof left, "%s %s", c->name, c->synopsis);
            fprintf(out, "  %-52s %s\n", left, c->summary);
        }
    }
    fprintf(out,
            "\nRun 'eventflowctl %s <subcommand> --help' for a subcommand's flags and examples.\n"
            "\nGlobal flags:\n",
            word);
    print_flags(out, global_flags);
}

static int group_usage(struct cli *cli, const char *word)
{
    char names[256] = "";
    size_t len = strlen(word);
    for (size_t g = 0; g < N_GROUPS; g++) {
        for (const struct cli_command *c = groups[g]; c->name != NULL; c++) {
            if (strncmp(c->name, word, len) == 0 && c->name[len] == ' ') {
                size_t used = strlen(names);
                snprintf(names + used, sizeof names - used, "%s%s", used ? "|" : "", c->name + len + 1);
            }
        }
    }
    cli->command = word;
    return cli_usage(cli, "needs a subcommand: %s %s", word, names);
}

/* A TLS file from its flag or environment variable into *out (NULL: none
 * given). Checked here, where the reason can be told: the library only
 * says that a client could not be made. */
static int tls_file(struct cli *cli, const char *flag, const char *value, const char *env, const char **out)
{
    *out = value != NULL ? value : getenv(env);
    if (*out != NULL && (*out)[0] == '\0')
        *out = NULL;
    if (*out != NULL && access(*out, R_OK) != 0)
        return cli_usage(cli, "cannot read --%s %s: %s", flag, *out, strerror(errno));
    return CLI_EXIT_OK;
}

static int apply_tls(struct cli *cli, const struct parse_state *ps)
{
    const char *on = getenv(EF_TLS_ENV);
    cli->tls = ps->globals[G_TLS] != NULL || (on != NULL && strcmp(on, "1") == 0);
    if (tls_file(cli, "cacert", ps->globals[G_CACERT], EF_TLS_CA_ENV, &cli->cacert) != CLI_EXIT_OK ||
        tls_file(cli, "cert", ps->globals[G_CERT], EF_TLS_CERT_ENV, &cli->cert) != CLI_EXIT_OK ||
        tls_file(cli, "key", ps->globals[G_KEY], EF_TLS_KEY_ENV, &cli->key) != CLI_EXIT_OK)
        return CLI_EXIT_USAGE;
    if ((cli->cert == NULL) != (cli->key == NULL))
        return cli_usage(cli, "--cert and --key go together");
    return CLI_EXIT_OK;
}

static int apply_globals(struct cli *cli, const struct parse_state *ps)
{
    cli->endpoints = ps->globals[G_ENDPOINTS];
    if (cli->endpoints == NULL || cli->endpoints[0] == '\0')
        cli->endpoints = getenv(EF_ENDPOINTS_ENV);
    if (cli->endpoints == NULL || cli->endpoints[0] == '\0')
        cli->endpoints = DEFAULT_ENDPOINTS;
    cli->password = ps->globals[G_PASSWORD];
    if (cli->password == NULL)
        cli->password = getenv("EVENTFLOW_PASSWORD");
    if (cli->password != NULL && cli->password[0] == '\0')
        cli->password = NULL;
    cli->user = ps->globals[G_USER];
    if (cli->user == NULL)
        cli->user = getenv("EVENTFLOW_USER");
    if (cli->user != NULL && cli->user[0] == '\0')
        cli->user = NULL;
    const char *out = ps->globals[G_OUTPUT];
    if (out == NULL || strcmp(out, "table") == 0)
        cli->output = CLI_OUTPUT_TABLE;
    else if (strcmp(out, "json") == 0)
        cli->output = CLI_OUTPUT_JSON;
    else
        return cli_usage(cli, "--output must be table or json, not \"%s\"", out);
    if (ps->globals[G_TIMEOUT] != NULL) {
        uint64_t ms;
        if (cli_parse_u64(cli, "--timeout", ps->globals[G_TIMEOUT], 1, 3600 * 1000, &ms) != 0)
            return CLI_EXIT_USAGE;
        cli->timeout_ms = (int)ms;
    }
    return apply_tls(cli, ps);
}

static int print_version(void)
{
    printf("eventflowctl %s (libeventflow %s)\n", EVENTFLOW_VERSION, eventflow_version());
    return CLI_EXIT_OK;
}

/* `help [command words]`. */
static int help_command(struct cli *cli, int argc, char **argv)
{
    if (argc == 0) {
        print_main_help(stdout);
        return CLI_EXIT_OK;
    }
    bool two;
    const struct cli_command *c = find_command(argv[0], argc > 1 ? argv[1] : NULL, &two);
    if (c == NULL) {
        if (is_group_word(argv[0]) && argc == 1) {
            print_group_help(stdout, argv[0]);
            return CLI_EXIT_OK;
        }
        if (is_group_word(argv[0]))
            return group_usage(cli, argv[0]);
        return cli_usage(cli, "unknown command \"%s\"", argv[0]);
    }
    print_command_help(stdout, c);
    return CLI_EXIT_OK;
}

static int run(int argc, char **argv)
{
    struct cli cli = {.command = NULL};
    struct parse_state ps;
    memset(&ps, 0, sizeof ps);

    /* Global flags up to the command's name. */
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (strcmp(argv[i], "--version") == 0)
            return print_version();
        if (take_flag(&cli, &ps, argc, argv, &i) != 0)
            return CLI_EXIT_USAGE;
    }
    if (ps.globals[G_HELP] != NULL || i >= argc) {
        print_main_help(ps.globals[G_HELP] != NULL ? stdout : stderr);
        return ps.globals[G_HELP] != NULL ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    if (strcmp(argv[i], "help") == 0)
        return help_command(&cli, argc - i - 1, argv + i + 1);
    if (strcmp(argv[i], "version") == 0)
        return print_version();

    bool two;
    ps.cmd = find_command(argv[i], i + 1 < argc ? argv[i + 1] : NULL, &two);
    if (ps.cmd == NULL) {
        if (is_group_word(argv[i])) {
            if (i + 1 < argc && (strcmp(argv[i + 1], "--help") == 0 || strcmp(argv[i + 1], "-h") == 0)) {
                print_group_help(stdout, argv[i]);
                return CLI_EXIT_OK;
            }
            return group_usage(&cli, argv[i]);
        }
        return cli_usage(&cli, "unknown command \"%s\"", argv[i]);
    }
    cli.command = ps.cmd->name;
    ps.args.flags = ps.cmd->flags;
    i += two ? 2 : 1;

    /* The command's flags (and global ones) and its arguments. */
    bool flags_done = false;
    for (; i < argc; i++) {
        const char *w = argv[i];
        if (!flags_done && strcmp(w, "--") == 0) {
            flags_done = true;
            continue;
        }
        if (!flags_done && w[0] == '-' && w[1] != '\0') {
            if (take_flag(&cli, &ps, argc, argv, &i) != 0)
                return CLI_EXIT_USAGE;
            continue;
        }
        if (ps.args.n_pos == CLI_MAX_ARGS || ps.args.n_pos >= ps.cmd->max_args)
            return cli_usage(&cli, "unexpected argument \"%s\"", w);
        ps.args.pos[ps.args.n_pos++] = w;
    }
    if (ps.globals[G_HELP] != NULL) {
        print_command_help(stdout, ps.cmd);
        return CLI_EXIT_OK;
    }
    if (ps.args.n_pos < ps.cmd->min_args)
        return cli_usage(&cli, "missing arguments: %s", ps.cmd->synopsis);
    int rc = apply_globals(&cli, &ps);
    if (rc != CLI_EXIT_OK)
        return rc;
    return ps.cmd->run(&cli, &ps.args);
}

int main(int argc, char **argv)
{
    int rc = run(argc, argv);
    /* Output that could not be written is a failure, not a silent success. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "eventflowctl: could not write the output\n");
        return CLI_EXIT_USAGE;
    }
    return rc;
}
