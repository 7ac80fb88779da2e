/* backup.c - eventflowctl backup: a backup file of the store, copied from
 * one member (a follower by default) while the cluster runs.
 *
 * The file is written as FILE.part and renamed to FILE only once complete
 * and synced, so FILE is either a whole backup or absent. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "common/human.h"

/* Requests (a chunk, the member's answer once its image is written) take
 * at most this long each; the whole backup has no time limit. */
#define BACKUP_TIMEOUT_MS 30000

struct progress {
    bool shown;
    int last_percent;
    struct timespec start;
};

static double seconds_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* On a terminal only: one line on stderr, rewritten as the copy goes. */
static void show_progress(void *arg, uint64_t done, uint64_t total)
{
    struct progress *p = arg;
    if (total == 0) {
        fprintf(stderr, "backup: the member is writing an image of its store ");
        p->shown = true;
        return;
    }
    int percent = (int)(done * 100 / total);
    if (percent == p->last_percent)
        return;
    if (p->last_percent < 0)
        fputc('\n', stderr);
    p->last_percent = percent;
    char d[16], t[16];
    human_bytes(done, HUMAN_SHORT, d, sizeof d);
    human_bytes(total, HUMAN_SHORT, t, sizeof t);
    fprintf(stderr, "\rbackup: %3d%%  %s of %s  %.1f s ", percent, d, t, seconds_since(&p->start));
    p->shown = true;
}

/* Make the rename of part to file durable: sync the file, rename, sync
 * the directory. Returns 0 or an errno. */
static int backup_commit(int fd, const char *part, const char *file)
{
    if (fsync(fd) != 0 || rename(part, file) != 0)
        return errno;
    char *copy = strdup(file);
    if (copy == NULL)
        return ENOMEM;
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = dfd < 0 || fsync(dfd) != 0 ? errno : 0;
    if (dfd >= 0)
        close(dfd);
    free(copy);
    return rc;
}

static int print_backup(const struct cli *cli, const char *file, const struct eventflow_backup_info *b,
                        double secs)
{
    if (cli->output == CLI_OUTPUT_JSON) {
        json_t *j = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:s, s:s, s:i, s:s, s:o, s:f}", "file", file,
                              "node", b->node, "applied_index", output_json_u64(b->applied_index), "term",
                              output_json_u64(b->term), "events", output_json_u64(b->events), "streams",
                              output_json_u64(b->streams), "checksum", b->checksum, "last_id", b->last_id,
                              "store_format", (int)b->store_format, "version", b->version, "bytes",
                              output_json_u64(b->file_bytes), "seconds", secs);
        int rc = j != NULL && output_json(stdout, j, false) == 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        json_decref(j);
        return rc;
    }
    char size[16];
    human_bytes(b->file_bytes, HUMAN_SHORT, size, sizeof size);
    printf("%s: %" PRIu64 " events in %" PRIu64 " streams, checksum %s, last id %s, raft index %" PRIu64
           " term %" PRIu64 ", from %s (eventflowd %s, store format %" PRIu32 "), %s in %.1f s\n",
           file, b->events, b->streams, b->checksum, b->last_id[0] != '\0' ? b->last_id : "-", b->applied_index,
           b->term, b->node, b->version, b->store_format, size, secs);
    return ferror(stdout) ? CLI_EXIT_USAGE : CLI_EXIT_OK;
}

static int cmd_backup(struct cli *cli, const struct cli_args *a)
{
    const char *file = a->pos[0];
    struct stat st;
    if (stat(file, &st) == 0)
        return cli_usage(cli, "%s exists; a backup never overwrites a file", file);
    char part[4096];
    if (snprintf(part, sizeof part, "%s.part", file) >= (int)sizeof part)
        return cli_usage(cli, "file name too long");
    struct eventflow_client *c;
    int rc = cli_client(cli, EF_READ_FOLLOWER, cli_timeout(cli, BACKUP_TIMEOUT_MS), &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    int fd = open(part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = cli_fail(cli, CLI_EXIT_USAGE, "cannot create %s: %s", part, strerror(errno));
        eventflow_client_free(c);
        return rc;
    }
    struct progress p = {.last_percent = -1};
    clock_gettime(CLOCK_MONOTONIC, &p.start);
    struct eventflow_backup_info info;
    rc = eventflow_backup(c, cli_flag(a, "node"), fd, isatty(STDERR_FILENO) ? show_progress : NULL, &p, &info);
    if (p.shown)
        fputc('\n', stderr);
    if (rc != EF_OK) {
        rc = cli_fail_call(cli, c, rc, "backup failed");
    } else if ((errno = backup_commit(fd, part, file)) != 0) {
        rc = cli_fail(cli, CLI_EXIT_DEGRADED, "writing %s: %s", file, strerror(errno));
    } else {
        rc = print_backup(cli, file, &info, seconds_since(&p.start));
    }
    close(fd);
    if (rc != CLI_EXIT_OK)
        (void)unlink(part);
    eventflow_client_free(c);
    return rc;
}

static const struct cli_flag backup_flags[] = {
    {"node", 0, "HOST:PORT", "the member to copy from (default: a follower, else the leader; needed without a leader)"},
    {NULL, 0, NULL, NULL},
};

const struct cli_command cli_backup_commands[] = {
    {"backup", "<file>", 1, 1, "write a backup of the store to a file",
     "Copies one member's store while the cluster goes on serving and writing\n"
     "(a follower's by default, so the leader does no extra work) into FILE: a\n"
     "header with the raft index, term, event count, checksum, last event id,\n"
     "store format and version, the store image, and a checksum of the file.\n"
     "The member writes a consistent image of its committed store, then it is\n"
     "read 1 MiB at a time; FILE.part becomes FILE once complete and synced.\n"
     "Progress shows on stderr when it is a terminal. Restore with\n"
     "'eventflowd --restore FILE' (docs/operations.md, \"Backups\").\n"
     "\n"
     "Output: one line (or -o json: one object) describing the backup.\n"
     "Exit codes: 0 written; 1 the member failed to copy or FILE could not be\n"
     "written; 2 no member could serve it; 3 usage, or FILE exists.\n"
     "\n"
     "Examples:\n"
     "  eventflowctl backup /backup/eventflow-$(date +%F).efb\n"
     "  eventflowctl -e 10.0.0.2:6543 backup --node 10.0.0.2:6543 now.efb -o json",
     backup_flags, cmd_backup},
    {NULL, NULL, 0, 0, NULL, NULL, NULL, NULL},
};
