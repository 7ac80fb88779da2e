/* served.c - see served.h. The file holds one big-endian u64. */
#include "node/served.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/be64.h"
#include "common/fatal.h"
#include "common/log.h"

int served_open(struct served *s, const char *data_dir)
{
    char path[4096];
    uint8_t b[8];

    s->fd = -1;
    s->mark = s->boot = 0;
    s->caught_up = false;
    snprintf(path, sizeof path, "%s/served-index", data_dir);
    s->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->fd < 0) {
        log_error("opening %s: %s", path, strerror(errno));
        return -1;
    }
    ssize_t n = pread(s->fd, b, sizeof b, 0);
    if (n < 0) {
        log_error("reading %s: %s", path, strerror(errno));
        served_close(s);
        return -1;
    }
    /* Absent or short (a new directory, or a crash while it was first
     * written): nothing was served that the store does not hold. */
    if (n == (ssize_t)sizeof b)
        s->mark = s->boot = be64_get(b);
    s->caught_up = s->boot == 0;
    return 0;
}

void served_note(struct served *s, uint64_t applied)
{
    if (applied <= s->mark || s->fd < 0)
        return;
    uint8_t b[8];
    be64_put(b, applied);
    ssize_t n = pwrite(s->fd, b, sizeof b, 0);
    if (n != (ssize_t)sizeof b) {
        fatal_restart("recording the served index: %s", n < 0 ? strerror(errno) : "short write");
    }
    s->mark = applied;
}

bool served_caught_up(struct served *s, uint64_t applied)
{
    if (!s->caught_up && applied >= s->boot)
        s->caught_up = true;
    return s->caught_up;
}

void served_close(struct served *s)
{
    if (s->fd >= 0)
        (void)close(s->fd);
    s->fd = -1;
}
