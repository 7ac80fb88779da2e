/* test_raft_prealloc.c - raft segments preallocated with written zeros
 * (src/raftio/raft_prealloc.c, compiled into this test).
 *
 * The point of the module is that a preallocated range has no unwritten
 * extents, so each test file lives in $TMPDIR (default /tmp), which must be
 * on a file system whose fallocate() leaves unwritten extents (ext4, XFS):
 * test_plain_fallocate_leaves_unwritten_extents checks that the check can
 * tell the difference there at all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "extents.h"

#define MIB (1024 * 1024)

struct tmpfile {
    char path[256];
    int fd;
};

static int tmp_setup(void **state)
{
    struct tmpfile *t = calloc(1, sizeof *t);
    if (t == NULL)
        return -1;
    const char *dir = getenv("TMPDIR");
    snprintf(t->path, sizeof t->path, "%s/ef-prealloc-XXXXXX", dir != NULL ? dir : "/tmp");
    t->fd = mkstemp(t->path);
    if (t->fd < 0) {
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

static int tmp_teardown(void **state)
{
    struct tmpfile *t = *state;
    close(t->fd);
    unlink(t->path);
    free(t);
    return 0;
}

static off_t file_size(int fd)
{
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    return st.st_size;
}

/* Assert that [from, to) of fd reads back as zeros. */
static void assert_zeros(int fd, off_t from, off_t to)
{
    char buf[65536];
    while (from < to) {
        size_t want = (size_t)(to - from) < sizeof buf ? (size_t)(to - from) : sizeof buf;
        ssize_t n = pread(fd, buf, want, from);
        assert_true(n > 0);
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != 0)
                fail_msg("byte %lld is %d, not zero", (long long)(from + i), buf[i]);
        from += n;
    }
}

static void test_plain_fallocate_leaves_unwritten_extents(void **state)
{
    struct tmpfile *t = *state;
    assert_int_equal(fallocate(t->fd, 0, 0, 2 * MIB), 0);
    struct extents_summary s;
    assert_int_equal(extents_summarize(t->fd, &s), 0);
    assert_int_equal(s.mapped_bytes, 2 * MIB);
    /* Without this, the assertions below could not fail here. */
    assert_int_equal(s.unwritten_bytes, 2 * MIB);
}

static void test_range_is_allocated_and_written(void **state)
{
    struct tmpfile *t = *state;
    const off_t len = 3 * MIB + 100; /* not a multiple of the chunk or a block */
    assert_int_equal(posix_fallocate(t->fd, 0, len), 0);
    assert_int_equal(file_size(t->fd), len);
    struct extents_summary s;
    assert_int_equal(extents_summarize(t->fd, &s), 0);
    assert_int_equal(s.mapped_bytes, len);
    assert_int_equal(s.unwritten_bytes, 0);
    assert_zeros(t->fd, 0, len);
}

static void test_existing_data_is_kept(void **state)
{
    struct tmpfile *t = *state;
    assert_int_equal(pwrite(t->fd, "hello", 5, 0), 5);
    assert_int_equal(posix_fallocate(t->fd, 0, MIB), 0);
    assert_int_equal(file_size(t->fd), MIB);
    char head[5];
    assert_int_equal(pread(t->fd, head, sizeof head, 0), 5);
    assert_memory_equal(head, "hello", 5);
    assert_zeros(t->fd, 5, MIB);

    /* A range wholly inside the file changes nothing. */
    assert_int_equal(posix_fallocate(t->fd, 0, 4096), 0);
    assert_int_equal(file_size(t->fd), MIB);
    assert_int_equal(pread(t->fd, head, sizeof head, 0), 5);
    assert_memory_equal(head, "hello", 5);
}

static void test_range_past_the_end(void **state)
{
    struct tmpfile *t = *state;
    assert_int_equal(posix_fallocate(t->fd, MIB, MIB), 0);
    assert_int_equal(file_size(t->fd), 2 * MIB);
    assert_zeros(t->fd, 0, 2 * MIB);
    struct extents_summary s;
    assert_int_equal(extents_summarize(t->fd, &s), 0);
    assert_int_equal(s.unwritten_bytes, 0);
}

static void test_direct_io_descriptor(void **state)
{
    struct tmpfile *t = *state;
    int fd = open(t->path, O_WRONLY | O_DSYNC | O_DIRECT);
    if (fd < 0)
        fail_msg("open O_DIRECT: %s", strerror(errno));
    assert_int_equal(posix_fallocate(fd, 0, MIB + 512), 0);
    /* The descriptor is handed back as it came: raft writes through it. */
    int flags = fcntl(fd, F_GETFL);
    assert_true(flags & O_DIRECT);
    assert_int_equal(file_size(fd), MIB + 512);
    struct extents_summary s;
    assert_int_equal(extents_summarize(fd, &s), 0);
    assert_int_equal(s.unwritten_bytes, 0);
    close(fd);
    assert_zeros(t->fd, 0, MIB + 512);
}

static void test_errors_are_returned_not_set(void **state)
{
    struct tmpfile *t = *state;
    errno = 1234;
    assert_int_equal(posix_fallocate(-1, 0, 4096), EBADF);
    assert_int_equal(errno, 1234);
    assert_int_equal(posix_fallocate(t->fd, 0, 0), EINVAL);
    assert_int_equal(posix_fallocate(t->fd, -1, 4096), EINVAL);
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(posix_fallocate(p[1], 0, 4096), ESPIPE);
    close(p[0]);
    close(p[1]);
    int ro = open(t->path, O_RDONLY);
    assert_true(ro >= 0);
    assert_int_equal(posix_fallocate(ro, 0, 4096), EBADF);
    close(ro);
    assert_int_equal(errno, 1234);
    assert_int_equal(file_size(t->fd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_fallocate_leaves_unwritten_extents, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test_setup_teardown(test_range_is_allocated_and_written, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test_setup_teardown(test_existing_data_is_kept, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_range_past_the_end, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_direct_io_descriptor, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_errors_are_returned_not_set, tmp_setup,
                                        tmp_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
