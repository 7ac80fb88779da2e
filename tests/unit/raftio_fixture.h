/* raftio_fixture.h - what the unit tests of raft's I/O adapters (appendq,
 * sendq) share: one libuv loop turn, and entries whose buffers tell their
 * order.
 *
 * The adapters act at the end of a loop turn. Their handles do not keep the loop alive (raft's do in eventflowd), so a
 * zero timer stands in for the rest of the server; the NOWAIT run after it
 * lets close callbacks and idle handles run. Include after <cmocka.h>. */
#ifndef EVENTFLOW_TEST_RAFTIO_FIXTURE_H
#define EVENTFLOW_TEST_RAFTIO_FIXTURE_H

#include <raft.h>
#include <uv.h>

static void loop_turn_timer_cb(uv_timer_t *t)
{
    (void)t;
}

static inline void loop_turn(uv_loop_t *loop)
{
    uv_timer_t t;
    assert_int_equal(uv_timer_init(loop, &t), 0);
    assert_int_equal(uv_timer_start(&t, loop_turn_timer_cb, 0, 0), 0);
    uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

/* n one-byte command entries of term 2; entry i's buffer is payload + i,
 * so where an entry ended up shows which one it is. */
static inline void raftio_entries_fill(struct raft_entry *entries, char *payload, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        entries[i].term = 2;
        entries[i].type = RAFT_COMMAND;
        entries[i].buf.base = &payload[i];
        entries[i].buf.len = 1;
    }
}

#endif
