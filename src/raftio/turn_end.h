/* turn_end.h - a function run after the loop's I/O callbacks of every turn.
 *
 * Why: appendq and sendq hold what raft hands them during a loop turn and
 * pass it on once the turn's I/O callbacks have run, so that everything one
 * turn produced leaves together. A check handle runs right after those
 * callbacks. An idle handle, while armed, makes the loop poll without
 * blocking, for work held outside the I/O phase (a timer's or a prepare
 * handle's callback) that must not wait for the next event to arrive.
 *
 * Neither handle keeps the loop alive on its own: raft's do.
 *
 * Ownership: the caller embeds the struct; `data` is borrowed. Loop thread
 * only. */
#ifndef EVENTFLOW_TURN_END_H
#define EVENTFLOW_TURN_END_H

#include <uv.h>

struct turn_end {
    void (*cb)(void *data);
    void *data;
    /* private */
    uv_check_t check;
    uv_idle_t idle;
    int handles_open;
};

/* Start running cb(data) at the end of every loop turn. Returns 0, or a
 * libuv error code (then call turn_end_close). */
int turn_end_init(struct turn_end *t, uv_loop_t *loop, void (*cb)(void *data), void *data);

/* Whether the loop may block before the next cb: turn_end_soon when work is
 * waiting for cb, turn_end_rest when nothing is (or what waits is woken by
 * an event of its own). */
void turn_end_soon(struct turn_end *t);
void turn_end_rest(struct turn_end *t);

/* cb runs no more (the io it serves is closing). */
void turn_end_stop(struct turn_end *t);

/* Release the handles. Their close callbacks run on a later loop turn; t
 * must stay valid until then. */
void turn_end_close(struct turn_end *t);

#endif
