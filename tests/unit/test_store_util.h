/* test_store_util.h - helpers shared by test_store.c and
 * test_store_snapshot.c: temporary store directories, building packed
 * Entry payloads, and a visitor that records what a read returned. Each
 * test program includes it once; everything is static. */
#ifndef EVENTFLOW_TEST_STORE_UTIL_H
#define EVENTFLOW_TEST_STORE_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ftw.h>
#include <unistd.h>

#include <cmocka.h>

#include "eventflow.pb-c.h"
#include "store/store.h"

#define TEST_MAP_SIZE ((size_t)256 << 20)

/* ---- directories and stores ------------------------------------------- */

static inline void tdir_make(char dir[64])
{
    snprintf(dir, 64, "/tmp/test-store-XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static inline int tdir_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void tdir_remove(const char *dir)
{
    assert_int_equal(nftw(dir, tdir_rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static inline struct store *tstore_open(const char *dir, size_t map_size)
{
    struct store_options o = {.dir = dir, .map_size = map_size};
    struct store *s = NULL;
    char err[256] = "";
    int rc = store_open(&o, &s, err, sizeof err);
    if (rc != 0)
        fail_msg("store_open: %s", err);
    assert_non_null(s);
    return s;
}

/* ---- entries ----------------------------------------------------------- */

/* The fixture the store's tests share: a fresh store in a temporary
 * directory, with the next raft index and the next event id, both 1. */
struct tfx {
    char dir[64];
    struct store *s;
    uint64_t index; /* the next raft index */
    uint64_t seq;   /* the next event id */
};

static inline int tfx_setup(void **state)
{
    struct tfx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    tdir_make(f->dir);
    f->s = tstore_open(f->dir, TEST_MAP_SIZE);
    f->index = 1;
    f->seq = 1;
    *state = f;
    return 0;
}

static inline int tfx_teardown(void **state)
{
    struct tfx *f = *state;
    store_close(f->s);
    tdir_remove(f->dir);
    free(f);
    return 0;
}

/* Ids in tests are small numbers in the low 8 bytes, so their order is
 * obvious at a glance. */
static inline void tid(uint64_t seq, uint8_t out[ULID_BYTES])
{
    memset(out, 0, ULID_BYTES);
    for (int i = 0; i < 8; i++)
        out[ULID_BYTES - 1 - i] = (uint8_t)(seq >> (8 * i));
}

static uint8_t *tpack_entry(const Eventflow__Entry *e, size_t *len)
{
    *len = eventflow__entry__get_packed_size(e);
    uint8_t *buf = malloc(*len ? *len : 1);
    assert_non_null(buf);
    assert_int_equal(eventflow__entry__pack(e, buf), *len);
    return buf;
}

/* An ADD of n events with ids seqs[0..n), type "type-<seq>", data
 * "payload-<seq>" padded to data_len bytes (if longer), added at
 * 1000 * seqs[0]. The caller frees the result. */
static uint8_t *tadd_sized(const char *stream, bool any, uint64_t expected, const uint64_t *seqs, size_t n,
                           size_t data_len, size_t *len)
{
    Eventflow__NewEvent *evs = calloc(n ? n : 1, sizeof *evs);
    Eventflow__NewEvent **evp = calloc(n ? n : 1, sizeof *evp);
    uint8_t (*ids)[ULID_BYTES] = calloc(n ? n : 1, sizeof *ids);
    char (*types)[32] = calloc(n ? n : 1, sizeof *types);
    char **datas = calloc(n ? n : 1, sizeof *datas);
    assert_true(evs && evp && ids && types && datas);
    for (size_t i = 0; i < n; i++) {
        eventflow__new_event__init(&evs[i]);
        evp[i] = &evs[i];
        tid(seqs[i], ids[i]);
        snprintf(types[i], sizeof types[i], "type-%llu", (unsigned long long)seqs[i]);
        size_t dl = data_len > 32 ? data_len : 32;
        datas[i] = calloc(1, dl + 1);
        assert_non_null(datas[i]);
        int w = snprintf(datas[i], dl + 1, "payload-%llu", (unsigned long long)seqs[i]);
        size_t used = data_len > (size_t)w ? data_len : (size_t)w;
        memset(datas[i] + w, 'x', used - (size_t)w);
        evs[i].id = (ProtobufCBinaryData){.len = ULID_BYTES, .data = ids[i]};
        evs[i].type = types[i];
        evs[i].data_kind = EVENTFLOW__PAYLOAD_KIND__PAYLOAD_STRING;
        evs[i].data = (ProtobufCBinaryData){.len = used, .data = (uint8_t *)datas[i]};
    }
    Eventflow__AddCommand add = EVENTFLOW__ADD_COMMAND__INIT;
    add.stream = (char *)stream;
    add.any_version = any;
    add.expected_version = expected;
    add.added_at_ns = n ? (int64_t)(1000 * seqs[0]) : 0;
    add.n_events = n;
    add.events = evp;
    Eventflow__Entry e = EVENTFLOW__ENTRY__INIT;
    e.command_case = EVENTFLOW__ENTRY__COMMAND_ADD;
    e.add = &add;
    uint8_t *buf = tpack_entry(&e, len);
    for (size_t i = 0; i < n; i++)
        free(datas[i]);
    free(datas);
    free(types);
    free(ids);
    free(evp);
    free(evs);
    return buf;
}

static uint8_t *tadd(const char *stream, bool any, uint64_t expected, const uint64_t *seqs, size_t n,
                     size_t *len)
{
    return tadd_sized(stream, any, expected, seqs, n, 0, len);
}

/* Apply an entry, expecting success, and return the outcome's status. */
static inline enum store_status tapply(struct store *s, uint64_t index, uint8_t *buf, size_t len,
                                const struct store_outcome **out)
{
    const struct store_outcome *o = NULL;
    int rc = store_apply(s, index, buf, len, &o);
    free(buf);
    if (rc != 0)
        fail_msg("store_apply(%llu): %d %s", (unsigned long long)index, rc, store_errmsg(s));
    assert_non_null(o);
    assert_int_equal(o->raft_index, index);
    if (out != NULL)
        *out = o;
    return o->status;
}

/* ADD events seqs [first, first+n) to `stream` at `expected`, applied at
 * `index`; asserts it was applied. */
static inline void tadd_range(struct store *s, uint64_t index, const char *stream, uint64_t expected, uint64_t first,
                       size_t n)
{
    uint64_t seqs[64];
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++)
        seqs[i] = first + i;
    size_t len;
    uint8_t *buf = tadd(stream, false, expected, seqs, n, &len);
    assert_int_equal(tapply(s, index, buf, len, NULL), STORE_APPLIED);
}

/* ---- a visitor that records --------------------------------------------- */

#define TCOL_MAX 4096

struct tcol {
    int begins;
    uint64_t begin_n;
    size_t n;
    size_t stop_after; /* return 42 after this many items; 0 = never */
    uint64_t version[TCOL_MAX];
    uint64_t position[TCOL_MAX];
    uint8_t id[TCOL_MAX][ULID_BYTES];
    char name[TCOL_MAX][32];
    uint64_t length[TCOL_MAX];
    int64_t created[TCOL_MAX];
};

static inline int tcol_begin(void *arg, uint64_t n)
{
    struct tcol *c = arg;
    c->begins++;
    c->begin_n = n;
    return 0;
}

static inline int tcol_event(void *arg, const Eventflow__StoredEvent *ev)
{
    struct tcol *c = arg;
    assert_true(c->n < TCOL_MAX);
    assert_int_equal(ev->id.len, ULID_BYTES);
    c->version[c->n] = ev->version;
    c->position[c->n] = ev->position;
    memcpy(c->id[c->n], ev->id.data, ULID_BYTES);
    snprintf(c->name[c->n], sizeof c->name[c->n], "%s", ev->stream);
    c->n++;
    return c->stop_after != 0 && c->n == c->stop_after ? 42 : 0;
}

static inline int tcol_stream(void *arg, const char *name, size_t len, const Eventflow__StreamInfo *info)
{
    struct tcol *c = arg;
    assert_true(c->n < TCOL_MAX);
    snprintf(c->name[c->n], sizeof c->name[c->n], "%.*s", (int)len, name);
    c->length[c->n] = info->length;
    c->created[c->n] = info->created_at_ns;
    c->n++;
    return c->stop_after != 0 && c->n == c->stop_after ? 42 : 0;
}

static inline struct tcol *tcol_new(void)
{
    struct tcol *c = calloc(1, sizeof *c);
    assert_non_null(c);
    return c;
}

static inline struct store_visitor tcol_visitor(struct tcol *c)
{
    memset(c, 0, sizeof *c);
    return (struct store_visitor){.arg = c, .begin = tcol_begin, .event = tcol_event, .stream = tcol_stream};
}

/* begin() ran once, announcing exactly the items that followed. */
static inline void tcol_check(const struct tcol *c, uint64_t want)
{
    assert_int_equal(c->begins, 1);
    assert_int_equal(c->begin_n, want);
    assert_int_equal(c->n, want);
}

static inline size_t tread_stream(struct store *s, struct tcol *c, const char *stream, uint64_t from, uint64_t limit)
{
    struct store_visitor v = tcol_visitor(c);
    assert_int_equal(store_read_stream(s, stream, strlen(stream), from, limit, &v), 0);
    tcol_check(c, c->n);
    return c->n;
}

static inline size_t tread_all(struct store *s, struct tcol *c, const uint8_t *after, uint64_t limit)
{
    struct store_visitor v = tcol_visitor(c);
    assert_int_equal(store_read_all(s, after, limit, &v), 0);
    tcol_check(c, c->n);
    return c->n;
}

static inline size_t tlist(struct store *s, struct tcol *c, uint64_t skip, uint64_t limit)
{
    struct store_visitor v = tcol_visitor(c);
    assert_int_equal(store_list_streams(s, skip, limit, &v), 0);
    tcol_check(c, c->n);
    return c->n;
}

static inline struct store_stats tstats(struct store *s)
{
    struct store_stats st;
    assert_int_equal(store_stats(s, &st), 0);
    return st;
}

#endif
