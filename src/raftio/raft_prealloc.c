/* raft_prealloc.c - raft's log segments preallocated with written zeros.
 *
 * raft_uv (0.22.1) prepares each log segment ahead of use with
 * posix_fallocate() and then appends entries to it with O_DIRECT | O_DSYNC
 * writes submitted through kernel AIO with RWF_NOWAIT. On ext4 (and XFS)
 * fallocate() only reserves blocks as *unwritten* extents. A direct write
 * into an unwritten extent must convert it, which the kernel will not do
 * without blocking, so every RWF_NOWAIT submission fails with EAGAIN and
 * raft_uv resubmits the write from libuv's thread pool: two thread
 * hand-offs per log write. And with O_DSYNC each conversion is a metadata
 * change that the write waits on a journal commit for.
 *
 * eventflowd therefore defines posix_fallocate() itself. The dynamic
 * linker binds libraft's reference to this definition (an executable's
 * symbols come first in the lookup scope and ld exports the ones a shared
 * library refers to), so the segment files raft prepares get their blocks
 * allocated *and written with zeros*, then synced, in raft's own preparation
 * thread. Appends are then plain overwrites: RWF_NOWAIT succeeds, the write
 * completes on the loop's eventfd without the thread pool, and O_DSYNC has
 * no extent metadata to commit. A segment costs one extra sequential write
 * of its size when it is prepared, off the loop thread.
 *
 * Nothing else in the process calls posix_fallocate() (LMDB and libuv do
 * not), and the semantics callers rely on are kept: the range is allocated,
 * data already in the file is untouched (only the part past the current end
 * of file is zero-filled; fallocate() itself never changes data), and
 * errors come back as an error number with errno left as it was.
 *
 * Durability: the zeros and the file's new size are on disk (fdatasync)
 * before this returns, so a crash can never leave a segment whose length
 * raft believes in but whose blocks were never allocated. raft_uv syncs the
 * directory entry itself after this returns.
 *
 * Threading: called from libuv's thread pool; it keeps no state. */

/* The build sets _FILE_OFFSET_BITS=64, under which <fcntl.h> renames
 * posix_fallocate to posix_fallocate64: this file must define the plain
 * name libraft refers to, so it sees the unrenamed declarations and
 * defines both names itself. */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* fallocate64, off64_t (the build defines it too) */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Zeros are written in chunks of this size: large enough that a 16 MiB
 * segment takes 16 writes when the file is O_DSYNC, small enough to
 * allocate (calloc maps zero pages for it, nothing is touched). */
#define PREALLOC_CHUNK (1u << 20)

/* Write zeros over [from, to) through fd, whose flags exclude O_DIRECT. */
static int write_zeros(int fd, off64_t from, off64_t to)
{
    char *zeros = calloc(1, PREALLOC_CHUNK);
    if (zeros == NULL)
        return ENOMEM;
    int err = 0;
    while (from < to) {
        size_t n = (size_t)(to - from) < PREALLOC_CHUNK ? (size_t)(to - from) : PREALLOC_CHUNK;
        ssize_t w = pwrite64(fd, zeros, n, from);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            err = errno;
            break;
        }
        from += w; /* a short write (w > 0) continues where it stopped */
    }
    free(zeros);
    return err;
}

/* Allocate and zero-fill [offset, offset + len) past the end of file. */
static int prealloc(int fd, off64_t offset, off64_t len)
{
    if (offset < 0 || len <= 0)
        return EINVAL;
    if (offset > INT64_MAX - len)
        return EFBIG;
    struct stat64 st;
    if (fstat64(fd, &st) != 0)
        return errno;
    if (!S_ISREG(st.st_mode))
        return S_ISFIFO(st.st_mode) ? ESPIPE : ENODEV;

    /* Reserve the blocks first: a full disk fails here at once, and the
     * file gets extents as contiguous as the file system can give. A file
     * system without fallocate() is served by the zero writes alone. */
    if (fallocate64(fd, 0, offset, len) != 0 && errno != EOPNOTSUPP)
        return errno;

    off64_t end = offset + len;
    off64_t from = offset > st.st_size ? offset : st.st_size;
    if (from >= end)
        return 0; /* all within existing data: allocated, nothing to zero */

    /* O_DIRECT would demand aligned buffers, offsets and lengths: write the
     * zeros through the page cache and restore the flag afterwards. raft
     * sets O_DIRECT only after preparing, so this is normally a no-op. */
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0)
        return errno;
    if ((flags & O_DIRECT) && fcntl(fd, F_SETFL, flags & ~O_DIRECT) != 0)
        return errno;
    int err = write_zeros(fd, from, end);
    if (err == 0 && fdatasync(fd) != 0)
        err = errno;
    /* The zeros are on disk: drop their cached pages, which raft's direct
     * writes would otherwise have to invalidate one range at a time. Only
     * advice; its failure changes nothing. */
    if (err == 0)
        (void)posix_fadvise64(fd, from, end - from, POSIX_FADV_DONTNEED);
    if ((flags & O_DIRECT) && fcntl(fd, F_SETFL, flags) != 0 && err == 0)
        err = errno;
    return err;
}

/* posix_fallocate() reports errors as its result and never sets errno. */
int posix_fallocate64(int fd, off64_t offset, off64_t len)
{
    int saved = errno;
    int err = prealloc(fd, offset, len);
    errno = saved;
    return err;
}

/* off_t is 64 bits on the LP64 targets raft_uv's AIO path runs on. */
int posix_fallocate(int fd, off_t offset, off_t len)
{
    return posix_fallocate64(fd, offset, len);
}
