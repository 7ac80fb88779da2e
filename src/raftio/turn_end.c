/* turn_end.c - see turn_end.h. */
#include "raftio/turn_end.h"

static void turn_end_check_cb(uv_check_t *h)
{
    struct turn_end *t = h->data;
    t->cb(t->data);
}

static void turn_end_idle_cb(uv_idle_t *h)
{
    struct turn_end *t = h->data;
    t->cb(t->data);
}

int turn_end_init(struct turn_end *t, uv_loop_t *loop, void (*cb)(void *data), void *data)
{
    int rv;

    t->cb = cb;
    t->data = data;
    t->handles_open = 0;
    rv = uv_check_init(loop, &t->check);
    if (rv != 0)
        return rv;
    t->handles_open++;
    rv = uv_idle_init(loop, &t->idle);
    if (rv != 0)
        return rv;
    t->handles_open++;
    t->check.data = t;
    t->idle.data = t;
    uv_unref((uv_handle_t *)&t->check);
    uv_unref((uv_handle_t *)&t->idle);
    return uv_check_start(&t->check, turn_end_check_cb);
}

void turn_end_soon(struct turn_end *t)
{
    /* Starting an active idle handle is a no-op in libuv. */
    uv_idle_start(&t->idle, turn_end_idle_cb);
}

void turn_end_rest(struct turn_end *t)
{
    uv_idle_stop(&t->idle);
}

void turn_end_stop(struct turn_end *t)
{
    uv_idle_stop(&t->idle);
    uv_check_stop(&t->check);
}

void turn_end_close(struct turn_end *t)
{
    if (t->handles_open >= 1)
        uv_close((uv_handle_t *)&t->check, NULL);
    if (t->handles_open >= 2)
        uv_close((uv_handle_t *)&t->idle, NULL);
    t->handles_open = 0;
}
