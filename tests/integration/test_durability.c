/* test_durability.c - what a node acknowledged survives kill -9 and
 * restarts, with and without snapshots.
 *
 * A few writer connections each append to their own stream with explicit
 * expected versions; an ADD counts as acknowledged only once its reply has
 * been received. After a kill -9 and a restart every acknowledged event must
 * be there, identical (ids, versions, types, data, added_at), in order;
 * events that were in flight may or may not be there, but if they are they
 * are the requested ones, in order. The global log before the kill must be a
 * prefix of the global log after it, and a log that did not change keeps its
 * CHECKSUM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <time.h>

#include "extents.h"
#include "harness.h"

#define ZERO_ULID "00000000000000000000000000"
enum { WRITERS = 4 };

struct writer {
    struct harness_conn *c; /* owned; NULL between a kill and the restart */
    char stream[32];
    size_t sent;            /* ADDs sent so far; ADD k expects version k */
    json_t *acked;          /* owned: stored events known durable, version order */
};

struct model {
    struct harness_node *n;
    struct writer w[WRITERS];
    json_t *extra_ids;      /* owned: ids of events written outside the writers */
};

/* The observable state of the whole store at a quiet moment. */
struct snapshot {
    json_t *all;            /* owned: the global log */
    char *checksum;         /* owned: CHECKSUM reply, rendered */
    int64_t events;
};

static int64_t event_count(struct harness_conn *c)
{
    struct resp_value v;
    assert_int_equal(harness_cmd(c, &v, "EC", NULL), 0);
    assert_int_equal(v.type, RESP_T_INT);
    int64_t n = v.integer;
    resp_value_free(&v);
    return n;
}

static void snapshot_take(const struct harness_node *n, struct snapshot *s)
{
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    s->all = harness_getall(c);
    s->checksum = harness_cmd_repr(c, "CHECKSUM", NULL);
    s->events = event_count(c);
    harness_close(c);
    assert_int_equal((int64_t)json_array_size(s->all), s->events);
}

static void snapshot_free(struct snapshot *s)
{
    json_decref(s->all);
    free(s->checksum);
    memset(s, 0, sizeof *s);
}

static void snapshot_assert_equal(const struct snapshot *got, const struct snapshot *want)
{
    assert_int_equal(got->events, want->events);
    assert_string_equal(got->checksum, want->checksum);
    harness_assert_json_equal(got->all, want->all);
}

/* ---- the writers ------------------------------------------------------ */

static void model_init(struct model *m, struct harness_node *n)
{
    memset(m, 0, sizeof *m);
    m->n = n;
    m->extra_ids = json_object();
    for (size_t i = 0; i < WRITERS; i++) {
        snprintf(m->w[i].stream, sizeof m->w[i].stream, "durable-%zu", i);
        m->w[i].acked = json_array();
    }
}

static void model_free(struct model *m)
{
    for (size_t i = 0; i < WRITERS; i++) {
        harness_close(m->w[i].c);
        json_decref(m->w[i].acked);
    }
    json_decref(m->extra_ids);
}

static void model_connect(struct model *m)
{
    for (size_t i = 0; i < WRITERS; i++) {
        m->w[i].c = harness_connect(m->n);
        assert_non_null(m->w[i].c);
    }
}

static void model_disconnect(struct model *m)
{
    for (size_t i = 0; i < WRITERS; i++) {
        harness_close(m->w[i].c);
        m->w[i].c = NULL;
    }
}

static void request_data(size_t w, size_t k, char *out, size_t cap)
{
    /* Some non-ASCII text, so payload bytes are checked too. */
    snprintf(out, cap, "{\"w\":%zu,\"k\":%zu,\"note\":\"caf\xc3\xa9 #%zu\"}", w, k, k);
}

/* The event ADD k of writer w asked for, as it must be stored. */
static void assert_requested(const json_t *e, size_t w, size_t k, const char *stream)
{
    char data[128], type[16];
    request_data(w, k, data, sizeof data);
    snprintf(type, sizeof type, "e%zu", k % 7);
    json_t *want = json_loads(data, 0, NULL);
    assert_non_null(want);
    assert_string_equal(harness_json_str(e, "stream"), stream);
    assert_int_equal(harness_json_int(e, "version"), (json_int_t)k);
    assert_string_equal(harness_json_str(e, "type"), type);
    harness_assert_json_equal(json_object_get(e, "data"), want);
    json_decref(want);
}

static void model_queue(struct model *m, size_t per_writer)
{
    for (size_t i = 0; i < WRITERS; i++) {
        struct writer *w = &m->w[i];
        for (size_t j = 0; j < per_writer; j++, w->sent++) {
            char data[128], req[256];
            request_data(i, w->sent, data, sizeof data);
            snprintf(req, sizeof req,
                     "{\"stream\":\"%s\",\"version\":%zu,\"events\":[{\"type\":\"e%zu\",\"data\":%s}]}",
                     w->stream, w->sent, w->sent % 7, data);
            harness_queue(w->c, "ADD", req, NULL);
        }
    }
}

/* Record the replies received so far as acknowledged. */
static void model_take_replies(struct model *m)
{
    for (size_t i = 0; i < WRITERS; i++) {
        struct writer *w = &m->w[i];
        while (harness_unread(w->c) > 0) {
            struct resp_value v;
            assert_int_equal(harness_read(w->c, &v), 1);
            json_t *events = harness_assert_events(&v);
            resp_value_free(&v);
            assert_int_equal(json_array_size(events), 1);
            assert_requested(json_array_get(events, 0), i, json_array_size(w->acked), w->stream);
            json_array_extend(w->acked, events);
            json_decref(events);
        }
    }
}

static struct harness_conn **model_conns(struct model *m, struct harness_conn **out)
{
    for (size_t i = 0; i < WRITERS; i++)
        out[i] = m->w[i].c;
    return out;
}

/* Write per_writer ADDs on every writer and wait for all replies. */
static void model_round(struct model *m, size_t per_writer)
{
    struct harness_conn *conns[WRITERS];
    size_t want[WRITERS];
    for (size_t i = 0; i < WRITERS; i++)
        want[i] = per_writer;
    model_queue(m, per_writer);
    assert_int_equal(harness_pump(model_conns(m, conns), WRITERS, want, 60000), 0);
    model_take_replies(m);
}

/* Send per_writer more ADDs on every writer, wait until each has `acks`
 * replies (0: only until the requests are sent), then kill -9 the node and
 * take whatever replies had arrived by then. */
static void model_kill_mid_load(struct model *m, size_t per_writer, size_t acks)
{
    struct harness_conn *conns[WRITERS];
    size_t want[WRITERS];
    for (size_t i = 0; i < WRITERS; i++)
        want[i] = acks;
    model_queue(m, per_writer);
    assert_int_equal(harness_pump(model_conns(m, conns), WRITERS, acks ? want : NULL, 60000), 0);
    harness_assert_kill(m->n);
    /* Replies the node sent before it died are acknowledgements too. */
    for (size_t i = 0; i < WRITERS; i++)
        want[i] = SIZE_MAX;
    assert_int_equal(harness_pump(conns, WRITERS, want, HARNESS_IO_TIMEOUT_MS), 0);
    model_take_replies(m);
    model_disconnect(m);
}

/* After a restart: every acknowledged event is there and unchanged, the log
 * before the crash (`quiet`) is a prefix of the log now, and the model
 * adopts what survived of the in-flight requests. */
static void model_verify(struct model *m, const struct snapshot *quiet)
{
    struct harness_conn *c = harness_connect(m->n);
    assert_non_null(c);
    json_t *ids = json_deep_copy(m->extra_ids);
    int64_t total = (int64_t)json_object_size(m->extra_ids);
    for (size_t i = 0; i < WRITERS; i++) {
        struct writer *w = &m->w[i];
        char req[64];
        snprintf(req, sizeof req, "{\"stream\":\"%s\"}", w->stream);
        json_t *stored = harness_events(c, "GET", req);
        size_t acked = json_array_size(w->acked), have = json_array_size(stored);
        if (have < acked)
            fail_msg("%s: %zu events acknowledged, %zu there after the restart", w->stream, acked,
                     have);
        assert_true(have <= w->sent);
        for (size_t k = 0; k < have; k++) {
            const json_t *e = json_array_get(stored, k);
            if (k < acked)
                harness_assert_json_equal(e, json_array_get(w->acked, k));
            else
                assert_requested(e, i, k, w->stream); /* was in flight, made it */
            json_object_set_new(ids, harness_json_str(e, "id"), json_true());
        }
        total += (int64_t)have;
        /* What is there now is durable; lost requests are simply not. */
        json_decref(w->acked);
        w->acked = stored;
        w->sent = have;
    }
    assert_int_equal(event_count(c), total);

    json_t *all = harness_getall(c);
    assert_int_equal((int64_t)json_array_size(all), total);
    const char *prev = ZERO_ULID;
    for (size_t i = 0; i < json_array_size(all); i++) {
        const char *id = harness_json_str(json_array_get(all, i), "id");
        if (strcmp(id, prev) <= 0)
            fail_msg("GETALL out of order: %s after %s", id, prev);
        assert_non_null(json_object_get(ids, id));
        prev = id;
    }
    size_t before = json_array_size(quiet->all);
    assert_true(json_array_size(all) >= before);
    for (size_t i = 0; i < before; i++)
        harness_assert_json_equal(json_array_get(all, i), json_array_get(quiet->all, i));

    /* CHECKSUM names the last event, and is unchanged if the log is. */
    struct resp_value v;
    assert_int_equal(harness_cmd(c, &v, "CHECKSUM", NULL), 0);
    assert_int_equal(v.type, RESP_T_ARRAY);
    assert_int_equal(v.n, 2);
    assert_string_equal(v.elems[0].str, prev);
    char *sum = harness_repr(&v);
    resp_value_free(&v);
    if (json_array_size(all) == before)
        assert_string_equal(sum, quiet->checksum);
    free(sum);

    /* New ids continue above every id issued before the crash. */
    assert_int_equal(harness_cmd(c, &v, "ADD",
                                 "{\"stream\":\"after-restart\",\"version\":\"any\","
                                 "\"events\":[{\"type\":\"x\"}]}",
                                 NULL),
                     0);
    json_t *added = harness_assert_events(&v);
    resp_value_free(&v);
    const char *id = harness_json_str(json_array_get(added, 0), "id");
    if (strcmp(id, prev) <= 0)
        fail_msg("after the restart, new id %s is not above the last id %s", id, prev);
    json_object_set_new(m->extra_ids, id, json_true());
    json_decref(added);

    json_decref(all);
    json_decref(ids);
    harness_close(c);
}

/* Stop with SIGTERM and start again: everything is exactly as it was. */
static void assert_clean_restart_keeps_state(struct harness_node *n)
{
    struct snapshot before, after;
    snapshot_take(n, &before);
    harness_assert_stop(n);
    harness_assert_restart(n);
    snapshot_take(n, &after);
    snapshot_assert_equal(&after, &before);
    snapshot_free(&after);
    snapshot_free(&before);
}

/* ---- tests ------------------------------------------------------------ */

static void test_kill_mid_load(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    struct model m;
    model_init(&m, n);
    model_connect(&m);
    for (int r = 0; r < 5; r++)
        model_round(&m, 20);

    struct snapshot quiet;
    snapshot_take(n, &quiet);
    model_kill_mid_load(&m, 60, 0);
    harness_assert_restart(n);
    model_verify(&m, &quiet);
    snapshot_free(&quiet);

    /* Writes go on after the crash, and a clean restart keeps everything. */
    model_connect(&m);
    model_round(&m, 10);
    model_disconnect(&m);
    assert_clean_restart_keeps_state(n);

    model_free(&m);
    harness_pass(*state);
}

static bool has_snapshot(const json_t *status, void *arg)
{
    const json_t *idx = json_object_get(status, "snapshot_index");
    return json_is_integer(idx) && json_integer_value(idx) >= *(json_int_t *)arg;
}

static void test_restart_after_snapshots(void **state)
{
    static const char *const args[] = {"--snapshot-threshold", "64", "--snapshot-trailing", "16",
                                       NULL};
    struct harness_node_opts opts = {.args = args};
    struct harness_node *n = harness_start_single(*state, &opts);
    struct model m;
    model_init(&m, n);
    model_connect(&m);
    /* 2000 events, one raft entry each: some 30 snapshots' worth. */
    for (int r = 0; r < 10; r++)
        model_round(&m, 50);
    json_int_t min_snapshot = 1000;
    assert_int_equal(harness_wait_status(n, has_snapshot, &min_snapshot, HARNESS_READY_TIMEOUT_MS),
                     0);

    /* kill -9 at a quiet moment: the store comes back exactly. */
    struct snapshot quiet, after;
    snapshot_take(n, &quiet);
    model_disconnect(&m);
    harness_assert_kill(n);
    harness_assert_restart(n);
    snapshot_take(n, &after);
    snapshot_assert_equal(&after, &quiet);
    snapshot_free(&after);
    model_verify(&m, &quiet);
    snapshot_free(&quiet);

    /* More writes (more snapshots), kill -9 in the middle of them. */
    model_connect(&m);
    for (int r = 0; r < 4; r++)
        model_round(&m, 25);
    snapshot_take(n, &quiet);
    model_kill_mid_load(&m, 50, 10);
    harness_assert_restart(n);
    model_verify(&m, &quiet);
    snapshot_free(&quiet);

    assert_clean_restart_keeps_state(n);
    model_free(&m);
    harness_pass(*state);
}

static void test_kill_at_several_points(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    struct model m;
    model_init(&m, n);
    /* Kill right after sending, after half of the replies, and after all
     * of them: the acknowledged events survive each time. */
    const size_t in_flight = 40;
    const size_t acks_before_kill[] = {0, in_flight / 2, in_flight};
    for (size_t it = 0; it < 3; it++) {
        model_connect(&m);
        model_round(&m, 15);
        struct snapshot quiet;
        snapshot_take(n, &quiet);
        model_kill_mid_load(&m, in_flight, acks_before_kill[it]);
        if (acks_before_kill[it] == in_flight)
            for (size_t i = 0; i < WRITERS; i++)
                assert_int_equal(json_array_size(m.w[i].acked), m.w[i].sent);
        harness_assert_restart(n);
        model_verify(&m, &quiet);
        snapshot_free(&quiet);
    }

    /* kill -9 with nothing in flight: the store is exactly as it was. */
    model_connect(&m);
    model_round(&m, 15);
    model_disconnect(&m);
    struct snapshot quiet, after;
    snapshot_take(n, &quiet);
    harness_assert_kill(n);
    harness_assert_restart(n);
    snapshot_take(n, &after);
    snapshot_assert_equal(&after, &quiet);
    snapshot_free(&after);
    model_verify(&m, &quiet);
    snapshot_free(&quiet);
    model_free(&m);
    harness_pass(*state);
}

/* Every open raft segment in dir has all its blocks written: the summary
 * of the last one looked at goes to *last. False while any segment still
 * has unwritten extents (or none exists yet). */
static bool segments_written(const char *dir, unsigned *n_segments, struct extents_summary *last)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    bool all = true;
    *n_segments = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "open-", 5) != 0)
            continue;
        char path[4096 + 256];
        int len = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        assert_true(len > 0 && (size_t)len < sizeof path);
        if (extents_summarize_path(path, last) != 0) {
            all = false; /* raft may have just renamed or removed it */
            continue;
        }
        (*n_segments)++;
        if (last->mapped_bytes == 0 || last->unwritten_bytes != 0)
            all = false;
    }
    closedir(d);
    return all && *n_segments > 0;
}

/* raft_uv preallocates its segments with posix_fallocate, which eventflowd
 * defines so that the blocks are written with zeros, not only reserved
 * (src/raftio/raft_prealloc.c). If libraft's call ever bound to libc's
 * instead, each segment would stay unwritten extents and every log write
 * would fall back to the thread pool; this sees it in the files. */
static void test_log_segments_are_written_not_reserved(void **state)
{
    struct harness_node *n = harness_start_single(*state, NULL);
    struct harness_conn *c = harness_connect(n);
    assert_non_null(c);
    struct resp_value v;
    assert_int_equal(harness_cmd(c, &v, "ADD",
                                 "{\"stream\":\"s\",\"version\":0,\"events\":[{\"type\":\"T\",\"data\":{}}]}",
                                 NULL),
                     0);
    json_t *events = harness_assert_events(&v);
    assert_int_equal(json_array_size(events), 1);
    json_decref(events);
    resp_value_free(&v);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/raft", n->data_dir);
    /* A segment being prepared at this moment is still being zeroed: poll
     * until every open segment has been, with a deadline. */
    unsigned n_segments = 0;
    struct extents_summary last = {0};
    int64_t deadline = harness_now_ms() + HARNESS_READY_TIMEOUT_MS;
    while (!segments_written(dir, &n_segments, &last)) {
        if (harness_now_ms() > deadline)
            fail_msg("%u open segments; the last has %llu of %llu bytes in unwritten extents", n_segments,
                     (unsigned long long)last.unwritten_bytes,
                     (unsigned long long)last.mapped_bytes);
        struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    harness_close(c);
    harness_pass(*state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kill_mid_load, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_restart_after_snapshots, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_kill_at_several_points, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_log_segments_are_written_not_reserved,
                                        harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
