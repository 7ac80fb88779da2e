/* extents.h - what a file's blocks look like on disk, for tests.
 *
 * Uses the FIEMAP ioctl (ext4, XFS and btrfs answer it). A test
 * that needs to know whether a preallocated file's blocks were written
 * (not merely reserved as unwritten extents) asks here.
 *
 * Errors: -1 with a one-line reason on stderr. Threading: none kept. */
#ifndef EVENTFLOW_TEST_EXTENTS_H
#define EVENTFLOW_TEST_EXTENTS_H

#include <stdint.h>

struct extents_summary {
    uint64_t mapped_bytes;    /* bytes covered by extents (written or not) */
    uint64_t unwritten_bytes; /* of those, bytes in unwritten extents */
};

/* Summarize the extents of the open file fd from offset 0 to its end.
 * Returns 0 and fills *out, or -1 if FIEMAP failed. */
int extents_summarize(int fd, struct extents_summary *out);

/* Same for a path. */
int extents_summarize_path(const char *path, struct extents_summary *out);

#endif
