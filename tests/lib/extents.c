/* extents.c - FIEMAP summary of a file (see extents.h). */
#include "extents.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXTENTS_PER_CALL 64

int extents_summarize(int fd, struct extents_summary *out)
{
    memset(out, 0, sizeof *out);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        fprintf(stderr, "extents: fstat: %s\n", strerror(errno));
        return -1;
    }
    size_t size = sizeof(struct fiemap) + EXTENTS_PER_CALL * sizeof(struct fiemap_extent);
    struct fiemap *fm = calloc(1, size);
    if (fm == NULL) {
        fprintf(stderr, "extents: out of memory\n");
        return -1;
    }
    uint64_t start = 0;
    int rv = 0;
    for (;;) {
        memset(fm, 0, size);
        fm->fm_start = start;
        fm->fm_length = (uint64_t)st.st_size > start ? (uint64_t)st.st_size - start : 0;
        fm->fm_flags = FIEMAP_FLAG_SYNC; /* delayed allocations become real first */
        fm->fm_extent_count = EXTENTS_PER_CALL;
        if (fm->fm_length == 0)
            break;
        if (ioctl(fd, FS_IOC_FIEMAP, fm) != 0) {
            fprintf(stderr, "extents: FIEMAP: %s\n", strerror(errno));
            rv = -1;
            break;
        }
        if (fm->fm_mapped_extents == 0)
            break;
        bool last = false;
        for (unsigned i = 0; i < fm->fm_mapped_extents; i++) {
            const struct fiemap_extent *e = &fm->fm_extents[i];
            /* Count only the part inside [0, size): the last extent may
             * reach past the end of file. */
            uint64_t end = e->fe_logical + e->fe_length;
            if (end > (uint64_t)st.st_size)
                end = (uint64_t)st.st_size;
            uint64_t len = end > e->fe_logical ? end - e->fe_logical : 0;
            out->mapped_bytes += len;
            if (e->fe_flags & FIEMAP_EXTENT_UNWRITTEN)
                out->unwritten_bytes += len;
            start = e->fe_logical + e->fe_length;
            if (e->fe_flags & FIEMAP_EXTENT_LAST)
                last = true;
        }
        if (last)
            break;
    }
    free(fm);
    return rv;
}

int extents_summarize_path(const char *path, struct extents_summary *out)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "extents: open %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rv = extents_summarize(fd, out);
    close(fd);
    return rv;
}
