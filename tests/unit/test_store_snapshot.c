/* test_store_snapshot.c - snapshot headers and whole-state copies: header
 * round trips and corrupt input, copying a store while the loop thread
 * keeps applying, inspecting an image, and replacing a store with one. */
#include "test_store_util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>

struct fx {
    char dir_a[64], dir_b[64];
    struct store *a; /* the source */
    struct store *b; /* the restore target */
};

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    tdir_make(f->dir_a);
    tdir_make(f->dir_b);
    f->a = tstore_open(f->dir_a, TEST_MAP_SIZE);
    f->b = tstore_open(f->dir_b, TEST_MAP_SIZE);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->a);
    store_close(f->b);
    tdir_remove(f->dir_a);
    tdir_remove(f->dir_b);
    char image[96];
    snprintf(image, sizeof image, "%s.image", f->dir_b);
    unlink(image);
    free(f);
    return 0;
}

static uint8_t *tmember(uint64_t id, const char *addr, uint64_t incarnation, size_t *len)
{
    Eventflow__MemberAddress m = EVENTFLOW__MEMBER_ADDRESS__INIT;
    m.id = id;
    m.client_address = (char *)addr;
    m.incarnation = incarnation;
    Eventflow__Entry e = EVENTFLOW__ENTRY__INIT;
    e.command_case = EVENTFLOW__ENTRY__COMMAND_MEMBER_ADDRESS;
    e.member_address = &m;
    return tpack_entry(&e, len);
}

/* Entries 1..n_entries: ADDs of 1-4 events over 37 streams (data of
 * varied size), plus two member addresses. Ids continue from *next_id. */
static void fill(struct store *s, uint64_t first_index, uint64_t n_entries, uint64_t *next_id)
{
    for (uint64_t idx = first_index; idx < first_index + n_entries; idx++) {
        size_t len;
        uint8_t *buf;
        if (idx % 97 == 0) {
            buf = tmember(idx % 2 + 1, idx % 2 ? "10.0.0.1:6543" : "10.0.0.2:6543", idx, &len);
            assert_int_equal(tapply(s, idx, buf, len, NULL), STORE_MEMBER_UPDATED);
            continue;
        }
        uint64_t seqs[4];
        size_t n = 1 + idx % 4;
        for (size_t i = 0; i < n; i++)
            seqs[i] = (*next_id)++;
        char stream[32];
        snprintf(stream, sizeof stream, "stream-%02llu", (unsigned long long)(idx % 37));
        buf = tadd_sized(stream, true, 0, seqs, n, (idx * 131) % 700, &len);
        assert_int_equal(tapply(s, idx, buf, len, NULL), STORE_APPLIED);
    }
    assert_int_equal(store_flush(s), 0);
}

/* Same stats, same global log, same streams, same members. */
static void assert_same_state(struct store *x, struct store *y)
{
    struct store_stats sx = tstats(x), sy = tstats(y);
    assert_int_equal(sx.applied_index, sy.applied_index);
    assert_int_equal(sx.event_count, sy.event_count);
    assert_int_equal(sx.stream_count, sy.stream_count);
    assert_int_equal(sx.checksum, sy.checksum);
    assert_memory_equal(sx.last_id, sy.last_id, ULID_BYTES);

    struct tcol *cx = tcol_new(), *cy = tcol_new();
    assert_int_equal(tread_all(x, cx, NULL, UINT64_MAX), sx.event_count);
    assert_int_equal(tread_all(y, cy, NULL, UINT64_MAX), sy.event_count);
    for (size_t i = 0; i < cx->n; i++) {
        assert_memory_equal(cx->id[i], cy->id[i], ULID_BYTES);
        assert_int_equal(cx->position[i], cy->position[i]);
        assert_int_equal(cx->version[i], cy->version[i]);
        assert_string_equal(cx->name[i], cy->name[i]);
    }
    assert_int_equal(tlist(x, cx, 0, UINT64_MAX), sx.stream_count);
    assert_int_equal(tlist(y, cy, 0, UINT64_MAX), sy.stream_count);
    for (size_t i = 0; i < cx->n; i++) {
        assert_string_equal(cx->name[i], cy->name[i]);
        assert_int_equal(cx->length[i], cy->length[i]);
        assert_int_equal(cx->created[i], cy->created[i]);
    }
    for (size_t i = 0; i < cx->n && i < 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s", cx->name[i]);
        size_t nx = tread_stream(x, cx, name, 1, UINT64_MAX);
        assert_int_equal(tread_stream(y, cy, name, 1, UINT64_MAX), nx);
        for (size_t j = 0; j < nx; j++)
            assert_memory_equal(cx->id[j], cy->id[j], ULID_BYTES);
        tlist(x, cx, 0, UINT64_MAX); /* restore the names for the next round */
    }
    for (uint64_t id = 1; id <= 3; id++) {
        char ax[64] = "", ay[64] = "";
        uint64_t ix = 0, iy = 0;
        int rx = store_member_get(x, id, ax, sizeof ax, &ix);
        assert_int_equal(store_member_get(y, id, ay, sizeof ay, &iy), rx);
        assert_string_equal(ax, ay);
        assert_int_equal(ix, iy);
    }
    free(cx);
    free(cy);
}


/* A temporary file path for an image, next to the stores (same file system,
 * as store_replace needs). */
static void image_path(const struct fx *f, char out[96])
{
    snprintf(out, 96, "%s.image", f->dir_b);
}

/* Copy x's store into path on this thread. */
static void copy_to(struct store *x, const char *path)
{
    struct store_copy *c;
    assert_int_equal(store_copy_begin(x, &c), 0);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    char err[256] = "";
    assert_int_equal(store_copy_write(c, fd, err, sizeof err), 0);
    store_copy_end(c);
    assert_int_equal(fsync(fd), 0);
    close(fd);
}

static void test_header_roundtrip(void **state)
{
    struct fx *f = *state;
    uint64_t next_id = 1;
    fill(f->a, 1, 200, &next_id);
    /* Applied but not committed: taking the header commits and syncs it. */
    tadd_range(f->a, 201, "late", 0, next_id, 2);
    assert_true(store_batch_entries(f->a) > 0);
    const char *sources[] = {"10.0.0.1:6543", "node2:6543"};
    void *h = NULL;
    size_t len = 0;
    assert_int_equal(store_snapshot_take(f->a, sources, 2, &h, &len), 0);
    assert_int_equal(store_batch_entries(f->a), 0);
    assert_true(len < 128); /* O(1): nothing of the state itself */

    struct store_snapshot_info info;
    assert_int_equal(store_snapshot_parse(h, len, &info), 0);
    struct store_stats st = tstats(f->a);
    assert_int_equal(info.applied_index, 201);
    assert_int_equal(info.applied_index, st.applied_index);
    assert_int_equal(info.event_count, st.event_count);
    assert_int_equal(info.checksum, st.checksum);
    assert_int_equal(info.n_sources, 2);
    assert_string_equal(info.sources[0], "10.0.0.1:6543");
    assert_string_equal(info.sources[1], "node2:6543");
    store_snapshot_info_free(&info);
    free(h);

    /* No sources is fine too. */
    assert_int_equal(store_snapshot_take(f->b, NULL, 0, &h, &len), 0);
    assert_int_equal(store_snapshot_parse(h, len, &info), 0);
    assert_int_equal(info.applied_index, 0);
    assert_int_equal(info.n_sources, 0);
    store_snapshot_info_free(&info);
    free(h);
}

static void test_header_corrupt(void **state)
{
    struct fx *f = *state;
    struct store_snapshot_info info;
    assert_int_equal(store_snapshot_parse("", 0, &info), STORE_ECORRUPT);
    assert_int_equal(store_snapshot_parse("EFSNAP0", 7, &info), STORE_ECORRUPT);
    /* The old, serialized format is refused, not misread. */
    assert_int_equal(store_snapshot_parse("EFSNAP01\x04\x00\x00\x00\x08\x01\x00\x00", 16, &info),
                     STORE_ECORRUPT);
    void *h = NULL;
    size_t len = 0;
    const char *sources[] = {"a:1"};
    assert_int_equal(store_snapshot_take(f->a, sources, 1, &h, &len), 0);
    uint8_t *bad = malloc(len + 8);
    assert_non_null(bad);
    memcpy(bad, h, len);
    memset(bad + len, 0xff, 8); /* garbage after the message */
    assert_int_equal(store_snapshot_parse(bad, len + 8, &info), STORE_ECORRUPT);
    assert_int_equal(store_snapshot_parse(h, len - 1, &info), STORE_ECORRUPT); /* truncated */
    free(bad);
    free(h);
    store_snapshot_info_free(NULL);
}

static void test_copy_replace(void **state)
{
    struct fx *f = *state;
    uint64_t next_id = 1;
    fill(f->a, 1, 1000, &next_id);
    /* b has state of its own, which the copy replaces whole. */
    tadd_range(f->b, 1, "only-in-b", 0, 1000000, 3);
    assert_int_equal(store_flush(f->b), 0);

    char path[96];
    image_path(f, path);
    copy_to(f->a, path);
    struct store_stats img;
    char err[256] = "";
    assert_int_equal(store_file_stats(path, &img, err, sizeof err), 0);
    struct store_stats sa = tstats(f->a);
    assert_int_equal(img.applied_index, 1000);
    assert_int_equal(img.event_count, sa.event_count);
    assert_int_equal(img.checksum, sa.checksum);
    assert_true(img.db_bytes > 0);

    assert_int_equal(store_replace(f->b, path), 0);
    assert_int_equal(access(path, F_OK), -1); /* moved, not copied */
    assert_same_state(f->a, f->b);
    struct tcol *c = tcol_new();
    assert_int_equal(tread_stream(f->b, c, "only-in-b", 0, 10), 0);
    free(c);

    /* The replaced store goes on in step with the original... */
    uint64_t next_b = next_id;
    fill(f->a, 1001, 50, &next_id);
    fill(f->b, 1001, 50, &next_b);
    assert_same_state(f->a, f->b);
    /* ...skips what it already holds... */
    uint64_t seq = 1;
    size_t len;
    uint8_t *buf = tadd("again", false, 0, &seq, 1, &len);
    assert_int_equal(tapply(f->b, 1000, buf, len, NULL), STORE_ALREADY_APPLIED);
    assert_int_equal(tstats(f->b).applied_index, 1050);
    /* ...and survives a reopen. */
    store_close(f->b);
    f->b = tstore_open(f->dir_b, TEST_MAP_SIZE);
    assert_same_state(f->a, f->b);
}

/* A rebased image is a new cluster's first state: the same events and
 * checksum, applied index 0 (a new log's first entries apply), the new
 * identity, no members of the old cluster; ids go on from its last. */
static void test_rebase(void **state)
{
    struct fx *f = *state;
    uint64_t next_id = 1;
    fill(f->a, 1, 300, &next_id); /* members 1 and 2 recorded at 97, 194, 291 */
    char path[96];
    image_path(f, path);
    copy_to(f->a, path);
    uint8_t id[STORE_CLUSTER_ID_BYTES];
    for (size_t i = 0; i < sizeof id; i++)
        id[i] = (uint8_t)(0xa0 + i);
    char err[256] = "";
    if (store_file_rebase(path, id, err, sizeof err) != 0)
        fail_msg("store_file_rebase: %s", err);
    struct store_stats img, sa = tstats(f->a);
    assert_int_equal(store_file_stats(path, &img, err, sizeof err), 0);
    assert_int_equal(img.applied_index, 0);
    assert_true(img.has_cluster_id);
    assert_memory_equal(img.cluster_id, id, sizeof id);
    assert_int_equal(img.event_count, sa.event_count);
    assert_int_equal(img.stream_count, sa.stream_count);
    assert_int_equal(img.checksum, sa.checksum);
    assert_memory_equal(img.last_id, sa.last_id, ULID_BYTES);

    assert_int_equal(store_replace(f->b, path), 0);
    char addr[64];
    assert_int_equal(store_member_get(f->a, 1, addr, sizeof addr, NULL), 0);
    assert_int_equal(store_member_get(f->b, 1, addr, sizeof addr, NULL), -ENOENT);
    struct tcol *ca = tcol_new(), *cb = tcol_new();
    assert_int_equal(tread_all(f->a, ca, NULL, 10000), tread_all(f->b, cb, NULL, 10000));
    free(ca);
    free(cb);
    /* Entry 1 of the new log applies on top of the restored events. */
    uint64_t seq = next_id;
    size_t len;
    uint8_t *buf = tadd("after-restore", true, 0, &seq, 1, &len);
    assert_int_equal(tapply(f->b, 1, buf, len, NULL), STORE_APPLIED);
    assert_int_equal(tstats(f->b).event_count, sa.event_count + 1);

    /* Not a store: refused, the file untouched. */
    FILE *junk = fopen(path, "w");
    assert_non_null(junk);
    assert_int_equal(fputs("not lmdb", junk) >= 0, 1);
    assert_int_equal(fclose(junk), 0);
    assert_int_not_equal(store_file_rebase(path, id, err, sizeof err), 0);
    assert_int_equal(remove(path), 0);
}

static void test_file_stats_rejects(void **state)
{
    struct fx *f = *state;
    char path[96], err[256] = "";
    struct store_stats st;
    image_path(f, path);
    assert_int_not_equal(store_file_stats(path, &st, err, sizeof err), 0); /* missing */
    assert_true(err[0] != '\0');
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    for (int i = 0; i < 4096; i++)
        fputc(i & 0x7f, fp);
    fclose(fp);
    err[0] = '\0';
    assert_int_not_equal(store_file_stats(path, &st, err, sizeof err), 0); /* not LMDB */
    assert_true(err[0] != '\0');
    /* store_replace refuses nothing by itself, so callers check first; a
     * failed rename leaves the old store open and usable. */
    assert_int_equal(unlink(path), 0);
    assert_int_not_equal(store_replace(f->a, path), 0);
    tadd_range(f->a, 1, "still", 0, 1, 1);
    assert_int_equal(tstats(f->a).event_count, 1);
}

struct copier {
    struct store_copy *copy;
    int fd;
    int rc;
    atomic_bool done;
};

static void *copier_main(void *arg)
{
    struct copier *w = arg;
    char err[256];
    w->rc = store_copy_write(w->copy, w->fd, err, sizeof err);
    store_copy_end(w->copy);
    atomic_store(&w->done, true);
    return NULL;
}

/* Begin a copy of f->a into the image path (set in path) on a new thread. */
static pthread_t copier_start(struct fx *f, struct copier *w, char path[96])
{
    image_path(f, path);
    w->rc = -100;
    atomic_init(&w->done, false);
    w->fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(w->fd >= 0);
    assert_int_equal(store_copy_begin(f->a, &w->copy), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, copier_main, w), 0);
    return t;
}

/* A copy runs on another thread while this one keeps applying, committing
 * and reading; the image holds a consistent committed state at or past the
 * point where the copy began. */
static void test_copy_concurrently(void **state)
{
    struct fx *f = *state;
    uint64_t next_id = 1;
    fill(f->a, 1, 500, &next_id);
    char path[96];
    struct copier w;
    pthread_t t = copier_start(f, &w, path);
    uint64_t idx = 501;
    while (idx < 601 || (!atomic_load(&w.done) && idx < 5000)) {
        fill(f->a, idx, 10, &next_id);
        struct tcol *col = tcol_new();
        tlist(f->a, col, 0, 5);
        free(col);
        idx += 10;
    }
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(w.rc, 0);
    assert_int_equal(fsync(w.fd), 0);
    close(w.fd);

    struct store_stats img;
    char err[256];
    assert_int_equal(store_file_stats(path, &img, err, sizeof err), 0);
    assert_true(img.applied_index >= 500);
    assert_int_equal(store_replace(f->b, path), 0);
    /* Exactly the state of a replica that applied as far as the image. */
    char dir_c[64];
    tdir_make(dir_c);
    struct store *c = tstore_open(dir_c, TEST_MAP_SIZE);
    uint64_t next_c = 1;
    fill(c, 1, img.applied_index, &next_c);
    assert_same_state(c, f->b);
    store_close(c);
    tdir_remove(dir_c);
}

/* store_close waits for a copy in flight instead of closing under it. */
static void test_close_waits_for_copy(void **state)
{
    struct fx *f = *state;
    uint64_t next_id = 1;
    fill(f->a, 1, 300, &next_id);
    char path[96];
    struct copier w;
    pthread_t t = copier_start(f, &w, path);
    store_close(f->a);
    f->a = NULL;
    assert_true(atomic_load(&w.done)); /* close returned only after the copy ended */
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(w.rc, 0);
    close(w.fd);
    struct store_stats img;
    char err[256];
    assert_int_equal(store_file_stats(path, &img, err, sizeof err), 0);
    assert_int_equal(img.applied_index, 300);
    unlink(path);
    f->a = tstore_open(f->dir_a, TEST_MAP_SIZE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_header_roundtrip, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_header_corrupt, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_copy_replace, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_rebase, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_file_stats_rejects, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_copy_concurrently, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_close_waits_for_copy, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
